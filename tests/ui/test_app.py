"""The Workbench app without a browser: set widget values, click buttons, assert on the session and widgets.

ipywidgets >= 8 builds widgets without a kernel (``comm``'s default comm), ``.value`` assignments fire
observers and ``Button.click()`` fires click handlers, all synchronously.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SAMPLES
from workbench.session import Session
from workbench.ui import Workbench
from workbench.ui.app import TABS
from workbench.ui.panels import DIVERGES, INPUT, MAPPED, NEEDS_MAPPING, VERIFIED

CUSTOM = SAMPLES / "custom_layers.py"
ALL = ["seed", "cnn", "lstm", "functional", "scale_shift", "nested"]
CUSTOM_SAMPLES = {"seed": "my_activation", "scale_shift": "scale_shift"}
PNG = b"\x89PNG\r\n\x1a\n"


def open_app(stem: str, **kwargs) -> Workbench:
    return Workbench(SAMPLES / f"{stem}.keras", custom_objects=CUSTOM, **kwargs)


def stored_inputs(stem: str) -> dict[str, np.ndarray]:
    data = np.load(SAMPLES / f"{stem}_io.npz")
    return {k.split(":", 1)[1]: data[k] for k in data.files if k.startswith("input:")}


def is_png(image) -> bool:
    return bytes(image.value).startswith(PNG)


def badge_text(html: str) -> str:
    return html.split('class="wb-badge', 1)[1].split(">", 1)[1].split("<", 1)[0]


def statuses(app: Workbench) -> dict[str, str]:
    return {name: row.status for name, row in app.rows.items()}


@pytest.mark.parametrize("stem", ALL)
def test_every_panel_draws_for_every_layer_of_every_sample(stem, tmp_path):
    """Every layer × every panel draws without an error; custom layers show "needs a mapping"."""
    app = open_app(stem, export_dir=tmp_path)
    inventory = app.session.inventory()
    assert [r["name"] for r in inventory["layers"]] == [n for n in app.rows if "/" not in n]
    for name in app.rows:
        app.select(name)
        for panel in TABS:
            app.show(panel)
        assert app.errors == {}, (name, app.errors)
        assert app.panels["layers"]["list"].value == name
        assert name in app.panels["inspector"]["heading"].value
    labels = [label for label, _ in app.panels["layers"]["list"].options]
    assert len(labels) == len(app.rows)
    if stem in CUSTOM_SAMPLES:
        layer = CUSTOM_SAMPLES[stem]
        assert app.rows[layer].status == NEEDS_MAPPING
        assert any(layer in label and label.replace("\u00a0", " ").rstrip().endswith(NEEDS_MAPPING) for label in labels)
        app = open_app(stem)
        assert app.selected == layer  # opens on the layer that needs attention
        app.show("mapping")
        assert "needs a mapping" in app.panels["mapping"]["status"].value
        assert f"layer &#x27;{layer}&#x27;" in app.panels["mapping"]["status"].value  # the API's message
    else:
        assert set(statuses(app).values()) <= {INPUT, MAPPED}


def test_layers_list_shows_class_shape_params_and_a_coloured_status():
    app = open_app("cnn")
    label = dict((v, k) for k, v in app.panels["layers"]["list"].options)["conv2d"].replace("\u00a0", " ")
    assert label.split() == ["●", "conv2d", "Conv2D", "(None,", "12,", "12,", "4)", "112", "mapped"]
    assert "nth-child(2)" in app.panels["layers"]["colours"].value
    assert 'wb-s-input' in app.panels["layers"]["colours"].value  # the counts as badges


def test_the_filter_shows_only_layers_of_one_status():
    app = open_app("seed")
    layers = app.panels["layers"]
    assert dict(layers["filter"].options)  # "all 4", "mapped 2", "needs a mapping 1", "input 1"
    layers["filter"].value = NEEDS_MAPPING
    assert [v for _, v in layers["list"].options] == ["my_activation"]
    layers["filter"].value = MAPPED
    assert [v for _, v in layers["list"].options] == ["dense", "dense_1"]
    layers["list"].value = "dense_1"  # picking in the list selects everywhere
    assert app.selected == "dense_1" and app.panels["header"]["layer"].value == "dense_1"
    layers["filter"].value = "all"
    assert len(layers["list"].options) == 4 and layers["list"].value == "dense_1"


def test_nested_models_show_their_layers_and_shared_layers_their_calls():
    app = open_app("nested")
    assert "encoder/enc_dense" in app.rows and app.rows["encoder/enc_dense"].depth == 1
    assert app.rows["shared"].keys == ("shared", "shared@1")
    app.select("shared")
    app.show("inspector")
    dl4j = app.panels["inspector"]["dl4j"].value
    assert "shared@1" in dl4j and "DenseLayer" in dl4j
    app.show("weights")
    labels = [label for label, _ in app.panels["weights"]["param"].options]
    assert any(label.startswith("shared@1: W") for label in labels)


def test_inspector_shows_keras_config_weights_and_the_dl4j_json():
    app = open_app("lstm")
    app.select("lstm")
    app.show("inspector")
    panel = app.panels["inspector"]
    assert "embedding" in panel["keras"].value and "return_sequences" in panel["keras"].value
    assert "recurrent_kernel" in panel["weights"].value and "(7, 28)" in panel["weights"].value
    dl4j = panel["dl4j"].value
    assert "LSTM" in dl4j and "lstm_gates_ifco_to_cfoi" in dl4j and "DL4J JSON" in dl4j
    assert "org.deeplearning4j.nn.conf.layers.LSTM" in dl4j


def test_switching_to_nchw_adds_the_flatten_permutation_to_the_dense_rows():
    app = open_app("cnn")
    app.select("dense")
    app.show("weights")
    panel = app.panels["weights"]
    assert "flatten_rows_hwc_to_chw" not in panel["steps_doc"].value
    app.panels["header"]["cnn_format"].value = "NCHW"
    assert app.session.options.cnn_format == "NCHW"
    assert app.selected == "dense"
    assert "flatten_rows_hwc_to_chw" in panel["steps_doc"].value
    assert is_png(panel["steps"])
    assert panel["diff_a"].value == 0 and panel["diff_b"].value == 1  # Keras vs DL4J: rows moved


def test_a_4d_kernel_gets_sliders_and_each_slice_redraws():
    app = open_app("cnn")
    app.select("conv2d_1")
    app.show("weights")
    panel = app.panels["weights"]
    label = dict((v, k) for k, v in panel["param"].options)[panel["param"].value]
    assert label.startswith("conv2d_1: W ← kernel")  # the kernel first, not the bias
    sliders = {s.description: s for s in panel["sliders"].children}
    assert set(sliders) == {"kh", "kw"} and sliders["kh"].max == 2
    assert "conv_kernel_to_oihw" in panel["steps_doc"].value and "[out, in, kh, kw]" in panel["steps_doc"].value
    before = bytes(panel["steps"].value)
    sliders["kw"].value = 2
    assert bytes(panel["steps"].value) != before and is_png(panel["steps"])
    assert is_png(panel["histogram"]) and is_png(panel["difference"])
    bias = next(v for k, v in panel["param"].options if ": b ←" in k)
    panel["param"].value = bias
    assert panel["sliders"].children == ()


def test_weights_of_an_unmapped_custom_layer_show_the_keras_side():
    app = open_app("scale_shift")
    app.select("scale_shift")
    app.show("weights")
    panel = app.panels["weights"]
    assert len(panel["param"].options) == 2 and "Keras only" in panel["param"].options[0][0]
    assert is_png(panel["steps"])
    assert app.errors == {}


@pytest.mark.tensorflow
@pytest.mark.parametrize("stem", ["cnn", "lstm", "functional", "nested"])
def test_run_reference_verifies_every_layer_and_draws_the_chart(stem):
    app = open_app(stem)
    app.show("verify")
    panel = app.panels["verify"]
    panel["run_reference"].click()
    assert app.errors == {}
    assert app.report is not None and app.report.passed
    assert "every layer within atol" in panel["summary"].value
    assert is_png(panel["chart"]) and is_png(panel["outputs"])
    assert {s for s in statuses(app).values()} <= {INPUT, VERIFIED}
    assert "verified" in app.panels["layers"]["colours"].value
    names = list(panel["layer"].options)
    panel["layer"].value = names[-1]
    assert is_png(panel["outputs"]) and app.errors == {}


@pytest.mark.tensorflow
def test_a_wrong_transform_shows_as_the_dense_layer_diverging(monkeypatch):
    from workbench.mappers import core, transforms

    monkeypatch.setattr(core.T, "flatten_rows_hwc_to_chw",
                        lambda trace, spatial_channels: transforms.as_is(trace, "deliberately NOT permuted"))
    app = open_app("cnn", cnn_format="NCHW")
    app.inputs = stored_inputs("cnn")
    app.show("verify")
    app.panels["verify"]["run_reference"].click()
    assert app.report.first_divergence == "dense"
    assert app.rows["dense"].status == DIVERGES and app.rows["conv2d"].status == VERIFIED
    assert "first divergence: dense" in app.panels["verify"]["summary"].value
    assert app.panels["verify"]["layer"].value == "dense"  # the chart's first divergence is drawn
    assert app.panels["verify"]["sliders"].children == ()  # [batch, units]: drawn whole
    app.panels["verify"]["layer"].value = "conv2d"  # [batch, h, w, c]: pick a sample and a channel
    assert [s.description for s in app.panels["verify"]["sliders"].children] == ["batch", "c"]
    app.select("dense")
    assert badge_text(app.panels["layers"]["selected"].value) == DIVERGES


@pytest.mark.tensorflow
@pytest.mark.parametrize("stem", sorted(CUSTOM_SAMPLES))
def test_verify_of_an_unmapped_model_shows_the_error_in_the_verify_panel(stem):
    app = open_app(stem)
    app.show("verify")
    app.panels["verify"]["run_reference"].click()  # must not raise
    error = app.panels["verify"]["error"].value
    assert "wb-error" in error and CUSTOM_SAMPLES[stem] in error and "needs a mapping" not in error
    assert app.report is None and not app.panels["verify"]["run_reference"].disabled


@pytest.mark.parametrize("stem", ["cnn", "nested"])
def test_export_writes_the_checked_files_and_lists_them(stem, tmp_path):
    app = open_app(stem, export_dir=tmp_path / "out")
    app.show("export")
    panel = app.panels["export"]
    panel["export"].click()
    assert app.errors == {}
    zip_path, json_path = tmp_path / "out" / f"{stem}.zip", tmp_path / "out" / f"{stem}.configuration.json"
    assert zip_path.is_file() and json_path.is_file()
    assert str(zip_path) in panel["written"].value and str(json_path) in panel["written"].value
    assert panel["progress"].value == panel["progress"].max == 2 and panel["progress"].bar_style == "success"
    assert json.loads(json_path.read_text()) == json.loads(app.session.configuration_json())
    panel["zip"].value = False
    panel["folder"].value = str(tmp_path / "only-json")
    panel["export"].click()
    assert [p.name for p in (tmp_path / "only-json").iterdir()] == [f"{stem}.configuration.json"]


def test_export_of_an_unmapped_model_shows_the_mapping_error(tmp_path):
    app = open_app("seed", export_dir=tmp_path)
    app.show("export")
    app.panels["export"]["export"].click()
    assert "my_activation" in app.panels["export"]["error"].value
    assert app.panels["export"]["progress"].bar_style == "danger"
    assert not (tmp_path / "seed.zip").exists()


def test_an_unexpected_exception_in_a_callback_stays_in_its_panel(monkeypatch, tmp_path):
    app = open_app("functional", export_dir=tmp_path)

    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.session, "export_zip", broken)
    app.panels["export"]["export"].click()
    assert "RuntimeError: disk on fire" in app.panels["export"]["error"].value
    assert isinstance(app.errors["export"], RuntimeError)


def test_the_app_accepts_a_session_and_keeps_it():
    session = Session(SAMPLES / "functional.keras", cnn_format="NCHW")
    app = Workbench(session)
    assert app.session is session and app.panels["header"]["cnn_format"].value == "NCHW"
    with pytest.raises(KeyError, match="no layer 'nope'"):
        app.select("nope")


@pytest.mark.tensorflow
def test_mapping_a_custom_layer_by_expression_then_verify_and_save(tmp_path):
    app = open_app("seed", export_dir=tmp_path)
    assert app.mapping_editor
    app.show("mapping")
    panel = app.panels["mapping"]
    assert panel["target"].value == "MyActivation"
    panel["kind"].value = "expression"
    panel["expression"].value = "relu(x) * sigmoid(x)"
    panel["apply"].click()
    assert app.errors == {}, app.errors
    assert app.session.mappings == {"MyActivation": {"expression": "relu(x) * sigmoid(x)"}}
    assert app.rows["my_activation"].status == MAPPED and app.selected == "my_activation"
    assert "MyActivation" in panel["current"].value
    panel["test"].click()
    assert "verified" in panel["result"].value, panel["result"].value
    panel["path"].value = str(tmp_path / "seed.mapping.json")
    panel["save"].click()
    assert json.loads((tmp_path / "seed.mapping.json").read_text())["MyActivation"]["expression"]
    app.show("verify")
    app.panels["verify"]["run_reference"].click()
    assert app.report.passed and app.rows["my_activation"].status == VERIFIED
    other = open_app("seed")
    other.show("mapping")
    other.panels["mapping"]["path"].value = str(tmp_path / "seed.mapping.json")
    other.panels["mapping"]["load"].click()
    assert other.rows["my_activation"].status == MAPPED


def test_a_bad_expression_is_refused_in_the_mapping_panel():
    app = open_app("seed")
    app.show("mapping")
    panel = app.panels["mapping"]
    panel["expression"].value = "__import__('os').system('true')"
    panel["apply"].click()
    assert "wb-error" in panel["error"].value
    assert app.rows["my_activation"].status == NEEDS_MAPPING


@pytest.mark.tensorflow
@pytest.mark.dl4j
def test_run_real_dl4j_adds_the_dl4j_series(dl4j_ready):
    app = open_app("cnn", cnn_format="NCHW")
    app.show("verify")
    app.panels["verify"]["run_dl4j"].click()
    assert app.errors == {}
    assert app.report.passed and all(c.dl4j is not None for c in app.report.layers if c.status == "ok")
    assert "real DL4J" in app.panels["verify"]["summary"].value


def test_export_of_a_mapped_custom_layer_writes_java_sources_and_the_mapping(tmp_path):
    app = open_app("seed", export_dir=tmp_path)
    app.show("mapping")
    app.panels["mapping"]["expression"].value = "relu(x) * sigmoid(x)"
    app.panels["mapping"]["apply"].click()
    app.show("export")
    panel = app.panels["export"]
    assert not panel["java"].disabled and not panel["mapping"].disabled
    panel["java"].value = panel["mapping"].value = True
    panel["export"].click()
    assert app.errors == {}, app.errors
    assert panel["progress"].value == 4
    java = tmp_path / "java"
    assert str(java) in panel["written"].value
    assert any(java.rglob("*.java")) and any(java.rglob("*.npy"))
    assert json.loads((tmp_path / "seed.mapping.json").read_text()) == app.session.mappings
