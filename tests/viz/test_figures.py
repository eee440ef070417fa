"""Matplotlib figures: what each function draws on small synthetic data, every input
check, and the atomic saver."""

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("pandas")

import matplotlib
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from propmap.viz._figures import (
    calibration_plot,
    latent_map,
    mixing_sweep,
    motif_contributions,
    parity_plot,
    save_figure,
    selection_curves,
)

matplotlib.use("Agg")


def legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def n_points(ax) -> int:
    return sum(len(collection.get_offsets()) for collection in ax.collections)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "propmap\[viz\]"'):
        latent_map(np.zeros((3, 2)))


# latent_map


def test_latent_map_numeric_values_colour_bar(rng):
    latent = rng.normal(size=(40, 3))
    values = rng.normal(size=40)
    figure = latent_map(
        latent, values, value_label="energy", axis_labels=("a", "b"), title="map"
    )
    assert isinstance(figure, Figure)
    ax, colour_bar = figure.axes
    assert colour_bar.get_ylabel() == "energy"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("a", "b", "map")
    (points,) = ax.collections
    np.testing.assert_array_equal(points.get_offsets(), latent[:, :2])
    np.testing.assert_array_equal(points.get_array(), values)
    assert ax.get_legend() is None


def test_latent_map_without_values(rng):
    figure = latent_map(rng.normal(size=(7, 2)))
    (ax,) = figure.axes
    assert n_points(ax) == 7
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "PCovR 1",
        "PCovR 2",
        "",
    )


def test_a_crowded_map_shows_the_mean_per_hexagon(rng):
    """Past 20,000 points: hexagons coloured by the mean of their points' values,
    the scale between the 1st and 99th percentiles (an outlier does not squeeze
    the rest into one colour); a marked point is still drawn on top."""
    from propmap.viz._figures import CROWDED

    n = CROWDED + 5_000
    latent = rng.normal(size=(n, 2))
    values = latent[:, 0] + 0.1 * rng.normal(size=n)
    values[0] = 1e3  # an outlier
    figure = latent_map(latent, values, value_label="gap (eV)", marked=np.zeros((1, 2)))
    ax, colour_bar = figure.axes
    assert colour_bar.get_ylabel() == "gap (eV), mean per hexagon"
    cells = ax.collections[0]
    assert isinstance(cells, PolyCollection)
    means = cells.get_array()
    # fewer hexagons than points, each the mean of its points: they follow the
    # values, which grow along x
    assert 500 < means.size < n
    assert cells.norm.vmax == pytest.approx(np.percentile(values, 99))
    assert cells.norm.vmin == pytest.approx(np.percentile(values, 1))
    centres = cells.get_offsets()
    assert np.corrcoef(centres[:, 0], means)[0, 1] > 0.8
    assert any(f"{n:,} points" in text.get_text() for text in ax.texts)
    assert legend_texts(ax) == ["new (1)"]


def test_a_crowded_map_without_values_counts_points(rng):
    from propmap.viz._figures import CROWDED

    figure = latent_map(rng.normal(size=(CROWDED + 1, 2)))
    ax, colour_bar = figure.axes
    assert colour_bar.get_ylabel() == "points per hexagon"
    assert ax.collections[0].get_array().sum() == CROWDED + 1


def test_latent_map_categorical_legend(rng):
    labels = np.array(["train", "test", "train", "valid", "test", "train"])
    figure = latent_map(
        rng.normal(size=(6, 2)), labels, value_label="set", categorical=True
    )
    (ax,) = figure.axes  # a legend, no colour bar
    assert legend_texts(ax) == ["test", "train", "valid"]
    assert ax.get_legend().get_title().get_text() == "set"
    assert [len(c.get_offsets()) for c in ax.collections] == [2, 3, 1]
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(colours) == 3


@pytest.mark.parametrize("n_categories", [4, 15, 25])
def test_latent_map_categorical_colours_are_distinct(rng, n_categories):
    labels = np.arange(2 * n_categories) % n_categories
    figure = latent_map(rng.normal(size=(labels.size, 2)), labels, categorical=True)
    (ax,) = figure.axes
    assert legend_texts(ax) == [str(i) for i in range(n_categories)]
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(colours) == n_categories
    assert n_points(ax) == labels.size


@pytest.mark.parametrize(
    ("latent", "match"),
    [
        (np.zeros(5), "latent must be 2-D"),
        (np.zeros((5, 1)), "at least two columns"),
        (np.zeros((0, 2)), "latent is empty"),
        (np.array([[0.0, 1.0], [np.nan, 2.0]]), "latent has 1 NaN or infinite"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "latent has 1 NaN or infinite"),
        ([["a", "b"], ["c", "d"]], "latent must hold numbers"),
    ],
)
def test_latent_map_bad_latent(latent, match):
    with pytest.raises(ValueError, match=match):
        latent_map(latent)


@pytest.mark.parametrize(
    ("values", "categorical", "match"),
    [
        (np.zeros(3), False, r"one entry per sample: latent has 4 rows"),
        (np.array([0.0, 1.0, np.nan, 2.0]), False, "values has 1 NaN"),
        (["a", "b", "a", "b"], False, "categorical=True"),
        (np.zeros((4, 2)), False, "values must be 1-D"),
        (["a", "b", "a"], True, r"one label per sample \(4\)"),
        (np.array([0.0, 1.0, np.nan, 2.0]), True, "NaN or infinite labels"),
        (np.array([1, "a", 2.0, None], dtype=object), True, "cannot be sorted"),
    ],
)
def test_latent_map_bad_values(values, categorical, match):
    with pytest.raises(ValueError, match=match):
        latent_map(np.zeros((4, 2)), values, categorical=categorical)


@pytest.mark.parametrize("axis_labels", ["ab", ("x",), ("x", "y", "z")])
def test_latent_map_axis_labels_must_be_a_pair(axis_labels):
    with pytest.raises(ValueError, match="axis_labels must be a pair"):
        latent_map(np.zeros((3, 2)), axis_labels=axis_labels)


# parity_plot


def r2(true, predicted) -> float:
    return 1 - np.sum((true - predicted) ** 2) / np.sum((true - true.mean()) ** 2)


def test_parity_plot_one_target(rng):
    y = rng.normal(size=30)
    predicted = y + 0.1 * rng.normal(size=30)
    figure = parity_plot(y, predicted.reshape(-1, 1), label="energy", title="fit")
    (ax,) = figure.axes
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "true energy",
        "predicted energy",
        "fit",
    )
    (points,) = ax.collections
    np.testing.assert_array_equal(points.get_offsets(), np.c_[y, predicted])
    mae = np.mean(np.abs(y - predicted))
    assert legend_texts(ax) == [
        f"R² = {r2(y, predicted):.3f}, MAE = {mae:.3g}",
        "y = x",
    ]
    (diagonal,) = ax.lines
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    low, high = diagonal.get_xdata()
    assert low < min(y.min(), predicted.min())
    assert high > max(y.max(), predicted.max())
    assert ax.get_xlim() == ax.get_ylim() == (low, high)


@pytest.mark.parametrize("form", ["masks", "indices", "names"])
def test_parity_plot_groups(rng, form):
    y = rng.normal(size=20)
    predicted = y + 0.2 * rng.normal(size=20)
    test = np.zeros(20, dtype=bool)
    test[[1, 4, 9, 15, 16]] = True
    groups = {
        "masks": {"train": ~test, "test": test},
        "indices": {"train": np.flatnonzero(~test), "test": np.flatnonzero(test)},
        "names": np.where(test, "test", "train"),
    }[form]
    (ax,) = parity_plot(y, predicted, groups=groups).axes
    subsets = {"train": ~test, "test": test}
    order = ["test", "train"] if form == "names" else ["train", "test"]
    expected = [
        f"{name} ({np.count_nonzero(subsets[name])}): "
        f"R² = {r2(y[subsets[name]], predicted[subsets[name]]):.3f}, MAE = "
        f"{np.mean(np.abs(y - predicted)[subsets[name]]):.3g}"
        for name in order
    ]
    assert legend_texts(ax) == [*expected, "y = x"]
    for name, points in zip(order, ax.collections, strict=True):
        np.testing.assert_array_equal(
            points.get_offsets(), np.c_[y, predicted][subsets[name]]
        )


def test_parity_plot_r2_undefined_for_one_sample():
    groups = {"many": np.array([0, 1, 2]), "one": np.array([3])}
    (ax,) = parity_plot([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0], groups=groups).axes
    assert legend_texts(ax)[1] == "one (1): R² n/a, MAE = 1"


def test_parity_plot_constant_values_get_a_visible_range():
    (ax,) = parity_plot([2.0, 2.0], [2.0, 2.0]).axes
    low, high = ax.get_xlim()
    assert low < 2.0 < high
    assert legend_texts(ax)[0] == "R² n/a, MAE = 0"


@pytest.mark.parametrize(
    ("n_targets", "label", "names"),
    [
        (2, "y", ["y (column 0)", "y (column 1)"]),
        (2, ["gap", "dipole"], ["gap", "dipole"]),
        (4, "y", [f"y (column {j})" for j in range(4)]),
    ],
)
def test_parity_plot_one_panel_per_target(rng, n_targets, label, names):
    y = rng.normal(size=(12, n_targets))
    figure = parity_plot(y, y + 0.1, label=label, title="all targets")
    assert len(figure.axes) == n_targets
    assert [ax.get_xlabel() for ax in figure.axes] == [f"true {n}" for n in names]
    assert [ax.get_ylabel() for ax in figure.axes] == [f"predicted {n}" for n in names]
    assert figure.get_suptitle() == "all targets"
    for j, ax in enumerate(figure.axes):
        np.testing.assert_array_equal(ax.collections[0].get_offsets()[:, 0], y[:, j])


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        (np.zeros(5), np.zeros(4), "same shape; got"),
        (np.zeros((5, 2)), np.zeros(5), "same shape; got"),
        (np.zeros((5, 2)), np.zeros((5, 3)), "same shape; got"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), "y_true must be 1-D or 2-D"),
        (np.zeros(0), np.zeros(0), "y_true is empty"),
        (np.zeros(3), [0.0, np.nan, 1.0], "y_pred has 1 NaN or infinite"),
    ],
)
def test_parity_plot_bad_arrays(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        parity_plot(y_true, y_pred)


def test_parity_plot_label_per_target():
    with pytest.raises(ValueError, match=r"one name per target \(2\); got 3"):
        parity_plot(np.zeros((3, 2)), np.zeros((3, 2)), label=["a", "b", "c"])


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ({}, "empty mapping"),
        ({"a": np.ones(3, dtype=bool)}, r"mask of group 'a' .* \(4\); got shape"),
        ({"a": np.array([0, 4])}, r"indices of group 'a' must lie in \[0, 4\)"),
        ({"a": np.array([-1, 2])}, r"indices of group 'a' must lie in \[0, 4\)"),
        ({"a": np.array([0.0, 1.0])}, "boolean mask or 1-D integer indices"),
        ({"a": np.ones(4, dtype=bool), "b": np.zeros(4, dtype=bool)}, "'b' selects"),
        ({"a": np.array([], dtype=int)}, "'a' selects no samples"),
        (["x", "y", "x"], r"one label per sample \(4\)"),
    ],
)
def test_parity_plot_bad_groups(groups, match):
    with pytest.raises(ValueError, match=match):
        parity_plot(np.arange(4.0), np.arange(4.0), groups=groups)


# mixing_sweep


def test_mixing_sweep_curves_sorted_by_mixing():
    mixings = np.array([0.5, 0.0, 1.0, 0.25])
    loss_x = np.array([0.3, 0.9, 0.1, 0.5])
    loss_y = np.array([0.2, 0.05, 0.8, 0.1])
    figure = mixing_sweep(mixings, loss_x, loss_y, chosen=0.25, title="sweep")
    (ax,) = figure.axes
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "mixing α",
        "loss",
        "sweep",
    )
    assert legend_texts(ax) == [
        "reconstruction of X, L_X",
        "prediction of Y, L_Y",
        "L_X + L_Y",
        "chosen α = 0.25",
    ]
    order = np.argsort(mixings)
    curve_x, curve_y, total, marker = ax.lines
    for line, expected in [
        (curve_x, loss_x),
        (curve_y, loss_y),
        (total, loss_x + loss_y),
    ]:
        np.testing.assert_array_equal(line.get_xdata(), mixings[order])
        np.testing.assert_array_equal(line.get_ydata(), expected[order])
    np.testing.assert_array_equal(marker.get_xdata(), [0.25, 0.25])


def test_mixing_sweep_without_chosen():
    (ax,) = mixing_sweep([0.0, 1.0], [1.0, 0.0], [0.0, 1.0]).axes
    assert len(ax.lines) == 3
    assert ax.get_title() == ""


@pytest.mark.parametrize(
    ("arguments", "chosen", "match"),
    [
        (([0.0, 1.0], [1.0], [1.0, 2.0]), None, "same length; got 2, 1 and 2"),
        (([0.0, 1.5, -0.1], [1.0] * 3, [1.0] * 3), None, r"\[1.5, -0.1\]"),
        (([0.0, 1.0], [1.0, 2.0], [1.0, 2.0]), 1.2, r"chosen must lie in \[0, 1\]"),
        (([0.0, 1.0], [1.0, 2.0], [1.0, 2.0]), "0.5", "chosen must be a number"),
        (([], [], []), None, "mixings is empty"),
        (([0.0, 1.0], [1.0, np.nan], [1.0, 2.0]), None, "loss_x has 1 NaN"),
        (([0.0, 1.0], [1.0, 2.0], [[1.0, 2.0]]), None, "loss_y must be 1-D"),
    ],
)
def test_mixing_sweep_bad_input(arguments, chosen, match):
    with pytest.raises(ValueError, match=match):
        mixing_sweep(*arguments, chosen=chosen)


# selection_curves


def test_selection_curves_lines_and_band(rng):
    counts = np.array([10, 2, 5])
    random = rng.uniform(size=(4, 3))
    errors = {"pcov-cur": [0.1, 0.5, 0.2], "cur": np.array([0.2, 0.6, 0.3])}
    figure = selection_curves(
        counts, {**errors, "random": random}, ylabel="RMSE", title="features"
    )
    (ax,) = figure.axes
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "number selected",
        "RMSE",
        "features",
    )
    assert legend_texts(ax) == [
        "pcov-cur",
        "cur",
        "random (mean of 4, min–max band)",
    ]
    order = np.argsort(counts)
    first, second, mean = ax.lines
    np.testing.assert_array_equal(first.get_xdata(), counts[order])
    np.testing.assert_array_equal(
        first.get_ydata(), np.array(errors["pcov-cur"])[order]
    )
    np.testing.assert_array_equal(second.get_ydata(), errors["cur"][order])
    np.testing.assert_allclose(mean.get_ydata(), random.mean(axis=0)[order])
    (band,) = (c for c in ax.collections if isinstance(c, PolyCollection))
    corners = band.get_paths()[0].vertices
    assert corners[:, 1].min() == pytest.approx(random.min())
    assert corners[:, 1].max() == pytest.approx(random.max())


@pytest.mark.parametrize(
    ("counts", "errors", "match"),
    [
        ([1, 2, 3], {"cur": [0.1, 0.2]}, r"errors\['cur'\] must have one value per"),
        ([1, 2, 3], {"r": np.zeros((2, 2))}, r"errors\['r'\] must have one value"),
        ([1, 2], {"r": np.zeros((2, 2, 2))}, r"errors\['r'\] must be 1-D or 2-D"),
        ([1, 2], {"r": np.zeros((0, 2))}, r"errors\['r'\] is empty"),
        ([1, 2], {"cur": [0.1, np.nan]}, r"errors\['cur'\] has 1 NaN"),
        ([1, 2], {}, "errors is an empty mapping"),
        ([1, 2], [[0.1, 0.2]], "errors must be a mapping"),
        ([], {"cur": []}, "counts is empty"),
        ([1, np.inf], {"cur": [0.1, 0.2]}, "counts has 1 NaN or infinite"),
    ],
)
def test_selection_curves_bad_input(counts, errors, match):
    with pytest.raises(ValueError, match=match):
        selection_curves(counts, errors)


# motif_contributions


@pytest.fixture
def instances():
    return pd.DataFrame(
        {
            "structure": [0, 0, 1, 1, 2, 2, 2],
            "motif": ["OH", "CH3", "OH", "NH2", "CH3", "CH3", "OH"],
            "contribution": [-2.0, 0.5, -1.0, -0.5, 0.0, 1.0, -3.0],
        }
    )


def test_motif_contributions_rows_sorted_by_mean(instances):
    figure = motif_contributions(instances, title="motifs")
    (ax,) = figure.axes
    # means: OH -2, NH2 -0.5, CH3 0.5
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == ["OH (3)", "NH2 (1)", "CH3 (3)"]
    (points,) = ax.collections
    assert len(points.get_offsets()) == len(instances)
    rows = {"OH": 0, "NH2": 1, "CH3": 2}
    expected = np.c_[instances["contribution"], instances["motif"].map(rows)]
    np.testing.assert_array_equal(points.get_offsets(), expected)
    means = ax.lines[-1]
    np.testing.assert_allclose(means.get_xdata(), [-2.0, -0.5, 0.5])
    np.testing.assert_array_equal(means.get_ydata(), [0, 1, 2])
    assert legend_texts(ax) == ["instance", "mean"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "contribution",
        "motif",
        "motifs",
    )


def test_motif_contributions_keeps_the_most_frequent(instances):
    renamed = instances.rename(columns={"contribution": "energy"})
    (ax,) = motif_contributions(renamed, value="energy", max_motifs=2).axes
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == ["OH (3)", "CH3 (3)"]
    assert n_points(ax) == 6
    assert ax.get_xlabel() == "energy"
    assert ax.get_ylabel() == "motif (the 2 most frequent of 3)"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t: t.drop(columns="motif"), "it lacks 'motif'"),
        (lambda t: t.drop(columns="contribution"), "it lacks 'contribution'"),
        (lambda t: t.iloc[:0], "instances has no rows"),
        (lambda t: t.assign(motif=[None, *t["motif"][1:]]), "without a motif name"),
        (lambda t: t.assign(contribution=np.nan), "'contribution' column has 7 NaN"),
        (lambda t: t.assign(contribution="x"), "'contribution' column must hold num"),
        (lambda t: t.to_dict("list"), "must be a DataFrame"),
    ],
)
def test_motif_contributions_bad_table(instances, change, match):
    with pytest.raises(ValueError, match=match):
        motif_contributions(change(instances))


@pytest.mark.parametrize("max_motifs", [0, -1, 2.5, True])
def test_motif_contributions_bad_max_motifs(instances, max_motifs):
    with pytest.raises(ValueError, match="max_motifs must be a positive integer"):
        motif_contributions(instances, max_motifs=max_motifs)


# save_figure


@pytest.fixture
def figure():
    return mixing_sweep([0.0, 0.5, 1.0], [1.0, 0.5, 0.0], [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("name", "magic"),
    [("sweep.png", b"\x89PNG"), ("sweep.SVG", b"<?xml"), ("sweep.pdf", b"%PDF")],
)
def test_save_figure_by_suffix(tmp_path, figure, name, magic):
    path = save_figure(figure, str(tmp_path / name))
    assert path == tmp_path / name
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_save_figure_dpi_sets_the_size(tmp_path, figure):
    small = save_figure(figure, tmp_path / "small.png", dpi=50).read_bytes()
    large = save_figure(figure, tmp_path / "large.png", dpi=100).read_bytes()
    # the PNG header holds the width in pixels, big-endian, at bytes 16-20
    width = int.from_bytes(small[16:20], "big")
    assert int.from_bytes(large[16:20], "big") == pytest.approx(2 * width, abs=1)


def test_save_figure_error_while_writing_leaves_nothing(tmp_path, figure, monkeypatch):
    def failing(stream, **kwargs):
        stream.write(b"\x89PNG half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(figure, "savefig", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(figure, tmp_path / "new.png")
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "old.png").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(figure, tmp_path / "old.png")
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]
    assert (tmp_path / "old.png").read_bytes() == b"old"


@pytest.mark.parametrize("name", ["sweep.jpg", "sweep", "sweep.png.txt"])
def test_save_figure_unknown_suffix(tmp_path, figure, name):
    with pytest.raises(ValueError, match="Cannot tell the format"):
        save_figure(figure, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dpi", [0, -10, "high", None])
def test_save_figure_bad_dpi(tmp_path, figure, dpi):
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        save_figure(figure, tmp_path / "sweep.png", dpi=dpi)


def test_save_figure_needs_a_figure(tmp_path, figure):
    with pytest.raises(
        TypeError, match=r"must be a matplotlib\.figure\.Figure; got Axes"
    ):
        save_figure(figure.axes[0], tmp_path / "sweep.png")


def test_save_figure_missing_folder(tmp_path, figure):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_figure(figure, tmp_path / "missing" / "sweep.png")


def test_latent_map_marks_projected_points(rng):
    latent, marked = rng.normal(size=(40, 2)), rng.normal(size=(3, 2))
    figure = latent_map(latent, rng.normal(size=40), marked=marked, marked_label="new")
    ax = figure.axes[0]
    _, stars = ax.collections
    np.testing.assert_array_equal(stars.get_offsets(), marked)
    assert legend_texts(ax) == ["new (3)"]
    with pytest.raises(ValueError, match="marked must have the latent's 2 columns"):
        latent_map(latent, marked=rng.normal(size=(3, 3)))
    with pytest.raises(ValueError, match="marked"):
        latent_map(latent, marked=np.full((2, 2), np.nan))


def test_parity_plot_panel_titles(rng):
    y = rng.normal(size=(30, 2))
    figure = parity_plot(y, y, label=["gap", "gap"], panel_titles=["map", "ridge"])
    assert [ax.get_title() for ax in figure.axes] == ["map", "ridge"]
    assert figure.axes[1].get_xlabel() == "true gap"
    with pytest.raises(ValueError, match="one title per target"):
        parity_plot(y, y, panel_titles=["only one"])


def test_parity_plot_error_bars_where_the_std_is_given(rng):
    y = rng.normal(size=20)
    std = np.full(20, 0.2)
    std[:5] = np.nan  # no bar there
    figure = parity_plot(y, y + 0.1, y_std=std)
    (ax,) = figure.axes
    (bars,) = [c for c in ax.collections if c not in ax.collections[:1]]
    segments = bars.get_segments()
    assert len(segments) == 15
    lengths = [segment[1, 1] - segment[0, 1] for segment in segments]
    np.testing.assert_allclose(lengths, 0.4)
    with pytest.raises(ValueError, match="y_std must be non-negative"):
        parity_plot(y, y, y_std=-std)
    with pytest.raises(ValueError, match="y_std must be non-negative"):
        parity_plot(y, y, y_std=std[:10])


def test_calibration_plot_bins_the_errors_by_sigma(rng):
    std = np.repeat([0.5, 1.0, 2.0, 4.0], 50)
    errors = std * rng.normal(size=200)
    figure = calibration_plot(errors, std, label="gap (eV)", bins=4)
    (ax,) = figure.axes
    curve, diagonal = ax.lines
    np.testing.assert_allclose(curve.get_xdata(), [0.5, 1.0, 2.0, 4.0])
    expected = [np.sqrt(np.mean(errors[50 * k : 50 * k + 50] ** 2)) for k in range(4)]
    np.testing.assert_allclose(curve.get_ydata(), expected)
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    z = np.abs(errors) / std
    assert f"within 1σ: {np.mean(z <= 1):.0%}" in legend_texts(ax)[0]
    assert ax.get_xlabel() == "predicted σ of gap (eV)"
    with pytest.raises(ValueError, match="std must be positive"):
        calibration_plot(errors, 0 * std)
    with pytest.raises(ValueError, match="same shape"):
        calibration_plot(errors, std[:10])
    with pytest.raises(ValueError, match="errors"):
        calibration_plot(errors * np.nan, std)


def test_latent_map_marks_points_outside_the_domain_apart(rng):
    latent = rng.normal(size=(50, 2))
    figure = latent_map(
        latent, rng.normal(size=50), marked=latent[:4],
        marked_outside=[True, False, False, True],
    )  # fmt: skip
    labels = legend_texts(figure.axes[0])
    assert "new (2)" in labels
    assert "new, outside the applicability domain (2)" in labels
    with pytest.raises(ValueError, match="one flag per marked point"):
        latent_map(latent, latent[:, 0], marked=latent[:4], marked_outside=[True])
