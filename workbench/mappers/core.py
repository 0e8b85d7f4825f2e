"""Core layers: Dense, Activation, Dropout and the noise layers, Flatten."""
from __future__ import annotations

import math

from workbench.mappers import transforms as T
from workbench.mappers._common import activation_like, dl4j_activation
from workbench.mappers.dl4j import activation, base_layer, preprocessor
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import Activation, MappedLayer, Param


def flatten_preprocessor(ctx: MapContext) -> dict | None:
    """The CnnToFeedForward preprocessor a layer needs when its input is a flattened CNN tensor."""
    if ctx.input.flattened_from is None:
        return None
    (h, w, c), fmt = ctx.input.flattened_from
    return preprocessor("CnnToFeedForwardPreProcessor", inputHeight=h, inputWidth=w, numChannels=c, format=fmt)


@mapper("Dense")
def dense(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [in, units], bias [units]; y = act(x @ kernel + bias)
    # DL4J:  DenseLayer W [nIn, nOut] viewed 'f', b [nOut]
    if ctx.input.kind != "ff":
        raise ctx.fail("Dense on a tensor of rank > 2 is not mapped yet", expected="a [batch, features] input",
                       received=f"{ctx.input.kind} {ctx.input.keras_shape}")
    units = ctx.config["units"]
    kernel = T.keras_weight("kernel", ctx.weight("kernel"), ("in", "out"))
    notes = []
    if ctx.input.flattened_from is not None and ctx.input.flattened_from[1] == "NCHW":
        # NB: Keras flattened (h, w, c); DL4J's NCHW preprocessor flattens (c, h, w).
        kernel = T.flatten_rows_hwc_to_chw(kernel, ctx.input.flattened_from[0])
        notes.append("rows permuted: the Flatten before this Dense runs in NCHW in DL4J")
    else:
        kernel = T.as_is(kernel, "Dense kernel [in, out] is DL4J's W [nIn, nOut]")
    params = [Param("W", kernel, order="f")]
    use_bias = ctx.config.get("use_bias", True)
    if use_bias:
        params.append(Param("b", T.as_is(T.keras_weight("bias", ctx.weight("bias"), ("out",)), "bias as is")))
    layer = base_layer("DenseLayer", ctx.spec.name, act=dl4j_activation(ctx), nin=kernel.value.shape[0],
                       nout=units, hasBias=use_bias, hasLayerNorm=False)
    return MappedLayer(ctx.spec.name, "Dense", activation_like(ctx, (units,), "ff"), layer=layer,
                       preprocessor=flatten_preprocessor(ctx), params=tuple(params),
                       variables=tuple(p.key for p in params), notes=tuple(notes))


@mapper("Activation")
def activation_layer(ctx: MapContext) -> MappedLayer:
    layer = {"@class": "org.deeplearning4j.nn.conf.layers.ActivationLayer", "layerName": ctx.spec.name,
             "activationFn": dl4j_activation(ctx), "constraints": None, "idropout": None}
    return MappedLayer(ctx.spec.name, "Activation", ctx.input, layer=layer)


@mapper("ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Softmax")
def advanced_activation(ctx: MapContext) -> MappedLayer:
    c = ctx.config
    name = ctx.spec.class_name
    if name == "ReLU":
        act = activation("ReLU", max=c.get("max_value"), negativeSlope=c.get("negative_slope", 0.0),
                         threshold=c.get("threshold", 0.0))
    elif name == "LeakyReLU":
        act = activation("LReLU", alpha=float(c["negative_slope"]))  # normalised by the reader
    elif name == "ELU":
        act = activation("ELU", alpha=float(c.get("alpha", 1.0)))
    elif name == "ThresholdedReLU":
        act = activation("ThresholdedReLU", theta=float(c.get("theta", 1.0)))
    else:
        if c.get("axis", -1) not in (-1, len(ctx.input.keras_shape)):
            raise ctx.fail("Softmax over an axis other than the last", expected="axis -1", received=c.get("axis"))
        act = activation("Softmax")
    layer = {"@class": "org.deeplearning4j.nn.conf.layers.ActivationLayer", "layerName": ctx.spec.name,
             "activationFn": act, "constraints": None, "idropout": None}
    return MappedLayer(ctx.spec.name, name, ctx.input, layer=layer)


@mapper("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
        "GaussianNoise", "AlphaDropout")
def dropout(ctx: MapContext) -> MappedLayer:
    # Identity at inference in both frameworks; DL4J's dropout p is the RETAIN probability.
    rate = float(ctx.config.get("rate", ctx.config.get("stddev", 0.0)))
    size = ctx.input.keras_shape[-1]
    idropout = None
    if ctx.spec.class_name == "Dropout":
        idropout = {"@class": "org.deeplearning4j.nn.conf.dropout.Dropout", "p": 1.0 - rate, "pSchedule": None,
                    "helperAllowFallback": True}
    layer = base_layer("DropoutLayer", ctx.spec.name, nin=size, nout=size)
    layer["idropout"] = idropout
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, ctx.input, layer=layer,
                       notes=("identity at inference; training-time noise is not verified",))


@mapper("Flatten")
def flatten(ctx: MapContext) -> MappedLayer:
    # No DL4J layer: the consumer gets a CnnToFeedForwardPreProcessor (NB: its flatten order follows
    # the DL4J data format, so a Dense after it may need its rows permuted).
    shape = ctx.input.keras_shape
    size = math.prod(shape)
    if ctx.input.kind == "cnn":
        out = Activation("ff", (size,), None, flattened_from=(tuple(shape), ctx.input.dl4j_format))
        return MappedLayer(ctx.spec.name, "Flatten", out,
                           notes=(f"folded into the next layer's CnnToFeedForwardPreProcessor ({ctx.input.dl4j_format})",))
    if ctx.input.kind == "ff":
        return MappedLayer(ctx.spec.name, "Flatten", ctx.input, notes=("no-op on a [batch, features] tensor",))
    raise ctx.fail("Flatten of this tensor is not mapped yet", expected="a CNN or feed-forward input",
                   received=f"{ctx.input.kind} {shape}")


