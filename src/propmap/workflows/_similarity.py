"""Which structures and atoms of a contributions job are alike: distances in
the PCovR map of the atoms' remnant features (the columns map_1, map_2, ... of
``atom_contributions.csv``)."""

from __future__ import annotations

import numpy as np

__all__ = ["compare_environments", "similar_structures"]


def _map_columns(atoms) -> np.ndarray:
    columns = [c for c in atoms.columns if str(c).startswith("map_")]
    if not columns:
        raise ValueError(
            "the atom table has no map_1, map_2, ... columns (the atoms' PCovR "
            "map, as in atom_contributions.csv)."
        )
    return atoms[columns].to_numpy(dtype=float)


def similar_structures(atoms, names, n_similar: int = 5):
    """For every structure, the structures whose atomic environments are most
    like its own: the mean distance, in the PCovR map of the atoms' remnant
    features, from each of its atoms to the nearest atom of the same element in
    the other structure (smaller: more alike).

    Parameters
    ----------
    atoms : pandas.DataFrame
        One row per atom with columns ``structure``, ``element`` and the map
        coordinates ``map_1``, ``map_2``, ... (``atom_contributions.csv``).
    names : list of str
        The structures' names.
    n_similar : int, default=5
        How many structures to list for each.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``structure``, ``rank``, ``similar``, ``distance``.
    """
    import pandas as pd
    from scipy.spatial import cKDTree

    components = _map_columns(atoms)
    owners = atoms["structure"].to_numpy()
    elements = atoms["element"].to_numpy()
    n_structures = len(names)
    distance = np.full((n_structures, n_structures), np.inf)
    trees = {}
    for element in np.unique(elements):
        for other in range(n_structures):
            rows = np.flatnonzero((owners == other) & (elements == element))
            if rows.size:
                trees[element, other] = cKDTree(components[rows])
    for one in range(n_structures):
        mine = owners == one
        for other in range(n_structures):
            if other == one:
                continue
            nearest = []
            for element in np.unique(elements[mine]):
                rows = np.flatnonzero(mine & (elements == element))
                tree = trees.get((element, other))
                if tree is None:
                    break
                nearest.append(tree.query(components[rows])[0])
            else:
                distance[one, other] = float(np.concatenate(nearest).mean())
    records = []
    for one in range(n_structures):
        order = np.argsort(distance[one], kind="stable")
        ranked = [k for k in order if np.isfinite(distance[one, k])][:n_similar]
        for rank, other in enumerate(ranked, 1):
            records.append(
                {
                    "structure": names[one],
                    "rank": rank,
                    "similar": names[other],
                    "distance": distance[one, other],
                }
            )
    return pd.DataFrame.from_records(
        records, columns=["structure", "rank", "similar", "distance"]
    )


def compare_environments(atoms, one: int, other: int, n: int = 5):
    """Which atomic environments of structure ``one`` are most like, and most
    unlike, those of structure ``other``: each atom of ``one`` with its nearest
    atom of the same element in ``other`` in the PCovR map of the atoms'
    remnant features.

    Parameters
    ----------
    atoms : pandas.DataFrame
        One row per atom with columns ``structure``, ``atom``, ``element``, the map
        coordinates ``map_1``, ``map_2``, ... (``atom_contributions.csv``), and
        ``motif`` and ``contribution`` (copied when present).
    one, other : int
        The two structures.
    n : int, default=5
        How many of the most alike and most unlike to return.

    Returns
    -------
    most_like, most_unlike : pandas.DataFrame
        Columns ``atom``, ``element``, ``nearest`` (the atom of ``other``),
        ``distance`` (and ``motif``, ``nearest_motif``, ``contribution``,
        ``nearest_contribution`` where the table has them), sorted by
        distance, ascending and descending. Only one atom of each set of atoms at
        the same place in the map (symmetry copies) is listed.
    """
    import pandas as pd
    from scipy.spatial import cKDTree

    components = _map_columns(atoms)
    owners = atoms["structure"].to_numpy()
    for name, value in (("one", one), ("other", other)):
        if not np.any(owners == value):
            raise ValueError(f"{name}={value} is not a structure of the table.")
    rows = []
    for element in np.unique(atoms["element"][owners == one]):
        mine = np.flatnonzero((owners == one) & (atoms["element"] == element))
        theirs = np.flatnonzero((owners == other) & (atoms["element"] == element))
        if not theirs.size:
            continue
        distances, nearest = cKDTree(components[theirs]).query(components[mine])
        for row, d, k in zip(mine, distances, theirs[nearest], strict=True):
            record = {
                "atom": int(atoms["atom"].iloc[row]),
                "element": element,
                "nearest": int(atoms["atom"].iloc[k]),
                "distance": float(d),
            }
            for column in ("motif", "contribution"):
                if column in atoms:
                    record[column] = atoms[column].iloc[row]
                    record[f"nearest_{column}"] = atoms[column].iloc[k]
            rows.append((tuple(np.round(components[row], 6)), record))
    # symmetry copies sit at the same place in the map: keep one of each
    unique: dict = {}
    for place, record in rows:
        unique.setdefault(place, record)
    unique = list(unique.values())
    table = pd.DataFrame.from_records(unique)
    if table.empty:
        raise ValueError("the two structures have no element in common.")
    table = table.sort_values("distance", kind="stable").reset_index(drop=True)
    return table.head(n), table.iloc[::-1].head(n).reset_index(drop=True)
