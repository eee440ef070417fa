"""QM9: 134k small organic molecules (H, C, N, O, F; up to nine heavy atoms) with
DFT (B3LYP/6-31G(2df,p)) properties.

A fixed subset of 2,000 molecules ships inside propmap; all 130,831 molecules that
converged are read from the ``qm9pack`` package (extra ``qm9``) when it is
installed. The subset is made from qm9pack's tables by
``scripts/make_qm9_subset.py``, with :func:`molecules_from_table` below, so the
shipped file and a full load describe every molecule the same way.
"""

from __future__ import annotations

import gzip
import importlib.resources
import io
from pathlib import Path

import numpy as np

from propmap._requirements import require

__all__ = ["QM9_SUBSET_SIZE", "load_qm9", "molecules_from_table"]

# hartree in eV (CODATA 2018, as in ase.units.Hartree)
HARTREE_EV = 27.211386245988
QM9_SUBSET_SIZE = 2000
QM9_SIZE = 130_831
SUBSET_FILE = "qm9_2000.extxyz.gz"
# the qm9pack columns read, and the info keys (and units) they become
_COLUMNS = {
    "InternalEnergy_0K_au": ("U0", HARTREE_EV),
    "HOMO_LUMO_gap_au": ("gap", HARTREE_EV),
    "HOMO_au": ("homo", HARTREE_EV),
    "LUMO_au": ("lumo", HARTREE_EV),
    "Dipole_debye": ("dipole_moment", 1.0),
}


def _numbers(text: str) -> np.ndarray:
    """The numbers of a qm9pack list column such as ``"[[0.1,0.,1.],[...]]"``."""
    return np.array(text.replace("[", "").replace("]", "").split(","), dtype=float)


def molecules_from_table(table) -> list:
    """ase molecules from rows of qm9pack's table (a pandas DataFrame with its
    columns ``Index``, ``SMILES``, ``Elements``, ``XYZ_Ang``, ``Mulliken_pop`` and
    the property columns).

    Each molecule gets ``info`` keys ``qm9_index`` (QM9's own numbering, 1 to
    133,885), ``smiles``, ``U0`` (internal energy at 0 K, eV), ``gap`` (HOMO–LUMO
    gap, eV), ``homo`` and ``lumo`` (eV), ``dipole_moment`` (debye), and the
    per-atom array ``mulliken_charges`` (e).
    """
    ase = require("ase", "atomistic")
    missing = [
        name
        for name in (
            "Index",
            "SMILES",
            "Elements",
            "XYZ_Ang",
            "Mulliken_pop",
            *_COLUMNS,
        )
        if name not in table.columns
    ]
    if missing:
        raise ValueError(
            f"the QM9 table lacks the columns {', '.join(missing)}; is it qm9pack's?"
        )
    molecules = []
    for row in table.itertuples(index=False):
        row = row._asdict()
        symbols = [s.strip(" '\"") for s in row["Elements"].strip("[]").split(",")]
        positions = _numbers(row["XYZ_Ang"])
        charges = _numbers(row["Mulliken_pop"])
        if positions.size != 3 * len(symbols) or charges.size != len(symbols):
            raise ValueError(
                f"QM9 molecule {row['Index']}: {len(symbols)} elements but "
                f"{positions.size} coordinates and {charges.size} charges."
            )
        molecule = ase.Atoms(symbols, positions=positions.reshape(-1, 3))
        molecule.set_array("mulliken_charges", charges)
        molecule.info["qm9_index"] = int(row["Index"])
        molecule.info["smiles"] = str(row["SMILES"])
        for column, (key, unit) in _COLUMNS.items():
            molecule.info[key] = float(row[column]) * unit
        molecules.append(molecule)
    return molecules


def qm9pack_table(folder=None):
    """qm9pack's three CSV parts as one table in QM9's order (``folder``: where
    they are; default: the installed qm9pack package's data)."""
    import pandas as pd

    if folder is None:
        folder = importlib.resources.files("qm9pack") / "data"
    parts = [pd.read_csv(folder / f"qm9_part{k}.csv") for k in (1, 2, 3)]
    return pd.concat(parts, ignore_index=True).sort_values("Index")


def _read_qm9pack(n: int | None, random_state: int) -> list:
    try:
        import qm9pack  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "load_qm9(n=...) beyond the shipped 2,000 molecules reads the whole QM9 "
            "set from the qm9pack package, which is not installed: pip install "
            '"propmap[qm9]"'
        ) from error
    table = qm9pack_table()
    if n is not None and n < len(table):
        rows = np.random.default_rng(random_state).choice(len(table), n, replace=False)
        table = table.iloc[np.sort(rows)]
    return molecules_from_table(table)


def load_qm9(n: int | None = QM9_SUBSET_SIZE, *, random_state: int = 0) -> list:
    """Molecules of the QM9 set with their energies, gaps, dipoles and charges.

    Parameters
    ----------
    n : int or None, default=2000
        How many molecules. 2000 (the default) is the fixed subset shipped with
        propmap (no other package needed beyond the ``atomistic`` extra); any
        smaller number gives the first ``n`` of that subset. ``None`` (all 130,831)
        or a larger number reads the whole set from the ``qm9pack`` package
        (``pip install "propmap[qm9]"``) and draws ``n`` molecules with
        ``random_state``.
    random_state : int, default=0
        Seed of the draw from the whole set (unused for the shipped subset).

    Returns
    -------
    molecules : list of ase.Atoms
        In the order of QM9's numbering. ``info`` holds ``qm9_index``, ``smiles``,
        ``U0`` (internal energy at 0 K, eV), ``gap`` (HOMO–LUMO gap, eV), ``homo``,
        ``lumo`` (eV) and ``dipole_moment`` (debye); the per-atom array
        ``mulliken_charges`` holds Mulliken charges (e).

    Notes
    -----
    The shipped subset is 2,000 molecules drawn without replacement (seed 2014)
    from the 130,831 of qm9pack 1.0.3 (MIT licence), which tabulates the data of
    the original publication.

    References
    ----------
    .. [1] R. Ramakrishnan, P. O. Dral, M. Rupp, O. A. von Lilienfeld, "Quantum
       chemistry structures and properties of 134 kilo molecules", Scientific
       Data 1, 140022 (2014). https://doi.org/10.1038/sdata.2014.22

    Examples
    --------
    >>> from propmap.datasets import load_qm9
    >>> molecules = load_qm9()
    >>> len(molecules), molecules[0].info["smiles"], round(molecules[0].info["gap"], 2)
    (2000, 'NC(=O)C=O', 4.82)
    """
    if n is not None and (not isinstance(n, int | np.integer) or n < 1):
        raise ValueError(f"n must be a positive integer or None, not {n!r}.")
    if n is not None and n <= QM9_SUBSET_SIZE:
        return _read_subset()[:n]
    if n is not None and n > QM9_SIZE:
        raise ValueError(f"QM9 has {QM9_SIZE} molecules; n={n} is more.")
    return _read_qm9pack(n, random_state)


def subset_path() -> Path:
    """Where the shipped subset lives."""
    return Path(str(importlib.resources.files("propmap.datasets") / "data")) / (
        SUBSET_FILE
    )


def _read_subset() -> list:
    require("ase", "atomistic")
    import ase.io

    # decompressed whole: ase's reader seeks, which a gzip stream does by
    # decompressing again from the start (20 s instead of 0.5 s)
    text = gzip.decompress(subset_path().read_bytes()).decode("utf-8")
    molecules = ase.io.read(io.StringIO(text), index=":", format="extxyz")
    for molecule in molecules:
        molecule.info.pop("source", None)
        # plain Python numbers, as molecules_from_table makes them
        for key, value in molecule.info.items():
            if isinstance(value, np.generic):
                molecule.info[key] = value.item()
    return molecules
