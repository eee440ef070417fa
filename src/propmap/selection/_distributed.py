"""Sample FPS (and sample PCov-FPS) of a dask array on a distributed cluster: the
rows stay on the workers, one shard per row chunk, each held by a dask actor.

A pick costs one round trip: the driver sends the new point to every shard, each
shard lowers its distance bounds and answers with its farthest candidate (value,
index, row); the driver keeps the best. No task graph is built per pick (a graph
costs ~0.1 s on a LocalCluster, an actor call ~1 ms per shard).
"""

from __future__ import annotations

import numpy as np

from propmap.selection._base import SelectionStrategy
from propmap.selection._fps import FPSStrategy, _row_squared_norms

__all__ = ["DistributedFPSStrategy", "FPSShard"]


class _ShardProducts:
    """Inner products of this shard's rows with the picks so far (row vectors
    sent by the driver), ``Σ_b w_b P_b[i] · Q_b[k]``, as
    :class:`~propmap.selection._fps.RowInnerProducts` computes them."""

    def __init__(self, weights: list[float], blocks: list[np.ndarray]) -> None:
        self.weights, self.blocks = weights, blocks
        self.size = blocks[0].shape[0]
        self.norms = np.zeros(self.size)
        for weight, block in zip(weights, blocks, strict=True):
            self.norms += weight * _row_squared_norms(block)
        self.picked = [np.empty((16, block.shape[1])) for block in blocks]
        self.pick_norms = np.empty(16)
        self.count = 0

    def add(self, point: list[np.ndarray], norm: float) -> None:
        if self.count == len(self.pick_norms):  # grow by doubling
            self.picked = [np.vstack([p, np.empty_like(p)]) for p in self.picked]
            self.pick_norms = np.concatenate([self.pick_norms, self.pick_norms])
        for store, part in zip(self.picked, point, strict=True):
            store[self.count] = part
        self.pick_norms[self.count] = norm
        self.count += 1

    def block(self, rows: np.ndarray | None, columns: np.ndarray) -> np.ndarray:
        count = self.size if rows is None else len(rows)
        result = np.zeros((count, len(columns)))
        for weight, block, store in zip(
            self.weights, self.blocks, self.picked, strict=True
        ):
            chosen = block if rows is None else block[rows]
            result += weight * (chosen @ store[columns].T)
        return result


class _ShardFPS(FPSStrategy):
    """Lazy FPS over one shard's rows, against picks that may live elsewhere."""

    def __init__(self, products: _ShardProducts) -> None:
        self.products = products
        size = products.size
        self.bounds = np.full(size, np.inf)
        self.fresh = np.zeros(size, dtype=np.int64)
        self.picks: list[int] = []  # pick numbers: columns of the products
        self.at_select = np.full(size, np.inf)
        self.selected = np.zeros(size, dtype=bool)
        self.batch = 32

    def _distances(self, rows, columns):
        norms = self.products.norms
        row_norms = norms if rows is None else norms[rows]
        distances = self.products.block(rows, columns)
        distances *= -2.0
        distances += self.products.pick_norms[columns]
        distances += row_norms[:, None]
        return distances

    def take(self, point, norm: float, local: int | None) -> None:
        if local is not None:
            self._refresh(np.array([local]))
            self.at_select[local] = self.bounds[local]
            self.selected[local] = True
        self.products.add(point, norm)
        self.picks.append(len(self.picks))
        if len(self.picks) == 1:  # the first distances: one full pass
            self._refresh(np.arange(self.products.size))


class FPSShard:
    """One row block of the candidates, held by a worker: weighted blocks of
    columns (X, and for PCov-FPS Y) and a lazy FPS over its rows.

    Distances follow :class:`~propmap.selection._fps.FPSStrategy`'s formula,
    ``|p_i|² + |p_s|² - 2 p_i·p_s`` with ``p·q = Σ_b w_b p_b·q_b``, in the same
    order of operations; like it, a pick only brings up to date the candidates
    whose stale bound could still be the shard's largest.
    """

    def __init__(self, offset: int, weights: list[float], *blocks) -> None:
        self.offset = int(offset)
        self.blocks = [np.asarray(block, dtype=np.float64) for block in blocks]
        weights = [float(weight) for weight in weights]
        self.fps = _ShardFPS(_ShardProducts(weights, self.blocks))

    def point(self, local: int) -> tuple[list[np.ndarray], float]:
        """Row ``local`` (its blocks) and its weighted squared norm."""
        norm = float(self.fps.products.norms[local])
        return [block[local].copy() for block in self.blocks], norm

    def pick(self, point: list[np.ndarray], point_norm: float, local: int | None):
        """Take the pick ``point`` (``local``: its row here, if it is one of
        ours) and answer (value, global index, (row, norm)) of the farthest
        unpicked candidate here (value -inf when none is left)."""
        self.fps.take(point, point_norm, local)
        if self.fps.selected.all():
            return -np.inf, -1, None
        local_best, value = self.fps.best_candidate(self.fps.selected)
        return value, self.offset + local_best, self.point(local_best)

    def hausdorff(self) -> tuple[np.ndarray, np.ndarray]:
        self.fps._refresh(np.arange(self.fps.products.size))
        bounds = self.fps.bounds.copy()
        bounds[self.fps.selected] = 0.0
        return bounds, self.fps.at_select.copy()


class DistributedFPSStrategy(SelectionStrategy):
    """FPS over the row shards of dask arrays, one actor per row chunk.

    Parameters
    ----------
    client : distributed.Client
    blocks_of : callable
        ``blocks_of(points, targets)`` gives the weighted dask arrays whose rows
        are the candidates, ``[(weight, array), ...]`` (all with the same row
        chunks).
    initialize : int, sequence of int or "random"
    random_state : RandomState
    """

    def __init__(self, client, blocks_of, initialize, random_state) -> None:
        self.client = client
        self.blocks_of = blocks_of
        self.initialize_with = initialize
        self.random_state = random_state

    def initialize(self, points, targets) -> None:
        weighted = [(w, array) for w, array in self.blocks_of(points, targets) if w]
        weights = [weight for weight, _ in weighted]
        per_array = [array.to_delayed().ravel() for _, array in weighted]
        sizes = weighted[0][1].chunks[0]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.size = int(self.offsets[-1])
        # one graph computes the row chunks where they are, one places an actor
        # on each: every chunk is read once and stays on its worker
        pieces = self.client.compute(
            [piece for column in per_array for piece in column]
        )
        n_chunks = len(sizes)
        columns = [
            pieces[b * n_chunks : (b + 1) * n_chunks] for b in range(len(weighted))
        ]
        handles = self.client.map(
            FPSShard,
            [int(offset) for offset in self.offsets[:-1]],
            [weights] * n_chunks,
            *columns,
            actors=True,
            pure=False,
        )
        self.shards = [handle.result() for handle in handles]
        self.picks: list[int] = []
        self.best = (-np.inf, -1, None)

    def initial_picks(self) -> list[int]:
        start = self.initialize_with
        if isinstance(start, str):  # "random"
            return [int(self.random_state.randint(self.size))]
        return [int(index) for index in np.atleast_1d(start)]

    def _locate(self, index: int) -> tuple[int, int]:
        shard = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return shard, index - int(self.offsets[shard])

    def update_after_pick(self, index: int) -> None:
        shard, local = self._locate(index)
        if self.best[1] == index:  # the answer of the last round carries it
            point, norm = self.best[2]
        else:  # a first, warm-start or random pick: fetch its row
            point, norm = self.shards[shard].point(local).result()
        answers = [
            actor.pick(point, norm, local if k == shard else None)
            for k, actor in enumerate(self.shards)
        ]
        results = [answer.result() for answer in answers]
        self.picks.append(index)
        # the largest bound; on a tie the lowest index (shards are in row order)
        self.best = max(results, key=lambda result: (result[0], -result[1]))

    def best_candidate(self, selected: np.ndarray) -> tuple[int, float]:
        value, index, _ = self.best
        return int(index), float(value)

    def fitted_attributes(self) -> dict:
        parts = [actor.hausdorff().result() for actor in self.shards]
        return {
            "hausdorff_": np.concatenate([part[0] for part in parts]),
            "hausdorff_at_select_": np.concatenate([part[1] for part in parts]),
        }
