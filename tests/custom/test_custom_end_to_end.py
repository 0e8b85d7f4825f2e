"""Custom layers mapped by expressions, end to end: Keras (TensorFlow) vs the NumPy reference vs real DL4J
with the generated classes on its classpath, at every layer."""
from __future__ import annotations

import os
import textwrap
import zipfile

import numpy as np
import pytest

from workbench.mappers import registry
from workbench.session import Session

pytestmark = [pytest.mark.tensorflow, pytest.mark.dl4j]

ATOL = 1e-5


@pytest.fixture
def registry_copy(monkeypatch):
    """Mappers registered by a test vanish afterwards."""
    monkeypatch.setattr(registry, "_MAPPERS", dict(registry._MAPPERS))


@pytest.fixture(scope="module")
def tf_ready():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras")


def _register(name: str, text: str) -> None:
    from workbench.mappers.custom import expression_mapping
    registry.mapper(name)(expression_mapping(text))


def _assert_every_layer_matches(report, expect_generated: set[str]) -> None:
    assert report.dl4j_error is None, report.dl4j_error
    checked = {c.name for c in report.layers if c.dl4j is not None}
    assert expect_generated <= checked, (expect_generated, checked)
    for check in report.layers:
        if check.status == "folded":
            continue
        assert check.status == "ok", (check.name, check.isolated, check.propagated, check.dl4j)
        for d in (check.isolated, check.propagated, check.dl4j):
            assert d is not None and d.shapes_match and d.max_abs <= ATOL, (check.name, d)
    assert report.passed


@pytest.mark.parametrize("file", ["seed.keras", "seed.h5", "seed_keras2.h5"])
def test_seed_with_an_expression_matches_keras_everywhere(file, samples, dl4j_ready, tf_ready, registry_copy):
    _register("MyActivation", "relu(x) * sigmoid(x)")
    session = Session(samples / file, custom_objects=samples / "custom_layers.py")
    io = np.load(samples / "seed_io.npz")
    report = session.verify({"input": io["input:input"]}, dl4j=True)
    _assert_every_layer_matches(report, {"my_activation", "dense_1"})
    assert session.conversion.mapped["my_activation"].layer["@class"] == "workbench.generated.MyActivationLayer"


@pytest.mark.parametrize("file", ["scale_shift.keras", "scale_shift.h5", "scale_shift_keras2.h5"])
def test_scale_shift_with_its_own_weights_matches_keras_everywhere(file, samples, dl4j_ready, tf_ready,
                                                                   registry_copy):
    """A layer with weights becomes a SameDiffLayer; .keras names its vars/0, vars/1 through the user's class."""
    _register("ScaleShift", "x * gamma + beta")
    session = Session(samples / file, custom_objects=samples / "custom_layers.py")
    io = np.load(samples / "scale_shift_io.npz")
    report = session.verify({"input": io["input:input"]}, dl4j=True)
    _assert_every_layer_matches(report, {"scale_shift"})
    mapped = session.conversion.mapped["scale_shift"]
    assert [p.key for p in mapped.params] == ["gamma", "beta"] and "extends SameDiffLayer" in mapped.java_source


def test_a_mapping_file_expression_works_the_same(samples, dl4j_ready, tf_ready):
    """``Session.set_mapping`` with ``{"expression": ...}`` (what a mapping file holds) goes the same way."""
    session = Session(samples / "scale_shift.h5", custom_objects=samples / "custom_layers.py")
    session.set_mapping("ScaleShift", {"expression": "x * gamma + beta"})
    io = np.load(samples / "scale_shift_io.npz")
    _assert_every_layer_matches(session.verify({"input": io["input:input"]}, dl4j=True), {"scale_shift"})


LAYERS_PY = textwrap.dedent('''
    import keras

    @keras.saving.register_keras_serializable(package="e2e")
    class Swishy(keras.layers.Layer):
        def call(self, x):
            return x * keras.ops.sigmoid(x)

    @keras.saving.register_keras_serializable(package="e2e")
    class RMSScale(keras.layers.Layer):
        def build(self, input_shape):
            self.gamma = self.add_weight(name="gamma", shape=(input_shape[-1],), initializer="random_normal")
        def call(self, x):
            return x / keras.ops.sqrt(keras.ops.mean(x * x, axis=-1, keepdims=True) + 1e-6) * self.gamma

    @keras.saving.register_keras_serializable(package="e2e")
    class ChannelAffine(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(name="scale", shape=(input_shape[-1],), initializer="random_normal")
            self.shift = self.add_weight(name="shift", shape=(input_shape[-1],), initializer="random_normal")
        def call(self, x):
            return keras.ops.where(x > 0, x * self.scale, 0.1 * x) + self.shift

    CUSTOM_OBJECTS = {c.__name__: c for c in (Swishy, RMSScale, ChannelAffine)}
    CUSTOM_OBJECTS.update({f"e2e>{c.__name__}": c for c in (Swishy, RMSScale, ChannelAffine)})
''')

EXPRESSIONS = {
    "Swishy": "x * sigmoid(x)",
    "RMSScale": "x / sqrt(mean(x * x, axis=-1, keepdims=True) + 1e-6) * gamma",
    "ChannelAffine": "where(x > 0, x * scale, 0.1 * x) + shift",
}


def _classes(tmp_path):
    layers_py = tmp_path / "e2e_layers.py"
    layers_py.write_text(LAYERS_PY)
    namespace: dict = {}
    exec(compile(LAYERS_PY, str(layers_py), "exec"), namespace)  # our own test code, not a model file
    return layers_py, namespace


def _randomize(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in model.get_weights()])


@pytest.fixture
def functional_model(tmp_path, tf_ready):
    """Functional, Keras 3: Dense → (Swishy, RMSScale) → Add → Dense, plus a ChannelAffine output branch."""
    keras = tf_ready
    layers_py, ns = _classes(tmp_path)
    a = keras.Input((6,), name="a")
    h = keras.layers.Dense(8, name="hidden")(a)
    s = ns["Swishy"](name="swishy")(h)
    n = ns["RMSScale"](name="rms")(h)
    m = keras.layers.Add(name="add")([s, n])
    out = keras.layers.Dense(3, name="out")(m)
    aux = ns["ChannelAffine"](name="affine")(keras.layers.Dense(4, name="to_aux")(m))
    model = keras.Model(a, [out, aux])
    _randomize(model)
    path = tmp_path / "mixed.keras"
    model.save(path)
    return path, layers_py


def test_functional_model_mixing_custom_and_builtin_layers(functional_model, dl4j_ready, registry_copy):
    path, layers_py = functional_model
    for name, text in EXPRESSIONS.items():
        _register(name, text)
    session = Session(path, custom_objects=layers_py)
    inputs = {"a": np.random.default_rng(3).normal(size=(4, 6)).astype("float32")}
    report = session.verify(inputs, dl4j=True)
    _assert_every_layer_matches(report, {"swishy", "rms", "affine", "out"})
    assert not session.conversion.is_chain
    assert {m.java_class.rsplit(".", 1)[1] for m in session.conversion.mapped.values() if m.java_class} == {
        "SwishyLayer", "RMSScaleLayer", "ChannelAffineLayer"}


@pytest.mark.parametrize("cnn_format", ["NHWC", "NCHW"])
def test_channels_first_and_last_images(cnn_format, tmp_path, tf_ready, dl4j_ready, registry_copy):
    """On [b, h, w, c] the expression acts on channels; in NCHW the generated layer permutes around it."""
    keras = tf_ready
    layers_py, ns = _classes(tmp_path)
    x = keras.Input((5, 4, 3), name="img")
    c = keras.layers.Conv2D(6, 3, padding="same", name="conv")(x)
    r = ns["RMSScale"](name="rms")(c)
    f = ns["ChannelAffine"](name="affine")(r)
    out = keras.layers.Dense(2, name="out")(keras.layers.Flatten(name="flat")(f))
    model = keras.Model(x, out)
    _randomize(model, seed=2)
    path = tmp_path / "img.keras"
    model.save(path)
    for name, text in EXPRESSIONS.items():
        _register(name, text)
    session = Session(path, custom_objects=layers_py, cnn_format=cnn_format)
    assert session.conversion.mapped["rms"].layer["dataFormat"] == cnn_format
    inputs = {"img": np.random.default_rng(4).normal(size=(2, 5, 4, 3)).astype("float32")}
    _assert_every_layer_matches(session.verify(inputs, dl4j=True), {"rms", "affine", "out"})


@pytest.mark.parametrize("cnn_format", ["NHWC", "NCHW"])
def test_sequences_in_nwc_and_ncw(cnn_format, tmp_path, tf_ready, dl4j_ready, registry_copy):
    """[b, t, f] data: NWC is Keras's layout, NCW is permuted to features-last inside the generated layer."""
    keras = tf_ready
    layers_py, ns = _classes(tmp_path)
    x = keras.Input((7, 3), name="seq")
    c = keras.layers.Conv1D(5, 3, name="conv1d")(x)
    r = ns["RMSScale"](name="rms")(c)
    f = ns["ChannelAffine"](name="affine")(r)
    out = keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling1D(name="pool")(f))
    model = keras.Model(x, out)
    _randomize(model, seed=5)
    path = tmp_path / "seq.keras"
    model.save(path)
    for name, text in EXPRESSIONS.items():
        _register(name, text)
    session = Session(path, custom_objects=layers_py, cnn_format=cnn_format)
    assert session.conversion.mapped["rms"].layer["dataFormat"] == ("NWC" if cnn_format == "NHWC" else "NCW")
    inputs = {"seq": np.random.default_rng(6).normal(size=(2, 7, 3)).astype("float32")}
    _assert_every_layer_matches(session.verify(inputs, dl4j=True), {"rms", "affine", "out"})


def test_export_bundle_has_zip_sources_jar_and_readme(samples, tmp_path, dl4j_ready, tf_ready, registry_copy):
    from workbench.check.dl4j_jvm import run_dl4j

    _register("ScaleShift", "x * gamma + beta")
    session = Session(samples / "scale_shift.keras", custom_objects=samples / "custom_layers.py")
    folder = session.export_bundle(tmp_path / "bundle")
    jar = folder / "custom-layers" / "workbench-custom-layers.jar"
    assert (folder / "model.zip").is_file() and jar.is_file()
    assert (folder / "custom-layers" / "ScaleShiftLayer.java").read_text().startswith("package workbench.generated;")
    assert "workbench/generated/ScaleShiftLayer.class" in zipfile.ZipFile(jar).namelist()
    readme = (folder / "README.md").read_text()
    for needle in ("install:install-file", "<scope>system</scope>", "restoreMultiLayerNetwork", "classpath",
                   "workbench.generated.ScaleShiftLayer", "x * gamma + beta"):
        assert needle in readme, needle
    io = np.load(samples / "scale_shift_io.npz")
    run = run_dl4j(folder / "model.zip", {"input": io["input:input"]}, extra_jars=[jar])
    assert run.error is None and np.abs(run.outputs["dense_1"] - io["output:dense_1"]).max() <= ATOL


def test_bundle_without_generated_layers(samples, tmp_path):
    session = Session(samples / "cnn.h5")
    folder = session.export_bundle(tmp_path / "plain")
    assert (folder / "model.zip").is_file() and not (folder / "custom-layers").exists()
    assert session.export_custom_jar(tmp_path) is None
    assert "no generated layers" in (folder / "README.md").read_text()
