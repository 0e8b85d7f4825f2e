"""DL4J 1.0.0-M2.1 configuration JSON (MultiLayerConfiguration / ComputationGraphConfiguration) and
the flat parameter vector in DL4J's order (dl4j-formats.md §4, §5)."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from workbench.convert import Conversion

NET_DEFAULTS = {
    "backpropType": "Standard", "cacheMode": "NONE", "dataType": "FLOAT", "epochCount": 0,
    "inferenceWorkspaceMode": "ENABLED", "iterationCount": 0, "tbpttBackLength": 20, "tbpttFwdLength": 20,
    "trainingWorkspaceMode": "ENABLED", "validateOutputLayerConfig": True,
}


def nn_conf(layer: dict[str, Any] | None, variables: list[str]) -> dict[str, Any]:
    """A NeuralNetConfiguration wrapping one layer (``variables`` = its params in addVariable order)."""
    return {"cacheMode": "NONE", "dataType": "FLOAT", "epochCount": 0, "iterationCount": 0, "layer": layer,
            "maxNumLineSearchIterations": 5, "miniBatch": True, "minimize": True,
            "optimizationAlgo": "STOCHASTIC_GRADIENT_DESCENT", "seed": 0, "stepFunction": None,
            "variables": variables}


def configuration(conv: Conversion) -> dict[str, Any]:
    """MultiLayerConfiguration for a chain, ComputationGraphConfiguration otherwise."""
    return multilayer(conv) if conv.is_chain else graph(conv)


def multilayer(conv: Conversion) -> dict[str, Any]:
    confs = [nn_conf(n.mapped.layer, list(n.mapped.variables)) for n in conv.nodes]
    pre = {str(i): n.mapped.preprocessor for i, n in enumerate(conv.nodes) if n.mapped.preprocessor}
    return {**NET_DEFAULTS, "confs": confs, "inputPreProcessors": pre}


def graph(conv: Conversion) -> dict[str, Any]:
    vertices: dict[str, Any] = {}
    for n in conv.nodes:
        if n.mapped.layer is not None:
            vertices[n.name] = {"@class": "org.deeplearning4j.nn.conf.graph.LayerVertex",
                                "layerConf": nn_conf(n.mapped.layer, list(n.mapped.variables)),
                                "outputVertex": False, "preProcessor": n.mapped.preprocessor}
        else:
            vertices[n.name] = n.mapped.vertex
    input_names = [name for name, _ in conv.inputs]
    order = input_names + [n.name for n in conv.nodes]
    all_vars = [f"{n.name}_{v}" for n in conv.nodes for v in n.mapped.variables]
    return {**NET_DEFAULTS,
            "defaultConfiguration": nn_conf(None, all_vars),
            "networkInputs": input_names,
            "networkOutputs": list(conv.outputs),
            "vertices": vertices,
            "vertexInputs": {n.name: list(n.inputs) for n in conv.nodes},
            "topologicalOrder": list(range(len(order))),
            "topologicalOrderStr": order}


def configuration_json(conv: Conversion) -> str:
    # DL4J writes properties sorted (and its setters rely on "confs" coming before "epochCount").
    return json.dumps(configuration(conv), indent=2, sort_keys=True)


def param_pieces(conv: Conversion) -> list[np.ndarray]:
    """Every parameter flattened, in DL4J's order (layers in network order, each in its flat order)."""
    return [p.flat() for n in conv.nodes for p in n.mapped.params]


def flat_params(conv: Conversion) -> np.ndarray:
    """The whole parameter vector as one array (``param_pieces`` concatenated)."""
    parts = param_pieces(conv)
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
