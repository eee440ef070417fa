"""Density estimation on neighbourhoods: the sparse, grid-based kernel density
estimate of PAMM."""

from propmap.neighbors._sparse_kde import SparseKDE

__all__ = ["SparseKDE"]
