"""``Workbench``: the JupyterLab app around one ``Session``.

    from workbench.ui import Workbench
    Workbench("sample_models/cnn.keras")            # the last expression of a cell displays it
    app = Workbench(session)                        # or around a Session you already hold
    app.select("dense"); app.show("weights")        # what a click does, for scripts and tests

Layout: a header (model, the selected layer, NHWC/NCHW) over six tabs: Layers, Inspector, Mapping,
Weights, Verify, Export. Selecting a layer (in the Layers list or the header) drives every panel.
A panel is drawn when it is shown, and again only when what it shows has changed, so a 200-layer
model opens as fast as its Layers list.

Every handler makes one ``Session`` call and shows the result; an exception never reaches the kernel:
it is shown, worded as the API raised it, in the panel where it happened.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from workbench.errors import MappingError
from workbench.plots import figure_png, plot_difference, plot_histogram, plot_layer_errors, plot_tensor
from workbench.session import Session
from workbench.ui import panels as P
from workbench.ui.panels import (DIVERGES, INPUT, MAPPED, NEEDS_MAPPING, STATUSES, UNSUPPORTED, VERIFIED,
                                 Panel)

TABS = ("layers", "inspector", "mapping", "weights", "verify", "export")
TITLES = {"layers": "Layers", "inspector": "Inspector", "mapping": "Mapping", "weights": "Weights",
          "verify": "Verify", "export": "Export"}
# Keras-layout names of an activation's axes, by rank, and the axes a slider picks (the rest are drawn).
OUTPUT_AXES = {1: ("batch",), 2: ("batch", "units"), 3: ("batch", "time", "features"),
               4: ("batch", "h", "w", "c"), 5: ("batch", "d", "h", "w", "c")}
OUTPUT_SLIDERS = {3: ("batch",), 4: ("batch", "c"), 5: ("batch", "d", "c")}


@dataclass(frozen=True)
class Row:
    """One line of the Layers list: a Keras layer (a nested model's layers as ``outer/inner``)."""

    name: str
    class_name: str
    shape: str
    params: int
    status: str
    keys: tuple[str, ...]  # the conversion's keys for it: the layer's calls, or a nested model's layers
    depth: int
    record: dict


def guarded(panel: str) -> Callable:
    """Run a handler; show any exception in ``panel``'s error area instead of raising it into the kernel."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(self: "Workbench", *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the point: nothing escapes into the kernel
                self.errors[panel] = exc
                self.panels[panel]["error"].value = P.error_html(exc)
                return None
        return run
    return wrap


def _shape_text(shape: Any) -> str:
    if shape is None:
        return ""
    if shape and isinstance(shape[0], list):
        return " ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def mapping_problems(error: MappingError | None) -> set[str]:
    """The layers a conversion error names (``map_model`` names the first and lists the others)."""
    if error is None:
        return set()
    return set(error.layers)


class Workbench(W.VBox):
    """The migration workbench for one Keras model.

    Args:
        path_or_session: a Keras model file, or a ``Session``.
        export_dir: where the Export panel writes (default ``./out/<model name>``).
        **session_kwargs: passed to ``Session`` (``cnn_format``, ``custom_objects``, ``weights``...).

    Attributes:
        session: the Session every action calls.
        panels: each panel by name (``"layers"``, ``"weights"``...), its widgets by name.
        selected: the name of the selected layer (a row of the Layers list).
        report: the last ``VerifyReport``, or None.
        errors: the last exception each panel showed (for scripts and tests).
    """

    def __init__(self, path_or_session: str | os.PathLike[str] | Session, *,
                 export_dir: str | os.PathLike[str] | None = None, **session_kwargs: Any) -> None:
        super().__init__()
        self.add_class("wb-app")
        self.session = (path_or_session if isinstance(path_or_session, Session)
                        else Session(path_or_session, **session_kwargs))
        self.errors: dict[str, BaseException] = {}
        self.report = None
        self.report_dl4j = False
        self.inputs: dict[str, np.ndarray] | None = None
        self._stale: set[str] = set(TABS)
        self._busy = False
        self.selected: str | None = None
        stem = Path(self.session.path).stem
        folder = Path(export_dir) if export_dir is not None else Path.cwd() / "out" / stem
        self.panels: dict[str, Panel] = {
            "header": P.header_panel(),
            "layers": P.layers_panel(),
            "inspector": P.inspector_panel(),
            "mapping": P.mapping_panel(editor=self.mapping_editor),
            "weights": P.weights_panel(),
            "verify": P.verify_panel(),
            "export": P.export_panel(java=self._java_export is not None,
                                     mapping=hasattr(self.session, "save_mapping"), folder=str(folder)),
        }
        self.tabs = W.Tab(children=[self.panels[name].widget for name in TABS])
        self.tabs.titles = tuple(TITLES[name] for name in TABS)
        self.children = [self.panels["header"].widget, self.tabs]
        self.panels["header"]["cnn_format"].value = self.session.options.cnn_format
        self.panels["layers"]["columns"].value = P.layer_columns_html()
        self._connect()
        self._reconvert()

    # ---- wiring ------------------------------------------------------------------------------------

    def _connect(self) -> None:
        header, layers, weights = self.panels["header"], self.panels["layers"], self.panels["weights"]
        verify, export, mapping = self.panels["verify"], self.panels["export"], self.panels["mapping"]
        self.tabs.observe(self._on_tabs_selected_index, names="selected_index")
        header["layer"].observe(self._on_layer_value, names="value")
        header["cnn_format"].observe(self._on_cnn_format_value, names="value")
        layers["list"].observe(self._on_list_value, names="value")
        layers["filter"].observe(self._on_filter_value, names="value")
        weights["param"].observe(self._on_param_value, names="value")
        weights["diff_a"].observe(self._on_diff_value, names="value")
        weights["diff_b"].observe(self._on_diff_value, names="value")
        verify["run_reference"].on_click(self._on_run_reference_click)
        verify["run_dl4j"].on_click(self._on_run_dl4j_click)
        verify["layer"].observe(self._on_output_layer_value, names="value")
        export["export"].on_click(self._on_export_click)
        if self.mapping_editor:
            mapping["kind"].observe(self._on_kind_value, names="value")
            for name in ("apply", "remove", "test", "suggest", "use", "save", "load"):
                mapping[name].on_click(getattr(self, f"_on_{name}_click"))

    @property
    def _java_export(self) -> Callable[[Path], Any] | None:
        """The session's Java source export (``Session.export_java``), if it offers one."""
        return getattr(self.session, "export_java", None)

    @property
    def mapping_editor(self) -> bool:
        """True when the session offers custom-layer mappings (``set_mapping``, ``test_layer``...)."""
        return all(hasattr(self.session, name) for name in ("set_mapping", "remove_mapping", "test_layer",
                                                             "save_mapping", "load_mapping", "mappings"))

    # ---- public: what a click does ---------------------------------------------------------------------

    def select(self, name: str) -> None:
        """Select a layer (a row name of the Layers list): every panel follows."""
        if name not in self.rows:
            raise KeyError(f"no layer '{name}' (layers: {', '.join(self.rows)})")
        self.panels["header"]["layer"].value = name

    def show(self, panel: str) -> None:
        """Switch to a tab by name: ``layers``, ``inspector``, ``mapping``, ``weights``, ``verify``, ``export``."""
        self.tabs.selected_index = TABS.index(panel)
        self._draw_visible()

    @property
    def row(self) -> Row | None:
        return self.rows.get(self.selected) if self.selected else None

    # ---- model state ---------------------------------------------------------------------------------

    @guarded("header")
    def _reconvert(self) -> None:
        """Map the model again (after a format or mapping change); statuses and every panel follow."""
        self.panels["header"]["error"].value = ""
        self.conversion, self.conversion_error = None, None
        try:
            self.conversion = self.session.conversion
        except MappingError as err:
            self.conversion_error = err
        self.report = None
        self.inventory = self.session.inventory()
        self._update_rows()
        header = self.panels["header"]
        header["title"].value = P.title_html(self.inventory["model"], len(self.rows))
        names = list(self.rows)
        keep = self.selected if self.selected in self.rows else self._first_interesting()
        header["layer"].options = names
        self.selected = None
        header["layer"].value = keep
        if self.selected is None and keep is not None:  # the value did not change: draw anyway
            self._select(keep)
        message = ""
        if self.conversion_error is not None:
            message = P.error_html(self.conversion_error)
        self.panels["layers"]["message"].value = message

    def _first_interesting(self) -> str | None:
        for name, row in self.rows.items():
            if row.status in (NEEDS_MAPPING, UNSUPPORTED):
                return name
        return next((n for n, r in self.rows.items() if r.status != INPUT), next(iter(self.rows), None))

    def _update_rows(self) -> None:
        conv, report = self.conversion, self.report
        problems = mapping_problems(self.conversion_error)
        checks = {c.name: c for c in report.layers} if report is not None else {}
        specs = {spec.name: spec for spec in self.session.model.layers}
        rows: dict[str, Row] = {}

        def status_of(name: str, record: dict, keys: tuple[str, ...], spec) -> str:
            if record.get("input"):
                return INPUT
            leaf = name.rsplit("/", 1)[-1]
            if name in problems or leaf in problems:
                return NEEDS_MAPPING if record.get("custom") or record["class_name"] == "Lambda" else UNSUPPORTED
            if conv is None and spec is not None and not spec.is_container:
                from workbench.mappers import lookup
                if lookup(spec) is None:
                    return NEEDS_MAPPING if record.get("custom") else UNSUPPORTED
            found = [checks[k] for k in keys if k in checks]
            if any(c.status == "diverges" for c in found):
                return DIVERGES
            if found and all(c.status in ("ok", "folded") for c in found):
                return VERIFIED
            return MAPPED

        def add(record: dict, prefix: str, depth: int, spec) -> None:
            name = prefix + record["name"]
            mapped = conv.mapped if conv is not None else {}
            keys = tuple(k for k in mapped if k == name or k.startswith(name + "@") or k.startswith(name + "/"))
            rows[name] = Row(name, record["class_name"], _shape_text(record.get("output_shape")),
                             int(record.get("params") or 0), status_of(name, record, keys, spec), keys, depth,
                             record)
            if spec is not None and spec.is_container:
                children = {c.name: c for c in spec.children}
                for child in record.get("layers", []):
                    if not child.get("input"):
                        add(child, name + "/", depth + 1, children.get(child["name"]))
                inner = [rows[k].status for k in rows if k.startswith(name + "/")]
                for worst in (NEEDS_MAPPING, UNSUPPORTED, DIVERGES):
                    if worst in inner:
                        rows[name] = _with_status(rows[name], worst)
                        break
                else:
                    if inner and all(s == VERIFIED for s in inner):
                        rows[name] = _with_status(rows[name], VERIFIED)

        for record in self.inventory["layers"]:
            add(record, "", 0, specs.get(record["name"]))
        self.rows = rows
        self._fill_layer_list()

    def _fill_layer_list(self) -> None:
        layers = self.panels["layers"]
        counts = {s: sum(r.status == s for r in self.rows.values()) for s in STATUSES}
        shown = layers["filter"].value or "all"
        options = [(f"all {len(self.rows)}", "all")] + [(f"{s} {counts[s]}", s) for s in STATUSES
                                                          if counts[s] or s == shown]
        self._busy = True
        try:
            layers["filter"].options = options
            layers["filter"].value = shown if shown in dict((v, v) for _, v in options) else "all"
            rows = [r for r in self.rows.values() if layers["filter"].value in ("all", r.status)]
            layers["list"].options = [(P.layer_label(r), r.name) for r in rows]
            layers["list"].rows = max(4, min(len(rows), 18))
            layers["list"].value = self.selected if any(r.name == self.selected for r in rows) else None
        finally:
            self._busy = False
        layers["colours"].value = P.layer_colours_css(rows) + P.counts_html(counts)
        layers["selected"].value = P.selected_html(self.row)

    # ---- handlers ------------------------------------------------------------------------------------

    @guarded("header")
    def _on_tabs_selected_index(self, change: dict) -> None:
        self._draw_visible()

    @guarded("layers")
    def _on_layer_value(self, change: dict) -> None:
        if change["new"] is not None and change["new"] != self.selected:
            self._select(change["new"])

    @guarded("layers")
    def _on_list_value(self, change: dict) -> None:
        if not self._busy and change["new"] is not None and change["new"] != self.selected:
            self.panels["header"]["layer"].value = change["new"]

    @guarded("layers")
    def _on_filter_value(self, change: dict) -> None:
        if not self._busy:
            self._fill_layer_list()

    @guarded("header")
    def _on_cnn_format_value(self, change: dict) -> None:
        if change["new"] != self.session.options.cnn_format:
            self.session.set_cnn_format(change["new"])
            self._reconvert()

    def _select(self, name: str) -> None:
        self.selected = name
        layers = self.panels["layers"]
        if layers["list"].value != name and any(v == name for _, v in layers["list"].options):
            self._busy = True
            try:
                layers["list"].value = name
            finally:
                self._busy = False
        layers["selected"].value = P.selected_html(self.row)
        self._stale = set(TABS) - {"layers"}
        self._draw_visible()

    def _draw_visible(self) -> None:
        name = TABS[self.tabs.selected_index or 0]
        if name in self._stale:
            self._stale.discard(name)
            draw = getattr(self, f"_draw_{name}", None)
            if draw is not None:
                draw()

    # ---- Inspector -----------------------------------------------------------------------------------

    @guarded("inspector")
    def _draw_inspector(self) -> None:
        panel, row = self.panels["inspector"], self.row
        panel["error"].value = ""
        if row is None:
            return
        record = row.record
        panel["heading"].value = P.selected_html(row)
        panel["keras"].value = P.keras_html(record)
        panel["weights"].value = P.weights_table_html(record.get("weights", []))
        if row.status == INPUT:
            name = row.name
            act = dict(self.conversion.inputs).get(name) if self.conversion is not None else None
            panel["dl4j"].value = (f"<div>network input <code>{P.esc(name)}</code>"
                                   + (f", DL4J format {P.esc(act.dl4j_format or act.kind)}" if act else "")
                                   + "</div>")
        elif self.conversion is None:
            panel["dl4j"].value = ("<div>not converted: the model has a layer without a mapping</div>"
                                   + P.error_html(self.conversion_error))
        else:
            nodes = {n.name: n.inputs for n in self.conversion.nodes}
            panel["dl4j"].value = "<hr>".join(P.dl4j_html(k, self.conversion.mapped[k], nodes.get(k))
                                              for k in row.keys) or "<div>no DL4J counterpart</div>"

    # ---- Mapping -------------------------------------------------------------------------------------

    @guarded("mapping")
    def _draw_mapping(self) -> None:
        panel, row = self.panels["mapping"], self.row
        panel["error"].value = ""
        if row is None:
            return
        text = P.selected_html(row)
        if row.status in (NEEDS_MAPPING, UNSUPPORTED) and self.conversion_error is not None:
            text += P.error_html(self.conversion_error)
        elif row.status == INPUT:
            text += "<div>a model input: nothing to map</div>"
        elif self.conversion is not None:
            classes = sorted({P.short_class((self.conversion.mapped[k].layer or self.conversion.mapped[k].vertex
                                             or {}).get("@class")) or "(vanishes)" for k in row.keys})
            text += f"<div>mapped to DL4J {P.esc(', '.join(classes))}</div>"
        panel["status"].value = text
        if not self.mapping_editor:
            return
        mappings = self.session.mappings
        panel["current"].value = P.mappings_html(mappings)
        class_key = row.class_name
        self._busy = True
        try:
            panel["target"].options = [(f"every {class_key}", class_key), (f"only layer {row.name}", row.name)]
            panel["target"].value = row.name if row.name in mappings else class_key
            if not panel["pick"].options:
                from workbench.mappers import supported_layers
                panel["pick"].options = [n for n in supported_layers() if ">" not in n]
            spec = mappings.get(panel["target"].value, {})
            kind = next((k for k in ("expression", "pick", "code") if k in spec), panel["kind"].value or "expression")
            panel["kind"].value = kind
            if "expression" in spec:
                panel["expression"].value = spec["expression"]
            if "code" in spec:
                panel["code"].value = spec["code"]
            if "pick" in spec:
                panel["pick"].value = spec["pick"] if spec["pick"] in panel["pick"].options else None
                panel["pick_config"].value = json.dumps(spec.get("config") or {}) if spec.get("config") else ""
                panel["pick_weights"].value = json.dumps(spec.get("weights") or {}) if spec.get("weights") else ""
        finally:
            self._busy = False
        P.show_mapping_kind(panel, panel["kind"].value)
        panel["result"].value = ""
        panel["suggest"].disabled = not hasattr(self.session, "suggest")
        if not panel["path"].value:
            panel["path"].value = str(Path(self.panels["export"]["folder"].value) /
                                      f"{Path(self.session.path).stem}.mapping.json")

    @guarded("mapping")
    def _on_kind_value(self, change: dict) -> None:
        P.show_mapping_kind(self.panels["mapping"], change["new"])

    def _mapping_spec(self) -> dict[str, Any]:
        """The mapping the editor describes, as ``Session.set_mapping`` takes it."""
        panel = self.panels["mapping"]
        kind = panel["kind"].value
        if kind == "expression":
            return {"expression": panel["expression"].value.strip()}
        if kind == "code":
            return {"code": panel["code"].value.strip()}
        spec: dict[str, Any] = {"pick": panel["pick"].value}
        for field_name, widget in (("config", panel["pick_config"]), ("weights", panel["pick_weights"])):
            text = widget.value.strip()
            if text:
                try:
                    spec[field_name] = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise MappingError(f"the pick {field_name} is not valid JSON", expected='e.g. {"units": 8}',
                                       received=f"{text!r} ({exc.msg} at column {exc.colno})") from None
        return spec

    @guarded("mapping")
    def _on_apply_click(self, _button: W.Button) -> None:
        panel = self.panels["mapping"]
        panel["error"].value = ""
        key = panel["target"].value
        self.session.set_mapping(key, self._mapping_spec())
        self._after_mapping_change(f"mapping for <code>{P.esc(key)}</code> applied")

    @guarded("mapping")
    def _on_remove_click(self, _button: W.Button) -> None:
        panel = self.panels["mapping"]
        panel["error"].value = ""
        key = panel["target"].value
        self.session.remove_mapping(key)
        self._after_mapping_change(f"mapping for <code>{P.esc(key)}</code> removed")

    def _after_mapping_change(self, message: str) -> None:
        self._reconvert()  # redraws the mapping panel too (it is the visible one)
        self._draw_mapping()
        self._stale.discard("mapping")
        self.panels["mapping"]["result"].value = f"<div>{message}</div>"

    @guarded("mapping")
    def _on_test_click(self, _button: W.Button) -> None:
        panel = self.panels["mapping"]
        panel["error"].value, panel["result"].value = "", "<div>running Keras and the layer alone…</div>"
        if self.inputs is None:
            self.inputs = self.session.sample_inputs()
        key = (self.row.keys or (self.selected,))[0]
        try:
            d = self.session.test_layer(key, self.inputs)
        except Exception:
            panel["result"].value = ""
            raise
        panel["result"].value = P.diff_html(key, d, float(self.panels["verify"]["atol"].value))

    @guarded("mapping")
    def _on_suggest_click(self, _button: W.Button) -> None:
        panel = self.panels["mapping"]
        panel["error"].value, panel["result"].value = "", "<div>trying weight transforms…</div>"
        spec = self._mapping_spec()
        if self.inputs is None:
            self.inputs = self.session.sample_inputs()
        try:
            ranked = self.session.suggest(self.selected, spec["pick"], spec.get("config"), inputs=self.inputs)
        except Exception:
            panel["result"].value = ""
            raise
        panel["suggestions"].options = [(f"max|Δ| {err:.3g} · {json.dumps(s.get('weights', {}))}", i)
                                        for i, (s, err) in enumerate(ranked)]
        self._suggested = [s for s, _ in ranked]
        panel["result"].value = f"<div>{len(ranked)} candidates, best first</div>"

    @guarded("mapping")
    def _on_use_click(self, _button: W.Button) -> None:
        panel = self.panels["mapping"]
        if panel["suggestions"].value is None:
            return
        spec = self._suggested[panel["suggestions"].value]
        panel["pick_config"].value = json.dumps(spec.get("config") or {}) if spec.get("config") else ""
        panel["pick_weights"].value = json.dumps(spec.get("weights") or {})
        self._on_apply_click(_button)

    @guarded("mapping")
    def _on_save_click(self, _button: W.Button) -> None:
        panel = self.panels["mapping"]
        panel["error"].value = ""
        Path(panel["path"].value).expanduser().parent.mkdir(parents=True, exist_ok=True)
        path = self.session.save_mapping(Path(panel["path"].value).expanduser())
        panel["file_result"].value = P.written_html([path])

    @guarded("mapping")
    def _on_load_click(self, _button: W.Button) -> None:
        panel = self.panels["mapping"]
        panel["error"].value = ""
        self.session.load_mapping(Path(panel["path"].value).expanduser())
        self._after_mapping_change(f"mapping file {P.esc(panel['path'].value)} loaded")

    # ---- Weights -------------------------------------------------------------------------------------

    def _traces(self) -> list[tuple[str, Any]]:
        """(label, steps) for every weight of the selected layer: DL4J traces, or the Keras weights alone."""
        row = self.row
        if row is None:
            return []
        out = []
        if self.conversion is not None and row.keys:
            for key in row.keys:
                for param in self.conversion.mapped[key].params:
                    last = param.trace.steps[-1]
                    label = f"{key}: {param.key} ← {param.trace.source}  {tuple(last.shape)}"
                    out.append((label, param.trace.steps))
            return out
        if row.depth == 0 and row.record.get("weights"):
            from workbench.mappers.transforms import keras_weight
            spec = self.session.model.layer(row.name)
            for w in row.record["weights"]:
                value = spec.weight(w["name"]).read()
                axes = tuple(f"axis{i}" for i in range(value.ndim))
                why = "not mapped yet" if row.status in (NEEDS_MAPPING, UNSUPPORTED) else "the model does not convert yet"
                out.append((f"{w['name']} (Keras only: {why})  {tuple(value.shape)}",
                            keras_weight(w["name"], value, axes).steps))
        return out

    @guarded("weights")
    def _draw_weights(self) -> None:
        panel = self.panels["weights"]
        panel["error"].value = ""
        self._weights = self._traces()
        self._busy = True
        try:
            panel["param"].options = [(label, i) for i, (label, _) in enumerate(self._weights)]
            panel["param"].value = self._default_weight()
        finally:
            self._busy = False
        if not self._weights:
            for name in ("steps", "histogram", "difference"):
                P.set_image(panel[name], None)
            panel["sliders"].children = ()
            panel["steps_doc"].value = ""
            panel["diff_a"].options, panel["diff_b"].options = [], []
            panel["message"].value = P.note_html("this layer has no weights")
            return
        panel["message"].value = ("" if self.conversion is not None else
                                  P.note_html("Keras side only: the DL4J layout appears once the model converts"))
        self._on_param_value({"new": panel["param"].value})

    def _default_weight(self) -> int | None:
        """The weight shown first: the one with most axes, then the biggest (a kernel before its bias)."""
        if not self._weights:
            return None
        return max(range(len(self._weights)),
                   key=lambda i: (len(self._weights[i][1][0].shape), int(np.prod(self._weights[i][1][0].shape)), -i))

    @guarded("weights")
    def _on_param_value(self, change: dict) -> None:
        if self._busy or change["new"] is None:
            return
        panel = self.panels["weights"]
        steps = self._weights[change["new"]][1]
        first = steps[0]
        drawn = self._drawn_axes(first.axes)
        sliders = []
        for axis, size in zip(first.axes, first.shape):
            if axis not in drawn:
                slider = W.IntSlider(value=0, min=0, max=size - 1, description=axis, continuous_update=False,
                                     layout=W.Layout(width="260px"))
                slider.observe(self._on_slider_value, names="value")
                sliders.append(slider)
        panel["sliders"].children = tuple(sliders)
        labels = [(f"{i}: {s.name} {tuple(s.shape)}", i) for i, s in enumerate(steps)]
        self._busy = True
        try:
            panel["diff_a"].options, panel["diff_b"].options = labels, labels
            panel["diff_a"].value, panel["diff_b"].value = 0, len(steps) - 1
        finally:
            self._busy = False
        self._draw_weight_figures()
        panel["steps_doc"].value = P.steps_html(steps)  # last: the text and its figures change together

    @staticmethod
    def _drawn_axes(axes: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(axes[-2:]) if len(axes) > 2 else tuple(axes)

    def _slice(self, step) -> dict[str, int]:
        """The slider positions, clamped to this step's sizes (a later step may name axes differently)."""
        out = {}
        for slider in self.panels["weights"]["sliders"].children:
            if slider.description in step.axes:
                size = step.shape[step.axes.index(slider.description)]
                out[slider.description] = min(slider.value, size - 1)
        return out

    @guarded("weights")
    def _on_slider_value(self, change: dict) -> None:
        self._draw_weight_figures()

    @guarded("weights")
    def _on_diff_value(self, change: dict) -> None:
        if not self._busy:
            self._draw_weight_figures(steps_too=False)

    @guarded("weights")
    def _draw_weight_figures(self, steps_too: bool = True) -> None:
        panel = self.panels["weights"]
        if panel["param"].value is None:
            return
        steps = [s for s in self._weights[panel["param"].value][1]]
        if steps_too:
            kept = [s for s in steps if s.value is not None]
            fig = Figure(figsize=(min(4.2 * len(kept), 13), 3.4), dpi=90)
            axes = np.atleast_1d(fig.subplots(1, len(kept)))
            for i, (ax, step) in enumerate(zip(axes, kept)):
                title = ("Keras, as stored" if i == 0 and step.name == "keras" else
                         f"DL4J · {step.name}" if i == len(kept) - 1 else f"step {i} · {step.name}")
                plot_tensor(ax, step.value, step.axes, title=title,
                            slice_index=self._slice(step), colorbar=True)
            fig.tight_layout()
            P.set_image(panel["steps"], figure_png(fig))
            fig = Figure(figsize=(6, 2.6), dpi=90)
            plot_histogram(fig.subplots(), steps[-1].value)
            fig.tight_layout()
            P.set_image(panel["histogram"], figure_png(fig))
        a, b = steps[panel["diff_a"].value or 0], steps[panel["diff_b"].value or 0]
        fig = Figure(figsize=(5.5, 3.4), dpi=90)
        ax = fig.subplots()
        b_value, note = b.value, f"{a.name} − {b.name}"
        if a.axes != b.axes and sorted(a.axes) == sorted(b.axes):
            b_value = np.transpose(b.value, [b.axes.index(n) for n in a.axes])
            note += f" (re-laid out in [{', '.join(a.axes)}])"
        plot_difference(ax, a.value, b_value, a.axes, slice_index=self._slice(a), title=note, colorbar=True)
        fig.tight_layout()
        P.set_image(panel["difference"], figure_png(fig))

    # ---- Verify --------------------------------------------------------------------------------------

    @guarded("verify")
    def _on_run_reference_click(self, _button: W.Button) -> None:
        self._run_verify(dl4j=False)

    @guarded("verify")
    def _on_run_dl4j_click(self, _button: W.Button) -> None:
        self._run_verify(dl4j=True)

    @guarded("verify")
    def _run_verify(self, dl4j: bool) -> None:
        panel = self.panels["verify"]
        panel["error"].value = ""
        panel["summary"].value = "<div>running " + ("Keras, the NumPy reference and real DL4J…" if dl4j
                                                     else "Keras and the NumPy reference…") + "</div>"
        buttons = (panel["run_reference"], panel["run_dl4j"])
        for b in buttons:
            b.disabled = True
        try:
            if self.inputs is None:
                self.inputs = self.session.sample_inputs()
            self.report = None
            self.report = self.session.verify(self.inputs, dl4j=dl4j, atol=float(panel["atol"].value))
            self.report_dl4j = dl4j
        except Exception:
            panel["summary"].value = ""
            raise
        finally:
            for b in buttons:
                b.disabled = False
        self._update_rows()
        self._stale = set(TABS) - {"layers"}
        self._draw_verify(fresh=True)

    @guarded("verify")
    def _draw_verify(self, fresh: bool = False) -> None:
        self._stale.discard("verify")
        panel, report = self.panels["verify"], self.report
        if report is None:
            panel["summary"].value = ("<div>press a button to compare every layer with Keras</div>"
                                      if not panel["summary"].value.startswith("<div>running") else "")
            P.set_image(panel["chart"], None)
            P.set_image(panel["outputs"], None)
            panel["table"].value = ""
            panel["layer"].options = []
            return
        fig = Figure(figsize=(min(max(6.0, 0.35 * len(report.layers) + 3), 14), 3.8), dpi=90)
        plot_layer_errors(fig.subplots(), report, atol=report.atol)
        fig.tight_layout()
        P.set_image(panel["chart"], figure_png(fig))
        panel["table"].value = P.report_table_html(report)
        names = [c.name for c in report.layers if c.status != "folded"]
        row = self.row
        want = next((k for k in (row.keys if row else ()) if k in names), None)
        if fresh and report.first_divergence:  # a new run: show where it goes wrong first
            want = report.first_divergence
        want = want or report.first_divergence or (names[0] if names else None)
        self._busy = True
        try:
            panel["layer"].options = names
            panel["layer"].value = want
        finally:
            self._busy = False
        self._on_output_layer_value({"new": want})
        panel["summary"].value = P.report_summary_html(report, self.report_dl4j)  # last: all is drawn

    def layer_outputs(self, key: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Keras's output of one layer (call) and the NumPy reference's (DL4J semantics), both in Keras layout."""
        return self.session.layer_outputs(key, self.inputs)

    @guarded("verify")
    def _on_output_layer_value(self, change: dict) -> None:
        if self._busy or change["new"] is None or self.report is None:
            return
        panel = self.panels["verify"]
        keras, ours = self.layer_outputs(change["new"])
        self._output_pair = (change["new"], keras, ours)
        rank = np.ndim(keras) if keras is not None else 2
        sliders = []
        for axis in OUTPUT_SLIDERS.get(rank, ()):
            size = np.shape(keras)[OUTPUT_AXES[rank].index(axis)]
            slider = W.IntSlider(value=0, min=0, max=size - 1, description=axis, continuous_update=False,
                                 layout=W.Layout(width="240px"))
            slider.observe(self._on_output_slider_value, names="value")
            sliders.append(slider)
        panel["sliders"].children = tuple(sliders)
        self._draw_outputs()

    @guarded("verify")
    def _on_output_slider_value(self, change: dict) -> None:
        self._draw_outputs()

    @guarded("verify")
    def _draw_outputs(self) -> None:
        panel = self.panels["verify"]
        key, keras, ours = self._output_pair
        if keras is None:
            P.set_image(panel["outputs"], None)
            return
        keras = np.asarray(keras)
        axes_names = OUTPUT_AXES.get(keras.ndim, tuple(f"axis{i}" for i in range(keras.ndim)))
        where = {s.description: s.value for s in panel["sliders"].children}
        fig = Figure(figsize=(13, 3.4), dpi=90)
        ax_k, ax_d, ax_diff = fig.subplots(1, 3)
        plot_tensor(ax_k, keras, axes_names, title=f"Keras · {key}", slice_index=where, colorbar=True)
        if ours is None:
            for ax in (ax_d, ax_diff):
                ax.set_axis_off()
            ax_d.text(0.5, 0.5, "no DL4J output for this layer", ha="center", va="center", transform=ax_d.transAxes)
        else:
            ours = np.asarray(ours)
            if ours.shape == keras.shape:
                plot_tensor(ax_d, ours, axes_names, title="DL4J (NumPy reference, Keras layout)",
                            slice_index=where, colorbar=True)
            else:
                ax_d.set_axis_off()
                ax_d.text(0.5, 0.5, f"DL4J output shape {ours.shape}", ha="center", va="center",
                          transform=ax_d.transAxes)
            plot_difference(ax_diff, ours, keras, axes_names, slice_index=where, title="DL4J − Keras",
                            colorbar=True)
        fig.tight_layout()
        P.set_image(panel["outputs"], figure_png(fig))

    # ---- Export --------------------------------------------------------------------------------------

    @guarded("export")
    def _on_export_click(self, _button: W.Button) -> None:
        panel = self.panels["export"]
        panel["error"].value, panel["written"].value = "", ""
        folder = Path(panel["folder"].value).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(self.session.path).stem
        jobs: list[tuple[str, Callable[[], Any]]] = []
        if panel["zip"].value:
            jobs.append(("zip", lambda: self.session.export_zip(folder / f"{stem}.zip")))
        if panel["json"].value:
            jobs.append(("json", lambda: self.session.export_json(folder / f"{stem}.configuration.json")))
        if panel["java"].value and self._java_export is not None:
            jobs.append(("java", lambda: self._java_export(folder / "java")))
        if panel["mapping"].value and hasattr(self.session, "save_mapping"):
            jobs.append(("mapping", lambda: self.session.save_mapping(folder / f"{stem}.mapping.json")))
        panel["progress"].max, panel["progress"].value = max(1, len(jobs)), 0
        panel["progress"].bar_style = ""
        written: list[str] = []
        try:
            for name, job in jobs:
                result = job()
                results = result if isinstance(result, (list, tuple)) else [result]
                written.extend(str(p) for p in results if p is not None)
                panel["progress"].value += 1
                panel["written"].value = P.written_html(written)
        except Exception:
            panel["progress"].bar_style = "danger"
            raise
        panel["progress"].bar_style = "success" if jobs else ""
        panel["written"].value = P.written_html(written)
        if not jobs:
            panel["written"].value = P.note_html("nothing selected")
        self.written = written


def _with_status(row: Row, status: str) -> Row:
    return replace(row, status=status)


__all__ = ["Workbench", "Row", "TABS"]
