"""Utilities: the PCovR modified covariance and kernel."""

from propmap.utils._pcovr_utils import pcovr_covariance, pcovr_kernel

__all__ = ["pcovr_covariance", "pcovr_kernel"]
