"""Machinery shared by the principal-covariates decompositions.

A PCov method needs an approximation Ŷ of its targets (a regression for PCovR, a
classifier's decision function for PCovC) and then solves one of two equivalent
eigenproblems. Both solvers live here, written once:

- feature space, from ``C = XᵀX`` and ``XᵀŶ`` only (cheaper when n > d);
- sample space, from ``K = XXᵀ`` and ``Ŷ`` (cheaper when n <= d).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from propmap._compat import Interval, RealNotInt, StrOptions, _infer_dimension
from propmap._dask import is_dask_array, map_rows
from propmap._linalg import (
    inverse_sqrt_or_zero,
    largest_entry_signs,
    resolve_solver,
    sqrt_or_zero,
    truncated_eigh,
)
from propmap._validation import (
    FLOAT_DTYPES,
    check_n_components,
    warn_if_uncentered,
)
from propmap.utils._pcovr_utils import modified_kernel


class LatentPrediction(NamedTuple):
    """Every row's latent coordinates, its prediction through them and the full
    regression's prediction, from one pass over the rows (``transform_predict``
    of the cross-validated and Nyström PCovR estimators).

    Parameters
    ----------
    latent : ndarray of shape (n_samples, n_components)
        The latent coordinates T.
    predicted : ndarray of shape (n_samples,) or (n_samples, n_targets)
        The prediction through the latent space, T P_TY.
    regressor : ndarray of shape (n_samples,) or (n_samples, n_targets)
        The full (kernel) ridge regression's prediction.
    predicted_std, regressor_std : ndarray or None, default=None
        With ``return_std``: the standard deviations of both predictions.
    variance : ndarray of shape (n_samples,) or None, default=None
        With ``return_std``: the posterior variance q they grow with, in units
        of the noise variance.
    in_domain : ndarray of bool of shape (n_samples,) or None, default=None
        With ``return_std``: whether each row is in the applicability domain
        (``PCovRCV.in_domain``).
    """

    latent: np.ndarray  # (n_samples, n_components): T
    predicted: np.ndarray  # T P_TY
    regressor: np.ndarray  # the full (kernel) ridge regression's prediction
    # with return_std: the standard deviations of both predictions, and the
    # posterior variance q they grow with (in units of the noise variance)
    predicted_std: np.ndarray | None = None
    regressor_std: np.ndarray | None = None
    variance: np.ndarray | None = None
    in_domain: np.ndarray | None = None  # (PCovRCV.in_domain)


__all__ = ["BasePCov", "SpectrumMixin", "forget_conditional_attributes"]


class SpectrumMixin:
    """The eigen-solve every PCov method ends with: the top eigenpairs of its
    modified matrix, the number of components a fractional ``n_components`` asks
    for, and the spectrum attributes (``singular_values_``, ``explained_variance_``,
    ``explained_variance_ratio_``).

    ``"mle"`` applies Minka's estimate to the eigenvalues, or, with
    ``_mle_on_numerical_rank``, to those above rounding only: an n x n kernel of
    d < n features has n - d zero eigenvalues, which would make the estimate the
    kernel's rank."""

    _mle_on_numerical_rank = False

    def _top_eigenpairs(
        self, matrix: np.ndarray, overwrite: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top eigenpairs of the modified matrix; sets the spectrum attributes.

        Needs ``n_components_``, ``n_samples_in_`` and ``fit_svd_solver_``; with
        ``overwrite`` the exact solver may destroy ``matrix``.
        """
        total = float(np.trace(matrix))
        wanted = self.n_components_
        count = matrix.shape[0] if isinstance(wanted, float | str) else wanted
        eigenvalues, eigenvectors = truncated_eigh(
            matrix,
            min(count, matrix.shape[0]),
            solver=self.fit_svd_solver_,
            tol=self.tol,
            random_state=self.random_state,
            iterated_power=self.iterated_power,
            overwrite=overwrite,
        )
        if isinstance(wanted, float):
            ratios = np.cumsum(eigenvalues) / total
            self.n_components_ = int(np.searchsorted(ratios, wanted, side="right") + 1)
            self.n_components_ = min(self.n_components_, eigenvalues.size)
            eigenvalues = eigenvalues[: self.n_components_]
            eigenvectors = eigenvectors[:, : self.n_components_]
        elif wanted == "mle":  # Minka's MLE of the rank, on the explained variance
            spectrum = eigenvalues
            if self._mle_on_numerical_rank and eigenvalues.size:
                rounding = eigenvalues.size * np.finfo(float).eps * eigenvalues[0]
                spectrum = eigenvalues[eigenvalues > max(rounding, 0.0)]
            rank = _infer_dimension(
                spectrum / (self.n_samples_in_ - 1), self.n_samples_in_
            )
            self.n_components_ = int(min(max(rank, 1), eigenvalues.size))
            eigenvalues = eigenvalues[: self.n_components_]
            eigenvectors = eigenvectors[:, : self.n_components_]
        self.singular_values_ = np.sqrt(np.clip(eigenvalues, 0.0, None))
        self.explained_variance_ = eigenvalues / (self.n_samples_in_ - 1)
        self.explained_variance_ratio_ = (
            eigenvalues / total if total > 0 else eigenvalues
        )
        return eigenvalues, eigenvectors


class BasePCov(
    SpectrumMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Base class of the linear principal-covariates decompositions.

    A subclass provides ``fit``: it validates X, calls :meth:`_start_fit`, computes
    its approximate targets Ŷ and hands them to :meth:`_fit_feature_space` or
    :meth:`_fit_sample_space`, which set ``pxt_``, ``ptx_``, ``pty_`` and the
    spectrum. ``transform`` and ``inverse_transform`` come from here.

    X is used as given: the projectors are fitted on the uncentred X, so
    ``transform``, ``predict`` and ``inverse_transform`` all apply them to the data as
    given as well. ``mean_`` is recorded only to warn when X was not centred.
    """

    _parameter_constraints: dict = {
        "mixing": [Interval(Real, 0, 1, closed="both")],
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        "svd_solver": [StrOptions({"auto", "full", "arpack", "randomized"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "space": [StrOptions({"auto", "feature", "sample"}), None],
        "iterated_power": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
        "whiten": ["boolean"],
    }

    # set by some fits only (a regressor="precomputed" fit has no regressor_): a
    # refit must not leave them from the previous one
    _conditional_attributes: tuple[str, ...] = ("regressor_",)

    def _start_fit(self, X) -> None:
        """Record the shape, choose the space and the solver, check n_components."""
        forget_conditional_attributes(self)
        n_samples, n_features = X.shape
        self.n_samples_in_ = n_samples
        space = self.space if self.space not in (None, "auto") else None
        self.space_ = space or ("feature" if n_samples > n_features else "sample")
        self.fit_svd_solver_ = resolve_solver(
            self.svd_solver, X.shape, self.n_components
        )
        self.n_components_ = check_n_components(
            self.n_components, n_samples, n_features, self.fit_svd_solver_
        )

    def _record_mean(self, means: np.ndarray) -> None:
        """Store the column means of X and warn if X is not centred."""
        self.mean_ = means
        warn_if_uncentered(self.mean_, self.tol)

    def _fit_feature_space(
        self,
        gram_values: np.ndarray,
        gram_vectors: np.ndarray,
        projected_targets: np.ndarray,
        projected_targets_hat: np.ndarray,
        *,
        mixing: float | None = None,
        span: np.ndarray | None = None,
    ) -> None:
        r"""Projectors from the eigendecomposition ``C = XᵀX = V D Vᵀ`` alone.

        .. math::

            \tilde{C} = \alpha C + (1 - \alpha) C^{-1/2} X^T\hat{Y}\hat{Y}^T X
            C^{-1/2} = U \Lambda U^T

            P_{XT} = C^{-1/2} U \Lambda^{1/2}, \quad
            P_{TX} = \Lambda^{-1/2} U^T C^{1/2}, \quad
            P_{TY} = \Lambda^{-1/2} U^T C^{-1/2} X^T Y

        Everything is computed in the eigenbasis V of C, where
        :math:`\tilde{C}` is ``α D + (1 − α) h hᵀ`` with
        :math:`h = D^{-1/2} V^T X^T \hat{Y}` and :math:`U = V Q`; so C is decomposed
        once, and only two d x d x c products map the result back.

        Parameters
        ----------
        gram_values, gram_vectors : ndarray
            All eigenpairs of C, largest first.
        projected_targets : ndarray of shape (n_features, n_targets)
            ``Vᵀ XᵀY``.
        projected_targets_hat : ndarray of shape (n_features, n_targets)
            ``Vᵀ XᵀŶ``.
        mixing : float or None, default=None
            The α of the fit; None: ``self.mixing``.
        span : ndarray of shape (n_features, r) or None, default=None
            X was given in the coordinates ``X span`` of an orthonormal basis of
            its rows' span (r columns): the projectors are mapped back to the
            features, and the signs follow the eigenvectors in feature space.
        """
        mixing = self.mixing if mixing is None else mixing
        kept = gram_values > self.tol
        roots = np.sqrt(gram_values[kept])
        whitened = np.zeros_like(projected_targets_hat)
        whitened[kept] = projected_targets_hat[kept] / roots[:, None]
        modified = (1.0 - mixing) * (whitened @ whitened.T)
        modified.flat[:: modified.shape[0] + 1] += mixing * gram_values
        if self.fit_svd_solver_ == "full" or span is not None:
            # (in a basis of the span, every solver runs on the small matrix)
            eigenvalues, rotation = self._top_eigenpairs(modified)
        else:
            # iterative solvers are not basis-independent: run them on C~ itself,
            # as the reference does, so that their approximations agree
            modified = gram_vectors @ modified @ gram_vectors.T
            eigenvalues, eigenvectors = self._top_eigenpairs(modified)
            rotation = gram_vectors.T @ eigenvectors
        del modified
        # signs follow the eigenvectors U = V Q of C~ itself, in feature space
        vectors = gram_vectors @ rotation
        if span is not None:
            vectors = span @ vectors
        rotation *= largest_entry_signs(vectors)
        rotation = rotation[kept]
        basis = gram_vectors[:, kept]
        inverse_sqrt = inverse_sqrt_or_zero(eigenvalues, self.tol)
        whitened_rotation = rotation / roots[:, None]  # D^{-1/2} Q
        self.pxt_ = basis @ (whitened_rotation * sqrt_or_zero(eigenvalues, self.tol))
        self.ptx_ = (inverse_sqrt[:, None] * (rotation * roots[:, None]).T) @ basis.T
        self.pty_ = inverse_sqrt[:, None] * (
            whitened_rotation.T @ projected_targets[kept]
        )
        if span is not None:
            self.pxt_ = span @ self.pxt_
            self.ptx_ = self.ptx_ @ span.T

    def _fit_sample_space(
        self,
        X,
        kernel: np.ndarray,
        targets: np.ndarray,
        targets_hat: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        r"""Projectors from ``K = XXᵀ`` and Ŷ.

        .. math::

            \tilde{K} = \alpha K + (1 - \alpha) \hat{Y}\hat{Y}^T = U \Lambda U^T

            P_{XT} = (\alpha X^T + (1 - \alpha) W \hat{Y}^T) U \Lambda^{-1/2}, \quad
            P_{TX} = \Lambda^{-1/2} U^T X, \quad
            P_{TY} = \Lambda^{-1/2} U^T Y
        """
        modified = modified_kernel(kernel, targets_hat, self.mixing)
        eigenvalues, eigenvectors = self._top_eigenpairs(modified)
        del modified
        scaled_vectors = eigenvectors * inverse_sqrt_or_zero(eigenvalues, self.tol)
        xt_scaled = np.asarray(safe_sparse_dot(X.T, scaled_vectors), dtype=np.float64)
        self.pxt_ = self.mixing * xt_scaled
        self.pxt_ += (1.0 - self.mixing) * (weights @ (targets_hat.T @ scaled_vectors))
        self.ptx_ = xt_scaled.T
        self.pty_ = scaled_vectors.T @ targets

    def _cast_projectors(self, dtype, names=("pxt_", "ptx_", "pty_")) -> None:
        """Store the projectors in the input's float dtype (float32 stays float32)."""
        for name in names:
            setattr(self, name, np.asarray(getattr(self, name), dtype=dtype))

    def _latent(self, X) -> np.ndarray:
        """Unwhitened latent coordinates ``X P_XT``."""
        return np.asarray(safe_sparse_dot(X, self.pxt_))

    def _validate_new(self, X):
        return validate_data(
            self, X, accept_sparse="csr", dtype=list(FLOAT_DTYPES), reset=False
        )

    def transform(self, X):
        """Project X into the latent space, ``T = X P_XT``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in the space of the training features.

        Returns
        -------
        T : ndarray of shape (n_samples, n_components_)
            Latent coordinates, divided by ``sqrt(explained_variance_)`` when
            ``whiten=True``.
        """
        check_is_fitted(self, ["pxt_", "mean_"])
        if is_dask_array(X):  # lazily, block by block, with X's row chunks
            return map_rows(
                X, self.transform, self.n_components_, self.pxt_.dtype,
                self.n_features_in_,
            )  # fmt: skip
        X = self._validate_new(X)
        latent = self._latent(X)
        if self.whiten:
            latent /= np.sqrt(self.explained_variance_).astype(latent.dtype)
        return latent

    def inverse_transform(self, X):
        """Map latent coordinates back to the feature space, ``X̂ = T P_TX``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Latent coordinates as returned by :meth:`transform`.

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features_in_)
        """
        if is_dask_array(X):
            check_is_fitted(self, ["ptx_"])
            return map_rows(
                X, self.inverse_transform, self.ptx_.shape[1], self.ptx_.dtype,
                self.n_components_, "T",
            )  # fmt: skip
        latent = self._check_latent(X)
        return latent @ self.ptx_

    def _check_latent(self, T) -> np.ndarray:
        """Validate latent coordinates and undo whitening."""
        check_is_fitted(self, ["ptx_", "pty_"])
        T = check_array(T, dtype=list(FLOAT_DTYPES), input_name="T")
        if T.shape[1] != self.n_components_:
            raise ValueError(
                f"T has {T.shape[1]} columns, but this model has n_components_="
                f"{self.n_components_}."
            )
        dtype = self.pxt_.dtype
        T = T.astype(dtype, copy=True)
        if self.whiten:
            T *= np.sqrt(self.explained_variance_).astype(dtype)
        return T

    @property
    def _n_features_out(self) -> int:
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def forget_conditional_attributes(estimator) -> None:
    """Remove the fitted attributes that only some fits set."""
    for name in estimator._conditional_attributes:
        estimator.__dict__.pop(name, None)


def sparse_safe_squared_norm(matrix) -> float:
    """Squared Frobenius norm of a dense or sparse matrix."""
    if sp.issparse(matrix):
        return float(matrix.multiply(matrix).sum())
    return float(np.vdot(matrix, matrix).real)
