"""Matplotlib figures: latent maps, parity plots, mixing sweeps, selection curves
and motif contributions, plus a saver that writes them atomically.

Every function returns a :class:`matplotlib.figure.Figure` made directly (not
through ``pyplot``): no global state, no GUI backend, nothing shown, nothing left
open. Pass it to :func:`save_figure`, or display it in a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from propmap._files import write_atomically
from propmap._requirements import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "calibration_plot",
    "latent_map",
    "mixing_sweep",
    "motif_contributions",
    "parity_plot",
    "save_figure",
    "selection_curves",
]

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_PANELS_PER_ROW = 3


def _figure_class() -> type[Figure]:
    """matplotlib's Figure class, or an ImportError that says how to install it."""
    return require("matplotlib.figure", "viz").Figure


def _new_figure(width: float, height: float) -> Figure:
    return _figure_class()(figsize=(width, height), layout="constrained")


def _finite(values, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """``values`` as a float64 array with one of ``ndims`` dimensions, non-empty
    and finite; a ValueError naming ``name`` otherwise."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must hold numbers: {error}") from error
    if array.ndim not in ndims:
        expected = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name} must be {expected}; got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}).")
    bad = np.count_nonzero(~np.isfinite(array))
    if bad:
        raise ValueError(f"{name} has {bad} NaN or infinite value(s).")
    return array


def _categories(labels, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct labels of a length-``n`` 1-D array and each sample's
    index into them."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(
            f"{name} must be 1-D with one label per sample ({n}); got shape "
            f"{labels.shape}."
        )
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise ValueError(f"{name} has NaN or infinite labels.")
    try:
        return np.unique(labels, return_inverse=True)
    except TypeError as error:
        raise ValueError(
            f"{name} mixes labels of types that cannot be sorted: {error}"
        ) from error


def _scatter_style(n: int) -> dict:
    """Marker size and edges for ``n`` points: 22 pt² with black edges for small
    sets, smaller (down to 3 pt²) and without edges as the points crowd."""
    size = float(np.clip(22.0 * np.sqrt(500.0 / n), 3.0, 22.0))
    return {"s": size, "edgecolors": "k", "linewidths": 0.3 if n <= 2000 else 0.0}


# past this many points a map is drawn as hexagons (the mean of the colour in
# each, or the count), not as points: 10⁵ points hide one another, and the
# colour of the last drawn, not of the region, would show
CROWDED = 20_000
# hexagons across the x axis of a crowded map
HEXAGONS = 120


def _crowded_map(figure, ax, x, y, values, value_label: str) -> None:
    """A crowded map: the mean of ``values`` per hexagon, the colour scale
    between their 1st and 99th percentiles (a few extreme points would squeeze
    the rest into one colour), or without values the points per hexagon."""
    from matplotlib.colors import LogNorm

    if values is None:
        cells = ax.hexbin(
            x, y, gridsize=HEXAGONS, mincnt=1, cmap="Greys", norm=LogNorm(),
            linewidths=0.0,
        )  # fmt: skip
        label = "points per hexagon"
        extend = "neither"
    else:
        low, high = np.percentile(values, [1.0, 99.0])
        if not high > low:
            low, high = float(values.min()), float(values.max()) + 1e-12
        cells = ax.hexbin(
            x, y, C=values, reduce_C_function=np.mean, gridsize=HEXAGONS,
            mincnt=1, cmap="viridis", vmin=low, vmax=high, linewidths=0.0,
        )  # fmt: skip
        label = f"{value_label}, mean per hexagon"
        extend = "both"
    bar = figure.colorbar(cells, ax=ax, pad=0.02, aspect=30, extend=extend)
    bar.set_label(label)
    ax.text(
        0.99, 0.01, f"{x.size:,} points", transform=ax.transAxes, ha="right",
        va="bottom", fontsize="small", color="0.35",
    )  # fmt: skip


def _square_limits(*arrays: np.ndarray) -> tuple[float, float]:
    """Common axis limits covering every array, with a 5 % margin."""
    low = min(float(array.min()) for array in arrays)
    high = max(float(array.max()) for array in arrays)
    # a single value gets a margin of 5 % of itself (1 around zero)
    span = high - low if high > low else abs(low) or 20.0
    return low - 0.05 * span, high + 0.05 * span


def _r2(true: np.ndarray, predicted: np.ndarray) -> float:
    """The coefficient of determination; NaN for fewer than two samples or a
    constant truth, where it is undefined."""
    total = np.sum((true - true.mean()) ** 2)
    if true.size < 2 or total == 0:
        return float("nan")
    return float(1.0 - np.sum((true - predicted) ** 2) / total)


def latent_map(
    latent,
    values=None,
    *,
    value_label: str = "property",
    axis_labels: Sequence[str] = ("PCovR 1", "PCovR 2"),
    title: str | None = None,
    categorical: bool = False,
    marked=None,
    marked_label: str = "new",
    marked_outside=None,
) -> Figure:
    """Scatter plot of the first two latent coordinates, coloured by a property.

    Past ``CROWDED`` (20,000) points, numbers or no values are drawn as
    hexagons: the mean of the values in each (the colour scale between their
    1st and 99th percentiles) or the number of points, so that a map of 10⁵
    structures shows each region's value rather than the points drawn last.

    Parameters
    ----------
    latent : array-like of shape (n_samples, n_components)
        Latent coordinates, e.g. from ``PCovR.transform``; ``n_components >= 2``,
        only the first two are drawn.
    values : array-like of shape (n_samples,), default=None
        The colour of each point: numbers on a ``viridis`` scale with a colour bar,
        or, with ``categorical=True``, labels (strings, integers...) with one
        colour each and a legend. None draws every point in one colour.
    value_label : str, default="property"
        Label of the colour bar, or title of the legend.
    axis_labels : pair of str, default=("PCovR 1", "PCovR 2")
        Labels of the x and y axes.
    title : str, default=None
        Title of the axes.
    categorical : bool, default=False
        Treat ``values`` as labels rather than numbers.
    marked : array-like of shape (n_marked, n_components), default=None
        More points in the same latent space (e.g. new structures projected onto
        the map), drawn on top as red stars.
    marked_label : str, default="new"
        Legend entry of the marked points.
    marked_outside : array-like of bool, shape (n_marked,), default=None
        Marked points outside the model's applicability domain, drawn apart
        (orange crosses) with their own legend entry.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One axes, plus the colour bar's for numeric ``values``.

    Raises
    ------
    ValueError
        ``latent`` is not 2-D with at least two columns, is empty or has NaN or
        infinite values; ``values`` does not have one entry per sample, has NaN
        or infinite numbers, or is not numeric without ``categorical=True``;
        ``axis_labels`` is not a pair; ``marked`` does not have as many columns
        as ``latent``, or has NaN or infinite values.
    """
    latent = _finite(latent, "latent", (2,))
    if marked is not None:
        marked = _finite(marked, "marked", (2,))
        if marked.shape[1] != latent.shape[1]:
            raise ValueError(
                f"marked must have the latent's {latent.shape[1]} columns; got "
                f"shape {marked.shape}."
            )
    n_samples, n_components = latent.shape
    if n_components < 2:
        raise ValueError(
            f"latent must have at least two columns (components) to map; got "
            f"shape {latent.shape}."
        )
    if isinstance(axis_labels, str) or len(axis_labels) != 2:
        raise ValueError(
            f"axis_labels must be a pair of labels (x, y); got {axis_labels!r}."
        )
    if values is not None and not categorical:
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(
                "values holds labels, not numbers: pass categorical=True to colour "
                "the points by label."
            ) from error
        values = _finite(values, "values", (1,))
        if values.shape != (n_samples,):
            raise ValueError(
                f"values must have one entry per sample: latent has {n_samples} "
                f"rows, values has shape {values.shape}."
            )
    if values is not None and categorical:
        categories, codes = _categories(values, "values", n_samples)

    figure = _new_figure(6.4, 5.2)
    ax = figure.subplots()
    x, y = latent[:, 0], latent[:, 1]
    style = _scatter_style(n_samples)
    if n_samples > CROWDED and not categorical:
        _crowded_map(figure, ax, x, y, values, value_label)
    elif values is None:
        ax.scatter(x, y, **style)
    elif categorical:
        colours = _distinct_colours(len(categories))
        for index, (category, colour) in enumerate(
            zip(categories, colours, strict=True)
        ):
            selected = codes == index
            ax.scatter(
                x[selected], y[selected], color=colour, label=str(category), **style
            )
        ax.legend(
            title=value_label,
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
            fontsize="small",
        )
    else:
        points = ax.scatter(x, y, c=values, cmap="viridis", **style)
        figure.colorbar(points, ax=ax, pad=0.02, aspect=30).set_label(value_label)
    if marked is not None:
        outside = (
            np.zeros(marked.shape[0], dtype=bool)
            if marked_outside is None
            else np.asarray(marked_outside, dtype=bool)
        )
        if outside.shape != (marked.shape[0],):
            raise ValueError(
                f"marked_outside must have one flag per marked point "
                f"({marked.shape[0]}); got shape {outside.shape}."
            )
        inside = ~outside
        if np.any(inside) or not np.any(outside):
            ax.scatter(
                marked[inside, 0], marked[inside, 1], marker="*", s=140,
                color="red", edgecolors="k", linewidths=0.6,
                label=f"{marked_label} ({np.count_nonzero(inside)})", zorder=3,
            )  # fmt: skip
        if np.any(outside):
            ax.scatter(
                marked[outside, 0], marked[outside, 1], marker="X", s=110,
                color="orange", edgecolors="k", linewidths=0.6,
                label=(
                    f"{marked_label}, outside the applicability domain "
                    f"({np.count_nonzero(outside)})"
                ),
                zorder=3,
            )  # fmt: skip
        if not categorical:
            ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if title is not None:
        ax.set_title(title)
    return figure


def _distinct_colours(count: int) -> list:
    """``count`` distinguishable colours: tab10 or tab20, else evenly spread over
    turbo."""
    import matplotlib

    if count <= 10:
        return list(matplotlib.colormaps["tab10"].colors[:count])
    if count <= 20:
        return list(matplotlib.colormaps["tab20"].colors[:count])
    return list(matplotlib.colormaps["turbo"](np.linspace(0.0, 1.0, count)))


def _group_masks(groups, n: int) -> list[tuple[str | None, np.ndarray]]:
    """(name, boolean mask) for each group of a parity plot; one unnamed group of
    every sample for ``groups=None``."""
    if groups is None:
        return [(None, np.ones(n, dtype=bool))]
    if isinstance(groups, Mapping):
        if not groups:
            raise ValueError("groups is an empty mapping; give at least one group.")
        masks = []
        for name, selection in groups.items():
            selection = np.asarray(selection)
            if selection.dtype.kind == "b":
                if selection.shape != (n,):
                    raise ValueError(
                        f"The mask of group {name!r} must have one entry per sample "
                        f"({n}); got shape {selection.shape}."
                    )
                mask = selection
            elif selection.dtype.kind in "iu" and selection.ndim == 1:
                if selection.size and (selection.min() < 0 or selection.max() >= n):
                    raise ValueError(
                        f"The indices of group {name!r} must lie in [0, {n}); got "
                        f"{selection.min()} to {selection.max()}."
                    )
                mask = np.zeros(n, dtype=bool)
                mask[selection] = True
            else:
                raise ValueError(
                    f"Group {name!r} must be a boolean mask or 1-D integer indices; "
                    f"got dtype {selection.dtype} and shape {selection.shape}."
                )
            masks.append((str(name), mask))
    else:
        categories, codes = _categories(groups, "groups", n)
        masks = [(str(c), codes == i) for i, c in enumerate(categories)]
    for name, mask in masks:
        if not mask.any():
            raise ValueError(f"Group {name!r} selects no samples.")
    return masks


def parity_plot(
    y_true,
    y_pred,
    *,
    label: str | Sequence[str] = "property",
    groups=None,
    title: str | None = None,
    panel_titles: Sequence[str] | None = None,
    y_std=None,
) -> Figure:
    """Predicted against true values, with the line y = x and the R² and mean
    absolute error in the legend (and error bars of one predicted standard
    deviation, with ``y_std``).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        True values.
    y_pred : array-like of the same shape
        Predictions; ``(n_samples,)`` and ``(n_samples, 1)`` may be mixed.
    label : str or sequence of str, default="property"
        Name of the target, used in the axis labels (``"true <label>"``,
        ``"predicted <label>"``); with several targets, one name per target, or
        one name that becomes ``"<label> (column j)"``.
    groups : mapping or array-like of shape (n_samples,), default=None
        Subsets drawn in their own colour, each with its own R² and MAE: a mapping
        from a group name to a boolean mask of shape (n_samples,) or to integer
        indices, e.g. ``{"train": train, "test": test}``; or one group name per
        sample, e.g. ``["train", "test", ...]``. None draws every sample as one
        set.
    title : str, default=None
        Title of the axes (of the figure with several targets).
    panel_titles : sequence of str, default=None
        With several targets (or several models of one target, as columns), a
        title for each panel.
    y_std : array-like of the shape of ``y_pred``, default=None
        The predictions' standard deviations, drawn as vertical error bars
        (NaN: no bar for that point).

    Returns
    -------
    figure : matplotlib.figure.Figure
        One axes per target, up to three per row.

    Raises
    ------
    ValueError
        The arrays are empty, have NaN or infinite values, more than two
        dimensions or different shapes; ``label`` has the wrong number of names;
        a group does not match the samples or selects none.

    Notes
    -----
    R² is shown as "n/a" for a group of one sample or a constant truth, where it
    is undefined.
    """
    y_true = _finite(y_true, "y_true", (1, 2))
    y_pred = _finite(y_pred, "y_pred", (1, 2))
    if y_true.reshape(len(y_true), -1).shape != y_pred.reshape(len(y_pred), -1).shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape; got {y_true.shape} and "
            f"{y_pred.shape}."
        )
    n_samples = y_true.shape[0]
    y_true = y_true.reshape(n_samples, -1)
    y_pred = y_pred.reshape(n_samples, -1)
    n_targets = y_true.shape[1]
    if y_std is not None:
        y_std = np.asarray(y_std, dtype=float)
        if y_std.size == y_pred.size:
            y_std = y_std.reshape(y_pred.shape)
        if y_std.shape != y_pred.shape or np.any(y_std < 0):
            raise ValueError(
                f"y_std must be non-negative, shaped as y_pred {y_pred.shape}; got "
                f"{y_std.shape}."
            )
    if isinstance(label, str):
        labels = (
            [label]
            if n_targets == 1
            else [f"{label} (column {j})" for j in range(n_targets)]
        )
    else:
        labels = [str(name) for name in label]
        if len(labels) != n_targets:
            raise ValueError(
                f"label must give one name per target ({n_targets}); got {len(labels)}."
            )
    masks = _group_masks(groups, n_samples)
    if panel_titles is not None and (
        isinstance(panel_titles, str) or len(panel_titles) != n_targets
    ):
        raise ValueError(
            f"panel_titles must give one title per target ({n_targets}); got "
            f"{panel_titles!r}."
        )

    n_columns = min(n_targets, _PANELS_PER_ROW)
    n_rows = -(-n_targets // n_columns)
    figure = _new_figure(5.0 * n_columns, 4.8 * n_rows)
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    for ax in axes[n_targets:]:
        figure.delaxes(ax)
    for j, ax in enumerate(axes[:n_targets]):
        true, predicted = y_true[:, j], y_pred[:, j]
        for name, mask in masks:
            r2 = _r2(true[mask], predicted[mask])
            mae = float(np.mean(np.abs(true[mask] - predicted[mask])))
            scores = f"R² = {r2:.3f}" if np.isfinite(r2) else "R² n/a"
            scores = f"{scores}, MAE = {mae:.3g}"
            count = np.count_nonzero(mask)
            drawn = ax.scatter(
                true[mask],
                predicted[mask],
                alpha=0.7,
                label=scores if name is None else f"{name} ({count}): {scores}",
                **_scatter_style(count),
            )
            if y_std is not None:
                barred = mask & np.isfinite(y_std[:, j])
                if np.any(barred):
                    ax.errorbar(
                        true[barred], predicted[barred], yerr=y_std[barred, j],
                        fmt="none", ecolor=drawn.get_facecolor()[0], alpha=0.35,
                        linewidth=0.8, zorder=drawn.get_zorder() - 0.5,
                    )  # fmt: skip
        limits = _square_limits(true, predicted)
        ax.plot(limits, limits, "k--", linewidth=1, label="y = x", zorder=0)
        ax.set(
            xlim=limits,
            ylim=limits,
            aspect="equal",
            xlabel=f"true {labels[j]}",
            ylabel=f"predicted {labels[j]}",
        )
        ax.legend(loc="upper left", fontsize="small")
        if panel_titles is not None:
            ax.set_title(panel_titles[j])
    if title is not None:
        if n_targets == 1:
            axes[0].set_title(title)
        else:
            figure.suptitle(title)
    return figure


def calibration_plot(
    errors, std, *, label: str = "property", bins: int = 10, title=None
) -> Figure:
    """Whether predicted standard deviations are honest: the observed root mean
    square error against the mean predicted σ, in bins of equal counts of σ,
    with the diagonal (a calibrated σ lies on it), and the shares of errors
    within 1 and 2 σ in the legend.

    Parameters
    ----------
    errors : array-like of shape (n_samples,)
        Prediction errors (true − predicted).
    std : array-like of shape (n_samples,)
        The predicted standard deviations (> 0).
    label : str, default="property"
        Name (and unit) of the property, for the axes.
    bins : int, default=10
        Number of bins (fewer when there are fewer than 5 points a bin).
    title : str, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Empty, non-finite or differently shaped arrays; σ not positive.
    """
    errors = _finite(errors, "errors", (1,))
    std = _finite(std, "std", (1,))
    if errors.shape != std.shape:
        raise ValueError(
            f"errors and std must have the same shape; got {errors.shape} and "
            f"{std.shape}."
        )
    if np.any(std <= 0):
        raise ValueError("std must be positive.")
    count = int(max(1, min(bins, errors.size // 5)))
    order = np.argsort(std, kind="stable")
    groups = np.array_split(order, count)
    mean_std = np.array([std[g].mean() for g in groups])
    rmse = np.array([np.sqrt(np.mean(errors[g] ** 2)) for g in groups])
    z = np.abs(errors) / std
    figure = _new_figure(5.0, 4.8)
    ax = figure.subplots()
    ax.plot(
        mean_std, rmse, "o-",
        label=(
            f"{errors.size} points in {count} bins; within 1σ: "
            f"{np.mean(z <= 1):.0%}, 2σ: {np.mean(z <= 2):.0%}"
        ),
    )  # fmt: skip
    top = float(max(mean_std.max(), rmse.max())) * 1.1
    ax.plot([0, top], [0, top], "k--", linewidth=1, label="calibrated", zorder=0)
    ax.set(
        xlim=(0, top),
        ylim=(0, top),
        aspect="equal",
        xlabel=f"predicted σ of {label}",
        ylabel=f"observed RMSE of {label}",
    )
    ax.legend(loc="upper left", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return figure


def mixing_sweep(
    mixings, loss_x, loss_y, *, chosen: float | None = None, title: str | None = None
) -> Figure:
    """The two PCovR losses, and their sum, against the mixing parameter α.

    Parameters
    ----------
    mixings : array-like of shape (n_points,)
        Values of α in [0, 1], in any order (the curves are drawn sorted by α).
    loss_x : array-like of shape (n_points,)
        Loss of the reconstruction of X at each α.
    loss_y : array-like of shape (n_points,)
        Loss of the prediction of Y at each α.
    chosen : float, default=None
        The α that was picked, marked by a vertical line.
    title : str, default=None
        Title of the axes.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One axes with three curves (``L_X``, ``L_Y`` and ``L_X + L_Y``) and the
        marker of ``chosen``.

    Raises
    ------
    ValueError
        An array is not 1-D, is empty or has NaN or infinite values; the arrays
        differ in length; α or ``chosen`` lies outside [0, 1].
    """
    mixings = _finite(mixings, "mixings", (1,))
    loss_x = _finite(loss_x, "loss_x", (1,))
    loss_y = _finite(loss_y, "loss_y", (1,))
    if not mixings.size == loss_x.size == loss_y.size:
        raise ValueError(
            f"mixings, loss_x and loss_y must have the same length; got "
            f"{mixings.size}, {loss_x.size} and {loss_y.size}."
        )
    outside = mixings[(mixings < 0) | (mixings > 1)]
    if outside.size:
        raise ValueError(f"mixings must lie in [0, 1]; got {outside.tolist()}.")
    if chosen is not None:
        if not isinstance(chosen, Real):
            raise ValueError(f"chosen must be a number in [0, 1]; got {chosen!r}.")
        if not 0.0 <= chosen <= 1.0:
            raise ValueError(f"chosen must lie in [0, 1]; got {chosen!r}.")

    order = np.argsort(mixings, kind="stable")
    mixings, loss_x, loss_y = mixings[order], loss_x[order], loss_y[order]
    figure = _new_figure(6.4, 4.4)
    ax = figure.subplots()
    ax.plot(mixings, loss_x, "o-", markersize=4, label="reconstruction of X, L_X")
    ax.plot(mixings, loss_y, "s-", markersize=4, label="prediction of Y, L_Y")
    ax.plot(mixings, loss_x + loss_y, "k^-", markersize=4, label="L_X + L_Y")
    if chosen is not None:
        ax.axvline(chosen, color="0.5", linestyle=":", label=f"chosen α = {chosen:g}")
    ax.set(xlabel="mixing α", ylabel="loss")
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)
    return figure


def selection_curves(
    counts,
    errors: Mapping[str, object],
    *,
    ylabel: str = "test error",
    title: str | None = None,
) -> Figure:
    """Error against the number of selected features or samples, one curve per
    selection method.

    Parameters
    ----------
    counts : array-like of shape (n_points,)
        Numbers selected, in any order (the curves are drawn sorted by count).
    errors : mapping of str to array-like
        For each method (e.g. ``"pcov-cur"``, ``"cur"``, ``"random"``), its error
        at each count: shape (n_points,), or (n_repeats, n_points) for a
        randomised baseline, drawn as the mean with a shaded band from the
        minimum to the maximum over the repeats.
    ylabel : str, default="test error"
        Label of the y axis.
    title : str, default=None
        Title of the axes.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One axes with one curve per method.

    Raises
    ------
    ValueError
        ``counts`` or an error array is empty, has NaN or infinite values or the
        wrong number of dimensions; an error array does not have one column per
        count; ``errors`` is empty.
    """
    counts = _finite(counts, "counts", (1,))
    if not isinstance(errors, Mapping):
        raise ValueError(
            "errors must be a mapping from a method name to its errors; got "
            f"{type(errors).__name__}."
        )
    if not errors:
        raise ValueError("errors is an empty mapping; give at least one method.")
    curves = {}
    for name, values in errors.items():
        values = _finite(values, f"errors[{name!r}]", (1, 2))
        if values.shape[-1] != counts.size:
            raise ValueError(
                f"errors[{name!r}] must have one value per count ({counts.size}) "
                f"along its last axis; got shape {values.shape}."
            )
        curves[str(name)] = values

    order = np.argsort(counts, kind="stable")
    figure = _new_figure(6.4, 4.4)
    ax = figure.subplots()
    for name, values in curves.items():
        values = values[..., order]
        if values.ndim == 1:
            ax.plot(counts[order], values, "o-", markersize=4, label=name)
        else:
            (line,) = ax.plot(
                counts[order],
                values.mean(axis=0),
                "--",
                label=f"{name} (mean of {values.shape[0]}, min–max band)",
            )
            ax.fill_between(
                counts[order],
                values.min(axis=0),
                values.max(axis=0),
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
    ax.set(xlabel="number selected", ylabel=ylabel)
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)
    return figure


def motif_contributions(
    instances,
    *,
    value: str = "contribution",
    title: str | None = None,
    max_motifs: int = 30,
) -> Figure:
    """The contribution of every motif instance, one row per motif.

    Each instance is a dot, each motif's mean a vertical bar; rows are sorted by
    their mean (lowest at the bottom) and labelled with the motif and its number
    of instances.

    Parameters
    ----------
    instances : pandas.DataFrame
        One row per motif instance, with a ``motif`` column and a ``value`` column,
        e.g. from :func:`propmap.atomistic.motif_contributions`.
    value : str, default="contribution"
        The column to plot; also the label of the x axis.
    title : str, default=None
        Title of the axes.
    max_motifs : int, default=30
        With more motifs than this, only the ``max_motifs`` with the most
        instances are drawn (ties broken by name), and the y label says so.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One axes.

    Raises
    ------
    ValueError
        ``instances`` lacks the ``motif`` or ``value`` column, has no rows, a
        missing motif name, or non-numeric, NaN or infinite values;
        ``max_motifs`` is not a positive integer.
    """
    missing = [
        column
        for column in ("motif", value)
        if column not in getattr(instances, "columns", ())
    ]
    if missing:
        raise ValueError(
            f"instances must be a DataFrame with the columns 'motif' and {value!r}; "
            f"it lacks {', '.join(map(repr, missing))}."
        )
    if not isinstance(max_motifs, Integral) or isinstance(max_motifs, bool):
        raise ValueError(f"max_motifs must be a positive integer; got {max_motifs!r}.")
    if max_motifs < 1:
        raise ValueError(f"max_motifs must be a positive integer; got {max_motifs}.")
    if len(instances) == 0:
        raise ValueError("instances has no rows.")
    if instances["motif"].isna().any():
        raise ValueError("instances has rows without a motif name (NaN or None).")
    values = _finite(instances[value], f"the {value!r} column", (1,))
    names, codes = _categories(
        instances["motif"].to_numpy(), "the 'motif' column", values.size
    )
    counts = np.bincount(codes)
    means = np.bincount(codes, weights=values) / counts
    # the most frequent first, ties by name (np.unique sorted them); then by mean
    kept = np.argsort(-counts, kind="stable")[:max_motifs]
    kept = kept[np.argsort(means[kept], kind="stable")]
    row_of = np.full(names.size, -1)
    row_of[kept] = np.arange(kept.size)
    rows = row_of[codes]
    shown = rows >= 0

    figure = _new_figure(7.0, 1.5 + 0.3 * kept.size)
    ax = figure.subplots()
    ax.axvline(0.0, color="0.6", linewidth=1, zorder=0)
    ax.scatter(
        values[shown],
        rows[shown],
        s=14,
        alpha=0.6,
        color="tab:blue",
        label="instance",
    )
    ax.plot(
        means[kept],
        np.arange(kept.size),
        "k|",
        markersize=14,
        markeredgewidth=2,
        label="mean",
    )
    ax.set_yticks(
        np.arange(kept.size),
        [f"{names[i]} ({counts[i]})" for i in kept],
    )
    ax.set_ylim(-0.7, kept.size - 0.3)
    ax.set_xlabel(value)
    ax.set_ylabel(
        f"motif (the {kept.size} most frequent of {names.size})"
        if kept.size < names.size
        else "motif"
    )
    ax.legend(loc="best", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return figure


def save_figure(figure: Figure, path, dpi: float = 130) -> Path:
    """Write a figure to a file atomically: the file appears complete or not at
    all, and an existing file is left as it was when writing fails.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure, e.g. from :func:`latent_map`.
    path : path-like
        The file; its suffix, ``.png``, ``.svg`` or ``.pdf``, sets the format, and
        its folder must exist.
    dpi : float, default=130
        Resolution in dots per inch (for the PNG, and images inside SVG or PDF).

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        ``figure`` is not a matplotlib Figure.
    ValueError
        The suffix is not one of the three formats; ``dpi`` is not positive.
    FileNotFoundError
        The folder of ``path`` does not exist.
    """
    if not isinstance(figure, _figure_class()):
        raise TypeError(
            f"figure must be a matplotlib.figure.Figure; got {type(figure).__name__}."
        )
    path = Path(path)
    file_format = _FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise ValueError(
            f"Cannot tell the format of {str(path)!r} from its suffix: use "
            f"{', '.join(_FORMATS)}."
        )
    if not isinstance(dpi, Real) or isinstance(dpi, bool) or not dpi > 0:
        raise ValueError(f"dpi must be a positive number; got {dpi!r}.")
    write_atomically(
        path, lambda stream: figure.savefig(stream, format=file_format, dpi=dpi), "wb"
    )
    return path
