"""Principal covariates decompositions: linear latent spaces that balance
reconstructing the features against predicting the targets."""

from propmap.decomposition._kernel_pcovr import KernelPCovR
from propmap.decomposition._pcovc import KernelPCovC, PCovC
from propmap.decomposition._pcovr import PCovR
from propmap.decomposition._sparse_kernel_pcovr import SparseKernelPCovR

__all__ = ["KernelPCovC", "KernelPCovR", "PCovC", "PCovR", "SparseKernelPCovR"]
