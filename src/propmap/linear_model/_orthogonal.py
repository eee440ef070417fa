r"""Orthogonal regression: least squares with an orthogonal weight matrix."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, clone
from sklearn.linear_model import LinearRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import HasMethods, _fit_context

__all__ = ["OrthogonalRegression"]


class OrthogonalRegression(MultiOutputMixin, RegressorMixin, BaseEstimator):
    r"""Regression with an orthogonal weight matrix (the Procrustes problem).

    .. math::

        \min_{\Omega} \lVert Y - X\Omega \rVert_F
        \quad \text{subject to} \quad \Omega^T\Omega = I

    With ``use_orthogonal_projector=True`` (the default) a linear regression
    :math:`X \to Y` is fitted first; its weights :math:`W = U S V^T` (thin SVD) give
    the subspaces, and the orthogonal map is solved between them:
    :math:`\Omega = U R V^T` with R the Procrustes solution of
    :math:`\min_R \lVert Y V - X U R \rVert_F`. Otherwise X and Y are padded with
    zero columns to the same width and :math:`\Omega` is the Procrustes solution
    between them; this is the map of the global feature reconstruction distortion
    (GFRD) of Goscinski et al., whose value can jump when X is wider than Y.

    Parameters
    ----------
    use_orthogonal_projector : bool, default=True
        Solve between the subspaces of a linear regression (True) or between X and
        Y padded to the same width (False).
    linear_estimator : estimator with ``fit`` and ``coef_``, default=None
        The regression that gives the subspaces when
        ``use_orthogonal_projector=True`` (a clone is fitted; the one passed is left
        unfitted). None means :class:`sklearn.linear_model.LinearRegression`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,), (n_targets, n_features) or \
            (max_components_, max_components_)
        The weights, ``predict(X) = X @ coef_.T``; the last shape without the
        projector, where X is padded.
    max_components_ : int
        ``max(n_features, n_targets)``, without the projector only.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_in_ : int
        Number of samples seen during fit.

    References
    ----------
    .. [1] A. Goscinski, G. Fraux, G. Imbalzano, M. Ceriotti, "The role of feature
       space in atomistic learning", Mach. Learn.: Sci. Technol. 2, 025028 (2021).
    .. [2] P. H. Schönemann, "A generalized solution of the orthogonal Procrustes
       problem", Psychometrika 31, 1 (1966).

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.linear_model import OrthogonalRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3))
    >>> rotation = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    >>> model = OrthogonalRegression().fit(X, X @ rotation)
    >>> bool(np.allclose(model.coef_.T, rotation))
    True
    """

    _parameter_constraints: dict = {
        "use_orthogonal_projector": ["boolean"],
        "linear_estimator": [HasMethods(["fit"]), None],
    }

    def __init__(self, use_orthogonal_projector=True, linear_estimator=None):
        self.use_orthogonal_projector = use_orthogonal_projector
        self.linear_estimator = linear_estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the orthogonal map from X to y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target.

        Returns
        -------
        self : OrthogonalRegression
        """
        X, y = validate_data(
            self, X, y, y_numeric=True, multi_output=True, dtype=np.float64
        )
        self.n_samples_in_ = X.shape[0]
        Y = y.reshape(X.shape[0], -1)
        if self.use_orthogonal_projector:
            regression = (
                LinearRegression()
                if self.linear_estimator is None
                else clone(self.linear_estimator)
            ).fit(X, y)
            weights = np.reshape(np.asarray(regression.coef_).T, (X.shape[1], -1))
            left, _, right = np.linalg.svd(weights, full_matrices=False)
            rotation, _ = scipy.linalg.orthogonal_procrustes(X @ left, Y @ right.T)
            coef = (left @ rotation @ right).T  # (n_targets, n_features)
        else:
            self.max_components_ = max(X.shape[1], Y.shape[1])
            rotation, _ = scipy.linalg.orthogonal_procrustes(
                self._padded(X), self._padded(Y)
            )
            coef = rotation.T
        # a one-dimensional y keeps its shape in predict, as scikit-learn's models do
        self.coef_ = coef[0] if y.ndim == 1 and self.use_orthogonal_projector else coef
        return self

    def _padded(self, A: np.ndarray) -> np.ndarray:
        return np.pad(A, [(0, 0), (0, self.max_components_ - A.shape[1])])

    def predict(self, X):
        """Map X with the orthogonal weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, max_components_)
            One-dimensional for a one-dimensional y in fit (with the projector);
            without it, as wide as the padding.
        """
        check_is_fitted(self, ["coef_"])
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if not self.use_orthogonal_projector:
            X = self._padded(X)
        return X @ self.coef_.T
