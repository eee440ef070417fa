"""Clustering: quick shift (the clustering step of PAMM). Same names and
parameters as ``skmatter.clustering``."""

from propmap.clustering._quick_shift import QuickShift

__all__ = ["QuickShift"]
