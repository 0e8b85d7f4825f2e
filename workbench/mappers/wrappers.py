"""Wrapper layers: TimeDistributed (Bidirectional lives with the recurrent layers)."""
from __future__ import annotations

from dataclasses import replace

from workbench.mappers._common import activation_like
from workbench.mappers.dl4j import LAYERS
from workbench.mappers.registry import MapContext, lookup, mapper
from workbench.mappers.result import Activation, MappedLayer


def time_distributed_layer(ctx: MapContext, underlying: dict) -> dict:
    """DL4J's TimeDistributed wrapper: [b, t, f] (NWC; NCW is permuted first) → [b·t, f] → layer → back."""
    return {"@class": LAYERS + "recurrent.TimeDistributed", "layerName": ctx.spec.name,
            "underlying": {**underlying, "layerName": ctx.spec.name}, "rnnDataFormat": ctx.options.rnn_format,
            "constraints": None, "idropout": None}


@mapper("TimeDistributed")
def time_distributed(ctx: MapContext) -> MappedLayer:
    # Keras: the inner layer applied to every time step of [b, t, *features]
    # DL4J:  recurrent.TimeDistributed(underlying, rnnDataFormat): folds time into the batch, runs the
    #        underlying layer on [b·t, f] and unfolds; the params are the underlying layer's, unchanged.
    # NB: only inner layers that map to ONE DL4J layer on [batch, features] with a [batch, features'] output
    #     fit (Dense, Activation, Dropout, BatchNormalization, PReLU...); a TimeDistributed(Conv2D) over
    #     [b, t, h, w, c] has no DL4J wrapper.
    if ctx.input.kind != "rnn" or len(ctx.input.keras_shape) != 2:
        raise ctx.fail("TimeDistributed is mapped only over [batch, time, features]: DL4J's TimeDistributed "
                       "wraps layers of [batch, features]", expected="a rank-3 input",
                       received=f"{ctx.input.kind} {ctx.input.keras_shape}")
    if len(ctx.spec.children) != 1:
        raise ctx.fail("TimeDistributed without its inner layer", expected="1 inner layer",
                       received=[c.name for c in ctx.spec.children])
    child = ctx.spec.children[0]
    fn = lookup(child)
    if fn is None:
        raise ctx.fail(f"no DL4J mapping for the inner layer {child.class_name}", expected="a mapped inner layer",
                       received=child.class_name)
    steps, features = ctx.input.keras_shape
    inner = fn(replace(ctx, spec=child, inputs=(Activation("ff", (features,), None),)))
    if inner.layer is None or inner.preprocessor is not None or inner.output.kind != "ff":
        raise ctx.fail(f"TimeDistributed({child.class_name}) does not map to one DL4J layer on [batch, features]",
                       expected="an inner layer giving [batch, features]",
                       received=f"{child.class_name} → {inner.output.kind} {inner.output.keras_shape}")
    out = activation_like(ctx, (steps, *inner.output.keras_shape), "rnn")
    return MappedLayer(ctx.spec.name, "TimeDistributed", out, layer=time_distributed_layer(ctx, inner.layer),
                       params=inner.params, variables=inner.variables,
                       notes=(f"DL4J TimeDistributed({inner.layer['@class'].rsplit('.', 1)[-1]})", *inner.notes))
