"""Invariant density correlations of body order 3 and up (featomic's
Clebsch–Gordan iterations) as a scikit-learn transformer with fixed columns."""

from __future__ import annotations

import functools
import warnings
from numbers import Integral

import numpy as np

from propmap._compat import Interval, StrOptions, _fit_context
from propmap._requirements import require
from propmap.atomistic._io import as_structure_list
from propmap.atomistic._soap import SoapFeaturizer, _symbol, in_column_order

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
    1))^ν. ``compression`` bounds it (NICE, Nigam et al. 2020): every
    intermediate product is reduced to a fixed number of columns per block
    before the next one, so that the width stays the same at any body order.

    Relation to :class:`SoapFeaturizer` at ``body_order=3``: the column
    ``c|l_1=l,l_2=l|a:n|b:n'`` equals the power spectrum's ``c|a-b|n|n'|l`` for
    a = b, and that divided by √2 for a ≠ b, where both orders a/b and b/a are
    columns (the power spectrum folds them into one): the two give the same
    linear kernel.

    Parameters
    ----------
    body_order : int, default=4
        ν + 1: 3 is the power spectrum, 4 the bispectrum, 5 and up higher orders.
    cutoff : float, default=5.0
        As for :class:`SoapFeaturizer`.
    max_radial : int, default=2
        As for :class:`SoapFeaturizer`.
    max_angular : int, default=2
        As for :class:`SoapFeaturizer`.
    atomic_gaussian_width : float, default=0.3
        As for :class:`SoapFeaturizer`.
    cutoff_smoothing : float, default=0.5
        As for :class:`SoapFeaturizer`.
    radial_scaling : dict or None, default=None
        As for :class:`SoapFeaturizer`.
    center_atom_weight : float, default=1.0
        As for :class:`SoapFeaturizer`.
    species : sequence of int or None, default=None
        As for :class:`SoapFeaturizer`.
    per : {"structure", "atom"}, default="structure"
        As for :class:`SoapFeaturizer`.
    sparse_output : bool, default=False
        As for :class:`SoapFeaturizer`.
    batch_size : int, default=200
        As for :class:`SoapFeaturizer`.
    progress : bool, default=False
        As for :class:`SoapFeaturizer`.
    angular_cutoff : int or None, default=None
        Largest angular channel λ kept between iterations (None: ``max_angular``).
    compression : int or None, default=None
        NICE-style: after each intermediate iteration, keep this many columns of
        every (λ, σ, centre) block (its angular paths merged into the columns),
        so that the width stops growing as (species × radial)^ν. The maps are
        fitted on the training structures, one pass per iteration, from each
        block's uncentred Gram matrix ``Σ MᵀM`` (M: the block's rows and m
        components) and act on the columns only, so every feature stays
        invariant. None: the full products.
    compressor : {"pca", "cur"}, default="pca"
        How a block is compressed: onto its top principal directions (uncentred),
        or to the columns :class:`~propmap.feature_selection.CUR` picks.

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
        "compression": [Interval(Integral, 1, None, closed="left"), None],
        "compressor": [StrOptions({"pca", "cur"})],
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
        compression: int | None = None,
        compressor: str = "pca",
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
        self.compression = compression
        self.compressor = compressor

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

    def _density(self, batch):
        """ρ of one batch, every neighbour species a column."""
        metatensor = require("metatensor", "atomistic")
        density = self._calculator().compute(batch)
        return density.keys_to_properties(
            metatensor.Labels(["neighbor_type"], self.species_.reshape(-1, 1))
        )

    def _invariants(self, batch):
        """The invariant blocks of one batch, every neighbour species a column."""
        metatensor = require("metatensor", "atomistic")
        density = self._density(batch)
        if self.compression is not None:
            return self._iterate(density, self.body_order - 1)
        invariant = metatensor.Labels(["o3_lambda", "o3_sigma"], np.array([[0, 1]]))
        return self._correlator().compute(
            density, angular_cutoff=self._angular_cutoff(), selected_keys=invariant
        )

    # -- NICE-style iterations with compression

    def _iterate(self, density, order: int):
        """Products of ``density`` up to correlation order ``order`` (2 ... ν),
        each intermediate one compressed by the maps fitted so far; at ν only
        the invariant blocks. Blocks keyed (λ, σ, centre); the angular paths are
        columns."""
        metatensor = require("metatensor", "atomistic")
        cutoff = self._angular_cutoff()
        product = _cg_product(2 * max(cutoff, self.max_angular))
        current = _renamed(density, 1)
        for step in range(2, order + 1):
            last = step == self.body_order - 1
            wanted = (
                np.array([[0, 1]])
                if last
                else np.array(
                    [[lam, sigma] for lam in range(cutoff + 1) for sigma in (-1, 1)]
                )
            )
            names = ("l_1", "l_2") if step == 2 else (f"k_{step - 1}", f"l_{step}")
            current = product.compute(
                current, _renamed(density, step), *names,
                selected_keys=metatensor.Labels(["o3_lambda", "o3_sigma"], wanted),
            )  # fmt: skip
            current = current.keys_to_properties(list(names))
            if not last and step - 2 < len(self.compressions_):
                current = _compress(current, self.compressions_[step - 2], step)
        return current

    def _fit_compressions(self, structures) -> None:
        """The compression of every intermediate iteration, in order: one pass
        over the training batches each, summing every block's Gram matrix."""
        from propmap._dask import root_of_gram

        self.compressions_ = []
        for step in range(2, self.body_order - 1):
            grams: dict = {}
            for start in range(0, len(structures), self.batch_size):
                blocks = self._iterate(
                    self._density(structures[start : start + self.batch_size]), step
                )
                for key, block in blocks.items():
                    rows = block.values.reshape(-1, block.values.shape[-1])
                    gram = rows.T @ rows
                    name = tuple(int(v) for v in key.values)
                    grams[name] = grams[name] + gram if name in grams else gram
            maps = {}
            for name, gram in grams.items():
                kept = min(self.compression, gram.shape[0])
                if self.compressor == "pca":
                    values, vectors = np.linalg.eigh(gram)
                    maps[name] = vectors[:, np.argsort(values)[::-1][:kept]]
                else:
                    from propmap.feature_selection import CUR

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        picked = CUR(n_to_select=kept).fit(root_of_gram(gram))
                    maps[name] = np.eye(gram.shape[0])[:, picked.selected_idx_]
            self.compressions_.append(maps)

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
        self.compressions_ = []
        if self.compression is not None:
            self._fit_compressions(as_structure_list(X))
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
            values = in_column_order(  # one component: λ = 0
                block.properties.values,
                block.values[:, 0, :],
                self.block_properties_[k],
            )
            yield k, block.samples.values, values

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``centre|angular path|species:n|...`` for every column, e.g.
        ``'C|l_1=1,l_2=1,k_2=0,l_3=0|H:n0|C:n1|O:n0'``; with compression
        ``centre|name=value,...`` of the kept components, the paths and the last
        density, e.g. ``'C|k_2=1,l_3=1,q_2=4,neighbor_3_type=H,n_3=0'``.

        Parameters
        ----------
        input_features : None
            Ignored (the names come from the fitted settings).

        Returns
        -------
        ndarray of str of shape (n_features_out,)
            One name per column.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "keys_")
        pairs = self.property_names_ == [
            name
            for k in range(1, len(self.property_names_) // 2 + 1)
            for name in (f"neighbor_{k}_type", f"n_{k}")
        ]
        names = []
        path_names = self.key_names_[1:]
        for key, properties in zip(self.keys_, self.block_properties_, strict=True):
            parts = [_symbol(key[0])]
            if path_names:
                parts.append(
                    ",".join(
                        f"{name}={value}"
                        for name, value in zip(path_names, key[1:], strict=True)
                    )
                )
            for row in properties:
                if pairs:  # the ν densities: species:n of each
                    columns = [
                        f"{_symbol(row[2 * k])}:n{row[2 * k + 1]}"
                        for k in range(len(row) // 2)
                    ]
                else:  # compressed
                    columns = [
                        ",".join(
                            f"{name}={_symbol(v) if name.endswith('_type') else v}"
                            for name, v in zip(self.property_names_, row, strict=True)
                        )
                    ]
                names.append("|".join([*parts, *columns]))
        return np.array(names, dtype=object)


@functools.lru_cache(maxsize=4)
def _cg_product(max_angular: int):
    """featomic's CG product for angular channels up to ``max_angular`` (its
    coefficients are computed once, not per batch and iteration)."""
    require("featomic", "atomistic")
    from featomic.clebsch_gordan import ClebschGordanProduct

    return ClebschGordanProduct(max_angular=max_angular)


def _renamed(density, step: int):
    """ρ with its λ and columns named for the ``step``-th factor of a product."""
    import metatensor

    renamed = metatensor.rename_dimension(density, "properties", "n", f"n_{step}")
    return metatensor.rename_dimension(
        renamed, "properties", "neighbor_type", f"neighbor_{step}_type"
    )


def _compress(tensor, maps: dict, step: int):
    """Every block's columns through its fitted map (blocks without one, of a
    (λ, σ, centre) never seen at fit, are dropped)."""
    import metatensor

    blocks, keys = [], []
    for key, block in tensor.items():
        name = tuple(int(v) for v in key.values)
        if name not in maps:
            continue
        matrix = maps[name]
        keys.append(key.values)
        blocks.append(
            metatensor.TensorBlock(
                values=np.ascontiguousarray(block.values @ matrix),
                samples=block.samples,
                components=block.components,
                properties=metatensor.Labels(
                    [f"q_{step}"], np.arange(matrix.shape[1]).reshape(-1, 1)
                ),
            )
        )
    return metatensor.TensorMap(
        metatensor.Labels(
            tensor.keys.names, np.array(keys).reshape(-1, len(tensor.keys.names))
        ),
        blocks,
    )
