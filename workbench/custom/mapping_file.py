"""Mapping files: the user's choices for layers no built-in mapper handles, as JSON.

    {
      "MyActivation": {"expression": "relu(x) * sigmoid(x)"},          # every layer of this class
      "ScaleShift":   {"expression": "x * gamma + beta"},
      "dense_like_3": {"pick": "Dense", "weights": {"kernel": {"from": "w", "transform": "transpose_2d"}}},
      "odd_layer":    {"code": "my_mappings.py:map_odd_layer"}        # a function (ctx) -> MappedLayer
    }

Keys are Keras class names (or registered names ``pkg>Name``) or layer names; a layer name wins.
A ``code`` entry imports the user's own Python file — trusted code, loaded only when the mapping
file is applied, never anything from the model file.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from workbench.errors import MappingError
from workbench.export.atomic import write_text
from workbench.mappers.registry import Mapper

KINDS = ("expression", "pick", "code")


def load_mapping_file(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read and check a mapping file (JSON object of key → spec)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise MappingError("no such mapping file", file=path, expected="a JSON mapping file",
                           received="nothing at that path") from None
    except json.JSONDecodeError as exc:
        raise MappingError("the mapping file is not valid JSON", file=path, expected="a JSON object",
                           received=str(exc)) from None
    if not isinstance(data, dict):
        raise MappingError("the mapping file is not a JSON object", file=path,
                           expected='{"ClassOrLayerName": {"expression": ...}}', received=type(data).__name__)
    for key, spec in data.items():
        check_spec(key, spec, file=path)
    return data


def check_spec(key: str, spec: Any, *, file: str | None = None) -> None:
    kinds = [k for k in KINDS if isinstance(spec, dict) and k in spec]
    if len(kinds) != 1:
        raise MappingError(f"mapping '{key}' must have exactly one of {', '.join(KINDS)}", file=file,
                           expected='e.g. {"expression": "relu(x) * sigmoid(x)"}', received=spec)


def save_mapping_file(path: str | os.PathLike[str], mappings: dict[str, dict[str, Any]]) -> Path:
    for key, spec in mappings.items():
        check_spec(key, spec, file=os.fspath(path))
    return write_text(path, json.dumps(mappings, indent=2, sort_keys=True) + "\n")


def mapper_from_spec(key: str, spec: dict[str, Any], *, base_dir: str | os.PathLike[str] = ".") -> Mapper:
    """Turn one mapping spec into a mapper (an expression is parsed when the layer is mapped)."""
    check_spec(key, spec)
    if "expression" in spec:
        from workbench.mappers.custom import expression_mapping
        return expression_mapping(spec["expression"])
    if "pick" in spec:
        from workbench.custom.pick import pick_mapping
        return pick_mapping(spec["pick"], spec.get("config"), spec.get("weights"))
    return _code_mapper(key, spec["code"], base_dir)


def _code_mapper(key: str, ref: str, base_dir: str | os.PathLike[str]) -> Mapper:
    """``"file.py:function"`` from the user's own (trusted) file, imported now because the user asked."""
    file, _, name = ref.rpartition(":")
    if not file or not name:
        raise MappingError(f"mapping '{key}': code must be 'file.py:function'", expected="file.py:function",
                           received=ref)
    path = Path(base_dir, file).resolve()
    if not path.is_file():
        raise MappingError(f"mapping '{key}': no such code file", file=str(path), expected="a Python file",
                           received="nothing at that path")
    module_name = f"workbench_user_mapping_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)  # the user's trusted code, loaded at the user's request
    fn = getattr(module, name, None)
    if not callable(fn):
        raise MappingError(f"mapping '{key}': {file} has no function {name}", file=str(path),
                           expected=f"def {name}(ctx) -> MappedLayer", received=sorted(vars(module))[:10])
    return fn
