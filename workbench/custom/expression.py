"""A small, safe expression language for custom layers: ``relu(x) * sigmoid(x)``, ``x * gamma + beta``.

An expression reads the layer input ``x`` (Keras layout, features LAST) and the layer's weights by
their Keras names. It is parsed with ``ast.parse(mode="eval")`` and only a whitelist is accepted;
the text is never given to ``eval``/``exec``/``compile``. Everything else is refused with one
``ExpressionError`` naming the layer, the offending part and what is allowed.

Grammar (what is accepted)::

    numbers            1, 0.5, 1e-6                (folded to float64 constants)
    names              x, and this layer's weights by name
    arithmetic         -a, +a, a + b, a - b, a * b, a / b, a ** b   (NumPy broadcasting)
    element-wise       relu sigmoid tanh exp log sqrt abs square softplus softsign elu selu swish silu
    pairwise           minimum(a, b), maximum(a, b), clip(a, lo, hi)  (lo, hi numbers)
    reductions         mean / sum / max / min (a, axis=-1, keepdims=True|False)  (last axis only)
    selection          where(a > b, c, d)   (comparisons > >= < <= == != only as where's condition)

Not accepted: attribute access, subscripts, lambdas, comprehensions, strings, keyword arguments other
than ``axis``/``keepdims`` on reductions, any other function or name. ``gelu`` is left out on purpose:
DL4J's GELU differs from Keras's.

The shape check runs the expression on a zero array of the layer's input shape (a batch size no
dimension uses, so a broadcast over the batch axis cannot pass by accident) with the real weight
shapes: a broadcast that fails, an output that loses the batch axis, changes the rank or a
non-feature dimension, or differs from what the next layer expects (when known) is refused.
"""
from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from workbench.errors import ExpressionError

__all__ = ["Expression", "parse_expression", "check_syntax", "FUNCTIONS", "REDUCTIONS", "MAX_LENGTH"]

MAX_LENGTH = 2000
MAX_NODES = 400


def _sigmoid(a):
    return 0.5 * (np.tanh(0.5 * a) + 1.0)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

#: element-wise functions of one argument: NumPy implementation, SameDiff Java call ({sd}, {a}).
UNARY: dict[str, tuple[Callable[[Any], Any], str]] = {
    "relu": (lambda a: np.maximum(a, 0.0), "{sd}.nn().relu({a}, 0.0)"),
    "sigmoid": (_sigmoid, "{sd}.nn().sigmoid({a})"),
    "tanh": (np.tanh, "{sd}.math().tanh({a})"),
    "exp": (np.exp, "{sd}.math().exp({a})"),
    "log": (np.log, "{sd}.math().log({a})"),
    "sqrt": (np.sqrt, "{sd}.math().sqrt({a})"),
    "abs": (np.abs, "{sd}.math().abs({a})"),
    "square": (np.square, "{sd}.math().square({a})"),
    "softplus": (lambda a: np.logaddexp(0.0, a), "{sd}.nn().softplus({a})"),
    "softsign": (lambda a: a / (1.0 + np.abs(a)), "{sd}.nn().softsign({a})"),
    "elu": (lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0.0))), "{sd}.nn().elu({a})"),
    "selu": (lambda a: _SELU_SCALE * np.where(a > 0, a, _SELU_ALPHA * np.expm1(np.minimum(a, 0.0))),
             "{sd}.nn().selu({a})"),
    "swish": (lambda a: a * _sigmoid(a), "{sd}.nn().swish({a})"),
    "silu": (lambda a: a * _sigmoid(a), "{sd}.nn().swish({a})"),
}
PAIRWISE = {"minimum": (np.minimum, "min"), "maximum": (np.maximum, "max")}
REDUCTIONS = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min}
FUNCTIONS = tuple(sorted([*UNARY, *PAIRWISE, "clip", *REDUCTIONS, "where"]))

_BIN_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_NUMPY_BIN = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}
_CMP_OPS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}
_NUMPY_CMP = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "==": np.equal,
              "!=": np.not_equal}
_JAVA_CMP = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "==": "eq", "!=": "neq"}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}

ALLOWED = ("numbers, x, this layer's weights, + - * / ** and unary -, calls to " + ", ".join(FUNCTIONS)
           + " (axis=-1/keepdims= on mean/sum/max/min only), comparisons only as where's condition")

# Constructs refused by name (anything else not whitelisted gets a generic message).
_REFUSED = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.IfExp: "conditional expressions (use where(...))",
    ast.BoolOp: "and/or", ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets",
    ast.JoinedStr: "strings", ast.Starred: "star arguments", ast.NamedExpr: "assignments (:=)",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}


# ------------------------------------------------------------------------------------------ IR


@dataclass(frozen=True, eq=False)
class Node:
    """One checked node; ``src`` is its source text for messages."""

    src: str


@dataclass(frozen=True, eq=False)
class Num(Node):
    value: float


@dataclass(frozen=True, eq=False)
class Var(Node):
    name: str  # "x" or a weight name


@dataclass(frozen=True, eq=False)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, eq=False)
class Bin(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Unary(Node):
    fn: str
    arg: Node


@dataclass(frozen=True, eq=False)
class Pairwise(Node):
    fn: str
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Clip(Node):
    arg: Node
    lo: float
    hi: float


@dataclass(frozen=True, eq=False)
class Reduce(Node):
    fn: str
    arg: Node
    keepdims: bool


@dataclass(frozen=True, eq=False)
class Cmp(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Where(Node):
    cond: Cmp
    a: Node
    b: Node


# ----------------------------------------------------------------------------------- Expression


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked expression.

    Attributes:
        text: the expression as the user wrote it.
        weight_names: the layer weights it reads, in the layer's weight order.
        input_shape / output_shape: Keras shapes without the batch axis (None when not checked).
        weights: every weight of the layer and its Keras shape (the expression may read only some).
    """

    text: str
    root: Node = field(repr=False)
    weight_names: tuple[str, ...]
    weights: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    input_shape: tuple[int | None, ...] | None = None
    output_shape: tuple[int | None, ...] | None = None
    layer: str | None = None
    _shapes: dict[int, tuple[int, ...]] = field(default_factory=dict, repr=False)

    @property
    def normalized(self) -> str:
        """The expression re-printed from its syntax tree (no comments, canonical spacing)."""
        return ast.unparse(ast.parse(self.text.strip(), mode="eval"))

    def evaluate_numpy(self, x: np.ndarray, weights: Mapping[str, np.ndarray]) -> np.ndarray:
        """The expression on ``x`` ([batch, ..., features], Keras layout) and the weights by name."""
        x = np.asarray(x)
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
        env = {"x": x.astype(dtype, copy=False)}
        for name in self.weight_names:
            if name not in weights:
                raise ExpressionError(f"weight '{name}' is not given to expression '{self.text}'", layer=self.layer,
                                      expected=list(self.weight_names), received=sorted(weights))
            env[name] = np.asarray(weights[name], dtype=dtype)
        with np.errstate(all="ignore"):
            out = _evaluate(self.root, env)
        return np.asarray(out, dtype=dtype)

    def to_samediff_java(self, input_var: str, weight_vars: Mapping[str, str], *, result: str = "out",
                         sd: str = "sd") -> str:
        """Java statements building this expression on ``SameDiff sd``; the last one declares ``result``.

        Args:
            input_var: the Java expression of the input ``SDVariable`` (Keras layout, features last).
            weight_vars: weight name → the Java expression of its ``SDVariable``.
            result: the name of the ``SDVariable`` the statements declare last.
            sd: the name of the ``SameDiff`` instance.
        """
        missing = [n for n in self.weight_names if n not in weight_vars]
        if missing:
            raise ExpressionError("no Java variable for a weight the expression reads", layer=self.layer,
                                  expected=list(self.weight_names), received=sorted(weight_vars))
        gen = _JavaGen(self, input_var, dict(weight_vars), sd)
        kind, value = gen.emit(self.root)
        if kind == "num":  # the checks refuse a constant expression; kept safe anyway
            value = gen.constant(value)
        gen.lines.append(f"SDVariable {result} = {value};")
        return "\n".join(gen.lines)


def check_syntax(text: str, *, layer: str | None = None, file: str | None = None) -> None:
    """Refuse what no layer could accept (syntax, unsafe constructs, unknown functions) before mapping."""
    _Parser(text, None, layer, file).build()


def parse_expression(text: str, *, weights: Mapping[str, tuple] | None = None,
                     input_shape: tuple | None = None, layer: str | None = None, file: str | None = None,
                     expected_output: tuple | None = None) -> Expression:
    """Parse, whitelist and shape-check an expression for one layer.

    Args:
        text: the expression, e.g. ``"x * gamma + beta"``.
        weights: the layer's weights, Keras name → Keras shape.
        input_shape: the layer's Keras input shape WITHOUT the batch axis, e.g. ``(8,)``; None skips the
            shape check (unknown dimensions inside are checked with a stand-in size).
        layer, file: named in errors.
        expected_output: the Keras output shape (no batch) the next layer expects, when known.

    Raises:
        ExpressionError: naming the layer, the offending part and what is allowed.
    """
    weights = {str(k): tuple(int(d) for d in v) for k, v in (weights or {}).items()}
    parser = _Parser(text, weights, layer, file)
    root = parser.build()
    used = tuple(n for n in weights if n in parser.used)
    expr = Expression(text, root, used, weights, None if input_shape is None else tuple(input_shape), None, layer)
    if input_shape is not None:
        out, shapes = _check_shapes(expr, tuple(input_shape), file, expected_output)
        object.__setattr__(expr, "output_shape", out)
        expr._shapes.update(shapes)
    elif isinstance(root, Num):
        raise parser.fail("the expression is a constant: it must use x", expected="an expression of x",
                          received=text)
    return expr


# --------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: Any, weights: dict[str, tuple] | None, layer: str | None, file: str | None) -> None:
        self.text = text
        self.weights = weights  # None: names are not checked yet (check_syntax)
        self.layer = layer
        self.file = file
        self.used: set[str] = set()
        self.count = 0

    def fail(self, what: str, *, expected: Any = ALLOWED, received: Any = None, hint: str | None = None):
        return ExpressionError(what, file=self.file, layer=self.layer, expected=expected, received=received,
                               hint=hint)

    def build(self) -> Node:
        if not isinstance(self.text, str) or not self.text.strip():
            raise self.fail("the expression is empty", expected="an expression such as relu(x) * sigmoid(x)",
                            received=repr(self.text))
        if len(self.text) > MAX_LENGTH:
            raise self.fail(f"the expression is longer than {MAX_LENGTH} characters", expected="a short expression",
                            received=f"{len(self.text)} characters")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            where = f" at column {exc.offset}" if exc.offset else ""
            raise self.fail(f"syntax error in expression '{self.text}'{where}: {exc.msg}",
                            expected="a Python-like arithmetic expression", received=self.text) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise self.fail(f"expression '{self.text[:80]}' cannot be parsed: {type(exc).__name__}",
                            expected="a short arithmetic expression", received=str(exc)[:120]) from None
        try:
            return self.node(tree.body)
        except RecursionError:
            raise self.fail("the expression is nested too deeply", expected="a short expression",
                            received=self.text[:80]) from None

    def src(self, node: ast.AST) -> str:
        try:
            return ast.unparse(node)
        except Exception:  # noqa: BLE001 - only for messages
            return type(node).__name__

    def node(self, n: ast.AST, *, condition: bool = False) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"the expression has more than {MAX_NODES} parts", expected="a short expression",
                            received=self.text[:80])
        src = self.src(n)
        if isinstance(n, ast.Constant):
            if isinstance(n.value, bool) or not isinstance(n.value, (int, float)):
                raise self.fail(f"constant {src} is not allowed in expression '{self.text}'",
                                expected="int or float numbers", received=src)
            return self.number(float(n.value), src)
        if isinstance(n, ast.Name):
            return self.name(n.id, src)
        if isinstance(n, ast.UnaryOp):
            if isinstance(n.op, ast.USub):
                operand = self.node(n.operand)
                return self.number(-operand.value, src) if isinstance(operand, Num) else Neg(src, operand)
            if isinstance(n.op, ast.UAdd):
                return self.node(n.operand)
            symbol = {ast.Invert: "~", ast.Not: "not"}.get(type(n.op), type(n.op).__name__)
            raise self.fail(f"operator '{symbol}' is not allowed in '{src}'", received=symbol)
        if isinstance(n, ast.BinOp):
            op = _BIN_OPS.get(type(n.op))
            if op is None:
                symbol = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|",
                          ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}.get(type(n.op), type(n.op).__name__)
                raise self.fail(f"operator '{symbol}' is not allowed in '{src}'", received=symbol)
            left, right = self.node(n.left), self.node(n.right)
            if isinstance(left, Num) and isinstance(right, Num):
                with np.errstate(all="ignore"):
                    return self.number(float(_NUMPY_BIN[op](np.float64(left.value), np.float64(right.value))), src)
            return Bin(src, op, left, right)
        if isinstance(n, ast.Compare):
            if not condition:
                raise self.fail(f"comparison '{src}' is only allowed as the condition of where(...)",
                                expected="where(a > b, c, d)", received=src)
            if len(n.ops) != 1:
                raise self.fail(f"chained comparison '{src}' is not allowed", expected="one comparison",
                                received=src)
            op = _CMP_OPS.get(type(n.ops[0]))
            if op is None:
                raise self.fail(f"comparison operator in '{src}' is not allowed",
                                expected="> >= < <= == !=", received=src)
            left, right = self.node(n.left), self.node(n.comparators[0])
            if isinstance(left, Num) and isinstance(right, Num):
                raise self.fail(f"comparison '{src}' compares two numbers", expected="a comparison of x or a weight",
                                received=src)
            return Cmp(src, op, left, right)
        if isinstance(n, ast.Call):
            return self.call(n, src)
        label = _REFUSED.get(type(n), type(n).__name__)
        if isinstance(n, ast.Constant):  # pragma: no cover - handled above
            label = "constants"
        raise self.fail(f"{label} ('{src}') not allowed in expression '{self.text}'", received=src)

    def number(self, value: float, src: str) -> Num:
        if not math.isfinite(value):
            raise self.fail(f"'{src}' is not a finite number", expected="finite constants", received=value)
        return Num(src, value)

    def name(self, name: str, src: str) -> Node:
        if name == "x":
            return Var(src, "x")
        if self.weights is None:  # check_syntax: weights are not known yet
            if name in FUNCTIONS:
                raise self.fail(f"'{name}' is a function: call it, e.g. {name}(x)", received=name)
            return Var(src, name)
        if name in self.weights:
            self.used.add(name)
            return Var(src, name)
        names = ", ".join(self.weights) or "none"
        anonymous = self.weights and all(w.isdigit() for w in self.weights)
        raise self.fail(
            f"unknown name '{name}' in expression '{self.text}': the expression can read x and this layer's "
            f"weights ({names})", expected=f"x or one of the weights: {names}", received=name,
            hint="this file stores the weights without names (vars/0, vars/1...): give the session the "
                 "custom_objects file so the class can name them" if anonymous else None)

    def call(self, n: ast.Call, src: str) -> Node:
        if not isinstance(n.func, ast.Name):
            raise self.fail(f"only calls to whitelisted functions are allowed, not '{self.src(n.func)}' in '{src}'",
                            received=self.src(n.func))
        fn = n.func.id
        if fn not in FUNCTIONS:
            raise self.fail(f"unknown function '{fn}' in expression '{self.text}'",
                            expected="one of " + ", ".join(FUNCTIONS), received=fn)
        kwargs: dict[str, Any] = {}
        for kw in n.keywords:
            if kw.arg is None:
                raise self.fail(f"'**' arguments are not allowed in '{src}'", received=src)
            if fn not in REDUCTIONS or kw.arg not in ("axis", "keepdims"):
                raise self.fail(f"keyword argument '{kw.arg}' is not allowed in '{src}'",
                                expected="axis= and keepdims= on mean/sum/max/min only", received=kw.arg)
            kwargs[kw.arg] = kw.value
        if any(isinstance(a, ast.Starred) for a in n.args):
            raise self.fail(f"star arguments are not allowed in '{src}'", received=src)
        args = n.args

        def arity(k: int, form: str) -> None:
            if len(args) != k:
                raise self.fail(f"{fn} takes {k} argument{'s' if k > 1 else ''} in '{src}'", expected=form,
                                received=f"{len(args)} arguments")

        if fn in UNARY:
            arity(1, f"{fn}(a)")
            arg = self.node(args[0])
            if isinstance(arg, Num):
                with np.errstate(all="ignore"):
                    return self.number(float(UNARY[fn][0](np.float64(arg.value))), src)
            return Unary(src, fn, arg)
        if fn in PAIRWISE:
            arity(2, f"{fn}(a, b)")
            left, right = self.node(args[0]), self.node(args[1])
            if isinstance(left, Num) and isinstance(right, Num):
                return self.number(float(PAIRWISE[fn][0](left.value, right.value)), src)
            return Pairwise(src, fn, left, right)
        if fn == "clip":
            arity(3, "clip(a, lo, hi) with numbers lo <= hi")
            arg, lo, hi = (self.node(a) for a in args)
            if not (isinstance(lo, Num) and isinstance(hi, Num)) or lo.value > hi.value:
                raise self.fail(f"clip bounds must be numbers lo <= hi in '{src}'", expected="clip(a, lo, hi)",
                                received=src)
            if isinstance(arg, Num):
                return self.number(min(max(arg.value, lo.value), hi.value), src)
            return Clip(src, arg, lo.value, hi.value)
        if fn in REDUCTIONS:
            if len(args) == 2 and fn in ("max", "min"):
                raise self.fail(f"{fn}(a, b) reduces along an axis; use {fn}imum(a, b) for the pairwise {fn}imum",
                                expected=f"{fn}(a, axis=-1, keepdims=True) or {fn}imum(a, b)", received=src)
            arity(1, f"{fn}(a, axis=-1, keepdims=True)")
            axis = kwargs.get("axis")
            axis_value = None if axis is None else _literal_int(axis)
            if axis_value != -1:
                raise self.fail(f"{fn} reduces along the last (feature) axis only: '{src}'",
                                expected="axis=-1", received=self.src(axis) if axis is not None else "no axis")
            keep = kwargs.get("keepdims")
            keepdims = False
            if keep is not None:
                if not (isinstance(keep, ast.Constant) and isinstance(keep.value, bool)):
                    raise self.fail(f"keepdims must be True or False in '{src}'", expected="keepdims=True",
                                    received=self.src(keep))
                keepdims = keep.value
            arg = self.node(args[0])
            if isinstance(arg, Num):
                raise self.fail(f"{fn} of a number in '{src}'", expected=f"{fn} of x or a weight", received=src)
            return Reduce(src, fn, arg, keepdims)
        # where
        arity(3, "where(a > b, c, d)")
        if not isinstance(args[0], ast.Compare):
            raise self.fail(f"where's condition must be a comparison in '{src}'", expected="where(a > b, c, d)",
                            received=self.src(args[0]))
        cond = self.node(args[0], condition=True)
        a, b = self.node(args[1]), self.node(args[2])
        return Where(src, cond, a, b)


def _literal_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal_int(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


# ------------------------------------------------------------------------------------ evaluation


def _evaluate(node: Node, env: Mapping[str, Any], record: Callable[[Node, Any], None] | None = None) -> Any:
    out = _eval_node(node, env, record)
    if record is not None:
        record(node, out)
    return out


def _eval_node(node: Node, env: Mapping[str, Any], record) -> Any:
    ev = lambda n: _evaluate(n, env, record)  # noqa: E731
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Var):
        return env[node.name]
    if isinstance(node, Neg):
        return np.negative(ev(node.operand))
    if isinstance(node, Bin):
        return _NUMPY_BIN[node.op](ev(node.left), ev(node.right))
    if isinstance(node, Unary):
        return UNARY[node.fn][0](ev(node.arg))
    if isinstance(node, Pairwise):
        return PAIRWISE[node.fn][0](ev(node.left), ev(node.right))
    if isinstance(node, Clip):
        return np.clip(ev(node.arg), node.lo, node.hi)
    if isinstance(node, Reduce):
        return REDUCTIONS[node.fn](ev(node.arg), axis=-1, keepdims=node.keepdims)
    if isinstance(node, Cmp):
        return _NUMPY_CMP[node.op](ev(node.left), ev(node.right))
    if isinstance(node, Where):
        cond, a, b = ev(node.cond), ev(node.a), ev(node.b)
        return np.where(cond, a, b)
    raise TypeError(f"unknown node {node!r}")  # pragma: no cover


def _stand_in_batch(dims: list[int]) -> int:
    """A batch size no input/weight dimension uses (so a broadcast across the batch cannot slip through)."""
    for b in (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        if b not in dims:
            return b
    return max(dims) + 1


def _check_shapes(expr: Expression, input_shape: tuple, file: str | None, expected_output: tuple | None):
    weights = expr.weights
    known = [int(d) for d in input_shape if d is not None] + [d for s in weights.values() for d in s]
    stand_in = next(d for d in (5, 6, 9, 10, 12, 14, 15) if d not in known)  # for unknown (None) dimensions
    shape = tuple(stand_in if d is None else int(d) for d in input_shape)
    batch = _stand_in_batch(known + [stand_in])
    env: dict[str, Any] = {"x": np.zeros((batch, *shape))}
    env.update({name: np.zeros(s) for name, s in weights.items()})
    shapes: dict[int, tuple[int, ...]] = {}

    def fail(what: str, expected: Any, received: Any):
        return ExpressionError(what, file=file, layer=expr.layer, expected=expected, received=received)

    def show(node: Node) -> str:
        s = shapes.get(id(node))
        if s is None:
            return "a number"
        return "(batch, " + ", ".join(map(str, s[1:])) + ")" if s and s[0] == batch and _has_batch(node) \
            else str(tuple(s))

    def _has_batch(node: Node) -> bool:
        return "x" in {n.name for n in _walk(node) if isinstance(n, Var)}

    def record(node: Node, value: Any) -> None:
        if not isinstance(node, Num):
            shapes[id(node)] = tuple(np.shape(value))

    def checked(node: Node) -> Any:
        # evaluate children first so a failing broadcast is reported at the innermost node
        for child in _children(node):
            checked(child)
        try:
            with np.errstate(all="ignore"):
                value = _evaluate(node, env)
        except ValueError as exc:
            parts = ", ".join(f"'{c.src}' {show(c)}" for c in _children(node))
            raise fail(f"shapes do not fit in '{node.src}' ({parts}): {exc}",
                       expected=f"shapes that broadcast with the input (batch, {', '.join(map(str, shape))})",
                       received=parts) from None
        record(node, value)
        return value

    out = np.asarray(checked(expr.root))
    in_full = (batch, *shape)
    if out.ndim == 0 or out.shape[0] != batch or "x" not in {n.name for n in _walk(expr.root) if isinstance(n, Var)}:
        raise fail(f"expression '{expr.text}' does not keep the batch axis (it must be computed from x)",
                   expected=f"an output of shape (batch, ...) from input (batch, {', '.join(map(str, shape))})",
                   received=str(out.shape))
    if out.ndim != len(in_full):
        raise fail(f"expression '{expr.text}' changes the rank of its input (a reduction without keepdims=True?)",
                   expected=f"rank {len(in_full)} like the input (batch, {', '.join(map(str, shape))})",
                   received=f"(batch, {', '.join(map(str, out.shape[1:]))})")
    if out.shape[1:-1] != in_full[1:-1]:
        raise fail(f"expression '{expr.text}' changes a non-feature dimension",
                   expected=f"(batch, {', '.join(map(str, shape[:-1]))}, features)",
                   received=f"(batch, {', '.join(map(str, out.shape[1:]))})")
    out_shape = tuple(None if input_shape[i] is None and out.shape[i + 1] == stand_in else int(out.shape[i + 1])
                      for i in range(len(input_shape)))
    if expected_output is not None:
        expected = tuple(expected_output)
        if len(expected) != len(out_shape) or any(e is not None and o is not None and int(e) != o
                                                  for e, o in zip(expected, out_shape)):
            raise fail(f"expression '{expr.text}' gives shape {out_shape}, the next layer expects {expected}",
                       expected=expected, received=out_shape)
    return out_shape, shapes


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, (Bin, Pairwise, Cmp)):
        return (node.left, node.right)
    if isinstance(node, (Unary, Clip, Reduce)):
        return (node.arg,)
    if isinstance(node, Where):
        return (node.cond, node.a, node.b)
    return ()


def _walk(node: Node):
    yield node
    for child in _children(node):
        yield from _walk(child)


# ---------------------------------------------------------------------------------- Java (SameDiff)


def java_double(value: float) -> str:
    """A Java double literal for a finite float (``repr`` round-trips; Java reads ``1e-06`` too)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    text = repr(float(value))
    return text if any(c in text for c in ".eE") else text + ".0"


class _JavaGen:
    """Emits one ``SDVariable vN = ...;`` statement per operation; numbers stay Java literals."""

    def __init__(self, expr: Expression, input_var: str, weight_vars: dict[str, str], sd: str) -> None:
        self.expr = expr
        self.input_var = input_var
        self.weight_vars = weight_vars
        self.sd = sd
        self.lines: list[str] = []
        self.count = 0

    def fresh(self, code: str) -> tuple[str, str]:
        self.count += 1
        name = f"v{self.count}"
        self.lines.append(f"SDVariable {name} = {code};")
        return "var", name

    def constant(self, value: float) -> str:
        return self.fresh(f"{self.sd}.constant(Nd4j.scalar({self.input_var}.dataType(), {java_double(value)}))")[1]

    def as_var(self, kind: str, value: str | float) -> str:
        return self.constant(value) if kind == "num" else value

    def emit(self, node: Node) -> tuple[str, Any]:
        sd = self.sd
        if isinstance(node, Num):
            return "num", node.value
        if isinstance(node, Var):
            return "var", self.input_var if node.name == "x" else self.weight_vars[node.name]
        if isinstance(node, Neg):
            _, a = self.emit(node.operand)
            return self.fresh(f"{a}.neg()")
        if isinstance(node, Bin):
            lk, lv = self.emit(node.left)
            rk, rv = self.emit(node.right)
            op = node.op
            if op == "**":
                base = self.as_var(lk, lv)
                exponent = java_double(rv) if rk == "num" else rv
                return self.fresh(f"{sd}.math().pow({base}, {exponent})")
            method = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[op]
            if rk == "num":
                return self.fresh(f"{lv}.{method}({java_double(rv)})")
            if lk == "num":
                method = {"+": "add", "-": "rsub", "*": "mul", "/": "rdiv"}[op]
                return self.fresh(f"{rv}.{method}({java_double(lv)})")
            return self.fresh(f"{lv}.{method}({rv})")
        if isinstance(node, Unary):
            _, a = self.emit(node.arg)
            return self.fresh(UNARY[node.fn][1].format(sd=sd, a=a))
        if isinstance(node, Pairwise):
            left = self.as_var(*self.emit(node.left))
            right = self.as_var(*self.emit(node.right))
            return self.fresh(f"{sd}.math().{PAIRWISE[node.fn][1]}({left}, {right})")
        if isinstance(node, Clip):
            _, a = self.emit(node.arg)
            return self.fresh(f"{sd}.math().clipByValue({a}, {java_double(node.lo)}, {java_double(node.hi)})")
        if isinstance(node, Reduce):
            # NB: M2.1's reductions with keepDims=true and a negative axis give wrong VALUES (right shape) on
            #     rank >= 3 ([2, 3, 4].mean(true, -1) is off by ~0.6); keepDims=false then expandDims(-1) is exact.
            _, a = self.emit(node.arg)
            reduced = f"{a}.{node.fn}(false, -1)"
            return self.fresh(f"{sd}.expandDims({reduced}, -1)" if node.keepdims else reduced)
        if isinstance(node, Cmp):
            lk, lv = self.emit(node.left)
            rk, rv = self.emit(node.right)
            if rk == "num":
                return self.fresh(f"{lv}.{_JAVA_CMP[node.op]}({java_double(rv)})")
            if lk == "num":
                return self.fresh(f"{rv}.{_JAVA_CMP[_FLIPPED[node.op]]}({java_double(lv)})")
            return self.fresh(f"{lv}.{_JAVA_CMP[node.op]}({rv})")
        if isinstance(node, Where):
            return self.where(node)
        raise TypeError(f"unknown node {node!r}")  # pragma: no cover

    def where(self, node: Where) -> tuple[str, str]:
        # NB: SameDiff's where(x, y, condition) needs equal shapes (libnd4j where.cpp: "X and Y must have
        #     equal shapes"); operands of another shape are broadcast by multiplying with ones first
        #     (exact, NaN and inf included).
        #     The Java depends on the text alone (not on one layer's shapes), so every layer mapped by the
        #     same expression shares one generated class.
        _, cond = self.emit(node.cond)
        ak, av = self.emit(node.a)
        bk, bv = self.emit(node.b)
        a, b = self.as_var(ak, av), self.as_var(bk, bv)
        dtype = f"{self.input_var}.dataType()"
        _, ones = self.fresh(f"{self.sd}.onesLike({a}).mul({self.sd}.onesLike({b}))"
                             f".mul({self.sd}.onesLike({cond}, {dtype}))")
        _, cond_b = self.fresh(f"{cond}.castTo({dtype}).mul({ones}).gt(0.5)")
        return self.fresh(f"{self.sd}.where({a}.mul({ones}), {b}.mul({ones}), {cond_b})")
