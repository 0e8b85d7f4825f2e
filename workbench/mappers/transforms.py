"""Named weight transforms: every Keras → DL4J weight change is one of these, applied *and* recorded.

A mapper never calls ``.transpose(3, 2, 0, 1)`` itself: it starts a ``Trace`` from the Keras array
(with axis names) and applies named steps; the trace keeps every intermediate tensor with its axis
names, so the UI can draw each one and a notebook can teach it.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field, replace

import numpy as np

# Whether traces keep every intermediate tensor (the UI and notebooks want them) or only the last
# one (a plain export of a large model: peak memory stays near one copy of the weights).
_KEEP_STEPS = contextvars.ContextVar("keep_steps", default=True)


@contextlib.contextmanager
def final_values_only():
    """Within this block, traces drop intermediate tensors (names, docs and axes are kept)."""
    token = _KEEP_STEPS.set(False)
    try:
        yield
    finally:
        _KEEP_STEPS.reset(token)


@dataclass(frozen=True)
class Step:
    """One named operation and the tensor it produced."""

    name: str
    doc: str
    axes: tuple[str, ...]
    value: np.ndarray | None = field(repr=False)  # None: not kept (see ``final_values_only``)
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.value is not None and not self.shape:
            object.__setattr__(self, "shape", tuple(self.value.shape))


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
        earlier = self.steps
        if not _KEEP_STEPS.get():
            earlier = tuple(replace(step, value=None) for step in earlier)
        return Trace(self.source, earlier + (Step(name, doc, tuple(axes), value),))


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


# ---- convolution family (Conv1D, transposed, separable) -------------------------------------------


def conv1d_kernel_as_is(trace: Trace) -> Trace:
    """Conv1D kernel, Keras → DL4J ``Convolution1DLayer`` W (1.0.0-M1 and later), no change::

        Keras  [k, C_in, C_out]                   e.g. [3, 2, 4]
        DL4J   [k, C_in, C_out] 'c' as read       (declared [C_out, C_in, k, 1]; the layer reinterprets
                                                    the raw buffer as [k, C_in, C_out] before convolving)

    NB: before M1 (beta7 and earlier) the buffer was really [C_out, C_in, k, 1]; this is M2.1's layout.
    """
    return trace.then("conv1d_kernel_as_is",
                      "Conv1D kernel [k, C_in, C_out] as is: DL4J ≥ M1 reads W's buffer as [k, C_in, C_out] 'c'",
                      trace.value, trace.axes)


def deconv_kernel_to_iohw(trace: Trace) -> Trace:
    """Conv2DTranspose kernel, Keras → DL4J ``Deconvolution2D`` W (stored 'c')::

        Keras  [kH, kW, C_out, C_in]   e.g. [3, 3, 8, 2]   (a transposed kernel: outputs before inputs)
        DL4J   [C_in, C_out, kH, kW]   e.g. [2, 8, 3, 3]

    Same for NCHW and NHWC networks.
    """
    return permute(trace, ("in", "out", "kh", "kw"), name="deconv_kernel_to_iohw")


def deconv_kernel_from_iohw(trace: Trace) -> Trace:
    """The inverse of ``deconv_kernel_to_iohw``: DL4J ``[C_in, C_out, kH, kW]`` → Keras ``[kH, kW, C_out, C_in]``."""
    return permute(trace, ("kh", "kw", "out", "in"), name="deconv_kernel_from_iohw")


def deconv3d_kernel_as_is(trace: Trace) -> Trace:
    """Conv3DTranspose kernel, Keras → DL4J ``Deconvolution3D`` W, no change::

        Keras  [kD, kH, kW, C_out, C_in]   e.g. [2, 2, 2, 4, 3]
        DL4J   [kD, kH, kW, C_out, C_in]   'c' (Deconvolution3DParamInitializer declares this very layout)

    NB: DL4J's own Keras importer permutes it to [C_in, C_out, kD, kH, kW] first and then reshapes.
    """
    return trace.then("deconv3d_kernel_as_is",
                      "Conv3DTranspose kernel [kD, kH, kW, C_out, C_in] is DL4J's Deconvolution3D W as is",
                      trace.value, trace.axes)


def separable_depthwise_to_mihw(trace: Trace) -> Trace:
    """SeparableConv2D depthwise kernel, Keras → DL4J ``SeparableConvolution2D`` W (stored 'c')::

        Keras  [kH, kW, C_in, dm]   e.g. [3, 3, 4, 2]
        DL4J   [dm, C_in, kH, kW]   e.g. [2, 4, 3, 3]

    The intermediate channel order stays Keras's c·dm + m, so the pointwise kernel needs no row change
    (it goes through ``conv_kernel_to_oihw``: [1, 1, C_in·dm, C_out] → [C_out, C_in·dm, 1, 1]).
    """
    return permute(trace, ("dm", "in", "kh", "kw"), name="separable_depthwise_to_mihw")


def separable_depthwise_from_mihw(trace: Trace) -> Trace:
    """The inverse of ``separable_depthwise_to_mihw``: DL4J ``[dm, C_in, kH, kW]`` → Keras ``[kH, kW, C_in, dm]``."""
    return permute(trace, ("kh", "kw", "in", "dm"), name="separable_depthwise_from_mihw")


def dense_kernel_to_conv1x1_oihw(trace: Trace) -> Trace:
    """A Dense kernel applied to the channels of an image, as a 1×1 DL4J ``ConvolutionLayer`` W (stored 'c')::

        Keras  Dense kernel [in, out]          e.g. [8, 4]
        DL4J   W [C_out, C_in, 1, 1]           e.g. [4, 8, 1, 1]

    A Keras 3 Dense on ``[b, h, w, c]`` acts on the last axis only, which is exactly a 1×1 convolution.
    """
    v = trace.value
    if v.ndim != 2:
        raise ValueError(f"dense_kernel_to_conv1x1_oihw: a 2-D kernel is needed, got {v.shape}")
    out_in = np.ascontiguousarray(np.transpose(v, (1, 0)))
    out = out_in.reshape(v.shape[1], v.shape[0], 1, 1)
    return trace.then("dense_kernel_to_conv1x1_oihw", "Dense kernel [in, out] → 1×1 conv W [out, in, 1, 1]", out,
                      (trace.axes[1], trace.axes[0], "kh", "kw"))


def channels_last_to_first(trace: Trace) -> Trace:
    """An activation-shaped parameter (PReLU alpha) from Keras's channels-last layout to DL4J's
    channels-first one, for NCHW / NCW networks::

        Keras  [H, W, C]   (or [T, F] for sequences)   e.g. alpha [4, 5, 3]
        DL4J   [C, H, W]   (or [F, T])                  e.g. W     [3, 4, 5]

    The last axis moves to the front; the others keep their order.
    """
    axes = trace.axes
    return permute(trace, (axes[-1], *axes[:-1]), name="channels_last_to_first")


# --- transforms a user can pick for a custom layer's weight (Keras layout → the built-in's layout) ---


def transpose_2d(trace: Trace) -> Trace:
    """Swap the two axes of a matrix, e.g. a custom layer storing ``[out, in]`` for Dense's ``[in, out]``::

        custom  [out, in]   e.g. [8, 10]
        Keras   [in, out]   e.g. [10, 8]
    """
    if trace.value.ndim != 2:
        raise ValueError(f"transpose_2d needs a matrix, got {trace.value.ndim} dims")
    return permute(trace, tuple(reversed(trace.axes)), name="transpose_2d")


def reverse_last_axis(trace: Trace) -> Trace:
    """Reverse the order along the last axis (a weight stored back to front)::

        [w0, w1, ..., wn]  →  [wn, ..., w1, w0]
    """
    return trace.then("reverse_last_axis", "last axis reversed", np.ascontiguousarray(trace.value[..., ::-1]),
                      trace.axes)


def reorder_gates(trace: Trace, source: str, target: str, units: int) -> Trace:
    """Reorder gate blocks along the last axis, e.g. ``source="cfoi"`` → ``target="ifco"`` (Keras)::

        source  [... | c | f | o | i ]   each ``units`` wide
        target  [... | i | f | c | o ]
    """
    if sorted(source) != sorted(target) or len(set(source)) != len(source):
        raise ValueError(f"gate orders {source!r} and {target!r} must name the same distinct gates")
    v = trace.value
    if v.shape[-1] != len(source) * units:
        raise ValueError(f"gates: last axis {v.shape[-1]}, expected {len(source)}×{units}")
    blocks = {g: v[..., k * units:(k + 1) * units] for k, g in enumerate(source)}
    out = np.concatenate([blocks[g] for g in target], axis=-1)
    return trace.then(f"gates_{source}_to_{target}", f"gate blocks [{','.join(source)}] → [{','.join(target)}]",
                      out, trace.axes)
