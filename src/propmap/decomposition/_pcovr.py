"""Principal Covariates Regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import MultiOutputMixin, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import HasMethods, StrOptions, _fit_context
from propmap._dask import (
    DaskStatistics,
    check_dask_features,
    is_dask_array,
    map_rows,
    rows_like,
)
from propmap._linalg import solve_penalised, symmetric_eigh
from propmap._validation import (
    FLOAT_DTYPES,
    check_precomputed_weights,
    column_means,
    validate_features_targets,
)
from propmap.decomposition._base import BasePCov, sparse_safe_squared_norm
from propmap.utils._fit_checks import check_lr_fit
from propmap.utils._pcovr_utils import cross_products, gram_matrix

__all__ = ["PCovR"]


def default_regressor() -> Ridge:
    """The regressor PCovR uses when none is given: a nearly unregularised ridge."""
    return Ridge(alpha=1e-6, fit_intercept=False, tol=1e-12)


@dataclass
class _LinearFit:
    """A linear regression ``Ŷ = X W + b`` in the form the PCov solvers need."""

    weights: np.ndarray  # (n_features, n_targets)
    intercept: np.ndarray  # (n_targets,)
    regressor: object


def _solvable_from_gram(regressor) -> bool:
    """True for an unfitted ridge whose solution needs only ``XᵀX`` (or ``XXᵀ``)
    and ``XᵀY``: no intercept, a direct solver, one penalty for every target."""
    if type(regressor) is not Ridge:
        return False
    try:
        check_is_fitted(regressor)
        return False
    except NotFittedError:
        pass
    return (
        not regressor.fit_intercept
        and regressor.solver in ("auto", "cholesky")
        and not regressor.positive
        and np.ndim(regressor.alpha) == 0
    )


def _ridge_with_coefficients(
    template: Ridge, weights: np.ndarray, intercept=None
) -> Ridge:
    """A fitted copy of ``template`` holding coefficients computed by PCovR (and
    an intercept, default 0), shaped as ``template.fit(X, Y)`` would leave them
    (one target gives a 1-D ``coef_`` and a float ``intercept_``)."""
    fitted = clone(template)
    n_features, n_targets = weights.shape
    fitted.coef_ = weights[:, 0].copy() if n_targets == 1 else weights.T.copy()
    if intercept is None:
        fitted.intercept_ = 0.0
    else:
        intercept = np.asarray(intercept, dtype=np.float64).reshape(n_targets)
        fitted.intercept_ = float(intercept[0]) if n_targets == 1 else intercept
    fitted.n_features_in_ = n_features
    fitted.n_iter_ = None
    fitted.solver_ = "cholesky"
    return fitted


class PCovR(RegressorMixin, MultiOutputMixin, BasePCov):
    r"""Principal Covariates Regression (PCovR).

    A linear latent projection ``T = X P_XT`` that balances reconstructing X (as PCA
    does) against predicting Y (as a linear regression does), minimising

    .. math::

        \alpha \lVert X - X P_{XT} P_{TX} \rVert^2 +
        (1 - \alpha) \lVert Y - X P_{XT} P_{TY} \rVert^2

    where α is ``mixing``. It is the eigendecomposition of the modified Gram matrix
    :math:`\tilde{K} = \alpha XX^T + (1-\alpha)\hat{Y}\hat{Y}^T` (sample space) or,
    equivalently, of the modified covariance
    :math:`\tilde{C} = \alpha C + (1-\alpha) C^{-1/2}X^T\hat{Y}\hat{Y}^TXC^{-1/2}`
    with :math:`C = X^TX` (feature space), where Ŷ is the regressor's in-sample
    prediction.

    X and Y are used as given, not centred: centre and scale them first, e.g. with
    :class:`~propmap.preprocessing.StandardFlexibleScaler`. A
    :class:`~propmap.exceptions.UncenteredDataWarning` is raised when the column
    means of X exceed ``tol``. Unlike scikit-matter, ``transform``, ``predict`` and
    ``inverse_transform`` all apply the fitted projectors to the data as given, so
    ``predict(X) == transform(X) @ pty_`` holds for uncentred data too.

    The feature-space fit reads X once: it forms ``XᵀX`` and ``XᵀY``, solves the
    default ridge regression from them, and uses ``XᵀŶ = XᵀX W``. It accepts
    scipy.sparse X, and float32 X gives float32 projectors and outputs.

    Parameters
    ----------
    mixing : float, default=0.5
        The mixing parameter α in [0, 1]: 1 is PCA, 0 is a reduced-rank regression.
    n_components : int, float, "mle" or None, default=None
        Number of components to keep. ``None`` keeps ``min(n_samples, n_features)``
        (one fewer with ``svd_solver="arpack"``); a float in (0, 1) keeps the
        fewest components whose share of the trace of the modified matrix exceeds
        it; ``"mle"`` chooses the number by Minka's maximum likelihood estimate on
        the modified matrix's explained variance, as PCA does (needs
        ``n_samples >= n_features`` and the full solver).
    svd_solver : {"auto", "full", "arpack", "randomized"}, default="auto"
        Eigensolver for the modified matrix. ``"auto"`` uses ``"full"`` when X has
        at most 500 rows and columns or most components are kept, else
        ``"randomized"``.
    tol : float, default=1e-12
        Eigenvalues at or below ``tol`` are treated as zero (their directions are
        dropped); also arpack's tolerance and the threshold of the centring warning.
    space : {"auto", "feature", "sample"}, default="auto"
        Solve in feature space (d x d problem) or sample space (n x n problem).
        ``"auto"`` chooses feature space when n_samples > n_features.
    regressor : estimator, "precomputed" or None, default=None
        Linear regressor giving Ŷ and its weights W: any estimator with ``fit`` that
        exposes ``coef_`` (and optionally ``intercept_``) once fitted, such as
        :class:`~sklearn.linear_model.Ridge`, ``RidgeCV``, ``LinearRegression`` or
        ``Lasso``. A fitted regressor is used as it is (a copy is stored). With
        ``"precomputed"`` the Y given to :meth:`fit` is taken as Ŷ. ``None`` means
        ``Ridge(alpha=1e-6, fit_intercept=False, tol=1e-12)``.
    iterated_power : int or "auto", default="auto"
        Power iterations of the randomized solver.
    random_state : int, RandomState instance or None, default=None
        Seeds the arpack and randomized solvers.
    whiten : bool, default=False
        Divide the output of :meth:`transform` by ``sqrt(explained_variance_)``.
    uncertainty : bool, default=False
        Keep what ``predict(X, return_std=True)`` needs (a ridge regressor:
        ``alpha`` or ``alpha_`` > 0, the default included): the ridge's
        posterior along X and a noise level fitted on its exact leave-one-out
        errors (one eigendecomposition of the smaller of XᵀX and XXᵀ more, and
        the posterior's directions, kept in float32). The prediction through
        the latent space gets the noise level times the ratio of its training
        error to the ridge's. With the default tiny penalty and fewer samples
        than features the ridge interpolates, and its leave-one-out errors say
        so: choose the penalty (``RidgeCV``), or use
        :class:`~propmap.decomposition.PCovRCV`, calibrated on its folds.

    Attributes
    ----------
    pxt_ : ndarray of shape (n_features, n_components_)
        Projector from X to the latent space.
    ptx_ : ndarray of shape (n_components_, n_features)
        Projector from the latent space back to X.
    pty_ : ndarray of shape (n_components_, n_targets) or (n_components_,)
        Projector from the latent space to Y.
    pxy_ : ndarray of shape (n_features, n_targets) or (n_features,)
        ``pxt_ @ pty_``, the regression weights of the fitted model.
    components_ : ndarray of shape (n_components_, n_features)
        ``pxt_.T``.
    explained_variance_ : ndarray of shape (n_components_,)
        Eigenvalues of the modified matrix divided by ``n_samples - 1``.
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Eigenvalues over the trace of the modified matrix (all components sum to 1).
    singular_values_ : ndarray of shape (n_components_,)
        Square roots of the eigenvalues of the modified matrix.
    n_components_ : int
        Number of components kept.
    mean_ : ndarray of shape (n_features,)
        Column means of the training X (recorded for the centring check only).
    regressor_ : estimator
        The fitted regressor (absent with ``regressor="precomputed"``).
    space_ : {"feature", "sample"}
        The space the fit was solved in.
    fit_svd_solver_ : str
        The eigensolver used.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_in_ : int
        Number of samples seen during fit.
    posterior_ : LinearPosterior
        With ``uncertainty=True``: the ridge's posterior and noise level.
    noise_std_, latent_noise_std_ : float or ndarray of shape (n_targets,)
        With ``uncertainty=True``: the noise levels s of the ridge and of the
        prediction through the latent space, ``σ = s sqrt(1 + q)``.

    See Also
    --------
    sklearn.decomposition.PCA : the α = 1 limit.
    propmap.utils.pcovr_covariance : the modified covariance.
    propmap.utils.pcovr_kernel : the modified Gram matrix.

    References
    ----------
    .. [1] S. de Jong, H. A. L. Kiers, "Principal covariates regression: Part I.
       Theory", Chemometrics and Intelligent Laboratory Systems 14, 155-164 (1992).
       https://doi.org/10.1016/0169-7439(92)80100-I
    .. [2] B. A. Helfrecht, R. K. Cersonsky, G. Fraux, M. Ceriotti, "Structure-property
       maps with Kernel principal covariates regression", Machine Learning: Science
       and Technology 1, 045021 (2020). https://doi.org/10.1088/2632-2153/aba9ef

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.decomposition import PCovR
    >>> X = np.array([[-1.0, 1, -3, 1], [1, -2, 1, 2], [-2, 0, -2, -2], [1, 0, 2, -1]])
    >>> Y = np.array([[0.0, -5], [-1, 1], [1, -5], [-3, 2]])
    >>> X -= X.mean(axis=0)
    >>> pcovr = PCovR(mixing=0.1, n_components=2).fit(X, Y)
    >>> pcovr.transform(X).round(3)
    array([[-3.224, -0.368],
           [ 2.619,  1.026],
           [-3.57 ,  0.146],
           [ 4.174, -0.804]])
    >>> pcovr.predict(X).round(3)
    array([[ 0.968, -3.16 ],
           [-0.187,  2.776],
           [ 1.529, -3.341],
           [-2.31 ,  3.725]])
    """

    _parameter_constraints: dict = {
        **BasePCov._parameter_constraints,
        "regressor": [HasMethods(["fit"]), StrOptions({"precomputed"}), None],
        "uncertainty": ["boolean"],
    }

    # a refit without uncertainty=True must not keep an older fit's posterior
    _conditional_attributes = (
        "regressor_", "posterior_", "noise_std_", "latent_noise_std_",
    )  # fmt: skip

    def __init__(
        self,
        mixing: float = 0.5,
        n_components: int | float | None = None,
        svd_solver: str = "auto",
        tol: float = 1e-12,
        space: str | None = "auto",
        regressor=None,
        iterated_power: int | str = "auto",
        random_state: int | np.random.RandomState | None = None,
        whiten: bool = False,
        uncertainty: bool = False,
    ) -> None:
        self.mixing = mixing
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.tol = tol
        self.space = space
        self.regressor = regressor
        self.iterated_power = iterated_power
        self.random_state = random_state
        self.whiten = whiten
        self.uncertainty = uncertainty

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, Y, W=None):
        """Fit the projectors to X and Y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features, ideally centred and scaled.
        Y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets, ideally centred and scaled. With ``regressor="precomputed"``,
            the regression's approximation Ŷ.
        W : array-like of shape (n_features, n_targets), default=None
            Regression weights, only with ``regressor="precomputed"``; by default
            the least-squares ``W = X⁺Ŷ``.

        Returns
        -------
        self : PCovR
            The fitted estimator.
        """
        if is_dask_array(X):
            return self._fit_dask(X, Y, W)
        X, targets, targets_1d = validate_features_targets(self, X, Y)
        check_precomputed_weights(W, "regressor", self.regressor)
        self._start_fit(X)
        targets64 = targets.astype(np.float64, copy=False)
        if self.space_ == "feature":
            gram = gram_matrix(X)
            _check_finite_product(gram)
            xt_targets, column_sums = cross_products(X, targets)
            self._fit_from_products(gram, xt_targets, column_sums, X, Y)
        else:
            self._record_mean(column_means(X))
            kernel = np.asarray(safe_sparse_dot(X, X.T, dense_output=True), np.float64)
            _check_finite_product(kernel)
            targets_hat, weights = self._regress_sample_space(
                X, Y, targets64, kernel, W
            )
            self._fit_sample_space(X, kernel, targets64, targets_hat, weights)
        self._finish_fit(X.dtype, targets_1d)
        if self.uncertainty:
            self._fit_posterior(X, targets64, targets_1d)
        return self

    def _fit_posterior(self, X, targets, targets_1d: bool) -> None:
        """The ridge's posterior and noise levels (``uncertainty=True``)."""
        from propmap.decomposition._uncertainty import LinearPosterior, error_ratio

        regressor = getattr(self, "regressor_", None)
        if regressor is None:
            raise ValueError(
                "uncertainty=True needs a ridge regressor fitted here; "
                "regressor='precomputed' gives none."
            )
        shaped = targets[:, 0] if targets_1d else targets
        self.posterior_ = LinearPosterior.of(regressor, X, shaped)
        self.noise_std_ = self.posterior_.noise_std
        ratio = error_ratio(
            targets, regressor.predict(X), safe_sparse_dot(X, self.pxy_)
        )
        self.latent_noise_std_ = self.noise_std_ * (
            float(ratio[0]) if targets_1d else ratio
        )

    def _finish_fit(self, dtype, targets_1d: bool):
        self._cast_projectors(dtype)
        self.pxy_ = self.pxt_ @ self.pty_
        if targets_1d:
            self.pxy_ = self.pxy_[:, 0]
            self.pty_ = self.pty_[:, 0]
        self.components_ = self.pxt_.T
        return self

    def _fit_from_products(self, gram, xt_targets, column_sums, X, Y) -> None:
        """The feature-space fit from XᵀX, XᵀY and the column sums (X and Y only
        for a regressor that cannot be solved from them; None for a dask X)."""
        self._record_mean(column_sums / self.n_samples_in_)
        gram_values, gram_vectors = symmetric_eigh(gram)
        del gram
        projected_targets = gram_vectors.T @ xt_targets
        projected_targets_hat = self._regress_feature_space(
            X, Y, gram_values, gram_vectors, projected_targets, column_sums
        )
        self._fit_feature_space(
            gram_values, gram_vectors, projected_targets, projected_targets_hat
        )

    def _fit_dask(self, X, Y, W):
        """A dask X: one pass (one ``dask.compute``) for XᵀX, XᵀY and the column
        sums, then the feature-space fit in memory."""
        X = check_dask_features(X)
        if Y is None:
            raise ValueError("PCovR requires y to be passed, but the target y is None.")
        Y, targets_1d = rows_like(Y, X)
        check_precomputed_weights(W, "regressor", self.regressor)
        self.n_features_in_ = X.shape[1]
        self._start_fit(X)
        if self.space_ != "feature":
            raise ValueError(
                "A dask X is fitted in feature space, from its d x d statistics; "
                f"space={self.space!r} with {X.shape[0]} samples and {X.shape[1]} "
                "features would need the n x n kernel."
            )
        template = self._regressor_template()
        if self.regressor != "precomputed" and not _solvable_from_gram(template):
            raise ValueError(
                "A dask X needs a regressor solvable from XᵀX and XᵀY (the default, "
                "or a Ridge without an intercept) or regressor='precomputed'; "
                f"got {template!r}."
            )
        statistics = DaskStatistics.of(X, Y)
        self._fit_from_products(
            statistics.gram, statistics.xty, statistics.column_sums, None, None
        )
        return self._finish_fit(X.dtype, targets_1d)

    def _regressor_template(self):
        return default_regressor() if self.regressor is None else self.regressor

    def _fit_general_regressor(self, X, Y, n_targets: int) -> _LinearFit:
        """Fit (or take, if fitted) a user-given linear regressor."""
        regressor = check_lr_fit(self._regressor_template(), X, Y)
        coefficients = np.asarray(regressor.coef_, dtype=np.float64)
        weights = coefficients.reshape(n_targets, X.shape[1]).T
        intercept = np.broadcast_to(
            np.asarray(getattr(regressor, "intercept_", 0.0), dtype=np.float64),
            (n_targets,),
        ).copy()
        return _LinearFit(weights, intercept, regressor)

    def _regress_feature_space(
        self, X, Y, gram_values, gram_vectors, projected_targets, column_sums
    ) -> np.ndarray:
        """``Vᵀ XᵀŶ`` in the eigenbasis ``C = V D Vᵀ``, with ``XᵀŶ = C W + (Σ x) bᵀ``.

        The default ridge is solved from the same eigendecomposition,
        ``W = V (D + λ)⁻¹ Vᵀ XᵀY``, so it costs no pass over X.
        """
        if self.regressor == "precomputed":  # Y is Ŷ already
            return projected_targets
        template = self._regressor_template()
        if _solvable_from_gram(template):
            denominators = gram_values + float(template.alpha)
            inverse = np.zeros_like(denominators)
            solvable = denominators > self.tol
            inverse[solvable] = 1.0 / denominators[solvable]
            weights = gram_vectors @ (projected_targets * inverse[:, None])
            self.regressor_ = _ridge_with_coefficients(template, weights)
            return projected_targets * (gram_values * inverse)[:, None]
        fit = self._fit_general_regressor(X, Y, projected_targets.shape[1])
        self.regressor_ = fit.regressor
        projected = gram_values[:, None] * (gram_vectors.T @ fit.weights)
        projected += np.outer(gram_vectors.T @ column_sums, fit.intercept)
        return projected

    def _regress_sample_space(self, X, Y, targets, kernel, W):
        """Ŷ and W for the sample-space solver."""
        if self.regressor == "precomputed":
            targets_hat = targets
            if W is not None:
                weights = np.asarray(W, dtype=np.float64).reshape(X.shape[1], -1)
            elif sp.issparse(X):
                dual = scipy.linalg.lstsq(kernel, targets, cond=self.tol)[0]
                weights = np.asarray(safe_sparse_dot(X.T, dual), dtype=np.float64)
            else:
                weights = np.linalg.lstsq(X, targets, rcond=self.tol)[0]
            return targets_hat, np.asarray(weights, dtype=np.float64)
        template = self._regressor_template()
        if _solvable_from_gram(template):
            dual = solve_penalised(kernel, targets, float(template.alpha), warn=False)
            weights = np.asarray(safe_sparse_dot(X.T, dual), dtype=np.float64)
            self.regressor_ = _ridge_with_coefficients(template, weights)
            return kernel @ dual, weights
        fit = self._fit_general_regressor(X, Y, targets.shape[1])
        self.regressor_ = fit.regressor
        targets_hat = np.asarray(safe_sparse_dot(X, fit.weights), dtype=np.float64)
        return targets_hat + fit.intercept, fit.weights

    def predict(self, X=None, T=None, return_std: bool = False):
        """Predict targets from features (``X P_XT P_TY``) or from latent coordinates
        (``T P_TY``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
            Features.
        T : array-like of shape (n_samples, n_components_), default=None
            Latent coordinates as returned by :meth:`transform`; used when X is None.
        return_std : bool, default=False
            Also the standard deviation of each prediction,
            ``latent_noise_std_ sqrt(1 + q(x))`` (needs X and a fit with
            ``uncertainty=True``).

        Returns
        -------
        Y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Y_std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        if return_std:
            return self._predict_with_std(X)
        check_is_fitted(self, ["pxy_", "pty_"])
        if X is None and T is None:
            raise ValueError("Either X or T must be given.")
        if X is not None:
            if is_dask_array(X):
                width = None if self.pxy_.ndim == 1 else self.pxy_.shape[1]
                return map_rows(
                    X, self.predict, width, self.pxy_.dtype, self.n_features_in_
                )
            X = self._validate_new(X)
            return np.asarray(safe_sparse_dot(X, self.pxy_))
        return self._check_latent(T) @ self.pty_

    def _predict_with_std(self, X):
        check_is_fitted(self, ["pxy_", "pty_"])
        if X is None:
            raise ValueError("return_std=True needs X (the features).")
        if getattr(self, "posterior_", None) is None:
            raise ValueError(
                "return_std=True needs a fit with uncertainty=True (the ridge's "
                "posterior and noise level)."
            )
        if is_dask_array(X):
            raise ValueError("return_std=True takes X in memory, not a dask array.")
        from propmap.decomposition._uncertainty import spread

        predicted = self.predict(X)
        variance = self.posterior_.variance(self._validate_new(X))
        return predicted, spread(variance, self.latent_noise_std_, predicted.ndim == 2)

    def score(self, X, y, T=None):
        r"""Negative sum of the relative reconstruction and prediction losses.

        .. math::

            -\left(\frac{\lVert X - T P_{TX}\rVert^2}{\lVert X\rVert^2} +
            \frac{\lVert Y - T P_{TY}\rVert^2}{\lVert Y\rVert^2}\right)

        Larger is better, as scikit-learn's model selection expects.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        T : array-like of shape (n_samples, n_components_), default=None
            Latent coordinates of X, if already computed.

        Returns
        -------
        score : float
        """
        check_is_fitted(self, ["pxy_", "pty_"])
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=list(FLOAT_DTYPES),
            multi_output=True,
            y_numeric=True,
            reset=False,
        )
        latent = self._latent(X) if T is None else self._check_latent(T)
        reconstruction = latent @ self.ptx_
        if sp.issparse(X):
            residual_x = (
                sparse_safe_squared_norm(X)
                - 2.0 * float(X.multiply(reconstruction).sum())
                + sparse_safe_squared_norm(reconstruction)
            )
        else:
            residual_x = sparse_safe_squared_norm(X - reconstruction)
        prediction = latent @ self.pty_
        y = np.asarray(y, dtype=prediction.dtype).reshape(prediction.shape)
        loss_x = residual_x / sparse_safe_squared_norm(X)
        loss_y = sparse_safe_squared_norm(y - prediction) / sparse_safe_squared_norm(y)
        return -float(loss_x + loss_y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


def _check_finite_product(product: np.ndarray) -> None:
    """NaN or infinity anywhere in X shows on the diagonal of XᵀX (or XXᵀ)."""
    if not np.all(np.isfinite(np.diagonal(product))):
        raise ValueError(
            "X contains values too large for its dtype: XᵀX overflowed. "
            "Scale X before fitting."
        )
