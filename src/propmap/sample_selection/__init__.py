"""Sample selection: pick representative rows of X (training sets, active points,
landmarks)."""

from propmap.sample_selection._convex_hull import DirectionalConvexHull
from propmap.sample_selection._selectors import CUR, FPS, KernelFPS, PCovCUR, PCovFPS
from propmap.sample_selection._voronoi import VoronoiFPS, voronoi_weights

__all__ = [
    "CUR",
    "FPS",
    "DirectionalConvexHull",
    "KernelFPS",
    "PCovCUR",
    "PCovFPS",
    "VoronoiFPS",
    "voronoi_weights",
]
