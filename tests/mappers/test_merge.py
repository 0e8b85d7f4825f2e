"""Merge layers (Concatenate on every axis, Add/Subtract/Multiply/Average/Maximum) on vectors, sequences and
images, NHWC and NCHW, against TensorFlow in the NumPy reference and real DL4J; inexact merges refused."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras, refusal

pytestmark = [pytest.mark.tensorflow]
rng = np.random.default_rng(3)




@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", ["NHWC", "NCHW"])
def test_merges_on_every_axis_and_kind(tmp_path, cnn_format):
    """Concatenate along features/time/height/width/channels and every element-wise op, 2 and 3 inputs."""
    k = keras()
    L = k.layers
    seqs = [k.Input((5, 3), name=f"s{i}") for i in range(3)]
    imgs = [k.Input((4, 6, 2), name=f"i{i}") for i in range(2)]
    vecs = [k.Input((4,), name=f"v{i}") for i in range(2)]
    s1, s2, s3 = seqs
    i1, i2 = imgs
    f1, f2 = vecs
    outs = [
        L.Concatenate(name="cat_seq_features")([s1, s2]), L.Concatenate(axis=1, name="cat_seq_time")([s1, s2, s3]),
        L.Concatenate(axis=-2, name="cat_seq_time_neg")([s2, s3]),
        L.Concatenate(name="cat_img_channels")([i1, i2]), L.Concatenate(axis=1, name="cat_img_height")([i1, i2]),
        L.Concatenate(axis=2, name="cat_img_width")([i1, i2]), L.Concatenate(name="cat_vec")([f1, f2]),
        L.Add(name="add_img")([i1, i2]), L.Add(name="add3_seq")([s1, s2, s3]),
        L.Subtract(name="sub_vec")([f1, f2]), L.Subtract(name="sub_seq")([s1, s3]),
        L.Multiply(name="mul3_seq")([s1, s2, s3]), L.Multiply(name="mul_img")([i1, i2]),
        L.Average(name="avg3_seq")([s1, s2, s3]), L.Average(name="avg_img")([i1, i2]),
        L.Maximum(name="max_img")([i1, i2]), L.Maximum(name="max3_vec")([f1, f2, f2]),
    ]
    lstm_a = L.LSTM(2, return_sequences=True, name="lstm_a")(s1)
    lstm_b = L.LSTM(3, return_sequences=True, name="lstm_b")(s2)
    outs.append(L.LSTM(2, name="lstm_after_cat")(L.Concatenate(name="cat_lstms")([lstm_a, lstm_b])))
    conv_a, conv_b = L.Conv2D(3, 1, name="conv_a")(i1), L.Conv2D(2, 1, name="conv_b")(i2)
    outs.append(L.Conv2D(2, 2, name="conv_after_cat")(L.Concatenate(name="cat_convs")([conv_a, conv_b])))
    inputs = seqs + imgs + vecs
    model = k.Model(inputs, outs)
    arrays = {t.name: rng.normal(size=(2, *t.shape[1:])).astype("float32") for t in inputs}
    names = [layer.name for layer in model.layers if type(layer).__name__ == "InputLayer"]
    check_model(model, {n: arrays[n] for n in names}, tmp_path, cnn_format=cnn_format)


def test_broadcasting_merge_refused(tmp_path):
    """Keras 3 broadcasts [b, 1] against [b, 4]; ElementWiseVertex does not: refused."""
    k = keras()
    a, b = k.Input((4,)), k.Input((1,))
    err = refusal(k.Model([a, b], k.layers.Add(name="bcast")([a, b])), tmp_path)
    assert err.layer == "bcast" and "broadcasting" in err.what


@pytest.mark.parametrize("merge", ["Concatenate", "Add"])
def test_merge_of_flatten_outputs_refused(tmp_path, merge):
    """A vertex after a Flatten would get the un-flattened CNN tensor (Flatten lives in a preprocessor): refused."""
    k = keras()
    L = k.layers
    a, b = k.Input((2, 2, 3)), k.Input((2, 2, 3))
    out = getattr(L, merge)(name="merged")([L.Flatten()(a), L.Flatten()(b)])
    err = refusal(k.Model([a, b], out), tmp_path)
    assert err.layer == "merged" and "Flatten" in err.what


def test_concatenate_on_batch_axis_refused(tmp_path):
    """axis=0 (the batch) has no DL4J meaning: refused."""
    k = keras()
    a, b = k.Input((4,)), k.Input((4,))
    err = refusal(k.Model([a, b], k.layers.Concatenate(axis=0, name="batchcat")([a, b])), tmp_path)
    assert err.layer == "batchcat"
