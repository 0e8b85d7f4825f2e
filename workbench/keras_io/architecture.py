"""Build ``LayerSpec`` trees from a (raw) Keras model config plus a source of weights.

The weight source gives, for each top-level layer, its weights as ``(relative path, WeightInfo)``
pairs in Keras order; this module hands them down to the inner layers of nested models and
wrappers, and checks them against what the config implies.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from workbench.errors import ModelFileError, WeightError
from workbench.keras_io import catalog, dialects
from workbench.keras_io.model import CONTAINER_CLASSES, KerasModel, LayerSpec, TensorRef, WeightInfo

# (relative path inside the layer, weight) pairs, in the order Keras stores them.
WeightList = list[tuple[str, WeightInfo]]
TopLevelWeights = Callable[[str, dict[str, Any]], WeightList]


def build_model(model_config: dict[str, Any], top_level_weights: TopLevelWeights, *, path: str,
                format: str, keras_version: str, weights_path: str | None = None,
                backend: str | None = None) -> KerasModel:
    """Turn a model config and its weights into a ``KerasModel``.

    Args:
        model_config: the parsed ``model_config`` / ``config.json`` (``{"class_name", "config"}``).
        top_level_weights: called with a top-level layer's name and raw config, returns its weights.
        path: the model file, for messages.
    """
    if not isinstance(model_config, dict) or "class_name" not in model_config:
        raise ModelFileError("the model config is not a Keras model config", file=path,
                             expected='a JSON object with "class_name" and "config"',
                             received=type(model_config).__name__)
    class_name = dialects.normalise_model_class(model_config["class_name"])
    if class_name not in ("Sequential", "Functional"):
        raise ModelFileError("the file holds no Sequential or Functional model", file=path,
                             expected="Sequential or Functional", received=class_name)
    builder = _Builder(path, top_level_weights)
    config = model_config.get("config", {})
    layers, inputs, outputs = builder.container(class_name, config, top=True)
    name = config.get("name", "model") if isinstance(config, dict) else "model"
    major = _major(keras_version)
    if major == 2:
        layers, outputs = _renumber_keras2_container_calls(layers, outputs)
    return KerasModel(path=path, format=format, keras_version=keras_version, keras_major=major,
                      class_name=class_name, name=str(name),
                      layers=tuple(layers), inputs=inputs, outputs=outputs,
                      weights_path=weights_path, backend=backend)


def _major(version: str) -> int:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else 0


class _Builder:
    def __init__(self, path: str, top_level_weights: TopLevelWeights) -> None:
        self.path = path
        self.top_level_weights = top_level_weights

    def container(self, class_name: str, config: dict[str, Any], *, top: bool,
                  weights: WeightList | None = None):
        raw_layers = config.get("layers", []) if isinstance(config, dict) else config
        if isinstance(config, list):  # Sequential config of Keras < 2.2.3: a bare list of layers
            config = {"layers": config}
        specs: list[LayerSpec] = []
        if class_name == "Sequential":
            specs, inputs, outputs = self._sequential(raw_layers, top=top, weights=weights)
        else:
            for raw in raw_layers:
                specs.append(self.layer(raw, top=top, weights=_take_prefix(weights, raw)))
            inputs = dialects.normalise_endpoints(config.get("input_layers"))
            outputs = dialects.normalise_endpoints(config.get("output_layers"))
        return specs, inputs, outputs

    def _sequential(self, raw_layers: Sequence[dict], *, top: bool, weights: WeightList | None):
        specs: list[LayerSpec] = []
        previous: str | None = None
        for i, raw in enumerate(raw_layers):
            spec = self.layer(raw, top=top, weights=_take_prefix(weights, raw))
            if i == 0 and not spec.is_input:
                # Keras 2 Sequential without an explicit Input: the first layer holds the shape.
                shape = spec.config.get("batch_shape")
                input_spec = LayerSpec(name=f"{spec.name}_input", class_name="InputLayer",
                                       config={"batch_shape": shape, "name": f"{spec.name}_input"},
                                       is_input=True)
                specs.append(input_spec)
                previous = input_spec.name
            if not spec.is_input:
                spec = dataclasses.replace(spec, nodes=((TensorRef(previous),),) if previous else ())
            specs.append(spec)
            previous = spec.name
        inputs = (TensorRef(specs[0].name),) if specs else ()
        outputs = (TensorRef(specs[-1].name),) if specs else ()
        return specs, inputs, outputs

    def layer(self, raw: dict[str, Any], *, top: bool, weights: WeightList | None) -> LayerSpec:
        if not isinstance(raw, dict) or "class_name" not in raw:
            raise ModelFileError("a layer entry of the model config has no class_name", file=self.path,
                                 expected='{"class_name": ..., "config": ...}', received=str(raw)[:80])
        class_name, registered = dialects.split_class_name(raw["class_name"], raw.get("registered_name"))
        class_name = dialects.normalise_model_class(class_name)
        config = raw.get("config", {})
        name = raw.get("name") or (config.get("name") if isinstance(config, dict) else None) or class_name
        module = raw.get("module")
        if top:
            weights = [(p, dataclasses.replace(w, path=p)) for p, w in self.top_level_weights(name, raw)]
        weights = weights or []
        nodes = dialects.normalise_nodes(raw.get("inbound_nodes"))
        build_shape = (raw.get("build_config") or {}).get("input_shape")
        common = dict(name=name, class_name=class_name, registered_name=registered, module=module,
                      custom=dialects.is_custom(class_name, module, registered), nodes=nodes,
                      build_input_shape=_shape_tuple(build_shape))
        if class_name in CONTAINER_CLASSES:
            children, inputs, outputs = self.container(class_name, config, top=False, weights=weights)
            return LayerSpec(config={k: v for k, v in config.items() if k != "layers"}, children=tuple(children),
                             weights=tuple(w for _, w in weights), input_names=tuple(r.layer for r in inputs),
                             output_refs=outputs, **common)
        config = dialects.normalise_config(class_name, config)
        if class_name in catalog.WRAPPERS:
            children = self._wrapper_children(name, class_name, config, weights)
            return LayerSpec(config=config, children=children, weights=tuple(w for _, w in weights), **common)
        infos = tuple(dataclasses.replace(w, name=dialects.normalise_weight_name(class_name, w.name))
                      for _, w in weights)
        self._check_weight_names(name, class_name, config, infos)
        return LayerSpec(config=config, weights=infos, is_input=class_name == "InputLayer", **common)

    def _wrapper_children(self, name: str, class_name: str, config: dict[str, Any],
                          weights: WeightList) -> tuple[LayerSpec, ...]:
        inner = config.get("layer")
        if not isinstance(inner, dict):
            raise ModelFileError("a wrapper layer has no inner layer config", file=self.path, layer=name,
                                 expected='config["layer"]', received=None)
        if class_name == "TimeDistributed":
            return (self.layer(inner, top=False, weights=weights),)
        # Bidirectional: forward weights first, then backward, in equal halves.
        half = len(weights) // 2
        if len(weights) % 2:
            raise WeightError("a Bidirectional layer holds an odd number of weights", file=self.path,
                              layer=name, expected="forward and backward weights in equal number",
                              received=len(weights))
        inner_name = unprefixed(inner.get("config", {}).get("name", "rnn"))
        backward = config.get("backward_layer") or {
            **inner, "config": {**inner.get("config", {}),
                                "go_backwards": not inner.get("config", {}).get("go_backwards", False)}}
        forward_spec = self.layer({**inner, "name": f"forward_{inner_name}"}, top=False, weights=weights[:half])
        backward_spec = self.layer({**backward, "name": f"backward_{inner_name}"}, top=False,
                                   weights=weights[half:])
        return forward_spec, backward_spec

    def _check_weight_names(self, name: str, class_name: str, config: dict[str, Any],
                            infos: tuple[WeightInfo, ...]) -> None:
        expected = catalog.expected_weight_names(class_name, config)
        if expected is None:
            return
        found = [w.name for w in infos]
        if found != expected:
            missing = [n for n in expected if n not in found]
            what = f"weights missing: {', '.join(missing)}" if missing else "unexpected weights"
            raise WeightError(what, file=self.path, layer=name,
                              expected=f"{class_name} weights {expected}", received=found)


def _renumber_keras2_container_calls(layers, outputs):
    """Keras 2 numbers the calls of a nested model from 1: its call 0 is the model's own internal
    graph (tf.keras ``_should_skip_first_node``). Renumber from 0, as Keras 3 and every other layer do."""
    skipped = {s.name for s in layers if s.is_container and s.children and s.children[0].is_input}
    if not skipped:
        return layers, outputs

    def fix(ref: TensorRef) -> TensorRef:
        if ref.layer in skipped and ref.node_index > 0:
            return dataclasses.replace(ref, node_index=ref.node_index - 1)
        return ref

    layers = [dataclasses.replace(s, nodes=tuple(tuple(fix(r) for r in node) for node in s.nodes)) for s in layers]
    return layers, tuple(fix(r) for r in outputs)


def unprefixed(name: str) -> str:
    """Keras 3 names a Bidirectional's inner layer ``forward_lstm`` already; Keras 2 ``lstm``."""
    for prefix in ("forward_", "backward_"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _shape_tuple(shape: Any) -> tuple | None:
    if isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    return None


def _take_prefix(weights: WeightList | None, raw: dict[str, Any]) -> WeightList | None:
    """The weights of one inner layer of a nested model (paths start with its name)."""
    if weights is None:
        return None
    name = raw.get("name") or raw.get("config", {}).get("name")
    prefix = f"{name}/"
    return [(path[len(prefix):], w) for path, w in weights if path.startswith(prefix)]
