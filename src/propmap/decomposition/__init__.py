"""Principal covariates decompositions: linear latent spaces that balance
reconstructing the features against predicting the targets."""

from propmap.decomposition._pcovr import PCovR

__all__ = ["PCovR"]
