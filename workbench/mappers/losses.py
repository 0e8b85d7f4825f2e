"""Keras losses → DL4J ``ILossFunction`` configs, for the output layer of a compiled model.

Inference does not need a loss; a user who goes on training in DL4J does. A model compiled with a loss
DL4J has gets its final Dense layer(s) exported as ``OutputLayer`` with that loss; anything else stays a
``DenseLayer`` (identical forward pass) with a note saying why.
"""
from __future__ import annotations

from typing import Any

LOSSES = "org.nd4j.linalg.lossfunctions.impl."

# Keras name (both spellings) → (DL4J class, extra fields, the output activation DL4J insists on, if any)
_KERAS_TO_DL4J: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "categorical_crossentropy": ("LossMCXENT", {"softmaxClipEps": 1e-10}, "ActivationSoftmax"),
    "sparse_categorical_crossentropy": ("LossSparseMCXENT", {"softmaxClipEps": 1e-10}, "ActivationSoftmax"),
    "binary_crossentropy": ("LossBinaryXENT", {"clipEps": 1e-5}, "ActivationSigmoid"),
    "mean_squared_error": ("LossMSE", {}, None), "mse": ("LossMSE", {}, None),
    "mean_absolute_error": ("LossMAE", {}, None), "mae": ("LossMAE", {}, None),
    "mean_absolute_percentage_error": ("LossMAPE", {}, None), "mape": ("LossMAPE", {}, None),
    "mean_squared_logarithmic_error": ("LossMSLE", {}, None), "msle": ("LossMSLE", {}, None),
    "hinge": ("LossHinge", {}, None), "squared_hinge": ("LossSquaredHinge", {}, None),
    "kl_divergence": ("LossKLD", {}, None), "kullback_leibler_divergence": ("LossKLD", {}, None),
    "kld": ("LossKLD", {}, None), "poisson": ("LossPoisson", {}, None),
    "cosine_similarity": ("LossCosineProximity", {}, None), "cosine_proximity": ("LossCosineProximity", {}, None),
}


def dl4j_loss(name: str) -> tuple[dict[str, Any], str | None] | None:
    """(the DL4J loss config, the activation class it needs or None) for a Keras loss name; None if DL4J has none."""
    entry = _KERAS_TO_DL4J.get(name)
    if entry is None:
        return None
    cls, fields, needs = entry
    return {"@class": LOSSES + cls, **fields}, needs
