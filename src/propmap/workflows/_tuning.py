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
    "full_kernel",
    "kernel_path",
    "median_gamma",
    "tune",
]

MIXING_GRID = tuple(round(0.1 * k, 1) for k in range(11))
# the training Gram matrix has trace n_train (StandardFlexibleScaler), so the
# penalties are relative to an average eigenvalue of about 1
PENALTY_GRID = tuple(float(v) for v in np.logspace(-7, 2, 19))
GAMMA_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
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
        return cls(
            squared_distances(training, active),
            squared_distances(others, active),
            squared_distances(active, active),
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


def active_points(X, count: int, seed: int) -> np.ndarray:
    """The rows SparseKernelPCovR picks by default (farthest point sampling)."""
    from propmap.sample_selection import FPS

    return FPS(n_to_select=count, random_state=seed).fit(X).selected_idx_


@dataclass
class Tuning:
    """The chosen hyperparameters and the cross-validated curves behind them."""

    penalty: float
    gamma: float | None
    mixing: float
    mixings: np.ndarray
    loss_x: np.ndarray
    loss_y: np.ndarray
    penalty_losses: dict = field(default_factory=dict)


def _fold_paths(Y, folds, kernel, distances, gamma):
    """One path per fold: dense kernels from the shared distances, Nyström
    features from each fold's own distances to its active points."""
    if isinstance(distances[0], NystroemDistances):
        paths = []
        for fold, (inner, _) in zip(distances, folds, strict=True):
            features, validation = fold.features(gamma)
            paths.append(PCovPath.from_features(features, Y[inner], validation))
        return paths
    matrix = full_kernel(distances[0], kernel, gamma)
    center = kernel != Kernel.linear
    return [kernel_path(matrix, Y, inner, held, center) for inner, held in folds]


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
    seed: int,
) -> Tuning:
    """Cross-validate the penalty (and γ), then sweep the mixing, on ``folds``
    (pairs of row indices into X and Y)."""
    gammas = (
        [gamma]
        if gamma is None or not gamma_grid
        else [gamma * factor for factor in GAMMA_FACTORS]
    )
    penalties = PENALTY_GRID if penalty is None else (penalty,)
    best = None
    penalty_losses = {}
    if n_active is not None:  # the active points of each fold do not depend on γ
        per_fold = []
        for inner, held in folds:
            active = inner[active_points(X[inner], n_active, seed)]
            per_fold.append(NystroemDistances.of(X[inner], X[held], X[active]))
    else:
        per_fold = [distances]
    for candidate in gammas:
        paths = _fold_paths(Y, folds, kernel, per_fold, candidate)
        losses = np.array(
            [
                np.mean(
                    [
                        p.ridge_loss(lam, Y[held])
                        for p, (_, held) in zip(paths, folds, strict=True)
                    ]
                )
                for lam in penalties
            ]
        )
        penalty_losses[candidate] = losses.tolist()
        k = int(np.argmin(losses))
        if best is None or losses[k] < best[0]:
            best = (losses[k], candidate, penalties[k], paths)
    _, gamma, penalty, paths = best
    sweep = np.array(
        [
            np.mean(
                [
                    p.losses(alpha, penalty, n_components, Y[held])
                    for p, (_, held) in zip(paths, folds, strict=True)
                ],
                axis=0,
            )
            for alpha in MIXING_GRID
        ]
    )
    mixings, loss_x, loss_y = np.array(MIXING_GRID), sweep[:, 0], sweep[:, 1]
    if mixing is None:
        within = loss_y <= (1.0 + LOSS_TOLERANCE) * loss_y.min()
        mixing = float(mixings[within].max())
    return Tuning(
        penalty, gamma, float(mixing), mixings, loss_x, loss_y, penalty_losses
    )
