"""The greedy selection engine and its strategies.

Users select with :mod:`propmap.feature_selection` and
:mod:`propmap.sample_selection`; this package is the shared machinery, and the place
to add a method: write a :class:`SelectionStrategy`.
"""

from propmap.selection._base import GreedySelector, SelectionStrategy
from propmap.selection._cur import CURStrategy, PCovCURStrategy
from propmap.selection._fps import FPSStrategy

__all__ = [
    "CURStrategy",
    "FPSStrategy",
    "GreedySelector",
    "PCovCURStrategy",
    "SelectionStrategy",
]
