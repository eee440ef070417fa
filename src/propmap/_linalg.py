"""Shared numerics: truncated symmetric eigensolvers, the sign convention and
pseudo-inverse square roots.

Every decomposition in propmap goes through :func:`truncated_eigh`, so the solver
policy, the sign convention and the treatment of tiny eigenvalues are written once.

Conventions
-----------
- Eigenvalues are returned in decreasing order.
- Eigenvector signs follow scikit-learn's ``svd_flip``: the largest-magnitude entry
  of each vector is positive (the first one on a tie).
- Eigenvalues at or below ``tol`` have their (inverse) square root replaced by 0,
  which silently drops that direction instead of dividing by ~0.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from numbers import Integral
from typing import Literal

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.utils import check_random_state
from sklearn.utils.extmath import randomized_svd

Solver = Literal["full", "arpack", "randomized"]

__all__ = [
    "PCovPath",
    "PsdRoots",
    "blas_threads",
    "flip_signs",
    "inverse_sqrt_or_zero",
    "largest_entry_signs",
    "permute_rows",
    "resolve_solver",
    "row_space",
    "solve_penalised",
    "sqrt_or_zero",
    "symmetric_eigh",
    "truncated_eigh",
]


def largest_entry_signs(vectors: np.ndarray) -> np.ndarray:
    """The sign of the largest-magnitude entry of each column (the first on a tie;
    +1 for an all-zero column)."""
    if vectors.size == 0:
        return np.ones(vectors.shape[1])
    rows = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[rows, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return signs


def flip_signs(vectors: np.ndarray) -> np.ndarray:
    """Make the largest-magnitude entry of every column positive, in place.

    This is the convention of scikit-learn's ``svd_flip`` for left singular
    vectors, so eigenvectors match those of PCA and of scikit-matter.
    """
    vectors *= largest_entry_signs(vectors)
    return vectors


def resolve_solver(
    solver: str, shape: tuple[int, int], n_components: int | float | None
) -> Solver:
    """Turn ``"auto"`` into a concrete solver, with the same policy as PCA.

    Small problems (largest dimension <= 500) and fractional ``n_components`` use the
    exact solver; otherwise, if fewer than 80% of the components are wanted, the
    randomized one.
    """
    if solver != "auto":
        return solver  # type: ignore[return-value]
    smallest = min(shape)
    if max(shape) <= 500 or n_components is None:
        return "full"
    if isinstance(n_components, Integral) and 1 <= n_components < 0.8 * smallest:
        return "randomized"
    return "full"


def symmetric_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All eigenpairs of a symmetric matrix, largest first, signs fixed."""
    # numpy's eigh is LAPACK's divide-and-conquer syevd: the fastest for all pairs
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    eigenvalues = eigenvalues[::-1].copy()
    eigenvectors = np.ascontiguousarray(eigenvectors[:, ::-1])
    return eigenvalues, flip_signs(eigenvectors)


def truncated_eigh(
    matrix: np.ndarray,
    n_components: int,
    *,
    solver: Solver = "full",
    tol: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
    iterated_power: int | str = "auto",
    overwrite: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_components`` largest eigenpairs of a symmetric matrix.

    Parameters
    ----------
    matrix : ndarray of shape (n, n)
        Symmetric matrix; only its values are used.
    n_components : int
        Number of eigenpairs, ``1 <= n_components <= n`` (``< n`` for arpack).
    solver : {"full", "arpack", "randomized"}, default="full"
        ``"full"`` is LAPACK's ``syevr`` restricted to the wanted index range;
        ``"arpack"`` is Lanczos iteration (:func:`scipy.sparse.linalg.eigsh`);
        ``"randomized"`` is the randomized range finder of Halko et al.
    tol : float, default=0.0
        Convergence tolerance for arpack.
    random_state : int, RandomState instance or None, default=None
        Seeds arpack's starting vector and the randomized range finder.
    iterated_power : int or "auto", default="auto"
        Power iterations for the randomized solver.
    overwrite : bool, default=False
        Let the ``"full"`` solver use ``matrix`` as its workspace (it is destroyed),
        which saves one n x n copy; the other solvers never modify it.

    Returns
    -------
    eigenvalues : ndarray of shape (n_components,)
        Decreasing.
    eigenvectors : ndarray of shape (n, n_components)
        Orthonormal columns with the :func:`flip_signs` convention.
    """
    size = matrix.shape[0]
    if solver == "full":
        if n_components >= size:
            return symmetric_eigh(matrix)
        eigenvalues, eigenvectors = scipy.linalg.eigh(
            matrix,
            subset_by_index=(size - n_components, size - 1),
            check_finite=False,
            overwrite_a=overwrite,
        )
    elif solver == "arpack":
        start = check_random_state(random_state).uniform(-1, 1, size)
        eigenvalues, eigenvectors = eigsh(
            matrix, k=n_components, which="LA", tol=tol, v0=start
        )
    elif solver == "randomized":
        _, eigenvalues, right_vectors = randomized_svd(
            matrix,
            n_components=n_components,
            n_iter=iterated_power,
            flip_sign=False,
            random_state=check_random_state(random_state),
        )
        # The right vectors have had one more multiplication by the matrix than
        # the left ones, so they are the more accurate eigenvectors. Largest first.
        return eigenvalues, flip_signs(np.array(right_vectors.T))
    else:
        raise ValueError(
            f"solver={solver!r} is not supported; use 'full', 'arpack' or 'randomized'."
        )
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], flip_signs(np.array(eigenvectors[:, order]))


def sqrt_or_zero(values: np.ndarray, tol: float) -> np.ndarray:
    """``sqrt(v)`` where ``v > tol``, else 0."""
    values = np.asarray(values)
    kept = values > tol
    out = np.zeros_like(values)
    out[kept] = np.sqrt(values[kept])
    return out


def inverse_sqrt_or_zero(values: np.ndarray, tol: float) -> np.ndarray:
    """``1 / sqrt(v)`` where ``v > tol``, else 0 (the pseudo-inverse square root)."""
    values = np.asarray(values)
    kept = values > tol
    out = np.zeros_like(values)
    out[kept] = 1.0 / np.sqrt(values[kept])
    return out


class PsdRoots:
    """Pseudo-inverse square root of a symmetric PSD matrix, kept in factored form
    ``V diag(λ^{-1/2}) Vᵀ`` over the eigenvalues above ``tol``.

    Keeping the factors instead of the d x d product lets callers apply
    ``A^{-1/2}`` to a thin matrix in O(d k p) instead of forming it in O(d³).

    Parameters
    ----------
    eigenvalues : ndarray of shape (k,)
        Eigenvalues of the matrix (any order).
    eigenvectors : ndarray of shape (d, k)
        The matching orthonormal eigenvectors.
    tol : float
        Eigenvalues at or below ``tol`` are treated as zero.

    See Also
    --------
    PsdRoots.of : build from the matrix itself.
    """

    def __init__(
        self, eigenvalues: np.ndarray, eigenvectors: np.ndarray, tol: float
    ) -> None:
        kept = eigenvalues > tol
        self.eigenvalues = eigenvalues[kept]
        self.eigenvectors = eigenvectors[:, kept]
        self.sqrt_values = np.sqrt(self.eigenvalues)
        self.rank = int(kept.sum())

    @classmethod
    def of(cls, matrix: np.ndarray, tol: float) -> PsdRoots:
        """Roots of a symmetric PSD matrix such as ``XᵀX``, from all its eigenpairs."""
        return cls(*symmetric_eigh(matrix), tol)

    def inverse_sqrt_dot(self, other: np.ndarray) -> np.ndarray:
        """``A^{-1/2} @ other``."""
        return self.eigenvectors @ (
            (self.eigenvectors.T @ other) / self.sqrt_values[:, None]
        )

    def inverse_sqrt(self) -> np.ndarray:
        """``A^{-1/2}`` as a dense matrix."""
        return (self.eigenvectors / self.sqrt_values) @ self.eigenvectors.T


# largest order for which OpenBLAS's multithreaded Cholesky is used (tested to 12,000)
_THREADED_CHOLESKY_LIMIT = 8192


@functools.cache
def _thread_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


# names in a loaded library's path that mark a BLAS; only OpenBLAS is set
# directly (OPENBLAS_CALLS), any other makes blas_threads use threadpoolctl
_BLAS_NAMES = ("openblas", "mkl", "blis", "flexiblas", "libblas", "libcblas")
# OpenBLAS's (get, set) thread functions, as its builds name them (numpy's
# and scipy's wheels prefix them and mark 64-bit integers with a suffix)
OPENBLAS_CALLS = tuple(
    (f"{prefix}_get_num_threads{suffix}", f"{prefix}_set_num_threads{suffix}")
    for prefix in ("scipy_openblas", "openblas")
    for suffix in ("64_", "")
)


@functools.cache
def _openblas_threads() -> tuple | None:
    """(get, set) of the thread count of every BLAS loaded in this process, when
    all of them are OpenBLAS builds that export those calls (found in
    /proc/self/maps, Linux); None otherwise. This is what threadpoolctl finds
    too, in about 3 ms instead of the 15-20 ms its search of every loaded
    library takes (it resolves each one's real path): a third of a small
    selection's time."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as stream:
            paths = {line.split(maxsplit=5)[-1].strip() for line in stream}
    except OSError:
        return None
    return openblas_calls(paths)


def openblas_calls(paths) -> tuple | None:
    """(get, set) of the thread count of each BLAS among the loaded libraries
    ``paths``; None when one of them is not an OpenBLAS that exports them."""
    import ctypes

    blas = sorted(
        path
        for path in set(paths)
        if ".so" in path
        and any(name in os.path.basename(path).lower() for name in _BLAS_NAMES)
    )
    calls = []
    for path in blas:
        if "openblas" not in os.path.basename(path).lower():
            return None
        try:
            library = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:
            return None
        found = [
            (getattr(library, get), getattr(library, set_))
            for get, set_ in OPENBLAS_CALLS
            if hasattr(library, get) and hasattr(library, set_)
        ]
        if not found:
            return None
        calls.append(found[0])
    return tuple(calls) or None


@contextlib.contextmanager
def blas_threads(limit: int | None):
    """Run the block with at most ``limit`` BLAS threads (None: unchanged)."""
    if limit is None or (limit == 1 and _one_thread_by_environment()):
        yield
        return
    calls = _openblas_threads()
    if calls is None:
        # (threadpoolctl's search of the loaded libraries: 15-20 ms once)
        with _thread_controller().limit(limits=limit, user_api="blas"):
            yield
        return
    before = [get() for get, _ in calls]
    try:
        for (_, set_), count in zip(calls, before, strict=True):
            set_(min(limit, count))
        yield
    finally:
        for (_, set_), count in zip(calls, before, strict=True):
            set_(count)


def _one_thread_by_environment() -> bool:
    """Whether the environment started BLAS with one thread already (the
    variables OpenBLAS reads, in its order)."""
    for variable in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable)
        if value is not None:
            return value.strip() == "1"
    return False


def solve_penalised(
    matrix: np.ndarray, rhs: np.ndarray, alpha: float, warn: bool = True
) -> np.ndarray:
    """Solve ``(matrix + alpha I) z = rhs`` for a symmetric PSD ``matrix``.

    One n x n copy is made and factorised in place (Cholesky); ``matrix`` is left
    unchanged. When the system is not positive definite, the least-squares solution
    is returned instead, with a warning (as scikit-learn's kernel ridge does) unless
    ``warn=False``: for a Gram matrix ``XXᵀ``, PSD by construction, a failed
    Cholesky only means rounding on a rank-deficient matrix.
    """

    def penalised() -> np.ndarray:
        # a plain copy; its transpose is the Fortran-ordered array LAPACK factorises
        # in place (the same matrix, as it is symmetric)
        system = np.array(matrix, dtype=np.float64, order="C", copy=True)
        system.flat[:: system.shape[0] + 1] += alpha
        return system.T

    size = matrix.shape[0]
    # OpenBLAS's threaded Cholesky (dpotrf_*_parallel) crashes with a segmentation
    # fault on large matrices (n = 20,000 here, with 2 threads; see OpenBLAS issues
    # #1413 and #2821); one thread is safe. Below the limit threads are kept.
    threads = None if size <= _THREADED_CHOLESKY_LIMIT else 1
    try:
        with blas_threads(threads):
            factor = scipy.linalg.cho_factor(
                penalised(), lower=True, overwrite_a=True, check_finite=False
            )
        return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
    except (scipy.linalg.LinAlgError, ValueError):
        if warn:
            warnings.warn(
                f"The penalised kernel (alpha={alpha:g}) is not positive definite; "
                "using the least-squares solution instead. Is the kernel positive "
                "semi-definite?",
                stacklevel=4,
            )
        return scipy.linalg.lstsq(penalised(), rhs, check_finite=False)[0]


class PCovPath:
    r"""Held-out losses of PCov(R) models for many mixings α and ridge penalties λ
    from one α- and λ-independent set-up.

    A PCovR (or Kernel PCovR, or Nyström PCovR) fit with a ridge regressor depends
    on the training data only through the eigendecomposition of its Gram matrix
    :math:`K = A\,\mathrm{diag}(g)\,A^T` and the targets' coordinates
    :math:`A^TY`. In that basis the ridge prediction is
    :math:`\hat{Y} = A\,\mathrm{diag}(g/(g+λ))\,A^TY` and the modified Gram matrix
    :math:`\tilde{K} = αK + (1-α)\hat{Y}\hat{Y}^T` is a diagonal plus a rank-p
    term, whose top eigenpairs cost O(r p) per Lanczos product. New points enter
    only through their cross-Gram coordinates :math:`G_v = K_{vN} A` and their
    squared norm :math:`\mathrm{Tr}(K_{vv})`, so every (α, λ) costs O(n_v r c)
    instead of a refit.

    The losses are those of the estimators' ``score``: the prediction loss
    ``‖Y_v − T_v P_TY‖² / ‖Y_v‖²`` and the reconstruction loss
    ``(Tr K_vv − 2 Tr(K_vN w) + Tr(wᵀ K w)) / Tr K_vv`` with
    ``w = T (TᵀT)⁺ T_vᵀ``, i.e. ``‖X_v − T_v P_TX‖² / ‖X_v‖²`` for a linear kernel.

    Build with :meth:`from_kernel` (sample space, any kernel) or
    :meth:`from_features` (feature space, or Nyström features).

    Parameters
    ----------
    eigenvalues : ndarray of shape (r,)
        The nonzero eigenvalues g of the training Gram matrix.
    targets : ndarray of shape (r, p)
        ``AᵀY``, the training targets in the eigenbasis A.
    cross : ndarray of shape (n_validation, r)
        ``K_vN A``, the held-out points' Gram coordinates.
    validation_norm : float
        ``Tr(K_vv)``, the held-out points' squared norm in feature space.
    """

    def __init__(
        self,
        eigenvalues: np.ndarray,
        targets: np.ndarray,
        cross: np.ndarray,
        validation_norm: float,
        row_cross: np.ndarray | None = None,
    ) -> None:
        self.eigenvalues = eigenvalues
        self.targets = targets
        self.cross = cross
        self.validation_norm = float(validation_norm)
        # some held-out rows themselves, in the same coordinates as ``cross``
        # (``cross`` may be a root of their moments): for per-row errors
        self.row_cross = row_cross

    def row_ridge(self, penalty: float) -> np.ndarray:
        """The ridge predictions (penalty λ) of the rows of ``row_cross``."""
        return self.row_cross @ (self.targets / (self.eigenvalues + penalty)[:, None])

    def row_leverage(self, penalty: float) -> np.ndarray:
        """``Σ_k u_k² g_k / (g_k + λ)`` of each row of ``row_cross`` (u: its
        coordinates in the eigenbasis): the part of ``‖x‖²`` the ridge's
        training data pin down; the posterior variance of its prediction is
        ``(‖x‖² − leverage) / λ`` times the noise variance."""
        return np.sum(self.row_cross**2 / (self.eigenvalues + penalty), axis=1)

    @classmethod
    def from_kernel(
        cls,
        kernel: np.ndarray,
        targets: np.ndarray,
        cross_kernel: np.ndarray,
        validation_diagonal: np.ndarray,
        rows=None,
    ) -> PCovPath:
        """From the (centred) training kernel K (n x n), the training targets, the
        kernel between held-out and training points (n_v x n) and the held-out
        points' own kernel values ``k(v, v)``; one n x n eigendecomposition.
        ``rows``: which held-out points ``row_cross`` keeps (None: all)."""
        values, vectors = np.linalg.eigh(kernel)
        kept = values > max(values[-1], 0.0) * kernel.shape[0] * np.finfo(float).eps
        values, vectors = values[kept], vectors[:, kept]
        cross = cross_kernel @ vectors
        return cls(
            values,
            vectors.T @ _as_columns(targets),
            cross,
            float(np.sum(validation_diagonal)),
            cross if rows is None else cross[rows],
        )

    @classmethod
    def from_features(
        cls, features: np.ndarray, targets: np.ndarray, validation: np.ndarray
    ) -> PCovPath:
        """From training features F (n x d), their targets and held-out features
        (n_v x d); one d x d eigendecomposition of FᵀF."""
        return cls.from_moments(
            features.T @ features,
            features.T @ _as_columns(targets),
            validation,
            float(np.vdot(validation, validation)),
        )

    @classmethod
    def from_moments(
        cls,
        gram: np.ndarray,
        xt_targets: np.ndarray,
        validation: np.ndarray,
        validation_norm: float,
        rows: np.ndarray | None = None,
    ) -> PCovPath:
        """From the training rows' moments alone: ``FᵀF`` (d x d) and ``FᵀY``, the
        held-out rows (or any rows R with the same ``RᵀR``, such as a root of their
        Gram matrix) and their squared norm ``‖F_v‖²`` (given apart, so that it
        can include what lies outside a truncated basis); one d x d
        eigendecomposition. ``rows``: held-out rows kept as ``row_cross``."""
        values, vectors = np.linalg.eigh(gram)
        kept = values > max(values[-1], 0.0) * gram.shape[0] * np.finfo(float).eps
        values, vectors = values[kept], vectors[:, kept]
        roots = np.sqrt(values)
        return cls(
            values,
            (vectors.T @ _as_columns(xt_targets)) / roots[:, None],
            (validation @ vectors) * roots,
            float(validation_norm),
            None if rows is None else (rows @ vectors) * roots,
        )

    def ridge(self, penalty: float) -> tuple[np.ndarray, np.ndarray]:
        """The ridge fit with penalty λ: Ŷ's training coordinates ``AᵀŶ`` and its
        predictions for the held-out points."""
        shrink = 1.0 / (self.eigenvalues + penalty)
        coefficients = self.targets * shrink[:, None]
        return coefficients * self.eigenvalues[:, None], self.cross @ coefficients

    def ridge_loss(self, penalty: float, validation_targets) -> float:
        """The ridge regression's own relative loss on the held-out points."""
        _, predicted = self.ridge(penalty)
        return _relative_loss(_as_columns(validation_targets), predicted)

    def losses(
        self,
        mixing: float,
        penalty: float,
        n_components: int,
        validation_targets,
        tol: float = 1e-12,
    ) -> tuple[float, float]:
        """(reconstruction loss, prediction loss) on the held-out points of the
        model with this mixing, ridge penalty and number of components."""
        targets_hat, predicted_hat = self.ridge(penalty)
        eigenvalues, rotation = self._top_eigenpairs(mixing, targets_hat, n_components)
        scale = inverse_sqrt_or_zero(eigenvalues, tol)
        basis = rotation * scale  # U Λ^{-1/2}
        cross_basis = self.cross @ basis  # K_vN U Λ^{-1/2}, used twice
        latent = mixing * cross_basis
        latent += (1.0 - mixing) * (predicted_hat @ (targets_hat.T @ basis))
        prediction = latent @ (basis.T @ self.targets)
        loss_y = _relative_loss(_as_columns(validation_targets), prediction)
        cross = float(np.sum(latent * cross_basis))
        # Tr(T_v Λ^{-1/2} Uᵀ G U Λ^{-1/2} T_vᵀ) through the c x c middle factor
        core = basis.T @ (basis * self.eigenvalues[:, None])
        quadratic = float(np.sum((latent @ core) * latent))
        loss_x = (self.validation_norm - 2.0 * cross + quadratic) / self.validation_norm
        return loss_x, loss_y

    def _top_eigenpairs(self, mixing: float, targets_hat, n_components: int):
        """Top eigenpairs of ``α diag(g) + (1 − α) ZZᵀ`` (Z = AᵀŶ)."""
        size = self.eigenvalues.size
        count = min(n_components, size)
        if mixing == 1.0:
            order = np.argsort(self.eigenvalues)[::-1][:count]
            rotation = np.zeros((size, count))
            rotation[order, np.arange(count)] = 1.0
            return self.eigenvalues[order], rotation
        scaled = np.sqrt(1.0 - mixing) * targets_hat
        if count >= size // 2 or size <= 64:
            matrix = scaled @ scaled.T
            matrix.flat[:: size + 1] += mixing * self.eigenvalues
            return truncated_eigh(matrix, count)
        diagonal = mixing * self.eigenvalues
        operator = LinearOperator(
            (size, size),
            matvec=lambda v: diagonal * v.ravel() + scaled @ (scaled.T @ v.ravel()),
            dtype=np.float64,
        )
        start = np.random.default_rng(0).uniform(-1, 1, size)
        eigenvalues, eigenvectors = eigsh(operator, k=count, which="LA", v0=start)
        order = np.argsort(eigenvalues)[::-1]
        return eigenvalues[order], eigenvectors[:, order]


def row_space(
    gram: np.ndarray, rank_tol: float, *, overwrite: bool = False
) -> np.ndarray:
    r"""An orthonormal basis (d x r) of the numerical range of a positive
    semi-definite ``gram`` (d x d), e.g. the span of the rows of X from ``XᵀX``.

    A pivoted Cholesky factorisation (LAPACK ``pstrf``) ``gram ≈ G Gᵀ`` stops once
    every remaining pivot is below ``rank_tol`` times the largest diagonal entry,
    at a cost of O(d r²) instead of a d x d eigendecomposition; the basis is then
    the left singular vectors of G, ``V = G W S^{-1}`` from the r x r
    ``GᵀG = W S² Wᵀ``, keeping ``S² > rank_tol · max S²``. Directions of ``gram``
    below that level are dropped: a ridge penalty far above them makes them
    irrelevant to any prediction. With ``overwrite`` a Fortran-ordered float64
    ``gram`` is factorised in place (no d x d copy) and left overwritten.
    """
    return orthonormal_columns(
        pivoted_cholesky(gram, rank_tol, overwrite=overwrite), rank_tol
    )


def pivoted_cholesky(
    gram: np.ndarray,
    rank_tol: float,
    *,
    overwrite: bool = False,
    reference: float | None = None,
) -> np.ndarray:
    """The d x r factor G of :func:`row_space` (``gram ≈ G Gᵀ``, rows in the
    original order), from LAPACK ``pstrf`` stopped at ``rank_tol`` times the
    largest diagonal entry (or times ``reference``, for a block of a larger
    matrix); with ``overwrite`` a Fortran-ordered ``gram`` is the workspace (the
    caller may then drop it before the next step)."""
    from scipy.linalg.lapack import dpstrf

    size = gram.shape[0]
    scale = float(np.max(np.diagonal(gram))) if size else 0.0
    if not scale > 0:
        return np.zeros((size, 0))
    level = rank_tol * (scale if reference is None else reference)
    if level >= scale:
        return np.zeros((size, 0))
    factor, pivots, rank, info = dpstrf(gram, lower=1, tol=level, overwrite_a=overwrite)
    if info < 0:  # pragma: no cover - LAPACK argument errors
        raise ValueError(f"LAPACK dpstrf failed (info={info}).")
    # the first r columns of the lower factor (pstrf leaves the upper triangle
    # as it was), rows back in the original order
    lower = factor[:, :rank]
    for column in range(1, rank):
        lower[:column, column] = 0.0
    return lower[np.argsort(pivots)]


def orthonormal_columns(
    columns: np.ndarray,
    rank_tol: float,
    *,
    reference: float | None = None,
    return_values: bool = False,
):
    """The left singular vectors of ``columns`` (d x r) whose squared singular
    value is above ``rank_tol`` times the largest (or times ``reference``), from
    the r x r ``columnsᵀcolumns``; with ``return_values`` also those squared
    singular values (descending): the eigenvalues of ``columns columnsᵀ``
    along the vectors."""
    if columns.shape[1] == 0:
        return (columns, np.zeros(0)) if return_values else columns
    values, vectors = np.linalg.eigh(columns.T @ columns)
    largest = max(values[-1], 0.0) if reference is None else reference
    kept = values > rank_tol * largest
    values, vectors = values[kept][::-1], vectors[:, kept][:, ::-1]
    basis = columns @ (vectors / np.sqrt(values))
    return (basis, values) if return_values else basis


def permute_rows(X: np.ndarray, order: np.ndarray) -> None:
    """``X[:] = X[order]`` in place, with one row of extra memory: each cycle of
    the permutation is followed once (for features too large to copy)."""
    order = np.asarray(order)
    n = X.shape[0]
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("order must be a permutation of the rows of X.")
    done = order == np.arange(n)
    for start in np.flatnonzero(~done):
        if done[start]:
            continue
        saved = X[start].copy()
        position = start
        while True:
            source = order[position]
            done[position] = True
            if source == start:
                X[position] = saved
                break
            X[position] = X[source]
            position = source


def _as_columns(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(values.shape[0], -1)


def _relative_loss(truth: np.ndarray, prediction: np.ndarray) -> float:
    """``‖truth − prediction‖² / ‖truth‖²``; the error itself where the truth is
    zero (e.g. a held-out fold of one constant, centred target)."""
    error = float(np.sum((truth - prediction) ** 2))
    total = float(np.sum(truth**2))
    return error / total if total > 0 else error
