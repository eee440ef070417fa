"""``propmap select``: pick informative features or representative samples, and
show how the test error falls with the number picked."""

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

METHODS = ("fps", "cur", "pcov-fps", "pcov-cur")
BASELINE = {"fps": "fps", "cur": "cur", "pcov-fps": "fps", "pcov-cur": "cur"}
RANDOM_REPEATS = 5
FEATURE_FILE_SUFFIXES = (".csv", ".npz")
FILES = {
    "selected": "selected.csv",
    "curve": "selection_curve.png",
    "summary": "summary.json",
}


def _load_features(path: Path, target: str | None):
    """X, y and column names from a CSV (header; ``target`` is one column) or an
    NPZ (arrays ``X`` and, optionally, ``y``)."""
    import numpy as np

    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if path.suffix == ".npz":
        with np.load(path) as data:
            if "X" not in data:
                fail(f"{path} has no array 'X' (it has: {', '.join(data.files)}).")
            X = np.asarray(data["X"], dtype=float)
            y = np.asarray(data["y"], dtype=float) if "y" in data else None
        names = [f"x{j}" for j in range(X.shape[1])]
        return X, y, names
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as error:
        fail(f"{path} is not a readable CSV file: {error}")
    if target is not None:
        if target not in table:
            fail(f"no column {target!r} in {path}; columns: {', '.join(table.columns)}")
        y = pd.to_numeric(table.pop(target), errors="coerce").to_numpy(float)
    else:
        y = None
    numeric = table.apply(pd.to_numeric, errors="coerce")
    bad = [c for c in numeric if numeric[c].isna().any()]
    if bad:
        fail(f"non-numeric or missing values in columns {', '.join(map(str, bad))}.")
    return numeric.to_numpy(float), y, [str(c) for c in table.columns]


def _selector(method: str, axis: str, count: int, seed: int):
    from propmap import feature_selection, sample_selection

    module = feature_selection if axis == "features" else sample_selection
    name = {"fps": "FPS", "cur": "CUR", "pcov-fps": "PCovFPS", "pcov-cur": "PCovCUR"}
    selector_class = getattr(module, name[method])
    return selector_class(n_to_select=count, random_state=seed)


def _test_error(X, y, train, test, picked, axis: str) -> float:
    """Test RMSE of a ridge regression on the picked features (trained on the
    training samples) or trained on the picked training samples (all features)."""
    import numpy as np
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=np.logspace(-6, 3, 10))
    if axis == "features":
        model.fit(X[np.ix_(train, picked)], y[train])
        prediction = model.predict(X[np.ix_(test, picked)])
    else:
        rows = train[picked]
        if rows.size < 2:
            return float(np.sqrt(np.mean((y[test] - y[rows].mean()) ** 2)))
        model.fit(X[rows], y[rows])
        prediction = model.predict(X[test])
    return float(np.sqrt(np.mean((y[test] - prediction) ** 2)))


def run_select(
    paths: list[Path],
    out: Path,
    *,
    method: str = "pcov-cur",
    axis: str = "features",
    count: int = 20,
    target: str | None = None,
    mixing: float = 0.5,
    test_fraction: float = 0.2,
    cutoff: float = 5.0,
    max_radial: int = 4,
    max_angular: int = 3,
    width: float = 0.3,
    progress: bool = False,
    seed: int = 0,
    force: bool = False,
) -> dict[str, Any]:
    """Everything ``propmap select`` does; returns the summary it writes."""
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from propmap._files import write_atomically
    from propmap.preprocessing import StandardFlexibleScaler
    from propmap.viz import save_figure, selection_curves

    if method not in METHODS:
        fail(f"unknown method {method!r}; choose from {', '.join(METHODS)}.")
    if axis not in ("features", "samples"):
        fail(f"axis must be 'features' or 'samples', not {axis!r}.")
    out = prepare_output(out, force)
    from_file = len(paths) == 1 and paths[0].suffix in FEATURE_FILE_SUFFIXES
    if from_file:
        X, y, names = _load_features(paths[0], target)
        sample_names = [str(k) for k in range(X.shape[0])]
    else:
        structures, y = read_inputs(paths, target, progress)
        stage(f"SOAP features of {len(structures)} structures", progress)
        featurizer = soap_featurizer(
            cutoff, max_radial, max_angular, width, progress=progress
        )
        X = featurizer.fit_transform(structures)
        names = list(featurizer.get_feature_names_out())
        sample_names = [a.info.get("source", str(k)) for k, a in enumerate(structures)]
    if y is None:
        fail("--target is needed: the PCov methods and the error curve use it.")
    if not np.all(np.isfinite(y)):
        fail("the target has missing or non-numeric values.")
    n_samples, n_features = X.shape
    available = (
        n_features if axis == "features" else int(n_samples * (1 - test_fraction))
    )
    if not 1 <= count <= available:
        fail(f"--count must be between 1 and {available} {axis} here, not {count}.")
    if n_samples < 5:
        fail(f"{n_samples} samples are too few for a test split; give at least 5.")

    indices = np.arange(n_samples)
    train, test = train_test_split(indices, test_size=test_fraction, random_state=seed)
    if from_file:
        # columns in their own units: unit variance each (constant ones just centred)
        spread = X[train].std(axis=0)
        X = (X - X[train].mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    else:
        # SOAP channels share one scale: keep their relative sizes
        X = StandardFlexibleScaler().fit(X[train]).transform(X)
    y_centred = y - y[train].mean()
    pool = X[train]  # selection sees only the training samples
    stage(f"{method} selection of {count} {axis}", progress)

    def select(name: str) -> np.ndarray:
        selector = _selector(name, axis, count, seed)
        if name.startswith("pcov"):
            selector.set_params(mixing=mixing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            selector.fit(pool, y_centred[train])
        return np.asarray(selector.selected_idx_)

    chosen = select(method)
    picks = {method: chosen}
    baseline = BASELINE[method]
    if baseline != method:
        picks[baseline] = select(baseline)
    counts = np.unique(np.linspace(1, count, min(count, 10)).round().astype(int))
    rng = np.random.default_rng(seed)
    size = n_features if axis == "features" else train.size
    errors = {
        name: np.array([_test_error(X, y, train, test, p[:k], axis) for k in counts])
        for name, p in picks.items()
    }
    errors["random"] = np.array(
        [
            [_test_error(X, y, train, test, order[:k], axis) for k in counts]
            for order in (rng.permutation(size) for _ in range(RANDOM_REPEATS))
        ]
    )
    labels = names if axis == "features" else [sample_names[i] for i in train]
    selected = pd.DataFrame(
        {
            "rank": np.arange(1, chosen.size + 1),
            "index": chosen if axis == "features" else train[chosen],
            "name": [labels[i] for i in chosen],
        }
    )
    write_atomically(out / FILES["selected"], lambda f: selected.to_csv(f, index=False))
    save_figure(
        selection_curves(counts, errors, ylabel="test RMSE"), out / FILES["curve"]
    )
    summary = {
        "method": method,
        "axis": axis,
        "count": count,
        "mixing": mixing if method.startswith("pcov") else None,
        "samples": n_samples,
        "features": n_features,
        "n_train": int(train.size),
        "n_test": int(test.size),
        "counts": counts.tolist(),
        "test_rmse": {
            name: (value.mean(axis=0) if value.ndim == 2 else value).tolist()
            for name, value in errors.items()
        },
        "seed": seed,
        "files": FILES,
    }
    write_json(out / FILES["summary"], summary)
    return summary


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
        str, typer.Option(help="fps, cur, pcov-fps or pcov-cur.")
    ] = "pcov-cur",
    axis: Annotated[str, typer.Option(help="features or samples.")] = "features",
    count: Annotated[int, typer.Option(min=1, help="How many to select.")] = 20,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Property (structure info key or CSV column)."
        ),
    ] = None,
    mixing: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="α of the PCov methods.")
    ] = 0.5,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "propmap-select"
    ),
    cutoff: Cutoff = 5.0,
    max_radial: MaxRadial = 4,
    max_angular: MaxAngular = 3,
    width: Width = 0.3,
    progress: Progress = None,
    seed: Seed = 0,
    force: Force = False,
) -> None:
    """Select features or samples; writes the picks and the test error against the
    number selected, for the method, its plain counterpart and random picks."""
    summary = run_select(
        inputs,
        out,
        method=method,
        axis=axis,
        count=count,
        target=target,
        mixing=mixing,
        cutoff=cutoff,
        max_radial=max_radial,
        max_angular=max_angular,
        width=width,
        progress=progress_enabled(progress),
        seed=seed,
        force=force,
    )
    final = {name: values[-1] for name, values in summary["test_rmse"].items()}
    typer.echo(
        f"selected {count} {axis} by {method}; test RMSE at {count}: "
        + ", ".join(f"{name} {value:.3g}" for name, value in final.items())
        + f"; wrote {out}/"
    )
