"""Invariant density correlations of body order 3 and up (featomic's
Clebsch–Gordan iterations) as a scikit-learn transformer with fixed columns."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from propmap._compat import Interval, _fit_context
from propmap._requirements import require
from propmap.atomistic._soap import SoapFeaturizer, _symbol

__all__ = ["DensityCorrelationFeaturizer"]


class DensityCorrelationFeaturizer(SoapFeaturizer):
    r"""Rotationally invariant correlations of ν = ``body_order`` − 1 copies of
    each atom's neighbour density (ACDC / NICE features), with fixed columns.

    Each atom's density :math:`\rho^c_{a n l m}` (neighbour species a, radial n,
    angular l, m) is the SOAP spherical expansion; featomic's
    ``clebsch_gordan.DensityCorrelations`` couples ν copies of it by
    Clebsch–Gordan products, and the invariant (λ = 0, σ = +1) blocks are kept.
    ``body_order=3`` (ν = 2) is the SOAP power spectrum; ``body_order=4`` (ν = 3)
    the bispectrum, which tells apart environments that the power spectrum
    cannot. A block is one centre species and one path of angular channels
    (``l_1, l_2, k_2, l_3, ...``); its columns are every combination of (species,
    radial) of the ν densities, so the width grows as (species × (max_radial +
    1))^ν: keep ``max_radial`` and ``max_angular`` small, or reduce the columns
    afterwards (e.g. by :class:`~propmap.feature_selection.PCovCUR`).

    Relation to :class:`SoapFeaturizer` at ``body_order=3``: the column
    ``c|l_1=l,l_2=l|a:n|b:n'`` equals the power spectrum's ``c|a-b|n|n'|l`` for
    a = b, and that divided by √2 for a ≠ b, where both orders a/b and b/a are
    columns (the power spectrum folds them into one): the two give the same
    linear kernel.

    Parameters
    ----------
    body_order : int, default=4
        ν + 1: 3 is the power spectrum, 4 the bispectrum, 5 and up higher orders.
    cutoff, max_radial, max_angular, atomic_gaussian_width, cutoff_smoothing, \
radial_scaling, center_atom_weight, species, per, sparse_output, batch_size, \
progress
        As for :class:`SoapFeaturizer` (defaults: ``max_radial=2``,
        ``max_angular=2``, ``batch_size=200``).
    angular_cutoff : int or None, default=None
        Largest angular channel λ kept between iterations (None: ``max_angular``).

    Attributes
    ----------
    species_ : ndarray of int
        Atomic numbers of the fixed species, increasing.
    keys_ : ndarray of shape (n_blocks, 1 + n_path)
        Centre atomic number and angular path of each block.
    key_names_ : list of str
        The names of ``keys_``' columns (``center_type``, ``l_1``, ...).
    block_properties_ : list of ndarray
        Per block, its columns' (species, radial) of each of the ν densities.
    n_features_out_ : int
        Number of columns.

    Examples
    --------
    >>> from ase.build import molecule
    >>> from propmap.atomistic import DensityCorrelationFeaturizer
    >>> bispectrum = DensityCorrelationFeaturizer(cutoff=3.0, max_radial=1,
    ...                                           max_angular=1)
    >>> features = bispectrum.fit_transform([molecule("H2O"), molecule("NH3")])
    >>> features.shape[0], bispectrum.get_feature_names_out()[0]
    (2, 'H|l_1=0,l_2=0,k_2=0,l_3=0|H:n0|H:n0|H:n0')
    """

    _parameter_constraints: dict = {
        **SoapFeaturizer._parameter_constraints,
        "body_order": [Interval(Integral, 3, None, closed="left")],
        "angular_cutoff": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        body_order: int = 4,
        cutoff: float = 5.0,
        max_radial: int = 2,
        max_angular: int = 2,
        atomic_gaussian_width: float = 0.3,
        cutoff_smoothing: float = 0.5,
        radial_scaling: dict | None = None,
        center_atom_weight: float = 1.0,
        species=None,
        angular_cutoff: int | None = None,
        per: str = "structure",
        sparse_output: bool = False,
        batch_size: int = 200,
        progress: bool = False,
    ) -> None:
        super().__init__(
            cutoff=cutoff,
            max_radial=max_radial,
            max_angular=max_angular,
            atomic_gaussian_width=atomic_gaussian_width,
            cutoff_smoothing=cutoff_smoothing,
            radial_scaling=radial_scaling,
            center_atom_weight=center_atom_weight,
            species=species,
            per=per,
            sparse_output=sparse_output,
            batch_size=batch_size,
            progress=progress,
        )
        self.body_order = body_order
        self.angular_cutoff = angular_cutoff

    _progress_name = "density correlations"

    def _calculator(self):
        featomic = require("featomic", "atomistic")
        return featomic.SphericalExpansion(**self.hypers())

    def _correlator(self):
        require("featomic", "atomistic")
        from featomic.clebsch_gordan import DensityCorrelations

        return DensityCorrelations(
            n_correlations=self.body_order - 2, max_angular=self._angular_cutoff()
        )

    def _angular_cutoff(self) -> int:
        return self.max_angular if self.angular_cutoff is None else self.angular_cutoff

    def _invariants(self, batch):
        """The invariant blocks of one batch, every neighbour species a column."""
        metatensor = require("metatensor", "atomistic")
        density = self._calculator().compute(batch)
        density = density.keys_to_properties(
            metatensor.Labels(["neighbor_type"], self.species_.reshape(-1, 1))
        )
        invariant = metatensor.Labels(["o3_lambda", "o3_sigma"], np.array([[0, 1]]))
        return self._correlator().compute(
            density, angular_cutoff=self._angular_cutoff(), selected_keys=invariant
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fix the species, and so the blocks and columns.

        Parameters
        ----------
        X : ase.Atoms or list of ase.Atoms
            Training structures (their elements, unless ``species`` is given).
        y : None
            Ignored.

        Returns
        -------
        self : DensityCorrelationFeaturizer
        """
        import ase

        self._fix_species(X)
        # the blocks and columns featomic makes for these species, from one
        # structure holding each of them once (they do not depend on positions)
        probe = ase.Atoms(
            numbers=self.species_,
            positions=[
                [0.9 * k, 0.3 * (k % 2), 0.0] for k in range(len(self.species_))
            ],
        )
        blocks = self._invariants([probe])
        names = [n for n in blocks.keys.names if n not in ("o3_lambda", "o3_sigma")]
        self.key_names_ = names
        keys, properties = [], []
        for key, block in blocks.items():
            keys.append([int(key[name]) for name in names])
            properties.append(np.asarray(block.properties.values, dtype=np.int32))
        order = np.lexsort(np.array(keys).T[::-1])
        self.keys_ = np.array(keys, dtype=np.int32)[order]
        self.block_properties_ = [properties[k] for k in order]
        self.property_names_ = list(blocks.block(0).properties.names)
        self.n_features_out_ = int(sum(len(p) for p in self.block_properties_))
        return self

    def _block_starts(self) -> np.ndarray:
        return np.concatenate(
            [[0], np.cumsum([len(p) for p in self.block_properties_])]
        )

    def _blocks(self, batch):
        block_index = {tuple(key): k for k, key in enumerate(self.keys_.tolist())}
        for key, block in self._invariants(batch).items():
            if block.values.shape[0] == 0:
                continue
            k = block_index[tuple(int(key[name]) for name in self.key_names_)]
            values = block.values[:, 0, :]  # one component: λ = 0
            expected = self.block_properties_[k]
            found = block.properties.values
            if not np.array_equal(found, expected):
                position = {tuple(p): i for i, p in enumerate(found.tolist())}
                values = values[:, [position[tuple(p)] for p in expected.tolist()]]
            yield k, block.samples.values, values

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``centre|angular path|species:n|...`` for every column, e.g.
        ``'C|l_1=1,l_2=1,k_2=0,l_3=0|H:n0|C:n1|O:n0'``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "keys_")
        names = []
        path_names = self.key_names_[1:]
        for key, properties in zip(self.keys_, self.block_properties_, strict=True):
            path = ",".join(
                f"{name}={value}"
                for name, value in zip(path_names, key[1:], strict=True)
            )
            for row in properties:
                densities = "|".join(
                    f"{_symbol(row[2 * k])}:n{row[2 * k + 1]}"
                    for k in range(len(row) // 2)
                )
                names.append(f"{_symbol(key[0])}|{path}|{densities}")
        return np.array(names, dtype=object)
