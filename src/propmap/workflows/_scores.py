"""The accuracy numbers every workflow reports, from :mod:`sklearn.metrics`."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

__all__ = ["coverage", "r2", "rmse", "scores"]


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


def coverage(truth, predicted, std) -> dict:
    """How well standard deviations ``std`` cover the errors: the shares within
    1σ and 2σ (a normal distribution's: 0.683 and 0.954) and the Spearman rank
    correlation of |error| and σ (None for fewer than 3 points or a constant)."""
    from scipy.stats import spearmanr

    error = np.abs(np.asarray(truth, np.float64) - np.asarray(predicted, np.float64))
    std = np.asarray(std, dtype=np.float64)
    z = error / std
    rank = np.nan
    if error.size > 2 and np.ptp(std) > 0 and np.ptp(error) > 0:
        rank = spearmanr(error, std).statistic
    return {
        "coverage_1sigma": float(np.mean(z <= 1)),
        "coverage_2sigma": float(np.mean(z <= 2)),
        "spearman_abs_error_sigma": None if np.isnan(rank) else float(rank),
    }
