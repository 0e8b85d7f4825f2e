"""Generated DL4J layer classes: names, Java text, real javac against DL4J M2.1, real DL4J vs the reference."""
from __future__ import annotations

import time
import zipfile

import numpy as np
import pytest

from workbench.custom.expression import parse_expression
from workbench.custom.java_layers import JAR_NAME, compile_layers, java_class_name, java_string, layer_source
from workbench.errors import ExportError
from workbench.mappers import registry


@pytest.fixture
def registry_copy(monkeypatch):
    monkeypatch.setattr(registry, "_MAPPERS", dict(registry._MAPPERS))


@pytest.mark.parametrize("keras, java", [
    ("MyActivation", "MyActivationLayer"), ("workbench_samples>ScaleShift", "ScaleShiftLayer"),
    ("RMSLayer", "RMSLayer"), ("my-op.v2", "My_op_v2Layer"), ("3d", "K3dLayer"), ("SameDiff", "KerasSameDiffLayer"),
])
def test_class_names_are_safe_java_identifiers(keras, java):
    assert java_class_name(keras) == java


def test_java_strings_cannot_break_out_of_their_literal():
    text = 'x "*/ \\u0022 \n\u00e9\U0001F600'
    literal = java_string(text)
    assert literal.startswith('"') and literal.endswith('"')
    assert "\n" not in literal and '"' not in literal[1:-1].replace('\\"', "")
    assert "\\\\u0022" in literal and "\\u00e9" in literal and "\\ud83d\\ude00" in literal


def _sources():
    lam = parse_expression("relu(x) * sigmoid(x)", weights={}, input_shape=(64,), layer="my_activation")
    par = parse_expression("x * gamma + beta", weights={"gamma": (8,), "beta": (8,)}, input_shape=(8,),
                           layer="scale_shift")
    return {
        "MyActivationLayer": layer_source("MyActivationLayer", lam, keras_class="MyActivation"),
        "ScaleShiftLayer": layer_source("ScaleShiftLayer", par, keras_class="ScaleShift",
                                        weight_names=("gamma", "beta")),
    }


def test_generated_sources_have_the_dl4j_shape():
    sources = _sources()
    lam, par = sources["MyActivationLayer"], sources["ScaleShiftLayer"]
    assert "package workbench.generated;" in lam and "extends SameDiffLambdaLayer" in lam
    assert "public MyActivationLayer()" in lam and "defineLayer(SameDiff sd, SDVariable layerInput)" in lam
    assert "extends SameDiffLayer" in par and "params.addWeightParam(weightNames[i], weightShapes[i])" in par
    assert 'param(paramTable, "gamma")' in par and "@JsonIgnore" in par and "initializeParameters" in par
    for getter in ("getExpression", "getNIn", "getNOut", "getInputShape", "getOutputShape", "getDataFormat"):
        assert f" {getter}()" in lam and f" {getter.replace('get', 'set', 1)}(" in lam
    assert "getWeightNames" in par and "setWeightShapes" in par and "getWeightNames" not in lam


@pytest.mark.dl4j
def test_generated_sources_compile_against_dl4j(dl4j_ready, tmp_path):
    start = time.perf_counter()
    jar = compile_layers(_sources(), tmp_path)
    seconds = time.perf_counter() - start
    assert jar == tmp_path / JAR_NAME and jar.is_file()
    names = zipfile.ZipFile(jar).namelist()
    assert {"workbench/generated/MyActivationLayer.class", "workbench/generated/ScaleShiftLayer.class"} <= set(names)
    assert "workbench/generated/ScaleShiftLayer.java" in names and names[0] == "META-INF/MANIFEST.MF"
    assert seconds < 120


@pytest.mark.dl4j
def test_a_compile_error_is_one_export_error_with_javacs_message(dl4j_ready, tmp_path):
    broken = _sources()["ScaleShiftLayer"].replace("x.mul(w_gamma)", "x.multiplyBy(w_gamma)")
    with pytest.raises(ExportError) as err:
        compile_layers({"ScaleShiftLayer": broken}, tmp_path)
    message = str(err.value)
    assert "javac" in message and "ScaleShiftLayer.java" in message and "multiplyBy" in message
    assert "cannot find symbol" in message
    assert not (tmp_path / JAR_NAME).exists()


# Each expression is compiled to Java, run in real DL4J, and compared with the NumPy reference
# (no Keras needed: both read the same exported zip).
SEED_EXPRESSIONS = [
    "where(x > 0, x, 0.1 * x) + clip(x, -0.5, 0.5) - minimum(x, 0.2) + maximum(x, -0.3)",
    "softplus(x) + softsign(x) + elu(x) + selu(x) + swish(x) - silu(x) * 0.5 + tanh(x) + abs(x)",
    "x / sqrt(mean(x * x, axis=-1, keepdims=True) + 1e-6) + sum(x, axis=-1, keepdims=True) * 0.01"
    " + max(x, axis=-1, keepdims=True) - min(x, axis=-1, keepdims=True)",
    "exp(-square(x)) + log(1 + abs(x)) + 2 ** -abs(x) + (1 - x) / (2 + x * x) - x ** 2 + where(x < 0.5, 1, x)",
]


@pytest.mark.dl4j
@pytest.mark.parametrize("text", SEED_EXPRESSIONS)
def test_every_function_means_the_same_in_dl4j_and_numpy(dl4j_ready, samples, tmp_path, registry_copy, text):
    from workbench.check.dl4j_jvm import run_dl4j
    from workbench.check.reference import run_reference
    from workbench.session import Session
    from workbench.mappers.custom import expression_mapping

    registry.mapper("MyActivation")(expression_mapping(text))
    session = Session(samples / "seed.h5")
    zip_path = session.export_zip(tmp_path / "model.zip")
    jar = session.export_custom_jar(tmp_path)
    x = np.load(samples / "seed_io.npz")["input:input"]
    run = run_dl4j(zip_path, {"input": x}, extra_jars=[jar])
    assert run.error is None, run.error
    ref = run_reference(zip_path, x)
    for name in ("my_activation", "dense_1"):
        np.testing.assert_allclose(run.outputs[name], ref[name], atol=1e-5, rtol=1e-5, err_msg=name)


@pytest.mark.dl4j
def test_where_broadcasts_weights_and_numbers_in_dl4j(dl4j_ready, samples, tmp_path, registry_copy):
    """SameDiff's where needs equal shapes: the generated code broadcasts [8] weights and scalars first."""
    from workbench.check.dl4j_jvm import run_dl4j
    from workbench.check.reference import run_reference
    from workbench.mappers.custom import expression_mapping
    from workbench.session import Session

    registry.mapper("ScaleShift")(expression_mapping("where(x > gamma, x * gamma, beta) + where(beta < 0, 1, x)"))
    session = Session(samples / "scale_shift.h5")
    zip_path = session.export_zip(tmp_path / "model.zip")
    x = np.load(samples / "scale_shift_io.npz")["input:input"]
    run = run_dl4j(zip_path, {"input": x}, extra_jars=[session.export_custom_jar(tmp_path)])
    assert run.error is None, run.error
    ref = run_reference(zip_path, x)
    np.testing.assert_allclose(run.outputs["scale_shift"], ref["scale_shift"], atol=1e-5)


@pytest.mark.dl4j
def test_without_the_jar_dl4j_cannot_load_the_model(dl4j_ready, samples, tmp_path, registry_copy):
    from workbench.check.dl4j_jvm import run_dl4j
    from workbench.mappers.custom import expression_mapping
    from workbench.session import Session

    registry.mapper("MyActivation")(expression_mapping("relu(x) * sigmoid(x)"))
    zip_path = Session(samples / "seed.h5").export_zip(tmp_path / "model.zip")
    run = run_dl4j(zip_path, {"input": np.zeros((1, 784), np.float32)})
    assert run.error is not None and "custom layer" in run.error
