"""Output shapes of Keras's own layers, inferred from configs alone (batch dimension ``None``).

A custom layer's output shape is unknown unless the file records the shape of what it feeds
(Keras 3 writes tensor shapes into the graph and ``build_config``); those hints fill the gaps.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from workbench.keras_io.model import KerasModel, LayerSpec

Shape = tuple  # (None, d1, d2, ...)
_RULES: dict[str, Callable[[LayerSpec, list[Shape]], Shape | list[Shape] | None]] = {}

SAME_SHAPE = (
    "Activation", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout",
    "GaussianDropout", "GaussianNoise", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "UnitNormalization", "ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU", "Softmax", "Masking",
    "Identity", "ActivityRegularization",
)


def rule(*class_names: str):
    def register(fn):
        for name in class_names:
            _RULES[name] = fn
        return fn
    return register


def _channels_first(spec: LayerSpec) -> bool:
    return spec.config.get("data_format") == "channels_first"


def _conv_length(length, kernel, stride, padding, dilation=1):
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        return int(math.ceil(length / stride))
    return int(math.ceil((length - effective + 1) / stride))


def _tuple(value, rank):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank


def _spatial(spec: LayerSpec, shape: Shape):
    return (shape[2:], shape[1]) if _channels_first(spec) else (shape[1:-1], shape[-1])


def _with_spatial(spec: LayerSpec, spatial, channels) -> Shape:
    return (None, channels, *spatial) if _channels_first(spec) else (None, *spatial, channels)


@rule(*SAME_SHAPE)
def _same(spec, inputs):
    return inputs[0]


@rule("Dense", "EinsumDense")
def _dense(spec, inputs):
    if spec.class_name == "EinsumDense":
        return None
    return (*inputs[0][:-1], spec.config["units"])


@rule("Flatten")
def _flatten(spec, inputs):
    rest = inputs[0][1:]
    return (None, None if any(d is None for d in rest) else math.prod(rest))


@rule("Reshape")
def _reshape(spec, inputs):
    target = list(spec.config["target_shape"])
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        total = math.prod(inputs[0][1:]) if None not in inputs[0][1:] else None
        target[target.index(-1)] = total // known if total is not None else None
    return (None, *target)


@rule("Permute")
def _permute(spec, inputs):
    return (None, *(inputs[0][d] for d in spec.config["dims"]))


@rule("RepeatVector")
def _repeat(spec, inputs):
    return (None, spec.config["n"], inputs[0][-1])


@rule("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
def _conv(spec, inputs):
    spatial, channels = _spatial(spec, inputs[0])
    rank = len(spatial)
    kernel = _tuple(spec.config["kernel_size"], rank)
    strides = _tuple(spec.config.get("strides", 1), rank)
    dilation = _tuple(spec.config.get("dilation_rate", 1), rank)
    padding = spec.config.get("padding", "valid")
    out = tuple(_conv_length(n, k, s, padding, d) for n, k, s, d in zip(spatial, kernel, strides, dilation))
    if spec.class_name.startswith("Depthwise"):
        filters = channels * spec.config.get("depth_multiplier", 1) if channels else None
    else:
        filters = spec.config["filters"]
    return _with_spatial(spec, out, filters)


@rule("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def _deconv(spec, inputs):
    spatial, _ = _spatial(spec, inputs[0])
    rank = len(spatial)
    kernel = _tuple(spec.config["kernel_size"], rank)
    strides = _tuple(spec.config.get("strides", 1), rank)
    dilation = _tuple(spec.config.get("dilation_rate", 1), rank)
    padding = spec.config.get("padding", "valid")
    out_pad = spec.config.get("output_padding")
    out_pad = _tuple(out_pad, rank) if out_pad is not None else (None,) * rank
    out = []
    for n, k, s, p, d in zip(spatial, kernel, strides, out_pad, dilation):
        k = (k - 1) * d + 1  # the dilated kernel's extent
        if n is None:
            out.append(None)
        elif p is None:
            out.append(n * s if padding == "same" else n * s + max(k - s, 0))
        else:
            pad = k // 2 if padding == "same" else 0
            out.append((n - 1) * s + k - 2 * pad + p)
    return _with_spatial(spec, tuple(out), spec.config["filters"])


@rule("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
def _pool(spec, inputs):
    spatial, channels = _spatial(spec, inputs[0])
    rank = len(spatial)
    pool = _tuple(spec.config.get("pool_size", 2), rank)
    strides = spec.config.get("strides") or pool
    strides = _tuple(strides, rank)
    padding = spec.config.get("padding", "valid")
    out = tuple(_conv_length(n, k, s, padding) for n, k, s in zip(spatial, pool, strides))
    return _with_spatial(spec, out, channels)


@rule("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
      "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")
def _global_pool(spec, inputs):
    spatial, channels = _spatial(spec, inputs[0])
    if spec.config.get("keepdims"):
        return _with_spatial(spec, (1,) * len(spatial), channels)
    return (None, channels)


def _pairs(value, rank):
    """Keras padding/cropping arguments: int, (a, b) per axis, or one pair per axis."""
    if isinstance(value, int):
        return ((value, value),) * rank
    value = list(value)
    if rank == 1:
        return (tuple(value) if len(value) == 2 else (value[0], value[0]),)
    return tuple((v, v) if isinstance(v, int) else tuple(v) for v in value)


@rule("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D")
def _pad_crop(spec, inputs):
    shape = inputs[0]
    rank = int(spec.class_name[-2])
    key = "padding" if spec.class_name.startswith("Zero") else "cropping"
    sign = 1 if key == "padding" else -1
    pairs = _pairs(spec.config.get(key, 1), rank)
    if rank == 1:  # 1-D layers are always (batch, steps, channels)
        steps = shape[1] + sign * sum(pairs[0]) if shape[1] is not None else None
        return (None, steps, shape[2])
    spatial, channels = _spatial(spec, shape)
    out = tuple(n + sign * (a + b) if n is not None else None for n, (a, b) in zip(spatial, pairs))
    return _with_spatial(spec, out, channels)


@rule("UpSampling1D", "UpSampling2D", "UpSampling3D")
def _upsample(spec, inputs):
    shape = inputs[0]
    if spec.class_name == "UpSampling1D":
        size = spec.config.get("size", 2)
        return (None, shape[1] * size if shape[1] is not None else None, shape[2])
    spatial, channels = _spatial(spec, shape)
    size = _tuple(spec.config.get("size", 2), len(spatial))
    return _with_spatial(spec, tuple(n * s if n is not None else None for n, s in zip(spatial, size)), channels)


@rule("Embedding")
def _embedding(spec, inputs):
    return (*inputs[0], spec.config["output_dim"])


def _rnn_shape(config: dict[str, Any], shape: Shape, units: int):
    out = (None, shape[1], units) if config.get("return_sequences") else (None, units)
    if config.get("return_state"):
        states = 2 if config.get("_cell") == "LSTM" else 1
        return [out] + [(None, units)] * states
    return out


@rule("LSTM", "GRU", "SimpleRNN")
def _rnn(spec, inputs):
    return _rnn_shape({**spec.config, "_cell": spec.class_name}, inputs[0], spec.config["units"])


@rule("Bidirectional")
def _bidirectional(spec, inputs):
    inner = spec.children[0]
    units = inner.config["units"]
    merge = spec.config.get("merge_mode", "concat")
    seq = inner.config.get("return_sequences")
    single = (None, inputs[0][1], units) if seq else (None, units)
    if merge is None:
        return [single, single]
    if merge == "concat":
        return (*single[:-1], 2 * units)
    return single


@rule("TimeDistributed")
def _time_distributed(spec, inputs):
    shape = inputs[0]
    inner = spec.children[0]
    fn = _RULES.get(inner.class_name)
    out = fn(inner, [(None, *shape[2:])]) if fn else None
    if out is None or isinstance(out, list):
        return None
    return (None, shape[1], *out[1:])


@rule("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def _elementwise(spec, inputs):
    rank = max(len(s) for s in inputs)
    out = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in inputs if axis - rank + len(s) >= 0]
        known = [d for d in dims if d not in (None, 1)]
        out.append(known[0] if known else (None if None in dims else 1))
    out[0] = None
    return tuple(out)


@rule("Concatenate")
def _concat(spec, inputs):
    axis = spec.config.get("axis", -1)
    rank = len(inputs[0])
    axis = axis % rank
    dims = [s[axis] for s in inputs]
    total = None if None in dims else sum(dims)
    return tuple(total if i == axis else d for i, d in enumerate(inputs[0]))


def infer_shapes(model: KerasModel) -> dict[str, Shape | list[Shape] | None]:
    """Every top-level layer's output shape (first call), or None where it cannot be known."""
    return _infer(model.layers, {})


def _infer(layers: tuple[LayerSpec, ...], given: dict[str, Any]) -> dict[str, Any]:
    shapes: dict[str, Any] = dict(given)
    hints = _hints(layers)
    for spec in layers:
        if spec.name in shapes:
            continue
        if spec.is_input:
            shape = spec.config.get("batch_shape")
            shapes[spec.name] = tuple(shape) if shape is not None else None
            continue
        inputs = [_pick(shapes.get(ref.layer), ref.tensor_index) for ref in (spec.nodes[0] if spec.nodes else ())]
        if not inputs and spec.build_input_shape is not None:
            inputs = [spec.build_input_shape]
        out = None
        if inputs and all(s is not None for s in inputs):
            out = output_shape(spec, inputs)
        shapes[spec.name] = out if out is not None else hints.get(spec.name)
    return shapes


def output_shape(spec: LayerSpec, inputs: list[Shape]) -> Shape | list[Shape] | None:
    """The output shape of one layer given its input shapes; None for classes not known here."""
    if spec.children and spec.class_name in ("Sequential", "Functional"):
        if spec.class_name == "Sequential":
            first = spec.children[0]
            given = {first.name: tuple(inputs[0])} if first.is_input else {}
        else:
            given = {name: tuple(shape) for name, shape in zip(spec.input_names, inputs)}
        inner_shapes = _infer(spec.children, given)
        outs = [_pick(inner_shapes.get(ref.layer), ref.tensor_index) for ref in spec.output_refs]
        return outs[0] if len(outs) == 1 else outs
    fn = _RULES.get(spec.class_name)
    if fn is None:
        return None
    try:
        return fn(spec, [tuple(s) for s in inputs])
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None


def _pick(shape, index):
    if isinstance(shape, list):
        return shape[index] if index < len(shape) else None
    return shape


def _hints(layers: tuple[LayerSpec, ...]) -> dict[str, Shape]:
    """Shapes the file records for the tensors a layer consumes, keyed by the producing layer."""
    hints: dict[str, Shape] = {}
    for spec in layers:
        for node in spec.nodes:
            for ref in node:
                if ref.shape is not None and ref.layer not in hints:
                    hints[ref.layer] = tuple(ref.shape)
        if spec.build_input_shape is not None and len(spec.nodes) <= 1 and spec.nodes and len(spec.nodes[0]) == 1:
            hints.setdefault(spec.nodes[0][0].layer, spec.build_input_shape)
    return hints
