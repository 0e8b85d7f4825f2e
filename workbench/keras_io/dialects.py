"""Keras 2 and Keras 3 config dialects, normalised once, here.

After ``normalise_layer`` every later stage sees one dialect (Keras 3's, the current one):

==========================  ===========================  ============================
what                        Keras 2 / tf.keras writes    normalised to
==========================  ===========================  ============================
input shape                 ``batch_input_shape``        ``batch_shape``
LeakyReLU slope             ``alpha`` (default 0.3)      ``negative_slope``
dtype                       ``"float32"`` / Policy dict  ``"float32"`` (DTypePolicy dict in 3)
custom class                ``"pkg>Name"`` class_name    class_name ``Name`` + registered_name
functional model            ``Model`` / ``Functional``   ``Functional``
inbound nodes               ``[[name, node, idx, kw]]``  ``TensorRef`` tuples (3: keras_history)
model inputs/outputs        nested lists                 ``TensorRef`` tuples (3: flat if single)
DepthwiseConv2D kernel      ``depthwise_kernel``         ``kernel``
BatchNormalization axis     ``[3]`` or ``3``             an int
==========================  ===========================  ============================
"""
from __future__ import annotations

import copy
from typing import Any

from workbench.keras_io import catalog
from workbench.keras_io.model import TensorRef

KERAS_MODULE_PREFIXES = ("keras", "tf_keras", "tensorflow")

# Weight names that differ between the dialects, per class: Keras 2 name -> Keras 3 name.
WEIGHT_RENAMES = {
    "DepthwiseConv2D": {"depthwise_kernel": "kernel"},
    "DepthwiseConv1D": {"depthwise_kernel": "kernel"},
}


def split_class_name(class_name: str, registered_name: str | None) -> tuple[str, str | None]:
    """``"pkg>Name"`` → (``"Name"``, ``"pkg>Name"``); Keras 3 keeps ``registered_name`` apart."""
    if ">" in class_name:
        return class_name.rsplit(">", 1)[1], class_name
    if registered_name and registered_name != class_name:
        return class_name, registered_name
    return class_name, None


def normalise_dtype(dtype: Any) -> Any:
    if isinstance(dtype, dict):  # DTypePolicy / Policy objects
        return dtype.get("config", {}).get("name", dtype.get("class_name"))
    return dtype


def normalise_config(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a layer's config in the normalised dialect."""
    cfg = copy.deepcopy(config) if config else {}
    if "batch_input_shape" in cfg and "batch_shape" not in cfg:
        cfg["batch_shape"] = cfg.pop("batch_input_shape")
    if "dtype" in cfg:
        cfg["dtype"] = normalise_dtype(cfg["dtype"])
    if class_name == "LeakyReLU" and "negative_slope" not in cfg:
        # Keras 2 writes ``alpha`` (its default 0.3); DL4J's importer silently falls back to 0.01.
        cfg["negative_slope"] = float(cfg.pop("alpha", 0.3))
    if class_name == "BatchNormalization":
        axis = cfg.get("axis", -1)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            cfg["axis"] = int(axis[0])
    for key in ("layer", "backward_layer"):  # wrappers hold full layer configs
        inner = cfg.get(key)
        if isinstance(inner, dict) and "class_name" in inner:
            inner_class, _ = split_class_name(inner["class_name"], inner.get("registered_name"))
            inner["config"] = normalise_config(inner_class, inner.get("config", {}))
    return cfg


def is_custom(class_name: str, module: str | None, registered_name: str | None) -> bool:
    """True when the class is not one of Keras's own (by registered package, module, or name)."""
    if registered_name and ">" in registered_name and not registered_name.startswith("keras"):
        return True
    if module is not None and module.split(".")[0] not in KERAS_MODULE_PREFIXES:
        return True
    return class_name not in catalog.KERAS_CLASSES


def _tensor_refs_keras3(obj: Any, out: list[TensorRef]) -> None:
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            name, node, index = obj["config"]["keras_history"]
            shape = obj["config"].get("shape")
            out.append(TensorRef(name, int(node), int(index), shape=tuple(shape) if shape is not None else None))
        else:
            for value in obj.values():
                _tensor_refs_keras3(value, out)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _tensor_refs_keras3(item, out)


def normalise_nodes(inbound_nodes: Any) -> tuple[tuple[TensorRef, ...], ...]:
    """Each call of a layer as the tuple of tensors it consumed, whichever dialect wrote it."""
    nodes: list[tuple[TensorRef, ...]] = []
    for node in inbound_nodes or []:
        refs: list[TensorRef] = []
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            _tensor_refs_keras3(node.get("args", []), refs)
            _tensor_refs_keras3(node.get("kwargs", {}), refs)
        else:  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
            for entry in node:
                refs.append(TensorRef(entry[0], int(entry[1]), int(entry[2])))
                kwargs = entry[3] if len(entry) > 3 else {}
                _tensor_refs_keras2_kwargs(kwargs, refs)
        nodes.append(tuple(refs))
    return tuple(nodes)


def _tensor_refs_keras2_kwargs(kwargs: Any, out: list[TensorRef]) -> None:
    # tf.keras serialises tensor kwargs (e.g. MultiHeadAttention's value) as [name, node, index].
    if isinstance(kwargs, dict):
        for value in kwargs.values():
            if (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
                    and all(isinstance(v, int) for v in value[1:])):
                out.append(TensorRef(value[0], value[1], value[2]))


def normalise_endpoints(refs: Any) -> tuple[TensorRef, ...]:
    """``input_layers``/``output_layers``: Keras 3 writes a single one flat (``["x", 0, 0]``)."""
    if not refs:
        return ()
    if isinstance(refs[0], str):
        refs = [refs]
    return tuple(TensorRef(r[0], int(r[1]), int(r[2])) for r in refs)


def normalise_model_class(class_name: str) -> str:
    return "Functional" if class_name in ("Model", "Functional") else class_name


def normalise_weight_name(class_name: str, name: str) -> str:
    return WEIGHT_RENAMES.get(class_name, {}).get(name, name)
