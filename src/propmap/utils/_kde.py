"""Small statistics of covariance matrices: effective dimension and the oracle
approximating shrinkage."""

from __future__ import annotations

import numpy as np

__all__ = ["effdim", "oas"]


def _square(cov, name: str = "cov") -> np.ndarray:
    matrix = np.asarray(cov, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ValueError(
            f"{name} must be a non-empty square matrix, got shape {matrix.shape}."
        )
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return matrix


def effdim(cov):
    r"""Effective dimension of a covariance matrix: the exponential of the
    Shannon entropy of its normalised eigenvalues,
    :math:`\exp(-\sum_i p_i \log p_i)`, :math:`p_i = \lambda_i / \sum_j \lambda_j`.

    Parameters
    ----------
    cov : array-like of shape (D, D)
        A symmetric positive semi-definite matrix.

    Returns
    -------
    dimension : float
        Between 1 (one direction) and D (isotropic).

    Raises
    ------
    numpy.linalg.LinAlgError
        If an eigenvalue is negative beyond rounding (D ε ‖cov‖).

    References
    ----------
    .. [1] O. Roy, M. Vetterli, "The effective rank: a measure of effective
       dimensionality", 15th European Signal Processing Conference (2007).

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.utils import effdim
    >>> cov = np.array([[25, 15, -5], [15, 18, 0], [-5, 0, 11]], dtype=np.float64)
    >>> round(effdim(cov), 3)
    2.214
    """
    matrix = _square(cov)
    values = np.linalg.eigvalsh(matrix)
    if values.min() <= -matrix.shape[0] * np.finfo(np.float64).eps * max(
        1.0, float(np.abs(values).max())
    ):
        raise np.linalg.LinAlgError(
            f"Matrix is not positive definite. Lowest eigenvalue {values.min()} is "
            "below rounding."
        )
    values = np.clip(values, 0.0, None)
    if values.sum() == 0:
        raise np.linalg.LinAlgError("The covariance matrix is zero.")
    shares = values / values.sum()
    shares = shares[shares > 0]
    return float(np.exp(-(shares * np.log(shares)).sum()))


def oas(cov, n, D):
    r"""Oracle approximating shrinkage (Chen et al. 2010) of a covariance matrix.

    For a covariance estimated from n samples in D dimensions, the shrunk
    matrix is
    :math:`(1 - \phi)\,\Sigma + \phi\, \tfrac{\mathrm{tr}\,\Sigma}{D} I`, with

    .. math::

        \phi = \frac{(1 - 2/D)\, \mathrm{tr}(\Sigma^2) + \mathrm{tr}^2\Sigma}
                    {(n + 1 - 2/D)\, \mathrm{tr}(\Sigma^2) - \mathrm{tr}^2\Sigma / D}

    (the formula and the elementwise :math:`\mathrm{tr}(\Sigma\circ\Sigma)` of
    scikit-matter, equal to :math:`\mathrm{tr}(\Sigma^2)` for symmetric Σ), with
    :math:`\phi` clipped to [0, 1] as Chen et al. define it: with few samples (n
    below about D) the raw :math:`\phi` exceeds one and scikit-matter's result is
    not positive definite; here it is the scaled identity.

    Parameters
    ----------
    cov : array-like of shape (D, D)
    n : float
        The (local) number of samples.
    D : int
        The dimension.

    Returns
    -------
    shrunk : ndarray of shape (D, D)

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.utils import oas
    >>> oas(np.array([[0.5, 1.0], [0.7, 0.4]]), 10, 2)
    array([[0.48903924, 0.78078484],
           [0.54654939, 0.41096076]])
    """
    matrix = _square(cov)
    if int(D) != D or matrix.shape[0] != D:
        raise ValueError(
            f"D must be the dimension of cov ({matrix.shape[0]}), got {D!r}."
        )
    if not np.isfinite(n) or n <= 0:
        raise ValueError(f"n must be a positive number of samples, got {n!r}.")
    trace = np.trace(matrix)
    trace_squares = np.trace(matrix**2)
    phi = ((1 - 2 / D) * trace_squares + trace**2) / (
        (n + 1 - 2 / D) * trace_squares - trace**2 / D
    )
    phi = float(np.clip(phi, 0.0, 1.0)) if np.isfinite(phi) else 1.0
    return (1 - phi) * matrix + phi * np.eye(int(D)) * trace / D
