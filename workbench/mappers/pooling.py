"""Pooling layers."""
from __future__ import annotations

from workbench.mappers._common import activation_like, keras_output_shape
from workbench.mappers.convolutional import convolution_mode, pair, require_channels_last
from workbench.mappers.dl4j import plain_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer


@mapper("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D")
def pooling2d(ctx: MapContext) -> MappedLayer:
    # NB: DL4J's SubsamplingLayer counts padding in the average unless told not to; Keras never does.
    require_channels_last(ctx)
    pool = pair(ctx.config.get("pool_size", 2))
    strides = pair(ctx.config.get("strides") or pool)
    layer = plain_layer(
        "SubsamplingLayer", ctx.spec.name, poolingType="MAX" if "Max" in ctx.spec.class_name else "AVG",
        kernelSize=pool, stride=strides, padding=[0, 0], dilation=[1, 1], convolutionMode=convolution_mode(ctx),
        cnn2dDataFormat=ctx.options.cnn_format, avgPoolIncludePadInDivisor=False, eps=1e-8, pnorm=0,
        cudnnAllowFallback=True)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, activation_like(ctx, keras_output_shape(ctx), "cnn"),
                       layer=layer)


@mapper("GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPool1D", "GlobalAvgPool1D", "GlobalMaxPool2D", "GlobalAvgPool2D")
def global_pooling(ctx: MapContext) -> MappedLayer:
    if ctx.config.get("keepdims"):
        raise ctx.fail("keepdims=True is not mapped yet", expected="keepdims=False", received=True)
    if ctx.config.get("data_format", "channels_last") != "channels_last":
        raise ctx.fail("channels_first global pooling is not mapped yet", expected="channels_last",
                       received=ctx.config.get("data_format"))
    layer = plain_layer("GlobalPoolingLayer", ctx.spec.name,
                        poolingType="MAX" if "Max" in ctx.spec.class_name else "AVG",
                        collapseDimensions=True, pnorm=2, poolingDimensions=None)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name,
                       activation_like(ctx, (ctx.input.keras_shape[-1],), "ff"), layer=layer)
