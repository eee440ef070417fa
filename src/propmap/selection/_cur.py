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
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.utils.extmath import safe_sparse_dot

from propmap._linalg import PsdRoots, blas_threads, symmetric_eigh
from propmap.selection._base import SelectionStrategy
from propmap.utils._pcovr_utils import gram_matrix, modified_covariance_from_gram

__all__ = ["CURStrategy", "PCovCURStrategy"]

# below this size a dense solver is cheaper than Lanczos iterations
_DENSE_LIMIT = 64


def top_eigenvectors(matrix, k: int, start=None) -> tuple:
    """The k largest eigenpairs of a symmetric matrix (an array, or a
    :class:`~scipy.sparse.linalg.LinearOperator` for the Lanczos solver), largest
    first."""
    size = matrix.shape[0]
    if isinstance(matrix, np.ndarray) and (size <= _DENSE_LIMIT or k >= size - 1):
        values, vectors = scipy.linalg.eigh(
            matrix, subset_by_index=(size - k, size - 1), check_finite=False
        )
    else:
        # Lanczos makes many small BLAS calls on length-d vectors, where thread
        # start-up costs more than it saves: one thread made sample CUR of 100 of
        # 5,000 x 2,000 take 2.7 s instead of 3.8-4.2 s
        with blas_threads(1):
            values, vectors = eigsh(matrix, k=k, which="LA", tol=0.0, v0=start)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


class GrowingColumns:
    """Columns appended one at a time into preallocated storage, so that the
    matrix of all of them is a view, not a copy made at every product."""

    def __init__(self, length: int) -> None:
        self.storage = np.empty((length, 16))
        self.count = 0

    def append(self, column: np.ndarray) -> None:
        if self.count == self.storage.shape[1]:
            grown = np.empty((self.storage.shape[0], 2 * self.count))
            grown[:, : self.count] = self.storage
            self.storage = grown
        self.storage[:, self.count] = column
        self.count += 1

    @property
    def matrix(self) -> np.ndarray:
        return self.storage[:, : self.count]

    def __bool__(self) -> bool:
        return self.count > 0


class EigenbasisGram:
    """The residual Gram matrix ``C' = X'ᵀX'`` kept in the eigenbasis of the
    original ``C = XᵀX = V D Vᵀ``, where every CUR down-date is low rank:

    - features (``X' = (I − QQᵀ)X``): ``Vᵀ C' V = D − H Hᵀ``, one column of H per
      pick;
    - samples (``X' = X(I − QQᵀ)``): ``Vᵀ C' V = P D P`` with ``P = I − Q̃Q̃ᵀ`` and
      ``Q̃ = VᵀQ``.

    A product with C' then costs O(d·picks) instead of O(d²), which is what the
    Lanczos iterations for the top singular vectors spend their time on; C itself
    is diagonalised once.
    """

    def __init__(self, gram: np.ndarray) -> None:
        self.values, self.vectors = symmetric_eigh(gram)
        self.size = gram.shape[0]
        self.downdates = GrowingColumns(self.size)  # H
        self.projected_out = GrowingColumns(self.size)  # Q̃

    def project(self, coordinates: np.ndarray) -> np.ndarray:
        """Remove the sample directions picked so far (``P w``)."""
        if not self.projected_out:
            return coordinates
        basis = self.projected_out.matrix
        return coordinates - basis @ (basis.T @ coordinates)

    def apply(self, coordinates: np.ndarray) -> np.ndarray:
        """``(Vᵀ C' V) w`` for a vector or a matrix of columns w."""
        column = coordinates.ndim == 1
        w = coordinates[:, None] if column else coordinates
        w = self.project(w)
        result = self.values[:, None] * w
        if self.downdates:
            factor = self.downdates.matrix
            result -= factor @ (factor.T @ w)
        result = self.project(result)
        return result[:, 0] if column else result

    def operator(self) -> LinearOperator:
        return LinearOperator(
            (self.size, self.size), matvec=self.apply, matmat=self.apply, dtype=float
        )

    def dense(self) -> np.ndarray:
        """``Vᵀ C' V`` as an array (for small d)."""
        return self.apply(np.eye(self.size))

    def remove_column(self, column: int, tolerance: float) -> bool:
        """Features: ``C' ← C' − a aᵀ / a_c`` with ``a = C' e_c``."""
        unit = self.vectors[column]  # Vᵀ e_c
        image = self.apply(unit)
        pivot = float(unit @ image)
        if not np.sqrt(max(pivot, 0.0)) > tolerance:
            return False
        self.downdates.append(image / np.sqrt(pivot))
        return True

    def remove_direction(self, direction: np.ndarray) -> None:
        """Samples: project the unit feature-space direction out on both sides."""
        self.projected_out.append(self.vectors.T @ direction)


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
        self.n_picked = 0
        self.start_vector = None
        self.directions = GrowingColumns(points.shape[1])  # samples: Q, rows of X'
        self.projected = GrowingColumns(points.shape[0])  # samples: XQ
        self.pending: np.ndarray | None = None  # a direction whose X q is not made
        self._prepare(gram_matrix(self.X))
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

    def _top(self, matrix) -> tuple:
        k = min(self.k, matrix.shape[0] - 1 if matrix.shape[0] > 1 else 1)
        values, vectors = top_eigenvectors(matrix, k, self.start_vector)
        self.start_vector = vectors[:, 0]
        return values, vectors

    def _prepare(self, gram: np.ndarray) -> None:
        raise NotImplementedError

    def _deflate(self, index: int) -> None:
        raise NotImplementedError

    def _compute_scores(self) -> np.ndarray:
        raise NotImplementedError

    # -- samples: rows of X' = X(I − QQᵀ)

    def _residual_row(self, row: int) -> np.ndarray:
        x = self.X[[row]]
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, float).ravel()
        if self.directions:
            basis = self.directions.matrix
            x = x - basis @ (basis.T @ x)
        return x

    def _take_sample_direction(self, row: int) -> np.ndarray | None:
        """The unit residual direction of sample ``row``, recorded, or None.

        Its product with X is deferred to the next pass over X
        (:meth:`_residual_times`), which computes it alongside the scores.
        """
        self._flush_pending()
        residual = self._residual_row(row)
        norm = np.linalg.norm(residual)
        if not norm > self.tolerance:
            return None
        unit = residual / norm
        self.directions.append(unit)
        self.pending = unit
        return unit

    def _flush_pending(self) -> None:
        if self.pending is not None:
            self.projected.append(np.asarray(safe_sparse_dot(self.X, self.pending)))
            self.pending = None

    def _residual_times(self, vectors: np.ndarray) -> np.ndarray:
        """``X' W = X W − (XQ)(QᵀW)``, in one pass over X that also makes the
        pending ``X q``."""
        if self.pending is not None:
            both = np.column_stack([self.pending, vectors])
            product = np.asarray(safe_sparse_dot(self.X, both))
            self.projected.append(product[:, 0])
            self.pending = None
            product = product[:, 1:]
        else:
            product = np.asarray(safe_sparse_dot(self.X, vectors))
        if self.directions:
            product = product - self.projected.matrix @ (
                self.directions.matrix.T @ vectors
            )
        return product

    def _eigen_matrix(self, gram: EigenbasisGram):
        return gram.dense() if gram.size <= _DENSE_LIMIT else gram.operator()


class CURStrategy(_GramCUR):
    """Deterministic CUR with orthogonalisation, on the eigenbasis of XᵀX."""

    def _prepare(self, gram: np.ndarray) -> None:
        self.gram = EigenbasisGram(gram)

    def _deflate(self, index: int) -> None:
        if self.axis == 1:
            self.gram.remove_column(index, self.tolerance)
        else:
            unit = self._take_sample_direction(index)
            if unit is not None:
                self.gram.remove_direction(unit)

    def _compute_scores(self) -> np.ndarray:
        values, coordinates = self._top(self._eigen_matrix(self.gram))
        vectors = self.gram.vectors @ coordinates  # eigenvectors of C'
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

    def _prepare(self, gram: np.ndarray) -> None:
        self.xt_targets = np.asarray(
            safe_sparse_dot(self.X.T, self.targets), dtype=np.float64
        )
        if self.axis == 1:
            # C'^{-1/2} needs every eigenpair of C' at each step: keep C' itself
            self.gram = gram
            return
        self.eigen = EigenbasisGram(gram)
        self.xt_targets_basis = self.eigen.vectors.T @ self.xt_targets
        self.targets_norm = self.targets.T @ self.targets
        self.coefficients = np.zeros_like(self.xt_targets)
        self.picked: list[int] = []

    def _deflate(self, index: int) -> None:
        if self.axis == 1:
            pivot = self.gram[index, index]
            if not np.sqrt(max(pivot, 0.0)) > self.tolerance:
                return
            scaled = self.gram[:, index] / pivot
            self.xt_targets -= np.outer(scaled, self.xt_targets[index])
            self.gram -= np.outer(self.gram[:, index], scaled)
            return
        unit = self._take_sample_direction(index)
        if unit is not None:
            self.eigen.remove_direction(unit)
        self.picked.append(index)
        # Y' = Y − X lstsq(X_S, Y_S), with the original rows and targets
        rows = self.X[self.picked]
        rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)
        self.coefficients = np.linalg.lstsq(
            rows, self.targets[self.picked], rcond=self.tolerance
        )[0]

    def _compute_scores(self) -> np.ndarray:
        if self.axis == 1:
            roots = PsdRoots.of(self.gram, 1e-12)
            modified = modified_covariance_from_gram(
                self.gram, roots, self.xt_targets, self.mixing
            )
            _, vectors = self._top(modified)
            return (vectors**2).sum(axis=1)
        return self._sample_scores()

    def _sample_scores(self) -> np.ndarray:
        """Top left singular vectors of ``A = [√α X' | √(1−α) Y']`` through AᵀA,
        written in the eigenbasis of XᵀX (plus the p target coordinates)."""
        mixing, eigen = self.mixing, self.eigen
        size, n_targets = eigen.size, self.targets.shape[1]
        beta_basis = eigen.vectors.T @ self.coefficients  # Vᵀβ
        # Vᵀ X'ᵀY' = P (VᵀXᵀY − D Vᵀβ) and Y'ᵀY'
        cross = self.xt_targets_basis - eigen.values[:, None] * beta_basis
        cross = eigen.project(cross)
        cross *= np.sqrt(mixing * (1.0 - mixing))
        corner = (1.0 - mixing) * (
            self.targets_norm
            - self.coefficients.T @ self.xt_targets
            - self.xt_targets.T @ self.coefficients
            + beta_basis.T @ (eigen.values[:, None] * beta_basis)
        )

        def apply(vectors: np.ndarray) -> np.ndarray:
            column = vectors.ndim == 1
            w = vectors[:, None] if column else vectors
            top = mixing * eigen.apply(w[:size]) + cross @ w[size:]
            bottom = cross.T @ w[:size] + corner @ w[size:]
            result = np.vstack([top, bottom])
            return result[:, 0] if column else result

        total = size + n_targets
        if total <= _DENSE_LIMIT:
            matrix = apply(np.eye(total))
        else:
            matrix = LinearOperator((total, total), matvec=apply, matmat=apply)
        values, coordinates = self._top(matrix)
        feature_part = eigen.vectors @ coordinates[:size]
        target_part = coordinates[size:]
        left = np.sqrt(mixing) * self._residual_times(feature_part)
        left += np.sqrt(1.0 - mixing) * (
            self.targets @ target_part
            - np.asarray(safe_sparse_dot(self.X, self.coefficients @ target_part))
        )
        scale = np.where(values > 0, values, np.inf)
        return (left**2 / scale).sum(axis=1)
