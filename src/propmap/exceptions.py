"""Warnings that propmap emits, so that users and tests can filter them by class."""

__all__ = ["UncenteredDataWarning", "UnscaledDataWarning"]


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
