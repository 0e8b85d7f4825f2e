"""ZeroPadding / Cropping / UpSampling mappers vs TensorFlow, in the NumPy reference and in real DL4J."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras
from tests.mappers.test_convolutional import _conversion, _functional, _randomize
from workbench.errors import MappingError

pytestmark = pytest.mark.tensorflow
FORMATS = ["NHWC", "NCHW"]
rng = np.random.default_rng(3)


def _x(*shape):
    return rng.standard_normal((2, *shape)).astype("float32")


@pytest.mark.dl4j
def test_reshaping1d_ncw(tmp_path):
    """ZeroPadding1D / Cropping1D / UpSampling1D pad, crop and repeat the steps of an NCW network."""
    k = keras()
    L = k.layers
    model = _functional(k, (5, 3), [
        lambda x: L.ZeroPadding1D(2)(x),
        lambda x: L.ZeroPadding1D((1, 3))(x),
        lambda x: L.ZeroPadding1D((0, 2))(x),
        lambda x: L.Cropping1D((1, 2))(x),
        lambda x: L.Cropping1D(1)(x),
        lambda x: L.UpSampling1D(3)(x),
        lambda x: L.UpSampling1D()(x),
    ])
    check_model(model, _x(5, 3), tmp_path, cnn_format="NCHW")


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_reshaping2d(tmp_path, fmt):
    """ZeroPadding2D / Cropping2D / UpSampling2D: symmetric and per-side amounts, per-axis sizes."""
    k = keras()
    L = k.layers
    model = _functional(k, (5, 6, 3), [
        lambda x: L.ZeroPadding2D(1)(x),
        lambda x: L.ZeroPadding2D(((1, 2), (0, 3)))(x),
        lambda x: L.ZeroPadding2D((2, 1))(x),
        lambda x: L.Cropping2D(((1, 2), (2, 0)))(x),
        lambda x: L.Cropping2D(1)(x),
        lambda x: L.UpSampling2D(2)(x),
        lambda x: L.UpSampling2D((1, 3))(x),
    ])
    check_model(model, _x(5, 6, 3), tmp_path, cnn_format=fmt)


@pytest.mark.dl4j
def test_reshaping3d_ncdhw(tmp_path):
    """ZeroPadding3D / Cropping3D / UpSampling3D on an NCDHW network: per-side amounts, per-axis sizes."""
    k = keras()
    L = k.layers
    model = _functional(k, (4, 5, 6, 2), [
        lambda x: L.ZeroPadding3D(1)(x),
        lambda x: L.ZeroPadding3D(((1, 2), (0, 1), (2, 0)))(x),
        lambda x: L.Cropping3D(((1, 0), (1, 2), (2, 1)))(x),
        lambda x: L.Cropping3D(1)(x),
        lambda x: L.UpSampling3D(2)(x),
        lambda x: L.UpSampling3D((1, 2, 3))(x),
    ])
    check_model(model, _x(4, 5, 6, 2), tmp_path, cnn_format="NCHW")


@pytest.mark.dl4j
def test_upsampling3d_ndhwc(tmp_path):
    """UpSampling3D has a data format: it maps in an NDHWC network too."""
    k = keras()
    L = k.layers
    model = _functional(k, (3, 4, 2, 2), [lambda x: L.UpSampling3D(2)(x), lambda x: L.UpSampling3D((2, 1, 3))(x)])
    check_model(model, _x(3, 4, 2, 2), tmp_path, cnn_format="NHWC")


@pytest.mark.dl4j
@pytest.mark.parametrize("fmt", FORMATS)
def test_reshaping_chain(tmp_path, fmt):
    """A Sequential stack (a MultiLayerNetwork) mixing convolutions with padding, cropping and upsampling."""
    k = keras()
    L = k.layers
    model = _randomize(k.Sequential([
        k.Input((6, 5, 2)), L.ZeroPadding2D(((1, 0), (2, 1))), L.Conv2D(3, 3, activation="relu"),
        L.UpSampling2D((2, 1)), L.Cropping2D(((0, 1), (1, 0))), L.MaxPooling2D(2), L.Flatten(), L.Dense(2)]))
    check_model(model, _x(6, 5, 2), tmp_path, cnn_format=fmt)


@pytest.mark.parametrize("make, shape", [
    (lambda L: L.ZeroPadding1D(1), (5, 3)),
    (lambda L: L.Cropping1D(1), (5, 3)),
    (lambda L: L.UpSampling1D(2), (5, 3)),
    (lambda L: L.ZeroPadding3D(1), (3, 3, 3, 2)),
    (lambda L: L.Cropping3D(1), (3, 3, 3, 2)),
])
def test_channels_first_only_layers_refused_in_channels_last(tmp_path, make, shape):
    """DL4J's 1-D pad/crop/upsample and 3-D pad/crop only know NCW/NCDHW: refused in an NWC/NDHWC network."""
    k = keras()
    inp = k.Input(shape)
    model = k.Model(inp, make(k.layers)(inp))
    with pytest.raises(MappingError, match="only works on NC") as err:
        _conversion(k, model, tmp_path, cnn_format="NHWC")
    assert err.value.hint and "NCHW" in err.value.hint


def test_bilinear_upsampling_refused(tmp_path):
    """UpSampling2D(interpolation='bilinear') is refused: DL4J's Upsampling2D only repeats elements."""
    k = keras()
    inp = k.Input((4, 4, 2))
    model = k.Model(inp, k.layers.UpSampling2D(2, interpolation="bilinear")(inp))
    with pytest.raises(MappingError, match="bilinear") as err:
        _conversion(k, model, tmp_path)
    assert err.value.expected == "interpolation='nearest'" and err.value.received == "bilinear"
