"""propmap: interpretable structure-property machine learning.

The numerics core (:mod:`propmap.decomposition`, :mod:`propmap.preprocessing`,
:mod:`propmap.utils`) needs only numpy, scipy and scikit-learn. Sub-packages are
imported on first use, so ``import propmap`` stays light.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "atomistic",
    "clustering",
    "decomposition",
    "exceptions",
    "feature_selection",
    "linear_model",
    "metrics",
    "model_selection",
    "preprocessing",
    "sample_selection",
    "selection",
    "utils",
    "viz",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"propmap.{name}")
    raise AttributeError(f"module 'propmap' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
