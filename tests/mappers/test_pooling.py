"""Pooling mappers vs TensorFlow, in the NumPy reference and in real DL4J, NHWC and NCHW networks."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras
from tests.mappers.test_convolutional import _functional, _randomize

pytestmark = pytest.mark.tensorflow
FORMATS = ["NHWC", "NCHW"]
rng = np.random.default_rng(11)


def _x(*shape):
    # Offset from 0 so that a padded average that counted the zero padding would show.
    return (rng.standard_normal((2, *shape)) + 2.0).astype("float32")


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_pooling1d(tmp_path, fmt):
    """Max/AveragePooling1D over steps (NWC via an NHWC view, NCW via NCHW); same-padded averages exclude padding."""
    k = keras()
    L = k.layers
    model = _functional(k, (9, 3), [
        lambda x: L.MaxPooling1D(2)(x),
        lambda x: L.AveragePooling1D(3, strides=2, padding="same")(x),
        lambda x: L.MaxPooling1D(3, strides=2, padding="same")(x),
        lambda x: L.AveragePooling1D(2, strides=1)(x),
        lambda x: L.AveragePooling1D(4, strides=3, padding="same")(x),
        lambda x: L.MaxPool1D(4, strides=1, padding="same")(x),
    ])
    check_model(model, _x(9, 3), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_pooling2d(tmp_path, fmt):
    """Max/AveragePooling2D: valid/same, non-square pools and strides; same-padded averages exclude padding."""
    k = keras()
    L = k.layers
    model = _functional(k, (7, 6, 3), [
        lambda x: L.MaxPooling2D(2)(x),
        lambda x: L.AveragePooling2D(3, strides=2, padding="same")(x),
        lambda x: L.MaxPooling2D((3, 2), strides=(1, 2), padding="same")(x),
        lambda x: L.AvgPool2D((2, 3), strides=(2, 1))(x),
    ])
    check_model(model, _x(7, 6, 3), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_pooling3d(tmp_path, fmt):
    """Max/AveragePooling3D (Subsampling3DLayer, NDHWC/NCDHW): valid/same; its average excludes padding like Keras."""
    k = keras()
    L = k.layers
    model = _functional(k, (5, 4, 6, 2), [
        lambda x: L.MaxPooling3D(2)(x),
        lambda x: L.AveragePooling3D((2, 2, 3))(x),
        lambda x: L.MaxPooling3D(3, strides=2, padding="same")(x),
        lambda x: L.AveragePooling3D(3, strides=2, padding="same")(x),
        lambda x: L.AveragePooling3D((2, 3, 4), strides=(1, 2, 3), padding="same")(x),
        lambda x: L.AvgPool3D(2, strides=(1, 2, 1))(x),
    ])
    check_model(model, _x(5, 4, 6, 2), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_global_pooling(tmp_path, fmt):
    """Global max/average pooling 1D/2D/3D reduce the spatial axes of the input's DL4J layout, never the channels."""
    k = keras()
    L = k.layers
    x1, x2, x3 = k.Input((6, 3)), k.Input((5, 4, 3)), k.Input((3, 4, 2, 3))
    outs = [L.GlobalMaxPooling1D()(x1), L.GlobalAveragePooling1D()(x1), L.GlobalMaxPooling2D()(x2),
            L.GlobalAveragePooling2D()(x2), L.GlobalMaxPooling3D()(x3), L.GlobalAveragePooling3D()(x3)]
    model = k.Model([x1, x2, x3], outs)
    inputs = {"a": _x(6, 3), "b": _x(5, 4, 3), "c": _x(3, 4, 2, 3)}
    check_model(model, inputs, tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_pooling_chain(tmp_path, fmt):
    """A Sequential 1-D stack (a MultiLayerNetwork): Conv1D, MaxPooling1D, causal Conv1D, AveragePooling1D, global."""
    k = keras()
    L = k.layers
    model = _randomize(k.Sequential([
        k.Input((12, 2)), L.Conv1D(4, 3, activation="relu"), L.MaxPooling1D(2), L.Conv1D(3, 2, padding="causal"),
        L.AveragePooling1D(2, padding="same"), L.GlobalMaxPooling1D(), L.Dense(2)]))
    check_model(model, _x(12, 2), tmp_path, cnn_format=fmt)
