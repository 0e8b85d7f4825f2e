"""Normalisation layers."""
from __future__ import annotations

from workbench.mappers import transforms as T
from workbench.mappers.dl4j import activation, base_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer, Param


@mapper("BatchNormalization")
def batch_normalization(ctx: MapContext) -> MappedLayer:
    # Keras: [gamma], [beta], moving_mean, moving_variance over the last axis; y = γ(x-μ)/√(σ²+ε)+β
    # DL4J:  BatchNormalization gamma, beta, mean, var (all [C]); NB: `variables` must list "var", or DL4J
    #        reads the 4th slot as log10(std) (dl4j-formats.md §5.5).
    if ctx.config.get("axis", -1) not in (-1, len(ctx.input.keras_shape)):
        raise ctx.fail("BatchNormalization over an axis other than the channels", expected="axis -1",
                       received=ctx.config.get("axis"))
    if ctx.input.kind == "rnn" and ctx.options.rnn_format != "NWC":
        # NB: DL4J reshapes rank-3 input to [1, b, c, t] and normalises axis 1: only NWC data works.
        raise ctx.fail("BatchNormalization on a sequence only matches in DL4J with the NWC format",
                       expected="cnn_format NHWC (sequences NWC)", received=ctx.options.rnn_format)
    channels = ctx.input.keras_shape[-1]
    names = [w.name for w in ctx.spec.weights]
    gamma = (T.as_is(T.keras_weight("gamma", ctx.weight("gamma"), ("c",)), "gamma as is") if "gamma" in names
             else T.fill("gamma", 1.0, (channels,), ("c",), "scale=False: gamma is 1"))
    beta = (T.as_is(T.keras_weight("beta", ctx.weight("beta"), ("c",)), "beta as is") if "beta" in names
            else T.fill("beta", 0.0, (channels,), ("c",), "center=False: beta is 0"))
    mean = T.as_is(T.keras_weight("moving_mean", ctx.weight("moving_mean"), ("c",)), "moving_mean → mean")
    var = T.as_is(T.keras_weight("moving_variance", ctx.weight("moving_variance"), ("c",)),
                  "moving_variance → var (useLogStd=false)")
    params = (Param("gamma", gamma), Param("beta", beta), Param("mean", mean), Param("var", var))
    layer = base_layer("BatchNormalization", ctx.spec.name, act=activation("Identity"), nin=channels, nout=channels,
                       eps=float(ctx.config.get("epsilon", 1e-3)), decay=float(ctx.config.get("momentum", 0.99)),
                       gamma=1.0, beta=0.0, lockGammaBeta=False, minibatch=True, useLogStd=False,
                       cnn2DFormat=ctx.options.cnn_format if ctx.input.kind != "rnn" else "NHWC",
                       cudnnAllowFallback=True)
    return MappedLayer(ctx.spec.name, "BatchNormalization", ctx.input, layer=layer, params=params,
                       variables=("gamma", "beta", "mean", "var"),
                       notes=(f"epsilon {ctx.config.get('epsilon', 1e-3)} carried over",))
