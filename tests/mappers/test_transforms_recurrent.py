"""Named transforms added for the recurrent/core/wrapper mappers: a round trip and a tiny numeric check each."""
from __future__ import annotations

import numpy as np

from workbench.mappers import transforms as T

rng = np.random.default_rng(0)


def test_dense_kernel_to_conv1x1_round_trip():
    """[in, out] → [out, in, 1, 1] and back (drop the 1×1, permute by names) restores the kernel exactly."""
    k = rng.normal(size=(5, 3))
    trace = T.dense_kernel_to_conv1x1_oihw(T.keras_weight("kernel", k, ("in", "out")))
    assert trace.axes == ("out", "in", "kh", "kw") and trace.value.shape == (3, 5, 1, 1)
    back = T.permute(T.keras_weight("w", trace.value[:, :, 0, 0], ("out", "in")), ("in", "out"))
    assert np.array_equal(back.value, k)
    assert [s.name for s in trace.steps] == ["keras", "dense_kernel_to_conv1x1_oihw"]


def test_dense_kernel_as_conv1x1_computes_dense_on_channels():
    """A 1×1 OIHW convolution with the transformed kernel equals Keras's Dense on the last axis of NHWC."""
    x = rng.normal(size=(2, 3, 4, 5))
    k = rng.normal(size=(5, 2))
    w = T.dense_kernel_to_conv1x1_oihw(T.keras_weight("kernel", k, ("in", "out"))).value
    conv_nchw = np.einsum("nchw,oc->nohw", np.moveaxis(x, -1, 1), w[:, :, 0, 0])
    assert np.allclose(np.moveaxis(conv_nchw, 1, -1), x @ k)


def test_channels_last_to_first_round_trip():
    """[H, W, C] → [C, H, W] and back by names restores alpha exactly; axis names follow the data."""
    a = rng.normal(size=(3, 4, 2))
    trace = T.channels_last_to_first(T.keras_weight("alpha", a, ("a1", "a2", "a3")))
    assert trace.axes == ("a3", "a1", "a2") and trace.value.shape == (2, 3, 4)
    assert np.array_equal(T.permute(trace, ("a1", "a2", "a3")).value, a)


def test_channels_last_to_first_prelu_matches_in_nchw():
    """PReLU with the moved alpha on an NCHW array equals Keras's PReLU on NHWC, also with shared axes."""
    x = rng.normal(size=(2, 3, 4, 2))
    for alpha in (rng.uniform(size=(3, 4, 2)), rng.uniform(size=(1, 1, 2)), rng.uniform(size=(3, 4, 1))):
        keras_out = np.where(x < 0, alpha[None] * x, x)
        moved = T.channels_last_to_first(T.keras_weight("alpha", alpha, ("h", "w", "c"))).value
        xc = np.moveaxis(x, -1, 1)
        dl4j_out = np.where(xc < 0, moved[None] * xc, xc)
        assert np.array_equal(np.moveaxis(dl4j_out, 1, -1), keras_out)


def test_channels_last_to_first_on_sequences():
    """For [T, F] parameters (NCW networks) the feature axis moves first: [F, T]."""
    a = rng.normal(size=(4, 3))
    moved = T.channels_last_to_first(T.keras_weight("alpha", a, ("t", "f")))
    assert moved.axes == ("f", "t") and np.array_equal(moved.value, a.T)
