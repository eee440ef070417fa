"""Choosing the map's hyperparameters by cross-validation on the training set.

The kernel (or the Nyström features), its eigendecomposition and the targets'
coordinates are computed once per fold and per kernel width; every ridge penalty
and every mixing α is then a cheap evaluation of :class:`propmap._linalg.PCovPath`
instead of a refit.

The rules, as the summary states them:

- the ridge penalty (and, for rbf/laplacian kernels, γ from a grid around the
  median heuristic) minimises the mean held-out loss of the ridge regression
  itself over the folds;
- the mixing α is the largest one on the grid whose mean held-out prediction loss
  (through the latent space) is within ``LOSS_TOLERANCE`` (5 %) of the best
  mixing's: as much structure in the map as prediction allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from propmap._linalg import PCovPath
from propmap.workflows._options import Kernel

__all__ = [
    "LOSS_TOLERANCE",
    "MIXING_GRID",
    "PENALTY_GRID",
    "NystroemDistances",
    "Tuning",
    "active_points",
    "full_kernel",
    "kernel_path",
    "median_gamma",
    "tune",
]

MIXING_GRID = tuple(round(0.1 * k, 1) for k in range(11))
# the training Gram matrix has trace n_train (StandardFlexibleScaler), so the
# penalties are relative to an average eigenvalue of about 1
PENALTY_GRID = tuple(float(v) for v in np.logspace(-7, 2, 19))
# γ is searched over factors of the median heuristic: these three first, then on
# by factors of 2 past whichever end wins, up to the limits
GAMMA_FACTORS = (0.5, 1.0, 2.0)
GAMMA_LIMITS = (1.0 / 16.0, 16.0)
LOSS_TOLERANCE = 0.05
MIXING_RULE = (
    "largest α whose mean held-out prediction loss is within 5 % of the best α's"
)


def median_gamma(distances: np.ndarray) -> float:
    """1 / the median off-diagonal entry of a (squared) distance matrix: kernel
    values then spread over (0, 1) instead of collapsing to a constant."""
    upper = distances[np.triu_indices(distances.shape[0], k=1)]
    median = float(np.median(upper)) if upper.size else 0.0
    return 1.0 / median if median > 0 else 1.0


@dataclass
class Distances:
    """What every kernel of the run is computed from, once: the linear Gram
    matrix of all rows (train and test) and, for the rbf/laplacian kernels, the
    (squared) distances."""

    gram: np.ndarray
    distances: np.ndarray | None = None

    @classmethod
    def of(cls, X: np.ndarray, kernel: Kernel) -> Distances:
        gram = X @ X.T
        if kernel == Kernel.rbf:
            norms = np.diagonal(gram).copy()
            squared = norms[:, None] + norms[None, :] - 2.0 * gram
            np.maximum(squared, 0.0, out=squared)
            return cls(gram, squared)
        if kernel == Kernel.laplacian:
            from sklearn.metrics.pairwise import manhattan_distances

            return cls(gram, manhattan_distances(X))
        return cls(gram)


def full_kernel(distances: Distances, kernel: Kernel, gamma: float | None):
    """The uncentred kernel between all rows."""
    if kernel == Kernel.linear:
        return distances.gram
    return np.exp(-gamma * distances.distances)  # rbf and laplacian


def kernel_path(kernel_matrix, targets, inner, held, center: bool) -> PCovPath:
    """The path of Kernel PCovR (or sample-space PCovR, for the linear Gram matrix
    without centring) fitted on rows ``inner`` and evaluated on ``held``, centred
    and scaled on ``inner`` as :class:`~propmap.decomposition.KernelPCovR` does."""
    from propmap.preprocessing import KernelNormalizer

    training = kernel_matrix[np.ix_(inner, inner)]
    cross = kernel_matrix[np.ix_(held, inner)]
    diagonal = kernel_matrix[held, held].copy()
    if center:
        normalizer = KernelNormalizer().fit(training)
        diagonal += normalizer.K_fit_all_ - 2.0 * cross.mean(axis=1)
        diagonal /= normalizer.scale_
        training = normalizer.transform(training, copy=False)
        cross = normalizer.transform(cross, copy=False)
    return PCovPath.from_kernel(training, targets[inner], cross, diagonal)


def squared_distances(rows, columns) -> np.ndarray:
    """Squared Euclidean distances between the rows of two matrices."""
    from sklearn.metrics.pairwise import euclidean_distances

    return euclidean_distances(rows, columns, squared=True)


@dataclass
class NystroemDistances:
    """Squared distances to the active points, for Nyström features at any γ."""

    training: np.ndarray  # (n_training, m)
    others: np.ndarray  # (n_others, m)
    active: np.ndarray  # (m, m)

    @classmethod
    def of(cls, training, others, active) -> NystroemDistances:
        """From the features of the training rows, the other rows and the
        active points."""
        return cls(
            squared_distances(training, active),
            squared_distances(others, active),
            squared_distances(active, active),
        )

    @classmethod
    def within(cls, distances: Distances, training, others, active):
        """Rows (indices) of distances computed already."""
        squared = distances.distances
        return cls(
            squared[np.ix_(training, active)],
            squared[np.ix_(others, active)],
            squared[np.ix_(active, active)],
        )

    def features(self, gamma: float) -> tuple[np.ndarray, np.ndarray]:
        """Centred, scaled rbf Nyström features of the training rows and of the
        others, as :class:`~propmap.decomposition.SparseKernelPCovR`
        (``center=True``) computes them."""
        active_kernel = np.exp(-gamma * self.active)
        values, vectors = np.linalg.eigh((active_kernel + active_kernel.T) / 2)
        cutoff = max(values[-1], 0.0) * active_kernel.shape[0] * np.finfo(float).eps
        kept = values > cutoff
        whitening = vectors[:, kept] / np.sqrt(values[kept])
        features = np.exp(-gamma * self.training) @ whitening
        mean = features.mean(axis=0)
        features -= mean
        scale = np.sqrt(np.sum(features**2) / features.shape[0])
        features /= scale
        other = (np.exp(-gamma * self.others) @ whitening - mean) / scale
        return features, other


def active_points(X, rows, count: int, distances: Distances | None) -> np.ndarray:
    """The ``count`` of ``rows`` that SparseKernelPCovR's default farthest point
    sampling picks, as indices into X: from the linear Gram matrix when it
    exists (O(n m)), else from the features (O(n m d))."""
    from propmap.sample_selection import FPS, KernelFPS

    if distances is not None:
        picked = KernelFPS(n_to_select=count).fit(distances.gram[np.ix_(rows, rows)])
    else:
        picked = FPS(n_to_select=count).fit(X[rows])
    return rows[picked.selected_idx_]


@dataclass
class Tuning:
    """The chosen hyperparameters and the cross-validated curves behind them."""

    penalty: float
    gamma: float | None
    mixing: float
    mixings: np.ndarray
    loss_x: np.ndarray
    loss_y: np.ndarray
    # the best mean held-out loss of the full model at each γ tried
    gamma_losses: dict = field(default_factory=dict)


class _FoldPaths:
    """The paths of every fold at a given γ: dense kernels from the distances of
    all rows, Nyström features from each fold's distances to its active points
    (picked once: they do not depend on γ)."""

    def __init__(self, X, Y, folds, kernel, distances, n_active):
        self.Y, self.folds, self.kernel, self.distances = Y, folds, kernel, distances
        self.held_targets = [Y[held] for _, held in folds]
        self.nystroem = None
        if n_active is None and distances is not None:
            # only the rows the folds use: the kernel at each γ is computed on
            # them alone (800 of 2,000 rows for the γ search)
            rows = np.unique(np.concatenate([np.concatenate(f) for f in folds]))
            position = np.full(len(Y), -1)
            position[rows] = np.arange(rows.size)
            self.local_Y = Y[rows]
            self.local_folds = [(position[i], position[h]) for i, h in folds]
            self.local = Distances(
                distances.gram[np.ix_(rows, rows)],
                None
                if distances.distances is None
                else distances.distances[np.ix_(rows, rows)],
            )
        if n_active is not None:
            self.nystroem = []
            for inner, held in folds:
                active = active_points(X, inner, n_active, distances)
                self.nystroem.append(
                    NystroemDistances.of(X[inner], X[held], X[active])
                    if distances is None
                    else NystroemDistances.within(distances, inner, held, active)
                )

    def at(self, gamma) -> list[PCovPath]:
        if self.nystroem is not None:
            paths = []
            for fold, (inner, _) in zip(self.nystroem, self.folds, strict=True):
                features, validation = fold.features(gamma)
                paths.append(
                    PCovPath.from_features(features, self.Y[inner], validation)
                )
            return paths
        matrix = full_kernel(self.local, self.kernel, gamma)
        center = self.kernel != Kernel.linear
        return [
            kernel_path(matrix, self.local_Y, inner, held, center)
            for inner, held in self.local_folds
        ]

    def best_penalty(self, paths, penalties) -> tuple[float, float]:
        return _best_penalty(paths, self.held_targets, penalties)


def _best_penalty(paths, held_targets, penalties) -> tuple[float, float]:
    """(smallest mean held-out ridge loss, its penalty)."""
    losses = [
        np.mean(
            [
                path.ridge_loss(lam, targets)
                for path, targets in zip(paths, held_targets, strict=True)
            ]
        )
        for lam in penalties
    ]
    k = int(np.argmin(losses))
    return float(losses[k]), penalties[k]


def _search_gamma(evaluate, gamma: float) -> tuple[float, dict]:
    """γ minimising ``evaluate(γ)`` over factors of 2 around ``gamma``: the three
    of GAMMA_FACTORS, then further out past whichever end wins, within
    GAMMA_LIMITS; returns it and every loss seen."""
    losses = {factor: evaluate(gamma * factor) for factor in GAMMA_FACTORS}
    while True:
        best = min(losses, key=losses.get)
        if best == min(losses) and best / 2 >= GAMMA_LIMITS[0]:
            losses[best / 2] = evaluate(gamma * best / 2)
        elif best == max(losses) and best * 2 <= GAMMA_LIMITS[1]:
            losses[best * 2] = evaluate(gamma * best * 2)
        else:
            break
    best = min(losses, key=losses.get)
    return gamma * best, {gamma * f: loss for f, loss in sorted(losses.items())}


def tune(
    X,
    Y,
    folds,
    *,
    kernel: Kernel,
    distances: Distances | None,
    n_components: int,
    gamma: float | None,
    gamma_grid: bool,
    penalty: float | None,
    mixing: float | None,
    n_active: int | None,
    search_folds=None,
) -> Tuning:
    """Cross-validate γ (if ``gamma_grid``) and the penalty, then sweep the mixing,
    on ``folds`` (pairs of row indices into X and Y).

    γ is searched with ``search_folds`` (default: ``folds``), e.g. the folds of a
    subsample of the training rows: one eigendecomposition per fold and γ is the
    cost of the search, and the best width hardly depends on the number of rows.
    The penalty is then chosen on ``folds`` at that γ.
    """
    penalties = PENALTY_GRID if penalty is None else (penalty,)
    gamma_losses: dict = {}
    if gamma_grid:
        search = _FoldPaths(X, Y, search_folds or folds, kernel, distances, n_active)
        gamma, gamma_losses = _search_gamma(
            lambda g: search.best_penalty(search.at(g), penalties)[0], gamma
        )
    if gamma_grid and search_folds is None:
        fold_paths = search
    else:
        fold_paths = _FoldPaths(X, Y, folds, kernel, distances, n_active)
    paths = fold_paths.at(gamma)
    _, penalty = fold_paths.best_penalty(paths, penalties)
    # a given mixing is evaluated alone: no sweep
    grid = MIXING_GRID if mixing is None else (float(mixing),)
    sweep = np.array(
        [
            np.mean(
                [
                    path.losses(alpha, penalty, n_components, targets)
                    for path, targets in zip(
                        paths, fold_paths.held_targets, strict=True
                    )
                ],
                axis=0,
            )
            for alpha in grid
        ]
    )
    mixings, loss_x, loss_y = np.array(grid), sweep[:, 0], sweep[:, 1]
    if mixing is None:
        within = loss_y <= (1.0 + LOSS_TOLERANCE) * loss_y.min()
        mixing = float(mixings[within].max())
    return Tuning(penalty, gamma, float(mixing), mixings, loss_x, loss_y, gamma_losses)
