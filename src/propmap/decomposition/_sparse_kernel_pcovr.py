r"""Sparse (Nyström) Kernel Principal Covariates Regression."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from propmap._compat import Interval, StrOptions, _fit_context
from propmap._dask import check_dask_features, is_dask_array, map_rows, rows_like
from propmap._linalg import resolve_solver, symmetric_eigh
from propmap._validation import check_n_components
from propmap.decomposition._base import (
    BasePCov,
    LatentPrediction,
    forget_conditional_attributes,
)
from propmap.decomposition._kernel_base import (
    KernelMixin,
    check_inverse_transform,
    kernel_constraints,
    row_blocks,
)
from propmap.decomposition._uncertainty import (
    RidgePosterior,
    in_sample_noise,
    spread,
)

__all__ = ["SparseKernelPCovR"]


class SparseKernelPCovR(KernelMixin, RegressorMixin, MultiOutputMixin, BasePCov):
    r"""Sparse Kernel PCovR: Kernel PCovR on a Nyström approximation of the kernel.

    With m active points M, every point x gets explicit features
    :math:`\phi(x) = k(x, M)\, U_{MM} \Lambda_{MM}^{-1/2}` whose inner products are the
    Nyström kernel :math:`K_{NM} K_{MM}^{+} K_{MN}`; PCovR in feature space on Φ,
    with the kernel ridge regression :math:`\hat{Y} = \Phi(\Phi^T\Phi + \lambda I)^{-1}
    \Phi^TY`, is then Kernel PCovR on that kernel. The fit streams over X in row
    blocks and keeps only m x m matrices: O(n·m) time per kernel entry, O(m²)
    memory beyond X. With every training point active it reproduces
    :class:`KernelPCovR` (same centring, same ridge penalty).

    Parameters
    ----------
    mixing : float, default=0.5
        The mixing parameter α in [0, 1].
    n_components : int, float or None, default=None
        Number of components; ``None`` keeps the rank of the Nyström features (at
        most ``n_active``).
    n_active : int, default=1000
        Number of active points (all training points when there are fewer).
    active : {"fps", "cur", "random"} or array-like of int, default="fps"
        How the active points are chosen: farthest point sampling or CUR of the
        training X (:mod:`propmap.sample_selection`), a random subset, or the
        indices of the training points to use (``n_active`` is then ignored).
    alpha : float, default=1.0
        Penalty of the kernel ridge regression giving Ŷ (KernelRidge's ``alpha``).
    kernel : str or callable, default="linear"
        The kernel, as for :class:`KernelPCovR` (``"precomputed"`` is not
        available: the kernel with the active points is evaluated here).
    gamma : float or None, default=None
        As for :class:`KernelPCovR`.
    degree : float, default=3
        As for :class:`KernelPCovR`.
    coef0 : float, default=1
        As for :class:`KernelPCovR`.
    kernel_params : dict or None, default=None
        As for :class:`KernelPCovR`.
    n_jobs : int or None, default=None
        As for :class:`KernelPCovR`.
    center : bool, default=False
        Centre the Nyström features on the training mean and scale them so that the
        training kernel has trace n; new points get the same shift and scale. With
        every point active this is :class:`KernelPCovR`'s ``center=True``.
    fit_inverse_transform : bool, default=False
        Learn the least-squares map from the latent space back to X.
    tol : float, default=1e-12
        Eigenvalues at or below ``tol`` are treated as zero in the PCovR solve.
        Eigenvalues of ``K_MM`` below its numerical rank cutoff
        (``m · eps · λ_max``) are dropped.
    svd_solver : {"auto", "full", "arpack", "randomized"}, default="auto"
        Eigensolver of the m x m modified covariance.
    iterated_power : int or "auto", default="auto"
        Power iterations of the randomized solver.
    random_state : int, RandomState instance or None, default=None
        Seeds ``active="random"`` and the iterative solvers.
    uncertainty : bool, default=False
        Keep what ``predict(X, return_std=True)`` needs (``alpha`` > 0, X in
        memory): the ridge's posterior in the Nyström features (their m x m
        eigenpairs, in float32) and a noise level fitted on its exact
        leave-one-out errors (one more pass of kernel rows over X, for every
        training row's leverage). The prediction through the latent space
        gets the noise level times the ratio of its training error to the
        ridge's. To calibrate on held-out folds instead, use
        :class:`~propmap.decomposition.KernelPCovRCV` with ``n_active``.

    Attributes
    ----------
    active_indices_ : ndarray of shape (n_active_,)
        Indices of the active points in the training X.
    X_active_ : ndarray of shape (n_active_, n_features)
        The active points.
    n_active_ : int
        Number of active points.
    pkt_ : ndarray of shape (n_active_, n_components_)
        Projector from the (centred) kernel with the active points to the latent
        space: ``T = (k(x, M) − k̄) P_KT``.
    pky_ : ndarray of shape (n_active_, n_targets) or (n_active_,)
        ``pkt_ @ pty_``.
    pty_ : ndarray of shape (n_components_, n_targets) or (n_components_,)
        Least-squares map from the latent space to Y.
    ridge_coef_ : ndarray of shape (n_active_, n_targets) or (n_active_,)
        Weights of the full kernel ridge regression on the Nyström features,
        applied to the centred kernel rows: ``Ŷ = (k(x, M) − k̄) ridge_coef_``
        (see :meth:`transform_predict`).
    ptx_ : ndarray of shape (n_components_, n_features)
        Map from the latent space back to X (with ``fit_inverse_transform=True``).
    kernel_mean_ : ndarray of shape (n_active_,)
        Training column means of ``K_NM`` (zeros without centring).
    scale_ : float
        Divisor of the centred kernel (1 without centring).
    nystroem_rank_ : int
        Number of eigenvalues of ``K_MM`` kept.
    singular_values_, explained_variance_, explained_variance_ratio_ : ndarray
        Spectrum of the modified covariance.
    n_components_, n_features_in_, n_samples_in_ : int

    posterior_ : RidgePosterior
        With ``uncertainty=True``: the ridge's posterior in the Nyström
        features.
    noise_std_, latent_noise_std_ : float or ndarray of shape (n_targets,)
        With ``uncertainty=True``: the noise levels s of the ridge and of the
        prediction through the latent space, ``σ = s sqrt(1 + q)``.

    See Also
    --------
    KernelPCovR : the exact kernel method, O(n²) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.decomposition import SparseKernelPCovR
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = np.sin(X[:, 0]) + X[:, 1] ** 2
    >>> y -= y.mean()
    >>> model = SparseKernelPCovR(n_components=2, n_active=50, kernel="rbf",
    ...                           gamma=0.5, alpha=1e-3, center=True)
    >>> model.fit(X, y).transform(X).shape
    (500, 2)
    >>> bool(model.score(X, y) > -1.0)
    True
    """

    _parameter_constraints: dict = {
        **{
            name: constraint
            for name, constraint in BasePCov._parameter_constraints.items()
            if name not in ("space", "whiten")
        },
        **kernel_constraints(),
        "kernel": [
            StrOptions(kernel_constraints()["kernel"][0].options - {"precomputed"}),
            callable,
        ],
        "n_active": [Interval(Integral, 1, None, closed="left")],
        "active": [StrOptions({"fps", "cur", "random"}), "array-like"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "center": ["boolean"],
        "fit_inverse_transform": ["boolean"],
        "uncertainty": ["boolean"],
    }

    # read by BasePCov's spectrum code; this estimator has no whitening
    whiten = False
    _conditional_attributes = (
        "ptx_", "posterior_", "noise_std_", "latent_noise_std_",
    )  # fmt: skip

    def __init__(
        self,
        mixing: float = 0.5,
        n_components: int | float | None = None,
        n_active: int = 1000,
        active="fps",
        alpha: float = 1.0,
        kernel="linear",
        gamma: float | None = None,
        degree: float = 3,
        coef0: float = 1,
        kernel_params: dict | None = None,
        center: bool = False,
        fit_inverse_transform: bool = False,
        tol: float = 1e-12,
        svd_solver: str = "auto",
        n_jobs: int | None = None,
        iterated_power: int | str = "auto",
        random_state=None,
        uncertainty: bool = False,
    ) -> None:
        self.mixing = mixing
        self.n_components = n_components
        self.n_active = n_active
        self.active = active
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.center = center
        self.fit_inverse_transform = fit_inverse_transform
        self.tol = tol
        self.svd_solver = svd_solver
        self.n_jobs = n_jobs
        self.iterated_power = iterated_power
        self.random_state = random_state
        self.uncertainty = uncertainty

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, Y):
        """Choose the active points and fit the projectors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points.
        Y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        Returns
        -------
        self : SparseKernelPCovR
        """
        if self.uncertainty and is_dask_array(X):
            raise ValueError(
                "uncertainty=True takes X in memory (every training row's "
                "leverage); a dask X is fitted without it."
            )
        if self.uncertainty and not self.alpha > 0:
            raise ValueError(
                f"uncertainty=True needs the ridge penalty alpha > 0; got {self.alpha}."
            )
        if is_dask_array(X):
            return self._fit_dask(X, Y)
        X, Y = validate_data(
            self,
            X,
            Y,
            dtype=np.float64,
            multi_output=True,
            y_numeric=True,
            ensure_min_samples=2,
        )
        targets_1d = Y.ndim == 1
        targets = Y.reshape(X.shape[0], -1)
        forget_conditional_attributes(self)
        self.n_samples_in_ = X.shape[0]
        self.active_indices_ = self._choose_active(X)
        self.n_active_ = self.active_indices_.size
        self.X_active_ = X[self.active_indices_]
        whitening = self._nystroem_whitening()
        *streamed, kernel_sums = self._stream_features(X, targets, whitening)
        self._column_means = kernel_sums / X.shape[0]
        sums_of_rows = (targets.sum(axis=0), X.sum(axis=0))
        self._fit_streamed(streamed, sums_of_rows, whitening, targets_1d)
        if self.uncertainty:
            # every training row's leverage, from a second pass of kernel rows
            every, features = self.transform_predict(X, features=True)
            leverage = self.posterior_.variance(features)
            self.noise_std_, self.latent_noise_std_ = in_sample_noise(
                targets, every.regressor, every.predicted, leverage, targets_1d
            )
        return self

    def _fit_dask(self, X, Y):
        """A dask X: the active points (FPS on a cluster's actors, or as the
        numpy path), then ΦᵀΦ, ΦᵀY (ΦᵀX) and the sums in one pass, one compute."""
        X = check_dask_features(X)
        if Y is None:
            raise ValueError(
                "SparseKernelPCovR requires y to be passed, but the target y is None."
            )
        targets, targets_1d = rows_like(Y, X)
        forget_conditional_attributes(self)
        self.n_features_in_ = X.shape[1]
        self.n_samples_in_ = X.shape[0]
        self.active_indices_ = self._choose_active(X)
        self.n_active_ = self.active_indices_.size
        self.X_active_ = np.asarray(X[self.active_indices_].compute(), dtype=np.float64)
        whitening = self._nystroem_whitening()
        streamed, sums_of_rows = self._stream_dask(X, targets, whitening)
        return self._fit_streamed(streamed, sums_of_rows, whitening, targets_1d)

    def _stream_dask(self, X, targets, whitening):
        """:meth:`_stream_features` block by block, as one dask reduction."""
        import dask
        import dask.array as da

        rank, n_targets = whitening.shape[1], targets.shape[1]
        n_features, n_active = X.shape[1], self.n_active_
        inverse = self.fit_inverse_transform
        widths = [
            rank * rank, rank * n_targets, rank * n_features if inverse else 0,
            rank, n_active, n_targets, n_features,
        ]  # fmt: skip

        def block_statistics(x, y):
            x = np.asarray(x, dtype=np.float64)
            y = np.asarray(y, dtype=np.float64)
            streamed = self._stream_features(x, y, whitening)
            parts = [
                streamed[0], streamed[1],
                streamed[2] if inverse else np.zeros(0), streamed[3],
                streamed[4], y.sum(axis=0), x.sum(axis=0),
            ]  # fmt: skip
            return np.concatenate([np.ravel(part) for part in parts])[None]

        blocks = da.map_blocks(
            block_statistics, X, targets,
            chunks=((1,) * len(X.chunks[0]), (sum(widths),)), dtype=np.float64,
        )  # fmt: skip
        (total,) = dask.compute(blocks.sum(axis=0))
        pieces = np.split(total, np.cumsum(widths)[:-1])
        gram = pieces[0].reshape(rank, rank)
        xt_targets = pieces[1].reshape(rank, n_targets)
        xt_features = pieces[2].reshape(rank, n_features) if inverse else None
        self._column_means = pieces[4] / X.shape[0]
        streamed = (gram, xt_targets, xt_features, pieces[3])
        return streamed, (pieces[5], pieces[6])

    def _fit_streamed(self, streamed, sums_of_rows, whitening, targets_1d):
        """The fit from ``ΦᵀΦ``, ``ΦᵀY``, ``ΦᵀX``, the sums of Φ, and the sums of
        the rows of Y and X (for the centring)."""
        gram, xt_targets, xt_features, sums = streamed
        target_sums, feature_sums = sums_of_rows
        n_samples = self.n_samples_in_
        self.kernel_mean_ = np.zeros(self.n_active_)
        self.scale_ = 1.0
        if self.center:
            mean = sums / n_samples
            gram -= n_samples * np.outer(mean, mean)
            xt_targets -= np.outer(mean, target_sums)
            if xt_features is not None:
                xt_features -= np.outer(mean, feature_sums)
            self.kernel_mean_ = self._column_means
            trace = float(np.trace(gram))
            if not trace > 0:
                raise ValueError(
                    "The centred Nyström kernel has zero trace (all training points "
                    "look the same to this kernel); it cannot be scaled."
                )
            self.scale_ = trace / n_samples
            root = np.sqrt(self.scale_)
            gram /= self.scale_
            xt_targets /= root
            if xt_features is not None:
                xt_features /= root

        rank = gram.shape[0]
        self.fit_svd_solver_ = resolve_solver(
            self.svd_solver, (n_samples, rank), self.n_components
        )
        self.n_components_ = check_n_components(
            self.n_components, n_samples, rank, self.fit_svd_solver_
        )
        gram_values, gram_vectors = symmetric_eigh(gram)
        del gram
        if self.uncertainty:
            self.posterior_ = RidgePosterior.from_eigenpairs(
                gram_vectors, None, gram_values, self.alpha, share=0.0
            )
        projected_targets = gram_vectors.T @ xt_targets
        # kernel ridge on the Nyström features: Φᵀ Ŷ = C (C + λ)⁻¹ Φᵀ Y
        shrink = np.zeros_like(gram_values)
        solvable = gram_values + self.alpha > 0
        shrink[solvable] = gram_values[solvable] / (gram_values[solvable] + self.alpha)
        # the full kernel ridge model's weights on the centred kernel rows
        inverse = np.zeros_like(gram_values)
        inverse[solvable] = 1.0 / (gram_values[solvable] + self.alpha)
        self.ridge_coef_ = (whitening / np.sqrt(self.scale_)) @ (
            gram_vectors @ (projected_targets * inverse[:, None])
        )
        self._fit_feature_space(
            gram_values,
            gram_vectors,
            projected_targets,
            projected_targets * shrink[:, None],
        )
        # pxt_ maps the scaled, centred features to T: fold in the whitening
        self.pkt_ = whitening @ self.pxt_ / np.sqrt(self.scale_)
        self._latent_to_features_ = self.ptx_
        del self.ptx_
        if self.fit_inverse_transform:
            # T⁺ X = (TᵀT)⁺ Tᵀ X with Tᵀ X = P_ΦTᵀ Φᵀ X
            latent_gram = (
                self.pxt_.T
                @ (gram_vectors * gram_values)
                @ (gram_vectors.T @ self.pxt_)
            )
            self.ptx_ = np.linalg.pinv(latent_gram, rcond=self.tol) @ (
                self.pxt_.T @ xt_features
            )
        self.pky_ = self.pkt_ @ self.pty_
        if targets_1d:
            self.pty_ = self.pty_[:, 0]
            self.ridge_coef_ = self.ridge_coef_[:, 0]
            self.pky_ = self.pky_[:, 0]
        self.components_ = self.pkt_.T
        self._features_map_ = whitening / np.sqrt(self.scale_)
        return self

    def _choose_active(self, X) -> np.ndarray:
        n_samples = X.shape[0]
        if not isinstance(self.active, str):
            indices = check_array(
                np.asarray(self.active).reshape(-1, 1), dtype=None, input_name="active"
            ).ravel()
            if not np.issubdtype(indices.dtype, np.integer):
                raise ValueError(
                    f"active must be 'fps', 'cur', 'random' or integer indices; got "
                    f"values of dtype {indices.dtype}."
                )
            if indices.min() < 0 or indices.max() >= n_samples:
                raise ValueError(
                    f"active indices must be in [0, {n_samples}); got "
                    f"[{indices.min()}, {indices.max()}]."
                )
            if np.unique(indices).size != indices.size:
                raise ValueError("active indices must not repeat.")
            return indices.astype(np.intp)
        count = min(self.n_active, n_samples)
        if self.active == "random":
            chosen = check_random_state(self.random_state).choice(
                n_samples, count, replace=False
            )
            return np.sort(chosen)
        if count == n_samples:
            return np.arange(n_samples)
        from propmap import sample_selection

        selector = (
            sample_selection.FPS if self.active == "fps" else sample_selection.CUR
        )
        return selector(n_to_select=count).fit(X).selected_idx_

    def _nystroem_whitening(self) -> np.ndarray:
        """``U Λ^{-1/2}`` over the numerically nonzero eigenvalues of ``K_MM``."""
        kernel = self._pairwise(self.X_active_, self.X_active_)
        if not np.all(np.isfinite(kernel)):
            raise ValueError(
                f"The {self.kernel!r} kernel of the active points has non-finite "
                "values; check the kernel parameters and the scale of X."
            )
        values, vectors = symmetric_eigh((kernel + kernel.T) / 2)
        cutoff = max(values[0], 0.0) * kernel.shape[0] * np.finfo(float).eps
        kept = values > cutoff
        if not kept.any():
            raise ValueError("The kernel of the active points is zero.")
        self.nystroem_rank_ = int(kept.sum())
        return vectors[:, kept] / np.sqrt(values[kept])

    def _stream_features(self, X, targets, whitening):
        """``ΦᵀΦ``, ``ΦᵀY``, ``ΦᵀX`` (if needed), the column sums of Φ and of
        ``K_NM``, from one pass over X in row blocks (no state is changed: the
        blocks of a dask X run it in parallel)."""
        rank = whitening.shape[1]
        gram = np.zeros((rank, rank))
        xt_targets = np.zeros((rank, targets.shape[1]))
        xt_features = (
            np.zeros((rank, X.shape[1])) if self.fit_inverse_transform else None
        )
        sums = np.zeros(rank)
        kernel_sums = np.zeros(self.n_active_)
        for rows in row_blocks(X.shape[0], self.n_active_):
            kernel = self._pairwise(X[rows], self.X_active_)
            if not np.all(np.isfinite(kernel)):
                raise ValueError(
                    f"The {self.kernel!r} kernel has non-finite values; check the "
                    "kernel parameters and the scale of X."
                )
            kernel_sums += kernel.sum(axis=0)
            features = kernel @ whitening
            gram += features.T @ features
            xt_targets += features.T @ targets[rows]
            if xt_features is not None:
                xt_features += features.T @ X[rows]
            sums += features.sum(axis=0)
        return gram, xt_targets, xt_features, sums, kernel_sums

    def _kernel_rows(self, X, matrix: np.ndarray) -> np.ndarray:
        """``(k(X, M) − k̄) @ matrix``, in row blocks."""
        result = np.empty((X.shape[0], matrix.shape[1]))
        for rows in row_blocks(X.shape[0], self.n_active_):
            kernel = self._pairwise(X[rows], self.X_active_)
            kernel -= self.kernel_mean_
            result[rows] = kernel @ matrix
        return result

    def _validate_new(self, X):
        return validate_data(self, X, reset=False, dtype=np.float64)

    def _latent(self, X) -> np.ndarray:
        return self._kernel_rows(X, self.pkt_)

    def transform(self, X):
        """Project new points, ``T = (k(X, M) − k̄) P_KT``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        T : ndarray of shape (n_samples, n_components_)
        """
        check_is_fitted(self, ["pkt_"])
        if is_dask_array(X):
            return map_rows(
                X, self.transform, self.n_components_, np.float64, self.n_features_in_
            )
        return self._latent(self._validate_new(X))

    def transform_predict(self, X, features: bool = False):
        """The latent coordinates, the prediction through them and the full
        Nyström kernel ridge model's prediction, from one pass of kernel rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        features : bool, default=False
            Also the rows' :meth:`nystroem_features`, from the same kernel rows.

        Returns
        -------
        LatentPrediction
            ``latent`` (n_samples, n_components_); ``predicted`` and
            ``regressor`` (n_samples,) or (n_samples, n_targets).
        Phi : ndarray of shape (n_samples, nystroem_rank_)
            Only with ``features=True``.
        """
        check_is_fitted(self, ["pkt_", "ridge_coef_"])
        X = self._validate_new(X)
        width = self.n_components_
        ridge = self.ridge_coef_.reshape(self.n_active_, -1)
        columns = [self.pkt_, ridge] + ([self._features_map_] if features else [])
        products = self._kernel_rows(X, np.hstack(columns))
        stop = width + ridge.shape[1]
        latent, regressor = products[:, :width], products[:, width:stop]
        predicted = latent @ self.pty_.reshape(width, -1)
        if self.ridge_coef_.ndim == 1:
            predicted, regressor = predicted[:, 0], regressor[:, 0]
        every = LatentPrediction(latent, predicted, regressor)
        return (every, products[:, stop:]) if features else every

    def nystroem_features(self, X) -> np.ndarray:
        """The Nyström features the ridge and the PCovR are fitted on: the
        centred kernel rows with the active points, whitened (and scaled with
        ``center=True``), ``Φ = (k(X, M) − k̄) K_MM^{-1/2} / sqrt(scale_)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Phi : ndarray of shape (n_samples, nystroem_rank_)
        """
        check_is_fitted(self, ["pkt_"])
        return self._kernel_rows(self._validate_new(X), self._features_map_)

    def inverse_transform(self, X):
        """Map latent coordinates back to features (needs
        ``fit_inverse_transform=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features_in_)
        """
        check_inverse_transform(self)
        latent = self._check_latent(X)
        return latent @ self.ptx_

    def predict(self, X, return_std: bool = False):
        """Predict targets, ``(k(X, M) − k̄) P_KT P_TY``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also the standard deviation of each prediction,
            ``latent_noise_std_ sqrt(1 + q(x))`` (needs a fit with
            ``uncertainty=True`` and X in memory), from the same kernel rows.

        Returns
        -------
        Y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Y_std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        check_is_fitted(self, ["pky_"])
        if return_std:
            if getattr(self, "posterior_", None) is None:
                raise ValueError(
                    "return_std=True needs a fit with uncertainty=True (the "
                    "ridge's posterior and noise level)."
                )
            if is_dask_array(X):
                raise ValueError("return_std=True takes X in memory, not a dask array.")
            every, features = self.transform_predict(X, features=True)
            variance = self.posterior_.variance(features)
            return every.predicted, spread(
                variance, self.latent_noise_std_, self.pky_.ndim == 2
            )
        if is_dask_array(X):
            width = None if self.pky_.ndim == 1 else self.pky_.shape[1]
            return map_rows(X, self.predict, width, np.float64, self.n_features_in_)
        X = self._validate_new(X)
        prediction = self._kernel_rows(X, self.pky_.reshape(self.n_active_, -1))
        return prediction[:, 0] if self.pky_.ndim == 1 else prediction

    def score(self, X, y):
        r"""Negative sum of the relative reconstruction and prediction losses, the
        reconstruction measured on the Nyström features Φ of the scored points.

        .. math::

            -\left(\frac{\lVert \Phi - T P_{T\Phi} \rVert^2}{\lVert \Phi \rVert^2} +
            \frac{\lVert Y - \hat{Y}\rVert^2}{\lVert Y\rVert^2}\right)

        which is :meth:`KernelPCovR.score` on the Nyström kernel.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        score : float
        """
        check_is_fitted(self, ["pky_"])
        X = self._validate_new(X)
        y = validate_data(self, y=y, multi_output=True, y_numeric=True, reset=False)
        # the scaled, centred Nyström features (k(X, M) − k̄) U Λ^{-1/2} / √s
        features = self._kernel_rows(X, self._features_map_)
        latent = features @ self.pxt_
        prediction = latent @ self.pty_.reshape(self.n_components_, -1)
        residual = features - latent @ self._latent_to_features_
        loss_features = float(np.sum(residual**2) / np.sum(features**2))
        y = np.asarray(y, dtype=np.float64).reshape(prediction.shape)
        loss_targets = float(np.sum((y - prediction) ** 2) / np.sum(y**2))
        return -(loss_features + loss_targets)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        tags.regressor_tags.poor_score = True
        return tags
