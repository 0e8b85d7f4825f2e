"""A NumPy forward pass with DL4J 1.0.0-M2.1's inference semantics.

:func:`run_reference` executes a DL4J network (its ``configuration.json`` plus the flat parameter
vector of ``coefficients.bin``) the way ``MultiLayerNetwork.feedForward(input, false)`` /
``ComputationGraph.feedForward(inputs, false)`` do, and returns every layer's (or vertex's)
activations in DL4J's own layouts (NCHW or NHWC as each layer's data format says; RNN data as
``[batch, features, time]`` for NCW or ``[batch, time, features]`` for NWC).
:func:`param_views` cuts the flat vector into each layer's named parameters, shaped and ordered
('f' or 'c') as DL4J's ``paramTable()`` shows them (``shared/research/dl4j-formats.md`` §4.2).

Every layer, vertex, preprocessor and activation class is one pure function registered under the
short name of its ``@class`` (``@op("DenseLayer", "OutputLayer")``). The semantics were read from
the DL4J/libnd4j sources at the M2.1 release commit, including their quirks, e.g.:

* ``ActivationSoftmax`` works on the *last* axis of whatever it is given. Output/loss layers
  reshape to 2-D first (so RnnOutputLayer/CnnLossLayer normalise over features/channels), but an
  ``ActivationLayer``, ``EmbeddingSequenceLayer`` or LSTM given a 3-D NCW array softmaxes over time.
* ``ActivationGELU(precise=true)`` is ``x/2·(1+tanh(√(2/π)·(x + (0.044715·x)³)))`` — libnd4j cubes
  the product, not ``x`` alone; ``precise=false`` is ``x·σ(1.702·x)``.
* ``ActivationRReLU`` at inference is ``max(x, (l+u)/2)`` (libnd4j's RELU with a cut-off).
* ``BatchNormalization`` ignores its ``activationFn``; on rank-3 input it reshapes to
  ``[1, b, c, t]`` and normalises axis 1 (NCHW) or 3 (NHWC) of that; with ``lockGammaBeta`` it
  applies the fixed gamma/beta only when ``gamma != 1 and beta != 0``.
* ``MergeVertex`` concatenates on ``mergeAxis`` (field default 1, also for NHWC / NWC data).
* ``EmbeddingSequenceLayer`` outputs NCW unless ``outputFormat`` is ``"NWC"``.

Computation is done in float64 and each activation is returned in the network's data type.
"""
from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.errors import DL4JFileError, WorkbenchError

__all__ = [
    "ParamSpec",
    "LAYER_OPS",
    "VERTEX_OPS",
    "PREPROCESSOR_OPS",
    "ACTIVATIONS",
    "op",
    "vertex",
    "preprocessor",
    "activation",
    "short_class",
    "layer_param_specs",
    "param_views",
    "run_reference",
]

LAYER_OPS: dict[str, Callable[..., np.ndarray]] = {}
VERTEX_OPS: dict[str, Callable[..., np.ndarray]] = {}
PREPROCESSOR_OPS: dict[str, Callable[..., np.ndarray]] = {}
ACTIVATIONS: dict[str, Callable[[dict, np.ndarray], np.ndarray]] = {}
_PARAM_LAYOUTS: dict[str, Callable[[dict], list["ParamSpec"]]] = {}

_F64 = np.float64

# Pre-1.0.0-beta JSON wraps objects as {"<legacy name>": {...}} (LegacyJsonFormat.java).
_LEGACY_LAYERS = {
    "autoEncoder": "AutoEncoder", "convolution": "ConvolutionLayer", "convolution1d": "Convolution1DLayer",
    "gravesLSTM": "GravesLSTM", "LSTM": "LSTM", "gravesBidirectionalLSTM": "GravesBidirectionalLSTM",
    "output": "OutputLayer", "CenterLossOutputLayer": "CenterLossOutputLayer", "rnnoutput": "RnnOutputLayer",
    "loss": "LossLayer", "dense": "DenseLayer", "subsampling": "SubsamplingLayer",
    "subsampling1d": "Subsampling1DLayer", "batchNormalization": "BatchNormalization",
    "localResponseNormalization": "LocalResponseNormalization", "embedding": "EmbeddingLayer",
    "activation": "ActivationLayer", "VariationalAutoencoder": "VariationalAutoencoder",
    "dropout": "DropoutLayer", "GlobalPooling": "GlobalPoolingLayer", "zeroPadding": "ZeroPaddingLayer",
    "zeroPadding1d": "ZeroPadding1DLayer", "FrozenLayer": "FrozenLayer", "Upsampling2D": "Upsampling2D",
    "Yolo2OutputLayer": "Yolo2OutputLayer", "RnnLossLayer": "RnnLossLayer", "CnnLossLayer": "CnnLossLayer",
    "Bidirectional": "Bidirectional", "SimpleRnn": "SimpleRnn", "ElementWiseMult": "ElementWiseMultiplicationLayer",
    "MaskLayer": "MaskLayer", "MaskZeroLayer": "MaskZeroLayer", "Cropping1D": "Cropping1D", "Cropping2D": "Cropping2D",
}
_LEGACY_PREPROCESSORS = {
    "cnnToFeedForward": "CnnToFeedForwardPreProcessor", "cnnToRnn": "CnnToRnnPreProcessor",
    "composableInput": "ComposableInputPreProcessor", "feedForwardToCnn": "FeedForwardToCnnPreProcessor",
    "feedForwardToRnn": "FeedForwardToRnnPreProcessor", "rnnToFeedForward": "RnnToFeedForwardPreProcessor",
    "rnnToCnn": "RnnToCnnPreProcessor",
}
_LEGACY_ACTIVATIONS = {"HardTanh": "ActivationHardTanH", "SWISH": "ActivationSwish"}


# ------------------------------------------------------------------------------------ registries


@dataclass(frozen=True)
class ParamSpec:
    """One named parameter of a layer: its shape and the order of its view of the flat vector."""

    key: str
    shape: tuple[int, ...]
    order: str  # 'f' (column-major view) or 'c'

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


def _no_params(conf: dict) -> list[ParamSpec]:
    return []


def _registrar(table: dict[str, Callable], *names: str, layouts: dict | None = None, params=None):
    """A decorator putting one function into ``table`` under every name (and its param layout)."""

    def register(fn):
        for name in names:
            table[name] = fn
            if layouts is not None:
                layouts[name] = params
        return fn

    return register


def op(*names: str, params: Callable[[dict], list[ParamSpec]] = _no_params):
    """Register a layer function ``fn(conf, params, x, ctx) -> y`` and its parameter layout."""
    return _registrar(LAYER_OPS, *names, layouts=_PARAM_LAYOUTS, params=params)


def vertex(*names: str):
    """Register a graph vertex function ``fn(conf, params, inputs: list, ctx) -> y``."""
    return _registrar(VERTEX_OPS, *names)


def preprocessor(*names: str):
    """Register an input preprocessor ``fn(conf, x, ctx) -> y``."""
    return _registrar(PREPROCESSOR_OPS, *names)


def activation(*names: str):
    """Register an activation function ``fn(conf, x) -> y`` (element-wise unless noted)."""
    return _registrar(ACTIVATIONS, *names)


@dataclass
class Ctx:
    """What a layer function may need besides its config, params and input."""

    name: str
    minibatch: int
    file: str | None = None
    graph_inputs: dict[str, np.ndarray] = field(default_factory=dict)

    def fail(self, what: str, *, expected: Any = None, received: Any = None, hint: str | None = None) -> WorkbenchError:
        return WorkbenchError(what, file=self.file, layer=self.name, expected=expected, received=received, hint=hint)

    def child(self, suffix: str) -> "Ctx":
        return Ctx(f"{self.name}{suffix}", self.minibatch, self.file, self.graph_inputs)


def short_class(obj: Any, kind: str = "layer") -> tuple[str | None, dict]:
    """``(short class name, properties)`` of a Jackson-polymorphic object (current or legacy JSON)."""
    if not isinstance(obj, Mapping):
        return None, {}
    cls = obj.get("@class")
    if isinstance(cls, str):
        if kind == "layer" and "expression" in obj:
            # A generated custom layer (workbench.custom): a layer whose config has an `expression`
            # property runs that expression, whatever its class name (no DL4J class has one).
            from workbench.custom.reference_ops import EXPRESSION_OP  # importing it registers the op
            return EXPRESSION_OP, dict(obj)
        return cls.rsplit(".", 1)[-1].rsplit("$", 1)[-1], dict(obj)
    if len(obj) == 1:  # legacy wrapper object {"dense": {...}}
        (name, inner), = obj.items()
        if isinstance(inner, Mapping):
            table = {"layer": _LEGACY_LAYERS, "preprocessor": _LEGACY_PREPROCESSORS}.get(kind, {})
            if kind == "activation":
                name = _LEGACY_ACTIVATIONS.get(name, name if name.startswith("Activation") else "Activation" + name)
            else:
                name = table.get(name, name)
            return name, dict(inner)
    return None, dict(obj)


# --------------------------------------------------------------------------------- small helpers


def _ints(value: Any, n: int, default: int) -> list[int]:
    """An int array property as exactly ``n`` ints (scalars and short legacy arrays broadcast)."""
    if value is None:
        return [default] * n
    if isinstance(value, (int, float)):
        return [int(value)] * n
    vals = [int(v) for v in value]
    if len(vals) == 1:
        return vals * n
    return vals[:n] if len(vals) >= n else vals + [default] * (n - len(vals))


def _nout(conf: dict) -> int:
    return int(conf.get("nout", conf.get("nOut", 0)) or 0)


def _nin(conf: dict) -> int:
    return int(conf.get("nin", conf.get("nIn", 0)) or 0)


def _as64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=_F64)


def _nwc(fmt: Any) -> bool:
    return str(fmt).upper() == "NWC"


def _nhwc(fmt: Any) -> bool:
    return str(fmt).upper() in ("NHWC", "NDHWC")


def _apply_activation(conf: dict, x: np.ndarray, ctx: Ctx, key: str = "activationFn") -> np.ndarray:
    spec = conf.get(key)
    if spec is None:
        raise ctx.fail(f"layer has no '{key}'", expected="an activation object with @class", received=None,
                       hint="DL4J would not know which activation to apply")
    name, props = short_class(spec, "activation")
    fn = ACTIVATIONS.get(name or "")
    if fn is None:
        raise ctx.fail("activation function not supported by the reference executor",
                       expected="one of " + ", ".join(sorted(ACTIVATIONS)), received=spec.get("@class", name))
    return fn(props, _as64(x))


def _rnn_format_of(conf: dict) -> str:
    """``TimeSeriesUtils.getFormatFromRnnLayer``: the RNN data format a (wrapped) recurrent layer uses."""
    name, props = short_class(conf)
    if name == "MaskZeroLayer" or name == "LastTimeStep":
        return _rnn_format_of(props.get("underlying") or {})
    if name == "Bidirectional":
        return _rnn_format_of(props.get("fwd") or {})
    return "NWC" if _nwc(props.get("rnnDataFormat")) else "NCW"


# ----------------------------------------------------------------------------------- activations


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


@activation("ActivationIdentity")
def _act_identity(c, x):
    return x


@activation("ActivationReLU")
def _act_relu(c, x):
    mx, thr, slope = c.get("max"), c.get("threshold"), c.get("negativeSlope")
    if slope is not None or thr is not None:
        t = 0.0 if thr is None else float(thr)
        ns = 0.0 if slope is None else float(slope)
        out = np.where(x < 0, ns * x, x) if t == 0.0 else np.where(x >= t, x, ns * (x - t))
    else:
        out = np.maximum(x, 0.0)
    if mx is not None:
        out = np.minimum(out, float(mx))
    return out


@activation("ActivationLReLU")
def _act_lrelu(c, x):
    a = float(c.get("alpha", 0.01))
    return np.where(x < 0, a * x, x)


@activation("ActivationELU")
def _act_elu(c, x):
    a = float(c.get("alpha", 1.0))
    return np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0.0)))


@activation("ActivationSELU")
def _act_selu(c, x):
    alpha, lam = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return np.where(x > 0, lam * x, lam * (alpha * np.exp(np.minimum(x, 0.0)) - alpha))


@activation("ActivationSigmoid")
def _act_sigmoid(c, x):
    return _sigmoid(x)


@activation("ActivationHardSigmoid")
def _act_hard_sigmoid(c, x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


@activation("ActivationTanH")
def _act_tanh(c, x):
    return np.tanh(x)


@activation("ActivationHardTanH")
def _act_hard_tanh(c, x):
    return np.clip(x, -1.0, 1.0)


@activation("ActivationSoftmax")
def _act_softmax(c, x):
    """libnd4j ``softmax`` with its default dimension: the LAST axis of the array it is given."""
    z = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


@activation("ActivationSoftPlus")
def _act_softplus(c, x):
    return _softplus(x)


@activation("ActivationSoftSign")
def _act_softsign(c, x):
    return x / (1.0 + np.abs(x))


@activation("ActivationSwish")
def _act_swish(c, x):
    return x * _sigmoid(x)


@activation("ActivationGELU")
def _act_gelu(c, x):
    if c.get("precise"):
        # libnd4j PreciseGELU: pow(0.044715 * x, 3), i.e. the cube of the product (ops.h)
        return (x / 2.0) * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + (0.044715 * x) ** 3)))
    return x * _sigmoid(1.702 * x)


@activation("ActivationMish")
def _act_mish(c, x):
    return x * np.tanh(_softplus(x))


@activation("ActivationReLU6")
def _act_relu6(c, x):
    return np.minimum(np.maximum(x, 0.0), 6.0)


@activation("ActivationThresholdedReLU")
def _act_thresholded_relu(c, x):
    theta = float(c.get("theta", 1.0))
    return np.where(x > theta, x, 0.0)


@activation("ActivationCube")
def _act_cube(c, x):
    return x * x * x


@activation("ActivationRationalTanh")
def _act_rational_tanh(c, x):
    d = (2.0 / 3.0) * x
    t = np.sign(d) * (1.0 - 1.0 / (1.0 + np.abs(d) + d ** 2 + 1.41645 * d ** 4))
    return 1.7159 * t


@activation("ActivationRectifiedTanh")
def _act_rectified_tanh(c, x):
    return np.maximum(0.0, np.tanh(x))


@activation("ActivationRReLU")
def _act_rrelu(c, x):
    """Inference branch of ActivationRReLU: ``new RectifiedLinear(in, (l+u)/2)`` = ``max(x, (l+u)/2)``."""
    lo, hi = float(c.get("l", 1.0 / 8)), float(c.get("u", 1.0 / 3))
    return np.maximum(x, 0.5 * (lo + hi))


# --------------------------------------------------------------------------- parameter layouts


def _dense_params(conf: dict) -> list[ParamSpec]:
    nin, nout = _nin(conf), _nout(conf)
    specs = [ParamSpec("W", (nin, nout), "f")]
    if conf.get("hasBias", True):
        specs.append(ParamSpec("b", (nout,), "f"))
    if conf.get("hasLayerNorm", False):
        specs.append(ParamSpec("g", (nout,), "f"))
    return specs


def _center_loss_params(conf: dict) -> list[ParamSpec]:
    nin, nout = _nin(conf), _nout(conf)
    return [ParamSpec("W", (nin, nout), "f"), ParamSpec("b", (nout,), "f"), ParamSpec("cL", (nout, nin), "c")]


def _embedding_params(conf: dict, default_bias: bool) -> list[ParamSpec]:
    nin, nout = _nin(conf), _nout(conf)
    specs = [ParamSpec("W", (nin, nout), "f")]
    if conf.get("hasBias", default_bias):
        specs.append(ParamSpec("b", (nout,), "f"))
    return specs


def _bias_first(conf: dict, weight: ParamSpec, nbias: int | None = None) -> list[ParamSpec]:
    specs = []
    if conf.get("hasBias", True):
        specs.append(ParamSpec("b", (_nout(conf) if nbias is None else nbias,), "c"))
    return specs + [weight]


def _conv2d_params(conf: dict) -> list[ParamSpec]:
    kh, kw = _ints(conf.get("kernelSize"), 2, 1)
    return _bias_first(conf, ParamSpec("W", (_nout(conf), _nin(conf), kh, kw), "c"))


def _conv1d_params(conf: dict) -> list[ParamSpec]:
    k = _ints(conf.get("kernelSize"), 1, 1)[0]
    # paramTable shape; since 1.0.0-M1 the layer reinterprets this buffer as [k, nIn, nOut] 'c'
    return _bias_first(conf, ParamSpec("W", (_nout(conf), _nin(conf), k, 1), "c"))


def _conv3d_params(conf: dict) -> list[ParamSpec]:
    kd, kh, kw = _ints(conf.get("kernelSize"), 3, 1)
    return _bias_first(conf, ParamSpec("W", (_nout(conf), _nin(conf), kd, kh, kw), "c"))


def _deconv2d_params(conf: dict) -> list[ParamSpec]:
    kh, kw = _ints(conf.get("kernelSize"), 2, 1)
    return _bias_first(conf, ParamSpec("W", (_nin(conf), _nout(conf), kh, kw), "c"))


def _depthwise_params(conf: dict) -> list[ParamSpec]:
    kh, kw = _ints(conf.get("kernelSize"), 2, 1)
    dm = int(conf.get("depthMultiplier", 1) or 1)
    return _bias_first(conf, ParamSpec("W", (kh, kw, _nin(conf), dm), "c"))


def _separable_params(conf: dict) -> list[ParamSpec]:
    kh, kw = _ints(conf.get("kernelSize"), 2, 1)
    dm = int(conf.get("depthMultiplier", 1) or 1)
    nin, nout = _nin(conf), _nout(conf)
    specs = [ParamSpec("b", (nout,), "c")] if conf.get("hasBias", True) else []
    return specs + [ParamSpec("W", (dm, nin, kh, kw), "c"), ParamSpec("pW", (nout, nin * dm, 1, 1), "c")]


def _bn_params(conf: dict) -> list[ParamSpec]:
    n = _nout(conf)
    var_key = "log10stdev" if conf.get("useLogStd", True) else "var"
    specs = [] if conf.get("lockGammaBeta", False) else [ParamSpec("gamma", (n,), "f"), ParamSpec("beta", (n,), "f")]
    return specs + [ParamSpec("mean", (n,), "f"), ParamSpec(var_key, (n,), "f")]


def _lstm_params(conf: dict) -> list[ParamSpec]:
    nin, n = _nin(conf), _nout(conf)
    return [ParamSpec("W", (nin, 4 * n), "f"), ParamSpec("RW", (n, 4 * n), "f"), ParamSpec("b", (4 * n,), "f")]


def _graves_lstm_params(conf: dict) -> list[ParamSpec]:
    nin, n = _nin(conf), _nout(conf)
    return [ParamSpec("W", (nin, 4 * n), "f"), ParamSpec("RW", (n, 4 * n + 3), "f"), ParamSpec("b", (4 * n,), "f")]


def _graves_bidi_params(conf: dict) -> list[ParamSpec]:
    out = []
    for suffix in ("F", "B"):
        out += [ParamSpec(s.key + suffix, s.shape, s.order) for s in _graves_lstm_params(conf)]
    return out


def _simple_rnn_params(conf: dict) -> list[ParamSpec]:
    nin, n = _nin(conf), _nout(conf)
    specs = [ParamSpec("W", (nin, n), "f"), ParamSpec("RW", (n, n), "f"), ParamSpec("b", (n,), "f")]
    if conf.get("hasLayerNorm", False):
        specs.append(ParamSpec("g", (2 * n,), "f"))
    return specs


def _prelu_params(conf: dict) -> list[ParamSpec]:
    shape = [int(v) for v in (conf.get("inputShape") or [])]
    for axis in conf.get("sharedAxes") or []:
        shape[int(axis) - 1] = 1
    return [ParamSpec("W", tuple(shape), "f")]


def _elementwise_mult_params(conf: dict) -> list[ParamSpec]:
    n = _nin(conf)
    return [ParamSpec("W", (n,), "f"), ParamSpec("b", (n,), "f")]


def _bidirectional_params(conf: dict) -> list[ParamSpec]:
    out = []
    for prefix, key in (("f", "fwd"), ("b", "bwd")):
        out += [ParamSpec(prefix + s.key, s.shape, s.order) for s in layer_param_specs(conf.get(key) or {})]
    return out


def _wrapper_params(key: str) -> Callable[[dict], list[ParamSpec]]:
    return lambda conf: layer_param_specs(conf.get(key) or {})


def layer_param_specs(layer: Mapping[str, Any], *, name: str | None = None, file: str | None = None) -> list[ParamSpec]:
    """The parameters of one DL4J layer configuration, in flat-vector order.

    Raises:
        WorkbenchError: the layer class is unknown (its parameter count cannot be known).
    """
    cls, props = short_class(layer)
    layout = _PARAM_LAYOUTS.get(cls or "")
    if layout is None:
        raise WorkbenchError("layer class not supported by the reference executor", file=file, layer=name,
                             expected="one of " + ", ".join(sorted(LAYER_OPS)),
                             received=(layer or {}).get("@class", cls) if isinstance(layer, Mapping) else layer)
    return layout(props)


# ----------------------------------------------------------------------- convolution machinery


def _same_pad_java(out: Sequence[int], size: Sequence[int], k: Sequence[int], s: Sequence[int],
                   d: Sequence[int], ctx: Ctx) -> list[int]:
    """``ConvolutionUtils.getSameModeTopLeftPadding`` (throws on negative padding)."""
    pads = []
    for o, i, kk, ss, dd in zip(out, size, k, s, d):
        total = (o - 1) * ss + (kk - 1) * dd + 1 - i
        pads.append(_cdiv2(total))
    if any(p < 0 for p in pads):
        raise ctx.fail("invalid Same-mode padding (DL4J throws 'Invalid padding values calculated')",
                       received=f"padding {pads} for input {list(size)}, kernel {list(k)}, strides {list(s)}")
    return pads


def _cdiv2(total: int) -> int:
    """C integer division by 2 (truncation toward zero), as libnd4j's calcPadding2D does."""
    return total // 2 if total >= 0 else -((-total) // 2)


def _same_pad_native(out, size, k, s, d) -> list[int]:
    """libnd4j ``ConvolutionUtils::calcPadding2D/3D`` for Same mode."""
    return [_cdiv2((o - 1) * ss + (kk - 1) * dd + 1 - i) for o, i, kk, ss, dd in zip(out, size, k, s, d)]


def _out_sizes(size, k, s, p, d, mode: str, ctx: Ctx) -> list[int]:
    """Output spatial sizes for a convolution/pooling in a DL4J ConvolutionMode."""
    out = []
    for i, kk, ss, pp, dd in zip(size, k, s, p, d):
        ek = (kk - 1) * dd + 1
        if mode in ("Same", "Causal"):
            out.append(-(-i // ss))
        else:
            n = i - ek + 2 * pp
            if mode == "Strict" and n % ss != 0:
                raise ctx.fail("ConvolutionMode.Strict: input size does not divide exactly (DL4J throws)",
                               received=f"input {i}, kernel {kk} (dilation {dd}), stride {ss}, padding {pp}")
            if n < 0:
                raise ctx.fail("input is smaller than the (dilated) kernel", received=f"input {i}, kernel {ek}")
            out.append(n // ss + 1)
    return out


def _window_index(size: int, out: int, k: int, s: int, p: int, d: int):
    """Indices ``o*s - p + j*d`` for every output ``o`` and kernel tap ``j``, and their validity."""
    idx = np.arange(out)[:, None] * s - p + np.arange(k)[None, :] * d
    valid = (idx >= 0) & (idx < size)
    return np.clip(idx, 0, max(size - 1, 0)), valid


def _conv_core(x: np.ndarray, w: np.ndarray, s, p, d, out) -> np.ndarray:
    """Cross-correlation. x ``[b, c, *S]``, w ``[o, c, *K]``, top/left pads ``p`` (may be negative).

    Returns ``[b, o, *out]``; taps outside the input contribute zero.
    """
    nd = w.ndim - 2
    kshape = w.shape[2:]
    idxs, valids = [], []
    for a in range(nd):
        i, v = _window_index(x.shape[2 + a], out[a], kshape[a], s[a], p[a], d[a])
        idxs.append(i)
        valids.append(v)
    acc = np.zeros((x.shape[0], *out, w.shape[0]), dtype=_F64)
    for taps in itertools.product(*[range(k) for k in kshape]):
        patch = x
        mask = None
        for a, j in enumerate(taps):
            patch = np.take(patch, idxs[a][:, j], axis=2 + a)
            m = valids[a][:, j].reshape([-1 if b == a else 1 for b in range(nd)])
            mask = m if mask is None else mask & m
        wk = w[(slice(None), slice(None)) + taps]  # [o, c]
        contrib = np.tensordot(patch, wk, axes=([1], [1]))  # [b, *out, o]
        if not mask.all():
            contrib = contrib * mask[None, ..., None]
        acc += contrib
    return np.moveaxis(acc, -1, 1)


def _depthwise_core(x: np.ndarray, w: np.ndarray, s, p, d, out) -> np.ndarray:
    """Depthwise conv. x ``[b, c, H, W]``, w ``[kH, kW, c, m]``; output channel = ``c·m + j``."""
    b, c = x.shape[:2]
    m = w.shape[3]
    idxs, valids = [], []
    for a in range(2):
        i, v = _window_index(x.shape[2 + a], out[a], w.shape[a], s[a], p[a], d[a])
        idxs.append(i)
        valids.append(v)
    acc = np.zeros((b, c, m, *out), dtype=_F64)
    for th, tw in itertools.product(range(w.shape[0]), range(w.shape[1])):
        patch = np.take(np.take(x, idxs[0][:, th], axis=2), idxs[1][:, tw], axis=3)
        mask = valids[0][:, th][:, None] & valids[1][:, tw][None, :]
        acc += patch[:, :, None] * w[th, tw][None, :, :, None, None] * mask
    return acc.reshape(b, c * m, *out)


def _pool_core(x: np.ndarray, k, s, p, d, out, kind: str, include_pad: bool, pnorm: int) -> np.ndarray:
    """libnd4j ``pooling2d/3d``: x ``[b, c, *S]``; only in-bounds taps take part (max/avg/pnorm)."""
    nd = len(k)
    idxs, valids = [], []
    for a in range(nd):
        i, v = _window_index(x.shape[2 + a], out[a], k[a], s[a], p[a], d[a])
        idxs.append(i)
        valids.append(v)
    shape = (*x.shape[:2], *out)
    if kind == "MAX":
        acc = np.full(shape, -np.inf)
    else:
        acc = np.zeros(shape, dtype=_F64)
    count = np.zeros(out, dtype=_F64)
    for taps in itertools.product(*[range(kk) for kk in k]):
        patch = x
        mask = None
        for a, j in enumerate(taps):
            patch = np.take(patch, idxs[a][:, j], axis=2 + a)
            m = valids[a][:, j].reshape([-1 if bb == a else 1 for bb in range(nd)])
            mask = m if mask is None else mask & m
        count += mask
        if kind == "MAX":
            acc = np.where(mask, np.maximum(acc, patch), acc)
        elif kind == "PNORM":
            acc += np.where(mask, np.abs(patch) ** pnorm, 0.0)
        else:
            acc += np.where(mask, patch, 0.0)
    if kind == "MAX":
        return np.where(np.isneginf(acc), -np.finfo(np.float32).max, acc)
    if kind == "PNORM":
        return acc ** (1.0 / pnorm)
    divisor = float(np.prod(k)) if include_pad else np.maximum(count, 1.0)
    return acc / divisor


def _conv_geometry(conf: dict, spatial: Sequence[int], nd: int, ctx: Ctx, *, native_same: bool = False):
    """(kernel, stride, pad, dilation, out) for a conv/pool layer config on these spatial sizes."""
    k = _ints(conf.get("kernelSize"), nd, 1)
    s = _ints(conf.get("stride"), nd, 1)
    d = _ints(conf.get("dilation"), nd, 1)
    mode = conf.get("convolutionMode") or "Truncate"
    if mode == "Causal":
        raise ctx.fail("ConvolutionMode.Causal is only valid for 1D convolution layers (DL4J throws)")
    if mode == "Same":
        out = _out_sizes(spatial, k, s, [0] * nd, d, mode, ctx)
        p = _same_pad_native(out, spatial, k, s, d) if native_same else _same_pad_java(out, spatial, k, s, d, ctx)
    else:
        p = _ints(conf.get("padding"), nd, 0)
        out = _out_sizes(spatial, k, s, p, d, mode, ctx)
    return k, s, p, d, out


def _to_channels_first(x: np.ndarray, nhwc: bool) -> np.ndarray:
    return np.moveaxis(x, -1, 1) if nhwc else x


def _from_channels_first(x: np.ndarray, nhwc: bool) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if nhwc else x


def _check_rank(x: np.ndarray, rank: int, ctx: Ctx, layout: str) -> None:
    if x.ndim != rank:
        raise ctx.fail(f"input must have rank {rank}", expected=layout, received=f"shape {list(x.shape)}")


def _check_channels(n: int, expected: int, ctx: Ctx, shape) -> None:
    if expected and n != expected:
        raise ctx.fail("input channels do not match the layer's nIn", expected=expected,
                       received=f"{n} (input shape {list(shape)})")


# ----------------------------------------------------------------------------- dense & output


def _dense_preout(conf: dict, params: dict, x: np.ndarray, ctx: Ctx) -> np.ndarray:
    W = _as64(params["W"])
    if x.ndim != 2 or x.shape[1] != W.shape[0]:
        raise ctx.fail("input does not fit the layer's weights", expected=f"[minibatch, {W.shape[0]}]",
                       received=f"shape {list(x.shape)}", hint="missing preprocessor or wrong input type?")
    z = x @ W
    if "g" in params:
        z = _layer_norm(z, _as64(params["g"]), None)
    if "b" in params:
        z = z + _as64(params["b"])
    return z


def _layer_norm(z: np.ndarray, gain: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """libnd4j ``layer_norm`` over axis 1: standardize (population std, no epsilon, NaN→0), × gain (+ bias)."""
    mean = z.mean(axis=1, keepdims=True)
    std = z.std(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.nan_to_num((z - mean) / std, nan=0.0, posinf=np.inf, neginf=-np.inf)
    out = out * gain
    return out + bias if bias is not None else out


@op("DenseLayer", "OutputLayer", params=_dense_params)
def dense(conf, params, x, ctx):
    return _apply_activation(conf, _dense_preout(conf, params, x, ctx), ctx)


@op("CenterLossOutputLayer", params=_center_loss_params)
def center_loss_output(conf, params, x, ctx):
    return _apply_activation(conf, _dense_preout(conf, params, x, ctx), ctx)


def _rnn_to_2d(x: np.ndarray, nwc: bool) -> np.ndarray:
    """``TimeSeriesUtils.reshape3dTo2d`` after an NWC→NCW permute: rows are ``b + B·t``."""
    x = np.swapaxes(x, 1, 2) if not nwc else x  # -> [b, T, f]
    b, t, f = x.shape
    return np.swapaxes(x, 0, 1).reshape(t * b, f)


def _rnn_from_2d(x2: np.ndarray, b: int, nwc: bool) -> np.ndarray:
    t = x2.shape[0] // b
    x = np.swapaxes(x2.reshape(t, b, x2.shape[1]), 0, 1)  # [b, T, f]
    return x if nwc else np.swapaxes(x, 1, 2)


@op("RnnOutputLayer", params=_dense_params)
def rnn_output(conf, params, x, ctx):
    _check_rank(x, 3, ctx, "[minibatch, features, time] (NCW) or [minibatch, time, features] (NWC)")
    nwc = _nwc(conf.get("rnnDataFormat"))
    x2 = _rnn_to_2d(x, nwc)
    z = _dense_preout({}, {k: v for k, v in params.items() if k != "g"}, x2, ctx)
    return _rnn_from_2d(_apply_activation(conf, z, ctx), x.shape[0], nwc)


@op("ElementWiseMultiplicationLayer", params=_elementwise_mult_params)
def elementwise_mult(conf, params, x, ctx):
    return _apply_activation(conf, x * _as64(params["W"]) + _as64(params["b"]), ctx)


@op("ActivationLayer")
def activation_layer(conf, params, x, ctx):
    return _apply_activation(conf, x, ctx)


@op("DropoutLayer", "MaskLayer", "SpatialDropout", "GaussianDropout", "GaussianNoise", "AlphaDropout")
def identity_at_inference(conf, params, x, ctx):
    return x


@op("LossLayer")
def loss_layer(conf, params, x, ctx):
    return _apply_activation(conf, x, ctx)


@op("RnnLossLayer")
def rnn_loss_layer(conf, params, x, ctx):
    _check_rank(x, 3, ctx, "[minibatch, features, time] (NCW) or [minibatch, time, features] (NWC)")
    nwc = _nwc(conf.get("rnnDataFormat"))
    out2 = _apply_activation(conf, _rnn_to_2d(x, nwc), ctx)
    return _rnn_from_2d(out2, x.shape[0], nwc)


@op("CnnLossLayer")
def cnn_loss_layer(conf, params, x, ctx):
    """``ConvolutionUtils.reshape4dTo2d``: activation applied per pixel over the channel axis."""
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    nhwc = _nhwc(conf.get("format"))
    xl = x if nhwc else np.moveaxis(x, 1, -1)
    out = _apply_activation(conf, xl.reshape(-1, xl.shape[-1]), ctx).reshape(xl.shape)
    return out if nhwc else np.moveaxis(out, -1, 1)


@op("Cnn3DLossLayer")
def cnn3d_loss_layer(conf, params, x, ctx):
    _check_rank(x, 5, ctx, "NCDHW or NDHWC")
    ndhwc = _nhwc(conf.get("dataFormat"))
    xl = x if ndhwc else np.moveaxis(x, 1, -1)
    out = _apply_activation(conf, xl.reshape(-1, xl.shape[-1]), ctx).reshape(xl.shape)
    return out if ndhwc else np.moveaxis(out, -1, 1)


@op("PReLULayer", params=_prelu_params)
def prelu(conf, params, x, ctx):
    alpha = _as64(params["W"])
    if x.ndim - 1 != alpha.ndim:
        raise ctx.fail("input rank does not match the PReLU alpha shape", expected=f"[minibatch, {list(alpha.shape)}]",
                       received=f"shape {list(x.shape)}")
    return np.where(x < 0, alpha[None] * x, x)


@op("RepeatVector")
def repeat_vector(conf, params, x, ctx):
    _check_rank(x, 2, ctx, "[minibatch, features]")
    n = int(conf.get("n", 1))
    if _nwc(conf.get("dataFormat")):
        return np.repeat(x[:, None, :], n, axis=1)
    return np.repeat(x[:, :, None], n, axis=2)


# ---------------------------------------------------------------------------------- embeddings


def _indices(values: np.ndarray, n: int, ctx: Ctx) -> np.ndarray:
    idx = np.trunc(values).astype(np.int64)  # INDArray.getInt: (int) cast
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise ctx.fail("invalid index for the embedding layer", expected=f"0 <= index < {n}",
                       received=int(idx[bad].flat[0]))
    return idx


@op("EmbeddingLayer", params=lambda c: _embedding_params(c, True))
def embedding(conf, params, x, ctx):
    W = _as64(params["W"])
    if x.ndim == 1 or (x.ndim == 2 and x.shape[1] != 1 and x.shape[0] == 1):
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[1] != 1:
        raise ctx.fail("EmbeddingLayer takes one index per example", expected="[minibatch, 1]",
                       received=f"shape {list(x.shape)}", hint="use EmbeddingSequenceLayer for sequences")
    rows = W[_indices(x[:, 0], W.shape[0], ctx)]
    if "b" in params:
        rows = rows + _as64(params["b"])
    return _apply_activation(conf, rows, ctx)


@op("EmbeddingSequenceLayer", params=lambda c: _embedding_params(c, False))
def embedding_sequence(conf, params, x, ctx):
    W = _as64(params["W"])
    if x.ndim == 1:
        x = x.reshape(-1, 1, 1)
    if (x.ndim == 3 and x.shape[1] != 1) or x.ndim not in (2, 3):
        raise ctx.fail("EmbeddingSequenceLayer input must be [minibatch, seqLength] or [minibatch, 1, seqLength]",
                       received=f"shape {list(x.shape)}")
    ids = x.reshape(x.shape[0], x.shape[-1])
    length = ids.shape[1] if conf.get("inferInputLength", False) else int(conf.get("inputLength", 1))
    if ids.shape[1] != length:
        raise ctx.fail("sequence length differs from the layer's inputLength", expected=length, received=ids.shape[1],
                       hint="set inferInputLength to true")
    rows = W[_indices(ids, W.shape[0], ctx)]  # [b, T, nOut]
    if "b" in params:
        rows = rows + _as64(params["b"])
    if not _nwc(conf.get("outputFormat", "NCW")):
        rows = np.swapaxes(rows, 1, 2)
    return _apply_activation(conf, rows, ctx)


# ------------------------------------------------------------------------------- convolutions


@op("ConvolutionLayer", params=_conv2d_params)
def convolution2d(conf, params, x, ctx):
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    nhwc = _nhwc(conf.get("cnn2dDataFormat"))
    xc = _to_channels_first(x, nhwc)
    W = _as64(params["W"])
    _check_channels(xc.shape[1], W.shape[1], ctx, x.shape)
    k, s, p, d, out = _conv_geometry(conf, xc.shape[2:], 2, ctx)
    z = _conv_core(xc, W, s, p, d, out)
    if "b" in params:
        z = z + _as64(params["b"])[None, :, None, None]
    return _from_channels_first(_apply_activation(conf, z, ctx), nhwc)


@op("Convolution1DLayer", "Convolution1D", params=_conv1d_params)
def convolution1d(conf, params, x, ctx):
    """M1+: the ``[nOut, nIn, k, 1]`` buffer is read as ``[k, nIn, nOut]`` (C order) by libnd4j conv1d."""
    _check_rank(x, 3, ctx, "[minibatch, channels, width] (NCW) or [minibatch, width, channels] (NWC)")
    nwc = _nwc(conf.get("rnnDataFormat", "NCW"))
    xc = np.swapaxes(x, 1, 2) if nwc else x
    k = _ints(conf.get("kernelSize"), 1, 1)[0]
    s = _ints(conf.get("stride"), 1, 1)[0]
    d = _ints(conf.get("dilation"), 1, 1)[0]
    nin, nout = _nin(conf), _nout(conf)
    W = _as64(params["W"]).reshape(-1).reshape(k, nin, nout)  # raw buffer, 'c'
    _check_channels(xc.shape[1], nin, ctx, x.shape)
    mode = conf.get("convolutionMode") or "Truncate"
    size = xc.shape[2]
    if mode == "Same":
        out = -(-size // s)
        p = _cdiv2((out - 1) * s + (k - 1) * d + 1 - size)
    elif mode == "Causal":
        out, p = (size - 1) // s + 1, (k - 1) * d
    else:
        p = _ints(conf.get("padding"), 1, 0)[0]
        out = _out_sizes([size], [k], [s], [p], [d], mode, ctx)[0]
    z = _conv_core(xc, np.transpose(W, (2, 1, 0)), [s], [p], [d], [out])
    if "b" in params:
        z = z + _as64(params["b"])[None, :, None]
    z = _apply_activation(conf, z if not nwc else np.swapaxes(z, 1, 2), ctx)
    return z


@op("Convolution3D", params=_conv3d_params)
def convolution3d(conf, params, x, ctx):
    _check_rank(x, 5, ctx, "NCDHW or NDHWC")
    ndhwc = _nhwc(conf.get("dataFormat", "NCDHW"))
    xc = _to_channels_first(x, ndhwc)
    W = _as64(params["W"])
    _check_channels(xc.shape[1], W.shape[1], ctx, x.shape)
    k, s, p, d, out = _conv_geometry(conf, xc.shape[2:], 3, ctx)
    z = _conv_core(xc, W, s, p, d, out)
    if "b" in params:
        z = z + _as64(params["b"]).reshape(1, -1, 1, 1, 1)
    return _from_channels_first(_apply_activation(conf, z, ctx), ndhwc)


def _deconv_geometry(conf: dict, size: list[int], rank: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """Strides, dilations, paddings and output sizes of a DL4J deconvolution (Truncate or Same)."""
    k = _ints(conf.get("kernelSize"), rank, 1)
    s = _ints(conf.get("stride"), rank, 1)
    d = _ints(conf.get("dilation"), rank, 1)
    if (conf.get("convolutionMode") or "Truncate") == "Same":
        out = [ss * i for ss, i in zip(s, size)]
        # libnd4j swaps input/output sizes to compute the padding of the equivalent forward conv
        p = _same_pad_native(size, out, k, s, d)
    else:
        p = _ints(conf.get("padding"), rank, 0)
        out = [ss * (i - 1) + (kk - 1) * dd + 1 - 2 * pp for ss, i, kk, dd, pp in zip(s, size, k, d, p)]
    return s, d, p, out


def _deconv_core(xc: np.ndarray, W: np.ndarray, s, d, p, out) -> np.ndarray:
    """``out[o, y·s − p + k·d] += x[i, y] · W[i, o, k]`` (col2im) for any number of spatial axes.

    ``xc`` is channels-first ``[b, nIn, *spatial]``, ``W`` is ``[nIn, nOut, *kernel]``.
    """
    size = xc.shape[2:]
    z = np.zeros((xc.shape[0], W.shape[1], *out), dtype=_F64)
    for pos in itertools.product(*(range(kk) for kk in W.shape[2:])):
        contrib = np.moveaxis(np.tensordot(xc, W[(slice(None), slice(None), *pos)], axes=([1], [0])), -1, 1)
        coords = [np.arange(n) * ss - pp + kk * dd for n, ss, pp, kk, dd in zip(size, s, p, pos, d)]
        valid = [(c >= 0) & (c < o) for c, o in zip(coords, out)]
        sub = contrib
        for axis, keep in enumerate(valid):
            sub = np.compress(keep, sub, axis=2 + axis)
        z[(slice(None), slice(None), *np.ix_(*(c[v] for c, v in zip(coords, valid))))] += sub
    return z


@op("Deconvolution2D", params=_deconv2d_params)
def deconvolution2d(conf, params, x, ctx):
    """libnd4j ``deconv2d``: W ``[nIn, nOut, kH, kW]``."""
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    nhwc = _nhwc(conf.get("cnn2dDataFormat"))
    xc = _to_channels_first(x, nhwc)
    W = _as64(params["W"])
    _check_channels(xc.shape[1], W.shape[0], ctx, x.shape)
    z = _deconv_core(xc, W, *_deconv_geometry(conf, list(xc.shape[2:]), 2))
    if "b" in params:
        z = z + _as64(params["b"])[None, :, None, None]
    return _from_channels_first(_apply_activation(conf, z, ctx), nhwc)


def _deconv3d_params(conf: dict) -> list[ParamSpec]:
    kd, kh, kw = _ints(conf.get("kernelSize"), 3, 1)
    return _bias_first(conf, ParamSpec("W", (kd, kh, kw, _nout(conf), _nin(conf)), "c"))


@op("Deconvolution3D", params=_deconv3d_params)
def deconvolution3d(conf, params, x, ctx):
    """libnd4j ``deconv3d``: W ``[kD, kH, kW, nOut, nIn]`` (moved to ``[nIn, nOut, kD, kH, kW]`` for the core)."""
    _check_rank(x, 5, ctx, "NCDHW or NDHWC")
    ndhwc = _nhwc(conf.get("dataFormat", "NCDHW"))
    xc = _to_channels_first(x, ndhwc)
    W = _as64(params["W"])
    _check_channels(xc.shape[1], W.shape[4], ctx, x.shape)
    z = _deconv_core(xc, np.transpose(W, (4, 3, 0, 1, 2)), *_deconv_geometry(conf, list(xc.shape[2:]), 3))
    if "b" in params:
        z = z + _as64(params["b"]).reshape(1, -1, 1, 1, 1)
    return _from_channels_first(_apply_activation(conf, z, ctx), ndhwc)


@op("DepthwiseConvolution2D", params=_depthwise_params)
def depthwise_convolution2d(conf, params, x, ctx):
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    nhwc = _nhwc(conf.get("cnn2dDataFormat"))
    xc = _to_channels_first(x, nhwc)
    W = _as64(params["W"])  # [kH, kW, nIn, dm]
    _check_channels(xc.shape[1], W.shape[2], ctx, x.shape)
    k, s, p, d, out = _conv_geometry(conf, xc.shape[2:], 2, ctx)
    z = _depthwise_core(xc, W, s, p, d, out)
    if "b" in params:
        z = z + _as64(params["b"])[None, :, None, None]
    return _from_channels_first(_apply_activation(conf, z, ctx), nhwc)


@op("SeparableConvolution2D", params=_separable_params)
def separable_convolution2d(conf, params, x, ctx):
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    nhwc = _nhwc(conf.get("cnn2dDataFormat"))
    xc = _to_channels_first(x, nhwc)
    dw = _as64(params["W"])  # [dm, nIn, kH, kW] -> libnd4j [kH, kW, nIn, dm]
    pw = _as64(params["pW"])  # [nOut, nIn*dm, 1, 1]
    _check_channels(xc.shape[1], dw.shape[1], ctx, x.shape)
    k, s, p, d, out = _conv_geometry(conf, xc.shape[2:], 2, ctx)
    mid = _depthwise_core(xc, np.transpose(dw, (2, 3, 1, 0)), s, p, d, out)
    z = np.einsum("bchw,oc->bohw", mid, pw[:, :, 0, 0])
    if "b" in params:
        z = z + _as64(params["b"])[None, :, None, None]
    return _from_channels_first(_apply_activation(conf, z, ctx), nhwc)


# ----------------------------------------------------------------------------------- pooling


def _pool_settings(conf: dict) -> tuple[str, bool, int]:
    kind = str(conf.get("poolingType") or "MAX").upper()
    return kind, bool(conf.get("avgPoolIncludePadInDivisor", True)), int(conf.get("pnorm", 0) or 0)


def _check_pool_kind(kind: str, ctx: Ctx, allowed=("MAX", "AVG", "PNORM")) -> None:
    if kind not in allowed:
        raise ctx.fail("pooling type not supported by this layer in DL4J", expected=" / ".join(allowed), received=kind)


@op("SubsamplingLayer")
def subsampling2d(conf, params, x, ctx):
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    nhwc = _nhwc(conf.get("cnn2dDataFormat"))
    xc = _to_channels_first(x, nhwc)
    kind, include_pad, pnorm = _pool_settings(conf)
    _check_pool_kind(kind, ctx)
    k, s, p, d, out = _conv_geometry(conf, xc.shape[2:], 2, ctx, native_same=True)
    return _from_channels_first(_pool_core(xc, k, s, p, d, out, kind, include_pad, pnorm), nhwc)


@op("Subsampling1DLayer")
def subsampling1d(conf, params, x, ctx):
    """Reshaped to ``[b, c, T, 1]`` (or NHWC ``[b, T, 1, c]``) and pooled by the 2-D op."""
    _check_rank(x, 3, ctx, "[minibatch, channels, width]")
    nhwc = _nhwc(conf.get("cnn2dDataFormat"))
    x4 = x[:, :, :, None] if not nhwc else x[:, :, None, :]
    c2 = dict(conf)
    c2["kernelSize"] = [_ints(conf.get("kernelSize"), 1, 1)[0], 1]
    c2["stride"] = [_ints(conf.get("stride"), 1, 1)[0], 1]
    c2["padding"] = [_ints(conf.get("padding"), 1, 0)[0], 0]
    c2["dilation"] = [_ints(conf.get("dilation"), 1, 1)[0], 1]
    y = subsampling2d(c2, params, x4, ctx)
    return y[:, :, :, 0] if not nhwc else y[:, :, 0, :]


@op("Subsampling3DLayer")
def subsampling3d(conf, params, x, ctx):
    """maxpool3dnew / avgpool3dnew; the average always excludes padding (extra param 0)."""
    _check_rank(x, 5, ctx, "NCDHW or NDHWC")
    ndhwc = _nhwc(conf.get("dataFormat", "NCDHW"))
    xc = _to_channels_first(x, ndhwc)
    kind = str(conf.get("poolingType") or "MAX").upper()
    _check_pool_kind(kind, ctx, ("MAX", "AVG"))
    k, s, p, d, out = _conv_geometry(conf, xc.shape[2:], 3, ctx)
    return _from_channels_first(_pool_core(xc, k, s, p, d, out, kind, False, 0), ndhwc)


@op("GlobalPoolingLayer")
def global_pooling(conf, params, x, ctx):
    defaults = {3: [2], 4: [2, 3], 5: [2, 3, 4]}
    if x.ndim not in defaults:
        raise ctx.fail("global pooling needs rank 3, 4 or 5 input", received=f"shape {list(x.shape)}")
    dims = tuple(int(v) for v in (conf.get("poolingDimensions") or defaults[x.ndim]))
    kind = str(conf.get("poolingType") or "MAX").upper()
    if kind == "MAX":
        y = x.max(axis=dims)
    elif kind == "AVG":
        y = x.mean(axis=dims)
    elif kind == "SUM":
        y = x.sum(axis=dims)
    elif kind == "PNORM":
        pn = int(conf.get("pnorm", 2) or 2)
        y = (np.abs(x) ** pn).sum(axis=dims) ** (1.0 / pn)
    else:
        raise ctx.fail("unknown pooling type", expected="MAX / AVG / SUM / PNORM", received=kind)
    if conf.get("collapseDimensions", True):
        return y
    target = (x.shape[0], x.shape[1]) + (1,) * (x.ndim - 2)
    if y.size != int(np.prod(target)):
        raise ctx.fail("collapseDimensions=false: DL4J reshapes to [minibatch, size(1), 1...], which does not fit",
                       received=f"pooled shape {list(y.shape)}, target {list(target)}")
    return y.reshape(target)


# ------------------------------------------------------------- padding, cropping, upsampling


def _pad_axes(x: np.ndarray, axes: Sequence[int], pads: Sequence[int]) -> np.ndarray:
    width = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        width[a] = (pads[2 * i], pads[2 * i + 1])
    return np.pad(x, width)


def _crop_axes(x: np.ndarray, axes: Sequence[int], crops: Sequence[int], ctx: Ctx) -> np.ndarray:
    sl = [slice(None)] * x.ndim
    for i, a in enumerate(axes):
        lo, hi = crops[2 * i], crops[2 * i + 1]
        if lo + hi >= x.shape[a]:
            raise ctx.fail("cropping removes the whole axis", received=f"cropping {lo}+{hi} of size {x.shape[a]}")
        sl[a] = slice(lo, x.shape[a] - hi)
    return x[tuple(sl)]


@op("ZeroPaddingLayer")
def zero_padding2d(conf, params, x, ctx):
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    axes = (1, 2) if _nhwc(conf.get("dataFormat")) else (2, 3)
    return _pad_axes(x, axes, _ints(conf.get("padding"), 4, 0))


@op("ZeroPadding1DLayer")
def zero_padding1d(conf, params, x, ctx):
    _check_rank(x, 3, ctx, "[minibatch, channels, width]")
    return _pad_axes(x, (2,), _ints(conf.get("padding"), 2, 0))


@op("ZeroPadding3DLayer")
def zero_padding3d(conf, params, x, ctx):
    _check_rank(x, 5, ctx, "NCDHW")
    return _pad_axes(x, (2, 3, 4), _ints(conf.get("padding"), 6, 0))


@op("Cropping1D")
def cropping1d(conf, params, x, ctx):
    _check_rank(x, 3, ctx, "[minibatch, channels, width]")
    return _crop_axes(x, (2,), _ints(conf.get("cropping"), 2, 0), ctx)


@op("Cropping2D")
def cropping2d(conf, params, x, ctx):
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    axes = (1, 2) if _nhwc(conf.get("dataFormat")) else (2, 3)
    return _crop_axes(x, axes, _ints(conf.get("cropping"), 4, 0), ctx)


@op("Cropping3D")
def cropping3d(conf, params, x, ctx):
    _check_rank(x, 5, ctx, "NCDHW")
    return _crop_axes(x, (2, 3, 4), _ints(conf.get("cropping"), 6, 0), ctx)


def _upsample(x: np.ndarray, axes: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    for a, s in zip(axes, sizes):
        x = np.repeat(x, s, axis=a)
    return x


@op("Upsampling1D")
def upsampling1d(conf, params, x, ctx):
    _check_rank(x, 3, ctx, "[minibatch, channels, width]")
    size = conf.get("size")
    size = [int(size)] * 2 if isinstance(size, (int, float)) else [int(v) for v in (size or [1])]
    if len(size) < 2:
        raise ctx.fail("Upsampling1D with a one-element 'size': M2.1's layer runs Upsampling2D code that reads "
                       "size[1] (ArrayIndexOutOfBoundsException)", expected="size [s, s]", received=size)
    return _upsample(x, (2,), size[:1])


@op("Upsampling2D")
def upsampling2d(conf, params, x, ctx):
    _check_rank(x, 4, ctx, "[minibatch, channels, height, width] or NHWC")
    axes = (1, 2) if _nhwc(conf.get("format")) else (2, 3)
    return _upsample(x, axes, _ints(conf.get("size"), 2, 1))


@op("Upsampling3D")
def upsampling3d(conf, params, x, ctx):
    _check_rank(x, 5, ctx, "NCDHW or NDHWC")
    axes = (1, 2, 3) if _nhwc(conf.get("dataFormat", "NCDHW")) else (2, 3, 4)
    return _upsample(x, axes, _ints(conf.get("size"), 3, 1))


# ---------------------------------------------------------------------------- normalization


@op("BatchNormalization", params=_bn_params)
def batch_normalization(conf, params, x, ctx):
    """Inference branch of ``BatchNormalization.preOutput`` (the layer's activationFn is not applied)."""
    n = _nout(conf)
    nhwc = _nhwc(conf.get("cnn2DFormat"))
    orig_shape = x.shape
    if x.ndim == 3:  # DL4J reshapes RNN input to [1, b, c, t] and carries on as a CNN
        x = x[None]
    if x.ndim not in (2, 4):
        raise ctx.fail("BatchNormalization needs rank 2, 3 or 4 input", received=f"shape {list(orig_shape)}")
    ch = 3 if (x.ndim == 4 and nhwc) else 1
    if x.shape[ch] != n:
        raise ctx.fail(f"input.size({ch}) does not match the layer's nOut", expected=n,
                       received=f"{x.shape[ch]} (shape {list(x.shape)})",
                       hint="rank-3 input is treated as [1, b, c, t]" if len(orig_shape) == 3 else None)
    mean = _as64(params["mean"])
    if conf.get("useLogStd", True):
        var = (10.0 ** _as64(params["log10stdev"])) ** 2
    else:
        var = _as64(params["var"])
    std = np.sqrt(var + float(conf.get("eps", 1e-5)))
    bshape = [1] * x.ndim
    bshape[ch] = n
    xhat = (x - mean.reshape(bshape)) / std.reshape(bshape)
    if conf.get("lockGammaBeta", False):
        g, b = float(conf.get("gamma", 1.0)), float(conf.get("beta", 0.0))
        out = xhat * g + b if (g != 1.0 and b != 0.0) else xhat  # DL4J's condition, verbatim
    else:
        out = xhat * _as64(params["gamma"]).reshape(bshape) + _as64(params["beta"]).reshape(bshape)
    return out.reshape(orig_shape)


# -------------------------------------------------------------------------------- recurrent


def _time_mask_zero(x: np.ndarray, value: float, nwc: bool) -> np.ndarray:
    """MaskZeroLayer: a step is masked out when every feature equals ``maskingValue``."""
    xn = np.swapaxes(x, 1, 2) if nwc else x  # [b, f, T]
    return (np.sum(xn == value, axis=1) != xn.shape[1]).astype(_F64)


def _lstm_core(x_ncw: np.ndarray, W, RW, b, act, gate, mask, peephole: bool, forwards: bool = True) -> np.ndarray:
    """``LSTMHelpers.activateHelper``: gate blocks [c(block input), f, o, i]; h, c zeroed where masked."""
    bsz, _, T = x_ncw.shape
    n = RW.shape[0]
    rw4 = RW[:, : 4 * n]
    if peephole:
        wff, woo, wgg = RW[:, 4 * n], RW[:, 4 * n + 1], RW[:, 4 * n + 2]
    h = np.zeros((bsz, n))
    c = np.zeros((bsz, n))
    out = np.zeros((bsz, n, T))
    steps = range(T) if forwards else range(T - 1, -1, -1)
    for t in steps:
        z = x_ncw[:, :, t] @ W + h @ rw4 + b
        a = act(z[:, :n])
        fz, oz, gz = z[:, n:2 * n], z[:, 2 * n:3 * n], z[:, 3 * n:]
        if peephole:
            fz = fz + c * wff
            gz = gz + c * wgg
        f = gate(fz)
        g = gate(gz)
        c = f * c + g * a
        if peephole:
            oz = oz + c * woo
        o = gate(oz)
        h = act(c) * o
        if mask is not None:
            h = h * mask[:, t:t + 1]
            c = c * mask[:, t:t + 1]
        out[:, :, t] = h
    return out


def _rnn_io(conf: dict, x: np.ndarray, ctx: Ctx) -> tuple[np.ndarray, bool]:
    _check_rank(x, 3, ctx, "[minibatch, features, time] (NCW) or [minibatch, time, features] (NWC)")
    nwc = _nwc(conf.get("rnnDataFormat"))
    xn = np.swapaxes(x, 1, 2) if nwc else x
    _check_channels(xn.shape[1], _nin(conf), ctx, x.shape)
    return xn, nwc


def _act_fn(conf: dict, key: str, ctx: Ctx, default: dict | None = None):
    spec = conf.get(key) or default
    return lambda z: _apply_activation({key: spec}, z, ctx, key)


def _lstm_op(peephole: bool):
    """DL4J's LSTM (``peephole=False``) and GravesLSTM (the same cell with peepholes)."""

    def lstm(conf, params, x, ctx, mask=None):
        xn, nwc = _rnn_io(conf, x, ctx)
        gate = _act_fn(conf, "gateActivationFn", ctx, {"@class": "ActivationSigmoid"})
        y = _lstm_core(xn, _as64(params["W"]), _as64(params["RW"]), _as64(params["b"]),
                       _act_fn(conf, "activationFn", ctx), gate, mask, peephole=peephole)
        return np.swapaxes(y, 1, 2) if nwc else y

    return lstm


lstm = op("LSTM", params=_lstm_params)(_lstm_op(peephole=False))
graves_lstm = op("GravesLSTM", params=_graves_lstm_params)(_lstm_op(peephole=True))


@op("GravesBidirectionalLSTM", params=_graves_bidi_params)
def graves_bidirectional_lstm(conf, params, x, ctx, mask=None):
    """Forward pass plus a pass iterating time backwards, summed."""
    xn, nwc = _rnn_io(conf, x, ctx)
    gate = _act_fn(conf, "gateActivationFn", ctx, {"@class": "ActivationSigmoid"})
    act = _act_fn(conf, "activationFn", ctx)
    fw = _lstm_core(xn, _as64(params["WF"]), _as64(params["RWF"]), _as64(params["bF"]), act, gate, mask, True, True)
    bw = _lstm_core(xn, _as64(params["WB"]), _as64(params["RWB"]), _as64(params["bB"]), act, gate, mask, True, False)
    y = fw + bw
    return np.swapaxes(y, 1, 2) if nwc else y


@op("SimpleRnn", params=_simple_rnn_params)
def simple_rnn(conf, params, x, ctx, mask=None):
    xn, nwc = _rnn_io(conf, x, ctx)
    W, RW, b = _as64(params["W"]), _as64(params["RW"]), _as64(params["b"])
    g = _as64(params["g"]) if "g" in params else None
    n = RW.shape[0]
    bsz, _, T = xn.shape
    out = np.zeros((bsz, n, T))
    prev = None
    for t in range(T):
        if g is not None:
            z = _layer_norm(xn[:, :, t] @ W, g[:n], b)
            if prev is not None:
                z = z + _layer_norm(prev @ RW, g[n:], None)
        else:
            z = xn[:, :, t] @ W + b
            if prev is not None:
                z = z + prev @ RW
        h = _apply_activation(conf, z, ctx)
        if mask is not None:
            h = h * mask[:, t:t + 1]
        out[:, :, t] = h
        prev = h
    return np.swapaxes(out, 1, 2) if nwc else out


def _run_rnn_layer(conf: dict, params: dict, x: np.ndarray, ctx: Ctx, mask=None) -> np.ndarray:
    cls, props = short_class(conf)
    fn = LAYER_OPS.get(cls or "")
    if fn is None:
        raise ctx.fail("layer class not supported by the reference executor", received=conf.get("@class", cls))
    if mask is not None and fn in (lstm, graves_lstm, graves_bidirectional_lstm, simple_rnn):
        return fn(props, params, x, ctx, mask=mask)
    return _run_layer(conf, params, x, ctx)


@op("MaskZeroLayer", params=_wrapper_params("underlying"))
def mask_zero(conf, params, x, ctx):
    """Sets a time-step mask (steps whose features all equal ``maskingValue``) on the wrapped RNN."""
    inner = conf.get("underlying") or {}
    _check_rank(x, 3, ctx, "[minibatch, features, time]")
    mask = _time_mask_zero(x, float(conf.get("maskingValue", 0.0)), _rnn_format_of(inner) == "NWC")
    return _run_rnn_layer(inner, params, x, ctx.child("/underlying"), mask=mask)


@op("LastTimeStep", params=_wrapper_params("underlying"))
def last_time_step(conf, params, x, ctx):
    inner = conf.get("underlying") or {}
    y = _run_layer(inner, params, x, ctx.child("/underlying"))
    if y.ndim != 3:
        raise ctx.fail("LastTimeStep expects rank-3 output from its layer", received=f"shape {list(y.shape)}")
    nwc = _rnn_format_of(inner) == "NWC"
    yn = np.swapaxes(y, 1, 2) if nwc else y
    inner_cls, inner_props = short_class(inner)
    if inner_cls == "MaskZeroLayer":
        mask = _time_mask_zero(x, float(inner_props.get("maskingValue", 0.0)), nwc)
        if not mask.any(axis=1).all():
            raise ctx.fail("an example is entirely masked out (DL4J: 'Invalid last time step index')")
        last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1] != 0, axis=1)
        return yn[np.arange(yn.shape[0]), :, last]
    return yn[:, :, -1]


@op("Bidirectional", params=_bidirectional_params)
def bidirectional(conf, params, x, ctx):
    fwd_conf, bwd_conf = conf.get("fwd") or {}, conf.get("bwd") or {}
    nwc = _rnn_format_of(fwd_conf) == "NWC"
    t_axis = 1 if nwc else 2
    p_f = {k[1:]: v for k, v in params.items() if k.startswith("f")}
    p_b = {k[1:]: v for k, v in params.items() if k.startswith("b")}
    out1 = _run_layer(fwd_conf, p_f, x, ctx.child("/fwd"))
    out2 = _run_layer(bwd_conf, p_b, np.flip(x, axis=t_axis), ctx.child("/bwd"))
    if nwc and out1.ndim == 3:
        out1, out2 = np.swapaxes(out1, 1, 2), np.swapaxes(out2, 1, 2)
    if out2.ndim == 3:
        out2 = np.flip(out2, axis=2)
    mode = str(conf.get("mode") or "CONCAT").upper()
    if mode == "ADD":
        y = out1 + out2
    elif mode == "MUL":
        y = out1 * out2
    elif mode == "AVERAGE":
        y = (out1 + out2) * 0.5
    elif mode == "CONCAT":
        y = np.concatenate([out1, out2], axis=1)
    else:
        raise ctx.fail("unknown Bidirectional mode", expected="CONCAT / ADD / MUL / AVERAGE", received=mode)
    return np.swapaxes(y, 1, 2) if (nwc and y.ndim == 3) else y


@op("TimeDistributed", params=_wrapper_params("underlying"))
def time_distributed(conf, params, x, ctx):
    axis = 1 if _nwc(conf.get("rnnDataFormat", "NCW")) else 2
    perm = [0, axis] + [i for i in range(1, x.ndim) if i != axis]
    xp = np.transpose(x, perm)
    y = _run_layer(conf.get("underlying") or {}, params, xp.reshape((-1,) + xp.shape[2:]), ctx.child("/underlying"))
    y = y.reshape((x.shape[0], y.shape[0] // x.shape[0]) + y.shape[1:])
    return np.transpose(y, np.argsort([0, axis] + [i for i in range(1, y.ndim) if i != axis]))


@op("FrozenLayer", params=_wrapper_params("layer"))
def frozen_layer(conf, params, x, ctx):
    return _run_layer(conf.get("layer") or {}, params, x, ctx)


@op("FrozenLayerWithBackprop", params=_wrapper_params("underlying"))
def frozen_layer_with_backprop(conf, params, x, ctx):
    return _run_layer(conf.get("underlying") or {}, params, x, ctx)


def _run_layer(layer: Mapping[str, Any], params: dict, x: np.ndarray, ctx: Ctx) -> np.ndarray:
    cls, props = short_class(layer)
    fn = LAYER_OPS.get(cls or "")
    if fn is None:
        raise ctx.fail("layer class not supported by the reference executor (not guessing its semantics)",
                       expected="one of " + ", ".join(sorted(LAYER_OPS)),
                       received=(layer or {}).get("@class", cls) if isinstance(layer, Mapping) else layer)
    return fn(props, params, x, ctx)


# ------------------------------------------------------------------------------ preprocessors


def _check_pp_dims(got: Sequence[int], want: Sequence[Any], names: str, ctx: Ctx) -> None:
    want_i = [int(w or 0) for w in want]
    if any(want_i) and list(got) != want_i:
        raise ctx.fail("input does not match the preprocessor's configuration", expected=f"{names} = {want_i}",
                       received=list(got))


@preprocessor("CnnToFeedForwardPreProcessor")
def cnn_to_ff(conf, x, ctx):
    """C-order flatten of the array as it is: (c, h, w) for NCHW, (h, w, c) for NHWC."""
    if x.ndim == 2:
        return x
    nhwc = _nhwc(conf.get("format", "NCHW"))
    c, h, w = (x.shape[3], x.shape[1], x.shape[2]) if nhwc else x.shape[1:]
    _check_pp_dims([c, h, w], [conf.get("numChannels"), conf.get("inputHeight"), conf.get("inputWidth")],
                   "[channels, height, width]", ctx)
    return x.reshape(x.shape[0], -1)


@preprocessor("TensorFlowCnnToFeedForwardPreProcessor")
def tf_cnn_to_ff(conf, x, ctx):
    if x.ndim == 2:
        return x
    return np.transpose(x, (0, 2, 3, 1)).reshape(x.shape[0], -1)


@preprocessor("Cnn3DToFeedForwardPreProcessor")
def cnn3d_to_ff(conf, x, ctx):
    if x.ndim == 2:
        return x
    return x.reshape(x.shape[0], -1)


@preprocessor("FeedForwardToCnnPreProcessor")
def ff_to_cnn(conf, x, ctx):
    """Always NCHW ``[b, numChannels, inputHeight, inputWidth]`` (no format field in M2.1)."""
    if x.ndim == 4:
        return x
    c, h, w = int(conf.get("numChannels", 0)), int(conf.get("inputHeight", 0)), int(conf.get("inputWidth", 0))
    if x.ndim != 2 or x.shape[1] != c * h * w:
        raise ctx.fail("input columns do not match channels × height × width", expected=c * h * w,
                       received=f"shape {list(x.shape)}")
    return x.reshape(x.shape[0], c, h, w)


@preprocessor("FeedForwardToCnn3DPreProcessor")
def ff_to_cnn3d(conf, x, ctx):
    if x.ndim == 5:
        return x
    c = int(conf.get("numChannels", 0))
    d, h, w = int(conf.get("inputDepth", 0)), int(conf.get("inputHeight", 0)), int(conf.get("inputWidth", 0))
    if x.ndim != 2 or x.shape[1] != c * d * h * w:
        raise ctx.fail("input columns do not match channels × depth × height × width", expected=c * d * h * w,
                       received=f"shape {list(x.shape)}")
    shape = (c, d, h, w) if conf.get("isNCDHW", conf.get("ncdhw", True)) else (d, h, w, c)
    return x.reshape(x.shape[0], *shape)


@preprocessor("RnnToFeedForwardPreProcessor")
def rnn_to_ff(conf, x, ctx):
    """``[b, f, T]`` → ``[b·T, f]`` with rows ordered ``b + B·t`` (DL4J's 'f'-order reshape)."""
    if x.ndim == 2:
        return x
    if x.ndim != 3:
        raise ctx.fail("expected rank-3 RNN activations", received=f"shape {list(x.shape)}")
    return _rnn_to_2d(x, _nwc(conf.get("rnnDataFormat", "NCW")))


@preprocessor("FeedForwardToRnnPreProcessor")
def ff_to_rnn(conf, x, ctx):
    if x.ndim < 2:
        x = x.reshape(1, -1)
    if x.ndim != 2:
        raise ctx.fail("expected rank-2 activations", received=f"shape {list(x.shape)}")
    if x.shape[0] % ctx.minibatch:
        raise ctx.fail("rows are not a multiple of the minibatch size", expected=f"k × {ctx.minibatch}",
                       received=x.shape[0])
    return _rnn_from_2d(x, ctx.minibatch, _nwc(conf.get("rnnDataFormat", "NCW")))


@preprocessor("CnnToRnnPreProcessor")
def cnn_to_rnn(conf, x, ctx):
    if x.ndim != 4:
        raise ctx.fail("expected rank-4 CNN activations", received=f"shape {list(x.shape)}")
    _check_pp_dims(list(x.shape[1:]), [conf.get("numChannels"), conf.get("inputHeight"), conf.get("inputWidth")],
                   "[channels, height, width]", ctx)
    return ff_to_rnn(conf, x.reshape(x.shape[0], -1), ctx)


@preprocessor("RnnToCnnPreProcessor")
def rnn_to_cnn(conf, x, ctx):
    if x.ndim != 3:
        raise ctx.fail("expected rank-3 RNN activations", received=f"shape {list(x.shape)}")
    x2 = _rnn_to_2d(x, _nwc(conf.get("rnnDataFormat", "NCW")))
    c, h, w = int(conf.get("numChannels", 0)), int(conf.get("inputHeight", 0)), int(conf.get("inputWidth", 0))
    if x2.shape[1] != c * h * w:
        raise ctx.fail("features do not match channels × height × width", expected=c * h * w, received=x2.shape[1])
    return x2.reshape(-1, c, h, w)


@preprocessor("ComposableInputPreProcessor")
def composable(conf, x, ctx):
    for inner in conf.get("inputPreProcessors") or []:
        x = _apply_preprocessor(inner, x, ctx)
    return x


@preprocessor("ReshapePreprocessor")
def reshape_pp(conf, x, ctx):
    target = [int(v) for v in conf.get("targetShape") or []]
    if not conf.get("hasMiniBatchDimension", False):
        target = [ctx.minibatch] + target
    target[0] = ctx.minibatch
    if int(np.prod(target)) != x.size:
        raise ctx.fail("input size does not match the target shape", expected=target, received=list(x.shape))
    return x.reshape(target)


@preprocessor("PermutePreprocessor")
def permute_pp(conf, x, ctx):
    perm = [int(v) for v in conf.get("permutationIndices") or []]
    if len(perm) + 1 == x.ndim:
        perm = [0] + perm
    if sorted(perm) != list(range(x.ndim)):
        raise ctx.fail("permutation does not fit the input rank", expected=f"a permutation of {x.ndim} axes",
                       received=perm)
    return np.transpose(x, perm)


@preprocessor("KerasFlattenRnnPreprocessor")
def keras_flatten_rnn(conf, x, ctx):
    return x.reshape(x.shape[0], int(conf.get("depth", 0)) * int(conf.get("tsLength", 0)))


def _apply_preprocessor(pp: Mapping[str, Any], x: np.ndarray, ctx: Ctx) -> np.ndarray:
    cls, props = short_class(pp, "preprocessor")
    fn = PREPROCESSOR_OPS.get(cls or "")
    if fn is None:
        raise ctx.fail("input preprocessor not supported by the reference executor",
                       expected="one of " + ", ".join(sorted(PREPROCESSOR_OPS)),
                       received=(pp or {}).get("@class", cls) if isinstance(pp, Mapping) else pp)
    return fn(props, x, ctx)


# ------------------------------------------------------------------------------------ vertices


@vertex("LayerVertex")
def layer_vertex(conf, params, inputs, ctx):
    if len(inputs) != 1:
        raise ctx.fail("a LayerVertex takes exactly one input", received=f"{len(inputs)} inputs")
    x = inputs[0]
    if conf.get("preProcessor"):
        x = _apply_preprocessor(conf["preProcessor"], x, ctx)
    return _run_layer((conf.get("layerConf") or {}).get("layer") or {}, params, x, ctx)


@vertex("PreprocessorVertex")
def preprocessor_vertex(conf, params, inputs, ctx):
    return _apply_preprocessor(conf.get("preProcessor") or {}, inputs[0], ctx)


@vertex("MergeVertex")
def merge_vertex(conf, params, inputs, ctx):
    if len(inputs) == 1:
        return inputs[0]
    if len({a.ndim for a in inputs}) != 1 or len({a.shape[0] for a in inputs}) != 1:
        raise ctx.fail("cannot merge activations of different rank or minibatch",
                       received=[list(a.shape) for a in inputs])
    axis = int(conf.get("mergeAxis", 1))
    try:
        return np.concatenate(inputs, axis=axis)
    except (ValueError, np.exceptions.AxisError) as exc:
        raise ctx.fail(f"cannot concatenate along mergeAxis {axis}", received=[list(a.shape) for a in inputs],
                       hint=str(exc)) from None


@vertex("ElementWiseVertex")
def elementwise_vertex(conf, params, inputs, ctx):
    op_name = str(conf.get("op") or "Add")
    try:
        if op_name == "Add":
            return sum(inputs[1:], inputs[0])
        if op_name == "Average":
            return sum(inputs[1:], inputs[0]) / len(inputs)
        if op_name == "Product":
            out = inputs[0]
            for a in inputs[1:]:
                out = out * a
            return out
        if op_name == "Max":
            return np.maximum.reduce(np.broadcast_arrays(*inputs)) if len(inputs) > 1 else inputs[0]
        if op_name == "Subtract":
            if len(inputs) != 2:
                raise ctx.fail("ElementWise subtraction only supports 2 inputs", received=len(inputs))
            return inputs[0] - inputs[1]
    except ValueError as exc:
        raise ctx.fail("inputs cannot be broadcast together", received=[list(a.shape) for a in inputs],
                       hint=str(exc)) from None
    raise ctx.fail("unknown ElementWiseVertex op", expected="Add / Subtract / Product / Average / Max",
                   received=op_name)


@vertex("SubsetVertex")
def subset_vertex(conf, params, inputs, ctx):
    x = inputs[0]
    if x.ndim not in (2, 3, 4):
        raise ctx.fail("cannot take a subset of activations of this rank", received=f"shape {list(x.shape)}")
    return x[:, int(conf.get("from", 0)): int(conf.get("to", 0)) + 1]


@vertex("ReshapeVertex")
def reshape_vertex(conf, params, inputs, ctx):
    shape = [int(v) for v in conf.get("newShape") or []]
    order = str(conf.get("reshapeOrder", "c")).lower()
    try:
        return np.reshape(inputs[0], shape, order="F" if order == "f" else "C")
    except ValueError as exc:
        raise ctx.fail("cannot reshape", expected=shape, received=list(inputs[0].shape), hint=str(exc)) from None


@vertex("ScaleVertex")
def scale_vertex(conf, params, inputs, ctx):
    return inputs[0] * float(conf.get("scaleFactor", 1.0))


@vertex("ShiftVertex")
def shift_vertex(conf, params, inputs, ctx):
    return inputs[0] + float(conf.get("shiftFactor", 0.0))


@vertex("StackVertex")
def stack_vertex(conf, params, inputs, ctx):
    if inputs[0].ndim == 3 and len({a.shape[2] for a in inputs}) > 1:
        t = max(a.shape[2] for a in inputs)
        inputs = [np.pad(a, [(0, 0), (0, 0), (0, t - a.shape[2])]) for a in inputs]
    return np.concatenate(inputs, axis=0)


@vertex("UnstackVertex")
def unstack_vertex(conf, params, inputs, ctx):
    x = inputs[0]
    step = x.shape[0] // int(conf.get("stackSize", 1))
    start = int(conf.get("from", 0)) * step
    return x[start:start + step]


@vertex("L2NormalizeVertex")
def l2_normalize_vertex(conf, params, inputs, ctx):
    x = inputs[0]
    dims = tuple(int(d) for d in (conf.get("dimension") or range(1, x.ndim)))
    norm = np.sqrt(np.sum(x * x, axis=dims, keepdims=True))
    return x / np.maximum(norm, float(conf.get("eps", 1e-8)))


@vertex("L2Vertex")
def l2_vertex(conf, params, inputs, ctx):
    a, b = inputs
    return np.sqrt(np.sum((a - b) ** 2, axis=tuple(range(1, a.ndim)))).reshape(-1, 1)


@vertex("PoolHelperVertex")
def pool_helper_vertex(conf, params, inputs, ctx):
    return inputs[0][:, :, 1:, 1:]


@vertex("LastTimeStepVertex")
def last_time_step_vertex(conf, params, inputs, ctx):
    x = inputs[0]
    if x.ndim != 3:
        raise ctx.fail("LastTimeStepVertex needs rank-3 [minibatch, features, time] input",
                       received=f"shape {list(x.shape)}")
    return x[:, :, -1]


@vertex("ReverseTimeSeriesVertex")
def reverse_time_series_vertex(conf, params, inputs, ctx):
    return np.flip(inputs[0], axis=2)


@vertex("DuplicateToTimeSeriesVertex")
def duplicate_to_time_series_vertex(conf, params, inputs, ctx):
    name = conf.get("inputName")
    ref = ctx.graph_inputs.get(name)
    if ref is None or ref.ndim != 3:
        raise ctx.fail("DuplicateToTimeSeriesVertex needs a rank-3 network input to copy the length from",
                       expected=name, received=sorted(ctx.graph_inputs))
    return np.repeat(inputs[0][:, :, None], ref.shape[2], axis=2)


@vertex("FrozenVertex")
def frozen_vertex(conf, params, inputs, ctx):
    return _run_vertex(conf.get("underlying") or {}, params, inputs, ctx)


def _run_vertex(v: Mapping[str, Any], params: dict, inputs: list[np.ndarray], ctx: Ctx) -> np.ndarray:
    cls, props = short_class(v, "vertex")
    fn = VERTEX_OPS.get(cls or "")
    if fn is None:
        raise ctx.fail("graph vertex class not supported by the reference executor (not guessing its semantics)",
                       expected="one of " + ", ".join(sorted(VERTEX_OPS)),
                       received=(v or {}).get("@class", cls) if isinstance(v, Mapping) else v)
    return fn(props, params, inputs, ctx)


def _vertex_layer(v: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, list[str] | None]:
    """The layer (and its NeuralNetConfiguration ``variables``) held by a vertex, if any."""
    cls, props = short_class(v, "vertex")
    if cls == "LayerVertex":
        nnc = props.get("layerConf") or {}
        return nnc.get("layer") or {}, nnc.get("variables")
    if cls == "FrozenVertex":
        return _vertex_layer(props.get("underlying") or {})
    return None, None


# ------------------------------------------------------------------------------ network walk


@dataclass
class _Unit:
    key: str  # activation / param_views key
    kind: str  # "input", "layer" (MLN) or "vertex" (CG)
    conf: dict  # layer conf (MLN) or vertex conf (CG)
    specs: list[ParamSpec]
    inputs: list[str] = field(default_factory=list)
    preprocessor: dict | None = None


def _with_bn_rule(layer: Mapping[str, Any], variables: list[str] | None) -> dict:
    """Both M2.1 deserializers set ``useLogStd = !variables.contains("var")`` on top-level BN layers."""
    cls, props = short_class(layer)
    if cls != "BatchNormalization":
        return dict(layer)
    out = dict(layer)
    if "@class" in layer:
        out["useLogStd"] = "var" not in (variables or [])
        return out
    (name, inner), = layer.items()  # legacy wrapper
    return {name: {**inner, "useLogStd": "var" not in (variables or [])}}


def _kind(config: Mapping[str, Any]) -> str:
    if "confs" in config:
        return "MultiLayerNetwork"
    if "vertices" in config or "networkInputs" in config:
        return "ComputationGraph"
    raise DL4JFileError("not a DL4J network configuration",
                        expected='"confs" (MultiLayerNetwork) or "vertices" (ComputationGraph)',
                        received=sorted(config)[:8] if isinstance(config, Mapping) else type(config).__name__)


def _topological_order(config: Mapping[str, Any]) -> list[str]:
    inputs = list(config.get("networkInputs") or [])
    vertices = config.get("vertices") or {}
    order = config.get("topologicalOrderStr")
    if order:
        return list(order)
    all_names = inputs + list(vertices)
    if config.get("topologicalOrder"):
        return [all_names[int(i)] for i in config["topologicalOrder"]]
    # Kahn's algorithm, ties in networkInputs-then-JSON order (DL4J itself would use HashMap order here)
    deps = {n: list((config.get("vertexInputs") or {}).get(n, [])) for n in vertices}
    done: list[str] = list(inputs)
    remaining = [n for n in vertices]
    while remaining:
        for n in remaining:
            if all(d in done for d in deps[n]):
                done.append(n)
                remaining.remove(n)
                break
        else:
            raise DL4JFileError("the graph has a cycle or an input that does not exist", received=remaining[:5])
    return done


def _units(config: Mapping[str, Any], file: str | None) -> list[_Unit]:
    kind = _kind(config)
    units: list[_Unit] = []
    if kind == "MultiLayerNetwork":
        pre = config.get("inputPreProcessors") or {}
        used = {"input"}
        for i, nnc in enumerate(config.get("confs") or []):
            layer = _with_bn_rule(nnc.get("layer") or {}, nnc.get("variables"))
            _, props = short_class(layer)
            key = props.get("layerName") or str(i)
            if key in used:
                key = str(i)
            used.add(key)
            specs = layer_param_specs(layer, name=key, file=file)
            units.append(_Unit(key, "layer", layer, specs, preprocessor=pre.get(str(i))))
        return units
    vertices = config.get("vertices") or {}
    inputs = set(config.get("networkInputs") or [])
    for name in _topological_order(config):
        if name in inputs:
            units.append(_Unit(name, "input", {}, []))
            continue
        if name not in vertices:
            raise DL4JFileError("topological order names a vertex that does not exist", file=file, received=name)
        v = dict(vertices[name])
        layer, variables = _vertex_layer(v)
        specs: list[ParamSpec] = []
        if layer is not None:
            fixed = _with_bn_rule(layer, variables)
            if short_class(v, "vertex")[0] == "LayerVertex":
                v["layerConf"] = {**(v.get("layerConf") or {}), "layer": fixed}
            specs = layer_param_specs(fixed, name=name, file=file)
        units.append(_Unit(name, "vertex", v, specs, inputs=list((config.get("vertexInputs") or {}).get(name, []))))
    return units


def _slice_params(units: list[_Unit], flat: np.ndarray, file: str | None) -> dict[str, dict[str, np.ndarray]]:
    flat = np.asarray(flat).reshape(-1)
    total = sum(s.size for u in units for s in u.specs)
    if total != flat.size:
        raise DL4JFileError("parameter count does not match the configuration", file=file,
                            expected=f"{total} (sum over layers)", received=flat.size)
    out: dict[str, dict[str, np.ndarray]] = {}
    offset = 0
    for u in units:
        if u.kind == "input":
            continue
        views = {}
        for s in u.specs:
            seg = flat[offset: offset + s.size]
            view = seg.reshape(s.shape, order="F" if s.order == "f" else "C")
            view.flags.writeable = False
            views[s.key] = view
            offset += s.size
        out[u.key] = views
    return out


def _load(dl4j_zip: Any, params: np.ndarray | None) -> tuple[dict, np.ndarray, str | None]:
    if isinstance(dl4j_zip, (str, os.PathLike)):
        from workbench.export.model_zip import read_model_zip

        z = read_model_zip(dl4j_zip)
        return z.configuration, z.params, os.fspath(dl4j_zip)
    if isinstance(dl4j_zip, Mapping):
        if params is None:
            raise WorkbenchError("a configuration dict needs its flat parameter vector", expected="params=...")
        return dict(dl4j_zip), np.asarray(params), None
    config = getattr(dl4j_zip, "configuration", None)
    if config is None:
        raise WorkbenchError("not a DL4J model", expected="DL4JZip, zip path or configuration dict",
                             received=type(dl4j_zip).__name__)
    return config, np.asarray(dl4j_zip.params if params is None else params), None


def param_views(configuration: Mapping[str, Any], params: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Each layer's (MLN) or vertex's (CG) named parameters as read-only views of ``params``.

    Keys follow :func:`run_reference` (MLN: ``layerName`` or index; CG: vertex name), in flat
    order; within a layer, parameters are in flat order too (conv family: ``b`` before ``W``), so
    ``np.concatenate([v.ravel(order=o) ...])`` with each view's DL4J order gives ``params`` back.
    Shapes are DL4J's ``paramTable()`` shapes (Convolution1DLayer: ``[nOut, nIn, k, 1]``, which
    M1+ reinterprets as ``[k, nIn, nOut]``).

    Raises:
        WorkbenchError: a layer class is unknown; DL4JFileError: the vector length is wrong.
    """
    if isinstance(configuration, str):
        configuration = json.loads(configuration)
    return _slice_params(_units(configuration, None), params, None)


def _as_input_list(config: Mapping[str, Any], kind: str, inputs: Any, file: str | None) -> list[tuple[str, np.ndarray]]:
    names = ["input"] if kind == "MultiLayerNetwork" else list(config.get("networkInputs") or [])
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if isinstance(inputs, Mapping):
        if kind == "MultiLayerNetwork" and len(inputs) == 1:
            return [("input", np.asarray(next(iter(inputs.values()))))]
        missing = [n for n in names if n not in inputs]
        if missing:
            raise WorkbenchError("inputs are missing for some network inputs", file=file, expected=names,
                                 received=sorted(inputs))
        return [(n, np.asarray(inputs[n])) for n in names]
    inputs = list(inputs)
    if len(inputs) != len(names):
        raise WorkbenchError("wrong number of input arrays", file=file, expected=f"{len(names)} ({names})",
                             received=len(inputs))
    return [(n, np.asarray(a)) for n, a in zip(names, inputs)]


def run_reference(dl4j_zip: Any, inputs: list[np.ndarray] | dict[str, np.ndarray] | np.ndarray, *,
                  params: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Run a DL4J network in inference mode and return every layer's / vertex's activations.

    Args:
        dl4j_zip: a :class:`~workbench.export.model_zip.DL4JZip`, a path to a model zip, or a parsed
            ``configuration.json`` dict (then ``params`` is required).
        inputs: the network input(s): MultiLayerNetwork one array; ComputationGraph a list in
            ``networkInputs`` order or a dict keyed by input name.
        params: the flat parameter vector (overrides the zip's).

    Returns:
        MultiLayerNetwork: ``{"input": x, <layerName or index>: activations, ...}`` in layer order;
        ComputationGraph: ``{<vertex name>: activations}`` in topological order, inputs included —
        what ``feedForward(input, false)`` returns, in the network's dtype.

    Raises:
        WorkbenchError: an unsupported class or an input that does not fit (names the layer).
        DL4JFileError: the configuration or parameter vector is inconsistent.
    """
    config, flat, file = _load(dl4j_zip, params)
    kind = _kind(config)
    units = _units(config, file)
    views = _slice_params(units, flat, file)
    out_dtype = flat.dtype if np.issubdtype(flat.dtype, np.floating) else np.dtype(np.float32)
    named = _as_input_list(config, kind, inputs, file)
    minibatch = int(named[0][1].shape[0]) if named[0][1].ndim else 1
    graph_inputs = {n: _as64(a) for n, a in named}
    acts64: dict[str, np.ndarray] = dict(graph_inputs)
    result: dict[str, np.ndarray] = {n: np.asarray(a, dtype=out_dtype) for n, a in named}
    if kind == "MultiLayerNetwork":
        x = graph_inputs["input"]
        for u in units:
            ctx = Ctx(u.key, minibatch, file, graph_inputs)
            if u.preprocessor:
                x = _apply_preprocessor(u.preprocessor, x, ctx)
            x = _run_layer(u.conf, views[u.key], x, ctx)
            result[u.key] = np.asarray(x, dtype=out_dtype)
        return result
    for u in units:
        if u.kind == "input":
            continue
        missing = [n for n in u.inputs if n not in acts64]
        if missing:
            raise DL4JFileError("vertex input is not computed before the vertex", file=file, layer=u.key,
                                received=missing)
        ctx = Ctx(u.key, minibatch, file, graph_inputs)
        y = _run_vertex(u.conf, views.get(u.key, {}), [acts64[n] for n in u.inputs], ctx)
        acts64[u.key] = y
        result[u.key] = np.asarray(y, dtype=out_dtype)
    return result
