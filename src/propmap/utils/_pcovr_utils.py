"""The PCovR modified covariance and kernel, shared by the estimators and exposed
for users who want to inspect them."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils.extmath import safe_sparse_dot

from propmap._linalg import PsdRoots, truncated_eigh

__all__ = ["pcovr_covariance", "pcovr_kernel"]


def gram_matrix(X) -> np.ndarray:
    """``XᵀX`` as a dense float64 array, for dense or sparse X (one pass over X)."""
    if sp.issparse(X):
        return np.asarray((X.T @ X).toarray(), dtype=np.float64)
    return np.asarray(X.T @ X, dtype=np.float64)


def cross_products(X, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``XᵀY`` and the column sums of X from one pass over X (as ``Xᵀ[Y | 1]``)."""
    n_samples, n_targets = targets.shape
    extended = np.empty((n_samples, n_targets + 1), dtype=X.dtype)
    extended[:, :n_targets] = targets
    extended[:, n_targets] = 1.0
    product = np.asarray(safe_sparse_dot(X.T, extended), dtype=np.float64)
    return product[:, :n_targets], product[:, n_targets]


def modified_covariance_from_gram(
    gram: np.ndarray,
    roots: PsdRoots,
    xt_targets_hat: np.ndarray,
    mixing: float,
) -> np.ndarray:
    r"""``C~ = α C + (1 − α) C^{-1/2} XᵀŶ ŶᵀX C^{-1/2}`` from ``C`` and ``XᵀŶ``.

    Needs no pass over X: ``C`` and ``XᵀŶ`` (= ``C W`` for a linear model without
    intercept) are all it reads.
    """
    whitened = roots.inverse_sqrt_dot(xt_targets_hat)
    modified = mixing * gram
    modified += (1.0 - mixing) * (whitened @ whitened.T)
    return modified


def modified_kernel(kernel: np.ndarray, targets_hat: np.ndarray, mixing: float):
    r"""``K~ = α K + (1 − α) Ŷ Ŷᵀ``."""
    modified = mixing * kernel
    modified += (1.0 - mixing) * (targets_hat @ targets_hat.T)
    return modified


def pcovr_covariance(
    mixing: float,
    X,
    Y,
    rcond: float = 1e-12,
    return_isqrt: bool = False,
    rank: int | None = None,
    random_state: int | np.random.RandomState | None = 0,
    iterated_power: int | str = "auto",
):
    r"""The PCovR modified covariance.

    .. math::

        \tilde{C} = \alpha X^T X + (1 - \alpha) (X^T X)^{-1/2} X^T Y Y^T X
        (X^T X)^{-1/2}

    Parameters
    ----------
    mixing : float
        The mixing parameter α in [0, 1].
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Features.
    Y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Targets (usually the regression's approximation Ŷ).
    rcond : float, default=1e-12
        Eigenvalues of ``XᵀX`` at or below this are treated as zero.
    return_isqrt : bool, default=False
        Also return ``(XᵀX)^{-1/2}``.
    rank : int, default=None
        Number of eigenpairs of ``XᵀX`` used for the inverse square root; all of
        them by default, otherwise estimated with the randomized solver.
    random_state : int, RandomState instance or None, default=0
        Seed of the randomized solver (only used with ``rank``).
    iterated_power : int or "auto", default="auto"
        Power iterations of the randomized solver (only used with ``rank``).

    Returns
    -------
    covariance : ndarray of shape (n_features, n_features)
    inverse_sqrt : ndarray of shape (n_features, n_features)
        Only when ``return_isqrt=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.utils import pcovr_covariance
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -2.0]])
    >>> Y = np.array([1.0, 2.0, -3.0])
    >>> pcovr_covariance(1.0, X, Y)
    array([[2., 2.],
           [2., 8.]])
    """
    gram = gram_matrix(X)
    targets = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    if rank is None or rank >= min(X.shape):
        roots = PsdRoots.of(gram, rcond)
    else:
        values, vectors = truncated_eigh(
            gram,
            rank,
            solver="randomized",
            random_state=random_state,
            iterated_power=iterated_power,
        )
        roots = PsdRoots(values, vectors, rcond)
    xt_targets = np.asarray(safe_sparse_dot(X.T, targets), dtype=np.float64)
    covariance = modified_covariance_from_gram(gram, roots, xt_targets, mixing)
    if return_isqrt:
        return covariance, roots.inverse_sqrt()
    return covariance


def pcovr_kernel(mixing: float, X, Y, **kernel_params: Any) -> np.ndarray:
    r"""The PCovR modified kernel ``K~ = α K + (1 − α) Y Yᵀ``.

    Parameters
    ----------
    mixing : float
        The mixing parameter α in [0, 1].
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Features, or the kernel itself when ``kernel="precomputed"``.
    Y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Targets (usually the regression's approximation Ŷ).
    **kernel_params
        Passed to :func:`sklearn.metrics.pairwise.pairwise_kernels`; without a
        ``kernel`` entry the kernel is linear, ``K = XXᵀ``.

    Returns
    -------
    kernel : ndarray of shape (n_samples, n_samples)

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.utils import pcovr_kernel
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> pcovr_kernel(0.5, X, np.array([1.0, -1.0]))
    array([[ 1. , -0.5],
           [-0.5,  1. ]])
    """
    targets = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    kernel_name = kernel_params.pop("kernel", "linear")
    if kernel_name == "precomputed":
        kernel = np.asarray(X, dtype=np.float64)
    elif kernel_name == "linear" and not kernel_params:
        kernel = safe_sparse_dot(X, X.T, dense_output=True)
    else:
        kernel = pairwise_kernels(X, metric=kernel_name, **kernel_params)
    return modified_kernel(np.asarray(kernel, dtype=np.float64), targets, mixing)
