"""Recurrent layers: LSTM, SimpleRNN and Bidirectional around them.

GRU has no DL4J 1.0.0-M2.1 layer (DL4J's own importer rejects it; later DL4J masters approximate it
with a SimpleRnn, which cannot hold its 3 gates): it needs a generated layer.
"""
from __future__ import annotations

from dataclasses import replace

from workbench.mappers import transforms as T
from workbench.mappers._common import activation_like, dl4j_activation
from workbench.mappers.dl4j import LAYERS, base_layer
from workbench.mappers.registry import MapContext, mapper
from workbench.mappers.result import MappedLayer, Param

MERGE_MODES = {"concat": "CONCAT", "sum": "ADD", "mul": "MUL", "ave": "AVERAGE"}
RECURRENT_CLASSES = ("LSTM", "SimpleRNN")
_NOT_ON_DL4J = ("stateful", "return_state", "time_major")


def _refuse_unsupported(ctx: MapContext, *, backwards_ok: bool = False) -> None:
    for key in _NOT_ON_DL4J:
        if ctx.config.get(key):
            raise ctx.fail(f"{key}=True is not mapped", expected=f"{key}=False", received=True)
    if ctx.config.get("go_backwards") and not backwards_ok:
        # NB: DL4J's recurrent layers always run forward; reversing the input needs a
        # ReverseTimeSeriesVertex before the layer, which a one-layer mapping cannot add.
        raise ctx.fail("go_backwards=True has no DL4J recurrent layer equivalent (DL4J layers run forward; "
                       "reversing needs a ReverseTimeSeriesVertex before the layer)",
                       expected="go_backwards=False", received=True)
    if len(ctx.inputs) != 1:
        # NB: Keras 3 files pass a Masking / Embedding(mask_zero) mask as a second input; DL4J's masked
        #     recurrence zeroes the state at masked steps where Keras carries it over (see core.masking).
        raise ctx.fail("a recurrent layer with a mask input is not mapped: DL4J resets the state at masked steps, "
                       "Keras carries it over", expected="one input, no mask", received=f"{len(ctx.inputs)} inputs")
    if ctx.input.kind != "rnn":
        raise ctx.fail("a recurrent layer needs a [batch, time, features] input", expected="rnn",
                       received=f"{ctx.input.kind} {ctx.input.keras_shape}")


def _last_step(name: str, layer: dict) -> dict:
    """DL4J's LastTimeStep wrapper: the output at the last time step, [batch, units]."""
    return {"@class": LAYERS + "recurrent.LastTimeStep", "layerName": name, "underlying": layer,
            "constraints": None, "idropout": None}


def _wrap_last_step(ctx: MapContext, layer: dict) -> tuple[dict, tuple]:
    """``return_sequences=False`` → DL4J's LastTimeStep wrapper around the recurrent layer."""
    units = ctx.config["units"]
    if ctx.config.get("return_sequences"):
        return layer, (ctx.input.keras_shape[0], units)
    return _last_step(ctx.spec.name, layer), (units,)


def _lstm_parts(ctx: MapContext, name: str, prefix: str = "") -> tuple[dict, list[Param]]:
    """The DL4J LSTM layer config and its params (keys prefixed for Bidirectional)."""
    # Keras: kernel [in, 4u], recurrent_kernel [u, 4u], bias [4u], gate blocks [i, f, c, o]
    # DL4J:  LSTM W [nIn, 4u] 'f', RW [u, 4u] 'f', b [4u], gate blocks [c, f, o, i]
    # NB: `activation` is the block input AND the cell-output activation in both; `recurrent_activation`
    #     is DL4J's gateActivationFn. `unit_forget_bias` only initialises the bias: the stored bias is used.
    units = ctx.config["units"]
    src = f"{ctx.spec.name}/" if prefix else ""
    kernel = T.lstm_gates_ifco_to_cfoi(T.keras_weight(src + "kernel", ctx.weight("kernel"), ("in", "gates")), units)
    recurrent = T.lstm_gates_ifco_to_cfoi(
        T.keras_weight(src + "recurrent_kernel", ctx.weight("recurrent_kernel"), ("units", "gates")), units)
    if ctx.config.get("use_bias", True):
        bias = T.lstm_gates_ifco_to_cfoi(T.keras_weight(src + "bias", ctx.weight("bias"), ("gates",)), units)
    else:
        bias = T.fill(src + "bias", 0.0, (4 * units,), ("gates",), "use_bias=False: DL4J's LSTM always has b; zeros")
    params = [Param(prefix + "W", kernel, order="f"), Param(prefix + "RW", recurrent, order="f"),
              Param(prefix + "b", bias, order="f")]
    layer = base_layer("LSTM", name, act=dl4j_activation(ctx),
                       gateActivationFn=dl4j_activation(ctx, "recurrent_activation"),
                       nin=kernel.value.shape[0], nout=units, forgetGateBiasInit=1.0,
                       rnnDataFormat=ctx.options.rnn_format, helperAllowFallback=True, weightInitFnRecurrent=None)
    return layer, params


def _simple_rnn_parts(ctx: MapContext, name: str, prefix: str = "") -> tuple[dict, list[Param]]:
    """The DL4J SimpleRnn layer config and its params (keys prefixed for Bidirectional)."""
    # Keras: kernel [in, u], recurrent_kernel [u, u], bias [u]; h_t = act(x W + h_{t-1} RW + b)
    # DL4J:  SimpleRnn W [nIn, u] 'f', RW [u, u] 'f', b [u]; the same recurrence
    units = ctx.config["units"]
    src = f"{ctx.spec.name}/" if prefix else ""
    kernel = T.as_is(T.keras_weight(src + "kernel", ctx.weight("kernel"), ("in", "units")), "kernel as is")
    recurrent = T.as_is(T.keras_weight(src + "recurrent_kernel", ctx.weight("recurrent_kernel"), ("units", "units2")),
                        "recurrent kernel as is")
    bias = (T.as_is(T.keras_weight(src + "bias", ctx.weight("bias"), ("units",)), "bias as is")
            if ctx.config.get("use_bias", True)
            else T.fill(src + "bias", 0.0, (units,), ("units",),
                        "use_bias=False: DL4J's SimpleRnn always has b; zeros"))
    params = [Param(prefix + "W", kernel, order="f"), Param(prefix + "RW", recurrent, order="f"),
              Param(prefix + "b", bias, order="f")]
    layer = base_layer("recurrent.SimpleRnn", name, act=dl4j_activation(ctx), nin=kernel.value.shape[0],
                       nout=units, hasLayerNorm=False, rnnDataFormat=ctx.options.rnn_format)
    return layer, params


_PARTS = {"LSTM": _lstm_parts, "SimpleRNN": _simple_rnn_parts}


@mapper("LSTM")
def lstm(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [in, 4u], recurrent_kernel [u, 4u], bias [4u], gate blocks [i, f, c, o]
    # DL4J:  LSTM W [nIn, 4u] 'f', RW [u, 4u] 'f', b [4u], gate blocks [c, f, o, i]
    _refuse_unsupported(ctx)
    layer, params = _lstm_parts(ctx, ctx.spec.name)
    layer, shape = _wrap_last_step(ctx, layer)
    notes = ["gate blocks reordered [i,f,c,o] → [c,f,o,i]"]
    if not ctx.config.get("use_bias", True):
        notes.append("use_bias=False: DL4J bias filled with zeros")
    return MappedLayer(ctx.spec.name, "LSTM", activation_like(ctx, shape), layer=layer, params=tuple(params),
                       variables=("W", "RW", "b"), notes=tuple(notes))


@mapper("SimpleRNN")
def simple_rnn(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [in, u], recurrent_kernel [u, u], bias [u];  DL4J: SimpleRnn W, RW ('f'), b
    _refuse_unsupported(ctx)
    layer, params = _simple_rnn_parts(ctx, ctx.spec.name)
    layer, shape = _wrap_last_step(ctx, layer)
    return MappedLayer(ctx.spec.name, "SimpleRNN", activation_like(ctx, shape), layer=layer, params=tuple(params),
                       variables=("W", "RW", "b"))


@mapper("Bidirectional")
def bidirectional(ctx: MapContext) -> MappedLayer:
    # Keras: forward layer + backward layer (a copy with go_backwards=True) merged by `merge_mode`; with
    #        return_sequences the backward output is re-reversed in time before the merge
    # DL4J:  Bidirectional(mode, fwd, bwd): bwd runs on the time-reversed input and its output is reversed
    #        back; params fW, fRW, fb then bW, bRW, bb (all forward, then all backward)
    # NB: return_sequences=False must be Bidirectional(LastTimeStep(x)) and NOT LastTimeStep(Bidirectional(x)):
    #     Keras's backward half is its state after reading the whole reversed sequence (time 0), while the
    #     last step of DL4J's re-reversed bwd sequence is after reading only the final step.
    mode = ctx.config.get("merge_mode", "concat")
    if mode is None:
        raise ctx.fail("merge_mode=None returns two tensors; DL4J's Bidirectional has one output",
                       expected=list(MERGE_MODES), received=None)
    if mode not in MERGE_MODES:
        raise ctx.fail("unknown merge_mode", expected=list(MERGE_MODES), received=mode)
    children = {c.name: c for c in ctx.spec.children}
    if len(ctx.spec.children) != 2:
        raise ctx.fail("Bidirectional without its forward and backward layers", expected="2 inner layers",
                       received=[c.name for c in ctx.spec.children])
    fwd_spec, bwd_spec = _directions(ctx, children)
    for spec in (fwd_spec, bwd_spec):
        if spec.class_name not in RECURRENT_CLASSES:
            what = ("Bidirectional(GRU) needs a generated layer: DL4J 1.0.0-M2.1 has no GRU layer"
                    if spec.class_name == "GRU" else f"Bidirectional({spec.class_name}) is not mapped")
            raise ctx.fail(what, expected=f"Bidirectional of {' or '.join(RECURRENT_CLASSES)}",
                           received=spec.class_name)
    fwd_ctx, bwd_ctx = (replace(ctx, spec=s) for s in (fwd_spec, bwd_spec))
    _refuse_unsupported(fwd_ctx)
    _refuse_unsupported(bwd_ctx, backwards_ok=True)
    if fwd_ctx.config.get("go_backwards") or not bwd_ctx.config.get("go_backwards"):
        raise ctx.fail("the forward layer must run forward and the backward layer backwards",
                       expected="go_backwards False / True",
                       received=(fwd_ctx.config.get("go_backwards"), bwd_ctx.config.get("go_backwards")))
    same = ("units", "use_bias", "return_sequences")
    if fwd_spec.class_name != bwd_spec.class_name or any(fwd_ctx.config.get(k, True) != bwd_ctx.config.get(k, True)
                                                         for k in same):
        # NB: DL4J splits the Bidirectional parameter view in two equal halves.
        raise ctx.fail("forward and backward layers differ; DL4J's Bidirectional needs two layers of one shape",
                       expected=f"the same class and {', '.join(same)}",
                       received=(fwd_spec.class_name, bwd_spec.class_name))
    parts = _PARTS[fwd_spec.class_name]
    fwd_layer, fwd_params = parts(fwd_ctx, ctx.spec.name, "f")
    bwd_layer, bwd_params = parts(bwd_ctx, ctx.spec.name, "b")
    units = fwd_ctx.config["units"]
    width = 2 * units if mode == "concat" else units
    sequences = bool(fwd_ctx.config.get("return_sequences"))
    if not sequences:
        fwd_layer, bwd_layer = _last_step(ctx.spec.name, fwd_layer), _last_step(ctx.spec.name, bwd_layer)
    layer = {"@class": LAYERS + "recurrent.Bidirectional", "layerName": ctx.spec.name, "mode": MERGE_MODES[mode],
             "fwd": fwd_layer, "bwd": bwd_layer, "constraints": None, "idropout": None}
    shape = (ctx.input.keras_shape[0], width) if sequences else (width,)
    params = tuple(fwd_params + bwd_params)
    notes = [f"merge_mode {mode} → {MERGE_MODES[mode]}"]
    if fwd_spec.class_name == "LSTM":
        notes.append("gate blocks reordered [i,f,c,o] → [c,f,o,i] in both directions")
    if not sequences:
        notes.append("return_sequences=False: LastTimeStep inside each direction")
    return MappedLayer(ctx.spec.name, "Bidirectional", activation_like(ctx, shape), layer=layer, params=params,
                       variables=tuple(p.key for p in params), notes=tuple(notes))


def _directions(ctx: MapContext, children: dict) -> tuple:
    """(forward spec, backward spec) of a Bidirectional, by the config's ``layer``/``backward_layer``."""
    names = [ctx.config.get(k, {}).get("config", {}).get("name") for k in ("layer", "backward_layer")]
    if names[0] in children and names[1] in children and names[0] != names[1]:
        return children[names[0]], children[names[1]]
    fwd, bwd = ctx.spec.children
    if fwd.config.get("go_backwards") and not bwd.config.get("go_backwards"):
        fwd, bwd = bwd, fwd
    return fwd, bwd


@mapper("GRU", "CuDNNGRU")
def gru(ctx: MapContext) -> MappedLayer:
    # Keras: kernel [in, 3u] (gates z, r, h), recurrent_kernel [u, 3u], bias [3u] or [2, 3u] (reset_after)
    # DL4J 1.0.0-M2.1: no GRU layer at all. NB: never approximate it with SimpleRnn (a later DL4J master
    # does, with a warning): a SimpleRnn's W [nIn, u] cannot hold the three gates.
    raise ctx.fail(f"{ctx.spec.class_name} needs a generated layer: DL4J 1.0.0-M2.1 has no GRU layer (no recurrent "
                   "layer with update and reset gates; SimpleRnn is not one)", expected="a generated layer",
                   received=ctx.spec.class_name)
