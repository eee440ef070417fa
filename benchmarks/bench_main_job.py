"""Benchmark the main job, ``propmap map``, on 2,000 QM9 molecules against the
time of computing their SOAP features.

Usage::

    python benchmarks/bench_main_job.py [--quick] [--case NAME] [--threads N]
        [--repeat N] [--no-save]

Data: the 2,000 QM9 molecules shipped with propmap (``propmap.datasets.load_qm9``),
written once to an extended-XYZ file, as a user would have them. Runners, each in
its own process:

- ``soap``: read the file and compute the SOAP features the map uses
  (``SoapFeaturizer`` defaults, mean over atoms): the unit of cost;
- ``map``: ``map_structures(file, "gap", out)``, the whole job of
  ``propmap map qm9.extxyz -t gap`` (reading, SOAP, split, cross-validated
  penalty and mixing, final fit, full-model accuracy, figures, viewer, model,
  report);
- ``map-rbf``: the same with ``--kernel rbf`` (γ cross-validated too);
- ``map-sparse-500``: ``--sparse 500`` (Nyström, rbf);
- ``map-U0-sum``: ``-t U0 --aggregate sum`` (composition baseline).

Goals (issue 10): map ≤ 3x the SOAP time, rbf ≤ 4x, sparse 500 ≤ 3x. The table
also gives each job's test accuracy, through the map's latent space and of the
full (kernel) ridge model.
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

CASE_SPECS = {"qm9-2000": 2000}
QUICK_FACTOR = 4
JOBS = {
    "map": ({"target": "gap"}, 3.0),
    "map-rbf": ({"target": "gap", "kernel": "rbf"}, 4.0),
    "map-sparse-500": ({"target": "gap", "sparse": 500}, 3.0),
    "map-U0-sum": ({"target": "U0", "aggregate": "sum"}, None),
}


def write_molecules(n_molecules: int) -> str:
    """The first ``n_molecules`` of the shipped QM9 subset, as an extxyz file."""
    import ase.io

    from propmap.datasets import load_qm9

    path = Path(tempfile.mkdtemp(prefix="propmap-qm9-")) / "qm9.extxyz"
    ase.io.write(path, load_qm9(n_molecules), format="extxyz")
    return str(path)


def _soap(path: str):
    from propmap.atomistic import read_structures
    from propmap.workflows import SoapOptions

    structures = read_structures(path)
    return SoapOptions().featurizer(per="structure").fit_transform(structures)


def prepare_soap(path: str) -> Callable[[], Any]:
    import propmap.atomistic._soap  # noqa: F401  (imports are not timed)

    return functools.partial(_soap, path)


def _map(path: str, options: dict) -> dict:
    import warnings

    from propmap.workflows import map_structures

    options = dict(options)
    target = options.pop("target")
    out = Path(tempfile.mkdtemp(prefix="propmap-map-")) / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return map_structures([path], target, out, **options)


def prepare_map(options: dict, path: str) -> Callable[[], Any]:
    import propmap.atomistic._soap
    import propmap.viz
    import propmap.workflows._map  # noqa: F401

    return functools.partial(_map, path, options)


def map_metrics(path: str, summary: dict) -> dict[str, float]:
    accuracy = summary["accuracy"]
    return {
        "map_mae": accuracy["map"]["test"]["mae"],
        "map_r2": accuracy["map"]["test"]["r2"],
        "full_mae": accuracy["full_model"]["test"]["mae"],
        "full_r2": accuracy["full_model"]["test"]["r2"],
        "mixing": summary["mixing"],
    }


def build_case(key: str, quick: bool = False) -> Case:
    n_molecules = CASE_SPECS[key] // (QUICK_FACTOR if quick else 1)
    runners = {"soap": Runner(prepare_soap)}
    goals = {}
    for name, (options, goal) in JOBS.items():
        if quick and "sparse" in options:  # as many active points per molecule
            options = {**options, "sparse": options["sparse"] // QUICK_FACTOR}
            name = f"map-sparse-{options['sparse']}"
        runners[name] = Runner(
            functools.partial(prepare_map, options), metrics=map_metrics
        )
        goals[name] = goal
    return Case(
        name=f"QM9 {n_molecules}",
        setup=functools.partial(write_molecules, n_molecules),
        runners=runners,
        reference="soap",
        baseline="soap",
        params={"key": key, "n_molecules": n_molecules, "quick": quick, "goals": goals},
    )


def format_table(results: Sequence[dict[str, Any]]) -> str:
    headers = [
        "case", "runner", "time s", "time/SOAP", "peak MB",
        "map MAE", "map R2", "full MAE", "full R2", "mixing",
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
                    )
                ),
            ]
        )
    return layout_table(headers, rows)


def goals(results: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        goal = r["params"]["goals"].get(r["runner"])
        if goal is None or r.get("error"):
            continue
        ratio = r["ratio_vs_baseline"]
        lines.append(
            f"{r['case']}: {r['runner']} / SOAP = {ratio:.2f} "
            f"(goal <= {goal:g}: {verdict(ratio <= goal)})"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    return run_main(
        argv, __doc__, CASE_SPECS, f"{QUICK_FACTOR}x fewer molecules", build_case,
        "main_job", lambda results: "\n".join(goals(results)), table=format_table,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
