"""DL4J 1.0.0-M2.1 JSON fragments shared by the mappers (class names and the fields DL4J requires).

Every BaseLayer gets non-null ``iupdater``, ``weightInitFn``, ``activationFn`` and empty regularization
lists: a null there sends DL4J's deserializer down its legacy-format path (dl4j-formats.md §5.5).
"""
from __future__ import annotations

from typing import Any

LAYERS = "org.deeplearning4j.nn.conf.layers."
VERTICES = "org.deeplearning4j.nn.conf.graph."
PREPROCESSORS = "org.deeplearning4j.nn.conf.preprocessor."
ACTIVATIONS = "org.nd4j.linalg.activations.impl."

NO_OP_UPDATER = {"@class": "org.nd4j.linalg.learning.config.NoOp"}
XAVIER = {"@class": "org.deeplearning4j.nn.weights.WeightInitXavier"}


def activation(name: str, **fields: Any) -> dict[str, Any]:
    """``activation("ReLU")`` → ``{"@class": "...ActivationReLU"}`` plus the class's fields."""
    return {"@class": f"{ACTIVATIONS}Activation{name}", **fields}


def base_layer(cls: str, name: str, *, act: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A trainable-layer config (DenseLayer, ConvolutionLayer, LSTM...) with DL4J's required fields."""
    return {
        "@class": LAYERS + cls,
        "layerName": name,
        "activationFn": act or activation("Identity"),
        "iupdater": NO_OP_UPDATER,
        "biasUpdater": None,
        "weightInitFn": XAVIER,
        "biasInit": 0.0,
        "gainInit": 1.0,
        "regularization": [],
        "regularizationBias": [],
        "gradientNormalization": "None",
        "gradientNormalizationThreshold": 1.0,
        "constraints": None,
        "idropout": None,
        "weightNoise": None,
        **fields,
    }


def plain_layer(cls: str, name: str, **fields: Any) -> dict[str, Any]:
    """A parameter-free layer config (SubsamplingLayer, GlobalPoolingLayer, ActivationLayer...)."""
    return {"@class": LAYERS + cls, "layerName": name, "constraints": None, "idropout": None, **fields}


def vertex(cls: str, **fields: Any) -> dict[str, Any]:
    return {"@class": VERTICES + cls, **fields}


def preprocessor(cls: str, **fields: Any) -> dict[str, Any]:
    return {"@class": PREPROCESSORS + cls, **fields}
