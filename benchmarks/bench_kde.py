"""Benchmark propmap's sparse kernel density estimate against scikit-matter's.

Usage::

    python benchmarks/bench_kde.py [--quick] [--case NAME] [--repeat N]
        [--threads N]

Real data: the SOAP environments of the first 5,000 atoms of the shipped QM9
molecules (cutoff 3.5 Å, 2 radial and 2 angular channels), reduced to their first
three principal components (untimed); the grid is the same 70 farthest points
(√5,000) for both, chosen untimed. Runners: ``skmatter`` (the reference) and
``propmap``, each in its own process; both save their log-densities and the
table gives the largest absolute difference.

- ``score``: ``score_samples`` of the 5,000 atoms on a fitted model (goal:
  >= 20x);
- ``fit``: the bandwidth estimation (``fit`` on the grid).
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
    speedup_details,
)

N_COMPONENTS = 3
MIN_SPEEDUP = {"score": 20.0}
CASE_SPECS: dict[str, int] = {"score": 5_000, "fit": 5_000}


def environments(n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_atoms`` atomic SOAP environments of QM9 (first
    :data:`N_COMPONENTS` principal components) and the farthest-point grid."""
    from sklearn.decomposition import PCA

    from propmap.datasets import load_qm9
    from propmap.sample_selection import FPS
    from propmap.workflows import SoapOptions

    structures, total, count = [], 0, 0
    every = load_qm9()
    while total < n_atoms:
        structures.append(every[count])
        total += len(every[count])
        count += 1
    soap = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
    X = soap.featurizer(per="atom", sparse_output=False).fit_transform(structures)
    X = PCA(N_COMPONENTS, random_state=0).fit_transform(np.asarray(X)[:n_atoms])
    grid = FPS(n_to_select=int(np.sqrt(n_atoms)), initialize=0).fit(X).selected_idx_
    return X, X[grid]


def prepare(data: tuple[np.ndarray, np.ndarray], module: str, key: str) -> Callable:
    """Build the estimator (scikit-matter's constructor, which both accept); for
    ``score`` also fit it, untimed."""
    SparseKDE = importlib.import_module(f"{module}.neighbors").SparseKDE
    X, grid = data

    def fitted():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SparseKDE(X, None).fit(grid)

    if key == "fit":
        return fitted
    model = fitted()
    return functools.partial(model.score_samples, X)


def outputs(data: Any, result: Any) -> dict[str, np.ndarray]:
    if hasattr(result, "score_samples"):  # a fitted model: its bandwidths
        return {"values": np.asarray(result.bandwidth_).ravel()}
    return {"values": np.asarray(result)}


def agreement(reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]):
    expected, actual = reference["values"], other["values"]
    if expected.shape != actual.shape:
        return float("inf")
    return float(np.max(np.abs(actual - expected)))


def build_case(key: str, quick: bool = False) -> Case:
    n_atoms = 1_000 if quick else CASE_SPECS[key]
    return Case(
        name=f"{key} QM9 atoms {n_atoms} x {N_COMPONENTS}",
        setup=functools.partial(environments, n_atoms),
        runners={
            name: Runner(functools.partial(prepare, module=name, key=key), outputs)
            for name in ("skmatter", "propmap")
        },
        reference="skmatter",
        agreement=agreement,
        repeat=1 if key == "score" else 3,
        params={"key": key, "n_atoms": n_atoms, "quick": quick},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    return run_main(
        argv, __doc__, CASE_SPECS, "1,000 atoms, for a smoke run", build_case, "kde",
        lambda results: speedup_details(
            results, MIN_SPEEDUP, "max absolute difference"
        ),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
