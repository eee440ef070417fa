r"""Pairwise distances with periodic boundary conditions: Euclidean and
Mahalanobis."""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import check_pairwise_arrays, euclidean_distances

__all__ = ["pairwise_mahalanobis_distances", "periodic_pairwise_euclidean_distances"]

# entries of the (rows x n_Y x d) difference block made at once
_BLOCK = 2**22


def _cell(cell_length, X: np.ndarray) -> np.ndarray | None:
    if cell_length is None:
        return None
    cell = np.asarray(cell_length, dtype=np.float64).ravel()
    if cell.size != X.shape[1]:
        raise ValueError(
            f"Cell dimension does not match the data dimension: {cell.size} side "
            f"lengths for {X.shape[1]} components."
        )
    if not np.all(np.isfinite(cell)) or np.any(cell <= 0):
        raise ValueError(
            f"cell_length must be positive and finite, got {cell_length!r}."
        )
    return cell


def _differences(X: np.ndarray, Y: np.ndarray, cell: np.ndarray | None):
    """Blocks ``(rows, x_i − y_j)`` (minimum image in a rectangular cell)."""
    step = max(1, _BLOCK // max(1, Y.shape[0] * X.shape[1]))
    for start in range(0, X.shape[0], step):
        rows = slice(start, min(start + step, X.shape[0]))
        difference = X[rows, None, :] - Y[None, :, :]
        if cell is not None:
            difference -= np.round(difference / cell) * cell
        yield rows, difference


def periodic_pairwise_euclidean_distances(
    X, Y=None, *, squared=False, cell_length=None
):
    r"""Euclidean distances between the rows of X and Y, with periodic boundary
    conditions in a rectangular cell.

    .. math::

        d_{ij} = \lVert x_i - y_j - L \,\mathrm{round}((x_i - y_j) / L) \rVert

    (the minimum image; L the cell's side lengths). Without a cell this is
    :func:`sklearn.metrics.pairwise.euclidean_distances`.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_components)
    Y : array-like of shape (n_samples_Y, n_components), default=None
        None means X.
    squared : bool, default=False
        Return squared distances.
    cell_length : array-like of shape (n_components,), default=None
        The cell's side lengths; None: no periodicity.

    Returns
    -------
    distances : ndarray of shape (n_samples_X, n_samples_Y)

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.metrics import periodic_pairwise_euclidean_distances
    >>> X, origin = np.array([[0, 1], [1, 1]]), np.zeros((1, 2))
    >>> periodic_pairwise_euclidean_distances(X, origin, cell_length=[0.5, 0.7])
    array([[0.3],
           [0.3]])
    """
    X, Y = check_pairwise_arrays(X, Y)
    cell = _cell(cell_length, X)
    if cell is None:
        return euclidean_distances(X, Y, squared=squared)
    distances = np.empty((X.shape[0], Y.shape[0]))
    for rows, difference in _differences(X, Y, cell):
        distances[rows] = np.einsum("ijk,ijk->ij", difference, difference)
    return distances if squared else np.sqrt(distances, out=distances)


def pairwise_mahalanobis_distances(X, Y, cov_inv, cell_length=None, squared=False):
    r"""Mahalanobis distances between the rows of X and Y, for one or several
    inverse covariance matrices, optionally with periodic boundary conditions.

    .. math::

        d_\Sigma(x, y)^2 = (x - y)^T \Sigma^{-1} (x - y)

    (x − y the minimum image in a rectangular cell if one is given).

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_components)
    Y : array-like of shape (n_samples_Y, n_components)
    cov_inv : array-like of shape (n_components, n_components) or \
            (n_covariances, n_components, n_components)
        Inverse covariance matrices.
    cell_length : array-like of shape (n_components,), default=None
        The cell's side lengths; None: no periodicity.
    squared : bool, default=False
        Return squared distances.

    Returns
    -------
    distances : ndarray of shape (n_covariances, n_samples_X, n_samples_Y)

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.metrics import pairwise_mahalanobis_distances
    >>> inverse = np.array([[1, 0.5, 0.5], [0.5, 1, 0.5], [0.5, 0.5, 1]])
    >>> X = np.array([[1, 0, 0], [0, 2, 0], [2, 0, 0]])
    >>> pairwise_mahalanobis_distances(X, np.array([[0, 1, 0]]), inverse)
    array([[[1.        ],
            [1.        ],
            [1.73205081]]])
    """
    X, Y = check_pairwise_arrays(X, Y)
    cell = _cell(cell_length, X)
    inverse = np.asarray(cov_inv, dtype=np.float64)
    if inverse.ndim == 2:
        inverse = inverse[None]
    d = X.shape[1]
    if inverse.ndim != 3 or inverse.shape[1:] != (d, d):
        raise ValueError(
            f"cov_inv must be ({d}, {d}) or (n, {d}, {d}) for {d} components, got "
            f"shape {np.shape(cov_inv)}."
        )
    if not np.all(np.isfinite(inverse)):
        raise ValueError("cov_inv contains NaN or infinity.")
    distances = np.empty((inverse.shape[0], X.shape[0], Y.shape[0]))
    for rows, difference in _differences(X, Y, cell):
        mapped = np.einsum("cab,ijb->cija", inverse, difference)
        distances[:, rows] = np.einsum("cija,ija->cij", mapped, difference)
    if squared:
        return distances
    return np.sqrt(np.clip(distances, 0.0, None), out=distances)
