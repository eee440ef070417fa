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

__all__ = ["DistributedFPSStrategy", "FPSShard", "active_client"]


def active_client():
    """The current ``distributed.Client``, or None (no cluster: a local scheduler)."""
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


class FPSShard:
    """One row block of the candidates: weighted blocks of columns (X, and for
    PCov-FPS Y), their weighted squared norms and the distance bounds.

    Distances follow :class:`~propmap.selection._fps.FPSStrategy`'s formula,
    ``|p_i|² + |p_s|² - 2 p_i·p_s`` with ``p·q = Σ_b w_b p_b·q_b``, in the same
    order of operations.
    """

    def __init__(self, offset: int, weights: list[float], *blocks) -> None:
        self.offset = int(offset)
        self.weights = [float(weight) for weight in weights]
        self.blocks = [np.asarray(block, dtype=np.float64) for block in blocks]
        size = self.blocks[0].shape[0]
        self.norms = np.zeros(size)
        for weight, block in zip(self.weights, self.blocks, strict=True):
            self.norms += weight * np.einsum("ij,ij->i", block, block)
        self.bounds = np.full(size, np.inf)
        self.picked = np.zeros(size, dtype=bool)
        self.at_select = np.full(size, np.inf)

    def row(self, local: int) -> list[np.ndarray]:
        return [block[local].copy() for block in self.blocks]

    def pick(self, point: list[np.ndarray], point_norm: float, local: int | None):
        """Take the pick ``point`` (``local``: its row here, if it is one of
        ours): lower the bounds; answer (value, global index, row) of the
        farthest unpicked candidate here (value -inf when none is left)."""
        if local is not None:
            self.at_select[local] = self.bounds[local]
            self.picked[local] = True
        products = np.zeros(len(self.norms))
        for weight, block, part in zip(self.weights, self.blocks, point, strict=True):
            products += weight * (block @ part)
        products *= -2.0
        products += point_norm
        products += self.norms
        np.minimum(self.bounds, products, out=self.bounds)
        return self.best()

    def best(self):
        masked = np.where(self.picked, -np.inf, self.bounds)
        if masked.size == 0 or not np.any(~self.picked):
            return -np.inf, -1, None
        local = int(np.argmax(masked))
        return float(masked[local]), self.offset + local, self.row(local)

    def point_norm(self, local: int) -> float:
        return float(self.norms[local])

    def hausdorff(self) -> tuple[np.ndarray, np.ndarray]:
        bounds = self.bounds.copy()
        bounds[self.picked] = 0.0
        return bounds, self.at_select.copy()


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
        if self.best[1] == index:
            point = self.best[2]
        else:  # a first, warm-start or random pick: fetch its row
            shard, local = self._locate(index)
            point = self.shards[shard].row(local).result()
        shard, local = self._locate(index)
        norm = self.shards[shard].point_norm(local).result()
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
