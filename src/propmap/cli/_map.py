"""``propmap map``: structures -> SOAP -> (Kernel) PCovR map, viewer and numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from propmap.cli._common import (
    Cutoff,
    Force,
    MaxAngular,
    MaxRadial,
    Progress,
    Seed,
    Width,
    fail,
    prepare_output,
    progress_enabled,
    read_inputs,
    report_errors,
    soap_featurizer,
    stage,
    write_json,
)

MIXING_GRID = tuple(round(0.1 * k, 1) for k in range(11))
MIN_STRUCTURES = 8
CV_FOLDS = 5

FILES = {
    "map": "map.png",
    "parity": "parity.png",
    "sweep": "mixing_sweep.png",
    "viewer": "viewer.html",
    "chemiscope": "chemiscope.json.gz",
    "model": "model.joblib",
    "summary": "summary.json",
}


def _estimator(kernel: str, gamma: float | None, sparse: int | None, components: int):
    import numpy as np

    from propmap.decomposition import KernelPCovR, PCovR, SparseKernelPCovR

    if sparse is not None:
        return SparseKernelPCovR(
            n_components=components,
            n_active=sparse,
            kernel="rbf" if kernel == "linear" else kernel,
            gamma=gamma,
            center=True,
        )
    if kernel == "linear":
        # with far more SOAP columns than structures the default 1e-6 ridge
        # interpolates the training targets; a cross-validated penalty does not
        from sklearn.linear_model import RidgeCV

        ridge = RidgeCV(alphas=np.logspace(-6, 3, 19), fit_intercept=False)
        return PCovR(n_components=components, regressor=ridge)
    return KernelPCovR(n_components=components, kernel=kernel, gamma=gamma, center=True)


def _median_gamma(X, kernel: str) -> float:
    """1 / the median distance between training rows (squared for rbf): kernel
    values then spread over (0, 1) instead of collapsing to a constant, which the
    library default 1 / n_features does for SOAP's thousands of columns."""
    import numpy as np
    from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances

    rows = X[: min(len(X), 1000)]
    if kernel == "laplacian":
        distances = manhattan_distances(rows)
    else:
        distances = euclidean_distances(rows, squared=True)
    median = float(np.median(distances[np.triu_indices(len(rows), k=1)]))
    return 1.0 / median if median > 0 else 1.0


def _losses(model, X, Y) -> tuple[float, float]:
    """(reconstruction loss, prediction loss) of a fitted PCov model on scaled data."""
    import numpy as np

    prediction = model.predict(X).reshape(Y.shape)
    loss_y = float(np.sum((Y - prediction) ** 2) / np.sum(Y**2))
    return float(-model.score(X, Y) - loss_y), loss_y


def run_map(
    paths: list[Path],
    target: str,
    out: Path,
    *,
    mixing: float | None = None,
    kernel: str = "linear",
    gamma: float | None = None,
    sparse: int | None = None,
    components: int = 2,
    test_fraction: float = 0.2,
    cutoff: float = 5.0,
    max_radial: int = 4,
    max_angular: int = 3,
    width: float = 0.3,
    aggregate: str = "mean",
    progress: bool = False,
    seed: int = 0,
    force: bool = False,
    title: str | None = None,
) -> dict[str, Any]:
    """Everything ``propmap map`` does; returns the summary it writes."""
    import warnings

    import joblib
    import numpy as np
    from sklearn.model_selection import KFold, train_test_split

    from propmap._files import write_atomically
    from propmap.preprocessing import StandardFlexibleScaler
    from propmap.viz import (
        chemiscope_dataset,
        latent_map,
        mixing_sweep,
        parity_plot,
        save_figure,
        write_chemiscope_json,
        write_viewer,
    )

    out = prepare_output(out, force)
    structures, y = read_inputs(paths, target, progress)
    n = len(structures)
    if n < max(MIN_STRUCTURES, components + 3):
        fail(
            f"{n} structures are too few for a {components}-component map with a "
            f"test set; give at least {max(MIN_STRUCTURES, components + 3)}."
        )
    stage(f"SOAP features of {n} structures", progress)
    if aggregate not in ("mean", "sum"):
        fail(f"--aggregate must be 'mean' or 'sum', not {aggregate!r}.")
    featurizer = soap_featurizer(
        cutoff,
        max_radial,
        max_angular,
        width,
        progress=progress,
        per="structure" if aggregate == "mean" else "sum",
    )
    X = featurizer.fit_transform(structures)
    indices = np.arange(n)
    train, test = train_test_split(indices, test_size=test_fraction, random_state=seed)
    x_scaler = StandardFlexibleScaler().fit(X[train])
    y_scaler = StandardFlexibleScaler(column_wise=True).fit(y[train, None])
    Xs, Ys = x_scaler.transform(X), y_scaler.transform(y[:, None])
    uses_rbf = (sparse is not None and kernel == "linear") or kernel in (
        "rbf",
        "laplacian",
    )
    if gamma is None and uses_rbf:
        gamma = _median_gamma(Xs[train], kernel)

    def fitted(alpha: float, rows):
        model = _estimator(kernel, gamma, sparse, components).set_params(mixing=alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # centring of a subset
            return model.fit(Xs[rows], Ys[rows])

    # α by K-fold cross-validation on the training structures: the test split
    # stays unseen until the final numbers
    stage("mixing sweep (cross-validation)", progress)
    folds = list(
        KFold(
            n_splits=min(CV_FOLDS, train.size), shuffle=True, random_state=seed
        ).split(train)
    )
    sweep = np.array(
        [
            np.mean(
                [
                    _losses(
                        fitted(alpha, train[inner]), Xs[train[held]], Ys[train[held]]
                    )
                    for inner, held in folds
                ],
                axis=0,
            )
            for alpha in MIXING_GRID
        ]
    )
    alphas, loss_x, loss_y = np.array(MIXING_GRID), sweep[:, 0], sweep[:, 1]
    chosen = (
        float(mixing)
        if mixing is not None
        else float(alphas[np.argmin(loss_x + loss_y)])
    )
    model = fitted(chosen, train)
    latent = model.transform(Xs)
    predicted = y_scaler.inverse_transform(model.predict(Xs).reshape(-1, 1))[:, 0]

    def r2(rows) -> float:
        residual = np.sum((y[rows] - predicted[rows]) ** 2)
        return float(1.0 - residual / np.sum((y[rows] - y[rows].mean()) ** 2))

    summary = {
        "structures": n,
        "target": target,
        "n_train": int(train.size),
        "n_test": int(test.size),
        "model": type(model).__name__,
        "kernel": kernel
        if sparse is None
        else (kernel if kernel != "linear" else "rbf"),
        "gamma": gamma,
        "n_active": sparse,
        "n_components": components,
        "mixing": chosen,
        "mixing_chosen_by": "given"
        if mixing is not None
        else f"{len(folds)}-fold cross-validation on the training set",
        "r2_train": r2(train),
        "r2_test": r2(test),
        "mae_test": float(np.mean(np.abs(y[test] - predicted[test]))),
        "sweep": {
            "mixing": alphas.tolist(),
            "loss_x_cv": loss_x.tolist(),
            "loss_y_cv": loss_y.tolist(),
        },
        "aggregate": aggregate,
        "soap": featurizer.get_params(),
        "n_features": int(X.shape[1]),
        "seed": seed,
        "files": FILES,
    }
    summary["soap"].pop("progress", None)

    stage("figures and viewer", progress)
    labels = (f"{summary['model']} 1", f"{summary['model']} 2")
    save_figure(
        latent_map(latent, y, value_label=target, axis_labels=labels, title=title),
        out / FILES["map"],
    )
    groups = np.where(np.isin(indices, test), "test", "train")
    save_figure(
        parity_plot(y, predicted, label=target, groups=groups), out / FILES["parity"]
    )
    save_figure(
        mixing_sweep(alphas, loss_x, loss_y, chosen=chosen), out / FILES["sweep"]
    )
    dataset = chemiscope_dataset(
        structures,
        properties={
            target: y,
            f"{target} (predicted)": predicted,
            "set": groups.tolist(),
        },
        latent=latent,
        latent_name=summary["model"],
        color=target,
        name=title or f"propmap map of {target}",
        description=(
            f"{summary['model']} (mixing {chosen:g}) of SOAP features; test R² "
            f"{summary['r2_test']:.3f}"
        ),
    )
    write_chemiscope_json(dataset, out / FILES["chemiscope"])
    write_viewer(dataset, out / FILES["viewer"], title=title or f"propmap: {target}")
    pipeline = {
        "featurizer": featurizer.set_params(progress=False),
        "x_scaler": x_scaler,
        "y_scaler": y_scaler,
        "model": model,
    }
    write_atomically(
        out / FILES["model"], lambda stream: joblib.dump(pipeline, stream), "wb"
    )
    write_json(out / FILES["summary"], summary)
    return summary


@report_errors
def map_command(
    structures: Annotated[
        list[Path], typer.Argument(help="Structure files or folders (any ase format).")
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
            help="PCovR α; default: chosen by cross-validation on the training set.",
        ),
    ] = None,
    kernel: Annotated[
        str, typer.Option(help="linear (PCovR) or a kernel for Kernel PCovR: rbf, ...")
    ] = "linear",
    gamma: Annotated[
        float | None,
        typer.Option(
            help="Kernel width parameter; default for rbf/laplacian: 1 / the median "
            "(squared) distance between training structures."
        ),
    ] = None,
    sparse: Annotated[
        int | None,
        typer.Option(min=2, help="Nyström Kernel PCovR on this many active points."),
    ] = None,
    components: Annotated[int, typer.Option(min=2, help="Latent dimensions.")] = 2,
    test_fraction: Annotated[
        float, typer.Option(min=0.05, max=0.5, help="Share held out for testing.")
    ] = 0.2,
    cutoff: Cutoff = 5.0,
    max_radial: MaxRadial = 4,
    max_angular: MaxAngular = 3,
    width: Width = 0.3,
    aggregate: Annotated[
        str,
        typer.Option(
            help="Structure features: mean of the atoms' (intensive properties) or "
            "sum (extensive ones, e.g. energies)."
        ),
    ] = "mean",
    progress: Progress = None,
    seed: Seed = 0,
    force: Force = False,
) -> None:
    """Map structures with (Kernel) PCovR on SOAP features, coloured by a property.

    Writes the map, a parity plot, the α sweep, viewer.html, chemiscope.json.gz,
    the fitted model and summary.json into the output folder.
    """
    summary = run_map(
        structures,
        target,
        out,
        mixing=mixing,
        kernel=kernel,
        gamma=gamma,
        sparse=sparse,
        components=components,
        test_fraction=test_fraction,
        cutoff=cutoff,
        max_radial=max_radial,
        max_angular=max_angular,
        width=width,
        aggregate=aggregate,
        progress=progress_enabled(progress),
        seed=seed,
        force=force,
    )
    typer.echo(
        f"{summary['model']} map of {summary['structures']} structures "
        f"(mixing {summary['mixing']:g}): test R² {summary['r2_test']:.3f}; "
        f"wrote {out}/"
    )
