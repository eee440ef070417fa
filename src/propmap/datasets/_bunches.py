"""The shipped datasets as scikit-learn Bunches (structures, a property table,
the targets and a DESCR that cites the data), as scikit-matter's loaders return
theirs."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

__all__ = [
    "load_g2_dataset",
    "load_molecular_crystals_dataset",
    "load_qm9_dataset",
    "load_s22_dataset",
]

QM9_DESCR = """QM9 (propmap's shipped subset)
==============================

Small organic molecules (up to 9 heavy atoms of C, N, O, F) with DFT
(B3LYP/6-31G(2df,p)) properties. propmap ships 2,000 of the 130,831 molecules of
qm9pack 1.0.3 (MIT licence), drawn without replacement with seed 2014; with the
``qm9`` extra the whole set can be read.

Per molecule (``frame``): qm9_index, smiles, n_atoms, U0 (internal energy at 0 K,
eV), gap (HOMO-LUMO gap, eV), homo, lumo (eV), dipole_moment (debye). Per atom:
``structures[i].arrays["mulliken_charges"]`` (e).

References
----------
R. Ramakrishnan, P. O. Dral, M. Rupp, O. A. von Lilienfeld, "Quantum chemistry
structures and properties of 134 kilo molecules", Scientific Data 1, 140022
(2014). https://doi.org/10.1038/sdata.2014.22

L. Ruddigkeit, R. van Deursen, L. C. Blum, J.-L. Reymond, "Enumeration of 166
billion organic small molecules in the chemical universe database GDB-17",
J. Chem. Inf. Model. 52, 2864 (2012). https://doi.org/10.1021/ci300415d
"""

G2_DESCR = """G2 (from ase)
=============

The 148 molecules of the G2 set (55 of G2-1, 93 of G2-2) as ``ase.data.g2``
stores them, with MP2(full)/6-31G(d) geometries and the experimental standard
enthalpies of formation at 298 K (kcal/mol; ``frame`` also in eV).

References
----------
L. A. Curtiss, K. Raghavachari, P. C. Redfern, J. A. Pople, "Assessment of
Gaussian-2 and density functional theories for the computation of enthalpies of
formation", J. Chem. Phys. 106, 1063 (1997). https://doi.org/10.1063/1.473182

V. N. Staroverov, G. E. Scuseria, J. Tao, J. P. Perdew, "Comparative assessment
of a new nonempirical density functional", J. Chem. Phys. 119, 12129 (2003).
https://doi.org/10.1063/1.1626543
"""

S22_DESCR = """S22 (from ase)
==============

The 22 non-covalent complexes of the S22 set (hydrogen-bonded, dispersion-bound
and mixed) as ``ase.data.s22`` stores them, their two monomers cut from each
complex, and the CCSD(T)/CBS counterpoise-corrected interaction energies of
Takatani et al. (kcal/mol, negative for a bound complex; ``frame`` also in eV).

References
----------
P. Jurečka, J. Šponer, J. Černý, P. Hobza, "Benchmark database of accurate (MP2
and CCSD(T) complete basis set limit) interaction energies of small model
complexes, DNA base pairs, and amino acid pairs", Phys. Chem. Chem. Phys. 8, 1985
(2006). https://doi.org/10.1039/B600027D

T. Takatani, E. G. Hohenstein, M. Malagoli, M. S. Marshall, C. D. Sherrill,
"Basis set consistent revision of the S22 test set of noncovalent interaction
energies", J. Chem. Phys. 132, 144104 (2010). https://doi.org/10.1063/1.3378024
"""

CRYSTALS_DESCR = """Molecular crystals (structures from pyxtal, energies by propmap)
================================================================

The single-component C/H/N/O crystals of the CSD crystals in pyxtal's databases
(test.db, mech.db), read from the installed pyxtal, with GFN1-xTB lattice
energies (kJ/mol per molecule) that propmap computed with tblite
(scripts/compute_crystal_energies.py) and ships: each molecule relaxed in the gas
phase and superimposed on its place in the cell (a rigid-molecule model), the
crystal's energy at the Γ point of a supercell at least 10 Å wide.

``frame``: the shipped table (CSD code, cell, supercell, energies, shortest
intermolecular contact, timings). ``molecules[i]``: the relaxed gas-phase
molecules of crystal i, one per molecule of its cell.

References
----------
S. Fredericks, K. Parrish, D. Sayre, Q. Zhu, "PyXtal: a Python library for
crystal structure generation and symmetry analysis", Comput. Phys. Commun. 261,
107810 (2021). https://doi.org/10.1016/j.cpc.2020.107810

S. Grimme, C. Bannwarth, P. Shushkov, "A robust and accurate tight-binding
quantum chemical method for structures, vibrational frequencies, and noncovalent
interactions of large molecular systems parametrized for all spd-block elements
(Z = 1-86)", J. Chem. Theory Comput. 13, 1989 (2017).
https://doi.org/10.1021/acs.jctc.7b00118
"""


def _frame(records: list[dict]):
    import pandas as pd

    return pd.DataFrame.from_records(records)


def load_qm9_dataset(n: int | None = 2000, *, random_state: int = 0) -> Bunch:
    """QM9 molecules and their properties as a Bunch.

    Parameters
    ----------
    n : int or None, default=2000
        How many molecules; None: all (as :func:`propmap.datasets.load_qm9`).
    random_state : int, default=0
        Which molecules, as :func:`propmap.datasets.load_qm9`.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``structures`` (list of ase.Atoms), ``frame`` (a pandas DataFrame, one row
        per molecule), ``target`` (ndarray of shape (n, 5): U0, gap, homo, lumo,
        dipole_moment), ``target_names`` and ``DESCR``.

    Examples
    --------
    >>> from propmap.datasets import load_qm9_dataset
    >>> qm9 = load_qm9_dataset(10)
    >>> qm9.target.shape, qm9.target_names[1]
    ((10, 5), 'gap')
    """
    from propmap.datasets._qm9 import load_qm9

    structures = load_qm9(n, random_state=random_state)
    names = ["U0", "gap", "homo", "lumo", "dipole_moment"]
    frame = _frame(
        [
            {
                "qm9_index": m.info["qm9_index"],
                "smiles": m.info["smiles"],
                "n_atoms": len(m),
                **{name: m.info[name] for name in names},
            }
            for m in structures
        ]
    )
    return Bunch(
        structures=structures,
        frame=frame,
        target=frame[names].to_numpy(dtype=np.float64),
        target_names=names,
        DESCR=QM9_DESCR,
    )


def load_g2_dataset() -> Bunch:
    """The G2 molecules and their enthalpies of formation as a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``structures`` (148 ase.Atoms), ``frame`` (name, description, database,
        enthalpies in kcal/mol and eV), ``target`` (enthalpies of formation,
        kcal/mol), ``target_names`` and ``DESCR``.
    """
    from propmap.datasets._ase import load_g2

    structures, enthalpies = load_g2()
    keys = [
        "name",
        "description",
        "database",
        "enthalpy_of_formation",
        "enthalpy_of_formation_eV",
    ]
    frame = _frame([{key: m.info[key] for key in keys} for m in structures])
    return Bunch(
        structures=structures,
        frame=frame,
        target=np.asarray(enthalpies, dtype=np.float64),
        target_names=["enthalpy_of_formation"],
        DESCR=G2_DESCR,
    )


def load_s22_dataset() -> Bunch:
    """The S22 complexes, their monomers and interaction energies as a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``structures`` (the 22 complexes), ``monomers_a``, ``monomers_b``,
        ``frame`` (name, interaction energies in kcal/mol and eV), ``target``
        (interaction energies, kcal/mol), ``target_names`` and ``DESCR``.
    """
    from propmap.datasets._ase import load_s22

    s22 = load_s22()
    frame = _frame(
        [
            {
                "name": name,
                "interaction_energy": float(energy),
                "interaction_energy_eV": float(energy_eV),
            }
            for name, energy, energy_eV in zip(
                s22.names,
                s22.interaction_energies,
                s22.interaction_energies_eV,
                strict=True,
            )
        ]
    )
    return Bunch(
        structures=s22.dimers,
        monomers_a=s22.monomers_a,
        monomers_b=s22.monomers_b,
        frame=frame,
        target=np.asarray(s22.interaction_energies, dtype=np.float64),
        target_names=["interaction_energy"],
        DESCR=S22_DESCR,
    )


def load_molecular_crystals_dataset(codes=None) -> Bunch:
    """Molecular crystals and their GFN1-xTB lattice energies as a Bunch.

    Parameters
    ----------
    codes : list of str or None, default=None
        CSD codes of the crystals to load; None: all (as
        :func:`propmap.datasets.load_molecular_crystals`).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``structures`` (the crystals), ``molecules`` (their relaxed gas-phase
        molecules), ``frame`` (the table of energies, one row per crystal),
        ``target`` (lattice energies, kJ/mol per molecule), ``target_names`` and
        ``DESCR``.
    """
    from propmap.datasets._crystals import load_molecular_crystals

    data = load_molecular_crystals(codes)
    return Bunch(
        structures=data.crystals,
        molecules=data.molecules,
        frame=data.table.reset_index(),
        target=data.lattice_energies,
        target_names=["lattice_energy"],
        DESCR=CRYSTALS_DESCR,
    )
