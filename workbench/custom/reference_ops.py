"""The NumPy reference for generated expression layers (``workbench.generated.*``).

Registered with the reference's own ``@op`` under :data:`EXPRESSION_OP`; ``reference.short_class``
sends every layer config that has an ``expression`` property here (a DL4J class never has one), so
any generated class name runs, whatever the model.

Semantics: the layer's input arrives in its DL4J layout; channels-first data (``dataFormat`` NCW,
NCHW, NCDHW) is moved to channels-last, the expression runs in Keras's layout with the parameters
as DL4J holds them ('c' views of ``weightShapes``, keyed by ``weightNames``), and the result is moved
back — exactly what the generated ``defineLayer`` does in SameDiff.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from workbench.check.reference import ParamSpec, op
from workbench.custom.expression import Expression, parse_expression

__all__ = ["EXPRESSION_OP", "expression_params", "expression_layer"]

EXPRESSION_OP = "(workbench expression layer)"  # never a Java class name
_CHANNELS_FIRST = ("NCW", "NCHW", "NCDHW")


def expression_params(conf: dict) -> list[ParamSpec]:
    names = list(conf.get("weightNames") or [])
    shapes = list(conf.get("weightShapes") or [])
    return [ParamSpec(str(n), tuple(int(d) for d in s), "c") for n, s in zip(names, shapes)]


@lru_cache(maxsize=256)
def _parsed(text: str, weights: tuple[tuple[str, tuple[int, ...]], ...], layer: str) -> Expression:
    return parse_expression(text, weights=dict(weights), input_shape=None, layer=layer)


@op(EXPRESSION_OP, params=expression_params)
def expression_layer(conf, params, x, ctx):
    text = conf.get("expression")
    if not isinstance(text, str):
        raise ctx.fail("a generated layer without its expression", expected="an 'expression' string",
                       received=text)
    specs = expression_params(conf)
    expr = _parsed(text, tuple((s.key, s.shape) for s in specs), ctx.name)
    channels_first = conf.get("dataFormat") in _CHANNELS_FIRST and x.ndim > 2
    xk = np.moveaxis(x, 1, -1) if channels_first else x
    y = expr.evaluate_numpy(xk, {k: np.asarray(v) for k, v in params.items()})
    return np.ascontiguousarray(np.moveaxis(y, -1, 1)) if channels_first else y
