"""Plots of weights, activations and verification results: pure functions of an ``ax``.

Each function draws on the ``matplotlib.axes.Axes`` it is given and returns the artists it made
(the signature matplotlib's guide recommends); none touches pyplot's global state, so a long-lived
UI can draw into ``matplotlib.figure.Figure`` objects it owns::

    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 3))
    ax_keras, ax_dl4j = fig.subplots(1, 2)
    plot_tensor(ax_keras, kernel, ("kh", "kw", "in", "out"), title="Keras", slice_index={"kh": 0, "kw": 0})
    plot_tensor(ax_dl4j, W, ("out", "in", "kh", "kw"), title="DL4J", slice_index={"kh": 0, "kw": 0})

Tensors are drawn with a diverging colour map centred on 0, so a permutation shows as the same
colours moved, and a sign error as colours swapped.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import io

import numpy as np
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_tensor", "plot_histogram", "plot_difference", "plot_layer_errors", "slice_2d", "figure_png"]

TENSOR_CMAP = "RdBu_r"
ERROR_FLOOR = 1e-12  # an exact 0 is drawn here on the log scale

SERIES = (  # (LayerCheck attribute, legend label, marker, colour)
    ("isolated", "isolated (layer fed Keras's input)", "o", "#1f77b4"),
    ("propagated", "propagated (whole model, NumPy reference)", "s", "#ff7f0e"),
    ("dl4j", "real DL4J (whole model)", "^", "#2ca02c"),
)


def slice_2d(array: np.ndarray, axes_names: Sequence[str],
             slice_index: Mapping[str | int, int] | Sequence[int] | None = None
             ) -> tuple[np.ndarray, tuple[str, str], str]:
    """The 2-D slice of ``array`` to draw, the names of its (row, column) axes and a caption.

    Args:
        array: 0-D to N-D.
        axes_names: one name per axis of ``array``.
        slice_index: for 3-D and more, which index to take on every axis but two: either a mapping
            from axis name (or position) to index — the axes left out are the two drawn, in the
            array's order — or a sequence of indices for the leading ``ndim - 2`` axes. None takes
            index 0 of the leading axes. Axes beyond two that are left out are also taken at 0.

    Raises:
        ValueError: ``axes_names`` does not name every axis, or an index is out of range.
    """
    a = np.asarray(array)
    names = tuple(str(n) for n in axes_names)
    if len(names) != a.ndim:
        raise ValueError(f"{a.ndim}-D array but {len(names)} axis names {names}")
    if a.ndim == 0:
        return a.reshape(1, 1), ("", ""), ""
    if a.ndim == 1:
        return a.reshape(1, -1), ("", names[0]), ""
    if a.ndim == 2:
        return a, (names[0], names[1]), ""
    fixed: dict[int, int] = {}
    if isinstance(slice_index, Mapping):
        for key, index in slice_index.items():
            if isinstance(key, str) and key not in names:
                continue  # an axis this tensor does not have (another step's layout)
            fixed[names.index(key) if isinstance(key, str) else int(key)] = int(index)
    elif slice_index is not None:
        fixed = {axis: int(index) for axis, index in enumerate(slice_index)}
    free = [axis for axis in range(a.ndim) if axis not in fixed]
    for axis in free[:-2]:  # more than two axes left: take the leading ones at 0
        fixed[axis] = 0
    free = free[-2:]
    if len(free) < 2:
        raise ValueError(f"slice_index {slice_index!r} leaves {len(free)} axis of {names} to draw; 2 are needed")
    for axis, index in fixed.items():
        if not 0 <= index < a.shape[axis]:
            raise ValueError(f"index {index} out of range for axis '{names[axis]}' of size {a.shape[axis]}")
    index = tuple(fixed[axis] if axis in fixed else slice(None) for axis in range(a.ndim))
    caption = ", ".join(f"{names[axis]}={fixed[axis]}" for axis in sorted(fixed))
    return a[index], (names[free[0]], names[free[1]]), caption


def _symmetric_limit(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    limit = float(np.abs(finite).max()) if finite.size else 1.0
    return limit if limit > 0 else 1.0


def plot_tensor(ax, array: np.ndarray, axes_names: Sequence[str], *, title: str | None = None,
                slice_index: Mapping[str | int, int] | Sequence[int] | None = None,
                cmap: str = TENSOR_CMAP, colorbar: bool = False):
    """A heatmap of a 1-D or 2-D tensor, or of one 2-D slice of a 3-5-D one, with its axes named.

    The rows are the first drawn axis, the columns the second; each axis label gives the name and
    size (``in (96)``), and the title the full shape and the slice drawn (``kh=0, kw=2``).

    Returns:
        The ``AxesImage``.
    """
    a = np.asarray(array)
    data, (row_name, col_name), caption = slice_2d(a, axes_names, slice_index)
    data = np.asarray(data, dtype=np.float64)
    limit = _symmetric_limit(data)
    image = ax.imshow(data, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    for axis in (ax.xaxis, ax.yaxis):  # index ticks: whole numbers only
        axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"{col_name} ({data.shape[1]})" if col_name else "")
    ax.set_ylabel(f"{row_name} ({data.shape[0]})" if row_name else "")
    if a.ndim <= 1:
        ax.set_yticks([])
    shape = "[" + ", ".join(f"{n}={s}" for n, s in zip(axes_names, a.shape)) + "]"
    lines = [line for line in (title, shape, caption) if line]
    ax.set_title("\n".join(lines), fontsize=9)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return image


def plot_histogram(ax, array: np.ndarray, *, bins: int = 50, label: str | None = None, color: str | None = None):
    """A histogram of every finite value of ``array``, with its mean and standard deviation in the title.

    Returns:
        The ``BarContainer`` of the bars, or a ``Text`` saying there is nothing to count.
    """
    values = np.asarray(array, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
    _, _, bars = ax.hist(values, bins=bins, color=color, label=label)
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    ax.set_title(f"{values.size} values · mean {values.mean():.3g} · std {values.std():.3g}", fontsize=9)
    return bars


def plot_difference(ax, a: np.ndarray, b: np.ndarray, axes_names: Sequence[str], *,
                    slice_index: Mapping[str | int, int] | Sequence[int] | None = None, title: str | None = None,
                    colorbar: bool = False):
    """A heatmap of ``a - b`` (both in the same layout, named by ``axes_names``), max |a − b| in the title.

    Returns:
        The ``AxesImage``, or a ``Text`` when the shapes differ (the message names both shapes).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        ax.set_axis_off()
        return ax.text(0.5, 0.5, f"shapes differ:\n{a.shape} vs {b.shape}", ha="center", va="center",
                       transform=ax.transAxes, color="#b00020")
    d = a - b
    worst = float(np.abs(d).max()) if d.size else 0.0
    heading = f"max |a − b| = {worst:.3g}"
    return plot_tensor(ax, d, axes_names, title=f"{title}\n{heading}" if title else heading,
                       slice_index=slice_index, cmap="PuOr_r", colorbar=colorbar)


def _errors(report, attribute: str) -> np.ndarray:
    out = []
    for check in report.layers:
        d = getattr(check, attribute)
        out.append(np.nan if d is None else d.max_abs)
    return np.asarray(out, dtype=np.float64)


def plot_layer_errors(ax, report, *, atol: float) -> dict[str, Any]:
    """Each layer's max |DL4J − Keras| on a log scale: isolated, propagated and (if run) real DL4J.

    Layers without a value (folded into another, no Keras output) are gaps; an exact 0 is drawn at
    ``ERROR_FLOOR``; a shape mismatch (infinite error) as a red cross above every finite value. The
    tolerance is a dashed line and the first diverging layer a red band with its name.

    Args:
        report: a ``VerifyReport`` (``.layers`` of ``LayerCheck``, ``.first_divergence``).
        atol: the tolerance drawn (usually ``report.atol``).

    Returns:
        ``{"isolated": Line2D, "propagated": Line2D, "dl4j": Line2D | None, "atol": Line2D,
        "mismatch": PathCollection | None, "first_divergence": Rectangle | None}``.
    """
    names = [check.name for check in report.layers]
    x = np.arange(len(names))
    series = {attr: _errors(report, attr) for attr, *_ in SERIES}
    finite = np.concatenate([v[np.isfinite(v)] for v in series.values()] + [np.asarray([atol], float)])
    cap = max(float(finite.max()) * 10, atol * 100)
    artists: dict[str, Any] = {"dl4j": None, "mismatch": None, "first_divergence": None}
    bad_x, bad_y = [], []
    for attr, label, marker, color in SERIES:
        values = series[attr]
        if attr == "dl4j" and np.all(np.isnan(values)):
            continue
        inf = np.isinf(values)
        bad_x.extend(x[inf])
        bad_y.extend([cap] * int(inf.sum()))
        shown = np.where(inf, np.nan, np.where(values == 0, ERROR_FLOOR, values))
        (line,) = ax.plot(x, shown, marker=marker, linestyle="-", linewidth=1, markersize=5, color=color,
                          label=label)
        artists[attr] = line
    if bad_x:
        artists["mismatch"] = ax.scatter(bad_x, bad_y, marker="x", s=60, color="#b00020", zorder=5,
                                         label="shape mismatch")
    artists["atol"] = ax.axhline(atol, color="#555555", linestyle="--", linewidth=1, label=f"atol {atol:g}")
    ax.set_yscale("log")
    has_zero = any(np.any(values == 0) for values in series.values())
    positive = finite[finite > 0]
    low = ERROR_FLOOR if has_zero else min(float(positive.min()) if positive.size else atol, atol)
    ax.set_ylim(low / 3, cap * 3)
    ax.set_ylabel("max |DL4J − Keras|")
    if has_zero:
        ax.text(1.0, 0.0, f"an exact 0 is drawn at {ERROR_FLOOR:g}", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=7, color="#777777")
    ax.set_xlim(-0.5, max(len(names) - 0.5, 0.5))
    step = max(1, len(names) // 40)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(names[::step], rotation=60, ha="right", fontsize=8)
    diverging = {check.name for check in report.layers if check.status == "diverges"}
    for tick, name in zip(ax.get_xticklabels(), names[::step]):
        if name in diverging:
            tick.set_color("#b00020")
    first = report.first_divergence
    if first is not None:
        i = names.index(first)
        artists["first_divergence"] = ax.axvspan(i - 0.5, i + 0.5, color="#b00020", alpha=0.15, linewidth=0)
        ax.annotate(f"first divergence: {first}", xy=(i, atol), xytext=(4, 8), textcoords="offset points",
                    color="#b00020", fontsize=9)
        ax.set_title(f"first divergence at '{first}'", fontsize=10, color="#b00020")
    else:
        ax.set_title("every layer within atol" if names else "no layer checked", fontsize=10)
    ax.grid(True, which="major", axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return artists


def figure_png(fig, dpi: float | None = None, *, crop: bool = False) -> bytes:
    """A ``matplotlib.figure.Figure`` as PNG bytes (for ``widgets.Image`` or ``IPython.display.Image``).

    Lay the figure out first (``fig.tight_layout()``); ``crop=True`` also trims the margins, at the
    cost of a second layout pass (about twice the time).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, bbox_inches="tight" if crop else None)
    return buf.getvalue()
