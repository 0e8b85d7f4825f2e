"""Map a whole Keras model to a DL4J graph: one ``MappedLayer`` per Keras layer, wired by name.

The result (``Conversion``) is what the exporters write and the checkers run; it never imports
TensorFlow and holds the named weight traces the UI draws.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from workbench.errors import MappingError
from workbench.keras_io.model import KerasModel, LayerSpec
from workbench.mappers import Activation, MapContext, MappedLayer, Options, lookup

HOW_TO_MAP = ("map it by picking a DL4J layer, by an expression such as \"relu(x) * sigmoid(x)\", "
              "or by a Python mapping function in a --mapping file")


@dataclass(frozen=True)
class Node:
    """One DL4J layer or vertex: the mapped Keras layer and the DL4J names it reads from."""

    name: str
    mapped: MappedLayer
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Conversion:
    """A Keras model mapped to DL4J.

    Attributes:
        nodes: DL4J layers/vertices in topological order (Keras layers that vanish are not here).
        inputs: the network inputs: (name, what flows in).
        outputs: DL4J names of the network outputs, in Keras's output order.
        mapped: every Keras layer's mapping by Keras name (vanished ones included).
        aliases: Keras layer name → the DL4J name whose activation equals it.
    """

    model: KerasModel
    options: Options
    nodes: tuple[Node, ...]
    inputs: tuple[tuple[str, Activation], ...]
    outputs: tuple[str, ...]
    mapped: dict[str, MappedLayer] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def is_chain(self) -> bool:
        """True when a MultiLayerNetwork can hold it: one input, one output, each layer feeding the next."""
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            return False
        previous = self.inputs[0][0]
        for node in self.nodes:
            if node.mapped.vertex is not None or node.inputs != (previous,):
                return False
            previous = node.name
        return self.outputs == (previous,)

    @property
    def n_params(self) -> int:
        return sum(node.mapped.n_params for node in self.nodes)


def input_activation(spec: LayerSpec, options: Options) -> Activation:
    shape = tuple(spec.config.get("batch_shape") or (None,))[1:]
    kind = {1: "ff", 2: "rnn", 3: "cnn", 4: "cnn3d"}.get(len(shape), "ff")
    if kind == "rnn" and "int" in str(spec.config.get("dtype", "")):
        kind = "ff"
    fmt = {"cnn": options.cnn_format, "rnn": options.rnn_format}.get(kind)
    return Activation(kind, shape, fmt)


def map_model(model: KerasModel, options: Options | None = None) -> Conversion:
    """Map every layer; raise one MappingError naming every layer that cannot be mapped.

    Args:
        model: from ``workbench.load_model``.
        options: DL4J data format choices (default NHWC / NWC, like DL4J's own importer).
    """
    options = options or Options()
    outputs: dict[str, Activation] = {}
    aliases: dict[str, str] = {}
    mapped: dict[str, MappedLayer] = {}
    nodes: list[Node] = []
    inputs: list[tuple[str, Activation]] = []
    problems: list[MappingError] = []
    blocked: list[str] = []
    for spec in model.layers:
        if spec.is_input:
            act = input_activation(spec, options)
            outputs[spec.name] = act
            aliases[spec.name] = spec.name
            inputs.append((spec.name, act))
            continue
        if any(ref.layer not in outputs for node in spec.nodes for ref in node):
            blocked.append(spec.name)  # an input could not be mapped; that layer is the one reported
            continue
        try:
            node = _map_layer(model, spec, options, outputs, aliases)
        except MappingError as err:
            problems.append(err)
            continue
        mapped[spec.name] = node.mapped
        outputs[spec.name] = node.mapped.output
        if node.mapped.vanishes:
            aliases[spec.name] = node.inputs[0]
        else:
            aliases[spec.name] = spec.name
            nodes.append(node)
    if problems:
        first = problems[0]
        others = [p.layer for p in problems[1:]]
        more = f" (and {len(others)} more layers: {', '.join(others)})" if others else ""
        raise MappingError(first.what + more,
                           file=model.path, layer=first.layer, expected=first.expected, received=first.received,
                           hint=first.hint)
    order = {name: i for i, (name, _) in enumerate(inputs)}
    by_input_order = sorted(inputs, key=lambda item: order[item[0]])
    network_inputs = tuple(sorted(by_input_order, key=lambda item: [r.layer for r in model.inputs].index(item[0])
                                  if item[0] in [r.layer for r in model.inputs] else 0))
    network_outputs = tuple(aliases[ref.layer] for ref in model.outputs)
    return Conversion(model, options, tuple(nodes), network_inputs, network_outputs, mapped, aliases)


def _map_layer(model: KerasModel, spec: LayerSpec, options: Options, outputs: dict[str, Activation],
               aliases: dict[str, str]) -> Node:
    if len(spec.nodes) != 1:
        raise MappingError("a layer called several times (shared) is not mapped yet", file=model.path,
                           layer=spec.name, expected="one call", received=f"{len(spec.nodes)} calls")
    fn = lookup(spec)
    if fn is None:
        weights = ", ".join(f"{w.name} {w.shape}" for w in spec.weights) or "no weights"
        kind = "custom layer" if spec.custom or spec.class_name == "Lambda" else "layer class"
        raise MappingError(f"no DL4J mapping for {kind} {spec.class_name} (config {_short(spec.config)}; {weights})",
                           file=model.path, layer=spec.name, expected="a mapping for this layer",
                           received="none", hint=HOW_TO_MAP)
    refs = spec.nodes[0]
    for ref in refs:
        if ref.tensor_index != 0 or ref.node_index != 0 and len(model.layer(ref.layer).nodes) > 1:
            raise MappingError("inputs from multi-output or shared layers are not mapped yet", file=model.path,
                               layer=spec.name, expected="single-output producers", received=ref)
    ctx = MapContext(spec, tuple(outputs[r.layer] for r in refs), options, file=model.path,
                     keras_major=model.keras_major)
    try:
        result = fn(ctx)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        # A mapper met a config or weight it did not expect: report it on this layer, never crash.
        raise MappingError(f"the {spec.class_name} mapper failed: {exc!r}", file=model.path, layer=spec.name,
                           expected="a config and weights this mapper understands",
                           received=_short(spec.config)) from exc
    return Node(spec.name, result, tuple(aliases[r.layer] for r in refs))


def _short(config: dict) -> str:
    keys = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    text = ", ".join(f"{k}={v!r}" for k, v in keys.items())
    return "{" + (text if len(text) < 120 else text[:117] + "...") + "}"
