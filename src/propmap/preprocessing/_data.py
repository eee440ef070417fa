"""Scalers and kernel normalisers for PCov-type methods."""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from propmap._compat import Interval, _check_sample_weight, _fit_context
from propmap._dask import (
    check_dask_features,
    is_dask_array,
    map_rows,
    rows_like,
    weighted_moments,
)
from propmap._validation import FLOAT_DTYPES

__all__ = ["KernelNormalizer", "SparseKernelCenterer", "StandardFlexibleScaler"]


# entries per block of the dense means and variances (32 MiB in float64): no
# temporary of X's size, nor of a wide X's thousands of rows (4,096 rows of QM9's
# 7,500 SOAP columns, and the function's temporaries, held 0.7 GB)
_BLOCK_ENTRIES = 2**22


def _blockwise_average(X, weights, function) -> np.ndarray:
    """The (weighted) column average of ``function(rows)`` over X, accumulated in
    float64 block by block of rows (a float32 X of millions of rows is never
    copied whole)."""
    total = np.zeros(X.shape[1])
    rows_per_block = max(1, _BLOCK_ENTRIES // max(X.shape[1], 1))
    for rows in gen_batches(X.shape[0], rows_per_block):
        block = function(np.asarray(X[rows], np.float64))
        total += block.sum(axis=0) if weights is None else weights[rows] @ block
    return total / X.shape[0] if weights is None else total


def _normalised_weights(sample_weight, X) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative.")
    total = weights.sum()
    if total <= 0:
        raise ValueError("sample_weight must have a positive sum.")
    return weights / total


class StandardFlexibleScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Centre features and scale them, column by column or as a whole matrix.

    With ``column_wise=False`` (the default) the column means are subtracted and the
    whole matrix is divided by the square root of the sum of the column variances,
    so that :math:`\lVert X \rVert_F^2 = n_{samples}` and the relative scale of the
    features is kept; this is what PCovR expects of related features such as SOAP
    power spectra. With ``column_wise=True`` every column gets unit variance, as
    with :class:`sklearn.preprocessing.StandardScaler`.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the (weighted) column means. Not possible for sparse input.
    with_std : bool, default=True
        Divide by the standard deviation (per column or of the whole matrix).
    column_wise : bool, default=False
        Scale every column to unit variance instead of the whole matrix.
    rtol : float, default=0
        Relative tolerance for calling a variance zero (relative to the mean).
    atol : float, default=1e-12
        Absolute tolerance for calling a variance zero.
    copy : bool, default=True
        Copy the input in ``transform``; with False, dense float input is scaled in
        place. (scikit-matter's default is False but it always copies.)

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        The subtracted means (zeros when ``with_mean=False``).
    scale_ : float or ndarray of shape (n_features,)
        The divisor: one number, or one per column with ``column_wise=True``.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_in_ : int
        Number of samples seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.preprocessing import StandardFlexibleScaler
    >>> X = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]])
    >>> scaled = StandardFlexibleScaler().fit_transform(X)
    >>> scaled.round(3)
    array([[-0.612, -0.612],
           [ 0.   , -0.612],
           [ 0.612,  1.225]])
    >>> round(float((scaled**2).sum()), 6)  # ‖X‖² = n_samples
    3.0
    """

    _parameter_constraints: dict = {
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
        "column_wise": ["boolean"],
        "rtol": [Interval(Real, 0, None, closed="left")],
        "atol": [Interval(Real, 0, None, closed="left")],
        "copy": ["boolean"],
    }

    def __init__(
        self,
        with_mean: bool = True,
        with_std: bool = True,
        column_wise: bool = False,
        rtol: float = 0,
        atol: float = 1e-12,
        copy: bool = True,
    ) -> None:
        self.with_mean = with_mean
        self.with_std = with_std
        self.column_wise = column_wise
        self.rtol = rtol
        self.atol = atol
        self.copy = copy

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute the means and the scale.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights for a weighted mean and variance (normalised to
            sum to one).

        Returns
        -------
        self : StandardFlexibleScaler
        """
        if is_dask_array(X):
            return self._fit_dask(X, sample_weight)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=list(FLOAT_DTYPES), ensure_min_samples=2
        )
        if sp.issparse(X) and self.with_mean:
            raise ValueError(
                "Cannot centre a sparse matrix without making it dense; use "
                "with_mean=False or pass a dense array."
            )
        self.n_samples_in_ = X.shape[0]
        weights = _normalised_weights(sample_weight, X)
        mean = self._weighted_mean(X, weights)
        variance = self._weighted_variance(X, weights, mean) if self.with_std else None
        return self._set_moments(mean, variance, X.dtype)

    def _fit_dask(self, X, sample_weight):
        """A dask X: weighted means and variances in one pass, one compute."""
        X = check_dask_features(X)
        self.n_features_in_ = X.shape[1]
        self.n_samples_in_ = X.shape[0]
        weights = None
        if sample_weight is not None:
            weights, _ = rows_like(sample_weight, X, "sample_weight")
            if weights.shape[1] != 1:
                raise ValueError("sample_weight must be one-dimensional.")
            weights = weights[:, 0]
        mean, variance, smallest = weighted_moments(X, weights)
        if smallest < 0:
            raise ValueError("sample_weight must be non-negative.")
        return self._set_moments(mean, variance, X.dtype)

    def _set_moments(self, mean, variance, dtype):
        """``mean_`` and ``scale_`` from the weighted means and variances."""
        self.mean_ = mean if self.with_mean else np.zeros(mean.shape[0], dtype=dtype)
        self.scale_ = 1.0
        if self.with_std:
            variance = np.clip(variance, 0.0, None)
            if self.column_wise:
                flat = variance < self.atol + np.abs(mean) * self.rtol
                if np.any(flat):
                    raise ValueError(
                        "Cannot scale columns with zero variance: column(s) "
                        f"{np.flatnonzero(flat)[:10].tolist()} are constant. Drop them "
                        "or use column_wise=False."
                    )
                self.scale_ = np.sqrt(variance).astype(dtype)
            else:
                total = variance.sum()
                if total < abs(np.average(mean)) * self.rtol + self.atol:
                    raise ValueError(
                        "Cannot scale a matrix with zero variance: every column of X "
                        "is constant."
                    )
                self.scale_ = float(np.sqrt(total))
        return self

    @staticmethod
    def _weighted_mean(X, weights) -> np.ndarray:
        if sp.issparse(X):
            if weights is None:
                return np.asarray(X.mean(axis=0)).ravel()
            return np.asarray(X.T @ weights).ravel()
        return _blockwise_average(X, weights, lambda block: block).astype(
            X.dtype, copy=False
        )

    @classmethod
    def _weighted_variance(cls, X, weights, mean) -> np.ndarray:
        if sp.issparse(X):
            return cls._weighted_mean(X.multiply(X).tocsr(), weights) - mean**2
        # two passes: more accurate than E[x²] - E[x]² for dense data
        mean = mean.astype(np.float64)
        return _blockwise_average(X, weights, lambda block: (block - mean) ** 2)

    def transform(self, X, copy: bool | None = None):
        """Centre and scale X with the fitted mean and scale.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.
        copy : bool, default=None
            Overrides ``self.copy``.

        Returns
        -------
        X_scaled : {ndarray, sparse matrix} of shape (n_samples, n_features)
        """
        check_is_fitted(self, ["mean_", "scale_"])
        if is_dask_array(X):
            return map_rows(
                X, lambda block: self.transform(block, copy=True), X.shape[1],
                X.dtype if X.dtype.kind == "f" else np.float64, self.n_features_in_,
            )  # fmt: skip
        copy = self.copy if copy is None else copy
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=list(FLOAT_DTYPES),
            reset=False,
            copy=copy,
        )
        if sp.issparse(X):
            return X.multiply(1.0 / np.asarray(self.scale_)).tocsr().astype(X.dtype)
        X -= self.mean_.astype(X.dtype, copy=False)
        X /= np.asarray(self.scale_, dtype=X.dtype)
        return X

    def inverse_transform(self, X, copy: bool | None = None):
        """Undo :meth:`transform`: ``X * scale_ + mean_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Scaled data.
        copy : bool, default=None
            Overrides ``self.copy``.

        Returns
        -------
        X_original : {ndarray, sparse matrix} of shape (n_samples, n_features)
        """
        check_is_fitted(self, ["mean_", "scale_"])
        if is_dask_array(X):
            return map_rows(
                X, lambda block: self.inverse_transform(block, copy=True), X.shape[1],
                X.dtype if X.dtype.kind == "f" else np.float64, self.n_features_in_,
            )  # fmt: skip
        copy = self.copy if copy is None else copy
        X = check_array(X, accept_sparse="csr", dtype=list(FLOAT_DTYPES), copy=copy)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but StandardFlexibleScaler was fitted "
                f"with {self.n_features_in_}."
            )
        if sp.issparse(X):
            return X.multiply(np.asarray(self.scale_)).tocsr().astype(X.dtype)
        X *= np.asarray(self.scale_, dtype=X.dtype)
        X += self.mean_.astype(X.dtype, copy=False)
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = not self.with_mean
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _validate_kernel(estimator, K, *, reset: bool, copy: bool = True) -> np.ndarray:
    # a centred kernel of one sample is zero: ask for two at fit
    return validate_data(
        estimator,
        K,
        dtype=list(FLOAT_DTYPES),
        reset=reset,
        copy=copy,
        ensure_min_samples=2 if reset else 1,
    )


class KernelNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Centre a kernel matrix in feature space and scale it to unit mean trace.

    With φ the (implicit) feature map of the kernel, centring is
    :math:`K_c = (φ(x) - \bar φ)(φ(z) - \bar φ)^T`, computed from K alone; scaling
    divides by :math:`\mathrm{Tr}(K_c)/n` so that the training kernel has trace n.
    New rows (kernels between new points and the training points) get the same
    centring and the same scale.

    Parameters
    ----------
    with_center : bool, default=True
        Centre the kernel.
    with_trace : bool, default=True
        Divide by ``Tr(K_c) / n`` of the training kernel.

    Attributes
    ----------
    K_fit_rows_ : ndarray of shape (n_samples,)
        (Weighted) column means of the training kernel.
    K_fit_all_ : float
        (Weighted) mean of the training kernel.
    scale_ : float
        The divisor, ``Tr(K_c) / n`` (1 with ``with_trace=False``).
    sample_weight_ : ndarray of shape (n_samples,) or None
        Normalised sample weights given to fit.
    n_features_in_ : int
        Number of training samples (columns of every kernel this transforms).

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.preprocessing import KernelNormalizer
    >>> X = np.array([[1.0, -2.0, 2.0], [-2.0, 1.0, 3.0], [4.0, 1.0, -2.0]])
    >>> K = X @ X.T
    >>> KernelNormalizer().fit_transform(K).round(3)
    array([[ 0.395,  0.   , -0.395],
           [ 0.   ,  1.105, -1.105],
           [-0.395, -1.105,  1.5  ]])
    """

    _parameter_constraints: dict = {
        "with_center": ["boolean"],
        "with_trace": ["boolean"],
    }

    def __init__(self, with_center: bool = True, with_trace: bool = True) -> None:
        self.with_center = with_center
        self.with_trace = with_trace

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, K, y=None, sample_weight=None):
        """Learn the centring and scale of a training kernel.

        Parameters
        ----------
        K : array-like of shape (n_samples, n_samples)
            Training kernel matrix.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights for the means.

        Returns
        -------
        self : KernelNormalizer
        """
        K = _validate_kernel(self, K, reset=True, copy=False)
        if K.shape[0] != K.shape[1]:
            raise ValueError(
                f"K must be a square training kernel; got shape {K.shape}."
            )
        self.sample_weight_ = _normalised_weights(sample_weight, K)
        if self.with_center:
            self.K_fit_rows_ = np.average(K, axis=0, weights=self.sample_weight_)
            self.K_fit_all_ = float(
                np.average(self.K_fit_rows_, weights=self.sample_weight_)
            )
        else:
            self.K_fit_rows_ = np.zeros(K.shape[1], dtype=K.dtype)
            self.K_fit_all_ = 0.0
        self.scale_ = 1.0
        if self.with_trace:
            # the trace of the centred kernel without centring a copy of it
            diagonal = np.diagonal(K).astype(np.float64)
            if self.with_center:
                row_means = np.average(K, axis=1, weights=self.sample_weight_)
                diagonal = diagonal - self.K_fit_rows_ - row_means + self.K_fit_all_
            trace = float(diagonal.sum())
            if not trace > 0:
                raise ValueError(
                    f"The centred training kernel has trace {trace:.3g}; it cannot be "
                    "scaled to unit mean trace. Use with_trace=False."
                )
            self.scale_ = trace / K.shape[0]
        return self

    def _center(self, K: np.ndarray) -> np.ndarray:
        """Centre (in place) rows of kernels against the training points."""
        if not self.with_center:
            return K
        row_means = np.average(K, axis=1, weights=self.sample_weight_)
        K -= self.K_fit_rows_.astype(K.dtype, copy=False)
        K -= row_means[:, None]
        K += self.K_fit_all_
        return K

    def transform(self, K, copy: bool = True):
        """Centre and scale a kernel between new points and the training points.

        Parameters
        ----------
        K : array-like of shape (n_new, n_samples)
            Kernel between new points (rows) and training points (columns).
        copy : bool, default=True
            With False, dense float input is changed in place.

        Returns
        -------
        K_normalised : ndarray of shape (n_new, n_samples)
        """
        check_is_fitted(self, ["K_fit_rows_", "scale_"])
        K = _validate_kernel(self, K, reset=False, copy=copy)
        K = self._center(K)
        K /= K.dtype.type(self.scale_)
        return K

    def transform_diagonal(self, diagonal, K) -> np.ndarray:
        """The normalised ``k(x, x)`` of new points, from their own kernel values
        and their (raw) kernel with the training points.

        Parameters
        ----------
        diagonal : array-like of shape (n_new,)
            ``k(x, x)`` of each new point.
        K : array-like of shape (n_new, n_samples)
            The new points' kernel with the training points, not yet transformed.

        Returns
        -------
        diagonal_normalised : ndarray of shape (n_new,)
        """
        check_is_fitted(self, ["K_fit_rows_", "scale_"])
        values = np.array(diagonal, dtype=np.float64).ravel()
        K = np.asarray(K)
        if K.shape != (values.size, self.K_fit_rows_.size):
            raise ValueError(
                f"K has shape {K.shape}; expected ({values.size}, "
                f"{self.K_fit_rows_.size}) for {values.size} new points."
            )
        if self.with_center:
            row_means = np.average(K, axis=1, weights=self.sample_weight_)
            values += self.K_fit_all_ - 2.0 * row_means
        values /= self.scale_
        return values

    def fit_transform(self, K, y=None, sample_weight=None):
        """Fit to the training kernel and return it normalised.

        Parameters
        ----------
        K : array-like of shape (n_samples, n_samples)
            The training kernel.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            As for :meth:`fit`.

        Returns
        -------
        K_new : ndarray of shape (n_samples, n_samples)
            The centred and scaled kernel.
        """
        return self.fit(K, sample_weight=sample_weight).transform(K)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class SparseKernelCenterer(TransformerMixin, BaseEstimator):
    r"""Centre and scale the kernel between all points and an active set, for
    Nyström (sparse) kernel methods.

    With :math:`K_{NM}` the kernel between the n training points and m active
    points and :math:`K_{MM}` the active points' own kernel, the columns of
    :math:`K_{NM}` are centred on their training means and the result divided by
    :math:`\sqrt{\mathrm{Tr}(K_{NM} K_{MM}^{+} K_{NM}^T) / n}`, so that the Nyström
    approximation of the training kernel has trace n. The trace is computed in
    O(n m²) without forming an n x n matrix.

    Parameters
    ----------
    with_center : bool, default=True
        Centre the columns of :math:`K_{NM}`.
    with_trace : bool, default=True
        Scale so that the Nyström kernel has unit mean trace.
    rcond : float, default=1e-12
        Relative cut-off of the pseudo-inverse of :math:`K_{MM}`.

    Attributes
    ----------
    K_fit_rows_ : ndarray of shape (n_active,)
        (Weighted) column means of the training :math:`K_{NM}`.
    scale_ : float
        The divisor.
    n_active_ : int
        Size of the active set.
    """

    _parameter_constraints: dict = {
        "with_center": ["boolean"],
        "with_trace": ["boolean"],
        "rcond": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self, with_center: bool = True, with_trace: bool = True, rcond: float = 1e-12
    ) -> None:
        self.with_center = with_center
        self.with_trace = with_trace
        self.rcond = rcond

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, Knm, Kmm, y=None, sample_weight=None):
        """Learn the column means and the scale.

        Parameters
        ----------
        Knm : array-like of shape (n_samples, n_active)
            Kernel between the training points and the active points.
        Kmm : array-like of shape (n_active, n_active)
            Kernel between the active points.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights for the column means.

        Returns
        -------
        self : SparseKernelCenterer
        """
        Knm = check_array(Knm, dtype=list(FLOAT_DTYPES), input_name="Knm")
        Kmm = check_array(Kmm, dtype=np.float64, input_name="Kmm")
        if Kmm.shape[0] != Kmm.shape[1]:
            raise ValueError(f"Kmm must be square; got shape {Kmm.shape}.")
        if Knm.shape[1] != Kmm.shape[0]:
            raise ValueError(
                f"Knm has {Knm.shape[1]} columns but Kmm describes {Kmm.shape[0]} "
                "active points; they must match."
            )
        weights = _normalised_weights(sample_weight, Knm)
        self.n_active_ = Kmm.shape[0]
        self.n_features_in_ = Kmm.shape[0]
        if self.with_center:
            self.K_fit_rows_ = np.average(Knm, axis=0, weights=weights)
        else:
            self.K_fit_rows_ = np.zeros(Knm.shape[1], dtype=Knm.dtype)
        self.scale_ = 1.0
        if self.with_trace:
            centred = Knm - self.K_fit_rows_
            inverse = np.linalg.pinv(Kmm, rcond=self.rcond, hermitian=True)
            trace = float(np.einsum("ij,ij->", centred @ inverse, centred))
            if not trace > 0:
                raise ValueError(
                    f"The Nyström kernel has trace {trace:.3g}; it cannot be scaled. "
                    "Use with_trace=False."
                )
            self.scale_ = float(np.sqrt(trace / Knm.shape[0]))
        return self

    def transform(self, Knm, y=None):
        """Centre and scale a kernel between points and the active set.

        Parameters
        ----------
        Knm : array-like of shape (n_samples, n_active)
            Kernel between points and the active points.
        y : None
            Ignored.

        Returns
        -------
        Knm_normalised : ndarray of shape (n_samples, n_active)
        """
        check_is_fitted(self, ["K_fit_rows_", "scale_", "n_active_"])
        Knm = check_array(Knm, dtype=list(FLOAT_DTYPES), input_name="Knm")
        if Knm.shape[1] != self.n_active_:
            raise ValueError(
                f"Knm has {Knm.shape[1]} columns but the active set has "
                f"{self.n_active_} points."
            )
        return (Knm - self.K_fit_rows_) / self.scale_

    def fit_transform(self, Knm, Kmm, y=None, sample_weight=None):
        """Fit, then transform ``Knm``.

        Parameters
        ----------
        Knm : array-like of shape (n_samples, n_active)
            The kernel between all points and the active ones.
        Kmm : array-like of shape (n_active, n_active)
            The kernel between the active points.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            As for :meth:`fit`.

        Returns
        -------
        Knm_new : ndarray of shape (n_samples, n_active)
            ``Knm`` centred and scaled.
        """
        return self.fit(Knm, Kmm, sample_weight=sample_weight).transform(Knm)
