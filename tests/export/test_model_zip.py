"""ModelSerializer zips: every real DL4J zip reads, our zips round-trip bit for bit, writes are atomic."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import DL4JFileError, ExportError
from workbench.export import model_zip
from workbench.export.model_zip import (
    COEFFICIENTS_BIN,
    CONFIGURATION_JSON,
    NO_PARAMS_MARKER,
    read_model_zip,
    write_model_zip,
)
from workbench.export.nd4j_binary import read_array, write_array

REF_FOLDERS = ("regression_testing", "dl4j-integration-tests", "models", "examples-android")
GRAPHS = {"CG_LSTM", "Graph", "CNN1dCharacterTestCase"}



@pytest.fixture(scope="module")
def ref(dl4j_reference) -> Path:
    return dl4j_reference


def _reference_zips(ref: Path) -> list[Path]:
    found = [
        p
        for folder in REF_FOLDERS
        for p in sorted((ref / folder).rglob("*"))
        if p.is_file() and p.read_bytes()[:4] == b"PK\x03\x04"
    ]
    assert len(found) >= 45, found
    return found


def _layer(conf: dict) -> dict:
    layer = conf["layer"]
    return layer if "@class" in layer else next(iter(layer.values()))  # legacy {"dense": {...}}


def _dense_param_count(config: dict) -> int | None:
    """Σ nIn·nOut + nOut when every layer is a plain dense/output layer, else None."""
    total = 0
    for conf in config.get("confs", []):
        layer = _layer(conf)
        kind = layer.get("@class", "") or next(iter(conf["layer"]))
        if not any(k in kind for k in ("DenseLayer", "OutputLayer", "dense", "output")) or "Rnn" in kind:
            return None
        n_in, n_out = layer.get("nin", layer.get("nIn")), layer.get("nout", layer.get("nOut"))
        total += n_in * n_out + n_out
    return total or None


def test_every_reference_zip_reads(ref):
    checked_dense = 0
    for path in _reference_zips(ref):
        z = read_model_zip(path)
        rel = path.relative_to(ref).as_posix()
        expected_kind = "ComputationGraph" if any(g in rel for g in GRAPHS) else "MultiLayerNetwork"
        assert z.kind == expected_kind, rel
        assert z.entries[:2] == (CONFIGURATION_JSON, COEFFICIENTS_BIN), rel
        assert z.params.ndim == 1 and z.params.size > 0 and np.isfinite(z.params).all(), rel
        assert json.loads(z.configuration_json) == z.configuration
        dense = _dense_param_count(z.configuration)
        if dense is not None:
            assert z.params.size == dense, rel
            checked_dense += 1
    assert checked_dense >= 10  # MLP zips of 0.5 … 0.8, MLPMoon, MLPMnist, iris


def test_integration_test_param_counts_match_their_gradients(ref):
    cases = [p for p in sorted((ref / "dl4j-integration-tests").iterdir()) if (p / "paramsPostTrain.bin").is_file()]
    assert len(cases) >= 6
    for case in cases:
        z = read_model_zip(case / "Model_RANDOM_INIT_UNTRAINED.zip")
        with open(case / "paramsPostTrain.bin", "rb") as f:
            trained = read_array(f)
        with open(case / "flattenedGradients.bin", "rb") as f:
            flat_grad = read_array(f)
        per_param = 0
        for g in (case / "gradients").glob("*.bin"):
            with open(g, "rb") as f:
                per_param += read_array(f).size
        assert z.params.size == trained.size == flat_grad.size == per_param, case.name
        assert z.params.dtype == trained.dtype == np.float32
        assert not np.array_equal(z.params, trained.ravel())  # training moved them


@pytest.mark.parametrize(
    "rel",
    [
        "regression_testing/100b6/SyntheticCNN_100b6.bin",
        "regression_testing/100b6/SyntheticBidirectionalRNNGraph_100b6.bin",
        "regression_testing/100b6/CustomLayerExample_100b6_double.bin",
        "regression_testing/100b6/CustomLayerExample_100b6_half.bin",
        "regression_testing/050/050_ModelSerializer_Regression_CNN_1.zip",
        "models/mnist/mnist-model.zip",
    ],
)
def test_write_read_round_trip_is_bit_exact(ref, tmp_path, rel):
    original = read_model_zip(ref / rel)
    out = write_model_zip(tmp_path / "model.zip", original.configuration_json, original.params)
    again = read_model_zip(out)
    assert again.configuration_json == original.configuration_json
    assert again.kind == original.kind
    assert again.params.dtype == original.params.dtype
    assert again.params.tobytes() == original.params.tobytes()
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [CONFIGURATION_JSON, COEFFICIENTS_BIN]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED and not i.is_dir() for i in infos)
        assert zf.testzip() is None
        ours = zf.read(COEFFICIENTS_BIN)
    with zipfile.ZipFile(ref / rel) as zf:
        theirs = zf.read(COEFFICIENTS_BIN)
    if theirs[2:18] == b"MIXED_DATA_TYPES":  # beta4+ writers: same bytes as DL4J wrote
        assert ours == theirs


def test_output_is_deterministic(tmp_path):
    cfg = json.dumps({"confs": []})
    params = np.arange(10, dtype=np.float32)
    a = write_model_zip(tmp_path / "a.zip", cfg, params).read_bytes()
    b = write_model_zip(tmp_path / "b.zip", cfg, params).read_bytes()
    assert a == b


def test_network_without_parameters_gets_the_marker(tmp_path):
    cfg = json.dumps({"confs": [{"layer": {"@class": "org.deeplearning4j.nn.conf.layers.ActivationLayer"}}]})
    out = write_model_zip(tmp_path / "np.zip", cfg, np.zeros(0, dtype=np.float32))
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == [CONFIGURATION_JSON, COEFFICIENTS_BIN, NO_PARAMS_MARKER]
        assert zf.read(COEFFICIENTS_BIN) == b"" and zf.read(NO_PARAMS_MARKER) == b""
    z = read_model_zip(out)
    assert z.params.shape == (0,) and z.kind == "MultiLayerNetwork"


def test_extra_entries(tmp_path):
    cfg = json.dumps({"vertices": {}, "networkInputs": ["in"]})
    out = write_model_zip(tmp_path / "e.zip", cfg, np.ones(3, np.float32), extra_entries={"normalizer.bin": b"\x01\x02"})
    z = read_model_zip(out)
    assert z.entries == (CONFIGURATION_JSON, COEFFICIENTS_BIN, "normalizer.bin") and z.kind == "ComputationGraph"
    for bad in ({"coefficients.bin": b""}, {"objects/": b""}, {"x": 3}):
        with pytest.raises(ExportError):
            write_model_zip(tmp_path / "bad.zip", cfg, np.ones(3, np.float32), extra_entries=bad)
    assert not (tmp_path / "bad.zip").exists()


# ----------------------------------------------------------------------------- errors


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _coeff(values) -> bytes:
    buf = io.BytesIO()
    write_array(buf, np.asarray(values, dtype=np.float32).reshape(1, -1))
    return buf.getvalue()


def test_not_a_zip(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(DL4JFileError, match="not a DL4J model zip") as err:
        read_model_zip(path)
    assert str(path) in str(err.value)
    with pytest.raises(DL4JFileError, match="not found"):
        read_model_zip(tmp_path / "missing.zip")


def test_zip_without_configuration(tmp_path):
    path = _zip(tmp_path / "m.zip", {COEFFICIENTS_BIN: _coeff([1, 2])})
    with pytest.raises(DL4JFileError, match="no configuration.json") as err:
        read_model_zip(path)
    assert str(path) in str(err.value)


def test_zip_without_coefficients_or_marker(tmp_path):
    cfg = json.dumps({"confs": []}).encode()
    with pytest.raises(DL4JFileError, match="no coefficients.bin"):
        read_model_zip(_zip(tmp_path / "a.zip", {CONFIGURATION_JSON: cfg}))
    with pytest.raises(DL4JFileError, match="empty and there is no noParams.marker"):
        read_model_zip(_zip(tmp_path / "b.zip", {CONFIGURATION_JSON: cfg, COEFFICIENTS_BIN: b""}))


def test_truncated_coefficients(tmp_path):
    cfg = json.dumps({"confs": []}).encode()
    path = _zip(tmp_path / "t.zip", {CONFIGURATION_JSON: cfg, COEFFICIENTS_BIN: _coeff(range(100))[:-7]})
    with pytest.raises(DL4JFileError, match="truncated") as err:
        read_model_zip(path)
    assert f"{path}!coefficients.bin" in str(err.value)


def test_directory_entries_and_bad_json(tmp_path):
    cfg = json.dumps({"confs": []}).encode()
    with pytest.raises(DL4JFileError, match="directory entries"):
        read_model_zip(_zip(tmp_path / "d.zip", {"sub/": b"", CONFIGURATION_JSON: cfg, COEFFICIENTS_BIN: _coeff([1])}))
    with pytest.raises(DL4JFileError, match="cannot be read"):
        read_model_zip(_zip(tmp_path / "j.zip", {CONFIGURATION_JSON: b"{nope", COEFFICIENTS_BIN: _coeff([1])}))
    with pytest.raises(DL4JFileError, match="not a network configuration"):
        read_model_zip(_zip(tmp_path / "k.zip", {CONFIGURATION_JSON: b"[1, 2]", COEFFICIENTS_BIN: _coeff([1])}))


def test_params_must_be_a_row_vector(tmp_path):
    buf = io.BytesIO()
    write_array(buf, np.zeros((2, 3), np.float32))
    path = _zip(tmp_path / "m.zip", {CONFIGURATION_JSON: b'{"confs": []}', COEFFICIENTS_BIN: buf.getvalue()})
    with pytest.raises(DL4JFileError, match="row vector"):
        read_model_zip(path)


# ----------------------------------------------------------------------------- atomic writes


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    "params, match",
    [
        (np.arange(4, dtype=np.int32), "data type"),
        (np.zeros((2, 3), dtype=np.float32), "flat vector"),
        (np.array(["a"]), "data type"),
    ],
)
def test_bad_params_raise_and_leave_nothing(tmp_path, params, match):
    with pytest.raises(ExportError, match=match) as err:
        write_model_zip(tmp_path / "m.zip", '{"confs": []}', params)
    assert "m.zip" in str(err.value)
    assert _leftovers(tmp_path) == []


def test_bad_configuration_raises(tmp_path):
    for cfg in ("{not json", "[]", '{"layers": []}'):
        with pytest.raises(ExportError):
            write_model_zip(tmp_path / "m.zip", cfg, np.zeros(2, np.float32))
    assert _leftovers(tmp_path) == []


def test_failure_midway_removes_the_temp_file_and_keeps_the_old_target(tmp_path, monkeypatch):
    target = tmp_path / "model.zip"
    target.write_bytes(b"previous export")

    def failing_write(fileobj, arr, **kw):
        fileobj.write(b"x" * 1000)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_zip, "write_array", failing_write)
    with pytest.raises(ExportError, match="No space left") as err:
        write_model_zip(target, '{"confs": []}', np.ones(1000, dtype=np.float32))
    assert str(target) in str(err.value)
    assert _leftovers(tmp_path) == ["model.zip"]
    assert target.read_bytes() == b"previous export"


def test_interrupt_midway_removes_the_temp_file(tmp_path, monkeypatch):
    def interrupted(fileobj, arr, **kw):
        fileobj.write(b"x" * 10)
        raise KeyboardInterrupt

    monkeypatch.setattr(model_zip, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_model_zip(tmp_path / "m.zip", '{"confs": []}', np.ones(10, dtype=np.float32))
    assert _leftovers(tmp_path) == []


def test_params_given_as_pieces_write_the_same_zip(tmp_path):
    cfg = json.dumps({"confs": []})
    rng = np.random.default_rng(2)
    pieces = [rng.standard_normal(s).astype(np.float32) for s in ((4, 5), (5,), (0,), (3, 3))]
    flat = np.concatenate([p.ravel() for p in pieces])
    a = write_model_zip(tmp_path / "pieces.zip", cfg, pieces).read_bytes()
    b = write_model_zip(tmp_path / "flat.zip", cfg, flat).read_bytes()
    assert a == b
    assert np.array_equal(read_model_zip(tmp_path / "pieces.zip").params, flat)
