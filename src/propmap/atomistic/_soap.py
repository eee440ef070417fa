"""SOAP power spectra of structures as a scikit-learn transformer (featomic)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from propmap._compat import Interval, StrOptions, _fit_context
from propmap._requirements import require
from propmap.atomistic._io import as_structure_list
from propmap.utils._progress import tracked

__all__ = ["SoapFeaturizer"]


def _symbol(number: int) -> str:
    from ase.data import chemical_symbols

    return chemical_symbols[int(number)]


class SoapFeaturizer(TransformerMixin, BaseEstimator):
    r"""SOAP power spectrum features of atomic structures, with fixed columns.

    Each atom's environment within ``cutoff`` is expanded in ``max_radial + 1``
    radial and ``max_angular + 1`` angular channels per neighbour species, and the
    rotationally invariant power spectrum :math:`p^{c}_{ab,nn'l}` is computed by
    featomic. The species are fixed at :meth:`fit`, so every batch and every later
    :meth:`transform` has the same columns: one block per centre species c and
    neighbour pair a <= b, each with every (n, n', l). A structure with an element
    not seen at fit is an error.

    Parameters
    ----------
    cutoff : float, default=5.0
        Cutoff radius in Å.
    max_radial : int, default=4
        Largest radial index n (``max_radial + 1`` radial functions, GTO basis).
    max_angular : int, default=3
        Largest angular channel l.
    atomic_gaussian_width : float, default=0.3
        Width (Å) of the Gaussian placed on each neighbour.
    cutoff_smoothing : float, default=0.5
        Width (Å) of the shifted-cosine switching function before the cutoff.
    radial_scaling : dict or None, default=None
        Radial down-weighting of far neighbours,
        ``scale / (scale + (r / rate) ** exponent)`` (Willatt et al. 2018): a dict
        with ``rate`` (Å), ``scale`` and ``exponent``.
    center_atom_weight : float, default=1.0
        Weight of the central atom's own Gaussian in its density.
    species : sequence of int or str, or None, default=None
        The elements (atomic numbers or symbols) that define the columns; by default
        every element of the structures given to :meth:`fit`.
    per : {"structure", "atom", "sum"}, default="structure"
        Rows: one per structure, the mean over its atoms (``"structure"``) or the
        sum (``"sum"``); or one per atom, structure after structure, atoms in
        order (``"atom"``; :meth:`atom_index` maps rows back).
    sparse_output : bool, default=False
        With ``per="atom"``, return a ``scipy.sparse`` CSR matrix: each atom only
        has values in its own centre species' columns.
    batch_size : int, default=1000
        Structures per featomic call: memory beyond the output stays bounded.
    dtype : {"float64", "float32"}, default="float64"
        The dtype of the features: float32 holds them in half the memory
        (featomic computes in float64; each batch is rounded as it is stored).
    progress : bool, default=False
        Show a progress bar over the batches.

    Attributes
    ----------
    species_ : ndarray of int
        Atomic numbers of the fixed species, increasing.
    keys_ : ndarray of shape (n_blocks, 3)
        (centre, neighbour 1, neighbour 2) atomic numbers of each column block.
    properties_ : ndarray of shape (block_width, 3)
        (l, n, n') of the columns within a block.
    n_features_out_ : int
        Number of columns.

    Examples
    --------
    >>> from ase.build import molecule
    >>> from propmap.atomistic import SoapFeaturizer
    >>> soap = SoapFeaturizer(cutoff=4.0, max_radial=2, max_angular=2)
    >>> features = soap.fit_transform([molecule("H2O"), molecule("CH4")])
    >>> features.shape
    (2, 486)
    >>> soap.get_feature_names_out()[0]
    'H|H-H|n0|n0|l0'
    """

    _parameter_constraints: dict = {
        "cutoff": [Interval(Real, 0, None, closed="neither")],
        "max_radial": [Interval(Integral, 0, None, closed="left")],
        "max_angular": [Interval(Integral, 0, None, closed="left")],
        "atomic_gaussian_width": [Interval(Real, 0, None, closed="neither")],
        "cutoff_smoothing": [Interval(Real, 0, None, closed="left")],
        "radial_scaling": [dict, None],
        "center_atom_weight": [Interval(Real, None, None, closed="neither")],
        "species": ["array-like", None],
        "per": [StrOptions({"structure", "atom", "sum"})],
        "sparse_output": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "dtype": [StrOptions({"float64", "float32"})],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        cutoff: float = 5.0,
        max_radial: int = 4,
        max_angular: int = 3,
        atomic_gaussian_width: float = 0.3,
        cutoff_smoothing: float = 0.5,
        radial_scaling: dict | None = None,
        center_atom_weight: float = 1.0,
        species=None,
        per: str = "structure",
        sparse_output: bool = False,
        batch_size: int = 1000,
        dtype: str = "float64",
        progress: bool = False,
    ) -> None:
        self.cutoff = cutoff
        self.max_radial = max_radial
        self.max_angular = max_angular
        self.atomic_gaussian_width = atomic_gaussian_width
        self.cutoff_smoothing = cutoff_smoothing
        self.radial_scaling = radial_scaling
        self.center_atom_weight = center_atom_weight
        self.species = species
        self.per = per
        self.sparse_output = sparse_output
        self.batch_size = batch_size
        self.dtype = dtype
        self.progress = progress

    # -- featomic

    def hypers(self) -> dict:
        """featomic's hyper-parameters for these settings.

        Returns
        -------
        dict
            The hyper-parameters of featomic's SOAP power spectrum.
        """
        density = {
            "type": "Gaussian",
            "width": float(self.atomic_gaussian_width),
            "center_atom_weight": float(self.center_atom_weight),
        }
        if self.radial_scaling is not None:
            missing = {"rate", "scale", "exponent"} - set(self.radial_scaling)
            if missing:
                raise ValueError(
                    "radial_scaling needs 'rate', 'scale' and 'exponent'; missing "
                    f"{sorted(missing)}."
                )
            density["scaling"] = {
                "type": "Willatt2018",
                "rate": float(self.radial_scaling["rate"]),
                "scale": float(self.radial_scaling["scale"]),
                "exponent": float(self.radial_scaling["exponent"]),
            }
        smoothing = (
            {"type": "ShiftedCosine", "width": float(self.cutoff_smoothing)}
            if self.cutoff_smoothing > 0
            else {"type": "Step"}
        )
        return {
            "cutoff": {"radius": float(self.cutoff), "smoothing": smoothing},
            "density": density,
            "basis": {
                "type": "TensorProduct",
                "max_angular": int(self.max_angular),
                "radial": {"type": "Gto", "max_radial": int(self.max_radial)},
            },
        }

    def _calculator(self):
        featomic = require("featomic", "atomistic")
        return featomic.SoapPowerSpectrum(**self.hypers())

    # -- fit / transform

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fix the species (and so the columns).

        Parameters
        ----------
        X : ase.Atoms or list of ase.Atoms
            Training structures.
        y : None
            Ignored.

        Returns
        -------
        self : SoapFeaturizer
        """
        self._fix_species(X)
        self.keys_ = np.array(
            [
                (center, first, second)
                for center in self.species_
                for i, first in enumerate(self.species_)
                for second in self.species_[i:]
            ],
            dtype=np.int32,
        )
        self.properties_ = np.array(
            [
                (angular, n1, n2)
                for angular in range(self.max_angular + 1)
                for n1 in range(self.max_radial + 1)
                for n2 in range(self.max_radial + 1)
            ],
            dtype=np.int32,
        )
        self.n_features_out_ = len(self.keys_) * len(self.properties_)
        self._calculator()  # fails now, not at transform, on bad hyper-parameters
        return self

    def _blocks(self, batch):
        """(block, sample rows (system, atom), values in column order) of every
        non-empty block of one batch's features."""
        metatensor = require("metatensor", "atomistic")
        selected = metatensor.Labels(
            ["center_type", "neighbor_1_type", "neighbor_2_type"], self.keys_
        )
        block_index = {tuple(key): k for k, key in enumerate(self.keys_.tolist())}
        descriptor = self._calculator().compute(batch, selected_keys=selected)
        for key, block in descriptor.items():
            if block.values.shape[0] == 0:
                continue
            k = block_index[tuple(int(v) for v in key.values)]
            values = in_column_order(
                block.properties.values, block.values, self.properties_
            )
            yield k, block.samples.values, values

    def _block_starts(self) -> np.ndarray:
        """The first column of each block, and the end of the last."""
        return np.arange(len(self.keys_) + 1) * len(self.properties_)

    def _fix_species(self, X) -> None:
        """``species_``: the given species, or every element of X."""
        structures = as_structure_list(X)
        if self.species is None:
            species = np.unique(np.concatenate([a.numbers for a in structures]))
        else:
            species = np.unique(
                [
                    _atomic_number(s)
                    for s in list(np.ravel(np.asarray(self.species, dtype=object)))
                ]
            )
        self.species_ = species.astype(np.int32)

    def transform(self, X):
        """SOAP features of structures.

        Parameters
        ----------
        X : ase.Atoms or list of ase.Atoms

        Returns
        -------
        features : ndarray or scipy.sparse matrix
            Shape (n_structures, n_features_out_), or (n_atoms_total,
            n_features_out_) with ``per="atom"``.
        """
        check_is_fitted(self, "keys_")
        structures = as_structure_list(X)
        self._check_species(structures)
        starts = self._block_starts()
        counts = np.array([len(a) for a in structures])
        atom_offsets = np.concatenate([[0], np.cumsum(counts)])
        per_atom = self.per == "atom"
        n_rows = int(atom_offsets[-1]) if per_atom else len(structures)
        pieces = [] if per_atom and self.sparse_output else None
        out = (
            None
            if pieces is not None
            else np.zeros((n_rows, self.n_features_out_), dtype=self.dtype)
        )
        batches = range(0, len(structures), self.batch_size)
        batches = tracked(batches, self._progress_name, self.progress)
        for start in batches:
            batch = structures[start : start + self.batch_size]
            for k, samples, values in self._blocks(batch):
                columns = slice(starts[k], starts[k + 1])
                systems = samples[:, 0].astype(np.int64) + start
                if per_atom:
                    rows = atom_offsets[systems] + samples[:, 1]
                    if pieces is None:
                        out[rows, columns] = values
                    else:
                        pieces.append((rows, starts[k], values))
                else:
                    _add_by_structure(out, systems, columns, values)
        if pieces is not None:
            return _csr_from_pieces(pieces, n_rows, self.n_features_out_).astype(
                self.dtype, copy=False
            )
        if self.per == "structure":
            out /= counts[:, None].astype(out.dtype)
        return out

    def _check_species(self, structures) -> None:
        known = set(self.species_.tolist())
        for index, atoms in enumerate(structures):
            unseen = sorted(set(np.unique(atoms.numbers).tolist()) - known)
            if unseen:
                raise ValueError(
                    f"Structure {index} contains "
                    f"{', '.join(_symbol(z) for z in unseen)}, not among the species "
                    f"fixed at fit ({', '.join(_symbol(z) for z in self.species_)}). "
                    "Refit, or give species= covering every element."
                )

    @staticmethod
    def atom_index(structures) -> np.ndarray:
        """(structure, atom) of each row of ``per="atom"`` features.

        Parameters
        ----------
        structures : ase.Atoms or list of ase.Atoms

        Returns
        -------
        index : ndarray of shape (n_atoms_total, 2)
        """
        structures = as_structure_list(structures)
        return np.array(
            [(s, a) for s, atoms in enumerate(structures) for a in range(len(atoms))],
            dtype=np.int64,
        ).reshape(-1, 2)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``centre|neighbour-neighbour|n|n'|l`` for every column, e.g.
        ``'C|H-O|n0|n2|l1'``.

        Parameters
        ----------
        input_features : None
            Ignored (the names come from the fitted settings).

        Returns
        -------
        ndarray of str of shape (n_features_out,)
            One name per column.
        """
        check_is_fitted(self, "keys_")
        return np.array(
            [
                f"{_symbol(c)}|{_symbol(a)}-{_symbol(b)}|n{n1}|n{n2}|l{angular}"
                for c, a, b in self.keys_
                for angular, n1, n2 in self.properties_
            ],
            dtype=object,
        )

    _progress_name = "SOAP"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


def _atomic_number(element) -> int:
    from ase.data import atomic_numbers, chemical_symbols

    if isinstance(element, str | np.str_):
        element = str(element)
        if element not in atomic_numbers:
            raise ValueError(f"Unknown element {element!r} in species.")
        return atomic_numbers[element]
    number = int(element)
    if not 0 < number < len(chemical_symbols):
        raise ValueError(f"Unknown atomic number {element!r} in species.")
    return number


def in_column_order(found, values, expected) -> np.ndarray:
    """A block's ``values`` (last axis: the properties ``found``) with its
    columns in the ``expected`` order of properties."""
    if np.array_equal(found, expected):
        return values
    position = {tuple(p): i for i, p in enumerate(np.asarray(found).tolist())}
    order = [position[tuple(p)] for p in np.asarray(expected).tolist()]
    return values[..., order]


def _add_by_structure(out, systems, columns, values) -> None:
    """``out[s, columns] += values[i]`` for each row i of structure s; rows come
    grouped by structure, so each group is one reduction."""
    starts = np.flatnonzero(np.r_[True, systems[1:] != systems[:-1]])
    sums = np.add.reduceat(values, starts, axis=0)
    out[systems[starts], columns] += sums


def _csr_from_pieces(pieces, n_rows, n_columns) -> sp.csr_matrix:
    rows = np.concatenate([np.repeat(r, v.shape[1]) for r, _, v in pieces])
    cols = np.concatenate(
        [
            np.tile(np.arange(first, first + v.shape[1]), len(r))
            for r, first, v in pieces
        ]
    )
    values = np.concatenate([v.ravel() for _, _, v in pieces])
    return sp.csr_matrix((values, (rows, cols)), shape=(n_rows, n_columns))
