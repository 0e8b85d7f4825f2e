"""Every named weight transform: a round trip, and a tiny numeric check of what it means."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.mappers import transforms as T

rng = np.random.default_rng(0)


def test_steps_are_recorded_with_axis_names():
    """A trace keeps each step's name, axes and tensor, so the UI can draw before and after."""
    trace = T.conv_kernel_to_oihw(T.keras_weight("kernel", rng.normal(size=(3, 3, 1, 8)), ("kh", "kw", "in", "out")))
    assert [s.name for s in trace.steps] == ["keras", "conv_kernel_to_oihw"]
    assert trace.steps[0].axes == ("kh", "kw", "in", "out") and trace.steps[0].shape == (3, 3, 1, 8)
    assert trace.axes == ("out", "in", "kh", "kw") and trace.value.shape == (8, 1, 3, 3)


def test_axis_names_must_fit_the_array():
    """Naming 3 axes of a 4-D array is an error, not a guess."""
    with pytest.raises(ValueError):
        T.keras_weight("kernel", np.zeros((3, 3, 1, 8)), ("kh", "kw", "out"))


def test_conv_kernel_round_trip():
    """Permuting HWIO → OIHW and back by names restores the kernel exactly."""
    k = rng.normal(size=(2, 3, 4, 5))
    back = T.permute(T.conv_kernel_to_oihw(T.keras_weight("kernel", k, ("kh", "kw", "in", "out"))),
                     ("kh", "kw", "in", "out"))
    assert np.array_equal(back.value, k)


def _conv_nhwc_hwio(x, k):
    n, h, w, _ = x.shape
    kh, kw, _, co = k.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, co))
    for y in range(out.shape[1]):
        for xx in range(out.shape[2]):
            out[:, y, xx, :] = np.einsum("nhwc,hwco->no", x[:, y:y + kh, xx:xx + kw, :], k)
    return out


def _conv_nchw_oihw(x, k):
    n, _, h, w = x.shape
    co, _, kh, kw = k.shape
    out = np.zeros((n, co, h - kh + 1, w - kw + 1))
    for y in range(out.shape[2]):
        for xx in range(out.shape[3]):
            out[:, :, y, xx] = np.einsum("nchw,ochw->no", x[:, :, y:y + kh, xx:xx + kw], k)
    return out


def test_conv_kernel_numeric():
    """A convolution in DL4J's layout (NCHW input, OIHW kernel) equals Keras's (NHWC, HWIO)."""
    x = rng.normal(size=(2, 5, 4, 3))
    k = rng.normal(size=(3, 2, 3, 4))
    oihw = T.conv_kernel_to_oihw(T.keras_weight("kernel", k, ("kh", "kw", "in", "out"))).value
    keras = _conv_nhwc_hwio(x, k)
    dl4j = _conv_nchw_oihw(np.transpose(x, (0, 3, 1, 2)), oihw)
    assert np.allclose(np.transpose(dl4j, (0, 2, 3, 1)), keras)


def test_lstm_gates_round_trip():
    """[i,f,c,o] → [c,f,o,i] → [i,f,c,o] restores kernels and biases."""
    for shape in [(3, 8), (2, 8), (8,)]:
        v = rng.normal(size=shape)
        t = T.lstm_gates_cfoi_to_ifco(T.lstm_gates_ifco_to_cfoi(T.keras_weight("w", v, ("a", "g")[-len(shape):]), 2), 2)
        assert np.array_equal(t.value, v)


def test_lstm_gates_numeric():
    """One LSTM step with DL4J's gate order on reordered weights equals Keras's step."""
    u, n_in = 3, 4
    x, h, c = rng.normal(size=(2, n_in)), rng.normal(size=(2, u)), rng.normal(size=(2, u))
    W, R, b = rng.normal(size=(n_in, 4 * u)), rng.normal(size=(u, 4 * u)), rng.normal(size=(4 * u,))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731

    def step(z, order):
        blocks = dict(zip(order, np.split(z, 4, axis=-1)))
        cn = sig(blocks["f"]) * c + sig(blocks["i"]) * np.tanh(blocks["c"])
        return sig(blocks["o"]) * np.tanh(cn)

    keras = step(x @ W + h @ R + b, "ifco")
    reorder = lambda a, axes: T.lstm_gates_ifco_to_cfoi(T.keras_weight("w", a, axes), u).value  # noqa: E731
    dl4j = step(x @ reorder(W, ("in", "g")) + h @ reorder(R, ("u", "g")) + reorder(b, ("g",)), "cfoi")
    assert np.allclose(dl4j, keras)


def test_lstm_gates_refuse_a_wrong_width():
    """A gate axis that is not 4×units is refused."""
    with pytest.raises(ValueError):
        T.lstm_gates_ifco_to_cfoi(T.keras_weight("w", np.zeros((3, 10)), ("in", "g")), 3)


def test_flatten_rows_round_trip():
    """Rows (h,w,c) → (c,h,w) → (h,w,c) restore the kernel."""
    k = rng.normal(size=(2 * 3 * 4, 5))
    t = T.flatten_rows_chw_to_hwc(T.flatten_rows_hwc_to_chw(T.keras_weight("kernel", k, ("in", "out")), (2, 3, 4)),
                                  (2, 3, 4))
    assert np.array_equal(t.value, k)


def test_flatten_rows_numeric():
    """Keras's flatten(h,w,c) @ kernel equals DL4J's flatten(c,h,w) @ permuted kernel."""
    x = rng.normal(size=(2, 2, 3, 4))  # NHWC
    k = rng.normal(size=(24, 5))
    permuted = T.flatten_rows_hwc_to_chw(T.keras_weight("kernel", k, ("in", "out")), (2, 3, 4)).value
    keras = x.reshape(2, -1) @ k
    dl4j = np.transpose(x, (0, 3, 1, 2)).reshape(2, -1) @ permuted
    assert np.allclose(dl4j, keras)
    assert not np.allclose(np.transpose(x, (0, 3, 1, 2)).reshape(2, -1) @ k, keras)  # the trap is real


def test_as_is_and_fill_say_why():
    """Even a no-op is a recorded step with its reason; fill makes a parameter Keras lacks."""
    t = T.as_is(T.keras_weight("bias", np.ones(3), ("out",)), "bias as is")
    assert t.steps[-1].doc == "bias as is"
    f = T.fill("gamma", 1.0, (4,), ("c",), "scale=False")
    assert f.value.tolist() == [1, 1, 1, 1] and f.steps[0].doc == "scale=False"


def test_final_values_only_drops_intermediate_tensors():
    """Inside ``final_values_only`` a trace keeps step names, axes and shapes but only the last tensor."""
    k = rng.normal(size=(3, 3, 2, 4))
    with T.final_values_only():
        t = T.conv_kernel_to_oihw(T.keras_weight("kernel", k, ("kh", "kw", "in", "out")))
    assert t.steps[0].value is None and t.steps[0].shape == (3, 3, 2, 4) and t.steps[0].axes[0] == "kh"
    assert t.value.shape == (4, 2, 3, 3)
    kept = T.conv_kernel_to_oihw(T.keras_weight("kernel", k, ("kh", "kw", "in", "out")))
    assert kept.steps[0].value is k or np.array_equal(kept.steps[0].value, k)
