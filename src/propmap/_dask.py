"""What the estimators need to take dask arrays (the ``dask`` extra): recognising
one without importing dask, checking its chunks, the one-pass statistics of X
(and Y) computed in a single ``dask.compute``, and lazy row-wise outputs.

Nothing here schedules work itself: reductions are dask graphs, run by whatever
scheduler is active (threads, processes or a ``distributed.Client``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DaskStatistics",
    "active_client",
    "check_dask_features",
    "is_dask_array",
    "map_rows",
    "one_block",
    "root_of_gram",
    "rows_like",
    "weighted_moments",
]


def active_client():
    """The current ``distributed.Client``, or None (no cluster: a local scheduler,
    or distributed not installed)."""
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


def one_block(array: np.ndarray):
    """``array`` as a dask array of one block, for every task of a graph to
    read: on a cluster it is sent to the workers once (``scatter``), not
    carried in the graph (which distributed warns about past a few MB, and
    copies with every graph that uses it); else the array itself."""
    _, da = _dask()
    client = active_client()
    if client is None:
        return da.from_array(array, chunks=array.shape)
    future = client.scatter(array, broadcast=True)
    return da.from_delayed(future, shape=array.shape, dtype=array.dtype)


def is_dask_array(X) -> bool:
    """Whether X is a ``dask.array.Array`` (dask is not imported for the test)."""
    kind = type(X)
    return kind.__name__ == "Array" and kind.__module__.startswith("dask.")


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError as error:  # pragma: no cover - dask arrays need dask
        raise ImportError(
            "dask arrays need the dask extra: pip install 'propmap[dask]'"
        ) from error
    return dask, da


def check_dask_features(X, name: str = "X", min_samples: int = 2):
    """A two-dimensional floating dask array with known chunk sizes and one
    column chunk (rechunked if it has several: every statistic here is over rows).
    """
    _dask()
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a two-dimensional dask array, got {X.ndim} dimension(s)."
        )
    if any(np.isnan(size) for sizes in X.chunks for size in sizes):
        raise ValueError(
            f"{name} has unknown chunk sizes (e.g. from a filter or a dataframe): "
            "call X.compute_chunk_sizes() first."
        )
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    if X.shape[0] < min_samples:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) while a minimum of "
            f"{min_samples} is required."
        )
    if X.shape[1] < 1:
        raise ValueError(f"{name} has no features.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def rows_like(Y, X, name: str = "Y"):
    """Y (numpy or dask, 1-D or 2-D) as a two-dimensional dask array with X's row
    chunks, and whether it was one-dimensional."""
    _, da = _dask()
    one_d = Y.ndim == 1
    if not is_dask_array(Y):
        Y = np.asarray(Y, dtype=np.float64)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {Y.shape[0]} rows but X has {X.shape[0]}.")
        Y = da.from_array(Y.reshape(len(Y), -1), chunks=(X.chunks[0], -1))
        return Y, one_d
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"{name} has {Y.shape[0]} rows but X has {X.shape[0]}.")
    Y = Y.reshape(Y.shape[0], -1) if one_d else Y
    if not np.issubdtype(Y.dtype, np.floating):
        Y = Y.astype(np.float64)
    return Y.rechunk((X.chunks[0], -1)), one_d


@dataclass
class DaskStatistics:
    """The second-order statistics of X (and Y), in float64, as the one matrix
    ``[X Y 1]ᵀ[X Y 1]`` that a pass computes; XᵀX, Xᵀ1, XᵀY and YᵀY are its
    blocks. NaN or infinity anywhere in X (or Y) shows on the diagonal of XᵀX
    (YᵀY): an error."""

    n_samples: int
    n_features: int
    joint: np.ndarray

    @property
    def products(self) -> np.ndarray:
        """``[X Y]ᵀ[X Y]`` (XᵀX without targets)."""
        return self.joint[:-1, :-1]

    @property
    def gram(self) -> np.ndarray:
        return self.joint[: self.n_features, : self.n_features]

    @property
    def column_sums(self) -> np.ndarray:
        return self.joint[: self.n_features, -1]

    @property
    def xty(self) -> np.ndarray:
        return self.joint[: self.n_features, self.n_features : -1]

    @property
    def yty(self) -> np.ndarray:
        return self.joint[self.n_features : -1, self.n_features : -1]

    @classmethod
    def of(cls, X, Y=None):
        """One pass over X (and Y): one BLAS product per row block, summed, in
        one ``dask.compute``."""
        return cls.grouped(X, Y)[0]

    @classmethod
    def grouped(cls, X, Y=None, groups=None, n_groups: int = 1) -> list:
        """The statistics of each group of rows (``groups``: a label in
        ``range(n_groups)`` per row, or -1 for a row of no group, numpy; None:
        one group of every row), all from one pass and one ``dask.compute``: per
        row block, one BLAS product per group present."""
        dask, da = _dask()
        size = X.shape[1] + (0 if Y is None else Y.shape[1]) + 1
        if groups is None:
            n_groups = 1
        else:
            groups = np.asarray(groups)
            if groups.shape != (X.shape[0],):
                raise ValueError(
                    f"groups must have one label per row of X ({X.shape[0]}); "
                    f"got shape {groups.shape}."
                )
            if groups.size and (groups.min() < -1 or groups.max() >= n_groups):
                raise ValueError(f"group labels must be -1 or in range({n_groups}).")

        def block_gram(x, *rest):
            # [X Y 1]ᵀ[X Y 1] of the rows of each group in one row block
            labels = np.asarray(rest[0]).ravel() if groups is not None else None
            y = rest[-1] if len(rest) > (groups is not None) else None
            parts = [np.asarray(x, dtype=np.float64)]
            if y is not None:
                parts.append(np.asarray(y, dtype=np.float64))
            parts.append(np.ones((len(parts[0]), 1)))
            joint = np.hstack(parts)
            if labels is None:
                return (joint.T @ joint)[None, None]
            out = np.zeros((1, n_groups, size, size))
            for group in np.unique(labels[labels >= 0]):
                rows = joint[labels == group]
                out[0, group] = rows.T @ rows
            return out

        arrays = [X]
        if groups is not None:
            labels = da.from_array(groups.astype(np.int64), chunks=(X.chunks[0],))
            arrays.append(labels[:, None])
        if Y is not None:
            arrays.append(Y)
        chunks = ((1,) * len(X.chunks[0]), (n_groups,), (size,), (size,))
        blocks = da.map_blocks(
            block_gram, *arrays, chunks=chunks, new_axis=(2, 3), dtype=np.float64,
            meta=np.empty((0, 0, 0, 0)),
        )  # fmt: skip
        (joint,) = dask.compute(blocks.sum(axis=0))
        statistics = [
            cls(int(np.round(joint[g, -1, -1])), X.shape[1], np.asarray(joint[g]))
            for g in range(n_groups)
        ]
        diagonal = np.einsum("gii->i", joint)
        if not np.all(np.isfinite(diagonal[: X.shape[1]])):
            raise ValueError("Input X contains NaN or infinity (or values too large).")
        if not np.all(np.isfinite(diagonal[X.shape[1] : -1])):
            raise ValueError("Input Y contains NaN or infinity (or values too large).")
        return statistics


def weighted_moments(X, weights=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Column means and (population) variances of X, weighted, in one pass: each
    row block gives its weight, mean and sum of squared deviations, combined
    exactly (Chan et al.) after one ``dask.compute``; also the smallest weight.
    """
    dask, da = _dask()
    n_features = X.shape[1]

    def block_moments(block, block_weights=None):
        block = np.asarray(block, dtype=np.float64)
        w = (
            np.ones(len(block))
            if block_weights is None
            else np.asarray(block_weights, dtype=np.float64).ravel()
        )
        total = w.sum()
        mean = (w @ block) / total if total > 0 else np.zeros(n_features)
        squares = w @ (block - mean) ** 2 if total > 0 else np.zeros(n_features)
        smallest = w.min() if w.size else np.inf
        return np.concatenate([[total, smallest], mean, squares])[None, :]

    chunks = ((1,) * len(X.chunks[0]), (2 * n_features + 2,))
    if weights is None:
        parts = X.map_blocks(block_moments, chunks=chunks, dtype=np.float64)
    else:
        parts = da.map_blocks(
            block_moments, X, weights[:, None], chunks=chunks, dtype=np.float64
        )
    (parts,) = dask.compute(parts)
    totals, smallest = parts[:, 0], parts[:, 1]
    means, squares = parts[:, 2 : 2 + n_features], parts[:, 2 + n_features :]
    total = totals.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("sample_weight must have a positive sum.")
    mean = totals @ means / total
    deviations = squares.sum(axis=0) + totals @ (means - mean) ** 2
    return mean, deviations / total, float(smallest.min())


def root_of_gram(gram: np.ndarray) -> np.ndarray:
    """R with RᵀR = ``gram`` (to rounding), rank x d: the pivoted Cholesky factor
    (LAPACK ``pstrf``), which stops at the numerical rank and leaves the columns
    of zero variance exactly zero. Any method that sees X only through the inner
    products of its columns gives the same result on R as on X."""
    from scipy.linalg.lapack import dpstrf

    size = gram.shape[0]
    scale = float(np.max(np.diagonal(gram))) if size else 0.0
    if scale <= 0:
        return np.zeros((1, size))
    factor, pivots, rank, info = dpstrf(
        np.asarray(gram, dtype=np.float64), lower=1, tol=-1.0
    )
    if info < 0:  # pragma: no cover - LAPACK argument errors
        raise ValueError(f"LAPACK dpstrf failed (info={info}).")
    lower = np.tril(factor)[:, :rank]
    root = np.zeros((max(rank, 1), size))
    root[:rank, pivots - 1] = lower.T
    return root


def map_rows(X, function, n_columns: int | None, dtype, n_features=None, name="X"):
    """``function`` applied to each row block of the dask array X, lazily: a
    dask array with X's row chunks and ``n_columns`` columns (None: one
    dimension). X is checked first (two dimensions, ``n_features`` columns if
    given) and brought to one column chunk."""
    X = check_dask_features(X, name, min_samples=0)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but the estimator was fitted with "
            f"{n_features} features."
        )
    if n_columns is None:
        return X.map_blocks(function, chunks=(X.chunks[0],), drop_axis=1, dtype=dtype)
    return X.map_blocks(function, chunks=(X.chunks[0], (n_columns,)), dtype=dtype)
