"""``workbench inspect``: a table or JSON on stdout; bad input is one line on stderr and exit 2."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.parametrize("name", ["seed.h5", "seed.keras", "seed_keras2.h5"])
def test_json_lists_every_layer_in_keras_order(name):
    """--json gives the model block and every layer, Input layers marked, weights with shapes."""
    result = run("inspect", str(SAMPLES / name), "--json")
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)
    assert inv["model"]["class_name"] == "Sequential"
    assert inv["model"]["keras_major"] == (2 if "keras2" in name else 3)
    assert [layer["name"] for layer in inv["layers"]] == ["input", "dense", "my_activation", "dense_1"]
    assert [layer["input"] for layer in inv["layers"]] == [True, False, False, False]
    dense = inv["layers"][1]
    assert dense["weights"] == [{"name": "kernel", "path": "kernel", "shape": [784, 64], "dtype": "float32"},
                                {"name": "bias", "path": "bias", "shape": [64], "dtype": "float32"}]
    assert dense["params"] == 784 * 64 + 64 and dense["output_shape"] == [None, 64]
    custom = inv["layers"][2]
    assert custom["custom"] is True and custom["status"] == "needs mapping"
    assert custom["registered_name"] == "workbench_samples>MyActivation"


def test_table_for_a_functional_model():
    """The default table shows each layer with class, shape, params and inbound layers."""
    result = run("inspect", str(SAMPLES / "functional.keras"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("concatenate"))
    assert row.split()[:4] == ["concatenate", "Concatenate", "(None,", "8)"]
    assert "add, da" in row
    assert "inputs: a, b" in result.stdout and "outputs: out, aux" in result.stdout


def test_shared_layer_lists_both_calls():
    """A layer called twice reports both of its inbound layers and two calls."""
    inv = json.loads(run("inspect", str(SAMPLES / "nested.keras"), "--json").stdout)
    shared = next(layer for layer in inv["layers"] if layer["name"] == "shared")
    assert shared["calls"] == 2 and shared["inbound"] == ["encoder", "proj"]
    encoder = next(layer for layer in inv["layers"] if layer["name"] == "encoder")
    assert [child["name"] for child in encoder["layers"]] == ["encoder_input", "enc_dense", "enc_out"]


@pytest.mark.parametrize("args,needle", [
    (("inspect", "missing.h5"), "missing.h5: no such file"),
    (("inspect", str(SAMPLES / "README.md")), "not a Keras model file"),
    (("inspect", str(SAMPLES / "lambda_bytecode_keras2.h5")), "layer 'lambda': Lambda stores marshalled"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    """Bad input: exit code 2, one 'workbench: error:' line, no traceback."""
    result = run(*args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("workbench: error:")]


def test_debug_shows_the_traceback():
    """--debug lets the exception through, with its traceback."""
    result = run("--debug", "inspect", "missing.h5")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_console_script_and_module_agree():
    """The installed ``workbench`` script is the same entry point as ``python -m workbench``."""
    import shutil
    script = shutil.which("workbench") or str(ROOT / ".venv" / "bin" / "workbench")
    result = subprocess.run([script, "inspect", str(SAMPLES / "seed.keras"), "--json"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(run("inspect", str(SAMPLES / "seed.keras"), "--json").stdout)


def test_verify_with_an_unreadable_inputs_file_is_one_line():
    """``verify --inputs`` with a file that is not an .npz: exit 2, one line naming it, no traceback."""
    result = run("verify", str(SAMPLES / "cnn.keras"), "--inputs", str(SAMPLES / "README.md"))
    assert result.returncode == 2 and "README.md: the inputs file cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
