"""Java source of a whole converted model: the DL4J 1.0.0-M2.1 builder calls a careful hand port would
write, one per layer, and the weights as ``.npy`` files in DL4J's parameter shapes.

    source = model_java_source(conv)              # ConvertedModel.java as text
    project = write_java_project(conv, "out/java") # src/main/java/..., params/*.npy, README.md
    classes = compile_java(project / "src", "out/classes")   # javac against the DL4J harness jars

The generated class has ``configuration()`` (a MultiLayerConfiguration for a chain, else a
ComputationGraphConfiguration), ``build(Path paramDir)`` (init, then every parameter set from
``<layer>__<key>.npy`` with its shape checked) and ``main(PARAM_DIR, OUT.zip)`` (ModelSerializer).

Every property of the layer JSON that matters is written explicitly; a property this generator has no
builder call for, and whose value differs from what the builders produce by default, is an
:class:`ExportError` naming the layer (so is an unknown layer, vertex or preprocessor class): the
generator never emits code that would build a different network.

NB (what M2.1's builders do that the exported JSON does not say; each checked in real DL4J by comparing
the configuration built here with the one DL4J reads from the exported zip):
  * ``MultiLayerConfiguration.Builder.build()`` guesses an input type when layer 0 is a DenseLayer,
    EmbeddingLayer, OutputLayer or recurrent layer and has no preprocessor, then adds the preprocessors it
    thinks are missing and rewrites nIn (``overrideNinUponBuild`` defaults to TRUE) and data formats
    (``timeDistributedFormat``) to fit. The generated code stops the guess with an identity
    ``ComposableInputPreProcessor`` on layer 0, removed again after ``build()``.
  * ``Subsampling1DLayer.Builder(PoolingType, ...)`` drops its pooling type (MAX stays) and ``stride(s)``
    stores ``[s, s]`` where ``kernelSize(k)`` stores ``[k, 1]`` (pooling the channels of an NWC input):
    ``poolingType(...)`` is called and the stride set on the built layer.
  * The global configuration (weight init, updater...) reaches a wrapper's layer but not a layer wrapped
    twice (``Bidirectional(LastTimeStep(LSTM))``): ``init()`` then fails on a null weight init; those
    layers get every property written.
  * ``BatchNormalization.Builder`` defaults to ``useLogStd(true)`` (a ``log10stdev`` parameter instead of
    ``var``); ``NeuralNetConfiguration.Builder`` to a Sigmoid activation, an Sgd updater and a clock seed.
  * Wrapper layers (LastTimeStep, TimeDistributed, Bidirectional) have no builder, so no ``name()``: in a
    MultiLayerConfiguration DL4J would call them ``layerN`` without ``setLayerName``.
  * Harmless differences left as DL4J makes them: ``PReLULayer.Builder`` ignores nIn/nOut (its size is
    ``inputShape``), ``MergeVertex.setMergeAxis`` also sets ``modified``, and a wrapper's built
    configuration lists no ``variables``.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.convert import Conversion, Node
from workbench.errors import ExportError, WorkbenchError

__all__ = ["DL4J_VERSION", "ParamFile", "model_java_source", "param_files", "write_java_project",
           "compile_java"]

DL4J_VERSION = "1.0.0-M2.1"
LAYERS = "org.deeplearning4j.nn.conf.layers."
VERTICES = "org.deeplearning4j.nn.conf.graph."
ACTIVATIONS = "org.nd4j.linalg.activations.impl."
WEIGHTS = "org.deeplearning4j.nn.weights."
GENERATED_PREFIX = "workbench.generated."
JAVAC_TIMEOUT = 600.0

# Simple class name → import. A name used in the generated code is imported only when used.
_IMPORTS = {
    "NeuralNetConfiguration": "org.deeplearning4j.nn.conf.NeuralNetConfiguration",
    "MultiLayerConfiguration": "org.deeplearning4j.nn.conf.MultiLayerConfiguration",
    "ComputationGraphConfiguration": "org.deeplearning4j.nn.conf.ComputationGraphConfiguration",
    "InputPreProcessor": "org.deeplearning4j.nn.conf.InputPreProcessor",
    "CNN2DFormat": "org.deeplearning4j.nn.conf.CNN2DFormat",
    "RNNFormat": "org.deeplearning4j.nn.conf.RNNFormat",
    "ConvolutionMode": "org.deeplearning4j.nn.conf.ConvolutionMode",
    "MultiLayerNetwork": "org.deeplearning4j.nn.multilayer.MultiLayerNetwork",
    "ComputationGraph": "org.deeplearning4j.nn.graph.ComputationGraph",
    "ModelSerializer": "org.deeplearning4j.util.ModelSerializer",
    "WeightInit": "org.deeplearning4j.nn.weights.WeightInit",
    "NoOp": "org.nd4j.linalg.learning.config.NoOp",
    "DataType": "org.nd4j.linalg.api.buffer.DataType",
    "INDArray": "org.nd4j.linalg.api.ndarray.INDArray",
    "Nd4j": "org.nd4j.linalg.factory.Nd4j",
    "Dropout": "org.deeplearning4j.nn.conf.dropout.Dropout",
    "GradientNormalization": "org.deeplearning4j.nn.conf.GradientNormalization",
    "ComposableInputPreProcessor": "org.deeplearning4j.nn.conf.preprocessor.ComposableInputPreProcessor",
    "PoolingType": LAYERS + "PoolingType",
    "Cropping1D": LAYERS + "convolutional.Cropping1D",
    "Cropping2D": LAYERS + "convolutional.Cropping2D",
    "Cropping3D": LAYERS + "convolutional.Cropping3D",
    "LastTimeStep": LAYERS + "recurrent.LastTimeStep",
    "Bidirectional": LAYERS + "recurrent.Bidirectional",
    "TimeDistributed": LAYERS + "recurrent.TimeDistributed",
    "SimpleRnn": LAYERS + "recurrent.SimpleRnn",
    "RepeatVector": LAYERS + "misc.RepeatVector",
    "CnnToFeedForwardPreProcessor": "org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor",
    "PermutePreprocessor": "org.deeplearning4j.preprocessors.PermutePreprocessor",
    **{n: LAYERS + n for n in (
        "DenseLayer", "ConvolutionLayer", "Convolution1DLayer", "Convolution3D", "Deconvolution2D",
        "Deconvolution3D", "DepthwiseConvolution2D", "SeparableConvolution2D", "SubsamplingLayer",
        "Subsampling1DLayer", "Subsampling3DLayer", "GlobalPoolingLayer", "ZeroPaddingLayer", "ZeroPadding1DLayer",
        "ZeroPadding3DLayer", "Upsampling1D", "Upsampling2D", "Upsampling3D", "BatchNormalization",
        "EmbeddingSequenceLayer", "LSTM", "ActivationLayer", "DropoutLayer", "PReLULayer")},
    **{n: VERTICES + n for n in (
        "ElementWiseVertex", "MergeVertex", "ReshapeVertex", "ScaleVertex", "ShiftVertex", "PreprocessorVertex")},
}

# What the generated global configuration (and the builders) give every layer; a JSON property equal to
# one of these needs no call of its own.
_NO_OP = {"@class": "org.nd4j.linalg.learning.config.NoOp"}
_XAVIER = {"@class": "org.deeplearning4j.nn.weights.WeightInitXavier"}
_DEFAULTS: dict[str, Any] = {
    "iupdater": _NO_OP, "biasUpdater": None, "weightInitFn": _XAVIER, "biasInit": 0.0, "gainInit": 1.0,
    "regularization": [], "regularizationBias": [], "gradientNormalization": "None",
    "gradientNormalizationThreshold": 1.0, "constraints": None, "weightNoise": None, "idropout": None,
    "cudnnAlgoMode": "PREFER_FASTEST", "cudnnAllowFallback": True, "helperAllowFallback": True,
    "weightInitFnRecurrent": None,
}
_MISSING = object()

_JAVA_KEYWORDS = set("""abstract assert boolean break byte case catch char class const continue default do double else
enum extends final finally float for goto if implements import instanceof int interface long native new package private
protected public return short static strictfp super switch synchronized this throw throws transient try void volatile
while true false null var record yield sealed permits graph list net layer""".split())


# ----------------------------------------------------------------------------------------- literals


def _jstr(text: str) -> str:
    """A Java string literal (JSON escapes are Java escapes; non-ASCII as \\uXXXX)."""
    return json.dumps(str(text), ensure_ascii=True)


def _jnum(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -2**31 <= value < 2**31 else f"{value}L"
    if isinstance(value, float):
        if math.isnan(value):
            return "Double.NaN"
        if math.isinf(value):
            return "Double.POSITIVE_INFINITY" if value > 0 else "Double.NEGATIVE_INFINITY"
        return repr(value)  # shortest round-trip form: Java parses it to the same double
    raise ExportError("not a number", layer=where, received=repr(value))


def _jdouble(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportError("not a number", layer=where, received=repr(value))
    return _jnum(float(value), where)


def _jints(values: Iterable[Any], where: str) -> str:
    items = list(values)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise ExportError("expected a list of integers", layer=where, received=items)
    return ", ".join(_jnum(v, where) for v in items)


def _ascii(text: str) -> str:
    """Comment text in plain ASCII (javac's encoding on the user's machine is unknown)."""
    for a, b in (("→", "->"), ("←", "<-"), ("×", "x"), ("·", "*"), ("≥", ">="), ("≤", "<="), ("…", "..."),
                 ("—", "-"), ("–", "-"), ("²", "^2"), ("√", "sqrt"), ("σ", "sigma"), ("ε", "eps"),
                 ("γ", "gamma"),
                 ("β", "beta"), ("μ", "mu")):
        text = text.replace(a, b)
    text = text.replace("*/", "* /").replace("\\u", "\\ u")
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))


def _ident(name: str, used: set[str]) -> str:
    """A Java local variable name for a layer name (camelCase, unique, not a keyword)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    base = (parts[0][:1].lower() + parts[0][1:] + "".join(p[:1].upper() + p[1:] for p in parts[1:])) if parts else "v"
    if not base[0].isalpha():
        base = "v" + base
    if base in _JAVA_KEYWORDS:
        base += "Layer"
    ident, i = base, 2
    while ident in used:
        ident, i = f"{base}{i}", i + 1
    used.add(ident)
    return ident


# ----------------------------------------------------------------------------------------- layer properties


class _Props:
    """A layer/vertex JSON object being turned into Java: every property read is marked used, and
    :meth:`finish` refuses an unread property whose value is not what the builders give anyway."""

    def __init__(self, obj: Mapping[str, Any], layer: str, what: str) -> None:
        self.obj = obj
        self.layer = layer
        self.what = what
        self.used = {"@class"}

    @property
    def cls(self) -> str:
        return str(self.obj.get("@class", ""))

    def __getitem__(self, key: str) -> Any:
        if key not in self.obj:
            raise ExportError(f"{self.what} has no '{key}' property", layer=self.layer, expected=key,
                              received=sorted(self.obj))
        self.used.add(key)
        return self.obj[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.obj.get(key, default)

    def require(self, key: str, *allowed: Any) -> Any:
        """A property that must hold one of the values the builders produce (no call needed)."""
        value = self.get(key, allowed[0])
        if value not in allowed:
            raise ExportError(f"{self.what} property '{key}' = {value!r} is not written by the Java generator",
                              layer=self.layer, expected=list(allowed), received=value)
        return value

    def finish(self) -> None:
        for key, value in self.obj.items():
            if key in self.used:
                continue
            if key in _DEFAULTS and value == _DEFAULTS[key]:
                continue
            raise ExportError(f"{self.what} property '{key}' = {value!r} has no builder call in the Java "
                              "generator", layer=self.layer, expected=f"{key} = {_DEFAULTS.get(key, '(absent)')!r}",
                              received=value)


@dataclass
class _Chain:
    """``new X.Builder(args)`` followed by one call per line and ``.build()``."""

    head: str
    calls: list[str] = field(default_factory=list)
    tail: str = ".build()"
    post: list[str] = field(default_factory=list)  # statements on the built layer, "{var}" is its variable

    def add(self, call: str) -> "_Chain":
        self.calls.append(call)
        return self

    def render(self, indent: int) -> str:
        pad = "\n" + " " * (indent + 8)
        return self.head + "".join(pad + c for c in self.calls) + (pad + self.tail if self.tail else "")


@dataclass
class _Expr:
    """A Java expression for a layer, possibly with statements that must run first (wrappers, custom layers)."""

    code: Callable[[int], str]             # indent → expression text
    java_type: str = "Layer"
    setup: Callable[[str, int], list[str]] | None = None  # (variable, indent) → statements after the declaration


class _Writer:
    """Collects imports and turns layer/vertex/preprocessor JSON into Java expressions."""

    def __init__(self) -> None:
        self.imports: set[str] = set()
        self.depth = 0  # wrapper nesting of the layer being written

    def use(self, name: str) -> str:
        if name in _IMPORTS:
            self.imports.add(_IMPORTS[name])
        elif name.startswith("Activation") and name not in ("ActivationLayer",):
            self.imports.add(ACTIVATIONS + name)
        return name

    # -- small pieces ------------------------------------------------------------------------

    def enum(self, enum: str, value: Any, layer: str, allowed: Iterable[str]) -> str:
        allowed = tuple(allowed)
        if value not in allowed:
            raise ExportError(f"unknown {enum} value", layer=layer, expected=list(allowed), received=value)
        owner = enum.split(".")[0]
        self.use(owner)
        return f"{enum}.{value}"

    def cnn2d(self, value: Any, layer: str) -> str:
        return self.enum("CNN2DFormat", value, layer, ("NCHW", "NHWC"))

    def rnn(self, value: Any, layer: str) -> str:
        return self.enum("RNNFormat", value, layer, ("NCW", "NWC"))

    def conv3d_format(self, value: Any, layer: str) -> str:
        return self.enum("Convolution3D.DataFormat", value, layer, ("NCDHW", "NDHWC"))

    def conv_mode(self, value: Any, layer: str) -> str:
        return self.enum("ConvolutionMode", value, layer, ("Strict", "Truncate", "Same", "Causal"))

    def pooling(self, value: Any, layer: str) -> str:
        return self.enum("PoolingType", value, layer, ("MAX", "AVG", "SUM", "PNORM"))

    def weight_init(self, obj: Any, layer: str) -> str:
        """``new WeightInitX(...)`` for an IWeightInit JSON object (as ``mappers.initializers`` writes them)."""
        cls = str(obj.get("@class", "")) if isinstance(obj, Mapping) else ""
        if not cls.startswith(WEIGHTS):
            raise ExportError("unknown weight init", layer=layer, expected="an org.deeplearning4j weight init",
                              received=obj)
        name = cls[len(WEIGHTS):]
        self.imports.add(cls)
        if name == "WeightInitConstant":
            return f"new {name}({_jdouble(obj.get('value', 0.0), layer)})"
        if name == "WeightInitIdentity":
            return f"new {name}({_jdouble(obj.get('scale', 1.0), layer)})"
        if name.startswith("WeightInitVarScaling"):
            return f"new {name}({_jdouble(obj.get('scale', 1.0), layer)})"
        if name == "WeightInitDistribution":
            dist = obj.get("distribution") or {}
            kind = str(dist.get("type", "")).rsplit(".", 1)[-1]
            fields = {"NormalDistribution": ("mean", "std"), "TruncatedNormalDistribution": ("mean", "std"),
                      "UniformDistribution": ("lower", "upper")}.get(kind)
            if fields is None:
                raise ExportError("unknown weight-init distribution", layer=layer,
                                  expected="Normal, TruncatedNormal or Uniform", received=dist)
            self.imports.add(f"org.deeplearning4j.nn.conf.distribution.{kind}")
            args = ", ".join(_jdouble(dist.get(f, 0.0), layer) for f in fields)
            return f"new {name}(new {kind}({args}))"
        if len(obj) != 1:
            raise ExportError("weight init with settings the Java generator does not write", layer=layer,
                              received=obj)
        return f"new {name}()"

    def activation(self, obj: Any, layer: str) -> str:
        """``new ActivationX(...)`` for an IActivation JSON object."""
        if not isinstance(obj, Mapping) or not str(obj.get("@class", "")).startswith(ACTIVATIONS):
            raise ExportError("unknown activation", layer=layer, expected="an org.nd4j activation", received=obj)
        props = _Props(obj, layer, "activation")
        name = props.cls[len(ACTIVATIONS):]
        simple = ("ActivationIdentity", "ActivationSigmoid", "ActivationTanH", "ActivationSoftmax",
                  "ActivationSoftPlus",
                  "ActivationSoftSign", "ActivationSELU", "ActivationSwish", "ActivationMish", "ActivationReLU6",
                  "ActivationHardSigmoid", "ActivationHardTanH", "ActivationCube", "ActivationRationalTanh",
                  "ActivationRectifiedTanh")
        if name in simple:
            args = ""
        elif name == "ActivationReLU":
            values = [props.get(k) for k in ("max", "threshold", "negativeSlope")]
            args = "" if all(v is None for v in values) else ", ".join(
                "null" if v is None else _jdouble(v, layer) for v in values)  # (max, threshold, negativeSlope)
        elif name == "ActivationLReLU":
            args = _jdouble(props.get("alpha", 0.01), layer)
        elif name == "ActivationELU":
            args = _jdouble(props.get("alpha", 1.0), layer)
        elif name == "ActivationThresholdedReLU":
            args = _jdouble(props.get("theta", 1.0), layer)
        elif name == "ActivationRReLU":
            args = f"{_jdouble(props.get('l', 1 / 8), layer)}, {_jdouble(props.get('u', 1 / 3), layer)}"
        elif name == "ActivationGELU":
            args = _jnum(bool(props.get("precise", False)), layer)
        else:
            raise ExportError(f"activation {name} is not known to the Java generator", layer=layer,
                              expected="an activation without learned parameters", received=name)
        props.finish()
        return f"new {self.use(name)}({args})"

    def dropout(self, obj: Any, layer: str) -> str:
        if not isinstance(obj, Mapping) or obj.get("@class") != "org.deeplearning4j.nn.conf.dropout.Dropout":
            raise ExportError("dropout kind not known to the Java generator", layer=layer,
                              expected="org.deeplearning4j.nn.conf.dropout.Dropout", received=obj)
        props = _Props(obj, layer, "Dropout")
        p = props["p"]
        props.require("pSchedule", None)
        props.require("helperAllowFallback", True)
        props.finish()
        return f"new {self.use('Dropout')}({_jdouble(p, layer)})"

    def preprocessor(self, obj: Any, layer: str) -> str:
        cls = obj.get("@class") if isinstance(obj, Mapping) else None
        props = _Props(obj or {}, layer, "preprocessor")
        if cls == "org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor":
            args = ", ".join(_jnum(props[k], layer) for k in ("inputHeight", "inputWidth", "numChannels"))
            code = f"new {self.use('CnnToFeedForwardPreProcessor')}({args}, {self.cnn2d(props['format'], layer)})"
        elif cls == "org.deeplearning4j.preprocessors.PermutePreprocessor":
            code = f"new {self.use('PermutePreprocessor')}({_jints(props['permutationIndices'], layer)})"
            props.require("hasLeadingDimension", True)
        else:
            raise ExportError("preprocessor class not known to the Java generator", layer=layer,
                              expected="CnnToFeedForwardPreProcessor or PermutePreprocessor", received=cls)
        props.finish()
        return code

    # -- layers ------------------------------------------------------------------------------

    def layer(self, obj: Mapping[str, Any], name: str) -> _Expr:
        """The Java expression of one DL4J layer configuration."""
        cls = str(obj.get("@class", ""))
        if cls.startswith(GENERATED_PREFIX):
            return self._custom_layer(obj, name)
        short = cls[len(LAYERS):] if cls.startswith(LAYERS) else None
        fn = _LAYER_WRITERS.get(short or "")
        if fn is None:
            raise ExportError(f"layer class {cls or '(none)'} is not known to the Java generator", layer=name,
                              expected="one of " + ", ".join(sorted(_LAYER_WRITERS)), received=cls)
        props = _Props(obj, name, short.rsplit(".", 1)[-1])
        self.depth += 1
        try:
            expr = fn(self, props)
        finally:
            self.depth -= 1
        props.finish()
        if isinstance(expr, _Chain):
            chain, java_type = expr, short.rsplit(".", 1)[-1]
            setup = (lambda var, indent: [s.format(var=var) for s in chain.post]) if chain.post else None
            return _Expr(chain.render, java_type, setup)
        return expr

    def builder(self, p: _Props, cls: str, args: str = "", *, name: bool = True) -> _Chain:
        chain = _Chain(f"new {self.use(cls)}.Builder({args})")
        if name:
            chain.add(f".name({_jstr(p['layerName'])})")
        return chain

    def common(self, chain: _Chain, p: _Props, *, nin_nout: bool = True, act: bool = True) -> None:
        if nin_nout:
            chain.add(f".nIn({_jnum(p['nin'], p.layer)}).nOut({_jnum(p['nout'], p.layer)})")
        if act:
            chain.add(f".activation({self.activation(p['activationFn'], p.layer)})")
        init = p.get("weightInitFn", _XAVIER)
        if init != _XAVIER or self.depth > 2:
            chain.add(f".weightInit({self.weight_init(init or _XAVIER, p.layer)})")
        recurrent = p.get("weightInitFnRecurrent")
        if recurrent is not None:
            chain.add(f".weightInitRecurrent({self.weight_init(recurrent, p.layer)})")
        if self.depth > 2:
            # NB: the global configuration reaches a wrapper's layer but not a layer wrapped twice
            # (Bidirectional(LastTimeStep(LSTM))): DL4J would leave its weight init null and fail in init().
            chain.add(f".updater(new {self.use('NoOp')}()).biasInit(0.0).gainInit(1.0)")
            chain.add(f".gradientNormalization({self.use('GradientNormalization')}.None)"
                      f".gradientNormalizationThreshold(1.0)")
        drop = p.get("idropout")
        if drop is not None:
            chain.add(f".dropOut({self.dropout(drop, p.layer)})")

    def conv_fields(self, chain: _Chain, p: _Props, rank: int) -> None:
        for key in ("kernelSize", "stride", "padding", "dilation"):
            values = list(p[key])
            if len(values) != rank:
                raise ExportError(f"{key} has {len(values)} values", layer=p.layer, expected=rank, received=values)
            chain.add(f".{key}({_jints(values, p.layer)})")
        chain.add(f".convolutionMode({self.conv_mode(p['convolutionMode'], p.layer)})")

    def _custom_layer(self, obj: Mapping[str, Any], name: str) -> _Expr:
        """A generated layer class: no-arg constructor, then one setter per JSON property."""
        cls = str(obj["@class"])
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", cls):
            raise ExportError("not a Java class name", layer=name, received=cls)
        statements: list[str] = []
        for key, value in obj.items():
            if key == "@class" or (key in _DEFAULTS and value == _DEFAULTS[key]) or value is None:
                continue
            if key in _GENERATED_TRAINING_FIELDS:
                continue  # training-only settings of the SameDiff base class: the constructor's defaults do
            if key in _GENERATED_LONG_ARRAYS:
                statements.append(f"set{key[:1].upper() + key[1:]}({_jlong_array(value, key, name)})")
                continue
            setter = "set" + {"nin": "NIn", "nout": "NOut"}.get(key, key[:1].upper() + key[1:])
            statements.append(f"{setter}({self._custom_value(key, value, name)})")
        return _Expr(lambda indent: f"new {cls}()", cls,
                     lambda var, indent: [f"{var}.{s};" for s in statements])

    def _custom_value(self, key: str, value: Any, layer: str) -> str:
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "new String[] {" + ", ".join(_jstr(v) for v in value) + "}"
        if isinstance(value, Mapping) and str(value.get("@class", "")).startswith(ACTIVATIONS):
            return self.activation(value, layer)
        if isinstance(value, Mapping) and value.get("@class") == "org.deeplearning4j.nn.conf.dropout.Dropout":
            return self.dropout(value, layer)
        enums = {"rnnDataFormat": ("RNNFormat", ("NCW", "NWC")), "cnn2dDataFormat": ("CNN2DFormat", ("NCHW", "NHWC")),
                 "convolutionMode": ("ConvolutionMode", ("Strict", "Truncate", "Same", "Causal")),
                 "poolingType": ("PoolingType", ("MAX", "AVG", "SUM", "PNORM"))}
        if key in enums and isinstance(value, str):
            return self.enum(enums[key][0], value, layer, enums[key][1])
        if isinstance(value, (bool, int, float)):
            return _jnum(value, layer)
        if isinstance(value, str):
            return _jstr(value)
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return f"new int[] {{{_jints(value, layer)}}}"
        if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return "new double[] {" + ", ".join(_jdouble(v, layer) for v in value) + "}"
        raise ExportError(f"property '{key}' of a generated layer has no Java literal form", layer=layer,
                          expected="a number, string, list of numbers or activation", received=value)

    # -- vertices ----------------------------------------------------------------------------

    def vertex(self, obj: Mapping[str, Any], name: str) -> _Expr:
        cls = str(obj.get("@class", ""))
        short = cls[len(VERTICES):] if cls.startswith(VERTICES) else cls
        p = _Props(obj, name, short or "vertex")
        if short == "ElementWiseVertex":
            op = self.enum("ElementWiseVertex.Op", p["op"], name, ("Add", "Subtract", "Product", "Average", "Max"))
            expr = _Expr(lambda indent: f"new {self.use('ElementWiseVertex')}({op})", "ElementWiseVertex")
        elif short == "MergeVertex":
            axis = _jnum(p["mergeAxis"], name)
            p.require("modified", False)
            expr = _Expr(lambda indent: f"new {self.use('MergeVertex')}()", "MergeVertex",
                         lambda var, indent: [f"{var}.setMergeAxis({axis});"])
        elif short == "ReshapeVertex":
            order = p["reshapeOrder"]
            if order not in ("c", "f"):
                raise ExportError("unknown reshape order", layer=name, expected="c or f", received=order)
            shape = _jints(p["newShape"], name)
            mask = p.get("maskShape")
            mask_code = "null" if mask is None else f"new int[] {{{_jints(mask, name)}}}"
            code = f"new {self.use('ReshapeVertex')}('{order}', new int[] {{{shape}}}, {mask_code})"
            expr = _Expr(lambda indent: code, "ReshapeVertex")
        elif short == "ScaleVertex":
            factor = _jdouble(p["scaleFactor"], name)
            expr = _Expr(lambda indent: f"new {self.use('ScaleVertex')}({factor})", "ScaleVertex")
        elif short == "ShiftVertex":
            factor = _jdouble(p["shiftFactor"], name)
            expr = _Expr(lambda indent: f"new {self.use('ShiftVertex')}({factor})", "ShiftVertex")
        elif short == "PreprocessorVertex":
            pre = self.preprocessor(p["preProcessor"], name)
            expr = _Expr(lambda indent: f"new {self.use('PreprocessorVertex')}({pre})", "PreprocessorVertex")
        else:
            raise ExportError(f"vertex class {cls or '(none)'} is not known to the Java generator", layer=name,
                              expected="ElementWiseVertex, MergeVertex, ReshapeVertex, ScaleVertex, ShiftVertex or "
                              "PreprocessorVertex", received=cls)
        p.finish()
        return expr


# ----------------------------------------------------------------------------------------- one writer per class


def _dense(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "DenseLayer")
    w.common(c, p)
    c.add(f".hasBias({_jnum(bool(p.get('hasBias', True)), p.layer)})")
    c.add(f".hasLayerNorm({_jnum(bool(p.get('hasLayerNorm', False)), p.layer)})")
    return c


def _conv2d_like(cls: str, *, depth_multiplier: bool = False) -> Callable[[_Writer, _Props], _Chain]:
    def write(w: _Writer, p: _Props) -> _Chain:
        c = w.builder(p, cls)
        w.common(c, p)
        w.conv_fields(c, p, 2)
        if depth_multiplier:
            c.add(f".depthMultiplier({_jnum(p['depthMultiplier'], p.layer)})")
        c.add(f".dataFormat({w.cnn2d(p['cnn2dDataFormat'], p.layer)})")
        c.add(f".hasBias({_jnum(bool(p.get('hasBias', True)), p.layer)})")
        return c
    return write


def _conv1d(w: _Writer, p: _Props) -> _Chain:
    # NB: DL4J writes 1-D sizes as pairs [k, k] and uses the first; the 1-D builder takes one int.
    c = w.builder(p, "Convolution1DLayer")
    w.common(c, p)
    for key in ("kernelSize", "stride", "padding", "dilation"):
        values = list(p[key])
        if not values or any(v != values[0] for v in values):
            raise ExportError(f"Convolution1DLayer {key} must repeat one value", layer=p.layer,
                              expected="[k, k]", received=values)
        c.add(f".{key}({_jnum(values[0], p.layer)})")
    c.add(f".convolutionMode({w.conv_mode(p['convolutionMode'], p.layer)})")
    c.add(f".rnnDataFormat({w.rnn(p['rnnDataFormat'], p.layer)})")
    c.add(f".hasBias({_jnum(bool(p.get('hasBias', True)), p.layer)})")
    p.require("cnn2dDataFormat", "NCHW")
    return c


def _conv3d(cls: str) -> Callable[[_Writer, _Props], _Chain]:
    def write(w: _Writer, p: _Props) -> _Chain:
        c = w.builder(p, cls)
        w.common(c, p)
        w.conv_fields(c, p, 3)
        if cls == "Convolution3D" and p.get("mode", p.obj.get("convolutionMode")) != p.obj.get("convolutionMode"):
            raise ExportError("Convolution3D 'mode' differs from 'convolutionMode'", layer=p.layer,
                              expected=p.obj.get("convolutionMode"), received=p.obj.get("mode"))
        c.add(f".dataFormat({w.conv3d_format(p['dataFormat'], p.layer)})")
        c.add(f".hasBias({_jnum(bool(p.get('hasBias', True)), p.layer)})")
        p.require("cnn2dDataFormat", "NCHW")
        return c
    return write


def _subsampling(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "SubsamplingLayer", w.pooling(p["poolingType"], p.layer))
    w.conv_fields(c, p, 2)
    c.add(f".dataFormat({w.cnn2d(p['cnn2dDataFormat'], p.layer)})")
    _pooling_extras(w, c, p)
    return c


def _subsampling1d(w: _Writer, p: _Props) -> _Chain:
    # JSON sizes are [k, 1]: the 1-D layer pools a [b, steps, C, 1] (NWC, read NHWC) or [b, C, steps, 1]
    # (NCW, read NCHW) array with the 2-D code.
    # NB: Subsampling1DLayer.Builder(PoolingType, ...) drops its pooling type (MAX stays), and stride(s) /
    #     padding(p) store [s, s] / [p, p] where kernelSize(k) stores [k, 1]; a stride over the width of an
    #     NWC input pools the channels. So: poolingType(...) explicitly, and the stride set on the layer.
    c = w.builder(p, "Subsampling1DLayer")
    c.add(f".poolingType({w.pooling(p['poolingType'], p.layer)})")
    sizes = {}
    for key in ("kernelSize", "stride", "padding", "dilation"):
        values = list(p[key])
        fill = 0 if key == "padding" else 1
        if len(values) != 2 or values[1] != fill:
            raise ExportError(f"Subsampling1DLayer {key} must be [n, {fill}]", layer=p.layer, received=values)
        sizes[key] = values
    if sizes["dilation"] != [1, 1] or sizes["padding"] != [0, 0]:
        raise ExportError("Subsampling1DLayer dilation/padding other than none has no exact builder call",
                          layer=p.layer, expected="dilation [1, 1], padding [0, 0]",
                          received=(sizes["dilation"], sizes["padding"]))
    c.add(f".kernelSize({_jnum(sizes['kernelSize'][0], p.layer)})")
    c.add(f".convolutionMode({w.conv_mode(p['convolutionMode'], p.layer)})")
    c.post.append(f"{{var}}.setStride(new int[] {{{{{_jints(sizes['stride'], p.layer)}}}}});  "
                  "// NB: the builder's stride(s) would store [s, s]")
    c.add(f".dataFormat({w.cnn2d(p['cnn2dDataFormat'], p.layer)})")
    _pooling_extras(w, c, p)
    return c


def _pooling_extras(w: _Writer, c: _Chain, p: _Props) -> None:
    c.add(f".avgPoolIncludePadInDivisor({_jnum(bool(p['avgPoolIncludePadInDivisor']), p.layer)})")
    if p.obj.get("poolingType") == "PNORM":
        c.add(f".pnorm({_jnum(p['pnorm'], p.layer)}).eps({_jdouble(p['eps'], p.layer)})")
    else:
        p.get("pnorm")  # unused by MAX/AVG/SUM pooling
        p.get("eps")


def _subsampling3d(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "Subsampling3DLayer", w.pooling(p["poolingType"], p.layer))
    for key in ("kernelSize", "stride", "padding"):
        c.add(f".{key}({_jints(p[key], p.layer)})")
    c.add(f".dilation({_jints(p['dilation'], p.layer)})")
    c.add(f".convolutionMode({w.conv_mode(p['convolutionMode'], p.layer)})")
    c.add(f".dataFormat({w.conv3d_format(p['dataFormat'], p.layer)})")
    return c


def _global_pooling(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "GlobalPoolingLayer", w.pooling(p["poolingType"], p.layer))
    dims = p.get("poolingDimensions")
    if dims is not None:
        c.add(f".poolingDimensions({_jints(dims, p.layer)})")
    c.add(f".collapseDimensions({_jnum(bool(p['collapseDimensions']), p.layer)})")
    c.add(f".pnorm({_jnum(p['pnorm'], p.layer)})")
    return c


def _padding_like(cls: str, key: str, counts: tuple[int, ...],
                  fmt_key: str | None) -> Callable[[_Writer, _Props], _Chain]:
    def write(w: _Writer, p: _Props) -> _Chain:
        values = list(p[key])
        if len(values) not in counts:
            raise ExportError(f"{cls} {key} has {len(values)} values", layer=p.layer, expected=counts, received=values)
        c = w.builder(p, cls, _jints(values, p.layer))
        if fmt_key is not None:
            c.add(f".dataFormat({w.cnn2d(p[fmt_key], p.layer)})")
        return c
    return write


def _upsampling(rank: int) -> Callable[[_Writer, _Props], _Chain]:
    def write(w: _Writer, p: _Props) -> _Chain:
        cls = f"Upsampling{rank}D"
        size = list(p["size"])
        c = w.builder(p, cls)
        c.add(f".size(new int[] {{{_jints(size, p.layer)}}})")
        if rank == 2:
            c.add(f".dataFormat({w.cnn2d(p['format'], p.layer)})")
        elif rank == 3:
            c.add(f".dataFormat({w.conv3d_format(p['dataFormat'], p.layer)})")
        return c
    return write


def _batch_norm(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "BatchNormalization")
    w.common(c, p)
    c.add(f".eps({_jdouble(p['eps'], p.layer)}).decay({_jdouble(p['decay'], p.layer)})")
    lock = bool(p["lockGammaBeta"])
    c.add(f".lockGammaBeta({_jnum(lock, p.layer)})")
    if lock:
        c.add(f".gamma({_jdouble(p['gamma'], p.layer)}).beta({_jdouble(p['beta'], p.layer)})")
    else:
        p.get("gamma")  # used only with lockGammaBeta
        p.get("beta")
    c.add(f".minibatch({_jnum(bool(p['minibatch']), p.layer)})")
    c.add(f".useLogStd({_jnum(bool(p['useLogStd']), p.layer)})  // NB: the builder's default is true")
    c.add(f".dataFormat({w.cnn2d(p['cnn2DFormat'], p.layer)})")
    return c


def _embedding_sequence(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "EmbeddingSequenceLayer")
    w.common(c, p)
    c.add(f".hasBias({_jnum(bool(p['hasBias']), p.layer)})")
    c.add(f".inputLength({_jnum(p['inputLength'], p.layer)}).inferInputLength("
          f"{_jnum(bool(p['inferInputLength']), p.layer)})")
    c.add(f".outputDataFormat({w.rnn(p['outputFormat'], p.layer)})")
    return c


def _lstm(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "LSTM")
    w.common(c, p)
    c.add(f".gateActivationFunction({w.activation(p['gateActivationFn'], p.layer)})")
    c.add(f".forgetGateBiasInit({_jdouble(p['forgetGateBiasInit'], p.layer)})")
    c.add(f".dataFormat({w.rnn(p['rnnDataFormat'], p.layer)})")
    return c


def _simple_rnn(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "SimpleRnn")
    w.common(c, p)
    c.add(f".hasLayerNorm({_jnum(bool(p.get('hasLayerNorm', False)), p.layer)})")
    c.add(f".dataFormat({w.rnn(p['rnnDataFormat'], p.layer)})")
    return c


def _activation_layer(w: _Writer, p: _Props) -> _Chain:
    c = w.builder(p, "ActivationLayer")
    c.add(f".activation({w.activation(p['activationFn'], p.layer)})")
    return c


def _dropout_layer(w: _Writer, p: _Props) -> _Chain:
    drop = p.get("idropout")
    c = w.builder(p, "DropoutLayer", "" if drop is None else w.dropout(drop, p.layer))
    c.add(f".nIn({_jnum(p['nin'], p.layer)}).nOut({_jnum(p['nout'], p.layer)})")
    act = p.get("activationFn")
    if act is not None:
        c.add(f".activation({w.activation(act, p.layer)})")
    return c


def _prelu(w: _Writer, p: _Props) -> _Chain:
    # NB: the builder ignores nIn/nOut (PReLU's size is its inputShape) and initialises alpha with
    # WeightInitConstant(0) unless told otherwise.
    c = w.builder(p, "PReLULayer")
    p.get("nin")
    p.get("nout")
    w.common(c, p, nin_nout=False)
    c.add(f".weightInit({w.use('WeightInit')}.XAVIER)")
    c.add(f".inputShape({_jints(p['inputShape'], p.layer)})")
    shared = p.get("sharedAxes")
    if shared:
        c.add(f".sharedAxes({_jints(shared, p.layer)})")
    return c


def _repeat_vector(w: _Writer, p: _Props) -> _Chain:
    # RepeatVector.Builder<T> is generic and its dataFormat() returns the raw type: diamond, and dataFormat last.
    c = w.builder(p, "RepeatVector", _jnum(p["n"], p.layer))
    c.head = c.head.replace(".Builder(", ".Builder<>(")
    w.common(c, p)
    c.add(f".dataFormat({w.rnn(p['dataFormat'], p.layer)})")
    return c


def _wrapped(w: _Writer, p: _Props, key: str) -> _Expr:
    inner = p[key]
    if not isinstance(inner, Mapping):
        raise ExportError(f"wrapper layer without its '{key}' layer", layer=p.layer, received=inner)
    return w.layer(inner, p.layer)


def _set_name(p: _Props) -> Callable[[str, int], list[str]]:
    name = _jstr(p["layerName"])
    return lambda var, indent: [f"{var}.setLayerName({name});  // wrappers have no builder name"]


def _last_time_step(w: _Writer, p: _Props) -> _Expr:
    inner = _wrapped(w, p, "underlying")
    _no_inner_setup(inner, p.layer)
    return _Expr(lambda indent: f"new {w.use('LastTimeStep')}({inner.code(indent)})", "LastTimeStep", _set_name(p))


def _time_distributed(w: _Writer, p: _Props) -> _Expr:
    inner = _wrapped(w, p, "underlying")
    _no_inner_setup(inner, p.layer)
    fmt = w.rnn(p["rnnDataFormat"], p.layer)
    return _Expr(lambda indent: f"new {w.use('TimeDistributed')}({inner.code(indent)}, {fmt})", "TimeDistributed",
                 _set_name(p))


def _bidirectional(w: _Writer, p: _Props) -> _Expr:
    # Bidirectional(mode, layer) copies `layer` for the backward direction; a different backward
    # configuration is set explicitly.
    mode = w.enum("Bidirectional.Mode", p["mode"], p.layer, ("ADD", "MUL", "AVERAGE", "CONCAT"))
    fwd, bwd = p["fwd"], p["bwd"]
    inner = w.layer(fwd, p.layer)
    _no_inner_setup(inner, p.layer, named_by_outer=True)
    other = None if bwd == fwd else w.layer(bwd, p.layer)
    if other is not None:
        _no_inner_setup(other, p.layer, named_by_outer=True)
    set_name = _set_name(p)

    def setup(var: str, indent: int) -> list[str]:
        lines = set_name(var, indent)
        if other is not None:
            lines.append(f"{var}.setBwd({other.code(indent)});  // the backward layer differs from the forward one")
        return lines
    return _Expr(lambda indent: f"new {w.use('Bidirectional')}({mode}, {inner.code(indent)})", "Bidirectional", setup)


def _no_inner_setup(expr: _Expr, layer: str, *, named_by_outer: bool = False) -> None:
    """Refuse an inner layer that needs statements of its own (a generated layer, a nested wrapper).

    ``named_by_outer``: the outer layer names it (``Bidirectional.setLayerName`` names fwd and bwd), so a
    wrapper inside needs no ``setLayerName`` of its own.
    """
    if expr.setup is None:
        return
    if named_by_outer and expr.java_type in ("LastTimeStep", "TimeDistributed"):
        return
    what = "a generated layer" if "." in expr.java_type else f"a {expr.java_type} wrapper"
    raise ExportError(f"{what} inside a wrapper layer is not supported by the Java generator", layer=layer,
                      expected="a DL4J layer (or LastTimeStep inside Bidirectional)", received=expr.java_type)


_LAYER_WRITERS: dict[str, Callable[[_Writer, _Props], Any]] = {
    "DenseLayer": _dense,
    "ConvolutionLayer": _conv2d_like("ConvolutionLayer"),
    "Deconvolution2D": _conv2d_like("Deconvolution2D"),
    "DepthwiseConvolution2D": _conv2d_like("DepthwiseConvolution2D", depth_multiplier=True),
    "SeparableConvolution2D": _conv2d_like("SeparableConvolution2D", depth_multiplier=True),
    "Convolution1DLayer": _conv1d,
    "Convolution3D": _conv3d("Convolution3D"),
    "Deconvolution3D": _conv3d("Deconvolution3D"),
    "SubsamplingLayer": _subsampling,
    "Subsampling1DLayer": _subsampling1d,
    "Subsampling3DLayer": _subsampling3d,
    "GlobalPoolingLayer": _global_pooling,
    "ZeroPaddingLayer": _padding_like("ZeroPaddingLayer", "padding", (4,), "dataFormat"),
    "ZeroPadding1DLayer": _padding_like("ZeroPadding1DLayer", "padding", (2,), None),
    "ZeroPadding3DLayer": _padding_like("ZeroPadding3DLayer", "padding", (6,), None),
    "convolutional.Cropping1D": _padding_like("Cropping1D", "cropping", (2,), None),
    "convolutional.Cropping2D": _padding_like("Cropping2D", "cropping", (4,), "dataFormat"),
    "convolutional.Cropping3D": _padding_like("Cropping3D", "cropping", (6,), None),
    "Upsampling1D": _upsampling(1),
    "Upsampling2D": _upsampling(2),
    "Upsampling3D": _upsampling(3),
    "BatchNormalization": _batch_norm,
    "EmbeddingSequenceLayer": _embedding_sequence,
    "LSTM": _lstm,
    "recurrent.SimpleRnn": _simple_rnn,
    "recurrent.LastTimeStep": _last_time_step,
    "recurrent.TimeDistributed": _time_distributed,
    "recurrent.Bidirectional": _bidirectional,
    "ActivationLayer": _activation_layer,
    "DropoutLayer": _dropout_layer,
    "PReLULayer": _prelu,
    "misc.RepeatVector": _repeat_vector,
}


# ----------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ParamFile:
    """One parameter as the generated ``build`` reads it.

    Attributes:
        layer: the DL4J layer name (``net.getLayer(layer)``).
        key: the parameter key (``W``, ``b``, ``RW``, ``fW``...).
        file: the ``.npy`` file name inside the param folder.
        value: float32, in the shape (and logical layout) of DL4J's ``getParam(key)``.
    """

    layer: str
    key: str
    file: str
    value: np.ndarray = field(repr=False)


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def param_files(conv: Conversion) -> list[ParamFile]:
    """Every parameter in DL4J's order, each in the shape of DL4J's parameter view.

    The value is the view DL4J puts over this parameter's slice of the flat vector (the slice the zip
    export writes), so ``setParam`` gives DL4J exactly the zip's parameters. For most parameters that is
    the mapped value itself; it differs where DL4J declares one shape and reads another (Conv1D's W is
    declared ``[C_out, C_in, k, 1]`` but read as ``[k, C_in, C_out]``).
    """
    from workbench.check.reference import layer_param_specs

    out: list[ParamFile] = []
    taken: set[str] = set()
    for node in conv.nodes:
        if not node.mapped.params:
            continue
        try:
            specs = {s.key: s for s in layer_param_specs(node.mapped.layer or {}, name=node.name)}
        except WorkbenchError:
            specs = {}  # e.g. a generated layer: its params go in as mapped
        for p in node.mapped.params:
            spec = specs.get(p.key)
            flat = p.flat()
            if spec is not None and spec.size == flat.size:
                value = np.reshape(flat, spec.shape, order=spec.order.upper())
            else:
                value = np.asarray(p.value, dtype=np.float32)
            stem = f"{_file_stem(node.name)}__{_file_stem(p.key)}"
            file, i = f"{stem}.npy", 2
            while file.lower() in taken:  # names that differ only in characters replaced above (or in case)
                file, i = f"{stem}~{i}.npy", i + 1
            taken.add(file.lower())
            out.append(ParamFile(node.name, p.key, file, np.ascontiguousarray(value, dtype=np.float32)))
    return out


# ----------------------------------------------------------------------------------------- the Java class


def _param_comment(p, file_shape: tuple[int, ...] | None) -> str:
    """``W [nIn, nOut] <- Keras 'kernel' [..], <step>: <what it does>`` for one parameter."""
    steps = p.trace.steps
    first = steps[0]
    parts = [f"Keras '{p.trace.source}' {list(first.shape)}" if first.name == "keras" else first.doc]
    for step in steps[1:]:
        parts.append(f"as is ({step.doc})" if step.name == "as_is" else f"{step.name}: {step.doc}")
    text = f"{p.key} {list(steps[-1].shape)} <- " + ", then ".join(parts)
    if file_shape is not None and tuple(file_shape) != tuple(steps[-1].shape):
        text += f" (the .npy holds the same buffer in DL4J's declared shape {list(file_shape)})"
    return text


def _node_comments(node: Node, file_shapes: Mapping[tuple[str, str], tuple[int, ...]]) -> list[str]:
    m = node.mapped
    target = (m.layer or m.vertex or {}).get("@class", "?").rsplit(".", 1)[-1]
    inner = (m.layer or {}).get("underlying") or (m.layer or {}).get("fwd")
    if isinstance(inner, Mapping):
        target += f"({str(inner.get('@class', '?')).rsplit('.', 1)[-1]})"
    if m.keras_class == "(copy)":
        head = f"'{node.name}': a copy of '{node.inputs[0]}' ({target})"
    else:
        head = f"'{node.name}': Keras {m.keras_class} '{m.keras_name}' -> {target}"
    lines = [_ascii(head)]
    lines += ["  " + _ascii(_param_comment(p, file_shapes.get((node.name, p.key)))) for p in m.params]
    lines += ["  NB: " + _ascii(n) for n in m.notes]
    return lines


def _check_java_name(value: str, what: str, pattern: str) -> None:
    if not re.fullmatch(pattern, value) or value.split(".")[-1] in _JAVA_KEYWORDS:
        raise ExportError(f"not a valid Java {what}", expected="letters, digits and _", received=value)


def model_java_source(conv: Conversion, *, class_name: str = "ConvertedModel",
                      package: str = "workbench.generated") -> str:
    """The Java source of the whole model (see the module docstring for what it contains).

    Args:
        conv: the conversion (``Session.conversion``).
        class_name: the Java class name.
        package: its package ("" for none).

    Raises:
        ExportError: a layer, vertex, preprocessor or property the generator cannot write exactly
            (the error names the layer and the class).
    """
    _check_java_name(class_name, "class name", r"[A-Za-z_][A-Za-z0-9_]*")
    if package:
        _check_java_name(package, "package name", r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
    w = _Writer()
    chain = conv.is_chain
    net_type = "MultiLayerNetwork" if chain else "ComputationGraph"
    conf_type = "MultiLayerConfiguration" if chain else "ComputationGraphConfiguration"
    for name in (net_type, conf_type, "NeuralNetConfiguration", "ModelSerializer", "WeightInit", "NoOp", "DataType",
                 "INDArray", "Nd4j"):
        w.use(name)
    if not conv.nodes:
        raise ExportError("the model has no DL4J layers", file=conv.model.path)

    body: list[str] = []
    b = body.append
    used_idents: set[str] = {"builder", "list", "graph", "net", "conf", "paramDir", "args"}
    base = ("new NeuralNetConfiguration.Builder()\n"
            "                .seed(0)\n"
            "                .dataType(DataType.FLOAT)\n"
            "                .updater(new NoOp())             // inference only: no training state\n"
            "                .weightInit(WeightInit.XAVIER)   // placeholders: build() sets the Keras weights\n")
    # MultiLayerConfiguration.Builder.build() guesses an input type only for these first layers
    # (DenseLayer, EmbeddingLayer, OutputLayer or a BaseRecurrentLayer; a generated class may extend one).
    first = str((conv.nodes[0].mapped.layer or {}).get("@class", ""))
    guesses = first in (LAYERS + "DenseLayer", LAYERS + "LSTM", LAYERS + "recurrent.SimpleRnn") \
        or first.startswith(GENERATED_PREFIX)
    blocker = chain and guesses and conv.nodes[0].mapped.preprocessor is None
    if chain:
        b("        NeuralNetConfiguration.ListBuilder list = " + base +
          "                .list();")
        if blocker:
            w.use("ComposableInputPreProcessor")
            b("        // NB: with no preprocessor on layer 0, MultiLayerConfiguration.Builder.build() guesses an")
            b("        // input type from a Dense/Embedding/recurrent first layer, then adds the preprocessors it")
            b("        // thinks are missing and rewrites nIn (overrideNinUponBuild defaults to true) and data")
            b("        // formats to fit the guess. An empty ComposableInputPreProcessor (the identity) stops it;")
            b("        // it is removed after build().")
            b("        list.inputPreProcessor(0, new ComposableInputPreProcessor());")
    else:
        inputs = ", ".join(_jstr(n) for n, _ in conv.inputs)
        w.use("ComputationGraphConfiguration")
        b("        ComputationGraphConfiguration.GraphBuilder graph = " + base +
          "                .graphBuilder()\n"
          f"                .addInputs({inputs});\n")
    files = param_files(conv)
    file_shapes = {(pf.layer, pf.key): pf.value.shape for pf in files}
    for index, node in enumerate(conv.nodes):
        m = node.mapped
        b("")
        for line in _node_comments(node, file_shapes):
            indent = " " * (len(line) - len(line.lstrip()) + 4)
            for part in textwrap.wrap(line, width=108, subsequent_indent=indent, break_on_hyphens=False,
                                      break_long_words=False):
                b(f"        // {part}")
        sources = ", ".join(_jstr(s) for s in node.inputs)
        if m.layer is not None:
            expr = w.layer(m.layer, node.name)
        elif m.vertex is not None:
            expr = w.vertex(m.vertex, node.name)
        else:
            raise ExportError("a node with neither a layer nor a vertex", layer=node.name)
        pre = w.preprocessor(m.preprocessor, node.name) if m.preprocessor is not None else None
        if expr.setup is not None:
            var = _ident(node.name, used_idents)
            b(f"        {w.use(expr.java_type) if '.' not in expr.java_type else expr.java_type} {var} = "
              f"{expr.code(8)};")
            for line in expr.setup(var, 8):
                b(f"        {line}")
            value = var
        else:
            value = expr.code(8)
        if chain:
            if m.vertex is not None:
                raise ExportError("a vertex in a MultiLayerNetwork", layer=node.name)
            b(f"        list.layer({index}, {value});")
            if pre is not None:
                b(f"        list.inputPreProcessor({index}, {pre});")
        elif m.layer is not None:
            pre_arg = f"{pre}, " if pre is not None else ""
            b(f"        graph.addLayer({_jstr(node.name)}, {value}, {pre_arg}{sources});")
        else:
            b(f"        graph.addVertex({_jstr(node.name)}, {value}, {sources});")
    b("")
    if chain:
        b("        MultiLayerConfiguration conf = list.build();")
        if blocker:
            b("        conf.getInputPreProcessors().remove(0);")
        b("        return conf;")
    else:
        b(f"        graph.setOutputs({', '.join(_jstr(o) for o in conv.outputs)});")
        b("        return graph.build();")

    loads: list[str] = []
    var = "net" if chain else "graph"
    for pf in files:
        loads.append(f"        load({var}.getLayer({_jstr(pf.layer)}), {_jstr(pf.layer)}, {_jstr(pf.key)}, "
                     f"paramDir.resolve({_jstr(pf.file)}));")
    n_params = sum(pf.value.size for pf in files)
    imports = sorted(w.imports | {"java.io.File", "java.io.FileNotFoundException", "java.io.IOException",
                                  "java.nio.file.Files", "java.nio.file.Path", "java.nio.file.Paths",
                                  "java.util.Arrays"})
    java_imports = [i for i in imports if i.startswith("java.")]
    other_imports = [i for i in imports if not i.startswith("java.")]
    model = conv.model
    qualified = f"{package}.{class_name}" if package else class_name
    fmt = conv.options.cnn_format
    out: list[str] = []
    o = out.append
    o(f"// Generated by keras-dl4j-workbench from {_ascii(os.path.basename(model.path))} "
      f"(Keras {_ascii(model.keras_version)}); DL4J {DL4J_VERSION}.")
    o("// Regenerate rather than edit: the weights in params/ are laid out for exactly this configuration.")
    if package:
        o(f"package {package};")
    o("")
    o("\n".join(f"import {i};" for i in java_imports))
    o("")
    o("\n".join(f"import {i};" for i in other_imports))
    o("")
    o("/**")
    o(f" * The Keras model {_ascii(model.name)!s} as a DL4J {net_type}: {len(conv.nodes)} layers/vertices,")
    o(f" * {n_params} parameters, convolutions in {fmt} and sequences in {conv.options.rnn_format}.")
    o(" *")
    described = [f"'{n}' {list(a.keras_shape)}" + (f" in {a.dl4j_format}" if a.dl4j_format else "")
                 for n, a in conv.inputs]
    o(" * <p>Inputs: " + _ascii(", ".join(described)) + " (Keras shapes without the batch).")
    o(f" * Outputs: {_ascii(', '.join(conv.outputs))}.")
    o(" *")
    o(f" * <pre>  java -cp CLASSPATH {qualified} PARAM_DIR OUT.zip</pre>")
    o(" * builds the network from the .npy files in PARAM_DIR and saves it with ModelSerializer.")
    o(" */")
    o(f"public final class {class_name} {{")
    o("")
    o(f"    /** Parameters the network holds: {n_params}. */")
    o(f"    public static final long NUM_PARAMS = {n_params}L;")
    o("")
    o(f"    private {class_name}() {{")
    o("    }")
    o("")
    o("    /** The network configuration: one builder call per Keras layer, every property explicit. */")
    o(f"    public static {conf_type} configuration() {{")
    out.extend(body)
    o("    }")
    o("")
    o("    /**")
    o("     * The network with the Keras weights: {@code init()}, then every parameter from")
    o("     * {@code <paramDir>/<layer>__<key>.npy} (float32, in the shape of DL4J's parameter), shape-checked.")
    o("     */")
    o(f"    public static {net_type} build(Path paramDir) throws IOException {{")
    o(f"        {net_type} {var} = new {net_type}(configuration());")
    o(f"        {var}.init();")
    out.extend(loads)
    o(f"        if ({var}.numParams() != NUM_PARAMS) {{")
    o(f"            throw new IllegalStateException(\"the network has \" + {var}.numParams() + \" parameters, \"")
    o("                    + NUM_PARAMS + \" were loaded from \" + paramDir);")
    o("        }")
    o(f"        return {var};")
    o("    }")
    o("")
    o("    /** Sets one parameter from a .npy file, refusing a file of another shape. */")
    o("    private static void load(org.deeplearning4j.nn.api.Layer layer, String layerName, String key, Path file)")
    o("            throws IOException {")
    o("        if (!Files.isRegularFile(file)) {")
    o("            throw new FileNotFoundException(file + \": missing parameter '\" + key + \"' of layer '\"")
    o("                    + layerName + \"'\");")
    o("        }")
    o("        INDArray current = layer.getParam(key);")
    o("        if (current == null) {")
    o("            throw new IllegalStateException(\"layer '\" + layerName + \"' has no parameter '\" + key + \"'\");")
    o("        }")
    o("        INDArray value = Nd4j.createFromNpyFile(file.toFile());")
    o("        if (!Arrays.equals(current.shape(), value.shape())) {")
    o("            throw new IllegalArgumentException(file + \": parameter '\" + key + \"' of layer '\" + layerName")
    o("                    + \"' expects shape \" + Arrays.toString(current.shape()) + \", received \"")
    o("                    + Arrays.toString(value.shape()));")
    o("        }")
    # Assign into the view of the network's parameter vector: SameDiff layers keep reading that view,
    # while setParam would hand them a new array they never look at.
    o("        current.assign(value.castTo(current.dataType()));")
    o("    }")
    o("")
    o("    /** Usage: PARAM_DIR OUT.zip - builds the network and writes it with ModelSerializer. */")
    o("    public static void main(String[] args) throws IOException {")
    o("        if (args.length != 2) {")
    o(f"            System.err.println(\"usage: java -cp CLASSPATH {qualified} PARAM_DIR OUT.zip\");")
    o("            System.exit(2);")
    o("        }")
    o(f"        {net_type} {var} = build(Paths.get(args[0]));")
    o(f"        ModelSerializer.writeModel({var}, new File(args[1]), false);")
    o(f"        System.out.println(\"wrote \" + args[1] + \" (\" + {var}.numParams() + \" parameters)\");")
    o("        System.exit(0);  // ND4J leaves non-daemon threads running")
    o("    }")
    o("}")
    text = "\n".join(out) + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


# ----------------------------------------------------------------------------------------- the project folder


_README = """# {class_name}: {model} as DL4J {version} Java source

Generated by keras-dl4j-workbench ({net_type}, {n_params} parameters, CNN format {fmt}).

* `src/main/java/{source_path}` builds the network with DL4J's builders: `configuration()`,
  `build(Path paramDir)` and `main(PARAM_DIR, OUT.zip)`.
* `params/` holds every parameter as a float32 `.npy` file, `<layer>__<key>.npy`, in the shape
  `getParam(key)` has in DL4J. `build` refuses a file of another shape, naming the file and both shapes.

## Compile and run with javac

The classpath needs DL4J {version} and an ND4J backend, e.g. the jars of these Maven artifacts
and their dependencies:

    org.deeplearning4j:deeplearning4j-core:{version}
    org.nd4j:nd4j-native-platform:{version}     (or nd4j-native with your platform's classifier)

    javac --release 11 -cp "$DL4J_JARS/*" -d classes src/main/java/{source_path}
    java -cp "classes:$DL4J_JARS/*" {qualified} params {class_name}.zip

The zip loads with `ModelSerializer.restore{restore}(file)`.

## Maven

Put the dependencies above in a `pom.xml` (Java 11 or later) and keep this `src/main/java` layout:
`mvn -q compile` compiles the class into `target/classes`, and

    mvn -q dependency:build-classpath -Dmdep.outputFile=cp.txt
    java -cp "target/classes:$(cat cp.txt)" {qualified} params {class_name}.zip

runs it.

## Parameters

| layer | key | file | shape |
|---|---|---|---|
{rows}
"""


# Properties of a generated (SameDiff) layer that only matter for training: left to its constructor.
_GENERATED_TRAINING_FIELDS = frozenset({
    "updater", "biasUpdater", "regularization", "regularizationBias", "gradientNormalization",
    "gradientNormalizationThreshold", "weightInit", "paramWeightInit", "constraints", "idropout",
})
# Shapes the generated layer classes take as long[] / long[][] (see workbench.custom.java_layers).
_GENERATED_LONG_ARRAYS = frozenset({"inputShape", "outputShape", "weightShapes"})


def _jlong_array(value: Any, key: str, layer: str) -> str:
    def one(v: Any) -> str:
        if not isinstance(v, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in v):
            raise ExportError(f"property '{key}' is not a list of sizes", layer=layer, received=v)
        return "{" + ", ".join(f"{d}L" for d in v) + "}"

    if value and isinstance(value[0], list):
        return "new long[][] {" + ", ".join(one(v) for v in value) + "}"
    return "new long[] " + one(value)


def write_java_project(conv: Conversion, folder: str | os.PathLike[str], *, class_name: str = "ConvertedModel",
                       package: str = "workbench.generated") -> Path:
    """Write ``src/main/java/<package>/<class>.java``, ``params/*.npy`` and ``README.md``.

    Everything is written into a temporary folder beside ``folder`` and renamed into place; an existing
    ``folder`` is replaced only once the new one is complete.

    Returns:
        ``folder``.

    Raises:
        ExportError: the source cannot be generated (see :func:`model_java_source`) or written.
    """
    target = Path(folder)
    source = model_java_source(conv, class_name=class_name, package=package)
    files = param_files(conv)
    parent = target.parent
    if not parent.is_dir():
        raise ExportError("folder does not exist", file=parent, expected="an existing folder")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as exc:
        raise ExportError("could not write the Java project", file=target, received=str(exc)) from exc
    try:
        rel = Path(*package.split(".")) / f"{class_name}.java" if package else Path(f"{class_name}.java")
        src = tmp / "src" / "main" / "java" / rel
        src.parent.mkdir(parents=True)
        src.write_text(source, encoding="utf-8")
        params = tmp / "params"
        params.mkdir()
        for pf in files:
            np.save(params / pf.file, pf.value)
        rows = "\n".join(f"| {pf.layer} | {pf.key} | {pf.file} | {list(pf.value.shape)} |" for pf in files)
        (tmp / "README.md").write_text(_README.format(
            class_name=class_name, model=os.path.basename(conv.model.path), version=DL4J_VERSION,
            net_type="MultiLayerNetwork" if conv.is_chain else "ComputationGraph",
            n_params=sum(pf.value.size for pf in files), fmt=conv.options.cnn_format,
            source_path=rel.as_posix(), qualified=f"{package}.{class_name}" if package else class_name,
            restore="MultiLayerNetwork" if conv.is_chain else "ComputationGraph", rows=rows or "| - | - | - | - |"),
            encoding="utf-8")
        for p in [tmp, *tmp.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        old = None
        if target.exists() or target.is_symlink():
            if not target.is_dir():
                raise ExportError("not a folder", file=target, expected="a folder (or nothing) to replace")
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=parent))
            os.replace(target, old / "x")
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError("could not write the Java project", file=target, received=str(exc)) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def compile_java(sources_folder: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                 extra_jars: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Compile every ``.java`` file under ``sources_folder`` with ``javac --release 11`` against the DL4J
    harness class path (DL4J 1.0.0-M2.1, built by Maven if needed) into ``out_dir``.

    Returns:
        ``out_dir`` (a class folder to put on the class path).

    Raises:
        ExportError: no sources, or javac failed (with javac's messages).
        RuntimeUnavailable: no Java/Maven to build the harness.
    """
    from workbench.check.dl4j_jvm import ensure_built, harness_classpath

    sources = sorted(Path(sources_folder).rglob("*.java"))
    if not sources:
        raise ExportError("no Java sources to compile", file=sources_folder, expected="*.java files")
    javac = shutil.which("javac")
    if javac is None:
        from workbench.errors import RuntimeUnavailable
        raise RuntimeUnavailable("cannot compile Java", hint="javac (a JDK 11+) is needed: apt-get install "
                                 "openjdk-17-jdk-headless")
    ensure_built()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="javac-") as tmp:
        argfile = Path(tmp) / "sources.txt"
        argfile.write_text("\n".join(json.dumps(str(s.resolve())) for s in sources), encoding="utf-8")
        cmd = [javac, "--release", "11", "-encoding", "UTF-8", "-proc:none", "-nowarn", "-Xlint:none",
               "-cp", harness_classpath(extra_jars), "-d", str(out), f"@{argfile}"]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=JAVAC_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ExportError("javac timed out", file=sources_folder, received=f"{JAVAC_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        text = (proc.stderr + proc.stdout).decode("utf-8", "replace").strip()
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("Note:")]
        raise ExportError("javac could not compile the generated Java source", file=sources_folder,
                          received="\n" + "\n".join(lines[-40:]))
    return out
