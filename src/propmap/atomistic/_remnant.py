r"""Remnant features: an atom's environment in a condensed phase minus its
environment in the isolated molecule."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from propmap._compat import HasMethods, Interval, StrOptions, _fit_context
from propmap.atomistic._io import as_structure_list
from propmap.atomistic._soap import SoapFeaturizer

__all__ = ["RemnantFeaturizer"]


class RemnantFeaturizer(TransformerMixin, BaseEstimator):
    r"""Per-atom SOAP features of a crystal (or cluster) minus those of the same
    atoms in their isolated molecules: :math:`x_i^{rem} = x_i^{crystal} -
    x_i^{molecule}`.

    Intramolecular structure cancels and what remains describes the intermolecular
    environment, so it vanishes for molecules far apart. The molecules are found
    by covalent connectivity (across periodic boundaries) and cut out of the
    structure, or taken from user-given gas-phase (e.g. relaxed) molecules in any
    atom order: their atoms are matched to the structure's by the bond graph and
    geometry (:func:`~propmap.atomistic.match_molecule`).

    Parameters
    ----------
    featurizer : SoapFeaturizer or None, default=None
        The per-atom features (its ``per`` is set here). None: ``SoapFeaturizer()``.
    per : {"atom", "structure", "sum"}, default="atom"
        One row per atom, or per structure (mean or sum over its atoms).
    bond_scale : float, default=1.2
        Atoms closer than ``bond_scale`` times the sum of their covalent radii are
        bonded (molecule detection).

    Attributes
    ----------
    featurizer_ : SoapFeaturizer
        The fitted per-atom featurizer; its columns are this transformer's.
    n_features_out_ : int

    Examples
    --------
    >>> from ase.build import molecule
    >>> from propmap.atomistic import RemnantFeaturizer, SoapFeaturizer
    >>> first, second = molecule("H2O"), molecule("H2O")
    >>> second.translate([0.0, 0.0, 20.0])  # far apart: nothing remains
    >>> pair = first + second
    >>> soap = SoapFeaturizer(cutoff=4.0, max_radial=2, max_angular=2)
    >>> remnant = RemnantFeaturizer(soap).fit([pair]).transform([pair])
    >>> float(abs(remnant).max())
    0.0
    """

    _parameter_constraints: dict = {
        "featurizer": [HasMethods(["fit", "transform"]), None],
        "per": [StrOptions({"atom", "structure", "sum"})],
        "bond_scale": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, featurizer=None, per: str = "atom", bond_scale: float = 1.2):
        self.featurizer = featurizer
        self.per = per
        self.bond_scale = bond_scale

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, molecules=None):
        """Fix the featurizer's species from the structures (and molecules).

        Parameters
        ----------
        X : list of ase.Atoms
            Crystals or clusters of molecules.
        y : None
            Ignored.
        molecules : see :meth:`transform`

        Returns
        -------
        self : RemnantFeaturizer
        """
        structures = as_structure_list(X)
        featurizer = SoapFeaturizer() if self.featurizer is None else self.featurizer
        self.featurizer_ = clone(featurizer).set_params(per="atom", sparse_output=False)
        self.featurizer_.fit(structures)
        self.n_features_out_ = self.featurizer_.n_features_out_
        return self

    def transform(self, X, molecules=None):
        """Remnant features.

        Parameters
        ----------
        X : list of ase.Atoms
            Crystals or clusters.
        molecules : None or list, default=None
            None: molecules are cut out of each structure. Otherwise one entry per
            structure: a single ``ase.Atoms`` (the gas-phase molecule, used for every
            molecule of the structure) or a list of them, one per molecule in order
            of first atom. Their atoms may be in any order.

        Returns
        -------
        features : ndarray
            (n_atoms_total, n_features_out_), or (n_structures, n_features_out_).
        """
        check_is_fitted(self, "featurizer_")
        structures = as_structure_list(X)
        if molecules is not None and len(molecules) != len(structures):
            raise ValueError(
                f"molecules has {len(molecules)} entries for {len(structures)} "
                "structures."
            )
        from propmap.atomistic._molecules import extract_molecule, find_molecules

        gas_phase, placement = [], []
        for s, atoms in enumerate(structures):
            groups = find_molecules(atoms, scale=self.bond_scale)
            given = None if molecules is None else molecules[s]
            for m, indices in enumerate(groups):
                reference = _reference_molecule(
                    atoms, indices, given, s, m, self.bond_scale
                )
                if reference is None:
                    reference = extract_molecule(atoms, indices)
                gas_phase.append(reference)
                placement.append((s, np.asarray(indices)))
        condensed = self.featurizer_.transform(structures)
        isolated = self.featurizer_.transform(gas_phase)
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in structures])])
        remnant = condensed.copy()
        row = 0
        for (s, indices), molecule in zip(placement, gas_phase, strict=True):
            remnant[offsets[s] + indices] -= isolated[row : row + len(molecule)]
            row += len(molecule)
        if self.per == "atom":
            return remnant
        counts = np.diff(offsets)
        sums = np.add.reduceat(remnant, offsets[:-1], axis=0)
        return sums / counts[:, None] if self.per == "structure" else sums

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The featurizer's column names.

        Parameters
        ----------
        input_features : None
            Ignored (the names come from the fitted settings).

        Returns
        -------
        ndarray of str of shape (n_features_out,)
            One name per column.
        """
        check_is_fitted(self, "featurizer_")
        return self.featurizer_.get_feature_names_out()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


def _reference_molecule(atoms, indices, given, structure, number, scale):
    """The user's gas-phase molecule for molecule ``number`` of a structure, its
    atoms matched to those it stands for (by bonds, then geometry); None to cut
    it from the structure."""
    if given is None:
        return None
    import ase

    if isinstance(given, ase.Atoms):
        reference = given
    else:
        given = list(given)
        if number >= len(given):
            raise ValueError(
                f"Structure {structure} has more molecules than the {len(given)} "
                "given for it."
            )
        reference = given[number]
    from propmap.atomistic._molecules import extract_molecule, match_molecule

    cut = extract_molecule(atoms, indices, scale)
    try:
        reference = match_molecule(reference, cut, scale)
    except ValueError as error:
        raise ValueError(
            f"The gas-phase molecule for molecule {number} of structure {structure} "
            f"does not match it: {error}"
        ) from None
    reference = reference.copy()
    reference.pbc = False
    reference.cell = None
    return reference
