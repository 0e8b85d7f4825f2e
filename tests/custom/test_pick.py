"""*Pick* mappings, ``suggest`` and mapping files: a custom layer that is really a Dense (or an LSTM)."""
from __future__ import annotations

import json
import os
import textwrap

import numpy as np
import pytest

from workbench.errors import MappingError
from workbench.session import Session

pytestmark = pytest.mark.tensorflow

LAYERS_PY = textwrap.dedent('''
    import keras

    @keras.saving.register_keras_serializable(package="pick_tests")
    class TransposedDense(keras.layers.Layer):
        """A Dense that stores its kernel as [out, in] under the name 'w', its bias as 'b'."""
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(self.units, input_shape[-1]), initializer="random_normal")
            self.b = self.add_weight(name="b", shape=(self.units,), initializer="random_normal")
        def call(self, x):
            return keras.ops.tanh(keras.ops.matmul(x, keras.ops.transpose(self.w)) + self.b)
        def get_config(self):
            return {**super().get_config(), "units": self.units}

    CUSTOM_OBJECTS = {"TransposedDense": TransposedDense, "pick_tests>TransposedDense": TransposedDense}
''')


@pytest.fixture
def transposed_dense(tmp_path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    layers_py = tmp_path / "pick_layers.py"
    layers_py.write_text(LAYERS_PY)
    namespace: dict = {}
    exec(compile(LAYERS_PY, str(layers_py), "exec"), namespace)  # our own test code, not a model file
    x = keras.Input((5,), name="x")
    y = namespace["TransposedDense"](4, name="td")(x)
    out = keras.layers.Dense(2, name="out")(y)
    path = tmp_path / "picked.keras"
    keras.Model(x, out).save(path)
    inputs = {"x": np.random.default_rng(0).normal(size=(3, 5)).astype("float32")}
    return Session(path, custom_objects=layers_py), inputs


def test_pick_dense_with_transposed_kernel_matches_keras(transposed_dense):
    """Picking Dense (tanh) with kernel ← w transposed maps the custom layer exactly."""
    session, inputs = transposed_dense
    session.set_mapping("TransposedDense", {"pick": "Dense", "config": {"activation": "tanh"},
                                            "weights": {"kernel": {"from": "w", "transform": "transpose_2d"},
                                                        "bias": "b"}})
    report = session.verify(inputs)
    assert report.passed, [(c.name, c.isolated) for c in report.layers]
    assert "picked Dense" in session.conversion.mapped["td"].notes[-1]


def test_wrong_pick_diverges_at_that_layer(transposed_dense):
    """Without the transpose the shapes do not even fit: the mapping is refused, naming the layer."""
    session, inputs = transposed_dense
    session.set_mapping("td", {"pick": "Dense", "config": {"activation": "tanh"}, "weights": {"kernel": "w", "bias": "b"}})
    with pytest.raises(MappingError) as err:
        session.conversion
    assert "td" in str(err.value)


def test_suggest_ranks_the_right_transform_first(transposed_dense):
    """``suggest`` tries identity/transpose for each weight and ranks transpose-of-w first, with ~0 error."""
    session, inputs = transposed_dense
    ranked = session.suggest("td", "Dense", config={"activation": "tanh"}, weights={"kernel": "w", "bias": "b"},
                             inputs=inputs)
    best, err = ranked[0]
    assert best["weights"]["kernel"] == {"from": "w", "transform": "transpose_2d"} and err < 1e-5
    assert all(e > 1e-3 for _, e in ranked[1:])
    assert session.mappings == {}  # trying candidates leaves the session's own choices alone


def test_mapping_file_round_trip_and_cli(transposed_dense, tmp_path):
    """A saved mapping file reloads to the same choices and drives ``workbench verify --mapping``."""
    import subprocess
    import sys

    session, inputs = transposed_dense
    spec = {"pick": "Dense", "config": {"activation": "tanh"},
            "weights": {"kernel": {"from": "w", "transform": "transpose_2d"}, "bias": "b"}}
    session.set_mapping("TransposedDense", spec)
    path = session.save_mapping(tmp_path / "mapping.json")
    assert json.loads(path.read_text()) == {"TransposedDense": spec}
    again = Session(session.path, custom_objects=session.custom_objects)
    again.load_mapping(path)
    assert again.mappings == session.mappings
    np.savez(tmp_path / "in.npz", **{"input:x": inputs["x"]})
    result = subprocess.run([sys.executable, "-m", "workbench", "verify", session.path, "--mapping", str(path),
                             "--custom-objects", session.custom_objects, "--inputs", str(tmp_path / "in.npz")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "PASSED" in result.stdout


def test_code_mapping_from_a_user_file(transposed_dense, tmp_path):
    """A ``code`` mapping calls the user's own function, loaded only because the mapping names it."""
    session, inputs = transposed_dense
    (tmp_path / "my_mappings.py").write_text(textwrap.dedent('''
        from workbench.custom.pick import pick_mapping
        CALLS = []
        def map_td(ctx):
            CALLS.append(ctx.spec.name)
            return pick_mapping("Dense", {"activation": "tanh"},
                                {"kernel": {"from": "w", "transform": "transpose_2d"}, "bias": "b"})(ctx)
    '''))
    (tmp_path / "m.json").write_text(json.dumps({"td": {"code": "my_mappings.py:map_td"}}))
    session.load_mapping(tmp_path / "m.json")
    assert session.verify(inputs).passed


@pytest.mark.parametrize("bad", [{}, {"pick": "Dense", "expression": "x"}, {"code": "no_colon"},
                                 {"pick": "NoSuchLayer"}])
def test_malformed_mapping_specs_are_refused(transposed_dense, bad):
    """A spec with no kind, two kinds, a bad code reference or an unknown picked class is refused at once."""
    session, _ = transposed_dense
    with pytest.raises(MappingError):
        session.set_mapping("td", bad)
