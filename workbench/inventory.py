"""The inventory: one plain record per layer, the same for the CLI, the notebooks and the UI."""
from __future__ import annotations

from typing import Any

from workbench.keras_io.loader import lambda_functions
from workbench.keras_io.model import KerasModel, LayerSpec
from workbench.keras_io.shapes import infer_shapes

NEEDS_MAPPING = "needs mapping"


def layer_record(spec: LayerSpec, shape: Any) -> dict[str, Any]:
    """A JSON-ready description of one layer."""
    needs_mapping = spec.custom or spec.class_name == "Lambda"
    record = {
        "name": spec.name,
        "class_name": spec.class_name,
        "registered_name": spec.registered_name,
        "module": spec.module,
        "custom": spec.custom,
        "input": spec.is_input,
        "status": NEEDS_MAPPING if needs_mapping else ("input" if spec.is_input else "pending"),
        "inbound": spec.inbound,
        "calls": len(spec.nodes),
        "output_shape": _jsonable_shape(shape),
        "params": spec.param_count,
        "weights": [{"name": w.name, "path": w.path, "shape": list(w.shape), "dtype": w.dtype}
                    for w in spec.weights],
        "config": spec.config,
    }
    if spec.children:
        record["layers"] = [layer_record(child, None) for child in spec.children]
    return record


def _jsonable_shape(shape: Any) -> Any:
    if shape is None:
        return None
    if isinstance(shape, list):
        return [list(s) if s is not None else None for s in shape]
    return list(shape)


def inventory(model: KerasModel) -> dict[str, Any]:
    """The whole model as ``{"model": {...}, "layers": [...], "problems": [...]}``, in Keras order."""
    shapes = infer_shapes(model)
    return {
        "model": {
            "path": model.path,
            "format": model.format,
            "keras_version": model.keras_version,
            "keras_major": model.keras_major,
            "backend": model.backend,
            "class_name": model.class_name,
            "name": model.name,
            "inputs": [ref.layer for ref in model.inputs],
            "outputs": [ref.layer for ref in model.outputs],
            "params": model.param_count,
            "weights_path": model.weights_path,
        },
        "layers": [layer_record(spec, shapes.get(spec.name)) for spec in model.layers],
        "problems": [str(err) for err in lambda_functions(model)],
    }
