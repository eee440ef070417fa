r"""Kernel PCovR (dense or Nyström) with its mixing, ridge penalty and kernel
width chosen by cross-validation.

How the search stays cheap:

- **Distances once.** The squared Euclidean (rbf), Manhattan (laplacian) or
  dot-product (linear) matrix of the training rows is computed once; the kernel
  at any width γ is then an elementwise ``exp(-γ D)``, never a new pass over X.
  The Nyström variant keeps, per fold, only the distances to that fold's active
  points.
- **One eigendecomposition per fold and γ.** Every penalty and every mixing of a
  fold is a cheap evaluation of :class:`propmap._linalg.PCovPath`, built from the
  fold's centred training kernel (dense) or its Nyström features.
- **γ on a subsample.** The search over γ runs on the folds of at most
  ``gamma_search_samples`` training rows (the best width hardly depends on the
  number of rows, and each trial costs one eigendecomposition per fold); the
  penalty and the mixing are then chosen on all rows' folds at that γ.
- **The refit** reuses the distances: the final model is fitted on the kernel at
  hand (:class:`KernelPCovR` on the centred, precomputed kernel, or
  :class:`SparseKernelPCovR`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    MultiOutputMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import Interval, StrOptions, _fit_context
from propmap._linalg import PCovPath
from propmap.decomposition._base import LatentPrediction
from propmap.decomposition._cv import (
    DEFAULT_ALPHAS,
    DEFAULT_MIXINGS,
    choose_on_paths,
    cv_folds,
    ridge_losses,
)
from propmap.decomposition._uncertainty import (
    DOMAIN_QUANTILE,
    KernelPosterior,
    UncertaintyMixin,
    design_posterior,
    latent_ratio,
    leave_one_out,
)
from propmap.utils._progress import work_bar

__all__ = [
    "GAMMA_FACTORS",
    "GAMMA_LIMITS",
    "KernelPCovRCV",
    "NystroemFold",
    "centred_kernel_path",
    "distances",
    "farthest_points",
    "kernel_of",
    "median_gamma",
]

# with gammas=None, γ is searched over factors of the median heuristic: these
# three first, then on by factors of 2 past whichever end wins, within the limits
GAMMA_FACTORS = (0.5, 1.0, 2.0)
GAMMA_LIMITS = (1.0 / 16.0, 16.0)
# rows of the median heuristic's sample
MEDIAN_ROWS = 1000
# Nyström fits of at most this many rows pick their active points from the
# Gram matrix (one n² d product, then O(n m) per fold) instead of the features
# (O(n m d) per fold)
GRAM_ROWS = 8192
BLOCK_ROWS = 2048


def distances(A, B, kernel: str) -> np.ndarray:
    """What the kernel is an elementwise function of: squared Euclidean distances
    (rbf), Manhattan distances (laplacian) or dot products (linear)."""
    from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances

    if kernel == "rbf":
        return euclidean_distances(A, B, squared=True)
    if kernel == "laplacian":
        return manhattan_distances(A, B)
    return np.asarray(A @ B.T, dtype=np.float64)


def kernel_of(D: np.ndarray, kernel: str, gamma: float | None) -> np.ndarray:
    """The kernel from :func:`distances` (a new array)."""
    if kernel == "linear":
        return np.array(D, dtype=np.float64)
    return np.exp(-gamma * D)


def median_gamma(D: np.ndarray, kernel: str) -> float:
    """1 / the median off-diagonal distance (squared for rbf): kernel values then
    spread over (0, 1) instead of collapsing to a constant."""
    upper = D[np.triu_indices(D.shape[0], k=1)]
    median = float(np.median(upper)) if upper.size else 0.0
    return 1.0 / median if median > 0 else 1.0


def centred_kernel_path(K, targets, inner, held) -> PCovPath:
    """The path of Kernel PCovR fitted on rows ``inner`` of the kernel K and
    evaluated on ``held``, centred and scaled on ``inner`` as
    :class:`KernelPCovR` (``center=True``) does."""
    from propmap.preprocessing import KernelNormalizer

    training = K[np.ix_(inner, inner)]
    cross = K[np.ix_(held, inner)]
    normalizer = KernelNormalizer().fit(training)
    diagonal = normalizer.transform_diagonal(K[held, held], cross)
    training = normalizer.transform(training, copy=False)
    cross = normalizer.transform(cross, copy=False)
    return PCovPath.from_kernel(training, targets[inner], cross, diagonal)


class NystroemFold:
    """Distances of one fold's training and held-out rows to its active points:
    its Nyström features at any γ."""

    def __init__(self, training, held, active, kernel: str) -> None:
        self.kernel = kernel
        self.training = distances(training, active, kernel)
        self.held = distances(held, active, kernel)
        self.active = distances(active, active, kernel)

    @classmethod
    def within(cls, gram, inner, held, active, kernel: str) -> NystroemFold:
        """From the Gram matrix of the rows (rbf and linear kernels): no new
        pass over the features."""

        def between(rows, columns):
            block = gram[np.ix_(rows, columns)]
            if kernel == "linear":
                return block
            diagonal = np.diagonal(gram)
            squared = diagonal[rows, None] + diagonal[None, columns] - 2.0 * block
            return np.maximum(squared, 0.0, out=squared)

        fold = cls.__new__(cls)
        fold.kernel = kernel
        fold.training = between(inner, active)
        fold.held = between(held, active)
        fold.active = between(active, active)
        return fold

    def path(self, gamma, targets) -> PCovPath:
        """Centred, scaled Nyström features, as :class:`SparseKernelPCovR`
        (``center=True``) makes them, and their path."""
        active = kernel_of(self.active, self.kernel, gamma)
        values, vectors = np.linalg.eigh((active + active.T) / 2)
        cutoff = max(values[-1], 0.0) * active.shape[0] * np.finfo(float).eps
        kept = values > cutoff
        whitening = vectors[:, kept] / np.sqrt(values[kept])
        features = kernel_of(self.training, self.kernel, gamma) @ whitening
        mean = features.mean(axis=0)
        features -= mean
        scale = np.sqrt(np.sum(features**2) / features.shape[0])
        features /= scale
        held = (kernel_of(self.held, self.kernel, gamma) @ whitening - mean) / scale
        return PCovPath.from_features(features, targets, held)


def farthest_points(X, rows, count: int, gram=None) -> np.ndarray:
    """The ``count`` of ``rows`` that farthest point sampling picks (as
    :class:`SparseKernelPCovR`'s ``active="fps"`` does on X[rows]), as indices
    into X: from the Gram matrix of X's rows when given (O(n m)), else from the
    features (O(n m d))."""
    from propmap.sample_selection import FPS, KernelFPS

    if gram is not None:
        picked = KernelFPS(n_to_select=count).fit(gram[np.ix_(rows, rows)])
    else:
        picked = FPS(n_to_select=count).fit(X[rows])
    return rows[picked.selected_idx_]


class _KernelWork:
    """The fit's work in units of about a flop (the eigendecompositions weighted
    by their run time, 10 n³), for the progress bar's time left."""

    EIGH = 10.0

    def __init__(self, shape, n_folds: int, n_active, searched) -> None:
        (self.n, self.d), self.n_folds, self.n_active = shape, n_folds, n_active
        self.widths, self.search_rows = searched

    def _fold(self, rows: int) -> float:
        inner = rows * (self.n_folds - 1) / self.n_folds
        if self.n_active is None:
            return self.EIGH * inner**3
        a = min(self.n_active, inner)
        return rows * a * (self.d + a) + self.EIGH * a**3

    def distances(self) -> float:
        dense = self.n_active is None or self.n <= GRAM_ROWS
        return float(self.n) ** 2 * self.d if dense else 0.0

    def width(self) -> float:
        return self.n_folds * self._fold(self.search_rows)

    def fold(self) -> float:
        return self._fold(self.n)

    def refit(self) -> float:
        return self._fold(self.n * self.n_folds / (self.n_folds - 1))

    def total(self, extra_widths: int = 0) -> float:
        widths = self.widths + extra_widths
        return (
            self.distances() + widths * self.width()
            + self.n_folds * self.fold() + self.refit()
        )  # fmt: skip


class _Folds:
    """The folds' paths at any γ, from distances computed once."""

    def __init__(self, X, Y, folds, kernel: str, n_active, D=None, gram=None):
        self.Y, self.folds, self.kernel = Y, folds, kernel
        self.held_targets = [Y[held] for _, held in folds]
        if n_active is None:
            self.D, self.nystroem = D, None
        else:
            self.nystroem = []
            for inner, held in folds:
                count = min(n_active, inner.size)
                active = farthest_points(X, inner, count, gram)
                self.nystroem.append(
                    NystroemFold(X[inner], X[held], X[active], kernel)
                    if gram is None or kernel == "laplacian"
                    else NystroemFold.within(gram, inner, held, active, kernel)
                )

    def paths(self, gamma, done=lambda: None) -> list[PCovPath]:
        """Every fold's path at ``gamma``; ``done()`` after each."""
        paths = []
        if self.nystroem is not None:
            for fold, (inner, _) in zip(self.nystroem, self.folds, strict=True):
                paths.append(fold.path(gamma, self.Y[inner]))
                done()
            return paths
        K = kernel_of(self.D, self.kernel, gamma)
        for inner, held in self.folds:
            paths.append(centred_kernel_path(K, self.Y, inner, held))
            done()
        return paths

    def best_ridge_loss(self, gamma, alphas) -> float:
        paths = self.paths(gamma)
        return float(ridge_losses(paths, self.held_targets, alphas).mean(0).min())


def search_gamma(evaluate, gamma: float) -> dict[float, float]:
    """``evaluate(γ)`` (a loss) over factors of 2 of ``gamma``: those of
    GAMMA_FACTORS, then further out past whichever end wins, within GAMMA_LIMITS;
    every γ tried and its loss, in increasing γ."""
    losses = {factor: evaluate(gamma * factor) for factor in GAMMA_FACTORS}
    while True:
        best = min(losses, key=losses.get)
        if best == min(losses) and best / 2 >= GAMMA_LIMITS[0]:
            losses[best / 2] = evaluate(gamma * best / 2)
        elif best == max(losses) and best * 2 <= GAMMA_LIMITS[1]:
            losses[best * 2] = evaluate(gamma * best * 2)
        else:
            break
    return {gamma * factor: loss for factor, loss in sorted(losses.items())}


def _subsample(n_samples: int, count: int, groups, random_state) -> np.ndarray:
    """A random subset of about ``count`` rows (of whole groups), sorted."""
    rng = np.random.default_rng(_seed(random_state))
    if groups is None:
        return np.sort(rng.choice(n_samples, count, replace=False))
    units = rng.permutation(np.unique(groups))
    sizes = np.array([np.sum(groups == unit) for unit in units])
    kept = units[: max(int(np.searchsorted(np.cumsum(sizes), count)), 2)]
    return np.flatnonzero(np.isin(groups, kept))


def _seed(random_state):
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(np.iinfo(np.int32).max)
    return random_state


class KernelPCovRCV(
    UncertaintyMixin, RegressorMixin, MultiOutputMixin, TransformerMixin, BaseEstimator
):
    r"""Kernel PCovR whose mixing α, ridge penalty and kernel width γ are chosen
    by cross-validation; dense, or on a Nyström approximation with ``n_active``.

    Shaped like scikit-learn's :class:`~sklearn.linear_model.RidgeCV`: give grids
    (or let the defaults search), a cross-validation splitter and ``groups``; the
    fitted model is :class:`KernelPCovR` (``center=True``) or
    :class:`SparseKernelPCovR` (``center=True``) with the chosen values, refit on
    all rows (``best_estimator_``), and this object transforms and predicts
    through it. As for those estimators, centre and scale Y first.

    The rule, per fold and averaged over the folds:

    - γ (with ``gammas=None``: factors of 2 of the median heuristic, 1 / the median
      distance between training rows, 1/16x to 16x, searched outwards from
      0.5x, 1x and 2x) minimises the best held-out loss of the kernel ridge
      regression over the penalties;
    - the penalty minimises the held-out loss of the kernel ridge regression,
      ``‖Y_v − Ŷ_v‖² / ‖Y_v‖²``, at that γ;
    - the mixing is the *largest* α whose held-out prediction loss through the
      latent space is within ``mixing_tolerance`` (relative) of the best α's.

    Parameters
    ----------
    mixings : array-like of float in [0, 1] or None, default=None
        The α grid; None: 0, 0.1, ..., 1.
    alphas : array-like of float > 0 or None, default=None
        The ridge penalties; None: 19 values from 1e-7 to 100, evenly spaced in
        logarithm (the centred training kernel has trace n: relative to an average
        eigenvalue of about 1).
    gammas : array-like of float > 0 or None, default=None
        The kernel widths to try; None: the search above. Ignored by the linear
        kernel.
    kernel : {"rbf", "laplacian", "linear"}, default="rbf"
        ``exp(-γ‖x − x'‖²)``, ``exp(-γ‖x − x'‖₁)`` or ``x·x'``.
    n_active : int or None, default=None
        None: the dense kernel (n x n matrices of the training rows). An int:
        Nyström Kernel PCovR on this many active points, picked by farthest point
        sampling of each fold's training rows (and of all rows for the refit);
        memory O(n m).
    n_components : int, default=2
        Dimensions of the latent space.
    cv : int, cross-validation generator or iterable, default=5
        An int k: k folds, shuffled with ``random_state`` (of whole groups with
        ``groups``); otherwise any splitter or iterable of (train, test) indices.
    mixing_tolerance : float >= 0, default=0.05
        See the rule above; 0 picks the best α.
    gamma_search_samples : int >= 2 or None, default=800
        The γ search runs on the folds of a random subset of this many training
        rows (whole groups; a Nyström fold then has at most as many active points
        as training rows); None: all rows.
    svd_solver : {"auto", "full", "arpack", "randomized"}, default="auto"
        Eigensolver of the refit.
    tol : float, default=1e-12
        Eigenvalues at or below ``tol`` are dropped in the refit.
    random_state : int, RandomState or None, default=None
        Shuffles the folds of an int ``cv`` and picks the γ search's subset.
    progress_bar : bool, default=False
        Draw a bar with the time left on stderr while fitting (on a terminal;
        the work counted in flops, the eigendecompositions by their run time;
        its total grows when the γ search goes past its first three widths).

    Attributes
    ----------
    best_mixing_, best_penalty_ : float
        The chosen α and ridge penalty.
    best_gamma_ : float or None
        The chosen width (None for the linear kernel).
    cv_results_ : dict of ndarray
        As :class:`PCovRCV`'s (``alphas``, ``ridge_loss``, ``ridge_loss_folds``,
        ``mixings``, ``loss_x``, ``loss_y``, ``loss_x_folds``, ``loss_y_folds``, at
        the chosen γ), plus ``gammas`` and ``gamma_loss`` (the best mean held-out
        ridge loss at each width tried; empty when γ was not searched).
    best_estimator_ : KernelPCovR or SparseKernelPCovR
        The refit. The dense one is fitted on the centred kernel
        (``kernel="precomputed"``): this object computes and centres the kernel of
        new rows (``centerer_``) and hands it on.
    centerer_ : KernelNormalizer or None
        The dense kernel's centring and scale (None with ``n_active``).
    X_fit_ : ndarray of shape (n_samples, n_features) or None
        The training rows (dense kernel only; the Nyström model keeps its active
        points). A pickled model stores them in float32, half the size (kernel
        values of new rows then move by about 1e-7 relative).
    n_splits_, n_components_, n_features_in_ : int
    pty_ : ndarray
        The refit's map from the latent space to Y.
    posterior_ : KernelPosterior or RidgePosterior
        The refit kernel ridge's posterior (:meth:`posterior_variance`): of the
        centred kernel (dense), or in the Nyström features.
    noise_std_, latent_noise_std_ : float or ndarray of shape (n_targets,)
        The noise levels s of the kernel ridge (from its exact leave-one-out
        errors) and of the prediction through the latent space (times the ratio
        of the folds' held-out losses): ``σ = s sqrt(1 + q)``.
    domain_threshold_ : float
        The 99th percentile of the left-out rows' q (:meth:`in_domain`).
    calibration_size_ : int
        The rows the noise level and the domain were fitted on (all).
    train_variance_ : ndarray of shape (n_samples,)
        q of every training row (its leverage).

    ``score`` is the R² of the prediction through the latent space
    (:class:`~sklearn.base.RegressorMixin`).

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.decomposition import KernelPCovRCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(150, 3))
    >>> y = np.sin(X[:, 0]) + X[:, 1] ** 2
    >>> model = KernelPCovRCV(random_state=0).fit(X, y - y.mean())
    >>> model.transform(X).shape
    (150, 2)
    >>> bool(model.best_gamma_ > 0), bool(0 <= model.best_mixing_ <= 1)
    (True, True)
    """

    _parameter_constraints: dict = {
        "mixings": ["array-like", None],
        "alphas": ["array-like", None],
        "gammas": ["array-like", None],
        "kernel": [StrOptions({"rbf", "laplacian", "linear"})],
        "n_active": [Interval(Integral, 2, None, closed="left"), None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "mixing_tolerance": [Interval(Real, 0, None, closed="left")],
        "gamma_search_samples": [Interval(Integral, 2, None, closed="left"), None],
        "svd_solver": [StrOptions({"auto", "full", "arpack", "randomized"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "progress_bar": ["boolean"],
    }

    def __init__(
        self,
        mixings=None,
        alphas=None,
        gammas=None,
        kernel: str = "rbf",
        n_active: int | None = None,
        n_components: int = 2,
        cv=5,
        mixing_tolerance: float = 0.05,
        gamma_search_samples: int | None = 800,
        svd_solver: str = "auto",
        tol: float = 1e-12,
        random_state=None,
        progress_bar: bool = False,
    ) -> None:
        self.mixings = mixings
        self.alphas = alphas
        self.gammas = gammas
        self.kernel = kernel
        self.n_active = n_active
        self.n_components = n_components
        self.cv = cv
        self.mixing_tolerance = mixing_tolerance
        self.gamma_search_samples = gamma_search_samples
        self.svd_solver = svd_solver
        self.tol = tol
        self.random_state = random_state
        self.progress_bar = progress_bar

    def _grids(self):
        from propmap.decomposition._cv import check_grid

        mixings = check_grid(self.mixings, DEFAULT_MIXINGS, "mixings", upper=1.0)
        alphas = check_grid(self.alphas, DEFAULT_ALPHAS, "alphas", positive=True)
        gammas = None
        if self.gammas is not None and self.kernel != "linear":
            gammas = check_grid(self.gammas, None, "gammas", positive=True)
        return mixings, alphas, gammas

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, Y, groups=None):
        """Choose γ, the penalty and the mixing on the folds, then refit on all
        rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        Y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets, centred and scaled.
        groups : array-like of shape (n_samples,) or None, default=None
            Group labels (e.g. the structure of each atom): no group has rows on
            both sides of a fold.

        Returns
        -------
        self : KernelPCovRCV
        """
        mixings, alphas, gammas = self._grids()
        X, Y = validate_data(
            self, X, Y, dtype=np.float64, multi_output=True, y_numeric=True,
            ensure_min_samples=2,
        )  # fmt: skip
        targets = Y.reshape(X.shape[0], -1)
        if self.n_active is not None and self.n_active > X.shape[0]:
            raise ValueError(
                f"n_active={self.n_active} is more than the {X.shape[0]} training "
                "samples."
            )
        folds = cv_folds(self.cv, X.shape[0], groups, self.random_state)
        self.n_splits_ = len(folds)
        dense = self.n_active is None
        work = _KernelWork(
            X.shape, len(folds), self.n_active, self._searched(X, gammas)
        )
        with work_bar("cross-validation", work.total(), self.progress_bar) as advance:
            D = distances(X, X, self.kernel) if dense else None
            # Nyström: active points by FPS on the Gram matrix when it is affordable
            gram = None
            if not dense and X.shape[0] <= GRAM_ROWS:
                gram = distances(X, X, "linear")
            advance(work.distances())
            gamma, losses = self._choose_gamma(
                X, targets, D, groups, gammas, alphas, gram, work, advance
            )
            self.best_gamma_ = gamma
            on_folds = _Folds(X, targets, folds, self.kernel, self.n_active, D, gram)
            self.best_penalty_, self.best_mixing_, results = choose_on_paths(
                on_folds.paths(gamma, lambda: advance(work.fold())),
                on_folds.held_targets, mixings, alphas, self.n_components,
                self.mixing_tolerance,
            )  # fmt: skip
            weights = [float(np.sum(t**2)) for t in on_folds.held_targets]
            del on_folds
            results["gammas"] = np.array(list(losses), dtype=float)
            results["gamma_loss"] = np.array(list(losses.values()), dtype=float)
            self.cv_results_ = results
            active = None
            if not dense:
                active = farthest_points(X, np.arange(X.shape[0]), self.n_active, gram)
            del gram
            K = self._refit(X, Y, D, active)
            self._fit_uncertainty(X, targets, K, weights, Y.ndim == 1)
            advance(work.refit())
        return self

    def _fit_uncertainty(self, X, targets, K, weights, targets_1d: bool) -> None:
        """The refit ridge's posterior (in the Nyström features, or of the
        centred kernel ``K``), the noise level from its exact leave-one-out
        errors, the latent prediction's from the folds' ratio of held-out
        losses, and the domain's threshold (the 99th percentile of the
        left-out rows' q)."""
        model, penalty = self.best_estimator_, self.best_penalty_
        if K is None:
            # the Nyström features are centred: a ridge without intercept
            every, features = model.transform_predict(X, features=True)
            self.posterior_, leverage = design_posterior(features, penalty)
            ridge = every.regressor
        else:
            self.posterior_, leverage = KernelPosterior.of(K, penalty)
            ridge = model.regressor_.predict(K)
        residuals = targets - np.asarray(ridge, np.float64).reshape(targets.shape)
        noise, variances = leave_one_out(residuals, leverage)
        ratio = latent_ratio(self.cv_results_, weights, penalty, self.best_mixing_)
        self.noise_std_ = float(noise[0]) if targets_1d else noise
        self.latent_noise_std_ = self.noise_std_ * ratio
        self.domain_threshold_ = float(np.quantile(variances, DOMAIN_QUANTILE))
        self.calibration_size_ = int(variances.size)
        self.train_variance_ = leverage

    def _searched(self, X, gammas) -> tuple[int, int]:
        """How many widths the search will try at least, and on how many rows."""
        if self.kernel == "linear" or (gammas is not None and gammas.size == 1):
            return 0, 0
        rows = X.shape[0]
        if self.gamma_search_samples is not None:
            rows = min(rows, self.gamma_search_samples)
        return (len(GAMMA_FACTORS) if gammas is None else gammas.size), rows

    def _choose_gamma(
        self, X, targets, D, groups, gammas, alphas, gram, work, advance
    ):  # fmt: skip
        """The width and the losses of the widths tried (none when given or
        linear); ``advance`` is told each width's work, and a new total when
        the search goes past the widths counted."""
        if self.kernel == "linear":
            return None, {}
        if gammas is not None and gammas.size == 1:
            return float(gammas[0]), {}
        rows = np.arange(X.shape[0])
        count = self.gamma_search_samples
        if count is not None and X.shape[0] > count:
            rows = _subsample(X.shape[0], count, groups, self.random_state)
        sub_groups = None if groups is None else np.asarray(groups)[rows]
        folds = [
            (rows[inner], rows[held])
            for inner, held in cv_folds(
                self.cv, rows.size, sub_groups, self.random_state
            )
        ]
        if D is not None:
            # only the rows the search uses: a kernel of those alone at each γ
            local = np.full(X.shape[0], -1)
            local[rows] = np.arange(rows.size)
            search = _Folds(
                None, targets[rows], [(local[i], local[h]) for i, h in folds],
                self.kernel, None, D[np.ix_(rows, rows)],
            )  # fmt: skip
        else:
            search = _Folds(X, targets, folds, self.kernel, self.n_active, None, gram)
        tried = []

        def evaluate(gamma):
            loss = search.best_ridge_loss(gamma, alphas)
            tried.append(gamma)
            grown = max(len(tried) - work.widths, 0)
            advance(work.width(), total=work.total(extra_widths=grown))
            return loss

        if gammas is not None:
            losses = {float(g): evaluate(g) for g in gammas}
        else:
            sample = slice(0, MEDIAN_ROWS)
            median = (
                D[sample, sample]
                if D is not None
                else distances(X[sample], X[sample], self.kernel)
            )
            losses = search_gamma(evaluate, median_gamma(median, self.kernel))
        return float(min(losses, key=losses.get)), losses

    def _refit(self, X, Y, D, active):
        """The final model on all rows; the centred training kernel (dense)
        or None (Nyström)."""
        from sklearn.kernel_ridge import KernelRidge

        from propmap.decomposition import KernelPCovR, SparseKernelPCovR
        from propmap.preprocessing import KernelNormalizer

        settings = {
            "mixing": self.best_mixing_,
            "n_components": self.n_components,
            "svd_solver": self.svd_solver,
            "tol": self.tol,
            "random_state": self.random_state,
        }
        if self.n_active is not None:
            self.centerer_ = self.X_fit_ = None
            self.best_estimator_ = SparseKernelPCovR(
                n_active=self.n_active, active=active, alpha=self.best_penalty_,
                kernel=self.kernel, gamma=self.best_gamma_, center=True, **settings,
            ).fit(X, Y)  # fmt: skip
        else:
            K = kernel_of(D, self.kernel, self.best_gamma_)
            del D
            self.centerer_ = KernelNormalizer().fit(K)
            K = self.centerer_.transform(K, copy=False)
            self.X_fit_ = X
            self.best_estimator_ = KernelPCovR(
                kernel="precomputed",
                regressor=KernelRidge(alpha=self.best_penalty_, kernel="precomputed"),
                **settings,
            ).fit(K, Y)
        self.n_components_ = self.best_estimator_.n_components_
        self.pty_ = self.best_estimator_.pty_
        return None if self.n_active is not None else K

    # -- the fitted model

    def _centred_kernel(self, X, diagonal: bool = False):
        """The dense model's centred kernel between X and the training rows
        (and, with ``diagonal``, the centred ``k(x, x)`` of X's rows)."""
        D = distances(X, self.X_fit_, self.kernel)
        K = kernel_of(D, self.kernel, self.best_gamma_)
        if not diagonal:
            return self.centerer_.transform(K, copy=False)
        own = (
            np.einsum("ij,ij->i", X, X)
            if self.kernel == "linear"
            else np.ones(X.shape[0])  # exp(-γ · 0)
        )
        own = self.centerer_.transform_diagonal(own, K)
        return self.centerer_.transform(K, copy=False), own

    def _variance_of_block(self, X) -> np.ndarray:
        if self.centerer_ is None:
            return self.posterior_.variance(self.best_estimator_.nystroem_features(X))
        K, own = self._centred_kernel(X, diagonal=True)
        return self.posterior_.variance(K, own)

    def transform_predict(self, X, return_std: bool = False) -> LatentPrediction:
        """The latent coordinates, the prediction through them and the full
        kernel ridge model's prediction of every row, from one kernel pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also the standard deviations of both predictions
            (``latent_noise_std_`` and ``noise_std_`` times ``sqrt(1 + q(x))``),
            q itself and the domain.

        Returns
        -------
        LatentPrediction
            ``latent`` (n_samples, n_components_), ``predicted`` and
            ``regressor`` (n_samples,) or (n_samples, n_targets); with
            ``return_std``, ``predicted_std``, ``regressor_std``, ``variance``
            (q) and ``in_domain``.
        """
        check_is_fitted(self, "best_estimator_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        model = self.best_estimator_
        parts = []
        for rows in gen_batches(X.shape[0], BLOCK_ROWS):
            q = None
            if self.centerer_ is None:
                every = model.transform_predict(X[rows], features=return_std)
                if return_std:  # the features from the same kernel rows
                    every, features = every
                    q = self.posterior_.variance(features)
                latent, regressor = every.latent, every.regressor
            else:
                if return_std:
                    K, own = self._centred_kernel(X[rows], diagonal=True)
                    q = self.posterior_.variance(K, own)
                else:
                    K = self._centred_kernel(X[rows])
                latent, regressor = model.transform(K), model.regressor_.predict(K)
            parts.append((latent, regressor, q))
        latent = np.concatenate([p[0] for p in parts])
        regressor = np.concatenate([p[1] for p in parts])
        predicted = latent @ self.pty_
        if not return_std:
            return LatentPrediction(latent, predicted, regressor)
        variance = np.concatenate([p[2] for p in parts])
        return self._with_std(latent, predicted, regressor, variance)

    def posterior_variance(self, X) -> np.ndarray:
        """q of every row: the refit kernel ridge's posterior variance of its
        prediction, in units of the noise variance (``φ(x)ᵀ(ΦᵀΦ + λI)⁻¹φ(x)``
        in the kernel's, or the Nyström, feature space).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        q : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "posterior_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.concatenate(
            [
                self._variance_of_block(X[rows])
                for rows in gen_batches(X.shape[0], BLOCK_ROWS)
            ]
        )

    def transform(self, X):
        """Latent coordinates of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        T : ndarray of shape (n_samples, n_components_)
        """
        return self.transform_predict(X).latent

    def predict(self, X, return_std: bool = False):
        """Prediction through the latent space, ``T P_TY``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also the standard deviation of each prediction,
            ``latent_noise_std_ sqrt(1 + q(x))``.

        Returns
        -------
        Y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Y_std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        every = self.transform_predict(X, return_std=return_std)
        if return_std:
            return every.predicted, every.predicted_std
        return every.predicted

    def __getstate__(self):
        # object.__getstate__ hands back the instance's own __dict__: a copy, so
        # that pickling leaves the fitted object as it was
        state = dict(super().__getstate__())
        if state.get("X_fit_") is not None:
            state["X_fit_"] = np.asarray(state["X_fit_"], dtype=np.float32)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        # two latent components of a few active points predict poorly
        tags.regressor_tags.poor_score = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
