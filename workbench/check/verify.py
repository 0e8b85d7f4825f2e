"""Layer-by-layer verification: does the DL4J model compute what Keras computes?

Two views per layer, both against TensorFlow running the original model:

* *isolated*: the DL4J layer alone, fed Keras's own input to that layer. A wrong mapping (a kernel
  left in the wrong layout, gates in the wrong order) shows here, at the layer that is wrong.
* *propagated*: the whole converted model run from the model input. Shows drift, and is what the
  user finally gets.

The DL4J side runs in the NumPy reference (DL4J's semantics, read back from the exported config and
parameters) and, when asked, in real DL4J on the JVM (propagated only).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from workbench.convert import Conversion, Node
from workbench.export.dl4j_config import configuration, configuration_json, flat_params
from workbench.export.model_zip import DL4JZip

OK, DIVERGES, FOLDED, MISSING = "ok", "diverges", "folded", "missing"


@dataclass(frozen=True)
class Diff:
    """How far one DL4J output is from Keras's."""

    max_abs: float
    max_rel: float
    shape: tuple[int, ...]
    keras_shape: tuple[int, ...]

    @property
    def shapes_match(self) -> bool:
        return self.shape == self.keras_shape


def diff(ours: np.ndarray, keras: np.ndarray) -> Diff:
    ours, keras = np.asarray(ours, np.float64), np.asarray(keras, np.float64)
    if ours.shape != keras.shape:
        return Diff(float("inf"), float("inf"), ours.shape, keras.shape)
    err = np.abs(ours - keras)
    max_abs = float(err.max()) if err.size else 0.0
    scale = float(np.abs(keras).max()) if keras.size else 0.0
    return Diff(max_abs, max_abs / scale if scale > 0 else max_abs, ours.shape, keras.shape)


@dataclass(frozen=True)
class LayerCheck:
    """One Keras layer's verdict."""

    name: str
    class_name: str
    status: str
    isolated: Diff | None = None
    propagated: Diff | None = None
    dl4j: Diff | None = None
    note: str = ""

    def worst(self) -> float:
        values = [d.max_abs for d in (self.isolated, self.propagated, self.dl4j) if d is not None]
        return max(values) if values else 0.0


@dataclass(frozen=True)
class VerifyReport:
    layers: tuple[LayerCheck, ...]
    atol: float
    dl4j_error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def first_divergence(self) -> str | None:
        for check in self.layers:
            if check.status == DIVERGES:
                return check.name
        return None

    @property
    def passed(self) -> bool:
        return self.dl4j_error is None and all(c.status in (OK, FOLDED) for c in self.layers)


def in_memory_zip(conv: Conversion) -> DL4JZip:
    """The exported model as the reader would see it, without touching the disk."""
    config = configuration(conv)
    return DL4JZip(configuration=config, configuration_json=configuration_json(conv), params=flat_params(conv),
                   kind="MultiLayerNetwork" if "confs" in config else "ComputationGraph", entries=())


def _single_node(conv: Conversion, node: Node, producers: dict[str, Any]) -> Conversion:
    inputs = tuple((f"{name}__in", producers[name]) for name in node.inputs)
    alone = Node(node.name, node.mapped, tuple(name for name, _ in inputs))
    return Conversion(conv.model, conv.options, (alone,), inputs, (node.name,))


def isolated_output(conv: Conversion, node: Node, keras_outputs: dict[str, np.ndarray],
                    reference: Callable[[DL4JZip, dict[str, np.ndarray]], dict[str, np.ndarray]],
                    producers: dict[str, Any] | None = None) -> np.ndarray:
    """One DL4J layer alone, fed Keras's own input to it; its output in Keras's layout."""
    producers = producers if producers is not None else producer_activations(conv)
    alone = _single_node(conv, node, producers)
    fed = {f"{name}__in": producers[name].to_dl4j(np.asarray(keras_outputs[conv.keras_source(name)]))
           .astype(np.float32) for name in node.inputs}
    return node.mapped.output.to_keras(reference(in_memory_zip(alone), fed)[node.name])


def producer_activations(conv: Conversion) -> dict[str, Any]:
    acts = {name: act for name, act in conv.inputs}
    acts.update({name: mapped.output for name, mapped in conv.mapped.items()})
    acts.update({node.name: node.mapped.output for node in conv.nodes})
    return acts


def dl4j_inputs(conv: Conversion, keras_inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Model inputs in DL4J's layouts, float32, in the network's input order."""
    return {name: act.to_dl4j(np.asarray(keras_inputs[name])).astype(np.float32) for name, act in conv.inputs}


def verify(conv: Conversion, keras_outputs: dict[str, np.ndarray], keras_inputs: dict[str, np.ndarray], *,
           reference: Callable[[DL4JZip, dict[str, np.ndarray]], dict[str, np.ndarray]],
           dl4j_outputs: dict[str, np.ndarray] | None = None, dl4j_error: str | None = None,
           atol: float = 1e-5) -> VerifyReport:
    """Compare every mapped layer with Keras, isolated and propagated.

    Args:
        conv: the conversion.
        keras_outputs: Keras's output per layer name (model inputs included), from ``keras_runner``.
        keras_inputs: the model inputs fed to Keras, by input layer name.
        reference: the NumPy DL4J-semantics executor (``reference.run_reference``).
        dl4j_outputs: outputs of real DL4J for the same inputs, keyed by DL4J layer/vertex name.
        atol: absolute tolerance (float32: 1e-5).
    """
    start = time.perf_counter()
    producers = producer_activations(conv)
    propagated = reference(in_memory_zip(conv), dl4j_inputs(conv, keras_inputs))
    checks: list[LayerCheck] = []
    nodes = {n.name: n for n in conv.nodes}
    for key, mapped in conv.mapped.items():
        if key not in nodes:
            checks.append(LayerCheck(key, mapped.keras_class, FOLDED, note="; ".join(mapped.notes)))
            continue
        keras_out = keras_outputs.get(key)
        if keras_out is None:
            checks.append(LayerCheck(key, mapped.keras_class, MISSING, note="Keras gave no output"))
            continue
        node = nodes[key]
        iso = diff(isolated_output(conv, node, keras_outputs, reference, producers), keras_out)
        prop = diff(mapped.output.to_keras(propagated[node.name]), keras_out)
        real = None
        if dl4j_outputs is not None and node.name in dl4j_outputs:
            real = diff(mapped.output.to_keras(dl4j_outputs[node.name]), keras_out)
        bad = any(d is not None and (not d.shapes_match or d.max_abs > atol) for d in (iso, prop, real))
        checks.append(LayerCheck(key, mapped.keras_class, DIVERGES if bad else OK, iso, prop, real,
                                 note="; ".join(mapped.notes)))
    return VerifyReport(tuple(checks), atol, dl4j_error, {"reference": time.perf_counter() - start})
