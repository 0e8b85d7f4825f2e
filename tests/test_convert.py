"""Whole-model mapping: graph wiring, nested models, shared layers, DL4J's in-place layers."""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.conftest import SAMPLES
from workbench.session import Session

pytestmark = pytest.mark.tensorflow


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras")


def _branching_model(tmp_path):
    keras = _keras()
    x = keras.Input((6,), name="x")
    d = keras.layers.Dense(5, name="d")(x)
    act = keras.layers.Activation("relu", name="act")(d)
    other = keras.layers.Dense(3, name="e")(d)
    path = tmp_path / "branching.keras"
    keras.Model(x, [act, other]).save(path)
    return path, {"x": np.random.default_rng(1).normal(size=(4, 6)).astype("float32")}


def test_in_place_layer_gets_its_own_copy(tmp_path):
    """An ActivationLayer whose input another layer also reads is fed a ScaleVertex copy."""
    path, _ = _branching_model(tmp_path)
    conv = Session(path).conversion
    wiring = {n.name: n.inputs for n in conv.nodes}
    assert wiring["act"] == ("act__input_copy",) and wiring["act__input_copy"] == ("d",) and wiring["e"] == ("d",)
    assert conv.keras_source("act__input_copy") == "d"


@pytest.mark.dl4j
def test_without_the_copy_real_dl4j_answers_wrongly(tmp_path, monkeypatch, dl4j_ready):
    """The copy is needed: without it real DL4J's Dense 'e' reads relu-ed values; with it every layer matches."""
    import workbench.convert as convert

    path, inputs = _branching_model(tmp_path)
    assert Session(path).verify(inputs, dl4j=True).passed
    monkeypatch.setattr(convert, "protect_in_place_inputs", lambda nodes, outputs: nodes)
    report = Session(path).verify(inputs, dl4j=True)
    e = next(c for c in report.layers if c.name == "e")
    assert e.dl4j.max_abs > 1e-3 and e.propagated.max_abs < 1e-5  # only real DL4J shows the trap


@pytest.mark.dl4j
def test_nested_and_shared_layers_match_in_real_dl4j(tmp_path, dl4j_ready):
    """A Sequential used as a layer is flattened (outer/inner names); a layer called twice becomes two vertices."""
    keras = _keras()
    x = keras.Input((6,), name="x")
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu", name="e1"),
                                keras.layers.Dense(4, name="e2")], name="encoder")
    shared = keras.layers.Dense(4, activation="tanh", name="shared")
    out = keras.layers.Add(name="add")([shared(encoder(x)), shared(keras.layers.Dense(4, name="proj")(x))])
    path = tmp_path / "nested.keras"
    keras.Model(x, out).save(path)
    session = Session(path)
    names = [n.name for n in session.conversion.nodes]
    assert names == ["encoder/e1", "encoder/e2", "proj", "shared", "shared@1", "add"]
    report = session.verify({"x": np.random.default_rng(2).normal(size=(3, 6)).astype("float32")}, dl4j=True)
    assert report.passed, [(c.name, c.status, c.dl4j) for c in report.layers]


def test_nested_sample_maps_every_layer():
    """The nested sample (Sequential inside, Bidirectional, TimeDistributed, a shared Dense) maps completely."""
    conv = Session(SAMPLES / "nested.keras").conversion
    assert {"encoder/enc_dense", "encoder/enc_out", "shared", "shared@1", "bidirectional"} <= {n.name for n in conv.nodes}
