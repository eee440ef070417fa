r"""Machinery shared by the kernel principal-covariates decompositions.

A kernel PCov method works on the n x n training kernel K (centred and scaled when
``center=True``), an approximation Ŷ = KW of its targets (a kernel ridge
regression for Kernel PCovR, a linear classifier's decision function for Kernel
PCovC), and the top eigenpairs of

.. math::

    \tilde{K} = \alpha K + (1 - \alpha) \hat{Y}\hat{Y}^T = U \Lambda U^T, \qquad
    P_{KT} = (\alpha I + (1 - \alpha) W \hat{Y}^T) U \Lambda^{-1/2}

so that ``T = K P_KT = U Λ^{1/2}``. :class:`BaseKernelPCov` does that once for
both, with at most two n x n arrays alive: K and K~ (the eigensolver overwrites K~
when it is exact). The ``n x n`` matrix ``αI + (1 − α)WŶᵀ`` and the least-squares
solve against an n x n identity that the reference uses for ``T⁺`` are never
formed: ``T⁺`` is applied through ``lstsq(T, ·)`` on the thin T.

Kernels between new points and the training points are computed in row blocks of
bounded size, so transforming or predicting a million points needs no more memory
than a few thousand.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.exceptions import NotFittedError
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from propmap._compat import Interval, RealNotInt, StrOptions
from propmap._linalg import inverse_sqrt_or_zero, sqrt_or_zero
from propmap._validation import check_n_components
from propmap.decomposition._base import SpectrumMixin, forget_conditional_attributes
from propmap.preprocessing import KernelNormalizer

__all__ = [
    "BaseKernelPCov",
    "KernelMixin",
    "LatentLeastSquares",
    "check_inverse_transform",
    "kernel_constraints",
    "row_blocks",
]

# below this mixing the training kernel's latent Gram matrix is computed from K itself
_IDENTITY_MIXING = 0.01

# a block of kernel rows (new points x training points) holds at most this many bytes
_BLOCK_BYTES = 64 * 2**20


def kernel_constraints() -> dict:
    """Parameter constraints of the kernel and its parameters, as in
    :class:`sklearn.decomposition.KernelPCA`."""
    return {
        "kernel": [
            StrOptions(set(PAIRWISE_KERNEL_FUNCTIONS) | {"precomputed"}),
            callable,
        ],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "kernel_params": [dict, None],
        "n_jobs": [Integral, None],
    }


class KernelMixin:
    """The kernel of a kernel method: its parameters (``kernel``, ``gamma``,
    ``degree``, ``coef0``, ``kernel_params``, ``n_jobs``) and its evaluation."""

    def _kernel_arguments(self) -> dict:
        """Keyword arguments of :func:`~sklearn.metrics.pairwise.pairwise_kernels`,
        chosen as :class:`~sklearn.kernel_ridge.KernelRidge` chooses them."""
        if callable(self.kernel):
            return dict(self.kernel_params or {})
        return {"gamma": self.gamma, "degree": self.degree, "coef0": self.coef0}

    def _pairwise(self, X, Y) -> np.ndarray:
        """The kernel between the rows of X and Y; overflow shows as non-finite
        values, which the callers report with the kernel's name."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(
                pairwise_kernels(
                    X,
                    Y,
                    metric=self.kernel,
                    filter_params=True,
                    n_jobs=self.n_jobs,
                    **self._kernel_arguments(),
                ),
                dtype=np.float64,
            )

    def _precomputed(self) -> bool:
        return isinstance(self.kernel, str) and self.kernel == "precomputed"


class BaseKernelPCov(
    KernelMixin,
    SpectrumMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Base class of Kernel PCovR and Kernel PCovC.

    A subclass's ``fit`` validates its data, calls :meth:`_start_fit` and
    :meth:`_training_kernel`, computes Ŷ and W, and hands them to
    :meth:`_fit_kernel`, which sets ``pkt_`` and returns the training latent
    coordinates. ``transform`` and ``inverse_transform`` come from here.
    """

    _mle_on_numerical_rank = True

    _parameter_constraints: dict = {
        "mixing": [Interval(Real, 0, 1, closed="both")],
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        "svd_solver": [StrOptions({"auto", "full", "arpack", "randomized"})],
        **kernel_constraints(),
        "center": ["boolean"],
        "fit_inverse_transform": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "iterated_power": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
    }

    _conditional_attributes: tuple[str, ...] = ("regressor_", "centerer_", "ptx_")

    def _start_fit(self, X) -> None:
        """Record the training data and shapes, resolve the solver and the number
        of components (as many as samples by default)."""
        forget_conditional_attributes(self)
        n_samples = X.shape[0]
        if self._precomputed():
            if X.shape[0] != X.shape[1]:
                raise ValueError(
                    "With kernel='precomputed', X must be the square training kernel; "
                    f"got shape {X.shape}."
                )
            if self.fit_inverse_transform:
                raise ValueError(
                    "fit_inverse_transform=True needs the features to reconstruct; "
                    "with kernel='precomputed' there are none."
                )
        self.n_samples_in_ = n_samples
        self.X_fit_ = X
        shape = (n_samples, n_samples)
        self.fit_svd_solver_ = _resolve_kernel_solver(
            self.svd_solver, n_samples, X.shape[1], self.n_components
        )
        self.n_components_ = check_n_components(
            self.n_components, *shape, self.fit_svd_solver_
        )

    def _training_kernel(self, X) -> np.ndarray:
        """The n x n training kernel, owned by the caller (never the user's array),
        centred and scaled in place when ``center=True``."""
        if self._precomputed():
            kernel = np.array(X, dtype=np.float64, order="C", copy=True)
            asymmetry = float(np.max(np.abs(kernel - kernel.T)))
            scale = max(float(np.max(np.abs(kernel))), np.finfo(float).tiny)
            if asymmetry > 1e-8 * scale:
                raise ValueError(
                    "The precomputed training kernel is not symmetric: "
                    f"max |K - Kᵀ| = {asymmetry:.3g} (largest entry {scale:.3g})."
                )
        else:
            kernel = np.empty((X.shape[0], X.shape[0]))
            for rows in row_blocks(X.shape[0], X.shape[0]):
                kernel[rows] = self._pairwise(X[rows], X)
        if not np.all(np.isfinite(kernel)):
            raise ValueError(
                f"The {self.kernel!r} kernel of X has non-finite values; check the "
                "kernel parameters and the scale of X."
            )
        if self.center:
            self.centerer_ = KernelNormalizer().fit(kernel)
            kernel = self.centerer_.transform(kernel, copy=False)
        return kernel

    def _kernel_products(self, X, *matrices: np.ndarray) -> list[np.ndarray]:
        """``K(X, X_fit) @ M`` for each M, with K centred like the training kernel,
        computed in row blocks."""
        return self._kernel_passes(X, matrices)[0]

    def _kernel_passes(self, X, matrices, self_kernel: bool = False):
        """:meth:`_kernel_products`, and with ``self_kernel`` also the centred
        ``k(x, x)`` of every new point (what :meth:`score` needs)."""
        precomputed = self._precomputed()
        results = [np.empty((X.shape[0], m.shape[1])) for m in matrices]
        diagonal = np.empty(X.shape[0]) if self_kernel else None
        for rows in row_blocks(X.shape[0], self.n_samples_in_):
            if precomputed:
                block = np.array(X[rows], dtype=np.float64)
            else:
                block = self._pairwise(X[rows], self.X_fit_)
            if self_kernel:
                values = self._kernel_diagonal(X[rows])
                if self.center:
                    values = self.centerer_.transform_diagonal(values, block)
                diagonal[rows] = values
            if self.center:
                block = self.centerer_.transform(block, copy=False)
            for result, matrix in zip(results, matrices, strict=True):
                result[rows] = block @ matrix
        return results, diagonal

    def _kernel_diagonal(self, X) -> np.ndarray:
        """``k(x, x)`` for each row of X, from small diagonal blocks."""
        step = 256
        return np.concatenate(
            [
                np.diagonal(
                    self._pairwise(X[start : start + step], X[start : start + step])
                )
                for start in range(0, X.shape[0], step)
            ]
        )

    def _validate_new(self, X):
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if self._precomputed() and X.shape[1] != self.n_samples_in_:
            raise ValueError(
                f"With kernel='precomputed', X must be the kernel between the new "
                f"points and the {self.n_samples_in_} training points; got "
                f"{X.shape[1]} columns."
            )
        return X

    # -- the eigenproblem

    def _fit_kernel(
        self, kernel: np.ndarray, targets_hat: np.ndarray, weights: np.ndarray
    ) -> LatentLeastSquares:
        """Set ``pkt_`` from the top eigenpairs of ``K~ = αK + (1 − α)ŶŶᵀ``; return
        the least-squares map from the training latent coordinates
        ``T = K P_KT`` (``T⁺``, applied to training targets or features; T itself is
        its ``latent``)."""
        alpha = self.mixing
        modified = np.multiply(kernel, alpha)
        scaled_targets = np.sqrt(1.0 - alpha) * targets_hat
        for rows in row_blocks(*modified.shape):  # no n x n temporary
            modified[rows] += scaled_targets[rows] @ scaled_targets.T
        exact = self.fit_svd_solver_ == "full"
        eigenvalues, eigenvectors = self._top_eigenpairs(modified, overwrite=exact)
        inverse_roots = inverse_sqrt_or_zero(eigenvalues, self.tol)
        if exact:
            # K P_KT = K~ U Λ^{-1/2} = U Λ^{1/2}, whose Gram matrix is Λ
            roots = sqrt_or_zero(eigenvalues, self.tol)
            latent = eigenvectors * roots
            least_squares = LatentLeastSquares(latent, eigenvalues, self.tol)
            projected = eigenvectors.T @ targets_hat  # h = UᵀŶ
            scaled = eigenvectors  # U Λ^{-1/2}, in U's memory (all n x n with c = n)
            scaled *= inverse_roots
            del eigenvectors
        else:
            scaled = eigenvectors * inverse_roots
            latent = modified @ scaled
            least_squares = LatentLeastSquares(latent, None, self.tol)
        del modified
        self.pkt_ = alpha * scaled
        self.pkt_ += (1.0 - alpha) * (weights @ (targets_hat.T @ scaled))
        self.components_ = self.pkt_.T
        # score's reconstruction term needs T G⁺ and G⁺ H G⁺ (G = TᵀT, H = TᵀKT)
        if exact:
            self._score_basis_ = scaled  # T G⁺ = U Λ^{1/2} Λ^{-1} = U Λ^{-1/2}
        else:
            self._score_basis_ = least_squares.right(latent)
        if exact and alpha >= _IDENTITY_MIXING:
            # G⁺HG⁺ = (I − (1 − α) h̃h̃ᵀ) / α with h̃ = Λ^{-1/2}UᵀŶ, from UᵀK~U = Λ:
            # kept as that diagonal plus a rank-p term (dividing by α loses accuracy
            # as α → 0, where the product with K is computed instead)
            self._score_core_ = _LowRankCore(
                (inverse_roots > 0) / alpha,
                inverse_roots[:, None] * projected,
                (1.0 - alpha) / alpha,
            )
        else:
            core = latent.T @ (kernel @ latent)
            self._score_core_ = _DenseCore(
                least_squares.right(least_squares.left(core))
            )
        return least_squares

    def _reconstruction_loss(self, X, latent_extra: np.ndarray | None = None):
        """Relative kernel-space reconstruction error of new points, and their
        latent coordinates (plus ``K(X, X_fit) @ latent_extra`` if given)."""
        if self._precomputed():
            raise ValueError(
                "score needs the kernel of the new points with themselves, which a "
                "precomputed kernel between new and training points does not give."
            )
        matrices = [self.pkt_, self._score_basis_]
        if latent_extra is not None:
            matrices.append(latent_extra)
        products, self_kernel = self._kernel_passes(X, matrices, self_kernel=True)
        latent, basis_product = products[0], products[1]
        cross = float(np.sum(basis_product * latent))
        quadratic = self._score_core_.quadratic(latent)
        total = float(self_kernel.sum())
        if not total > 0:
            raise ValueError(
                "The kernel of the scored points with themselves has zero trace; "
                "the reconstruction loss is undefined."
            )
        loss = (total - 2.0 * cross + quadratic) / total
        return loss, latent, (products[2] if latent_extra is not None else None)

    # -- public methods

    def transform(self, X):
        """Project new points into the latent space, ``T = K(X, X_fit) P_KT``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New points; with ``kernel="precomputed"``, their kernel with the
            training points, shape (n_samples, n_samples_fit).

        Returns
        -------
        T : ndarray of shape (n_samples, n_components_)
        """
        check_is_fitted(self, ["pkt_", "X_fit_"])
        X = self._validate_new(X)
        return self._kernel_products(X, self.pkt_)[0]

    def inverse_transform(self, X):
        """Map latent coordinates back to features, ``X̂ = T P_TX``, with ``P_TX``
        the least-squares map from the training latent coordinates to the training
        features (available with ``fit_inverse_transform=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Latent coordinates.

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features_in_)
        """
        check_inverse_transform(self)
        latent = check_array(X, input_name="T")
        if latent.shape[1] != self.n_components_:
            raise ValueError(
                f"T has {latent.shape[1]} columns, but this model has "
                f"n_components_={self.n_components_}."
            )
        return latent @ self.ptx_

    @property
    def _n_features_out(self) -> int:
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self._precomputed()
        return tags


class _DenseCore:
    """A c x c matrix M, for ``Σ_v t_v M t_vᵀ``."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = matrix

    def quadratic(self, latent: np.ndarray) -> float:
        """``Σ_v t_v M t_vᵀ`` over the rows t_v of ``latent``."""
        return float(np.sum((latent @ self.matrix) * latent))


class _LowRankCore:
    """A c x c matrix ``diag(d) − s F Fᵀ`` (F of p columns) kept in factored form."""

    def __init__(self, diagonal: np.ndarray, factor: np.ndarray, scale: float):
        self.diagonal, self.factor, self.scale = diagonal, factor, scale

    def quadratic(self, latent: np.ndarray) -> float:
        """``Σ_v t_v M t_vᵀ`` over the rows t_v of ``latent``."""
        projected = latent @ self.factor
        return float(
            np.sum(latent**2 * self.diagonal) - self.scale * np.sum(projected**2)
        )


class LatentLeastSquares:
    """``T⁺ = G⁺ Tᵀ`` for training latent coordinates T with ``G = TᵀT``.

    With exact eigenpairs ``T = U Λ^{1/2}`` and G is the diagonal Λ, so even with
    every component kept nothing cubic is computed; otherwise (a few components
    from an iterative solver) G is small and pseudo-inverted.
    """

    def __init__(self, latent: np.ndarray, eigenvalues: np.ndarray | None, tol):
        self.latent = latent
        if eigenvalues is not None:
            kept = eigenvalues > tol
            self.diagonal = np.zeros_like(eigenvalues)
            self.diagonal[kept] = 1.0 / eigenvalues[kept]
            self.matrix = None
        else:
            self.diagonal = None
            self.matrix = np.linalg.pinv(latent.T @ latent, rcond=tol)

    def left(self, other: np.ndarray) -> np.ndarray:
        """``G⁺ @ other``."""
        if self.matrix is None:
            return self.diagonal[:, None] * other
        return self.matrix @ other

    def right(self, other: np.ndarray) -> np.ndarray:
        """``other @ G⁺``."""
        if self.matrix is None:
            return other * self.diagonal
        return other @ self.matrix

    def __call__(self, target) -> np.ndarray:
        """``T⁺ @ target`` (what the reference writes ``lstsq(T, I) @ target``)."""
        return self.left(self.latent.T @ target)


def check_inverse_transform(estimator) -> None:
    """A fitted kernel PCov model that learnt its map back to the features."""
    check_is_fitted(estimator, ["pkt_"])
    if not estimator.fit_inverse_transform:
        raise NotFittedError(
            "inverse_transform needs fit_inverse_transform=True when the model "
            "is fitted."
        )


def row_blocks(n_rows: int, row_length: int):
    """Slices of rows whose ``row_length`` float64 values take at most 64 MB and at
    most an eighth of all rows (so a block is small next to the whole matrix)."""
    by_bytes = _BLOCK_BYTES // (8 * max(row_length, 1))
    size = max(16, min(by_bytes, -(-n_rows // 8)))
    return gen_batches(n_rows, size)


def _resolve_kernel_solver(
    solver: str, n_samples: int, n_features: int, n_components
) -> str:
    """``"auto"``: exact for small problems (at most 500 samples and features) or
    most of the components; for fewer than 10 components Lanczos (arpack), which
    on a dense kernel converges in a few dozen products and to machine precision
    (8x faster than the randomized solver for 2 of 4,000, as scikit-learn's
    KernelPCA also chooses); randomized for up to 80% of the components."""
    if solver != "auto":
        return solver
    if max(n_samples, n_features) <= 500 or n_components is None:
        return "full"
    if isinstance(n_components, Integral):
        if n_components < 10 and n_components < n_samples - 1:
            return "arpack"
        if n_components < 0.8 * max(n_samples, n_features):
            return "randomized"
    return "full"
