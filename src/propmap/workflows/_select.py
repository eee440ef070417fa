"""The selection workflow: pick informative features or representative samples,
and show how the test error falls with the number picked."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from propmap.workflows._cluster import ClusterOptions, cluster_client
from propmap.workflows._inputs import feature_names, read_rows
from propmap.workflows._options import Aggregate, Axis, Method, SoapOptions
from propmap.workflows._options import WorkflowError as _Error
from propmap.workflows._select_curves import (
    held_out_error,
    streamed_errors,
    warn_if_worse_than_random,
)
from propmap.workflows._select_picks import (
    CANDIDATE,
    COMPUTED,
    HELD_OUT,
    PICKED,
    read_with_excluded,
    write_picked,
    write_selection_viewer,
)
from propmap.workflows._select_report import RANDOM_REPEATS, coverage_of, write_report
from propmap.workflows._steps import (
    check_memory,
    output_folder,
    stage,
    timed_stages,
    write_json,
)
from propmap.workflows._tables import is_feature_file

__all__ = ["SELECT_FILES", "run_selection"]

# the plain method each PCov method is compared with
PLAIN = {
    Method.fps: Method.fps,
    Method.cur: Method.cur,
    Method.pcov_fps: Method.fps,
    Method.pcov_cur: Method.cur,
}
CLASS_NAMES = {
    Method.fps: "FPS",
    Method.cur: "CUR",
    Method.pcov_fps: "PCovFPS",
    Method.pcov_cur: "PCovCUR",
}
DEFAULT_MIXING = 0.5
# measured (test RMSE of a ridge trained on 100 picked samples, QM9 gap): on the
# shipped 2,000, CUR 0.849, FPS 0.892, PCov-FPS 0.900, PCov-CUR 1.006 (random
# 0.828); on 10,000, FPS 0.827, PCov-CUR 0.958 (random 0.859). FPS for samples:
# best at 10,000, the best coverage, and no target needed
DEFAULT_METHOD = {Axis.features: Method.pcov_cur, Axis.samples: Method.fps}
SELECT_FILES = {
    "selected": "selected.csv",
    "curve": "selection_curve.png",
    "summary": "summary.json",
    "report": "report.html",
    # samples only: the picked structures and a viewer marking them
    "picked": "picked.extxyz",
    "viewer": "viewer.html",
}


def _selector(method: Method, axis: Axis, count: int, seed: int, mixing):
    from propmap import feature_selection, sample_selection

    module = feature_selection if axis == Axis.features else sample_selection
    selector = getattr(module, CLASS_NAMES[method])(
        n_to_select=count, random_state=seed
    )
    if method in (Method.pcov_fps, Method.pcov_cur):
        selector.set_params(mixing=mixing)
    return selector


def _check_options(method, axis, count, mixing) -> tuple[Method, Axis, float | None]:
    try:
        axis = Axis(axis)
    except ValueError:
        raise _Error(f"axis must be 'features' or 'samples', not {axis!r}.") from None
    if method is None:
        method = DEFAULT_METHOD[axis]
    try:
        method = Method(method)
    except ValueError:
        choices = ", ".join(m.value for m in Method)
        raise _Error(f"unknown method {method!r}; choose from {choices}.") from None
    pcov = method in (Method.pcov_fps, Method.pcov_cur)
    if mixing is not None and not pcov:
        raise _Error(
            f"--mixing is the α of the PCov methods; {method.value} has none "
            "(use pcov-fps or pcov-cur, or leave out --mixing)."
        )
    if mixing is not None and not 0.0 <= mixing <= 1.0:
        raise _Error(f"--mixing must be in [0, 1], not {mixing}.")
    if count < 1:
        raise _Error(f"--count must be at least 1, not {count}.")
    return method, axis, (DEFAULT_MIXING if mixing is None and pcov else mixing)


def run_selection(
    paths: list[Path],
    out: Path,
    *,
    method: Method | str | None = None,
    axis: Axis | str = Axis.features,
    count: int = 20,
    target: str | None = None,
    mixing: float | None = None,
    test_fraction: float = 0.2,
    soap: SoapOptions | None = None,
    aggregate: Aggregate | str = Aggregate.mean,
    progress: bool = False,
    seed: int = 0,
    force: bool = False,
    cluster: ClusterOptions | None = None,
    exclude: list[Path] | None = None,
) -> dict[str, Any]:
    """Select features or samples, and measure the test error of a ridge model
    against the number selected, for the method, its plain counterpart and random
    picks.

    Parameters
    ----------
    paths : list of path-like
        Structure files or folders (SOAP features), or one feature table (CSV
        with a header, or NPZ with arrays ``X`` and ``y``).
    out : path-like
        Output folder (see ``SELECT_FILES``).
    method : {"fps", "cur", "pcov-fps", "pcov-cur"} or None, default=None
        None: "pcov-cur" for features, "fps" for samples (what measured best on
        QM9, see ``DEFAULT_METHOD``).
    axis : {"features", "samples"}, default="features"
    count : int, default=20
        How many to select.
    target : str or None
        The property (structure info key or table column); needed by the PCov
        methods and the error curve.
    mixing : float or None, default=None
        α of the PCov methods (None: 0.5); refused for fps and cur.
    test_fraction : float, default=0.2
        Share of samples held out; selection sees only the others.
    soap : SoapOptions or None
        SOAP settings for structures.
    aggregate : {"mean", "sum"}, default="mean"
        Structure features as the mean or the sum of the atoms'.
    progress : bool, default=False
        Progress bars and notes on stderr.
    seed : int, default=0
        Seed of every random choice (the split, the folds).
    force : bool, default=False
        Write into a non-empty output folder.
    cluster : ClusterOptions or None, default=None
        Run on a dask cluster (a scheduler's address, or local worker
        processes): the structure files are featurised where they are read
        (:func:`~propmap.atomistic.featurize_files`), kept on the workers and
        never all loaded here;
        feature selection reads X once, sample FPS and PCov-FPS keep the rows on
        the workers, and the error curve makes one pass for all its models.
    exclude : list of path-like or None, default=None
        Structures computed already (e.g. an existing DFT set): the selection
        of samples continues from them as if it had picked them first, the
        error curve trains on them with the picks, and the coverage counts
        them as picks. Structure inputs, in memory.

    Returns
    -------
    summary : dict
        What ``summary.json`` holds.
    """
    method, axis, mixing = _check_options(method, axis, count, mixing)
    aggregate = Aggregate(aggregate)
    soap = soap or SoapOptions()
    streamed = cluster is not None and cluster.active
    if streamed and is_feature_file(paths):
        raise _Error(
            "--scheduler and --workers stream structure files; a feature table is "
            "read whole: leave them out."
        )
    if exclude:
        if axis != Axis.samples:
            raise _Error(
                "--exclude names structures computed already: it continues a "
                "selection of samples (--axis samples)."
            )
        if is_feature_file(paths) or is_feature_file(exclude) or streamed:
            raise _Error(
                "--exclude takes structure files beside structure inputs, read "
                "in memory (not a feature table, not with --scheduler/--workers)."
            )
    with output_folder(out, force) as out, cluster_client(cluster), timed_stages():
        return _select(
            paths, out, method, axis, count, target, mixing, test_fraction, soap,
            aggregate, progress, seed, streamed, exclude or [],
        )  # fmt: skip


def _select(
    paths, out, method, axis, count, target, mixing, test_fraction, soap, aggregate,
    progress, seed, streamed=False, exclude=(),
):  # fmt: skip
    import pandas as pd
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from propmap._files import write_atomically
    from propmap.viz import save_figure, selection_curves

    excluded = 0
    if exclude:
        inputs, excluded = read_with_excluded(
            paths, exclude, target, soap, aggregate, progress
        )
    else:
        inputs = read_rows(
            paths, target, soap=soap, aggregate=aggregate, progress=progress,
            streamed=streamed, keep_structures=axis == Axis.samples,
        )  # fmt: skip
    # (streamed: X computed once, kept on the workers for the passes that follow)
    X, y, sample_names = inputs.X, inputs.y, inputs.names
    names = feature_names(inputs)
    source = "table" if inputs.kind == "rows" else "structures"
    if y is None and method in (Method.pcov_fps, Method.pcov_cur):
        raise _Error(
            f"--target is needed: {method.value} balances the features against it "
            "(fps and cur need none)."
        )
    if y is None and streamed:
        raise _Error(
            "--target is needed on a cluster: without one the picks are measured "
            "by their coverage, which needs the rows in memory."
        )
    if y is not None and not np.all(np.isfinite(y)):
        raise _Error("the target has missing or non-numeric values.")
    n_samples, n_features = X.shape[0] - excluded, X.shape[1]
    if n_samples < 5:
        raise _Error(
            f"{n_samples} samples are too few for a test split; give at least 5."
        )
    available = (
        n_features if axis == Axis.features else int(n_samples * (1 - test_fraction))
    )
    if not 1 <= count <= available:
        raise _Error(
            f"--count must be between 1 and {available} {axis} here, not {count}."
        )

    indices = np.arange(n_samples)
    train, test = train_test_split(indices, test_size=test_fraction, random_state=seed)
    _check_selection_memory(method, train.size, n_features, axis)
    # SOAP channels share one scale (their relative sizes kept); a table's
    # columns are each in their own units (the map's rule, table_scaler). The
    # PCov methods balance ‖X‖² against ‖y‖²: both n, so that a mixing means the
    # same in any units and for any width
    X = clone(inputs.x_scaler).fit(X[train]).transform(X)
    y_scaled = None
    if y is not None:
        spread = y[train].std()
        y_scaled = (y - y[train].mean()) / (spread if spread > 0 else 1.0)
    # selection sees only the training samples, and those computed before
    # (last in the pool, taken as picked already)
    fixed = np.arange(n_samples, n_samples + excluded)
    pooled = np.r_[train, fixed]
    pool = X[pooled]
    given = np.arange(train.size, pooled.size)
    stage(f"{method} selection of {count} {axis}", progress)

    def select(name: Method) -> np.ndarray:
        selector = _selector(name, axis, count + excluded, seed, mixing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            selector.fit(
                pool, None if y_scaled is None else y_scaled[pooled],
                selected=given if excluded else None,
            )  # fmt: skip
        return np.asarray(selector.selected_idx_)[excluded:]

    chosen = select(method)
    picks = {method.value: chosen}
    if PLAIN[method] != method:
        picks[PLAIN[method].value] = select(PLAIN[method])
    counts = np.unique(np.linspace(1, count, min(count, 10)).round().astype(int))
    rng = np.random.default_rng(seed)
    size = n_features if axis == Axis.features else train.size
    orders = [rng.permutation(size) for _ in range(RANDOM_REPEATS)]
    errors = None
    if y is None:
        pass
    elif streamed:
        stage("error curve (one pass)", progress)
        errors = streamed_errors(X, y, train, test, picks, orders, counts, axis)
    else:
        computed = fixed if excluded else None

        def curve(order):
            return np.array(
                [
                    held_out_error(X, y, train, test, order[:k], axis, computed)
                    for k in counts
                ]
            )

        errors = {name: curve(p) for name, p in picks.items()}
        errors["random"] = np.array([curve(order) for order in orders])
    if errors is not None:
        warn_if_worse_than_random(method, count, errors)
    coverage = None
    if isinstance(pool, np.ndarray):
        stage("coverage of the picks", progress)
        points = pool if axis == Axis.samples else pool.T

        def covered(order):  # the structures computed before count as picks
            return coverage_of(points, np.r_[given, order], counts + excluded)

        coverage = {name: covered(p) for name, p in picks.items()}
        randoms = [covered(order) for order in orders]
        coverage["random"] = {
            key: np.mean([r[key] for r in randoms], axis=0).tolist()
            for key in ("largest", "mean")
        }
    labels = names if axis == Axis.features else [sample_names[i] for i in train]
    selected = pd.DataFrame(
        {
            "rank": np.arange(1, chosen.size + 1),
            "index": chosen if axis == Axis.features else train[chosen],
            "name": [labels[i] for i in chosen],
        }
    )
    written = dict(SELECT_FILES)
    if axis != Axis.samples:
        del written["picked"], written["viewer"]
    else:
        if inputs.structures is None:
            del written["picked"]
        if streamed:  # the rows stay on the workers
            del written["viewer"]
    files = {name: out / file for name, file in written.items()}
    write_atomically(files["selected"], lambda f: selected.to_csv(f, index=False))
    if axis == Axis.samples:
        _write_picks(files, inputs, X, y, target, train, test, fixed, chosen, method)
    if errors is not None:
        save_figure(
            selection_curves(counts, errors, ylabel="test RMSE"), files["curve"]
        )
    else:  # without a target, how well the picks cover the rest
        save_figure(
            selection_curves(
                counts,
                {name: np.array(c["largest"]) for name, c in coverage.items()},
                ylabel="largest distance of an unpicked point to the picks",
            ),
            files["curve"],
        )
    summary = {
        "method": method.value,
        "axis": axis.value,
        "count": count,
        "mixing": mixing,
        "target": target,
        "input": source,
        "aggregate": aggregate.value if source == "structures" else None,
        "samples": n_samples,
        "features": n_features,
        "n_train": int(train.size),
        "n_test": int(test.size),
        # structures computed before (--exclude): picked first, in every curve
        "excluded": excluded,
        "counts": counts.tolist(),
        "test_rmse": None
        if errors is None
        else {
            name: (value.mean(axis=0) if value.ndim == 2 else value).tolist()
            for name, value in errors.items()
        },
        # in the space the method picks in (the scaled features of the training
        # samples, or the columns across them): None on a cluster
        "coverage": coverage,
        "seed": seed,
        "files": written,
    }
    write_json(files["summary"], summary)
    write_report(files["report"], summary, files["curve"], selected)
    return summary


def _write_picks(files, inputs, X, y, target, train, test, fixed, chosen, method):
    """picked.extxyz (structures) and the viewer of every sample (rows of X:
    the candidates, then those computed before)."""
    picked = train[chosen]
    if "picked" in files:
        write_picked(files["picked"], inputs.structures, picked, method.value)
    if "viewer" not in files:
        return
    groups = np.full(X.shape[0], CANDIDATE, dtype=object)
    groups[test], groups[fixed], groups[picked] = HELD_OUT, COMPUTED, PICKED
    ranks = np.zeros(X.shape[0], dtype=int)
    ranks[picked] = np.arange(1, picked.size + 1)
    write_selection_viewer(
        files["viewer"], X, inputs.structures, groups, ranks, target, y,
        f"propmap: {method.value} picks",
    )  # fmt: skip


def _check_selection_memory(
    method: Method, n_samples: int, n_features: int, axis: Axis = Axis.features
) -> None:
    """Refuse a method before the work when what its selector says a fit on the
    training X holds (:meth:`GreedySelector.working_set`) would not fit."""
    held = _selector(method, axis, 1, 0, DEFAULT_MIXING).working_set(
        n_samples, n_features
    )
    if held is None:
        return
    rows, columns, copies = held
    check_memory(
        rows, columns,
        f"{method} with {n_samples:,} samples and {n_features:,} features",
        "use fps or pcov-fps, or fewer SOAP columns (--max-radial, "
        "--max-angular, fewer elements).",
        copies=copies,
    )  # fmt: skip
