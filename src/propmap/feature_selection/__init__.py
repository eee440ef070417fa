"""Feature selection: pick informative columns of X (scikit-learn selectors)."""

from propmap.feature_selection._selectors import CUR, FPS, PCovCUR, PCovFPS

__all__ = ["CUR", "FPS", "PCovCUR", "PCovFPS"]
