"""Seeing the result: matplotlib figures (latent maps, parity plots, mixing sweeps,
selection curves, motif contributions), chemiscope input files, a standalone
offline HTML viewer and the report page.

Install with ``pip install "propmap[viz]"``; matplotlib and chemiscope are imported
only when these functions are used.
"""

from propmap._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "calibration_plot": "propmap.viz._figures",
    "chemiscope_dataset": "propmap.viz._chemiscope",
    "latent_map": "propmap.viz._figures",
    "mixing_sweep": "propmap.viz._figures",
    "motif_contributions": "propmap.viz._figures",
    "parity_plot": "propmap.viz._figures",
    "read_chemiscope_structures": "propmap.viz._chemiscope",
    "save_figure": "propmap.viz._figures",
    "selection_curves": "propmap.viz._figures",
    "write_chemiscope_json": "propmap.viz._chemiscope",
    "write_report": "propmap.viz._report",
    "write_viewer": "propmap.viz._chemiscope",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
