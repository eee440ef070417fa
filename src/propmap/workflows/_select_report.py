"""The selection's measures and report: how well the picks cover the rest,
and the report page."""

from __future__ import annotations

import numpy as np

__all__ = ["RANDOM_REPEATS", "coverage_of", "write_report"]

# random orders the picks are compared with
RANDOM_REPEATS = 5


def coverage_of(points: np.ndarray, order, counts) -> dict[str, list[float]]:
    """How well the first k picks (``order``) cover the other points, for each
    k of ``counts``: the largest and the mean distance of an unpicked point to
    its nearest pick."""
    order = np.asarray(order)[: int(np.max(counts))]
    points = np.asarray(points)  # (in its own dtype: no float64 copy)
    squared = np.einsum("ij,ij->i", points, points, dtype=np.float64)
    picked = points[order]
    # distances of every point to every pick, one product
    products = np.asarray(points @ picked.T, dtype=np.float64)
    distance = squared[:, None] + squared[order][None, :] - 2.0 * products
    nearest = np.sqrt(np.clip(np.minimum.accumulate(distance, axis=1), 0.0, None))
    largest, mean = [], []
    for k in counts:
        rest = np.ones(points.shape[0], dtype=bool)
        rest[order[:k]] = False
        values = nearest[rest, k - 1] if np.any(rest) else np.zeros(1)
        largest.append(float(values.max()))
        mean.append(float(values.mean()))
    return {"largest": largest, "mean": mean}


def write_report(path, summary, curve, selected) -> None:
    """The selection's report page."""
    from propmap.viz._report import ReportSection
    from propmap.viz._report import write_report as write_page

    numbers = {
        "samples (train / test)": (
            f"{summary['samples']} ({summary['n_train']} / {summary['n_test']})"
        ),
        "features": summary["features"],
    }
    if summary["test_rmse"] is not None:
        for name, values in summary["test_rmse"].items():
            numbers[f"test RMSE with {summary['count']}, {name}"] = values[-1]
    for name, covered in (summary["coverage"] or {}).items():
        numbers[
            f"largest / mean distance to the picks at {summary['count']}, {name}"
        ] = f"{covered['largest'][-1]:.3g} / {covered['mean'][-1]:.3g}"
    numbers["first picks"] = ", ".join(map(str, selected["name"].head(8)))
    if summary["mixing"] is not None:
        numbers["mixing α"] = summary["mixing"]
    what = (
        "features (ridge on them)"
        if summary["axis"] == "features"
        else ("training samples (ridge trained on them)")
    )
    heading = f"{summary['method']} of {summary['count']} {summary['axis']}"
    write_page(
        path,
        f"propmap selection: {heading}",
        [
            ReportSection(
                title=f"{summary['method']} selection of {summary['axis']}",
                text=(
                    f"The test error of a ridge regression of {summary['target']} "
                    f"against the number of picked {what}, for {summary['method']}, "
                    f"its plain counterpart and {RANDOM_REPEATS} random orders "
                    "(mean). Selection saw only the training samples."
                    if summary["test_rmse"] is not None
                    else f"How well the picked {summary['axis']} cover the others "
                    "(the largest distance of an unpicked one to its nearest "
                    f"pick) against the number picked, for {summary['method']} and "
                    f"{RANDOM_REPEATS} random orders (mean); no target was given, "
                    "so there is no error curve."
                ),
                numbers=numbers,
                figures=[
                    (
                        curve,
                        "Test RMSE against the number selected."
                        if summary["test_rmse"] is not None
                        else "Coverage against the number selected.",
                    )
                ],
            )
        ],
    )
