"""Datasets: QM9 (2,000 molecules shipped, all 130,831 with the ``qm9`` extra),
G2 and S22 (from ase), molecular crystals with lattice energies (structures from
pyxtal, the ``crystals`` extra), all read offline.

They need the ``atomistic`` extra (ase); the loaders are imported on first use.
``load_*`` return the structures as propmap's workflows use them;
``load_*_dataset`` return a scikit-learn ``Bunch`` (structures, a property table,
targets, and a ``DESCR`` citing the data), like scikit-matter's loaders.
"""

from propmap._lazy import lazy_exports

_EXPORTS = {
    "load_qm9": "propmap.datasets._qm9",
    "load_g2": "propmap.datasets._ase",
    "load_s22": "propmap.datasets._ase",
    "S22": "propmap.datasets._ase",
    "load_molecular_crystals": "propmap.datasets._crystals",
    "CrystalMismatchWarning": "propmap.datasets._crystals",
    # the same as scikit-learn Bunches with a DESCR, as scikit-matter's loaders
    "load_qm9_dataset": "propmap.datasets._bunches",
    "load_g2_dataset": "propmap.datasets._bunches",
    "load_s22_dataset": "propmap.datasets._bunches",
    "load_molecular_crystals_dataset": "propmap.datasets._bunches",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
