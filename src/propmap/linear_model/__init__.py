"""Linear models: orthogonal (Procrustes) regression and a ridge whose penalty is
chosen by an SVD-based two-fold cross-validation.

Same names and parameters as ``skmatter.linear_model``.
"""

from propmap.linear_model._orthogonal import OrthogonalRegression
from propmap.linear_model._ridge import Ridge2FoldCV

__all__ = ["OrthogonalRegression", "Ridge2FoldCV"]
