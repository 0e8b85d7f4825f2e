"""Recurrent layers: LSTM and SimpleRNN (GRU has no DL4J layer: it needs a generated one)."""
from __future__ import annotations

from workbench.mappers import transforms as T
from workbench.mappers._common import activation_like, dl4j_activation
from workbench.mappers.dl4j import LAYERS, base_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer, Param


def _refuse_unsupported(ctx: MapContext) -> None:
    for key in ("go_backwards", "stateful", "return_state"):
        if ctx.config.get(key):
            raise ctx.fail(f"{key}=True is not mapped", expected=f"{key}=False", received=True)
    if ctx.input.kind != "rnn":
        raise ctx.fail("a recurrent layer needs a [batch, time, features] input", expected="rnn",
                       received=ctx.input.kind)


def _wrap_last_step(ctx: MapContext, layer: dict) -> tuple[dict, tuple]:
    """``return_sequences=False`` → DL4J's LastTimeStep wrapper around the recurrent layer."""
    units = ctx.config["units"]
    if ctx.config.get("return_sequences"):
        return layer, (ctx.input.keras_shape[0], units)
    wrapped = {"@class": LAYERS + "recurrent.LastTimeStep", "layerName": ctx.spec.name, "underlying": layer,
               "constraints": None, "idropout": None}
    return wrapped, (units,)


@mapper("LSTM")
def lstm(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [in, 4u], recurrent_kernel [u, 4u], bias [4u], gate blocks [i, f, c, o]
    # DL4J:  LSTM W [nIn, 4u] 'f', RW [u, 4u] 'f', b [4u], gate blocks [c, f, o, i]
    _refuse_unsupported(ctx)
    units = ctx.config["units"]
    kernel = T.lstm_gates_ifco_to_cfoi(T.keras_weight("kernel", ctx.weight("kernel"), ("in", "gates")), units)
    recurrent = T.lstm_gates_ifco_to_cfoi(
        T.keras_weight("recurrent_kernel", ctx.weight("recurrent_kernel"), ("units", "gates")), units)
    params = [Param("W", kernel, order="f"), Param("RW", recurrent, order="f")]
    if ctx.config.get("use_bias", True):
        bias = T.lstm_gates_ifco_to_cfoi(T.keras_weight("bias", ctx.weight("bias"), ("gates",)), units)
    else:
        bias = T.fill("bias", 0.0, (4 * units,), ("gates",), "use_bias=False: DL4J's LSTM always has b; zeros")
    params.append(Param("b", bias, order="f"))
    layer = base_layer("LSTM", ctx.spec.name, act=dl4j_activation(ctx),
                       gateActivationFn=dl4j_activation(ctx, "recurrent_activation"),
                       nin=kernel.value.shape[0], nout=units, forgetGateBiasInit=1.0,
                       rnnDataFormat=ctx.options.rnn_format, helperAllowFallback=True, weightInitFnRecurrent=None)
    layer, shape = _wrap_last_step(ctx, layer)
    return MappedLayer(ctx.spec.name, "LSTM", activation_like(ctx, shape), layer=layer, params=tuple(params),
                       variables=("W", "RW", "b"), notes=("gate blocks reordered [i,f,c,o] → [c,f,o,i]",))


@mapper("SimpleRNN")
def simple_rnn(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [in, u], recurrent_kernel [u, u], bias [u];  DL4J: SimpleRnn W, RW ('f'), b
    _refuse_unsupported(ctx)
    units = ctx.config["units"]
    kernel = T.as_is(T.keras_weight("kernel", ctx.weight("kernel"), ("in", "units")), "kernel as is")
    recurrent = T.as_is(T.keras_weight("recurrent_kernel", ctx.weight("recurrent_kernel"), ("units", "units2")),
                        "recurrent kernel as is")
    bias = (T.as_is(T.keras_weight("bias", ctx.weight("bias"), ("units",)), "bias as is")
            if ctx.config.get("use_bias", True)
            else T.fill("bias", 0.0, (units,), ("units",), "use_bias=False: zeros"))
    params = (Param("W", kernel, order="f"), Param("RW", recurrent, order="f"), Param("b", bias, order="f"))
    layer = base_layer("recurrent.SimpleRnn", ctx.spec.name, act=dl4j_activation(ctx), nin=kernel.value.shape[0],
                       nout=units, hasLayerNorm=False, rnnDataFormat=ctx.options.rnn_format)
    layer, shape = _wrap_last_step(ctx, layer)
    return MappedLayer(ctx.spec.name, "SimpleRNN", activation_like(ctx, shape), layer=layer, params=params,
                       variables=("W", "RW", "b"))
