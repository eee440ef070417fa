"""Metrics: feature-space reconstruction measures (GFRE, GFRD, LFRE).

Same names and parameters as ``skmatter.metrics``.
"""

from propmap.metrics._reconstruction import (
    check_global_reconstruction_measures_input,
    check_local_reconstruction_measures_input,
    global_reconstruction_distortion,
    global_reconstruction_error,
    local_reconstruction_error,
    pointwise_global_reconstruction_distortion,
    pointwise_global_reconstruction_error,
    pointwise_local_reconstruction_error,
)

__all__ = [
    "check_global_reconstruction_measures_input",
    "check_local_reconstruction_measures_input",
    "global_reconstruction_distortion",
    "global_reconstruction_error",
    "local_reconstruction_error",
    "pointwise_global_reconstruction_distortion",
    "pointwise_global_reconstruction_error",
    "pointwise_local_reconstruction_error",
]
