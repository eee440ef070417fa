"""Metrics: feature-space reconstruction measures (GFRE, GFRD, LFRE), prediction
rigidities (LPR, CPR), and pairwise distances with periodic boundary conditions.

Same names and parameters as ``skmatter.metrics``.
"""

from propmap.metrics._pairwise import (
    pairwise_mahalanobis_distances,
    periodic_pairwise_euclidean_distances,
)
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
from propmap.metrics._rigidity import (
    componentwise_prediction_rigidity,
    local_prediction_rigidity,
)

__all__ = [
    "check_global_reconstruction_measures_input",
    "check_local_reconstruction_measures_input",
    "componentwise_prediction_rigidity",
    "global_reconstruction_distortion",
    "global_reconstruction_error",
    "local_prediction_rigidity",
    "local_reconstruction_error",
    "pairwise_mahalanobis_distances",
    "periodic_pairwise_euclidean_distances",
    "pointwise_global_reconstruction_distortion",
    "pointwise_global_reconstruction_error",
    "pointwise_local_reconstruction_error",
]
