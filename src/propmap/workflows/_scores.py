"""The accuracy numbers every workflow reports, from :mod:`sklearn.metrics`."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

__all__ = ["r2", "rmse", "scores"]


def r2(truth, predicted) -> float:
    """R² of ``predicted``; NaN when the truth is constant (nothing to explain)."""
    truth = np.asarray(truth, dtype=np.float64)
    if truth.size < 2 or np.ptp(truth) == 0:
        return float("nan")
    return float(r2_score(truth, predicted))


def rmse(truth, predicted, multioutput="uniform_average"):
    """Root mean squared error (per column with ``multioutput="raw_values"``)."""
    return root_mean_squared_error(truth, predicted, multioutput=multioutput)


def scores(truth, predicted, baseline=None) -> dict[str, float]:
    """MAE, RMSE and R²; with a baseline also the R² of what it leaves
    (``r2_after_baseline``: the R² of a total energy is 1.000 for any sensible
    model, that of the energy less a composition fit is not)."""
    truth = np.asarray(truth, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    result = {
        "mae": float(mean_absolute_error(truth, predicted)),
        "rmse": float(rmse(truth, predicted)),
        "r2": r2(truth, predicted),
    }
    if baseline is not None and np.any(baseline != 0):
        result["r2_after_baseline"] = r2(truth - baseline, predicted - baseline)
    return result
