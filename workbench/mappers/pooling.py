"""Pooling layers: Max/Average pooling 1D/2D/3D and global pooling 1D/2D/3D."""
from __future__ import annotations

from workbench.mappers._common import activation_like
from workbench.mappers.convolutional import (convolution_mode, input_format, output_like_input, pair,
                                             require_channels_last)
from workbench.mappers.dl4j import plain_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer


def _pooling_type(ctx: MapContext) -> str:
    return "MAX" if "Max" in ctx.spec.class_name else "AVG"


def _pool_and_strides(ctx: MapContext, rank: int) -> tuple[list[int], list[int]]:
    pool = pair(ctx.config.get("pool_size", 2), rank)
    strides = pair(ctx.config.get("strides") or pool, rank)
    return pool, strides


@mapper("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D")
def pooling2d(ctx: MapContext) -> MappedLayer:
    # Keras: pool_size, strides (default = pool_size), padding valid/same; average excludes the padding
    # DL4J:  SubsamplingLayer, convolutionMode Truncate/Same, cnn2dDataFormat NHWC/NCHW
    # NB: DL4J's SubsamplingLayer counts padding in the average unless told not to (JSON default: true);
    #     Keras never does, so avgPoolIncludePadInDivisor is always written false.
    require_channels_last(ctx)
    fmt = input_format(ctx, "cnn")
    pool, strides = _pool_and_strides(ctx, 2)
    layer = plain_layer(
        "SubsamplingLayer", ctx.spec.name, poolingType=_pooling_type(ctx),
        kernelSize=pool, stride=strides, padding=[0, 0], dilation=[1, 1],
        convolutionMode=convolution_mode(ctx, ("same", "valid")), cnn2dDataFormat=fmt,
        avgPoolIncludePadInDivisor=False, eps=1e-8, pnorm=0, cudnnAllowFallback=True)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "cnn", fmt), layer=layer)


@mapper("MaxPooling1D", "AveragePooling1D", "MaxPool1D", "AvgPool1D")
def pooling1d(ctx: MapContext) -> MappedLayer:
    # Keras: pool_size, strides (default = pool_size), padding valid/same; input [b, steps, C]
    # DL4J:  Subsampling1DLayer: adds a trailing 1 to its rank-3 input and runs the 2-D SubsamplingLayer
    #        with kernel [k, 1], stride [s, 1].
    # NB: the 2-D layer reads that [b, a, b', 1] array in its cnn2dDataFormat, which the 1-D layer never
    #     adapts: an NCW input [b, C, steps, 1] must be read NCHW (H = steps), an NWC input
    #     [b, steps, C, 1] must be read NHWC (H = steps, W = C pooled with width 1). Otherwise DL4J pools
    #     over channels.
    require_channels_last(ctx)
    fmt = input_format(ctx, "rnn")
    pool, strides = _pool_and_strides(ctx, 1)
    layer = plain_layer(
        "Subsampling1DLayer", ctx.spec.name, poolingType=_pooling_type(ctx),
        kernelSize=[pool[0], 1], stride=[strides[0], 1], padding=[0, 0], dilation=[1, 1],
        convolutionMode=convolution_mode(ctx, ("same", "valid")),
        cnn2dDataFormat="NHWC" if fmt == "NWC" else "NCHW",
        avgPoolIncludePadInDivisor=False, eps=1e-8, pnorm=0, cudnnAllowFallback=True)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "rnn", fmt), layer=layer)


@mapper("MaxPooling3D", "AveragePooling3D", "MaxPool3D", "AvgPool3D")
def pooling3d(ctx: MapContext) -> MappedLayer:
    # Keras: pool_size, strides (default = pool_size), padding valid/same; input [b, D, H, W, C]
    # DL4J:  Subsampling3DLayer, convolutionMode Truncate/Same, dataFormat NDHWC/NCDHW
    # NB: Subsampling3DLayer has no avgPoolIncludePadInDivisor field, yet its average already excludes
    #     'same' padding like Keras (checked in real DL4J with padding on every axis).
    require_channels_last(ctx)
    fmt = input_format(ctx, "cnn3d")
    pool, strides = _pool_and_strides(ctx, 3)
    mode = convolution_mode(ctx, ("same", "valid"))
    layer = plain_layer(
        "Subsampling3DLayer", ctx.spec.name, poolingType=_pooling_type(ctx), kernelSize=pool, stride=strides,
        padding=[0, 0, 0], dilation=[1, 1, 1], convolutionMode=mode, dataFormat=fmt, cudnnAllowFallback=True)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, "cnn3d", fmt), layer=layer)


# Spatial axes of each input layout, as DL4J sees the array.
_POOLING_DIMENSIONS = {"NWC": [1], "NCW": [2], "NHWC": [1, 2], "NCHW": [2, 3], "NDHWC": [1, 2, 3],
                       "NCDHW": [2, 3, 4]}


@mapper("GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling3D", "GlobalAveragePooling3D", "GlobalMaxPool1D", "GlobalAvgPool1D", "GlobalMaxPool2D",
        "GlobalAvgPool2D", "GlobalMaxPool3D", "GlobalAvgPool3D")
def global_pooling(ctx: MapContext) -> MappedLayer:
    # Keras: reduce max/mean over every spatial axis → [b, C]
    # DL4J:  GlobalPoolingLayer, collapseDimensions → [b, C]
    # NB: without poolingDimensions DL4J reduces the channels-first axes ([2] / [2,3] / [2,3,4]) whatever
    #     the data format, so they are always written, from the input's layout.
    if ctx.config.get("keepdims"):
        raise ctx.fail("keepdims=True is not mapped yet", expected="keepdims=False", received=True)
    require_channels_last(ctx)
    rank = int(ctx.spec.class_name[-2])
    kind = {1: "rnn", 2: "cnn", 3: "cnn3d"}[rank]
    fmt = input_format(ctx, kind)
    layer = plain_layer("GlobalPoolingLayer", ctx.spec.name, poolingType=_pooling_type(ctx),
                        collapseDimensions=True, pnorm=2, poolingDimensions=_POOLING_DIMENSIONS[fmt])
    return MappedLayer(ctx.spec.name, ctx.spec.class_name,
                       activation_like(ctx, (ctx.input.keras_shape[-1],), "ff"), layer=layer)
