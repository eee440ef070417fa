"""The map's numbers: after the split and scaling (:mod:`._map_split`), the
cross-validated estimator (:class:`~propmap.decomposition.PCovRCV` or
:class:`~propmap.decomposition.KernelPCovRCV`) refitted on the training rows,
the predictions and σ of every row, and the summary (:mod:`._map_summary`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import gen_batches

from propmap.exceptions import UncenteredDataWarning
from propmap.workflows._inputs import Inputs
from propmap.workflows._map_options import (
    CV_FOLDS,
    GAMMA_SEARCH_ROWS,
    LOSS_TOLERANCE,
    MAP_FILES,
    SKETCH_LANDMARKS,
    MapOptions,
)
from propmap.workflows._map_split import ScaledRows, split_and_scale
from propmap.workflows._map_streamed import latent_and_ridge
from propmap.workflows._map_summary import (
    accuracies,
    element_accuracies,
    map_summary,
    sketch_summary,
)
from propmap.workflows._options import Kernel, Layout
from propmap.workflows._pipeline import assemble
from propmap.workflows._scores import coverage
from propmap.workflows._steps import stage

__all__ = ["fit_and_evaluate"]


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


def fit_and_evaluate(
    inputs: Inputs, options: MapOptions, progress: bool, streamed: bool = False
):
    """Split, scale, cross-validate, fit and evaluate: the summary and what the
    outputs are drawn from."""
    stage("split, baseline and scaling", progress, key="split_and_scale")
    data = split_and_scale(inputs, options)
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
    accuracy = accuracies(inputs.y, data, predicted, ridge_predicted)
    if inputs.groups is not None:
        accuracy["per_element"] = element_accuracies(inputs, data, predicted)
    summary = map_summary(inputs, options, data, fitted.model, search, accuracy)
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
    summary["sketch_map"] = None if embedding is None else sketch_summary(embedding)
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


def _spread(fitted: _Fitted, data: ScaledRows) -> tuple[np.ndarray, np.ndarray]:
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


def _uncertainty(y, data: ScaledRows, fitted: _Fitted, predictions, spread) -> dict:
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
        # centred inside: see split_and_scale
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
    data: ScaledRows, options: MapOptions, streamed: bool, progress: bool = False
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


def _predictions(model, data: ScaledRows, train: np.ndarray, uncertain: bool):
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


def _sketch_map(X: np.ndarray, components: int):
    """A sketch-map of the scaled features of every row (landmarks past
    :data:`SKETCH_LANDMARKS` rows)."""
    from propmap.decomposition import SketchMap

    landmarks = SKETCH_LANDMARKS if len(X) > SKETCH_LANDMARKS else None
    return SketchMap(n_components=components, n_landmarks=landmarks).fit(X)
