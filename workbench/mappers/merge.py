"""Merge layers → ComputationGraph vertices (ElementWiseVertex, MergeVertex).

DL4J 1.0.0-M2.1's ElementWiseVertex ops are Add, Subtract, Product, Average and Max: Keras's
Minimum has none (see ``unsupported``).
"""
from __future__ import annotations

from workbench.mappers._common import activation_like, keras_output_shape
from workbench.mappers.dl4j import vertex
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import Activation, MappedLayer

ELEMENTWISE_OPS = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Product", "Average": "Average",
                   "Maximum": "Max"}
_CHANNELS_FIRST = ("NCHW", "NCW", "NCDHW")


def _refuse_folded_flatten(ctx: MapContext) -> None:
    # NB: a Flatten is folded into the preprocessor of the layer after it; a vertex has no preprocessor,
    #     so it would receive the un-flattened CNN tensor.
    if any(a.flattened_from is not None for a in ctx.inputs):
        raise ctx.fail(f"{ctx.spec.class_name} of a Flatten output is not mapped: DL4J still holds the CNN tensor "
                       "there (the Flatten is folded into the next layer's preprocessor)",
                       expected="inputs that are not Flatten outputs",
                       received=[a.flattened_from for a in ctx.inputs])


def _same_layouts(ctx: MapContext) -> None:
    layouts = {(a.kind, a.dl4j_format) for a in ctx.inputs}
    if len(layouts) != 1:
        raise ctx.fail("inputs in different DL4J layouts", expected="one kind and data format",
                       received=sorted(layouts, key=str))


@mapper(*ELEMENTWISE_OPS)
def elementwise(ctx: MapContext) -> MappedLayer:
    # Keras: element-wise op over inputs of one shape (broadcasting allowed in Keras 3)
    # DL4J:  ElementWiseVertex(op) over inputs of one shape, in any layout (all inputs share it)
    _refuse_folded_flatten(ctx)
    shapes = {a.keras_shape for a in ctx.inputs}
    if len(shapes) != 1:
        raise ctx.fail("inputs of different shapes (broadcasting) have no ElementWiseVertex equivalent",
                       expected="equal input shapes", received=sorted(shapes, key=str))
    _same_layouts(ctx)
    if ctx.spec.class_name == "Subtract" and len(ctx.inputs) != 2:
        raise ctx.fail("Subtract needs two inputs", expected=2, received=len(ctx.inputs))
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, ctx.inputs[0],
                       vertex=vertex("ElementWiseVertex", op=ELEMENTWISE_OPS[ctx.spec.class_name]))


def dl4j_axis(act: Activation, keras_axis: int) -> int:
    """Where a Keras axis (batch = 0, channels last) sits in the DL4J array of this tensor."""
    rank = len(act.keras_shape) + 1
    if act.dl4j_format in _CHANNELS_FIRST:
        return 1 if keras_axis == rank - 1 else (0 if keras_axis == 0 else keras_axis + 1)
    return keras_axis


@mapper("Concatenate")
def concatenate(ctx: MapContext) -> MappedLayer:
    # Keras: concatenation along `axis` (default -1: features / channels) of the channels-last tensors
    # DL4J:  MergeVertex(mergeAxis) concatenates the DL4J arrays along mergeAxis, so the Keras axis is
    #        re-numbered in DL4J's layout: features/channels are axis 1 in NCW/NCHW and last in NWC/NHWC,
    #        time/height/width follow.
    _refuse_folded_flatten(ctx)
    _same_layouts(ctx)
    ranks = {len(a.keras_shape) for a in ctx.inputs}
    if len(ranks) != 1:
        raise ctx.fail("inputs of different ranks", expected="one rank", received=sorted(ranks))
    rank = len(ctx.input.keras_shape) + 1
    axis = int(ctx.config.get("axis", -1))
    if not -rank < axis < rank or axis % rank == 0:
        raise ctx.fail("Concatenate along the batch axis or outside the tensor", expected=f"1..{rank - 1} or -1",
                       received=axis)
    axis %= rank
    merge_axis = dl4j_axis(ctx.input, axis)
    return MappedLayer(ctx.spec.name, "Concatenate", activation_like(ctx, keras_output_shape(ctx), ctx.input.kind),
                       vertex=vertex("MergeVertex", mergeAxis=merge_axis, modified=False),
                       notes=(f"Keras axis {axis} is DL4J mergeAxis {merge_axis} ({ctx.input.dl4j_format or 'ff'})",))
