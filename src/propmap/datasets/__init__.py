"""Datasets: QM9 (2,000 molecules shipped, all 130,831 with the ``qm9`` extra),
G2 and S22 (from ase), all read offline.

They need the ``atomistic`` extra (ase); the loaders are imported on first use.
"""

from propmap._lazy import lazy_exports

_EXPORTS = {
    "load_qm9": "propmap.datasets._qm9",
    "load_g2": "propmap.atomistic._datasets",
    "load_s22": "propmap.atomistic._datasets",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
