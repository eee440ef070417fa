"""Molecules of molecular crystals and clusters, found from covalent bonds."""

from __future__ import annotations

import reprlib
from numbers import Real

import numpy as np

from propmap._requirements import require

__all__ = ["extract_molecule", "find_molecules", "split_into_molecules"]


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
