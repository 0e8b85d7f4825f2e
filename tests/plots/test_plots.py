"""Plot functions draw on the Axes they are given and return their artists (Agg, no pyplot)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from workbench.check.verify import DIVERGES, FOLDED, OK, Diff, LayerCheck, VerifyReport  # noqa: E402
from workbench.plots import (ERROR_FLOOR, figure_png, plot_difference, plot_histogram,  # noqa: E402
                             plot_layer_errors, plot_tensor, slice_2d)


def axes():
    return Figure().subplots()


def test_a_2d_tensor_is_drawn_with_its_axis_names_and_sizes():
    ax = axes()
    kernel = np.arange(12.0).reshape(3, 4)
    image = plot_tensor(ax, kernel, ("in", "out"), title="Keras")
    assert isinstance(image, AxesImage)
    np.testing.assert_array_equal(image.get_array(), kernel)
    assert ax.get_ylabel() == "in (3)" and ax.get_xlabel() == "out (4)"
    assert "Keras" in ax.get_title() and "[in=3, out=4]" in ax.get_title()
    low, high = image.get_clim()
    assert low == -high == -11.0  # centred on 0: a sign error swaps colours


def test_a_1d_tensor_is_one_row():
    ax = axes()
    image = plot_tensor(ax, np.array([1.0, -2.0, 3.0]), ("out",))
    assert image.get_array().shape == (1, 3)
    assert ax.get_xlabel() == "out (3)" and ax.get_ylabel() == ""


def test_a_4d_kernel_is_sliced_by_axis_name_the_same_way_in_both_layouts():
    rng = np.random.default_rng(0)
    keras = rng.standard_normal((3, 3, 4, 6))  # kh, kw, in, out
    dl4j = np.transpose(keras, (3, 2, 0, 1))  # out, in, kh, kw
    where = {"kh": 1, "kw": 2}
    a = plot_tensor(axes(), keras, ("kh", "kw", "in", "out"), slice_index=where)
    ax = axes()
    b = plot_tensor(ax, dl4j, ("out", "in", "kh", "kw"), slice_index=where)
    np.testing.assert_array_equal(a.get_array(), keras[1, 2])
    np.testing.assert_array_equal(b.get_array(), keras[1, 2].T)  # the transposition, visible
    assert "kh=1, kw=2" in ax.get_title() and ax.get_ylabel() == "out (6)"


def test_slices_by_position_and_defaults():
    a = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    data, drawn, caption = slice_2d(a, "abcd", (1, 2))
    np.testing.assert_array_equal(data, a[1, 2])
    assert drawn == ("c", "d") and caption == "a=1, b=2"
    data, drawn, _ = slice_2d(a, "abcd")
    np.testing.assert_array_equal(data, a[0, 0])
    data, drawn, _ = slice_2d(a, "abcd", {"d": 4})  # three axes left: the leading one at 0
    np.testing.assert_array_equal(data, a[0, :, :, 4])
    assert drawn == ("b", "c")


@pytest.mark.parametrize("bad", [{"a": 5}, {"a": 0, "b": 0, "c": 0}])
def test_a_bad_slice_says_which_axis(bad):
    with pytest.raises(ValueError, match="axis|2 are needed"):
        plot_tensor(axes(), np.zeros((2, 3, 4)), ("a", "b", "c"), slice_index=bad)


def test_axis_names_must_match_the_rank():
    with pytest.raises(ValueError, match="3-D array but 2 axis names"):
        plot_tensor(axes(), np.zeros((2, 3, 4)), ("a", "b"))


def test_histogram_counts_every_finite_value():
    ax = axes()
    values = np.concatenate([np.linspace(-1, 1, 100), [np.nan, np.inf]])
    bars = plot_histogram(ax, values, bins=10)
    assert isinstance(bars, BarContainer) and len(bars) == 10
    assert sum(p.get_height() for p in bars) == 100
    assert ax.get_title().startswith("100 values")


def test_histogram_of_nothing_says_so():
    assert isinstance(plot_histogram(axes(), np.array([np.nan])), Text)


def test_difference_of_equal_shapes_and_of_different_ones():
    ax = axes()
    a = np.ones((2, 3))
    b = a.copy()
    b[1, 2] = 0.25
    image = plot_difference(ax, a, b, ("rows", "cols"))
    assert isinstance(image, AxesImage)
    assert image.get_array()[1, 2] == pytest.approx(0.75) and image.get_array().sum() == pytest.approx(0.75)
    assert "max |a − b| = 0.75" in ax.get_title()
    ax = axes()
    text = plot_difference(ax, a, np.ones((3, 2)), ("rows", "cols"))
    assert isinstance(text, Text) and "(2, 3) vs (3, 2)" in text.get_text()


def _diff(value, shape=(3, 4)):
    return Diff(value, value, shape, shape)


def report(dl4j: bool = False):
    layers = (
        LayerCheck("conv2d", "Conv2D", OK, _diff(1e-7), _diff(2e-7), _diff(3e-7) if dl4j else None),
        LayerCheck("flatten", "Flatten", FOLDED),
        LayerCheck("dense", "Dense", DIVERGES, _diff(0.4), _diff(0.5), _diff(0.5) if dl4j else None),
        LayerCheck("pool", "MaxPooling2D", OK, _diff(0.0), Diff(float("inf"), float("inf"), (3, 2), (3, 4))),
    )
    return VerifyReport(layers, 1e-5)


def test_layer_errors_draw_both_series_on_a_log_scale_and_mark_the_first_divergence():
    ax = axes()
    artists = plot_layer_errors(ax, report(), atol=1e-5)
    assert ax.get_yscale() == "log"
    iso, prop = artists["isolated"], artists["propagated"]
    assert isinstance(iso, Line2D) and isinstance(prop, Line2D)
    y = iso.get_ydata()
    assert y[0] == pytest.approx(1e-7) and np.isnan(y[1]) and y[2] == pytest.approx(0.4)
    assert y[3] == ERROR_FLOOR  # an exact 0 stays on the chart
    assert artists["dl4j"] is None
    assert isinstance(artists["mismatch"], PathCollection)  # the infinite (shape) error
    assert artists["atol"].get_ydata()[0] == 1e-5
    band = artists["first_divergence"]
    assert band.get_x() == pytest.approx(1.5) and band.get_width() == pytest.approx(1.0)
    assert "dense" in ax.get_title()
    ticks = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    assert ticks["dense"] == "#b00020" and ticks["conv2d"] != "#b00020"


def test_layer_errors_with_real_dl4j_and_no_divergence():
    ax = axes()
    artists = plot_layer_errors(ax, report(dl4j=True), atol=1.0)
    assert isinstance(artists["dl4j"], Line2D)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("real DL4J" in label for label in labels)
    ok = VerifyReport(report().layers[:2], 1e-5)
    ax = axes()
    artists = plot_layer_errors(ax, ok, atol=1e-5)
    assert artists["first_divergence"] is None and "within atol" in ax.get_title()


def test_a_figure_renders_to_png():
    fig = Figure(figsize=(4, 3))
    ax1, ax2 = fig.subplots(1, 2)
    plot_tensor(ax1, np.eye(3), ("a", "b"), colorbar=True)
    plot_layer_errors(ax2, report(), atol=1e-5)
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
