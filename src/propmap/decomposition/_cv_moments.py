r"""The moments :class:`~propmap.decomposition.PCovRCV` is fitted from, read from
X a block of rows at a time.

Two structures of X make them cheaper, and both are used exactly (no
approximation beyond the ``rank_tol`` truncation of the span):

**Centring inside** (``center=True``). The moments of the centred rows
``x − μ`` follow from those of the rows as given: with ``u = [z, y]`` (the
coordinates of a row in the basis of the span, and its targets), ``w`` their
mean over all rows and, for the rows of a fold, ``M = Σ uuᵀ``, ``s = Σ u`` and
their count ``n_f``,

.. math::

    \sum_f (u - w)(u - w)^T = M - s w^T - w s^T + n_f w w^T,

and ``Σ ‖x − μ‖² = Σ ‖x‖² − 2 μᵀ Σ x + n_f ‖μ‖²``. So X is never centred in
memory, and its zeros survive.

**Column groups.** Where every row of X is zero outside one of a few
contiguous ranges of columns — per-atom SOAP features, whose atoms are nonzero
only in the columns of their own element — ``XᵀX`` is block diagonal, the span
of the rows is the direct sum of the groups' spans (the mean, a combination of
rows, lies in it too), and a row's coordinates are nonzero only in its group's.
``XᵀX``, the basis and every fold's moments are then made group by group: for
the 180,000 atoms of 10,000 QM9 molecules (five elements of 1,500 columns) the
passes over the rows cost about 25x fewer flops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import gen_batches

from propmap._linalg import orthonormal_columns, pivoted_cholesky

__all__ = [
    "BLOCK_ROWS",
    "ColumnGroups",
    "Span",
    "coordinates",
    "fold_moments",
    "gram_of_rows",
    "joint_moments",
    "partition_labels",
    "row_statistics",
]

# rows per block when products are accumulated from X: 512 rows of QM9's 7,500
# SOAP columns are 31 MB in float64 (2,048 held 0.5 GB with their temporaries),
# and BLAS's dsyrk is no slower on them (4.7 s against 6.1 s for 8,000 rows)
BLOCK_ROWS = 512


def gram_of_rows(X, advance=lambda units: None, rows=None, columns=None) -> np.ndarray:
    """``XᵀX`` (float64) of ``rows`` (default all) and a ``columns`` slice
    (default all), block by block of rows.

    BLAS ``dsyrk`` accumulates the upper triangle in place (1.8x faster than
    ``partᵀ @ part`` added to the total, for 2,048 x 7,500 blocks on two cores);
    the lower triangle is mirrored at the end. ``advance(units)`` is told
    each block's ``rows x d²``.
    """
    from scipy.linalg.blas import dsyrk

    columns = slice(0, X.shape[1]) if columns is None else columns
    d = columns.stop - columns.start
    count = X.shape[0] if rows is None else rows.size
    gram = np.zeros((d, d), order="F")
    for block in gen_batches(count, BLOCK_ROWS):
        chosen = block if rows is None else rows[block]
        part = np.asarray(X[chosen, columns], dtype=np.float64)
        # part.T is Fortran-ordered: no copy on the way into BLAS
        gram = dsyrk(1.0, part.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
        advance(part.shape[0] * d * d)
    step = 512
    for start in range(0, d, step):
        stop = min(start + step, d)
        gram[stop:, start:stop] = gram[start:stop, stop:].T
        block = gram[start:stop, start:stop]
        block[:] = np.triu(block) + np.triu(block, 1).T
    return gram


def joint_moments(Z, Y, rows) -> np.ndarray:
    """``[Z Y]ᵀ[Z Y]`` (float64) of ``rows``."""
    width = Z.shape[1] + Y.shape[1]
    moments = np.zeros((width, width))
    for block in gen_batches(rows.size, BLOCK_ROWS):
        part = np.hstack([np.asarray(Z[rows[block]], np.float64), Y[rows[block]]])
        moments += part.T @ part
    return moments


def coordinates(X, basis, mean=None) -> np.ndarray:
    """``(X − mean) basis`` in X's dtype, block by block."""
    basis = basis.astype(X.dtype, copy=False)
    out = np.empty((X.shape[0], basis.shape[1]), dtype=X.dtype)
    for block in gen_batches(X.shape[0], BLOCK_ROWS):
        out[block] = X[block] @ basis
    if mean is not None:
        out -= (np.asarray(mean, np.float64) @ basis).astype(X.dtype)
    return out


@dataclass
class ColumnGroups:
    """Contiguous ranges of columns such that every row of X is zero outside
    one of them (see the module notes).

    ``starts[g]:stops[g]`` are the columns of group g, ``rows[g]`` its rows
    (sorted); ``zero_rows`` are the rows that are zero everywhere.
    """

    starts: np.ndarray
    stops: np.ndarray
    rows: list[np.ndarray]
    zero_rows: np.ndarray

    # more groups than this are not worth a Python loop each
    MOST = 64
    # the groups must save at least this share of XᵀX's flops
    GAIN = 2.0

    @classmethod
    def scan(cls, first: np.ndarray, last: np.ndarray, n_features: int):
        """The groups from each row's first and last nonzero column (-1 for a
        row of zeros), or None when there are fewer than two or they would
        save little."""
        nonzero = first >= 0
        if not np.any(nonzero):
            return None
        order = np.argsort(first[nonzero], kind="stable")
        lows, highs = first[nonzero][order], last[nonzero][order]
        # a new group starts where a row begins after every earlier row ended
        reach = np.maximum.accumulate(highs)
        opens = np.r_[True, lows[1:] > reach[:-1]]
        starts = lows[opens]
        stops = np.r_[reach[np.flatnonzero(opens)[1:] - 1], reach[-1]] + 1
        if not 2 <= starts.size <= cls.MOST:
            return None
        label = np.searchsorted(starts, first, side="right") - 1
        label[~nonzero] = -1
        widths = stops - starts
        sizes = np.bincount(label[nonzero], minlength=starts.size)
        saved = first.size * n_features**2 / max(float(sizes @ widths**2), 1.0)
        if saved < cls.GAIN:
            return None
        rows = [np.flatnonzero(label == g) for g in range(starts.size)]
        return cls(starts, stops, rows, np.flatnonzero(~nonzero))

    def slices(self):
        """(rows, columns) of every group."""
        return [
            (rows, slice(int(a), int(b)))
            for rows, a, b in zip(self.rows, self.starts, self.stops, strict=True)
        ]

    def gram_units(self) -> float:
        """The flops of the groups' ``XᵀX``."""
        return float(
            sum(rows.size * (c.stop - c.start) ** 2 for rows, c in self.slices())
        )


def row_statistics(X, scan_groups: bool):
    """One pass over X: its column sums, each row's squared norm, and the
    column groups (None when X has none, or ``scan_groups`` is false or its
    first rows are mostly nonzero)."""
    n, d = X.shape
    column_sums = np.zeros(d)
    squared = np.zeros(n)
    first = last = None
    for block in gen_batches(n, BLOCK_ROWS):
        part = np.asarray(X[block], np.float64)
        column_sums += part.sum(axis=0)
        squared[block] = np.einsum("ij,ij->i", part, part)
        # only data mostly zero can have groups: a dense X is not scanned
        first_block = scan_groups and block.start == 0
        if first_block and np.count_nonzero(part) < 0.5 * part.size:
            first = np.full(n, -1, dtype=np.int64)
            last = np.full(n, -1, dtype=np.int64)
        if first is not None:
            nonzero = part != 0
            some = nonzero.any(axis=1)
            first[block] = np.where(some, nonzero.argmax(axis=1), -1)
            last[block] = np.where(some, d - 1 - nonzero[:, ::-1].argmax(axis=1), -1)
    groups = None if first is None else ColumnGroups.scan(first, last, d)
    return column_sums, squared, groups


class Span:
    """An orthonormal basis (d x r) of the span of X's rows (centred by
    ``mean`` if given), and, for n <= d, X's coordinates in it.

    The basis is an eigenbasis, to the ``rank_tol`` truncation: ``gram_values``
    are the eigenvalues along its columns of the centred ``X̃ᵀX̃`` — or, where
    ``centred_apart`` (column groups with a mean), of the rows' own ``XᵀX``,
    group by group, so that ``X̃ᵀX̃ = diag(gram_values) − n c cᵀ`` with
    ``c = basisᵀ mean``. ``values`` is set only where the coordinates' moments
    are ``diag(gram_values)`` to rounding (n <= d), for the refit to use as is.

    ``pieces`` are what :func:`fold_moments` reads: (rows or None for all,
    column slice, the basis of those columns, the coordinates they fill).
    """

    def __init__(
        self, X, rank_tol: float, advance=lambda units: None, mean=None, groups=None
    ) -> None:
        n, d = X.shape
        self.values = self.kernel = self.coordinates = None
        self.centred_apart = False
        self.pieces: list = []
        if n <= d:
            # n <= d: the n x n Gram matrix, and X itself in float64, are small
            X64 = np.asarray(X, dtype=np.float64)
            if mean is not None:
                X64 = X64 - mean
            self.kernel = X64 @ X64.T
            values, vectors = np.linalg.eigh(self.kernel)
            kept = values > rank_tol * max(values[-1], 0.0)
            values, vectors = values[kept][::-1], vectors[:, kept][:, ::-1]
            roots = np.sqrt(values)
            self.coordinates = vectors * roots
            self.basis = X64.T @ (vectors / roots)
            # the coordinates' own Gram matrix is diag(values): no second solve
            self.values = self.gram_values = values
        elif groups is not None:
            self.basis = self._grouped_basis(X, rank_tol, advance, mean, groups)
            self.centred_apart = mean is not None
        else:
            # the coordinates (n x r) are made block by block where they are
            # needed, not kept: see fold_moments. XᵀX is factorised in place
            # and dropped before the basis is made: one d x d matrix at a time,
            # beside the d x r factor
            gram = gram_of_rows(X, advance)
            if mean is not None:
                for start in range(0, d, 512):
                    gram[:, start : start + 512] -= n * np.outer(
                        mean, mean[start : start + 512]
                    )
            factor = pivoted_cholesky(gram, rank_tol, overwrite=True)
            del gram
            # gram ≈ factor factorᵀ: its left singular vectors are gram's
            # eigenvectors
            self.basis, self.gram_values = orthonormal_columns(
                factor, rank_tol, return_values=True
            )
            self.pieces = [(None, slice(0, d), self.basis, np.arange(self.rank))]

    @property
    def rank(self) -> int:
        return self.basis.shape[1]

    def group_blocks(self) -> list | None:
        """(columns, basis, coordinates) of each column group's part of the
        basis; None when the span has no groups."""
        blocks = [
            (columns, basis, filled)
            for rows, columns, basis, filled in self.pieces
            if rows is not None and basis.size
        ]
        return blocks or None

    def _grouped_basis(self, X, rank_tol, advance, mean, groups) -> np.ndarray:
        """The direct sum of the groups' bases. The thresholds are those of the
        whole (centred) ``XᵀX``: its largest diagonal entry for the pivots, its
        largest eigenvalue for the singular values."""
        from scipy.sparse.linalg import LinearOperator, eigsh

        n, d = X.shape
        slices = groups.slices()
        grams = [gram_of_rows(X, advance, rows, columns) for rows, columns in slices]
        centred = np.zeros(d) if mean is None else mean
        diagonal = max(
            float(np.max(np.diagonal(g) - n * centred[c] ** 2))
            for g, (_, c) in zip(grams, slices, strict=True)
        )

        def product(v):
            out = np.zeros(d)
            v = np.ravel(v)
            for gram, (_, c) in zip(grams, slices, strict=True):
                out[c] = gram @ v[c]
            return out - n * centred * (centred @ v)

        if d <= 512:
            largest = float(np.linalg.eigvalsh(product_matrix(product, d))[-1])
        else:
            operator = LinearOperator((d, d), matvec=product, dtype=np.float64)
            start = np.random.default_rng(0).uniform(-1.0, 1.0, d)
            values = eigsh(operator, k=1, which="LA", v0=start, tol=1e-6)[0]
            largest = float(values[0])
        blocks, values = [], []
        for gram, (_, c) in zip(grams, slices, strict=True):
            factor = pivoted_cholesky(
                gram, rank_tol, overwrite=True, reference=diagonal
            )
            block, kept = orthonormal_columns(
                factor, rank_tol, reference=largest, return_values=True
            )
            blocks.append((c, block))
            values.append(kept)
        # the eigenvalues of each group's own XᵀX (the mean apart)
        self.gram_values = np.concatenate(values)
        rank = sum(block.shape[1] for _, block in blocks)
        basis = np.zeros((d, rank))
        offset = 0
        for (rows, _), (c, block) in zip(slices, blocks, strict=True):
            filled = np.arange(offset, offset + block.shape[1])
            basis[c, offset : offset + block.shape[1]] = block
            self.pieces.append((rows, c, block, filled))
            offset += block.shape[1]
        if groups.zero_rows.size:
            # rows of zeros: coordinates 0, still counted (and centred)
            empty = np.zeros((0, 0))
            self.pieces.append((groups.zero_rows, slice(0, 0), empty, np.arange(0)))
        return basis

    def moment_units(self, n_samples: int) -> float:
        """The flops of :func:`fold_moments`' products, as it tells them."""
        return float(
            sum(
                2.0
                * (n_samples if rows is None else rows.size)
                * (c.stop - c.start)
                * b.shape[1]
                for rows, c, b, _ in self.pieces
            )
        )


def fold_moments(
    X, Y, span: Span, labels, n_folds: int, squared, mean=None,
    advance=lambda units: None, variance=None,
) -> tuple[list[np.ndarray], list[float]]:  # fmt: skip
    """``[Z Y]ᵀ[Z Y]`` (float64) of the rows of each fold label, and their
    squared norms ``Σ ‖x‖²``; with ``mean``, of the centred rows and targets
    (see the module notes). The coordinates ``Z = X basis`` are made one block of
    rows at a time and dropped (``advance`` is told each block's
    ``2 rows x columns x r``); a ``variance``
    (:class:`~propmap.decomposition._uncertainty.TrainingVariance`) is given
    each block of them too."""
    rank, p = span.rank, Y.shape[1]
    width = rank + p
    moments = [np.zeros((width, width)) for _ in range(n_folds)]
    sums = np.zeros((n_folds, width))
    counts = np.zeros(n_folds)
    dots = np.zeros(n_folds)  # Σ xᵀμ per fold
    targets = np.arange(rank, width)
    for rows, columns, basis, filled in span.pieces:
        whole = rows is None
        basis = basis.astype(X.dtype, copy=False)
        place = np.r_[filled, targets]
        mean_here = None if mean is None else mean[columns]
        count = X.shape[0] if whole else rows.size
        # bigger blocks than elsewhere: each is split by fold, and the
        # products of few rows run slowly
        for block in gen_batches(count, 4 * BLOCK_ROWS):
            chosen = block if whole else rows[block]
            part = X[chosen, columns]
            joint = np.hstack([np.asarray(part @ basis, np.float64), Y[chosen]])
            if variance is not None:
                variance.add(chosen, filled, joint[:, : filled.size])
            labels_here = labels[chosen]
            along = (
                None if mean_here is None else np.asarray(part, np.float64) @ mean_here
            )
            for label in np.unique(labels_here):
                selected = labels_here == label
                picked = joint[selected]
                product = picked.T @ picked
                if whole:
                    moments[label] += product
                else:
                    moments[label][np.ix_(place, place)] += product
                sums[label, place] += picked.sum(axis=0)
                counts[label] += picked.shape[0]
                if along is not None:
                    dots[label] += along[selected].sum()
            advance(2 * joint.shape[0] * part.shape[1] * basis.shape[1])
    norms = [float(squared[labels == label].sum()) for label in range(n_folds)]
    if mean is not None:
        centre = np.zeros(width)
        for _, columns, basis, filled in span.pieces:
            centre[filled] = mean[columns] @ basis
        centre[rank:] = sums[:, rank:].sum(axis=0) / counts.sum()
        squared_mean = float(mean @ mean)
        for label in range(n_folds):
            shift = np.outer(sums[label], centre)
            moments[label] -= shift + shift.T
            moments[label] += counts[label] * np.outer(centre, centre)
            norms[label] += counts[label] * squared_mean - 2.0 * dots[label]
    return moments, norms


def product_matrix(product, size: int) -> np.ndarray:
    """The matrix of a linear map given by its product with a vector."""
    return np.column_stack([product(column) for column in np.eye(size)])


def partition_labels(folds, n_samples: int) -> np.ndarray | None:
    """The fold of every row when the held-out sets partition the rows (k-fold),
    else None."""
    labels = np.full(n_samples, -1, dtype=np.int64)
    for label, (inner, held) in enumerate(folds):
        if np.any(labels[held] >= 0) or inner.size + held.size != n_samples:
            return None
        labels[held] = label
    return labels if np.all(labels >= 0) else None
