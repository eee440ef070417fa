r"""CUR and PCov-CUR selection.

CUR scores candidate j by :math:`\pi_j = \sum_{l \le k} v_{jl}^2` over the top-k
singular vectors of the residual :math:`X'` (right vectors for features, left for
samples), picks the best, and removes the picked direction from :math:`X'`. After s
picks :math:`X' = (I - QQ^T)X` (features) or :math:`X(I - QQ^T)` (samples), so one
eigendecomposition :math:`X^TX = V\,\mathrm{diag}(D)\,V^T` (:class:`RowSpace`, thin
for wide or rank-deficient X) serves every pick: in V's coordinates

- feature CUR needs the top eigenvectors of :math:`V^TC'V = D - HH^T`, H one column
  per pick (:math:`C' \leftarrow C' - aa^T/a_c`, :math:`a = C'e_c`);
- sample CUR those of :math:`D^{1/2}PD^{1/2} = D - GG^T`, :math:`G = D^{1/2}\tilde Q`
  with :math:`\tilde Q = V^TQ` the picked directions, whose vectors z give the left
  singular vectors :math:`X V D^{-1/2} z` of :math:`X'`;
- feature PCov-CUR those of :math:`\alpha(D - HH^T) + (1-\alpha)\hat g\hat g^T`
  with :math:`g = C'^{-1/2}X'^TY`, the only place :math:`C'^{-1/2}` enters. It is
  applied to the p target vectors by a rational approximation of
  :math:`x^{-1/2}` (:mod:`propmap.selection._rational`) on the interval
  :math:`[\lambda^+_{min}(C), \lambda_{max}(C)]`, which holds every non-zero
  eigenvalue of every :math:`C'` (the picks lie in X's range, so :math:`C'` is a
  compression of C to a subspace of it). Each shifted solve is
  :math:`(C'_{RR} + t)^{-1} = [(C + tE_RE_R^T)^{-1}]_{RR}` on the unpicked set R (a
  Schur complement), done by Woodbury on :math:`C + tI - tE_SE_S^T` with the s x s
  capacitance :math:`N_t = U_S\,\mathrm{diag}(D/(t(D+t)))\,U_S^T`,
  :math:`U_S = V_{S,:}`: positive definite and well conditioned although
  :math:`C'` itself is singular, and grown by one bordered Cholesky step per pick.
  Feature PCov-CUR uses the raw targets, as the reference does: since
  :math:`X'^TX_S = 0`, :math:`X'^TY' = X'^TY`, down-dated like C'.

Those top eigenvectors come from the certified shift-invert Lanczos of
:mod:`propmap.selection._spectral`, warm-started from the previous pick's vectors
and eigenvalues (which only decrease from pick to pick, so they bound the next
ones). Per pick this costs O(r·picks) instead of a d x d eigendecomposition.

CUR (not PCov-CUR, whose :math:`C'^{-1/2}` needs eigenvalues) uses, where the basis
is full, the cheaper Householder basis :math:`X^TX = VTV^T` instead (T
tridiagonal, :class:`~propmap.selection._spectral.Tridiagonal`): features need the
top eigenvectors of :math:`T - HH^T`, the same down-date; samples factor
:math:`T = LL^T` (L bidiagonal) and need those of :math:`L^TL - GG^T`,
:math:`G = L^T\tilde Q`, whose vectors y give the left singular vectors
:math:`XVL^{-T}y` of :math:`X'` (:class:`_CholeskyBasis`).

Sample PCov-CUR keeps its own route: the top left singular vectors of
:math:`[\sqrt{\alpha}X' \,|\, \sqrt{1-\alpha}\,Y']` through their
(r + p) x (r + p) Gram matrix, with :math:`Y' = Y - X\,\mathrm{lstsq}(X_S, Y_S)`; a
wide X is first replaced by its coordinates :math:`U\Sigma` in its row space (the
same residuals, scores and least squares), so no d x d matrix is formed. No n x n
matrix is formed either.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from scipy.linalg import lapack
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.utils.extmath import safe_sparse_dot

from propmap._linalg import PsdRoots, blas_threads, symmetric_eigh
from propmap.selection._base import SelectionStrategy
from propmap.selection._rational import inverse_sqrt_nodes
from propmap.selection._spectral import (
    EPS,
    THIN_SHARE,
    DiagonalPlusLowRank,
    GrowingColumns,
    NotConverged,
    RowSpace,
    Tridiagonal,
    TridiagonalPlusLowRank,
    dense_top_eigenpairs,
    top_eigenpairs,
)
from propmap.utils._pcovr_utils import gram_matrix, modified_covariance_from_gram

__all__ = ["CURStrategy", "PCovCURStrategy"]

# -- where feature PCov-CUR computes as the reference does (:class:`_ReferencePCovCUR`)
#
# The reference drops eigenvalues of C' at or below this absolute cut-off when it
# forms C'^{-1/2}.
_REFERENCE_CUTOFF = 1e-12
# A genuine eigenvalue of C this close to the cut-off is kept or dropped by it,
# and one kept makes C'^{-1/2} amplify its direction a million times, beyond
# what the rational approximation follows: the dense path instead.
_AMBIGUOUS_BAND = (1e-13, 1e-11)
# ... unless it is at the rounding level of XᵀX itself (n·ε·λ_max: each entry a
# sum of n products), where X has no such direction at all (real SOAP is rank
# deficient: rank 1,416 of 2,176 columns, a dozen rounding-level eigenvalues in
# the band). There the reference keeps or drops it by rounding, and the fast
# path takes the same cut-off; picks can then differ only where rounding decides
# them.
# the dense fallback needs d x d matrices; beyond this d it is not attempted
_DENSE_FALLBACK_LIMIT = 20_000

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


class EigenbasisGram:
    """The residual Gram matrix of sample selection, ``C' = X'ᵀX'`` with
    ``X' = X(I − QQᵀ)``, kept in the eigenbasis of the original
    ``C = XᵀX = V D Vᵀ``: ``Vᵀ C' V = P D P`` with ``P = I − Q̃Q̃ᵀ``, ``Q̃ = VᵀQ``.

    A product with C' then costs O(d·picks) instead of O(d²), which is what the
    Lanczos iterations of sample PCov-CUR spend their time on; C itself is
    diagonalised once.
    """

    def __init__(self, gram: np.ndarray) -> None:
        self.values, self.vectors = symmetric_eigh(gram)
        self.size = gram.shape[0]
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
        result = self.project(self.values[:, None] * self.project(w))
        return result[:, 0] if column else result

    def remove_direction(self, direction: np.ndarray) -> None:
        """Project the unit feature-space direction out on both sides."""
        self.projected_out.append(self.vectors.T @ direction)


# below this many entries of X a double-precision pass is as cheap as screening;
# above the second the single-precision copy (4 bytes each) is not made
SCREEN_MIN_SIZE = 2**20
SCREEN_MAX_SIZE = 2**29

# the largest set of arrays the CUR strategies hold at once: for d <= n (feature
# CUR: THIN_SHARE d <= n) XᵀX, its basis and LAPACK's copy (d x d), and for
# sample CUR a single-precision copy of X (n x d x 4 bytes) to screen its
# products; for n < d the thin SVD of X (X's copy, the right singular vectors,
# LAPACK's workspace and the contiguous basis, n x d): no d x d matrix
WIDE_COPIES, SQUARE_COPIES = 4, 3


class _GramCUR(SelectionStrategy):
    """Shared bookkeeping: the axis, the pick counter and the recompute rule.

    Each method has one strategy class per axis (features, samples): built as
    ``CURStrategy(axis, ...)`` or ``PCovCURStrategy(axis, ...)``, which make
    the class of that axis."""

    # the axis-specific classes of a method, by axis (set below)
    by_axis: dict = {}

    def __new__(cls, axis: int, *args, **kwargs):
        chosen = cls.by_axis.get(axis, cls) if "by_axis" in vars(cls) else cls
        return super().__new__(chosen)

    # whether a feature selection keeps the d x d basis for an X a little wider
    # than tall (n >= THIN_SHARE d), and a sample selection screens in float32
    square_when_nearly_square = False
    screens = False

    @classmethod
    def working_set(cls, axis: int, n_samples: int, n_features: int):
        square = cls.square_when_nearly_square and axis == 1
        nearly = n_samples >= THIN_SHARE * n_features
        if n_samples < n_features and not (square and nearly):
            return n_samples, n_features, WIDE_COPIES
        copies = SQUARE_COPIES
        size = n_samples * n_features
        if cls.screens and axis == 0 and SCREEN_MIN_SIZE <= size <= SCREEN_MAX_SIZE:
            copies += -(-n_samples // (2 * n_features))  # in d x d matrices
        return n_features, n_features, copies

    def __init__(self, axis: int, k: int, recompute_every: int, tolerance: float):
        self.axis = axis
        self.k = k
        self.recompute_every = recompute_every
        self.tolerance = tolerance

    def initialize(self, points, targets) -> None:
        # points has the candidates as rows: Xᵀ for features, X for samples
        self.X = self._oriented(points)
        self.targets = targets
        self.n_picked = 0
        self.n_dense_fallbacks = 0
        self.first_copies = _first_copies(self._tie_keys(points))
        self._prepare()
        self.scores = self._scores()

    def score_candidates(self) -> np.ndarray:
        return self.scores

    def update_after_pick(self, index: int) -> None:
        self.n_picked += 1
        self.last_pick = index
        if self.recompute_every != 0:
            self._deflate(index)
            if self.n_picked % self.recompute_every == 0:
                self.scores = self._scores()
        self.scores[index] = 0.0

    def _pi(self) -> np.ndarray:
        """The scores after the last pick (scikit-matter's ``pi_``): those the
        next pick would be made from, the last pick's set to 0."""
        return self.scores.copy()

    def _tie_keys(self, points):
        """What makes two candidates exact copies: their values."""
        return points

    @staticmethod
    def _oriented(points):
        """X from the candidates as rows (features: the candidates are Xᵀ)."""
        return points.T

    def _scores(self) -> np.ndarray:
        # exact copies of a candidate share its score exactly, so that the engine's
        # first maximum takes the lowest index of a tie, not the one rounding favours
        scores = self._compute_scores()
        return scores if self.first_copies is None else scores[self.first_copies]

    def _n_pairs(self, size: int) -> int:
        return max(1, min(self.k, size - 1 if size > 1 else 1))

    def _prepare(self) -> None:
        raise NotImplementedError

    def _deflate(self, index: int) -> None:
        raise NotImplementedError

    def _compute_scores(self) -> np.ndarray:
        raise NotImplementedError


def _first_copies(points) -> np.ndarray | None:
    """For each candidate (row of ``points``) the index of its first exact copy,
    or None when all are distinct (or ``points`` is sparse).

    Each row is reduced to one number, its product with a fixed random vector
    r, with a bound on that product's rounding (``(d + 2) ε |x|·|r|``): rows
    whose numbers lie within their bounds of each other are compared element by
    element, in runs of the sorted numbers (copies are always in one run). Two
    passes over X and no copy of it; a row-by-row hash cost ten times more.
    """
    if hasattr(points, "toarray") or points.shape[0] < 2:
        return None
    n_rows, n_columns = points.shape
    direction = np.random.default_rng(0).uniform(1.0, 2.0, n_columns)
    keys = np.asarray(points @ direction, dtype=np.float64)
    bounds = np.empty(n_rows)
    block = max(1, 2**20 // n_columns)  # |x| a block of rows at a time
    for begin in range(0, n_rows, block):
        rows = np.abs(points[begin : begin + block])
        bounds[begin : begin + block] = rows @ direction
    bounds *= 2 * (n_columns + 2) * EPS
    order = np.argsort(keys, kind="stable")
    keys, bounds = keys[order], bounds[order]
    near = np.diff(keys) <= bounds[1:] + bounds[:-1]
    if not near.any():
        return None
    copies = None
    # runs of consecutive near keys: [starts[i], ends[i]] in sorted order
    edges = np.diff(np.concatenate([[0], near.astype(np.int8), [0]]))
    for begin, stop in zip(
        np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True
    ):
        members = np.sort(order[begin : stop + 1])
        first: dict[int, list[int]] = {}
        for index in members:
            row = np.ascontiguousarray(points[index])
            same = first.setdefault(hash(row.tobytes()), [])
            original = next((j for j in same if np.array_equal(points[j], row)), None)
            if original is None:
                same.append(int(index))
                continue
            if copies is None:
                copies = np.arange(n_rows)
            copies[index] = original
    return copies


class _WarmEigenpairs:
    """Top eigenpairs of a shrinking diagonal-plus-low-rank matrix, pick after pick:
    each solve starts from the previous vectors, whose eigenvalues bound the new
    ones. Where Lanczos cannot certify convergence the dense eigh of the r x r
    matrix answers instead (counted in ``dense_fallbacks``)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.vectors: np.ndarray | None = None
        self.values: np.ndarray | None = None
        self.dense_fallbacks = 0

    def __call__(self, operator: DiagonalPlusLowRank, scale: float) -> tuple:
        try:
            values, vectors = top_eigenpairs(
                operator, self.k, self.vectors, self.values, scale
            )
        except NotConverged:
            # e.g. eigenvalues clustered beyond what one-vector Lanczos separates
            self.dense_fallbacks += 1
            values, vectors = dense_top_eigenpairs(operator, self.k)
        self.values, self.vectors = values, vectors
        return values, vectors


class _ResidualCovariance:
    """``Vᵀ C' V = B − H Hᵀ`` for the feature residual ``X' = (I − QQᵀ)X``, with
    ``B = VᵀCV`` diagonal (``diag(D)``, eigenbasis) or tridiagonal (Householder
    basis, feature CUR)."""

    def __init__(self, space: RowSpace) -> None:
        self.vectors = space.vectors
        self.tridiagonal = space.tridiagonal
        if self.tridiagonal is not None:
            self.values = self.tridiagonal.spectrum
        else:
            self.values = np.maximum(space.values, 0.0)
        self.downdates = GrowingColumns(space.rank)  # H

    @property
    def scale(self) -> float:
        """``‖C‖``, a bound of ``‖C'‖`` for every residual."""
        return float(np.abs(self.values).max(initial=0.0))

    def image(self, column: int) -> tuple[np.ndarray, np.ndarray, float]:
        """``u = Vᵀ e_c``, ``a = Vᵀ C' e_c`` and ``a_c = ‖x'_c‖²``."""
        unit = self.vectors[column]
        if self.tridiagonal is not None:
            image = self.tridiagonal.times(unit)
        else:
            image = self.values * unit
        if self.downdates:
            factor = self.downdates.matrix
            image -= factor @ (factor.T @ unit)
        return unit, image, float(unit @ image)

    def remove(self, image: np.ndarray, pivot: float) -> None:
        self.downdates.append(image / np.sqrt(pivot))

    def operator(self, mixing: float = 1.0):
        count = self.downdates.count
        if self.tridiagonal is not None:  # feature CUR only: no mixing
            return TridiagonalPlusLowRank(
                self.tridiagonal, self.downdates.matrix, -np.ones(count), count
            )
        return DiagonalPlusLowRank(
            mixing * self.values, self.downdates.matrix, np.full(count, -mixing)
        )


class _CholeskyBasis:
    r"""Sample CUR in the Householder basis ``XᵀX = V T Vᵀ``: with ``T = L Lᵀ``
    (L lower bidiagonal, LAPACK's ``dpttrf``), ``Ũ = X V L^{-T}`` has orthonormal
    columns and ``X = Ũ Lᵀ Vᵀ``, so the residual ``X' = X(I − QQᵀ)`` has
    ``X'X'ᵀ = Ũ (LᵀL − G Gᵀ) Ũᵀ`` with ``G = Lᵀ Q̃``, ``Q̃ = VᵀQ``: ``LᵀL`` is
    tridiagonal again, and an eigenvector y of ``LᵀL − GGᵀ`` gives the left
    singular vector ``X V L^{-T} y`` of X'."""

    def __init__(self, tridiagonal: Tridiagonal) -> None:
        pivots, multipliers, info = lapack.dpttrf(
            tridiagonal.diagonal, tridiagonal.offdiagonal
        )
        if info != 0:
            raise np.linalg.LinAlgError("XᵀX is not positive definite")
        self.diagonal = np.sqrt(pivots)  # of L
        self.subdiagonal = multipliers * self.diagonal[:-1]  # L[i+1, i]
        squares = self.diagonal**2
        squares[:-1] += self.subdiagonal**2
        self.product = Tridiagonal(squares, self.subdiagonal * self.diagonal[1:])

    def transposed_times(self, vectors: np.ndarray) -> np.ndarray:
        """``Lᵀ u`` for a vector u."""
        result = self.diagonal * vectors
        result[:-1] += self.subdiagonal * vectors[1:]
        return result

    def transposed_solve(self, vectors: np.ndarray) -> np.ndarray:
        """``L^{-T} y`` for the columns y of a matrix."""
        banded = np.zeros((2, self.diagonal.size))
        banded[0, 1:] = self.subdiagonal
        banded[1] = self.diagonal
        solution, info = lapack.dtbtrs(banded, vectors, uplo="U")
        if info != 0:
            raise np.linalg.LinAlgError("singular bidiagonal factor")
        return solution


_UNIT = 2.0**-24  # float32's unit roundoff


class _ScreenedProducts:
    r"""The scores :math:`\pi_i = \sum_l (x_i \cdot w_l)^2` of sample CUR, exact
    where they can be the largest, from a single-precision pass over X.

    :math:`\hat s = \mathrm{fl}_{32}(X_{32} w_{32})` differs from
    :math:`x_i \cdot w` by at most
    :math:`(2u + u^2 + \gamma_d (1 + u)^2) \sum_j |x_{ij}||w_j|
    \le c\,\lVert x_i\rVert \lVert w\rVert` (u = 2⁻²⁴, rounding X and w, then any
    order of summation with :math:`\gamma_d = du/(1 - du)`), plus
    :math:`2^{-149}(d + \lVert x_i\rVert_1 + \lVert w\rVert_1)` for gradual
    underflow (an X or w beyond float32's range is not screened). Every row whose
    upper bound reaches the largest
    lower bound is recomputed in double precision, with the first of its exact
    copies; the others keep their single-precision scores, which are below that
    maximum. The argmax is then the one of the exact scores, at half the memory
    traffic of a double-precision pass.
    """

    def __init__(self, X: np.ndarray, single: np.ndarray) -> None:
        self.X, self.single = X, single
        self.d = X.shape[1]
        # no n x d temporaries: ‖x_i‖₂ by einsum, ‖x_i‖₁ ≤ √d ‖x_i‖₂
        self.row_norms = np.sqrt(np.einsum("ij,ij->i", X, X))
        self.row_sums = np.sqrt(self.d) * self.row_norms
        gamma = self.d * _UNIT / (1 - self.d * _UNIT)
        self.factor = (2 * _UNIT + _UNIT**2 + gamma * (1 + _UNIT) ** 2) * (1 + 1e-6)

    @classmethod
    def of(cls, X: np.ndarray) -> _ScreenedProducts | None:
        """The screen of X, or None where X is beyond float32's range."""
        with np.errstate(over="ignore"):
            single = X.astype(np.float32)
        return cls(X, single) if np.all(np.isfinite(single)) else None

    def bounds(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``|X w|`` from the single-precision pass and a bound of its error (n x k
        each), or None where w or the products are beyond float32's range."""
        with np.errstate(over="ignore", invalid="ignore"):
            single = weights.astype(np.float32)
            if not np.all(np.isfinite(single)):
                return None
            approximate = np.abs((self.single @ single).astype(np.float64))
        if not np.all(np.isfinite(approximate)):
            return None
        bound = self.factor * np.outer(self.row_norms, np.linalg.norm(weights, axis=0))
        underflow = self.d + self.row_sums[:, None] + np.abs(weights).sum(axis=0)
        bound += 2.0**-149 * (1 + 1e-6) * underflow
        return approximate, bound

    def scores(self, weights: np.ndarray, first_copies) -> np.ndarray:
        screened = self.bounds(weights)
        if screened is None:
            return ((self.X @ weights) ** 2).sum(axis=1)
        approximate, bound = screened
        lower = (np.maximum(approximate - bound, 0.0) ** 2).sum(axis=1)
        upper = ((approximate + bound) ** 2).sum(axis=1)
        contenders = np.flatnonzero(upper >= lower.max())
        if first_copies is not None:
            contenders = np.union1d(contenders, first_copies[contenders])
        scores = (approximate**2).sum(axis=1)
        scores[contenders] = ((self.X[contenders] @ weights) ** 2).sum(axis=1)
        return scores


class CURStrategy(_GramCUR):
    """Deterministic CUR with orthogonalisation, exact and fast (module docstring).

    Parameters
    ----------
    axis : {0, 1}
        0 picks samples (rows), 1 features (columns); the object made is of
        that axis's class (:class:`SampleCURStrategy` or
        :class:`FeatureCURStrategy`).
    *args, **kwargs
        ``k``, ``recompute_every`` and ``tolerance``, as the selectors'
        parameters of those names (:class:`propmap.feature_selection.CUR`).
    """

    square_when_nearly_square = True
    screens = True

    def fitted_attributes(self) -> dict:
        return {"n_dense_fallbacks_": self.eigen.dense_fallbacks, "pi_": self._pi()}


class FeatureCURStrategy(CURStrategy):
    """CUR of features: the residual covariance down-dated pick after pick."""

    def _prepare(self) -> None:
        # CUR needs no function of XᵀX, so the Householder basis (tridiagonal
        # T = VᵀXᵀXV) serves: cheaper than eigenvectors
        space = RowSpace.of(self.X, tridiagonal=True)
        self.residual = _ResidualCovariance(space)
        self.scale = self.residual.scale
        self.eigen = _WarmEigenpairs(self._n_pairs(space.rank))

    def _deflate(self, index: int) -> None:
        _, image, pivot = self.residual.image(index)
        if np.sqrt(max(pivot, 0.0)) > self.tolerance:
            self.residual.remove(image, pivot)

    def _compute_scores(self) -> np.ndarray:
        if not self.scale > 0:  # X = 0: nothing to rank
            return np.zeros(self.X.shape[1])
        _, coordinates = self.eigen(self.residual.operator(), self.scale)
        return ((self.residual.vectors @ coordinates) ** 2).sum(axis=1)


class SampleCURStrategy(CURStrategy):
    """CUR of samples: the picked rows' directions projected out of X, the
    scores screened in single precision where that pays."""

    @staticmethod
    def _oriented(points):
        return points

    def _prepare(self) -> None:
        # the Householder basis (tridiagonal T = VᵀXᵀXV) where T = LLᵀ is
        # regular (X no wider than tall), else the eigenbasis
        n, d = self.X.shape
        space = RowSpace.of(self.X, tridiagonal=n >= d)
        self.cholesky = None
        if space.tridiagonal is not None:
            try:
                cholesky = _CholeskyBasis(space.tridiagonal)
            except np.linalg.LinAlgError:
                cholesky = None
            spectrum = None if cholesky is None else cholesky.product.spectrum
            if spectrum is not None and spectrum[0] > 30 * EPS * spectrum[-1]:
                self.cholesky = cholesky
            else:
                # XᵀX of full rank in name but singular to rounding: directions at
                # rounding level must be dropped, which needs its eigenvectors
                space = RowSpace.of(self.X)
        if self.cholesky is not None:
            self.vectors = space.vectors
            self.scale = self.cholesky.product.norm
            self.left = None
            self._start_directions(space.rank)
            return
        # samples: the directions of X's row space that are above rounding
        values = space.values
        kept = values > 30 * EPS * values.max(initial=0.0)
        self.values = values[kept]
        self.root_values = np.sqrt(self.values)
        self.vectors = space.vectors[:, kept]
        self.left = None if space.left is None else space.left[:, kept]
        self.scale = float(self.values.max(initial=0.0))
        self._start_directions(self.values.size)

    def _start_screen(self) -> None:
        """Screen the products with X in single precision where that pays: a dense,
        large X, and scores recomputed after every pick (only their maximum is
        used then)."""
        self.screen = None
        X = self.X
        if (
            self.recompute_every == 1
            and isinstance(X, np.ndarray)
            and X.size >= SCREEN_MIN_SIZE
            and X.size <= SCREEN_MAX_SIZE
            and self.left is None
        ):
            self.screen = _ScreenedProducts.of(X)

    def _start_directions(self, rank: int) -> None:
        self.directions = GrowingColumns(rank)  # Q̃, orthonormal
        self.scaled = GrowingColumns(rank)  # G = Lᵀ Q̃ or D^{1/2} Q̃
        self.eigen = _WarmEigenpairs(self._n_pairs(rank))
        self._start_screen()

    def _deflate(self, index: int) -> None:
        row = self.X[[index]]
        row = np.asarray(row.toarray() if hasattr(row, "toarray") else row, float)
        coordinates = (row @ self.vectors).ravel()
        if self.directions:
            basis = self.directions.matrix
            for _ in range(2):  # twice is enough (Kahan–Parlett)
                coordinates -= basis @ (basis.T @ coordinates)
        norm = np.linalg.norm(coordinates)
        if norm > self.tolerance:
            unit = coordinates / norm
            self.directions.append(unit)
            if self.cholesky is not None:
                self.scaled.append(self.cholesky.transposed_times(unit))
            else:
                self.scaled.append(self.root_values * unit)

    def _compute_scores(self) -> np.ndarray:
        if not self.scale > 0:  # X = 0: nothing to rank
            return np.zeros(self.X.shape[0])
        count = self.scaled.count
        if self.cholesky is not None:
            operator = TridiagonalPlusLowRank(
                self.cholesky.product, self.scaled.matrix, -np.ones(count), count
            )
        else:
            operator = DiagonalPlusLowRank(
                self.values, self.scaled.matrix, -np.ones(count)
            )
        _, coordinates = self.eigen(operator, self.scale)
        if self.left is not None:
            left = self.left @ coordinates
        else:
            if self.cholesky is not None:
                weights = self.vectors @ self.cholesky.transposed_solve(coordinates)
            else:
                weights = self.vectors @ (coordinates / self.root_values[:, None])
            if self.screen is not None:
                self.screened_weights = weights
                return self.screen.scores(weights, self.first_copies)
            left = np.asarray(safe_sparse_dot(self.X, weights))
        return (left**2).sum(axis=1)

    def _pi(self) -> np.ndarray:
        weights = getattr(self, "screened_weights", None)
        if self.screen is None or weights is None:
            return super()._pi()
        # the screen left the non-contenders in single precision: redo them
        scores = ((self.X @ weights) ** 2).sum(axis=1)
        if self.first_copies is not None:
            scores = scores[self.first_copies]
        if self.n_picked:
            scores[self.last_pick] = 0.0
        return scores


CURStrategy.by_axis = {1: FeatureCURStrategy, 0: SampleCURStrategy}


class _WhitenedTargets:
    r"""``ĝ = Vᵀ C'^{-1/2} X'ᵀY`` pick after pick, by the rational approximation and
    Woodbury on the unpicked set (module docstring).

    Holds ``b̃ = Vᵀ X'ᵀY`` (down-dated with C'), the picked rows ``U_S`` of V and,
    per pole t, the inverse Cholesky factor ``G_t`` of the capacitance
    ``N_t = U_S diag(Φ_t) U_Sᵀ`` (``G_t N_t G_tᵀ = I``).
    """

    def __init__(self, values: np.ndarray, coordinates: np.ndarray) -> None:
        nonzero = values > 0
        self.projections = coordinates  # b̃, r x p
        self.projections[~nonzero] = 0.0
        lower, upper = float(values[nonzero].min()), float(values.max())
        poles, weights = inverse_sqrt_nodes(lower, upper)
        self.poles, self.weights = poles, weights
        self.resolvents = 1.0 / (values[None, :] + poles[:, None])  # Ψ_t = 1/(D + t)
        self.capacities = values[None, :] * self.resolvents / poles[:, None]  # Φ_t
        self.weighted = weights[:, None] * self.resolvents
        self.inverse_sqrt = self.weighted.sum(axis=0)  # r(D) ≈ D^{-1/2}
        self.rows = np.empty((16, values.size))  # U_S
        self.factors = np.zeros((poles.size, 16, 16))  # G_t
        self.count = 0

    def whitened(self) -> np.ndarray:
        b = self.projections
        result = self.inverse_sqrt[:, None] * b
        s = self.count
        if not s:
            return result
        rows, factors = self.rows[:s], self.factors[:, :s, :s]
        n_poles, n_targets = self.poles.size, b.shape[1]
        # z_t = U_S Ψ_t b̃ and c_t = N_t⁻¹ z_t = G_tᵀ G_t z_t, all poles at once
        scaled = self.resolvents[:, :, None] * b[None, :, :]  # N r p
        z = np.einsum("sr,nrp->nsp", rows, scaled)
        c = np.matmul(factors.transpose(0, 2, 1), np.matmul(factors, z))
        # ĝ' = Σ_t w_t Ψ_t (b̃ + U_Sᵀ c_t)
        back = (rows.T @ c.transpose(1, 0, 2).reshape(s, n_poles * n_targets)).reshape(
            -1, n_poles, n_targets
        )
        result += np.einsum("nr,rnp->rp", self.weighted, back)
        # the picked entries of g are zero: g_S = U_S ĝ' + Σ_t (w_t/t)(I − U_S U_Sᵀ) c_t
        summed = np.einsum("n,nsp->sp", self.weights / self.poles, c)
        picked = rows @ result + summed - rows @ (rows.T @ summed)
        result -= rows.T @ picked
        return result

    def remove(self, unit: np.ndarray, image: np.ndarray, pivot: float) -> bool:
        """Down-date for a picked column; False if a capacitance lost definiteness
        (the column is numerically in the span of the earlier picks)."""
        s = self.count
        if s == self.rows.shape[0]:
            self.rows = np.vstack([self.rows, np.empty_like(self.rows)])
            grown = np.zeros((self.poles.size, 2 * s, 2 * s))
            grown[:, :s, :s] = self.factors
            self.factors = grown
        self.rows[s] = unit
        border = (self.capacities * unit[None, :]) @ self.rows[: s + 1].T  # N x (s+1)
        if s:
            factors = self.factors[:, :s, :s]
            projected = np.matmul(factors, border[:, :s, None])[:, :, 0]
            schur = border[:, s] - (projected**2).sum(axis=1)
        else:
            schur = border[:, 0].copy()
        if not np.all(schur > 100 * EPS * border[:, s]):
            return False
        delta = np.sqrt(schur)
        if s:
            self.factors[:, s, :s] = (
                -np.matmul(projected[:, None, :], factors)[:, 0, :] / delta[:, None]
            )
        self.factors[:, s, s] = 1.0 / delta
        self.count += 1
        self.projections -= np.outer(image, unit @ self.projections) / pivot
        return True


class PCovCURStrategy(_GramCUR):
    """PCov-CUR: CUR on the PCovR-modified covariance (features) or Gram matrix
    (samples), with the targets' unexplained part carried along.

    Parameters
    ----------
    axis : {0, 1}
        0 picks samples (rows), 1 features (columns); the object made is of
        that axis's class.
    k : int
        Number of singular vectors whose squared components make the score.
    recompute_every : int
        Orthogonalise after every pick and recompute the scores every this many
        picks; 0 ranks once by the initial scores.
    tolerance : float
        A picked direction shorter than this is not projected out.
    mixing : float
        The PCovR mixing α in [0, 1).
    """

    def __init__(self, axis, k, recompute_every, tolerance, mixing: float):
        super().__init__(axis, k, recompute_every, tolerance)
        self.mixing = mixing


class _ReferencePCovCUR:
    """Feature PCov-CUR computed as the reference does: C' and X'ᵀY as d x d
    and d x p arrays, deflated pick after pick, and a full eigendecomposition of
    C' (eigenvalues at or below :data:`_REFERENCE_CUTOFF` dropped) and of the
    modified covariance per pick.

    The one place propmap follows the reference's rounding instead of its maths.
    :class:`FeaturePCovCURStrategy` takes it (each use counted in
    ``n_dense_fallbacks_``) from the start where C has a genuine eigenvalue in
    :data:`_AMBIGUOUS_BAND` (:func:`_ambiguous_spectrum`), and from the pick on
    where a capacitance of the rational solves loses definiteness (the pick is
    numerically in the span of the earlier ones); never for d above
    :data:`_DENSE_FALLBACK_LIMIT`.
    """

    def __init__(self, gram: np.ndarray, xt_targets: np.ndarray, mixing: float):
        self.gram, self.xt_targets, self.mixing = gram, xt_targets, mixing

    def deflate(self, index: int, tolerance: float) -> None:
        gram, xt_targets = self.gram, self.xt_targets
        pivot = gram[index, index]
        if np.sqrt(max(pivot, 0.0)) > tolerance:
            scaled = gram[:, index] / pivot
            xt_targets -= np.outer(scaled, xt_targets[index])
            gram -= np.outer(gram[:, index], scaled)

    def scores(self, k: int) -> np.ndarray:
        roots = PsdRoots.of(self.gram, _REFERENCE_CUTOFF)
        modified = modified_covariance_from_gram(
            self.gram, roots, self.xt_targets, self.mixing
        )
        _, vectors = top_eigenvectors(modified, k)
        return (vectors**2).sum(axis=1)


def _ambiguous_spectrum(values: np.ndarray, n_samples: int) -> bool:
    """Whether C = XᵀX has an eigenvalue that the reference's cut-off decides:
    in :data:`_AMBIGUOUS_BAND` and above the rounding level n·ε·λ_max of the
    product (below it X has no such direction, and rounding decides for the
    reference as for propmap)."""
    largest = float(values.max(initial=0.0))
    rounding = n_samples * EPS * largest
    low, high = max(_AMBIGUOUS_BAND[0], rounding), _AMBIGUOUS_BAND[1]
    return bool(np.any((values >= low) & (values <= high)))


class FeaturePCovCURStrategy(PCovCURStrategy):
    """PCov-CUR of features: the fast exact path, or the reference's dense one
    (:class:`_ReferencePCovCUR`) where the fast one cannot follow it."""

    def _prepare(self) -> None:
        space = RowSpace.of(self.X)
        self.dense = None
        self.eigen = _WarmEigenpairs(self._n_pairs(space.rank))
        xt_targets = np.asarray(safe_sparse_dot(self.X.T, self.targets), np.float64)
        values = space.values
        if (
            self.mixing < 1
            and self.X.shape[1] <= _DENSE_FALLBACK_LIMIT
            and _ambiguous_spectrum(values, self.X.shape[0])
        ):
            self.dense = _ReferencePCovCUR(gram_matrix(self.X), xt_targets, self.mixing)
            return
        largest = float(values.max(initial=0.0))
        cutoff = max(_REFERENCE_CUTOFF, 30 * EPS * largest)
        space.values = np.where(values > cutoff, values, 0.0)
        self.residual = _ResidualCovariance(space)
        self.scale = self.residual.scale
        self.whitening = None
        if self.mixing < 1 and self.scale > 0:
            if space.left is not None:  # Vᵀ XᵀY = Σ UᵀY, without the rounding of V
                coordinates = np.sqrt(values)[:, None] * (space.left.T @ self.targets)
            else:
                coordinates = space.vectors.T @ xt_targets
            self.whitening = _WhitenedTargets(self.residual.values, coordinates)

    def _leave_fast_path(self) -> None:
        """Continue on the dense path from the state of the fast one."""
        residual = self.residual
        vectors = residual.vectors
        core = np.diag(residual.values)
        if residual.downdates:
            core -= residual.downdates.matrix @ residual.downdates.matrix.T
        self.dense = _ReferencePCovCUR(
            vectors @ core @ vectors.T,
            vectors @ self.whitening.projections,
            self.mixing,
        )

    def _deflate(self, index: int) -> None:
        if self.dense is not None:
            self.dense.deflate(index, self.tolerance)
            return
        unit, image, pivot = self.residual.image(index)
        if not np.sqrt(max(pivot, 0.0)) > self.tolerance:
            return
        if self.whitening is not None and not self.whitening.remove(unit, image, pivot):
            if self.X.shape[1] <= _DENSE_FALLBACK_LIMIT:
                self._leave_fast_path()
                return self._deflate(index)
            warnings.warn(
                "PCov-CUR: a picked feature is numerically in the span of the "
                "earlier picks; its residual is dropped from the rational solves.",
                RuntimeWarning,
                stacklevel=2,
            )
        self.residual.remove(image, pivot)

    def _compute_scores(self) -> np.ndarray:
        if self.dense is not None:
            self.n_dense_fallbacks += 1
            return self.dense.scores(self._n_pairs(self.X.shape[1]))
        if not self.scale > 0:
            return np.zeros(self.X.shape[1])
        mixing, residual = self.mixing, self.residual
        operator = residual.operator(mixing)
        scale = mixing * self.scale
        if self.whitening is not None:
            whitened = self.whitening.whitened()
            if mixing == 0.0:
                # A = ĝĝᵀ: its left singular vectors (beyond p the eigenvalues are
                # all 0, and any vectors would do, the reference's are arbitrary)
                vectors, _, _ = np.linalg.svd(whitened, full_matrices=False)
                coordinates = vectors[:, : self.eigen.k]
                return ((residual.vectors @ coordinates) ** 2).sum(axis=1)
            operator = DiagonalPlusLowRank(
                operator.diagonal,
                np.hstack([operator.columns, whitened]),
                np.concatenate(
                    [operator.weights, np.full(whitened.shape[1], 1.0 - mixing)]
                ),
            )
            scale += (1.0 - mixing) * float((whitened**2).sum())
        _, coordinates = self.eigen(operator, scale)
        return ((residual.vectors @ coordinates) ** 2).sum(axis=1)

    def fitted_attributes(self) -> dict:
        fallbacks = self.eigen.dense_fallbacks + self.n_dense_fallbacks
        return {"n_dense_fallbacks_": fallbacks, "pi_": self._pi()}


class SamplePCovCURStrategy(PCovCURStrategy):
    """PCov-CUR of samples: the picked rows' directions projected out, the
    targets' least squares on the picks carried along."""

    @staticmethod
    def _oriented(points):
        return points

    def _tie_keys(self, points):
        # two samples are copies only if their targets are equal too
        if not hasattr(points, "toarray"):
            return np.hstack([points, self.targets])
        return points

    def _prepare(self) -> None:
        X = self.X
        if X.shape[0] < X.shape[1]:
            # a wide X by its coordinates U Σ in its row space: the same residual
            # rows, scores and least squares, and no d x d matrix
            space = RowSpace.of(X)
            X = self.X = space.left * np.sqrt(space.values)
        self.start_vector = None
        self.directions = GrowingColumns(X.shape[1])  # Q, rows of X'
        self.projected = GrowingColumns(X.shape[0])  # XQ
        self.pending: np.ndarray | None = None  # a direction whose X q is not made
        self.xt_targets = np.asarray(safe_sparse_dot(X.T, self.targets), np.float64)
        self.eigen_gram = EigenbasisGram(gram_matrix(X))
        self.xt_targets_basis = self.eigen_gram.vectors.T @ self.xt_targets
        self.targets_norm = self.targets.T @ self.targets
        self.coefficients = np.zeros_like(self.xt_targets)
        self.picked: list[int] = []

    def _deflate(self, index: int) -> None:
        unit = self._take_sample_direction(index)
        if unit is not None:
            self.eigen_gram.remove_direction(unit)
        self.picked.append(index)
        # Y' = Y − X lstsq(X_S, Y_S), with the original rows and targets
        rows = self.X[self.picked]
        rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)
        self.coefficients = np.linalg.lstsq(
            rows, self.targets[self.picked], rcond=self.tolerance
        )[0]

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

    def _compute_scores(self) -> np.ndarray:
        """Top left singular vectors of ``A = [√α X' | √(1−α) Y']`` through AᵀA,
        written in the eigenbasis of XᵀX (plus the p target coordinates)."""
        mixing, eigen = self.mixing, self.eigen_gram
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
        values, coordinates = top_eigenvectors(
            matrix, self._n_pairs(total), self.start_vector
        )
        self.start_vector = coordinates[:, 0]
        feature_part = eigen.vectors @ coordinates[:size]
        target_part = coordinates[size:]
        left = np.sqrt(mixing) * self._residual_times(feature_part)
        left += np.sqrt(1.0 - mixing) * (
            self.targets @ target_part
            - np.asarray(safe_sparse_dot(self.X, self.coefficients @ target_part))
        )
        scale = np.where(values > 0, values, np.inf)
        return (left**2 / scale).sum(axis=1)

    def fitted_attributes(self) -> dict:
        return {"pi_": self._pi()}


PCovCURStrategy.by_axis = {1: FeaturePCovCURStrategy, 0: SamplePCovCURStrategy}
