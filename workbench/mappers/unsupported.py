"""Keras layers DL4J 1.0.0-M2.1 has no layer for: each one is refused, saying what DL4J lacks.

Each refusal says "needs a generated layer" (a custom DL4J layer written for the model) and names the
missing DL4J piece, so a user sees at once why the layer cannot be mapped and what would fix it. The
classes were checked against the M2.1 jars (``deeplearning4j-nn``: ``conf/layers``, ``conf/graph``;
``ElementWiseVertex.Op`` = Add, Subtract, Product, Average, Max).

LayerNormalization is mapped to a generated layer in ``generated.py``.
Rescaling (one ScaleVertex / ShiftVertex) and Normalization (a BatchNormalization with gamma 1, beta 0
and eps 0) are mapped here in the configurations where DL4J computes them exactly, refused otherwise.
A name some other module already maps is left alone (a real mapping always wins over a refusal).
"""
from __future__ import annotations

import numpy as np

from workbench.mappers import transforms as T
from workbench.mappers.dl4j import activation, base_layer, vertex
from workbench.mappers.registry import MapContext, mapper, supported_layers
from workbench.mappers.result import MappedLayer, Param

GENERATED = "needs a generated layer"

#: Keras class names → what DL4J 1.0.0-M2.1 lacks for them.
MISSING: dict[tuple[str, ...], str] = {
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
    ("LocallyConnected1D", "LocallyConnected2D"):
        "not mapped by the workbench yet: DL4J's LocallyConnected1D/2D are SameDiff layers whose parameter "
        "layout has not been verified here (Keras 3 no longer has these layers); map it with an expression "
        "or code mapping",
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
        return MappedLayer(ctx.spec.name, "Rescaling", ctx.input,
                           vertex=vertex("ScaleVertex", scaleFactor=float(scale)), notes=(f"ScaleVertex ×{scale}",))
    if scale == 1:
        return MappedLayer(ctx.spec.name, "Rescaling", ctx.input,
                           vertex=vertex("ShiftVertex", shiftFactor=float(offset)), notes=(f"ShiftVertex +{offset}",))
    raise ctx.fail(f"Rescaling with both scale and offset {GENERATED}: DL4J's ScaleVertex and ShiftVertex are one "
                   "vertex each, and one Keras layer maps to one DL4J vertex", expected="offset 0 or scale 1",
                   received=f"scale={scale}, offset={offset}")


@mapper("Normalization")
def normalization(ctx: MapContext) -> MappedLayer:
    # Keras: y = (x - mean) / max(sqrt(variance), 1e-7) per feature of `axis`; mean/variance are either in
    #        the config (given to the constructor) or weights "0", "1" (adapted; "2" is the sample count)
    # DL4J:  BatchNormalization(gamma=1, beta=0, eps=0): y = (x - mean) / sqrt(var), per channel/feature
    # NB: equal when every sqrt(variance) >= 1e-7 (checked on the weights here); only the last axis of a
    #     [b, f] or [b, h, w, c] tensor: DL4J's BatchNormalization has no per-(t, f) or multi-axis form.
    c = ctx.config
    if c.get("invert"):
        raise ctx.fail(f"Normalization(invert=True) {GENERATED}: DL4J has no de-normalization layer",
                       expected="invert=False", received=True)
    rank = len(ctx.input.keras_shape) + 1
    axes = c.get("axis", -1)
    axes = [int(a) % rank for a in (axes if isinstance(axes, (list, tuple)) else [axes])]
    if axes != [rank - 1] or ctx.input.kind not in ("ff", "cnn") or ctx.input.flattened_from is not None:
        raise ctx.fail(f"Normalization over these axes {GENERATED}: DL4J's BatchNormalization normalises the "
                       "features of [b, f] or the channels of [b, h, w, c] only",
                       expected="axis -1 on a [batch, features] or [batch, h, w, channels] input",
                       received=f"axis {c.get('axis')} on {ctx.input.kind} {ctx.input.keras_shape}")
    channels = ctx.input.keras_shape[-1]
    if c.get("mean") is not None and c.get("variance") is not None:
        mean = np.broadcast_to(np.asarray(c["mean"], np.float32).reshape(-1), (channels,)).copy()
        var = np.broadcast_to(np.asarray(c["variance"], np.float32).reshape(-1), (channels,)).copy()
        mean_t = T.keras_weight("mean (config)", mean, ("c",))
        var_t = T.keras_weight("variance (config)", var, ("c",))
    else:
        mean_t = T.keras_weight("mean", ctx.weight("0").reshape(-1), ("c",))
        var_t = T.keras_weight("variance", ctx.weight("1").reshape(-1), ("c",))
    if mean_t.value.shape != (channels,) or var_t.value.shape != (channels,):
        raise ctx.fail("Normalization mean/variance do not fit the channels", expected=(channels,),
                       received=(mean_t.value.shape, var_t.value.shape))
    if float(np.min(np.sqrt(np.maximum(var_t.value, 0.0)))) < 1e-7:
        raise ctx.fail("Normalization with a variance below 1e-14 divides by Keras's epsilon, not sqrt(var): "
                       f"{GENERATED}", expected="every variance >= 1e-14", received=float(np.min(var_t.value)))
    params = (Param("gamma", T.fill("gamma", 1.0, (channels,), ("c",), "Normalization has no scale: gamma 1")),
              Param("beta", T.fill("beta", 0.0, (channels,), ("c",), "Normalization has no offset: beta 0")),
              Param("mean", T.as_is(mean_t, "mean → BatchNormalization mean")),
              Param("var", T.as_is(var_t, "variance → BatchNormalization var (useLogStd=false, eps 0)")))
    layer = base_layer("BatchNormalization", ctx.spec.name, act=activation("Identity"), nin=channels, nout=channels,
                       eps=0.0, decay=0.9, gamma=1.0, beta=0.0, lockGammaBeta=False, minibatch=True,
                       useLogStd=False, cnn2DFormat=ctx.options.cnn_format if ctx.input.kind == "cnn" else "NCHW",
                       cudnnAllowFallback=True)
    return MappedLayer(ctx.spec.name, "Normalization", ctx.input, layer=layer, params=params,
                       variables=("gamma", "beta", "mean", "var"),
                       notes=("BatchNormalization with gamma 1, beta 0, eps 0",))


_register_refusals()
