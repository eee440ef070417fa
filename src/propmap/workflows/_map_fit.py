"""The map's numbers: split (and composition baseline), scaling, the
cross-validated estimator (:class:`~propmap.decomposition.PCovRCV` or
:class:`~propmap.decomposition.KernelPCovRCV`) refitted on the training rows,
the accuracies and the summary."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import gen_batches

from propmap._linalg import permute_rows
from propmap.exceptions import UncenteredDataWarning
from propmap.workflows._inputs import Inputs
from propmap.workflows._map_options import (
    ATOM_MAP_FILES,
    CV_FOLDS,
    GAMMA_SEARCH_ROWS,
    LOSS_TOLERANCE,
    MAP_FILES,
    MIXING_RULE,
    SKETCH_LANDMARKS,
    MapOptions,
)
from propmap.workflows._map_streamed import latent_and_ridge
from propmap.workflows._options import Baseline, Kernel, Layout
from propmap.workflows._options import WorkflowError as _Error
from propmap.workflows._pipeline import assemble
from propmap.workflows._scores import coverage, scores
from propmap.workflows._steps import stage

__all__ = ["atom_elements", "element_symbols", "fit_and_evaluate"]


@dataclass
class _Fitted:
    """The final model, the full model's predictions and the latent coordinates
    of every structure."""

    model: Any
    ridge_prediction: np.ndarray  # scaled targets, all rows
    latent: np.ndarray
    # the ridge's posterior variance q of every row (None: the model gives
    # no uncertainty)
    variance: np.ndarray | None = None
    in_domain: np.ndarray | None = None


@dataclass
class _Scaled:
    """The training split, the baseline and the scaled data of every row."""

    train: np.ndarray
    test: np.ndarray
    baseline: Any  # fitted CompositionBaseline or None
    reference: np.ndarray  # the baseline's value for every row (0 without one)
    x_scaler: Any
    y_scaler: Any
    X: np.ndarray
    Y: np.ndarray
    groups: np.ndarray | None = None  # the structure of each row (a map of atoms)
    # X's rows are the inputs' rows in this order (None: the same order): the
    # the training rows first (sorted, or for kernel maps in the split's order:
    # the folds of the choices made so far), then the sorted test rows
    order: np.ndarray | None = None
    sorted_training: bool = True

    def training_rows(self):
        """The training rows of X (a view when they come first) and their index
        into the inputs' rows."""
        if self.order is None:
            train = np.sort(self.train) if self.sorted_training else self.train
            return self.X[train], train
        return self.X[: self.train.size], self.order[: self.train.size]

    def in_input_order(self, values: np.ndarray) -> np.ndarray:
        """Rows computed from X, put back in the inputs' order."""
        if self.order is None:
            return values
        out = np.empty_like(values)
        out[self.order] = values
        return out


def fit_and_evaluate(
    inputs: Inputs, options: MapOptions, progress: bool, streamed: bool = False
):
    """Split, scale, cross-validate, fit and evaluate: the summary and what the
    outputs are drawn from."""
    stage("split, baseline and scaling", progress, key="split_and_scale")
    data = _split_and_scale(inputs, options)
    linear = options.kernel == Kernel.linear
    stage(
        "cross-validation (penalty, mixing) and final fit"
        if linear
        else "kernels, cross-validation (penalty, γ, mixing) and final fit",
        progress,
        key="cross_validation_and_fit",
    )
    fitted = _fit(data, options, streamed, progress)
    search = not linear and options.gamma is None
    latent = fitted.latent

    def in_units(scaled: np.ndarray) -> np.ndarray:
        values = data.y_scaler.inverse_transform(scaled.reshape(-1, 1))[:, 0]
        return values + data.reference

    # every model here predicts through its latent space, T P_TY: no second
    # pass of kernels over all structures
    predicted = in_units(latent @ fitted.model.pty_)
    ridge_predicted = in_units(fitted.ridge_prediction)
    accuracy = _accuracy(inputs.y, data, predicted, ridge_predicted)
    if inputs.groups is not None:
        accuracy["per_element"] = _element_accuracy(inputs, data, predicted)
    summary = _summary(inputs, options, data, fitted.model, search, accuracy)
    summary["streamed"] = streamed
    spread = None
    if fitted.variance is not None:
        spread = _spread(fitted, data)
        summary["uncertainty"] = _uncertainty(
            inputs.y, data, fitted, (predicted, ridge_predicted), spread
        )
        summary["files"] = {**summary["files"], "calibration": "calibration.png"}
    # the cross-validated estimator is named after the model it refits
    refit = getattr(fitted.model, "best_estimator_", fitted.model)
    summary["model"] = type(refit).__name__.removesuffix("CV")
    shown, embedding = latent, None
    if options.layout == Layout.sketch:
        stage("sketch-map of the features", progress, key="sketch_map")
        embedding = _sketch_map(data.X, options.components)
        shown = data.in_input_order(embedding.embedding_)
    summary["layout"] = options.layout.value
    summary["latent_name"] = "sketch-map" if embedding is not None else summary["model"]
    summary["sketch_map"] = None if embedding is None else _sketch_summary(embedding)
    groups = np.where(np.isin(np.arange(len(inputs.y)), data.test), "test", "train")
    featurizer = inputs.featurizer
    pipeline = assemble(
        None if featurizer is None else featurizer.set_params(progress=False),
        data.x_scaler,
        fitted.model,
        data.y_scaler,
        data.baseline,
        {
            # the structures stay in the chemiscope file beside the model
            # (MapPipeline.map_structures reads them): the model file is small
            "structures": None,
            "structures_file": None
            if inputs.packed is None
            else MAP_FILES["chemiscope"],
            "latent": np.asarray(shown, dtype=np.float32),
            "latent_name": summary["latent_name"],
            "model_name": summary["model"],
            "target": inputs.y,
            "target_name": options.target,
            "sets": groups,
            "names": inputs.names,
            "columns": inputs.columns,
            "per": summary["per"],
        },
        embedding,
    )
    arrays = {
        "residual": inputs.y - data.reference,
        "latent": shown,
        "model_latent": latent,
        "predicted": predicted,
        "ridge_predicted": ridge_predicted,
        "test": data.test,
        "pipeline": pipeline,
        # σ of the map's and of the full model's predictions (None without)
        "predicted_std": None if spread is None else spread[0],
        "ridge_std": None if spread is None else spread[1],
        "in_domain": fitted.in_domain,
    }
    return summary, arrays


def _spread(fitted: _Fitted, data: _Scaled) -> tuple[np.ndarray, np.ndarray]:
    """σ of the map's and of the full model's prediction of every row, in the
    target's units."""
    unit = float(np.ravel(data.y_scaler.scale_)[0])
    root = np.sqrt(1.0 + fitted.variance)
    model = fitted.model
    return (
        unit * _first(model.latent_noise_std_) * root,
        unit * _first(model.noise_std_) * root,
    )


def _first(value) -> float:
    """The one target's value of a per-target attribute."""
    return float(np.ravel(value)[0])


def _uncertainty(y, data: _Scaled, fitted: _Fitted, predictions, spread) -> dict:
    """How well the predicted σ covers the test errors (map, then full model),
    the noise levels and the applicability domain's threshold."""
    test = data.test
    unit = float(np.ravel(data.y_scaler.scale_)[0])

    def scores(predicted, std, noise) -> dict:
        covered = coverage(y[test], predicted[test], std[test])
        return {**covered, "scale": unit * _first(noise)}

    model = fitted.model
    summary = scores(predictions[0], spread[0], model.latent_noise_std_)
    summary["full_model"] = scores(predictions[1], spread[1], model.noise_std_)
    held = f"{model.calibration_size_} held-out rows of the cross-validation"
    if hasattr(model, "best_gamma_"):  # kernel maps: the refit's own rows
        held = f"the leave-one-out errors of the refit's {model.calibration_size_} rows"
    summary["calibrated_on"] = held
    outside = ~fitted.in_domain[test]
    summary["domain"] = {
        "threshold": float(model.domain_threshold_),
        "rule": "posterior variance q above the 99th percentile of held-out rows'",
        "test_out_of_domain": int(np.count_nonzero(outside)),
    }
    return summary


def _split_and_scale(inputs: Inputs, options: MapOptions) -> _Scaled:
    """The train/test split, the composition baseline (training rows) and the
    scaled features and baseline residuals."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from propmap.atomistic import CompositionBaseline
    from propmap.preprocessing import StandardFlexibleScaler

    compositions, X, y, groups = inputs.compositions, inputs.X, inputs.y, inputs.groups
    repeats = None
    if groups is None and isinstance(X, np.ndarray):
        repeats = duplicate_labels(X)
    if repeats is not None:
        # a structure given twice must not be tested on its own copy
        count = len(repeats) - np.unique(repeats).size
        warnings.warn(
            f"{count} of the {len(repeats)} {inputs.kind} repeat others (the same "
            "features to rounding): each set of copies is kept whole on one side "
            "of the test split and of every cross-validation fold.",
            UserWarning,
            stacklevel=4,
        )
        from sklearn.model_selection import GroupShuffleSplit

        splitter = GroupShuffleSplit(
            n_splits=1, test_size=options.test_fraction, random_state=options.seed
        )
        train, test = next(splitter.split(np.arange(len(y)), groups=repeats))
        trained, tested, groups = train, test, repeats
    elif groups is None:
        train, test = train_test_split(
            np.arange(len(y)), test_size=options.test_fraction,
            random_state=options.seed,
        )  # fmt: skip
        trained, tested = train, test
    else:  # whole structures on either side
        trained, tested = train_test_split(
            np.arange(len(compositions)), test_size=options.test_fraction,
            random_state=options.seed,
        )  # fmt: skip
        train, test = (
            np.flatnonzero(np.isin(groups, part)) for part in (trained, tested)
        )
    if options.sparse is not None and options.sparse > train.size:
        raise _Error(
            f"`sparse` {options.sparse} is more than the {train.size} training "
            f"{inputs.kind}."
        )
    unseen = (
        [] if compositions is None else _unseen_elements(compositions, trained, tested)
    )
    if unseen:
        warnings.warn(
            f"test structures contain elements no training structure has "
            f"({', '.join(unseen)}): their predictions are extrapolations.",
            UserWarning,
            stacklevel=4,
        )
    reference, baseline = np.zeros(len(y)), None
    if options.baseline == Baseline.composition:
        baseline = CompositionBaseline().fit([compositions[i] for i in train], y[train])
        reference = baseline.predict(compositions)
    residual = (y - reference)[:, None]
    y_scaler = StandardFlexibleScaler(column_wise=True).fit(residual[train])
    linear = options.kernel == Kernel.linear
    x_scaler = clone(inputs.x_scaler)
    if linear and type(x_scaler) is StandardFlexibleScaler:
        # PCovRCV centres inside (center=True): the features keep their zeros,
        # which makes a map of atoms' moments element by element
        x_scaler.set_params(with_mean=False)
    if isinstance(X, np.ndarray) and type(inputs.x_scaler) is StandardFlexibleScaler:
        # the features are held once: the training rows are moved first, in
        # place, and scaled in place; the fit reads them as one view
        order = np.concatenate([np.sort(train) if linear else train, np.sort(test)])
        permute_rows(X, order)
        inputs.X = None  # (now data.X, in another order)
        x_scaler.fit(X[: train.size])
        return _Scaled(
            train, test, baseline, reference, x_scaler, y_scaler,
            x_scaler.transform(X, copy=False), y_scaler.transform(residual), groups,
            order, linear,
        )  # fmt: skip
    # (a dask X: sorted rows keep its chunks whole)
    x_scaler.fit(X[np.sort(train)])
    return _Scaled(
        train, test, baseline, reference, x_scaler, y_scaler,
        x_scaler.transform(X), y_scaler.transform(residual), groups,
        sorted_training=linear,
    )  # fmt: skip


def duplicate_labels(X, decimals: int = 6) -> np.ndarray | None:
    """A label per row, shared by rows whose features are equal to rounding (the
    same structure given twice); None when no row repeats another.

    Rows are compared through 8 random projections (one pass over X, float64
    products by blocks), each rounded to ``decimals`` digits of its spread.
    """
    from sklearn.utils import gen_batches

    rng = np.random.default_rng(0)
    directions = rng.normal(size=(X.shape[1], 8))
    keys = np.concatenate(
        [
            np.asarray(X[rows], dtype=np.float64) @ directions
            for rows in gen_batches(X.shape[0], 512)
        ]
    )
    spread = keys.std(axis=0)
    keys = np.round(keys / np.where(spread > 0, spread, 1.0), decimals)
    _, labels, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return None if counts.max() == 1 else labels.ravel()


def _unseen_elements(compositions, train, test) -> list[str]:
    """Elements of test structures that no training structure has (objects with
    ``.numbers``)."""
    from ase.data import chemical_symbols

    seen = {int(z) for i in train for z in np.unique(compositions[i].numbers)}
    held = {int(z) for i in test for z in np.unique(compositions[i].numbers)}
    return sorted(chemical_symbols[z] for z in held - seen)


def _estimator(options: MapOptions, progress: bool = False):
    """The cross-validated estimator of the map: PCovRCV (linear) or
    KernelPCovRCV (dense, or Nyström with ``sparse``), with the given values as
    one-point grids."""
    from propmap.decomposition import KernelPCovRCV, PCovRCV

    common = {
        "mixings": None if options.mixing is None else [options.mixing],
        "alphas": None if options.penalty is None else [options.penalty],
        "n_components": options.components,
        "cv": CV_FOLDS,
        "mixing_tolerance": LOSS_TOLERANCE,
        "random_state": options.seed,
    }
    if options.kernel == Kernel.linear:
        # arpack: exact top eigenpairs (the auto policy would take the
        # randomized solver here)
        # a bar with the time left, on a terminal
        # centred inside: see _split_and_scale
        return PCovRCV(
            svd_solver="arpack", progress_bar=progress, center=True, **common
        )
    return KernelPCovRCV(
        gammas=None if options.gamma is None else [options.gamma],
        kernel=options.kernel.value,
        n_active=options.sparse,
        gamma_search_samples=GAMMA_SEARCH_ROWS,
        progress_bar=progress,
        **common,
    )


def _fit(
    data: _Scaled, options: MapOptions, streamed: bool, progress: bool = False
) -> _Fitted:
    """The estimator chooses the hyperparameters on the training rows' folds and
    refits on them; then the latent coordinates and the full model's predictions
    of every row."""
    model = _estimator(options, progress)
    rows, train = data.training_rows()
    groups = None if data.groups is None else data.groups[train]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)  # a subset
        model.fit(rows, data.Y[train], groups=groups)
    model.set_params(progress_bar=False)  # not in the saved model
    uncertain = hasattr(model, "posterior_variance")
    variance = inside = None
    if streamed:
        latent, ridge, variance = latent_and_ridge(model, data.X)
        if variance is not None:
            inside = model.variance_in_domain(variance)
    else:
        latent, ridge, variance = _predictions(model, data, train, uncertain)
        latent, ridge = data.in_input_order(latent), data.in_input_order(ridge)
        if variance is not None:
            variance = data.in_input_order(variance)
            inside = model.variance_in_domain(variance)
    return _Fitted(
        model, np.asarray(ridge, dtype=np.float64).ravel(), latent, variance, inside
    )


def _predictions(model, data: _Scaled, train: np.ndarray, uncertain: bool):
    """The latent coordinates, the full model's predictions and (``uncertain``)
    q of every row of X, in X's order. The training rows' q comes from the fit
    itself (``train_variance_``, gathered in its cross-validation pass), the
    others' from the posterior: with the training rows first, in the same pass
    as their predictions (a kernel's rows made once); else a few thousand rows
    at a time (no copy of them whole)."""
    n_rows, n_train = data.X.shape[0], train.size
    if uncertain and data.order is not None and n_train < n_rows:
        head = model.transform_predict(data.X[:n_train])
        tail = model.transform_predict(data.X[n_train:], return_std=True)
        return (
            np.concatenate([head.latent, tail.latent]),
            np.concatenate([head.regressor, tail.regressor]),
            np.concatenate([model.train_variance_, tail.variance]),
        )
    every = model.transform_predict(data.X)
    if not uncertain:
        return every.latent, every.regressor, None
    variance = np.empty(n_rows)
    variance[train] = model.train_variance_
    others = np.setdiff1d(np.arange(n_rows), train)
    for rows in gen_batches(others.size, 4096):
        variance[others[rows]] = model.posterior_variance(data.X[others[rows]])
    return every.latent, every.regressor, variance


def _accuracy(y, data: _Scaled, predicted, ridge_predicted) -> dict:
    """Train and test scores of the map, the full model and the baseline."""
    splits = (("train", data.train), ("test", data.test))
    accuracy = {
        name: {
            split: scores(y[rows], values[rows], data.reference[rows])
            for split, rows in splits
        }
        for name, values in (("map", predicted), ("full_model", ridge_predicted))
    }
    if data.baseline is not None:
        accuracy["baseline"] = {
            split: scores(y[rows], data.reference[rows]) for split, rows in splits
        }
    return accuracy


def atom_elements(inputs) -> np.ndarray:
    """The element symbol of every row of a map of atoms."""
    numbers = np.concatenate([atoms.numbers for atoms in inputs.structures])
    return np.array(element_symbols(numbers))


def _element_accuracy(inputs, data, predicted) -> dict:
    """Test MAE, RMSE and R² of the map for the atoms of each element."""
    elements = atom_elements(inputs)[data.test]
    truth, values = inputs.y[data.test], predicted[data.test]
    return {
        element: {
            "atoms": int(np.sum(elements == element)),
            **scores(truth[elements == element], values[elements == element]),
        }
        for element in sorted(set(elements.tolist()))
    }


def element_symbols(numbers) -> list[str]:
    from ase.data import chemical_symbols

    return [chemical_symbols[int(z)] for z in numbers]


def _cross_validated(model, options) -> dict:
    """The R² of each held-out fold of the cross-validation, at the chosen
    values, through the map and of the full model: ``1 -`` the held-out loss
    ``‖Y_v − Ŷ_v‖² / ‖Y_v‖²`` (targets centred on the training set, after the
    baseline if any), their mean and spread. It stands beside the single test
    score, which on a small test set moves with the split."""
    results = model.cv_results_
    penalty = int(np.argmin(np.abs(np.log(results["alphas"] / model.best_penalty_))))
    mixing = int(np.argmin(np.abs(results["mixings"] - model.best_mixing_)))
    folds = {
        "map": 1.0 - np.asarray(results["loss_y_folds"])[:, mixing],
        "full_model": 1.0 - np.asarray(results["ridge_loss_folds"])[:, penalty],
    }
    return {
        "folds": CV_FOLDS,
        "after_baseline": options.baseline == Baseline.composition,
        **{
            name: {
                "r2_folds": values.tolist(),
                "r2": float(values.mean()),
                "r2_std": float(values.std()),
            }
            for name, values in folds.items()
        },
    }


def _summary(inputs, options, data, model, search, accuracy) -> dict:
    """What summary.json holds (the model's name is added by the caller), with
    the choices of the cross-validated ``model``."""
    kernel, sparse, baseline = options.kernel, options.sparse, data.baseline
    results = model.cv_results_
    cv = f"{CV_FOLDS}-fold cross-validation on the training set"
    from_structures = inputs.structures is not None
    return {
        "structures": len(inputs.y)
        if inputs.groups is None
        else len(inputs.structures),
        "per": "structure" if inputs.groups is None else "atom",
        "points": len(inputs.y),
        "target": options.target,
        "unit": options.target_unit,
        "n_train": int(data.train.size),
        "n_test": int(data.test.size),
        # rows that repeat others (kept with them on one side of every split)
        "repeated": 0
        if inputs.groups is not None or data.groups is None
        else int(len(data.groups) - np.unique(data.groups).size),
        "full_model": "ridge" if kernel == Kernel.linear else f"{kernel} kernel ridge",
        "kernel": kernel.value,
        "gamma": getattr(model, "best_gamma_", None),
        "gamma_chosen_by": _gamma_rule(kernel, search, sparse, data.train.size),
        "n_active": sparse,
        "n_components": options.components,
        "mixing": model.best_mixing_,
        "mixing_chosen_by": "given"
        if options.mixing is not None
        else f"{cv}: {MIXING_RULE}",
        "penalty": model.best_penalty_,
        "penalty_chosen_by": "given"
        if options.penalty is not None
        else f"{cv}: smallest held-out loss of the full model",
        "cross_validation": _cross_validated(model, options),
        "r2_train": accuracy["map"]["train"]["r2"],
        "r2_test": accuracy["map"]["test"]["r2"],
        "mae_test": accuracy["map"]["test"]["mae"],
        "accuracy": accuracy,
        "gamma_search": [
            {"gamma": float(g), "loss_cv": float(loss)}
            for g, loss in zip(results["gammas"], results["gamma_loss"], strict=True)
        ]
        if search
        else None,
        "sweep": {
            "mixing": results["mixings"].tolist(),
            "loss_x_cv": results["loss_x"].tolist(),
            "loss_y_cv": results["loss_y"].tolist(),
        },
        "input": "structures" if from_structures else "table",
        "aggregate": options.aggregate.value if from_structures else None,
        "baseline": options.baseline.value,
        "baseline_element_values": None
        if baseline is None
        else dict(
            zip(
                element_symbols(baseline.species_),
                map(float, baseline.element_values_),
                strict=True,
            )
        ),
        "soap": options.soap.as_dict() if from_structures else None,
        "n_features": int(data.X.shape[1]),
        "seed": options.seed,
        # features computed and kept on a dask cluster's workers (set by the
        # caller)
        "streamed": False,
        "files": MAP_FILES if inputs.groups is None else ATOM_MAP_FILES,
    }


def _gamma_rule(kernel, gamma_grid: bool, sparse, n_train: int) -> str | None:
    """How γ was chosen, in words."""
    if kernel == Kernel.linear:
        return None
    if not gamma_grid:
        return "given"
    rows = min(n_train, GAMMA_SEARCH_ROWS)
    return (
        f"{CV_FOLDS}-fold cross-validation on {rows} training structures: smallest "
        "held-out loss of the full model over factors of 2 (1/16 to 16) of 1 / the "
        "median squared distance between them"
    )


def _sketch_map(X: np.ndarray, components: int):
    """A sketch-map of the scaled features of every row (landmarks past
    :data:`SKETCH_LANDMARKS` rows)."""
    from propmap.decomposition import SketchMap

    landmarks = SKETCH_LANDMARKS if len(X) > SKETCH_LANDMARKS else None
    return SketchMap(n_components=components, n_landmarks=landmarks).fit(X)


def _sketch_summary(sketch) -> dict[str, Any]:
    return {
        "n_landmarks": sketch.n_landmarks,
        "stress": float(sketch.stress_),
        "parameters": {key: float(value) for key, value in sketch.params_.items()},
    }
