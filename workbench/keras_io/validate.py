"""Check stored weight shapes against what each layer's config (and input shape) implies.

A weight that does not fit is an error, never a reshape: DL4J's own importer reshapes shape-
compatible arrays silently, and that is the failure this check exists to prevent.
"""
from __future__ import annotations

from typing import Any

from workbench.errors import WeightError
from workbench.keras_io.model import KerasModel, LayerSpec
from workbench.keras_io.shapes import infer_shapes

Dims = tuple  # expected shape; None = any size


def expected_shapes(spec: LayerSpec, input_shape: tuple | None) -> dict[str, Dims] | None:
    """Expected weight shapes of a built-in layer, or None when this check does not know the class."""
    c = spec.config
    last = input_shape[-1] if input_shape else None
    name = spec.class_name
    if name == "Dense":
        return {"kernel": (last, c["units"]), "bias": (c["units"],)}
    if name in ("Conv1D", "Conv2D", "Conv3D"):
        rank = int(name[-2])
        channels = _channels(spec, input_shape)
        groups = c.get("groups", 1) or 1
        kernel = _ks(c["kernel_size"], rank)
        return {"kernel": (*kernel, channels // groups if channels else None, c["filters"]), "bias": (c["filters"],)}
    if name in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
        rank = int(name[-11])
        return {"kernel": (*_ks(c["kernel_size"], rank), c["filters"], _channels(spec, input_shape)),
                "bias": (c["filters"],)}
    if name in ("DepthwiseConv1D", "DepthwiseConv2D"):
        rank = int(name[-2])
        channels = _channels(spec, input_shape)
        mult = c.get("depth_multiplier", 1)
        return {"kernel": (*_ks(c["kernel_size"], rank), channels, mult),
                "bias": (channels * mult if channels else None,)}
    if name in ("SeparableConv1D", "SeparableConv2D"):
        rank = int(name[-2])
        channels = _channels(spec, input_shape)
        mult = c.get("depth_multiplier", 1)
        return {"depthwise_kernel": (*_ks(c["kernel_size"], rank), channels, mult),
                "pointwise_kernel": (*(1,) * rank, channels * mult if channels else None, c["filters"]),
                "bias": (c["filters"],)}
    if name == "BatchNormalization":
        axis = c.get("axis", -1)
        n = input_shape[axis] if input_shape else None
        return {k: (n,) for k in ("gamma", "beta", "moving_mean", "moving_variance")}
    if name == "Embedding":
        return {"embeddings": (c["input_dim"], c["output_dim"])}
    if name in ("LSTM", "GRU", "SimpleRNN"):
        u = c["units"]
        gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[name]
        bias = (2, gates * u) if name == "GRU" and c.get("reset_after", True) else (gates * u,)
        return {"kernel": (last, gates * u), "recurrent_kernel": (u, gates * u), "bias": bias}
    return None


def _ks(kernel_size: Any, rank: int) -> tuple:
    return tuple(kernel_size) if isinstance(kernel_size, (list, tuple)) else (kernel_size,) * rank


def _channels(spec: LayerSpec, input_shape: tuple | None):
    if not input_shape:
        return None
    return input_shape[1] if spec.config.get("data_format") == "channels_first" else input_shape[-1]


def _fits(shape: tuple, expected: Dims) -> bool:
    return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


def check_weight_shapes(model: KerasModel) -> None:
    """Raise ``WeightError`` for the first weight whose shape does not fit its layer."""
    shapes = infer_shapes(model)
    for spec in model.layers:
        input_shape = None
        if spec.nodes and spec.nodes[0]:
            ref = spec.nodes[0][0]
            produced = shapes.get(ref.layer)
            input_shape = produced[ref.tensor_index] if isinstance(produced, list) else produced
        check_layer_weights(model.path, spec, input_shape)


def check_layer_weights(path: str | None, spec: LayerSpec, input_shape: tuple | None) -> None:
    """Raise ``WeightError`` when one of this layer's weights does not fit its config and input shape."""
    if spec.class_name == "TimeDistributed" and spec.children:
        inner_input = (None, *input_shape[2:]) if input_shape else None
        return check_layer_weights(path, spec.children[0], inner_input) if inner_input else None
    if spec.class_name == "Bidirectional":
        for child in spec.children:
            check_layer_weights(path, child, input_shape)
        return None
    expected = expected_shapes(spec, input_shape)
    if expected is None:
        return None
    for w in spec.weights:
        want = expected.get(w.name)
        if want is not None and not _fits(w.shape, want):
            shown = "(" + ", ".join("?" if d is None else str(d) for d in want) + ")"
            raise WeightError(f"weight '{w.name}' has the wrong shape", file=path, layer=spec.name,
                              expected=f"{shown} for this {spec.class_name} config", received=w.shape)
    return None
