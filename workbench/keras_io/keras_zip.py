"""``.keras`` archives (Keras 3): ``config.json`` + ``metadata.json`` + ``model.weights.h5``.

Inside ``model.weights.h5`` weights are keyed by position, not name::

    layers/<snake_case class name>[_N]/vars/0, vars/1, ...      (the vars group's attr "name" = layer name)
    layers/<lstm>/cell/vars/N                                    (recurrent layers keep them in the cell)
    layers/<bidirectional>/forward_layer/cell/vars/N, backward_layer/...
    layers/<time_distributed>/layer/vars/N
    layers/<sequential>/layers/<dense>/vars/N                    (nested models)

Names come from ``catalog`` (Keras's own classes); a custom class's weights are named ``0``, ``1``...
The archive is opened read-only; nothing in it is executed.
"""
from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from typing import Any

import h5py
import numpy as np

from workbench.errors import ModelFileError, WeightError
from workbench.keras_io import catalog, dialects
from workbench.keras_io.architecture import WeightList, unprefixed
from workbench.keras_io.model import CONTAINER_CLASSES, WeightInfo

CONFIG_JSON = "config.json"
METADATA_JSON = "metadata.json"
WEIGHTS_H5 = "model.weights.h5"


def to_snake_case(name: str) -> str:
    """Keras's own ``naming.to_snake_case`` rule, used for the group names of ``.keras`` files."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def read_archive(path: str) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(config, metadata, whether model.weights.h5 is there) of a ``.keras`` archive."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelFileError("not a valid zip archive (truncated or not a .keras file)", file=path,
                             expected="a .keras zip archive", received="unreadable zip") from None
    with zf:
        names = zf.namelist()
        if CONFIG_JSON not in names:
            raise ModelFileError("the zip is not a .keras archive", file=path,
                                 expected=f"entries {CONFIG_JSON}, {METADATA_JSON}, {WEIGHTS_H5}",
                                 received=", ".join(names[:6]) or "an empty zip")
        try:
            config = json.loads(zf.read(CONFIG_JSON))
            metadata = json.loads(zf.read(METADATA_JSON)) if METADATA_JSON in names else {}
            weights = WEIGHTS_H5 in names
        except (zipfile.BadZipFile, json.JSONDecodeError, EOFError, OSError) as exc:
            raise ModelFileError("an entry of the archive cannot be read", file=path,
                                 expected="valid config.json and model.weights.h5", received=str(exc)) from None
    return config, metadata, weights


class _StoredMember(io.RawIOBase):
    """A read-only, seekable view of an uncompressed zip member, straight from the archive file.

    Keras stores ``.keras`` archives uncompressed. ``ZipFile.open`` would emulate every backward
    seek by re-reading from the member's start, and h5py seeks a lot; this view seeks in O(1).
    """

    def __init__(self, path: str, member: str) -> None:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError("compressed member")
        self._fh = open(path, "rb")
        self._fh.seek(info.header_offset)
        header = self._fh.read(30)
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        self._start = info.header_offset + 30 + name_len + extra_len
        self._size = info.file_size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._pos))
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(count)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_member(path: str, member: str = WEIGHTS_H5):
    """A seekable file object for a member of the archive (in memory if it is compressed)."""
    try:
        return _StoredMember(path, member)
    except ValueError:
        with zipfile.ZipFile(path) as zf:
            return io.BytesIO(zf.read(member))


def _member_reader(path: str, dataset_path: str):
    def read() -> np.ndarray:
        with open_member(path) as member, h5py.File(member, "r") as f:
            return np.asarray(f[dataset_path][()])
    return read


def _file_reader(path: str, dataset_path: str):
    def read() -> np.ndarray:
        with h5py.File(path, "r") as f:
            return np.asarray(f[dataset_path][()])
    return read


class KerasZipWeights:
    """Weights of a ``.keras`` archive, named by walking the config beside the groups."""

    def __init__(self, path: str, reader_factory=_member_reader, source_prefix: str = f"{WEIGHTS_H5}:") -> None:
        self.path = path
        self._reader_factory = reader_factory
        self._source_prefix = source_prefix
        self._index: dict[str, WeightList] = {}

    @classmethod
    def from_archive(cls, path: str, has_weights: bool, model_config: dict[str, Any]) -> "KerasZipWeights":
        """The weights inside a ``.keras`` archive."""
        self = cls(path)
        if not has_weights:
            return self
        with open_member(path) as member:
            try:
                f = h5py.File(member, "r")
            except OSError:
                raise ModelFileError(f"{WEIGHTS_H5} inside the archive is not a readable HDF5 file",
                                     file=path, expected="an HDF5 file", received="unreadable data") from None
            with f:
                self._index_layers(f, model_config)
        return self

    @classmethod
    def from_h5(cls, path: str, f: h5py.File, model_config: dict[str, Any]) -> "KerasZipWeights":
        """The weights of a Keras 3 ``save_weights`` file (same layout, a plain HDF5 file)."""
        self = cls(path, reader_factory=_file_reader, source_prefix="")
        self._index_layers(f, model_config)
        return self

    def _index_layers(self, f: h5py.File, model_config: dict[str, Any]) -> None:
        if "layers" not in f:
            return
        model_class = dialects.normalise_model_class(model_config.get("class_name", ""))
        raw_layers = model_config.get("config", {}).get("layers", [])
        for raw, group in self._match(f["layers"], raw_layers, model_class):
            name = raw.get("name") or raw.get("config", {}).get("name")
            self._index[name] = self._walk(group, raw, name) if group is not None else []

    def _match(self, layers_group: h5py.Group, raw_layers: list[dict], container_class: str):
        """Pair each raw layer with its group: by the ``name`` attribute, else by Keras's naming rule."""
        by_name = {}
        for key in layers_group:
            vars_group = layers_group[key].get("vars")
            if vars_group is not None and "name" in vars_group.attrs:
                by_name[dialects_decode(vars_group.attrs["name"])] = layers_group[key]
        counts: dict[str, int] = {}
        for raw in raw_layers:
            class_name, _ = dialects.split_class_name(raw["class_name"], raw.get("registered_name"))
            name = raw.get("name") or raw.get("config", {}).get("name")
            if container_class == "Sequential" and class_name == "InputLayer":
                yield raw, None
                continue
            base = to_snake_case(class_name)
            n = counts.get(base, 0)
            counts[base] = n + 1
            key = base if n == 0 else f"{base}_{n}"
            yield raw, by_name.get(name, layers_group.get(key))

    def _walk(self, group: h5py.Group, raw: dict[str, Any], name: str) -> WeightList:
        class_name, _ = dialects.split_class_name(raw["class_name"], raw.get("registered_name"))
        class_name = dialects.normalise_model_class(class_name)
        config = raw.get("config", {})
        if class_name in CONTAINER_CLASSES:
            out: WeightList = []
            if "layers" in group:
                for child_raw, child_group in self._match(group["layers"], config.get("layers", []), class_name):
                    child = child_raw.get("name") or child_raw.get("config", {}).get("name")
                    if child_group is not None:
                        out += [(f"{child}/{p}", w) for p, w in self._walk(child_group, child_raw, child)]
            return out
        if class_name == "Bidirectional":
            inner = config["layer"]
            inner_name = unprefixed(inner.get("config", {}).get("name", "rnn"))
            backward = config.get("backward_layer") or inner
            return ([(f"forward_{inner_name}/{p}", w) for p, w in
                     self._walk(group["forward_layer"], inner, name)] +
                    [(f"backward_{inner_name}/{p}", w) for p, w in
                     self._walk(group["backward_layer"], backward, name)])
        if class_name == "TimeDistributed":
            inner = config["layer"]
            inner_name = inner.get("config", {}).get("name", "layer")
            return [(f"{inner_name}/{p}", w) for p, w in self._walk(group["layer"], inner, name)]
        if class_name in catalog.RECURRENT and "cell" in group:
            cell = catalog.CELL_NAMES[class_name]
            return [(f"{cell}/{p}", w) for p, w in self._vars(group["cell"], class_name, config, name)]
        return self._vars(group, class_name, config, name)

    def _vars(self, group: h5py.Group, class_name: str, config: dict[str, Any], name: str) -> WeightList:
        vars_group = group.get("vars")
        count = len(vars_group) if vars_group is not None else 0
        datasets = [vars_group[str(i)] for i in range(count)] if count else []
        names = catalog.expected_weight_names(class_name, dialects.normalise_config(class_name, config))
        if names is None:  # a custom class: the archive does not store its variables' names
            names = [str(i) for i in range(count)]
        elif len(names) != count:
            raise WeightError("the number of stored weights does not fit the layer's config", file=self.path,
                              layer=name, expected=f"{len(names)} ({', '.join(names) or 'none'})",
                              received=count)
        return [(n, WeightInfo(name=n, path=n, shape=tuple(int(s) for s in ds.shape), dtype=str(ds.dtype),
                               source=f"{self._source_prefix}{ds.name}",
                               _reader=self._reader_factory(self.path, ds.name)))
                for n, ds in zip(names, datasets)]

    def __call__(self, layer_name: str, raw: dict[str, Any]) -> WeightList:
        return list(self._index.get(layer_name, []))


def dialects_decode(value: Any) -> str:
    return value.decode("utf-8") if hasattr(value, "decode") else str(value)
