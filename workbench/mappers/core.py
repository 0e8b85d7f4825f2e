"""Core layers: Dense, Activation, Dropout and the noise layers, Flatten, Reshape, Permute, RepeatVector,
PReLU; Masking is refused (DL4J's masked recurrent semantics differ from Keras's)."""
from __future__ import annotations

import math

from workbench.mappers import transforms as T
from workbench.mappers._common import activation_like, check_softmax_axis, dl4j_activation, keras_output_shape
from workbench.mappers.dl4j import activation, base_layer, preprocessor, vertex
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
    # Keras: kernel [in, units], bias [units]; y = act(x @ kernel + bias) on the LAST axis (Keras 3 accepts
    #        [b, f], [b, t, f] and [b, h, w, c])
    # DL4J:  [b, f] → DenseLayer W [nIn, nOut] 'f', b [nOut]
    #        [b, t, f] → TimeDistributed(DenseLayer) (the same W, b; the wrapper folds time into the batch)
    #        [b, h, w, c] → 1×1 ConvolutionLayer (W [out, in, 1, 1] 'c', b first), exact in NHWC and NCHW
    if ctx.input.kind == "rnn":
        from workbench.mappers.wrappers import time_distributed_layer
        layer, params = _dense_parts(ctx)
        out = activation_like(ctx, (ctx.input.keras_shape[0], ctx.config["units"]), "rnn")
        return MappedLayer(ctx.spec.name, "Dense", out, layer=time_distributed_layer(ctx, layer),
                           params=tuple(params), variables=tuple(p.key for p in params),
                           notes=("Dense on [batch, time, features]: DL4J TimeDistributed(DenseLayer)",))
    if ctx.input.kind == "cnn" and len(ctx.input.keras_shape) == 3:
        return _dense_as_conv1x1(ctx)
    if ctx.input.kind != "ff":
        raise ctx.fail("Dense on this tensor is not mapped", expected="[batch, features], [batch, time, features] "
                       "or [batch, h, w, channels]", received=f"{ctx.input.kind} {ctx.input.keras_shape}")
    layer, params = _dense_parts(ctx)
    notes = []
    if ctx.input.flattened_from is not None and ctx.input.flattened_from[1] == "NCHW":
        notes.append("rows permuted: the Flatten before this Dense runs in NCHW in DL4J")
    return MappedLayer(ctx.spec.name, "Dense", activation_like(ctx, (ctx.config["units"],), "ff"), layer=layer,
                       preprocessor=flatten_preprocessor(ctx), params=tuple(params),
                       variables=tuple(p.key for p in params), notes=tuple(notes))


def _dense_parts(ctx: MapContext) -> tuple[dict, list[Param]]:
    """DenseLayer config and params [W, b] for a Dense reading a [batch, features] tensor."""
    units = ctx.config["units"]
    kernel = T.keras_weight("kernel", ctx.weight("kernel"), ("in", "out"))
    if ctx.input.flattened_from is not None and ctx.input.flattened_from[1] == "NCHW":
        # NB: Keras flattened (h, w, c); DL4J's NCHW preprocessor flattens (c, h, w).
        kernel = T.flatten_rows_hwc_to_chw(kernel, ctx.input.flattened_from[0])
    else:
        kernel = T.as_is(kernel, "Dense kernel [in, out] is DL4J's W [nIn, nOut]")
    params = [Param("W", kernel, order="f")]
    use_bias = ctx.config.get("use_bias", True)
    if use_bias:
        params.append(Param("b", T.as_is(T.keras_weight("bias", ctx.weight("bias"), ("out",)), "bias as is")))
    layer = base_layer("DenseLayer", ctx.spec.name, act=dl4j_activation(ctx), nin=kernel.value.shape[0],
                       nout=units, hasBias=use_bias, hasLayerNorm=False)
    return layer, params


def _dense_as_conv1x1(ctx: MapContext) -> MappedLayer:
    """A Dense on [b, h, w, c]: a 1×1 convolution over the channels."""
    units = ctx.config["units"]
    kernel = T.dense_kernel_to_conv1x1_oihw(T.keras_weight("kernel", ctx.weight("kernel"), ("in", "out")))
    params = []
    use_bias = ctx.config.get("use_bias", True)
    if use_bias:
        params.append(Param("b", T.as_is(T.keras_weight("bias", ctx.weight("bias"), ("out",)), "bias as is")))
    params.append(Param("W", kernel, order="c"))
    layer = base_layer(
        "ConvolutionLayer", ctx.spec.name, act=dl4j_activation(ctx), nin=kernel.value.shape[1], nout=units,
        hasBias=use_bias, kernelSize=[1, 1], stride=[1, 1], padding=[0, 0], dilation=[1, 1],
        convolutionMode="Truncate", cnn2dDataFormat=ctx.options.cnn_format, cudnnAlgoMode="PREFER_FASTEST",
        cudnnAllowFallback=True)
    h, w, _ = ctx.input.keras_shape
    return MappedLayer(ctx.spec.name, "Dense", activation_like(ctx, (h, w, units), "cnn"), layer=layer,
                       params=tuple(params), variables=("W", "b") if use_bias else ("W",),
                       notes=("Dense on [batch, h, w, channels]: a 1×1 DL4J ConvolutionLayer",))


@mapper("Activation")
def activation_layer(ctx: MapContext) -> MappedLayer:
    layer = {"@class": "org.deeplearning4j.nn.conf.layers.ActivationLayer", "layerName": ctx.spec.name,
             "activationFn": dl4j_activation(ctx, over_last_axis=True), "constraints": None, "idropout": None}
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
        check_softmax_axis(ctx, act)
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
    if ctx.input.kind == "rnn" and None not in shape:
        # Keras flattens [b, t, f] as (t, f). DL4J's NWC array [b, t, f] reshaped in 'c' order gives the
        # same; its NCW array [b, f, t] reshaped in 'f' order does too (index f + F·t = Keras's t·F + f).
        order = "c" if ctx.input.dl4j_format == "NWC" else "f"
        return MappedLayer(ctx.spec.name, "Flatten", Activation("ff", (size,)),
                           vertex=vertex("ReshapeVertex", newShape=[-1, size], reshapeOrder=order, maskShape=None),
                           notes=(f"ReshapeVertex in '{order}' order keeps Keras's (time, features) order",))
    raise ctx.fail("Flatten of this tensor is not mapped yet", expected="a CNN, sequence or feed-forward input",
                   received=f"{ctx.input.kind} {shape}")


_CHANNELS_FIRST = ("NCHW", "NCW", "NCDHW")


def _dl4j_axes(act: Activation) -> list[int]:
    """For each axis of the DL4J array (batch first), the Keras axis it holds (channels-first moves the last)."""
    rank = len(act.keras_shape) + 1
    if act.dl4j_format in _CHANNELS_FIRST:
        return [0, rank - 1, *range(1, rank - 1)]
    return list(range(rank))


def _refuse_folded_flatten(ctx: MapContext, what: str) -> None:
    """A Flatten folded into its consumer's preprocessor leaves the DL4J tensor un-flattened."""
    if any(a.flattened_from is not None for a in ctx.inputs):
        raise ctx.fail(f"{what} after a Flatten is not mapped: DL4J still holds the un-flattened CNN tensor "
                       "there (the Flatten is folded into a layer's preprocessor)",
                       expected="a Dense after the Flatten", received="Flatten → " + ctx.spec.class_name)


@mapper("Reshape")
def reshape(ctx: MapContext) -> MappedLayer:
    # Keras: reshape [b, *in] → [b, *target] in C order of the channels-LAST layout
    # DL4J:  ReshapeVertex(newShape=[-1, *target in DL4J layout], 'c') reshapes the DL4J array in C order.
    # NB: equal only when both layouts are Keras's (NHWC / NWC / feed-forward), or when both are
    #     channels-first and the channel count is unchanged ([c, rest] → [c, rest']); anything else
    #     would interleave channels silently (DL4J's importer does it anyway) and is refused.
    _refuse_folded_flatten(ctx, "Reshape")
    out_shape = keras_output_shape(ctx)
    if any(d is None for d in (*ctx.input.keras_shape, *out_shape)):
        raise ctx.fail("Reshape with an unknown dimension is not mapped", expected="static shapes",
                       received=(ctx.input.keras_shape, out_shape))
    out = activation_like(ctx, out_shape)
    in_first = ctx.input.dl4j_format in _CHANNELS_FIRST
    out_first = out.dl4j_format in _CHANNELS_FIRST
    if in_first or out_first:
        if not (in_first and out_first and ctx.input.keras_shape[-1] == out_shape[-1]):
            raise ctx.fail(f"this Reshape mixes the channel axis in DL4J's channels-first layout "
                           f"({ctx.input.dl4j_format or 'ff'} → {out.dl4j_format or 'ff'}); it is exact only with "
                           f"cnn_format NHWC", expected="cnn_format NHWC, or the channel count unchanged",
                           received=f"{ctx.input.keras_shape} → {out_shape}")
        new_shape = [-1, out_shape[-1], *out_shape[:-1]]
    else:
        new_shape = [-1, *out_shape]
    return MappedLayer(ctx.spec.name, "Reshape", out,
                       vertex=vertex("ReshapeVertex", newShape=new_shape, reshapeOrder="c", maskShape=None),
                       notes=(f"ReshapeVertex {new_shape} ({out.dl4j_format or 'feed-forward'})",))


@mapper("Permute")
def permute(ctx: MapContext) -> MappedLayer:
    # Keras: dims = a permutation of the non-batch axes, 1-based ((2, 1) swaps time and features)
    # DL4J:  PreprocessorVertex(PermutePreprocessor(permutationIndices)) permutes the DL4J array; the
    #        indices are re-derived for DL4J's layouts (channels-first in NCHW/NCW), so it is exact in both.
    _refuse_folded_flatten(ctx, "Permute")
    dims = [int(d) for d in ctx.config["dims"]]
    keras_perm = [0, *dims]  # Keras output axis j holds Keras input axis keras_perm[j]
    out_shape = tuple(ctx.input.keras_shape[d - 1] for d in dims)
    out = activation_like(ctx, out_shape, ctx.input.kind)
    in_axes = _dl4j_axes(ctx.input)   # DL4J input axis m holds Keras input axis in_axes[m]
    out_axes = _dl4j_axes(out)        # DL4J output axis k holds Keras output axis out_axes[k]
    indices = [in_axes.index(keras_perm[k]) for k in out_axes]
    pre = {"@class": "org.deeplearning4j.preprocessors.PermutePreprocessor", "permutationIndices": indices}
    return MappedLayer(ctx.spec.name, "Permute", out, vertex=vertex("PreprocessorVertex", preProcessor=pre),
                       notes=(f"DL4J permutation {indices} of its {ctx.input.dl4j_format or 'ff'} array",))


@mapper("RepeatVector")
def repeat_vector(ctx: MapContext) -> MappedLayer:
    # Keras: [b, f] → [b, n, f]
    # DL4J:  misc.RepeatVector(n, dataFormat): [b, f] → [b, n, f] (NWC) or [b, f, n] (NCW)
    if ctx.input.kind != "ff":
        raise ctx.fail("RepeatVector needs a [batch, features] input", expected="ff",
                       received=f"{ctx.input.kind} {ctx.input.keras_shape}")
    if ctx.input.flattened_from is not None and ctx.input.flattened_from[1] != "NHWC":
        raise ctx.fail("RepeatVector after a Flatten in NCHW would repeat features in (c, h, w) order",
                       expected="cnn_format NHWC", received=ctx.input.flattened_from[1])
    n = int(ctx.config["n"])
    size = ctx.input.keras_shape[0]
    layer = base_layer("misc.RepeatVector", ctx.spec.name, nin=size, nout=size, n=n,
                       dataFormat=ctx.options.rnn_format)
    return MappedLayer(ctx.spec.name, "RepeatVector", activation_like(ctx, (n, size), "rnn"), layer=layer,
                       preprocessor=flatten_preprocessor(ctx))


@mapper("PReLU")
def prelu(ctx: MapContext) -> MappedLayer:
    # Keras: alpha = input shape (no batch) with `shared_axes` (1-based, Keras layout) set to 1;
    #        y = x if x >= 0 else alpha·x, alpha broadcast over the shared axes
    # DL4J:  PReLULayer(inputShape, sharedAxes) W = inputShape with sharedAxes (1-based) set to 1, viewed 'f',
    #        in DL4J's layout: alpha is moved channels-first for NCHW / NCW networks
    # NB: at inference DL4J's PReLU (like ActivationLayer) writes its output INTO its input array (it only
    #     dups when training): any other reader of that tensor, and the producer's reported activation,
    #     see the activated values.
    _refuse_folded_flatten(ctx, "PReLU")
    shape = tuple(ctx.input.keras_shape)
    if any(d is None for d in shape):
        raise ctx.fail("PReLU on an input with an unknown dimension", expected="a static input shape",
                       received=shape)
    axes = tuple(f"a{i}" for i in range(1, len(shape) + 1))
    alpha = T.keras_weight("alpha", ctx.weight("alpha"), axes)
    channels_first = ctx.input.dl4j_format in _CHANNELS_FIRST
    alpha = T.channels_last_to_first(alpha) if channels_first else T.as_is(alpha, "alpha as is (channels-last)")
    keras_shared = [int(a) for a in (ctx.config.get("shared_axes") or [])]
    if any(not 1 <= a <= len(shape) for a in keras_shared):
        raise ctx.fail("PReLU shared_axes must be positive input axes", expected=f"1..{len(shape)}",
                       received=keras_shared)
    dl4j_axes = _dl4j_axes(ctx.input)
    shared = sorted(dl4j_axes.index(a) for a in keras_shared)  # the same axes, numbered in DL4J's layout
    dl4j_shape = [shape[a - 1] for a in dl4j_axes[1:]]
    expected = [1 if (i + 1) in shared else d for i, d in enumerate(dl4j_shape)]
    if list(alpha.value.shape) != expected:
        raise ctx.fail("PReLU alpha does not fit its input and shared_axes", expected=expected,
                       received=list(alpha.value.shape))
    size = math.prod(shape)
    layer = base_layer("PReLULayer", ctx.spec.name, inputShape=dl4j_shape, sharedAxes=shared or None,
                       nin=size, nout=size)
    return MappedLayer(ctx.spec.name, "PReLU", ctx.input, layer=layer, params=(Param("W", alpha, order="f"),),
                       variables=("W",), notes=(f"sharedAxes {shared} in DL4J's {ctx.input.dl4j_format or 'ff'} "
                                                "layout",))


@mapper("Masking")
def masking(ctx: MapContext) -> MappedLayer:
    # Keras: marks time steps whose features all equal `mask_value`; a following LSTM/SimpleRNN skips them,
    #        CARRYING its last state over masked steps (and outputs zeros there)
    # DL4J:  MaskZeroLayer(underlying RNN, maskingValue): the RNN ZEROES its state at masked steps
    #        (LSTMHelpers / SimpleRnn multiply state and output by the mask column)
    # NB: equal only when every sequence's masked steps all lead or all trail, which depends on the data,
    #     so no mapping is exact; DL4J's importer maps it anyway.
    raise ctx.fail("Masking has no exact DL4J equivalent: DL4J's MaskZeroLayer makes the next LSTM/SimpleRnn "
                   "reset its state to zero at masked steps, where Keras carries the last state over (they agree "
                   "only if masked steps lead or trail every sequence, which depends on the data)",
                   expected="no Masking (or a generated layer)", received=f"mask_value={ctx.config.get('mask_value')}")
