"""Utilities under scikit-matter's names: the PCovR modified covariance and
kernel, the orthogonalisers of CUR, the fit checks of the PCov estimators' inner
models, effective dimension and shrinkage of covariances, progress bars."""

from propmap.utils._fit_checks import check_cl_fit, check_krr_fit, check_lr_fit
from propmap.utils._kde import effdim, oas
from propmap.utils._orthogonalizers import (
    X_orthogonalizer,
    Y_feature_orthogonalizer,
    Y_sample_orthogonalizer,
)
from propmap.utils._pcovr_utils import pcovr_covariance, pcovr_kernel
from propmap.utils._progress import get_progress_bar, no_progress_bar

__all__ = [
    "X_orthogonalizer",
    "Y_feature_orthogonalizer",
    "Y_sample_orthogonalizer",
    "check_cl_fit",
    "check_krr_fit",
    "check_lr_fit",
    "effdim",
    "get_progress_bar",
    "no_progress_bar",
    "oas",
    "pcovr_covariance",
    "pcovr_kernel",
]
