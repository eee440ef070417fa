"""Sample selectors: the selection engine on the rows of X."""

import numpy as np

from propmap.selection._fps import GramInnerProducts
from propmap.selection._methods import (
    CURMethod,
    FPSMethod,
    PCovCURMethod,
    PCovFPSMethod,
    fill_doc,
)
from propmap.selection._reference_views import (
    CURResiduals,
    PCovCURResiduals,
    ReferenceSpellings,
    SamplesAreNotTransformed,
)

__all__ = ["CUR", "FPS", "KernelFPS", "PCovCUR", "PCovFPS"]


class _SampleSelector(SamplesAreNotTransformed, ReferenceSpellings):
    """Rows as candidates. Selecting samples does not transform X: index it with
    ``selected_idx_`` (or use ``X_selected_`` / ``y_selected_``); ``transform``
    raises a ``ValueError``, as scikit-matter's does."""

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
class KernelFPS(_SampleSelector, FPSMethod):
    """Select samples by farthest point sampling in the feature space of a
    kernel, from the precomputed kernel (Gram) matrix of the samples.

    The squared distance of samples i and j is ``K_ii + K_jj − 2 K_ij``; with the
    linear kernel ``K = XXᵀ`` the picks are those of :class:`FPS` on X, without
    touching X again: each step reads one column of K, so picking m of n samples
    costs O(n m) once K exists (FPS on X costs O(n m d)). Useful when K is needed
    anyway, or to pick in the space of any positive semi-definite kernel.

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
    FPS : the same on the samples' features.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.sample_selection import KernelFPS
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.1, 0.1], [0.0, 2.0]])
    >>> KernelFPS(n_to_select=3).fit(X @ X.T).selected_idx_
    array([0, 3, 1])
    """

    def _validate(self, X, y):
        X, y = super()._validate(X, y)
        if X.shape[0] != X.shape[1]:
            raise ValueError(
                "KernelFPS needs the square kernel matrix of the samples; got "
                f"shape {X.shape}."
            )
        return X, y

    def _inner_products(self, points, targets):
        gram = points.toarray() if hasattr(points, "toarray") else np.asarray(points)
        return GramInnerProducts(gram)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = True
        return tags


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
class CUR(_SampleSelector, CURResiduals, CURMethod):
    """Select samples by deterministic CUR decomposition with orthogonalisation.

    Sample i scores ``Σ_{{l ≤ k}} U_il²`` over the top left singular vectors of the
    residual X'; after each pick its direction is projected out of every row.
    Computed through the d x d feature-space Gram matrix, tridiagonalised once
    (``XᵀX = V L Lᵀ Vᵀ``; an eigenbasis, thin where X is wide or rank deficient,
    where that fails), then per pick certified shift-invert Lanczos on a
    tridiagonal minus a low rank and one product with X (:mod:`propmap.selection._cur`);
    no n x n matrix.

    Parameters
    ----------
    {cur}
    {engine}

    Attributes
    ----------
    {attributes}
    {targets}
    X_current_ : ndarray of shape (n_samples, n_features)
        scikit-matter's residual: X with the span of the picked samples projected
        out of every row (X itself with ``recompute_every=0``). Computed when
        read, from the training X, which the fit keeps by reference (not for a
        dask X).
    """


@fill_doc
class PCovCUR(_SampleSelector, PCovCURResiduals, PCovCURMethod):
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
    X_current_ : ndarray of shape (n_samples, n_features)
        scikit-matter's residual: X with the span of the picked samples projected
        out of every row (X itself with ``recompute_every=0``).
    y_current_ : ndarray of shape (n_samples, n_targets)
        The targets unexplained by the picks, ``Y − X lstsq(X_S, Y_S)`` (Y itself
        with ``recompute_every=0``).
    X_ref_, y_ref_ : ndarray
        The training X and the targets as a 2-D array. These four are derived
        when read from the training data, which the fit keeps by reference (not
        for a dask X).
    """
