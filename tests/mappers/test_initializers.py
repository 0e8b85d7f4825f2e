"""Keras initializers become DL4J weight inits (they matter when DL4J re-initialises a layer)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mappers.harness import check_model, keras
from workbench.mappers.initializers import dl4j_weight_init


@pytest.mark.parametrize("keras_init,dl4j", [
    ({"class_name": "GlorotUniform", "config": {}}, "WeightInitXavierUniform"),
    ({"class_name": "HeNormal", "config": {}}, "WeightInitRelu"),
    ("lecun_uniform", "WeightInitLecunUniform"),
    ({"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}},
     "WeightInitVarScalingUniformFanOut"),
    ({"class_name": "RandomNormal", "config": {"mean": 0.1, "stddev": 0.2}}, "WeightInitDistribution"),
])
def test_initializer_table(keras_init, dl4j):
    """Each Keras initializer maps to its DL4J weight init, with its parameters."""
    init, note = dl4j_weight_init(keras_init)
    assert init["@class"].endswith(dl4j) and note is None
    if dl4j == "WeightInitDistribution":
        assert init["distribution"] == {"type": "org.deeplearning4j.nn.conf.distribution.NormalDistribution",
                                        "mean": 0.1, "std": 0.2}


def test_orthogonal_is_xavier_with_a_note():
    """Orthogonal becomes Xavier (DL4J's hangs), and says so."""
    init, note = dl4j_weight_init({"class_name": "Orthogonal", "config": {"gain": 1.0}})
    assert init["@class"].endswith("WeightInitXavier") and "hangs" in note


@pytest.mark.tensorflow
@pytest.mark.dl4j
def test_mapped_initializers_load_in_real_dl4j(tmp_path):
    """A model whose layers use several initializers exports JSON that real DL4J deserialises and runs."""
    k = keras()
    L = k.layers
    x = k.Input((5, 3), name="x")
    y = L.LSTM(4, kernel_initializer="he_uniform", recurrent_initializer="orthogonal", return_sequences=True,
               name="lstm")(x)
    y = L.Flatten(name="flat")(y)
    y = L.Dense(3, kernel_initializer=k.initializers.RandomNormal(0.0, 0.3), name="d1")(y)
    y = L.Dense(2, kernel_initializer=k.initializers.VarianceScaling(2.0, "fan_avg", "uniform"), name="d2")(y)
    report = check_model(k.Model(x, y), np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32"), tmp_path)
    assert report.passed


@pytest.mark.tensorflow
@pytest.mark.dl4j
def test_mapped_initializers_survive_the_java_source(tmp_path, dl4j_ready):
    """The whole-model Java source writes the same weight inits (distributions included) and builds the same net."""
    from workbench.check.dl4j_jvm import run_dl4j, run_java_source
    from workbench.check.verify import dl4j_inputs
    from workbench.export.java_source import compile_java
    from workbench.session import Session

    k = keras()
    L = k.layers
    x = k.Input((5, 3), name="x")
    y = L.LSTM(4, kernel_initializer="he_uniform", recurrent_initializer="glorot_normal", name="lstm")(x)
    y = L.Dense(3, kernel_initializer=k.initializers.RandomUniform(-0.2, 0.2), name="d1")(y)
    y = L.Dense(2, kernel_initializer=k.initializers.VarianceScaling(2.0, "fan_in", "normal"), name="d2")(y)
    path = tmp_path / "inits.keras"
    k.Model(x, y).save(path)
    session = Session(path)
    project = session.export_java(tmp_path / "project")
    source = (project / "src/main/java/workbench/generated/ConvertedModel.java").read_text()
    assert "new WeightInitDistribution(new UniformDistribution(-0.2" in source
    assert "WeightInitVarScalingNormalFanIn(2.0)" in source and ".weightInitRecurrent(new WeightInitXavier())" in source
    classes = compile_java(project / "src", tmp_path / "classes")
    inputs = dl4j_inputs(session.conversion, {"x": np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")})
    built = run_java_source("workbench.generated.ConvertedModel", classes, project / "params", inputs)
    loaded = run_dl4j(session.export_zip(tmp_path / "m.zip"), inputs)
    assert built.error is None and loaded.error is None
    np.testing.assert_allclose(built.outputs["d2"], loaded.outputs["d2"], atol=1e-6, rtol=0)
