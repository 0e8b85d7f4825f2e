"""Map a whole Keras model to a DL4J graph: one ``MappedLayer`` per Keras layer, wired by name.

The result (``Conversion``) is what the exporters write and the checkers run; it never imports
TensorFlow and holds the named weight traces the UI draws.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from dataclasses import dataclass, field, replace

from workbench.errors import MappingError, WeightError
from workbench.keras_io.model import KerasModel, LayerSpec
from workbench.mappers import Activation, MapContext, MappedLayer, Options, lookup
from workbench.mappers.initializers import with_keras_initializers
from workbench.mappers.losses import dl4j_loss
from workbench.mappers.registry import Mapper, handles_channels_first

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

    def keras_source(self, dl4j_name: str) -> str:
        """The Keras tensor a DL4J vertex carries (a protective copy carries its input's)."""
        for node in self.nodes:
            if node.name == dl4j_name and node.mapped.keras_class == "(copy)":
                return self.keras_source(node.inputs[0])
        return dl4j_name

    @property
    def n_params(self) -> int:
        return sum(node.mapped.n_params for node in self.nodes)


def input_activation(spec: LayerSpec, options: Options, channels_first: bool = False) -> Activation:
    """What a model input is; ``channels_first`` when the layers reading it use Keras's channels_first
    layout (then DL4J is fed that layout as it is: NCW/NCHW/NCDHW)."""
    shape = tuple(spec.config.get("batch_shape") or (None,))[1:]
    kind = {1: "ff", 2: "rnn", 3: "cnn", 4: "cnn3d"}.get(len(shape), "ff")
    if kind == "rnn" and "int" in str(spec.config.get("dtype", "")):
        kind = "ff"
    if channels_first and kind != "ff":
        return Activation(kind, shape, {"rnn": "NCW", "cnn": "NCHW", "cnn3d": "NCDHW"}[kind],
                          keras_channels_first=True)
    fmt = {"cnn": options.cnn_format, "rnn": options.rnn_format,
           "cnn3d": "NDHWC" if options.cnn_format == "NHWC" else "NCDHW"}.get(kind)
    return Activation(kind, shape, fmt)


def _read_channels_first(specs: tuple[LayerSpec, ...], name: str) -> bool:
    """True when the layers reading tensor ``name`` declare data_format="channels_first"."""
    readers = [s for s in specs if any(ref.layer == name for node in s.nodes for ref in node)]
    return bool(readers) and all(s.config.get("data_format") == "channels_first" for s in readers)


def call_key(layer: str, node_index: int) -> str:
    """The name of one call of a layer: ``name`` for the first, ``name@1``... (as the Keras runner names them)."""
    return layer if node_index == 0 else f"{layer}@{node_index}"


def map_model(model: KerasModel, options: Options | None = None,
              overrides: Mapping[str, Mapper] | None = None) -> Conversion:
    """Map every layer; raise one MappingError naming every layer that cannot be mapped.

    Nested models (a Sequential or Functional used as a layer) are flattened into the graph, their
    layers named ``outer/inner``; a layer called several times becomes one DL4J vertex per call
    (``name``, ``name@1``...), each with a copy of the weights.

    Args:
        model: from ``workbench.load_model``.
        options: DL4J data format choices (default NHWC / NWC, like DL4J's own importer).
        overrides: mappers for this conversion only, by layer name (first), registered name or class
            name; they win over the global registry, which they never change.
    """
    state = _State(model, options or Options(), overrides or {})
    state.map_layers(model.layers, prefix="", bindings={})
    if state.problems:
        first = state.problems[0]
        others = [p.layer for p in state.problems[1:]]
        more = f" (and {len(others)} more layers: {', '.join(others)})" if others else ""
        raise MappingError(first.what + more, file=model.path, layer=first.layer, expected=first.expected,
                           received=first.received, hint=first.hint,
                           layers=tuple(p.layer for p in state.problems if p.layer))
    declared = [ref.layer for ref in model.inputs]
    inputs = sorted(state.inputs, key=lambda item: declared.index(item[0]) if item[0] in declared else len(declared))
    outputs = tuple(state.aliases[call_key(ref.layer, ref.node_index)] for ref in model.outputs)
    nodes = protect_in_place_inputs(tuple(state.nodes), outputs)
    nodes = with_output_layers(nodes, outputs, model.loss)
    return Conversion(model, state.options, nodes, tuple(inputs), outputs, state.mapped, state.aliases)


def with_output_layers(nodes: tuple[Node, ...], outputs: tuple[str, ...], loss: Any) -> tuple[Node, ...]:
    """A compiled model's final Dense layers become DL4J OutputLayers carrying the Keras loss.

    Only where DL4J accepts the pair (its MCXENT wants softmax, XENT sigmoid); otherwise the layer stays a
    DenseLayer (same forward pass) with a note. Per-output losses (a dict) are matched by output name.
    """
    if not loss:
        return nodes
    out = []
    for node in nodes:
        layer = node.mapped.layer or {}
        name = loss.get(node.name) if isinstance(loss, dict) else loss
        if node.name in outputs and layer.get("@class", "").endswith(".DenseLayer") and isinstance(name, str):
            found = dl4j_loss(name)
            act = layer.get("activationFn", {}).get("@class", "").rsplit(".", 1)[-1]
            if found is None or (found[1] is not None and found[1] != act):
                why = "DL4J has no such loss" if found is None else f"DL4J's loss needs {found[1]}, not {act}"
                node = Node(node.name, replace(node.mapped, notes=node.mapped.notes + (
                    f"kept as DenseLayer: the Keras loss {name!r} does not fit an OutputLayer ({why})",)), node.inputs)
            else:
                output_layer = {**layer, "@class": "org.deeplearning4j.nn.conf.layers.OutputLayer", "lossFn": found[0]}
                output_layer.pop("hasLayerNorm", None)
                node = Node(node.name, replace(node.mapped, layer=output_layer, notes=node.mapped.notes + (
                    f"OutputLayer with the Keras loss {name!r} ({found[0]['@class'].rsplit('.', 1)[-1]})",)),
                    node.inputs)
        out.append(node)
    return tuple(out)


# NB: at inference DL4J's ActivationLayer and PReLULayer write their result into their input array.
IN_PLACE_LAYERS = ("org.deeplearning4j.nn.conf.layers.ActivationLayer",
                   "org.deeplearning4j.nn.conf.layers.PReLULayer")


def protect_in_place_inputs(nodes: tuple[Node, ...], outputs: tuple[str, ...]) -> tuple[Node, ...]:
    """Give an in-place DL4J layer its own copy of a tensor that something else also reads.

    Without it, the other consumers (or the network output) would see the activated values:
    a model that loads fine and answers wrongly. The copy is a ``ScaleVertex`` with factor 1.
    """
    readers: dict[str, int] = {}
    for node in nodes:
        for source in node.inputs:
            readers[source] = readers.get(source, 0) + 1
    for name in outputs:
        readers[name] = readers.get(name, 0) + 1
    out: list[Node] = []
    for node in nodes:
        layer_class = (node.mapped.layer or {}).get("@class")
        source = node.inputs[0] if node.inputs else None
        if layer_class in IN_PLACE_LAYERS and source is not None and readers.get(source, 0) > 1:
            copy_name = f"{node.name}__input_copy"
            upstream = next((n.mapped.output for n in out if n.name == source), node.mapped.output)
            copy = MappedLayer(copy_name, "(copy)", upstream, vertex={
                "@class": "org.deeplearning4j.nn.conf.graph.ScaleVertex", "scaleFactor": 1.0},
                notes=(f"DL4J's {layer_class.rsplit('.', 1)[1]} overwrites its input at inference; "
                       f"this copy keeps '{source}' intact for its other readers",))
            out.append(Node(copy_name, copy, (source,)))
            node = Node(node.name, node.mapped, (copy_name, *node.inputs[1:]))
        out.append(node)
    return tuple(out)


class _State:
    """The walk over the Keras graph: what each (possibly nested) tensor became in DL4J."""

    def __init__(self, model: KerasModel, options: Options, overrides: Mapping[str, Mapper]) -> None:
        self.model = model
        self.options = options
        self.overrides = overrides
        self.outputs: dict[str, Activation] = {}   # Keras call key -> what flows out of it
        self.aliases: dict[str, str] = {}          # Keras call key -> DL4J vertex whose output it is
        self.mapped: dict[str, MappedLayer] = {}
        self.nodes: list[Node] = []
        self.inputs: list[tuple[str, Activation]] = []
        self.problems: list[MappingError] = []

    def map_layers(self, specs: tuple[LayerSpec, ...], prefix: str, bindings: dict[str, str]) -> None:
        for spec in specs:
            name = prefix + spec.name
            if spec.is_input:
                if name in bindings or spec.name in bindings:  # a nested model's input: the outer tensor
                    outer = bindings.get(name, bindings.get(spec.name))
                    self.outputs[name], self.aliases[name] = self.outputs[outer], self.aliases[outer]
                else:
                    act = input_activation(spec, self.options, _read_channels_first(specs, spec.name))
                    self.outputs[name], self.aliases[name] = act, name
                    self.inputs.append((name, act))
                continue
            for index, refs in enumerate(spec.nodes or ((),)):
                keys = [prefix + call_key(r.layer, r.node_index) for r in refs]
                if any(k not in self.outputs for k in keys):
                    continue  # an input could not be mapped; that layer is the one reported
                try:
                    self._map_call(spec, call_key(name, index), keys, prefix)
                except MappingError as err:
                    self.problems.append(err)

    def _map_call(self, spec: LayerSpec, key: str, input_keys: list[str], prefix: str) -> None:
        if spec.is_container:
            if len(spec.nodes) > 1:
                raise MappingError("a nested model called several times is not mapped yet", file=self.model.path,
                                   layer=spec.name, expected="one call", received=f"{len(spec.nodes)} calls")
            inner_inputs = [c.name for c in spec.children if c.is_input] if spec.class_name == "Sequential" \
                else list(spec.input_names)
            bindings = {f"{key}/{inner}": outer for inner, outer in zip(inner_inputs, input_keys)}
            self.map_layers(spec.children, prefix=f"{key}/", bindings=bindings)
            out_ref = spec.output_refs[0] if spec.output_refs else None
            inner_out = f"{key}/{call_key(out_ref.layer, out_ref.node_index)}" if out_ref else None
            if inner_out in self.outputs:
                self.outputs[key], self.aliases[key] = self.outputs[inner_out], self.aliases[inner_out]
            return
        fn = self._mapper_for(spec, key)
        if fn is None:
            weights = ", ".join(f"{w.name} {w.shape}" for w in spec.weights) or "no weights"
            kind = "custom layer" if spec.custom or spec.class_name == "Lambda" else "layer class"
            raise MappingError(f"no DL4J mapping for {kind} {spec.class_name} (config {_short(spec.config)}; "
                               f"{weights})", file=self.model.path, layer=spec.name,
                               expected="a mapping for this layer", received="none", hint=HOW_TO_MAP)
        ctx = MapContext(spec, tuple(self.outputs[k] for k in input_keys), self.options, file=self.model.path,
                         keras_major=self.model.keras_major)
        if any(a.keras_channels_first for a in ctx.inputs) and not handles_channels_first(fn):
            raise MappingError(f"{spec.class_name} on a tensor in Keras's channels_first layout is not mapped yet",
                               file=self.model.path, layer=spec.name,
                               expected="channels_last tensors (only Conv1D/2D/3D read channels_first ones)",
                               received="channels_first")
        try:
            result = fn(ctx)
        except WeightError as exc:  # a weight that does not fit the chosen mapping
            raise MappingError(exc.what, file=self.model.path, layer=spec.name, expected=exc.expected,
                               received=exc.received) from exc
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            # A mapper met a config or weight it did not expect: report it on this layer, never crash.
            raise MappingError(f"the {spec.class_name} mapper failed: {exc!r}", file=self.model.path,
                               layer=spec.name, expected="a config and weights this mapper understands",
                               received=_short(spec.config)) from exc
        if "@" in key:
            result = replace(result, notes=result.notes + ("a shared layer: DL4J gets its own copy of the weights",))
        if result.layer is not None and not spec.custom:
            layer, init_notes = with_keras_initializers(result.layer, spec.config)
            result = replace(result, layer=layer, notes=result.notes + tuple(init_notes))
        if result.layer is not None and result.layer.get("layerName") != key:
            result = replace(result, layer=_renamed(result.layer, key))
        self.mapped[key] = result
        self.outputs[key] = result.output
        sources = tuple(self.aliases[k] for k in input_keys)
        if result.vanishes:
            self.aliases[key] = sources[0]
        else:
            self.aliases[key] = key
            self.nodes.append(Node(key, result, sources))


    def _mapper_for(self, spec: LayerSpec, key: str) -> Mapper | None:
        for name in (key, spec.name, spec.registered_name, spec.class_name):
            if name and name in self.overrides:
                return self.overrides[name]
        return lookup(spec)


def _renamed(layer: dict, name: str) -> dict:
    """A copy of a DL4J layer config named after its vertex (wrappers name their inner layer too)."""
    out = {**layer, "layerName": name}
    for inner in ("underlying", "fwd", "bwd"):
        if isinstance(out.get(inner), dict):
            out[inner] = {**out[inner], "layerName": name}
    return out


def _short(config: dict) -> str:
    keys = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    text = ", ".join(f"{k}={v!r}" for k, v in keys.items())
    return "{" + (text if len(text) < 120 else text[:117] + "...") + "}"
