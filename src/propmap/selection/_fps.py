r"""Farthest point sampling, exact and lazy.

FPS picks, at every step, the candidate whose squared distance to its nearest
selected point is largest (the first one on a tie). With
:math:`d_{is} = \lVert p_i\rVert^2 + \lVert p_s\rVert^2 - 2 p_i \cdot p_s`, the
minimum over the selected points of each candidate only ever shrinks, so a stale
minimum is an upper bound. The strategy keeps those bounds and, at each step, brings
up to date only the candidates whose bound could still be the largest; the picks are
those of the eager algorithm, at a fraction of the distance evaluations.

Distances come from an :class:`InnerProducts` object, so the same code serves plain
FPS on samples or features and PCov-FPS (a weighted sum of two inner products, or a
precomputed modified covariance).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from propmap.selection._base import SelectionStrategy

__all__ = ["FPSStrategy", "GramInnerProducts", "RowInnerProducts"]


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


class RowInnerProducts:
    """Inner products between rows of one or more weighted blocks,
    ``Σ_b w_b P_b[i] · P_b[j]`` (PCov-FPS on samples weighs X by α and Y by 1 − α).
    """

    def __init__(self, blocks: list[tuple[float, object]]) -> None:
        self.blocks = [(weight, block) for weight, block in blocks if weight != 0.0]
        self.size = blocks[0][1].shape[0]
        self.norms = np.zeros(self.size)
        for weight, block in self.blocks:
            if sp.issparse(block):
                squares = np.asarray(block.multiply(block).sum(axis=1)).ravel()
            else:
                squares = (block**2).sum(axis=1)
            self.norms += weight * squares

    def block(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Inner products of the ``rows`` items with the ``columns`` items."""
        result = np.zeros((len(rows), len(columns)))
        for weight, block in self.blocks:
            product = _dense(block[rows] @ block[columns].T)
            result += weight * product
        return result


class GramInnerProducts:
    """Inner products read from a precomputed Gram matrix (e.g. PCovR's C~)."""

    def __init__(self, gram: np.ndarray) -> None:
        self.gram = gram
        self.size = gram.shape[0]
        self.norms = np.diag(gram).copy()

    def block(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return self.gram[np.ix_(rows, columns)]


class FPSStrategy(SelectionStrategy):
    """Lazy exact farthest point sampling.

    Parameters
    ----------
    make_products : callable
        ``make_products(points, targets)`` returns an inner-product object
        (:class:`RowInnerProducts` or :class:`GramInnerProducts`).
    initialize : int, sequence of int or "random"
        The first pick(s).
    random_state : RandomState
        Used for ``initialize="random"``.
    """

    def __init__(self, make_products, initialize, random_state) -> None:
        self.make_products = make_products
        self.initialize_with = initialize
        self.random_state = random_state

    def initialize(self, points, targets) -> None:
        self.products = self.make_products(points, targets)
        size = self.products.size
        self.bounds = np.full(size, np.inf)  # min distance to the first `fresh` picks
        self.fresh = np.zeros(size, dtype=np.int64)
        self.picks: list[int] = []
        self.at_select = np.full(size, np.inf)
        self.batch = 64

    def initial_picks(self) -> list[int]:
        start = self.initialize_with
        if isinstance(start, str):  # "random"
            return [int(self.random_state.randint(self.products.size))]
        return [int(index) for index in np.atleast_1d(start)]

    def _distances(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        products = self.products
        return (
            products.norms[rows, None]
            + products.norms[None, columns]
            - 2.0 * products.block(rows, columns)
        )

    def _refresh(self, rows: np.ndarray) -> None:
        """Bring the bounds of ``rows`` up to date with every pick."""
        count = len(self.picks)
        stale = rows[self.fresh[rows] < count]
        if stale.size == 0:
            return
        since = int(self.fresh[stale].min())
        columns = np.asarray(self.picks[since:])
        distances = self._distances(stale, columns).min(axis=1)
        self.bounds[stale] = np.minimum(self.bounds[stale], distances)
        self.fresh[stale] = count

    def update_after_pick(self, index: int) -> None:
        self._refresh(np.array([index]))
        self.at_select[index] = self.bounds[index]
        self.picks.append(index)
        if len(self.picks) == 1:
            # the first distances are needed for every candidate: one full pass
            self._refresh(np.arange(self.products.size))

    def best_candidate(self, selected: np.ndarray) -> tuple[int, float]:
        size = self.products.size
        bounds = np.where(selected, -np.inf, self.bounds)
        batch = min(self.batch, size)
        while True:
            if batch >= size:
                top = np.arange(size)
            else:
                top = np.argpartition(bounds, size - batch)[size - batch :]
            self._refresh(top)
            bounds[top] = np.where(selected[top], -np.inf, self.bounds[top])
            # exact values for `top`; every other bound is at most the batch minimum
            values = bounds[top]
            best = float(values.max())
            if batch >= size:
                break
            outside_max = np.max(np.delete(bounds, top)) if batch < size else -np.inf
            if best > outside_max:
                break
            batch *= 2
        self.batch = max(32, batch // 2)
        ties = top[values == best]
        return int(ties.min()), best

    def fitted_attributes(self) -> dict:
        self._refresh(np.arange(self.products.size))
        hausdorff = self.bounds.copy()
        hausdorff[np.asarray(self.picks, dtype=int)] = 0.0
        return {"hausdorff_": hausdorff, "hausdorff_at_select_": self.at_select.copy()}
