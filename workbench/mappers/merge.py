"""Merge layers → ComputationGraph vertices."""
from __future__ import annotations

from workbench.mappers._common import activation_like, keras_output_shape
from workbench.mappers.dl4j import vertex
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer

ELEMENTWISE_OPS = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Product", "Average": "Average",
                   "Maximum": "Max"}


@mapper(*ELEMENTWISE_OPS)
def elementwise(ctx: MapContext) -> MappedLayer:
    shapes = {a.keras_shape for a in ctx.inputs}
    if len(shapes) != 1:
        raise ctx.fail("inputs of different shapes (broadcasting) have no ElementWiseVertex equivalent",
                       expected="equal input shapes", received=sorted(shapes))
    if ctx.spec.class_name == "Subtract" and len(ctx.inputs) != 2:
        raise ctx.fail("Subtract needs two inputs", expected=2, received=len(ctx.inputs))
    return MappedLayer(ctx.spec.name, ctx.spec.class_name, ctx.inputs[0],
                       vertex=vertex("ElementWiseVertex", op=ELEMENTWISE_OPS[ctx.spec.class_name]))


@mapper("Concatenate")
def concatenate(ctx: MapContext) -> MappedLayer:
    # Keras concatenates along `axis` (default -1 = channels/features); DL4J's MergeVertex along the
    # channel/feature axis of its own layout.
    rank = len(ctx.input.keras_shape) + 1
    axis = ctx.config.get("axis", -1) % rank
    if axis != rank - 1:
        raise ctx.fail("concatenation along a non-feature axis is not mapped yet", expected="axis -1",
                       received=ctx.config.get("axis"))
    fmt = ctx.input.dl4j_format
    merge_axis = rank - 1 if fmt in (None, "NHWC", "NWC", "NDHWC") else 1
    return MappedLayer(ctx.spec.name, "Concatenate", activation_like(ctx, keras_output_shape(ctx), ctx.input.kind),
                       vertex=vertex("MergeVertex", mergeAxis=merge_axis, modified=False))
