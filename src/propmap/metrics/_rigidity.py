r"""Prediction rigidities of a (kernel) ridge model (Chong et al. 2023).

For a ridge model trained on per-structure mean features :math:`\bar X` with
regulariser λ, the rigidity of a prediction :math:`x w` is the inverse of its
variance factor, :math:`1 / (x (\bar X^T\bar X + \lambda I)^{-1} x^T)`: large where
the training set pins the prediction down, small where it does not.
"""

from __future__ import annotations

import itertools
from numbers import Real

import numpy as np

__all__ = ["componentwise_prediction_rigidity", "local_prediction_rigidity"]


def _structures(blocks, name: str, width: int | None = None) -> list[np.ndarray]:
    if isinstance(blocks, np.ndarray) and blocks.ndim == 2:
        raise ValueError(
            f"{name} must be a list of arrays, one (n_atoms, n_features) array per "
            "structure, not one 2-D array."
        )
    try:
        arrays = [np.asarray(block, dtype=np.float64) for block in blocks]
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a list of numeric 2-D arrays.") from error
    if not arrays:
        raise ValueError(f"{name} holds no structures.")
    for index, array in enumerate(arrays):
        if array.ndim != 2 or array.shape[0] == 0:
            raise ValueError(
                f"{name}[{index}] must be a non-empty (n_atoms, n_features) array, "
                f"got shape {array.shape}."
            )
        if width is None:
            width = array.shape[1]
        if array.shape[1] != width:
            raise ValueError(
                f"{name}[{index}] has {array.shape[1]} features, expected {width}."
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name}[{index}] contains NaN or infinity.")
    return arrays


class _Covariance:
    """``(X̄ᵀX̄ + λI)⁺`` of the scaled per-structure means, by its eigenpairs."""

    def __init__(self, train: list[np.ndarray], alpha) -> None:
        if not isinstance(alpha, Real) or isinstance(alpha, bool):
            raise ValueError(f"alpha must be a real number, got {alpha!r}.")
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be finite and >= 0, got {alpha!r}.")
        atoms = np.vstack(train)
        # one global scale: the root mean square norm of the training environments
        self.scale = float(np.sqrt((atoms**2).mean(axis=0).sum()))
        if self.scale == 0:
            raise ValueError("X_train is all zeros: no rigidity can be defined.")
        means = np.vstack([block.mean(axis=0) for block in train]) / self.scale
        values, self.vectors = np.linalg.eigh(
            means.T @ means + alpha * np.eye(means.shape[1])
        )
        largest = float(np.abs(values).max(initial=0.0))
        # numpy's matrix_rank and pinv cut-offs
        self.rank_diff = int(
            values.size
            - np.count_nonzero(
                np.abs(values) > largest * values.size * np.finfo(float).eps
            )
        )
        kept = np.abs(values) > 1e-15 * largest
        self.inverse = np.where(kept, 1.0 / np.where(kept, values, 1.0), 0.0)

    def rigidity(self, rows: np.ndarray) -> np.ndarray:
        """``1 / (x C⁺ xᵀ)`` for each (unscaled) row x; inf for a zero form."""
        coordinates = (rows / self.scale) @ self.vectors
        forms = (coordinates**2) @ self.inverse
        with np.errstate(divide="ignore"):
            return 1.0 / forms


def _split(values: np.ndarray, blocks: list[np.ndarray]) -> list[np.ndarray]:
    bounds = np.cumsum([0] + [block.shape[0] for block in blocks])
    return [values[start:stop] for start, stop in itertools.pairwise(bounds)]


def local_prediction_rigidity(X_train, X_test, alpha):
    r"""Local prediction rigidity (LPR) of every environment of the test structures.

    .. math::

        \mathrm{LPR}_i = \frac{1}{x_i (\bar X^T \bar X + \lambda I)^{-1} x_i^T}

    with :math:`\bar X` the training structures' mean feature vectors, as for a
    ridge model trained on per-atom averaged targets, and every feature vector
    divided by the training environments' root mean square norm (so LPRs of
    different models compare; they lie roughly in [0, 1]). A pseudo-inverse is used
    where λ = 0 leaves the matrix singular. For a kernel model, pass kernel rows in
    place of features with that model's regulariser.

    Parameters
    ----------
    X_train : list of ndarray of shape (n_atoms, n_features)
        One array of environments per training structure.
    X_test : list of ndarray of shape (n_atoms, n_features)
        One array per test structure.
    alpha : float
        The model's regulariser λ (>= 0).

    Returns
    -------
    LPR : list of ndarray of shape (n_atoms,)
        One array per test structure.
    rank_diff : int
        ``n_features`` minus the rank of :math:`\bar X^T \bar X + \lambda I`.

    References
    ----------
    .. [1] S. Chong, F. Grasselli, C. Ben Mahmoud, J. D. Morrow, V. L. Deringer,
       M. Ceriotti, "Robustness of local predictions in atomistic machine learning
       models", J. Chem. Theory Comput. 19, 8020 (2023).

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.metrics import local_prediction_rigidity
    >>> rng = np.random.default_rng(0)
    >>> train = [rng.standard_normal((5, 3)) for _ in range(40)]
    >>> LPR, rank_diff = local_prediction_rigidity(train, train[:2], alpha=1e-3)
    >>> [values.shape for values in LPR], rank_diff
    ([(5,), (5,)], 0)
    """
    train = _structures(X_train, "X_train")
    test = _structures(X_test, "X_test", train[0].shape[1])
    covariance = _Covariance(train, alpha)
    values = covariance.rigidity(np.vstack(test))
    return _split(values, test), covariance.rank_diff


def componentwise_prediction_rigidity(X_train, X_test, alpha, comp_dims):
    r"""Component-wise prediction rigidities (CPR) of the test structures and their
    local version (LCPR) for each environment.

    The features are the concatenation of one block per prediction component c
    (``comp_dims`` wide each); with :math:`x_{|c}` a vector with every other block
    zeroed,

    .. math::

        \mathrm{CPR}_{A,c} = \frac{1}{\bar x_{A|c} (\bar X^T \bar X + \lambda I)^{-1}
        \bar x_{A|c}^T}, \qquad
        \mathrm{LCPR}_{i,c} = \frac{1}{x_{i|c} (\bar X^T \bar X + \lambda I)^{-1}
        x_{i|c}^T},

    for test structure A (its mean feature vector) and environment i, scaled as in
    :func:`local_prediction_rigidity`.

    Parameters
    ----------
    X_train, X_test : list of ndarray of shape (n_atoms, n_features)
        One array per structure.
    alpha : float
        The model's regulariser λ (>= 0).
    comp_dims : array-like of int
        The widths of the components' blocks, in order; they sum to n_features.

    Returns
    -------
    CPR : ndarray of shape (n_test_structures, n_components)
    LCPR : list of ndarray of shape (n_atoms, n_components)
        One array per test structure.
    rank_diff : int
        As in :func:`local_prediction_rigidity`.

    References
    ----------
    .. [1] S. Chong et al., J. Chem. Theory Comput. 19, 8020 (2023).
    """
    train = _structures(X_train, "X_train")
    width = train[0].shape[1]
    test = _structures(X_test, "X_test", width)
    dims = np.asarray(comp_dims)
    if (
        dims.ndim != 1
        or dims.size == 0
        or not np.issubdtype(dims.dtype, np.integer)
        or np.any(dims <= 0)
        or dims.sum() != width
    ):
        raise ValueError(
            f"comp_dims must be positive integers summing to the {width} features, "
            f"got {comp_dims!r}."
        )
    covariance = _Covariance(train, alpha)
    atoms = np.vstack(test)
    means = np.vstack([block.mean(axis=0) for block in test])
    bounds = np.cumsum([0, *dims.tolist()])
    cpr = np.empty((len(test), dims.size))
    lcpr = np.empty((atoms.shape[0], dims.size))
    for c, (start, stop) in enumerate(itertools.pairwise(bounds)):
        mask = np.zeros(width)
        mask[start:stop] = 1.0
        lcpr[:, c] = covariance.rigidity(atoms * mask)
        cpr[:, c] = covariance.rigidity(means * mask)
    return cpr, _split(lcpr, test), covariance.rank_diff
