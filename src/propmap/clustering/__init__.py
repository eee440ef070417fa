"""Clustering: quick shift (the clustering step of PAMM, same names and
parameters as ``skmatter.clustering``) and PAMM itself, density-based clusters
with a probabilistic assignment."""

from propmap.clustering._pamm import PAMM
from propmap.clustering._quick_shift import QuickShift

__all__ = ["PAMM", "QuickShift"]
