"""``workbench verify`` and ``convert`` on the bundled samples: NumPy reference and real DL4J."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, SAMPLES
from workbench.export.dl4j_config import flat_params
from workbench.export.model_zip import read_model_zip
from workbench.mappers import registry
from workbench.session import Session

BUILT_IN_ONLY = ["cnn", "lstm", "functional", "nested"]
FORMATS = [".keras", ".h5", "_keras2.h5"]
CASES = [(stem, suffix) for stem in BUILT_IN_ONLY for suffix in FORMATS]


def stored_inputs(stem: str) -> dict[str, np.ndarray]:
    data = np.load(SAMPLES / f"{stem}_io.npz")
    return {k.split(":", 1)[1]: data[k] for k in data.files if k.startswith("input:")}


@pytest.mark.tensorflow
@pytest.mark.parametrize("cnn_format", ["NHWC", "NCHW"])
@pytest.mark.parametrize("stem,suffix", CASES, ids=[s + x for s, x in CASES])
def test_every_layer_matches_keras_in_the_reference(stem, suffix, cnn_format):
    """Each built-in-only sample verifies within 1e-5 at every layer, isolated and propagated."""
    report = Session(SAMPLES / f"{stem}{suffix}", cnn_format=cnn_format).verify(stored_inputs(stem))
    assert report.passed, [(c.name, c.status, c.isolated, c.propagated) for c in report.layers]
    assert all(c.isolated.max_abs < 1e-5 for c in report.layers if c.status == "ok")


@pytest.mark.tensorflow
@pytest.mark.dl4j
@pytest.mark.parametrize("cnn_format", ["NHWC", "NCHW"])
@pytest.mark.parametrize("stem,suffix", CASES, ids=[s + x for s, x in CASES])
def test_every_layer_matches_keras_in_real_dl4j(stem, suffix, cnn_format, dl4j_ready):
    """The exported zip loads in real DL4J 1.0.0-M2.1 and every layer matches Keras within 1e-5."""
    report = Session(SAMPLES / f"{stem}{suffix}", cnn_format=cnn_format).verify(stored_inputs(stem), dl4j=True)
    assert report.dl4j_error is None, report.dl4j_error
    compared = [c for c in report.layers if c.status != "folded"]
    assert compared and all(c.dl4j is not None and c.dl4j.max_abs < 1e-5 for c in compared), \
        [(c.name, c.dl4j) for c in compared]
    assert report.passed


@pytest.mark.parametrize("stem,suffix", CASES, ids=[s + x for s, x in CASES])
def test_zip_reads_back_bit_for_bit(tmp_path, stem, suffix):
    """The zip ``convert`` writes holds exactly the configuration and parameters of the conversion."""
    session = Session(SAMPLES / f"{stem}{suffix}")
    path = session.export_zip(tmp_path / "model.zip")
    back = read_model_zip(path)
    assert back.configuration_json == session.configuration_json()
    assert np.array_equal(back.params, flat_params(session.conversion))
    assert back.params.dtype == np.float32
    assert back.kind == ("MultiLayerNetwork" if session.conversion.is_chain else "ComputationGraph")


@pytest.mark.tensorflow
def test_a_wrong_transform_is_caught_at_the_right_layer(monkeypatch):
    """A Dense after Flatten left unpermuted in NCHW is named as the first diverging layer."""
    from workbench.mappers import core, transforms

    def forgetful(trace, spatial_channels):
        return transforms.as_is(trace, "deliberately NOT permuted")

    monkeypatch.setattr(core.T, "flatten_rows_hwc_to_chw", forgetful)
    report = Session(SAMPLES / "cnn.keras", cnn_format="NCHW").verify(stored_inputs("cnn"))
    assert not report.passed
    assert report.first_divergence == "dense"
    dense = next(c for c in report.layers if c.name == "dense")
    assert dense.isolated.max_abs > 1e-3
    assert all(c.status in ("ok", "folded") for c in report.layers if c.name != "dense")


def test_unmapped_custom_layer_stops_conversion_with_three_ways():
    """A custom layer without a mapping names the layer, its class, config and weights, and the ways to map it."""
    from workbench.errors import MappingError

    with pytest.raises(MappingError) as err:
        Session(SAMPLES / "scale_shift.keras").conversion
    text = str(err.value)
    assert "layer 'scale_shift'" in text and "ScaleShift" in text and "(8,)" in text
    assert "expression" in text and "--mapping" in text


def test_registry_prefers_registered_name(monkeypatch):
    """A mapper registered under ``pkg>Name`` wins over one under the bare class name."""
    from workbench.keras_io.model import LayerSpec

    monkeypatch.setattr(registry, "_MAPPERS", dict(registry._MAPPERS))
    registry.mapper("MyActivation")(lambda ctx: "by class")
    registry.mapper("workbench_samples>MyActivation")(lambda ctx: "by registered name")
    spec = LayerSpec(name="m", class_name="MyActivation", config={}, registered_name="workbench_samples>MyActivation")
    assert registry.lookup(spec)(None) == "by registered name"
    assert registry.lookup(LayerSpec(name="m", class_name="MyActivation", config={}))(None) == "by class"


def _cli(*args, check_modules=False):
    code = ("import sys; from workbench.cli import main; rc = main(sys.argv[1:]); "
            + ("assert 'tensorflow' not in sys.modules, 'convert imported TensorFlow'; " if check_modules else "")
            + "sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def test_convert_cli_never_imports_tensorflow(tmp_path):
    """``workbench convert`` writes the zip and the JSON without importing TensorFlow."""
    result = _cli("convert", str(SAMPLES / "cnn_keras2.h5"), "-o", str(tmp_path / "cnn.zip"),
                  "--json", str(tmp_path / "cnn.json"), check_modules=True)
    assert result.returncode == 0, result.stderr
    assert "MultiLayerNetwork" in result.stdout
    assert json.loads((tmp_path / "cnn.json").read_text())["confs"]


def test_convert_cli_bad_input_leaves_nothing(tmp_path):
    """A model that cannot be mapped exits 2 with one line, and no zip (or temp file) is left behind."""
    result = _cli("convert", str(SAMPLES / "seed.keras"), "-o", str(tmp_path / "seed.zip"))
    assert result.returncode == 2 and "layer 'my_activation'" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.tensorflow
def test_verify_cli_json_report():
    """``workbench verify --json`` reports every layer and exits 0 when all match."""
    result = _cli("verify", str(SAMPLES / "functional.keras"), "--inputs", str(SAMPLES / "functional_io.npz"),
                  "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and report["first_divergence"] is None
    assert [layer["name"] for layer in report["layers"]] == ["da", "db", "add", "concatenate", "out", "aux"]
