"""``propmap project``: new structures onto an existing map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propmap.cli._common import Force, Progress, progress_enabled, report_errors


@report_errors
def project_command(
    model: Annotated[
        Path, typer.Argument(help="model.joblib written by `propmap map`.")
    ],
    structures: Annotated[
        list[Path], typer.Argument(help="New structure files or folders.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "propmap-project"
    ),
    neighbours: Annotated[
        int,
        typer.Option(min=1, help="Nearest training structures to list for each."),
    ] = 5,
    progress: Progress = None,
    force: Force = False,
) -> None:
    """Place new structures on an existing map: their latent coordinates,
    predictions and nearest training structures (projected.csv), the map with
    them marked (map.png), a viewer and summary.json."""
    from propmap.workflows import project_structures

    summary = project_structures(
        model,
        structures,
        out,
        neighbours=neighbours,
        progress=progress_enabled(progress),
        force=force,
    )
    trust = summary.get("uncertainty")
    domain = (
        ""
        if trust is None
        else f"; {trust['out_of_domain']} of {summary['points']} outside the "
        "model's applicability domain"
    )
    typer.echo(
        f"projected {summary['structures']} structures onto the {summary['model']} "
        f"map of {summary['target']}{domain}; wrote {out}/"
    )
