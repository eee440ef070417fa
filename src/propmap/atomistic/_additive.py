"""Additive models: a property as a sum of per-atom contributions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted

from propmap._compat import HasMethods, StrOptions, _fit_context
from propmap.atomistic._soap import SoapFeaturizer, as_structure_list

__all__ = ["AdditiveModel"]


class AdditiveModel(RegressorMixin, BaseEstimator):
    r"""A linear model of a structure property as a sum over its atoms.

    Per-atom features :math:`x_i` (SOAP, remnant, ... from ``featurizer`` with
    ``per="atom"``), optionally preceded by a one-hot of the atom's element
    (``composition=True``: one baseline per element), are summed (or averaged) per
    structure and a linear regressor is fitted on those:
    :math:`\hat{y}_S = \sum_{i \in S} x_i^T w + b`. Atom i then contributes
    :math:`c_i = x_i^T w + b / n_S` (divided by :math:`n_S` too when averaging),
    so the contributions of a structure's atoms add up exactly to its prediction;
    any group of atoms (a functional group, a molecule) contributes the sum of its
    atoms'.

    Parameters
    ----------
    featurizer : transformer or None, default=None
        Makes per-atom features from a list of structures; it must accept
        ``per="atom"`` (as :class:`SoapFeaturizer` and :class:`RemnantFeaturizer`
        do). None means ``SoapFeaturizer()``.
    regressor : estimator or None, default=None
        Linear regressor exposing ``coef_`` (and ``intercept_``) once fitted. None
        means ``Ridge(alpha=1e-6, fit_intercept=False)``.
    aggregate : {"sum", "mean", "molecule"}, default="sum"
        Whether the property is extensive (sum of the atoms'), intensive (mean), or
        per molecule (``"molecule"``: the sum over the structure divided by its
        number of molecules, as a lattice energy per molecule of a crystal; the
        molecules are found by covalent bonds, with the featurizer's
        ``bond_scale`` where it has one). With ``"molecule"`` each atom's
        contribution is per molecule, :math:`c_i = x_i^T w + b\, m_S / n_S`: the
        atoms of a molecule add up to that molecule's value, and the prediction is
        the mean over the structure's :math:`m_S` molecules.
    composition : bool, default=True
        Add one column per element counting its atoms (a per-element baseline).

    Attributes
    ----------
    featurizer_ : transformer
        The fitted per-atom featurizer.
    regressor_ : estimator
        The fitted regressor.
    coef_ : ndarray of shape (n_features,)
        Weights of the per-atom features (composition columns first).
    intercept_ : float
        Per-structure constant (shared out equally between the atoms).
    elements_ : ndarray of int
        Atomic numbers of the composition columns.

    Examples
    --------
    >>> from ase.build import molecule
    >>> from propmap.atomistic import AdditiveModel, SoapFeaturizer
    >>> molecules = [molecule(name) for name in ("CH4", "C2H6", "C3H8", "H2O")]
    >>> energies = [1.0, 1.9, 2.8, 0.5]
    >>> model = AdditiveModel(SoapFeaturizer(cutoff=3.0, max_radial=1, max_angular=1))
    >>> contributions = model.fit(molecules, energies).atom_contributions(molecules)
    >>> bool(abs(contributions[1].sum() - model.predict(molecules)[1]) < 1e-10)
    True
    """

    _parameter_constraints: dict = {
        "featurizer": [HasMethods(["fit", "transform"]), None],
        "regressor": [HasMethods(["fit", "predict"]), None],
        "aggregate": [StrOptions({"sum", "mean", "molecule"})],
        "composition": ["boolean"],
    }

    def __init__(
        self,
        featurizer=None,
        regressor=None,
        aggregate: str = "sum",
        composition: bool = True,
    ) -> None:
        self.featurizer = featurizer
        self.regressor = regressor
        self.aggregate = aggregate
        self.composition = composition

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **featurizer_params):
        """Fit the featurizer and the regressor on structure-level features.

        Parameters
        ----------
        X : list of ase.Atoms
            Structures.
        y : array-like of shape (n_structures,)
            The property of each structure.
        **featurizer_params
            Passed to the featurizer's ``fit`` and ``transform`` (e.g. the gas-phase
            ``molecules`` of :class:`RemnantFeaturizer`).

        Returns
        -------
        self : AdditiveModel
        """
        structures = as_structure_list(X)
        targets = np.asarray(y, dtype=np.float64)
        if targets.ndim != 1 or targets.size != len(structures):
            raise ValueError(
                f"y must have one value per structure ({len(structures)}); got shape "
                f"{targets.shape}."
            )
        if not np.all(np.isfinite(targets)):
            raise ValueError("y contains NaN or infinity.")
        featurizer = SoapFeaturizer() if self.featurizer is None else self.featurizer
        self.featurizer_ = clone(featurizer).set_params(per="atom")
        self.featurizer_.fit(structures, **featurizer_params)
        self.elements_ = np.unique(np.concatenate([a.numbers for a in structures]))
        atom_rows, owners = self._atom_features(structures, featurizer_params)
        design = self._aggregate(atom_rows, owners, structures)
        regressor = (
            Ridge(alpha=1e-6, fit_intercept=False)
            if self.regressor is None
            else self.regressor
        )
        self.regressor_ = clone(regressor).fit(design, targets)
        if not hasattr(self.regressor_, "coef_"):
            raise ValueError(
                "regressor must be a linear model exposing coef_ once fitted; got "
                f"{type(self.regressor_).__name__}."
            )
        self.coef_ = np.asarray(self.regressor_.coef_, dtype=np.float64).ravel()
        self.intercept_ = float(
            np.ravel(getattr(self.regressor_, "intercept_", 0.0))[0]
        )
        return self

    def _atom_features(self, structures, featurizer_params):
        """Per-atom rows (composition one-hot first) and the structure of each."""
        rows = self.featurizer_.transform(structures, **featurizer_params)
        owners = np.repeat(np.arange(len(structures)), [len(a) for a in structures])
        if rows.shape[0] != owners.size:
            raise ValueError(
                f"The featurizer gave {rows.shape[0]} rows for {owners.size} atoms; it "
                "must give one row per atom, in order."
            )
        if self.composition:
            numbers = np.concatenate([a.numbers for a in structures])
            unknown = sorted(set(numbers.tolist()) - set(self.elements_.tolist()))
            if unknown:
                raise ValueError(
                    f"Elements {unknown} were not in the training structures."
                )
            onehot = (numbers[:, None] == self.elements_[None, :]).astype(np.float64)
            rows = (
                sp.hstack([sp.csr_matrix(onehot), rows], format="csr")
                if sp.issparse(rows)
                else np.hstack([onehot, rows])
            )
        return rows, owners

    def _molecule_counts(self, structures) -> np.ndarray:
        """The number of molecules of each structure (``aggregate="molecule"``)."""
        from propmap.atomistic._molecules import find_molecules

        scale = getattr(self.featurizer_, "bond_scale", 1.2)
        return np.array([len(find_molecules(a, scale)) for a in structures], float)

    def _aggregate(self, rows, owners, structures):
        """Sum (mean, or sum per molecule) of the atom rows of each structure."""
        n_structures = len(structures)
        counts = np.bincount(owners, minlength=n_structures).astype(np.float64)
        if self.aggregate == "mean":
            weights = 1.0 / counts[owners]
        elif self.aggregate == "molecule":
            weights = 1.0 / self._molecule_counts(structures)[owners]
        else:
            weights = np.ones_like(owners, dtype=np.float64)
        summing = sp.csr_matrix(
            (weights, (owners, np.arange(owners.size))),
            shape=(n_structures, owners.size),
        )
        design = summing @ rows
        return design.toarray() if sp.issparse(design) else np.asarray(design)

    def atom_contributions(self, X, **featurizer_params) -> list[np.ndarray]:
        """Each atom's contribution, one array per structure; each array sums to
        the structure's prediction (with ``aggregate="molecule"``, each molecule's
        atoms sum to that molecule's value, whose mean is the prediction).

        Parameters
        ----------
        X : list of ase.Atoms
        **featurizer_params
            As for :meth:`fit`.

        Returns
        -------
        contributions : list of ndarray
        """
        check_is_fitted(self, "coef_")
        structures = as_structure_list(X)
        rows, owners = self._atom_features(structures, featurizer_params)
        return self._contributions_of(rows, owners, structures)

    def _contributions_of(self, rows, owners, structures) -> list[np.ndarray]:
        """atom_contributions from the atom rows (of ``_atom_features``)."""
        counts = np.bincount(owners, minlength=len(structures)).astype(np.float64)
        values = np.asarray(rows @ self.coef_).ravel()
        if self.aggregate == "mean":
            values = values / counts[owners]
        share = counts.copy()
        if self.aggregate == "molecule":
            share = counts / self._molecule_counts(structures)
        values = values + self.intercept_ / share[owners]
        return np.split(values, np.cumsum(counts.astype(int))[:-1])

    def group_contributions(self, X, groups, **featurizer_params) -> np.ndarray:
        """The contribution of groups of atoms.

        Parameters
        ----------
        X : list of ase.Atoms
        groups : sequence of (structure index, atom indices)
            Each group's structure and atoms.
        **featurizer_params
            As for :meth:`fit`.

        Returns
        -------
        contributions : ndarray of shape (n_groups,)
        """
        per_atom = self.atom_contributions(X, **featurizer_params)
        result = []
        for number, (structure, atoms) in enumerate(groups):
            if not 0 <= structure < len(per_atom):
                raise ValueError(
                    f"Group {number} refers to structure {structure}, but there are "
                    f"{len(per_atom)}."
                )
            indices = np.asarray(atoms, dtype=np.int64)
            if indices.size and (
                indices.min() < 0 or indices.max() >= len(per_atom[structure])
            ):
                raise ValueError(
                    f"Group {number} has atom indices outside structure {structure} "
                    f"({len(per_atom[structure])} atoms)."
                )
            result.append(float(per_atom[structure][indices].sum()))
        return np.array(result)

    def predict(self, X, **featurizer_params) -> np.ndarray:
        """The property of each structure (the sum of its atom contributions; with
        ``aggregate="molecule"``, that sum divided by its number of molecules).

        Parameters
        ----------
        X : list of ase.Atoms
        **featurizer_params
            As for :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_structures,)
        """
        check_is_fitted(self, "coef_")
        structures = as_structure_list(X)
        rows, owners = self._atom_features(structures, featurizer_params)
        design = self._aggregate(rows, owners, structures)
        return design @ self.coef_ + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
