r"""PCovR with its mixing and ridge penalty chosen by cross-validation.

How the search stays cheap, for any number of rows:

1. **A thin basis of the rows' span.** Ridge weights and PCovR projectors of X
   lie in the span of its rows, so X can be replaced by its coordinates
   ``Z = X V`` in an orthonormal basis V (d x r) of that span, without changing
   a single prediction or loss. With ``n <= d``, V comes from the n x n Gram
   matrix; otherwise from ``XᵀX`` by a pivoted Cholesky factorisation
   (:func:`propmap._linalg.row_space`, O(d r²)). Directions whose eigenvalue is
   below ``rank_tol`` times the largest are dropped. QM9's SOAP features (7,500
   columns) have r ≈ 2,700 at 8,000 molecules with ``rank_tol=1e-9`` (3,070
   with 1e-10, same choices and test R² to four digits, 1.5x the time; 2,090
   with 1e-8, test R² 0.0002 lower).
2. **Moments per fold.** With k folds, the held-out moments of every fold come
   from one pass over X, the coordinates made a block of rows at a time and
   dropped (no n x r array); each fold's training moments ``ZᵀZ``, ``ZᵀY`` are
   the total minus its held-out ones; the held-out rows enter through a root of
   their joint Gram matrix (at most r + p pseudo-rows). One r x r
   eigendecomposition per fold then gives every penalty and every mixing
   (:class:`propmap._linalg.PCovPath`).
3. **The refit** on all rows reuses the total moments: one more r x r
   eigendecomposition, and the projectors are mapped back to the features.

X is read in row blocks and may be float32 (the products are accumulated in
float64), so the data are held once, in the dtype given. With ``center=True``
the means are taken off in the moments, not in X, which keeps the zeros of
block-sparse features (per-atom SOAP) and lets steps 1 and 2 work on each
range of columns alone (:mod:`propmap.decomposition._cv_moments`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import Interval, RealNotInt, StrOptions, _fit_context
from propmap._dask import is_dask_array, root_of_gram
from propmap._linalg import PCovPath, resolve_solver, row_space
from propmap._validation import FLOAT_DTYPES, check_n_components
from propmap.decomposition._base import LatentPrediction
from propmap.decomposition._cv_moments import (
    BLOCK_ROWS,
    Span,
    coordinates,
    fold_moments,
    joint_moments,
    partition_labels,
    row_statistics,
)
from propmap.decomposition._pcovr import PCovR, _ridge_with_coefficients
from propmap.decomposition._uncertainty import (
    DOMAIN_QUANTILE,
    HeldOutRows,
    RidgePosterior,
    TrainingVariance,
    UncertaintyMixin,
    latent_ratio,
    noise_level,
    spread,
)
from propmap.utils._progress import work_bar

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_MIXINGS",
    "PCovRCV",
    "choose_on_paths",
    "cv_folds",
]

DEFAULT_MIXINGS = tuple(round(0.1 * k, 1) for k in range(11))
# for features scaled to ‖X‖² = n (StandardFlexibleScaler), relative to an
# average eigenvalue of XXᵀ of about 1
DEFAULT_ALPHAS = tuple(float(v) for v in np.logspace(-7, 2, 19))


class _Work:
    """The in-memory fit's work in units of about a flop, the r x r
    eigendecompositions weighted by their run time (10 r³), for the progress
    bar's time left; r is known once the span is."""

    EIGH = 10.0

    def __init__(self, n: int, d: int, n_folds: int) -> None:
        self.n, self.d, self.n_folds = n, d, n_folds
        # the passes over the rows, once their shape is known (column groups
        # make them cheaper): XᵀX's flops and the fold moments' (given r)
        self.gram_units = float(n * d * d)
        self.moment_units = None

    def gram(self) -> float:
        """``XᵀX``'s share of the span's work, told block by block."""
        return self.gram_units if self.n > self.d else 0.0

    def span(self, r: int) -> float:
        n, d = self.n, self.d
        if n <= d:
            return n * n * d + self.EIGH * n**3
        return self.gram() + 3.0 * d * r * r + self.EIGH * r**3

    def moments(self, r: int) -> float:
        if self.moment_units is not None:
            return self.moment_units
        return 2.0 * self.n * self.d * r

    def fold(self, r: int) -> float:
        return self.EIGH * r**3

    def total(self, r: int) -> float:
        # the folds, then the refit
        return self.span(r) + self.moments(r) + (self.n_folds + 1) * self.fold(r)


def check_grid(values, default, name: str, *, upper=None, positive=False):
    """A grid of hyperparameters as a flat float array (``default`` when None),
    refused with a message naming it when empty, not finite or out of range."""
    grid = np.asarray(default if values is None else values, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError(f"{name} must be a non-empty list of finite numbers.")
    if positive and np.any(grid <= 0):
        raise ValueError(f"{name} must be positive; got {grid.tolist()}.")
    if upper is not None and np.any((grid < 0) | (grid > upper)):
        raise ValueError(f"{name} must lie in [0, {upper:g}]; got {grid.tolist()}.")
    return grid


def cv_folds(
    cv, n_samples: int, groups=None, random_state=None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, held-out rows) of every fold of ``cv``: an int k gives k
    shuffled folds (of whole groups, with ``groups``); otherwise any splitter or
    iterable of index pairs (see :class:`PCovRCV`'s ``cv``)."""
    rows = np.arange(n_samples)
    if isinstance(cv, Integral):
        if groups is None:
            units = rows
        else:
            groups = np.asarray(groups)
            if groups.shape != (n_samples,):
                raise ValueError(
                    f"groups has shape {groups.shape}; expected ({n_samples},)."
                )
            units = np.unique(groups)
        if units.size < max(cv, 2):
            what = "samples" if groups is None else "groups"
            raise ValueError(
                f"cv={cv} folds need at least {cv} {what}; got {units.size}."
            )
        splitter = KFold(cv, shuffle=True, random_state=random_state)
        if groups is None:
            return list(splitter.split(rows))
        return [
            (
                np.flatnonzero(np.isin(groups, units[inner])),
                np.flatnonzero(np.isin(groups, units[held])),
            )
            for inner, held in splitter.split(units)
        ]
    splitter = check_cv(cv)
    folds = [
        (np.asarray(inner), np.asarray(held))
        for inner, held in splitter.split(rows, None, groups)
    ]
    if not folds:
        raise ValueError("cv gave no folds.")
    return folds


def ridge_losses(paths, held_targets, alphas) -> np.ndarray:
    """Held-out loss of the ridge regression of every fold (rows) and penalty."""
    return np.array(
        [
            [path.ridge_loss(alpha, targets) for alpha in alphas]
            for path, targets in zip(paths, held_targets, strict=True)
        ]
    )


def choose_on_paths(
    paths, held_targets, mixings, alphas, n_components: int, mixing_tolerance: float
) -> tuple[float, float, dict]:
    """The penalty of the smallest mean held-out ridge loss, then the largest
    mixing whose mean held-out prediction loss is within ``mixing_tolerance`` of
    the best mixing's, from the folds' :class:`~propmap._linalg.PCovPath`; and
    the curves behind them (``cv_results_``)."""
    ridge = ridge_losses(paths, held_targets, alphas)
    mean_ridge = ridge.mean(axis=0)
    penalty = float(alphas[int(np.argmin(mean_ridge))])
    sweep = np.array(
        [
            [path.losses(alpha, penalty, n_components, targets) for alpha in mixings]
            for path, targets in zip(paths, held_targets, strict=True)
        ]
    )  # (folds, mixings, 2)
    loss_x, loss_y = sweep[..., 0].mean(axis=0), sweep[..., 1].mean(axis=0)
    within = loss_y <= (1.0 + mixing_tolerance) * loss_y.min()
    results = {
        "alphas": np.asarray(alphas),
        "ridge_loss": mean_ridge,
        "ridge_loss_folds": ridge,
        "mixings": np.asarray(mixings),
        "loss_x": loss_x,
        "loss_y": loss_y,
        "loss_x_folds": sweep[..., 0],
        "loss_y_folds": sweep[..., 1],
    }
    return penalty, float(mixings[within].max()), results


class PCovRCV(UncertaintyMixin, PCovR):
    r"""PCovR whose mixing α and ridge penalty are chosen by cross-validation.

    Shaped like scikit-learn's :class:`~sklearn.linear_model.RidgeCV`: give grids
    of the mixing and of the ridge penalty, and a cross-validation splitter; the
    fitted model is PCovR with the chosen values, refit on all rows. The regressor
    inside is a ridge regression without intercept (as for
    :class:`PCovR`, centre and scale X and Y first, e.g. with
    :class:`~propmap.preprocessing.StandardFlexibleScaler`).

    The rule, per fold and averaged over the folds:

    - the penalty minimises the held-out loss of the ridge regression itself,
      ``‖Y_v − X_v W‖² / ‖Y_v‖²``;
    - the mixing is the *largest* α whose held-out prediction loss through the
      latent space is within ``mixing_tolerance`` (relative) of the best α's: as
      much of X's structure in the map as the prediction allows. With
      ``mixing_tolerance=0`` it is the best α.

    Every (α, λ) of a fold costs one evaluation on top of a single r x r
    eigendecomposition per fold, where r is the rank of X (see the module notes):
    the search costs about as much as one PCovR fit per fold.

    Parameters
    ----------
    mixings : array-like of float in [0, 1] or None, default=None
        The α grid; None: 0, 0.1, ..., 1.
    alphas : array-like of float > 0 or None, default=None
        The ridge penalties; None: 19 values from 1e-7 to 100, evenly spaced in
        logarithm (for X scaled to ``‖X‖² = n``).
    n_components : int, default=2
        Dimensions of the latent space.
    cv : int, cross-validation generator or iterable, default=5
        An int k: k folds, shuffled with ``random_state``; with ``groups`` the
        groups are what is shuffled and split (whole groups on either side).
        Otherwise any scikit-learn splitter (given ``groups`` too) or an iterable
        of (train, test) index arrays.
    mixing_tolerance : float >= 0, default=0.05
        See the rule above.
    rank_tol : float in [0, 1), default=1e-9
        Directions of X whose eigenvalue in ``XᵀX`` is below this share of the
        largest are dropped (see the module notes); the cost of the search
        grows with the cube of the directions kept.
    tol : float, default=1e-12
        Eigenvalues at or below ``tol`` are dropped in the PCovR solve.
    svd_solver : {"auto", "full", "arpack", "randomized"}, default="auto"
        The solver of the final PCovR eigenproblem (of size r); "auto" as PCA.
    random_state : int, RandomState or None, default=None
        Shuffles the folds of an int ``cv``; seeds the randomized solver.
    whiten : bool, default=False
        As :class:`PCovR`.
    progress_bar : bool, default=False
        Draw a bar with the time left on stderr while fitting in memory (on a
        terminal; the work is counted in flops, the eigendecompositions by
        their run time).
    center : bool, default=False
        Centre X and the targets inside the fit (by their means over the
        training rows, ``mean_`` and ``y_mean_``) instead of expecting them
        centred; ``transform``, ``predict``, ``inverse_transform``, ``score``
        and ``regressor_`` then take the means off (and put them back) as a
        pipeline's scaler would. X is never centred in memory, so its zeros
        survive: where every row is zero outside one of a few ranges of
        columns (per-atom SOAP: an atom's features lie in its element's
        columns), the products are made range by range, about 25x fewer flops
        for QM9's five elements. The fit is that of ``center=False`` on the
        centred data, to rounding.

    Attributes
    ----------
    best_mixing_ : float
        The chosen α.
    best_penalty_ : float
        The chosen ridge penalty.
    cv_results_ : dict of ndarray
        ``alphas`` and ``ridge_loss`` (mean held-out loss of the ridge at each
        penalty), ``ridge_loss_folds`` (n_folds x n_alphas); ``mixings``,
        ``loss_x`` and ``loss_y`` (mean held-out reconstruction and prediction
        losses at each α, at the chosen penalty), ``loss_x_folds`` and
        ``loss_y_folds`` (n_folds x n_mixings).
    n_splits_ : int
        Number of folds.
    rank_ : int
        r, the dimension of the basis of X's span the fit used.
    regressor_ : Ridge
        The ridge regression with the chosen penalty, on all rows (with the
        intercept of the means when ``center=True``).
    y_mean_ : float or ndarray of shape (n_targets,)
        The targets' means taken off in the fit (0 unless ``center=True``).
    posterior_ : RidgePosterior or GroupedPosterior
        The ridge's posterior variance q of new rows (:meth:`posterior_variance`):
        in the column groups' basis where X has them (per-atom features), else
        along the directions the data pin down.
    noise_std_, latent_noise_std_ : float or ndarray of shape (n_targets,)
        The noise levels s of the full ridge and of the prediction through the
        latent space, calibrated on up to 2,000 held-out rows of the folds:
        ``σ = s sqrt(1 + q)``.
    domain_threshold_ : float
        The 99th percentile of those held-out rows' q: the applicability
        domain's bound (:meth:`in_domain`).
    calibration_size_ : int
        How many held-out rows calibrated s and the domain.
    train_variance_ : ndarray of shape (n_samples,)
        q of every row given to ``fit`` (in memory; not set for a dask X),
        gathered from the cross-validation's own pass over the rows: exact
        (every direction of the span), and no second pass over them.
    pxt_, ptx_, pty_, pxy_, components_, singular_values_, explained_variance_, \
explained_variance_ratio_, mean_, n_components_, n_features_in_
        As :class:`PCovR`, for the refit.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.decomposition import PCovRCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))
    >>> X -= X.mean(axis=0)
    >>> y = X @ [1.0, -2.0, 0.0, 0.0, 0.5, 0.0] + 0.1 * rng.normal(size=200)
    >>> model = PCovRCV(n_components=2, random_state=0).fit(X, y - y.mean())
    >>> model.transform(X).shape
    (200, 2)
    >>> bool(model.best_mixing_ <= 1.0), bool(model.best_penalty_ > 0)
    (True, True)
    """

    _parameter_constraints: dict = {
        "mixings": ["array-like", None],
        "alphas": ["array-like", None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "mixing_tolerance": [Interval(Real, 0, None, closed="left")],
        "rank_tol": [Interval(RealNotInt, 0, 1, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "svd_solver": [StrOptions({"auto", "full", "arpack", "randomized"})],
        "random_state": ["random_state"],
        "whiten": ["boolean"],
        "progress_bar": ["boolean"],
        "center": ["boolean"],
    }
    _conditional_attributes: tuple[str, ...] = ()
    # read by the PCovR machinery; not parameters here
    space = "feature"
    iterated_power = "auto"
    regressor = None

    def __init__(
        self,
        mixings=None,
        alphas=None,
        n_components: int = 2,
        cv=5,
        mixing_tolerance: float = 0.05,
        rank_tol: float = 1e-9,
        tol: float = 1e-12,
        svd_solver: str = "auto",
        random_state=None,
        whiten: bool = False,
        progress_bar: bool = False,
        center: bool = False,
    ) -> None:
        self.mixings = mixings
        self.alphas = alphas
        self.n_components = n_components
        self.cv = cv
        self.mixing_tolerance = mixing_tolerance
        self.rank_tol = rank_tol
        self.tol = tol
        self.svd_solver = svd_solver
        self.random_state = random_state
        self.whiten = whiten
        self.progress_bar = progress_bar
        self.center = center

    # -- grids and folds

    def _grids(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            check_grid(self.mixings, DEFAULT_MIXINGS, "mixings", upper=1.0),
            check_grid(self.alphas, DEFAULT_ALPHAS, "alphas", positive=True),
        )

    def _folds(self, n_samples: int, groups) -> list[tuple[np.ndarray, np.ndarray]]:
        return cv_folds(self.cv, n_samples, groups, self.random_state)

    # -- fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, Y, groups=None):
        """Choose the mixing and the penalty on the folds, then refit on all rows.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Features, scaled, and centred unless ``center=True``; float32 stays
            float32 in memory.
        Y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets, scaled, and centred unless ``center=True``.
        groups : array-like of shape (n_samples,) or None, default=None
            Group labels (e.g. the structure of each atom): no group has rows on
            both sides of a fold.

        Returns
        -------
        self : PCovRCV
        """
        mixings, alphas = self._grids()
        # a dask X: dask's own diagnostics show its progress
        shown = self.progress_bar and not is_dask_array(X)
        with work_bar("cross-validation", 1.0, shown) as advance:
            if is_dask_array(X):
                moments = self._moments_dask(X, Y, groups)
                span, totals, held_moments, held_norms, column_sums, checks = moments
                dtype, shape, targets_1d = X.dtype, X.shape, np.ndim(Y) == 1
                spectrum, rank = None, span.shape[1]
                paths, held_targets = self._paths_from_moments(
                    totals, held_moments, held_norms, rank, checks=checks.rows
                )
                refit = 0.0
            else:
                X, Y = validate_data(
                    self, X, Y, dtype=list(FLOAT_DTYPES), multi_output=True,
                    y_numeric=True, ensure_min_samples=2,
                )  # fmt: skip
                targets_1d = Y.ndim == 1
                Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
                self.y_mean_ = Y.mean(axis=0) if self.center else np.zeros(Y.shape[1])
                if self.center:
                    Y = Y - self.y_mean_
                dtype, shape = X.dtype, X.shape
                folds = self._folds(X.shape[0], groups)
                self.n_splits_ = len(folds)
                work = _Work(*X.shape, len(folds))
                advance(0.0, total=work.total(min(X.shape)))
                fitted = self._paths_in_memory(X, Y, folds, work, advance, alphas)
                span, spectrum, rank, totals, paths, held_targets = fitted[:6]
                column_sums, checks, training = fitted[6:]
                refit = work.fold(rank)
            self.rank_ = rank
            self._choose(paths, held_targets, mixings, alphas)
            if not is_dask_array(X):
                self.train_variance_ = training.variance(self.best_penalty_)
            self._calibrate(paths, held_targets, checks)
            self._refit(
                totals, rank, span, spectrum, column_sums, shape, dtype, targets_1d,
                None if is_dask_array(X) else training,
            )  # fmt: skip
            advance(refit)
        return self

    def _paths_in_memory(self, X, Y, folds, work, advance, alphas):
        """The basis of X's span, the total moments and the folds' paths, in
        one or two passes over the rows of X (in memory), besides the pass that
        sums its columns (and finds its column groups); and the rows' posterior
        variances at every penalty of ``alphas``, from the same passes."""
        n = X.shape[0]
        column_sums, squared, groups = row_statistics(X, scan_groups=n > X.shape[1])
        mean = column_sums / n if self.center else None
        if groups is not None:
            work.gram_units = groups.gram_units()
        span = Span(X, self.rank_tol, advance, mean, groups)
        rank = span.rank
        if rank == 0:
            raise ValueError("X is zero (to rounding): there is nothing to fit.")
        if span.pieces:
            work.moment_units = span.moment_units(n)
        # the span's work not told block by block (XᵀX's is), and the true total
        advance(work.span(rank) - work.gram(), total=work.total(rank))

        def fold_done():
            advance(work.fold(rank))

        labels = partition_labels(folds, n)
        checks = HeldOutRows.pick(folds, self.random_state)
        training = TrainingVariance(
            span.gram_values,
            np.zeros(rank) if mean is None else mean @ span.basis,
            n if span.centred_apart else 0,
            n,
            alphas,
            span.group_blocks(),
        )
        if span.kernel is None and labels is not None:
            # k-fold: each fold's moments from one pass over X, no n x r Z
            held_moments, held_norms = fold_moments(
                X, Y, span, labels, len(folds), squared, mean, advance, training
            )
            totals = np.sum(held_moments, axis=0)
            checks.read(X, Y, mean, span.basis)
            paths, held_targets = self._paths_from_moments(
                totals, held_moments, held_norms, rank, fold_done, checks.rows
            )
        else:
            advance(work.moments(rank))
            if mean is not None:  # each row's ‖x − μ‖²
                along = np.concatenate(
                    [X[rows] @ mean for rows in gen_batches(n, BLOCK_ROWS)]
                )
                squared = squared - 2.0 * along + mean @ mean
            totals, paths, held_targets = self._paths_from_rows(
                X, Y, span, folds, squared, mean, fold_done, checks, training
            )
        return (
            span.basis, span.values, rank, totals, paths, held_targets, column_sums,
            checks, training,
        )  # fmt: skip

    def _paths_from_moments(
        self, totals, held_moments, held_norms, rank: int, done=lambda: None,
        checks=None,
    ):  # fmt: skip
        """The folds' paths when their held-out sets partition the rows: each
        fold's training moments are the total less its held-out ones. The list
        of held-out moments is emptied as their paths are made (each is as big
        as a path). ``checks``: per fold, coordinates of held-out rows the path
        keeps (for the calibration of the uncertainty)."""
        paths, held_targets = [], []
        checks = [None] * len(held_norms) if checks is None else checks
        for norm, rows in zip(held_norms, checks, strict=True):
            moments = held_moments.pop(0)
            path, targets = self._fold_path(totals - moments, moments, rank, norm, rows)
            del moments
            paths.append(path)
            held_targets.append(targets)
            done()
        return paths, held_targets

    def _paths_from_rows(
        self, X, Y, span, folds, squared, mean=None, done=lambda: None, checks=None,
        training=None,
    ):  # fmt: skip
        """The total moments and the folds' paths from the coordinates of the
        rows (centred by ``mean``): any folds; with n <= d a fold of fewer
        training rows than dimensions works on its n x n kernel. ``training``
        (a :class:`TrainingVariance`) is given the rows' coordinates."""
        rank = span.rank
        Z = span.coordinates
        if Z is None:
            Z = coordinates(X, span.basis, mean)
        if training is not None:  # it takes them uncentred
            for block in gen_batches(Z.shape[0], BLOCK_ROWS):
                training.add(block, np.arange(rank), Z[block] + training.centre)
        everything = np.arange(X.shape[0])
        totals = joint_moments(Z, Y, everything)
        if checks is not None:
            checks.read_coordinates(Z, Y, squared)
        paths, held_targets = [], []
        for fold, (inner, held) in enumerate(folds):
            if span.kernel is not None and inner.size < rank:
                kernel = span.kernel
                training = kernel[np.ix_(inner, inner)]
                cross = kernel[np.ix_(held, inner)]
                positions = None if checks is None else checks.positions[fold]
                paths.append(
                    PCovPath.from_kernel(
                        training, Y[inner], cross, squared[held], positions
                    )
                )
                held_targets.append(Y[held])
                done()
                continue
            moments = joint_moments(Z, Y, held)
            partition = inner.size + held.size == X.shape[0] and np.array_equal(
                np.union1d(inner, held), everything
            )
            training = totals - moments if partition else joint_moments(Z, Y, inner)
            path, targets = self._fold_path(
                training, moments, rank, float(squared[held].sum()),
                None if checks is None else checks.rows[fold],
            )  # fmt: skip
            paths.append(path)
            held_targets.append(targets)
            done()
        return totals, paths, held_targets

    @staticmethod
    def _fold_path(training, held, rank: int, held_norm: float, rows=None):
        """The path of one fold from its joint moments ``[Z Y]ᵀ[Z Y]``: the held-out
        rows enter through a root of theirs (at most r + p pseudo-rows); ``rows``
        (coordinates of some of them) are kept as the path's ``row_cross``."""
        root = root_of_gram(held)
        path = PCovPath.from_moments(
            training[:rank, :rank], training[:rank, rank:], root[:, :rank],
            held_norm, rows,
        )  # fmt: skip
        return path, root[:, rank:]

    def _moments_dask(self, X, Y, groups):
        """The folds' moments of a dask X in two passes: ``[X Y 1]ᵀ[X Y 1]`` of
        every row (d x d per row block), then, in the coordinates Z of the basis
        of its span, each fold's ``[Z Y q 1]ᵀ[Z Y q 1]`` (q: each row's ‖x‖², so
        that the held-out norms include what lies outside the span). Per row
        block the second pass makes one (r + p + 2)² matrix per fold, not a
        d x d one: n_folds d x d matrices per block of the one-pass design held
        11 GB per worker for 10,000 QM9 molecules."""
        from propmap._dask import (
            DaskStatistics,
            check_dask_features,
            one_block,
            rows_like,
        )

        X = check_dask_features(X)
        if Y is None:
            raise ValueError("PCovRCV requires y, but the target y is None.")
        Y, _ = rows_like(Y, X)
        self.n_features_in_ = X.shape[1]
        folds = self._folds(X.shape[0], groups)
        labels = partition_labels(folds, X.shape[0])
        if labels is None:
            raise ValueError(
                "a dask X needs folds whose held-out sets split every row once "
                "(k-fold), for the moments of one pass."
            )
        self.n_splits_ = len(folds)
        d = X.shape[1]
        total = DaskStatistics.of(X, Y).joint
        p = Y.shape[1]
        gram = total[:d, :d]
        self.y_mean_ = np.zeros(p)
        if self.center:
            # centred lazily: the statistics of X as given, then X − μ per block
            n = X.shape[0]
            mean = total[:d, -1] / n
            self.y_mean_ = total[d : d + p, -1] / n
            gram = gram - n * np.outer(mean, mean)
            X, Y = X - mean.astype(X.dtype), Y - self.y_mean_
        span = row_space(gram, self.rank_tol)
        rank = span.shape[1]
        if rank == 0:
            raise ValueError("X is zero (to rounding): there is nothing to fit.")
        import dask.array as da

        # the basis as one block, on the workers once (a closure would copy it
        # into every task, a graph into every graph)
        basis = one_block(span.astype(X.dtype, copy=False))
        rows = X.rechunk({1: -1})
        norms = (rows.astype(np.float64) ** 2).sum(axis=1, keepdims=True)
        Z = da.concatenate([(rows @ basis).astype(np.float64), norms], axis=1)
        Z = Z.rechunk({1: -1})
        statistics = DaskStatistics.grouped(Z, Y, labels, len(folds))

        def moments(joint):
            # [Z Y] of [Z q Y 1] (Z's columns, then Y's, without q and 1)
            keep = np.r_[0:rank, rank + 1 : rank + 1 + p]
            return joint[np.ix_(keep, keep)]

        held = [moments(s.joint) for s in statistics]
        norms = [float(s.joint[rank, -1]) for s in statistics]
        # the total as the in-memory path has it: the sum of the folds'
        projected = np.sum(held, axis=0)
        checks = HeldOutRows.pick(folds, self.random_state)
        checks.read(X, Y, None, span)
        return span, projected, held, norms, total[:d, -1], checks

    def _calibrate(self, paths, held_targets, checks) -> None:
        """The noise levels of the full ridge and of the prediction through the
        latent space, and the domain's threshold, from the held-out rows of
        ``checks`` at the chosen penalty (see :mod:`._uncertainty`)."""
        penalty = self.best_penalty_
        errors, variances = [], []
        for path, targets, norms in zip(
            paths, checks.targets, checks.norms, strict=True
        ):
            if targets.shape[0] == 0:
                continue
            errors.append(targets - path.row_ridge(penalty))
            leverage = path.row_leverage(penalty)
            variances.append(np.clip(norms - leverage, 0.0, None) / penalty)
        errors, variances = np.concatenate(errors), np.concatenate(variances)
        self.noise_std_ = noise_level(errors, variances)
        # the map's prediction errs more than the ridge's: its noise level is
        # the ridge's times the ratio of their held-out errors
        weights = [float(np.sum(t**2)) for t in held_targets]
        self.latent_noise_std_ = self.noise_std_ * latent_ratio(
            self.cv_results_, weights, penalty, self.best_mixing_
        )
        self.domain_threshold_ = float(np.quantile(variances, DOMAIN_QUANTILE))
        self.calibration_size_ = int(variances.size)

    def _choose(self, paths, held_targets, mixings, alphas) -> None:
        """The penalty, then the mixing, by the rule of the class docstring."""
        self.best_penalty_, self.best_mixing_, self.cv_results_ = choose_on_paths(
            paths, held_targets, mixings, alphas, self.n_components,
            self.mixing_tolerance,
        )  # fmt: skip

    def _refit(
        self, totals, rank, span, spectrum, column_sums, shape, dtype, targets_1d,
        training=None,
    ):  # fmt: skip
        """PCovR with the chosen α and penalty on all rows, from their moments;
        the posterior in the column groups' basis where ``training`` (a
        :class:`TrainingVariance`) has them."""
        n_samples, n_features = shape
        self.n_samples_in_ = n_samples
        self.n_features_in_ = n_features
        self.space_ = "feature"
        self.fit_svd_solver_ = resolve_solver(
            self.svd_solver, (n_samples, rank), self.n_components
        )
        self.n_components_ = check_n_components(
            self.n_components, n_samples, rank, self.fit_svd_solver_
        )
        if self.center:
            self.mean_ = column_sums / n_samples
        else:
            self._record_mean(column_sums / n_samples)
        if spectrum is not None:  # the coordinates are the Gram's eigenbasis
            values, vectors = spectrum, np.eye(rank)
        else:
            values, vectors = np.linalg.eigh(totals[:rank, :rank])
            values, vectors = values[::-1], vectors[:, ::-1]
        projected = vectors.T @ totals[:rank, rank:]
        denominators = values + self.best_penalty_
        weights = vectors @ (projected / denominators[:, None])
        coefficients = span @ weights
        self.regressor_ = _ridge_with_coefficients(
            Ridge(alpha=self.best_penalty_, fit_intercept=self.center),
            coefficients,
            intercept=(
                self.y_mean_ - self.mean_ @ coefficients if self.center else None
            ),
        )
        self._fit_feature_space(
            values, vectors, projected,
            projected * (values / denominators)[:, None],
            mixing=self.best_mixing_, span=span,
        )  # fmt: skip
        self._finish_fit(dtype, targets_1d)
        # the ridge's posterior, for the uncertainty of new rows
        grouped = (
            None
            if training is None
            else training.posterior(self.best_penalty_, n_features)
        )
        self.posterior_ = grouped or RidgePosterior.from_eigenpairs(
            span, None if spectrum is not None else vectors, values,
            self.best_penalty_, self.mean_ if self.center else None,
        )  # fmt: skip
        if targets_1d:
            self.y_mean_ = float(self.y_mean_[0])
            self.noise_std_ = float(self.noise_std_[0])
            self.latent_noise_std_ = float(self.latent_noise_std_[0])

    # -- with center=True, the fitted means are taken off X (and put back on
    # the targets) wherever the projectors meet data

    def _latent(self, X):
        latent = super()._latent(X)
        if self.center:
            latent -= (self.mean_ @ self.pxt_).astype(latent.dtype)
        return latent

    def predict(self, X=None, T=None, return_std: bool = False):
        """Predict targets from features (``X P_XT P_TY``) or from latent
        coordinates (``T P_TY``), with ``center=True`` from ``X − mean_`` and
        plus ``y_mean_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
            Features.
        T : array-like of shape (n_samples, n_components_), default=None
            Latent coordinates as returned by :meth:`transform`; used when X is None.
        return_std : bool, default=False
            Also return the standard deviation of each prediction (needs X):
            ``latent_noise_std_ · sqrt(1 + q(x))``, with q the ridge's posterior
            variance (see :meth:`posterior_variance`).

        Returns
        -------
        Y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Y_std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        if return_std:
            if X is None:
                raise ValueError("return_std=True needs X (the features).")
            check_is_fitted(self, "posterior_")
            X = validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES))
            predicted = self.predict(X)
            variance = self.posterior_.variance(X)
            return predicted, spread(
                variance, self.latent_noise_std_, predicted.ndim == 2
            )
        predicted = super().predict(X, T)
        if not self.center or (X is not None and is_dask_array(X)):
            # (a dask X comes back here block by block)
            return predicted
        if X is not None:
            predicted = predicted - (self.mean_ @ self.pxy_).astype(predicted.dtype)
        return predicted + np.asarray(self.y_mean_, dtype=predicted.dtype)

    def posterior_variance(self, X) -> np.ndarray:
        """``q(x) = (x − μ)ᵀ (X̃ᵀX̃ + λI)⁻¹ (x − μ)`` of every row, with the chosen
        penalty λ: the ridge's posterior variance of the prediction, in units
        of the noise variance (the inverse of the local prediction rigidity).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        q : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "posterior_")
        X = validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES))
        return self.posterior_.variance(X)

    def inverse_transform(self, X):
        """Map latent coordinates back to the feature space, ``X̂ = T P_TX``
        (plus ``mean_`` with ``center=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Latent coordinates as returned by :meth:`transform`.

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features_in_)
        """
        reconstructed = super().inverse_transform(X)
        if not self.center or is_dask_array(X):
            return reconstructed
        return reconstructed + self.mean_.astype(reconstructed.dtype)

    def score(self, X, y, T=None):
        """As :meth:`PCovR.score`; with ``center=True``, of the centred X and
        targets (the losses the cross-validation compares).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        T : array-like of shape (n_samples, n_components_), default=None
            Latent coordinates of X, if already computed.

        Returns
        -------
        score : float
        """
        if not self.center:
            return super().score(X, y, T)
        check_is_fitted(self, ["pxy_", "pty_"])
        X = validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES))
        latent = self.transform(X) if T is None else T
        centred_y = np.asarray(y, dtype=np.float64) - self.y_mean_
        return super().score(X - self.mean_.astype(X.dtype), centred_y, T=latent)

    def transform_predict(self, X, return_std: bool = False) -> LatentPrediction:
        """The latent coordinates, the prediction through them and the full ridge
        model's prediction of every row, a block of rows at a time (a float32 X
        is never copied to float64 whole).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also the standard deviations of both predictions
            (``latent_noise_std_`` and ``noise_std_`` times ``sqrt(1 + q(x))``)
            and q itself.

        Returns
        -------
        LatentPrediction
            ``latent`` (n_samples, n_components_); ``predicted`` and
            ``regressor`` (n_samples,) or (n_samples, n_targets); with
            ``return_std``, ``predicted_std``, ``regressor_std``,
            ``variance`` (q) and ``in_domain``.
        """
        check_is_fitted(self, "regressor_")
        X = validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES))
        latent = self.transform(X)
        regressor = np.concatenate(
            [
                np.asarray(self.regressor_.predict(X[rows]), dtype=np.float64)
                for rows in gen_batches(X.shape[0], BLOCK_ROWS)
            ]
        )
        predicted = np.asarray(latent, np.float64) @ self.pty_ + self.y_mean_
        if not return_std:
            return LatentPrediction(latent, predicted, regressor)
        variance = self.posterior_.variance(X)
        return self._with_std(latent, predicted, regressor, variance)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
