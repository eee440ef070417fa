r"""Orthogonalisers: remove from a matrix what a set of columns (or a regression)
explains, as CUR does after each pick."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["X_orthogonalizer", "Y_feature_orthogonalizer", "Y_sample_orthogonalizer"]


def _matrix(A, name: str) -> np.ndarray:
    A = np.asarray(A)
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 1-D or 2-D array, got shape {A.shape}.")
    if not np.issubdtype(A.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {A.dtype}.")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return A


def _basis(columns: np.ndarray, tol: float) -> np.ndarray:
    """An orthonormal basis of the span of ``columns`` (directions with singular
    values at or below ``tol`` times the largest are dropped)."""
    left, singular, _ = np.linalg.svd(columns.astype(np.float64), full_matrices=False)
    if singular.size == 0 or singular[0] <= tol:
        return left[:, :0]
    return left[:, singular > tol * singular[0]]


def X_orthogonalizer(x1, c=None, x2=None, tol=1e-12, copy=False):
    r"""Remove from every column of ``x1`` its projection on column ``c`` of
    ``x1``, or on the span of the columns of ``x2``.

    .. math::

        X \leftarrow (I - QQ^T) X

    with Q an orthonormal basis of the span (for several columns of ``x2`` the
    projection is on their span, so the result is orthogonal to each of them;
    scikit-matter projects them out one after another, which is not, unless they
    are orthogonal). To orthogonalise samples, pass transposes:
    ``X_orthogonalizer(X.T, row).T``.

    Parameters
    ----------
    x1 : ndarray of shape (n, m)
        The matrix to orthogonalise.
    c : int, default=None
        A column of ``x1`` to orthogonalise by (when ``x2`` is None).
    x2 : array-like of shape (n,) or (n, a), default=None
        Columns to orthogonalise by.
    tol : float, default=1e-12
        Columns (directions) of norm at or below ``tol`` (relative to the largest
        for several) are ignored; a zero column warns, as in scikit-matter.
    copy : bool, default=False
        Work on a copy; otherwise a float array ``x1`` is changed in place (and
        returned).

    Returns
    -------
    x1 : ndarray of shape (n, m)
    """
    matrix = _matrix(x1, "x1")
    if x2 is None:
        if c is None:
            raise ValueError("Give c (a column of x1) or x2 (columns).")
        if not -matrix.shape[1] <= int(c) < matrix.shape[1]:
            raise ValueError(f"c={c} is not a column of x1 ({matrix.shape[1]}).")
        columns = matrix[:, [int(c)]]
    else:
        columns = _matrix(x2, "x2")
        if columns.shape[0] != matrix.shape[0]:
            raise ValueError(
                "You can only orthogonalize a matrix using a vector with the same "
                f"number of rows. Matrix X has {matrix.shape[0]} rows, whereas the "
                f"orthogonalizing matrix has {columns.shape[0]} rows."
            )
    norms = np.linalg.norm(columns, axis=0)
    if np.any(norms < tol):
        warnings.warn("Column vector contains only zeros.", stacklevel=2)
    columns = columns[:, norms >= tol]
    inplace = (
        not copy
        and isinstance(x1, np.ndarray)
        and x1.ndim == 2
        and np.issubdtype(x1.dtype, np.floating)
    )
    result = x1 if inplace else matrix.astype(np.float64)
    if columns.shape[1]:
        basis = _basis(columns, tol if columns.shape[1] > 1 else 0.0)
        result -= (basis @ (basis.T @ result)).astype(result.dtype)
    return result


def Y_feature_orthogonalizer(y, X, tol=1e-12, copy=True):
    r"""Remove from the targets what the selected features explain.

    .. math::

        Y \leftarrow Y - X (X^TX)^{+} X^T Y

    computed from the SVD of X (directions whose eigenvalue of XᵀX is at or below
    ``tol`` times the largest are dropped, as ``pinv(XᵀX, rcond=tol)``), without
    forming XᵀX.

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_properties)
    X : ndarray of shape (n_samples, n_features)
        The selected features.
    tol : float, default=1e-12
    copy : bool, default=True
        Return a new array; otherwise a float ``y`` is changed in place.

    Returns
    -------
    y : ndarray of y's shape
    """
    targets = _matrix(y, "y")
    features = _matrix(X, "X")
    if features.shape[0] != targets.shape[0]:
        raise ValueError(
            f"y and X must have the same number of rows: {targets.shape[0]} and "
            f"{features.shape[0]}."
        )
    left, singular, _ = np.linalg.svd(features.astype(np.float64), full_matrices=False)
    kept = singular**2 > tol * (singular[0] ** 2 if singular.size else 0.0)
    basis = left[:, kept]
    explained = (basis @ (basis.T @ targets)).reshape(np.shape(y))
    return _subtract(y, explained, copy)


def Y_sample_orthogonalizer(y, X, y_ref, X_ref, tol=1e-12, copy=True):
    r"""Remove from the targets what a regression on reference samples predicts.

    .. math::

        Y \leftarrow Y - X\, \mathrm{lstsq}(X_r, Y_r)

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_properties)
    X : ndarray of shape (n_samples, n_features)
    y_ref : ndarray of shape (n_ref,) or (n_ref, n_properties)
        The reference (selected) samples' targets.
    X_ref : ndarray of shape (n_ref, n_features)
        Their features.
    tol : float, default=1e-12
        ``rcond`` of the least squares.
    copy : bool, default=True
        Return a new array; otherwise a float ``y`` is changed in place.

    Returns
    -------
    y : ndarray of y's shape
    """
    targets, features = _matrix(y, "y"), _matrix(X, "X")
    reference_targets, reference = _matrix(y_ref, "y_ref"), _matrix(X_ref, "X_ref")
    if features.shape[0] != targets.shape[0]:
        raise ValueError(
            f"y and X must have the same number of rows: {targets.shape[0]} and "
            f"{features.shape[0]}."
        )
    if reference.shape[0] != reference_targets.shape[0]:
        raise ValueError(
            f"y_ref and X_ref must have the same number of rows: "
            f"{reference_targets.shape[0]} and {reference.shape[0]}."
        )
    if reference.shape[1] != features.shape[1]:
        raise ValueError(
            f"X_ref has {reference.shape[1]} features, X {features.shape[1]}."
        )
    weights = np.linalg.lstsq(reference, reference_targets, rcond=tol)[0]
    return _subtract(y, (features @ weights).reshape(np.shape(y)), copy)


def _subtract(y, explained: np.ndarray, copy: bool) -> np.ndarray:
    if not copy and isinstance(y, np.ndarray) and np.issubdtype(y.dtype, np.floating):
        y -= explained
        return y
    return np.asarray(y, dtype=np.float64) - explained
