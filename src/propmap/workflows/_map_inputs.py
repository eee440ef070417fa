"""What a map is made of: structures and their SOAP features (in memory, or on
a cluster), or the rows of a feature table; read once, checked, and what they
will need in memory said before the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from propmap.atomistic._io import pack_structures, unpack_structures
from propmap.workflows._map_options import CV_FOLDS, GRAM_ROWS
from propmap.workflows._map_streamed import read_files
from propmap.workflows._options import Aggregate, Kernel, Per
from propmap.workflows._options import WorkflowError as _Error
from propmap.workflows._steps import featurise, point_names, read_inputs
from propmap.workflows._tables import read_table

__all__ = ["MapInputs", "check_kernel_size", "read_map_inputs"]


@dataclass
class MapInputs:
    """What the map is made of: structures and their SOAP features, or the rows
    of a feature table."""

    X: np.ndarray
    y: np.ndarray
    names: list[str]
    structures: list | None
    featurizer: Any
    x_scaler: Any
    kind: str  # "structures", "atoms" or "rows"
    columns: list[str] | None = None  # a table's feature columns
    # a map of atoms: the structure of each row (splits keep structures whole)
    groups: np.ndarray | None = None
    # per structure, an object with .numbers (the structures themselves, or
    # their compositions when the structures stayed on a cluster)
    compositions: list | None = None
    # the structures packed (pack_structures): the map's record
    packed: dict | None = None

    def __post_init__(self):
        if self.compositions is None and self.structures is not None:
            self.compositions = self.structures
        if self.packed is None and self.structures is not None:
            self.packed = pack_structures(self.structures)


def check_kernel_size(inputs, kernel, sparse) -> None:
    """A dense kernel map of many rows would need n x n matrices."""
    n = len(inputs.y)
    if kernel != Kernel.linear and sparse is None and n > GRAM_ROWS:
        raise _Error(
            f"a {kernel.value} kernel map of {n:,} {inputs.kind} needs {n:,} x {n:,} "
            f"kernels; use `sparse` (e.g. `sparse` 2000) or the linear kernel."
        )


def working_set(kernel: Kernel, sparse: int | None = None) -> dict:
    """How the features are held, and what the map needs besides them.

    Both hold the features once, scaled in place. A linear map holds them in
    float32, plus three d x d float64 matrices (``XᵀX``, its pivoted Cholesky
    factor and the basis of the span), one r x r (r <= d) per fold and for the
    refit, and, for fewer rows than columns, two n x n ones. A dense kernel map
    holds float64 features and about three n x n matrices (distances, the
    kernel, a fold's); a Nyström map of m active points the n x n Gram matrix
    (up to GRAM_ROWS rows) and each fold's n x m distances twice.
    """
    if kernel == Kernel.linear:

        def linear(n, d):
            return 8 * (3 + CV_FOLDS + 1) * d * d + 8 * 2 * min(n, d) ** 2

        return {"dtype": "float32", "copies": 1, "extra": linear}
    if sparse is not None:

        def nystroem(n, d):
            return 8 * min(n, GRAM_ROWS) ** 2 + 8 * 2 * (CV_FOLDS + 1) * n * sparse

        return {"copies": 1, "extra": nystroem}
    return {"copies": 1, "extra": lambda n, d: 8 * 3 * min(n, GRAM_ROWS) ** 2}


def read_map_inputs(paths, options, progress, from_table, streamed) -> MapInputs:
    """The rows of the map (structures, atoms or a table's rows), their target
    and their features, for the resolved ``options``."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from propmap.preprocessing import StandardFlexibleScaler

    target, soap = options.target, options.soap
    if from_table:
        table = read_table(paths[0], target, options.index)
        if table.y is None or not np.all(np.isfinite(table.y)):
            raise _Error(f"the target {target!r} has missing or non-numeric values.")
        # columns in their own units: unit variance each, then ‖X‖² = n as for SOAP
        scaler = make_pipeline(StandardScaler(), StandardFlexibleScaler())
        return MapInputs(
            table.X, table.y, table.rows, None, None, scaler, "rows", table.columns
        )
    per = "structure" if options.aggregate == Aggregate.mean else "sum"
    if streamed:
        found = read_files(paths, target, soap, per, progress)
        return MapInputs(
            found.X, found.y, found.names,
            None if found.packed is None else unpack_structures(found.packed),
            found.featurizer, StandardFlexibleScaler(), "structures",
            compositions=found.compositions, packed=found.packed,
        )  # fmt: skip
    structures, _ = read_inputs(paths, None, progress)
    if options.per == Per.atom:
        return _read_atoms(structures, target, soap, progress, options)
    y = _targets(structures, target, Per.structure)
    featurizer, X = featurise(
        structures, soap, per, progress, **working_set(options.kernel, options.sparse)
    )
    names = point_names(structures)
    return MapInputs(
        X, y, names, structures, featurizer, StandardFlexibleScaler(), "structures"
    )


def _targets(structures, target: str, per: Per):
    """The target of each structure (or atom), or an error that says which kind
    of property it is when it is the other kind."""
    from propmap.atomistic import atom_targets, structure_targets

    try:
        if per == Per.atom:
            return atom_targets(structures, target)
        return structure_targets(structures, target)
    except KeyError:
        if per == Per.structure and any(target in a.arrays for a in structures):
            raise _Error(
                f"{target!r} is a per-atom property: map the atoms with `per` atom."
            ) from None
        if per == Per.atom and any(target in a.info for a in structures):
            raise _Error(
                f"{target!r} is a per-structure property: map the structures "
                "(leave out `per` atom)."
            ) from None
        raise


def _read_atoms(structures, target, soap, progress, options) -> MapInputs:
    """The atoms of the structures as the map's rows: per-atom SOAP and the
    per-atom target."""
    from propmap.preprocessing import StandardFlexibleScaler

    values = _targets(structures, target, Per.atom)
    for position, value in enumerate(values):
        if value.ndim != 1:
            raise _Error(
                f"the per-atom target {target!r} has {value.shape[1:]} values per "
                f"atom in structure {position}; a map needs one number per atom."
            )
    featurizer, X = featurise(
        structures,
        soap,
        "atom",
        progress,
        **working_set(options.kernel, options.sparse),
    )
    sizes = np.array([len(atoms) for atoms in structures])
    names = point_names(structures, per_atom=True)
    return MapInputs(
        np.asarray(X.toarray() if hasattr(X, "toarray") else X),
        np.concatenate(values), names, structures, featurizer,
        StandardFlexibleScaler(), "atoms",
        groups=np.repeat(np.arange(len(structures)), sizes),
    )  # fmt: skip
