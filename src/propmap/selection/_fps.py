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


# rows per block when a whole matrix is swept, to bound temporaries (~32 MB)
_BLOCK_BYTES = 32 * 2**20


def _row_squared_norms(points) -> np.ndarray:
    """``(P**2).sum(axis=1)`` computed in row blocks, so no copy of P is made."""
    if sp.issparse(points):
        return np.asarray(points.multiply(points).sum(axis=1)).ravel()
    if points.flags.f_contiguous and not points.flags.c_contiguous:
        # P = Xᵀ of a row-major X: sum X's columns, block by block
        source = points.T
        step = max(1, _BLOCK_BYTES // (8 * source.shape[0]))
        return np.concatenate(
            [
                (source[:, start : start + step] ** 2).sum(axis=0)
                for start in range(0, source.shape[1], step)
            ]
        )
    step = max(1, _BLOCK_BYTES // (8 * max(points.shape[1], 1)))
    return np.concatenate(
        [
            (points[start : start + step] ** 2).sum(axis=1)
            for start in range(0, points.shape[0], step)
        ]
    )


class RowInnerProducts:
    """Inner products between rows of one or more weighted blocks,
    ``Σ_b w_b P_b[i] · P_b[j]`` (PCov-FPS on samples weighs X by α and Y by 1 − α).

    ``P_b`` may be a transposed view (features are the columns of X): nothing is
    copied beyond the rows asked for.
    """

    def __init__(self, blocks: list[tuple[float, object]]) -> None:
        self.blocks = [(weight, block) for weight, block in blocks if weight != 0.0]
        self.size = blocks[0][1].shape[0]
        self.norms = np.zeros(self.size)
        for weight, block in self.blocks:
            self.norms += weight * _row_squared_norms(block)

    def block(self, rows: np.ndarray | None, columns: np.ndarray) -> np.ndarray:
        """Inner products of the ``rows`` items (None: all) with the ``columns``."""
        count = self.size if rows is None else len(rows)
        result = np.zeros((count, len(columns)))
        for weight, block in self.blocks:
            picked = block[columns]
            chosen = block if rows is None else block[rows]
            result += weight * _dense(chosen @ picked.T)
        return result


class GramInnerProducts:
    """Inner products read from a precomputed Gram matrix (e.g. PCovR's C~)."""

    def __init__(self, gram: np.ndarray) -> None:
        self.gram = gram
        self.size = gram.shape[0]
        self.norms = np.diag(gram).copy()

    def block(self, rows: np.ndarray | None, columns: np.ndarray) -> np.ndarray:
        if rows is None:
            return self.gram[:, columns]
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
        self.batch = 32

    def initial_picks(self) -> list[int]:
        start = self.initialize_with
        if isinstance(start, str):  # "random"
            return [int(self.random_state.randint(self.products.size))]
        return [int(index) for index in np.atleast_1d(start)]

    def _distances(self, rows: np.ndarray | None, columns: np.ndarray) -> np.ndarray:
        norms = self.products.norms
        row_norms = norms if rows is None else norms[rows]
        distances = self.products.block(rows, columns)
        distances *= -2.0
        distances += norms[columns]
        distances += row_norms[:, None]
        return distances

    def _refresh(self, rows: np.ndarray) -> None:
        """Bring the bounds of ``rows`` up to date with every pick."""
        count = len(self.picks)
        stale = rows[self.fresh[rows] < count]
        if stale.size == 0:
            return
        since = int(self.fresh[stale].min())
        columns = np.asarray(self.picks[since:])
        everything = stale.size == self.products.size
        # bound the (rows x columns) temporaries by sweeping the rows in blocks
        step = max(1, _BLOCK_BYTES // (8 * len(columns)))
        if everything and step >= stale.size:
            nearest = self._distances(None, columns).min(axis=1)
            np.minimum(self.bounds, nearest, out=self.bounds)
        else:
            for start in range(0, stale.size, step):
                block = stale[start : start + step]
                nearest = self._distances(block, columns).min(axis=1)
                self.bounds[block] = np.minimum(self.bounds[block], nearest)
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
        self.batch = max(16, batch // 2)
        ties = top[values == best]
        return int(ties.min()), best

    def fitted_attributes(self) -> dict:
        self._refresh(np.arange(self.products.size))
        hausdorff = self.bounds.copy()
        hausdorff[np.asarray(self.picks, dtype=int)] = 0.0
        return {"hausdorff_": hausdorff, "hausdorff_at_select_": self.at_select.copy()}
