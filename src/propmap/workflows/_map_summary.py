"""What summary.json says of a map: its accuracies (also per element for a
map of atoms), the cross-validation's choices and folds, and the settings."""

from __future__ import annotations

from typing import Any

import numpy as np

from propmap.workflows._map_options import (
    ATOM_MAP_FILES,
    CV_FOLDS,
    GAMMA_SEARCH_ROWS,
    MAP_FILES,
    MIXING_RULE,
)
from propmap.workflows._map_split import ScaledRows
from propmap.workflows._options import Baseline, Kernel
from propmap.workflows._scores import scores

__all__ = [
    "accuracies",
    "atom_elements",
    "element_accuracies",
    "element_symbols",
    "map_summary",
    "sketch_summary",
]


def accuracies(y, data: ScaledRows, predicted, ridge_predicted) -> dict:
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


def element_accuracies(inputs, data, predicted) -> dict:
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


def cross_validated(model, options) -> dict:
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


def map_summary(inputs, options, data, model, search, accuracy) -> dict:
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
        "cross_validation": cross_validated(model, options),
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


def sketch_summary(sketch) -> dict[str, Any]:
    return {
        "n_landmarks": sketch.n_landmarks,
        "stress": float(sketch.stress_),
        "parameters": {key: float(value) for key, value in sketch.params_.items()},
    }
