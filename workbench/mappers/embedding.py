"""Embedding."""
from __future__ import annotations

from workbench.mappers import transforms as T
from workbench.mappers._common import activation_like
from workbench.mappers.dl4j import activation, base_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer, Param


@mapper("Embedding")
def embedding(ctx: MapContext) -> MappedLayer:
    # Keras: embeddings [vocab, dim]; int input [b, t] → [b, t, dim]
    # DL4J:  EmbeddingSequenceLayer W [nIn=vocab, nOut=dim] 'f', no bias (NB: hasBias defaults to TRUE on load)
    if ctx.config.get("mask_zero"):
        raise ctx.fail("mask_zero=True needs masking support that is not mapped yet", expected="mask_zero=False",
                       received=True)
    if len(ctx.input.keras_shape) != 1 or ctx.input.keras_shape[0] is None:
        raise ctx.fail("Embedding needs a fixed sequence length", expected="input shape (t,)",
                       received=ctx.input.keras_shape)
    table = T.as_is(T.keras_weight("embeddings", ctx.weight("embeddings"), ("vocab", "dim")),
                    "embeddings [vocab, dim] is DL4J's W [nIn, nOut]")
    vocab, dim = table.value.shape
    steps = ctx.input.keras_shape[0]
    layer = base_layer("EmbeddingSequenceLayer", ctx.spec.name, act=activation("Identity"), nin=vocab, nout=dim,
                       hasBias=False, inputLength=steps, inferInputLength=False,
                       outputFormat=ctx.options.rnn_format)
    return MappedLayer(ctx.spec.name, "Embedding", activation_like(ctx, (steps, dim), "rnn"), layer=layer,
                       params=(Param("W", table, order="f"),), variables=("W",))
