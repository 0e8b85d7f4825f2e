"""Convolution mappers vs TensorFlow, in the NumPy reference and in real DL4J, NHWC and NCHW networks.

Each test is one Functional model whose branches are configurations (one JVM per model and format).
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras
from workbench.errors import MappingError

pytestmark = pytest.mark.tensorflow
FORMATS = ["NHWC", "NCHW"]
rng = np.random.default_rng(7)


def _randomize(model, seed: int = 0):
    """Every weight (biases too: zeros would hide a bias layout error) drawn from N(0, 0.5²)."""
    r = np.random.default_rng(seed)
    for w in model.weights:
        w.assign((r.standard_normal(tuple(w.shape)) * 0.5).astype("float32"))
    return model


def _functional(k, shape, branches):
    inp = k.Input(shape)
    return _randomize(k.Model(inp, [make(inp) for make in branches]))


def _x(*shape):
    return rng.standard_normal((2, *shape)).astype("float32")


def _conversion(k, model, tmp_path, cnn_format="NHWC"):
    from workbench.session import Session
    path = tmp_path / "refused.keras"
    model.save(path)
    return Session(path, cnn_format=cnn_format).conversion


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv1d(tmp_path, fmt):
    """Conv1D: kernel as is (M2.1 reads [k, in, out]); valid/same/causal, strides, dilation, no bias, relu."""
    k = keras()
    L = k.layers
    model = _functional(k, (9, 3), [
        lambda x: L.Conv1D(4, 3, padding="valid")(x),
        lambda x: L.Conv1D(2, 2, strides=2, padding="same", activation="relu")(x),
        lambda x: L.Conv1D(3, 3, padding="causal", dilation_rate=2)(x),
        lambda x: L.Conv1D(2, 4, padding="same", dilation_rate=2, use_bias=False)(x),
        lambda x: L.Conv1D(2, 3, strides=2, padding="causal", activation="tanh")(x),
        lambda x: L.Convolution1D(1, 1)(x),
    ])
    check_model(model, _x(9, 3), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv2d(tmp_path, fmt):
    """Conv2D: HWIO → OIHW; valid/same, non-square kernels and strides, dilation, no bias, activations."""
    k = keras()
    L = k.layers
    model = _functional(k, (7, 6, 3), [
        lambda x: L.Conv2D(4, 3)(x),
        lambda x: L.Conv2D(2, (2, 3), strides=(2, 1), padding="same", activation="relu")(x),
        lambda x: L.Conv2D(2, 3, dilation_rate=2, padding="same", use_bias=False)(x),
        lambda x: L.Conv2D(3, (1, 2), strides=2, activation="sigmoid")(x),
    ])
    check_model(model, _x(7, 6, 3), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv3d(tmp_path, fmt):
    """Conv3D: [kD,kH,kW,in,out] → [out,in,kD,kH,kW]; valid/same, strides, dilation, no bias; NDHWC and NCDHW."""
    k = keras()
    L = k.layers
    model = _functional(k, (5, 4, 6, 2), [
        lambda x: L.Conv3D(3, 2)(x),
        lambda x: L.Conv3D(2, (3, 2, 2), strides=2, padding="same", activation="tanh")(x),
        lambda x: L.Conv3D(2, 2, dilation_rate=(2, 1, 2), use_bias=False)(x),
        lambda x: L.Convolution3D(1, (1, 3, 2), strides=(1, 2, 1), padding="same", activation="relu")(x),
    ])
    check_model(model, _x(5, 4, 6, 2), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv2d_transpose(tmp_path, fmt):
    """Conv2DTranspose: [kH,kW,out,in] → [in,out,kH,kW]; valid/same, strides (also > kernel with same), dilation."""
    k = keras()
    L = k.layers
    model = _functional(k, (4, 5, 3), [
        lambda x: L.Conv2DTranspose(2, 3)(x),
        lambda x: L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")(x),
        lambda x: L.Conv2DTranspose(2, (2, 3), strides=(2, 1), padding="valid")(x),
        lambda x: L.Conv2DTranspose(2, 4, strides=2, padding="same", use_bias=False)(x),
        lambda x: L.Conv2DTranspose(2, 2, strides=3, padding="same")(x),
        lambda x: L.Conv2DTranspose(2, 3, dilation_rate=2)(x),
        lambda x: L.Conv2DTranspose(2, (2, 3), dilation_rate=(1, 2), padding="same")(x),
    ])
    check_model(model, _x(4, 5, 3), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv3d_transpose(tmp_path, fmt):
    """Conv3DTranspose: kernel [kD,kH,kW,out,in] as is into Deconvolution3D; valid/same, strides, dilation."""
    k = keras()
    L = k.layers
    model = _functional(k, (3, 4, 2, 2), [
        lambda x: L.Conv3DTranspose(3, 2)(x),
        lambda x: L.Conv3DTranspose(2, (2, 3, 2), strides=2, padding="same", activation="tanh")(x),
        lambda x: L.Conv3DTranspose(2, 3, strides=(1, 2, 2), use_bias=False)(x),
        lambda x: L.Conv3DTranspose(2, 2, dilation_rate=2, padding="same")(x),
    ])
    check_model(model, _x(3, 4, 2, 2), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_depthwise_and_separable(tmp_path, fmt):
    """DepthwiseConv2D (W as is, channel c·dm+m) and SeparableConv2D (b, W, pW): depth_multiplier 1-3, dilation."""
    k = keras()
    L = k.layers
    model = _functional(k, (6, 7, 3), [
        lambda x: L.DepthwiseConv2D(3)(x),
        lambda x: L.DepthwiseConv2D(2, depth_multiplier=2, strides=2, padding="same")(x),
        lambda x: L.DepthwiseConv2D(3, depth_multiplier=3, dilation_rate=2, padding="same", use_bias=False,
                                    activation="relu")(x),
        lambda x: L.SeparableConv2D(4, 3)(x),
        lambda x: L.SeparableConv2D(2, 2, depth_multiplier=2, strides=2, padding="same", activation="tanh")(x),
        lambda x: L.SeparableConv2D(3, 3, depth_multiplier=3, dilation_rate=2, padding="same", use_bias=False)(x),
    ])
    check_model(model, _x(6, 7, 3), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv_chain(tmp_path, fmt):
    """A Sequential conv stack (a MultiLayerNetwork): each layer reads the previous one's DL4J layout."""
    k = keras()
    L = k.layers
    model = _randomize(k.Sequential([
        k.Input((8, 8, 2)), L.Conv2D(4, 3, padding="same", activation="relu"), L.DepthwiseConv2D(2, depth_multiplier=2),
        L.SeparableConv2D(3, 2, strides=2), L.Conv2DTranspose(2, 2, strides=2, padding="same"),
        L.GlobalAveragePooling2D(), L.Dense(3)]))
    check_model(model, _x(8, 8, 2), tmp_path, cnn_format=fmt)


@pytest.mark.parametrize("make, why", [
    (lambda L: L.Conv2D(4, 3, groups=2), "grouped convolution"),
    (lambda L: L.Conv2DTranspose(2, 1, strides=2), "kernel smaller than the stride"),
    (lambda L: L.Conv2DTranspose(2, 3, strides=2, output_padding=1), "output_padding"),
])
def test_conv2d_refusals(tmp_path, make, why):
    """What DL4J computes differently is refused with what/expected/received, never approximated."""
    k = keras()
    inp = k.Input((6, 6, 4))
    model = k.Model(inp, make(k.layers)(inp))
    with pytest.raises(MappingError, match=why) as err:
        _conversion(k, model, tmp_path)
    assert err.value.expected is not None and err.value.received is not None


def test_conv1d_refuses_grouped(tmp_path):
    """Conv1D with groups > 1 has no Convolution1DLayer equivalent."""
    k = keras()
    inp = k.Input((8, 4))
    model = k.Model(inp, k.layers.Conv1D(4, 3, groups=2)(inp))
    with pytest.raises(MappingError, match="grouped convolution"):
        _conversion(k, model, tmp_path)
