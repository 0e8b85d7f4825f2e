"""The Keras side of verification: run the original model in the Keras that wrote it.

    run = keras_layer_outputs("model.keras", {"input": x}, custom_objects_file="layers.py")
    run.outputs["dense"]          # what Keras's layer ``dense`` produced (node 0)
    run.outputs["shared@1"]       # second call of a shared layer
    run.outputs["encoder/enc_out"]  # a layer inside a nested model (Sequential/Functional as a layer)
    run.layer_inputs["dense"]     # what Keras fed ``dense`` on node 0 (for isolated checks)
    run.model_outputs             # the model's outputs, in Keras order

Keras 3 files (``.keras``, Keras-3 ``.h5``, Keras-3 JSON + weights) are loaded with ``keras``;
Keras 2 files with ``tf_keras``; which one is decided by our own reader (``keras_major``), never by
guessing from the file name. Models are loaded with ``compile=False`` (and ``safe_mode=True`` in
Keras 3). A Lambda that stores Python bytecode is refused *before* Keras sees the file, in either
version: nothing stored in a model file is ever run. The only code run is the user's trusted
``--custom-objects FILE.py``.

Every number comes from one forward pass of a multi-output ``Model`` built over Keras's own internal
tensors (the model's graph, walked back from its outputs), so values are exactly Keras's. Shared layers
give one entry per call: ``name`` for the first, ``name@1``, ``name@2``... (calls numbered in graph
order, like the file's ``inbound_nodes``). A layer returning several tensors gives ``name`` for the
first and ``name#1``, ``name#2``... for the others. Input layers are listed too (their output is the
fed array, cast to the input's dtype).

Nested models (a Sequential/Functional used as a layer) also give their inner layers under
``outer/inner`` (recursively, ``a/b/c``): a second multi-output model over the nested model's own graph
is fed exactly what Keras fed the nested model on its first call. Limits: only the nested model's
first call is expanded; Keras masks are not carried into that second pass; the inner layers of
wrappers (Bidirectional, TimeDistributed) are not exposed, only the wrapper's output.

TensorFlow is imported lazily (importing ``workbench`` never imports it).
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.errors import ModelFileError, RuntimeUnavailable, UnsafeContentError, WorkbenchError
from workbench.keras_io.model import KerasModel, LayerSpec

__all__ = [
    "KerasRun",
    "CustomObjectsError",
    "keras_layer_outputs",
    "load_custom_objects",
    "sample_inputs",
    "INSTALL_HINT",
]

INSTALL_HINT = "pip install 'keras-dl4j-workbench[keras]'  (tensorflow, tf-keras, keras)"
CUSTOM_OPTION = "--custom-objects FILE.py"
SHARED_SEP = "@"
TENSOR_SEP = "#"
NESTED_SEP = "/"
UNKNOWN_DIM = 5


class CustomObjectsError(WorkbenchError):
    """A custom class the model needs is not available, or the custom objects file cannot be used."""


@dataclass(frozen=True)
class KerasRun:
    """One forward pass of the original Keras model.

    Attributes:
        outputs: output per layer key (``name``, ``name@1`` for a shared layer's 2nd call,
            ``outer/inner`` inside nested models, ``name#1`` for a 2nd output tensor), graph order.
        layer_inputs: per layer key (first call only), the arrays Keras fed that layer.
        model_outputs: the model's outputs, in the model's output order.
        seconds: wall time of loading the model and running it (TensorFlow import excluded).
    """

    outputs: dict[str, np.ndarray] = field(repr=False)
    layer_inputs: dict[str, list[np.ndarray]] = field(repr=False)
    model_outputs: list[np.ndarray] = field(repr=False)
    seconds: float


# --------------------------------------------------------------------------------------------
# Importing Keras lazily
# --------------------------------------------------------------------------------------------
def _import_keras(major: int):
    """The Keras module for a file's dialect: ``keras`` (3) or ``tf_keras`` (2); RuntimeUnavailable if absent."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import tensorflow  # noqa: F401
    except ImportError as exc:
        raise RuntimeUnavailable("TensorFlow is not installed; it is needed to run the original Keras model",
                                 received=str(exc), hint=INSTALL_HINT) from None
    try:
        if major == 2:
            import tf_keras as keras
        else:
            import keras
    except ImportError as exc:
        package = "tf-keras" if major == 2 else "keras"
        raise RuntimeUnavailable(f"{package} is not installed; it is needed to run a Keras {major} model",
                                 received=str(exc), hint=f"pip install {package}") from None
    if major != 2 and keras.backend.backend() != "tensorflow":
        raise RuntimeUnavailable("Keras 3 runs on another backend; verification needs TensorFlow",
                                 expected="KERAS_BACKEND=tensorflow", received=keras.backend.backend(),
                                 hint="set KERAS_BACKEND=tensorflow before starting")
    return keras


# --------------------------------------------------------------------------------------------
# Custom objects
# --------------------------------------------------------------------------------------------
_MODULES: dict[tuple[str, int], Any] = {}


def _import_user_file(path: str) -> Any:
    """Import the user's trusted Python file by path, once per (file, modification time)."""
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise CustomObjectsError("the custom objects file does not exist", file=path,
                                 expected="a Python file defining the custom layers", received="nothing at that path",
                                 hint=f"pass it as {CUSTOM_OPTION}")
    key = (real, os.stat(real).st_mtime_ns)
    if key in _MODULES:
        return _MODULES[key]
    stem = os.path.splitext(os.path.basename(real))[0]
    name = f"workbench_custom_objects_{hashlib.sha1(real.encode()).hexdigest()[:10]}_{stem}"
    spec = importlib.util.spec_from_file_location(name, real)
    if spec is None or spec.loader is None:
        raise CustomObjectsError("the custom objects file is not a Python module", file=path,
                                 expected="a .py file", received=os.path.basename(real))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code failed: report it as theirs
        sys.modules.pop(name, None)
        raise CustomObjectsError("the custom objects file failed to import", file=path,
                                 received=f"{type(exc).__name__}: {exc}") from exc
    _MODULES[key] = module
    return module


def load_custom_objects(path: str | os.PathLike[str], keras_major: int = 3) -> dict[str, Any]:
    """Import a user's trusted Python file and return the custom objects for one Keras version.

    Args:
        path: the ``--custom-objects`` file (imported by path; only ever a file the user passed).
        keras_major: 3 picks ``CUSTOM_OBJECTS``, 2 picks ``CUSTOM_OBJECTS_KERAS2``.

    Returns:
        That dict (a copy), or, when the file does not define it, every Layer subclass of the matching
        Keras defined in the file, keyed by class name (and by ``package>Name`` when registered).

    Raises:
        CustomObjectsError: the file is missing or raises on import.
        RuntimeUnavailable: TensorFlow / the needed Keras is not installed.
    """
    path = os.fspath(path)
    keras = _import_keras(keras_major)
    module = _import_user_file(path)
    attr = "CUSTOM_OBJECTS_KERAS2" if keras_major == 2 else "CUSTOM_OBJECTS"
    objects = getattr(module, attr, None)
    if isinstance(objects, Mapping):
        return dict(objects)
    base = keras.layers.Layer
    registered_name = (keras.utils.get_registered_name if keras_major == 2
                       else keras.saving.get_registered_name)
    found: dict[str, Any] = {}
    for value in vars(module).values():
        if (inspect.isclass(value) and issubclass(value, base)
                and value.__module__ == module.__name__):
            found[value.__name__] = value
            registered = registered_name(value)
            if registered and registered != value.__name__:
                found[registered] = value
    return found


def _custom_specs(layers: tuple[LayerSpec, ...]):
    for spec in layers:
        if spec.custom:
            yield spec
        yield from _custom_specs(spec.children)


def _check_custom_classes(model: KerasModel, objects: Mapping[str, Any], custom_file: str | None) -> None:
    """Every custom class the model names must come from the user's file (never from elsewhere)."""
    for spec in _custom_specs(model.layers):
        names = {spec.class_name, spec.registered_name} - {None}
        if names & set(objects):
            continue
        wanted = spec.registered_name or spec.class_name
        if custom_file is None:
            what = f"custom class '{spec.class_name}' is needed but no custom objects file was given"
            received = "no custom objects"
        else:
            what = f"custom class '{spec.class_name}' is not defined in the custom objects file"
            received = f"{sorted(objects) or 'no Layer classes'} in {custom_file}"
        raise CustomObjectsError(what, file=model.path, layer=spec.name,
                                 expected=f"a class registered as '{wanted}'", received=received,
                                 hint=f"pass the Python file defining it with {CUSTOM_OPTION}")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def _refuse_bytecode(model: KerasModel) -> None:
    from workbench.keras_io.loader import lambda_functions

    problems = lambda_functions(model)
    if problems:
        raise problems[0]


def _load_keras_model(keras, model: KerasModel, objects: dict[str, Any], path: str):
    major = model.keras_major
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if model.format == "json+weights":
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                km = keras.models.model_from_json(text, custom_objects=objects)
                if model.weights_path is None:
                    raise ModelFileError("no weights file was found for the JSON architecture", file=path,
                                         expected="a weights file beside it or passed explicitly",
                                         received="none")
                km.load_weights(model.weights_path)
            elif major == 2:
                km = keras.models.load_model(path, custom_objects=objects, compile=False)
            else:
                km = keras.models.load_model(path, custom_objects=objects, compile=False, safe_mode=True)
    except WorkbenchError:
        raise
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
            raise UnsafeContentError("Keras refused code stored in the model file", file=path,
                                     received=message) from None
        if "Unknown layer" in str(exc) or "Could not locate class" in str(exc):
            raise CustomObjectsError("Keras could not find a custom class", file=path, received=message,
                                     hint=f"pass the Python file defining it with {CUSTOM_OPTION}") from None
        raise ModelFileError(f"Keras {major} could not load the model", file=path,
                             received=f"{type(exc).__name__}: {message}") from None
    return km


# --------------------------------------------------------------------------------------------
# Walking Keras's graph
# --------------------------------------------------------------------------------------------
def _flat(structure) -> list:
    import tensorflow as tf

    return [t for t in tf.nest.flatten(structure) if t is not None]


def _node_inputs(node, major: int) -> list:
    if major == 2:
        return list(node.keras_inputs)
    return list(node.input_tensors)


def _node_outputs(node, major: int) -> list:
    if major == 2:
        return _flat(node.outputs)
    return list(node.output_tensors)


def _graph(inputs: list, outputs: list, major: int):
    """(layer, node_index) of every call in the graph from ``inputs`` to ``outputs``, in call order.

    Walks back from the outputs through ``_keras_history`` (both Keras versions), so calls a layer
    made in other graphs (Keras 3 Sequential rebuilds, a nested model's own graph) are left out.
    """
    input_ids = {id(t) for t in inputs}
    seen: set[tuple[int, int]] = set()
    order: list[tuple[Any, int]] = []

    def visit(tensor) -> None:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return
        layer, node_index = history[0], history[1]
        key = (id(layer), node_index)
        if key in seen:
            return
        seen.add(key)
        if id(tensor) not in input_ids:
            for parent in _node_inputs(layer._inbound_nodes[node_index], major):
                visit(parent)
        order.append((layer, node_index))

    for tensor in outputs:
        visit(tensor)
    return order


def _call_keys(calls: list[tuple[Any, int]], prefix: str) -> list[tuple[str, Any, int]]:
    """Key per call: ``name`` for a layer's first call in this graph, ``name@k`` for its k-th."""
    per_layer: dict[int, list[int]] = {}
    for layer, node_index in calls:
        per_layer.setdefault(id(layer), []).append(node_index)
    keyed = []
    for layer, node_index in calls:
        k = sorted(per_layer[id(layer)]).index(node_index)
        keyed.append((prefix + layer.name + (f"{SHARED_SEP}{k}" if k else ""), layer, k))
    return keyed


def _np_dtype(dtype) -> np.dtype:
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype))


def _is_model(keras, layer) -> bool:
    return isinstance(layer, keras.Model)


def _is_input(layer) -> bool:
    return type(layer).__name__ == "InputLayer"


def _run_graph(keras, major: int, inputs: list, outputs: list, feeds: list[np.ndarray], prefix: str,
               result: dict[str, np.ndarray], fed: dict[str, list[np.ndarray]]) -> list[np.ndarray]:
    """One pass of a multi-output model over every call's tensors; fills ``result`` and ``fed``."""
    calls = _graph(inputs, outputs, major)
    value_of: dict[int, int] = {}  # id(tensor) -> index into probe outputs, or -(k+1) for input k
    for k, tensor in enumerate(inputs):
        value_of[id(tensor)] = -(k + 1)
    probe_tensors: list = []

    def want(tensor) -> None:
        if id(tensor) not in value_of:
            value_of[id(tensor)] = len(probe_tensors)
            probe_tensors.append(tensor)

    keyed = _call_keys(calls, prefix)
    for (key, layer, k), (_, node_index) in zip(keyed, calls):
        node = layer._inbound_nodes[node_index]
        for tensor in _node_outputs(node, major):
            want(tensor)
        if k == 0:
            for tensor in _node_inputs(node, major):
                want(tensor)
    for tensor in outputs:
        want(tensor)

    values: list[np.ndarray] = []
    if probe_tensors:
        probe = keras.Model(inputs=list(inputs), outputs=list(probe_tensors))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = probe(list(feeds), training=False)
        got = got if isinstance(got, (list, tuple)) else [got]
        values = [np.asarray(v) for v in got]

    def value(tensor) -> np.ndarray:
        i = value_of[id(tensor)]
        return feeds[-i - 1] if i < 0 else values[i]

    nested: list[tuple[str, Any, list[np.ndarray]]] = []
    for (key, layer, k), (_, node_index) in zip(keyed, calls):
        node = layer._inbound_nodes[node_index]
        if _is_input(layer):
            result[key] = value(_node_outputs(node, major)[0])
            continue
        for j, tensor in enumerate(_node_outputs(node, major)):
            result[key if j == 0 else f"{key}{TENSOR_SEP}{j}"] = value(tensor)
        if k == 0:
            fed[key] = [value(t) for t in _node_inputs(node, major)]
            if _is_model(keras, layer):
                nested.append((key, layer, fed[key]))

    for key, layer, layer_feeds in nested:
        try:
            inner_inputs, inner_outputs = list(layer.inputs), _flat(layer.outputs)
        except (AttributeError, ValueError):
            continue  # an unbuilt subclassed model: only its own output is known
        if len(inner_inputs) != len(layer_feeds):
            continue
        _run_graph(keras, major, inner_inputs, inner_outputs,
                   [np.asarray(a, dtype=_np_dtype(t.dtype)) for a, t in zip(layer_feeds, inner_inputs)],
                   key + NESTED_SEP, result, fed)
    return [value(t) for t in outputs]


def _input_name(tensor) -> str:
    return tensor._keras_history[0].name


def _prepare_feeds(model: KerasModel, km, inputs: Mapping[str, Any]) -> list[np.ndarray]:
    names = [_input_name(t) for t in km.inputs]
    missing = [n for n in names if n not in inputs]
    extra = [n for n in inputs if n not in names]
    if missing or extra:
        raise WorkbenchError("the inputs do not match the model's inputs", file=model.path,
                             expected=f"arrays for {names}", received=f"arrays for {list(inputs)}")
    feeds = []
    for name, tensor in zip(names, km.inputs):
        array = np.asarray(inputs[name])
        shape = tuple(tensor.shape)
        fits = len(shape) == array.ndim and all(d is None or d == a for d, a in zip(shape, array.shape))
        if not fits:
            raise WorkbenchError("an input array does not fit the model's input", file=model.path, layer=name,
                                 expected=f"shape {shape}", received=f"shape {array.shape}")
        feeds.append(array.astype(_np_dtype(tensor.dtype), copy=False))
    return feeds


def keras_layer_outputs(path: str | os.PathLike[str], inputs: Mapping[str, Any], *,
                        custom_objects_file: str | os.PathLike[str] | None = None,
                        weights: str | os.PathLike[str] | None = None) -> KerasRun:
    """Run the original model in the Keras that wrote it; every layer's output and input.

    Args:
        path: the Keras model file (``.keras``, ``.h5``, or a ``.json`` architecture).
        inputs: one array per model input, keyed by the input layer's name.
        custom_objects_file: the user's trusted Python file defining the custom classes (imported).
        weights: with a ``.json`` architecture, the weights file (else found beside it).

    Returns:
        A :class:`KerasRun` (see the module docstring for the key scheme).

    Raises:
        RuntimeUnavailable: TensorFlow (or the needed Keras) is not installed.
        UnsafeContentError: a Lambda stores Python bytecode (refused before loading).
        CustomObjectsError: a custom class is not defined in the custom objects file (or none was given).
        ModelFileError: our reader or Keras cannot read the file.
        WorkbenchError: the inputs do not match the model's inputs.
    """
    from workbench.keras_io import load_model

    path = os.fspath(path)
    model = load_model(path, weights)
    _refuse_bytecode(model)
    keras = _import_keras(model.keras_major)
    custom_file = os.fspath(custom_objects_file) if custom_objects_file is not None else None
    objects = load_custom_objects(custom_file, model.keras_major) if custom_file else {}
    _check_custom_classes(model, objects, custom_file)

    start = time.perf_counter()
    km = _load_keras_model(keras, model, objects, path)
    feeds = _prepare_feeds(model, km, inputs)
    outputs: dict[str, np.ndarray] = {}
    fed: dict[str, list[np.ndarray]] = {}
    model_outputs = _run_graph(keras, model.keras_major, list(km.inputs), _flat(km.outputs), feeds, "",
                               outputs, fed)
    return KerasRun(outputs=outputs, layer_inputs=fed, model_outputs=model_outputs,
                    seconds=time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# Sample inputs
# --------------------------------------------------------------------------------------------
def _embedding_dim(spec: LayerSpec) -> int | None:
    """input_dim of the Embedding this layer is, or that a nested model starts with."""
    if spec.class_name == "Embedding":
        return int(spec.config.get("input_dim", 10))
    if spec.is_container:
        for child in spec.children:
            if child.is_input:
                continue
            return _embedding_dim(child)
    if spec.class_name == "TimeDistributed":
        for child in spec.children:
            return _embedding_dim(child)
    return None


def sample_inputs(model: KerasModel, batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs for a model read by our reader, one array per model input.

    Float inputs are ~N(0, 1); an input feeding an Embedding gets integers below its ``input_dim``
    (smallest over the Embeddings it feeds); other integer inputs get 0..9. Shapes come from the
    InputLayers' ``batch_shape``; unknown dimensions other than the batch become 5.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for ref in model.inputs:
        try:
            spec = model.layer(ref.layer)
        except KeyError:
            raise ModelFileError("the model names an input layer it does not define", file=model.path,
                                 layer=ref.layer) from None
        config = spec.config
        batch_shape = config.get("batch_shape") or config.get("batch_input_shape") or [None]
        shape = (batch,) + tuple(UNKNOWN_DIM if d is None else int(d) for d in list(batch_shape)[1:])
        dtype = config.get("dtype") or "float32"
        if isinstance(dtype, dict):  # a dtype policy
            dtype = dtype.get("config", {}).get("name", "float32")
        dtype = np.dtype(str(dtype))
        dims = [d for d in (_embedding_dim(s) for s in model.layers
                            if any(r.layer == ref.layer for node in s.nodes for r in node)) if d]
        if dims:
            array = rng.integers(0, max(1, min(dims)), size=shape)
        elif np.issubdtype(dtype, np.integer) or dtype == np.bool_:
            array = rng.integers(0, 2 if dtype == np.bool_ else 10, size=shape)
        else:
            array = rng.standard_normal(shape)
        out[ref.layer] = array.astype(dtype)
    return out


def custom_weight_names(custom_objects_file: str | os.PathLike[str], spec: LayerSpec, input_shape: tuple,
                        keras_major: int = 3) -> list[str] | None:
    """The variable names of a custom layer, from the user's own class (a ``.keras`` file stores none).

    Builds one instance of the class from the layer's config on ``input_shape`` (batch included) in the
    user's trusted code; returns None when the class is not in the file or the instance does not build.
    """
    keras = _import_keras(keras_major)
    objects = load_custom_objects(custom_objects_file, keras_major)
    cls = objects.get(spec.registered_name or "") or objects.get(spec.class_name)
    if cls is None:
        return None
    try:
        layer = cls.from_config(dict(spec.config))
        layer.build(tuple(input_shape))
    except Exception:  # noqa: BLE001 - user code; the caller keeps the anonymous names
        return None
    return [w.name.split("/")[-1].split(":")[0] for w in layer.weights]
