"""Principal covariates decompositions: linear latent spaces that balance
reconstructing the features against predicting the targets; and sketch-map, a
non-linear map that reproduces a chosen range of distances."""

from propmap.decomposition._base import BasePCov, LatentPrediction
from propmap.decomposition._cv import PCovRCV
from propmap.decomposition._kernel_base import BaseKernelPCov
from propmap.decomposition._kernel_cv import KernelPCovRCV
from propmap.decomposition._kernel_pcovr import KernelPCovR
from propmap.decomposition._pcovc import KernelPCovC, PCovC
from propmap.decomposition._pcovr import PCovR
from propmap.decomposition._sketchmap import SketchMap
from propmap.decomposition._sparse_kernel_pcovr import SparseKernelPCovR

# scikit-matter exports its base classes under these names
_BasePCov = BasePCov
_BaseKPCov = BaseKernelPCov

__all__ = [
    "KernelPCovC",
    "KernelPCovR",
    "KernelPCovRCV",
    "LatentPrediction",
    "PCovC",
    "PCovR",
    "PCovRCV",
    "SketchMap",
    "SparseKernelPCovR",
    "_BaseKPCov",
    "_BasePCov",
]
