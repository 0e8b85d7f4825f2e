"""``load_model``: pick the reader for a file and return a ``KerasModel``."""
from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from typing import Any

from workbench.errors import ModelFileError, UnsafeContentError, WorkbenchError
from workbench.keras_io import h5, keras_zip
from workbench.keras_io.architecture import build_model
from workbench.keras_io.model import KerasModel, LayerSpec
from workbench.keras_io.validate import check_weight_shapes

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"


def load_model(path: str | os.PathLike[str], weights: str | os.PathLike[str] | None = None) -> KerasModel:
    """Read a Keras model file without TensorFlow and without running anything stored in it.

    Args:
        path: a ``.h5``/``.hdf5`` model, a ``.keras`` archive, or a ``.json`` architecture.
        weights: with a ``.json`` architecture, the weights file (legacy ``.h5`` or Keras 3
            ``.weights.h5``); if omitted, ``<stem>_weights.h5`` / ``<stem>.weights.h5`` beside it.

    Returns:
        The model; weights are described (name, shape, dtype) but not read.

    Raises:
        ModelFileError: the file is missing, empty, truncated, foreign or not a Keras model.
        WeightError: a weight is missing or does not fit its layer.
    """
    path = os.fspath(path)
    head = _head(path)
    try:
        model = _load(path, head, weights)
        check_weight_shapes(model)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        if isinstance(exc, WorkbenchError):
            raise
        # The file parsed but its config is not shaped like any Keras version we know.
        raise ModelFileError("the model config has a structure this reader does not know", file=path,
                             expected="a Keras 2 or Keras 3 model config", received=repr(exc)[:200]) from exc
    return model


def _load(path: str, head: bytes, weights) -> KerasModel:
    if head.startswith(HDF5_SIGNATURE):
        model = _load_h5_model(path)
    elif head.startswith(ZIP_SIGNATURE):
        model = _load_keras_zip(path)
    elif head.lstrip()[:1] in (b"{", b"["):
        model = _load_json_and_weights(path, weights)
    else:
        raise ModelFileError("not a Keras model file", file=path,
                             expected="an HDF5 file (.h5), a .keras archive or a JSON architecture",
                             received=_describe(head))
    return model


def _head(path: str) -> bytes:
    if not os.path.exists(path):
        raise ModelFileError("no such file", file=path, expected="an existing Keras model file",
                             received="nothing at that path")
    if os.path.isdir(path):
        raise ModelFileError("is a directory (a SavedModel folder?)", file=path,
                             expected="a .h5 or .keras file", received="a directory")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        raise ModelFileError("the file is empty", file=path, expected="a Keras model file",
                             received="0 bytes")
    return head


def _describe(head: bytes) -> str:
    return f"a file starting with {head[:8]!r}"


def _load_h5_model(path: str) -> KerasModel:
    with h5.open_h5(path) as f:
        config = h5.model_config_of(f, path)
        if config is None:
            keys = ", ".join(list(f.keys())[:5]) or "no groups"
            what = ("an HDF5 weights file without an architecture (pass the JSON architecture)"
                    if "layer_names" in f.attrs or ("layers" in f and "vars" in f)
                    else "an HDF5 file that is not a Keras model")
            raise ModelFileError(what, file=path, expected="a model_config attribute at the root",
                                 received=f"attributes {sorted(f.attrs.keys())}, groups {keys}")
        version = str(h5.decode(f.attrs.get("keras_version", "unknown")))
        backend = h5.decode(f.attrs.get("backend")) if "backend" in f.attrs else None
        root = h5.WEIGHTS_ROOT if h5.WEIGHTS_ROOT in f else None
        weights = h5.H5Weights(path, f, root) if root else _no_weights
        model = build_model(config, weights, path=path, format="h5", keras_version=version,
                            weights_path=path if root else None, backend=backend)
        training = h5.decode(f.attrs["training_config"]) if "training_config" in f.attrs else None
    return _with_loss(model, json.loads(training) if training else None)


def _load_keras_zip(path: str) -> KerasModel:
    try:
        with zipfile.ZipFile(path):
            pass
    except zipfile.BadZipFile:
        raise ModelFileError("the zip archive is truncated or damaged", file=path,
                             expected="a complete .keras archive", received="an unreadable zip") from None
    config, metadata, has_weights = keras_zip.read_archive(path)
    weights = keras_zip.KerasZipWeights.from_archive(path, has_weights, config)
    version = str(metadata.get("keras_version", "unknown"))
    model = build_model(config, weights, path=path, format="keras", keras_version=version,
                        weights_path=path if has_weights else None)
    return _with_loss(model, config.get("compile_config"))


def _load_json_and_weights(path: str, weights: str | os.PathLike[str] | None) -> KerasModel:
    with open(path, "rb") as fh:
        text = fh.read()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError("the JSON architecture cannot be parsed", file=path, expected="valid JSON",
                             received=str(exc)) from None
    weights_path = os.fspath(weights) if weights is not None else _weights_beside(path)
    version = str(config.get("keras_version", "unknown"))
    if weights_path is None:
        source: Any = _no_weights
    else:
        with h5.open_h5(weights_path) as f:
            if "layers" in f and "layer_names" not in f.attrs:  # Keras 3 ``save_weights``
                source = keras_zip.KerasZipWeights.from_h5(weights_path, f, config)
                version = version if version != "unknown" else "3"
            else:
                root = h5.WEIGHTS_ROOT if h5.WEIGHTS_ROOT in f else ""
                source = h5.H5Weights(weights_path, f, root)
                if version == "unknown" and "keras_version" in f.attrs:
                    version = str(h5.decode(f.attrs["keras_version"]))
    return build_model(config, source, path=path, format="json+weights", keras_version=version,
                       weights_path=weights_path, backend=config.get("backend"))


def _with_loss(model: KerasModel, training: Any) -> KerasModel:
    """Keep the compiled loss (a name, or per-output names); a loss object keeps its class/name."""
    loss = training.get("loss") if isinstance(training, dict) else None
    if isinstance(loss, dict) and "class_name" in loss:  # a serialised Loss object
        loss = loss.get("config", {}).get("name") or loss["class_name"]
    return dataclasses.replace(model, loss=loss) if loss else model


def _weights_beside(path: str) -> str | None:
    stem = path[:-5] if path.endswith(".json") else path
    for candidate in (f"{stem}_weights.h5", f"{stem}.weights.h5", f"{stem}.h5"):
        if os.path.exists(candidate):
            return candidate
    return None


def _no_weights(layer_name: str, raw: dict[str, Any]):
    return []


def lambda_functions(model: KerasModel) -> list[UnsafeContentError]:
    """One error per Lambda layer that stores Python bytecode; the bytecode is never decoded or run."""
    found: list[UnsafeContentError] = []

    def visit(specs: tuple[LayerSpec, ...]) -> None:
        for spec in specs:
            if spec.class_name == "Lambda":
                code = _stored_bytecode(spec.config.get("function"))
                if code is not None:
                    found.append(UnsafeContentError(
                        f"Lambda stores marshalled Python bytecode ({len(code)} base64 chars); "
                        "it was reported, not executed",
                        file=model.path, layer=spec.name,
                        expected="a mapping for this layer (expression, pick or code)",
                        received="code in the model file"))
            visit(spec.children)

    visit(model.layers)
    return found


def _stored_bytecode(function) -> str | None:
    """The base64 marshal text a Lambda config stores, in either dialect; None for a named function.

    Keras 2: ``"function": [<base64>, defaults, closure]`` with ``"function_type": "lambda"``.
    Keras 3: ``"function": {"class_name": "__lambda__", "config": {"code": <base64>, ...}}``.
    """
    if isinstance(function, list) and function and isinstance(function[0], str):
        return function[0]
    if isinstance(function, dict) and function.get("class_name") == "__lambda__":
        code = function.get("config", {}).get("code")
        return code if isinstance(code, str) else ""
    return None
