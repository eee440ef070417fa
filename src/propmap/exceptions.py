"""Warnings that propmap emits, so that users and tests can filter them by class."""

__all__ = ["LocalizationWarning", "UncenteredDataWarning", "UnscaledDataWarning"]


class UncenteredDataWarning(UserWarning):
    """The data given to an estimator that does not centre its input has column
    means further from zero than ``tol``.

    PCovR-type methods work on X and Y as given; centre and scale them first, for
    example with :class:`propmap.preprocessing.StandardFlexibleScaler`.
    """


class UnscaledDataWarning(UserWarning):
    """A quantity that an estimator uses as given, without rescaling, has a larger
    spread than it expects (for PCovC, the classifier's decision function Z has a
    column variance above ``z_var_tol``). Rescale it, e.g. with ``scale_z=True``."""


class LocalizationWarning(UserWarning):
    """A sparse kernel density estimate was asked to localise a bandwidth to a
    smaller fraction of the data (``fpoints``) than one Voronoi cell of its grid
    holds; that localisation was raised to the cell's weight. Use more grid points
    or a larger ``fpoints``."""
