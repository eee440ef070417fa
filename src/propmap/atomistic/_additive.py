"""Additive models: a property as a sum of per-atom contributions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted

from propmap._compat import HasMethods, StrOptions, _fit_context
from propmap.atomistic._io import as_structure_list
from propmap.atomistic._soap import SoapFeaturizer
from propmap.decomposition._uncertainty import LinearPosterior, ridge_penalty

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
    uncertainty : bool, default=True
        Keep the ridge's posterior (a regressor with one penalty, ``alpha`` or
        ``alpha_``: ``Ridge``, ``RidgeCV``) for ``return_std``: one
        eigendecomposition of the smaller of ``DᵀD`` and ``DDᵀ`` (D the
        structures' features) at fit, and the noise level from the exact
        leave-one-out errors. Other regressors fit without one.

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
    posterior_ : LinearPosterior or None
        The ridge's posterior and noise level (``noise_std_``), or None.
    noise_std_ : float or None
        s, from the leave-one-out errors: σ² = s²(1 + q) for a structure, s² q
        for a contribution (see :meth:`predict`).

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
        "uncertainty": ["boolean"],
    }

    def __init__(
        self,
        featurizer=None,
        regressor=None,
        aggregate: str = "sum",
        composition: bool = True,
        uncertainty: bool = True,
    ) -> None:
        self.featurizer = featurizer
        self.regressor = regressor
        self.aggregate = aggregate
        self.composition = composition
        self.uncertainty = uncertainty

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
        atom_rows, owners = self.atom_features(structures, **featurizer_params)
        design = self.aggregate_atoms(atom_rows, owners, structures)
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
        self.posterior_ = None
        if self.uncertainty and ridge_penalty(self.regressor_) is not None:
            self.posterior_ = LinearPosterior.of(self.regressor_, design, targets)
        self.noise_std_ = None if self.posterior_ is None else self.posterior_.noise_std
        return self

    def atom_features(self, X, **featurizer_params):
        """The per-atom rows the model sums (composition one-hot first) and the
        structure of each atom.

        Parameters
        ----------
        X : list of ase.Atoms
        **featurizer_params
            As for :meth:`fit`.

        Returns
        -------
        rows : ndarray or sparse matrix of shape (n_atoms, n_features)
        owners : ndarray of int, shape (n_atoms,)
            The position in X of each atom's structure.
        """
        check_is_fitted(self, "featurizer_")
        structures = as_structure_list(X)
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

    def aggregate_atoms(self, rows, owners, X):
        """The structures' features the regressor sees: the sum (mean, or sum
        per molecule, by ``aggregate``) of each structure's atom rows.

        Parameters
        ----------
        rows : ndarray or sparse matrix of shape (n_atoms, n_features)
            The atoms' rows, as returned by :meth:`atom_features`.
        owners : ndarray of int of shape (n_atoms,)
            The position in X of each atom's structure, as returned by
            :meth:`atom_features`.
        X : list of ase.Atoms
            The structures (their number, and their molecules for
            ``aggregate="molecule"``).

        Returns
        -------
        design : ndarray of shape (n_structures, n_features)
            One row per structure.
        """
        structures = as_structure_list(X)
        n_structures = len(structures)
        weights = self._atom_weights(owners, structures)
        summing = sp.csr_matrix(
            (weights, (owners, np.arange(owners.size))),
            shape=(n_structures, owners.size),
        )
        design = summing @ rows
        return design.toarray() if sp.issparse(design) else np.asarray(design)

    def _atom_weights(self, owners, structures) -> np.ndarray:
        """Each atom row's weight in its structure's features."""
        counts = np.bincount(owners, minlength=len(structures)).astype(np.float64)
        if self.aggregate == "mean":
            return 1.0 / counts[owners]
        if self.aggregate == "molecule":
            return 1.0 / self._molecule_counts(structures)[owners]
        return np.ones_like(owners, dtype=np.float64)

    def atom_contributions(self, X, return_std: bool = False, **featurizer_params):
        """Each atom's contribution, one array per structure; each array sums to
        the structure's prediction (with ``aggregate="molecule"``, each molecule's
        atoms sum to that molecule's value, whose mean is the prediction).

        Parameters
        ----------
        X : list of ase.Atoms
        return_std : bool, default=False
            Also the standard deviation of each contribution (see
            :meth:`contributions`).
        **featurizer_params
            As for :meth:`fit`.

        Returns
        -------
        contributions : list of ndarray
        stds : list of ndarray
            Only with ``return_std=True``.
        """
        check_is_fitted(self, "coef_")
        structures = as_structure_list(X)
        rows, owners = self.atom_features(structures, **featurizer_params)
        return self.contributions(rows, owners, structures, return_std=return_std)

    def contributions(self, rows, owners, X, return_std: bool = False):
        """The atoms' contributions from their rows (of :meth:`atom_features`),
        one array per structure.

        An atom contributes ``c_i = a_iᵀw + b v_i``, with a_i its row as it
        enters its structure's features (divided by n_S for a mean) and v_i its
        share of the intercept (1/n_S, or m_S/n_S per molecule). Its standard
        deviation is that of the fitted weights along it, ``s sqrt(q_i)``, with
        ``q_i = (a_i − v_i μ)ᵀ(D̃ᵀD̃ + λI)⁻¹(a_i − v_i μ) + v_i²/n`` (the
        posterior of the ridge, no noise term: a contribution is not measured).

        Parameters
        ----------
        rows : ndarray or sparse matrix of shape (n_atoms, n_features)
            The atoms' rows, as returned by :meth:`atom_features`.
        owners : ndarray of int of shape (n_atoms,)
            The position in X of each atom's structure, as returned by
            :meth:`atom_features`.
        X : list of ase.Atoms
            The structures.
        return_std : bool, default=False

        Returns
        -------
        contributions : list of ndarray
        stds : list of ndarray
            Only with ``return_std=True``.
        """
        check_is_fitted(self, "coef_")
        structures = as_structure_list(X)
        counts = np.bincount(owners, minlength=len(structures)).astype(np.float64)
        values, stds = self._shares(
            self._scaled_rows(rows, owners, structures),
            self._intercept_shares(owners, structures),
            return_std,
        )
        cuts = np.cumsum(counts.astype(int))[:-1]
        if not return_std:
            return np.split(values, cuts)
        return np.split(values, cuts), np.split(stds, cuts)

    def _shares(self, rows, weight, return_std: bool):
        """The contributions ``rowsᵀw + b weight`` of atoms (or of groups of
        them: their rows and weights summed) and, with ``return_std``, their
        standard deviations ``s sqrt(q)`` (else None)."""
        values = np.asarray(rows @ self.coef_).ravel() + self.intercept_ * weight
        if not return_std:
            return values, None
        variance = self._posterior().variance(rows, weight=weight)
        return values, self.noise_std_ * np.sqrt(variance)

    def _scaled_rows(self, rows, owners, structures):
        """The atom rows as they enter their structures' features (divided by
        n_S for a mean; a sum per molecule keeps them whole: each molecule's
        atoms add up to its value)."""
        if self.aggregate != "mean":
            return rows
        weights = self._atom_weights(owners, structures)
        return (
            sp.diags(weights) @ rows if sp.issparse(rows) else rows * weights[:, None]
        )

    def _intercept_shares(self, owners, structures) -> np.ndarray:
        """Each atom's share of the intercept: 1/n_S, or m_S/n_S per molecule."""
        counts = np.bincount(owners, minlength=len(structures)).astype(np.float64)
        share = counts
        if self.aggregate == "molecule":
            share = counts / self._molecule_counts(structures)
        return 1.0 / share[owners]

    def _posterior(self):
        if getattr(self, "posterior_", None) is None:
            raise ValueError(
                "return_std=True needs the ridge's posterior: a regressor with one "
                "penalty alpha > 0 (Ridge, RidgeCV) and uncertainty=True."
            )
        return self.posterior_

    def group_contributions(
        self, X, groups, return_std: bool = False, **featurizer_params
    ):
        """The contribution of groups of atoms.

        Parameters
        ----------
        X : list of ase.Atoms
        groups : sequence of (structure index, atom indices)
            Each group's structure and atoms.
        return_std : bool, default=False
            Also each group's standard deviation: that of the sum of its atoms'
            contributions (their rows summed, see :meth:`contributions`).
        **featurizer_params
            As for :meth:`fit`.

        Returns
        -------
        contributions : ndarray of shape (n_groups,)
        stds : ndarray of shape (n_groups,)
            Only with ``return_std=True``.
        """
        check_is_fitted(self, "coef_")
        structures = as_structure_list(X)
        sizes = [len(a) for a in structures]
        starts = np.r_[0, np.cumsum(sizes)]
        members = []
        for number, (structure, atoms) in enumerate(groups):
            if not 0 <= structure < len(structures):
                raise ValueError(
                    f"Group {number} refers to structure {structure}, but there are "
                    f"{len(structures)}."
                )
            indices = np.asarray(atoms, dtype=np.int64)
            size = sizes[structure]
            if indices.size and (indices.min() < 0 or indices.max() >= size):
                raise ValueError(
                    f"Group {number} has atom indices outside structure {structure} "
                    f"({size} atoms)."
                )
            members.append(starts[structure] + indices)
        rows, owners = self.atom_features(structures, **featurizer_params)
        # each group's rows and intercept shares summed: its contribution is
        # their sum's (the model is linear), and so is its posterior
        picking = sp.csr_matrix(
            (
                np.ones(sum(m.size for m in members)),
                (
                    np.repeat(np.arange(len(members)), [m.size for m in members]),
                    np.concatenate(members) if members else np.zeros(0, int),
                ),
            ),
            shape=(len(members), owners.size),
        )
        values, stds = self._shares(
            picking @ self._scaled_rows(rows, owners, structures),
            picking @ self._intercept_shares(owners, structures),
            return_std,
        )
        return (values, stds) if return_std else values

    def predict(self, X, return_std: bool = False, **featurizer_params):
        """The property of each structure (the sum of its atom contributions; with
        ``aggregate="molecule"``, that sum divided by its number of molecules).

        Parameters
        ----------
        X : list of ase.Atoms
        return_std : bool, default=False
            Also the standard deviation of each prediction, ``s sqrt(1 + q)``:
            q the ridge's posterior variance of the structure's features (with
            ``1/n`` for the intercept), s the noise level ``noise_std_``.
        **featurizer_params
            As for :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_structures,)
        y_std : ndarray of shape (n_structures,)
            Only with ``return_std=True``.
        """
        check_is_fitted(self, "coef_")
        structures = as_structure_list(X)
        rows, owners = self.atom_features(structures, **featurizer_params)
        design = self.aggregate_atoms(rows, owners, structures)
        predicted = design @ self.coef_ + self.intercept_
        if not return_std:
            return predicted
        variance = self._posterior().variance(design)
        return predicted, self.noise_std_ * np.sqrt(1.0 + variance)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
