"""Warnings that propmap emits, so that users and tests can filter them by class."""

__all__ = ["UncenteredDataWarning"]


class UncenteredDataWarning(UserWarning):
    """The data given to an estimator that does not centre its input has column
    means further from zero than ``tol``.

    PCovR-type methods work on X and Y as given; centre and scale them first, for
    example with :class:`propmap.preprocessing.StandardFlexibleScaler`.
    """
