"""The one place that imports private scikit-learn names.

scikit-learn's parameter-validation machinery and sample-weight check are private
but have been stable since 1.2. Keeping every such import here means a rename
touches one file, and the test suite runs against the newest scikit-learn release
to notice one early.
"""

from sklearn.base import _fit_context
from sklearn.decomposition._pca import _infer_dimension
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    RealNotInt,
    StrOptions,
)
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "_infer_dimension",
]
