"""Reshaping layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D (nearest neighbour).

Parameter-free; what matters is which axes DL4J pads, crops or repeats. Only the 2-D layers and
Upsampling3D have a data-format field. The 1-D layers always work on axis 2 (NCW) and ZeroPadding3D /
Cropping3D on axes 2-4 (NCDHW): in a channels-last DL4J network they would pad, crop or repeat the
channels, so there they are refused (converting with cnn_format NCHW maps them exactly).
"""
from __future__ import annotations

from workbench.errors import MappingError
from workbench.mappers.convolutional import input_format, output_like_input, require_channels_last
from workbench.mappers.dl4j import plain_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer

_KIND = {1: "rnn", 2: "cnn", 3: "cnn3d"}
_CHANNELS_FIRST = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


def _rank(ctx: MapContext) -> int:
    return int(ctx.spec.class_name[-2])


def _pairs(ctx: MapContext, key: str, rank: int) -> list[int]:
    """Keras's int / (a, b) / one int or (a, b) per axis → DL4J's flat [a0, b0, a1, b1, ...]::

        Keras ZeroPadding2D(((1, 2), (0, 3)))  → DL4J padding [1, 2, 0, 3]  (top, bottom, left, right)
        Keras Cropping1D((1, 2))              → DL4J cropping [1, 2]       (start, end)
    """
    value = ctx.config.get(key, 1)
    if isinstance(value, int):
        return [value] * (2 * rank)
    value = list(value)
    if rank == 1:
        return [value[0], value[1]] if len(value) == 2 else [value[0], value[0]]
    flat: list[int] = []
    for v in value:
        flat += [v, v] if isinstance(v, int) else list(v)
    return flat


def _channels_first_only(ctx: MapContext, rank: int, fmt: str, dl4j_class: str) -> None:
    """Refuse a DL4J layer that only knows the channels-first layout when the network is channels-last."""
    if fmt != _CHANNELS_FIRST[rank]:
        raise MappingError(
            f"DL4J's {dl4j_class} only works on {_CHANNELS_FIRST[rank]} tensors; in this {fmt} network it would "
            f"act on the channels axis", file=ctx.file, layer=ctx.spec.name,
            expected=f"a {_CHANNELS_FIRST[rank]} tensor", received=fmt,
            hint="convert with cnn_format='NCHW' (NCW / NCDHW tensors), where it maps exactly")


@mapper("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def zero_padding(ctx: MapContext) -> MappedLayer:
    # Keras: padding int | (a, b) | per-axis pairs, zeros before/after each spatial axis
    # DL4J:  ZeroPadding1DLayer [l, r] (NCW only) · ZeroPaddingLayer [t, b, l, r] + dataFormat NHWC/NCHW ·
    #        ZeroPadding3DLayer [d0, d1, h0, h1, w0, w1] (NCDHW only)
    rank = _rank(ctx)
    require_channels_last(ctx)
    fmt = input_format(ctx, _KIND[rank])
    padding = _pairs(ctx, "padding", rank)
    if rank == 2:
        layer = plain_layer("ZeroPaddingLayer", ctx.spec.name, padding=padding, dataFormat=fmt)
    else:
        cls = "ZeroPadding1DLayer" if rank == 1 else "ZeroPadding3DLayer"
        _channels_first_only(ctx, rank, fmt, cls)
        layer = plain_layer(cls, ctx.spec.name, padding=padding)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, _KIND[rank], fmt), layer=layer)


@mapper("Cropping1D", "Cropping2D", "Cropping3D")
def cropping(ctx: MapContext) -> MappedLayer:
    # Keras: cropping int | (a, b) | per-axis pairs, removed before/after each spatial axis
    # DL4J:  convolutional.Cropping1D [l, r] (NCW only) · Cropping2D [t, b, l, r] + dataFormat ·
    #        Cropping3D [d0, d1, h0, h1, w0, w1] (NCDHW only)
    rank = _rank(ctx)
    require_channels_last(ctx)
    fmt = input_format(ctx, _KIND[rank])
    crop = _pairs(ctx, "cropping", rank)
    cls = f"convolutional.Cropping{rank}D"
    if rank == 2:
        layer = plain_layer(cls, ctx.spec.name, cropping=crop, dataFormat=fmt)
    else:
        _channels_first_only(ctx, rank, fmt, f"Cropping{rank}D")
        layer = plain_layer(cls, ctx.spec.name, cropping=crop)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, _KIND[rank], fmt), layer=layer)


@mapper("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(ctx: MapContext) -> MappedLayer:
    # Keras: size int | per-axis ints; each element repeated (nearest neighbour)
    # DL4J:  Upsampling1D size [s, s] (NCW only; only the first is used) · Upsampling2D size [sH, sW] + format ·
    #        Upsampling3D size [sD, sH, sW] + dataFormat NDHWC/NCDHW
    rank = _rank(ctx)
    require_channels_last(ctx)
    interpolation = ctx.config.get("interpolation", "nearest")
    if interpolation != "nearest":
        raise ctx.fail(f"UpSampling interpolation {interpolation!r}: DL4J's Upsampling layers only repeat "
                       f"elements (nearest neighbour)", expected="interpolation='nearest'", received=interpolation)
    fmt = input_format(ctx, _KIND[rank])
    size = ctx.config.get("size", 2)
    size = list(size) if isinstance(size, (list, tuple)) else [size] * rank
    if rank == 1:
        _channels_first_only(ctx, rank, fmt, "Upsampling1D")
        layer = plain_layer("Upsampling1D", ctx.spec.name, size=[size[0], size[0]])
    elif rank == 2:
        layer = plain_layer("Upsampling2D", ctx.spec.name, size=size, format=fmt)
    else:
        layer = plain_layer("Upsampling3D", ctx.spec.name, size=size, dataFormat=fmt)
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, output_like_input(ctx, _KIND[rank], fmt), layer=layer)
