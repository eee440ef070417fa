"""``propmap demo``: two maps of the embedded QM9 molecules, the contributions to
the S22 interaction energies, and one report page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from propmap.cli._common import (
    Force,
    Progress,
    prepare_output,
    progress_enabled,
    report_errors,
    stage,
)

# the gap is intensive (mean of the atoms' SOAP features); U0 is extensive (sum,
# with a per-element composition baseline) and additive over shorter
# environments: a 3.5 Å cutoff halves its error against 5 Å on this subset
GAP_MAP = {"target": "gap", "aggregate": "mean", "soap": {"cutoff": 5.0}}
U0_MAP = {"target": "U0", "aggregate": "sum", "soap": {"cutoff": 3.5}}
S22_TARGET = "interaction_energy"
S22_SOAP = {"cutoff": 4.5, "max_radial": 3, "max_angular": 3, "width": 0.3}


def _write_inputs(folder: Path) -> tuple[Path, Path]:
    """The embedded data sets as extended-XYZ files a user can open and reuse."""
    import ase.io

    from propmap._files import write_atomically
    from propmap.datasets import load_qm9, load_s22

    folder.mkdir(parents=True, exist_ok=True)
    molecules = load_qm9()
    dimers = load_s22().dimers
    qm9_file, s22_file = folder / "qm9.extxyz", folder / "s22.extxyz"
    write_atomically(qm9_file, lambda f: ase.io.write(f, molecules, format="extxyz"))
    write_atomically(s22_file, lambda f: ase.io.write(f, dimers, format="extxyz"))
    return qm9_file, s22_file


def run_demo(out: Path, *, progress: bool = False, force: bool = False) -> dict:
    """Everything ``propmap demo`` does; returns the three summaries."""
    from propmap.cli._contributions import FILES as CONTRIBUTION_FILES
    from propmap.cli._contributions import run_contributions
    from propmap.viz._report import ReportSection, write_report
    from propmap.workflows import SoapOptions, map_structures
    from propmap.workflows._map import map_section

    start = time.perf_counter()
    out = prepare_output(out, force)
    qm9_file, s22_file = _write_inputs(out / "inputs")
    maps = {}
    for name, settings, title in (
        ("gap", GAP_MAP, "QM9 molecules: HOMO–LUMO gap (eV)"),
        ("u0", U0_MAP, "QM9 molecules: internal energy at 0 K, U0 (eV)"),
    ):
        stage(f"map of the QM9 molecules' {settings['target']}", progress)
        maps[name] = map_structures(
            [qm9_file],
            settings["target"],
            out / name,
            aggregate=settings["aggregate"],
            soap=SoapOptions(**settings["soap"]),
            progress=progress,
            force=True,
            title=title,
        )
    stage("contributions to the S22 interaction energies", progress)
    contributions_folder = out / "contributions"
    explained = run_contributions(
        [s22_file],
        S22_TARGET,
        contributions_folder,
        progress=progress,
        force=True,
        title="S22 dimers: interaction energy",
        **S22_SOAP,
    )
    sections = [
        map_section(maps["gap"], out / "gap", "gap/", "Map: QM9 HOMO–LUMO gaps (eV)"),
        map_section(maps["u0"], out / "u0", "u0/", "Map: QM9 energies U0 (eV)"),
        ReportSection(
            title="Contributions: what binds the S22 dimers",
            text=(
                "An additive ridge model on remnant SOAP features (each atom's "
                "environment in the dimer minus in its own monomer) gives every atom's "
                "contribution to the interaction energy (kcal/mol); functional-group "
                "motifs sum their atoms' contributions."
            ),
            numbers={
                "dimers": explained["structures"],
                "R² cross-validated": explained["r2_cross_validated"],
                "MAE cross-validated (kcal/mol)": explained["mae_cross_validated"],
                "motif instances": explained["motif_instances"],
            },
            figures=[
                (
                    contributions_folder / CONTRIBUTION_FILES["plot"],
                    "Contributions of every motif instance (| = mean).",
                ),
                (
                    contributions_folder / CONTRIBUTION_FILES["parity"],
                    "Cross-validated predictions.",
                ),
            ],
            links=[
                (
                    f"contributions/{CONTRIBUTION_FILES['viewer']}",
                    "Open the atom-level viewer",
                )
            ],
        ),
    ]
    elapsed = time.perf_counter() - start
    write_report(
        out / "report.html",
        "propmap demo",
        sections,
        intro=(
            f"Made by `propmap demo` from {maps['gap']['structures']} QM9 molecules "
            "shipped with propmap (Ramakrishnan et al., Sci. Data 1, 140022, 2014) "
            f"and the S22 dimers shipped with ase (inputs in inputs/), in "
            f"{elapsed:.0f} s."
        ),
    )
    return {**maps, "contributions": explained, "seconds": elapsed}


@report_errors
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "out"
    ),
    progress: Progress = None,
    force: Force = False,
) -> None:
    """Map the embedded QM9 molecules' gaps and energies, explain the S22
    interaction energies, and write report.html into the output folder."""
    from propmap.cli._map import accuracy_line

    result = run_demo(out, progress=progress_enabled(progress), force=force)
    for name in ("gap", "u0"):
        typer.echo(f"{result[name]['target']}: {accuracy_line(result[name])}")
    typer.echo(
        f"demo done in {result['seconds']:.0f} s: open {out / 'report.html'} "
        f"(viewers: {out / 'gap' / 'viewer.html'}, {out / 'u0' / 'viewer.html'})"
    )
