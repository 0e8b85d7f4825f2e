"""A compiled model's loss: its final Dense becomes a DL4J OutputLayer with that loss, where DL4J accepts it."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import keras
from workbench.session import Session

pytestmark = pytest.mark.tensorflow


def _compiled(tmp_path, activation, loss, suffix=".keras"):
    k = keras()
    model = k.Sequential([k.Input((4,), name="x"), k.layers.Dense(3, activation=activation, name="out")])
    model.compile(loss=loss, optimizer="adam")
    path = tmp_path / f"compiled{suffix}"
    model.save(path)
    return Session(path)


@pytest.mark.dl4j
@pytest.mark.parametrize("activation,loss,dl4j_loss", [
    ("softmax", "categorical_crossentropy", "LossMCXENT"),
    ("sigmoid", "binary_crossentropy", "LossBinaryXENT"),
    ("linear", "mse", "LossMSE"),
])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_output_layer_carries_the_keras_loss(tmp_path, activation, loss, dl4j_loss, suffix, dl4j_ready):
    """The final Dense is an OutputLayer with the matching DL4J loss, and real DL4J loads it and matches Keras."""
    session = _compiled(tmp_path, activation, loss, suffix)
    layer = session.conversion.nodes[-1].mapped.layer
    assert layer["@class"].endswith(".OutputLayer") and layer["lossFn"]["@class"].endswith(dl4j_loss)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    report = session.verify({"x": x}, dl4j=True)
    assert report.passed and report.dl4j_error is None


def test_loss_that_does_not_fit_keeps_a_dense_layer(tmp_path):
    """categorical_crossentropy on a linear output (from_logits style) stays a DenseLayer, with the reason."""
    session = _compiled(tmp_path, "linear", "categorical_crossentropy")
    mapped = session.conversion.nodes[-1].mapped
    assert mapped.layer["@class"].endswith(".DenseLayer")
    assert "needs ActivationSoftmax" in mapped.notes[-1]
