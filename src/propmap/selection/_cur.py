r"""CUR and PCov-CUR selection on Gram matrices.

CUR scores candidate j by :math:`\pi_j = \sum_{l \le k} v_{jl}^2` over the top-k
singular vectors of the residual :math:`X'` (right vectors for features, left for
samples), picks the best, and removes the picked direction from :math:`X'`. After s
picks :math:`X' = (I - QQ^T)X` (features) or :math:`X(I - QQ^T)` (samples), so
everything needed is a d x d Gram matrix and its rank-one down-dates:

- features: :math:`C' = X'^TX'` and, on picking column c with :math:`a = C'e_c`,
  :math:`C' \leftarrow C' - aa^T/a_c`; π from the top eigenvectors of C';
- samples: :math:`C' = (I - QQ^T) C (I - QQ^T)`, and the left vectors
  :math:`X'v/\sigma` need one product with X per recomputation.

PCov-CUR uses the PCovR-modified matrices instead: for features
:math:`\tilde{C}' = \alpha C' + (1-\alpha) C'^{-1/2}X'^TY'Y'^TX'C'^{-1/2}` with
:math:`X'^TY'` down-dated alongside C'; for samples the top left vectors of
:math:`[\sqrt{\alpha}X' \;|\; \sqrt{1-\alpha}\,Y']`, through its
(d + p) x (d + p) Gram matrix, with :math:`Y' = Y - X\,\mathrm{lstsq}(X_S, Y_S)`. No
n x n matrix is formed.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import eigsh
from sklearn.utils.extmath import safe_sparse_dot

from propmap._linalg import PsdRoots
from propmap.selection._base import SelectionStrategy
from propmap.utils._pcovr_utils import gram_matrix, modified_covariance_from_gram

__all__ = ["CURStrategy", "PCovCURStrategy"]

# below this size a dense solver is cheaper than Lanczos iterations
_DENSE_LIMIT = 400


def top_eigenvectors(matrix: np.ndarray, k: int, start=None) -> tuple:
    """The k largest eigenpairs of a symmetric matrix, largest first."""
    size = matrix.shape[0]
    if size <= _DENSE_LIMIT or k >= size - 1:
        values, vectors = scipy.linalg.eigh(
            matrix, subset_by_index=(size - k, size - 1), check_finite=False
        )
    else:
        values, vectors = eigsh(matrix, k=k, which="LA", tol=0.0, v0=start)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


class _GramCUR(SelectionStrategy):
    """Shared bookkeeping: the axis, the pick counter and the recompute rule."""

    def __init__(self, axis: int, k: int, recompute_every: int, tolerance: float):
        self.axis = axis
        self.k = k
        self.recompute_every = recompute_every
        self.tolerance = tolerance

    def initialize(self, points, targets) -> None:
        # points has the candidates as rows: Xᵀ for features, X for samples
        self.X = points.T if self.axis == 1 else points
        self.targets = targets
        self.gram = gram_matrix(self.X)
        self.n_picked = 0
        self.start_vector = None
        self._prepare()
        self.scores = self._compute_scores()

    def score_candidates(self) -> np.ndarray:
        return self.scores

    def update_after_pick(self, index: int) -> None:
        self.n_picked += 1
        if self.recompute_every != 0:
            self._deflate(index)
            if self.n_picked % self.recompute_every == 0:
                self.scores = self._compute_scores()
        self.scores[index] = 0.0

    def _top(self, matrix: np.ndarray) -> tuple:
        k = min(self.k, matrix.shape[0])
        values, vectors = top_eigenvectors(matrix, k, self.start_vector)
        self.start_vector = vectors[:, 0]
        return values, vectors

    def _prepare(self) -> None:
        """Running quantities beyond the Gram matrix."""

    def _deflate(self, index: int) -> None:
        raise NotImplementedError

    def _compute_scores(self) -> np.ndarray:
        raise NotImplementedError

    # -- helpers for the two axes

    def _deflate_feature_gram(self, column: int) -> np.ndarray | None:
        """Remove column ``column``'s direction from C'; return ``a = C'e_c`` scaled
        by ``1/a_c`` for further down-dates, or None if the column is already zero."""
        pivot = self.gram[column, column]
        if not np.sqrt(max(pivot, 0.0)) > self.tolerance:
            return None
        direction = self.gram[:, column].copy()
        self.gram -= np.outer(direction, direction / pivot)
        return direction / pivot

    def _deflate_sample_gram(self, row: int) -> bool:
        """Remove sample ``row``'s residual direction q: C' ← (I − qqᵀ)C'(I − qqᵀ)."""
        residual = self._residual_row(row)
        norm = np.linalg.norm(residual)
        if not norm > self.tolerance:
            return False
        unit = residual / norm
        product = self.gram @ unit
        self.gram -= np.outer(unit, product)
        self.gram -= np.outer(product, unit)
        self.gram += (unit @ product) * np.outer(unit, unit)
        self.basis.append(unit)
        self.projected.append(np.asarray(safe_sparse_dot(self.X, unit)).ravel())
        return True

    def _residual_row(self, row: int) -> np.ndarray:
        """Row ``row`` of X' = X(I − QQᵀ)."""
        x = self.X[[row]]
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x).ravel()
        if self.basis:
            basis = np.array(self.basis).T
            x = x - basis @ (basis.T @ x)
        return x

    def _residual_times(self, vectors: np.ndarray) -> np.ndarray:
        """``X' V = X V − (XQ)(QᵀV)`` for the sample axis."""
        product = np.asarray(safe_sparse_dot(self.X, vectors))
        if self.basis:
            basis = np.array(self.basis).T
            projected = np.array(self.projected).T
            product = product - projected @ (basis.T @ vectors)
        return product


class CURStrategy(_GramCUR):
    """Deterministic CUR with orthogonalisation, on the d x d Gram matrix."""

    def _prepare(self) -> None:
        self.basis: list[np.ndarray] = []
        self.projected: list[np.ndarray] = []

    def _deflate(self, index: int) -> None:
        if self.axis == 1:
            self._deflate_feature_gram(index)
        else:
            self._deflate_sample_gram(index)

    def _compute_scores(self) -> np.ndarray:
        values, vectors = self._top(self.gram)
        if self.axis == 1:
            return (vectors**2).sum(axis=1)
        left = self._residual_times(vectors)
        scale = np.where(values > 0, values, np.inf)
        return (left**2 / scale).sum(axis=1)


class PCovCURStrategy(_GramCUR):
    """PCov-CUR: CUR on the PCovR-modified covariance (features) or Gram matrix
    (samples), with the targets' unexplained part carried along."""

    def __init__(self, axis, k, recompute_every, tolerance, mixing: float):
        super().__init__(axis, k, recompute_every, tolerance)
        self.mixing = mixing

    def _prepare(self) -> None:
        self.basis = []
        self.projected = []
        self.xt_targets = np.asarray(
            safe_sparse_dot(self.X.T, self.targets), dtype=np.float64
        )
        if self.axis == 0:
            self.original_gram = self.gram.copy()
            self.targets_norm = self.targets.T @ self.targets
            self.coefficients = np.zeros_like(self.xt_targets)
            self.picked: list[int] = []

    def _deflate(self, index: int) -> None:
        if self.axis == 1:
            scaled = self._deflate_feature_gram(index)
            if scaled is not None:
                self.xt_targets -= np.outer(scaled, self.xt_targets[index])
            return
        self._deflate_sample_gram(index)
        self.picked.append(index)
        # Y' = Y − X lstsq(X_S, Y_S), with the original rows and targets
        rows = self.X[self.picked]
        rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)
        self.coefficients = np.linalg.lstsq(
            rows, self.targets[self.picked], rcond=self.tolerance
        )[0]

    def _compute_scores(self) -> np.ndarray:
        mixing = self.mixing
        if self.axis == 1:
            roots = PsdRoots.of(self.gram, 1e-12)
            modified = modified_covariance_from_gram(
                self.gram, roots, self.xt_targets, mixing
            )
            _, vectors = self._top(modified)
            return (vectors**2).sum(axis=1)
        # samples: top left vectors of A = [√α X' | √(1−α) Y'] through AᵀA
        n_features = self.gram.shape[0]
        beta = self.coefficients
        xt_residual_targets = self.xt_targets - self.original_gram @ beta
        if self.basis:
            basis = np.array(self.basis).T
            xt_residual_targets -= basis @ (basis.T @ xt_residual_targets)
        residual_norm = (
            self.targets_norm
            - beta.T @ self.xt_targets
            - self.xt_targets.T @ beta
            + beta.T @ self.original_gram @ beta
        )
        blocks = np.block(
            [
                [
                    mixing * self.gram,
                    np.sqrt(mixing * (1 - mixing)) * xt_residual_targets,
                ],
                [
                    np.sqrt(mixing * (1 - mixing)) * xt_residual_targets.T,
                    (1 - mixing) * residual_norm,
                ],
            ]
        )
        values, vectors = self._top(blocks)
        feature_part, target_part = vectors[:n_features], vectors[n_features:]
        left = np.sqrt(mixing) * self._residual_times(feature_part)
        left += np.sqrt(1 - mixing) * (
            self.targets @ target_part
            - np.asarray(safe_sparse_dot(self.X, beta @ target_part))
        )
        scale = np.where(values > 0, values, np.inf)
        return (left**2 / scale).sum(axis=1)
