"""DL4J ``ModelSerializer`` zips: ``configuration.json`` + ``coefficients.bin``.

Written the way DL4J restores them (``shared/research/dl4j-formats.md`` §2): DEFLATE entries with
exact names, no directory entries, ``noParams.marker`` (with an empty ``coefficients.bin``) for a
network without parameters. The parameters are stored as a ``[1, N]`` row vector in order 'c',
byte for byte what DL4J 1.0.0-beta4 … beta7 wrote and loadable by every version up to M2.1
(M2.1 itself writes a rank-1 ``[N]`` array, which :func:`read_model_zip` reads too).
"""
from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import DL4JFileError, ExportError
from workbench.export.atomic import atomic_writer
from workbench.export.nd4j_binary import array_bytes_size, read_array, write_array, write_row_vector

__all__ = [
    "CONFIGURATION_JSON",
    "COEFFICIENTS_BIN",
    "NO_PARAMS_MARKER",
    "UPDATER_BIN",
    "NORMALIZER_BIN",
    "DL4JZip",
    "write_model_zip",
    "read_model_zip",
]

# ModelSerializer's entry names (constants of the same names in ModelSerializer.java).
CONFIGURATION_JSON = "configuration.json"
COEFFICIENTS_BIN = "coefficients.bin"
NO_PARAMS_MARKER = "noParams.marker"
UPDATER_BIN = "updaterState.bin"
NORMALIZER_BIN = "normalizer.bin"

MULTI_LAYER_NETWORK = "MultiLayerNetwork"
COMPUTATION_GRAPH = "ComputationGraph"

_RESERVED = (CONFIGURATION_JSON, COEFFICIENTS_BIN, NO_PARAMS_MARKER)
_PARAM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))
_ZIP64_LIMIT = 0x7FFF0000


@dataclass(frozen=True)
class DL4JZip:
    """What a ModelSerializer zip holds.

    Attributes:
        configuration: the parsed ``configuration.json``.
        configuration_json: its text, verbatim.
        params: the flat parameter vector (dtype as stored: float32, float64 or float16).
        kind: ``"MultiLayerNetwork"`` or ``"ComputationGraph"``.
        entries: entry names in zip order.
    """

    configuration: dict[str, Any]
    configuration_json: str
    params: np.ndarray = field(repr=False)
    kind: str
    entries: tuple[str, ...]


def _kind_of(config: Mapping[str, Any]) -> str | None:
    if "confs" in config:
        return MULTI_LAYER_NETWORK
    if "vertices" in config or "networkInputs" in config:
        return COMPUTATION_GRAPH
    return None


def _entry_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)  # fixed 1980-01-01 timestamp: same input, same bytes
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _check_params(params: Any, file: Path) -> np.ndarray:
    arr = np.asarray(params)
    if arr.dtype not in _PARAM_DTYPES:
        raise ExportError(
            "parameters have a data type DL4J networks cannot use",
            file=file,
            expected="float32 (or float64/float16)",
            received=str(arr.dtype),
        )
    if arr.ndim != 1:
        raise ExportError(
            "parameters must be one flat vector", file=file, expected="shape (N,)", received=f"shape {arr.shape}"
        )
    return arr


def _check_extra(extra_entries: Mapping[str, Any] | None, file: Path) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for name, data in (extra_entries or {}).items():
        if not isinstance(name, str) or not name or name.endswith("/") or name.startswith("/"):
            raise ExportError("invalid zip entry name (DL4J rejects directory entries)", file=file, received=repr(name))
        if name in _RESERVED:
            raise ExportError("extra entry would replace a ModelSerializer entry", file=file, received=name)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ExportError(
                "extra zip entry content must be bytes or str", file=file, received=f"{name}: {type(data).__name__}"
            )
        out.append((name, bytes(data)))
    return out


def write_model_zip(
    path: str | os.PathLike[str],
    configuration_json: str,
    params: np.ndarray | Sequence[np.ndarray],
    *,
    extra_entries: Mapping[str, bytes | str] | None = None,
) -> Path:
    """Write a ModelSerializer zip atomically (temp file in the same folder, then ``os.replace``).

    Args:
        path: target zip file.
        configuration_json: ``MultiLayerConfiguration`` or ``ComputationGraphConfiguration`` JSON.
        params: flat parameter vector, float32 (float64/float16 make a DOUBLE/HALF network), or a list
            of float32 pieces in DL4J's order, written one after the other (no concatenated copy).
        extra_entries: further entries ``{name: bytes or str}``, e.g. ``normalizer.bin``.

    Returns:
        The path written.

    Raises:
        ExportError: bad arguments or the file could not be written; no partial file is left.
    """
    target = Path(path)
    if not isinstance(configuration_json, str):
        raise ExportError("configuration JSON must be a str", file=target, received=type(configuration_json).__name__)
    try:
        config = json.loads(configuration_json)
    except ValueError as exc:
        raise ExportError("configuration is not valid JSON", file=target, received=str(exc)) from None
    if not isinstance(config, dict) or _kind_of(config) is None:
        raise ExportError(
            "configuration is not a DL4J network configuration",
            file=target,
            expected='an object with "confs" (MultiLayerNetwork) or "vertices" (ComputationGraph)',
            received=type(config).__name__ if not isinstance(config, dict) else sorted(config)[:8],
        )
    pieces = None
    if isinstance(params, (list, tuple)):  # float32 pieces in order, written without concatenating
        pieces = [_check_params(np.asarray(p, dtype=np.float32).reshape(-1), target) for p in params]
        flat = None
    else:
        flat = _check_params(params, target)
    size = sum(p.size for p in pieces) if pieces is not None else flat.size
    extras = _check_extra(extra_entries, target)
    with atomic_writer(target) as raw:
        with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_entry_info(CONFIGURATION_JSON), configuration_json.encode("utf-8"))
            if size:
                dtype = np.float32 if pieces is not None else flat.dtype
                big = array_bytes_size((1, size), dtype) > _ZIP64_LIMIT
                with zf.open(_entry_info(COEFFICIENTS_BIN), "w", force_zip64=big) as out:
                    if pieces is not None:
                        write_row_vector(out, pieces)
                    else:
                        write_array(out, flat.reshape(1, -1), legacy_vector_strides=True)
            else:
                zf.writestr(_entry_info(COEFFICIENTS_BIN), b"")
                zf.writestr(_entry_info(NO_PARAMS_MARKER), b"")
            for name, data in extras:
                zf.writestr(_entry_info(name), data)
    return target


def read_model_zip(path: str | os.PathLike[str]) -> DL4JZip:
    """Read a ModelSerializer zip written by any DL4J version (0.5.0 … M2.1) or by this package.

    Args:
        path: the zip (DL4J's regression files use a ``.bin`` suffix for zips too).

    Returns:
        The parsed :class:`DL4JZip`.

    Raises:
        DL4JFileError: not a zip, a directory entry, no ``configuration.json``, unreadable or
            truncated ``coefficients.bin``, or JSON that is not a network configuration.
    """
    file = Path(path)
    try:
        zf = zipfile.ZipFile(file)
    except FileNotFoundError:
        raise DL4JFileError("file not found", file=file) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise DL4JFileError("not a DL4J model zip", file=file, expected="a zip archive", received=str(exc)) from None
    with zf:
        names = tuple(zf.namelist())
        dirs = [n for n in names if n.endswith("/")]
        if dirs:
            raise DL4JFileError(
                "zip has directory entries, which DL4J's ModelSerializer rejects", file=file, received=dirs[:3]
            )
        if CONFIGURATION_JSON not in names:
            raise DL4JFileError(
                f"zip has no {CONFIGURATION_JSON}", file=file, expected=CONFIGURATION_JSON, received=list(names[:6])
            )
        try:
            text = zf.read(CONFIGURATION_JSON).decode("utf-8")
            config = json.loads(text)
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise DL4JFileError(f"{CONFIGURATION_JSON} cannot be read", file=file, received=str(exc)) from None
        kind = _kind_of(config) if isinstance(config, dict) else None
        if kind is None:
            raise DL4JFileError(
                f"{CONFIGURATION_JSON} is not a network configuration",
                file=file,
                expected='"confs" (MultiLayerNetwork) or "vertices" (ComputationGraph)',
                received=type(config).__name__ if not isinstance(config, dict) else sorted(config)[:8],
            )
        params = _read_params(zf, names, file)
    return DL4JZip(configuration=config, configuration_json=text, params=params, kind=kind, entries=names)


def _read_params(zf: zipfile.ZipFile, names: tuple[str, ...], file: Path) -> np.ndarray:
    if COEFFICIENTS_BIN not in names:
        raise DL4JFileError(f"zip has no {COEFFICIENTS_BIN}", file=file, expected=COEFFICIENTS_BIN)
    if zf.getinfo(COEFFICIENTS_BIN).file_size == 0:
        if NO_PARAMS_MARKER in names:
            return np.zeros(0, dtype=np.float32)
        raise DL4JFileError(
            f"{COEFFICIENTS_BIN} is empty and there is no {NO_PARAMS_MARKER}",
            file=file,
            expected="parameters or the no-parameters marker",
        )
    source = f"{file}!{COEFFICIENTS_BIN}"
    try:
        with zf.open(COEFFICIENTS_BIN) as stream:
            arr = read_array(stream, source=source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DL4JFileError(f"{COEFFICIENTS_BIN} cannot be decompressed", file=source, received=str(exc)) from None
    if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[0] != 1):
        raise DL4JFileError(
            "parameters are not a row vector", file=source, expected="shape [1, N] or [N]", received=list(arr.shape)
        )
    return arr.reshape(-1)
