"""scikit-matter's fitted names on propmap's selectors, derived on demand.

scikit-matter's selectors keep their working state as public attributes: the axis
(``selection_type``), the progress wrapper (``report_progress_``) and, for the CUR
family, the residual of X after the picks (``X_current_``) and PCov-CUR's residual
targets (``y_current_``) and training data (``X_ref_``, ``y_ref_``). propmap's
selectors never form those matrices while selecting; the mixins here give them,
with the same meaning, from the training data kept by reference (no copy) and the
picks. Sample selectors do not transform X: scikit-matter raises a ``ValueError``
there, and so does propmap, through an exception that is also an
``AttributeError`` so that ``hasattr(selector, "transform")`` stays False and
scikit-learn does not take a sample selector for a transformer.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from propmap._dask import is_dask_array
from propmap.selection._base import GreedySelector

__all__ = [
    "CURResiduals",
    "PCovCURResiduals",
    "ReferenceSpellings",
    "SampleTransformError",
    "SamplesAreNotTransformed",
]


class SampleTransformError(ValueError, AttributeError):
    """Raised on ``transform`` (and ``fit_transform``, ``inverse_transform``) of a
    sample selector. A ``ValueError``, as scikit-matter raises there, and an
    ``AttributeError``, so that ``hasattr`` reports the method as absent."""


class ReferenceSpellings:
    """``selection_type`` and ``report_progress_``, as scikit-matter names them."""

    @property
    def selection_type(self) -> str:
        """``"sample"`` or ``"feature"``: what the selector picks."""
        return self._axis_name

    @property
    def report_progress_(self):
        """The wrapper the selection loop iterates through: a progress bar with
        ``progress_bar=True``, else the identity
        (:func:`propmap.utils.no_progress_bar`)."""
        check_is_fitted(self, "selected_idx_")
        from propmap.utils import get_progress_bar, no_progress_bar

        return get_progress_bar() if self.progress_bar else no_progress_bar


def _not_for_samples(name: str, what: str):
    def refuse(self):
        raise SampleTransformError(
            f"{type(self).__name__} selects samples and has no {name}: {what} "
            "(scikit-matter raises this ValueError too). Index X with "
            "selected_idx_, or read X_selected_ / y_selected_."
        )

    refuse.__name__ = name
    refuse.__doc__ = (
        f"Not available on sample selectors: accessing it raises "
        f":class:`SampleTransformError`, a ``ValueError`` (as in scikit-matter) and "
        f"an ``AttributeError`` (``hasattr(selector, {name!r})`` is False)."
    )
    return property(refuse)


class SamplesAreNotTransformed:
    """scikit-matter's sample selectors have ``transform`` and ``fit_transform``
    (from scikit-learn's ``SelectorMixin``) that raise a ``ValueError``; here they
    raise the same class of error without claiming to be a transformer."""

    transform = _not_for_samples("transform", "it does not transform X")
    fit_transform = _not_for_samples(
        "fit_transform", "fit it, then use the picks, as it does not transform X"
    )
    inverse_transform = _not_for_samples("inverse_transform", "it does not transform X")


def _orthonormal_span(columns: np.ndarray, tolerance: float) -> np.ndarray:
    """An orthonormal basis of the span of ``columns``, built column by column in
    their order; a column whose part outside the earlier ones is shorter than
    ``tolerance`` adds nothing (scikit-matter's sequential orthogonalisation skips
    such picks the same way)."""
    length, count = columns.shape
    basis = np.empty((length, count))
    rank = 0
    for j in range(count):
        vector = np.array(columns[:, j], dtype=np.float64)
        for _ in range(2):  # a second pass restores orthogonality lost to rounding
            vector -= basis[:, :rank] @ (basis[:, :rank].T @ vector)
        norm = float(np.linalg.norm(vector))
        if norm >= tolerance and norm > 0:
            basis[:, rank] = vector / norm
            rank += 1
    return basis[:, :rank]


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


class CURResiduals:
    """scikit-matter's ``X_current_`` for CUR: X with the picked samples' (rows')
    or features' (columns') span projected out, computed when read.

    The training X is kept by reference at fit (never for a dask array, which is
    not read into the selector's memory for this)."""

    def fit(self, X, y=None, warm_start=None, *, selected=None):
        self._training_data = None
        super().fit(X, y, warm_start, selected=selected)
        if is_dask_array(X):
            self._training_data = None
        return self

    fit.__doc__ = GreedySelector.fit.__doc__

    def _validate(self, X, y):
        X, y = super()._validate(X, y)
        self._training_data = (X, y)
        return X, y

    def _training(self):
        check_is_fitted(self, "selected_idx_")
        data = getattr(self, "_training_data", None)
        if data is None:
            raise AttributeError(
                f"{type(self).__name__} was fitted on a dask array: the residuals "
                "of the training data (X_current_, y_current_, X_ref_, y_ref_) "
                "are only kept for in-memory X."
            )
        return data

    def _picked(self, X) -> np.ndarray:
        """The picked samples (rows) or features (columns) of X, dense."""
        picks = self.selected_idx_
        return _dense(X[picks] if self._axis == 0 else X[:, picks])

    @property
    def X_current_(self) -> np.ndarray:
        """The training X orthogonalised by the picks: every row (sample
        selection) or column (feature selection) without its part in the span of
        the picked rows or columns; X itself with ``recompute_every=0``, which
        never orthogonalises. Computed on access, in X's dtype."""
        X, _ = self._training()
        dense = _dense(X)
        if self.recompute_every == 0:
            return dense.copy()
        picked = self._picked(X)
        if self._axis == 0:
            basis = _orthonormal_span(picked.T, self.tolerance)
            residual = dense - (dense @ basis) @ basis.T
        else:
            basis = _orthonormal_span(picked, self.tolerance)
            residual = dense - basis @ (basis.T @ dense)
        return residual.astype(dense.dtype, copy=False)


class PCovCURResiduals(CURResiduals):
    """PCov-CUR's further scikit-matter names: ``y_current_``, ``X_ref_`` and
    ``y_ref_``."""

    @property
    def X_ref_(self):
        """The training X (as validated: the array given, unless it had to be
        converted)."""
        return self._training()[0]

    @property
    def y_ref_(self) -> np.ndarray:
        """The training targets, as a 2-D array (one column per target)."""
        return self._training()[1]

    @property
    def y_current_(self) -> np.ndarray:
        """The targets the picks do not explain, of shape (n_samples, n_targets).

        Sample selection: ``Y − X lstsq(X_S, Y_S)``, the least squares on the
        picked samples S (singular values below ``tolerance`` relative to the
        largest are cut). Feature selection: ``Y`` minus its projection on the
        picked columns X_S, ``X_S (X_SᵀX_S)⁺ X_Sᵀ Y`` (pseudo-inverse with the
        relative cut-off ``tolerance``). ``recompute_every=0`` never
        orthogonalises: Y itself."""
        X, targets = self._training()
        if self.recompute_every == 0:
            return targets.copy()
        picked = self._picked(X)
        if self._axis == 0:
            coefficients = np.linalg.lstsq(
                picked, targets[self.selected_idx_], rcond=self.tolerance
            )[0]
            return targets - np.asarray(X @ coefficients)
        gram = picked.T @ picked
        inverse = np.linalg.pinv(gram, rcond=self.tolerance, hermitian=True)
        return targets - picked @ (inverse @ (picked.T @ targets))
