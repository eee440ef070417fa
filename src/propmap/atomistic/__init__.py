"""The atomistic pipeline: structures in (ase), SOAP power spectra (featomic),
remnant features of molecular crystals, additive models with per-atom and
per-motif contributions, and motif labels from SMARTS patterns (RDKit).

Install with ``pip install "propmap[atomistic]"``. The numerics core never imports
this package; it imports ase, featomic and RDKit only when their functions are used.
"""

from propmap._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "CompositionBaseline": "propmap.atomistic._baseline",
    "Motif": "propmap.atomistic._motifs",
    "MotifPerceptionWarning": "propmap.atomistic._motifs",
    "label_motifs": "propmap.atomistic._motifs",
    "load_motifs": "propmap.atomistic._motifs",
    "motif_contributions": "propmap.atomistic._motifs",
    "structure_to_mol": "propmap.atomistic._motifs",
    "summarize_motifs": "propmap.atomistic._motifs",
    "as_structure_list": "propmap.atomistic._io",
    "atom_targets": "propmap.atomistic._io",
    "FileFeatures": "propmap.atomistic._files_dask",
    "featurize_files": "propmap.atomistic._files_dask",
    "featurize_packed": "propmap.atomistic._files_dask",
    "extract_molecule": "propmap.atomistic._molecules",
    "find_molecules": "propmap.atomistic._molecules",
    "match_molecule": "propmap.atomistic._molecules",
    "pack_structures": "propmap.atomistic._io",
    "read_structures": "propmap.atomistic._io",
    "unpack_structures": "propmap.atomistic._io",
    "split_into_molecules": "propmap.atomistic._molecules",
    "structure_targets": "propmap.atomistic._io",
    "AdditiveModel": "propmap.atomistic._additive",
    "DensityCorrelationFeaturizer": "propmap.atomistic._correlations",
    "RemnantFeaturizer": "propmap.atomistic._remnant",
    "SoapFeaturizer": "propmap.atomistic._soap",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
