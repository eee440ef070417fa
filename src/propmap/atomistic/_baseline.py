"""A per-element composition baseline for extensive properties."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["CompositionBaseline", "composition_counts"]


def composition_counts(structures, species) -> np.ndarray:
    """How many atoms of each element (atomic numbers ``species``) every structure
    has, shape (n_structures, n_species); a ValueError names elements outside
    ``species``."""
    species = np.asarray(species)
    counts = np.zeros((len(structures), species.size))
    unknown: set[int] = set()
    for row, atoms in enumerate(structures):
        numbers, how_many = np.unique(atoms.numbers, return_counts=True)
        columns = np.searchsorted(species, numbers)
        known = (columns < species.size) & (
            species[np.minimum(columns, species.size - 1)] == numbers
        )
        unknown.update(int(z) for z in numbers[~known])
        counts[row, columns[known]] = how_many[known]
    if unknown:
        from ase.data import chemical_symbols

        names = ", ".join(chemical_symbols[z] for z in sorted(unknown))
        raise ValueError(
            f"elements {names} are not among the baseline's fitted elements "
            f"({', '.join(chemical_symbols[z] for z in species)})."
        )
    return counts


class CompositionBaseline(RegressorMixin, BaseEstimator):
    """One value per element, fitted by least squares so that a structure's
    property is approximated by the sum over its atoms: the usual baseline of
    extensive properties such as total energies (the atomisation-energy
    reference, learned from the data).

    Parameters
    ----------
    species : sequence of int or None, default=None
        Atomic numbers; None takes the elements of the training structures.

    Attributes
    ----------
    species_ : ndarray of int
        The elements, increasing atomic number.
    element_values_ : ndarray of shape (n_species,)
        Each element's contribution.

    Examples
    --------
    >>> import ase
    >>> from propmap.atomistic import CompositionBaseline
    >>> molecules = [ase.Atoms("H2O"), ase.Atoms("CH4"), ase.Atoms("CO2")]
    >>> baseline = CompositionBaseline().fit(molecules, [-14.0, -24.0, -22.0])
    >>> baseline.predict([ase.Atoms("H2O2")]).round(3)
    array([-20.5])
    """

    def __init__(self, species=None) -> None:
        self.species = species

    def fit(self, X, y):
        """Fit the element values to structures X and their property y.

        Parameters
        ----------
        X : list of ase.Atoms
            The structures.
        y : array-like of shape (n_structures,)
            Their property.

        Returns
        -------
        self : CompositionBaseline
            The fitted baseline.
        """
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (len(X),):
            raise ValueError(
                f"y must have one value per structure ({len(X)}); got {y.shape}."
            )
        if not np.all(np.isfinite(y)):
            raise ValueError("y has NaN or infinite values.")
        if self.species is None:
            species = np.unique(np.concatenate([a.numbers for a in X]))
        else:
            species = np.unique(np.asarray(self.species, dtype=int))
        self.species_ = species
        counts = composition_counts(X, species)
        self.element_values_ = np.linalg.lstsq(counts, y, rcond=None)[0]
        return self

    def predict(self, X) -> np.ndarray:
        """The baseline of each structure: the sum of its atoms' element values.

        Parameters
        ----------
        X : list of ase.Atoms
            The structures.

        Returns
        -------
        ndarray of shape (n_structures,)
            The baseline of each.
        """
        check_is_fitted(self, "element_values_")
        return composition_counts(X, self.species_) @ self.element_values_
