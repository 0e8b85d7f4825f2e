"""Keras initializers → DL4J ``IWeightInit`` configs.

They matter only when DL4J re-initialises a layer (training from scratch, ``init()`` without parameters):
the exported parameters are the Keras weights. Mapped as DL4J's own importer maps them, except
``Orthogonal``: DL4J 1.0.0-M2.1's orthogonal initialisation hangs or crashes in native code (seen running
its own importer), so it becomes Xavier, with a note.
"""
from __future__ import annotations

from typing import Any

WEIGHTS = "org.deeplearning4j.nn.weights."
DISTRIBUTIONS = "org.deeplearning4j.nn.conf.distribution."

_SIMPLE = {
    "GlorotNormal": "WeightInitXavier", "glorot_normal": "WeightInitXavier",
    "GlorotUniform": "WeightInitXavierUniform", "glorot_uniform": "WeightInitXavierUniform",
    "LecunNormal": "WeightInitLecunNormal", "lecun_normal": "WeightInitLecunNormal",
    "LecunUniform": "WeightInitLecunUniform", "lecun_uniform": "WeightInitLecunUniform",
    "HeNormal": "WeightInitRelu", "he_normal": "WeightInitRelu",
    "HeUniform": "WeightInitReluUniform", "he_uniform": "WeightInitReluUniform",
}
_VAR_SCALING = {("normal", "fan_in"): "NormalFanIn", ("normal", "fan_out"): "NormalFanOut",
                ("normal", "fan_avg"): "NormalFanAvg", ("uniform", "fan_in"): "UniformFanIn",
                ("uniform", "fan_out"): "UniformFanOut", ("uniform", "fan_avg"): "UniformFanAvg",
                ("truncated_normal", "fan_in"): "NormalFanIn", ("truncated_normal", "fan_out"): "NormalFanOut",
                ("truncated_normal", "fan_avg"): "NormalFanAvg"}
XAVIER = {"@class": WEIGHTS + "WeightInitXavier"}


def _distribution(kind: str, **fields: Any) -> dict[str, Any]:
    return {"@class": WEIGHTS + "WeightInitDistribution", "distribution": {"type": DISTRIBUTIONS + kind, **fields}}


def dl4j_weight_init(initializer: Any) -> tuple[dict[str, Any], str | None]:
    """(DL4J weight init, a note when it is not the Keras initializer) for a Keras initializer config."""
    if initializer is None:
        return XAVIER, None
    name = initializer if isinstance(initializer, str) else initializer.get("class_name")
    cfg = initializer.get("config", {}) if isinstance(initializer, dict) else {}
    if name in _SIMPLE:
        return {"@class": WEIGHTS + _SIMPLE[name]}, None
    if name in ("Zeros", "zeros"):
        return {"@class": WEIGHTS + "WeightInitConstant", "value": 0.0}, None
    if name in ("Ones", "ones"):
        return {"@class": WEIGHTS + "WeightInitConstant", "value": 1.0}, None
    if name in ("Constant", "constant"):
        return {"@class": WEIGHTS + "WeightInitConstant", "value": float(cfg.get("value", 0.0))}, None
    if name in ("RandomNormal", "random_normal"):
        return _distribution("NormalDistribution", mean=float(cfg.get("mean", 0.0)),
                             std=float(cfg.get("stddev", 0.05))), None
    if name in ("RandomUniform", "random_uniform"):
        return _distribution("UniformDistribution", lower=float(cfg.get("minval", -0.05)),
                             upper=float(cfg.get("maxval", 0.05))), None
    if name in ("TruncatedNormal", "truncated_normal"):
        return _distribution("TruncatedNormalDistribution", mean=float(cfg.get("mean", 0.0)),
                             std=float(cfg.get("stddev", 0.05))), None
    if name in ("Identity", "identity"):
        return {"@class": WEIGHTS + "WeightInitIdentity", "scale": float(cfg.get("gain", 1.0))}, None
    if name == "VarianceScaling":
        key = (cfg.get("distribution", "truncated_normal"), cfg.get("mode", "fan_in"))
        if key in _VAR_SCALING:
            return {"@class": WEIGHTS + "WeightInitVarScaling" + _VAR_SCALING[key],
                    "scale": float(cfg.get("scale", 1.0))}, None
    why = ("DL4J M2.1's orthogonal initialisation hangs in native code" if name in ("Orthogonal", "orthogonal")
           else "DL4J has no equivalent")
    return XAVIER, f"initializer {name!r} exported as Xavier ({why}); it only matters if DL4J re-initialises"


# The Keras config key that initialises each DL4J weight-init property.
INIT_KEYS = {"weightInitFn": ("kernel_initializer", "depthwise_initializer", "embeddings_initializer"),
             "weightInitFnRecurrent": ("recurrent_initializer",)}


def with_keras_initializers(layer: dict[str, Any], config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of a DL4J layer config whose weight inits follow the Keras layer's initializers
    (inner layers of LastTimeStep / Bidirectional / TimeDistributed wrappers too)."""
    notes: list[str] = []
    out = dict(layer)
    for prop, keys in INIT_KEYS.items():
        key = next((k for k in keys if k in config), None)
        if prop in out and key is not None:
            out[prop], note = dl4j_weight_init(config[key])
            if note:
                notes.append(note)
    for inner in ("underlying", "fwd", "bwd"):
        if isinstance(out.get(inner), dict):
            out[inner], more = with_keras_initializers(out[inner], config)
            notes += [n for n in more if n not in notes]
    return out, notes
