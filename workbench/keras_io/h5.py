"""Legacy HDF5 files: whole models (``model.save("m.h5")``, Keras 2 and 3) and weights-only files.

Layout, as Keras writes it (``keras/src/legacy/saving/legacy_h5_format.py``)::

    /                        attrs: keras_version, backend, model_config (JSON)
    /model_weights           attrs: layer_names            (weights-only files: this is the root)
    /model_weights/<layer>   attrs: weight_names, e.g. ["dense/kernel:0", "dense/bias:0"]  (Keras 2)
                                                         ["sequential/dense/kernel", ...]   (Keras 3)
    /model_weights/<layer>/<weight_name>   the dataset

Only attributes and dataset shapes are read when a file is opened; arrays are read when asked for.
"""
from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

from workbench.errors import ModelFileError, WeightError
from workbench.keras_io.architecture import WeightList
from workbench.keras_io.model import WeightInfo

WEIGHTS_ROOT = "model_weights"


def decode(value: Any) -> Any:
    """h5py gives attributes as bytes, str, or arrays of either."""
    if hasattr(value, "decode"):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [decode(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [decode(v) for v in value]
    return value


def read_attr_list(group: h5py.Group, name: str) -> list[str]:
    """A list attribute, reassembling the chunks Keras writes for long ones (``name0``, ``name1``...)."""
    if name in group.attrs:
        value = decode(group.attrs[name])
        return [] if isinstance(value, float) else list(value)
    out: list[str] = []
    chunk = 0
    while f"{name}{chunk}" in group.attrs:
        out.extend(decode(group.attrs[f"{name}{chunk}"]))
        chunk += 1
    return out


def open_h5(path: str) -> h5py.File:
    """Open an HDF5 file read-only, turning h5py's errors into one clear message."""
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if not head:
            raise ModelFileError("the file is empty", file=path, expected="an HDF5 Keras model",
                                 received="0 bytes") from None
        if head == b"\x89HDF\r\n\x1a\n":
            raise ModelFileError("the HDF5 file is truncated or damaged", file=path,
                                 expected="a complete HDF5 file", received=str(exc).split("(")[0].strip()) from None
        raise ModelFileError("not an HDF5 file", file=path, expected="an HDF5 signature (\\x89HDF)",
                             received=repr(head)) from None


def model_config_of(f: h5py.File, path: str) -> dict[str, Any] | None:
    if "model_config" not in f.attrs:
        return None
    text = decode(f.attrs["model_config"])
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ModelFileError("model_config is not valid JSON", file=path, expected="a JSON object",
                             received=f"{exc}") from None


def _dataset_reader(path: str, dataset_path: str):
    def read() -> np.ndarray:
        with h5py.File(path, "r") as f:
            return np.asarray(f[dataset_path][()])
    return read


def _relative(weight_name: str, layer_name: str) -> str:
    """``"sequential/dense/kernel:0"`` seen from layer ``dense`` → ``"kernel"``."""
    parts = weight_name.split(":")[0].split("/")
    if layer_name in parts:
        parts = parts[parts.index(layer_name) + 1:]
    return "/".join(parts)


class H5Weights:
    """Weights of a legacy HDF5 file, per top-level layer, described lazily."""

    def __init__(self, path: str, f: h5py.File, root: str) -> None:
        self.path = path
        self.root = root
        self.layer_names = read_attr_list(f[root] if root else f, "layer_names")
        self._index: dict[str, WeightList] = {}
        group_root = f[root] if root else f
        for layer_name in self.layer_names:
            if layer_name not in group_root:
                raise WeightError("the weights group of a layer is missing", file=path, layer=layer_name,
                                  expected=f"group {root}/{layer_name}", received="nothing")
            group = group_root[layer_name]
            pairs: WeightList = []
            for weight_name in read_attr_list(group, "weight_names"):
                link = group.get(weight_name, getlink=True)
                if link is None:
                    raise WeightError("a weight listed in weight_names is missing", file=path, layer=layer_name,
                                      expected=f"dataset {group.name}/{weight_name}", received="nothing")
                if not isinstance(link, h5py.HardLink):
                    raise ModelFileError("a weight is a link to elsewhere; refusing to follow it", file=path,
                                         layer=layer_name, expected="a dataset", received=type(link).__name__)
                ds = group[weight_name]
                if not isinstance(ds, h5py.Dataset) or ds.is_virtual:
                    raise ModelFileError("a weight is not a plain dataset", file=path, layer=layer_name,
                                         expected="a dataset", received=type(ds).__name__)
                rel = _relative(weight_name, layer_name)
                info = WeightInfo(name=rel.split("/")[-1], path=rel, shape=tuple(int(d) for d in ds.shape),
                                  dtype=str(ds.dtype), source=ds.name,
                                  _reader=_dataset_reader(path, ds.name))
                pairs.append((rel, info))
            self._index[layer_name] = pairs

    def __call__(self, layer_name: str, raw: dict[str, Any]) -> WeightList:
        return list(self._index.get(layer_name, []))
