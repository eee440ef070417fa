r"""Sketch-map: a low-dimensional map that reproduces distances over a chosen range
of scales, fitted in full or on landmarks, with out-of-sample placement."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.spatial.distance import cdist, pdist, squareform
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from propmap._compat import Interval, StrOptions, _check_sample_weight, _fit_context
from propmap.decomposition._sketchmap_global import ANNEAL_MAX_ROUNDS, Relaxer
from propmap.decomposition._sketchmap_placement import Placement
from propmap.decomposition._sketchmap_stress import (
    PairStress,
    Sigmoid,
    classical_mds,
    condensed,
    pair_products,
    suggest_sigmoid_params,
)

__all__ = ["SketchMap"]

SIGMOID_PARAMS = ("sigma", "a_high", "b_high", "a_low", "b_low")
# classical MDS by Lanczos iteration above this many points (the full solver is
# O(n^3) for two eigenvectors)
_DENSE_MDS = 1000
# elements of one (points, landmarks) block of the out-of-sample step
_BLOCK_ELEMENTS = 2**20


class SketchMap(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Sketch-map: a low-dimensional embedding that matches distances passed
    through sigmoids, so that it reproduces a chosen range of scales.

    High-dimensional distances :math:`D_{ij}` and low-dimensional ones
    :math:`d_{ij} = |\mathbf{y}_i - \mathbf{y}_j|` are compared through the switching
    functions

    .. math::

        s_{\sigma,a,b}(r) = 1 - \left(1 + (2^{a/b} - 1)
            \left(\frac{r}{\sigma}\right)^{a}\right)^{-b/a},

    which equal one half at :math:`r = \sigma`, go to 0 as :math:`r^a` below it
    and to 1 as :math:`1 - r^{-b}` above it: :math:`s = s_{\sigma,a_\mathrm{high},
    b_\mathrm{high}}` for the data, :math:`\tilde s = s_{\sigma,a_\mathrm{low},
    b_\mathrm{low}}` for the map. Short distances (thermal noise) and long ones
    (unreliable in high dimension) are compressed, the intermediate range is kept.
    The embedding minimises the stress

    .. math::

        \chi = \frac{1}{W} \sum_{i<j} w_i w_j \left[(1 - m)
            \left(s(D_{ij}) - \tilde s(d_{ij})\right)^2
            + m \left(D_{ij} - d_{ij}\right)^2\right],
        \qquad W = \sum_{i<j} w_i w_j,

    with sample weights :math:`w_i` and the mixing ratio :math:`m`. The fit runs
    (1) classical MDS (unless ``init`` is given), (2) ``mds_opt_steps`` steps on
    the raw-distance stress (m = 1), (3) ``max_iter`` steps at ``mixing_ratio``,
    and (4) ``global_opt_steps`` rounds of global optimisation. The fit is
    deterministic.

    The full stress costs :math:`O(n^2)` per step. With ``n_landmarks``, fit picks
    that many landmarks by farthest-point sampling, weights each by the population
    of its Voronoi cell (times the sample weights of its members, summed), fits the
    landmarks with the stress above, and then places every other point
    out of sample. :meth:`transform` places new points the same way: each point
    :math:`\mathbf{x}` minimises its own stress against the fixed landmarks
    :math:`\mathbf{y}_j` with weights :math:`w_j`,

    .. math::

        \chi(\mathbf{x}) = \sum_j w_j \left[(1 - m)
            \left(s(D_j) - \tilde s(|\mathbf{x} - \mathbf{y}_j|)\right)^2
            + m \left(D_j - |\mathbf{x} - \mathbf{y}_j|\right)^2\right],

    :math:`D_j` its high-dimensional distance to landmark j. The objective is not
    convex: each point starts from the best of the map positions of its three
    nearest landmarks and their inverse-distance weighted mean, then all points of
    a block take Newton steps on their exact Hessians (eigenvalues replaced by
    their absolute values) with a backtracking line search, O(n_landmarks) per
    point and step. A point at distance 0 from a landmark is put on it. Without
    ``n_landmarks`` every training point is a landmark.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the map.
    sigma : float, default=None
        The switching distance of both sigmoids; None: 0.9 times the peak of the
        (weighted) histogram of the pair distances.
    a_high, b_high : float, default=None
        Short- and long-range exponents of the high-dimensional sigmoid; None:
        :math:`b = \mathrm{clip}(2 + \ln(r_\mathrm{long} / r_\mathrm{short}), 2, 6)`
        from the histogram's short-range (Gaussian fit) and long-range (a tenth of
        the peak density) scales, and :math:`a = 2b`.
    a_low, b_low : float, default=None
        Exponents of the low-dimensional sigmoid; None: ``n_components``.
    mds_opt_steps : int, default=100
        Steps of stage 2 (raw distances), skipped when ``init`` is given.
    optimizer : {"L-BFGS-B", "CG"}, default="L-BFGS-B"
        The scipy optimiser of every whole-map relaxation.
    max_iter : int, default=1000
        Steps of stage 3 (the stress at ``mixing_ratio``).
    global_opt_steps : int, "auto" or None, default="auto"
        Rounds of stage 4: 5 for "auto" (up to 10 for the annealed grid); 0 or None
        skips it.
    global_optimizer : {"gradient", "grid"}, default="gradient"
        ``"gradient"``: rounds of L-BFGS relaxation (any ``n_components``).
        ``"grid"``: also move each point, in turn, to the best place on a grid over
        the map when that lowers its stress, as the reference C++ code does; it
        crosses between basins but costs O(n²) per point and needs
        ``n_components=2``.
    mixing_ratio : float, default=0.0
        m above: 0 is the pure sigmoid stress, 1 the raw-distance (metric MDS) one.
    mixing_schedule : sequence of float, "auto" or None, default=None
        Mixing ratios to anneal through in stage 4. None: stay at
        ``mixing_ratio``. "auto" with ``"gradient"``: from 1 halving the distance
        to ``mixing_ratio`` each level, ending on it; with ``"grid"``: the C++
        pipeline's adaptive annealing. A sequence: these levels (gradient only).
    dissimilarity : {"euclidean", "precomputed"}, default="euclidean"
        ``"precomputed"``: fit takes the square matrix of pair distances and
        :meth:`transform` the distances to the landmarks.
    init : array-like of shape (n_samples, n_components), default=None
        Starting map (the landmarks' rows of it when fitting on landmarks); None:
        classical MDS.
    verbose : bool, default=False
        Print the stages and their stresses.
    progress_bar : bool, default=False
        Show a progress bar over the rounds of stage 4.
    n_landmarks : int, default=None
        Fit on this many farthest-point-sampled landmarks and place the other
        points out of sample (O(n x n_landmarks) per step); None, or the number
        of samples: fit every point with the full stress.

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components)
        The map of the training points.
    stress_ : float
        The stress of the (landmark) fit at ``mixing_ratio``.
    params_ : dict
        The sigmoid parameters used: ``sigma``, ``a_high``, ``b_high``, ``a_low``,
        ``b_low``.
    suggested_params_ : dict
        The automatic ones, whether used or not.
    distance_analysis_ : dict
        ``peak_distance``, ``gaussian_std``, ``gaussian_range``,
        ``uniform_cutoff``, ``max_distance`` and the histogram (``bin_centers``,
        ``prob_density``) they come from.
    n_iter_ : int
        Optimiser iterations summed over the whole-map relaxations.
    landmark_indices_ : ndarray of shape (n_landmarks,)
        The training rows used as landmarks (all rows without ``n_landmarks``).
    landmark_embedding_ : ndarray of shape (n_landmarks, n_components)
        Their positions, ``embedding_[landmark_indices_]``.
    landmark_weights_ : ndarray of shape (n_landmarks,)
        Their weights: Voronoi-cell populations (times sample weights), or the
        sample weights (ones) without ``n_landmarks``.
    n_features_in_ : int
        Number of features (columns of X) seen in fit.

    See Also
    --------
    propmap.sample_selection.FPS : the landmark selection.
    propmap.sample_selection.voronoi_weights : the landmark weights.

    References
    ----------
    .. [1] M. Ceriotti, G. A. Tribello, M. Parrinello, "Simplifying the
       representation of complex free-energy landscapes using sketch-map",
       Proc. Natl. Acad. Sci. USA 108, 13023 (2011),
       https://doi.org/10.1073/pnas.1108486108

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.decomposition import SketchMap
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(40, 5)), rng.normal(4.0, 1.0, size=(40, 5))])
    >>> sketch = SketchMap(n_landmarks=20).fit(X)
    >>> sketch.embedding_.shape, sketch.landmark_weights_.sum()
    ((80, 2), np.float64(80.0))
    >>> sketch.transform(X[:3] + 0.01).shape
    (3, 2)
    >>> bool(np.allclose(sketch.transform(X[sketch.landmark_indices_]),
    ...                  sketch.landmark_embedding_))
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        **{
            name: [Interval(Real, 0, None, closed="neither"), None]
            for name in SIGMOID_PARAMS
        },
        "mds_opt_steps": [Interval(Integral, 0, None, closed="left")],
        "optimizer": [StrOptions({"L-BFGS-B", "CG"})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "global_opt_steps": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "global_optimizer": [StrOptions({"gradient", "grid"})],
        "mixing_ratio": [Interval(Real, 0, 1, closed="both")],
        "mixing_schedule": ["array-like", StrOptions({"auto"}), None],
        "dissimilarity": [StrOptions({"euclidean", "precomputed"})],
        "init": ["array-like", None],
        "verbose": ["verbose"],
        "progress_bar": ["boolean"],
        "n_landmarks": [Interval(Integral, 2, None, closed="left"), None],
    }

    def __init__(
        self,
        n_components=2,
        sigma=None,
        a_high=None,
        b_high=None,
        a_low=None,
        b_low=None,
        mds_opt_steps=100,
        optimizer="L-BFGS-B",
        max_iter=1000,
        global_opt_steps="auto",
        global_optimizer="gradient",
        mixing_ratio=0.0,
        mixing_schedule=None,
        dissimilarity="euclidean",
        init=None,
        verbose=False,
        progress_bar=False,
        n_landmarks=None,
    ):
        self.n_components = n_components
        self.sigma = sigma
        self.a_high = a_high
        self.b_high = b_high
        self.a_low = a_low
        self.b_low = b_low
        self.mds_opt_steps = mds_opt_steps
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.global_opt_steps = global_opt_steps
        self.global_optimizer = global_optimizer
        self.mixing_ratio = mixing_ratio
        self.mixing_schedule = mixing_schedule
        self.dissimilarity = dissimilarity
        self.init = init
        self.verbose = verbose
        self.progress_bar = progress_bar
        self.n_landmarks = n_landmarks

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the map (of the landmarks, then place the other points).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
            Features, or the square matrix of pair distances with
            ``dissimilarity="precomputed"``.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a pair weighs the product of its two.

        Returns
        -------
        self : SketchMap
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n_samples = X.shape[0]
        if self.dissimilarity == "precomputed":
            _check_distances(X, square=True)
        schedule = self._check_options(n_samples)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        init = self._check_init(n_samples)
        if self.verbose:
            print(f"Fitting sketch-map: {n_samples} samples, {X.shape[1]} features")
        indices, weights = self._landmarks(X, sample_weight)
        if weights is not None and np.count_nonzero(weights) < 2:
            raise ValueError(
                "sample_weight must give at least two landmarks a positive weight; "
                "otherwise no pair carries any weight."
            )
        if self.dissimilarity == "precomputed":
            distances = condensed(X[np.ix_(indices, indices)])
        else:
            distances = pdist(X[indices])
        landmark_init = None if init is None else init[indices]
        # L-BFGS-B's small BLAS calls stall on a busy multi-core machine (2 threads:
        # 13 s against 1.1 s for 500 landmarks); the stress itself uses no BLAS
        with threadpool_limits(limits=1, user_api="blas"):
            embedding = self._fit_pairs(
                distances, indices.size, weights, landmark_init, schedule
            )
        self.landmark_indices_ = indices
        self.landmark_weights_ = np.ones(indices.size) if weights is None else weights
        self.landmark_embedding_ = embedding
        self._landmark_rows = (
            None if self.dissimilarity == "precomputed" else X[indices]
        )
        if indices.size == n_samples:
            self.embedding_ = embedding
            return self
        self.embedding_ = np.empty((n_samples, self.n_components))
        self.embedding_[indices] = embedding
        others = np.setdiff1d(np.arange(n_samples), indices)
        if self.dissimilarity == "precomputed":
            blocks = (X[np.ix_(rows, indices)] for rows in self._blocks(others))
        else:
            blocks = (cdist(X[rows], X[indices]) for rows in self._blocks(others))
        self.embedding_[others] = self._place(blocks)
        return self

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit and return ``embedding_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            As for :meth:`fit`.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            As for :meth:`fit`.

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_components)
        """
        return self.fit(X, y, sample_weight=sample_weight).embedding_

    def transform(self, X):
        """Place new points against the fitted landmarks.

        Parameters
        ----------
        X : array-like of shape (n_points, n_features) or (n_points, n_landmarks)
            Features, or with ``dissimilarity="precomputed"`` the distances of each
            point to the landmarks (``landmark_indices_``, in that order).

        Returns
        -------
        embedding : ndarray of shape (n_points, n_components)
        """
        check_is_fitted(self)
        n_landmarks = self.landmark_indices_.size
        if self.dissimilarity == "precomputed":
            X = check_array(X, dtype=np.float64, input_name="X")
            if X.shape[1] != n_landmarks:
                raise ValueError(
                    f"X has {X.shape[1]} features, but SketchMap is expecting "
                    f"{n_landmarks} features as input: with dissimilarity="
                    "'precomputed', transform takes the distances to the landmarks."
                )
            _check_distances(X, square=False)
            blocks = (X[rows] for rows in self._blocks(np.arange(X.shape[0])))
        else:
            X = validate_data(self, X, dtype=np.float64, reset=False)
            blocks = (
                cdist(X[rows], self._landmark_rows)
                for rows in self._blocks(np.arange(X.shape[0]))
            )
        return self._place(blocks, n_points=X.shape[0])

    # -- the steps of fit

    def _check_options(self, n_samples: int):
        """Checks that involve several parameters or the data; returns the
        stage-4 plan: None (skip), or (kind, levels, rounds)."""
        n_landmarks = n_samples if self.n_landmarks is None else self.n_landmarks
        if n_landmarks > n_samples:
            raise ValueError(
                f"n_landmarks={self.n_landmarks} exceeds the number of samples, "
                f"{n_samples}."
            )
        if self.n_components > n_landmarks:
            raise ValueError(
                f"n_components={self.n_components} must not exceed the number of "
                f"points fitted with the full stress ({n_landmarks})."
            )
        grid = self.global_optimizer == "grid"
        if grid and self.n_components != 2:
            raise ValueError(
                "global_optimizer='grid' needs n_components=2, got "
                f"n_components={self.n_components}."
            )
        explicit = self.mixing_schedule is not None and not isinstance(
            self.mixing_schedule, str
        )
        if explicit:
            levels = np.asarray(self.mixing_schedule, dtype=np.float64).ravel()
            if grid:
                raise ValueError(
                    "global_optimizer='grid' takes mixing_schedule=None or 'auto', "
                    f"not a sequence ({self.mixing_schedule!r})."
                )
            if levels.size == 0 or not np.all((levels >= 0) & (levels <= 1)):
                raise ValueError(
                    "mixing_schedule must hold mixing ratios in [0, 1], got "
                    f"{self.mixing_schedule!r}."
                )
        auto = isinstance(self.mixing_schedule, str)  # "auto", checked by the table
        rounds = self.global_opt_steps
        rounds = 5 if rounds == "auto" else (rounds or 0)
        if rounds == 0:
            return None
        target = float(self.mixing_ratio)
        if grid:
            if auto:
                if self.global_opt_steps == "auto":
                    rounds = ANNEAL_MAX_ROUNDS
                return ("annealed grid", None, rounds)
            return ("grid", None, rounds)
        if explicit:
            return ("gradient", tuple(levels.tolist()), rounds)
        if auto:
            levels = [target + (1.0 - target) * 0.5**c for c in range(rounds - 1)]
            return ("gradient", (*levels, target), rounds)
        return ("gradient", (target,), rounds)

    def _check_init(self, n_samples: int):
        if self.init is None:
            return None
        init = check_array(self.init, dtype=np.float64, input_name="init")
        if init.shape != (n_samples, self.n_components):
            raise ValueError(
                f"init has shape {init.shape}; expected (n_samples, n_components) = "
                f"({n_samples}, {self.n_components})."
            )
        return init

    def _landmarks(self, X, sample_weight):
        """Landmark rows and their weights (None: uniform, no landmarks)."""
        n_samples = X.shape[0]
        if self.n_landmarks is None or self.n_landmarks == n_samples:
            return np.arange(n_samples), sample_weight
        from propmap.sample_selection import FPS, voronoi_weights

        if self.dissimilarity == "precomputed":
            indices = _farthest_points(X, self.n_landmarks)
            cells = X[:, indices].argmin(axis=1)
        else:
            selector = FPS(n_to_select=self.n_landmarks, initialize=0)
            indices = np.asarray(selector.fit(X).selected_idx_)
            if sample_weight is None:
                weights = voronoi_weights(X, X[indices], normalize=False)
                return indices, weights
            cells = pairwise_distances_argmin(X, X[indices])
        weights = np.bincount(cells, weights=sample_weight, minlength=indices.size)
        return indices, weights.astype(np.float64)

    def _fit_pairs(self, distances, n_points, weights, init, schedule):
        """Stages 1-4 on the condensed pair ``distances`` of ``n_points`` points;
        returns the map and sets the fitted parameters, stress and iterations."""
        pair_weights = None if weights is None else pair_products(weights)
        self.suggested_params_, self.distance_analysis_ = suggest_sigmoid_params(
            distances, self.n_components, pair_weights
        )
        self.params_ = {
            name: self.suggested_params_[name]
            if getattr(self, name) is None
            else getattr(self, name)
            for name in SIGMOID_PARAMS
        }
        if self.verbose:
            used = ", ".join(f"{k} = {v:.4g}" for k, v in self.params_.items())
            print(f"Sigmoid parameters: {used}")
        high, low = self._sigmoids()
        stress = PairStress(
            distances, n_points, self.n_components, high, low, weights, pair_weights
        )
        relaxer = Relaxer(stress, self.optimizer, self.verbose, self._progress)
        if init is None:
            if self.verbose:
                print("Classical MDS")
            solver = "full" if n_points <= _DENSE_MDS else "arpack"
            square = squareform(distances, checks=False)
            embedding = classical_mds(square, self.n_components, solver=solver)
            del square
            if self.mds_opt_steps > 0:
                embedding = relaxer.relax(embedding, 1.0, self.mds_opt_steps)
        else:
            embedding = init.copy()
        if self.max_iter > 0:
            embedding = relaxer.relax(embedding, self.mixing_ratio, self.max_iter)
        if schedule is not None:
            kind, levels, rounds = schedule
            if kind == "gradient":
                embedding = relaxer.anneal(embedding, levels, rounds)
            elif kind == "grid":
                embedding = relaxer.grid_sweeps(embedding, self.mixing_ratio, rounds)
            else:
                embedding = relaxer.grid_annealed(embedding, self.mixing_ratio, rounds)
        self.stress_ = stress(embedding.ravel(), self.mixing_ratio)[0]
        self.n_iter_ = relaxer.n_iter
        if self.verbose:
            print(f"Final stress: {self.stress_:.6g}")
        return embedding

    def _sigmoids(self) -> tuple[Sigmoid, Sigmoid]:
        params = self.params_
        return (
            Sigmoid(params["sigma"], params["a_high"], params["b_high"]),
            Sigmoid(params["sigma"], params["a_low"], params["b_low"]),
        )

    def _progress(self, iterable, description):
        if not self.progress_bar:
            return iterable
        from propmap.utils import get_progress_bar

        return get_progress_bar()(iterable, desc=description)

    # -- out of sample

    def _blocks(self, rows: np.ndarray):
        size = max(1, _BLOCK_ELEMENTS // self.landmark_indices_.size)
        for start in range(0, rows.size, size):
            yield rows[start : start + size]

    def _placement(self) -> Placement:
        high, low = self._sigmoids()
        return Placement(
            self.landmark_embedding_,
            self.landmark_weights_,
            high,
            low,
            self.mixing_ratio,
        )

    def _place(self, blocks, n_points=None) -> np.ndarray:
        """Positions of the points whose distances to the landmarks come in
        ``blocks`` (an iterable of (block, n_landmarks) arrays)."""
        placement = self._placement()
        with threadpool_limits(limits=1, user_api="blas"):  # small products
            placed = [placement.place(block)[0] for block in blocks]
        if not placed:
            return np.empty((n_points or 0, self.n_components))
        return np.vstack(placed)

    @property
    def _n_features_out(self) -> int:
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        precomputed = self.dissimilarity == "precomputed"
        tags.input_tags.pairwise = precomputed
        tags.input_tags.positive_only = precomputed  # distances
        return tags


def _check_distances(X: np.ndarray, square: bool) -> None:
    if square and X.shape[0] != X.shape[1]:
        raise ValueError(
            "dissimilarity='precomputed' needs the square matrix of pair distances; "
            f"got X of shape {X.shape}."
        )
    if np.any(X < 0):
        raise ValueError(
            "Negative values in data passed to SketchMap: dissimilarity="
            f"'precomputed' needs distances, and X has {np.count_nonzero(X < 0)} "
            "negative entries."
        )


def _farthest_points(distances: np.ndarray, n_to_select: int) -> np.ndarray:
    """Farthest-point sampling on a square distance matrix, starting from row 0."""
    selected = [0]
    nearest = distances[0].copy()
    for _ in range(n_to_select - 1):
        selected.append(int(np.argmax(nearest)))
        np.minimum(nearest, distances[selected[-1]], out=nearest)
    return np.asarray(selected)
