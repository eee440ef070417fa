"""``propmap demo``: two maps of the embedded QM9 molecules, the contributions to
the S22 interaction energies, and one report page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propmap.cli._common import Force, Progress, progress_enabled, report_errors


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
    from propmap.workflows import run_demo

    result = run_demo(out, progress=progress_enabled(progress), force=force)
    for name in ("gap", "u0"):
        typer.echo(f"{result[name]['target']}: {accuracy_line(result[name])}")
    typer.echo(
        f"demo done in {result['seconds']:.0f} s: open {out / 'report.html'} "
        f"(viewers: {out / 'gap' / 'viewer.html'}, {out / 'u0' / 'viewer.html'})"
    )
