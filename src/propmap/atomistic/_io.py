"""Reading structures with ase, and the per-structure and per-atom targets they
carry."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import reprlib
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from propmap._requirements import require

__all__ = [
    "as_structure_list",
    "atom_targets",
    "pack_structures",
    "read_structures",
    "structure_targets",
    "unpack_structures",
]


def as_structure_list(structures) -> list:
    """A list of ``ase.Atoms`` from one Atoms or an iterable of them.

    Every function of :mod:`propmap.atomistic` that takes structures checks them
    through this one, so each gives the same clear error for anything else and
    for structures without atoms.

    Parameters
    ----------
    structures : ase.Atoms or iterable of ase.Atoms
        One structure or several.

    Returns
    -------
    list of ase.Atoms
        The structures, in their order.

    Raises
    ------
    TypeError
        When ``structures`` or one of them is not ``ase.Atoms``.
    ValueError
        When there is no structure, or a structure has no atoms.
    """
    ase = require("ase", "atomistic")
    if isinstance(structures, ase.Atoms):
        structures = [structures]
    try:
        structures = list(structures)
    except TypeError:
        raise TypeError(
            f"Expected ase.Atoms or a list of them; got {type(structures).__name__}."
        ) from None
    if not structures:
        raise ValueError("No structures given.")
    for index, atoms in enumerate(structures):
        if not isinstance(atoms, ase.Atoms):
            raise TypeError(
                f"Structure {index} is a {type(atoms).__name__}, not ase.Atoms."
            )
        if len(atoms) == 0:
            raise ValueError(f"Structure {index} has no atoms.")
    return structures


def read_structures(paths, format=None, index=":") -> list:
    """Read structures from files in any format ase reads.

    Parameters
    ----------
    paths : str, path-like, or a list of them
        Files, or directories: a directory stands for the files directly in it,
        sorted by name, without hidden files (names starting with ``.``) and
        sub-directories. Without ``format``, only the files whose type ase
        recognises (from the name or the content) are read and the others, empty
        files among them, are skipped; with ``format``, every file is read in that
        format.
    format : str or None, default=None
        An ase format name (``"extxyz"``, ``"cif"``, ``"vasp"``, ``"sdf"``,
        ``"proteindatabank"``, ...); None lets ase tell it from each file.
    index : int, slice or str, default=":"
        Which structures of each file to keep, as in :func:`ase.io.read`:
        ``":"`` keeps all of them, ``-1`` the last one, ``"::10"`` every tenth.
        Each file is read whole and then indexed.

    Returns
    -------
    structures : list of ase.Atoms
        The structures in the order of ``paths``, then of the files of a directory,
        then of the structures in each file. Each gets
        ``info["source"] = "<file>:<index in the file>"`` unless it has a
        ``"source"`` already.

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    ValueError
        ase cannot read a file (unknown format, or a corrupt file), a file holds no
        structures, a structure has no atoms, or a directory holds no file ase can
        read.
    IndexError
        ``index`` selects a structure past the end of a file.
    """
    require("ase", "atomistic")
    selection = _parse_index(index)
    structures = []
    for path in structure_files(paths, format):
        structures.extend(_read_file(path, format, selection))
    return structures


def structure_files(paths, format=None) -> list[Path]:
    """The files :func:`read_structures` reads, in its order: files as given,
    directories as their structure files sorted by name."""
    files = []
    for path in _as_path_list(paths):
        if path.is_dir():
            files.extend(_structure_files(path, format))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file or directory: '{path}'.")
    return files


def read_file(path, format=None, index=":") -> list:
    """The structures of one file, as :func:`read_structures` reads them."""
    require("ase", "atomistic")
    return _read_file(Path(path), format, _parse_index(index))


def read_chunk(path, format, start: int, stop: int) -> list:
    """Structures ``start`` to ``stop - 1`` of one file, numbered as
    :func:`read_file` numbers them: the chunks of one big file, read in
    parallel. Plain files go to ase with the slice (an extended XYZ file is then
    scanned, and only the chunk parsed); compressed files, SD files and
    databases are read whole and sliced."""
    require("ase", "atomistic")
    path = Path(path)
    suffix = path.suffix.lower()
    whole = (
        suffix in _DECOMPRESSORS
        or suffix in _SD_SUFFIXES
        or suffix == ".db"
        or format in ("sdf", "db")
    )
    if whole:
        return read_file(path, format, ":")[start:stop]
    import ase.io

    frames = ase.io.read(path, index=slice(start, stop), format=format)
    for offset, atoms in enumerate(frames):
        if len(atoms) == 0:
            raise ValueError(f"Structure {start + offset} of '{path}' has no atoms.")
        atoms.info.setdefault("source", f"{path}:{start + offset}")
    return frames


def structure_targets(structures, key: str) -> np.ndarray:
    """One number per structure, from ``atoms.info[key]`` or, when it is not there,
    from the results of the attached calculator (e.g. the ``"energy"`` that ase
    reads from an extended XYZ file).

    Parameters
    ----------
    structures : ase.Atoms or list of ase.Atoms
        The structures, e.g. from :func:`read_structures`.
    key : str
        Name of the property.

    Returns
    -------
    targets : ndarray of shape (n_structures,)
        The values as float64.

    Raises
    ------
    KeyError
        A structure lacks the property; the message lists the properties there are.
    ValueError
        A value is not a single finite number.
    """
    structures = as_structure_list(structures)
    _check_present(structures, key, per_atom=False)
    targets = np.empty(len(structures))
    for position, atoms in enumerate(structures):
        results = _fresh_results(atoms)
        value = atoms.info[key] if key in atoms.info else results[key]
        values = _numeric(value, key, atoms, position)
        if values.ndim != 0:
            raise ValueError(
                f"Property {key!r} of {_describe(atoms, position)} has shape "
                f"{values.shape}, not a single number; atom_targets reads per-atom "
                "properties."
            )
        targets[position] = values
    return targets


def atom_targets(structures, key: str) -> list[np.ndarray]:
    """The per-atom values of each structure, from ``atoms.arrays[key]`` or, when it
    is not there, from the results of the attached calculator (e.g. the
    ``"forces"`` that ase reads from an extended XYZ file).

    Parameters
    ----------
    structures : ase.Atoms or list of ase.Atoms
        The structures, e.g. from :func:`read_structures`.
    key : str
        Name of the per-atom property.

    Returns
    -------
    targets : list of ndarray
        One float64 array per structure, of shape (n_atoms,) or (n_atoms, ...).

    Raises
    ------
    KeyError
        A structure lacks the property; the message lists the properties there are.
    ValueError
        The values are not finite numbers, one per atom.
    """
    structures = as_structure_list(structures)
    _check_present(structures, key, per_atom=True)
    targets = []
    for position, atoms in enumerate(structures):
        value = atoms.arrays[key] if key in atoms.arrays else _fresh_results(atoms)[key]
        values = _numeric(value, key, atoms, position)
        if values.ndim == 0 or len(values) != len(atoms):
            raise ValueError(
                f"Property {key!r} of {_describe(atoms, position)} has shape "
                f"{values.shape}, not one value per atom ({len(atoms)} atoms); "
                "structure_targets reads per-structure properties."
            )
        targets.append(values)
    return targets


def _as_path_list(paths) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        return [Path(paths)]
    if not isinstance(paths, Iterable):
        raise TypeError(
            f"paths must be a path or a list of paths; got {type(paths).__name__}."
        )
    paths = list(paths)
    if not paths:
        raise ValueError("No paths given.")
    for path in paths:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"paths holds a {type(path).__name__}, not a path.")
    return [Path(path) for path in paths]


def _parse_index(index) -> int | slice:
    from ase.io.formats import string2index

    parsed = string2index(index) if isinstance(index, str) else index
    if isinstance(parsed, int | slice):
        return parsed
    raise ValueError(
        f"index={index!r} is not an ase index: give an integer, a slice, or a "
        "string such as ':', '-1' or '::10'."
    )


def _structure_files(directory: Path, format) -> list[Path]:
    """The files of ``directory`` that :func:`read_structures` reads."""
    files = sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and not path.name.startswith(".")
    )
    if format is None:
        files = [path for path in files if _known_format(path)]
    if not files:
        raise ValueError(
            f"The directory '{directory}' holds no file that ase can read"
            + (f" as format {format!r}." if format is not None else ".")
        )
    return files


def _known_format(path: Path) -> bool:
    """Whether ase recognises the file's type and has a reader for it."""
    from ase.io.formats import UnknownFileTypeError, filetype, ioformats

    try:
        name = filetype(str(path))
    except UnknownFileTypeError:
        return False
    return name in ioformats and ioformats[name].can_read


# SD files are read by RDKit: ase reads only their first record, without tags
_SD_SUFFIXES = (".sdf", ".sd")
# what starts (or ends) each record in multi-record text formats, to warn when a
# reader kept one structure of several
_RECORD_MARKERS = {"$$$$": "SD records", "ENDMDL": "PDB models", "data_": "CIF blocks"}


def _read_sd_file(path: Path) -> list:
    """Every record of an SD file as ase.Atoms (explicit hydrogens kept), its SD
    tags in ``info`` (numbers as floats), and ``info["name"]`` from the title."""
    import ase

    Chem = require("rdkit.Chem", "atomistic")
    supplier = Chem.SDMolSupplier(str(path), removeHs=False, sanitize=False)
    frames, flat = [], 0
    for record, molecule in enumerate(supplier):
        if molecule is None:
            raise ValueError(f"record {record} of '{path}' is not a valid SD record.")
        if molecule.GetNumConformers() == 0:
            raise ValueError(f"record {record} of '{path}' has no coordinates.")
        # a drawing: the record's header says 2D
        flat += not molecule.GetConformer().Is3D()
        atoms = ase.Atoms(
            [atom.GetSymbol() for atom in molecule.GetAtoms()],
            positions=molecule.GetConformer().GetPositions(),
        )
        for key, value in molecule.GetPropsAsDict(
            includePrivate=False, includeComputed=False
        ).items():
            atoms.info[key] = _tag_value(value)
        if molecule.HasProp("_Name") and molecule.GetProp("_Name").strip():
            atoms.info.setdefault("name", molecule.GetProp("_Name").strip())
        frames.append(atoms)
    _warn_if_not_3d(path, frames, flat)
    return frames


def _warn_if_not_3d(path: Path, frames: list, flat: int) -> None:
    """SD files often hold drawings: 2-D coordinates (``flat`` records whose
    header says 2D) and no explicit hydrogens. SOAP describes the atoms where
    they are given, so such records are featurised as flat, bare skeletons:
    say how many."""
    import warnings

    bare = sum("C" in atoms.symbols and "H" not in atoms.symbols for atoms in frames)
    if not flat and not bare:
        return
    parts = []
    if flat:
        parts.append(f"{flat} flat (2-D coordinates)")
    if bare:
        parts.append(f"{bare} with carbon but no explicit hydrogen")
    warnings.warn(
        f"of the {len(frames)} records of '{path}', {' and '.join(parts)}: SOAP "
        "describes the atoms where they are given; embed the molecules in 3-D "
        "with their hydrogens first (e.g. RDKit's AddHs and EmbedMolecule).",
        UserWarning,
        stacklevel=4,
    )


def _tag_value(value):
    """An SD tag as a float when it reads as one, else as it is."""
    if isinstance(value, bool | int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return value


def _warn_if_records_lost(path: Path, count: int) -> None:
    """Warn when a file with several records was read as fewer structures."""
    try:
        text = path.read_text(errors="ignore")
    except OSError:
        return
    for marker, what in _RECORD_MARKERS.items():
        records = sum(
            1 for line in text.splitlines() if line.strip().startswith(marker)
        )
        if records > count:
            warnings.warn(
                f"'{path}' holds {records} {what} but was read as {count} "
                f"structure{'s' if count > 1 else ''}: give format= (or a file "
                "suffix) whose reader keeps every record.",
                UserWarning,
                stacklevel=4,
            )
            return


# compressed files ase reads (by the suffix), and how to open them
_DECOMPRESSORS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _read_database(path: Path) -> list:
    """The rows of an ase database (SQLite ``.db``), with their key-value pairs
    as ``atoms.info`` (ase.io.read drops them; pyxtal's crystal sets, for one,
    keep their properties there) and their calculator results."""
    import sqlite3

    import ase.db

    try:
        with ase.db.connect(str(path), type="db", serial=True) as database:
            frames = []
            for row in database.select():
                atoms = row.toatoms()
                atoms.info.update(row.key_value_pairs)
                frames.append(atoms)
            return frames
    except (sqlite3.DatabaseError, ValueError, KeyError) as error:
        detail = type(error).__name__ + (f": {error}" if str(error) else "")
        raise ValueError(
            f"ase could not read '{path}' as a database; the file may be corrupt "
            f"or in another format ({detail})."
        ) from error


def _read_with_ase(path: Path, format) -> list:
    import ase.io
    import ase.io.formats
    from ase.io.formats import UnknownFileTypeError

    as_format = f" as format {format!r}" if format is not None else ""
    try:
        opener = _DECOMPRESSORS.get(path.suffix.lower())
        if opener is None:
            return ase.io.read(path, index=":", format=format)
        # ase's readers seek back and forth in a compressed stream, which
        # restarts decompression each time (27 s instead of 0.6 s for 2,000 QM9
        # molecules): decompress once, into memory
        if format is None:
            format = ase.io.formats.filetype(str(path))
        with opener(path, "rt") as stream:
            text = io.StringIO(stream.read())
        return ase.io.read(text, index=":", format=format)
    except UnknownFileTypeError as error:
        reason = (
            "ase has no reader for this format"
            if format is not None
            else f"ase does not recognise its file type ({error})"
        )
        raise ValueError(f"ase could not read '{path}'{as_format}: {reason}.") from None
    except Exception as error:
        detail = type(error).__name__ + (f": {error}" if str(error) else "")
        raise ValueError(
            f"ase could not read '{path}'{as_format}; the file may be corrupt or in "
            f"another format ({detail})."
        ) from error


def _read_file(path: Path, format, selection: int | slice) -> list:
    if path.stat().st_size == 0:
        raise ValueError(f"'{path}' is empty: it holds no structures.")
    if format in (None, "sdf") and path.suffix.lower() in _SD_SUFFIXES:
        frames = _read_sd_file(path)
    elif format == "db" or (format is None and path.suffix.lower() == ".db"):
        frames = _read_database(path)
    else:
        frames = _read_with_ase(path, format)
        if len(frames) < 2:
            _warn_if_records_lost(path, len(frames))
    if not frames:
        raise ValueError(f"'{path}' holds no structures.")
    positions = range(len(frames))
    try:
        kept = positions[selection]
    except IndexError:
        raise IndexError(
            f"index {selection} is out of range for '{path}', which holds "
            f"{len(frames)} structure{'s' if len(frames) > 1 else ''}."
        ) from None
    kept = [kept] if isinstance(kept, int) else list(kept)
    structures = []
    for position in kept:
        atoms = frames[position]
        if len(atoms) == 0:
            raise ValueError(f"Structure {position} of '{path}' has no atoms.")
        atoms.info.setdefault("source", f"{path}:{position}")
        structures.append(atoms)
    return structures


def _fresh_results(atoms) -> dict:
    """The attached calculator's results, if they are for these atoms as they are
    now (none when the atoms moved since)."""
    calc = atoms.calc
    if calc is None or not calc.results or calc.check_state(atoms):
        return {}
    return calc.results


def _check_present(structures: list, key: str, per_atom: bool) -> None:
    """Raise a KeyError naming what there is when a structure lacks ``key``."""
    where = "arrays" if per_atom else "info"
    missing = [
        position
        for position, atoms in enumerate(structures)
        if key not in getattr(atoms, where) and key not in _fresh_results(atoms)
    ]
    if not missing:
        return
    available = sorted(
        {
            name
            for atoms in structures
            for name in (*atoms.info, *atoms.arrays, *_fresh_results(atoms))
        }
    )
    if len(missing) == len(structures):
        lacking = "the structures"
    else:
        lacking = _describe(structures[missing[0]], missing[0])
        if len(missing) > 1:
            lacking += f" and {len(missing) - 1} other structures"
    other, reader = (
        ("info", "structure_targets") if per_atom else ("arrays", "atom_targets")
    )
    hint = (
        f" {key!r} is a per-{'structure' if per_atom else 'atom'} property: read it "
        f"with {reader}."
        if any(key in getattr(atoms, other) for atoms in structures)
        else ""
    )
    raise KeyError(
        f"No {'per-atom ' if per_atom else ''}property {key!r} in {lacking}; "
        f"available: {', '.join(available) if available else 'none'}.{hint}"
    )


def _numeric(value, key: str, atoms, position: int) -> np.ndarray:
    """``value`` as a float64 array, checked to be finite numbers."""
    values = np.asarray(value)
    if values.dtype.kind not in "biuf":
        raise ValueError(
            f"Property {key!r} of {_describe(atoms, position)} is "
            f"{reprlib.repr(value)}, not a number."
        )
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"Property {key!r} of {_describe(atoms, position)} is not finite: "
            f"{reprlib.repr(value)}."
        )
    return values


def _describe(atoms, position: int) -> str:
    """``structure <position>``, with its source or name when it has one."""
    label = atoms.info.get("source", atoms.info.get("name"))
    return f"structure {position}" + (f" ({label})" if label is not None else "")


def pack_structures(structures) -> dict:
    """Structures as a few arrays (atomic numbers, positions, cells, periodicity
    and sizes): pickled in milliseconds, where 2,000 ase.Atoms take a second.

    Parameters
    ----------
    structures : list of ase.Atoms
        The structures.

    Returns
    -------
    dict
        ``sizes``, ``numbers``, ``positions``, ``cells`` and ``pbc`` arrays.
    """
    return {
        "sizes": np.array([len(a) for a in structures]),
        "numbers": np.concatenate([a.numbers for a in structures]),
        "positions": np.concatenate([a.positions for a in structures]),
        "cells": np.array([a.cell.array for a in structures]),
        "pbc": np.array([a.pbc for a in structures]),
    }


def unpack_structures(packed: dict) -> list:
    """The ase.Atoms of :func:`pack_structures`.

    Parameters
    ----------
    packed : dict
        What :func:`pack_structures` returned.

    Returns
    -------
    list of ase.Atoms
        The structures, in their order.
    """
    import ase

    ends = np.cumsum(packed["sizes"])
    starts = ends - packed["sizes"]
    return [
        ase.Atoms(
            numbers=packed["numbers"][start:end],
            positions=packed["positions"][start:end],
            cell=cell,
            pbc=pbc,
        )
        for start, end, cell, pbc in zip(
            starts, ends, packed["cells"], packed["pbc"], strict=True
        )
    ]
