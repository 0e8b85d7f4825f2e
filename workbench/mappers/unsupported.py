"""Keras layers DL4J 1.0.0-M2.1 has no layer for: each one is refused, saying what DL4J lacks.

Each refusal says "needs a generated layer" (a custom DL4J layer written for the model) and names the
missing DL4J piece, so a user sees at once why the layer cannot be mapped and what would fix it. The
classes were checked against the M2.1 jars (``deeplearning4j-nn``: ``conf/layers``, ``conf/graph``;
``ElementWiseVertex.Op`` = Add, Subtract, Product, Average, Max).

Rescaling is mapped here when one DL4J vertex computes it exactly (ScaleVertex / ShiftVertex).
A name some other module already maps is left alone (a real mapping always wins over a refusal).
"""
from __future__ import annotations

from workbench.mappers.dl4j import vertex
from workbench.mappers.registry import MapContext, mapper, supported_layers
from workbench.mappers.result import MappedLayer

GENERATED = "needs a generated layer"

#: Keras class names → what DL4J 1.0.0-M2.1 lacks for them.
MISSING: dict[tuple[str, ...], str] = {
    ("LayerNormalization",):
        "DL4J has no standalone layer normalization (only DenseLayer/SimpleRnn's built-in hasLayerNorm gain, "
        "without centring over a chosen axis or a beta)",
    ("GroupNormalization",): "DL4J has no group normalization layer",
    ("UnitNormalization",):
        "DL4J has no per-axis L2 normalization layer (L2NormalizeVertex divides by max(norm, eps) over all "
        "non-batch axes, Keras by sqrt(max(sum x², 1e-12)) over `axis`)",
    ("MultiHeadAttention",):
        "DL4J's SelfAttentionLayer / AttentionVertex have no output bias, no key_dim ≠ value_dim and no "
        "attention-axes/mask semantics of Keras's MultiHeadAttention",
    ("Attention",): "DL4J has no dot-product attention layer over separate query/value tensors with Keras's scale",
    ("AdditiveAttention",): "DL4J has no additive (Bahdanau) attention layer",
    ("Dot",): "DL4J has no batched dot-product vertex (ElementWiseVertex has no sum over an axis)",
    ("Minimum",): "DL4J's ElementWiseVertex has Add, Subtract, Product, Average and Max but no Min",
    ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"): "DL4J has no convolutional LSTM layer",
    ("EinsumDense",): "DL4J has no einsum layer",
    ("Conv1DTranspose", "Convolution1DTranspose"): "DL4J has Deconvolution2D and Deconvolution3D but no 1-D one",
    ("SeparableConv1D", "SeparableConvolution1D"): "DL4J has SeparableConvolution2D but no 1-D one",
    ("Normalization",):
        "DL4J has no (x - mean) / max(sqrt(var), eps) layer (BatchNormalization divides by sqrt(var + eps))",
}


def _refusal(missing: str):
    def refuse(ctx: MapContext) -> MappedLayer:
        # Keras: a layer DL4J 1.0.0-M2.1 cannot express; DL4J: nothing that computes the same.
        raise ctx.fail(f"{ctx.spec.class_name} {GENERATED}: {missing}", expected="a generated layer",
                       received=ctx.spec.class_name)
    return refuse


def _register_refusals() -> None:
    taken = set(supported_layers())
    for names, missing in MISSING.items():
        free = [n for n in names if n not in taken]
        if free:
            mapper(*free)(_refusal(missing))


@mapper("Rescaling")
def rescaling(ctx: MapContext) -> MappedLayer:
    # Keras: y = x·scale + offset (float32)
    # DL4J:  ScaleVertex(scaleFactor) = x·scale, ShiftVertex(shiftFactor) = x + offset: one vertex each, so
    #        exact when offset is 0 or scale is 1; both at once would need two vertices.
    if any(a.flattened_from is not None for a in ctx.inputs):
        raise ctx.fail("Rescaling after a Flatten is not mapped (DL4J still holds the CNN tensor there)",
                       expected="Rescaling before the Flatten", received="Flatten → Rescaling")
    scale, offset = ctx.config.get("scale", 1.0), ctx.config.get("offset", 0.0)
    if not all(isinstance(v, (int, float)) for v in (scale, offset)):
        raise ctx.fail(f"Rescaling with per-channel scale/offset {GENERATED}: DL4J's ScaleVertex/ShiftVertex take "
                       "one number", expected="scalar scale and offset", received=(scale, offset))
    if offset == 0:
        return MappedLayer(ctx.spec.name, "Rescaling", ctx.input, vertex=vertex("ScaleVertex", scaleFactor=float(scale)),
                           notes=(f"ScaleVertex ×{scale}",))
    if scale == 1:
        return MappedLayer(ctx.spec.name, "Rescaling", ctx.input,
                           vertex=vertex("ShiftVertex", shiftFactor=float(offset)), notes=(f"ShiftVertex +{offset}",))
    raise ctx.fail(f"Rescaling with both scale and offset {GENERATED}: DL4J's ScaleVertex and ShiftVertex are one "
                   "vertex each, and one Keras layer maps to one DL4J vertex", expected="offset 0 or scale 1",
                   received=f"scale={scale}, offset={offset}")


_register_refusals()
