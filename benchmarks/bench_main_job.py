"""Benchmark the main job, ``propmap map``, against the time of reading the same
file and computing its SOAP features, on QM9 from 2,000 molecules to all of it.

Usage::

    python benchmarks/bench_main_job.py [--quick] [--case NAME] [--threads N]
        [--repeat N] [--no-save]

Data: QM9 molecules from ``propmap.datasets.load_qm9`` (the first n; the 2,000
shipped with propmap, more from the ``qm9`` extra), written once to an
extended-XYZ file in the temporary folder, as a user would have them (kept there
for the next run). Runners, each in its own process:

- ``soap``: read the file and compute the SOAP features the map uses
  (``SoapFeaturizer`` defaults, mean over atoms): the unit of cost;
- ``soap-atoms``: the same per atom (the unit of the maps of atoms);
- ``floor``: what the map's exact cross-validation cannot avoid on the same
  features, piece by piece (their second moments and the basis of their
  span, the folds' moments in it, one eigendecomposition per fold and for the
  refit); the goal line of each plain map (``map``, ``map-atoms``) is
  followed by its stages beside that floor;
- ``map``: ``map_structures(file, "gap", out)``, the whole job of
  ``propmap map qm9.extxyz -t gap`` (reading, SOAP, split, cross-validated
  penalty and mixing, final fit, full-model accuracy, figures, viewer, model,
  report);
- ``map-rbf``: the same with ``--kernel rbf`` (γ cross-validated too);
- ``map-sparse-N``: ``--sparse N`` (Nyström, rbf);
- ``map-U0-sum``: ``-t U0 --aggregate sum`` (composition baseline);
- ``map-atoms``: ``-t mulliken_charges --per atom``;
- ``map-workers-2``: ``map`` with ``--workers 2`` (a local cluster of two
  worker processes; its peak is this process's, the workers' sum beside it).

Cases and goals (issue 23; time over the unit, peak memory):

=================  =========  ===========================================  =====
case               molecules  runners (goal: time / unit, peak)
=================  =========  ===========================================  =====
qm9-2000           2,000      map ≤ 2.5x, ≤ 1 GB; rbf ≤ 4x; sparse-500 ≤ 3x
qm9-10000          10,000     map ≤ 2.0x, ≤ 2 GB; sparse-1000 ≤ 3.0x, ≤ 3 GB;
                              workers-2 ≤ 1.0x map (``--workers 2``)
qm9-all            130,831    map ≤ 2.0x, ≤ 8 GB; workers-2 ≤ 1.0x map
qm9-2000-atoms     2,000      map-atoms ≤ 3.0x (per-atom SOAP), ≤ 2 GB
qm9-10000-atoms    10,000     map-atoms ≤ 3.0x (per-atom SOAP), ≤ 8 GB
=================  =========  ===========================================  =====

The default run is every case (all of QM9 takes a quarter of an hour and needs
the ``qm9`` extra); ``--case qm9-2000`` for the shipped molecules alone.
``--quick`` maps 500 / 1,000 / 2,000 / 250 / 500 molecules. The table also gives
each job's test accuracy, through the map's latent space and of the full (kernel)
ridge model.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _harness import (
    Case,
    Runner,
    format_number,
    layout_table,
    run_main,
    verdict,
)

GB = 1024.0
# key: (molecules, quick molecules, unit runner, {runner: (options, time goal,
# peak goal in MB)})
CASE_SPECS = {
    "qm9-2000": (
        2000,
        500,
        "soap",
        {
            "map": ({"target": "gap"}, 2.5, 1 * GB),
            "map-rbf": ({"target": "gap", "kernel": "rbf"}, 4.0, None),
            "map-sparse-500": ({"target": "gap", "sparse": 500}, 3.0, None),
            "map-U0-sum": ({"target": "U0", "aggregate": "sum"}, None, None),
        },
    ),
    "qm9-10000": (
        10_000,
        1000,
        "soap",
        {
            "map": ({"target": "gap"}, 2.0, 2 * GB),
            "map-sparse-1000": ({"target": "gap", "sparse": 1000}, 3.0, 3 * GB),
            "map-workers-2": ({"target": "gap", "workers": 2}, None, None),
        },
    ),
    "qm9-all": (
        None,
        2000,
        "soap",
        {
            "map": ({"target": "gap"}, 2.0, 8 * GB),
            "map-workers-2": ({"target": "gap", "workers": 2}, None, None),
        },
    ),
    "qm9-2000-atoms": (
        2000,
        250,
        "soap-atoms",
        {
            "map-atoms": (
                {"target": "mulliken_charges", "per": "atom"},
                3.0,
                2 * GB,
            ),
        },
    ),
    "qm9-10000-atoms": (
        10_000,
        500,
        "soap-atoms",
        {
            "map-atoms": (
                {"target": "mulliken_charges", "per": "atom"},
                3.0,
                8 * GB,
            ),
        },
    ),
}
QUICK_FACTOR = 4
# runners whose goal is a ratio to another runner of the same case: (that
# runner, goal); `--workers` on one machine should not be slower than without
RELATIVE_GOALS = {"map-workers-2": ("map", 1.0)}
UNIT_NAMES = {"soap": "SOAP", "soap-atoms": "per-atom SOAP"}


def write_molecules(n_molecules: int | None) -> str:
    """The first ``n_molecules`` of QM9 (None: all), as an extxyz file in the
    temporary folder, written once and reused by later processes and runs."""
    import os

    import ase.io

    from propmap.datasets import load_qm9

    path = Path(tempfile.gettempdir()) / f"propmap-qm9-{n_molecules or 'all'}.extxyz"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.part")
        ase.io.write(partial, load_qm9(n_molecules), format="extxyz")
        partial.replace(path)
    return str(path)


def _soap(path: str, per: str = "structure"):
    from propmap.atomistic import read_structures
    from propmap.workflows import SoapOptions

    structures = read_structures(path)
    return SoapOptions().featurizer(per=per).fit_transform(structures)


def prepare_soap(path: str, per: str = "structure") -> Callable[[], Any]:
    import propmap.atomistic._soap  # noqa: F401  (imports are not timed)

    return functools.partial(_soap, path, per)


def _map(path: str, options: dict) -> dict:
    import warnings

    from propmap.workflows import map_structures

    options = dict(options)
    target = options.pop("target")
    if "workers" in options:  # local worker processes (`--workers N`)
        from propmap.workflows import ClusterOptions

        options["cluster"] = ClusterOptions(workers=options.pop("workers"))
    out = Path(tempfile.mkdtemp(prefix="propmap-map-")) / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return map_structures([path], target, out, **options)


def prepare_map(options: dict, path: str) -> Callable[[], Any]:
    import propmap.atomistic._soap
    import propmap.viz
    import propmap.workflows._map  # noqa: F401

    return functools.partial(_map, path, options)


# the maps whose cross-validation the floor runner stands for (linear, exact)
PLAIN_MAPS = ("map", "map-atoms")
# the cross-validation the floor runner stands for: the map's split and folds
FLOOR_FOLDS, FLOOR_TEST_SHARE, FLOOR_RANK_TOL = 5, 0.2, 1e-9


def _cv_floor(path: str, per: str = "structure") -> dict[str, float]:
    """What the exact cross-validation of ``propmap map`` cannot avoid, timed
    piece by piece on the same file's SOAP features (the rows of a training
    split, centred through the moments as the map does), with the job's own
    code for each piece: the basis of their span (from ``XᵀX`` — of each
    element's columns for atoms — or ``XXᵀ`` with fewer rows than columns;
    pivoted Cholesky and an r x r eigendecomposition); the pass that makes the
    folds' moments in that basis; and one r x r eigendecomposition per fold
    and for the refit (the folds' kernels with fewer rows than columns).
    Seconds per piece, and r."""
    import time

    import numpy as np

    from propmap.decomposition._cv_moments import Span, fold_moments, row_statistics

    X = _soap(path, per)
    X = X[: round((1.0 - FLOOR_TEST_SHARE) * X.shape[0])]
    n, d = X.shape
    pieces = {}
    start = time.perf_counter()
    column_sums, squared, groups = row_statistics(X, scan_groups=n > d)
    mean = column_sums / n
    span = Span(X, FLOOR_RANK_TOL, mean=mean, groups=groups)
    pieces["floor_span_s"] = time.perf_counter() - start
    if span.kernel is None:
        start = time.perf_counter()
        labels = np.arange(n) % FLOOR_FOLDS
        moments, _ = fold_moments(
            X, np.zeros((n, 1)), span, labels, FLOOR_FOLDS, squared, mean
        )
        pieces["floor_coordinates_s"] = time.perf_counter() - start
        matrix = np.sum(moments, axis=0)[: span.rank, : span.rank]
        sizes = [span.rank] * (FLOOR_FOLDS + 1)
    else:
        pieces["floor_coordinates_s"] = 0.0
        matrix = span.kernel
        sizes = [n - n // FLOOR_FOLDS] * FLOOR_FOLDS
    start = time.perf_counter()
    for size in sizes:
        np.linalg.eigh(matrix[:size, :size])
    pieces["floor_eigen_s"] = time.perf_counter() - start
    pieces["floor_rank"] = float(sizes[0])
    pieces["floor_eigen_count"] = float(len(sizes))
    return pieces


def prepare_floor(path: str, per: str = "structure") -> Callable[[], Any]:
    import propmap.atomistic._soap  # noqa: F401  (imports are not timed)

    return functools.partial(_cv_floor, path, per)


def floor_metrics(path: str, pieces: dict) -> dict[str, float]:
    return pieces


def map_metrics(path: str, summary: dict) -> dict[str, float]:
    accuracy = summary["accuracy"]
    timings = summary["timings"]
    metrics = {
        # the job's own stages (seconds)
        "stage_read_soap_s": timings["read"] + timings["featurize"],
        "stage_cv_s": timings["cross_validation_and_fit"],
        "stage_outputs_s": timings["outputs"],
        "map_mae": accuracy["map"]["test"]["mae"],
        "map_r2": accuracy["map"]["test"]["r2"],
        "full_mae": accuracy["full_model"]["test"]["mae"],
        "full_r2": accuracy["full_model"]["test"]["r2"],
        "mixing": summary["mixing"],
        # what a user keeps and shares: the model file and the offline viewer
        "model_mb": summary.files["model"].stat().st_size / 2**20,
        "viewer_mb": summary.files["viewer"].stat().st_size / 2**20,
    }
    if "workers_peak_memory_mb" in summary:
        # on local workers: the sum of their peaks (the runner's own is peak MB)
        metrics["workers_peak_mb"] = summary["workers_peak_memory_mb"]
    return metrics


def build_case(key: str, quick: bool = False) -> Case:
    n_molecules, quick_molecules, unit, jobs = CASE_SPECS[key]
    if quick:
        n_molecules = quick_molecules
    per = "atom" if unit == "soap-atoms" else "structure"
    runners = {unit: Runner(functools.partial(prepare_soap, per=per))}
    runners["floor"] = Runner(
        functools.partial(prepare_floor, per=per), metrics=floor_metrics
    )
    goals = {}
    for name, (options, goal, memory) in jobs.items():
        if quick and "sparse" in options:  # as many active points per molecule
            options = {**options, "sparse": options["sparse"] // QUICK_FACTOR}
            name = f"map-sparse-{options['sparse']}"
        runners[name] = Runner(
            functools.partial(prepare_map, options), metrics=map_metrics
        )
        goals[name] = (goal, memory)
    label = "all" if n_molecules is None else f"{n_molecules}"
    return Case(
        name=f"QM9 {label}" + (" atoms" if per == "atom" else ""),
        setup=functools.partial(write_molecules, n_molecules),
        runners=runners,
        reference=unit,
        baseline=unit,
        params={
            "key": key, "n_molecules": n_molecules, "quick": quick, "goals": goals,
        },
    )  # fmt: skip


def format_table(results: Sequence[dict[str, Any]]) -> str:
    headers = [
        "case", "runner", "time s", "time/SOAP", "peak MB",
        "map MAE", "map R2", "full MAE", "full R2", "mixing", "model MB",
        "viewer MB",
    ]  # fmt: skip
    rows = []
    for r in results:
        if r.get("error"):
            rows.append([r["case"], r["runner"], "ERROR: " + str(r["error"])])
            rows[-1] += [""] * (len(headers) - 3)
            continue
        metrics = r.get("metrics") or {}
        rows.append(
            [
                r["case"],
                r["runner"],
                format_number(r.get("time_s"), ".2f"),
                format_number(r.get("ratio_vs_baseline"), ".2f"),
                format_number(r.get("peak_mb"), ".0f"),
                *(
                    format_number(metrics.get(name), spec)
                    for name, spec in (
                        ("map_mae", ".4f"),
                        ("map_r2", ".3f"),
                        ("full_mae", ".4f"),
                        ("full_r2", ".3f"),
                        ("mixing", ".1f"),
                        ("model_mb", ".1f"),
                        ("viewer_mb", ".0f"),
                    )
                ),
            ]
        )
    return layout_table(headers, rows)


def goals(results: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        relative = _relative_line(r, results)
        if relative:
            lines.append(relative)
        goal, memory = r["params"]["goals"].get(r["runner"], (None, None))
        if r.get("error") or (goal is None and memory is None):
            continue
        ratio, peak = r["ratio_vs_baseline"], r.get("peak_mb")
        parts = []
        if goal is not None:
            parts.append(
                f"{r['runner']} / {UNIT_NAMES[CASE_SPECS[r['params']['key']][2]]} = "
                f"{ratio:.2f} "
                f"(goal <= {goal:g}: {verdict(ratio <= goal)})"
            )
        if memory is not None and peak is not None:
            parts.append(
                f"peak {peak / GB:.2f} GB (goal <= {memory / GB:g} GB: "
                f"{verdict(peak <= memory)})"
            )
        lines.append(f"{r['case']}: " + "; ".join(parts))
        floor = _floor_line(r, results)
        if floor:
            lines.append("  " + floor)
    return lines


def _same_case(
    result: dict[str, Any], results: Sequence[dict[str, Any]], runner: str
) -> dict[str, Any] | None:
    """The result of ``runner`` in ``result``'s case (same run), None when it
    failed or did not run."""
    for other in results:
        if other["case"] == result["case"] and other["runner"] == runner:
            return None if other.get("error") else other
    return None


def _relative_line(result: dict[str, Any], results: Sequence[dict[str, Any]]) -> str:
    """The goal line of a runner measured against another of its case (same
    run): its time over the other's, and the workers' peak beside its own."""
    if result["runner"] not in RELATIVE_GOALS or result.get("error"):
        return ""
    other, goal = RELATIVE_GOALS[result["runner"]]
    found = _same_case(result, results, other)
    if found is None:
        return ""
    ratio = result["time_s"] / found["time_s"]
    workers = (result.get("metrics") or {}).get("workers_peak_mb")
    peak = f"peak {result['peak_mb'] / GB:.2f} GB here"
    if workers is not None:
        peak += f" + {workers / GB:.2f} GB on the workers"
    return (
        f"{result['case']}: {result['runner']} / {other} = {ratio:.2f} (goal <= "
        f"{goal:g}: {verdict(ratio <= goal)}); {peak}"
    )


def _floor_line(result: dict[str, Any], results: Sequence[dict[str, Any]]) -> str:
    """The map's stages beside the floor of its exact cross-validation (the
    ``floor`` runner's pieces, same case, same run), and the job's floor as a
    ratio: read + SOAP, the floor, and the job's own outputs."""
    stages = result.get("metrics") or {}
    found = _same_case(result, results, "floor")
    plain = result["runner"] in PLAIN_MAPS
    if found is None or "stage_cv_s" not in stages or not plain:
        return ""
    pieces = found["metrics"]
    unit = result["time_s"] / result["ratio_vs_baseline"]
    floor = sum(pieces[f"floor_{name}_s"] for name in ("span", "coordinates", "eigen"))
    job_floor = (unit + floor + stages["stage_outputs_s"]) / unit
    return (
        f"stages: read + SOAP {stages['stage_read_soap_s']:.1f} s, cross-validation "
        f"and fit {stages['stage_cv_s']:.1f} s (its exact numerics' floor "
        f"{floor:.1f} s: moments and span {pieces['floor_span_s']:.1f}, folds' "
        f"moments {pieces['floor_coordinates_s']:.1f}, "
        f"{pieces['floor_eigen_count']:.0f} eigendecompositions of "
        f"{pieces['floor_rank']:,.0f}: {pieces['floor_eigen_s']:.1f}), outputs "
        f"{stages['stage_outputs_s']:.1f} s; the job's floor (read + SOAP + that "
        f"floor + outputs) / (read + SOAP) = {job_floor:.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    return run_main(
        argv, __doc__, CASE_SPECS, "500 to 2,000 molecules a case", build_case,
        "main_job", lambda results: "\n".join(goals(results)), table=format_table,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
