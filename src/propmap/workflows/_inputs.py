"""The rows every workflow works on, read once: structures and their SOAP
features (in memory, or on a cluster's workers), the atoms of structures, or a
feature table's rows; one rule for scaling a table's columns; new rows for an
existing map; and, before the work, what the map's features will need in memory.

``propmap map``, ``select``, ``project`` and ``contributions`` read through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from propmap.atomistic._io import pack_structures, unpack_structures
from propmap.workflows._map_options import CV_FOLDS, GRAM_ROWS
from propmap.workflows._map_streamed import read_files
from propmap.workflows._options import Aggregate, Kernel, Per
from propmap.workflows._options import WorkflowError as _Error
from propmap.workflows._steps import check_memory, featurise, stage
from propmap.workflows._tables import is_feature_file, read_table

__all__ = [
    "Inputs",
    "check_kernel_size",
    "feature_names",
    "isolated",
    "point_names",
    "read_inputs",
    "read_map_inputs",
    "read_rows",
    "read_table_rows",
    "table_scaler",
    "working_set",
]


def table_scaler():
    """The scaling of a feature table's columns, for every workflow: each column
    in its own units to unit variance (a constant one is only centred), then all
    of them together to ``‖X‖² = n``, as SOAP features are scaled
    (:class:`~propmap.preprocessing.StandardFlexibleScaler`), so that a mixing
    means the same for a table of any width."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from propmap.preprocessing import StandardFlexibleScaler

    return make_pipeline(StandardScaler(), StandardFlexibleScaler())


@dataclass
class Inputs:
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
    float32, plus one r x r matrix (r <= min(n, d), the rank of their span) per
    fold and for the refit, and, for more rows than columns, three d x d
    float64 matrices (``XᵀX``, its pivoted Cholesky factor and the basis of
    the span), for fewer, two n x n and two n x d ones (the kernel ``XXᵀ``,
    its eigenvectors, X in float64 and the basis). A dense kernel map
    holds float64 features and about three n x n matrices (distances, the
    kernel, a fold's); a Nyström map of m active points the n x n Gram matrix
    (up to GRAM_ROWS rows) and each fold's n x m distances twice.
    """
    if kernel == Kernel.linear:

        def linear(n, d):
            r = min(n, d)  # the span's rank, at most
            # n > d: XᵀX, its factor, the basis; else X in float64, the n x n
            # kernel, its eigenvectors, the basis
            span = 3 * d * d if n > d else 2 * n * d + 2 * n * n
            return 8 * (span + (CV_FOLDS + 1) * r * r)

        return {"dtype": "float32", "copies": 1, "extra": linear}
    if sparse is not None:

        def nystroem(n, d):
            return 8 * min(n, GRAM_ROWS) ** 2 + 8 * 2 * (CV_FOLDS + 1) * n * sparse

        return {"copies": 1, "extra": nystroem}
    return {"copies": 1, "extra": lambda n, d: 8 * 3 * min(n, GRAM_ROWS) ** 2}


def read_map_inputs(
    paths, options, progress, from_table, streamed, gather: bool = False
) -> Inputs:
    """The rows of the map (structures, atoms or a table's rows), their target
    and their features, for the resolved ``options``; ``streamed`` and
    ``gather``: computed on a cluster's workers and brought back here when the
    in-memory job fits (numpy X), else left there (dask X)."""
    if from_table:
        inputs = read_rows(paths, options.target, index=options.index)
        if inputs.y is None or not np.all(np.isfinite(inputs.y)):
            raise _Error(
                f"the target {options.target!r} has missing or non-numeric values."
            )
        return inputs
    return read_rows(
        paths, options.target, soap=options.soap, per=options.per,
        aggregate=options.aggregate, progress=progress, streamed=streamed,
        working=working_set(options.kernel, options.sparse), gather=gather,
    )  # fmt: skip


def read_rows(
    paths,
    target: str | None,
    *,
    soap=None,
    per: Per | str = Per.structure,
    aggregate: Aggregate | str = Aggregate.mean,
    progress: bool = False,
    streamed: bool = False,
    index: str | None = None,
    working: dict | None = None,
    keep_structures: bool = True,
    gather: bool = False,
) -> Inputs:
    """The rows of ``paths`` with their ``target`` (None: without one) and
    features: a feature table's rows (its columns, scaled by
    :func:`table_scaler`), or structures and their SOAP features (``soap``;
    ``per`` atom: one row per atom; on the cluster's workers with
    ``streamed``, structures brought back only with ``keep_structures``, the
    features too with ``gather`` when ``working`` of them fits in memory).
    ``working``: how the features are held (:func:`working_set`)."""
    from propmap.preprocessing import StandardFlexibleScaler

    per = Per(per)
    if is_feature_file(paths):
        table = read_table(paths[0], target, index)
        return Inputs(
            table.X, table.y, table.rows, None, None, table_scaler(), "rows",
            table.columns,
        )  # fmt: skip
    pooled = "structure" if Aggregate(aggregate) == Aggregate.mean else "sum"
    if streamed:
        working = working or {}
        dtype = working.get("dtype", "float64")

        def fits(n_rows: int, n_columns: int) -> bool:
            # what featurise checks before the in-memory job, said, not refused
            extra = working.get("extra")
            return check_memory(
                n_rows, n_columns,
                f"the job in this process ({n_rows:,} x {n_columns:,} features)",
                "", working.get("copies", 1), np.dtype(dtype).itemsize,
                0 if extra is None else extra(n_rows, n_columns), progress,
                refuse=False,
            )  # fmt: skip

        found = read_files(
            paths, target, soap, pooled, progress, keep_structures, dtype,
            fits if gather else None,
        )  # fmt: skip
        return Inputs(
            found.X, found.y, found.names,
            None if found.packed is None else unpack_structures(found.packed),
            found.featurizer, StandardFlexibleScaler(), "structures",
            compositions=found.compositions, packed=found.packed,
        )  # fmt: skip
    structures, _ = read_inputs(paths, None, progress)
    if per == Per.atom:
        return _read_atoms(structures, target, soap, progress, working or {})
    structures = _without_isolated(structures, soap.cutoff)
    y = None if target is None else _targets(structures, target, Per.structure)
    featurizer, X = featurise(structures, soap, pooled, progress, **(working or {}))
    names = point_names(structures)
    return Inputs(
        X, y, names, structures, featurizer, StandardFlexibleScaler(), "structures"
    )


def isolated(structures, cutoff: float) -> np.ndarray:
    """Whether each structure has no two atoms within ``cutoff`` of each other
    (a single atom, or atoms far apart; periodic images count): its SOAP
    features are then each atom's own density alone, the same for every such
    structure of the same elements."""
    flags = np.zeros(len(structures), dtype=bool)
    for index, atoms in enumerate(structures):
        if atoms.pbc.any():
            from ase.neighborlist import neighbor_list

            flags[index] = neighbor_list("i", atoms, cutoff).size == 0
        elif len(atoms) < 2:
            flags[index] = True
        else:
            positions = atoms.positions
            squared = np.sum((positions[:, None] - positions[None]) ** 2, axis=-1)
            np.fill_diagonal(squared, np.inf)
            flags[index] = squared.min() > cutoff**2
    return flags


def _without_isolated(structures, cutoff: float) -> list:
    """The structures less the isolated ones (:func:`isolated`), with a warning
    that counts them; an error when none is left."""
    import warnings

    lonely = isolated(structures, cutoff)
    if not lonely.any():
        return structures
    count, total = int(lonely.sum()), len(structures)
    examples = ", ".join(
        structures[k].info.get("source", str(k)) for k in np.flatnonzero(lonely)[:3]
    )
    message = (
        f"{count} of the {total} structures have no two atoms within the "
        f"{cutoff:g} Å SOAP cutoff (single atoms, or atoms far apart; e.g. "
        f"{examples}): their features would be their atoms' own densities alone"
    )
    if count == total:
        raise _Error(message + ".")
    warnings.warn(message + "; they are left out.", UserWarning, stacklevel=4)
    return [atoms for atoms, alone in zip(structures, lonely, strict=True) if not alone]


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


def _read_atoms(structures, target, soap, progress, working: dict) -> Inputs:
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
    featurizer, X = featurise(structures, soap, "atom", progress, **working)
    sizes = np.array([len(atoms) for atoms in structures])
    names = point_names(structures, per_atom=True)
    return Inputs(
        np.asarray(X.toarray() if hasattr(X, "toarray") else X),
        np.concatenate(values), names, structures, featurizer,
        StandardFlexibleScaler(), "atoms",
        groups=np.repeat(np.arange(len(structures)), sizes),
    )  # fmt: skip


def feature_names(inputs: Inputs) -> list[str]:
    """The names of the feature columns: a table's, or the SOAP featuriser's."""
    if inputs.columns is not None:
        return list(inputs.columns)
    return list(inputs.featurizer.get_feature_names_out())


def read_table_rows(paths, columns) -> tuple[list[str], np.ndarray]:
    """Names and features of new rows for a map of a feature table, in the map's
    ``columns`` order; an error names missing columns."""
    if not is_feature_file(paths):
        raise _Error(
            "this map was made from a feature table: give the new rows as one CSV or "
            "NPZ file with its columns, not structure files."
        )
    table = read_table(paths[0], None)
    wanted = list(columns)
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise _Error(f"{paths[0]} lacks the map's columns {', '.join(missing)}.")
    order = [table.columns.index(c) for c in wanted]
    return table.rows, table.X[:, order]


def read_inputs(paths, target: str | None, progress: bool):
    """The structures in ``paths`` and their ``target`` values (None without one)."""
    from propmap.atomistic import read_structures, structure_targets

    stage(f"reading {', '.join(str(p) for p in paths)}", progress, key="read")
    structures = read_structures([str(p) for p in paths])
    return structures, None if target is None else structure_targets(structures, target)


def point_names(structures, per_atom: bool = False) -> list[str]:
    """A name for each structure (its source, ``file:index``, else its
    position), or with ``per_atom`` for each atom, ``<structure>#<atom>``."""
    names = [a.info.get("source", str(k)) for k, a in enumerate(structures)]
    if not per_atom:
        return names
    return [
        f"{name}#{atom}"
        for name, atoms in zip(names, structures, strict=True)
        for atom in range(len(atoms))
    ]
