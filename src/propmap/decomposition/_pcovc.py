"""Principal Covariates Classification, linear and kernel.

PCovC is PCovR with a linear classifier's decision function ``Z = XW`` (``KW`` for
the kernel version) in place of the regression's Ŷ; a classifier of the same type
is then refitted on the latent coordinates, and every prediction goes through them.
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from propmap._compat import HasMethods, Interval, StrOptions, _fit_context
from propmap._linalg import symmetric_eigh
from propmap._validation import FLOAT_DTYPES, check_precomputed_weights, column_means
from propmap.decomposition._base import BasePCov
from propmap.decomposition._kernel_base import BaseKernelPCov
from propmap.exceptions import UncenteredDataWarning, UnscaledDataWarning
from propmap.utils._fit_checks import check_cl_fit
from propmap.utils._pcovr_utils import gram_matrix

__all__ = ["KernelPCovC", "PCovC"]


class _LatentClassification(ClassifierMixin):
    """What PCovC and Kernel PCovC share: the classifier that gives Z, the scaling
    of Z, and the classifier refitted on the latent coordinates, through which
    ``decision_function``, ``predict`` and ``predict_proba`` go.

    A subclass sets ``_input_projector`` (the attribute mapping its inputs to the
    latent space) and implements ``_latent_from_input(X)``.
    """

    _classification_constraints: dict = {
        "classifier": [HasMethods(["fit"]), StrOptions({"precomputed"}), None],
        "scale_z": ["boolean"],
        "z_mean_tol": [Interval(Real, 0, None, closed="left")],
        "z_var_tol": [Interval(Real, 0, None, closed="left")],
    }

    def _default_classifier(self):
        return LogisticRegression()

    def _classifier_template(self):
        if self.classifier is None or self.classifier == "precomputed":
            return self._default_classifier()
        return self.classifier

    def _decision_weights(self, features, labels, W) -> np.ndarray:
        """W with ``Z = features @ W``: the (fitted or given) classifier's
        coefficients, one column per decision function."""
        if self.classifier == "precomputed":
            if W is None:
                W = clone(self._default_classifier()).fit(features, labels).coef_.T
            return np.asarray(W, dtype=np.float64).reshape(features.shape[1], -1)
        fitted = check_cl_fit(self._classifier_template(), features, labels)
        weights = np.atleast_2d(np.asarray(fitted.coef_, dtype=np.float64)).T
        self.z_classifier_ = fitted
        return weights

    def _decision_values(self, Z: np.ndarray, W: np.ndarray):
        """Scale Z (and W with it, so that Z = XW still holds) when asked, and warn
        when Z is off-centre or has a large spread."""
        if self.scale_z:
            centred = Z - Z.mean(axis=0)
            scale = np.sqrt(np.sum(centred**2) / Z.shape[0])
            if scale > 0:
                Z = Z / scale
                W = W / scale
            self.z_scale_ = float(scale)
        largest_mean = float(np.max(np.abs(Z.mean(axis=0))))
        if largest_mean > self.z_mean_tol:
            warnings.warn(
                f"The decision function Z is not centred (largest column mean "
                f"{largest_mean:.3g} > z_mean_tol={self.z_mean_tol:g}); it is used "
                "as given. Centre the inputs first.",
                UncenteredDataWarning,
                stacklevel=4,
            )
        largest_variance = float(np.max(np.var(Z, axis=0)))
        if largest_variance > self.z_var_tol:
            warnings.warn(
                f"The decision function Z has a column variance of "
                f"{largest_variance:.3g} > z_var_tol={self.z_var_tol:g}; it is used "
                "as given. Set scale_z=True to rescale Z and W.",
                UnscaledDataWarning,
                stacklevel=4,
            )
        return Z, W

    def _fit_latent_classifier(self, latent, labels) -> None:
        """Refit the classifier on the latent coordinates; sets ``classifier_``,
        ``ptz_`` and the input-to-decision map."""
        self.classifier_ = clone(self._classifier_template()).fit(latent, labels)
        self.ptz_ = np.atleast_2d(np.asarray(self.classifier_.coef_, float)).T
        projector = getattr(self, self._input_projector)
        decision_map = projector @ self.ptz_
        if self.ptz_.shape[1] == 1:
            self.ptz_ = self.ptz_[:, 0]
            decision_map = decision_map[:, 0]
        setattr(self, self._decision_projector, decision_map)

    def _classifier_input(self, X=None, T=None) -> np.ndarray:
        """What the latent classifier sees: X mapped to the latent space, or T."""
        if X is None and T is None:
            raise ValueError("Either X or T must be given.")
        if X is not None:
            return self._latent_from_input(X)
        return self._given_latent(T)

    def _given_latent(self, T) -> np.ndarray:
        T = check_array(T, input_name="T")
        if T.shape[1] != self.n_components_:
            raise ValueError(
                f"T has {T.shape[1]} columns, but this model has n_components_="
                f"{self.n_components_}."
            )
        return T

    def decision_function(self, X=None, T=None):
        """Decision function of the latent classifier, from X or from T.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Inputs.
        T : array-like of shape (n_samples, n_components_), default=None
            Latent coordinates, used when X is not given.

        Returns
        -------
        Z : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self, ["classifier_"])
        return self.classifier_.decision_function(self._classifier_input(X, T))

    def predict(self, X=None, T=None):
        """Class labels, from X or from T.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
        T : array-like of shape (n_samples, n_components_), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, ["classifier_"])
        return self.classifier_.predict(self._classifier_input(X, T))

    def _classifier_has(name):
        def check(self):
            template = (
                self.classifier_
                if hasattr(self, "classifier_")
                else self._classifier_template()
            )
            return hasattr(template, name)

        return check

    @available_if(_classifier_has("predict_proba"))
    def predict_proba(self, X=None, T=None):
        """Class probabilities of the latent classifier (when it has them).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
        T : array-like of shape (n_samples, n_components_), default=None

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, ["classifier_"])
        return self.classifier_.predict_proba(self._classifier_input(X, T))

    @available_if(_classifier_has("predict_log_proba"))
    def predict_log_proba(self, X=None, T=None):
        """Logarithms of :meth:`predict_proba`."""
        check_is_fitted(self, ["classifier_"])
        return self.classifier_.predict_log_proba(self._classifier_input(X, T))

    del _classifier_has


_SHARED_PARAMETERS = """
    classifier : estimator, "precomputed" or None, default=None
        Linear classifier giving Z: any classifier that exposes ``coef_`` once
        fitted (LogisticRegression, RidgeClassifier, LinearSVC, SGDClassifier,
        Perceptron, LinearDiscriminantAnalysis, ...). A fitted one is used as it
        is; an unfitted one is fitted (on a copy: the given object is never
        changed). A clone is then refitted on the latent coordinates.
        ``"precomputed"``: W is given to :meth:`fit` (or fitted by logistic
        regression). ``None``: {default}.
    scale_z : bool, default=False
        Divide Z by the square root of its total variance, and W by the same
        factor so that Z = {z} still holds.
    z_mean_tol, z_var_tol : float, default=1e-12 and 1.5
        Warn when a column mean of Z exceeds ``z_mean_tol`` or a column variance
        exceeds ``z_var_tol``.
"""


class PCovC(_LatentClassification, BasePCov):
    __doc__ = r"""Principal Covariates Classification (PCovC).

    PCovR with the decision function ``Z = XW`` of a linear classifier in place of
    the regression's Ŷ: the latent projection ``T = X P_XT`` balances
    reconstructing X against reproducing Z, and a classifier of the same type is
    refitted on T. ``predict``, ``decision_function`` and ``predict_proba`` go
    through T.

    Parameters
    ----------
    mixing : float, default=0.5
        The mixing parameter α in [0, 1]: 1 is PCA.
    n_components : int, float, "mle" or None, default=None
        Number of components, as for :class:`PCovR`.
    svd_solver : {{"auto", "full", "arpack", "randomized"}}, default="auto"
        Eigensolver, as for :class:`PCovR`.
    tol : float, default=1e-12
        Eigenvalue cutoff, as for :class:`PCovR`.
    space : {{"auto", "feature", "sample"}}, default="auto"
        Feature space when n_samples > n_features.
    {shared}
    iterated_power : int or "auto", default="auto"
    random_state : int, RandomState instance or None, default=None
    whiten : bool, default=False
        Divide the output of :meth:`transform` by ``sqrt(explained_variance_)``.

    Attributes
    ----------
    pxt_, ptx_ : ndarray
        Projectors from X to the latent space and back.
    ptz_ : ndarray of shape (n_components_,) or (n_components_, n_classes)
        Coefficients of the latent classifier.
    pxz_ : ndarray of shape (n_features,) or (n_features, n_classes)
        ``pxt_ @ ptz_``.
    classifier_ : estimator
        The classifier fitted on the latent coordinates.
    z_classifier_ : estimator
        The classifier that gave Z (absent with ``"precomputed"``).
    classes_ : ndarray
        Class labels.
    components_, explained_variance_, explained_variance_ratio_,
    singular_values_, n_components_, mean_, space_, fit_svd_solver_,
    n_features_in_, n_samples_in_
        As for :class:`PCovR`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from propmap.decomposition import PCovC
    >>> from propmap.preprocessing import StandardFlexibleScaler
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardFlexibleScaler(column_wise=True).fit_transform(X)
    >>> model = PCovC(mixing=0.5, n_components=2, scale_z=True).fit(X, y)
    >>> model.transform(X).shape
    (150, 2)
    >>> bool(model.score(X, y) > 0.9)
    True
    """.format(shared=_SHARED_PARAMETERS.format(default="LogisticRegression()", z="XW"))

    _parameter_constraints: dict = {
        **BasePCov._parameter_constraints,
        **_LatentClassification._classification_constraints,
    }
    _conditional_attributes = ("z_classifier_", "z_scale_")
    _input_projector = "pxt_"
    _decision_projector = "pxz_"

    def __init__(
        self,
        mixing: float = 0.5,
        n_components: int | float | None = None,
        svd_solver: str = "auto",
        tol: float = 1e-12,
        z_mean_tol: float = 1e-12,
        z_var_tol: float = 1.5,
        space: str | None = "auto",
        classifier=None,
        scale_z: bool = False,
        iterated_power: int | str = "auto",
        random_state=None,
        whiten: bool = False,
    ) -> None:
        self.mixing = mixing
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.tol = tol
        self.z_mean_tol = z_mean_tol
        self.z_var_tol = z_var_tol
        self.space = space
        self.classifier = classifier
        self.scale_z = scale_z
        self.iterated_power = iterated_power
        self.random_state = random_state
        self.whiten = whiten

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, Y, W=None):
        """Fit the projectors and the latent classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features, ideally centred and scaled.
        Y : array-like of shape (n_samples,)
            Class labels.
        W : array-like of shape (n_features, n_decisions), default=None
            Classifier weights, only with ``classifier="precomputed"``.

        Returns
        -------
        self : PCovC
        """
        X, Y = validate_data(
            self,
            X,
            Y,
            accept_sparse="csr",
            dtype=list(FLOAT_DTYPES),
            ensure_min_samples=2,
        )
        check_classification_targets(Y)
        self.classes_ = np.unique(Y)
        check_precomputed_weights(W, "classifier", self.classifier)
        self._start_fit(X)
        self._record_mean(column_means(X))
        weights = self._decision_weights(X, Y, W)
        decision = np.asarray(safe_sparse_dot(X, weights), dtype=np.float64)
        decision, weights = self._decision_values(decision, weights)
        if self.space_ == "feature":
            gram_values, gram_vectors = symmetric_eigh(gram_matrix(X))
            projected = gram_vectors.T @ np.asarray(
                safe_sparse_dot(X.T, decision), dtype=np.float64
            )
            self._fit_feature_space(gram_values, gram_vectors, projected, projected)
        else:
            kernel = np.asarray(safe_sparse_dot(X, X.T, dense_output=True), np.float64)
            self._fit_sample_space(X, kernel, decision, decision, weights)
        del self.pty_  # the projector to Z; predictions go through the classifier
        self._cast_projectors(X.dtype, names=("pxt_", "ptx_"))
        self.components_ = self.pxt_.T
        self._fit_latent_classifier(self._latent_from_input(X, validated=True), Y)
        return self

    def _latent_from_input(self, X, validated: bool = False) -> np.ndarray:
        if not validated:
            X = self._validate_new(X)
        return np.asarray(safe_sparse_dot(X, self.pxt_))

    def _given_latent(self, T) -> np.ndarray:
        # T from transform is whitened with whiten=True: the classifier was not
        return self._check_latent(T)

    def _check_latent(self, T) -> np.ndarray:
        check_is_fitted(self, ["ptx_"])
        T = check_array(T, dtype=list(FLOAT_DTYPES), input_name="T")
        if T.shape[1] != self.n_components_:
            raise ValueError(
                f"T has {T.shape[1]} columns, but this model has n_components_="
                f"{self.n_components_}."
            )
        T = T.astype(self.pxt_.dtype, copy=True)
        if self.whiten:
            T *= np.sqrt(self.explained_variance_).astype(T.dtype)
        return T


class KernelPCovC(_LatentClassification, BaseKernelPCov):
    __doc__ = r"""Kernel Principal Covariates Classification (Kernel PCovC).

    :class:`PCovC` in the feature space of a kernel: a linear classifier fitted on
    the rows of the training kernel gives ``Z = KW``, Kernel PCovR's eigenproblem
    is solved with Z in place of Ŷ, and a classifier of the same type is refitted
    on ``T = K P_KT``. With ``scale_z=True`` W is rescaled with Z (the reference
    rescales only Z, so that its T is not ``K P_KT``).

    Parameters
    ----------
    mixing : float, default=0.5
    n_components : int, float, "mle" or None, default=None
    svd_solver : {{"auto", "full", "arpack", "randomized"}}, default="auto"
    {shared}
    kernel : str or callable, default="linear"
        As for :class:`KernelPCovR`.
    gamma : float or None, default=None
        As for :class:`KernelPCovR`.
    degree : float, default=3
        As for :class:`KernelPCovR`.
    coef0 : float, default=1
        As for :class:`KernelPCovR`.
    kernel_params : dict or None, default=None
        As for :class:`KernelPCovR`.
    center : bool, default=False
        As for :class:`KernelPCovR`.
    fit_inverse_transform : bool, default=False
        As for :class:`KernelPCovR`.
    tol : float, default=1e-12
        As for :class:`KernelPCovR`.
    n_jobs : int or None, default=None
        As for :class:`KernelPCovR`.
    iterated_power : int or "auto", default="auto"
        As for :class:`KernelPCovR`.
    random_state : int, RandomState instance or None, default=None
        As for :class:`KernelPCovR`.

    Attributes
    ----------
    pkt_ : ndarray of shape (n_samples_fit, n_components_)
        Projector from the training kernel to the latent space.
    ptz_ : ndarray of shape (n_components_,) or (n_components_, n_classes)
        Coefficients of the latent classifier.
    pkz_ : ndarray of shape (n_samples_fit,) or (n_samples_fit, n_classes)
        ``pkt_ @ ptz_``.
    ptx_ : ndarray of shape (n_components_, n_features)
        With ``fit_inverse_transform=True``.
    classifier_, z_classifier_, classes_
        As for :class:`PCovC`.
    X_fit_, centerer_, components_, explained_variance_, explained_variance_ratio_,
    singular_values_, n_components_, fit_svd_solver_, n_features_in_, n_samples_in_
        As for :class:`KernelPCovR`.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from propmap.decomposition import KernelPCovC
    >>> X, y = make_moons(200, noise=0.1, random_state=0)
    >>> model = KernelPCovC(n_components=2, kernel="rbf", gamma=2.0, center=True,
    ...                     scale_z=True)
    >>> bool(model.fit(X, y).score(X, y) > 0.95)
    True
    """.format(
        shared=_SHARED_PARAMETERS.format(
            default="LogisticRegression(max_iter=500)", z="KW"
        )
    )

    _parameter_constraints: dict = {
        **BaseKernelPCov._parameter_constraints,
        **_LatentClassification._classification_constraints,
    }
    _conditional_attributes = (
        *BaseKernelPCov._conditional_attributes,
        "z_classifier_",
        "z_scale_",
    )
    _input_projector = "pkt_"
    _decision_projector = "pkz_"

    def __init__(
        self,
        mixing: float = 0.5,
        n_components: int | float | None = None,
        svd_solver: str = "auto",
        classifier=None,
        scale_z: bool = False,
        kernel="linear",
        gamma: float | None = None,
        degree: float = 3,
        coef0: float = 1,
        kernel_params: dict | None = None,
        center: bool = False,
        fit_inverse_transform: bool = False,
        tol: float = 1e-12,
        z_mean_tol: float = 1e-12,
        z_var_tol: float = 1.5,
        n_jobs: int | None = None,
        iterated_power: int | str = "auto",
        random_state=None,
    ) -> None:
        self.mixing = mixing
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.classifier = classifier
        self.scale_z = scale_z
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.center = center
        self.fit_inverse_transform = fit_inverse_transform
        self.tol = tol
        self.z_mean_tol = z_mean_tol
        self.z_var_tol = z_var_tol
        self.n_jobs = n_jobs
        self.iterated_power = iterated_power
        self.random_state = random_state

    def _default_classifier(self):
        # the kernel's many columns need more iterations than the default 100
        return LogisticRegression(max_iter=500)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, Y, W=None):
        """Fit the projectors and the latent classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (the training kernel with ``kernel="precomputed"``).
        Y : array-like of shape (n_samples,)
            Class labels.
        W : array-like of shape (n_samples, n_decisions), default=None
            Dual classifier weights, only with ``classifier="precomputed"``.

        Returns
        -------
        self : KernelPCovC
        """
        X, Y = validate_data(self, X, Y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(Y)
        self.classes_ = np.unique(Y)
        check_precomputed_weights(W, "classifier", self.classifier)
        self._start_fit(X)
        kernel = self._training_kernel(X)
        weights = self._decision_weights(kernel, Y, W)
        decision, weights = self._decision_values(kernel @ weights, weights)
        least_squares = self._fit_kernel(kernel, decision, weights)
        del kernel
        if self.fit_inverse_transform:
            self.ptx_ = least_squares(X)
        self._fit_latent_classifier(least_squares.latent, Y)
        return self

    def _latent_from_input(self, X) -> np.ndarray:
        check_is_fitted(self, ["pkt_"])
        return self._kernel_products(self._validate_new(X), self.pkt_)[0]
