r"""Quick shift clustering (Vedaldi & Soatto 2008), as PAMM uses it.

Every point links to the nearest point of higher weight (density) among its
neighbours; following the links ends at a root, a local maximum, and the points
that end at the same root form a cluster. Neighbours are those within a squared
distance cutoff (with the nearest point as a fallback when none is), or within a
number of shells of the Gabriel graph.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.spatial import Delaunay, cKDTree
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import validate_data

from propmap._compat import Interval, _fit_context

__all__ = ["QuickShift"]

# up to this many points the Gabriel graph is found from all triples at once
_DENSE_GABRIEL = 1_000


class QuickShift(ClusterMixin, BaseEstimator):
    r"""Quick shift clustering of weighted points.

    Point i links to the nearest point j with a larger weight :math:`w_j > w_i`
    among its neighbours — the points within ``dist_cutoff_sq`` (squared, times
    ``scale²``), or, with ``gabriel_shell``, those within that many edges of the
    Gabriel graph (i and j are Gabriel neighbours when no point lies in the ball
    whose diameter is ij). With a cutoff, a point with no such neighbour within it
    links to its nearest point if that one is heavier (as scikit-matter does). A
    point with no link is a root; following the links from any point ends at a root,
    and ``labels_`` gives that root's index.

    Neighbours are found with scipy's k-d tree (periodic in a rectangular cell
    given as ``metric_params={"cell_length": [...]}``), expanding the search only
    where needed, so 100,000 points need no n x n matrix; a ``metric`` of your own
    is evaluated as a full matrix, as scikit-matter does.

    Parameters
    ----------
    dist_cutoff_sq : float or array-like of shape (n_samples,), default=None
        Squared distance cutoff (one for all points, or one per point).
    gabriel_shell : int, default=None
        Number of Gabriel-graph shells searched (used when no cutoff is given).
    scale : float, default=1.0
        The cutoffs are multiplied by ``scale²``.
    metric : callable, default=None
        ``metric(X, Y, squared=True, **metric_params)`` returning squared distances;
        None: (periodic) Euclidean.
    metric_params : dict, default=None
        ``{"cell_length": [L_1, ..., L_d]}`` for a periodic rectangular cell with the
        default metric, or the extra arguments of ``metric``.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        The index of each point's root (its cluster's centre).
    cluster_centers_idx_ : ndarray of shape (n_clusters,)
        The roots, in increasing order.
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Their coordinates.
    n_features_in_ : int
        Number of features seen during fit.

    References
    ----------
    .. [1] A. Vedaldi, S. Soatto, "Quick shift and kernel methods for mode
       seeking", ECCV 2008.
    .. [2] R. Gasparotto, M. Ceriotti, "Recognizing molecular patterns by machine
       learning: an agnostic structural definition of the hydrogen bond", J. Chem.
       Phys. 141, 174110 (2014).

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.clustering import QuickShift
    >>> points = np.array(
    ...     [[-1.72, -1.32], [-4.44, -2.13], [0.54, -2.43],
    ...      [3.19, -0.49], [-1.13, 2.33], [0.55, 0.18]]
    ... )
    >>> weights = np.array([-3.94, -12.68, -7.07, -9.03, -8.26, -2.61])
    >>> cuts = np.array([6.99, 8.80, 7.68, 9.51, 8.07, 6.22])
    >>> model = QuickShift(cuts).fit(points, samples_weight=weights)
    >>> model.labels_
    array([0, 0, 0, 5, 5, 5])
    >>> model.cluster_centers_idx_
    array([0, 5])
    """

    _parameter_constraints: dict = {
        "dist_cutoff_sq": [
            Interval(Real, 0, None, closed="neither"),
            "array-like",
            None,
        ],
        "gabriel_shell": [Interval(Integral, 1, None, closed="left"), None],
        "scale": [Interval(Real, 0, None, closed="neither")],
        "metric": [callable, None],
        "metric_params": [dict, None],
    }

    def __init__(
        self,
        dist_cutoff_sq=None,
        gabriel_shell=None,
        scale=1.0,
        metric=None,
        metric_params=None,
    ):
        self.dist_cutoff_sq = dist_cutoff_sq
        self.gabriel_shell = gabriel_shell
        self.scale = scale
        self.metric = metric
        self.metric_params = metric_params

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, samples_weight=None):
        """Cluster X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        samples_weight : array-like of shape (n_samples,), default=None
            The weight (e.g. a log-density) of each point; links go uphill. None:
            the log-density of a Gaussian kernel density estimate
            (:class:`sklearn.neighbors.KernelDensity`, Scott's bandwidth);
            scikit-matter requires the weights.

        Returns
        -------
        self : QuickShift
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n = X.shape[0]
        if self.dist_cutoff_sq is None and self.gabriel_shell is None:
            raise ValueError("Either dist_cutoff_sq or gabriel_shell must be set.")
        if samples_weight is None:
            # a density to climb: the log of a Gaussian KDE, Scott's bandwidth
            from sklearn.neighbors import KernelDensity

            samples_weight = KernelDensity(bandwidth="scott").fit(X).score_samples(X)
        weights = np.asarray(samples_weight, dtype=np.float64).ravel()
        if weights.shape != (n,) or not np.all(np.isfinite(weights)):
            raise ValueError(
                f"samples_weight must hold one finite number per sample ({n}), got "
                f"shape {np.shape(samples_weight)}."
            )
        params = dict(self.metric_params or {})
        cell = params.get("cell_length") if self.metric is None else None
        if self.metric is None and set(params) - {"cell_length"}:
            raise ValueError(
                "With the default metric, metric_params may only hold cell_length; "
                f"got {sorted(params)}."
            )
        if cell is not None:
            cell = np.asarray(cell, dtype=np.float64).ravel()
            if cell.size != X.shape[1]:
                raise ValueError(
                    "Dimension of the cell length does not match the data dimension: "
                    f"{cell.size} side lengths for {X.shape[1]} features."
                )
            if not np.all(np.isfinite(cell)) or np.any(cell <= 0):
                raise ValueError(f"cell_length must be positive, got {cell.tolist()}.")
        geometry = _Geometry(X, cell, self.metric, params)
        if self.dist_cutoff_sq is not None:
            cutoffs = np.asarray(self.dist_cutoff_sq, dtype=np.float64)
            cutoffs = (
                np.full(n, float(cutoffs)) if cutoffs.ndim == 0 else cutoffs.ravel()
            )
            if cutoffs.shape != (n,) or not np.all(cutoffs > 0):
                raise ValueError(
                    "dist_cutoff_sq must be a positive number or one per sample "
                    f"({n}), got shape {np.shape(self.dist_cutoff_sq)}."
                )
            parents = geometry.uphill_within(weights, cutoffs * self.scale**2)
        else:
            parents = geometry.uphill_on_gabriel(weights, self.gabriel_shell)
        roots = parents
        while True:  # weights increase along links: no cycles, pointer jumping ends
            jumped = roots[roots]
            if np.array_equal(jumped, roots):
                break
            roots = jumped
        self.labels_ = roots
        self.cluster_centers_idx_ = np.flatnonzero(roots == np.arange(n))
        self.cluster_centers_ = X[self.cluster_centers_idx_]
        return self


class _Geometry:
    """Squared distances between the points: a k-d tree (periodic or not) for the
    default metric, or the full matrix of a user's metric."""

    def __init__(self, X: np.ndarray, cell, metric, params: dict) -> None:
        self.X, self.n = X, X.shape[0]
        self.cell = cell
        self.matrix = None
        if metric is not None:
            matrix = np.asarray(metric(X, X, squared=True, **params), dtype=np.float64)
            if matrix.shape != (self.n, self.n):
                raise ValueError(
                    f"metric must return a ({self.n}, {self.n}) matrix, got shape "
                    f"{matrix.shape}."
                )
            np.fill_diagonal(matrix, np.inf)
            self.matrix = matrix
        else:
            points = X if cell is None else np.mod(X, cell)
            # scipy wants points strictly inside [0, L): mod can round up to L
            if cell is not None:
                points = np.where(points >= cell, 0.0, points)
            self.points = points
            self.tree = cKDTree(points, boxsize=cell)

    def squared(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Squared distances of the pairs (i, j)."""
        if self.matrix is not None:
            return self.matrix[i, j]
        difference = self.X[i] - self.X[j]
        if self.cell is not None:
            difference -= np.round(difference / self.cell) * self.cell
        return np.einsum("ij,ij->i", difference, difference)

    def neighbours(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest other points of each of ``rows``, nearest first (exact ties
        by index, as a scan over the points breaks them), and their squared
        distances."""
        if self.matrix is not None:
            block = self.matrix[rows]
            order = np.argsort(block, axis=1, kind="stable")[:, :k]
        else:
            _, found = self.tree.query(self.points[rows], k=min(k + 1, self.n))
            found = found.reshape(rows.size, -1)
            # drop each row's own point (not always first when points coincide)
            own = found == rows[:, None]
            keep = np.where(
                own.any(axis=1)[:, None], ~own, np.arange(found.shape[1]) < k
            )
            order = found[keep].reshape(rows.size, -1)[:, :k]
        distances = self.squared(np.repeat(rows, order.shape[1]), order.ravel())
        distances = distances.reshape(order.shape)
        ranking = np.lexsort((order, distances), axis=1)
        order = np.take_along_axis(order, ranking, axis=1)
        return order, np.take_along_axis(distances, ranking, axis=1)

    def uphill_within(self, weights: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        """Each point's link: its nearest heavier point within its cutoff, else its
        nearest point if heavier, else itself. The k-nearest search grows (x4) only
        for the points whose k neighbours are all lighter and all within the
        cutoff."""
        n = self.n
        parents = np.arange(n)
        nearest = np.empty(n, dtype=int)
        pending, k, first = np.arange(n), min(16, n - 1), True
        while pending.size:
            order, distances = self.neighbours(pending, k)
            if first:
                nearest[:] = order[:, 0]
                first = False
            ok = (weights[order] > weights[pending][:, None]) & (
                distances < cutoffs[pending][:, None]
            )
            found = ok.any(axis=1)
            parents[pending[found]] = order[found, np.argmax(ok[found], axis=1)]
            more = ~found & (distances[:, -1] < cutoffs[pending]) & (k < n - 1)
            pending, k = pending[more], min(4 * k, n - 1)
        lonely = (parents == np.arange(n)) & (weights[nearest] > weights)
        parents[lonely] = nearest[lonely]
        return parents

    def gabriel_graph(self) -> sp.csr_array:
        """The Gabriel graph: i ~ j when no point k has d²_ik + d²_jk < d²_ij."""
        n, d = self.X.shape
        if self.matrix is None and self.cell is None and n > _DENSE_GABRIEL and d <= 6:
            return self._gabriel_from_delaunay()
        if self.matrix is not None:
            D = self.matrix
        else:
            D = np.empty((n, n))
            for i in range(n):
                D[i] = self.squared(np.full(n, i), np.arange(n))
            np.fill_diagonal(D, np.inf)
        adjacency = np.zeros((n, n), dtype=bool)
        for i in range(n):
            blocked = np.any(D[i][None, :] + D < D[i][:, None], axis=1)
            adjacency[i] = ~blocked
            adjacency[i, i] = False
        return sp.csr_array(adjacency)

    def _gabriel_from_delaunay(self) -> sp.csr_array:
        """Gabriel edges are Delaunay edges: test only those, each against the
        points inside its diametral ball (a k-d tree query)."""
        simplices = Delaunay(self.X).simplices
        pairs = np.concatenate(
            [simplices[:, [a, b]] for a in range(simplices.shape[1]) for b in range(a)]
        )
        pairs = np.unique(np.sort(pairs, axis=1), axis=0)
        i, j = pairs[:, 0], pairs[:, 1]
        length = self.squared(i, j)
        centres = (self.X[i] + self.X[j]) / 2
        inside = self.tree.query_ball_point(centres, np.sqrt(length) / 2 * (1 + 1e-12))
        keep = np.ones(pairs.shape[0], dtype=bool)
        for e, candidates in enumerate(inside):
            k = np.asarray(
                [c for c in candidates if c != i[e] and c != j[e]], dtype=int
            )
            if k.size:
                sums = self.squared(np.full(k.size, i[e]), k) + self.squared(
                    np.full(k.size, j[e]), k
                )
                keep[e] = not np.any(sums < length[e])
        i, j = i[keep], j[keep]
        data = np.ones(2 * i.size, dtype=bool)
        return sp.csr_array(
            (data, (np.concatenate([i, j]), np.concatenate([j, i]))),
            shape=(self.n,) * 2,
        )

    def uphill_on_gabriel(self, weights: np.ndarray, shells: int) -> np.ndarray:
        """Each point's link: the nearest heavier point within ``shells`` edges of
        the Gabriel graph, else itself."""
        adjacency = self.gabriel_graph().astype(np.int32)
        reach = adjacency.copy()
        for _ in range(1, shells):
            reach = ((reach + reach @ adjacency) > 0).astype(np.int32)
        reach = sp.csr_array(reach)
        parents = np.arange(self.n)
        for i in range(self.n):
            candidates = reach.indices[reach.indptr[i] : reach.indptr[i + 1]]
            candidates = np.sort(candidates[weights[candidates] > weights[i]])
            if candidates.size:
                distances = self.squared(np.full(candidates.size, i), candidates)
                parents[i] = candidates[np.argmin(distances)]  # first minimum: lowest j
        return parents
