"""``propmap contributions``: per-atom and per-motif contributions to a property of
molecular crystals (or clusters) from an additive model on remnant features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propmap.cli._common import (
    Cutoff,
    Force,
    MaxAngular,
    MaxRadial,
    Progress,
    Seed,
    Width,
    progress_enabled,
    report_errors,
)


@report_errors
def contributions_command(
    structures: Annotated[
        list[Path],
        typer.Argument(help="Crystals or clusters of molecules (any ase format)."),
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="Property to explain.")],
    molecules: Annotated[
        Path | None,
        typer.Option(
            help="Gas-phase molecules, any atom order: a file with one for all or "
            "one per structure, or a folder with one file per structure named as "
            "its file; default: cut from the structures."
        ),
    ] = None,
    targets: Annotated[
        Path | None,
        typer.Option(
            help="CSV table of the property: first column names each structure "
            "(its file name without suffix); default: read from the structures."
        ),
    ] = None,
    per_molecule: Annotated[
        bool,
        typer.Option(
            "--per-molecule",
            help="The property is per molecule (e.g. a lattice energy), not per "
            "structure.",
        ),
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "propmap-contributions"
    ),
    cutoff: Cutoff = 4.5,
    max_radial: MaxRadial = 3,
    max_angular: MaxAngular = 3,
    width: Width = 0.3,
    progress: Progress = None,
    seed: Seed = 0,
    force: Force = False,
) -> None:
    """Per-atom and per-motif contributions to a property, from an additive model
    on remnant SOAP features (crystal minus isolated molecule).

    Writes atom and motif tables (CSV), a plot by motif, a parity plot, an
    atom-level viewer.html, chemiscope.json.gz, the most similar structures by
    their atoms' environments (CSV), summary.json and report.html.
    """
    from propmap.workflows import SoapOptions, explain_contributions

    summary = explain_contributions(
        structures,
        target,
        out,
        molecules=molecules,
        targets=targets,
        per_molecule=per_molecule,
        soap=SoapOptions(cutoff, max_radial, max_angular, width),
        progress=progress_enabled(progress),
        seed=seed,
        force=force,
    )
    typer.echo(
        f"additive model of {summary['structures']} structures: cross-validated R² "
        f"{summary['r2_cross_validated']:.3f}, MAE "
        f"{summary['mae_cross_validated']:.3g} (size alone: R² "
        f"{summary['r2_size_baseline']:.3f}); {summary['motif_instances']} motif "
        f"instances; wrote {out}/"
    )
