"""Benchmark propmap's KernelPCovR and SparseKernelPCovR against scikit-matter's.

Usage::

    python benchmarks/bench_kpcovr.py [--quick] [--case NAME] [--threads N]
        [--repeat N] [--timeout S] [--no-save]

Every case fits with an RBF kernel and ``mixing=0.5``, other settings at their
defaults, on X built from a few latent factors plus noise (standardised columns)
and a smooth, nonlinear target of those factors: data an RBF kernel suits. The
runners, each timed in its own process, are ``reference`` (scikit-matter's
KernelPCovR), ``propmap`` and ``dense`` (propmap's KernelPCovR), ``sparse``
(propmap's SparseKernelPCovR, Nyström on 2,000 active points) and ``sklearn``
(scikit-learn's KernelPCA with two components, then its KernelRidge, the two
halves of a kernel PCovR fit done separately). Where the reference runs, it and
propmap save ``predict`` of the first 1,000 training rows and the table reports
their largest relative difference. The accuracy case fits dense and sparse on
8,000 rows and scores both on 2,000 held-out rows: the test R² of ``predict``,
and how well a linear map of the sparse latent coordinates reproduces the dense
ones.
"""

from __future__ import annotations

import functools
import importlib
import operator
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.decomposition import KernelPCA
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics import r2_score

from _harness import (
    Case,
    Runner,
    benchmark_parser,
    error_row,
    format_number,
    layout_table,
    report,
    run_cases,
    select_cases,
    verdict,
)
from bench_pcovr import relative_difference

SEED = 0
MIXING = 0.5
KERNEL = "rbf"
N_FACTORS = 5  # latent factors behind X and the target
NOISE_LEVEL = 0.5  # noise of each column of X relative to its signal (both std)
TARGET_NOISE = 0.05  # std of the noise added to the target
ALPHA = 1.0  # kernel ridge penalty: KernelPCovR's default regressor's, and sklearn's
N_ACTIVE = 2_000  # active points of SparseKernelPCovR (chosen by FPS, its default)
N_CHECK_ROWS = 1_000
QUICK_FACTOR = 5  # --quick divides the numbers of samples and active points by this
DEFAULT_TIMEOUT_S = 3600.0

# Which estimator each runner fits: (module, class); "sklearn" is separate.
ESTIMATORS: dict[str, tuple[str, str]] = {
    "reference": ("skmatter.decomposition", "KernelPCovR"),
    "propmap": ("propmap.decomposition", "KernelPCovR"),
    "dense": ("propmap.decomposition", "KernelPCovR"),
    "sparse": ("propmap.decomposition", "SparseKernelPCovR"),
}

# key: (n_train, n_test, n_features, n_components, runners); the first runner is
# the one the others are compared with.
CASE_SPECS: dict[str, tuple[int, int, int, int | None, tuple[str, ...]]] = {
    "dense-2000": (2_000, 0, 200, None, ("reference", "propmap")),
    "dense-4000": (4_000, 0, 200, None, ("reference", "propmap")),
    "dense-2000-c2": (2_000, 0, 200, 2, ("reference", "propmap", "sklearn")),
    "dense-4000-c2": (4_000, 0, 200, 2, ("reference", "propmap", "sklearn")),
    "dense-20000-c2": (20_000, 0, 200, 2, ("propmap",)),
    "nystroem-100000": (100_000, 0, 500, 2, ("sparse",)),
    "nystroem-accuracy": (8_000, 2_000, 500, 2, ("dense", "sparse")),
}

# Printed below the table when the case ran.
NOTES = {
    "dense-20000-c2": (
        "propmap only: scikit-matter keeps several n x n arrays (3.2 GB each at "
        "n = 20,000) and takes far too long at this size"
    ),
    "nystroem-accuracy": (
        "latent R2 = R2 of the least-squares map from the sparse latent "
        "coordinates of the test rows to the dense ones (1 = same subspace)"
    ),
}

# The goals: (case key, quantity, comparison, bound); see goal_value.
GOALS: tuple[tuple[str, str, str, float], ...] = (
    ("dense-4000", "reference / propmap", ">=", 8.0),
    ("dense-4000-c2", "propmap / sklearn", "<=", 1.3),
    ("dense-4000-c2", "propmap +peak in n x n arrays", "<=", 3.0),
    ("dense-20000-c2", "propmap peak MB", "<", 8192.0),
    ("nystroem-100000", "sparse time s", "<", 60.0),
    ("nystroem-100000", "sparse peak MB", "<", 4096.0),
    ("nystroem-accuracy", "|R2 dense - R2 sparse|", "<=", 0.01),
)
COMPARISONS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}


def rbf_gamma(n_features: int) -> float:
    """``1 / (2 n_features)``: one over the mean squared distance between two rows
    of X (standardised columns), so that typical kernel values are near 0.4."""
    return 1.0 / (2.0 * n_features)


def make_data(
    n_train: int, n_test: int, n_features: int, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Latent-factor X and a smooth nonlinear target of the factors, split in two.

    X is ``Z A + 0.5 E`` with Z (n, 5) and E standard normal, and A (5, n_features)
    standard normal divided by √5 (so that every column's signal has unit variance
    on average), with its columns then centred and scaled to unit variance. Y is
    ``sin(z₁) + z₂² / 2 + tanh(z₃) z₄`` plus noise of standard deviation 0.05,
    centred: one column, as with the default ``center=False`` one of two
    components goes to the kernel's mean, leaving one for the target. The first
    ``n_train`` rows are the training set, the rest the test set (the statistics of
    the centring are those of all rows).

    Parameters
    ----------
    n_train, n_test : int
        Rows of the training and test sets.
    n_features : int
        Columns of X.
    seed : int, default=SEED
        Seed of ``numpy.random.default_rng``; the same seed gives the same data.

    Returns
    -------
    X : ndarray of shape (n_train, n_features)
    Y : ndarray of shape (n_train, 1)
    X_test : ndarray of shape (n_test, n_features)
    Y_test : ndarray of shape (n_test, 1)
    """
    n_samples = n_train + n_test
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_samples, N_FACTORS))
    loadings = rng.standard_normal((N_FACTORS, n_features)) / np.sqrt(N_FACTORS)
    X = np.empty((n_samples, n_features))
    rng.standard_normal(out=X)
    X *= NOISE_LEVEL
    # The signal in blocks of rows: a full-size temporary would double the peak.
    block = max(1, 2**22 // n_features)
    for start in range(0, n_samples, block):
        X[start : start + block] += factors[start : start + block] @ loadings
    X -= X.mean(axis=0)  # in place: a copy would raise the baseline peak
    X /= np.sqrt(np.einsum("ij,ij->j", X, X) / n_samples)
    Y = (
        np.sin(factors[:, :1])
        + 0.5 * factors[:, 1:2] ** 2
        + np.tanh(factors[:, 2:3]) * factors[:, 3:4]
    )
    Y += TARGET_NOISE * rng.standard_normal(Y.shape)
    Y -= Y.mean(axis=0)
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]


def prepare_estimator(
    data: tuple[np.ndarray, ...], module: str, name: str, parameters: Mapping[str, Any]
) -> Callable[[], Any]:
    """Import the estimator class (untimed) and return the timed fit.

    Parameters
    ----------
    data : tuple of ndarray
        ``(X, Y, X_test, Y_test)`` from :func:`make_data`.
    module, name : str
        Where the class is, e.g. ``"propmap.decomposition"`` and ``"KernelPCovR"``.
    parameters : mapping
        Arguments of the class.

    Returns
    -------
    fit : callable
        Fits a fresh estimator to X and Y and returns it.
    """
    estimator_class = getattr(importlib.import_module(module), name)
    X, Y = data[:2]

    def fit() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return estimator_class(**parameters).fit(X, Y)

    return fit


def prepare_sklearn(
    data: tuple[np.ndarray, ...], n_components: int, gamma: float
) -> Callable[[], tuple[KernelPCA, KernelRidge]]:
    """Return the timed scikit-learn pair: KernelPCA of X, then KernelRidge of Y on X.

    Parameters
    ----------
    data : tuple of ndarray
        ``(X, Y, X_test, Y_test)`` from :func:`make_data`.
    n_components : int
        Components of the KernelPCA.
    gamma : float
        Width of the RBF kernel of both.

    Returns
    -------
    fit : callable
        Fits both and returns them.
    """
    X, Y = data[:2]

    def fit() -> tuple[KernelPCA, KernelRidge]:
        projection = KernelPCA(n_components=n_components, kernel=KERNEL, gamma=gamma)
        regression = KernelRidge(alpha=ALPHA, kernel=KERNEL, gamma=gamma)
        return projection.fit(X), regression.fit(X, Y)

    return fit


def training_predictions(
    data: tuple[np.ndarray, ...], model: Any
) -> dict[str, np.ndarray]:
    """``predict`` of the first rows of the training X."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"predict": model.predict(data[0][:N_CHECK_ROWS])}


def latent_on_test_set(
    data: tuple[np.ndarray, ...], model: Any
) -> dict[str, np.ndarray]:
    """``transform`` of the test X: the latent coordinates of the held-out rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"transform": model.transform(data[2])}


def scores_on_test_set(data: tuple[np.ndarray, ...], model: Any) -> dict[str, float]:
    """R² of ``predict`` on the test set and the wall time of that ``predict``."""
    X_test, Y_test = data[2:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        prediction = model.predict(X_test)
        elapsed = time.perf_counter() - start
    return {"r2_test": r2_score(Y_test, prediction), "predict_s": elapsed}


def predict_agreement(
    reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Relative difference of the predictions (outputs of
    :func:`training_predictions`); latent coordinates are not compared, as their
    signs are arbitrary."""
    return {"predict": relative_difference(reference["predict"], other["predict"])}


def latent_agreement(
    reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """How far the other runner's test latent space is from the reference's.

    Both sets of coordinates (outputs of :func:`latent_on_test_set`) are centred,
    and the reference's are fitted by least squares as a linear map of the other's;
    the discrepancy is the fraction of the reference's variance the map leaves
    out, ``1 - R²``. Signs, order and any invertible linear mix of the other's
    components do not change it.

    Returns
    -------
    discrepancy : dict of str to float
        ``"latent"``: ``1 - R²``, in [0, 1].
    """
    target = reference["transform"] - reference["transform"].mean(axis=0)
    source = other["transform"] - other["transform"].mean(axis=0)
    coefficients = np.linalg.lstsq(source, target, rcond=None)[0]
    residual = target - source @ coefficients
    return {"latent": float(np.sum(residual**2) / np.sum(target**2))}


def make_runner(
    name: str, n_components: int | None, n_active: int, gamma: float, scored: bool
) -> Runner:
    """The runner ``name`` (a key of ``ESTIMATORS``, or ``"sklearn"``).

    Parameters
    ----------
    name : str
        Which runner.
    n_components : int or None
        Components to keep (None: the estimator's default).
    n_active : int
        Active points of the sparse estimator.
    gamma : float
        Width of the RBF kernel.
    scored : bool
        The case has a test set: the runner then reports the test R² and saves
        the test latent coordinates, rather than saving training predictions.

    Returns
    -------
    runner : Runner
    """
    if name == "sklearn":
        return Runner(
            functools.partial(prepare_sklearn, n_components=n_components, gamma=gamma)
        )
    module, class_name = ESTIMATORS[name]
    parameters: dict[str, Any] = {
        "mixing": MIXING,
        "n_components": n_components,
        "kernel": KERNEL,
        "gamma": gamma,
    }
    if name == "sparse":
        parameters["n_active"] = n_active
    prepare = functools.partial(
        prepare_estimator, module=module, name=class_name, parameters=parameters
    )
    if scored:
        return Runner(prepare, outputs=latent_on_test_set, metrics=scores_on_test_set)
    return Runner(prepare, outputs=training_predictions)


def build_case(
    key: str, quick: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Case:
    """The benchmark case ``key`` (a key of ``CASE_SPECS``).

    Parameters
    ----------
    key : str
        Which case.
    quick : bool, default=False
        Divide the numbers of samples and of active points by ``QUICK_FACTOR``,
        for a fast smoke run.
    timeout_s : float, default=DEFAULT_TIMEOUT_S
        Time limit of each runner's process.

    Returns
    -------
    case : Case
    """
    n_train, n_test, n_features, n_components, runner_names = CASE_SPECS[key]
    n_active = N_ACTIVE
    if quick:
        n_train //= QUICK_FACTOR
        n_test //= QUICK_FACTOR
        n_active //= QUICK_FACTOR
    gamma = rbf_gamma(n_features)
    scored = n_test > 0
    name = f"{key.split('-')[0]} n={n_train}" + (f"+{n_test}" if scored else "")
    name += f" d={n_features} c={n_components or 'all'}"
    if "sparse" in runner_names:
        name += f" m={n_active}"
    return Case(
        name=name,
        setup=functools.partial(make_data, n_train, n_test, n_features, SEED),
        runners={
            runner: make_runner(runner, n_components, n_active, gamma, scored)
            for runner in runner_names
        },
        reference=runner_names[0],
        baseline="sklearn" if "sklearn" in runner_names else None,
        agreement=latent_agreement if scored else predict_agreement,
        timeout_s=timeout_s,
        params={
            "key": key,
            "n_train": n_train,
            "n_test": n_test,
            "n_features": n_features,
            "n_components": n_components,
            "n_active": n_active if "sparse" in runner_names else None,
            "kernel": KERNEL,
            "gamma": gamma,
            "mixing": MIXING,
            "seed": SEED,
            "quick": quick,
            "reference_run": "reference" in runner_names,
            "nn_mb": n_train**2 * 8 / 2**20,
        },
    )


def peak_increase_in_nn(result: Mapping[str, Any]) -> float | None:
    """``+peak MB`` in units of one n x n float64 array (n training samples)."""
    increase = result.get("peak_increase_mb")
    return None if increase is None else increase / result["params"]["nn_mb"]


def r2_on_test_set(result: Mapping[str, Any]) -> float | None:
    """The test R² of ``predict``, where the case has a test set."""
    return (result.get("metrics") or {}).get("r2_test")


def agreement_value(result: Mapping[str, Any], name: str) -> float | None:
    """One entry of the result's agreement with the case's first runner."""
    return (result.get("agreement") or {}).get(name)


def format_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Format results as a fixed-width text table.

    Columns: case; runner; best wall time of the fit in seconds; reference time /
    runner time (where scikit-matter ran); runner time / sklearn time (where
    sklearn ran); peak RSS in MB; increase of the peak over the baseline once the
    data existed, in MB and in units of one n x n float64 array; the largest
    relative difference of ``predict`` from the reference's on the first training
    rows; the test R² of ``predict``; and the R² of the least-squares map from the
    runner's test latent coordinates to the dense runner's.
    """
    headers = [
        "case",
        "runner",
        "time s",
        "ref/time",
        "time/sklearn",
        "peak MB",
        "+peak MB",
        "+peak/nn",
        "predict diff",
        "test R2",
        "latent R2",
    ]
    rows: list[list[str]] = []
    for r in results:
        if r.get("error"):
            rows.append(error_row(r))
            continue
        compared = r["params"]["reference_run"]
        latent = agreement_value(r, "latent")
        rows.append(
            [
                r["case"],
                r["runner"],
                format_number(r.get("time_s"), ".3f"),
                format_number(r.get("ratio_vs_reference") if compared else None, ".2f"),
                format_number(r.get("ratio_vs_baseline"), ".2f"),
                format_number(r.get("peak_mb"), ".0f"),
                format_number(r.get("peak_increase_mb"), ".0f"),
                format_number(peak_increase_in_nn(r), ".2f"),
                format_number(agreement_value(r, "predict"), ".1e"),
                format_number(r2_on_test_set(r), ".4f"),
                format_number(None if latent is None else 1.0 - latent, ".4f"),
            ]
        )
    return layout_table(headers, rows)


def goal_value(quantity: str, runners: Mapping[str, Mapping[str, Any]]) -> float | None:
    """A goal's quantity, from one case's successful results by runner name; None
    where a runner it needs did not run or failed.

    Parameters
    ----------
    quantity : str
        The quantity as named in ``GOALS``.
    runners : mapping of str to dict
        The case's results, by runner.

    Returns
    -------
    value : float or None
    """
    propmap = runners.get("propmap", {})
    sparse = runners.get("sparse", {})
    match quantity:
        case "reference / propmap":
            return propmap.get("ratio_vs_reference")
        case "propmap / sklearn":
            return propmap.get("ratio_vs_baseline")
        case "propmap +peak in n x n arrays":
            return peak_increase_in_nn(propmap) if propmap else None
        case "propmap peak MB":
            return propmap.get("peak_mb")
        case "sparse time s":
            return sparse.get("time_s")
        case "sparse peak MB":
            return sparse.get("peak_mb")
        case "|R2 dense - R2 sparse|":
            dense_r2 = r2_on_test_set(runners.get("dense", {}))
            sparse_r2 = r2_on_test_set(sparse)
            if dense_r2 is None or sparse_r2 is None:
                return None
            return abs(dense_r2 - sparse_r2)
    raise ValueError(f"Unknown goal quantity {quantity!r}.")


def format_details(results: Sequence[Mapping[str, Any]]) -> str:
    """Notes on the cases that ran, test-set details and the issue's goals, as text
    lines."""
    by_case: dict[str, dict[str, Mapping[str, Any]]] = {}
    names: dict[str, str] = {}
    for r in results:
        key = r["params"]["key"]
        names[key] = r["case"]
        if not r.get("error"):
            by_case.setdefault(key, {})[r["runner"]] = r
    lines = [f"{names[key]}: {note}" for key, note in NOTES.items() if key in names]
    for r in results:
        metrics = r.get("metrics")
        if metrics:
            lines.append(
                f"{r['case']} / {r['runner']}: test R2 {metrics['r2_test']:.4f}, "
                f"predict on the test set {metrics['predict_s']:.3f} s"
            )
    quick = any(r["params"]["quick"] for r in results)
    quick_note = " (quick run: sizes differ from the goals')" if quick else ""
    for key, quantity, comparison, bound in GOALS:
        value = goal_value(quantity, by_case.get(key, {}))
        if value is not None:
            met = COMPARISONS[comparison](value, bound)
            lines.append(
                f"{names[key]}: {quantity} = {value:.3g} "
                f"(goal {comparison} {bound:g}: {verdict(met)}){quick_note}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    parser = benchmark_parser(
        __doc__.splitlines()[0],
        CASE_SPECS,
        f"{QUICK_FACTOR}x fewer samples and active points, for a smoke run",
        timeout_s=DEFAULT_TIMEOUT_S,
    )
    args = parser.parse_args(argv)

    cases = [
        build_case(key, quick=args.quick, timeout_s=args.timeout) for key in CASE_SPECS
    ]
    cases = select_cases(parser, cases, args.case)

    results = run_cases(cases, repeat=args.repeat, threads=args.threads)
    print(
        f"data: {N_FACTORS} latent factors plus noise, one nonlinear target, "
        f"seed {SEED}; RBF kernel, gamma = 1 / (2 d); mixing {MIXING}"
    )
    return report(results, args, "kpcovr", format_details(results), table=format_table)


if __name__ == "__main__":
    sys.exit(main())
