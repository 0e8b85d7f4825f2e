"""Real DL4J 1.0.0-M2.1 on the JVM: reference regression outputs, our zips, Keras import, M2.1's own bytes."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from workbench.check import dl4j_jvm
from workbench.check.dl4j_jvm import (
    MAIN_CLASS,
    DL4JJob,
    HarnessError,
    ensure_built,
    harness_classpath,
    java_status,
    run_dl4j,
    run_jobs,
    run_keras_import,
)
from workbench.export.model_zip import read_model_zip, write_model_zip
from workbench.export.nd4j_binary import read_array, write_array

TIMEOUT = 600



@pytest.fixture(scope="module")
def ref(dl4j_reference) -> Path:
    return dl4j_reference


@pytest.fixture(scope="module")
def harness() -> Path:
    """The built harness jar; skips only when Java/Maven are missing."""
    status = java_status()
    if status is not None:
        pytest.skip(status)
    return ensure_built()


def _array(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        return read_array(f)


def _last(run) -> np.ndarray:
    assert run.error is None, run.error
    return list(run.outputs.values())[-1]


# ----------------------------------------------------------------------------- no Java needed


def test_java_status_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    msg = java_status()
    assert msg is not None and "\n" not in msg
    assert "Java 17 and Maven" in msg and "no java on PATH" in msg and "no mvn on PATH" in msg
    assert "apt-get install openjdk-17-jdk-headless maven" in msg


def test_ensure_built_without_java_is_runtime_unavailable(monkeypatch, tmp_path):
    from workbench.errors import RuntimeUnavailable

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dl4j_jvm, "_is_stale", lambda jar: True)
    with pytest.raises(RuntimeUnavailable, match="Java 17 and Maven"):
        ensure_built()


# ----------------------------------------------------------------------------- real DL4J


@pytest.mark.dl4j
def test_build_is_cached(harness):
    jar = harness
    before = jar.stat().st_mtime_ns
    assert ensure_built() == jar and jar.stat().st_mtime_ns == before
    assert java_status() is None
    assert harness_classpath(["/x/custom.jar"]).endswith(":/x/custom.jar")


@pytest.mark.dl4j
def test_failed_build_reports_the_compiler_error(harness, tmp_path, monkeypatch):
    copy = tmp_path / "dl4j-harness"
    shutil.copytree(dl4j_jvm.HARNESS_DIR, copy, ignore=shutil.ignore_patterns("target"))
    main = copy / "src/main/java/workbench/harness/Main.java"
    main.write_text(main.read_text() + "\nthis is not java\n")
    monkeypatch.setattr(dl4j_jvm, "HARNESS_DIR", copy)
    with pytest.raises(HarnessError, match="Maven build of the DL4J harness failed") as err:
        ensure_built()
    assert "Main.java" in str(err.value) and "\x1b[" not in str(err.value)
    assert not (copy / "target/dl4j-harness.jar").exists()


@pytest.mark.dl4j
def test_synthetic_cnn_reproduces_dl4j_reference_output(harness, ref):
    base = ref / "regression_testing/100b6"
    x = _array(base / "SyntheticCNN_Input_100b6.bin")
    expected = _array(base / "SyntheticCNN_Output_100b6.bin")
    run = run_dl4j(base / "SyntheticCNN_100b6.bin", {"input": x}, timeout=TIMEOUT)
    assert run.error is None and run.seconds > 0
    assert list(run.outputs) == ["input"] + [f"layer{i}" for i in range(10)]
    np.testing.assert_array_equal(run.outputs["input"], x)
    out = _last(run)
    assert out.shape == expected.shape == (4, 4, 11, 22)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


@pytest.mark.dl4j
def test_bidirectional_rnn_graph_reproduces_dl4j_reference_output(harness, ref):
    base = ref / "regression_testing/100b6"
    x = _array(base / "SyntheticBidirectionalRNNGraph_Input_100b6.bin")
    expected = _array(base / "SyntheticBidirectionalRNNGraph_Output_100b6.bin")
    run = run_dl4j(base / "SyntheticBidirectionalRNNGraph_100b6.bin", {"input": x}, timeout=TIMEOUT)
    assert list(run.outputs) == ["input", "rnn1", "rnn2", "concat", "pooling", "out"]
    assert run.outputs["concat"].shape == (4, 64, 10)
    np.testing.assert_allclose(run.outputs["out"], expected, rtol=0, atol=1e-5)


@pytest.mark.dl4j
def test_our_zip_loads_in_dl4j_and_matches_the_original(harness, ref, tmp_path):
    base = ref / "regression_testing/100b6"
    jobs, names = [], ["SyntheticCNN", "SyntheticBidirectionalRNNGraph"]
    for name in names:
        original = base / f"{name}_100b6.bin"
        z = read_model_zip(original)
        ours = write_model_zip(tmp_path / f"{name}.zip", z.configuration_json, z.params)
        x = {"input": _array(base / f"{name}_Input_100b6.bin")}
        jobs += [DL4JJob(original, x), DL4JJob(ours, x)]
    runs = run_jobs(jobs, timeout=TIMEOUT)
    for name, theirs, ours in zip(names, runs[0::2], runs[1::2]):
        assert theirs.error is None and ours.error is None, name
        assert list(ours.outputs) == list(theirs.outputs)
        for key in theirs.outputs:
            np.testing.assert_array_equal(ours.outputs[key], theirs.outputs[key], err_msg=f"{name}/{key}")


@pytest.mark.dl4j
def test_dl4j_rejects_a_zip_whose_params_do_not_fit(harness, ref, tmp_path):
    base = ref / "regression_testing/100b6"
    z = read_model_zip(base / "SyntheticCNN_100b6.bin")
    bad = write_model_zip(tmp_path / "short.zip", z.configuration_json, z.params[:-1])
    run = run_dl4j(bad, {"input": _array(base / "SyntheticCNN_Input_100b6.bin")}, timeout=TIMEOUT)
    assert run.outputs == {}
    assert run.error is not None and run.error.startswith("java.lang.IllegalArgumentException: ")
    assert "1304" in run.error and "1303" in run.error  # expected vs received length


@pytest.mark.dl4j
def test_jobs_mode_records_each_failure_and_keeps_going(harness, ref, tmp_path):
    base = ref / "regression_testing/100b6"
    x = _array(base / "SyntheticBidirectionalRNNGraph_Input_100b6.bin")
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip at all")
    model = base / "SyntheticBidirectionalRNNGraph_100b6.bin"
    runs = run_jobs(
        [
            {"mode": "run", "model": model, "inputs": {"input": x[:, :3]}},  # 3 features for a 10-feature LSTM
            {"mode": "run", "model": garbage, "inputs": {"input": x}},
            {"mode": "run", "model": model, "inputs": {"input": x}},
        ],
        timeout=TIMEOUT,
    )
    assert runs[0].outputs == {}
    assert runs[0].error.startswith("org.deeplearning4j.exception.DL4JInvalidInputException: ")
    assert runs[1].outputs == {} and runs[1].error is not None
    np.testing.assert_allclose(
        runs[2].outputs["out"], _array(base / "SyntheticBidirectionalRNNGraph_Output_100b6.bin"), atol=1e-5
    )
    assert all(r.seconds > 0 for r in runs)


@pytest.mark.dl4j
def test_wrong_graph_input_name_is_a_harness_error(harness, ref):
    base = ref / "regression_testing/100b6"
    x = _array(base / "SyntheticBidirectionalRNNGraph_Input_100b6.bin")
    with pytest.raises(HarnessError, match="graph inputs are"):
        run_jobs([DL4JJob(base / "SyntheticBidirectionalRNNGraph_100b6.bin", {"a": x, "b": x})], timeout=TIMEOUT)


@pytest.mark.dl4j
def test_keras_import_matches_keras_predictions(harness, ref):
    base = ref / "keras/examples/activations"
    with h5py.File(base / "ReLU_1_inputs_and_outputs.h5", "r") as f:
        x = f["inputs/dense_input"][()]
        dense = f["activations/dense"][()]
        predicted = f["predictions/re_lu_1"][()]
    run = run_keras_import(base / "ReLU_1_model.h5", {"dense_input": x}, timeout=TIMEOUT)
    assert run.error is None
    assert list(run.outputs) == ["input", "dense", "re_lu_1"]
    np.testing.assert_allclose(run.outputs["dense"], dense, rtol=0, atol=1e-5)
    np.testing.assert_allclose(run.outputs["re_lu_1"], predicted, rtol=0, atol=1e-5)


@pytest.mark.dl4j
def test_in_place_activation_layers_do_not_corrupt_earlier_activations(harness, ref):
    # DL4J's ActivationLayer overwrites its input array in inference; the harness must report the
    # values before that (here: a ComputationGraph's Dense output and a network input).
    base = ref / "keras/tfkeras"
    rng = np.random.default_rng(3)
    x3 = rng.standard_normal((5, 3)).astype(np.float32)
    x2 = rng.standard_normal((5, 2)).astype(np.float32)
    mlp, act = run_jobs(
        [
            DL4JJob(base / "mlp_0.h5", {"input_1": x3}, "keras-import"),  # Dense -> Activation(sigmoid) -> Dropout
            DL4JJob(base / "act_1.h5", {"input_2": x2}, "keras-import"),  # Input -> Activation(elu)
        ],
        timeout=TIMEOUT,
    )
    with h5py.File(base / "mlp_0.h5", "r") as f:
        w, b = f["model_weights/dense/dense/kernel:0"][()], f["model_weights/dense/dense/bias:0"][()]
    assert list(mlp.outputs) == ["input_1", "dense", "activation", "dropout"]
    dense = x3 @ w + b
    assert (dense < 0).any()
    np.testing.assert_allclose(mlp.outputs["dense"], dense, atol=1e-5)
    np.testing.assert_allclose(mlp.outputs["activation"], 1 / (1 + np.exp(-dense)), atol=1e-5)
    np.testing.assert_array_equal(mlp.outputs["input_1"], x3)
    np.testing.assert_array_equal(act.outputs["input_2"], x2)
    np.testing.assert_allclose(act.outputs["activation"], np.where(x2 > 0, x2, np.expm1(x2)), atol=1e-6)


@pytest.mark.dl4j
def test_keras_import_failure_returns_dl4j_message(harness, ref):
    model = ref / "keras/examples/lambda/model_lambda.h5"
    run = run_keras_import(model, {"input": np.zeros((2, 4), np.float32)}, timeout=TIMEOUT)
    assert run.outputs == {}
    assert run.error.startswith(
        "org.deeplearning4j.nn.modelimport.keras.exceptions.UnsupportedKerasConfigurationException: "
    )
    assert "No SameDiff Lambda layer found for Lambda layer" in run.error


# ----------------------------------------------------------------------------- M2.1's own bytes


def _java(*args: str) -> subprocess.CompletedProcess:
    cmd = [shutil.which("java"), *dl4j_jvm.JVM_OPTIONS, "-cp", harness_classpath(), MAIN_CLASS, *args]
    return subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)


@pytest.mark.dl4j
def test_write_array_is_byte_identical_to_m21_nd4j_write(harness, tmp_path):
    rng = np.random.default_rng(7)
    cases = {
        "row": rng.standard_normal((1, 9)).astype(np.float32),
        "vec": rng.standard_normal(9).astype(np.float32),
        "cube": rng.standard_normal((2, 3, 4)).astype(np.float64),
        "col": rng.standard_normal((5, 1)).astype(np.float32),
    }
    for name, arr in cases.items():
        np.save(tmp_path / f"{name}.npy", arr)
        proc = _java("convert", "--in", str(tmp_path / f"{name}.npy"), "--out", str(tmp_path / f"{name}.bin"))
        assert proc.returncode == 0, proc.stderr.decode()
        m21 = (tmp_path / f"{name}.bin").read_bytes()
        buf = io.BytesIO()
        write_array(buf, arr)
        assert buf.getvalue() == m21, name
        assert np.array_equal(read_array(io.BytesIO(m21)), arr)


@pytest.mark.dl4j
def test_m21_resaved_zip_reads_back(harness, ref, tmp_path):
    original = ref / "regression_testing/100b6/SyntheticBidirectionalRNNGraph_100b6.bin"
    out = tmp_path / "m21.zip"
    proc = _java("resave", "--model", str(original), "--out", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    m21, old = read_model_zip(out), read_model_zip(original)
    assert m21.kind == "ComputationGraph" and m21.entries == ("configuration.json", "coefficients.bin")
    assert m21.params.tobytes() == old.params.tobytes()
    with zipfile.ZipFile(out) as zf:
        coefficients = zf.read("coefficients.bin")
    buf = io.BytesIO()
    write_array(buf, m21.params)  # M2.1 writes rank 1: [N]
    assert buf.getvalue() == coefficients
    assert json.loads(m21.configuration_json)["topologicalOrderStr"] == old.configuration["topologicalOrderStr"]
