"""The convolution-family weight transforms: a round trip each, and a tiny numeric check of what each means."""
from __future__ import annotations

import numpy as np

from workbench.mappers import transforms as T

rng = np.random.default_rng(5)


def _conv1d_nwc(x, k):
    """Keras Conv1D, valid, stride 1: x [b, t, ci], kernel [k, ci, co]."""
    n = x.shape[1] - k.shape[0] + 1
    return np.stack([np.einsum("bkc,kco->bo", x[:, t:t + k.shape[0]], k) for t in range(n)], axis=1)


def test_conv1d_kernel_as_is_round_trip():
    """The Conv1D kernel keeps its values and its [k, in, out] axes; the step is recorded."""
    k = rng.normal(size=(3, 2, 4))
    trace = T.conv1d_kernel_as_is(T.keras_weight("kernel", k, ("k", "in", "out")))
    assert trace.steps[-1].name == "conv1d_kernel_as_is"
    assert trace.axes == ("k", "in", "out") and np.array_equal(trace.value, k)


def test_conv1d_kernel_numeric():
    """DL4J ≥ M1 reads W's raw 'c' buffer as [k, in, out]: the Keras kernel's bytes give Keras's output,
    while reading the same buffer as the declared [out, in, k] (the beta7 layout) does not."""
    x, k = rng.normal(size=(2, 6, 2)), rng.normal(size=(3, 2, 4))
    flat = T.conv1d_kernel_as_is(T.keras_weight("kernel", k, ("k", "in", "out"))).value.ravel(order="C")
    as_read = flat.reshape(3, 2, 4)
    assert np.allclose(_conv1d_nwc(x, as_read), _conv1d_nwc(x, k))
    declared = flat.reshape(4, 2, 3).transpose(2, 1, 0)
    assert not np.allclose(_conv1d_nwc(x, declared), _conv1d_nwc(x, k))


def test_deconv_kernel_round_trip():
    """[kH, kW, out, in] → [in, out, kH, kW] → back restores the Conv2DTranspose kernel exactly."""
    k = rng.normal(size=(2, 3, 4, 5))
    trace = T.deconv_kernel_to_iohw(T.keras_weight("kernel", k, ("kh", "kw", "out", "in")))
    assert trace.axes == ("in", "out", "kh", "kw") and trace.value.shape == (5, 4, 2, 3)
    assert np.array_equal(T.deconv_kernel_from_iohw(trace).value, k)


def _deconv_nhwc(x, k, s):
    """Keras Conv2DTranspose, valid: x [b, h, w, ci], kernel [kh, kw, co, ci]."""
    b, h, w, _ = x.shape
    kh, kw, co, _ = k.shape
    out = np.zeros((b, (h - 1) * s + kh, (w - 1) * s + kw, co))
    for y in range(h):
        for xx in range(w):
            out[:, y * s:y * s + kh, xx * s:xx * s + kw, :] += np.einsum("bc,ijoc->bijo", x[:, y, xx], k)
    return out


def _deconv_nchw(x, w_, s):
    """DL4J Deconvolution2D, Truncate: x [b, ci, h, w], W [ci, co, kh, kw]."""
    b, _, h, w = x.shape
    _, co, kh, kw = w_.shape
    out = np.zeros((b, co, (h - 1) * s + kh, (w - 1) * s + kw))
    for y in range(h):
        for xx in range(w):
            out[:, :, y * s:y * s + kh, xx * s:xx * s + kw] += np.einsum("bc,coij->boij", x[:, :, y, xx], w_)
    return out


def test_deconv_kernel_numeric():
    """A transposed convolution in DL4J's layout (NCHW, [in, out, kH, kW]) equals Keras's (NHWC, [kH, kW, out, in])."""
    x, k = rng.normal(size=(2, 3, 4, 2)), rng.normal(size=(3, 2, 5, 2))
    w_ = T.deconv_kernel_to_iohw(T.keras_weight("kernel", k, ("kh", "kw", "out", "in"))).value
    keras = _deconv_nhwc(x, k, 2)
    dl4j = _deconv_nchw(np.transpose(x, (0, 3, 1, 2)), w_, 2)
    assert np.allclose(np.transpose(dl4j, (0, 2, 3, 1)), keras)


def test_deconv3d_kernel_as_is():
    """The Conv3DTranspose kernel [kD, kH, kW, out, in] is DL4J's Deconvolution3D W unchanged; a 1×1×1 transposed
    convolution with it maps input channel c to output o by W[0, 0, 0, o, c]."""
    k = rng.normal(size=(1, 1, 1, 3, 2))
    trace = T.deconv3d_kernel_as_is(T.keras_weight("kernel", k, ("kd", "kh", "kw", "out", "in")))
    assert trace.axes == ("kd", "kh", "kw", "out", "in") and np.array_equal(trace.value, k)
    x = rng.normal(size=(2, 2, 2, 2, 2))  # [b, d, h, w, c_in]
    assert np.allclose(np.einsum("bdhwc,oc->bdhwo", x, trace.value[0, 0, 0]),
                       np.einsum("bdhwc,oc->bdhwo", x, k[0, 0, 0]))


def test_separable_depthwise_round_trip():
    """[kH, kW, in, dm] → [dm, in, kH, kW] → back restores the depthwise kernel exactly."""
    k = rng.normal(size=(2, 3, 4, 2))
    trace = T.separable_depthwise_to_mihw(T.keras_weight("depthwise_kernel", k, ("kh", "kw", "in", "dm")))
    assert trace.axes == ("dm", "in", "kh", "kw") and trace.value.shape == (2, 4, 2, 3)
    assert np.array_equal(T.separable_depthwise_from_mihw(trace).value, k)


def test_separable_depthwise_numeric():
    """The depthwise step in DL4J's layout ([dm, in, kH, kW], NCHW) gives Keras's channels in order c·dm + m."""
    x, k = rng.normal(size=(2, 4, 5, 3)), rng.normal(size=(2, 2, 3, 2))  # x NHWC, k [kh, kw, in, dm]
    w_ = T.separable_depthwise_to_mihw(T.keras_weight("depthwise_kernel", k, ("kh", "kw", "in", "dm"))).value
    oh, ow = 3, 4
    keras = np.zeros((2, oh, ow, 3 * 2))
    dl4j = np.zeros((2, 3 * 2, oh, ow))
    xc = np.transpose(x, (0, 3, 1, 2))
    for y in range(oh):
        for xx in range(ow):
            patch = x[:, y:y + 2, xx:xx + 2, :]
            keras[:, y, xx, :] = np.einsum("bijc,ijcm->bcm", patch, k).reshape(2, -1)
            patch_c = xc[:, :, y:y + 2, xx:xx + 2]
            dl4j[:, :, y, xx] = np.einsum("bcij,mcij->bcm", patch_c, w_).reshape(2, -1)
    assert np.allclose(np.transpose(dl4j, (0, 2, 3, 1)), keras)
