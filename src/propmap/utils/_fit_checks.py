"""Take a user's (possibly fitted) regressor or classifier: a deep copy of it if
fitted and compatible with the data, else a clone fitted on the data. The PCov
estimators use these for their ``regressor`` / ``classifier`` parameters."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

__all__ = ["check_cl_fit", "check_krr_fit", "check_lr_fit"]


def _fitted_copy(estimator):
    """A deep copy of a fitted estimator, or None if it is not fitted."""
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return None
    return deepcopy(estimator)


def _check_width(estimator, n_features: int, what: str) -> None:
    fitted = getattr(estimator, "n_features_in_", n_features)
    if fitted != n_features:
        raise ValueError(
            f"The fitted {what} expects {fitted} features but X has {n_features}."
        )


def _linear_fit(estimator, X, y, what: str, kind: str, examples: str):
    """A deep copy of a fitted linear ``estimator`` (checked for X's width) or a
    clone fitted on X and y; either must expose ``coef_`` (else: "``what`` must be
    ``kind`` that exposes coef_ ...")."""
    fitted = _fitted_copy(estimator)
    if fitted is None:
        fitted = clone(estimator).fit(X, y)
    else:
        _check_width(fitted, X.shape[1], what)
    if not hasattr(fitted, "coef_"):
        raise ValueError(
            f"{what} must be {kind} that exposes coef_ once fitted (e.g. {examples}); "
            f"got {type(fitted).__name__}."
        )
    return fitted


def check_lr_fit(regressor, X, y):
    """A fitted copy of a linear regressor for X and y.

    Parameters
    ----------
    regressor : estimator with ``fit`` and, once fitted, ``coef_``
        Fitted (then deep-copied and checked against X and y) or not (then a clone
        is fitted on X and y). The one passed is never changed.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)

    Returns
    -------
    fitted_regressor : estimator

    Raises
    ------
    ValueError
        If a fitted regressor has another number of features or targets, or no
        ``coef_``.
    """
    y = np.asarray(y)  # X may be sparse: only its shape is read
    fitted = _linear_fit(
        regressor,
        X,
        y,
        "regressor",
        "a linear model",
        "Ridge, RidgeCV, LinearRegression, Lasso",
    )
    n_targets = 1 if y.ndim == 1 else y.shape[1]
    coefficients = np.asarray(fitted.coef_)
    if coefficients.size != X.shape[1] * n_targets:
        raise ValueError(
            f"The regressor's coef_ has shape {coefficients.shape}, which does not "
            f"match {X.shape[1]} features and {n_targets} targets."
        )
    return fitted


def check_krr_fit(regressor, K, X, y):
    """A fitted copy of a kernel ridge regressor for the kernel K and y.

    Parameters
    ----------
    regressor : estimator with ``fit`` and, once fitted, ``dual_coef_``
        Fitted (then deep-copied and checked: its dual coefficients must match y's
        shape, so it was fitted on the same training points) or not (then a clone
        with ``kernel="precomputed"`` is fitted on K, not recomputing it).
    K : array-like of shape (n_samples, n_samples)
        The training kernel.
    X : array-like of shape (n_samples, n_features)
        The training points (checked against a fitted regressor's width).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)

    Returns
    -------
    fitted_regressor : estimator
    """
    y = np.asarray(y)
    fitted = _fitted_copy(regressor)
    if fitted is None:
        fitted = clone(regressor)
        fitted.set_params(kernel="precomputed")
        return fitted.fit(K, y)
    _check_width(fitted, X.shape[1], "regressor")
    weights = np.asarray(getattr(fitted, "dual_coef_", None))
    if weights.ndim == 0:
        raise ValueError(
            "regressor must be a kernel model that exposes dual_coef_ once fitted "
            f"(e.g. KernelRidge); got {type(fitted).__name__}."
        )
    expected = (y.shape[0], 1 if y.ndim == 1 else y.shape[1])
    if weights.reshape(weights.shape[0], -1).shape != expected:
        raise ValueError(
            f"The fitted regressor's dual coefficients have shape {weights.shape}, "
            f"but y has shape {y.shape}: it must be fitted on the same training "
            "points and targets."
        )
    return fitted


def check_cl_fit(classifier, X, y):
    """A fitted copy of a linear classifier for X and the labels y.

    Parameters
    ----------
    classifier : estimator with ``fit`` and, once fitted, ``coef_``
        Fitted (then deep-copied and checked: one row of ``coef_`` for two classes,
        one per class otherwise, each as wide as X) or not (then a clone is fitted).
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)

    Returns
    -------
    fitted_classifier : estimator
    """
    y = np.asarray(y)  # X may be sparse: only its shape is read
    fitted = _linear_fit(
        classifier,
        X,
        y,
        "classifier",
        "a linear classifier",
        "LogisticRegression, RidgeClassifier, LinearSVC, SGDClassifier, Perceptron",
    )
    weights = np.atleast_2d(np.asarray(fitted.coef_))
    n_classes = np.unique(y).size
    rows = 1 if n_classes == 2 else n_classes
    if weights.shape != (rows, X.shape[1]):
        raise ValueError(
            f"The classifier's coef_ has shape {weights.shape}, expected "
            f"({rows}, {X.shape[1]}) for {n_classes} classes and {X.shape[1]} "
            "features."
        )
    return fitted
