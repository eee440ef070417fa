"""Directional convex hull: the samples on the lower surface of a property."""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from scipy.interpolate import LinearNDInterpolator, interp1d
from scipy.spatial import ConvexHull, QhullError
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import Interval, _fit_context

__all__ = ["DirectionalConvexHull"]


def _directional_distances(equations: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Height of each point above each facet's plane, along the first axis (y).

    A facet ``n·p + b = 0`` with ``n_y < 0`` faces down; the height of p above it is
    ``(n·p + b) / n_y``.
    """
    return (points @ equations[:, :-1].T + equations[:, -1]) / equations[:, 0]


class DirectionalConvexHull(BaseEstimator):
    """Select the samples on the lower convex hull of a property.

    The convex hull of ``[y, X[:, low_dim_idx]]`` is built and its downward-facing
    facets kept: their vertices are the samples that no mixture of others beats in
    y (the stable phases when y is a free energy). Distances to that surface along y
    score any sample; the remaining (high-dimensional) features are interpolated
    on the hull to score how far a sample's features are from it.

    Parameters
    ----------
    low_dim_idx : list of int, default=None
        Columns of X that span the hull together with y; None means ``[0]``.
    tolerance : float, default=1e-12
        Heights below ``-tolerance`` count as below the hull.

    Attributes
    ----------
    selected_idx_ : ndarray
        Indices of the samples on the directional hull (sorted).
    directional_vertices_ : ndarray
        Same as ``selected_idx_``.
    low_dim_idx_ : ndarray
        The columns used for the hull.
    high_dim_idx_ : ndarray
        The other columns.
    convex_hull_ : scipy.spatial.ConvexHull
        The full hull.
    directional_simplices_ : ndarray
        The downward-facing facets, as vertex indices.
    interpolator_high_dim_ : callable
        Linear interpolator of the high-dimensional features on the hull.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    .. [1] A. Anelli, E. A. Engel, C. J. Pickard, M. Ceriotti, "Generalized convex
       hull construction for materials discovery", Phys. Rev. Materials 2, 103804
       (2018). https://doi.org/10.1103/PhysRevMaterials.2.103804

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.sample_selection import DirectionalConvexHull
    >>> X = np.array([[0.0, 1.0], [0.5, 2.0], [1.0, 3.0], [0.25, 0.0]])
    >>> y = np.array([0.0, -1.0, 0.0, 1.0])
    >>> hull = DirectionalConvexHull(low_dim_idx=[0]).fit(X, y)
    >>> hull.selected_idx_
    array([0, 1, 2])
    >>> hull.score_samples(X, y).round(3)
    array([0. , 0. , 0. , 1.5])
    """

    _parameter_constraints: dict = {
        "low_dim_idx": ["array-like", None],
        "tolerance": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, low_dim_idx=None, tolerance: float = 1e-12) -> None:
        self.low_dim_idx = low_dim_idx
        self.tolerance = tolerance

    def _hull_points(self, X, y) -> np.ndarray:
        return np.column_stack([y, X[:, self.low_dim_idx_]])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Build the hull of ``[y, X[:, low_dim_idx]]`` and keep its lower surface.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,)
            The property whose lower hull is wanted (e.g. an energy).

        Returns
        -------
        self : DirectionalConvexHull
        """
        X, y = validate_data(self, X, y, ensure_min_samples=2, y_numeric=True)
        low = np.atleast_1d(
            np.asarray([0] if self.low_dim_idx is None else self.low_dim_idx)
        )
        if low.size == 0 or not np.issubdtype(low.dtype, np.integer):
            raise ValueError(
                f"low_dim_idx must be a non-empty list of column indices, got "
                f"{self.low_dim_idx!r}."
            )
        if low.min() < -X.shape[1] or low.max() >= X.shape[1]:
            raise ValueError(
                f"low_dim_idx={low.tolist()} is out of range for X with "
                f"{X.shape[1]} columns."
            )
        self.low_dim_idx_ = low % X.shape[1]
        self.high_dim_idx_ = np.setdiff1d(np.arange(X.shape[1]), self.low_dim_idx_)
        points = self._hull_points(X, y)
        if X.shape[0] <= points.shape[1]:
            raise ValueError(
                f"A convex hull in {points.shape[1]} dimensions (y and "
                f"{low.size} column(s)) needs more than {points.shape[1]} samples; "
                f"got {X.shape[0]}."
            )
        try:
            self.convex_hull_ = ConvexHull(points)
        except QhullError as error:
            raise ValueError(
                "Cannot build the convex hull of [y, X[:, low_dim_idx]]: the points "
                "are degenerate (e.g. all on a line or plane). Qhull said: "
                f"{str(error).splitlines()[0]}"
            ) from error
        downward = self.convex_hull_.equations[:, 0] < 0
        self.directional_simplices_ = self.convex_hull_.simplices[downward]
        self._directional_equations = self.convex_hull_.equations[downward]
        self.selected_idx_ = np.unique(self.directional_simplices_).astype(np.intp)
        vertices = points[self.selected_idx_, 1:]
        values = X[np.ix_(self.selected_idx_, self.high_dim_idx_)]
        if vertices.shape[1] == 1:
            order = np.argsort(vertices[:, 0])
            self.interpolator_high_dim_ = interp1d(
                vertices[order, 0],
                values[order],
                axis=0,
                bounds_error=False,
                fill_value=np.nan,
            )
        else:
            self.interpolator_high_dim_ = LinearNDInterpolator(
                vertices, values, fill_value=np.nan
            )
        return self

    @property
    def directional_vertices_(self) -> np.ndarray:
        """The indices of the hull's vertices (``selected_idx_``), by
        scikit-matter's name."""
        check_is_fitted(self, ["selected_idx_"])
        return self.selected_idx_

    def score_samples(self, X, y) -> np.ndarray:
        """Height of each sample above the lower hull along y.

        Zero on the hull, positive above it, negative below it (only possible for
        samples the hull was not built from).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,)
            The property.

        Returns
        -------
        heights : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, ["selected_idx_"])
        X, y = validate_data(self, X, y, reset=False, y_numeric=True)
        heights = _directional_distances(
            self._directional_equations, self._hull_points(X, y)
        )
        below = np.any(heights < -self.tolerance, axis=1)
        result = np.empty(len(y))
        result[~below] = heights[~below].min(axis=1)
        # below the hull: the closest facet plane that the sample is under
        negative = np.where(heights > 0, -np.inf, heights)
        result[below] = negative[below].max(axis=1)
        result[np.abs(result) <= self.tolerance] = 0.0  # on the hull, up to rounding
        return result

    def score_feature_matrix(self, X) -> np.ndarray:
        """Residuals of the high-dimensional features from their interpolation on
        the hull (NaN, with a warning, outside the hull's low-dimensional range).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        residuals : ndarray of shape (n_samples, len(high_dim_idx_))
        """
        check_is_fitted(self, ["interpolator_high_dim_"])
        X = validate_data(self, X, reset=False)
        low = X[:, self.low_dim_idx_]
        if low.shape[1] == 1:
            low = low[:, 0]
        interpolated = self.interpolator_high_dim_(low)
        if np.any(np.isnan(interpolated)):
            warnings.warn(
                "Some samples lie outside the low-dimensional range of the hull; "
                "their residuals are NaN.",
                UserWarning,
                stacklevel=2,
            )
        return X[:, self.high_dim_idx_] - interpolated

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
