"""Convolution layers: Conv1D/2D/3D, Conv2DTranspose, Conv3DTranspose, DepthwiseConv2D, SeparableConv2D.

Every DL4J convolution keeps one weight layout whatever the data format; only activations change
layout. In the flat parameter vector the bias comes FIRST (b, W[, pW]) although ``variables`` lists W first.
"""
from __future__ import annotations

from workbench.mappers import transforms as T
from workbench.mappers._common import dl4j_activation, keras_output_shape
from workbench.mappers.dl4j import base_layer
from workbench.mappers.registry import MapContext, mapper, reads_channels_first
from workbench.mappers.result import Activation, MappedLayer, Param

CONVOLUTION_MODES = {"same": "Same", "valid": "Truncate", "causal": "Causal"}


def pair(value, rank: int = 2) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value] * rank


def convolution_mode(ctx: MapContext, allowed: tuple[str, ...] = ("same", "valid", "causal")) -> str:
    padding = ctx.config.get("padding", "valid")
    if padding not in allowed:
        raise ctx.fail(f"padding {padding!r} has no DL4J equivalent for {ctx.spec.class_name}",
                       expected=list(allowed), received=padding)
    return CONVOLUTION_MODES[padding]


def require_channels_last(ctx: MapContext) -> None:
    """The layer's Keras data_format must be the layout of the tensor it reads (no silent transposes)."""
    first = ctx.config.get("data_format", "channels_last") == "channels_first"
    if first != ctx.input.keras_channels_first:
        raise ctx.fail("a layer whose data_format differs from its input tensor's layout is not mapped",
                       expected="channels_first" if ctx.input.keras_channels_first else "channels_last",
                       received=ctx.config.get("data_format"))


def require_groups_1(ctx: MapContext) -> None:
    if ctx.config.get("groups", 1) != 1:
        raise ctx.fail("grouped convolution has no DL4J layer equivalent", expected="groups=1",
                       received=ctx.config.get("groups"))


def input_format(ctx: MapContext, kind: str) -> str:
    """The DL4J layout of this layer's input tensor, which the layer must be configured to read.

    ``rnn`` (1-D) → NWC/NCW, ``cnn`` → NHWC/NCHW, ``cnn3d`` → NDHWC/NCDHW. A tensor with no recorded
    format is still in Keras's channels-last layout.
    """
    if ctx.input.kind != kind:
        expected = {"rnn": "a [batch, steps, channels] input", "cnn": "a [batch, h, w, channels] input",
                    "cnn3d": "a [batch, d, h, w, channels] input"}[kind]
        raise ctx.fail(f"{ctx.spec.class_name} needs a {kind} tensor", expected=expected,
                       received=f"{ctx.input.kind} {ctx.input.keras_shape}")
    default = {"rnn": "NWC", "cnn": "NHWC", "cnn3d": "NDHWC"}[kind]
    return ctx.input.dl4j_format or default


def output_like_input(ctx: MapContext, kind: str, fmt: str) -> Activation:
    """The layer's Keras output shape, in the same DL4J layout as its input."""
    return Activation(kind=kind, keras_shape=keras_output_shape(ctx), dl4j_format=fmt,
                      keras_channels_first=ctx.input.keras_channels_first)


def _weight(ctx: MapContext, *names: str):
    """The first of several names a weight has had (Keras 3 calls DepthwiseConv2D's kernel ``kernel``)."""
    stored = {w.name for w in ctx.spec.weights}
    for name in names:
        if name in stored:
            return name, ctx.weight(name)
    return names[0], ctx.weight(names[0])  # raises the WeightError naming what exists


def _bias(ctx: MapContext) -> list[Param]:
    if not ctx.config.get("use_bias", True):
        return []
    return [Param("b", T.as_is(T.keras_weight("bias", ctx.weight("bias"), ("out",)), "bias [C_out] as is"))]


def _conv_fields(ctx: MapContext, rank: int, modes: tuple[str, ...] = ("same", "valid")) -> dict:
    return {"kernelSize": pair(ctx.config["kernel_size"], rank), "stride": pair(ctx.config.get("strides", 1), rank),
            "padding": [0] * rank, "dilation": pair(ctx.config.get("dilation_rate", 1), rank),
            "convolutionMode": convolution_mode(ctx, modes), "cudnnAlgoMode": "PREFER_FASTEST",
            "cudnnAllowFallback": True}


@mapper("Conv2D", "Convolution2D")
@reads_channels_first
def conv2d(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [kH, kW, C_in, C_out], bias [C_out]; NHWC activations
    # DL4J:  ConvolutionLayer W [C_out, C_in, kH, kW] viewed 'c', b [C_out]; b comes FIRST in the flat vector
    require_channels_last(ctx)
    require_groups_1(ctx)
    fmt = input_format(ctx, "cnn")
    kernel = T.conv_kernel_to_oihw(T.keras_weight("kernel", ctx.weight("kernel"), ("kh", "kw", "in", "out")))
    c_out, c_in = kernel.value.shape[:2]
    params = [*_bias(ctx), Param("W", kernel, order="c")]
    use_bias = ctx.config.get("use_bias", True)
    layer = base_layer("ConvolutionLayer", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in, nout=c_out,
                       hasBias=use_bias, cnn2dDataFormat=fmt, **_conv_fields(ctx, 2))
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "cnn", fmt),
                       layer=layer, params=tuple(params), variables=("W", "b") if use_bias else ("W",))


@mapper("Conv1D", "Convolution1D")
@reads_channels_first
def conv1d(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [k, C_in, C_out], bias [C_out]; input [batch, steps, C_in]
    # DL4J:  Convolution1DLayer, rnnDataFormat NWC ([b, steps, C]) or NCW ([b, C, steps]); b first, then W.
    # NB: W's declared shape is [C_out, C_in, k, 1], but since 1.0.0-M1 the layer reinterprets the raw
    #     buffer as [k, C_in, C_out] 'c' (Convolution1DUtils.reshapeWeightArrayOrGradientForFormat), so the
    #     Keras kernel goes in AS IS. Permuting it to [C_out, C_in, k] (beta7 layout) scrambles it silently.
    # NB: DL4J's own builder writes 1-D sizes as pairs [k, k]; only the first element is used.
    require_channels_last(ctx)
    require_groups_1(ctx)
    fmt = input_format(ctx, "rnn")
    kernel = T.conv1d_kernel_as_is(T.keras_weight("kernel", ctx.weight("kernel"), ("k", "in", "out")))
    k, c_in, c_out = kernel.value.shape
    params = [*_bias(ctx), Param("W", kernel, order="c")]
    use_bias = ctx.config.get("use_bias", True)
    fields = _conv_fields(ctx, 1, ("same", "valid", "causal"))
    fields.update({key: fields[key] * 2 for key in ("kernelSize", "stride", "padding", "dilation")})
    layer = base_layer("Convolution1DLayer", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in, nout=c_out,
                       hasBias=use_bias, rnnDataFormat=fmt, cnn2dDataFormat="NCHW", **fields)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "rnn", fmt),
                       layer=layer, params=tuple(params), variables=("W", "b") if use_bias else ("W",))


@mapper("Conv3D", "Convolution3D")
@reads_channels_first
def conv3d(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [kD, kH, kW, C_in, C_out], bias [C_out]; input [b, D, H, W, C]
    # DL4J:  Convolution3D W [C_out, C_in, kD, kH, kW] 'c', b first; dataFormat NDHWC or NCDHW.
    # NB: Convolution3D carries the padding mode twice ("mode" and the inherited "convolutionMode"); both written.
    require_channels_last(ctx)
    require_groups_1(ctx)
    fmt = input_format(ctx, "cnn3d")
    kernel = T.conv3d_kernel_to_oidhw(
        T.keras_weight("kernel", ctx.weight("kernel"), ("kd", "kh", "kw", "in", "out")))
    c_out, c_in = kernel.value.shape[:2]
    params = [*_bias(ctx), Param("W", kernel, order="c")]
    use_bias = ctx.config.get("use_bias", True)
    fields = _conv_fields(ctx, 3)
    layer = base_layer("Convolution3D", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in, nout=c_out,
                       hasBias=use_bias, dataFormat=fmt, mode=fields["convolutionMode"], cnn2dDataFormat="NCHW",
                       **fields)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "cnn3d", fmt),
                       layer=layer, params=tuple(params), variables=("W", "b") if use_bias else ("W",))


def _transposed_output(ctx: MapContext, kind: str, fmt: str, rank: int) -> Activation:
    """Refuse what DL4J's deconvolutions compute differently; the output (shape computed here, with dilation).

    DL4J: Truncate → (n-1)·s + (k-1)·d + 1, Same → n·s. Keras agrees except for 'valid' with an effective
    kernel smaller than the stride, where Keras pads the output to n·s (DL4J stops at (n-1)·s + k).
    """
    out_pad = ctx.config.get("output_padding")
    if out_pad is not None:
        raise ctx.fail("output_padding has no DL4J deconvolution equivalent", expected="output_padding=None",
                       received=out_pad)
    kernel = pair(ctx.config["kernel_size"], rank)
    strides = pair(ctx.config.get("strides", 1), rank)
    dilation = pair(ctx.config.get("dilation_rate", 1), rank)
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    padding = ctx.config.get("padding", "valid")
    if padding == "valid" and any(e < s for e, s in zip(effective, strides)):
        raise ctx.fail("padding='valid' with a kernel smaller than the stride: Keras pads the output to "
                       "input·stride, DL4J's deconvolution does not", expected="kernel_size >= strides",
                       received=f"kernel_size={kernel}, strides={strides}")
    *spatial, _ = ctx.input.keras_shape
    out = [None if n is None else (n * s if padding == "same" else (n - 1) * s + e)
           for n, s, e in zip(spatial, strides, effective)]
    return Activation(kind=kind, keras_shape=(*out, ctx.config["filters"]), dl4j_format=fmt)


@mapper("Conv2DTranspose", "Convolution2DTranspose")
def conv2d_transpose(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [kH, kW, C_out, C_in] (NB: out before in), bias [C_out]; out = in·s ('same') or
    #        (in-1)·s + k ('valid')
    # DL4J:  Deconvolution2D W [C_in, C_out, kH, kW] 'c', b first; same output sizes for Same/Truncate.
    require_channels_last(ctx)
    fmt = input_format(ctx, "cnn")
    output = _transposed_output(ctx, "cnn", fmt, 2)
    kernel = T.deconv_kernel_to_iohw(T.keras_weight("kernel", ctx.weight("kernel"), ("kh", "kw", "out", "in")))
    c_in, c_out = kernel.value.shape[:2]
    params = [*_bias(ctx), Param("W", kernel, order="c")]
    use_bias = ctx.config.get("use_bias", True)
    layer = base_layer("Deconvolution2D", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in, nout=c_out,
                       hasBias=use_bias, cnn2dDataFormat=fmt, **_conv_fields(ctx, 2))
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output,
                       layer=layer, params=tuple(params), variables=("W", "b") if use_bias else ("W",))


@mapper("Conv3DTranspose", "Convolution3DTranspose")
def conv3d_transpose(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [kD, kH, kW, C_out, C_in], bias [C_out]
    # DL4J:  Deconvolution3D W declared [kD, kH, kW, C_out, C_in] 'c' (Deconvolution3DParamInitializer), b first.
    # NB: the Keras layout IS the declared DL4J layout, so the kernel goes in as is (checked against TF in real
    #     DL4J). DL4J's own Keras importer permutes it to [C_in, C_out, kD, kH, kW] and then reshapes that
    #     silently into the declared shape (dl4j-keras-import.md §2.2) — do not copy that.
    require_channels_last(ctx)
    fmt = input_format(ctx, "cnn3d")
    output = _transposed_output(ctx, "cnn3d", fmt, 3)
    kernel = T.deconv3d_kernel_as_is(
        T.keras_weight("kernel", ctx.weight("kernel"), ("kd", "kh", "kw", "out", "in")))
    c_out, c_in = kernel.value.shape[3:]
    params = [*_bias(ctx), Param("W", kernel, order="c")]
    use_bias = ctx.config.get("use_bias", True)
    layer = base_layer("Deconvolution3D", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in, nout=c_out,
                       hasBias=use_bias, dataFormat=fmt, cnn2dDataFormat="NCHW", **_conv_fields(ctx, 3))
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output,
                       layer=layer, params=tuple(params), variables=("W", "b") if use_bias else ("W",))


@mapper("DepthwiseConv2D")
def depthwise_conv2d(ctx: MapContext) -> MappedLayer:
    # Keras: depthwise_kernel [kH, kW, C_in, dm] (named "kernel" in Keras 3), bias [C_in·dm]; out channel c·dm + m
    # DL4J:  DepthwiseConvolution2D W [kH, kW, C_in, dm] 'c' (the Keras layout, as is), b [C_in·dm] first.
    require_channels_last(ctx)
    fmt = input_format(ctx, "cnn")
    name, value = _weight(ctx, "depthwise_kernel", "kernel")
    kernel = T.as_is(T.keras_weight(name, value, ("kh", "kw", "in", "dm")),
                     "DL4J's DepthwiseConvolution2D W is Keras's [kH, kW, C_in, dm]")
    _, _, c_in, dm = kernel.value.shape
    params = [*_bias(ctx), Param("W", kernel, order="c")]
    use_bias = ctx.config.get("use_bias", True)
    layer = base_layer("DepthwiseConvolution2D", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in,
                       nout=c_in * dm, depthMultiplier=dm, hasBias=use_bias, cnn2dDataFormat=fmt,
                       **_conv_fields(ctx, 2))
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "cnn", fmt),
                       layer=layer, params=tuple(params), variables=("W", "b") if use_bias else ("W",))


@mapper("SeparableConv2D", "SeparableConvolution2D")
def separable_conv2d(ctx: MapContext) -> MappedLayer:
    # Keras: depthwise_kernel [kH, kW, C_in, dm], pointwise_kernel [1, 1, C_in·dm, C_out], bias [C_out]
    # DL4J:  SeparableConvolution2D flat b, W [dm, C_in, kH, kW] 'c', pW [C_out, C_in·dm, 1, 1] 'c';
    #        variables (addVariable order) W, pW, b.
    # NB: DL4J's JSON default for this class's cnn2dDataFormat is null; it is always written here.
    require_channels_last(ctx)
    fmt = input_format(ctx, "cnn")
    depthwise = T.separable_depthwise_to_mihw(
        T.keras_weight("depthwise_kernel", ctx.weight("depthwise_kernel"), ("kh", "kw", "in", "dm")))
    pointwise = T.conv_kernel_to_oihw(
        T.keras_weight("pointwise_kernel", ctx.weight("pointwise_kernel"), ("kh", "kw", "in", "out")))
    dm, c_in = depthwise.value.shape[:2]
    c_out = pointwise.value.shape[0]
    use_bias = ctx.config.get("use_bias", True)
    params = [*_bias(ctx), Param("W", depthwise, order="c"), Param("pW", pointwise, order="c")]
    layer = base_layer("SeparableConvolution2D", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in, nout=c_out,
                       depthMultiplier=dm, hasBias=use_bias, cnn2dDataFormat=fmt, **_conv_fields(ctx, 2))
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "cnn", fmt),
                       layer=layer, params=tuple(params),
                       variables=("W", "pW", "b") if use_bias else ("W", "pW"))
