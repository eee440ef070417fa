"""``propmap map``: structures -> SOAP -> (Kernel) PCovR map, viewer and numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propmap.cli._common import (
    Force,
    MaxAngular,
    MaxRadial,
    Progress,
    Scheduler,
    Seed,
    Width,
    Workers,
    defaults,
    progress_enabled,
    report_errors,
)
from propmap.workflows import Aggregate, Baseline, Kernel, Layout, MapOptions, Per

MAP_DEFAULTS = defaults(MapOptions)


@report_errors
def map_command(
    structures: Annotated[
        list[Path],
        typer.Argument(
            help="Structure files or folders (any ase format), or one feature "
            "table (.csv with a header, or .npz with arrays X and y)."
        ),
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="Property to map.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "propmap-map"
    ),
    mixing: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="PCovR mixing α (0: all prediction, 1: all structure); default: "
            "chosen by cross-validation on the training set.",
        ),
    ] = MAP_DEFAULTS["mixing"],
    kernel: Annotated[
        Kernel | None,
        typer.Option(
            help="linear: PCovR on the features; else centred Kernel PCovR. "
            "Default: linear, or rbf with --sparse."
        ),
    ] = None,
    gamma: Annotated[
        float | None,
        typer.Option(
            help="Kernel width; default: cross-validated over factors of 2 (1/16x "
            "to 16x) of 1 / the median (squared) distance between training "
            "structures.",
        ),
    ] = None,
    penalty: Annotated[
        float | None,
        typer.Option(
            "--penalty",
            help="Ridge (kernel ridge) penalty of the model's regression; default: "
            "chosen by the same cross-validation as the mixing.",
        ),
    ] = MAP_DEFAULTS["penalty"],
    alpha: Annotated[
        float | None,
        typer.Option(
            "--alpha",
            hidden=True,
            help="Deprecated: the ridge penalty, now --penalty (the papers' α is "
            "the mixing).",
        ),
    ] = None,
    sparse: Annotated[
        int | None,
        typer.Option(min=2, help="Nyström Kernel PCovR on this many active points."),
    ] = None,
    components: Annotated[
        int, typer.Option(min=2, help="Latent dimensions.")
    ] = MAP_DEFAULTS["components"],
    per: Annotated[
        Per,
        typer.Option(
            help="The map's points: structures, or atoms (a per-atom property such "
            "as charges; structures are kept whole in the train/test split).",
        ),
    ] = MAP_DEFAULTS["per"],
    layout: Annotated[
        Layout,
        typer.Option(
            "--map",
            help="What the map shows: the PCovR latent space, or a sketch-map of "
            "the features (unsupervised, on 500 landmarks past 500 rows; the "
            "accuracies stay the PCovR model's).",
        ),
    ] = MAP_DEFAULTS["layout"],
    test_fraction: Annotated[
        float, typer.Option(min=0.05, max=0.5, help="Share held out for testing.")
    ] = MAP_DEFAULTS["test_fraction"],
    cutoff: Annotated[
        float | None,
        typer.Option(
            min=0.5,
            help="SOAP cutoff radius (Å); default 5, or 3.5 with --aggregate sum "
            "(extensive properties are sums of local contributions).",
        ),
    ] = None,
    max_radial: MaxRadial = 4,
    max_angular: MaxAngular = 3,
    width: Width = 0.3,
    aggregate: Annotated[
        Aggregate,
        typer.Option(
            help="Structure features: mean of the atoms' (intensive properties) or "
            "sum (extensive ones, e.g. energies)."
        ),
    ] = MAP_DEFAULTS["aggregate"],
    baseline: Annotated[
        Baseline | None,
        typer.Option(
            help="Subtract a per-element composition fit (training set) first; "
            "default: composition with --aggregate sum, else none."
        ),
    ] = None,
    index: Annotated[
        str | None,
        typer.Option(
            help="For a feature table (CSV): the column naming the rows; default: "
            "the first column when it is not numeric."
        ),
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            help="The target's unit, on the figures, in the report and the line "
            "printed; default: known for QM9's and ase's properties (eV, D, e), "
            "else none."
        ),
    ] = MAP_DEFAULTS["unit"],
    progress: Progress = None,
    seed: Seed = MAP_DEFAULTS["seed"],
    scheduler: Scheduler = None,
    workers: Workers = None,
    force: Force = False,
) -> None:
    """Map structures with (Kernel) PCovR on SOAP features, coloured by a property.

    Writes the map, a parity plot (map and full model), the α sweep,
    viewer.html, chemiscope.json.gz, the fitted model, summary.json and
    report.html into the output folder.
    """
    from propmap.workflows import ClusterOptions, SoapOptions, map_structures

    if alpha is not None:
        if penalty is not None:
            raise ValueError(
                "give the ridge penalty once: --penalty (--alpha is its old name)."
            )
        typer.echo(
            "propmap: warning: --alpha is deprecated; the ridge penalty is "
            "--penalty (the mixing α is --mixing).",
            err=True,
        )
        penalty = alpha
    summary = map_structures(
        structures,
        target,
        out,
        mixing=mixing,
        kernel=kernel,
        gamma=gamma,
        sparse=sparse,
        penalty=penalty,
        components=components,
        test_fraction=test_fraction,
        soap=SoapOptions(
            SoapOptions.for_aggregate(aggregate).cutoff if cutoff is None else cutoff,
            max_radial,
            max_angular,
            width,
        ),
        aggregate=aggregate,
        baseline=baseline,
        progress=progress_enabled(progress),
        seed=seed,
        force=force,
        index=index,
        layout=layout,
        unit=unit,
        cluster=ClusterOptions(scheduler, workers),
        per=per,
    )
    typer.echo(accuracy_line(summary) + f"; wrote {out}/")


# fewer test points than this give a test score that moves with the split (at
# 60 QM9 molecules, 12 tested, R² from -0.20 to 0.75 with the seed)
FEW_TESTED = 30


def accuracy_line(summary: dict) -> str:
    """One line with both test accuracies of a map."""
    accuracy = summary["accuracy"]
    cross = summary.get("cross_validation")
    parts = []
    for name, label in (("map", "map"), ("full_model", summary["full_model"])):
        test = accuracy[name]["test"]
        # with a baseline, the R² of what it leaves (that of the total is ~1)
        r2 = test.get("r2_after_baseline", test["r2"])
        after = " after the baseline" if "r2_after_baseline" in test else ""
        unit = f" {summary['unit']}" if summary.get("unit") else ""
        part = f"{label} MAE {test['mae']:.4g}{unit}, R²{after} {r2:.3f}"
        if cross is not None:
            folds = cross[name]
            part += f" (CV {folds['r2']:.3f} ± {folds['r2_std']:.3f})"
        parts.append(part)
    points = f"{summary['structures']} structures"
    if summary.get("per") == "atom":
        points = f"{summary['points']} atoms of {points}"
    tested = "test"
    if summary.get("n_test", FEW_TESTED) < FEW_TESTED:
        what = "atoms" if summary.get("per") == "atom" else "structures"
        tested = (
            f"test on only {summary['n_test']} {what} (a score that moves with "
            "the split: read the cross-validated one)"
        )
    return (
        f"{summary['model']} map of {points} "
        f"(mixing {summary['mixing']:g}); {tested}: " + "; ".join(parts)
    )
