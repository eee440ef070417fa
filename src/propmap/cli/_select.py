"""``propmap select``: pick informative features or representative samples, and
show how the test error falls with the number picked."""

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
    Scheduler,
    Seed,
    Width,
    Workers,
    progress_enabled,
    report_errors,
)
from propmap.workflows import Aggregate, Axis, Method


@report_errors
def select_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Structure files/folders, or one feature file (.csv with a header, "
            "or .npz with arrays X and y)."
        ),
    ],
    method: Annotated[
        Method | None,
        typer.Option(
            help="Selection method [default: pcov-cur for features, fps for samples]."
        ),
    ] = None,
    axis: Annotated[
        Axis, typer.Option(help="Select feature columns or sample rows.")
    ] = Axis.features,
    count: Annotated[int, typer.Option(min=1, help="How many to select.")] = 20,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Property (structure info key or CSV column)."
        ),
    ] = None,
    mixing: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="α of the PCov methods (default 0.5)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "propmap-select"
    ),
    cutoff: Cutoff = 5.0,
    max_radial: MaxRadial = 4,
    max_angular: MaxAngular = 3,
    width: Width = 0.3,
    aggregate: Annotated[
        Aggregate,
        typer.Option(
            help="Structure features: mean of the atoms' or sum (extensive properties)."
        ),
    ] = Aggregate.mean,
    progress: Progress = None,
    seed: Seed = 0,
    force: Force = False,
    scheduler: Scheduler = None,
    workers: Workers = None,
    exclude: Annotated[
        list[Path] | None,
        typer.Option(
            help="Structures computed already (repeat for several files): the "
            "picks of samples continue from them, and every curve trains on them."
        ),
    ] = None,
) -> None:
    """Select features or samples; writes the picks, the test error against the
    number selected (for the method, its plain counterpart and random picks),
    summary.json and report.html; for samples also the picked structures
    (picked.extxyz, with their properties) and a viewer marking them."""
    from propmap.workflows import ClusterOptions, SoapOptions, run_selection

    summary = run_selection(
        inputs,
        out,
        method=method,
        axis=axis,
        count=count,
        target=target,
        mixing=mixing,
        soap=SoapOptions(cutoff, max_radial, max_angular, width),
        aggregate=aggregate,
        progress=progress_enabled(progress),
        seed=seed,
        force=force,
        cluster=ClusterOptions(scheduler, workers),
        exclude=exclude,
    )
    if summary["test_rmse"] is not None:
        final = {name: values[-1] for name, values in summary["test_rmse"].items()}
        measured = f"test RMSE at {count}: " + ", ".join(
            f"{name} {value:.3g}" for name, value in final.items()
        )
    else:
        covered = summary["coverage"]
        measured = f"largest distance to the picks at {count}: " + ", ".join(
            f"{name} {c['largest'][-1]:.3g}" for name, c in covered.items()
        )
    before = summary["excluded"]
    after = f" after the {before} computed before" if before else ""
    typer.echo(
        f"selected {count} {axis} by {summary['method']}{after}; {measured}; "
        f"wrote {out}/"
    )
