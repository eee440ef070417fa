"""Molecules of molecular crystals and clusters, found from covalent bonds."""

from __future__ import annotations

import reprlib
from numbers import Real

import numpy as np

from propmap._requirements import require

__all__ = [
    "extract_molecule",
    "find_molecules",
    "match_molecule",
    "split_into_molecules",
]


def find_molecules(atoms, scale: float = 1.2) -> list[np.ndarray]:
    """The molecules of a structure, as groups of bonded atoms.

    Two atoms are bonded when they are closer than ``scale`` times the sum of their
    covalent radii (:func:`ase.neighborlist.natural_cutoffs`), counting distances to
    periodic images along the periodic directions of the cell: a molecule that
    crosses the boundary of the cell is one molecule.

    Parameters
    ----------
    atoms : ase.Atoms
        A periodic crystal or a non-periodic cluster.
    scale : float, default=1.2
        Multiplier of the covalent radii.

    Returns
    -------
    molecules : list of ndarray
        The atom indices of each molecule in ascending order, one array per
        molecule, the molecules ordered by their first atom.

    Raises
    ------
    ValueError
        Atoms form an infinite covalent network (a bulk solid such as silicon, a
        polymer chain, a layer): bonds lead from an atom to its own periodic image.
        Also raised for a structure without atoms and for a periodic direction
        without a cell vector.
    """
    labels, _ = _molecule_images(atoms, scale)
    return _groups(labels)


def extract_molecule(atoms, indices, scale: float = 1.2):
    """One molecule of a structure as an isolated, non-periodic ``ase.Atoms``.

    Positions are made whole across periodic boundaries: starting from the atom
    ``indices[0]``, which keeps its position, every bonded atom is placed at the
    periodic image its bond points to.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure.
    indices : array-like of int
        The atoms of the molecule, e.g. one group from :func:`find_molecules`; they
        must be bonded into one molecule.
    scale : float, default=1.2
        Multiplier of the covalent radii that defines bonds, as in
        :func:`find_molecules`.

    Returns
    -------
    molecule : ase.Atoms
        The atoms in the order of ``indices``, with no cell and ``pbc=False``. The
        per-atom arrays of ``atoms`` (tags, momenta, custom arrays) are copied, the
        calculator is not. ``info["parent_indices"]`` holds ``indices``, and
        ``info["source"]`` the parent's ``info["source"]`` when it has one.

    Raises
    ------
    ValueError
        ``indices`` are empty, repeated or out of range, their atoms are not bonded
        into one molecule, or they form an infinite covalent network.
    """
    ase = require("ase", "atomistic")
    indices = _check_indices(indices, len(atoms))
    piece = ase.Atoms(
        numbers=atoms.numbers[indices],
        positions=atoms.positions[indices],
        cell=atoms.cell,
        pbc=atoms.pbc,
    )
    labels, offsets = _molecule_images(piece, scale, parent_indices=indices)
    if labels.max() > 0:
        apart = indices[labels != 0]
        raise ValueError(
            f"The atoms {_some(apart)} are not bonded to atom {indices[0]}, directly "
            f"or through the other atoms of indices (bonds within scale={scale} "
            "times the sum of covalent radii): indices do not form one molecule."
        )
    return _isolated(atoms, indices, offsets)


def split_into_molecules(atoms, scale: float = 1.2) -> list:
    """Every molecule of a structure as an isolated, non-periodic ``ase.Atoms``.

    The same as ``[extract_molecule(atoms, m, scale) for m in find_molecules(atoms,
    scale)]``, computing the bonds once.

    Parameters
    ----------
    atoms : ase.Atoms
        A periodic crystal or a non-periodic cluster.
    scale : float, default=1.2
        Multiplier of the covalent radii, as in :func:`find_molecules`.

    Returns
    -------
    molecules : list of ase.Atoms
        In the order of :func:`find_molecules`, each as from
        :func:`extract_molecule`.
    """
    labels, offsets = _molecule_images(atoms, scale)
    return [_isolated(atoms, indices, offsets[indices]) for indices in _groups(labels)]


def match_molecule(molecule, template, scale: float = 1.2):
    """``molecule`` with its atoms put in the order of the same atoms in
    ``template``: the same molecule in another geometry or atom order (a relaxed
    gas-phase molecule and the molecule cut from a crystal file, say).

    Atoms are matched by the bond graph (bonds as in :func:`find_molecules`, with
    elements), and among the matches that the molecule's symmetry allows (the
    three hydrogens of a methyl group, the two sides of a phenyl ring) by geometry:
    the one whose least-squares superposition on ``template`` is closest. When the
    atoms are already in the template's order (same elements, same bonds) the
    molecule is returned as it is.

    Parameters
    ----------
    molecule, template : ase.Atoms
        Non-periodic molecules (or clusters) with the same atoms.
    scale : float, default=1.2
        Multiplier of the covalent radii that defines bonds.

    Returns
    -------
    matched : ase.Atoms
        A copy of ``molecule`` (its per-atom arrays reordered with it), or
        ``molecule`` itself when its order is already the template's.

    Raises
    ------
    ValueError
        The two have different formulas, or no order of the atoms gives the same
        bonds (a different isomer or tautomer, or a geometry where a bond is
        broken or formed).
    """
    if molecule.get_chemical_formula("hill") != template.get_chemical_formula("hill"):
        raise ValueError(
            f"the molecule {molecule.get_chemical_formula('hill')} is not the "
            f"template's {template.get_chemical_formula('hill')}."
        )
    bonds = _bond_set(molecule, scale)
    template_bonds = _bond_set(template, scale)
    if list(molecule.numbers) == list(template.numbers) and bonds == template_bonds:
        return molecule
    candidates = _graph_matches(molecule, template, bonds, template_bonds)
    if not candidates:
        raise ValueError(
            f"no order of the atoms of the molecule {molecule.get_chemical_formula()} "
            f"gives the bonds of the template ({len(bonds)} and "
            f"{len(template_bonds)} bonds within scale={scale} times the covalent "
            "radii): they are different isomers or tautomers, or a bond is broken "
            "in one of the geometries."
        )
    order = min(candidates, key=lambda o: _misfit(molecule.positions[o], template))
    order = _refined(molecule, template, np.asarray(order), template_bonds, scale)
    return molecule[order]


MAX_MATCHES = 2000


def _bond_set(atoms, scale) -> set:
    from ase.neighborlist import natural_cutoffs, neighbor_list

    first, second = neighbor_list(
        "ij", atoms, natural_cutoffs(atoms, mult=scale), max_nbins=8 * len(atoms)
    )
    return {(int(i), int(j)) for i, j in zip(first, second, strict=True) if i < j}


def _graph_matches(molecule, template, bonds, template_bonds) -> list:
    """Orders of the molecule's atoms that map the template's bonds onto its
    bonds (graph isomorphisms with elements, by RDKit's substructure search)."""
    require("rdkit", "atomistic")

    if len(bonds) != len(template_bonds):
        return []
    query, target = _graph_mol(template, template_bonds), _graph_mol(molecule, bonds)
    matches = target.GetSubstructMatches(
        query, uniquify=False, useChirality=False, maxMatches=MAX_MATCHES
    )
    return [list(match) for match in matches]


def _graph_mol(atoms, bonds):
    from rdkit import Chem

    mol = Chem.RWMol()
    for number in atoms.numbers:
        atom = Chem.Atom(int(number))
        atom.SetNoImplicit(True)
        mol.AddAtom(atom)
    for i, j in sorted(bonds):
        mol.AddBond(i, j, Chem.BondType.SINGLE)
    mol = mol.GetMol()
    mol.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(mol)
    return mol


def superpose(moving, fixed, reflection: bool = False):
    """The least-squares superposition (Kabsch) of the points ``moving`` on
    ``fixed`` (both (n, 3), in corresponding order): the moved points and their
    root-mean-square distance to ``fixed``. With ``reflection`` an improper
    rotation (a mirror image) is used where it fits better."""
    a = moving - moving.mean(axis=0)
    b = fixed - fixed.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    if not reflection and np.linalg.det(rotation) < 0:
        rotation = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    moved = a @ rotation + fixed.mean(axis=0)
    return moved, float(np.sqrt(np.mean(np.sum((moved - fixed) ** 2, axis=1))))


def _misfit(positions, template) -> float:
    """Root-mean-square distance after the best rotation or mirror image: the
    matching of atoms must work for the mirror-image copies in a crystal."""
    return superpose(positions, template.positions, reflection=True)[1]


def _refined(molecule, template, order, template_bonds, scale):
    """The order after superposition, with each element's atoms re-paired to the
    nearest template atoms (Hungarian) where that keeps the bonds and fits
    better: the methyl rotors that the limit on graph matches may have missed."""
    from scipy.optimize import linear_sum_assignment

    b = template.positions
    a = molecule.positions[order]
    a0, b0 = a - a.mean(axis=0), b - b.mean(axis=0)
    u, _, vt = np.linalg.svd(a0.T @ b0)
    rotation = u @ vt  # proper or not, as _misfit
    placed = (molecule.positions - a.mean(axis=0)) @ rotation + b.mean(axis=0)
    refined = order.copy()
    for number in np.unique(template.numbers):
        slots = np.flatnonzero(template.numbers == number)
        atoms_ = np.flatnonzero(molecule.numbers == number)
        cost = np.linalg.norm(placed[atoms_][:, None] - b[slots][None], axis=2)
        rows, columns = linear_sum_assignment(cost)
        refined[slots[columns]] = atoms_[rows]
    if refined.tolist() == order.tolist():
        return order
    keeps_bonds = _bond_set(molecule[refined], scale) == template_bonds
    if keeps_bonds and _misfit(molecule.positions[refined], template) < _misfit(
        molecule.positions[order], template
    ):
        return refined
    return order


def _molecule_images(
    atoms, scale, parent_indices: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Label the atoms by molecule and give each the periodic image, in cells,
    that makes its molecule whole around the molecule's first atom.

    Raises the infinite-network error when a closed path of bonds ends in a
    different image of the atom it started from; ``parent_indices`` translates atom
    numbers in messages to those of a parent structure.
    """
    require("ase", "atomistic")
    from ase.neighborlist import natural_cutoffs, neighbor_list

    if not isinstance(scale, Real) or not scale > 0:
        raise ValueError(f"scale must be a positive number; got {scale!r}.")
    if len(atoms) == 0:
        raise ValueError("The structure has no atoms.")
    periodic = atoms.cell.array[atoms.pbc]
    if np.linalg.matrix_rank(periodic) < len(periodic):
        raise ValueError(
            f"The structure is periodic (pbc={atoms.pbc.tolist()}) but its cell "
            f"vectors along the periodic directions are zero or linearly dependent "
            f"(cell={atoms.cell.array.tolist()}): give the cell, or set pbc=False."
        )
    # At most 8 bins per atom: ase's default of up to 10⁶ bins costs tens of
    # milliseconds for a single molecule cut from a large cell.
    first, second, shifts = neighbor_list(
        "ijS",
        atoms,
        natural_cutoffs(atoms, mult=scale),
        max_nbins=min(8 * len(atoms), 10**6),
    )
    labels, offsets = _spanning_images(len(atoms), first, second, shifts)
    loops = offsets[first] + shifts - offsets[second]
    broken = np.flatnonzero(np.any(loops != 0, axis=1))
    if broken.size:
        bond = broken[0]
        members = np.flatnonzero(labels == labels[first[bond]])
        named = members if parent_indices is None else parent_indices[members]
        atom = second[bond] if parent_indices is None else parent_indices[second[bond]]
        raise ValueError(
            f"The atoms {_some(named)} "
            f"({atoms.symbols[members].get_chemical_formula()}) form an infinite "
            f"covalent network, not a molecule: a closed path of bonds leads from "
            f"atom {atom} to its own periodic image {tuple(loops[bond].tolist())} "
            "cells away, as in a bulk solid, a polymer chain or a layer. Bonds join "
            f"atoms closer than scale={scale} times the sum of their covalent radii; "
            "a smaller scale drops spurious bonds."
        )
    return labels, offsets


def _spanning_images(
    n_atoms: int, first: np.ndarray, second: np.ndarray, shifts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Walk the bond graph from the lowest-numbered atom of each connected part,
    labelling the parts in that order and placing each atom at the image that its
    bond from the walk points to (the root of each part at image (0, 0, 0))."""
    order = np.argsort(first, kind="stable")
    starts = np.searchsorted(first[order], np.arange(n_atoms + 1)).tolist()
    neighbours = second[order].tolist()
    steps = shifts[order].tolist()
    labels = [-1] * n_atoms
    offsets = [(0, 0, 0)] * n_atoms
    n_parts = 0
    for root in range(n_atoms):
        if labels[root] >= 0:
            continue
        labels[root] = n_parts
        stack = [root]
        while stack:
            atom = stack.pop()
            x, y, z = offsets[atom]
            for bond in range(starts[atom], starts[atom + 1]):
                other = neighbours[bond]
                if labels[other] < 0:
                    labels[other] = n_parts
                    dx, dy, dz = steps[bond]
                    offsets[other] = (x + dx, y + dy, z + dz)
                    stack.append(other)
        n_parts += 1
    return np.array(labels), np.array(offsets, dtype=int).reshape(n_atoms, 3)


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    """Atom indices per label, for labels 0, 1, ... numbered by first atom."""
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.cumsum(np.bincount(labels))[:-1])


def _isolated(atoms, indices: np.ndarray, offsets: np.ndarray):
    """The atoms ``indices`` moved by ``offsets`` cells, without cell or pbc."""
    from ase import Atoms

    molecule = Atoms(
        numbers=atoms.numbers[indices],
        positions=atoms.positions[indices] + offsets @ atoms.cell.array,
    )
    for name, values in atoms.arrays.items():
        if name not in ("numbers", "positions"):
            molecule.new_array(name, values[indices])
    molecule.info["parent_indices"] = indices.copy()
    if "source" in atoms.info:
        molecule.info["source"] = atoms.info["source"]
    return molecule


def _check_indices(indices, n_atoms: int) -> np.ndarray:
    given = np.asarray(indices)
    if given.ndim != 1 or given.size == 0 or given.dtype.kind not in "iu":
        raise ValueError(
            "indices must be a non-empty 1-D sequence of integer atom indices; got "
            f"{reprlib.repr(indices)}."
        )
    outside = given[(given < 0) | (given >= n_atoms)]
    if outside.size:
        raise ValueError(
            f"indices {_some(outside)} are out of range for a structure of "
            f"{n_atoms} atoms."
        )
    values, counts = np.unique(given, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"indices repeat the atoms {_some(values[counts > 1])}.")
    return given.astype(np.intp)


def _some(indices: np.ndarray, limit: int = 10) -> str:
    """A list of atom indices for a message, cut after ``limit`` of them."""
    shown = ", ".join(str(index) for index in indices[:limit].tolist())
    return f"[{shown}{', ...' if len(indices) > limit else ''}]"
