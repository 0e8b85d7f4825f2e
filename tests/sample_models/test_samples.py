"""Tests for the bundled sample models in sample_models/.

* every committed sample reloads in the Keras that wrote it (Keras 3 or tf_keras)
  with the custom objects from custom_layers.py and reproduces <stem>_io.npz;
* generate.py is deterministic: a fresh run into a temp dir gives the same
  weight arrays (compared through h5py, not file bytes);
* the Lambda bad-input fixture holds marshalled bytecode (never executed here).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_models"
ATOL = 1e-6
STEMS = ("seed", "cnn", "lstm", "functional", "scale_shift", "nested")

# (file name(s), writer) for every sample that has an <stem>_io.npz.
CASES = []
for _stem in STEMS:
    CASES += [
        pytest.param(_stem, (f"{_stem}.keras",), "keras3", id=f"{_stem}.keras"),
        pytest.param(_stem, (f"{_stem}.h5",), "keras3", id=f"{_stem}.h5"),
        pytest.param(_stem, (f"{_stem}_keras2.h5",), "keras2", id=f"{_stem}_keras2.h5"),
    ]
CASES += [
    pytest.param("seed", ("seed.json", "seed.weights.h5"), "keras3", id="seed.json"),
    pytest.param("seed", ("seed_keras2.json", "seed_keras2_weights.h5"), "keras2",
                 id="seed_keras2.json"),
]


def _custom_layers():
    spec = importlib.util.spec_from_file_location("custom_layers", SAMPLES / "custom_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def frameworks():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    tf_keras = pytest.importorskip("tf_keras")
    return keras, tf_keras, _custom_layers()


def _load(files, writer, frameworks):
    keras, tf_keras, cl = frameworks
    if writer == "keras3":
        K, co = keras, cl.CUSTOM_OBJECTS
    else:
        K, co = tf_keras, cl.CUSTOM_OBJECTS_KERAS2
    paths = [SAMPLES / f for f in files]
    if len(paths) == 1:
        return K.models.load_model(paths[0], custom_objects=co, compile=False)
    model = K.models.model_from_json(paths[0].read_text(), custom_objects=co)
    model.load_weights(paths[1])
    return model


@pytest.mark.tensorflow
@pytest.mark.parametrize("stem, files, writer", CASES)
def test_sample_reproduces_stored_outputs(stem, files, writer, frameworks):
    stored = np.load(SAMPLES / f"{stem}_io.npz")
    inputs = {k.split(":", 1)[1]: stored[k] for k in stored.files if k.startswith("input:")}
    outputs = {k.split(":", 1)[1]: stored[k] for k in stored.files if k.startswith("output:")}
    model = _load(files, writer, frameworks)

    in_names = [t._keras_history[0].name for t in model.inputs]
    out_names = [t._keras_history[0].name for t in model.outputs]
    assert in_names == list(inputs)
    assert out_names == list(outputs)

    arrays = [inputs[n] for n in in_names]
    got = model(arrays[0] if len(arrays) == 1 else arrays, training=False)
    if not isinstance(got, (list, tuple)):
        got = [got]
    for name, y in zip(out_names, got):
        np.testing.assert_allclose(np.asarray(y), outputs[name], rtol=0, atol=ATOL,
                                   err_msg=f"{files} output {name}")


@pytest.mark.tensorflow
def test_custom_objects_dicts(frameworks):
    _, _, cl = frameworks
    for d in (cl.CUSTOM_OBJECTS, cl.CUSTOM_OBJECTS_KERAS2):
        for cls in ("MyActivation", "ScaleShift"):
            assert d[cls] is d[f"workbench_samples>{cls}"]
    assert cl.CUSTOM_OBJECTS["ScaleShift"] is not cl.CUSTOM_OBJECTS_KERAS2["ScaleShift"]


def _lambda_config(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
    (layer,) = [l for l in config["config"]["layers"] if l["class_name"] == "Lambda"]
    return layer["config"]


def test_lambda_fixture_holds_bytecode_and_is_keras2_h5_only():
    # Inspected with h5py only: the stored bytecode is never executed.
    cfg = _lambda_config(SAMPLES / "lambda_bytecode_keras2.h5")
    assert cfg["function_type"] == "lambda"
    assert isinstance(cfg["function"], list) and len(cfg["function"][0]) > 20
    assert not (SAMPLES / "lambda_bytecode.keras").exists()
    assert not (SAMPLES / "lambda_bytecode_io.npz").exists()
    if (SAMPLES / "lambda_bytecode.h5").exists():  # Keras 3 legacy h5, when it agreed
        fn = _lambda_config(SAMPLES / "lambda_bytecode.h5")["function"]
        assert fn["class_name"] == "__lambda__" and fn["config"]["code"]


def test_samples_are_small():
    total = sum(p.stat().st_size for p in SAMPLES.iterdir() if p.is_file())
    assert total < 2 * 1024 * 1024, total


# ---------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------
def _h5_arrays(source) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(source, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return arrays


def _weights(path: Path) -> dict[str, np.ndarray]:
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            return _h5_arrays(io.BytesIO(z.read("model.weights.h5")))
    if path.suffix == ".npz":
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    return _h5_arrays(path)


@pytest.mark.tensorflow
def test_generator_is_deterministic(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    out = tmp_path / "samples"
    proc = subprocess.run(
        [sys.executable, str(SAMPLES / "generate.py"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    kinds = {".h5", ".keras", ".npz"}
    committed = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in kinds)
    fresh = sorted(p.name for p in out.iterdir() if p.suffix in kinds)
    assert committed == fresh
    assert len(committed) >= 27  # 6 stems x 4 + 2 weights-only + lambda
    for name in committed:
        want, got = _weights(SAMPLES / name), _weights(out / name)
        assert sorted(want) == sorted(got), name
        for key in want:
            assert want[key].dtype == got[key].dtype, (name, key)
            assert np.array_equal(want[key], got[key]), (name, key)
    assert (out / "README.md").read_text() == (SAMPLES / "README.md").read_text()
    for name in ("seed.json", "seed_keras2.json"):
        assert json.loads((out / name).read_text()) == json.loads((SAMPLES / name).read_text())
