"""The inputs of the contributions workflow: the crystals (or clusters), their
gas-phase molecules and the target table, checked before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from propmap.workflows._options import WorkflowError

__all__ = ["MIN_STRUCTURES", "check_inputs", "read_targets", "single_molecules"]

MIN_STRUCTURES = 4


def _gas_phase(structures, molecules_path: Path | None):
    """The ``molecules`` argument of RemnantFeaturizer from a file (one molecule
    for every structure, or one per structure) or a folder (one file per
    structure, named as the structure's file)."""
    if molecules_path is None:
        return None
    from propmap.atomistic import read_structures

    molecules_path = Path(molecules_path)
    if molecules_path.is_dir():
        files = {p.stem: p for p in molecules_path.iterdir() if p.is_file()}
        found, missing = [], []
        for atoms in structures:
            stem = _structure_name(atoms)
            if stem in files:
                found.append(read_structures([str(files[stem])]))
            else:
                missing.append(stem)
        if missing:
            raise WorkflowError(
                f"{molecules_path} has no molecule file for {len(missing)} of the "
                f"structures ({_first_names(missing)}): "
                "name each file as its structure's file (e.g. BENZEN.xyz for "
                "BENZEN.cif)."
            )
        return [m[0] if len(m) == 1 else m for m in found]
    molecules = read_structures([str(molecules_path)])
    if len(molecules) == 1:
        return molecules * len(structures)
    if len(molecules) != len(structures):
        raise WorkflowError(
            f"{molecules_path} has {len(molecules)} molecules: give one (used for "
            f"every structure), one per structure ({len(structures)}), or a folder "
            "with one file per structure."
        )
    return molecules


def _first_names(names: list, limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _structure_name(atoms) -> str:
    """The name of a structure's file without folder and suffix (``BENZEN`` for
    ``crystals/BENZEN.cif:0``), else its source."""
    source = str(atoms.info.get("source", ""))
    path, _, index = source.rpartition(":")
    if not path or not index.isdigit():
        return source
    return Path(path).stem


def read_targets(structures, table_path: Path, target: str) -> np.ndarray:
    """The ``target`` column of a CSV table whose first column names the
    structures (their file names without suffix, or their sources)."""
    import pandas as pd

    try:
        table = pd.read_csv(table_path, comment="#")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise WorkflowError(
            f"{table_path} is not a readable CSV file: {error}"
        ) from None
    if target not in table.columns:
        raise WorkflowError(
            f"no column {target!r} in {table_path}; columns: "
            f"{', '.join(map(str, table.columns))}"
        )
    names = table.iloc[:, 0].astype(str)
    if names.duplicated().any():
        raise WorkflowError(
            f"{table_path} names {', '.join(names[names.duplicated()].unique()[:5])} "
            "more than once in its first column."
        )
    values = dict(
        zip(names, pd.to_numeric(table[target], errors="coerce"), strict=True)
    )
    y, missing = np.empty(len(structures)), []
    for position, atoms in enumerate(structures):
        source = str(atoms.info.get("source", ""))
        for name in (_structure_name(atoms), source):
            if name in values:
                y[position] = values[name]
                break
        else:
            missing.append(_structure_name(atoms))
    if missing:
        raise WorkflowError(
            f"{table_path} has no row for {len(missing)} structures "
            f"({_first_names(missing)}); its "
            f"first column ({table.columns[0]!r}) must name each structure's file "
            "without its suffix."
        )
    if not np.all(np.isfinite(y)):
        bad = [
            _structure_name(a)
            for a, v in zip(structures, y, strict=True)
            if not np.isfinite(v)
        ]
        raise WorkflowError(
            f"{target!r} in {table_path} is missing or not a number for "
            f"{', '.join(bad[:5])}."
        )
    return y


def check_inputs(structures, molecules_path):
    """The gas-phase molecules (None: cut from the structures), after the checks
    that the structures can be explained at all."""
    if len(structures) < MIN_STRUCTURES:
        raise WorkflowError(
            f"{len(structures)} structures are too few to fit and cross-validate an "
            f"additive model; give at least {MIN_STRUCTURES}."
        )
    gas_phase = _gas_phase(structures, molecules_path)
    if gas_phase is None and single_molecules(structures):
        raise WorkflowError(
            "every structure is a single isolated molecule, so its atoms' remnant "
            "features (environment in the structure minus in the isolated molecule) "
            "are all zero: contributions needs crystals or clusters of several "
            "molecules (or --molecules with their gas-phase geometries). For a "
            "property of single molecules use propmap map."
        )
    return gas_phase


def single_molecules(structures) -> bool:
    """Every structure is one isolated molecule (nothing for remnants to see)."""
    from propmap.atomistic import find_molecules

    return all(
        not any(atoms.pbc) and len(find_molecules(atoms)) == 1 for atoms in structures
    )
