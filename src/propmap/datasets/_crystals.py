"""Molecular crystals: the single-component C/H/N/O crystals of pyxtal's databases
with GFN1-xTB lattice energies.

The structures are read from the installed ``pyxtal`` package (its ase databases
``database/test.db`` and ``database/mech.db``, relaxed CSD crystals), never copied
into propmap. What propmap ships is what it computed itself with
``scripts/compute_crystal_energies.py``: a table of energies keyed by CSD reference
code and the relaxed gas-phase molecules (``data/molecular_crystals*``).
"""

from __future__ import annotations

import csv
import importlib.resources
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from propmap._requirements import require

__all__ = [
    "PYXTAL_DATABASES",
    "SUPERCELL_WIDTH",
    "Candidate",
    "CrystalMismatchWarning",
    "MolecularCrystals",
    "crystal_candidates",
    "energies_path",
    "gas_molecules_path",
    "load_molecular_crystals",
    "supercell_repeats",
]

# the ase databases of pyxtal that hold CSD crystals, in the order they are read
PYXTAL_DATABASES = ("test.db", "mech.db")
ELEMENTS = frozenset("CHNO")
# tblite works at the Γ point only: the crystal is repeated until every
# perpendicular width of the cell is at least this (Å)
SUPERCELL_WIDTH = 10.0
# 1 eV in kJ/mol (CODATA 2018: e · N_A / 1000)
EV_KJ_MOL = 96.48533212331
ENERGIES_FILE = "molecular_crystals.csv"
GAS_FILE = "molecular_crystals_gas.extxyz"
METHOD = "GFN1-xTB"
# the columns of the shipped table, in order, and what each holds
ENERGY_COLUMNS = {
    "csd_code": "CSD reference code (the key)",
    "database": "pyxtal database the crystal was read from",
    "formula": "formula of the unit cell",
    "n_atoms": "atoms in the unit cell",
    "n_molecules": "molecules in the unit cell",
    "supercell": "repeats of the cell for the Γ-point energy, e.g. 2x2x1",
    "supercell_atoms": "atoms in that supercell",
    "crystal_energy": "GFN1-xTB energy of the unit cell with every molecule in its "
    "relaxed gas-phase geometry, superimposed on its place in the crystal (eV)",
    "gas_energy": "GFN1-xTB energy of the lowest relaxed gas-phase molecule (eV)",
    "conformer_energy": "mean relaxed energy of the cell's molecules above the "
    "lowest (kJ/mol; non-zero when independent molecules relax to different "
    "conformers)",
    "lattice_energy": "crystal_energy / n_molecules − gas_energy (kJ/mol)",
    "shortest_contact": "shortest distance between atoms of different molecules "
    "in that crystal (Å)",
    "relaxation_steps": "most optimizer steps of a gas-phase relaxation",
    "seconds": "wall time of the whole computation on one 2-core machine",
}


def _pyxtal_folder() -> Path:
    """The database folder of the installed pyxtal, found without importing it
    (pyxtal's import pulls in pymatgen)."""
    spec = importlib.util.find_spec("pyxtal")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "load_molecular_crystals reads the crystal structures from the pyxtal "
            "package (its CSD crystal databases), which is not installed: pip "
            'install "propmap[crystals]"'
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "database"
    missing = [name for name in PYXTAL_DATABASES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"the installed pyxtal ({folder.parent}) has no {', '.join(missing)} in "
            "its database folder; propmap reads the crystals from pyxtal ≥ 1.0's "
            "test.db and mech.db."
        )
    return folder


@dataclass
class Candidate:
    """One crystal of pyxtal's databases and whether it is in the dataset."""

    csd_code: str
    database: str
    atoms: object
    smiles: str
    molecules: list = field(default_factory=list)
    excluded: str = ""


def _smiles_formula(smiles: str) -> str | None:
    """The Hill formula of a SMILES (hydrogens included), None if it does not
    parse."""
    require("rdkit", "atomistic")
    from ase.formula import Formula
    from rdkit import Chem, RDLogger
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    RDLogger.DisableLog("rdApp.*")
    try:
        molecule = Chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog("rdApp.*")
    if molecule is None:
        return None
    return Formula(CalcMolFormula(molecule)).format("hill")


def _exclusion(atoms, smiles: str, molecules) -> str:
    """Why a crystal is left out ("" when it is in)."""
    elements = set(atoms.get_chemical_symbols())
    if not elements <= ELEMENTS:
        return f"elements {''.join(sorted(elements - ELEMENTS))} (C/H/N/O only)"
    if "." in smiles:
        return "several components (co-crystal, salt or solvate)"
    if molecules is None:
        return "bonds link the molecules into a network (disordered hydrogens)"
    expected = _smiles_formula(smiles)
    found = {atoms.symbols[m].get_chemical_formula("hill") for m in molecules}
    if found != {expected}:
        return (
            f"molecules {', '.join(sorted(found))} differ from the SMILES "
            f"{expected} (atoms missing from the structure)"
        )
    return ""


def crystal_candidates() -> Iterator[Candidate]:
    """Every crystal of pyxtal's databases with the reason it is left out of the
    dataset, if it is: not only C/H/N/O, several components, molecules that bonds
    do not separate, or molecules that differ from the SMILES. A CSD code seen
    twice is read once (from the first database)."""
    require("ase", "atomistic")
    from ase.db import connect

    from propmap.atomistic import find_molecules

    folder = _pyxtal_folder()
    seen = set()
    for name in PYXTAL_DATABASES:
        with connect(folder / name) as database:
            rows = list(database.select())
        for row in rows:
            code = str(row.csd_code)
            if code in seen:
                continue
            seen.add(code)
            atoms = row.toatoms()
            smiles = str(row.get("mol_smi", ""))
            try:
                molecules = find_molecules(atoms)
            except ValueError:
                molecules = None
            atoms.info.update(
                csd_code=code,
                database=name,
                smiles=smiles,
                space_group=str(row.get("space_group", "")),
                Z=float(row.get("Z", np.nan)),
                Zprime=float(row.get("Zprime", np.nan)),
            )
            yield Candidate(
                code,
                name,
                atoms,
                smiles,
                molecules or [],
                _exclusion(atoms, smiles, molecules),
            )


def supercell_repeats(atoms, width: float = SUPERCELL_WIDTH) -> tuple[int, int, int]:
    """The repeats of a cell along its vectors that make every perpendicular width
    (the distance between opposite faces) at least ``width`` Å."""
    cell = np.asarray(atoms.cell.array, dtype=float)
    volume = abs(np.linalg.det(cell))
    if not volume > 0:
        raise ValueError(f"the cell {cell.tolist()} has no volume.")
    widths = [
        volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
        for k in range(3)
    ]
    return tuple(int(np.ceil(width / w - 1e-9)) for w in widths)


@dataclass(frozen=True)
class MolecularCrystals:
    """Molecular crystals with lattice energies, as :func:`load_molecular_crystals`
    returns them.

    Attributes
    ----------
    codes : list of str
        CSD reference codes, one per crystal.
    crystals : list of ase.Atoms
        The periodic crystals the energies belong to: pyxtal's cell and molecular
        placements, every molecule in its relaxed gas-phase geometry. ``info``
        holds ``csd_code``, ``smiles``, ``space_group``, ``Z``, ``Zprime``,
        ``database``, ``n_molecules`` and ``lattice_energy`` (kJ/mol per molecule).
    molecules : list of list of ase.Atoms
        The relaxed gas-phase molecules of each crystal, one per molecule of its
        cell in the order of :func:`~propmap.atomistic.find_molecules`, their atoms
        in the order of that molecule's atoms in the crystal (the ``molecules``
        argument of :class:`~propmap.atomistic.RemnantFeaturizer`).
    lattice_energies : ndarray of shape (n_crystals,)
        GFN1-xTB lattice energies, kJ/mol per molecule (negative: bound).
    table : pandas.DataFrame
        The shipped table of energies for these crystals, indexed by CSD code.
    """

    codes: list
    crystals: list
    molecules: list
    lattice_energies: np.ndarray
    table: object

    def write(self, folder) -> dict[str, Path]:
        """Write the crystals as the files a user of ``propmap contributions``
        has: ``crystals/<code>.cif``, ``gas/<code>.xyz`` (the lowest relaxed
        gas-phase molecule) and ``lattice_energies.csv`` (columns ``csd_code``,
        ``lattice_energy`` in kJ/mol per molecule).

        Returns
        -------
        paths : dict
            ``crystals`` and ``gas`` (the folders) and ``targets`` (the table).
        """
        import ase.io

        from propmap._files import write_atomically

        folder = Path(folder)
        paths = {
            "crystals": folder / "crystals",
            "gas": folder / "gas",
            "targets": folder / "lattice_energies.csv",
        }
        paths["crystals"].mkdir(parents=True, exist_ok=True)
        paths["gas"].mkdir(exist_ok=True)
        for code, crystal, molecules in zip(
            self.codes, self.crystals, self.molecules, strict=True
        ):
            lowest = min(molecules, key=lambda m: m.info["energy_eV"])
            write_atomically(
                paths["crystals"] / f"{code}.cif",
                lambda f, c=crystal: ase.io.write(f, c, format="cif"),
                "wb",  # ase's CIF writer writes bytes
            )
            write_atomically(
                paths["gas"] / f"{code}.xyz",
                lambda f, m=lowest: ase.io.write(f, m, format="xyz"),
            )
        lines = ["csd_code,lattice_energy"] + [
            f"{code},{energy!r}"
            for code, energy in zip(
                self.codes, self.lattice_energies.tolist(), strict=True
            )
        ]
        write_atomically(paths["targets"], lambda f: f.write("\n".join(lines) + "\n"))
        return paths


class CrystalMismatchWarning(UserWarning):
    """A crystal of the shipped table is missing from the installed pyxtal, or
    differs from the structure its energy was computed for."""


def load_molecular_crystals(codes=None) -> MolecularCrystals:
    """Single-component C/H/N/O molecular crystals with GFN1-xTB lattice energies.

    The crystal structures are those of the CSD crystals in the ``pyxtal``
    package's databases (``test.db``, ``mech.db``; ``pip install
    "propmap[crystals]"``), read from the installed pyxtal. The energies and the
    relaxed gas-phase molecules are shipped with propmap: they were computed once
    by ``scripts/compute_crystal_energies.py`` with tblite's GFN1-xTB.

    Crystals with other elements, several components (co-crystals, salts,
    solvates), disordered hydrogens, or atoms missing from the structure are left
    out.

    Parameters
    ----------
    codes : list of str or None, default=None
        CSD reference codes to load, in this order; None loads all of them in the
        order of the shipped table.

    Returns
    -------
    crystals : MolecularCrystals

    Raises
    ------
    ImportError
        pyxtal is not installed.
    KeyError
        A code is not in the shipped table (the message lists them).

    Warns
    -----
    CrystalMismatchWarning
        A crystal is missing from the installed pyxtal, or its structure there
        (atom count, formula, molecules) differs from the one its energy was
        computed for: it is left out.

    Notes
    -----
    The energies are those of a rigid-molecule model of each crystal: pyxtal's
    structures are mostly X-ray geometries, whose hydrogen atoms sit 0.1–0.2 Å
    too close to their neighbours, so every molecule is first relaxed in the gas
    phase with GFN1-xTB (BFGS to 0.01 eV/Å) and then superimposed (least squares)
    on its place in the cell. The lattice energy is the energy of that crystal per
    molecule minus that of the lowest relaxed gas-phase molecule: its
    intramolecular part is zero by construction, and relaxation of the molecules
    in the crystal (a few kJ/mol) is neglected. The crystal's energy is taken at
    the Γ point of a supercell whose perpendicular widths are all at least 10 Å
    (tblite has no k-points). GFN1-xTB itself differs from diffusion Monte Carlo
    by about 10 kJ/mol (benzene −42 against −50 kJ/mol).

    References
    ----------
    .. [1] S. Fredericks, K. Parrish, D. Sayre, Q. Zhu, "PyXtal: a Python library
       for crystal structure generation and symmetry analysis", Comput. Phys.
       Commun. 261, 107810 (2021). https://doi.org/10.1016/j.cpc.2020.107810
    .. [2] S. Grimme, C. Bannwarth, P. Shushkov, "A robust and accurate
       tight-binding quantum chemical method for structures, vibrational
       frequencies, and noncovalent interactions of large molecular systems
       parametrized for all spd-block elements (Z = 1–86)", J. Chem. Theory
       Comput. 13, 1989 (2017). https://doi.org/10.1021/acs.jctc.7b00118

    Examples
    --------
    >>> from propmap.datasets import load_molecular_crystals
    >>> data = load_molecular_crystals(["BENZEN", "FORMAM"])  # doctest: +SKIP
    >>> data.lattice_energies.round(1)  # doctest: +SKIP
    array([-41.9, -67.6])
    """
    import warnings

    import pandas as pd

    table = read_energy_table()
    if codes is None:
        codes = list(table)
    else:
        codes = [str(code) for code in codes]
        unknown = [code for code in codes if code not in table]
        if unknown:
            raise KeyError(
                f"no lattice energy for {', '.join(unknown)}; the shipped crystals "
                f"are {', '.join(sorted(table))}."
            )
    gas = read_gas_molecules()
    wanted = set(codes)
    found = {c.csd_code: c for c in crystal_candidates() if c.csd_code in wanted}
    loaded, problems = {}, []
    for code in codes:
        candidate = found.get(code)
        problem = _mismatch(candidate, table[code], gas.get(code, []))
        if problem:
            problems.append(f"{code} ({problem})")
            continue
        crystal = rigid_crystal(candidate.atoms, candidate.molecules, gas[code])
        crystal.info.update(
            n_molecules=len(candidate.molecules),
            lattice_energy=table[code]["lattice_energy"],
        )
        molecules = [_gas_copy(m) for m in gas[code]]
        loaded[code] = (crystal, molecules)
    if problems:
        warnings.warn(
            "left out, because the installed pyxtal does not have the structure "
            f"their energies were computed for: {'; '.join(problems)}",
            CrystalMismatchWarning,
            stacklevel=2,
        )
    if not loaded:
        raise ValueError(
            "none of the crystals asked for could be loaded from the installed "
            "pyxtal (see the warning)."
        )
    kept = list(loaded)
    return MolecularCrystals(
        codes=kept,
        crystals=[loaded[code][0] for code in kept],
        molecules=[loaded[code][1] for code in kept],
        lattice_energies=np.array([table[code]["lattice_energy"] for code in kept]),
        table=pd.DataFrame.from_records([table[code] for code in kept]).set_index(
            "csd_code"
        ),
    )


def _mismatch(candidate, row: dict, molecules: list) -> str:
    """How pyxtal's crystal differs from the one of a row ("" if it does not)."""
    if candidate is None:
        return "not in pyxtal's databases"
    if candidate.excluded:
        return candidate.excluded
    atoms = candidate.atoms
    if len(atoms) != row["n_atoms"]:
        return f"{len(atoms)} atoms, not {row['n_atoms']}"
    formula = atoms.get_chemical_formula("hill")
    if formula != row["formula"]:
        return f"formula {formula}, not {row['formula']}"
    if len(candidate.molecules) != row["n_molecules"] or len(molecules) != len(
        candidate.molecules
    ):
        return f"{len(candidate.molecules)} molecules, not {row['n_molecules']}"
    for indices, molecule in zip(candidate.molecules, molecules, strict=True):
        if list(molecule.numbers) != list(atoms.numbers[indices]):
            return "its molecules' atoms are in another order"
    return ""


def _gas_copy(molecule):
    """A shipped gas-phase molecule as handed to users: no cell, plain info."""
    copy = molecule.copy()
    copy.calc = None
    copy.pbc = False
    copy.cell = None
    copy.info = {
        "csd_code": str(molecule.info["csd_code"]),
        "molecule": int(molecule.info["molecule"]),
        "energy_eV": float(molecule.info["energy_eV"]),
    }
    return copy


def _data_folder() -> Path:
    return Path(str(importlib.resources.files("propmap.datasets") / "data"))


def energies_path() -> Path:
    """Where the shipped table of energies lives."""
    return _data_folder() / ENERGIES_FILE


def gas_molecules_path() -> Path:
    """Where the shipped relaxed gas-phase molecules live."""
    return _data_folder() / GAS_FILE


def read_energy_table(path: Path | None = None) -> dict[str, dict]:
    """The table of energies as {CSD code: row}, numbers as floats or ints."""
    path = energies_path() if path is None else Path(path)
    integers = {"n_atoms", "n_molecules", "supercell_atoms", "relaxation_steps"}
    text = {"csd_code", "database", "formula", "supercell"}
    rows = {}
    with open(path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(line for line in stream if not line.startswith("#")):
            rows[row["csd_code"]] = {
                key: value
                if key in text
                else (int(value) if key in integers else float(value))
                for key, value in row.items()
            }
    return rows


def read_gas_molecules(path: Path | None = None) -> dict[str, list]:
    """The relaxed gas-phase molecules as {CSD code: one ase.Atoms per molecule
    of the cell, in the order of find_molecules}."""
    require("ase", "atomistic")
    import ase.io

    path = gas_molecules_path() if path is None else Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return {}
    molecules: dict[str, list] = {}
    for molecule in ase.io.read(path, index=":", format="extxyz"):
        molecules.setdefault(str(molecule.info["csd_code"]), []).append(molecule)
    return molecules


def rigid_crystal(atoms, groups, molecules):
    """The crystal with each molecule replaced by a given geometry of it (e.g. the
    relaxed gas-phase molecule), superimposed on the molecule's place in the cell.

    Parameters
    ----------
    atoms : ase.Atoms
        The crystal.
    groups : list of ndarray
        The atom indices of each molecule (:func:`~propmap.atomistic.find_molecules`).
    molecules : list of ase.Atoms
        One geometry per group, with the group's atoms in the same order.

    Returns
    -------
    crystal : ase.Atoms
        A copy of ``atoms`` whose molecules have the given internal geometries, each
        rotated (or mirrored, where the molecule in the cell is the mirror image of
        the given conformer) and translated onto its molecule in ``atoms`` by least
        squares (Kabsch), the atoms wrapped into the cell.
    """
    from propmap.atomistic import extract_molecule
    from propmap.atomistic._molecules import superpose

    if len(groups) != len(molecules):
        raise ValueError(
            f"{len(molecules)} molecule geometries for {len(groups)} molecules."
        )
    crystal = atoms.copy()
    positions = crystal.positions.copy()
    for number, (indices, molecule) in enumerate(zip(groups, molecules, strict=True)):
        indices = np.asarray(indices)
        if list(molecule.numbers) != list(atoms.numbers[indices]):
            raise ValueError(
                f"the geometry given for molecule {number} has atoms "
                f"{''.join(molecule.get_chemical_symbols())}, the crystal's molecule "
                f"{''.join(atoms.symbols[indices])}."
            )
        place = extract_molecule(atoms, indices).positions
        # a copy related by inversion or a mirror is the mirror image of the
        # gas-phase conformer (the same energy): superpose whichever fits
        positions[indices], _ = superpose(molecule.positions, place, reflection=True)
    crystal.positions = positions
    crystal.wrap()
    return crystal


def shortest_contact(atoms) -> float:
    """The shortest distance (Å) between atoms of different molecules, periodic
    images included: a clash test for a crystal built from molecules."""
    from ase.neighborlist import neighbor_list

    from propmap.atomistic._molecules import _molecule_images

    labels, offsets = _molecule_images(atoms, 1.2)
    first, second, shifts, distances = neighbor_list("ijSd", atoms, 4.0)
    # the same molecule: same label, and the image of ``second`` is the one that
    # makes the molecule whole around ``first``
    same = (labels[first] == labels[second]) & np.all(
        shifts == offsets[second] - offsets[first], axis=1
    )
    return float(distances[~same].min()) if (~same).any() else float("inf")
