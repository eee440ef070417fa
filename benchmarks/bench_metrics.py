"""Benchmark propmap's reconstruction measures against scikit-matter's.

Usage::

    python benchmarks/bench_metrics.py [--quick] [--case NAME] [--repeat N]
        [--threads N]

Real data: two SOAP feature spaces of the shipped QM9 molecules (cutoffs 3.5 Å and
5 Å, 2 radial and 2 angular channels, summed over atoms), each reduced to its first
100 principal components (untimed), so the measures compare 500 x 100 with
500 x 100 as in the issue. Runners: ``reference`` (scikit-matter) and
``propmap``, each in its own process; both save their pointwise values, and the
table gives the largest difference relative to the reference's.

- ``lfre``: ``pointwise_local_reconstruction_error(X, Y, 20)`` (goal: >= 10x);
- ``gfre``, ``gfrd``: the pointwise global error and distortion.
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

N_COMPONENTS = 100
N_LOCAL_POINTS = 20
MIN_SPEEDUP = {"lfre": 10.0}

# key: (function, n_molecules)
CASE_SPECS: dict[str, tuple[str, int]] = {
    "lfre": ("pointwise_local_reconstruction_error", 500),
    "gfre": ("pointwise_global_reconstruction_error", 500),
    "gfrd": ("pointwise_global_reconstruction_distortion", 500),
}


def soap_spaces(n_molecules: int) -> tuple[np.ndarray, np.ndarray]:
    """Two SOAP spaces of the first ``n_molecules`` QM9 molecules (cutoffs 3.5 Å
    and 5 Å), each as its first :data:`N_COMPONENTS` principal components."""
    from sklearn.decomposition import PCA

    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    structures = load_qm9(n_molecules)
    spaces = []
    for cutoff in (3.5, 5.0):
        soap = SoapOptions(cutoff=cutoff, max_radial=2, max_angular=2)
        X = np.asarray(soap.featurizer(per="structure").fit_transform(structures))
        components = min(N_COMPONENTS, *X.shape)
        spaces.append(PCA(components, random_state=0).fit_transform(X))
    return spaces[0], spaces[1]


def prepare_measure(
    data: tuple[np.ndarray, np.ndarray], module: str, function: str
) -> Callable[[], np.ndarray]:
    """Import ``module.function`` (untimed) and return the timed call."""
    measure = getattr(importlib.import_module(module), function)
    X, Y = data
    extra = (N_LOCAL_POINTS,) if "local" in function else ()

    def run() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(measure(X, Y, *extra))

    return run


def measure_outputs(data: Any, values: np.ndarray) -> dict[str, np.ndarray]:
    return {"values": values}


def agreement(
    reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> float:
    """``max |ours − theirs| / max |theirs|`` (inf if the shapes differ)."""
    expected, actual = reference["values"], other["values"]
    if expected.shape != actual.shape:
        return float("inf")
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def build_case(key: str, quick: bool = False) -> Case:
    """The case ``key`` of :data:`CASE_SPECS` (``quick``: 100 molecules)."""
    function, n_molecules = CASE_SPECS[key]
    if quick:
        n_molecules = 100
    return Case(
        name=f"{key} QM9 SOAP {n_molecules} x {N_COMPONENTS}",
        setup=functools.partial(soap_spaces, n_molecules),
        runners={
            name: Runner(
                functools.partial(
                    prepare_measure, module=f"{name}.metrics", function=function
                ),
                outputs=measure_outputs,
            )
            for name in ("skmatter", "propmap")
        },
        reference="skmatter",
        agreement=agreement,
        repeat=1 if key == "lfre" else 3,
        params={"key": key, "n_molecules": n_molecules, "quick": quick},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    return run_main(
        argv, __doc__, CASE_SPECS, "100 molecules, for a smoke run", build_case,
        "metrics", lambda results: speedup_details(results, MIN_SPEEDUP),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
