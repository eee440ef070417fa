"""``propmap demo``: the map and the contributions on the embedded data sets, and
one report page."""

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

G2_TARGET = "enthalpy_of_formation"
S22_TARGET = "interaction_energy"
# compact SOAP settings: G2 has 14 elements, so the full defaults give ~150,000
# columns; these keep the demo well inside two minutes on two cores
G2_SOAP = {"cutoff": 5.0, "max_radial": 3, "max_angular": 2, "width": 0.3}
# enthalpies of formation are extensive: sum the atoms' features
S22_SOAP = {"cutoff": 4.5, "max_radial": 3, "max_angular": 3, "width": 0.3}


def _write_inputs(folder: Path) -> tuple[Path, Path]:
    """The embedded data sets as extended-XYZ files a user can open and reuse."""
    import ase.io

    from propmap._files import write_atomically
    from propmap.atomistic import load_g2, load_s22

    folder.mkdir(parents=True, exist_ok=True)
    molecules, _ = load_g2()
    dimers = load_s22().dimers
    g2_file, s22_file = folder / "g2.extxyz", folder / "s22.extxyz"
    write_atomically(g2_file, lambda f: ase.io.write(f, molecules, format="extxyz"))
    write_atomically(s22_file, lambda f: ase.io.write(f, dimers, format="extxyz"))
    return g2_file, s22_file


def run_demo(out: Path, *, progress: bool = False, force: bool = False) -> dict:
    """Everything ``propmap demo`` does; returns both summaries."""
    from propmap.cli._contributions import FILES as CONTRIBUTION_FILES
    from propmap.cli._contributions import run_contributions
    from propmap.cli._map import FILES as MAP_FILES
    from propmap.cli._map import run_map
    from propmap.viz._report import ReportSection, write_report

    start = time.perf_counter()
    out = prepare_output(out, force)
    g2_file, s22_file = _write_inputs(out / "inputs")
    stage("map of the G2 molecules' enthalpies of formation", progress)
    mapped = run_map(
        [g2_file],
        G2_TARGET,
        out,
        progress=progress,
        force=True,
        title="G2 molecules: enthalpy of formation",
        aggregate="sum",
        **G2_SOAP,
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
        ReportSection(
            title="Map: G2 molecules coloured by their enthalpy of formation",
            text=(
                f"{mapped['model']} of summed SOAP features of "
                f"{mapped['structures']} G2 "
                f"molecules against their experimental enthalpies of formation "
                f"(kcal/mol); mixing {mapped['mixing']:g} chosen by cross-validation."
            ),
            numbers={
                "structures": mapped["structures"],
                "train / test": f"{mapped['n_train']} / {mapped['n_test']}",
                "mixing": mapped["mixing"],
                "R² train": mapped["r2_train"],
                "R² test": mapped["r2_test"],
                "MAE test (kcal/mol)": mapped["mae_test"],
                "SOAP features": mapped["n_features"],
            },
            figures=[
                (out / MAP_FILES["map"], "Latent map, coloured by the property."),
                (out / MAP_FILES["parity"], "Predicted against true values."),
                (
                    out / MAP_FILES["sweep"],
                    "Cross-validated losses against the mixing α.",
                ),
            ],
            links=[(MAP_FILES["viewer"], "Open the interactive viewer")],
        ),
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
            "Made by `propmap demo` from the data sets shipped with ase "
            f"(inputs in inputs/), in {elapsed:.0f} s."
        ),
    )
    return {"map": mapped, "contributions": explained, "seconds": elapsed}


@report_errors
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "out"
    ),
    progress: Progress = None,
    force: Force = False,
) -> None:
    """Run map and contributions on the embedded data sets (G2, S22) and write
    report.html and viewer.html into the output folder."""
    result = run_demo(out, progress=progress_enabled(progress), force=force)
    typer.echo(
        f"demo done in {result['seconds']:.0f} s: open {out / 'report.html'} "
        f"(viewer: {out / 'viewer.html'})"
    )
