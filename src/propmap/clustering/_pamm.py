r"""Probabilistic analysis of molecular motifs (PAMM): clusters as the basins of a
sparse kernel density estimate, and a Gaussian mixture for soft assignment."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import Interval, _fit_context
from propmap.clustering._quick_shift import QuickShift
from propmap.neighbors import SparseKDE
from propmap.neighbors._sparse_kde import (
    _covariance,
    _minimum_image,
    gaussian_factors,
)
from propmap.utils._kde import oas

__all__ = ["PAMM"]


class PAMM(ClusterMixin, BaseEstimator):
    r"""Probabilistic analysis of molecular motifs: density-based clusters with a
    probabilistic assignment of any point.

    1. :class:`~propmap.neighbors.SparseKDE` estimates the density of the data
       on a farthest-point grid (leave-one-out at the grid points);
    2. :class:`QuickShift` links every grid point uphill in that density to the
       nearest denser grid point among its neighbours on the Gabriel graph
       (``gabriel_shell`` shells; scale-free), or, with ``gabriel_shell=None``,
       within a squared distance :math:`s^2 \, \mathrm{tr}\,\Sigma_j`
       (``quick_shift_scale`` s, :math:`\Sigma_j` the grid point's local
       covariance); each root is a mode, its basin a cluster;
    3. clusters holding less than ``merge_threshold`` of the probability join
       the cluster whose mode is nearest;
    4. each cluster k becomes a Gaussian centred at its mode :math:`\mu_k`, with
       weight :math:`p_k`, the weight of the data in its grid points' cells, and
       covariance :math:`\Sigma_k`, the weighted covariance of those data with
       oracle approximating shrinkage, so that

    .. math::

        P(k \mid x) = \frac{p_k\, \mathcal{N}(x; \mu_k, \Sigma_k)}
                           {\sum_l p_l\, \mathcal{N}(x; \mu_l, \Sigma_l)}

    (:meth:`predict_proba`; :meth:`predict` takes the most probable). In a
    periodic cell (``metric_params={"cell_length": [...]}``) distances and
    differences take the minimum image and the Gaussians are wrapped by it
    (PAMM's von Mises distributions are not used). PAMM weighs clusters by their
    grid points' share of the density, which favours dense clusters far beyond
    their population (on QM9 atoms 0.997 for the hydrogen cluster, which holds
    half the atoms); here :math:`p_k` is the cluster's share of the data.

    Parameters
    ----------
    n_grid : int, default=None
        Grid points (None: :math:`\lfloor\sqrt{n}\rfloor`).
    fpoints : float, default=0.15
        Fraction of the data in each bandwidth's localisation (see
        :class:`~propmap.neighbors.SparseKDE`).
    fspread : float, default=-1.0
        If positive, localise by this fraction of the spread instead.
    gabriel_shell : int or None, default=1
        Shells of the grid's Gabriel graph quick shift searches; None: use the
        distance cutoff of ``quick_shift_scale``.
    quick_shift_scale : float, default=1.0
        s: with ``gabriel_shell=None``, the quick-shift cutoff of grid point j is
        :math:`s^2\,\mathrm{tr}\,\Sigma_j` (a squared distance). Localised
        covariances are small next to the spacing of a farthest-point grid, so
        values of 2 or more are usual.
    merge_threshold : float, default=0.0
        Clusters with a smaller share of the data are merged into the one
        with the nearest mode.
    metric_params : dict, default=None
        ``{"cell_length": [...]}`` for periodic data.
    verbose : bool, default=False
        Progress bars.

    Attributes
    ----------
    kde_ : SparseKDE
        The fitted density estimate (``kde_.grid_`` are the grid points).
    grid_log_density_ : ndarray of shape (n_grid,)
        The log-density at each grid point.
    grid_labels_ : ndarray of shape (n_grid,)
        The cluster of each grid point.
    cluster_centers_idx_ : ndarray of shape (n_clusters,)
        The grid points at the modes.
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The modes :math:`\mu_k`.
    cluster_weights_ : ndarray of shape (n_clusters,)
        :math:`p_k`, the share of the data, summing to one, in decreasing order
        (cluster 0 is the most populated).
    cluster_covariances_ : ndarray of shape (n_clusters, n_features, n_features)
        :math:`\Sigma_k`.
    labels_ : ndarray of shape (n_samples,)
        The most probable cluster of each training sample.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    .. [1] R. Gasparotto, M. Ceriotti, "Recognizing molecular patterns by machine
       learning: an agnostic structural definition of the hydrogen bond",
       J. Chem. Phys. 141, 174110 (2014), doi:10.1063/1.4900655.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.clustering import PAMM
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (600, 2)), rng.normal(6, 0.7, (400, 2))])
    >>> pamm = PAMM(fpoints=0.25).fit(X)
    >>> np.round(pamm.cluster_weights_, 2)
    array([0.6, 0.4])
    >>> np.round(pamm.cluster_centers_, 1)
    array([[ 0.1, -0.1],
           [ 6. ,  6. ]])
    >>> np.round(pamm.predict_proba([[2.5, 2.5], [3.5, 3.5]]), 3)
    array([[1.   , 0.   ],
           [0.383, 0.617]])
    """

    _parameter_constraints: dict = {
        "n_grid": [Interval(Integral, 1, None, closed="left"), None],
        "fpoints": [Interval(Real, None, 1, closed="right")],
        "fspread": [Interval(Real, None, None, closed="neither")],
        "gabriel_shell": [Interval(Integral, 1, None, closed="left"), None],
        "quick_shift_scale": [Interval(Real, 0, None, closed="neither")],
        "merge_threshold": [Interval(Real, 0, 1, closed="left")],
        "metric_params": [dict, None],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        n_grid=None,
        fpoints=0.15,
        fspread=-1.0,
        gabriel_shell=1,
        quick_shift_scale=1.0,
        merge_threshold=0.0,
        metric_params=None,
        verbose=False,
    ):
        self.n_grid = n_grid
        self.fpoints = fpoints
        self.fspread = fspread
        self.gabriel_shell = gabriel_shell
        self.quick_shift_scale = quick_shift_scale
        self.merge_threshold = merge_threshold
        self.metric_params = metric_params
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the density, find its modes and build the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : PAMM
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n_grid = self.n_grid or max(2, int(np.sqrt(len(X))))
        kde = SparseKDE(
            metric_params=self.metric_params,
            fspread=self.fspread,
            fpoints=self.fpoints,
            verbose=self.verbose,
            n_grid=min(n_grid, len(X)),
        ).fit(X, sample_weight=sample_weight)
        grid, cell = kde.grid_, kde._cell
        log_density = kde.score_samples(grid)
        if not np.all(np.isfinite(log_density)):
            raise ValueError(
                "The density is zero at some grid points (every datum of their "
                "cells equals the grid point); use fewer grid points."
            )
        cutoffs = self.quick_shift_scale**2 * np.trace(
            kde.local_covariances_, axis1=1, axis2=2
        )
        if self.gabriel_shell is not None:
            linker = QuickShift(
                gabriel_shell=self.gabriel_shell, metric_params=self.metric_params
            )
        else:
            linker = QuickShift(
                dist_cutoff_sq=cutoffs, metric_params=self.metric_params
            )
        roots = linker.fit(grid, samples_weight=log_density).labels_
        roots = self._merge(grid, cell, roots, kde.grid_weights_, log_density)
        modes = np.unique(roots)
        weights = np.array([kde.grid_weights_[roots == mode].sum() for mode in modes])
        order = np.argsort(-weights, kind="stable")
        modes, weights = modes[order], weights[order]
        grid_labels = np.empty(len(grid), dtype=np.intp)
        for k, mode in enumerate(modes):
            grid_labels[roots == mode] = k
        data_clusters = grid_labels[kde.labels_]
        covariances = np.empty((len(modes), X.shape[1], X.shape[1]))
        for k, mode in enumerate(modes):
            covariances[k] = self._cluster_covariance(
                kde, np.flatnonzero(data_clusters == k), mode, X.shape[1]
            )
        self.kde_ = kde
        self.grid_log_density_ = log_density
        self.grid_labels_ = grid_labels
        self.cluster_centers_idx_ = modes
        self.cluster_centers_ = grid[modes]
        self.cluster_weights_ = weights / weights.sum()
        self.cluster_covariances_ = covariances
        self._whiten, self._log_norm = gaussian_factors(
            covariances,
            "The covariance of cluster {} is singular: its points are all equal.",
        )
        self.labels_ = self.predict(X)
        return self

    def _merge(self, grid, cell, roots, shares, log_density):
        """Clusters below the threshold join the cluster with the nearest mode."""
        while True:
            modes = np.unique(roots)
            mass = np.array([shares[roots == mode].sum() for mode in modes])
            small = mass < self.merge_threshold
            if not small.any() or small.all():
                return roots
            weakest = modes[np.argmin(np.where(small, mass, np.inf))]
            others = modes[modes != weakest]
            offset = _minimum_image(grid[others] - grid[weakest], cell)
            target = others[np.argmin(np.einsum("ij,ij->i", offset, offset))]
            roots = np.where(roots == weakest, target, roots)
            # the merged cluster's mode is its densest grid point
            members = np.flatnonzero(roots == target)
            roots[members] = members[np.argmax(log_density[members])]

    @staticmethod
    def _cluster_covariance(kde, data, mode, n_features):
        """The weighted covariance of the cluster's data (OAS-shrunk), else, for a
        cluster of one distinct point, the bandwidth at its mode."""
        points = kde.descriptors_[data]
        if data.size < 2 or not np.ptp(points, axis=0).any():
            return kde.bandwidth_[mode].copy()
        covariance = _covariance(points, kde.descriptor_weights_[data], kde._cell)
        return oas(covariance, float(data.size), n_features)

    def _log_joint(self, X):
        """log p_k N(x; μ_k, Σ_k) for every sample and cluster."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        cell = self.kde_._cell
        joint = np.empty((len(X), len(self.cluster_weights_)))
        for k, (centre, whiten) in enumerate(
            zip(self.cluster_centers_, self._whiten, strict=True)
        ):
            whitened = _minimum_image(X - centre, cell) @ whiten.T
            joint[:, k] = (
                np.log(self.cluster_weights_[k])
                - 0.5 * self._log_norm[k]
                - 0.5 * np.einsum("ij,ij->i", whitened, whitened)
            )
        return joint

    def predict_proba(self, X):
        """P(k | x) for each sample and cluster.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_clusters)
        """
        joint = self._log_joint(X)
        return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))

    def predict(self, X):
        """The most probable cluster of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return np.argmax(self._log_joint(X), axis=1)

    def score_samples(self, X):
        """Log-density of each sample under the Gaussian mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        return logsumexp(self._log_joint(X), axis=1)
