"""Small reference datasets shipped with ase, loaded offline.

Energies are in kcal/mol, the unit of the literature on both sets, with a twin in
eV (``ase.units.kcal / ase.units.mol`` = 0.0433641 eV per kcal/mol) under a key
or attribute whose name ends in ``_eV``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from propmap._requirements import require

__all__ = ["S22", "load_g2", "load_s22"]


def load_g2() -> tuple[list, np.ndarray]:
    """The molecules of the G2 set (G2-1 and G2-2) with their experimental enthalpies
    of formation.

    The 148 molecules of ``ase.data.g2`` (55 from G2-1, 93 from G2-2), with
    MP2(full)/6-31G(d) geometries and experimental standard enthalpies of formation
    at 298 K from Staroverov et al., J. Chem. Phys. 119, 12129 (2003) (all of
    them in ase 3.29; molecules without an enthalpy would be left out). The free
    atoms of the table are left out too: their enthalpies are at 0 K.

    Returns
    -------
    molecules : list of ase.Atoms
        Non-periodic, in the order of ``ase.data.g2.molecule_names``. Each has
        ``info["name"]`` (the ase name, e.g. ``"CH4"``), ``info["description"]``,
        ``info["database"]`` (``"G2-1"`` or ``"G2-2"``),
        ``info["enthalpy_of_formation"]`` in kcal/mol and
        ``info["enthalpy_of_formation_eV"]`` in eV; the 30 open-shell molecules carry
        their initial magnetic moments.
    enthalpies : ndarray of shape (n_molecules,)
        The enthalpies of formation in kcal/mol.

    References
    ----------
    .. [1] L. A. Curtiss, K. Raghavachari, P. C. Redfern, J. A. Pople, "Assessment
       of Gaussian-2 and density functional theories for the computation of
       enthalpies of formation", J. Chem. Phys. 106, 1063 (1997).
    .. [2] V. N. Staroverov, G. E. Scuseria, J. Tao, J. P. Perdew, "Comparative
       assessment of a new nonempirical density functional: Molecules and
       hydrogen-bonded complexes", J. Chem. Phys. 119, 12129 (2003).
    """
    ase = require("ase", "atomistic")
    from ase.data import g2
    from ase.units import kcal, mol

    molecules = []
    for name in g2.molecule_names:
        entry = g2.data[name]
        if entry.get("enthalpy") is None:
            continue
        enthalpy = float(entry["enthalpy"])
        molecule = ase.Atoms(
            entry["symbols"],
            entry["positions"],
            magmoms=entry["magmoms"],
            charges=entry["charges"],
        )
        molecule.info.update(
            name=name,
            description=entry["description"],
            database=entry["database"],
            enthalpy_of_formation=enthalpy,
            enthalpy_of_formation_eV=enthalpy * kcal / mol,
        )
        molecules.append(molecule)
    enthalpies = np.array([m.info["enthalpy_of_formation"] for m in molecules])
    return molecules, enthalpies


@dataclass(frozen=True)
class S22:
    """The S22 set of non-covalent dimers, as loaded by :func:`load_s22`.

    Parameters
    ----------
    names : list of str
        The ase names of the 22 complexes, e.g. ``"Water_dimer"``.
    dimers : list of ase.Atoms
        The complexes. Each has ``info["name"]``, ``info["interaction_energy"]``
        (kcal/mol) and ``info["interaction_energy_eV"]``.
    monomers_a, monomers_b : list of ase.Atoms
        The two molecules of each complex, cut from it with the same coordinates:
        ``monomers_a[k]`` is the first ``n_a`` atoms of ``dimers[k]`` and
        ``monomers_b[k]`` the rest, with ``(n_a, n_b)`` from
        ``ase.data.s22.get_number_of_dimer_atoms``. Each has ``info["name"]``
        (the complex's name with ``"/A"`` or ``"/B"``), ``info["dimer"]`` and
        ``info["parent_indices"]`` (its atoms in the complex).
    interaction_energies : ndarray of shape (22,)
        CCSD(T)/CBS counterpoise-corrected interaction energies in kcal/mol,
        negative for a bound complex.
    interaction_energies_eV : ndarray of shape (22,)
        The same in eV, as ase stores them (to 0.1 meV).
    """

    names: list
    dimers: list
    monomers_a: list
    monomers_b: list
    interaction_energies: np.ndarray
    interaction_energies_eV: np.ndarray


def load_s22() -> S22:
    """The S22 set of weakly bound dimers and their interaction energies.

    The 22 complexes of ``ase.data.s22`` (hydrogen-bonded, dispersion-bound and
    mixed), with the CCSD(T)/CBS interaction energies of Takatani et al. that ase
    stores in eV, converted to kcal/mol with ``ase.units``.

    Returns
    -------
    s22 : S22
        The complexes, their two monomers and the interaction energies.

    References
    ----------
    .. [1] P. Jurečka, J. Šponer, J. Černý, P. Hobza, "Benchmark database of
       accurate (MP2 and CCSD(T) complete basis set limit) interaction energies of
       small model complexes, DNA base pairs, and amino acid pairs", Phys. Chem.
       Chem. Phys. 8, 1985 (2006).
    .. [2] T. Takatani, E. G. Hohenstein, M. Malagoli, M. S. Marshall, C. D.
       Sherrill, "Basis set consistent revision of the S22 test set of noncovalent
       interaction energies", J. Chem. Phys. 132, 144104 (2010).
    """
    require("ase", "atomistic")
    from ase.data import s22
    from ase.units import kcal, mol

    names = list(s22.s22)
    energies_eV = np.array([s22.get_interaction_energy_s22(name) for name in names])
    energies = energies_eV / (kcal / mol)
    dimers, monomers_a, monomers_b = [], [], []
    for name, energy, energy_eV in zip(names, energies, energies_eV, strict=True):
        dimer = s22.create_s22_system(name)
        dimer.info.update(
            name=name,
            interaction_energy=float(energy),
            interaction_energy_eV=float(energy_eV),
        )
        n_a, n_b = s22.get_number_of_dimer_atoms(name)
        for part, indices, monomers in (
            ("A", np.arange(n_a), monomers_a),
            ("B", np.arange(n_a, n_a + n_b), monomers_b),
        ):
            monomer = dimer[indices]
            monomer.info = {
                "name": f"{name}/{part}",
                "dimer": name,
                "parent_indices": indices,
            }
            monomers.append(monomer)
        dimers.append(dimer)
    return S22(names, dimers, monomers_a, monomers_b, energies, energies_eV)
