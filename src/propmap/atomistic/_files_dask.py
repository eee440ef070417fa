"""SOAP features of many structure files as one dask array, built where the files
are read (threads, processes or a ``distributed`` cluster's workers).

Two passes over the files, both dask graphs: a survey (how many structures and
atoms each file holds, which elements, the target values) that fixes the shapes
and the columns, then one lazy block of features per file. Nothing but the
survey's numbers comes back to the caller until the features are used.

:func:`featurize_packed` computes the features of structures already read (the
survey's, packed) on a cluster's workers, chunk by chunk, into one numpy array
here: no file is read twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CHUNK_STRUCTURES", "FileFeatures", "featurize_files", "featurize_packed"]

# a file of more structures than this is featurised in chunks of this many
CHUNK_STRUCTURES = 10_000
MIN_CHUNK = 500


@dataclass
class FileFeatures:
    """What :func:`featurize_files` returns.

    Parameters
    ----------
    X : dask.array.Array of shape (n_rows, n_features)
        Features, one row chunk per file (or per ``chunk_size`` structures of
        it; rows: structures, or atoms with ``per="atom"``); columns fixed by
        ``featurizer``.
    y : ndarray of shape (n_structures,) or None
        The target of every structure, when one was asked for.
    files : list of str
        The files read, in row order.
    structures_per_file, atoms_per_file : ndarray of int
        How many structures and atoms each file holds.
    featurizer : SoapFeaturizer
        The fitted featurizer (columns: ``featurizer.get_feature_names_out()``).
    numbers : ndarray of uint8
        The atomic numbers of every atom, structure after structure (their
        compositions, e.g. for a composition baseline).
    atoms_per_structure : ndarray of int
        How many of ``numbers`` each structure has.
    structures : dict or None
        With ``structures=True``: every structure, packed as
        :func:`~propmap.atomistic.pack_structures` packs them (a few arrays,
        about 32 bytes per atom).
    """

    X: object
    y: np.ndarray | None
    files: list[str]
    structures_per_file: np.ndarray
    atoms_per_file: np.ndarray
    featurizer: object
    numbers: np.ndarray | None = None
    atoms_per_structure: np.ndarray | None = None
    structures: dict | None = None


def _survey(path, format, index, target, keep):
    from propmap.atomistic._io import read_file, structure_targets

    structures = read_file(path, format, index)
    if not structures:
        return 0, 0, np.zeros(0, int), np.zeros(0), np.zeros(0, np.uint8), [], None
    numbers = np.concatenate([atoms.numbers for atoms in structures])
    values = None if target is None else structure_targets(structures, target)
    packed = None
    if keep:
        from propmap.atomistic._io import pack_structures

        packed = pack_structures(structures)
        # the atomic numbers and sizes travel once, below
        del packed["numbers"], packed["sizes"]
    return (
        len(structures),
        numbers.size,
        np.unique(numbers),
        values,
        numbers.astype(np.uint8),
        [len(atoms) for atoms in structures],
        packed,
    )


def _concatenate_packed(parts: list) -> dict:
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _features(path, format, index, featurizer, chunk=None) -> np.ndarray:
    from propmap.atomistic._io import read_chunk, read_file

    structures = (
        read_file(path, format, index)
        if chunk is None
        else read_chunk(path, format, *chunk)
    )
    features = featurizer.transform(structures)
    features = features.toarray() if hasattr(features, "toarray") else features
    return np.asarray(features, dtype=np.float64)


def _packed_features(packed: dict, featurizer, dtype: str) -> np.ndarray:
    from propmap.atomistic._io import unpack_structures

    features = featurizer.transform(unpack_structures(packed))
    features = features.toarray() if hasattr(features, "toarray") else features
    return np.asarray(features, dtype=dtype)


def _packed_slice(packed: dict, start: int, stop: int) -> dict:
    """Structures ``start:stop`` of packed structures."""
    first, last = (int(packed["sizes"][:k].sum()) for k in (start, stop))
    return {
        "sizes": packed["sizes"][start:stop],
        "numbers": packed["numbers"][first:last],
        "positions": packed["positions"][first:last],
        "cells": packed["cells"][start:stop],
        "pbc": packed["pbc"][start:stop],
    }


def featurize_packed(
    packed: dict, featurizer, dtype="float32", advance=lambda rows: None
) -> np.ndarray:
    """The features of packed structures (:func:`~propmap.atomistic.pack_structures`),
    computed on the current dask client's workers in chunks (two per worker, of
    :data:`MIN_CHUNK` to :data:`CHUNK_STRUCTURES` structures) and copied into one
    array of ``dtype`` here as each chunk is done (cast on its worker, let go
    once copied): this process holds the array and one chunk at a time.

    Parameters
    ----------
    packed : dict
        The structures, packed.
    featurizer : SoapFeaturizer
        Fitted; a featurizer of atoms gives a row per atom.
    dtype : str, default="float32"
        The array's type.
    advance : callable, default=no-op
        Told the number of rows of each chunk once it is copied (a progress bar).

    Returns
    -------
    ndarray of shape (n_rows, featurizer.n_features_out_)
    """
    from distributed import as_completed, get_client

    sizes = np.asarray(packed["sizes"])
    per_atom = featurizer.per == "atom"
    rows = np.concatenate([[0], np.cumsum(sizes if per_atom else np.ones_like(sizes))])
    out = np.empty((int(rows[-1]), featurizer.n_features_out_), dtype=dtype)
    client = get_client()
    chunks = _chunks(len(sizes), "auto")
    bounds = [(0, len(sizes)) if c is None else c for c in chunks]
    parts = client.scatter([_packed_slice(packed, *b) for b in bounds])
    futures = [
        client.submit(_packed_features, part, featurizer, dtype, pure=False)
        for part in parts
    ]
    del parts  # each chunk's structures go with its task
    where = {future.key: bound for future, bound in zip(futures, bounds, strict=True)}
    for future in as_completed(futures):
        start, stop = where[future.key]
        out[rows[start] : rows[stop]] = future.result()
        future.release()
        advance(int(rows[stop] - rows[start]))
    return out


def _workers() -> int:
    """The workers of the dask cluster in use, else this machine's cores."""
    import os

    try:
        from distributed import get_client

        return max(1, len(get_client().scheduler_info()["workers"]))
    except (ImportError, ValueError):
        return os.cpu_count() or 1


def _chunks(count: int, size) -> list:
    """(start, stop) of the chunks of a file of ``count`` structures; [None]
    (the file whole) without a size. "auto": two chunks per worker, of
    between MIN_CHUNK and CHUNK_STRUCTURES structures."""
    if not count:
        return []
    if size == "auto":
        share = -(-count // (2 * _workers()))
        size = min(CHUNK_STRUCTURES, max(MIN_CHUNK, share))
    if size is None or count <= size:
        return [None]
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def featurize_files(
    paths, featurizer, *, target=None, format=None, index=":", structures=False,
    chunk_size: int | str | None = "auto",
):  # fmt: skip
    """SOAP features of the structures in ``paths`` as a dask array with known
    shapes, one row chunk per file, or per ``chunk_size`` structures of it.

    Parameters
    ----------
    paths : str, path-like or a list of them
        Files or folders, as :func:`~propmap.atomistic.read_structures` takes them.
    featurizer : SoapFeaturizer
        Fitted (its species fix the columns) or not (then fitted, on a clone, to
        the elements the files hold).
    target : str or None, default=None
        A property of every structure (``info`` key or calculator result) to
        return as ``y``.
    format : str or None, default=None
        As for :func:`~propmap.atomistic.read_structures`.
    index : int, slice or str, default=":"
        As for :func:`~propmap.atomistic.read_structures`.
    structures : bool, default=False
        Also return the structures themselves, packed (``FileFeatures.structures``:
        positions, numbers, cells; for a viewer), from the same survey.
    chunk_size : int, "auto" or None, default="auto"
        A file of more structures is featurised in chunks of this many, each
        its own task (one big file keeps every worker busy; an extended XYZ
        chunk is parsed alone, after a scan of the file). "auto": two chunks
        per worker of the cluster in use (or core), each of 500 to 10,000
        structures; None: one task per file. With an ``index`` other than ":",
        files are not chunked.

    Returns
    -------
    FileFeatures

    Raises
    ------
    ValueError
        No file holds a structure; a fitted featurizer lacks an element the files
        hold (named); or, from the survey, a file ase cannot read or a structure
        without the target.

    Examples
    --------
    >>> from propmap.atomistic import SoapFeaturizer, featurize_files
    >>> found = featurize_files("qm9", SoapFeaturizer(), target="gap")  # doctest: +SKIP
    >>> found.X  # lazy (n_structures, n_features), a chunk per file  # doctest: +SKIP
    """
    import dask
    import dask.array as da
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from propmap.atomistic._io import structure_files

    files = [str(path) for path in structure_files(paths, format)]
    if not files:
        raise ValueError(f"No structure file found in {paths!r}.")
    survey = dask.compute(
        *[
            dask.delayed(_survey)(path, format, index, target, structures)
            for path in files
        ]
    )
    n_structures = np.array([entry[0] for entry in survey], dtype=np.int64)
    n_atoms = np.array([entry[1] for entry in survey], dtype=np.int64)
    species = np.unique(np.concatenate([entry[2] for entry in survey]))
    try:
        check_is_fitted(featurizer)
    except NotFittedError:
        from ase import Atoms

        featurizer = clone(featurizer).fit([Atoms(numbers=species)])
    missing = sorted(set(species.tolist()) - set(featurizer.species_.tolist()))
    if missing:
        from ase.data import chemical_symbols

        names = ", ".join(chemical_symbols[z] for z in missing)
        raise ValueError(
            f"The files hold elements the featurizer was not fitted with: {names}."
        )
    width = featurizer.n_features_out_
    blocks = []
    for path, entry in zip(files, survey, strict=True):
        for chunk in _chunks(entry[0], chunk_size if index == ":" else None):
            sizes = entry[5] if chunk is None else entry[5][slice(*chunk)]
            count = sum(sizes) if featurizer.per == "atom" else len(sizes)
            blocks.append(
                da.from_delayed(
                    dask.delayed(_features)(path, format, index, featurizer, chunk),
                    shape=(int(count), width),
                    dtype=np.float64,
                )
            )
    y = None if target is None else np.concatenate([entry[3] for entry in survey])
    numbers = np.concatenate([entry[4] for entry in survey])
    sizes = np.array([size for entry in survey for size in entry[5]], dtype=np.int64)
    packed = None
    if structures:
        packed = _concatenate_packed([e[6] for e in survey if e[0]])
        packed.update(numbers=numbers.astype(np.int64), sizes=sizes)
    return FileFeatures(
        da.concatenate(blocks), y, files, n_structures, n_atoms, featurizer,
        numbers=numbers, atoms_per_structure=sizes, structures=packed,
    )  # fmt: skip
