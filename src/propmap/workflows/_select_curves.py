"""The error curves of a selection: the test error of a ridge model trained on
the first k picks (samples) or on the first k picked features, against k, in
memory or in one pass over a cluster's rows."""

from __future__ import annotations

import warnings

import numpy as np

from propmap.workflows._options import Axis, Method
from propmap.workflows._scores import rmse
from propmap.workflows._select_report import RANDOM_REPEATS

__all__ = ["held_out_error", "streamed_errors", "warn_if_worse_than_random"]

# fewer picked samples than this predict their mean: RidgeCV's leave-one-out
# choice of the penalty is degenerate on two rows (it flips with rounding)
_MIN_RIDGE_ROWS = 3


def _ridge():
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=np.logspace(-6, 3, 10))


def held_out_error(X, y, train, test, picked, axis: Axis, fixed=None) -> float:
    """Test RMSE of a ridge regression on the picked features (trained on the
    training samples) or trained on the picked training samples (all features),
    with the ``fixed`` rows (computed before) beside them."""
    model = _ridge()
    if axis == Axis.features:
        model.fit(X[np.ix_(train, picked)], y[train])
        prediction = model.predict(X[np.ix_(test, picked)])
    else:
        rows = train[picked] if fixed is None else np.r_[fixed, train[picked]]
        if rows.size < _MIN_RIDGE_ROWS:
            return float(rmse(y[test], np.full(test.size, y[rows].mean())))
        model.fit(X[rows], y[rows])
        prediction = model.predict(X[test])
    return float(rmse(y[test], prediction))


def streamed_errors(X, y, train, test, picks, orders, counts, axis) -> dict:
    """The error curves of :func:`_select` for a dask X: the picked columns (or
    rows) are read once, and the test predictions of every model come from one
    pass over the test rows."""
    largest = int(counts.max())
    chosen = [*(p[:largest] for p in picks.values()), *(o[:largest] for o in orders)]
    if axis == Axis.features:
        # every curve needs only the picked columns: read them once
        needed = np.unique(np.concatenate(chosen))
        compact = np.asarray(X[:, needed].compute())
        where = np.searchsorted(needed, np.arange(X.shape[1]))

        def error(picked):
            return held_out_error(compact, y, train, test, where[picked], axis)

    else:
        needed = np.unique(train[np.concatenate(chosen)])
        rows = np.asarray(X[needed].compute())
        models = []

        def error(picked):  # fit now; predict below, all models in one pass
            used = train[picked]
            if used.size < _MIN_RIDGE_ROWS:
                models.append(float(y[used].mean()))
            else:
                model = _ridge().fit(rows[np.searchsorted(needed, used)], y[used])
                models.append(model)
            return len(models) - 1

    curves = {
        name: np.array([error(p[:k]) for k in counts]) for name, p in picks.items()
    }
    curves["random"] = np.array([[error(o[:k]) for k in counts] for o in orders])
    if axis == Axis.features:
        return curves

    def predict(block):
        return np.column_stack(
            [
                np.full(len(block), model)
                if isinstance(model, float)
                else model.predict(block)
                for model in models
            ]
        )

    test_rows = X[np.sort(test)]
    predictions = test_rows.map_blocks(
        predict, chunks=(test_rows.chunks[0], (len(models),)), dtype=np.float64
    ).compute()
    truth = np.repeat(y[np.sort(test)][:, None], len(models), axis=1)
    errors = rmse(truth, predictions, multioutput="raw_values")
    return {name: errors[indices] for name, indices in curves.items()}


def warn_if_worse_than_random(method: Method, count: int, errors) -> None:
    """Say so when the method's picks predict worse than random ones (by more
    than the random orders' standard deviation)."""
    mine = float(errors[method.value][-1])
    randoms = errors["random"][:, -1]
    chance = float(np.mean(randoms))
    # beyond the random orders' own spread, not by the luck of a few picks
    if mine > chance + float(np.std(randoms)):
        warnings.warn(
            f"{method.value}'s {count} picks predict worse than random ones (test "
            f"RMSE {mine:.3g} against {chance:.3g}, the mean of {RANDOM_REPEATS} "
            "random orders): see the curve, and try another method.",
            UserWarning,
            stacklevel=4,
        )
