r"""Exact eigen-solvers for the CUR selectors.

After one eigendecomposition :math:`X^TX = V\,\mathrm{diag}(D)\,V^T`, every matrix
whose top eigenvectors CUR needs is, in the coordinates of V, a diagonal plus a low
rank:

.. math::

    A = \mathrm{diag}(d) + W\,\mathrm{diag}(\omega)\,W^T,

with one column of W per pick (and per target for PCov-CUR). Their largest
eigenpairs come from Lanczos on :math:`(\sigma - A)^{-1}` with a shift σ that is
*certified* to lie above the spectrum:

- solves cost O(r m) by Woodbury with the m x m capacitance
  :math:`K = \mathrm{diag}(1/\omega) + W^T (\mathrm{diag}(d) - \sigma)^{-1} W`;
- the number of eigenvalues of A above σ is, by Haynsworth's inertia additivity,
  :math:`\#\{d_i > \sigma\} + \mathrm{neg}(K) - \mathrm{neg}(\omega)`, read off
  the Bunch–Kaufman factors of K. A shift is used only when that count is 0, so
  :math:`\sigma - A` is positive semi-definite and Lanczos converges to the top;
- diagonal entries within 1e-3 ‖A‖ of σ are moved into the low-rank part so that
  Woodbury stays well conditioned when an eigenvalue nears a diagonal entry;
- Lanczos keeps full reorthogonalisation, tightens σ to the Rayleigh quotient
  plus the residual once that is certified too, and stops at a residual of
  1e-14 ‖A‖ (checked on A itself, not only on the Lanczos recurrence).

The k largest pairs come one at a time, each from A minus the pairs found so far
(Hotelling deflation, again diagonal plus low rank). :class:`RowSpace` is the
eigendecomposition itself, thin when X is rank deficient or has fewer rows than
columns, so that no d x d matrix is formed for wide X.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

from propmap.utils._pcovr_utils import gram_matrix

__all__ = [
    "DiagonalPlusLowRank",
    "NotConverged",
    "RowSpace",
    "dense_top_eigenpairs",
    "top_eigenpairs",
]

EPS = np.finfo(np.float64).eps
# below this basis size, or once the low rank is this share of it, dense eigh wins
DENSE_LIMIT = 64
DENSE_SHARE = 0.5
# a rank-deficient X (rank below this share of its columns) gets a thin basis
THIN_SHARE = 0.6
# at most this many diagonal entries next to the shift move into the low rank
NEAR_POLE_LIMIT = 32


class NotConverged(RuntimeError):
    """The shift-invert Lanczos iteration did not reach its residual."""


def _negative_pivots(factor: np.ndarray, pivots: np.ndarray) -> int:
    """Negative eigenvalues of a symmetric matrix from its Bunch–Kaufman LDLᵀ
    factors (lower, as LAPACK's ``dsytrf`` returns them): Sylvester's law of inertia
    on the 1 x 1 and 2 x 2 blocks of D."""
    count, i, size = 0, 0, factor.shape[0]
    while i < size:
        if pivots[i] > 0:
            count += factor[i, i] < 0
            i += 1
            continue
        a, b, c = factor[i, i], factor[i + 1, i], factor[i + 1, i + 1]
        determinant = a * c - b * b
        count += 1 if determinant < 0 else (2 if a < 0 else 0)
        i += 2
    return int(count)


class _ShiftedSolver:
    """``(σ − A)⁻¹`` at one shift, and the count of eigenvalues of A above σ."""

    def __init__(self, operator: DiagonalPlusLowRank, shift: float, scale: float):
        diagonal, columns = operator.diagonal, operator.columns
        weights = operator.weights
        # "near" relative to the shift, the size of A's top: a fixed share of the
        # first pick's norm would catch every small entry once the top has shrunk
        distance = np.abs(diagonal - shift)
        near = np.flatnonzero(distance < 1e-3 * abs(shift))
        if near.size > NEAR_POLE_LIMIT:
            near = near[np.argsort(distance[near])[:NEAR_POLE_LIMIT]]
        if near.size:
            # d_i = σ + ‖A‖ + (d_i − σ − ‖A‖): the second part as a unit column
            diagonal = diagonal.copy()
            units = np.zeros((diagonal.size, near.size))
            units[near, np.arange(near.size)] = 1.0
            far = shift + max(scale, abs(shift))
            weights = np.concatenate([weights, diagonal[near] - far])
            diagonal[near] = far
            columns = np.hstack([columns, units])
        self.shift = shift
        self.inverse_diagonal = 1.0 / (diagonal - shift)
        self.columns = columns
        above = int(np.count_nonzero(diagonal > shift))
        self.factors = None
        if columns.shape[1]:
            capacitance = columns.T @ (self.inverse_diagonal[:, None] * columns)
            capacitance[np.diag_indices_from(capacitance)] += 1.0 / weights
            factor, pivots, info = lapack.dsytrf(capacitance, lower=1)
            if info > 0:  # an exactly singular capacitance: σ is an eigenvalue
                above = -1
            else:
                self.factors = (factor, pivots)
                above += _negative_pivots(factor, pivots)
                above -= int(np.count_nonzero(weights < 0))
        self.count_above = above

    def solve(self, vector: np.ndarray) -> np.ndarray:
        """``(σ − A)⁻¹ x = −[F x − F W K⁻¹ Wᵀ F x]`` with ``F = (diag(d) − σ)⁻¹``."""
        result = self.inverse_diagonal * vector
        if self.factors is not None:
            coefficients, _ = lapack.dsytrs(
                self.factors[0], self.factors[1], self.columns.T @ result, lower=1
            )
            result -= self.inverse_diagonal * (self.columns @ coefficients)
        return -result


@dataclass
class DiagonalPlusLowRank:
    """``A = diag(diagonal) + columns diag(weights) columnsᵀ`` (weights non-zero)."""

    diagonal: np.ndarray
    columns: np.ndarray
    weights: np.ndarray

    @property
    def size(self) -> int:
        return self.diagonal.size

    def matvec(self, vector: np.ndarray) -> np.ndarray:
        return self.diagonal * vector + self.columns @ (
            self.weights * (self.columns.T @ vector)
        )

    def dense(self) -> np.ndarray:
        matrix = (self.columns * self.weights) @ self.columns.T
        matrix[np.diag_indices_from(matrix)] += self.diagonal
        return matrix

    def shifted(self, shift: float, scale: float) -> _ShiftedSolver:
        return _ShiftedSolver(self, shift, scale)

    def deflated(self, values: list, vectors: list) -> DiagonalPlusLowRank:
        """``A − Σ μ_l x_l x_lᵀ`` (Hotelling)."""
        return DiagonalPlusLowRank(
            self.diagonal,
            np.hstack([self.columns, np.column_stack(vectors)]),
            np.concatenate([self.weights, -np.asarray(values)]),
        )


def _certified(operator, shift: float, scale: float) -> _ShiftedSolver:
    """The solver at the first shift ≥ ``shift`` with no eigenvalue above it."""
    step = 1e-7 * scale
    for _ in range(200):
        solver = operator.shifted(shift, scale)
        if solver.count_above == 0:
            return solver
        shift += step
        step *= 4.0
    raise NotConverged("no shift above the spectrum was found")


def _largest(
    operator: DiagonalPlusLowRank,
    start: np.ndarray,
    shift: float,
    scale: float,
    tol: float = 1e-14,
    max_steps: int = 60,
    max_restarts: int = 8,
    refine_after: int = 6,
) -> tuple[float, np.ndarray]:
    """The largest eigenpair of a positive semi-definite ``operator``, by Lanczos
    on ``(σ − A)⁻¹`` from ``start`` with σ certified, starting at ``shift``."""
    solver = _certified(operator, shift, scale)
    vector = start / np.linalg.norm(start)
    tridiagonal = np.zeros((max_steps, max_steps))
    for restart in range(max_restarts + 1):
        basis = np.empty((max_steps + 1, operator.size))
        basis[0] = vector
        converged = False
        for step in range(max_steps):
            z = solver.solve(basis[step])
            previous = basis[: step + 1]
            first = previous @ z
            z -= previous.T @ first
            second = previous @ z
            z -= previous.T @ second
            beta = float(np.linalg.norm(z))
            tridiagonal[step, step] = first[step] + second[step]
            ritz_values, ritz_vectors = np.linalg.eigh(
                tridiagonal[: step + 1, : step + 1]
            )
            theta, coefficients = ritz_values[-1], ritz_vectors[:, -1]
            # ‖A x − μ x‖ ≤ ‖σ − A‖ |β y_m| / θ, and ‖σ − A‖ ≤ σ for A ⪰ 0
            bound = abs(solver.shift) * abs(beta * coefficients[-1]) / theta
            if bound <= tol * scale or beta == 0.0:
                converged = True
                break
            if restart < 2 and step + 1 >= refine_after:
                break  # first try a tighter shift
            if step + 1 < max_steps:
                basis[step + 1] = z / beta
                tridiagonal[step, step + 1] = tridiagonal[step + 1, step] = beta
        vector = basis[: coefficients.size].T @ coefficients
        vector /= np.linalg.norm(vector)
        image = operator.matvec(vector)
        value = float(vector @ image)
        residual = float(np.linalg.norm(image - value * vector))
        if converged and residual <= 10 * tol * scale:
            return value, vector
        # the Rayleigh quotient is at most λmax: above it by the residual is a good
        # shift, kept only where the inertia count certifies it
        for factor in (1.0, 4.0, 16.0):
            candidate = value + max(factor * residual, 1e-13 * scale)
            if candidate >= solver.shift:
                break
            tighter = operator.shifted(candidate, scale)
            if tighter.count_above == 0:
                solver = tighter
                break
        tridiagonal[:] = 0.0
    raise NotConverged(
        f"Lanczos stopped at a relative residual of {residual / scale:.1e}"
    )


def dense_top_eigenpairs(
    operator: DiagonalPlusLowRank, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenpairs, largest first, from LAPACK on the dense matrix."""
    size = operator.size
    values, vectors = scipy.linalg.eigh(
        operator.dense(), subset_by_index=(size - k, size - 1), check_finite=False
    )
    return values[::-1].copy(), vectors[:, ::-1].copy()


def top_eigenpairs(
    operator: DiagonalPlusLowRank,
    k: int,
    starts: np.ndarray | None,
    upper: np.ndarray | None,
    scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenpairs of a positive semi-definite diagonal plus low rank.

    Parameters
    ----------
    operator : DiagonalPlusLowRank
    k : int
    starts : ndarray of shape (size, j) or None
        Start vectors (the previous pick's eigenvectors); random where missing.
    upper : ndarray of shape (j,) or None
        Guesses of upper bounds of the k eigenvalues (the previous pick's, which
        are bounds when the matrix only shrinks); checked, and raised if wrong.
    scale : float
        An upper bound of ‖A‖.

    Returns
    -------
    values : ndarray of shape (k,), largest first
    vectors : ndarray of shape (size, k)

    Raises
    ------
    NotConverged
        If Lanczos does not converge (the caller falls back to a dense solver).
    """
    size, m = operator.size, operator.columns.shape[1]
    if size <= DENSE_LIMIT or m >= DENSE_SHARE * size or k >= size - 1:
        return dense_top_eigenpairs(operator, k)
    rng = np.random.default_rng(0)
    values: list[float] = []
    vectors: list[np.ndarray] = []
    current = operator
    for index in range(k):
        if starts is not None and index < starts.shape[1]:
            start = starts[:, index]
        else:
            start = rng.standard_normal(size)
        bound = scale * (1 + 1e-12)
        if upper is not None and index < upper.size:
            bound = min(bound, upper[index] + 1e-13 * scale)
        if index:
            current = operator.deflated(values, vectors)
            bound = min(bound, values[-1] + 1e-13 * scale)
        value, vector = _largest(current, start, bound, scale)
        values.append(value)
        vectors.append(vector)
    return np.array(values), np.column_stack(vectors)


@dataclass
class RowSpace:
    """``XᵀX = V diag(values) Vᵀ``, with V of shape (d, r).

    ``r = d`` unless X has fewer rows than columns (thin SVD of X, no d x d matrix)
    or pivoted Cholesky finds ``XᵀX`` of rank below :data:`THIN_SHARE` d (then its
    factor's thin SVD). ``left`` is X's left singular vectors when the SVD made
    them (n x r), else None. Values are in decreasing order.
    """

    values: np.ndarray
    vectors: np.ndarray
    left: np.ndarray | None = None

    @classmethod
    def of(cls, X) -> RowSpace:
        n, d = X.shape
        if n < d:
            dense = X.toarray() if hasattr(X, "toarray") else X
            left, singular, right = scipy.linalg.svd(
                np.asarray(dense, dtype=np.float64),
                full_matrices=False,
                check_finite=False,
                lapack_driver="gesdd",
            )
            # directions at rounding level are no part of the row space
            kept = singular**2 > 30 * EPS * singular[0] ** 2 if singular.size else []
            return cls(
                singular[kept] ** 2,
                np.ascontiguousarray(right[kept].T),
                np.ascontiguousarray(left[:, kept]),
            )
        return cls.of_gram(gram_matrix(X))

    @classmethod
    def of_gram(cls, gram: np.ndarray) -> RowSpace:
        d = gram.shape[0]
        tolerance = 30 * EPS * max(float(gram.diagonal().max()), 0.0)
        # pivoted Cholesky on a random half of the columns first: when that half
        # is of full rank, so is at least half of XᵀX, and the full eigh is used
        half = np.sort(np.random.default_rng(12345).permutation(d)[: d // 2])
        if half.size and tolerance > 0:
            _, _, rank, _ = lapack.dpstrf(
                gram[np.ix_(half, half)], tol=tolerance, lower=1
            )
            if rank < half.size:
                factor, pivots, rank, _ = lapack.dpstrf(gram, tol=tolerance, lower=1)
                if rank < THIN_SHARE * d:
                    lower = np.tril(factor[:, :rank])
                    u, singular, _ = scipy.linalg.svd(
                        lower, full_matrices=False, check_finite=False
                    )
                    vectors = np.empty((d, rank))
                    vectors[pivots[:d] - 1] = u
                    return cls(singular**2, vectors)
        values, vectors = scipy.linalg.eigh(
            gram, driver="evd", check_finite=False, overwrite_a=False
        )
        return cls(values[::-1].copy(), np.ascontiguousarray(vectors[:, ::-1]))

    @property
    def rank(self) -> int:
        return self.values.size
