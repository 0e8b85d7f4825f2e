"""Small helpers the mapper families share (shapes on the Keras side, DL4J activations)."""
from __future__ import annotations

from workbench.keras_io.shapes import output_shape
from workbench.mappers.activations import keras_activation
from workbench.mappers.registry import MapContext
from workbench.mappers.result import Activation

_KIND_BY_RANK = {1: "ff", 2: "rnn", 3: "cnn", 4: "cnn3d"}


def keras_output_shape(ctx: MapContext) -> tuple:
    """The layer's Keras output shape without the batch dimension, or a MappingError."""
    out = output_shape(ctx.spec, [(None, *a.keras_shape) for a in ctx.inputs])
    if out is None or isinstance(out, list):
        raise ctx.fail("the output shape cannot be inferred", expected="a single-output layer with known input",
                       received=out)
    return tuple(out[1:])


def activation_like(ctx: MapContext, keras_shape: tuple, kind: str | None = None) -> Activation:
    """An output description in this conversion's formats, for a Keras shape (no batch)."""
    kind = kind or _KIND_BY_RANK.get(len(keras_shape), "ff")
    fmt = {"cnn": ctx.options.cnn_format, "rnn": ctx.options.rnn_format,
           "cnn3d": "NDHWC" if ctx.options.cnn_format == "NHWC" else "NCDHW"}.get(kind)
    return Activation(kind=kind, keras_shape=tuple(keras_shape), dl4j_format=fmt)


def dl4j_activation(ctx: MapContext, key: str = "activation", *, over_last_axis: bool = False) -> dict:
    """The DL4J activation for a config key.

    Args:
        over_last_axis: the activation is applied by an ActivationLayer to this layer's input as it is;
            NB: DL4J's softmax always runs over the LAST axis, which is time for NCW and width for NCHW.
    """
    value = ctx.config.get(key, "linear")
    act = keras_activation(value, keras_major=ctx.keras_major)
    if act is None:
        raise ctx.fail(f"activation {value!r} has no exact DL4J equivalent", expected="a DL4J activation",
                       received=value)
    if over_last_axis:
        check_softmax_axis(ctx, act)
    return act


def check_softmax_axis(ctx: MapContext, act: dict) -> None:
    """Refuse a softmax DL4J would take over the wrong axis (channels-first layouts)."""
    if act["@class"].endswith("ActivationSoftmax") and ctx.input.dl4j_format in ("NCW", "NCHW", "NCDHW"):
        raise ctx.fail("softmax on a channels-first DL4J tensor would run over the last (spatial/time) axis",
                       expected="the NHWC/NWC data format for this model",
                       received=ctx.input.dl4j_format)
