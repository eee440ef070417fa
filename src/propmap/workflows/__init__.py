"""The jobs users run, as library code: the ``propmap`` command and Python users
call the same functions.

>>> from propmap.workflows import map_structures, SoapOptions  # doctest: +SKIP
>>> summary = map_structures(["qm9.extxyz"], "gap", "gap-map")  # doctest: +SKIP
"""

from propmap._lazy import lazy_exports

_EXPORTS = {
    "Aggregate": "propmap.workflows._options",
    "Axis": "propmap.workflows._options",
    "ClusterOptions": "propmap.workflows._cluster",
    "Baseline": "propmap.workflows._options",
    "Kernel": "propmap.workflows._options",
    "Layout": "propmap.workflows._options",
    "Per": "propmap.workflows._options",
    "Method": "propmap.workflows._options",
    "SoapOptions": "propmap.workflows._options",
    "WorkflowError": "propmap.workflows._options",
    "ATOM_MAP_FILES": "propmap.workflows._map",
    "MAP_FILES": "propmap.workflows._map",
    "MapOptions": "propmap.workflows._map_options",
    "MapResult": "propmap.workflows._map_options",
    "map_structures": "propmap.workflows._map",
    "PROJECT_FILES": "propmap.workflows._project",
    "load_map": "propmap.workflows._project",
    "project_structures": "propmap.workflows._project",
    "MapPipeline": "propmap.workflows._pipeline",
    "CONTRIBUTION_FILES": "propmap.workflows._contributions",
    "CONTRIBUTION_SOAP": "propmap.workflows._contributions",
    "explain_contributions": "propmap.workflows._contributions",
    "compare_environments": "propmap.workflows._similarity",
    "similar_structures": "propmap.workflows._similarity",
    "contributions_section": "propmap.workflows._contributions",
    "map_section": "propmap.workflows._map",
    "run_demo": "propmap.workflows._demo",
    "SELECT_FILES": "propmap.workflows._select",
    "run_selection": "propmap.workflows._select",
    "read_table": "propmap.workflows._tables",
    "ScaledTargetModel": "propmap.workflows._pipeline",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
