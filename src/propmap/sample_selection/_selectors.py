"""Sample selectors: the selection engine on the rows of X."""

from propmap.selection._methods import (
    CURMethod,
    FPSMethod,
    PCovCURMethod,
    PCovFPSMethod,
    fill_doc,
)

__all__ = ["CUR", "FPS", "PCovCUR", "PCovFPS"]


class _SampleSelector:
    """Rows as candidates. Selecting samples does not transform X: index it with
    ``selected_idx_`` (or use ``X_selected_`` / ``y_selected_``)."""

    _axis = 0


@fill_doc
class FPS(_SampleSelector, FPSMethod):
    """Select samples by farthest point sampling.

    Each pick is the sample farthest (in squared Euclidean distance) from the
    samples picked so far. Exact, with a lazy update: only candidates whose stale
    distance could still be the largest are recomputed, so most steps touch a small
    part of X.

    Parameters
    ----------
    {initialize}
    {engine}

    Attributes
    ----------
    {attributes}
    {targets}
    {distances}

    See Also
    --------
    propmap.feature_selection.FPS : the same on features.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.sample_selection import FPS
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.1, 0.1], [0.0, 2.0]])
    >>> FPS(n_to_select=3).fit(X).selected_idx_
    array([0, 3, 1])
    """


@fill_doc
class PCovFPS(_SampleSelector, PCovFPSMethod):
    """Select samples by farthest point sampling in the PCovR metric,
    ``α ‖x_i − x_j‖² + (1 − α) ‖y_i − y_j‖²`` (FPS on ``[√α X | √(1 − α) Y]``,
    without forming it or any n x n matrix).

    Parameters
    ----------
    {mixing}
    {initialize}
    {engine}

    Attributes
    ----------
    {attributes}
    {targets}
    {distances}
    """


@fill_doc
class CUR(_SampleSelector, CURMethod):
    """Select samples by deterministic CUR decomposition with orthogonalisation.

    Sample i scores ``Σ_{{l ≤ k}} U_il²`` over the top left singular vectors of the
    residual X'; after each pick its direction is projected out of every row.
    Computed through the d x d feature-space Gram matrix: one product with X per
    step, no n x n matrix.

    Parameters
    ----------
    {cur}
    {engine}

    Attributes
    ----------
    {attributes}
    {targets}
    """


@fill_doc
class PCovCUR(_SampleSelector, PCovCURMethod):
    """Select samples by CUR on the PCovR modified Gram matrix
    ``α X'X'ᵀ + (1 − α) Y'Y'ᵀ``, with ``Y' = Y − X lstsq(X_S, Y_S)`` the targets
    unexplained by the picked samples S. Computed through the (d + p)-dimensional
    feature space: no n x n matrix.

    Parameters
    ----------
    {mixing}
    {cur}
    {engine}

    Attributes
    ----------
    {attributes}
    {targets}
    """
