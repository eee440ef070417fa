"""Sample selection: pick representative rows of X (training sets, active points,
landmarks)."""

from propmap.sample_selection._selectors import CUR, FPS, PCovCUR, PCovFPS

__all__ = ["CUR", "FPS", "PCovCUR", "PCovFPS"]
