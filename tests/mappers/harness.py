"""One harness for every mapper test: build a tiny Keras model, convert it, and check it against
TensorFlow in the NumPy reference (isolated and propagated) and in real DL4J.

    check_model(model, x, cnn_format="NHWC")

Real DL4J runs are batched: ``check_model(..., dl4j=True)`` runs the JVM once per call, so
parametrized tests should group configurations into one model where they can (several branches of
a Functional model), or accept ~1 s per case.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ATOL = 1e-5


def dl4j_available() -> bool:
    from workbench.check.dl4j_jvm import java_status
    return java_status() is None


def check_model(model, inputs, tmp_path: Path, *, cnn_format: str = "NHWC", dl4j: bool = True,
                atol: float = ATOL, name: str = "model"):
    """Save ``model`` (Keras 3) as .keras, convert and verify every layer; return the report."""
    from workbench.session import Session

    path = tmp_path / f"{name}.keras"
    model.save(path)
    if not isinstance(inputs, dict):
        inputs = {model.inputs[0].name if hasattr(model.inputs[0], "name") else "input": inputs}
    session = Session(path, cnn_format=cnn_format)
    keras_inputs = {spec.name: np.asarray(x) for spec, x in zip(
        [s for s in session.model.layers if s.is_input], inputs.values())}
    if dl4j and not dl4j_available():
        pytest.skip("Java 17 and Maven are needed for real-DL4J checks")
    report = session.verify(keras_inputs, dl4j=dl4j, atol=atol)
    assert report.dl4j_error is None, report.dl4j_error
    bad = [(c.name, c.status, c.isolated, c.propagated, c.dl4j) for c in report.layers if c.status not in ("ok", "folded")]
    assert not bad, bad
    if dl4j:
        compared = [c for c in report.layers if c.status == "ok"]
        assert compared and all(c.dl4j is not None for c in compared), "real DL4J gave no output for a layer"
    return report


def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras", reason="TensorFlow/Keras is the reference for mapper tests")


def refusal(model, tmp_path: Path, cnn_format: str = "NHWC"):
    """Map a Keras 3 model that must be refused, and return the MappingError it raised."""
    from workbench.errors import MappingError
    from workbench.session import Session

    path = tmp_path / "refused.keras"
    model.save(path)
    with pytest.raises(MappingError) as info:
        _ = Session(path, cnn_format=cnn_format).conversion
    return info.value


def randomize(model, seed: int = 3, scale: float = 0.6):
    """Non-trivial weights everywhere (Keras initialises biases to zero, which hides bias mistakes)."""
    r = np.random.default_rng(seed)
    model.set_weights([r.uniform(-scale, scale, size=w.shape).astype("float32") for w in model.get_weights()])
    return model
