r"""Ridge regression with the penalty chosen by an SVD-based two-fold
cross-validation."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold, check_cv
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import StrOptions, _fit_context

__all__ = ["Ridge2FoldCV"]


class _Predictions(BaseEstimator):
    """Hands a scorer predictions made already: ``predict(P) = P``."""

    def predict(self, predictions):
        return predictions


class Ridge2FoldCV(RegressorMixin, MultiOutputMixin, BaseEstimator):
    r"""Ridge regression (no intercept) whose penalty is chosen by two-fold
    cross-validation on the singular value decompositions of the folds.

    Minimises :math:`\lVert y - Xw \rVert^2 + \alpha \lVert w \rVert^2` (Tikhonov)
    or keeps only the singular values above α (``regularization_method="cutoff"``).
    With the folds :math:`X_1 = U_1 S_1 V_1^T` and :math:`X_2`, the prediction of
    fold 2 from fold 1 at every α is
    :math:`X_2 V_1\, f_\alpha(S_1)\, U_1^T y_1` with
    :math:`f_\alpha(s) = s/(s^2 + \alpha)` or :math:`1/s` above the cutoff, so one
    SVD per fold serves every α; the score is the mean of both directions. Singular
    values at or below ``max(n, d) · ε`` (numpy's ``pinv`` default) are dropped in
    the folds *and in the final fit* (scikit-matter drops them only in the folds, so
    its final weights blow up on rank-deficient X).

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        Penalties (or cutoffs) to try, non-negative.
    alpha_type : {"absolute", "relative"}, default="absolute"
        "relative": the alphas are in [0, 1) and are multiplied by the largest
        singular value of the two folds.
    regularization_method : {"tikhonov", "cutoff"}, default="tikhonov"
        Tikhonov's penalty, or a cutoff of the singular values (with relative
        alphas, numpy's ``rcond``).
    cv : int, cross-validation generator or iterable, default=None
        Its first split gives the two folds; None means a shuffled half split
        (``KFold(2, shuffle=shuffle, random_state=random_state)``).
    scoring : str or callable, default=None
        A scikit-learn scorer, called with the predictions; None means the negative
        mean squared error.
    random_state : int, RandomState instance or None, default=None
        Shuffling of the default split.
    shuffle : bool, default=True
        Shuffle before the default split.
    n_jobs : int, default=None
        Accepted for scikit-matter's signature; the per-α scores are a few small
        matrix products each and are computed in this process.

    Attributes
    ----------
    cv_values_ : ndarray of shape (n_alphas,)
        The cross-validated score of each alpha (higher is better).
    alpha_ : float
        The chosen alpha (as given, before any relative scaling).
    best_score_ : float
        Its score.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weights fitted on all of X with the chosen alpha.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_in_ : int
        Number of samples seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.linear_model import Ridge2FoldCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 5))
    >>> y = X @ np.arange(5.0) + 0.01 * rng.standard_normal(100)
    >>> model = Ridge2FoldCV(alphas=[1e-3, 1.0, 100.0], random_state=0).fit(X, y)
    >>> float(model.alpha_)
    0.001
    >>> model.coef_.round(2)
    array([-0.,  1.,  2.,  3.,  4.])
    """

    _parameter_constraints: dict = {
        "alphas": ["array-like"],
        "alpha_type": [StrOptions({"absolute", "relative"})],
        "regularization_method": [StrOptions({"tikhonov", "cutoff"})],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "random_state": ["random_state"],
        "shuffle": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        alphas=(0.1, 1.0, 10.0),
        alpha_type="absolute",
        regularization_method="tikhonov",
        cv=None,
        scoring=None,
        random_state=None,
        shuffle=True,
        n_jobs=None,
    ):
        self.alphas = alphas
        self.alpha_type = alpha_type
        self.regularization_method = regularization_method
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.shuffle = shuffle
        self.n_jobs = n_jobs

    def _checked_alphas(self) -> np.ndarray:
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0:
            raise ValueError("alphas must hold at least one value.")
        if not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
            raise ValueError(f"alphas must be finite and >= 0, got {self.alphas!r}.")
        if self.alpha_type == "relative" and np.any(alphas >= 1):
            raise ValueError(
                f"relative alphas must lie in [0, 1), got {self.alphas!r}."
            )
        return alphas

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Choose alpha on two folds, then fit on all of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self : Ridge2FoldCV
        """
        alphas = self._checked_alphas()
        X, y = validate_data(
            self,
            X,
            y,
            y_numeric=True,
            multi_output=True,
            dtype=np.float64,
            ensure_min_samples=2,
        )
        self.n_samples_in_ = X.shape[0]
        scorer = check_scoring(
            self,
            scoring="neg_mean_squared_error" if self.scoring is None else self.scoring,
        )
        if self.cv is None:
            cv = KFold(n_splits=2, shuffle=self.shuffle, random_state=self.random_state)
        else:
            cv = check_cv(self.cv)
        first, second = next(iter(cv.split(X, y)))
        rcond = max(X.shape) * np.spacing(1.0)
        folds = [_Fold(X[first], y[first], rcond), _Fold(X[second], y[second], rcond)]
        scaled = alphas.copy()
        if self.alpha_type == "relative":
            scaled *= max(fold.largest for fold in folds)
        # what each fold predicts of the other: X_other V_kept (an n x r block)
        across = [X[second] @ folds[0].right, X[first] @ folds[1].right]
        truth = [y[second], y[first]]
        identity = _Predictions()
        scores = np.empty(alphas.size)
        for index, alpha in enumerate(scaled):
            total = 0.0
            for fold, block, target in zip(folds, across, truth, strict=True):
                predicted = (block * fold.filter(alpha, self.regularization_method)) @ (
                    fold.projected
                )
                total += scorer(identity, predicted, target)
            scores[index] = total / 2
        self.cv_values_ = scores
        best = int(np.argmax(scores))
        self.best_score_ = float(scores[best])
        self.alpha_ = float(alphas[best])
        whole = _Fold(X, y, rcond)
        factors = whole.filter(scaled[best], self.regularization_method)
        projected = whole.projected.reshape(factors.size, -1)
        weights = whole.right @ (factors[:, None] * projected)  # d x p
        self.coef_ = weights[:, 0] if y.ndim == 1 else weights.T
        return self

    def predict(self, X):
        """``X @ coef_.T``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self, ["coef_"])
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_.T


class _Fold:
    """The thin SVD of a block of X above the cutoff, and ``Uᵀy``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, rcond: float) -> None:
        left, singular, right_t = np.linalg.svd(X, full_matrices=False)
        kept = singular > rcond
        self.singular = singular[kept]
        self.right = right_t[kept].T
        self.projected = left[:, kept].T @ y
        self.largest = float(singular.max(initial=0.0))

    def filter(self, alpha: float, method: str) -> np.ndarray:
        """:func:`spectral_filter` of the kept singular values."""
        return spectral_filter(self.singular, alpha, method)


def spectral_filter(singular: np.ndarray, alpha, method: str) -> np.ndarray:
    """``s/(s² + α)`` (Tikhonov) or ``1/s`` above α, else 0 (cutoff), for positive
    singular values s (α broadcasts against s)."""
    if method == "tikhonov":
        return singular / (singular**2 + alpha)
    inverse = np.divide(1.0, singular, out=np.zeros_like(singular), where=singular > 0)
    return np.where(singular > alpha, inverse, 0.0)
