"""The expression language: what it accepts, what it computes, what it refuses (before anything runs)."""
from __future__ import annotations

import ast
import builtins

import numpy as np
import pytest

from workbench.custom.expression import FUNCTIONS, check_syntax, parse_expression
from workbench.errors import ExpressionError, MappingError
from workbench.mappers import registry

WEIGHTS = {"gamma": (8,), "beta": (8,)}
RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 8))
GAMMA, BETA = RNG.normal(size=8), RNG.normal(size=8)


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


@pytest.fixture
def registry_copy(monkeypatch):
    """Mappers registered in a test vanish afterwards."""
    monkeypatch.setattr(registry, "_MAPPERS", dict(registry._MAPPERS))


@pytest.mark.parametrize("text, expected", [
    ("relu(x) * sigmoid(x)", lambda x, g, b: np.maximum(x, 0) * _sig(x)),
    ("x * gamma + beta", lambda x, g, b: x * g + b),
    ("tanh(x) + 0.5 * x", lambda x, g, b: np.tanh(x) + 0.5 * x),
    ("where(x > 0, x, 0.1 * x)", lambda x, g, b: np.where(x > 0, x, 0.1 * x)),
    ("x / sqrt(mean(x * x, axis=-1, keepdims=True) + 1e-6) * gamma",
     lambda x, g, b: x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * g),
    ("clip(x, -0.5, 0.5) + minimum(x, beta) - maximum(x, 0)",
     lambda x, g, b: np.clip(x, -0.5, 0.5) + np.minimum(x, b) - np.maximum(x, 0)),
    ("softplus(x) + softsign(x) + swish(x) - silu(x)", lambda x, g, b: np.log1p(np.exp(x)) + x / (1 + np.abs(x))),
    ("elu(x) + selu(x)", lambda x, g, b: np.where(x > 0, x, np.expm1(x))
     + 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    ("-x ** 2 + 2 ** -abs(x) + (1 - x) / (2 + square(x))",
     lambda x, g, b: -x ** 2 + 2.0 ** -np.abs(x) + (1 - x) / (2 + x * x)),
    ("x - max(x, axis=-1, keepdims=True) + sum(x, axis=-1, keepdims=True) * min(x, axis=-1, keepdims=True)",
     lambda x, g, b: x - x.max(-1, keepdims=True) + x.sum(-1, keepdims=True) * x.min(-1, keepdims=True)),
    ("exp(-abs(x)) + log(1 + abs(x)) + where(gamma <= x, 1, beta)",
     lambda x, g, b: np.exp(-np.abs(x)) + np.log1p(np.abs(x)) + np.where(g <= x, 1.0, b)),
])
def test_accepted_expressions_compute_what_they_say(text, expected):
    """Each accepted form evaluates like the NumPy formula it names, in Keras's layout."""
    expr = parse_expression(text, weights=WEIGHTS, input_shape=(8,), layer="custom")
    out = expr.evaluate_numpy(X, {"gamma": GAMMA, "beta": BETA})
    np.testing.assert_allclose(out, expected(X, GAMMA, BETA), rtol=1e-12, atol=1e-12)
    assert expr.output_shape == (8,)
    assert set(expr.weight_names) <= {"gamma", "beta"}


def test_weight_names_are_the_ones_read_in_the_layers_order():
    expr = parse_expression("beta + x * gamma", weights=WEIGHTS, input_shape=(8,))
    assert expr.weight_names == ("gamma", "beta") and expr.text == "beta + x * gamma"
    assert parse_expression("relu(x)", weights=WEIGHTS, input_shape=(8,)).weight_names == ()


def test_unknown_dimensions_and_higher_ranks_are_checked_with_stand_ins():
    """[batch, time?, features] and [batch, h, w, c]: element-wise along the last axis, shapes kept."""
    expr = parse_expression("x * gamma", weights={"gamma": (4,)}, input_shape=(None, 4))
    assert expr.output_shape == (None, 4)
    cnn = parse_expression("mean(x, axis=-1, keepdims=True) * x", weights={}, input_shape=(5, 5, 3))
    assert cnn.output_shape == (5, 5, 3)
    reduced = parse_expression("sum(x, axis=-1, keepdims=True)", weights={}, input_shape=(6,))
    assert reduced.output_shape == (1,)


SAFETY = [
    ("__import__('os')", "__import__"),
    ("x.__class__", "__class__"),
    ("x[0]", "x[0]"),
    ("lambda: 1", "lambda"),
    ("[v for v in x]", "comprehension"),
    ("foo(x)", "foo"),
    ("x * gamma2", "gamma2"),
    ("x * ones", "ones"),
    ("x * (", "syntax error"),
    ("relu(x, alpha=0.1)", "alpha"),
    ("mean(x, axis=0, keepdims=True)", "axis"),
    ("x > 0", "where"),
    ("'abc' + x", "abc"),
    ("x // 2", "//"),
    ("max(x, 0)", "maximum"),
    ("(x).real", "real"),
    ("x if x else 0", "where"),
    ("getattr(x, 'y')", "getattr"),
    ("1e999 * x", "finite"),
    ("", "empty"),
]


@pytest.mark.parametrize("text, offending", SAFETY)
def test_malformed_or_unsafe_expressions_are_refused_naming_layer_and_token(text, offending):
    with pytest.raises(ExpressionError) as err:
        parse_expression(text, weights=WEIGHTS, input_shape=(8,), layer="my_layer", file="model.keras")
    message = str(err.value)
    assert isinstance(err.value, MappingError)
    assert "my_layer" in message and "model.keras" in message
    assert offending in message


def test_a_wrong_weight_name_lists_the_layers_weights():
    with pytest.raises(ExpressionError) as err:
        parse_expression("x * gamma2", weights=WEIGHTS, input_shape=(8,), layer="scale_shift")
    assert "gamma, beta" in str(err.value) and err.value.received == "gamma2"


def test_a_shape_mismatch_is_refused_naming_the_operation():
    """A weight of shape (3,) multiplied into an input of 8 features."""
    with pytest.raises(ExpressionError) as err:
        parse_expression("x * gamma + beta", weights={"gamma": (3,), "beta": (8,)}, input_shape=(8,),
                         layer="scale_shift")
    message = str(err.value)
    assert "scale_shift" in message and "x * gamma" in message and "(3,)" in message and "(batch, 8)" in message


@pytest.mark.parametrize("text, weights, input_shape, expected_output, fragment", [
    ("mean(x, axis=-1)", {}, (8,), None, "rank"),                        # a reduction that drops the axis
    ("gamma * 2", {"gamma": (8,)}, (8,), None, "batch"),                 # no x: no batch axis
    ("x * w", {"w": (7, 8)}, (8,), None, "w"),                           # a batch-sized weight must not pass
    ("x * w", {"w": (5, 1)}, (1, 8), None, "non-feature"),               # grows a non-feature dimension
    ("sum(x, axis=-1, keepdims=True)", {}, (8,), (8,), "next layer"),    # not what the next layer expects
])
def test_outputs_that_do_not_fit_are_refused(text, weights, input_shape, expected_output, fragment):
    with pytest.raises(ExpressionError) as err:
        parse_expression(text, weights=weights, input_shape=input_shape, layer="odd", expected_output=expected_output)
    assert fragment in str(err.value) and "odd" in str(err.value)


def test_a_per_step_weight_along_a_non_feature_axis_is_fine():
    """[batch, 5, 8] * w[5, 1] keeps the shape: accepted."""
    assert parse_expression("x * w", weights={"w": (5, 1)}, input_shape=(5, 8)).output_shape == (5, 8)


def test_nothing_is_evaluated_as_python(monkeypatch):
    """Parsing and evaluating never call eval/exec, nor compile anything but an AST."""
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    real_compile = builtins.compile

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        assert flags & ast.PyCF_ONLY_AST, "compile() asked for code, not an AST"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", ast_only)
    expr = parse_expression("x * gamma + beta", weights=WEIGHTS, input_shape=(8,))
    np.testing.assert_allclose(expr.evaluate_numpy(X, {"gamma": GAMMA, "beta": BETA}), X * GAMMA + BETA)
    with pytest.raises(ExpressionError):
        parse_expression("__import__('os').system('echo hacked')", weights=WEIGHTS, input_shape=(8,))


def test_deeply_nested_or_huge_expressions_are_refused_cleanly():
    with pytest.raises(ExpressionError):
        parse_expression("-" * 5000 + "x", weights={}, input_shape=(8,), layer="deep")
    with pytest.raises(ExpressionError):
        parse_expression("+".join(["x"] * 600), weights={}, input_shape=(8,), layer="long")


def test_java_for_an_expression_uses_samediff_ops():
    expr = parse_expression("where(x > 0, x, 0.1 * x) * gamma + 1", weights=WEIGHTS, input_shape=(8,))
    java = expr.to_samediff_java("x", {"gamma": "w_gamma", "beta": "w_beta"})
    assert "x.gt(0.0)" in java and "sd.where(" in java and ".mul(w_gamma)" in java and ".add(1.0)" in java
    assert java.splitlines()[-1].startswith("SDVariable out = ")
    assert "sd.nn().relu(x, 0.0)" in parse_expression("relu(x)", weights={}, input_shape=(3,)).to_samediff_java(
        "x", {})


def test_check_syntax_refuses_without_a_layer_and_allows_unknown_weights():
    check_syntax("x * anything + 1")
    for bad in ("__import__('os')", "x.y", "unknown(x)", "x +"):
        with pytest.raises(ExpressionError):
            check_syntax(bad)
    assert {"relu", "sigmoid", "where", "mean"} <= set(FUNCTIONS) and "gelu" not in FUNCTIONS


# ----------------------------------------------------------------------------- mapping (no Keras run)


def test_expression_mapping_refuses_an_unsafe_text_at_once():
    from workbench.mappers.custom import expression_mapping

    with pytest.raises(ExpressionError) as err:
        expression_mapping("__import__('os')")
    assert "__import__" in str(err.value)


def test_scale_shift_maps_to_a_generated_samediff_layer(samples, registry_copy):
    from workbench.convert import map_model
    from workbench.keras_io import load_model
    from workbench.mappers.custom import expression_mapping

    registry.mapper("ScaleShift")(expression_mapping("x * gamma + beta"))
    model = load_model(samples / "scale_shift.h5")
    conv = map_model(model)
    mapped = conv.mapped["scale_shift"]
    assert mapped.java_class == "workbench.generated.ScaleShiftLayer"
    assert mapped.layer["@class"] == mapped.java_class and mapped.layer["expression"] == "x * gamma + beta"
    assert mapped.layer["weightNames"] == ["gamma", "beta"] and mapped.layer["weightShapes"] == [[8], [8]]
    assert [p.key for p in mapped.params] == ["gamma", "beta"] and all(p.order == "c" for p in mapped.params)
    np.testing.assert_array_equal(mapped.params[0].value, model.layer("scale_shift").weight("gamma").read())
    assert "extends SameDiffLayer" in mapped.java_source and "layerParams" not in mapped.layer


def test_seed_reference_matches_the_stored_keras_output(samples, registry_copy):
    """The NumPy reference runs the generated layer by its expression: seed.h5 reproduces Keras's output."""
    from workbench.check.reference import run_reference
    from workbench.check.verify import in_memory_zip
    from workbench.convert import map_model
    from workbench.keras_io import load_model
    from workbench.mappers.custom import expression_mapping

    registry.mapper("MyActivation")(expression_mapping("relu(x) * sigmoid(x)"))
    conv = map_model(load_model(samples / "seed.h5"))
    assert "extends SameDiffLambdaLayer" in conv.mapped["my_activation"].java_source
    io = np.load(samples / "seed_io.npz")
    out = run_reference(in_memory_zip(conv), io["input:input"])
    np.testing.assert_allclose(out["dense_1"], io["output:dense_1"], atol=1e-5)


def test_wrong_weight_name_is_refused_when_mapping(samples, registry_copy):
    from workbench.convert import map_model
    from workbench.keras_io import load_model
    from workbench.mappers.custom import expression_mapping

    registry.mapper("ScaleShift")(expression_mapping("x * gamma2 + beta"))
    with pytest.raises(MappingError) as err:
        map_model(load_model(samples / "scale_shift.h5"))
    assert "scale_shift" in str(err.value) and "gamma2" in str(err.value) and "gamma, beta" in str(err.value)


def test_anonymous_keras3_weights_get_a_hint(samples, registry_copy):
    """``.keras`` stores a custom layer's weights as vars/0, vars/1: the message says how to name them."""
    from workbench.convert import map_model
    from workbench.keras_io import load_model
    from workbench.mappers.custom import expression_mapping

    registry.mapper("ScaleShift")(expression_mapping("x * gamma + beta"))
    with pytest.raises(MappingError) as err:
        map_model(load_model(samples / "scale_shift.keras"))
    assert "custom_objects" in str(err.value) and "0, 1" in str(err.value)
