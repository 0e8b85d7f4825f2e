"""Keras layers DL4J 1.0.0-M2.1 has no layer for, mapped to a *generated* DL4J layer: an expression
compiled to a SameDiff layer (see ``workbench.custom``), exactly as a user's custom layer would be."""
from __future__ import annotations

import dataclasses
import hashlib

from workbench.mappers.custom import expression_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer


def _generated(ctx: MapContext, text: str, why: str) -> MappedLayer:
    """Map through a generated layer class named after the Keras class and the exact expression
    (two differently configured layers of one class get two classes)."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    spec = dataclasses.replace(ctx.spec, class_name=f"{ctx.spec.class_name}_{digest}", registered_name=None)
    result = expression_layer(dataclasses.replace(ctx, spec=spec), text)
    return dataclasses.replace(result, keras_class=ctx.spec.class_name, notes=result.notes + (why,))


@mapper("LayerNormalization")
def layer_normalization(ctx: MapContext) -> MappedLayer:
    # Keras: y = (x - mean(x)) / sqrt(var(x) + epsilon) * gamma + beta over `axis`
    # DL4J:  no layer normalization layer (DenseLayer's hasLayerNorm neither centres nor has a beta):
    #        a generated SameDiff layer computing the same expression over the last axis
    c = ctx.config
    rank = len(ctx.input.keras_shape)
    axis = c.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, rank) or ctx.input.keras_channels_first:
        raise ctx.fail("LayerNormalization over an axis other than the last is not mapped", expected="axis -1",
                       received=c.get("axis"))
    if c.get("rms_scaling"):
        raise ctx.fail("LayerNormalization with rms_scaling is not mapped", expected="rms_scaling=False",
                       received=True)
    eps = float(c.get("epsilon", 1e-3))
    centred = "(x - mean(x, axis=-1, keepdims=True))"
    text = f"{centred} / sqrt(mean(square({centred}), axis=-1, keepdims=True) + {eps!r})"
    if c.get("scale", True):
        text = f"({text}) * gamma"
    if c.get("center", True):
        text = f"{text} + beta"
    return _generated(ctx, text, "DL4J 1.0.0-M2.1 has no layer normalization: mapped to a generated layer")
