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

CUR proper needs no function of :math:`X^TX`, only a basis in which its residuals
are cheap: the Householder tridiagonalisation :math:`X^TX = V T V^T` costs about
0.6 of the eigendecomposition (no divide and conquer, no back-transformation of
eigenvectors), and in V's coordinates the residuals are
:class:`TridiagonalPlusLowRank`, ``T + W diag(ω) Wᵀ``. The same Lanczos runs on
them with

- solves ``(T − σ)⁻¹`` by LAPACK's tridiagonal LU, and Woodbury on W as above;
- the inertia of ``T − σ`` read from T's eigenvalues (computed once, O(d²)), the
  shift kept at least 1e-6 |σ| from each of them so that the count is exact;
- one step of iterative refinement (on A itself) where an eigenvalue of T lies
  within 1e-3 |σ| of the shift, where the diagonal solver would move that entry
  into the low rank;
- the solves of W's columns kept from pick to pick at an unchanged shift: W only
  grows, so the next pick costs one tridiagonal solve and one border of the
  capacitance, and a pick starts at the last pick's shift when that is certified
  (the matrices only shrink) and not far above its bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

from propmap.utils._pcovr_utils import gram_matrix

__all__ = [
    "DiagonalPlusLowRank",
    "GrowingColumns",
    "NotConverged",
    "RowSpace",
    "Tridiagonal",
    "TridiagonalPlusLowRank",
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
# tridiagonal: Lanczos steps at one shift before a tighter one is tried (a new
# shift costs m tridiagonal solves), and how far above the bound the kept shift
# may be (as a share of the bound); measured on 2,000² decaying spectra:
# (6, 0) 1.31 s, (12, 0.02) 1.10 s, (20, 0.1) 1.06 s, (20, 0.3) 1.23 s
REFINE_AFTER = 20
REUSE_SLACK = 0.1


class NotConverged(RuntimeError):
    """The shift-invert Lanczos iteration did not reach its residual."""


class GrowingColumns:
    """Columns appended one at a time into preallocated storage, so that the
    matrix of all of them is a view, not a copy made at every product."""

    def __init__(self, length: int) -> None:
        # column-major: each column is contiguous, as LAPACK's solves take them
        self.storage = np.empty((length, 16), order="F")
        self.count = 0

    def append(self, column: np.ndarray) -> None:
        self.extend(column[:, None])

    def extend(self, columns: np.ndarray) -> None:
        needed = self.count + columns.shape[1]
        if needed > self.storage.shape[1]:
            grown = np.empty(
                (self.storage.shape[0], max(needed, 2 * self.count)), order="F"
            )
            grown[:, : self.count] = self.storage[:, : self.count]
            self.storage = grown
        self.storage[:, self.count : needed] = columns
        self.count = needed

    @property
    def matrix(self) -> np.ndarray:
        return self.storage[:, : self.count]

    def __bool__(self) -> bool:
        return self.count > 0


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


def _capacitance(gram: np.ndarray, weights: np.ndarray, above: int):
    """Bunch–Kaufman factors of ``K = Wᵀ(B − σ)⁻¹W + diag(1/ω)`` (``gram`` the
    first term, left unchanged) and the count of eigenvalues of ``A = B + WΩWᵀ``
    above σ by Haynsworth: ``above`` (B's count) ``+ neg(K) − neg(ω)``. Returns
    ``(factors, count)``; ``(None, -1)`` if K is exactly singular (σ is an
    eigenvalue)."""
    capacitance = gram + np.diag(1.0 / weights)
    factor, pivots, info = lapack.dsytrf(capacitance, lower=1)
    if info > 0:
        return None, -1
    count = above + _negative_pivots(factor, pivots)
    return (factor, pivots), count - int(np.count_nonzero(weights < 0))


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
            gram = columns.T @ (self.inverse_diagonal[:, None] * columns)
            self.factors, above = _capacitance(gram, weights, above)
        self.count_above = above

    def refine(self) -> bool:
        """No refinement to offer (entries of the diagonal near σ are in the
        low rank already): False."""
        return False

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

    # Lanczos steps at the first shift before a tighter one is tried: a new shift
    # costs one capacitance, O(r m²)
    refine_after = 6

    def preferred_shift(self, shift: float, scale: float) -> float | None:
        return None

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


class Tridiagonal:
    """A symmetric tridiagonal T, its eigenvalues, and its solves at one shift.

    The eigenvalues (LAPACK's tridiagonal QR/bisection, O(d²) once) give the inertia
    of ``T − σ`` at any shift, and :meth:`safe_shift` keeps every shift at a
    distance of at least 1e-6 |σ| from them, so that ``T − σ`` (LU by ``dgttrf``)
    is never near singular and the count is exact. The solves ``(T − σ)⁻¹ W`` of
    the low-rank columns, and their Gram matrix ``Wᵀ (T − σ)⁻¹ W``, are kept for
    the last shift: CUR's columns only ever grow by appending, so a pick that keeps
    the shift costs one new tridiagonal solve and one border of that matrix.
    """

    def __init__(self, diagonal: np.ndarray, offdiagonal: np.ndarray) -> None:
        self.diagonal = np.ascontiguousarray(diagonal, dtype=np.float64)
        self.offdiagonal = np.ascontiguousarray(offdiagonal, dtype=np.float64)
        self._spectrum: np.ndarray | None = None
        self._shift: float | None = None
        self._factors: tuple | None = None
        self._sources = GrowingColumns(self.size)  # W's leading columns, as solved
        self._solved = GrowingColumns(self.size)  # (T − σ)⁻¹ W for them
        self._gram = np.empty((0, 0))  # Wᵀ (T − σ)⁻¹ W for them

    @property
    def size(self) -> int:
        return self.diagonal.size

    @property
    def spectrum(self) -> np.ndarray:
        """T's eigenvalues, ascending (computed when first asked for)."""
        if self._spectrum is None:
            self._spectrum = scipy.linalg.eigvalsh_tridiagonal(
                self.diagonal, self.offdiagonal, check_finite=False
            )
        return self._spectrum

    @property
    def norm(self) -> float:
        return float(max(abs(self.spectrum[0]), abs(self.spectrum[-1])))

    @property
    def kept_shift(self) -> float | None:
        return self._shift

    def times(self, vectors: np.ndarray) -> np.ndarray:
        """``T x`` for a vector or a matrix of columns."""
        column = vectors.ndim == 1
        x = vectors[:, None] if column else vectors
        result = self.diagonal[:, None] * x
        result[:-1] += self.offdiagonal[:, None] * x[1:]
        result[1:] += self.offdiagonal[:, None] * x[:-1]
        return result[:, 0] if column else result

    def dense(self) -> np.ndarray:
        matrix = np.diag(self.diagonal)
        index = np.arange(self.size - 1)
        matrix[index, index + 1] = matrix[index + 1, index] = self.offdiagonal
        return matrix

    def safe_shift(self, shift: float) -> float:
        """The least σ ≥ ``shift`` at least ``1e-6 |σ|`` (and 64 ε ‖T‖) from every
        eigenvalue of T."""
        for _ in range(self.size + 1):
            margin = max(1e-6 * abs(shift), 64 * EPS * self.norm)
            low = np.searchsorted(self.spectrum, shift - margin, side="left")
            high = np.searchsorted(self.spectrum, shift + margin, side="right")
            if low == high:
                return float(shift)
            shift = float(self.spectrum[high - 1]) + 2 * margin
        raise NotConverged("no shift clear of T's eigenvalues was found")

    def distance(self, shift: float) -> float:
        """The distance from ``shift`` to T's nearest eigenvalue."""
        index = np.searchsorted(self.spectrum, shift)
        near = self.spectrum[max(index - 1, 0) : index + 1]
        return float(np.abs(near - shift).min(initial=np.inf))

    def count_above(self, shift: float) -> int:
        """Eigenvalues of T above a :meth:`safe_shift`."""
        return int(self.size - np.searchsorted(self.spectrum, shift, side="right"))

    def factors(self, shift: float) -> tuple:
        """LU factors of ``T − σ`` (those of the last shift are kept); a new shift
        starts a new cache of solved columns (older solvers keep their own)."""
        if shift != self._shift:
            off = self.offdiagonal
            lower, diagonal, upper, second, pivots, info = lapack.dgttrf(
                off, self.diagonal - shift, off
            )
            if info > 0:  # cannot happen at a safe shift; kept as a guard
                raise NotConverged("the shifted tridiagonal matrix is singular")
            self._shift = shift
            self._factors = (lower, diagonal, upper, second, pivots)
            self._sources = GrowingColumns(self.size)
            self._solved = GrowingColumns(self.size)
            self._gram = np.empty((0, 0))
        return self._factors

    @staticmethod
    def solve(factors: tuple, rhs: np.ndarray) -> np.ndarray:
        """``(T − σ)⁻¹ rhs`` from :meth:`factors`."""
        solution, _ = lapack.dgttrs(*factors, rhs)
        return solution

    def solved_columns(
        self, shift: float, columns: np.ndarray, stable: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``F = (T − σ)⁻¹ W`` and ``Wᵀ F``, reusing the kept solves of W's first
        ``stable`` columns (those only ever appended to) at the same shift."""
        factors = self.factors(shift)
        m = columns.shape[1]
        stable = min(stable, m)
        kept = min(self._solved.count, stable)
        if kept and not np.array_equal(
            self._sources.matrix[:, kept - 1], columns[:, kept - 1]
        ):
            kept = 0  # not the columns solved before
        if kept < self._solved.count:  # fresh storage: older views stay intact
            sources, solved = GrowingColumns(self.size), GrowingColumns(self.size)
            sources.extend(self._sources.matrix[:, :kept])
            solved.extend(self._solved.matrix[:, :kept])
            self._sources, self._solved = sources, solved
            self._gram = self._gram[:kept, :kept]
        if stable > kept:
            new = columns[:, kept:stable]
            self._sources.extend(new)
            self._solved.extend(self.solve(factors, np.asfortranarray(new)))
            border = columns[:, :stable].T @ self._solved.matrix[:, kept:]
            gram = np.empty((stable, stable))
            gram[:kept, :kept] = self._gram
            gram[:, kept:] = border
            gram[kept:, :kept] = border[:kept].T
            self._gram = gram
        if m == stable:
            return self._solved.matrix, self._gram
        extra = self.solve(factors, np.asfortranarray(columns[:, stable:]))
        solved = np.hstack([self._solved.matrix, extra])
        gram = np.empty((m, m))
        gram[:stable, :stable] = self._gram
        gram[:, stable:] = columns.T @ extra
        gram[stable:, :stable] = gram[:stable, stable:].T
        return solved, gram


class _TridiagonalShiftedSolver:
    """As :class:`_ShiftedSolver` for ``A = T + W diag(ω) Wᵀ`` with T tridiagonal:
    ``K = diag(1/ω) + Wᵀ (T − σ)⁻¹ W`` and the same Haynsworth count, with T's own
    count from its eigenvalues."""

    def __init__(self, operator: TridiagonalPlusLowRank, shift: float, scale: float):
        base = operator.base
        shift = base.safe_shift(shift)
        self.shift, self.base = shift, base
        self.lu = base.factors(shift)
        self.columns = operator.columns
        # an eigenvalue of T this near σ can make the Woodbury form lose digits
        # to cancellation (the diagonal solver moves such entries into the low
        # rank): one step of iterative refinement on A itself restores them. It
        # doubles a step's cost and is rarely needed (Lanczos' result is checked
        # on A itself), so it is switched on only when that check fails
        self._near = operator if base.distance(shift) < 1e-3 * abs(shift) else None
        self.operator = None
        self.factors = None
        above = base.count_above(shift)
        weights = operator.weights
        if self.columns.shape[1]:
            self.solved, gram = base.solved_columns(
                shift, self.columns, operator.stable
            )
            self.factors, above = _capacitance(gram, weights, above)
        self.count_above = above

    def _woodbury(self, vector: np.ndarray) -> np.ndarray:
        """``(A − σ)⁻¹ x``."""
        result = self.base.solve(self.lu, vector)
        if self.factors is not None:
            coefficients, _ = lapack.dsytrs(
                self.factors[0], self.factors[1], self.columns.T @ result, lower=1
            )
            result -= self.solved @ coefficients
        return result

    def refine(self) -> bool:
        """Switch iterative refinement on; False if it is on or not needed."""
        if self.operator is not None or self._near is None:
            return False
        self.operator = self._near
        return True

    def solve(self, vector: np.ndarray) -> np.ndarray:
        result = self._woodbury(vector)
        if self.operator is not None:
            residual = vector - (self.operator.matvec(result) - self.shift * result)
            result += self._woodbury(residual)
        return -result


@dataclass
class TridiagonalPlusLowRank:
    """``A = T + columns diag(weights) columnsᵀ`` with T a :class:`Tridiagonal`;
    the first ``stable`` columns are those that later operators only append to."""

    base: Tridiagonal
    columns: np.ndarray
    weights: np.ndarray
    stable: int = 0

    # a new shift costs m tridiagonal solves and the capacitance, the kept one a
    # single solve and one border: more Lanczos steps before a tighter shift
    refine_after = REFINE_AFTER

    def preferred_shift(self, shift: float, scale: float) -> float | None:
        """The shift whose solves are kept, when it is no higher than ``shift``
        (CUR's matrices only shrink, so last pick's shift usually still holds)."""
        kept = self.base.kept_shift
        if (
            kept is not None
            and kept <= shift + REUSE_SLACK * abs(shift) + 1e-13 * scale
        ):
            return kept
        return None

    @property
    def size(self) -> int:
        return self.base.size

    def matvec(self, vector: np.ndarray) -> np.ndarray:
        return self.base.times(vector) + self.columns @ (
            self.weights * (self.columns.T @ vector)
        )

    def dense(self) -> np.ndarray:
        matrix = (self.columns * self.weights) @ self.columns.T
        matrix += self.base.dense()
        return matrix

    def shifted(self, shift: float, scale: float) -> _TridiagonalShiftedSolver:
        return _TridiagonalShiftedSolver(self, shift, scale)

    def deflated(self, values: list, vectors: list) -> TridiagonalPlusLowRank:
        """``A − Σ μ_l x_l x_lᵀ`` (Hotelling)."""
        return TridiagonalPlusLowRank(
            self.base,
            np.hstack([self.columns, np.column_stack(vectors)]),
            np.concatenate([self.weights, -np.asarray(values)]),
            self.stable,
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


def _tridiagonal_eigh(diagonal: np.ndarray, offdiagonal: np.ndarray):
    """Eigenpairs (ascending) of a small symmetric tridiagonal matrix: LAPACK's
    ``dstev`` on its two diagonals (a third cheaper than ``eigh`` of the dense
    matrix at Lanczos' sizes; called once per step)."""
    if diagonal.size == 1:
        return diagonal.copy(), np.ones((1, 1))
    values, vectors, info = lapack.dstev(diagonal, offdiagonal, compute_v=1)
    if info == 0:
        return values, vectors
    dense = np.diag(diagonal) + np.diag(offdiagonal, 1) + np.diag(offdiagonal, -1)
    return np.linalg.eigh(dense)  # pragma: no cover - dstev's QL did not converge


def _largest(
    operator: DiagonalPlusLowRank,
    start: np.ndarray,
    shift: float,
    scale: float,
    tol: float = 1e-14,
    max_steps: int = 60,
    max_restarts: int = 8,
) -> tuple[float, np.ndarray]:
    """The largest eigenpair of a positive semi-definite ``operator``, by Lanczos
    on ``(σ − A)⁻¹`` from ``start`` with σ certified, starting at ``shift`` (or at
    the shift the operator prefers, where that is certified too)."""
    solver = None
    preferred = operator.preferred_shift(shift, scale)
    if preferred is not None:
        trial = operator.shifted(preferred, scale)
        if trial.count_above == 0:
            solver = trial
    if solver is None:
        solver = _certified(operator, shift, scale)
    refine_after = operator.refine_after
    refining = False
    vector = start / np.linalg.norm(start)
    # Lanczos' tridiagonal matrix: its diagonal and off-diagonal (a restart
    # writes every entry it reads before reading it)
    alphas, betas = np.zeros(max_steps), np.zeros(max_steps)
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
            alphas[step] = first[step] + second[step]
            ritz_values, ritz_vectors = _tridiagonal_eigh(
                alphas[: step + 1], betas[:step]
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
                betas[step] = beta
        vector = basis[: coefficients.size].T @ coefficients
        vector /= np.linalg.norm(vector)
        image = operator.matvec(vector)
        value = float(vector @ image)
        residual = float(np.linalg.norm(image - value * vector))
        if converged and residual <= 10 * tol * scale:
            return value, vector
        stalled = not converged and step + 1 >= max_steps
        if (converged or stalled) and not refining and solver.refine():
            # the solves lost digits: the same shift, refined from now on
            refining = True
            continue
        # the Rayleigh quotient is at most λmax: above it by the residual is a good
        # shift, kept only where the inertia count certifies it
        for factor in (1.0, 4.0, 16.0):
            candidate = value + max(factor * residual, 1e-13 * scale)
            if candidate >= solver.shift:
                break
            tighter = operator.shifted(candidate, scale)
            if refining:
                tighter.refine()
            if tighter.count_above == 0:
                solver = tighter
                break
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
    them (n x r), else None. Values are in decreasing order. In the Householder
    basis (``tridiagonal`` given, ``XᵀX = V T Vᵀ``) ``values`` is None: T's
    eigenvalues are ``tridiagonal.spectrum``.
    """

    values: np.ndarray | None
    vectors: np.ndarray
    left: np.ndarray | None = None
    tridiagonal: Tridiagonal | None = None

    @classmethod
    def of(cls, X, tridiagonal: bool = False) -> RowSpace:
        """The basis of X's row space; with ``tridiagonal``, where the basis is full,
        ``XᵀX = V T Vᵀ`` by Householder tridiagonalisation (``vectors`` V, T in
        ``tridiagonal``, ``values`` its eigenvalues) instead of the
        eigendecomposition: CUR needs no function of XᵀX, and LAPACK's ``dsytrd``
        and ``dorgqr`` take 0.49 s where ``dsyevd`` takes 0.82 s (d = 2,000, one
        thread). The Householder basis is also used for X a little wider than tall
        (``n ≥`` :data:`THIN_SHARE` ``d``), where the thin SVD costs more than the
        d x d matrices save: 2.6 s against 0.69 s at 2,000 x 2,025, one thread."""
        n, d = X.shape
        if n < d and not (tridiagonal and n >= THIN_SHARE * d):
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
        return cls.of_gram(gram_matrix(X), tridiagonal)

    @classmethod
    def of_gram(cls, gram: np.ndarray, tridiagonal: bool = False) -> RowSpace:
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
        if tridiagonal and d > DENSE_LIMIT:
            return cls._tridiagonal(gram)
        values, vectors = scipy.linalg.eigh(
            gram, driver="evd", check_finite=False, overwrite_a=False
        )
        return cls(values[::-1].copy(), np.ascontiguousarray(vectors[:, ::-1]))

    @classmethod
    def _tridiagonal(cls, gram: np.ndarray) -> RowSpace:
        d = gram.shape[0]
        work = int(lapack.dsytrd_lwork(d, lower=1)[0])
        reflectors, diagonal, offdiagonal, scales, _ = lapack.dsytrd(
            gram, lower=1, lwork=work
        )
        # V = H(1) ... H(d-1), reflectors below the subdiagonal: V = 1 ⊕ V', V' the
        # orthogonal factor dorgqr makes of them (what dorgtr does)
        inner = np.asfortranarray(reflectors[1:, : d - 1])
        del reflectors
        inner, _, info = lapack.dorgqr(
            inner, scales[: d - 1], lwork=64 * d, overwrite_a=1
        )
        if info:
            raise np.linalg.LinAlgError(f"dorgqr failed (info {info})")
        vectors = np.zeros((d, d))
        vectors[0, 0] = 1.0
        vectors[1:, 1:] = inner
        base = Tridiagonal(diagonal, offdiagonal)
        return cls(None, vectors, None, base)

    @property
    def rank(self) -> int:
        return self.vectors.shape[1]
