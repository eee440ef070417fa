"""Feature selectors: the selection engine on the columns of X."""

from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted

from propmap._dask import is_dask_array
from propmap.selection._base import GreedySelector
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
)

__all__ = ["CUR", "FPS", "PCovCUR", "PCovFPS"]


class _FeatureSelector(ReferenceSpellings, SelectorMixin):
    """Columns as candidates; transform keeps the selected columns."""

    _axis = 1

    def _get_support_mask(self):
        return GreedySelector._get_support_mask(self)

    # SelectorMixin comes first in the class order; its get_support has no
    # ``ordered``
    get_support = GreedySelector.get_support

    def transform(self, X):
        """Keep the selected columns of X (lazily for a dask array).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)

        Returns
        -------
        X_selected : array of shape (n_samples, n_selected_)
        """
        if is_dask_array(X):
            check_is_fitted(self, ["selected_idx_"])
            if X.ndim != 2 or X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has shape {X.shape}, but {type(self).__name__} was fitted "
                    f"with {self.n_features_in_} features."
                )
            return X[:, self._get_support_mask()]
        return super().transform(X)


@fill_doc
class FPS(_FeatureSelector, FPSMethod):
    """Select features by farthest point sampling.

    Each pick is the column farthest (in squared Euclidean distance over the
    samples) from the columns picked so far.

    Parameters
    ----------
    {initialize}
    {engine}

    Attributes
    ----------
    {attributes}
    {distances}

    See Also
    --------
    propmap.sample_selection.FPS : the same on samples.

    References
    ----------
    .. [1] G. Imbalzano et al., "Automatic selection of atomic fingerprints and
       reference configurations for machine-learning potentials", J. Chem. Phys.
       148, 241730 (2018). https://doi.org/10.1063/1.5024611

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.feature_selection import FPS
    >>> X = np.array([[0.12, 0.21, 0.02], [-0.09, 0.32, -0.10], [-0.03, -0.53, 0.08]])
    >>> selector = FPS(n_to_select=2).fit(X)
    >>> selector.selected_idx_
    array([0, 1])
    >>> selector.transform(X).shape
    (3, 2)
    """


@fill_doc
class PCovFPS(_FeatureSelector, PCovFPSMethod):
    """Select features by farthest point sampling in the PCovR metric.

    Distances between columns i and j come from the PCovR modified covariance,
    ``C~_ii + C~_jj − 2 C~_ij`` with
    ``C~ = α XᵀX + (1 − α) (XᵀX)^{{-1/2}} XᵀY YᵀX (XᵀX)^{{-1/2}}``.

    Parameters
    ----------
    {mixing}
    {initialize}
    {engine}

    Attributes
    ----------
    {attributes}
    {distances}

    References
    ----------
    .. [1] R. K. Cersonsky et al., "Improving sample and feature selection with
       principal covariates regression", Machine Learning: Science and Technology
       2, 035038 (2021). https://doi.org/10.1088/2632-2153/abfe7c
    """


@fill_doc
class CUR(_FeatureSelector, CURResiduals, CURMethod):
    """Select features by deterministic CUR decomposition with orthogonalisation.

    Column j scores ``Σ_{{l ≤ k}} V_jl²`` over the top right singular vectors of the
    residual X'; after each pick its direction is projected out of X'. Exact and
    fast: one Householder tridiagonalisation of XᵀX (a thin eigenbasis instead when
    X is wide or rank deficient, so no d x d matrix for n < d), then per pick
    certified shift-invert Lanczos on a tridiagonal or diagonal minus a low rank
    (:mod:`propmap.selection._cur`). Exact copies of a column tie: the lowest index
    is picked.

    Parameters
    ----------
    {cur}
    {engine}

    Attributes
    ----------
    {attributes}
    n_dense_fallbacks_ : int
        How many times the scores came from a dense eigensolver because the fast
        one could not certify convergence (normally 0).
    X_current_ : ndarray of shape (n_samples, n_features)
        scikit-matter's residual: X with the span of the picked columns projected
        out of every column (X itself with ``recompute_every=0``). Computed when
        read, from the training X, which the fit keeps by reference (not for a
        dask X).

    References
    ----------
    .. [1] M. W. Mahoney, P. Drineas, "CUR matrix decompositions for improved data
       analysis", PNAS 106, 697-702 (2009). https://doi.org/10.1073/pnas.0803205106
    """


@fill_doc
class PCovCUR(_FeatureSelector, PCovCURResiduals, PCovCURMethod):
    """Select features by CUR on the PCovR modified covariance.

    Column j scores ``Σ_{{l ≤ k}} U_jl²`` over the top eigenvectors of
    ``C~' = α C' + (1 − α) C'^{{-1/2}} X'ᵀY' Y'ᵀX' C'^{{-1/2}}``, where X' and Y' are
    what the columns picked so far leave unexplained. Exact and fast: ``C'^{{-1/2}}``
    is applied to the targets only, by a rational approximation with one Woodbury
    solve per pole, on one eigendecomposition of XᵀX (:mod:`propmap.selection._cur`).

    Parameters
    ----------
    {mixing}
    {cur}
    {engine}

    Attributes
    ----------
    {attributes}
    n_dense_fallbacks_ : int
        How many times the scores came from the dense computation (the
        reference's own: a full eigendecomposition of C' per pick), because XᵀX
        has an eigenvalue next to the 1e-12 cut-off, where the reference keeps or
        drops it by rounding, or the fast path could not be certified (normally 0).
    X_current_ : ndarray of shape (n_samples, n_features)
        scikit-matter's residual: X with the span of the picked columns projected
        out of every column (X itself with ``recompute_every=0``).
    y_current_ : ndarray of shape (n_samples, n_targets)
        The targets minus their projection on the picked columns X_S,
        ``Y − X_S (X_SᵀX_S)⁺ X_SᵀY`` (Y itself with ``recompute_every=0``).
    X_ref_, y_ref_ : ndarray
        The training X and the targets as a 2-D array. These four are derived
        when read from the training data, which the fit keeps by reference (not
        for a dask X).

    References
    ----------
    .. [1] R. K. Cersonsky et al., "Improving sample and feature selection with
       principal covariates regression", Machine Learning: Science and Technology
       2, 035038 (2021). https://doi.org/10.1088/2632-2153/abfe7c
    """
