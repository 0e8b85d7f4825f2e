"""Keras activation names → DL4J ``IActivation`` configs, and what has no DL4J equivalent."""
from __future__ import annotations

from typing import Any

from workbench.mappers.dl4j import activation

_SIMPLE = {
    "linear": "Identity", None: "Identity", "relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "TanH",
    "softmax": "Softmax", "softplus": "SoftPlus", "softsign": "SoftSign", "selu": "SELU", "elu": "ELU",
    "swish": "Swish", "silu": "Swish", "mish": "Mish", "relu6": "ReLU6", "exponential": None,
}


def keras_activation(value: Any, *, keras_major: int = 3) -> dict[str, Any] | None:
    """The DL4J activation for a Keras activation config value, or None when DL4J has none that matches.

    NB: ``hard_sigmoid`` differs between Keras 2 (clip(0.2x+0.5)) and Keras 3 (relu6(x+3)/6); only the
    Keras 2 form equals DL4J's ActivationHardSigmoid, so Keras 3's is reported as unmatched.
    NB: ``gelu`` is refused: DL4J M2.1's GELU computes ``x·σ(1.702x)`` or, with ``precise``, cubes
    ``0.044715·x`` instead of ``x`` (libnd4j); neither equals Keras's gelu.
    """
    if isinstance(value, dict):
        value = value.get("config", {}).get("name", value.get("class_name"))
    if value == "elu":
        return activation("ELU", alpha=1.0)
    if value == "hard_sigmoid":
        return activation("HardSigmoid") if keras_major == 2 else None
    if value == "relu":
        return activation("ReLU", max=None, negativeSlope=None, threshold=None)
    name = _SIMPLE.get(value)
    return activation(name) if name else None
