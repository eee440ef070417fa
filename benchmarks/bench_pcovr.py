"""Benchmark propmap's PCovR fit against scikit-matter's (the reference).

Usage::

    python benchmarks/bench_pcovr.py [--quick] [--case NAME] [--repeat N] [--threads N]

Each case fits ``PCovR(mixing=0.5)`` with default settings on centred standard
normal X and a noisy linear Y. Three runners are timed, each in its own process:
``reference`` (scikit-matter), ``propmap``, and ``XtX``, the single product ``XᵀX``
(``XXᵀ`` for the sample-space case), a floor for what a fit can cost. The
reference and propmap runners save ``predict`` and ``transform`` of the first 1,000
rows, and the table reports the largest difference relative to the reference.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from _harness import (
    Case,
    Runner,
    run_main,
)

MIXING = 0.5
SEED = 0
N_CHECK_ROWS = 1_000

# The goals for the feature-space fit at 100,000 x 1,000.
TARGET_CASE = "feature-large"
TARGET_MAX_GRAM_RATIO = 1.5  # propmap time / one XᵀX
TARGET_MIN_SPEEDUP = 2.5  # reference time / propmap time

# key: (space, n_samples, n_features, repeat)
CASE_SPECS: dict[str, tuple[str, int, int, int]] = {
    "feature-small": ("feature", 10_000, 500, 3),
    "feature-large": ("feature", 100_000, 1_000, 1),
    "sample": ("sample", 2_000, 10_000, 1),
}


def make_data(
    n_samples: int, n_features: int, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Centred standard normal X and a noisy linear, centred Y with two targets.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of X.
    seed : int, default=SEED
        Seed of ``numpy.random.default_rng``; the same seed gives the same data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, 2)
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    X -= X.mean(axis=0)  # in place: a centred copy would raise the baseline peak
    weights = rng.standard_normal((n_features, 2))
    Y = X @ weights + 0.1 * rng.standard_normal((n_samples, 2))
    Y -= Y.mean(axis=0)
    return X, Y


def prepare_pcovr(
    data: tuple[np.ndarray, np.ndarray], module: str
) -> Callable[[], Any]:
    """Import ``module.PCovR`` (untimed) and return the timed fit.

    Parameters
    ----------
    data : tuple of ndarray
        ``(X, Y)`` from :func:`make_data`.
    module : str
        ``"skmatter.decomposition"`` or ``"propmap.decomposition"``.

    Returns
    -------
    fit : callable
        Fits a fresh ``PCovR(mixing=MIXING)`` to X and Y and returns it.
    """
    estimator_class = importlib.import_module(module).PCovR
    X, Y = data

    def fit() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return estimator_class(mixing=MIXING).fit(X, Y)

    return fit


def prepare_product(
    data: tuple[np.ndarray, np.ndarray], space: str
) -> Callable[[], np.ndarray]:
    """Return the timed product ``XᵀX`` (feature space) or ``XXᵀ`` (sample space).

    Parameters
    ----------
    data : tuple of ndarray
        ``(X, Y)`` from :func:`make_data`.
    space : {"feature", "sample"}
        Which Gram matrix PCovR forms in this case.

    Returns
    -------
    product : callable
    """
    X = data[0]
    if space == "feature":
        return lambda: X.T @ X
    return lambda: X @ X.T


def pcovr_outputs(
    data: tuple[np.ndarray, np.ndarray], model: Any
) -> dict[str, np.ndarray]:
    """Predictions and latent coordinates of the first rows of the training X.

    Parameters
    ----------
    data : tuple of ndarray
        ``(X, Y)`` from :func:`make_data`.
    model : PCovR
        The fitted estimator.

    Returns
    -------
    outputs : dict of ndarray
        ``"predict"`` and ``"transform"``.
    """
    X_head = data[0][:N_CHECK_ROWS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"predict": model.predict(X_head), "transform": model.transform(X_head)}


def relative_difference(expected: np.ndarray, actual: np.ndarray) -> float:
    """``max |actual - expected| / max |expected|``; inf if the shapes differ."""
    if expected.shape != actual.shape:
        return float("inf")
    scale = np.max(np.abs(expected))
    difference = np.max(np.abs(actual - expected))
    return float(difference / scale) if scale > 0 else float(difference)


def pcovr_agreement(
    reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Relative differences of the predictions, and of the latent coordinates after
    matching each column's sign to the reference (eigenvectors have no fixed sign).

    Parameters
    ----------
    reference, other : mapping of str to ndarray
        Outputs of :func:`pcovr_outputs` from the reference and another runner.

    Returns
    -------
    differences : dict of str to float
        ``"predict"`` and ``"transform"``.
    """
    latent_reference, latent = reference["transform"], other["transform"]
    if latent.shape == latent_reference.shape:
        signs = np.sign(np.sum(latent_reference * latent, axis=0))
        signs[signs == 0] = 1.0
        latent = latent * signs
    return {
        "predict": relative_difference(reference["predict"], other["predict"]),
        "transform": relative_difference(latent_reference, latent),
    }


def build_case(key: str, quick: bool = False) -> Case:
    """The benchmark case ``key`` (a key of ``CASE_SPECS``).

    Parameters
    ----------
    key : str
        Which case.
    quick : bool, default=False
        Use 10x fewer samples (and three repeats) for a fast smoke run.

    Returns
    -------
    case : Case
    """
    space, n_samples, n_features, repeat = CASE_SPECS[key]
    if quick:
        n_samples, repeat = n_samples // 10, 3
    return Case(
        name=f"{space} n={n_samples} d={n_features}",
        setup=functools.partial(make_data, n_samples, n_features, SEED),
        runners={
            "reference": Runner(
                functools.partial(prepare_pcovr, module="skmatter.decomposition"),
                outputs=pcovr_outputs,
            ),
            "propmap": Runner(
                functools.partial(prepare_pcovr, module="propmap.decomposition"),
                outputs=pcovr_outputs,
            ),
            "XtX": Runner(functools.partial(prepare_product, space=space)),
        },
        repeat=repeat,
        baseline="XtX",
        agreement=pcovr_agreement,
        params={
            "key": key,
            "space": space,
            "n_samples": n_samples,
            "n_features": n_features,
            "mixing": MIXING,
            "seed": SEED,
            "quick": quick,
        },
    )


def format_details(results: Sequence[Mapping[str, Any]]) -> str:
    """The per-output differences and the issue's targets, as text lines."""
    lines = []
    for result in results:
        if result.get("agreement"):
            parts = ", ".join(f"{k} {v:.1e}" for k, v in result["agreement"].items())
            lines.append(f"{result['case']} / {result['runner']}: max rel diff {parts}")
    by_key = {
        (r["params"]["key"], r["runner"]): r for r in results if not r.get("error")
    }
    propmap = by_key.get((TARGET_CASE, "propmap"))
    if propmap is not None:
        gram_ratio = propmap.get("ratio_vs_baseline")
        speedup = propmap.get("ratio_vs_reference")
        if gram_ratio is not None and speedup is not None:
            quick_note = " (quick run: sizes differ from the target's)"
            lines.append(
                f"{propmap['case']}: propmap / XtX = {gram_ratio:.2f} "
                f"(target <= {TARGET_MAX_GRAM_RATIO}: "
                f"{'met' if gram_ratio <= TARGET_MAX_GRAM_RATIO else 'NOT met'}); "
                f"reference / propmap = {speedup:.2f} "
                f"(target >= {TARGET_MIN_SPEEDUP}: "
                f"{'met' if speedup >= TARGET_MIN_SPEEDUP else 'NOT met'})"
                + (quick_note if propmap["params"]["quick"] else "")
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    return run_main(
        argv, __doc__, CASE_SPECS, "10x fewer samples, for a smoke run", build_case,
        "pcovr", format_details,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
