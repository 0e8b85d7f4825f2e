"""Custom Keras layers mapped by an *expression*: a generated DL4J SameDiff layer (``workbench.custom``).

    registry.mapper("MyActivation")(expression_mapping("relu(x) * sigmoid(x)"))
    registry.mapper("ScaleShift")(expression_mapping("x * gamma + beta"))

The DL4J side is ``workbench.generated.<Name>Layer`` (Java generated from the expression and compiled
with ``workbench.custom.java_layers``); its JSON carries the expression so the NumPy reference can
run it, and its parameters are the Keras weights as stored ('c' order, the layer's weight order).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from workbench.custom.expression import Expression, check_syntax, parse_expression
from workbench.custom.java_layers import PACKAGE, java_class_name, layer_source
from workbench.errors import ExpressionError
from workbench.mappers import transforms as T
from workbench.mappers.dl4j import NO_OP_UPDATER
from workbench.mappers.registry import MapContext, Mapper
from workbench.mappers.result import Activation, MappedLayer, Param

__all__ = ["expression_mapping", "expression_layer", "layer_config"]

#: Names DL4J's SameDiff layer gives its own variables (a parameter may not take them).
RESERVED_PARAM_NAMES = ("input", "mask")


def expression_mapping(text: str) -> Mapper:
    """A mapper for every layer it is registered for: the layer computes ``text``.

    The text is checked now (syntax, whitelist, known functions); names and shapes are checked
    against each layer when it is mapped.

    Raises:
        ExpressionError: the expression is malformed or unsafe.
    """
    check_syntax(text)

    def map_expression(ctx: MapContext) -> MappedLayer:
        return expression_layer(ctx, text)

    map_expression.expression = text  # type: ignore[attr-defined]  (for the UI / mapping files)
    map_expression.__qualname__ = map_expression.__name__ = f"expression_mapping({text!r})"
    return map_expression


def expression_layer(ctx: MapContext, text: str) -> MappedLayer:
    # Keras: y = f(x, weights) along the last (feature) axis, any custom class
    # DL4J:  workbench.generated.<Name>Layer (SameDiffLambdaLayer without weights, SameDiffLayer with),
    #        params = the Keras weights as stored, 'c', in the layer's weight order
    # NB: channels-first tensors (NCW/NCHW/NCDHW) are permuted to channels-last inside the generated layer.
    spec = ctx.spec

    def fail(what: str, expected, received) -> ExpressionError:
        return ExpressionError(what, file=ctx.file, layer=spec.name, expected=expected, received=received)

    if len(ctx.inputs) != 1:
        raise fail("an expression mapping takes exactly one input tensor (x)", expected="one input",
                   received=f"{len(ctx.inputs)} inputs")
    act = ctx.input
    preprocessor = None
    if act.flattened_from is not None:
        if act.flattened_from[1] != "NHWC":
            raise fail("an expression layer right after a Flatten is mapped only with cnn_format NHWC (in NCHW "
                       "DL4J flattens (c, h, w), not Keras's (h, w, c))", expected="cnn_format NHWC",
                       received=act.flattened_from[1])
        from workbench.mappers.core import flatten_preprocessor
        preprocessor = flatten_preprocessor(ctx)
    weights = {w.name: tuple(int(d) for d in w.shape) for w in spec.weights}
    clash = [n for n in weights if n in RESERVED_PARAM_NAMES]
    if clash:
        raise fail(f"weight name '{clash[0]}' clashes with the variable DL4J's SameDiff layer defines itself",
                   expected=f"weights not named {', '.join(RESERVED_PARAM_NAMES)}", received=list(weights))
    expr = parse_expression(text, weights=weights, input_shape=tuple(act.keras_shape), layer=spec.name,
                            file=ctx.file)
    out_shape = tuple(expr.output_shape or act.keras_shape)
    if out_shape == tuple(act.keras_shape):
        output = dataclasses.replace(act, flattened_from=None)
    else:
        output = Activation(act.kind, out_shape, act.dl4j_format)
    params = tuple(_param(name, ctx.weight(name)) for name in weights)
    class_name = java_class_name(spec.class_name)
    source = layer_source(class_name, expr, keras_class=spec.registered_name or spec.class_name,
                          weight_names=tuple(weights))
    layer = layer_config(class_name, spec.name, expr, act, out_shape, params)
    base = "SameDiffLayer" if params else "SameDiffLambdaLayer"
    return MappedLayer(spec.name, spec.class_name, output, layer=layer, preprocessor=preprocessor, params=params,
                       variables=tuple(p.key for p in params),
                       notes=(f"generated DL4J layer {class_name} ({base}): {text}",),
                       java_class=f"{PACKAGE}.{class_name}", java_source=source)


def _param(name: str, value: np.ndarray) -> Param:
    value = np.asarray(value)
    trace = T.keras_weight(name, value, tuple(f"a{i}" for i in range(1, value.ndim + 1)))
    if value.ndim == 0:
        trace = trace.then("scalar_as_vector", "a scalar weight as a [1] vector (SDLayerParams needs rank >= 1)",
                           value.reshape(1), ("a1",))
    else:
        trace = T.as_is(trace, f"'{name}' as stored: SameDiff parameters keep the Keras shape, 'c' order")
    return Param(name, trace, order="c")


def _dims(shape) -> list[int]:
    return [-1 if d is None else int(d) for d in shape]


def layer_config(class_name: str, name: str, expr: Expression, act: Activation, out_shape: tuple,
                 params: tuple[Param, ...]) -> dict:
    """The JSON of a generated layer: its own bean properties and AbstractSameDiffLayer's, at DL4J's
    inference defaults (``layerParams`` is left out on purpose: the class derives it, see java_layers)."""
    n_in, n_out = act.keras_shape[-1] if act.keras_shape else None, out_shape[-1] if out_shape else None
    layer = {
        "@class": f"{PACKAGE}.{class_name}",
        "layerName": name,
        "expression": expr.text,
        "nin": int(n_in or 0),
        "nout": int(n_out or 0),
        "inputShape": _dims(act.keras_shape),
        "outputShape": _dims(out_shape),
        "dataFormat": act.dl4j_format,
        # Layer / AbstractSameDiffLayer / SameDiffLayer
        "constraints": None,
        "idropout": None,
        "regularization": [],
        "regularizationBias": [],
        "updater": NO_OP_UPDATER,
        "biasUpdater": None,
        "gradientNormalization": "None",
        "gradientNormalizationThreshold": 1.0,
        "weightInit": "XAVIER",
        "paramWeightInit": None,
    }
    if params:
        layer["weightNames"] = [p.key for p in params]
        layer["weightShapes"] = [list(p.value.shape) for p in params]
    return layer
