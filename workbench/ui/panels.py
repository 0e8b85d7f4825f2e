"""The Workbench's panels: one builder per panel, returning the panel and its widgets by name.

A builder only lays widgets out; it holds no logic and calls nothing. ``app.Workbench`` wires the
handlers (``_on_<widget>_<event>``), each of which makes one ``Session`` call and hands the result to
the ``show_*`` / ``*_html`` helpers here, which turn plain data into widget values (HTML, PNG).

    panel = weights_panel()
    panel.widget          # the box to put in a tab
    panel["param"]        # a named widget (tests set .value / call .click() on these)
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as W

# Layer statuses, in the order the filter lists them.
INPUT, MAPPED, NEEDS_MAPPING, UNSUPPORTED, VERIFIED, DIVERGES = (
    "input", "mapped", "needs a mapping", "unsupported", "verified", "diverges")
STATUSES = (MAPPED, NEEDS_MAPPING, UNSUPPORTED, VERIFIED, DIVERGES, INPUT)
STATUS_COLOURS = {  # (text, background)
    INPUT: ("#555555", "#eeeeee"),
    MAPPED: ("#0b4f8a", "#dcebf8"),
    NEEDS_MAPPING: ("#8a4b00", "#ffe8c7"),
    UNSUPPORTED: ("#6b1d6b", "#f1dcf1"),
    VERIFIED: ("#1b6b2a", "#d9f2dd"),
    DIVERGES: ("#9b0018", "#fbdadd"),
}
NBSP = "\u00a0"

CSS = """
<style>
.wb-app { font-size: 13px; }
.wb-app .wb-title { font-size: 15px; font-weight: 600; }
.wb-badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 11px; font-weight: 600;
            white-space: nowrap; }
""" + "".join(f".wb-s-{key} {{ color: {fg}; background: {bg}; }}\n"
              for key, (fg, bg) in ((s.replace(' ', '-'), c) for s, c in STATUS_COLOURS.items())) + """
.wb-layer-list select, .wb-mono { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 12px; }
.wb-error { color: #9b0018; background: #fdecee; border-left: 3px solid #9b0018; padding: 4px 8px;
            white-space: pre-wrap; font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; }
.wb-note { color: #555; font-style: italic; }
.wb-app table.wb-table { border-collapse: collapse; font-size: 12px; }
.wb-app table.wb-table td, .wb-app table.wb-table th { border-bottom: 1px solid #ddd; padding: 2px 8px;
            text-align: left; }
.wb-app pre.wb-json { max-height: 320px; overflow: auto; background: #f7f7f7; padding: 6px; font-size: 11px; }
.wb-ok { color: #1b6b2a; font-weight: 600; }
.wb-bad { color: #9b0018; font-weight: 600; }
</style>
"""


@dataclass
class Panel:
    """A panel's outer box and its widgets by name."""

    widget: W.Widget
    w: dict[str, W.Widget] = field(default_factory=dict)

    def tagged(self, panel: str) -> "Panel":
        """Give the box and each widget a CSS class (``wb-panel-verify``, ``wb-verify-run_reference``), so
        a page (and a browser test) can find them."""
        self.widget.add_class(f"wb-panel-{panel}")
        for name, widget in self.w.items():
            widget.add_class(f"wb-{panel}-{name}")
        return self

    def __getitem__(self, name: str) -> W.Widget:
        return self.w[name]

    def __contains__(self, name: str) -> bool:
        return name in self.w


def esc(text: Any) -> str:
    return html.escape(str(text))


def status_class(status: str) -> str:
    return "wb-s-" + status.replace(" ", "-")


def badge(status: str) -> str:
    """A coloured status pill (``<span class="wb-badge wb-s-verified">verified</span>``)."""
    return f'<span class="wb-badge {status_class(status)}">{esc(status)}</span>'


def error_html(exc: BaseException | str) -> str:
    """An error as the API worded it, in a red box (empty string for no error)."""
    if not exc:
        return ""
    text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    if isinstance(exc, BaseException) and type(exc).__module__.split(".")[0] != "workbench":
        text = f"{type(exc).__name__}: {text}"
    return f'<div class="wb-error">{esc(text)}</div>'


def note_html(text: str) -> str:
    return f'<div class="wb-note">{esc(text)}</div>'


def _image() -> W.Image:
    # flex-start: in a VBox an image would otherwise stretch to the full width (and blur)
    return W.Image(format="png", layout=W.Layout(max_width="100%", height="auto", align_self="flex-start",
                                                 display="none"))


def set_image(image: W.Image, png: bytes | None) -> None:
    """Show a PNG, or hide the image when there is none (an empty image shows as a broken icon)."""
    image.value = png or b""
    image.layout.display = "" if png else "none"


def _error() -> W.HTML:
    return W.HTML("")


# ---- header ----------------------------------------------------------------------------------------


def header_panel() -> Panel:
    title = W.HTML("")
    layer = W.Dropdown(description="Layer", options=[], layout=W.Layout(width="320px"))
    cnn_format = W.ToggleButtons(options=["NHWC", "NCHW"],
                                 tooltips=["DL4J's importer default since beta7: no permutation at Flatten",
                                           "DL4J's classic layout: Dense rows after Flatten are permuted"],
                                 style={"button_width": "64px"}, layout=W.Layout(width="auto"))
    error = _error()
    label = W.Label("CNN format", layout=W.Layout(margin="0 6px 0 24px"))
    box = W.VBox([W.HTML(CSS), title, W.HBox([layer, label, cnn_format], layout=W.Layout(align_items="center")),
                  error])
    return Panel(box, {"title": title, "layer": layer, "cnn_format": cnn_format,
                       "error": error}).tagged("header")


def title_html(model: dict[str, Any], n_rows: int) -> str:
    params = model.get("params")
    return (f'<div class="wb-title">{esc(model.get("name") or "model")} · {esc(model.get("class_name"))}</div>'
            f'<div>{esc(model.get("path"))} · Keras {esc(model.get("keras_version"))} ({esc(model.get("format"))})'
            f' · {n_rows} layers · {params:,} parameters</div>' if isinstance(params, int) else
            f'<div class="wb-title">{esc(model.get("name") or "model")}</div>')


# ---- Layers ----------------------------------------------------------------------------------------


def layers_panel() -> Panel:
    filter_ = W.ToggleButtons(options=[("all", "all")], description="Show", style={"button_width": "auto"})
    columns = W.HTML("")
    listing = W.Select(options=[], rows=16, layout=W.Layout(width="100%"))
    listing.add_class("wb-layer-list")
    colours = W.HTML("")
    selected = W.HTML("")
    message = W.HTML("")
    error = _error()
    box = W.VBox([filter_, columns, listing, colours, selected, message, error])
    return Panel(box, {"filter": filter_, "columns": columns, "list": listing, "colours": colours,
                       "selected": selected, "message": message, "error": error}).tagged("layers")


LAYER_COLUMNS = ((" ", 1), ("layer", 26), ("class", 20), ("output shape", 18), ("params", 10), ("status", 16))


def _pad(text: str, width: int, right: bool = False) -> str:
    text = text if len(text) <= width else text[:width - 1] + "…"
    return (text.rjust(width) if right else text.ljust(width)).replace(" ", NBSP)


def layer_label(row) -> str:
    """One monospace line of the layer list: ``● dense   Dense   (None, 64)   50,240   mapped``."""
    indent = "  " * row.depth
    return NBSP.join([
        "●", _pad(indent + row.name.rsplit("/", 1)[-1] if row.depth else row.name, 26), _pad(row.class_name, 20),
        _pad(row.shape, 18), _pad(f"{row.params:,}", 10, right=True), _pad(row.status, 16)])


def layer_columns_html() -> str:
    return '<div class="wb-mono" style="padding-left:4px;color:#555">' + NBSP.join(
        _pad(name, width, right=name == "params") for name, width in LAYER_COLUMNS) + "</div>"


def layer_colours_css(rows) -> str:
    """Colour each option of the layer list by its status (options can't hold HTML, CSS can reach them)."""
    rules = [f".wb-layer-list select option:nth-child({i}) {{ color: {STATUS_COLOURS[r.status][0]}; }}"
             for i, r in enumerate(rows, start=1) if r.status in STATUS_COLOURS]
    return "<style>" + "\n".join(rules) + "</style>"


def counts_html(counts: dict[str, int]) -> str:
    return " ".join(f"{badge(s)} {counts[s]}" for s in STATUSES if counts.get(s))


def selected_html(row) -> str:
    if row is None:
        return ""
    return (f'<b>{esc(row.name)}</b> · {esc(row.class_name)} · {esc(row.shape)} · {row.params:,} params '
            f'{badge(row.status)}')


# ---- Inspector -------------------------------------------------------------------------------------


def inspector_panel() -> Panel:
    heading = W.HTML("")
    keras = W.HTML("")
    weights = W.HTML("")
    dl4j = W.HTML("")
    error = _error()
    keras_box = W.VBox([W.HTML("<b>Keras</b>"), keras, weights], layout=W.Layout(width="50%"))
    dl4j_box = W.VBox([W.HTML("<b>DL4J</b>"), dl4j], layout=W.Layout(width="50%"))
    box = W.VBox([heading, W.HBox([keras_box, dl4j_box]), error])
    return Panel(box, {"heading": heading, "keras": keras, "weights": weights, "dl4j": dl4j,
                       "error": error}).tagged("inspector")


def keras_html(record: dict[str, Any]) -> str:
    inbound = ", ".join(record.get("inbound") or []) or "(none: a model input)"
    config = json.dumps(record.get("config", {}), indent=2, sort_keys=True, default=str)
    calls = record.get("calls", 1)
    extra = f" · called {calls} times" if calls and calls > 1 else ""
    return (f"<div>inbound: <code>{esc(inbound)}</code>{extra}</div>"
            f"<div>registered name: <code>{esc(record.get('registered_name'))}</code></div>"
            f'<details open><summary>config</summary><pre class="wb-json">{esc(config)}</pre></details>')


def weights_table_html(weights: list[dict[str, Any]]) -> str:
    if not weights:
        return "<div>no weights</div>"
    rows = "".join(f"<tr><td>{esc(w['name'])}</td><td>{esc(tuple(w['shape']))}</td><td>{esc(w['dtype'])}</td>"
                   f"<td><code>{esc(w.get('path', ''))}</code></td></tr>" for w in weights)
    return ('<table class="wb-table"><tr><th>weight</th><th>shape</th><th>dtype</th><th>stored at</th></tr>'
            f"{rows}</table>")


def short_class(cls: str | None) -> str:
    return (cls or "").rsplit(".", 1)[-1]


def dl4j_html(key: str, mapped, inputs: tuple[str, ...] | None) -> str:
    """What one Keras layer (call) became in DL4J: class, wiring, parameters with their steps, the JSON."""
    parts = [f"<div><b>{esc(key)}</b></div>"]
    if mapped.vanishes:
        parts.append("<div>vanishes in DL4J (no layer or vertex of its own)</div>")
    for kind, conf in (("layer", mapped.layer), ("vertex", mapped.vertex), ("preprocessor", mapped.preprocessor)):
        if conf:
            parts.append(f"<div>{kind}: <code>{esc(short_class(conf.get('@class')))}</code></div>")
    if inputs is not None:
        parts.append(f"<div>reads from: <code>{esc(', '.join(inputs))}</code></div>")
    if mapped.params:
        rows = "".join(
            f"<tr><td>{esc(p.key)}</td><td>{esc(p.trace.source)}</td><td>{esc(p.trace.steps[-1].shape)}</td>"
            f"<td>{esc(p.order)}</td><td>{esc(' → '.join(s.name for s in p.trace.steps))}</td></tr>"
            for p in mapped.params)
        parts.append('<table class="wb-table"><tr><th>DL4J</th><th>from Keras</th><th>shape</th><th>order</th>'
                     f"<th>steps</th></tr>{rows}</table>")
    for note in mapped.notes:
        parts.append(f'<div class="wb-note">{esc(note)}</div>')
    conf = {k: v for k, v in (("layer", mapped.layer), ("vertex", mapped.vertex),
                              ("preProcessor", mapped.preprocessor)) if v}
    if conf:
        text = json.dumps(conf if len(conf) > 1 else next(iter(conf.values())), indent=2, default=str)
        parts.append(f'<details><summary>DL4J JSON</summary><pre class="wb-json">{esc(text)}</pre></details>')
    return "".join(parts)


# ---- Mapping ---------------------------------------------------------------------------------------


def mapping_panel(editor: bool) -> Panel:
    """The selected layer's mapping status; with ``editor`` (the session offers custom mappings), the editor:
    map a layer (or every layer of its class) by an expression, by picking a built-in layer, or by code."""
    status = W.HTML("")
    error = _error()
    w: dict[str, W.Widget] = {"status": status, "error": error}
    children: list[W.Widget] = [status]
    if editor:
        def wide() -> W.Layout:  # one Layout per widget: a shared one would hide them all together
            return W.Layout(width="560px")

        w["current"] = W.HTML("")
        w["target"] = W.ToggleButtons(options=[], description="Applies to", style={"button_width": "auto"})
        w["kind"] = W.ToggleButtons(options=[("expression", "expression"), ("pick a layer", "pick"),
                                             ("Python function", "code")], description="Map by",
                                    style={"button_width": "auto"})
        w["expression"] = W.Text(placeholder="relu(x) * sigmoid(x)   ·   x * gamma + beta", description="Expression",
                                 layout=wide())
        w["pick"] = W.Dropdown(options=[], description="Keras class", layout=W.Layout(width="320px"))
        w["pick_config"] = W.Text(placeholder='{"units": 8}', description="config", layout=wide())
        w["pick_weights"] = W.Text(placeholder='{"kernel": {"from": "w", "transform": "transpose_2d"}}',
                                   description="weights", layout=wide())
        w["code"] = W.Text(placeholder="my_mappings.py:map_layer", description="Function", layout=wide())
        w["apply"] = W.Button(description="Apply mapping", button_style="primary", icon="check")
        w["remove"] = W.Button(description="Remove", icon="times")
        w["test"] = W.Button(description="Test layer", icon="flask",
                             tooltip="this layer alone, fed Keras's own input, against Keras's output")
        w["suggest"] = W.Button(description="Suggest weights", icon="magic",
                                tooltip="try the plausible weight transforms for the picked class, best first")
        w["suggestions"] = W.Dropdown(options=[], description="Suggestion", layout=wide())
        w["use"] = W.Button(description="Use suggestion", icon="check")
        w["result"] = W.HTML("")
        w["path"] = W.Text(description="Mapping file", layout=wide())
        w["save"] = W.Button(description="Save", icon="save")
        w["load"] = W.Button(description="Load", icon="folder-open")
        w["file_result"] = W.HTML("")
        w["pick_box"] = W.VBox([w["pick"], w["pick_config"], w["pick_weights"],
                                W.HBox([w["suggest"], w["suggestions"], w["use"]])])
        children += [w["current"], w["target"], w["kind"], w["expression"], w["pick_box"], w["code"],
                     W.HBox([w["apply"], w["remove"], w["test"]]), w["result"],
                     W.HTML("<b>Mapping file</b>"), W.HBox([w["path"], w["save"], w["load"]]), w["file_result"]]
    else:
        w["note"] = W.HTML(note_html("The mapping editor arrives with custom-layer support; until then a layer "
                                     "that needs a mapping is shown here with the converter's message."))
        children.append(w["note"])
    children.append(error)
    return Panel(W.VBox(children), w).tagged("mapping")


def show_mapping_kind(panel: Panel, kind: str) -> None:
    """Show only the inputs of one way of mapping."""
    for name, widget in (("expression", panel["expression"]), ("pick", panel["pick_box"]), ("code", panel["code"])):
        widget.layout.display = "" if name == kind else "none"


def mappings_html(mappings: dict[str, Any]) -> str:
    if not mappings:
        return "<div class='wb-note'>no custom mappings in this session yet</div>"
    rows = "".join(f"<tr><td><code>{esc(k)}</code></td><td><code>{esc(json.dumps(v, sort_keys=True))}</code></td></tr>"
                   for k, v in mappings.items())
    return f'<table class="wb-table"><tr><th>key</th><th>mapping</th></tr>{rows}</table>'


def diff_html(name: str, d, atol: float) -> str:
    """A ``Diff`` of one layer tested alone: verdict against ``atol`` and the numbers."""
    if not d.shapes_match:
        return (f'<div><b>{esc(name)}</b> {badge(DIVERGES)} shape {esc(d.shape)} ≠ Keras {esc(d.keras_shape)}'
                "</div>")
    ok = d.max_abs <= atol
    return (f"<div><b>{esc(name)}</b> alone, fed Keras's input: {badge(VERIFIED if ok else DIVERGES)} "
            f"max|Δ| {d.max_abs:.3g} (relative {d.max_rel:.3g}, atol {atol:g})</div>")


# ---- Weights ---------------------------------------------------------------------------------------


def weights_panel() -> Panel:
    param = W.Dropdown(description="Weight", options=[], layout=W.Layout(width="520px"))
    sliders = W.HBox([])
    steps_doc = W.HTML("")
    steps = _image()
    histogram = _image()
    diff_a = W.Dropdown(description="Compare", options=[], layout=W.Layout(width="360px"))
    diff_b = W.Dropdown(description="with", options=[], layout=W.Layout(width="360px"))
    difference = _image()
    message = W.HTML("")
    error = _error()
    box = W.VBox([param, sliders, steps_doc, steps, W.HTML("<b>Histogram</b>"), histogram,
                  W.HTML("<b>Difference</b>"), W.HBox([diff_a, diff_b]), difference, message, error])
    return Panel(box, {"param": param, "sliders": sliders, "steps_doc": steps_doc, "steps": steps,
                       "histogram": histogram, "diff_a": diff_a, "diff_b": diff_b, "difference": difference,
                       "message": message, "error": error}).tagged("weights")


def steps_html(steps) -> str:
    rows = "".join(f"<tr><td>{i}</td><td><code>{esc(s.name)}</code></td><td>[{esc(', '.join(s.axes))}]</td>"
                   f"<td>{esc(tuple(s.shape))}</td><td>{esc(s.doc)}</td></tr>" for i, s in enumerate(steps))
    return ('<table class="wb-table"><tr><th>#</th><th>step</th><th>axes</th><th>shape</th><th>what it does</th>'
            f"</tr>{rows}</table>")


# ---- Verify ----------------------------------------------------------------------------------------


def verify_panel() -> Panel:
    run_reference = W.Button(description="Run NumPy reference", button_style="primary", icon="play",
                             layout=W.Layout(width="210px"),
                             tooltip="Keras vs the NumPy reference with DL4J's semantics, layer by layer")
    run_dl4j = W.Button(description="Run real DL4J", icon="coffee", layout=W.Layout(width="170px"),
                        tooltip="also run the exported model in DL4J on the JVM (needs Java 17 + Maven)")
    atol = W.BoundedFloatText(value=1e-5, min=0.0, max=1.0, step=1e-6, description="atol",
                              layout=W.Layout(width="170px"))
    summary = W.HTML("")
    chart = _image()
    table = W.HTML("")
    layer = W.Dropdown(description="Outputs of", options=[], layout=W.Layout(width="320px"))
    sliders = W.HBox([])
    outputs = _image()
    error = _error()
    box = W.VBox([W.HBox([run_reference, run_dl4j, atol]), summary, error, chart, table,
                  W.HBox([layer, sliders]), outputs])
    return Panel(box, {"run_reference": run_reference, "run_dl4j": run_dl4j, "atol": atol, "summary": summary,
                       "chart": chart, "table": table, "layer": layer, "sliders": sliders, "outputs": outputs,
                       "error": error}).tagged("verify")


def report_summary_html(report, dl4j: bool) -> str:
    seconds = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(report.seconds.items()))
    runs = "Keras vs NumPy reference" + (" and real DL4J" if dl4j else "")
    if report.passed:
        verdict = '<span class="wb-ok">every layer within atol</span>'
    elif report.first_divergence:
        verdict = f'<span class="wb-bad">first divergence: {esc(report.first_divergence)}</span>'
    else:
        verdict = '<span class="wb-bad">not verified</span>'
    text = f"<div>{runs} (atol {report.atol:g}): {verdict} <span class='wb-note'>({seconds})</span></div>"
    if report.dl4j_error:
        text += error_html(f"DL4J: {report.dl4j_error}")
    return text


def report_table_html(report) -> str:
    def cell(d):
        if d is None:
            return "–"
        return f"shape {d.shape} ≠ {d.keras_shape}" if not d.shapes_match else f"{d.max_abs:.2e}"

    rows = []
    for c in report.layers:
        status = VERIFIED if c.status in ("ok", "folded") else (DIVERGES if c.status == "diverges" else c.status)
        shown = badge(status) if status in STATUS_COLOURS else esc(status)
        rows.append(f"<tr><td>{esc(c.name)}</td><td>{esc(c.class_name)}</td><td>{shown}</td>"
                    f"<td>{esc(cell(c.isolated))}</td><td>{esc(cell(c.propagated))}</td><td>{esc(cell(c.dl4j))}</td>"
                    f"<td class='wb-note'>{esc(c.note)}</td></tr>")
    return ('<details><summary>per-layer table</summary><table class="wb-table"><tr><th>layer</th><th>class</th>'
            "<th>status</th><th>isolated</th><th>propagated</th><th>real DL4J</th><th>note</th></tr>"
            + "".join(rows) + "</table></details>")


# ---- Export ----------------------------------------------------------------------------------------


def export_panel(*, java: bool, mapping: bool, folder: str) -> Panel:
    zip_ = W.Checkbox(value=True, description="DL4J model zip (ModelSerializer)", indent=False)
    json_ = W.Checkbox(value=True, description="configuration JSON", indent=False)
    java_ = W.Checkbox(value=False, disabled=not java, indent=False,
                       description="Java sources: the model's builder code and params/*.npy (java/)" if java
                       else "Java sources (not offered by this session)")
    mapping_ = W.Checkbox(value=False, disabled=not mapping, indent=False,
                          description="mapping file" + ("" if mapping else " (needs custom-layer support)"))
    folder_ = W.Text(value=folder, description="Output folder", layout=W.Layout(width="680px"),
                     style={"description_width": "initial"})
    export = W.Button(description="Export", button_style="primary", icon="download")
    progress = W.IntProgress(value=0, min=0, max=1, description="", layout=W.Layout(width="300px"))
    written = W.HTML("")
    error = _error()
    box = W.VBox([zip_, json_, java_, mapping_, folder_, W.HBox([export, progress]), written, error])
    return Panel(box, {"zip": zip_, "json": json_, "java": java_, "mapping": mapping_, "folder": folder_,
                       "export": export, "progress": progress, "written": written, "error": error}).tagged("export")


def written_html(paths) -> str:
    if not paths:
        return ""
    items = "".join(f'<li><code class="wb-written">{esc(p)}</code></li>' for p in paths)
    return f"<div>written:</div><ul>{items}</ul>"
