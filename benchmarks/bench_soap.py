"""Benchmark propmap's SoapFeaturizer against featomic called directly.

Usage::

    python benchmarks/bench_soap.py [--quick] [--case NAME] [--threads N]
        [--repeat N] [--no-save]

The structures are small organic molecules of QM9 size: G2 molecules made only of
H, C, N, O and F (shipped with ase), drawn at random with replacement and with
every position jittered (normal, 0.05 Å) so that no two are identical. Two runners
compute SOAP power spectra with the same hyper-parameters (SoapFeaturizer's
defaults), each in its own process: ``featomic`` calls
``featomic.SoapPowerSpectrum.compute`` on all the structures at once and returns
its TensorMap, the least any SOAP computation does; ``propmap`` runs
``SoapFeaturizer(per="structure").fit_transform``, which also places every block
in fixed columns and averages each structure's atoms, in batches of 1,000
structures. The goal: propmap within 1.2x featomic's time and under 1 GB peak.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from _harness import (
    Case,
    Runner,
    format_number,
    layout_table,
    run_main,
    verdict,
)

SEED = 0
JITTER = 0.05  # Å, standard deviation of the noise on every coordinate
ELEMENTS = {"H", "C", "N", "O", "F"}  # QM9's elements
QUICK_FACTOR = 10
CASE_SPECS = {"molecules-5000": 5_000}
MAX_RATIO = 1.2
MAX_PEAK_MB = 1024.0


def make_molecules(n_molecules: int, seed: int = SEED) -> list:
    """``n_molecules`` jittered G2 molecules made of H, C, N, O and F only."""
    from ase.collections import g2

    pool = [
        g2[name]
        for name in g2.names
        if set(g2[name].get_chemical_symbols()) <= ELEMENTS and len(g2[name]) > 1
    ]
    rng = np.random.default_rng(seed)
    molecules = []
    for choice in rng.integers(len(pool), size=n_molecules):
        atoms = pool[choice].copy()
        atoms.positions += JITTER * rng.standard_normal(atoms.positions.shape)
        molecules.append(atoms)
    return molecules


def prepare_featomic(molecules: list) -> Callable[[], Any]:
    """featomic's calculator with SoapFeaturizer's default hyper-parameters."""
    import featomic

    from propmap.atomistic import SoapFeaturizer

    calculator = featomic.SoapPowerSpectrum(**SoapFeaturizer().hypers())
    return functools.partial(calculator.compute, molecules)


def prepare_propmap(molecules: list) -> Callable[[], Any]:
    """SoapFeaturizer with its defaults, one row per structure."""
    from propmap.atomistic import SoapFeaturizer

    featurizer = SoapFeaturizer(per="structure")
    return functools.partial(featurizer.fit_transform, molecules)


def build_case(key: str, quick: bool = False) -> Case:
    """The case ``key`` of ``CASE_SPECS`` (``--quick``: 10x fewer molecules)."""
    n_molecules = CASE_SPECS[key] // (QUICK_FACTOR if quick else 1)
    return Case(
        name=f"SOAP of {n_molecules} molecules",
        setup=functools.partial(make_molecules, n_molecules, SEED),
        runners={
            "featomic": Runner(prepare_featomic),
            "propmap": Runner(prepare_propmap),
        },
        reference="featomic",
        params={"key": key, "n_molecules": n_molecules, "quick": quick, "seed": SEED},
    )


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """Case, runner, best time, time over featomic's, peak and increase (MB)."""
    headers = ["case", "runner", "time s", "time/featomic", "peak MB", "+peak MB"]
    rows = []
    for r in results:
        ratio = r.get("ratio_vs_reference")
        rows.append(
            [
                r["case"],
                r["runner"],
                format_number(r.get("time_s"), ".3f"),
                format_number(None if not ratio else 1.0 / ratio, ".2f"),
                format_number(r.get("peak_mb"), ".0f"),
                format_number(r.get("peak_increase_mb"), ".0f"),
            ]
            if not r.get("error")
            else [r["case"], r["runner"], "ERROR: " + str(r["error"]), "", "", ""]
        )
    return layout_table(headers, rows)


def goals(results: Sequence[dict[str, Any]]) -> list[str]:
    """One line per goal, for the propmap runner of each case."""
    lines = []
    for r in results:
        if r["runner"] != "propmap" or r.get("error"):
            continue
        ratio = 1.0 / r["ratio_vs_reference"]
        lines.append(
            f"{r['case']}: propmap / featomic = {ratio:.2f} "
            f"(goal <= {MAX_RATIO}: {verdict(ratio <= MAX_RATIO)})"
        )
        lines.append(
            f"{r['case']}: propmap peak MB = {r['peak_mb']:.0f} "
            f"(goal < {MAX_PEAK_MB:.0f}: {verdict(r['peak_mb'] < MAX_PEAK_MB)})"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    return run_main(
        argv, __doc__, CASE_SPECS, f"{QUICK_FACTOR}x fewer molecules", build_case,
        "soap", lambda results: "\n".join(goals(results)), table=format_table,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
