"""Named weight transforms: every Keras → DL4J weight change is one of these, applied *and* recorded.

A mapper never calls ``.transpose(3, 2, 0, 1)`` itself: it starts a ``Trace`` from the Keras array
(with axis names) and applies named steps; the trace keeps every intermediate tensor with its axis
names, so the UI can draw each one and a notebook can teach it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Step:
    """One named operation and the tensor it produced."""

    name: str
    doc: str
    axes: tuple[str, ...]
    value: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)


@dataclass(frozen=True)
class Trace:
    """A Keras weight and the named steps that turned it into a DL4J parameter."""

    source: str  # e.g. "kernel"
    steps: tuple[Step, ...]

    @property
    def value(self) -> np.ndarray:
        return self.steps[-1].value

    @property
    def axes(self) -> tuple[str, ...]:
        return self.steps[-1].axes

    def then(self, name: str, doc: str, value: np.ndarray, axes: tuple[str, ...]) -> "Trace":
        if value.ndim != len(axes):
            raise ValueError(f"step {name}: {value.ndim} dims but axes {axes}")
        return Trace(self.source, self.steps + (Step(name, doc, tuple(axes), value),))


def keras_weight(name: str, value: np.ndarray, axes: tuple[str, ...]) -> Trace:
    """Start a trace from a Keras array, naming its axes (``("in", "out")`` for a Dense kernel)."""
    value = np.asarray(value)
    if value.ndim != len(axes):
        raise ValueError(f"{name}: {value.ndim} dims but axes {axes}")
    return Trace(name, (Step("keras", f"Keras '{name}' as stored", tuple(axes), value),))


def permute(trace: Trace, to_axes: tuple[str, ...], name: str = "permute") -> Trace:
    """Reorder axes by name: the layout change is stated, never a bare index tuple."""
    order = [trace.axes.index(a) for a in to_axes]
    doc = f"permute axes [{', '.join(trace.axes)}] → [{', '.join(to_axes)}]"
    return trace.then(name, doc, np.ascontiguousarray(np.transpose(trace.value, order)), to_axes)


def conv_kernel_to_oihw(trace: Trace) -> Trace:
    """Conv2D kernel, Keras → DL4J ``ConvolutionLayer`` W (stored 'c')::

        Keras  [kH, kW, C_in, C_out]   e.g. [3, 3, 1, 8]
        DL4J   [C_out, C_in, kH, kW]   e.g. [8, 1, 3, 3]

    The same for NCHW and NHWC networks: DL4J keeps one weight layout and permutes activations.
    """
    return permute(trace, ("out", "in", "kh", "kw"), name="conv_kernel_to_oihw")


def conv3d_kernel_to_oidhw(trace: Trace) -> Trace:
    """Conv3D kernel, Keras ``[kD, kH, kW, C_in, C_out]`` → DL4J ``Convolution3D`` W ``[C_out, C_in, kD, kH, kW]``."""
    return permute(trace, ("out", "in", "kd", "kh", "kw"), name="conv3d_kernel_to_oidhw")


def lstm_gates_ifco_to_cfoi(trace: Trace, units: int) -> Trace:
    """Reorder LSTM gate blocks along the last axis::

        Keras  [... | i | f | c | o ]   (input, forget, cell candidate, output), each ``units`` wide
        DL4J   [... | c | f | o | i ]   (block input first, input gate last), same widths

    For a kernel ``[in, 4u]``, a recurrent kernel ``[u, 4u]`` or a bias ``[4u]``.
    """
    v = trace.value
    if v.shape[-1] != 4 * units:
        raise ValueError(f"LSTM gates: last axis {v.shape[-1]}, expected 4×{units}")
    i, f, c, o = (v[..., k * units:(k + 1) * units] for k in range(4))
    out = np.concatenate([c, f, o, i], axis=-1)
    return trace.then("lstm_gates_ifco_to_cfoi", "gate blocks [i,f,c,o] → [c,f,o,i]", out, trace.axes)


def lstm_gates_cfoi_to_ifco(trace: Trace, units: int) -> Trace:
    """The inverse of ``lstm_gates_ifco_to_cfoi``: DL4J ``[c|f|o|i]`` back to Keras ``[i|f|c|o]``."""
    v = trace.value
    if v.shape[-1] != 4 * units:
        raise ValueError(f"LSTM gates: last axis {v.shape[-1]}, expected 4×{units}")
    c, f, o, i = (v[..., k * units:(k + 1) * units] for k in range(4))
    out = np.concatenate([i, f, c, o], axis=-1)
    return trace.then("lstm_gates_cfoi_to_ifco", "gate blocks [c,f,o,i] → [i,f,c,o]", out, trace.axes)


def flatten_rows_chw_to_hwc(trace: Trace, spatial_channels: tuple[int, ...]) -> Trace:
    """The inverse of ``flatten_rows_hwc_to_chw`` (``spatial_channels`` is still Keras's (h, w, c))."""
    *spatial, channels = spatial_channels
    v = trace.value
    blocks = v.reshape(channels, *spatial, v.shape[-1])
    order = (*range(1, len(spatial) + 1), 0, len(spatial) + 1)
    out = np.ascontiguousarray(np.transpose(blocks, order)).reshape(v.shape)
    return trace.then("flatten_rows_chw_to_hwc", f"Dense rows: (c,h,w) → (h,w,c) for {tuple(spatial_channels)}",
                      out, trace.axes)


def flatten_rows_hwc_to_chw(trace: Trace, spatial_channels: tuple[int, ...]) -> Trace:
    """Rows of a Dense kernel after a Flatten, from Keras's flatten order to DL4J's NCHW order::

        Keras flattens (h, w, c): row r = (y·W + x)·C + ch
        DL4J NCHW flattens (c, h, w): row r' = (ch·H + y)·W + x

    Kernel ``[H·W·C, out]`` → rows permuted so that DL4J's flattened input meets the same weights.
    Not needed for an NHWC network, whose Flatten order equals Keras's.
    """
    *spatial, channels = spatial_channels
    v = trace.value
    blocks = v.reshape(*spatial, channels, v.shape[-1])
    order = (len(spatial), *range(len(spatial)), len(spatial) + 1)
    out = np.ascontiguousarray(np.transpose(blocks, order)).reshape(v.shape)
    return trace.then("flatten_rows_hwc_to_chw", f"Dense rows after Flatten: (h,w,c) → (c,h,w) for "
                      f"{tuple(spatial_channels)}", out, trace.axes)


def as_is(trace: Trace, why: str) -> Trace:
    """An explicit no-op, recorded so the UI can say *why* nothing changes (e.g. Dense ``[in, out]``)."""
    return trace.then("as_is", why, trace.value, trace.axes)


def fill(name: str, value: float, shape: tuple[int, ...], axes: tuple[str, ...], why: str) -> Trace:
    """A DL4J parameter that Keras does not store (e.g. BatchNormalization gamma when ``scale=False``)."""
    arr = np.full(shape, value, dtype=np.float32)
    return Trace(name, (Step("fill", why, axes, arr),))
