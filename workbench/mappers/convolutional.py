"""Convolution layers."""
from __future__ import annotations

from workbench.mappers import transforms as T
from workbench.mappers._common import activation_like, dl4j_activation, keras_output_shape
from workbench.mappers.dl4j import base_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer, Param

CONVOLUTION_MODES = {"same": "Same", "valid": "Truncate", "causal": "Causal"}


def pair(value, rank: int = 2) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value] * rank


def convolution_mode(ctx: MapContext) -> str:
    padding = ctx.config.get("padding", "valid")
    if padding not in CONVOLUTION_MODES:
        raise ctx.fail("unknown padding", expected=list(CONVOLUTION_MODES), received=padding)
    return CONVOLUTION_MODES[padding]


def require_channels_last(ctx: MapContext) -> None:
    if ctx.config.get("data_format", "channels_last") != "channels_last":
        raise ctx.fail("channels_first Keras convolutions are not mapped yet", expected="channels_last",
                       received=ctx.config.get("data_format"))


@mapper("Conv2D", "Convolution2D")
def conv2d(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [kH, kW, C_in, C_out], bias [C_out]; NHWC activations
    # DL4J:  ConvolutionLayer W [C_out, C_in, kH, kW] viewed 'c', b [C_out]; b comes FIRST in the flat vector
    require_channels_last(ctx)
    if ctx.config.get("groups", 1) != 1:
        raise ctx.fail("grouped convolution has no DL4J ConvolutionLayer equivalent", expected="groups=1",
                       received=ctx.config.get("groups"))
    kernel = T.conv_kernel_to_oihw(T.keras_weight("kernel", ctx.weight("kernel"), ("kh", "kw", "in", "out")))
    c_out, c_in = kernel.value.shape[:2]
    params = []
    use_bias = ctx.config.get("use_bias", True)
    if use_bias:
        params.append(Param("b", T.as_is(T.keras_weight("bias", ctx.weight("bias"), ("out",)), "bias as is")))
    params.append(Param("W", kernel, order="c"))
    layer = base_layer(
        "ConvolutionLayer", ctx.spec.name, act=dl4j_activation(ctx), nin=c_in, nout=c_out, hasBias=use_bias,
        kernelSize=pair(ctx.config["kernel_size"]), stride=pair(ctx.config.get("strides", 1)), padding=[0, 0],
        dilation=pair(ctx.config.get("dilation_rate", 1)), convolutionMode=convolution_mode(ctx),
        cnn2dDataFormat=ctx.options.cnn_format, cudnnAlgoMode="PREFER_FASTEST", cudnnAllowFallback=True)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, activation_like(ctx, keras_output_shape(ctx), "cnn"),
                       layer=layer, params=tuple(params), variables=("W", "b") if use_bias else ("W",))
