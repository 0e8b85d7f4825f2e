"""The Keras side of verification: keras_layer_outputs runs the original model in the Keras that wrote it."""
from __future__ import annotations

import marshal
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, SAMPLES
from workbench.errors import UnsafeContentError, WorkbenchError
from workbench.keras_io import load_model

pytestmark = pytest.mark.tensorflow

STEMS = ["seed", "cnn", "lstm", "functional", "scale_shift", "nested"]
SUFFIXES = [".keras", ".h5", "_keras2.h5"]
CASES = [(stem, suffix) for stem in STEMS for suffix in SUFFIXES]
CUSTOM = SAMPLES / "custom_layers.py"
ATOL = 1e-6


@pytest.fixture(scope="module")
def runner():
    pytest.importorskip("tensorflow", reason="TensorFlow is needed to run the original Keras model")
    from workbench.check import keras_runner

    return keras_runner


def stored_io(stem):
    io = np.load(SAMPLES / f"{stem}_io.npz")
    inputs = {k.split(":", 1)[1]: io[k] for k in io.files if k.startswith("input:")}
    outputs = {k.split(":", 1)[1]: io[k] for k in io.files if k.startswith("output:")}
    return inputs, outputs


def test_importing_the_runner_does_not_import_tensorflow():
    code = "import sys, workbench, workbench.check.keras_runner; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("stem,suffix", CASES, ids=[s + x for s, x in CASES])
def test_model_and_layer_outputs(runner, stem, suffix):
    path = SAMPLES / f"{stem}{suffix}"
    inputs, want = stored_io(stem)
    run = runner.keras_layer_outputs(path, inputs, custom_objects_file=CUSTOM)
    assert len(run.model_outputs) == len(want)
    for got, (name, expected) in zip(run.model_outputs, want.items()):
        assert got.shape == expected.shape, name
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(run.outputs[name], expected, rtol=0, atol=ATOL, err_msg=name)
    model = load_model(path)
    for spec in model.layers:
        assert spec.name in run.outputs, spec.name
        if not spec.is_input:
            assert spec.name in run.layer_inputs, spec.name
    for name, array in inputs.items():
        np.testing.assert_array_equal(run.outputs[name], array)
    assert run.seconds > 0


@pytest.mark.parametrize("suffix", SUFFIXES + [".json", "_keras2.json"])
def test_layer_inputs_are_what_keras_fed(runner, suffix):
    inputs, want = stored_io("seed")
    run = runner.keras_layer_outputs(SAMPLES / f"seed{suffix}", inputs, custom_objects_file=CUSTOM)
    np.testing.assert_allclose(run.model_outputs[0], want["dense_1"], rtol=0, atol=ATOL)
    (fed,) = run.layer_inputs["dense_1"]
    np.testing.assert_array_equal(fed, run.outputs["my_activation"])
    np.testing.assert_array_equal(run.layer_inputs["dense"][0], inputs["input"])


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_nested_shared_and_inner_layers(runner, suffix):
    inputs, _ = stored_io("nested")
    run = runner.keras_layer_outputs(SAMPLES / f"nested{suffix}", inputs, custom_objects_file=CUSTOM)
    assert "shared" in run.outputs and "shared@1" in run.outputs
    assert "shared@2" not in run.outputs
    assert not np.array_equal(run.outputs["shared"], run.outputs["shared@1"])
    np.testing.assert_array_equal(run.layer_inputs["shared"][0], run.outputs["encoder"])
    merge_a, merge_b = run.layer_inputs["merge"]
    np.testing.assert_array_equal(merge_a, run.outputs["shared"])
    np.testing.assert_array_equal(merge_b, run.outputs["shared@1"])
    # the nested Sequential's inner layers, fed what Keras fed the encoder
    np.testing.assert_array_equal(run.outputs["encoder/encoder_input"], inputs["x"])
    np.testing.assert_array_equal(run.layer_inputs["encoder/enc_out"][0], run.outputs["encoder/enc_dense"])
    np.testing.assert_allclose(run.outputs["encoder/enc_out"], run.outputs["encoder"], rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", ["lambda_bytecode_keras2.h5", "lambda_bytecode.h5"])
def test_lambda_bytecode_is_refused_without_loading(runner, monkeypatch, name):
    def never(*args, **kwargs):
        raise AssertionError("marshal.loads was called: bytecode from the model file was decoded")

    monkeypatch.setattr(marshal, "loads", never)
    with pytest.raises(UnsafeContentError) as info:
        runner.keras_layer_outputs(SAMPLES / name, {"input": np.zeros((2, 4), "float32")},
                                   custom_objects_file=CUSTOM)
    assert info.value.layer == "lambda"


@pytest.mark.parametrize("suffix", [".keras", "_keras2.h5"])
def test_missing_custom_objects_file_is_one_clear_error(runner, suffix):
    inputs, _ = stored_io("seed")
    with pytest.raises(WorkbenchError) as info:
        runner.keras_layer_outputs(SAMPLES / f"seed{suffix}", inputs)
    err = info.value
    assert err.layer == "my_activation"
    text = str(err)
    assert "MyActivation" in text and "--custom-objects FILE.py" in text
    assert len(text.splitlines()) == 1


def test_custom_objects_file_without_the_class(runner, tmp_path):
    other = tmp_path / "other.py"
    other.write_text("X = 1\n")
    inputs, _ = stored_io("seed")
    with pytest.raises(WorkbenchError, match="MyActivation.*--custom-objects FILE.py"):
        runner.keras_layer_outputs(SAMPLES / "seed.keras", inputs, custom_objects_file=other)


def test_missing_custom_objects_path(runner, tmp_path):
    inputs, _ = stored_io("seed")
    with pytest.raises(WorkbenchError, match="does not exist"):
        runner.keras_layer_outputs(SAMPLES / "seed.keras", inputs, custom_objects_file=tmp_path / "nope.py")


def test_load_custom_objects_picks_the_dict_by_version(runner):
    import keras
    import tf_keras

    three = runner.load_custom_objects(CUSTOM, 3)
    two = runner.load_custom_objects(CUSTOM, 2)
    assert issubclass(three["MyActivation"], keras.layers.Layer)
    assert issubclass(two["workbench_samples>MyActivation"], tf_keras.layers.Layer)
    assert three["ScaleShift"] is not two["ScaleShift"]


def test_load_custom_objects_falls_back_to_layer_subclasses(runner, tmp_path):
    source = tmp_path / "plain_layers.py"
    source.write_text(
        "import keras\n"
        "from keras.layers import Dense  # imported, not defined here: left out\n"
        "class Doubler(keras.layers.Layer):\n"
        "    def call(self, x):\n"
        "        return x * 2.0\n"
        "class NotALayer:\n"
        "    pass\n"
    )
    objects = runner.load_custom_objects(source, 3)
    assert list(objects) == ["Doubler"]


def test_inputs_must_match_the_model(runner):
    with pytest.raises(WorkbenchError, match="do not match"):
        runner.keras_layer_outputs(SAMPLES / "functional.keras", {"a": np.zeros((2, 6), "float32")})
    with pytest.raises(WorkbenchError, match="does not fit"):
        runner.keras_layer_outputs(SAMPLES / "cnn.keras", {"input": np.zeros((2, 12, 3), "float32")})


@pytest.mark.parametrize("stem", STEMS)
def test_sample_inputs_are_deterministic_and_runnable(runner, stem):
    model = load_model(SAMPLES / f"{stem}.keras")
    first = runner.sample_inputs(model, batch=2, seed=0)
    again = runner.sample_inputs(model, batch=2, seed=0)
    assert list(first) == [ref.layer for ref in model.inputs]
    for name, array in first.items():
        np.testing.assert_array_equal(array, again[name])
        assert array.shape[0] == 2
    if stem == "lstm":
        assert first["input"].dtype == np.int32
        assert first["input"].min() >= 0 and first["input"].max() < 20
    else:
        assert all(a.dtype == np.float32 for a in first.values())
    run = runner.keras_layer_outputs(SAMPLES / f"{stem}.keras", first, custom_objects_file=CUSTOM)
    assert all(np.isfinite(o).all() for o in run.model_outputs)


def test_sample_inputs_for_a_keras2_embedding(runner):
    model = load_model(SAMPLES / "lstm_keras2.h5")
    x = runner.sample_inputs(model, batch=3, seed=1)["input"]
    assert x.shape == (3, 8)
    assert x.min() >= 0 and x.max() < 20 and np.array_equal(x, np.round(x))


def test_missing_tensorflow_is_runtime_unavailable():
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "from workbench.check.keras_runner import keras_layer_outputs\n"
        "from workbench.errors import RuntimeUnavailable\n"
        "try:\n"
        "    keras_layer_outputs('sample_models/cnn.keras', {})\n"
        "except RuntimeUnavailable as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and "TensorFlow is not installed" in lines[0] and "pip install" in lines[0]
