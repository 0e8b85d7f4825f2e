"""Layers DL4J lacks, mapped to generated DL4J layers: LayerNormalization."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras, randomize, refusal

pytestmark = [pytest.mark.tensorflow, pytest.mark.dl4j]


@pytest.mark.parametrize("cnn_format", ["NHWC", "NCHW"])
def test_layer_normalization_configurations(tmp_path, cnn_format, dl4j_ready):
    """LayerNormalization on vectors and sequences: default, epsilon, center=False, scale=False, in real DL4J."""
    k = keras()
    L = k.layers
    vec = k.Input((6,), name="vec")
    seq = k.Input((4, 5), name="seq")
    outs = [L.LayerNormalization(name="ln_vec")(vec),
            L.LayerNormalization(epsilon=0.1, center=False, name="ln_nocenter")(vec),
            L.LayerNormalization(scale=False, name="ln_noscale")(seq),
            L.LayerNormalization(name="ln_seq")(seq)]
    model = randomize(k.Model([vec, seq], outs))
    r = np.random.default_rng(5)
    inputs = {"vec": r.normal(size=(3, 6)).astype("float32") * 3, "seq": r.normal(size=(3, 4, 5)).astype("float32")}
    report = check_model(model, inputs, tmp_path, cnn_format=cnn_format)
    classes = {c.class_name for c in report.layers}
    assert classes == {"LayerNormalization"}


def test_layer_normalization_over_another_axis_is_refused(tmp_path):
    """Normalising over a non-feature axis is refused, naming the layer."""
    k = keras()
    seq = k.Input((4, 5), name="seq")
    err = refusal(k.Model(seq, k.layers.LayerNormalization(axis=1, name="ln_time")(seq)), tmp_path)
    assert "ln_time" in str(err) and "axis" in str(err)
