"""Motif labels: named SMARTS patterns (functional groups) found in structures by
RDKit, and the contributions of each motif instance as sums over its atoms."""

from __future__ import annotations

import csv
import io
import warnings
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from propmap._requirements import require
from propmap.atomistic._io import as_structure_list

__all__ = [
    "Motif",
    "MotifPerceptionWarning",
    "label_motifs",
    "load_motifs",
    "motif_contributions",
    "structure_to_mol",
    "summarize_motifs",
]

_HEADER = ("name", "smarts", "description")
# GetSubstructMatches stops after maxMatches (default 1000) matches: find them all
_ALL_MATCHES = 2**31 - 1


class MotifPerceptionWarning(UserWarning):
    """RDKit could not assign bond orders to a structure: it is a radical (an odd
    number of electrons for its charge), or RDKit does not handle its bonding (bare
    atoms, hypervalent or ionic species). The structure keeps the bonds found from
    its geometry, all single, and its atoms get no motif labels."""


@dataclass(frozen=True)
class Motif:
    """A named SMARTS pattern.

    The atoms that a match covers form one instance of the motif; atoms that only
    set the context, inside recursive SMARTS ``$(...)``, are not part of it.

    Parameters
    ----------
    name : str
        A unique, non-empty name, e.g. ``"carboxylic acid"``.
    smarts : str
        The pattern, matched on molecules with explicit hydrogen atoms (as
        :func:`structure_to_mol` makes them): write the hydrogens that belong to
        the group as atoms, ``[#1]``; ``H<n>`` counts them too.
    description : str, default=""
        What the pattern matches, and which of its atoms an instance covers.

    Attributes
    ----------
    query : rdkit.Chem.Mol
        The parsed pattern.

    Raises
    ------
    TypeError
        ``name``, ``smarts`` or ``description`` is not a string.
    ValueError
        The name is empty, or RDKit cannot parse the SMARTS.
    """

    name: str
    smarts: str
    description: str = ""
    query: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        for attribute in ("name", "smarts", "description"):
            value = getattr(self, attribute)
            if not isinstance(value, str):
                raise TypeError(
                    f"A motif's {attribute} must be a string; got "
                    f"{type(value).__name__} {value!r}."
                )
        if not self.name.strip():
            raise ValueError(f"The motif with SMARTS {self.smarts!r} has no name.")
        Chem = require("rdkit.Chem", "atomistic")
        # the error below says it instead of RDKit's log
        with require("rdkit.rdBase", "atomistic").BlockLogs():
            query = Chem.MolFromSmarts(self.smarts)
        if query is None or query.GetNumAtoms() == 0:
            raise ValueError(
                f"Motif {self.name!r}: RDKit cannot parse its SMARTS {self.smarts!r}."
            )
        object.__setattr__(self, "query", query)


def load_motifs(path=None, extra=None) -> list[Motif]:
    """The default motif library, or motifs from a CSV file, plus extra motifs.

    The default library holds about 60 functional groups of supramolecular synthons
    and tectons (methyl, carboxylic acid, primary amide, aromatic N, ...); its file
    format is described in ``propmap/atomistic/data/README.md``.

    Parameters
    ----------
    path : str, path-like or None, default=None
        None loads the default library. Otherwise a CSV file in the same format:
        a header line ``name,smarts,description`` (the description column may be
        left out), then one motif a line; quote SMARTS that contain commas.
    extra : iterable or None, default=None
        More motifs, each a :class:`Motif` or a ``(name, smarts)`` or
        ``(name, smarts, description)`` tuple, added after those of the file.

    Returns
    -------
    motifs : list of Motif
        In the order of the file, then of ``extra``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file has a wrong header or a line with the wrong number of fields, a
        SMARTS cannot be parsed (the message gives the line), or two motifs have
        the same name.
    TypeError
        An item of ``extra`` is neither a Motif nor a tuple of strings.
    """
    if path is None:
        source = "the default motif library"
        text = (resources.files("propmap.atomistic") / "data" / "motifs.csv").read_text(
            encoding="utf-8"
        )
    else:
        source = str(path)
        text = Path(path).read_text(encoding="utf-8")
    motifs = _read_motifs(text, source)
    if extra is not None:
        if isinstance(extra, Motif):
            extra = [extra]
        motifs.extend(_as_motif(item, f"extra[{i}]") for i, item in enumerate(extra))
    _check_unique(motifs)
    return motifs


def _read_motifs(text: str, source: str) -> list[Motif]:
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip() for cell in next(reader, [])]
    if tuple(header) not in (_HEADER, _HEADER[:2]):
        raise ValueError(
            f"{source}: the first line must be the header 'name,smarts,description' "
            f"(or 'name,smarts'); got {','.join(header)!r}."
        )
    motifs = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ValueError(
                f"{source}, line {reader.line_num}: expected {len(header)} fields "
                f"({', '.join(header)}), got {len(row)}: {','.join(row)!r}. Quote "
                "SMARTS that contain commas."
            )
        try:
            motifs.append(Motif(*(cell.strip() for cell in row)))
        except ValueError as error:
            raise ValueError(f"{source}, line {reader.line_num}: {error}") from None
    return motifs


def _as_motif(item, where: str) -> Motif:
    if isinstance(item, Motif):
        return item
    if isinstance(item, tuple | list) and len(item) in (2, 3):
        return Motif(*item)
    raise TypeError(
        f"{where} must be a Motif or a (name, smarts[, description]) tuple; "
        f"got {item!r}."
    )


def _check_unique(motifs: list[Motif]) -> None:
    repeated = [
        name for name, count in Counter(m.name for m in motifs).items() if count > 1
    ]
    if repeated:
        raise ValueError(
            f"Motif names must be unique; repeated: {', '.join(map(repr, repeated))}."
        )


def _motif_list(motifs) -> list[Motif]:
    motifs = list(motifs)
    for index, motif in enumerate(motifs):
        if not isinstance(motif, Motif):
            raise TypeError(
                f"motifs[{index}] is a {type(motif).__name__}, not a Motif; build "
                "the list with load_motifs (its extra accepts (name, smarts) tuples)."
            )
    _check_unique(motifs)
    return motifs


def structure_to_mol(atoms, charge=None):
    """An RDKit molecule of a structure, with its bonds perceived from 3-D
    coordinates.

    RDKit (``rdkit.Chem.rdDetermineBonds``) finds the bonded atoms from the
    distances, then assigns bond orders and formal charges that give the total
    ``charge``; aromatic rings are then perceived. Where that assignment fails it
    is retried with the connectivity from extended Hückel theory. Every hydrogen is
    an explicit atom, in the order of ``atoms``.

    A structure may hold several molecules (e.g. a salt or a co-crystal cut out of
    a crystal); ``charge`` is their total. Periodic structures must be cut into
    molecules first: bonds across the cell boundary would be missed.

    Parameters
    ----------
    atoms : ase.Atoms
        A molecule or cluster, without periodic boundary conditions.
    charge : int or None, default=None
        The total charge; None takes ``atoms.info["charge"]``, or 0 without it.

    Returns
    -------
    mol : rdkit.Chem.Mol
        With one 3-D conformer holding the positions. When bond orders cannot be
        assigned (a radical, or bonding RDKit does not handle), a
        :class:`MotifPerceptionWarning` is issued and the molecule keeps only its
        connectivity, as single bonds.

    Raises
    ------
    TypeError
        ``atoms`` is not ``ase.Atoms``.
    ValueError
        The structure has no atoms, is periodic with a cell, or ``charge`` is not
        a whole number.
    """
    ase = require("ase", "atomistic")
    if not isinstance(atoms, ase.Atoms):
        raise TypeError(f"Expected ase.Atoms; got {type(atoms).__name__}.")
    if len(atoms) == 0:
        raise ValueError("The structure has no atoms.")
    mol, _ = _perceive(atoms, _charge(atoms, charge), _describe(atoms))
    return mol


def _describe(atoms, index: int | None = None) -> str:
    text = "the structure" if index is None else f"structure {index}"
    text += f" ({atoms.get_chemical_formula()}"
    if "source" in atoms.info:
        text += f", from {atoms.info['source']}"
    return text + ")"


def _charge(atoms, charge) -> int:
    if charge is None:
        charge = atoms.info.get("charge", 0)
    whole = isinstance(charge, Integral) or (
        isinstance(charge, Real) and float(charge).is_integer()
    )
    if isinstance(charge, bool) or not whole:
        raise ValueError(f"A charge must be a whole number; got {charge!r}.")
    return int(charge)


def _perceive(atoms, charge: int, label: str):
    """The molecule of ``atoms`` and whether its bond orders were assigned; warns
    (naming the structure by ``label``) when they were not."""
    Chem = require("rdkit.Chem", "atomistic")
    rdDetermineBonds = require("rdkit.Chem.rdDetermineBonds", "atomistic")
    Point3D = require("rdkit.Geometry", "atomistic").Point3D
    if atoms.pbc.any() and atoms.cell.rank > 0:
        raise ValueError(
            f"Cannot perceive the bonds of {label}: it is periodic (pbc="
            f"{atoms.pbc.tolist()}). Cut it into molecules first, or set pbc=False "
            "for a molecule in a box."
        )
    editable = Chem.RWMol()
    for number in atoms.numbers:
        atom = Chem.Atom(int(number))
        atom.SetNoImplicit(True)  # the hydrogens are the structure's own atoms
        editable.AddAtom(atom)
    conformer = Chem.Conformer(len(atoms))
    for index, position in enumerate(atoms.positions):
        conformer.SetAtomPosition(index, Point3D(*map(float, position)))
    editable.AddConformer(conformer, assignId=True)
    mol = editable.GetMol()

    # RDKit raises ValueError, RuntimeError or its own types on chemistry it does
    # not handle; each is reported as a warning and the structure left unlabelled.
    with require("rdkit.rdBase", "atomistic").BlockLogs():
        try:
            rdDetermineBonds.DetermineConnectivity(mol, charge=charge)
        except Exception as error:
            _warn_unassigned(label, f"RDKit cannot find its bonds ({error})")
            return mol, False
        mol.UpdatePropertyCache(strict=False)
        electrons = int(atoms.numbers.sum()) - charge
        if electrons % 2:
            problem = (
                f"it has an odd number of electrons ({electrons} with charge "
                f"{charge}): a radical, or the wrong charge"
            )
            _warn_unassigned(label, problem)
            return mol, False
        failures = []
        for hueckel in (False, True):
            attempt = Chem.Mol(mol)
            try:
                if hueckel:
                    rdDetermineBonds.DetermineConnectivity(
                        attempt, useHueckel=True, charge=charge
                    )
                rdDetermineBonds.DetermineBondOrders(attempt, charge=charge)
            except Exception as error:
                failures.append(str(error).strip())
                continue
            return attempt, True
    problem = (
        f"RDKit cannot assign its bond orders with charge {charge} ({failures[0]}; "
        f"with the Hückel connectivity: {failures[1]})"
    )
    _warn_unassigned(label, problem)
    return mol, False


def _warn_unassigned(label: str, problem: str) -> None:
    warnings.warn(
        f"No bond orders for {label}: {problem}. It keeps single bonds between "
        "bonded atoms and gets no motif labels.",
        MotifPerceptionWarning,
        stacklevel=4,
    )


def label_motifs(structures, motifs=None, charges=None):
    """Every instance of every motif in each structure.

    Bonds are perceived by :func:`structure_to_mol`. A structure whose bond orders
    cannot be assigned (a radical, or bonding RDKit does not handle) gets a
    :class:`MotifPerceptionWarning` and no labels.

    Parameters
    ----------
    structures : ase.Atoms or list of ase.Atoms
        Molecules or clusters of molecules, not periodic.
    motifs : list of Motif or None, default=None
        None uses the default library, :func:`load_motifs()`.
    charges : sequence of int or None, default=None
        The total charge of each structure; None (for all, or as an entry) takes
        ``atoms.info["charge"]``, or 0 without it.

    Returns
    -------
    table : pandas.DataFrame
        One row per motif instance, ordered by structure, then motif, then atoms,
        with columns ``structure`` (the index in ``structures``), ``motif`` (the
        name), ``atoms`` (a sorted tuple of atom indices in the structure) and
        ``n_atoms``. Matches of one motif on the same set of atoms count once;
        different motifs may share atoms (a carboxylic acid's C=O is also a
        carbonyl).

    Raises
    ------
    ValueError
        No structures, a structure without atoms or periodic with a cell,
        ``charges`` of the wrong length or not whole numbers, or repeated motif
        names.
    TypeError
        A structure is not ``ase.Atoms`` or a motif not a :class:`Motif`.

    Examples
    --------
    >>> from ase.build import molecule
    >>> from propmap.atomistic import label_motifs
    >>> acetic_acid = molecule("CH3COOH")
    >>> acetic_acid.get_chemical_symbols()
    ['C', 'O', 'O', 'H', 'C', 'H', 'H', 'H']
    >>> label_motifs([acetic_acid])
       structure            motif         atoms  n_atoms
    0          0           methyl  (4, 5, 6, 7)        4
    1          0         carbonyl        (0, 1)        2
    2          0  carboxylic acid  (0, 1, 2, 3)        4
    """
    pd = require("pandas", "atomistic")
    structures = as_structure_list(structures)
    motifs = load_motifs() if motifs is None else _motif_list(motifs)
    if charges is None:
        charges = [None] * len(structures)
    elif len(charges) != len(structures):
        raise ValueError(
            f"charges has {len(charges)} entries for {len(structures)} structures."
        )
    rows = []
    for index, (atoms, charge) in enumerate(zip(structures, charges, strict=True)):
        mol, bonded = _perceive(atoms, _charge(atoms, charge), _describe(atoms, index))
        if not bonded:
            continue
        for motif in motifs:
            matches = mol.GetSubstructMatches(
                motif.query, uniquify=True, maxMatches=_ALL_MATCHES
            )
            for match in sorted(tuple(sorted(match)) for match in matches):
                rows.append((index, motif.name, match, len(match)))
    table = pd.DataFrame(rows, columns=["structure", "motif", "atoms", "n_atoms"])
    return table.astype({"structure": np.int64, "n_atoms": np.int64})


def motif_contributions(table, atom_contributions):
    """Each motif instance's contribution: the sum of its atoms' contributions.

    Parameters
    ----------
    table : pandas.DataFrame
        Motif instances with columns ``structure`` and ``atoms``, as made by
        :func:`label_motifs`.
    atom_contributions : list of array-like
        One 1-D array per structure of its atoms' contributions, e.g. from
        :meth:`AdditiveModel.atom_contributions`.

    Returns
    -------
    table : pandas.DataFrame
        A copy of ``table`` with a ``contribution`` column.

    Raises
    ------
    ValueError
        ``table`` lacks a column, an array is not 1-D, or an instance refers to a
        structure or an atom that ``atom_contributions`` does not have.
    """
    _check_columns(table, ("structure", "atoms"))
    contributions = []
    for index, values in enumerate(atom_contributions):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(
                f"atom_contributions[{index}] must be 1-D (one value per atom); got "
                f"shape {values.shape}."
            )
        contributions.append(values)
    sums = []
    for row, (structure, atoms) in enumerate(
        zip(table["structure"], table["atoms"], strict=True)
    ):
        if not 0 <= structure < len(contributions):
            raise ValueError(
                f"Row {row} of the table is in structure {structure}, but "
                f"atom_contributions has {len(contributions)} structures."
            )
        values = contributions[structure]
        atoms = np.asarray(atoms, dtype=np.intp)
        if atoms.size and not (atoms.min() >= 0 and atoms.max() < values.size):
            raise ValueError(
                f"Row {row} of the table covers atoms {tuple(atoms.tolist())} of "
                f"structure {structure}, which has {values.size} atom contributions."
            )
        sums.append(float(values[atoms].sum()))
    result = table.copy()
    result["contribution"] = np.asarray(sums, dtype=np.float64)
    return result


def summarize_motifs(table):
    """Per motif, the number of instances and the statistics of their
    contributions.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`label_motifs` (a ``motif`` column) or from
        :func:`motif_contributions` (also a ``contribution`` column).

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by motif name, sorted. Column ``count``, and with contributions
        also ``mean``, ``std`` (with ddof=1: NaN for a single instance), ``min``
        and ``max``.

    Raises
    ------
    ValueError
        ``table`` has no ``motif`` column.
    """
    _check_columns(table, ("motif",))
    groups = table.groupby("motif", sort=True)
    if "contribution" not in table.columns:
        return groups.size().rename("count").to_frame()
    return groups["contribution"].agg(
        count="size", mean="mean", std="std", min="min", max="max"
    )


def _check_columns(table, columns) -> None:
    missing = [name for name in columns if name not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(
            f"The table needs the column(s) {', '.join(map(repr, missing))}, as made "
            "by label_motifs (and motif_contributions for 'contribution')."
        )
