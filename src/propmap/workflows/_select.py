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
from propmap.workflows._scores import rmse
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
# fewer picked samples than this predict their mean: RidgeCV's leave-one-out
# choice of the penalty is degenerate on two rows (it flips with rounding)
_MIN_RIDGE_ROWS = 3
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


def _ridge():
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=np.logspace(-6, 3, 10))


def _test_error(X, y, train, test, picked, axis: Axis) -> float:
    """Test RMSE of a ridge regression on the picked features (trained on the
    training samples) or trained on the picked training samples (all features)."""
    model = _ridge()
    if axis == Axis.features:
        model.fit(X[np.ix_(train, picked)], y[train])
        prediction = model.predict(X[np.ix_(test, picked)])
    else:
        rows = train[picked]
        if rows.size < _MIN_RIDGE_ROWS:
            return float(rmse(y[test], np.full(test.size, y[rows].mean())))
        model.fit(X[rows], y[rows])
        prediction = model.predict(X[test])
    return float(rmse(y[test], prediction))


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
    progress, seed, force
        As for :func:`~propmap.workflows.map_structures`.
    cluster : ClusterOptions or None, default=None
        Run on a dask cluster (a scheduler's address, or local worker
        processes): the structure files are featurised where they are read
        (:func:`~propmap.atomistic.featurize_files`), kept on the workers and
        never all loaded here;
        feature selection reads X once, sample FPS and PCov-FPS keep the rows on
        the workers, and the error curve makes one pass for all its models.

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
    with output_folder(out, force) as out, cluster_client(cluster), timed_stages():
        return _select(
            paths, out, method, axis, count, target, mixing, test_fraction, soap,
            aggregate, progress, seed, streamed,
        )  # fmt: skip


def _select(
    paths, out, method, axis, count, target, mixing, test_fraction, soap, aggregate,
    progress, seed, streamed=False,
):  # fmt: skip
    import pandas as pd
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from propmap._files import write_atomically
    from propmap.viz import save_figure, selection_curves

    inputs = read_rows(
        paths, target, soap=soap, aggregate=aggregate, progress=progress,
        streamed=streamed, keep_structures=False,
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
    n_samples, n_features = X.shape
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
    pool = X[train]  # selection sees only the training samples
    stage(f"{method} selection of {count} {axis}", progress)

    def select(name: Method) -> np.ndarray:
        selector = _selector(name, axis, count, seed, mixing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            selector.fit(pool, None if y_scaled is None else y_scaled[train])
        return np.asarray(selector.selected_idx_)

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
        errors = _streamed_errors(X, y, train, test, picks, orders, counts, axis)
    else:
        errors = {
            name: np.array(
                [_test_error(X, y, train, test, p[:k], axis) for k in counts]
            )
            for name, p in picks.items()
        }
        errors["random"] = np.array(
            [
                [_test_error(X, y, train, test, order[:k], axis) for k in counts]
                for order in orders
            ]
        )
    if errors is not None:
        _warn_if_worse_than_random(method, count, errors)
    coverage = None
    if isinstance(pool, np.ndarray):
        stage("coverage of the picks", progress)
        points = pool if axis == Axis.samples else pool.T
        coverage = {name: coverage_of(points, p, counts) for name, p in picks.items()}
        randoms = [coverage_of(points, order, counts) for order in orders]
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
    files = {name: out / file for name, file in SELECT_FILES.items()}
    write_atomically(files["selected"], lambda f: selected.to_csv(f, index=False))
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
        "files": SELECT_FILES,
    }
    write_json(files["summary"], summary)
    write_report(files["report"], summary, files["curve"], selected)
    return summary


def _streamed_errors(X, y, train, test, picks, orders, counts, axis) -> dict:
    """The error curves of :func:`_select` for a dask X: the picked columns (or
    rows) are read once, and the test predictions of every model come from one
    pass over the test rows."""
    largest = int(counts.max())
    chosen = [*(p[:largest] for p in picks.values()), *(o[:largest] for o in orders)]
    if axis == Axis.features:
        # every curve needs only the picked columns: read them once
        needed = np.unique(np.concatenate(chosen))
        compact = np.asarray(X[:, needed].compute())
        where = np.searchsorted(needed, np.arange(X.shape[1]))

        def error(picked):
            return _test_error(compact, y, train, test, where[picked], axis)

    else:
        needed = np.unique(train[np.concatenate(chosen)])
        rows = np.asarray(X[needed].compute())
        models = []

        def error(picked):  # fit now; predict below, all models in one pass
            used = train[picked]
            if used.size < _MIN_RIDGE_ROWS:
                models.append(float(y[used].mean()))
            else:
                model = _ridge().fit(rows[np.searchsorted(needed, used)], y[used])
                models.append(model)
            return len(models) - 1

    curves = {
        name: np.array([error(p[:k]) for k in counts]) for name, p in picks.items()
    }
    curves["random"] = np.array([[error(o[:k]) for k in counts] for o in orders])
    if axis == Axis.features:
        return curves

    def predict(block):
        return np.column_stack(
            [
                np.full(len(block), model)
                if isinstance(model, float)
                else model.predict(block)
                for model in models
            ]
        )

    test_rows = X[np.sort(test)]
    predictions = test_rows.map_blocks(
        predict, chunks=(test_rows.chunks[0], (len(models),)), dtype=np.float64
    ).compute()
    truth = np.repeat(y[np.sort(test)][:, None], len(models), axis=1)
    errors = rmse(truth, predictions, multioutput="raw_values")
    return {name: errors[indices] for name, indices in curves.items()}


# Largest set of n_rows x n_columns arrays the CUR strategies hold at once: for
# d <= n (feature CUR: 0.6 d <= n) the Gram matrix XᵀX, its basis and LAPACK's
# copy (d x d), and for sample CUR a single-precision copy of X (n x d x 4 bytes)
# to screen its products; for n < d the thin SVD of X (X's copy, the right
# singular vectors, LAPACK's workspace and the contiguous basis, n x d): no d x d
# matrix is formed.
_WIDE_COPIES, _SQUARE_COPIES = 4, 3


def _warn_if_worse_than_random(method: Method, count: int, errors) -> None:
    """Say so when the method's picks predict worse than random ones (by more
    than the random orders' standard deviation)."""
    mine = float(errors[method.value][-1])
    randoms = errors["random"][:, -1]
    chance = float(np.mean(randoms))
    # beyond the random orders' own spread, not by the luck of a few picks
    if mine > chance + float(np.std(randoms)):
        warnings.warn(
            f"{method.value}'s {count} picks predict worse than random ones (test "
            f"RMSE {mine:.3g} against {chance:.3g}, the mean of {RANDOM_REPEATS} "
            "random orders): see the curve, and try another method.",
            UserWarning,
            stacklevel=4,
        )


def _check_selection_memory(
    method: Method, n_samples: int, n_features: int, axis: Axis = Axis.features
) -> None:
    """Refuse CUR and PCov-CUR (either axis) before the work when their
    decomposition of the training X would not fit."""
    if PLAIN[method] != Method.cur:
        return
    from propmap.selection._spectral import THIN_SHARE

    # feature CUR keeps the d x d basis for X a little wider than tall
    square = method == Method.cur and axis == Axis.features
    if n_samples < n_features and not (square and n_samples >= THIN_SHARE * n_features):
        shape, copies = (n_samples, n_features), _WIDE_COPIES
    else:
        shape, copies = (n_features, n_features), _SQUARE_COPIES
        if method == Method.cur and axis == Axis.samples:
            from propmap.selection._cur import SCREEN_MAX_SIZE, SCREEN_MIN_SIZE

            if SCREEN_MIN_SIZE <= n_samples * n_features <= SCREEN_MAX_SIZE:
                copies += -(-n_samples // (2 * n_features))  # in d x d matrices
    check_memory(
        *shape,
        f"{method} with {n_samples:,} samples and {n_features:,} features",
        "use fps or pcov-fps, or fewer SOAP columns (--max-radial, "
        "--max-angular, fewer elements).",
        copies=copies,
    )
