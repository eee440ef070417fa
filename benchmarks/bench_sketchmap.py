"""Benchmark propmap's SketchMap against scikit-matter's.

Usage::

    python benchmarks/bench_sketchmap.py [--quick] [--case NAME] [--repeat N]
        [--threads N] [--timeout S] [--no-save]

Real data: SOAP features of the shipped QM9 molecules (3.5 Å cutoff, 2 radial and
2 angular channels), reduced to their first 10 principal components before timing.
Runners: ``skmatter`` (the reference) and ``propmap``, each in its own process,
both with their default settings otherwise.

- ``full``: 2,000 molecules (structure features, mean over atoms), the full
  O(n²) fit of both; the table's ``ref/time`` is the speed ratio, and each
  runner reports the stress of its map.
- ``landmarks``: 10,000 atomic environments (per-atom features) plus 1,000
  further ones. propmap fits all 10,000 with ``n_landmarks=500`` (farthest-point
  landmarks weighted by their Voronoi cells, the rest placed out of sample), then
  transforms the 1,000 (goal: the fit under 60 s). scikit-matter fits the same 500
  landmarks with the same weights as ``sample_weight`` (what its users can do; it
  cannot place the other points). Both report the stress of the landmark map.

``--quick``: 300 molecules; 1,000 + 200 environments with 100 landmarks.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from _harness import (
    Case,
    Runner,
    benchmark_parser,
    report,
    run_cases,
    select_cases,
    verdict,
)

N_COMPONENTS = 10
FIT_GOAL_S = 60.0
DEFAULT_TIMEOUT_S = 3600.0

# key: (features per, points fitted, further points transformed, landmarks)
CASE_SPECS: dict[str, tuple[str, int, int, int | None]] = {
    "full": ("structure", 2_000, 0, None),
    "landmarks": ("atom", 10_000, 1_000, 500),
}
QUICK_SPECS: dict[str, tuple[str, int, int, int | None]] = {
    "full": ("structure", 300, 0, None),
    "landmarks": ("atom", 1_000, 200, 100),
}


def soap_points(per: str, n_points: int) -> np.ndarray:
    """The first ``n_points`` SOAP rows (molecules or atoms) of the shipped QM9
    molecules, as their first :data:`N_COMPONENTS` principal components."""
    from sklearn.decomposition import PCA

    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    soap = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
    # QM9 molecules have 18 atoms on average: 1 / 12 of the rows is plenty
    n_molecules = n_points if per == "structure" else n_points // 12 + 1
    X = soap.featurizer(per=per).fit_transform(load_qm9(n_molecules))
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    if X.shape[0] < n_points:
        raise ValueError(f"{n_molecules} molecules give only {X.shape[0]} rows.")
    return PCA(N_COMPONENTS, random_state=0).fit_transform(X[:n_points])


def case_data(per: str, n_fit: int, n_new: int, n_landmarks: int | None) -> dict:
    X = soap_points(per, n_fit + n_new)
    return {"fit": X[:n_fit], "new": X[n_fit:], "n_landmarks": n_landmarks}


def _sketchmap_class(module: str):
    return importlib.import_module(f"{module}.decomposition").SketchMap


def prepare_propmap(data: Mapping[str, Any]) -> Callable[[], dict]:
    """Fit (on landmarks, if the case has them) and transform the new points."""
    SketchMap = _sketchmap_class("propmap")
    model = SketchMap(n_landmarks=data["n_landmarks"])

    def run() -> dict:
        start = time.perf_counter()
        model.fit(data["fit"])
        fit_s = time.perf_counter() - start
        placed = model.transform(data["new"]) if len(data["new"]) else None
        return {
            "model": model,
            "fit_s": fit_s,
            "transform_s": time.perf_counter() - start - fit_s,
            "placed": placed,
        }

    return run


def prepare_skmatter(data: Mapping[str, Any]) -> Callable[[], dict]:
    """Fit the full set, or (untimed) pick propmap's landmarks and weights and
    fit those."""
    SketchMap = _sketchmap_class("skmatter")
    X, weights = data["fit"], None
    if data["n_landmarks"] is not None:
        from propmap.sample_selection import FPS, voronoi_weights

        selector = FPS(n_to_select=data["n_landmarks"], initialize=0).fit(X)
        landmarks = X[selector.selected_idx_]
        X, weights = landmarks, voronoi_weights(X, landmarks, normalize=False)
    model = SketchMap()

    def run() -> dict:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its Gaussian fit's covariance warning
            model.fit(X, sample_weight=weights)
        return {"model": model, "fit_s": time.perf_counter() - start}

    return run


def fit_metrics(data: Any, result: Mapping[str, Any]) -> dict[str, float]:
    metrics = {"stress": result["model"].stress_, "fit_s": result["fit_s"]}
    if result.get("placed") is not None:
        metrics["transform_s"] = result["transform_s"]
        metrics["placed_finite"] = float(np.all(np.isfinite(result["placed"])))
    return metrics


def build_case(key: str, quick: bool = False, timeout_s: float | None = None) -> Case:
    per, n_fit, n_new, n_landmarks = (QUICK_SPECS if quick else CASE_SPECS)[key]
    rows = "molecules" if per == "structure" else "environments"
    name = f"{key} QM9 SOAP {n_fit} {rows}"
    if n_landmarks is not None:
        name += f", {n_landmarks} landmarks, +{n_new}"
    return Case(
        name=name,
        setup=functools.partial(case_data, per, n_fit, n_new, n_landmarks),
        runners={
            "skmatter": Runner(prepare_skmatter, metrics=fit_metrics),
            "propmap": Runner(prepare_propmap, metrics=fit_metrics),
        },
        reference="skmatter",
        timeout_s=timeout_s,
        params={"key": key, "n_fit": n_fit, "n_new": n_new, "quick": quick},
    )


def format_details(results: Sequence[Mapping[str, Any]]) -> str:
    by_case: dict[str, dict[str, Mapping[str, Any]]] = {}
    for result in results:
        by_case.setdefault(result["case"], {})[result["runner"]] = result
    lines = []
    for case, runners in by_case.items():
        ours, theirs = runners.get("propmap"), runners.get("skmatter")
        if not ours or ours.get("error") or not ours.get("metrics"):
            lines.append(f"{case}: propmap failed")
            continue
        metrics = ours["metrics"]
        line = f"{case}: propmap stress {metrics['stress']:.5g}"
        if theirs and not theirs.get("error") and theirs.get("metrics"):
            line += f", scikit-matter {theirs['metrics']['stress']:.5g}"
            line += f"; reference / propmap time = {ours['ratio_vs_reference']:.2f}"
        if ours["params"]["key"] == "landmarks":
            met = metrics["fit_s"] < FIT_GOAL_S
            line += (
                f"; propmap fit {metrics['fit_s']:.1f} s (goal < {FIT_GOAL_S:g} s: "
                f"{verdict(met)}), transform {metrics['transform_s']:.2f} s"
            )
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    parser = benchmark_parser(
        __doc__.splitlines()[0],
        CASE_SPECS,
        "300 molecules and 1,200 environments, for a smoke run",
        timeout_s=DEFAULT_TIMEOUT_S,
    )
    args = parser.parse_args(argv)
    cases = [build_case(key, args.quick, args.timeout) for key in CASE_SPECS]
    cases = select_cases(parser, cases, args.case)
    results = run_cases(cases, repeat=args.repeat, threads=args.threads)
    return report(results, args, "sketchmap", format_details(results))


if __name__ == "__main__":
    sys.exit(main())
