"""Scalers and kernel normalisers."""

from propmap.preprocessing._data import (
    KernelNormalizer,
    SparseKernelCenterer,
    StandardFlexibleScaler,
)

__all__ = ["KernelNormalizer", "SparseKernelCenterer", "StandardFlexibleScaler"]
