"""Keras convolutions with data_format="channels_first": DL4J is fed that layout as it is (NCW/NCHW).

Checked on the Keras files DL4J's own import tests use (shared/dl4j-reference/keras/examples/conv1d), whose
stored predictions are Keras's own outputs."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from workbench.errors import MappingError
from workbench.session import Session

pytestmark = [pytest.mark.tensorflow, pytest.mark.dl4j]
CASES = ["conv1d_k2_s1_d1_cf_same", "conv1d_k3_s2_d1_cf_valid", "conv1d_k4_s1_d2_cf_same", "conv1d_k3_s3_d1_cf_same"]


@pytest.mark.parametrize("case", CASES)
def test_channels_first_conv1d_matches_keras_in_real_dl4j(case, dl4j_reference, dl4j_ready):
    """Every channels_first Conv1D fixture verifies within 1e-5, and real DL4J reproduces Keras's stored output."""
    folder = dl4j_reference / "keras" / "examples" / "conv1d"
    with h5py.File(folder / f"{case}_inputs_and_outputs.h5", "r") as f:
        name = list(f["inputs"])[0]
        x = f["inputs"][name][()].astype("float32")
        expected = f["predictions"][list(f["predictions"])[0]][()]
    session = Session(folder / f"{case}_model.h5")
    net_input = session.conversion.inputs[0][1]
    assert net_input.keras_channels_first and net_input.dl4j_format == "NCW"
    report = session.verify({name: x}, dl4j=True)
    assert report.passed, [(c.name, c.isolated, c.dl4j) for c in report.layers]
    last = report.layers[-1]
    assert last.dl4j.shape == expected.shape


def test_other_layers_refuse_a_channels_first_tensor(tmp_path, dl4j_reference):
    """A layer that is not channels_first-aware (here Flatten) refuses such a tensor instead of guessing."""
    keras = pytest.importorskip("tf_keras")
    x = keras.Input((3, 8), name="x")
    y = keras.layers.Conv1D(2, 2, data_format="channels_first", name="conv")(x)
    model = keras.Model(x, keras.layers.Flatten(name="flat")(y))
    path = tmp_path / "cf.h5"
    model.save(path)
    with pytest.raises(MappingError, match="channels_first"):
        Session(path).conversion
