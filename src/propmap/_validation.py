"""Input checks shared by every estimator.

Parameter *values* are checked by each estimator's ``_parameter_constraints`` table;
this module checks what depends on the data: shapes, finiteness, and parameters whose
allowed range depends on the data (``n_components``).
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

from propmap.exceptions import UncenteredDataWarning

__all__ = [
    "check_n_components",
    "check_precomputed_weights",
    "column_means",
    "validate_features_targets",
    "warn_if_uncentered",
]

FLOAT_DTYPES = (np.float64, np.float32)


def validate_features_targets(
    estimator, X, Y, *, accept_sparse: bool = True
) -> tuple[np.ndarray | sp.sparray, np.ndarray, bool]:
    """Validate a training pair for a PCov-type estimator.

    Returns X (float64 or float32, kept as given; sparse matrices as CSR), Y as a 2-D
    float array of X's dtype, and whether Y was one-dimensional.
    """
    X, Y = validate_data(
        estimator,
        X,
        Y,
        accept_sparse="csr" if accept_sparse else False,
        dtype=list(FLOAT_DTYPES),
        multi_output=True,
        y_numeric=True,
        ensure_min_samples=2,
    )
    targets_1d = Y.ndim == 1
    Y = np.asarray(Y, dtype=X.dtype).reshape(X.shape[0], -1)
    return X, Y, targets_1d


def column_means(X) -> np.ndarray:
    """Column means of a dense or sparse matrix as a 1-D array."""
    if sp.issparse(X):
        return np.asarray(X.mean(axis=0)).ravel()
    return X.mean(axis=0)


def warn_if_uncentered(
    means: np.ndarray, tol: float, name: str = "X", stacklevel: int = 5
) -> None:
    """Warn when the largest column mean exceeds ``tol``.

    The default ``stacklevel`` points at the caller of a ``fit`` decorated with
    ``_fit_context`` that calls this through one helper.
    """
    largest = float(np.max(np.abs(means))) if means.size else 0.0
    if largest > tol:
        warnings.warn(
            f"{name} is not centred: its largest column mean is {largest:.3g}, above "
            f"tol={tol:g}. This estimator works on the data as given; centre it first "
            "(e.g. with propmap.preprocessing.StandardFlexibleScaler).",
            UncenteredDataWarning,
            stacklevel=stacklevel,
        )


def check_n_components(
    n_components: int | float | None,
    n_samples: int,
    n_features: int,
    solver: str,
) -> int | float:
    """Resolve ``n_components`` against the data shape.

    ``None`` keeps every component (one fewer with arpack, which cannot compute them
    all); a float in (0, 1) and ``"mle"`` are returned unchanged, to be resolved
    from the explained variance once the eigenvalues are known.
    """
    limit = min(n_samples, n_features)
    if n_components is None:
        return limit - 1 if solver == "arpack" else limit
    if isinstance(n_components, str):  # "mle", as PCA: Minka's choice of the rank
        if solver != "full":
            raise ValueError(
                f"n_components='mle' needs svd_solver='full' or 'auto', got "
                f"svd_solver={solver!r}."
            )
        if n_samples < n_features:
            raise ValueError(
                f"n_components='mle' needs at least as many samples as features, "
                f"got {n_samples} samples and {n_features} features."
            )
        return n_components
    if not isinstance(n_components, Integral):
        if solver != "full":
            raise ValueError(
                f"n_components={n_components!r} (a fraction of the variance) needs "
                f"svd_solver='full' or 'auto', got svd_solver={solver!r}."
            )
        return float(n_components)
    if n_components > limit:
        raise ValueError(
            f"n_components={n_components} must be between 1 and "
            f"min(n_samples, n_features)={limit} with svd_solver={solver!r}."
        )
    if solver == "arpack" and n_components == limit:
        raise ValueError(
            f"n_components={n_components} must be strictly less than "
            f"min(n_samples, n_features)={limit} with svd_solver='arpack'."
        )
    return int(n_components)


def check_precomputed_weights(W, parameter: str, value) -> None:
    """Weights ``W`` may be given to ``fit`` only with ``<parameter>="precomputed"``
    (``regressor`` for PCovR, ``classifier`` for PCovC)."""
    if W is not None and not (isinstance(value, str) and value == "precomputed"):
        raise ValueError(
            f"W can only be given with {parameter}='precomputed'; got "
            f"{parameter}={value!r}."
        )
