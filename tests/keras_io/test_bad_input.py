"""Bad input gets one clear message naming the file, the layer and what was expected."""
from __future__ import annotations

import marshal
import shutil
import zipfile

import h5py
import numpy as np
import pytest

from tests.conftest import SAMPLES
from workbench.errors import ModelFileError, UnsafeContentError, WeightError
from workbench.keras_io import load_model
from workbench.keras_io.loader import lambda_functions


def test_missing_path_is_named(tmp_path):
    """A path that does not exist is reported as such."""
    with pytest.raises(ModelFileError, match="no such file") as err:
        load_model(tmp_path / "nope.h5")
    assert "nope.h5" in str(err.value)


def test_empty_file(tmp_path):
    """An empty file says it is empty."""
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty.h5: the file is empty; expected"):
        load_model(path)


@pytest.mark.parametrize("name", ["seed.h5", "seed_keras2.h5"])
def test_truncated_h5(tmp_path, name):
    """A truncated HDF5 file is called truncated, not a cryptic h5py error."""
    data = (SAMPLES / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or damaged"):
        load_model(path)


def test_truncated_keras_archive(tmp_path):
    """A truncated .keras archive is called truncated."""
    data = (SAMPLES / "cnn.keras").read_bytes()
    path = tmp_path / "cnn.keras"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFileError, match="truncated or damaged"):
        load_model(path)


def test_hdf5_that_is_not_a_keras_model(tmp_path):
    """An HDF5 file without model_config says what it lacks and what it holds."""
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 2))
    with pytest.raises(ModelFileError, match="not a Keras model; expected a model_config attribute") as err:
        load_model(path)
    assert "images" in str(err.value)


def test_zip_that_is_not_a_keras_archive(tmp_path):
    """A zip without config.json is refused, listing what it does hold."""
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match="not a .keras archive; expected entries config.json") as err:
        load_model(path)
    assert "readme.txt" in str(err.value)


def test_foreign_file(tmp_path):
    """A file of another kind altogether says which kinds are expected."""
    path = tmp_path / "model.h5"
    path.write_bytes(b"GIF89a....")
    with pytest.raises(ModelFileError, match="not a Keras model file; expected an HDF5 file"):
        load_model(path)


def _copy(tmp_path, name):
    target = tmp_path / name
    shutil.copy(SAMPLES / name, target)
    return target


def test_weight_listed_but_missing(tmp_path):
    """A dataset named in weight_names but absent names the layer and the dataset expected."""
    path = _copy(tmp_path, "cnn_keras2.h5")
    with h5py.File(path, "a") as f:
        del f["model_weights/conv2d/conv2d/kernel:0"]
    with pytest.raises(WeightError, match="layer 'conv2d': a weight listed in weight_names is missing"):
        load_model(path)


def test_weight_absent_from_the_file(tmp_path):
    """A layer whose config implies a bias the file lacks is refused, naming the missing weight."""
    path = _copy(tmp_path, "cnn.h5")
    with h5py.File(path, "a") as f:
        group = f["model_weights/dense"]
        names = [n for n in group.attrs["weight_names"] if not str(n).endswith("bias")]
        group.attrs["weight_names"] = names
    with pytest.raises(WeightError, match=r"layer 'dense': weights missing: bias; expected Dense weights"):
        load_model(path)


@pytest.mark.parametrize("name,dataset", [
    ("cnn_keras2.h5", "model_weights/dense/dense/kernel:0"),
    ("cnn.h5", "model_weights/dense/cnn/dense/kernel"),
])
def test_weight_of_the_wrong_shape(tmp_path, name, dataset):
    """A kernel with the right size but the wrong shape is an error, never a reshape."""
    path = _copy(tmp_path, name)
    with h5py.File(path, "a") as f:
        kernel = f[dataset][()]
        del f[dataset]
        f[dataset] = kernel.reshape(5, 96)  # same element count, transposed layout
    with pytest.raises(WeightError, match=r"layer 'dense': weight 'kernel' has the wrong shape; "
                                          r"expected \(96, 5\) for this Dense config, received \(5, 96\)"):
        load_model(path)


def test_keras_archive_with_too_few_weights(tmp_path):
    """A .keras archive whose layer stores fewer vars than its config needs is refused."""
    src = SAMPLES / "cnn.keras"
    path = tmp_path / "cnn.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "model.weights.h5":
                tmp = tmp_path / "w.h5"
                tmp.write_bytes(data)
                with h5py.File(tmp, "a") as f:
                    del f["layers/dense/vars/1"]
                data = tmp.read_bytes()
            zout.writestr(item, data)
    with pytest.raises(WeightError, match="layer 'dense': the number of stored weights"):
        load_model(path)


@pytest.mark.parametrize("name", ["lambda_bytecode_keras2.h5", "lambda_bytecode.h5"])
def test_lambda_bytecode_is_reported_never_run(monkeypatch, name):
    """A Lambda's stored function is reported with its layer; nothing unmarshals it."""
    def refuse(*args, **kwargs):
        raise AssertionError("the workbench tried to unmarshal code from a model file")

    monkeypatch.setattr(marshal, "loads", refuse)
    model = load_model(SAMPLES / name)
    problems = lambda_functions(model)
    assert len(problems) == 1
    assert isinstance(problems[0], UnsafeContentError)
    assert problems[0].layer == "lambda"
    assert "not executed" in str(problems[0]) and name in str(problems[0])
