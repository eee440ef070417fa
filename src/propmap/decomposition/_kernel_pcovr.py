"""Kernel Principal Covariates Regression."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.kernel_ridge import KernelRidge
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import StrOptions, _fit_context
from propmap._linalg import solve_penalised
from propmap._validation import check_precomputed_weights
from propmap.decomposition._kernel_base import BaseKernelPCov
from propmap.decomposition._uncertainty import (
    KernelPosterior,
    in_sample_noise,
    spread,
)

__all__ = ["KernelPCovR"]

_KERNEL_ATTRIBUTES = ("kernel", "gamma", "degree", "coef0", "kernel_params")


class KernelPCovR(RegressorMixin, MultiOutputMixin, BaseKernelPCov):
    r"""Kernel Principal Covariates Regression (KPCovR).

    PCovR in the feature space of a kernel: the latent projection ``T = K P_KT`` of
    the training kernel K minimises

    .. math::

        \alpha \lVert \phi - \hat{\phi} \rVert^2 / \lVert \phi \rVert^2 +
        (1 - \alpha) \lVert Y - T P_{TY} \rVert^2 / \lVert Y \rVert^2

    through the top eigenpairs of :math:`\tilde{K} = \alpha K + (1 - \alpha)
    \hat{Y}\hat{Y}^T`, where Ŷ = KW is a kernel ridge regression's in-sample
    prediction. With a linear kernel and no centring it is sample-space
    :class:`~propmap.decomposition.PCovR`.

    The fit holds at most two n x n arrays (the kernel and K~; the exact
    eigensolver works in K~'s memory), never the n x n identity or
    ``αI + (1 − α)WŶᵀ`` products; kernels with new points are computed in bounded
    row blocks.

    Parameters
    ----------
    mixing : float, default=0.5
        The mixing parameter α in [0, 1]: 1 is kernel PCA, 0 a reduced-rank kernel
        ridge regression.
    n_components : int, float, "mle" or None, default=None
        Number of components to keep. ``None`` keeps ``n_samples`` (one fewer
        with ``svd_solver="arpack"``); a float in (0, 1) keeps the fewest components
        whose share of the trace of K~ exceeds it; ``"mle"``: Minka's estimate
        of the rank from the eigenvalues of K~ / (n - 1) as variances.
        (scikit-matter takes the eigenvalues as singular values and squares
        them, which keeps fewer components.)
    svd_solver : {"auto", "full", "arpack", "randomized"}, default="auto"
        Eigensolver for K~. ``"auto"`` uses ``"full"`` when X has at most 500 rows
        and columns or ``n_components`` is None, ``"arpack"`` for fewer than 10
        components (exact to machine precision, and the fastest there), else
        ``"randomized"`` when fewer than 80% of the components are wanted. (The
        reference uses ``"randomized"`` where this uses ``"arpack"``.)
    regressor : KernelRidge, "precomputed" or None, default=None
        The kernel ridge regression giving Ŷ = KW. Its kernel parameters must be
        this estimator's. A fitted one is used as it is (its ``dual_coef_`` must
        belong to the same training points); an unfitted one is fitted on the
        (centred) training kernel. ``"precomputed"``: the Y given to :meth:`fit`
        is Ŷ, and W is given to :meth:`fit` or ``lstsq(K, Ŷ)``. ``None`` means
        ``KernelRidge(alpha=1.0)`` with this estimator's kernel.
    kernel : str or callable, default="linear"
        Any kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels` ("linear",
        "rbf", "poly", "sigmoid", "cosine", "laplacian", "chi2", "additive_chi2"),
        a callable ``k(x, z) -> float`` or ``"precomputed"`` (X is then the
        training kernel at fit and the kernel between new and training points
        afterwards).
    gamma : float or None, default=None
        Kernel coefficient of the rbf, poly, sigmoid, laplacian and chi2 kernels
        (None: scikit-learn's default, ``1 / n_features``).
    degree : float, default=3
        Degree of the poly kernel.
    coef0 : float, default=1
        Independent term of the poly and sigmoid kernels.
    kernel_params : dict or None, default=None
        Keyword arguments of a callable kernel.
    center : bool, default=False
        Centre the kernel in feature space and scale it to trace n
        (:class:`~propmap.preprocessing.KernelNormalizer`); new kernels get the
        training centring and scale.
    fit_inverse_transform : bool, default=False
        Learn the least-squares map from the latent space back to X, for
        :meth:`inverse_transform`.
    tol : float, default=1e-12
        Eigenvalues of K~ at or below ``tol`` are treated as zero; also the
        relative cutoff of the least-squares solves and arpack's tolerance.
    n_jobs : int or None, default=None
        Parallel jobs for the kernel computation.
    iterated_power : int or "auto", default="auto"
        Power iterations of the randomized solver.
    random_state : int, RandomState instance or None, default=None
        Seeds the arpack and randomized solvers.
    uncertainty : bool, default=False
        Keep what ``predict(X, return_std=True)`` needs (a kernel ridge
        regression fitted here or given, with one ``alpha`` > 0; not with
        ``kernel="precomputed"``, which gives no ``k(x, x)`` of new points):
        the kernel ridge's posterior and a noise level fitted on its exact
        leave-one-out errors (one n x n eigendecomposition more, and an
        ``n x k`` projection kept). The prediction through the latent space
        gets the noise level times the ratio of its training error to the
        ridge's. To calibrate on held-out folds instead, use
        :class:`~propmap.decomposition.KernelPCovRCV`.

    Attributes
    ----------
    pkt_ : ndarray of shape (n_samples_fit, n_components_)
        Projector from the training kernel to the latent space.
    pty_ : ndarray of shape (n_components_, n_targets) or (n_components_,)
        Least-squares map from the training latent coordinates to Y.
    pky_ : ndarray of shape (n_samples_fit, n_targets) or (n_samples_fit,)
        ``pkt_ @ pty_``: the dual regression weights of the fitted model.
    ptx_ : ndarray of shape (n_components_, n_features)
        Map from the latent space back to X (with ``fit_inverse_transform=True``).
    components_ : ndarray of shape (n_components_, n_samples_fit)
        ``pkt_.T``.
    X_fit_ : ndarray of shape (n_samples_fit, n_features)
        The training points (the training kernel with ``kernel="precomputed"``).
    centerer_ : KernelNormalizer
        The fitted centring (with ``center=True``).
    regressor_ : KernelRidge
        The fitted kernel ridge regression (absent with ``"precomputed"``); its
        dual coefficients are those on the (centred) training kernel.
    singular_values_, explained_variance_, explained_variance_ratio_ : ndarray
        Square roots of the eigenvalues of K~, the eigenvalues over
        ``n_samples - 1``, and over the trace of K~.
    n_components_ : int
        Number of components kept.
    fit_svd_solver_ : str
        The eigensolver used.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_in_ : int
        Number of training samples.
    posterior_ : KernelPosterior
        With ``uncertainty=True``: the kernel ridge's posterior.
    noise_std_, latent_noise_std_ : float or ndarray of shape (n_targets,)
        With ``uncertainty=True``: the noise levels s of the kernel ridge and
        of the prediction through the latent space, ``σ = s sqrt(1 + q)``.

    See Also
    --------
    PCovR : the linear version.
    SparseKernelPCovR : the Nyström approximation, O(n·m) memory.

    References
    ----------
    .. [1] B. A. Helfrecht, R. K. Cersonsky, G. Fraux, M. Ceriotti, "Structure-property
       maps with Kernel principal covariates regression", Machine Learning: Science
       and Technology 1, 045021 (2020). https://doi.org/10.1088/2632-2153/aba9ef

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.decomposition import KernelPCovR
    >>> from propmap.preprocessing import StandardFlexibleScaler
    >>> X = np.array([[-1.0, 1, -3, 1], [1, -2, 1, 2], [-2, 0, -2, -2], [1, 0, 2, -1]])
    >>> Y = np.array([[0.0, -5], [-1, 1], [1, -5], [-3, 2]])
    >>> X = StandardFlexibleScaler().fit_transform(X)
    >>> Y = StandardFlexibleScaler(column_wise=True).fit_transform(Y)
    >>> kpcovr = KernelPCovR(mixing=0.1, n_components=2, kernel="rbf", gamma=1)
    >>> kpcovr.fit(X, Y).transform(X).round(3)
    array([[-0.613, -0.189],
           [ 0.452,  0.255],
           [-0.779,  0.048],
           [ 0.912, -0.212]])
    >>> round(kpcovr.score(X, Y), 3)
    -0.52
    """

    _parameter_constraints: dict = {
        **BaseKernelPCov._parameter_constraints,
        "regressor": [KernelRidge, StrOptions({"precomputed"}), None],
        "uncertainty": ["boolean"],
    }

    _conditional_attributes = (
        *BaseKernelPCov._conditional_attributes,
        "posterior_", "noise_std_", "latent_noise_std_",
    )  # fmt: skip

    def __init__(
        self,
        mixing: float = 0.5,
        n_components: int | float | None = None,
        svd_solver: str = "auto",
        regressor=None,
        kernel="linear",
        gamma: float | None = None,
        degree: float = 3,
        coef0: float = 1,
        kernel_params: dict | None = None,
        center: bool = False,
        fit_inverse_transform: bool = False,
        tol: float = 1e-12,
        n_jobs: int | None = None,
        iterated_power: int | str = "auto",
        random_state=None,
        uncertainty: bool = False,
    ) -> None:
        self.mixing = mixing
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.regressor = regressor
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.center = center
        self.fit_inverse_transform = fit_inverse_transform
        self.tol = tol
        self.n_jobs = n_jobs
        self.iterated_power = iterated_power
        self.random_state = random_state
        self.uncertainty = uncertainty

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, Y, W=None):
        """Fit the projectors to X and Y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (the training kernel with ``kernel="precomputed"``).
        Y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; with ``regressor="precomputed"``, the regression's Ŷ.
        W : array-like of shape (n_samples, n_targets), default=None
            Dual regression weights (Ŷ = KW), only with ``regressor="precomputed"``.

        Returns
        -------
        self : KernelPCovR
        """
        X, Y = validate_data(
            self,
            X,
            Y,
            dtype=np.float64,
            multi_output=True,
            y_numeric=True,
            ensure_min_samples=2,
        )
        check_precomputed_weights(W, "regressor", self.regressor)
        targets_1d = Y.ndim == 1
        targets = Y.reshape(X.shape[0], -1)
        penalty = self._check_uncertainty() if self.uncertainty else None
        self._start_fit(X)
        kernel = self._training_kernel(X)
        targets_hat, weights = self._regress(kernel, X, targets, W, targets_1d)
        if penalty is not None:  # the training points' leverages, for s
            self.posterior_, leverage = KernelPosterior.of(kernel, penalty)
        least_squares = self._fit_kernel(kernel, targets_hat, weights)
        self.pty_ = least_squares(targets)
        if self.fit_inverse_transform:
            self.ptx_ = least_squares(X)
        self.pky_ = self.pkt_ @ self.pty_
        if penalty is not None:
            self.noise_std_, self.latent_noise_std_ = in_sample_noise(
                targets, targets_hat, kernel @ self.pky_, leverage, targets_1d
            )
        del kernel
        if targets_1d:
            self.pty_ = self.pty_[:, 0]
            self.pky_ = self.pky_[:, 0]
        return self

    def _check_uncertainty(self) -> float:
        """The penalty of the kernel ridge whose posterior ``uncertainty=True``
        keeps, checked before any work."""
        if self._precomputed():
            raise ValueError(
                "uncertainty=True needs k(x, x) of new points, which "
                "kernel='precomputed' does not give; compute the kernel here "
                "(kernel='rbf', ...) or leave uncertainty off."
            )
        if isinstance(self.regressor, str):  # "precomputed"
            raise ValueError(
                "uncertainty=True needs a kernel ridge regression; "
                "regressor='precomputed' gives none."
            )
        alpha = 1.0 if self.regressor is None else self.regressor.alpha
        alphas = np.unique(np.atleast_1d(np.asarray(alpha, np.float64)))
        if alphas.size != 1 or not alphas[0] > 0:
            raise ValueError(
                "uncertainty=True needs the kernel ridge's one penalty alpha > 0; "
                f"got alpha={alpha!r}."
            )
        return float(alphas[0])

    def _regress(
        self, kernel, X, targets, W, targets_1d: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ŷ = KW and the dual weights W."""
        n_samples = kernel.shape[0]
        if self.regressor == "precomputed":
            if W is None:
                weights = np.linalg.lstsq(kernel, targets, rcond=self.tol)[0]
            else:
                weights = np.asarray(W, dtype=np.float64).reshape(n_samples, -1)
                if weights.shape[1] != targets.shape[1]:
                    raise ValueError(
                        f"W has {weights.shape[1]} columns but Y has "
                        f"{targets.shape[1]} targets."
                    )
            return targets, weights
        template = self.regressor
        if template is None:
            template = KernelRidge(
                **{name: getattr(self, name) for name in _KERNEL_ATTRIBUTES}
            )
        mismatched = [
            name
            for name in _KERNEL_ATTRIBUTES
            if getattr(template, name) != getattr(self, name)
        ]
        if mismatched:
            details = ", ".join(
                f"{name}={getattr(template, name)!r} vs {getattr(self, name)!r}"
                for name in mismatched
            )
            raise ValueError(
                "The regressor's kernel parameters differ from this estimator's: "
                f"{details}."
            )
        try:
            check_is_fitted(template, "dual_coef_")
            regressor = deepcopy(template)
            weights = np.asarray(template.dual_coef_, dtype=np.float64)
            weights = weights.reshape(weights.shape[0], -1)
            if weights.shape != targets.shape:
                raise ValueError(
                    f"The fitted regressor's dual coefficients have shape "
                    f"{weights.shape}, but Y has shape {targets.shape}: it must be "
                    "fitted on the same training points and targets."
                )
        except NotFittedError:
            weights = self._solve_ridge(kernel, targets, template.alpha)
            regressor = clone(template)
            regressor.dual_coef_ = weights[:, 0].copy() if targets_1d else weights
            regressor.X_fit_ = X
            regressor.n_features_in_ = X.shape[1]
        self.regressor_ = regressor
        return kernel @ weights, weights

    def _solve_ridge(self, kernel, targets, alpha) -> np.ndarray:
        """Dual kernel ridge weights ``(K + αI)⁻¹ Y``, one n x n factorisation
        (scikit-learn's KernelRidge holds three n x n arrays here)."""
        alphas = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
        if alphas.size == 1:
            return solve_penalised(kernel, targets, float(alphas[0]))
        if alphas.size != targets.shape[1]:
            raise ValueError(
                f"The regressor has {alphas.size} penalties for {targets.shape[1]} "
                "targets."
            )
        return np.column_stack(
            [
                solve_penalised(kernel, targets[:, [j]], float(a))[:, 0]
                for j, a in enumerate(alphas)
            ]
        )

    def _get_kernel(self, X, Y=None) -> np.ndarray:
        """The kernel between the rows of X and Y (X and itself when Y is None),
        with this estimator's ``kernel``, ``gamma``, ``degree``, ``coef0``,
        ``kernel_params`` and ``n_jobs``: scikit-matter's helper of the same name,
        which user code calls to build kernels for this model.

        It is the plain kernel, without the centring and scaling of
        ``center=True`` (apply ``centerer_.transform`` for those), needs no fit,
        and with ``kernel="precomputed"`` returns X as given (checked against Y).

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
        Y : array-like of shape (n_samples_Y, n_features), default=None

        Returns
        -------
        K : ndarray of shape (n_samples_X, n_samples_Y)
        """
        return self._pairwise(X, Y)

    def predict(self, X, return_std: bool = False):
        """Predict targets, ``K(X, X_fit) P_KT P_TY``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New points (their kernel with the training points if precomputed).
        return_std : bool, default=False
            Also the standard deviation of each prediction,
            ``latent_noise_std_ sqrt(1 + q(x))`` (needs a fit with
            ``uncertainty=True``), from the same kernel rows.

        Returns
        -------
        Y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Y_std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        check_is_fitted(self, ["pky_"])
        if return_std and getattr(self, "posterior_", None) is None:
            raise ValueError(
                "return_std=True needs a fit with uncertainty=True (the kernel "
                "ridge's posterior and noise level)."
            )
        X = self._validate_new(X)
        weights = self.pky_.reshape(self.n_samples_in_, -1)
        if not return_std:
            prediction = self._kernel_products(X, weights)[0]
            return prediction[:, 0] if self.pky_.ndim == 1 else prediction
        (prediction, along), own = self._kernel_passes(
            X, [weights, self.posterior_.projection], self_kernel=True
        )
        variance = self.posterior_.variance_of(along, own)
        two_d = self.pky_.ndim == 2
        std = spread(variance, self.latent_noise_std_, two_d)
        return (prediction if two_d else prediction[:, 0]), std

    def score(self, X, y):
        r"""Negative sum of the relative reconstruction and prediction losses on
        (X, y), which may be any set of points.

        .. math::

            -\left(\frac{\mathrm{Tr}(K_{VV} - 2 K_{VN} w + w^T K_{NN} w)}
            {\mathrm{Tr}(K_{VV})} + \frac{\lVert Y - \hat{Y}\rVert^2}
            {\lVert Y\rVert^2}\right), \quad w = T_N (T_N^T T_N)^+ T_V^T

        the first term being how well the training latent directions reconstruct
        the new points in the kernel's feature space. (The reference puts K_VV where
        K_NN belongs, which is only right, and only runs, when the scored set has
        the training set's size.) Larger is better.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score (not a precomputed kernel: their kernel with themselves
            is needed).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Their targets.

        Returns
        -------
        score : float
        """
        check_is_fitted(self, ["pky_"])
        X = self._validate_new(X)
        y = validate_data(self, y=y, multi_output=True, y_numeric=True, reset=False)
        weights = self.pky_.reshape(self.n_samples_in_, -1)
        loss_kernel, _, prediction = self._reconstruction_loss(X, weights)
        y = np.asarray(y, dtype=np.float64).reshape(prediction.shape)
        loss_targets = float(np.sum((y - prediction) ** 2) / np.sum(y**2))
        return -(loss_kernel + loss_targets)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags
