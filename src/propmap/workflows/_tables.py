"""Feature tables (CSV, NPZ) for data that are not structures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from propmap.workflows._options import WorkflowError

__all__ = ["FEATURE_FILE_SUFFIXES", "FeatureTable", "is_feature_file", "read_table"]

FEATURE_FILE_SUFFIXES = (".csv", ".npz")


class FeatureTable:
    """Numeric features, the target (if asked for), column and row names."""

    def __init__(self, X, y, columns, rows) -> None:
        self.X, self.y, self.columns, self.rows = X, y, columns, rows


def is_feature_file(paths) -> bool:
    """True for one CSV or NPZ file (a feature table rather than structures)."""
    return len(paths) == 1 and Path(paths[0]).suffix.lower() in FEATURE_FILE_SUFFIXES


def read_table(path, target: str | None, index: str | None = None) -> FeatureTable:
    """Features from a CSV or an NPZ file.

    A CSV has a header; ``target`` is one column, ``index`` names the rows (by
    default the first column when it is not numeric). An NPZ has the arrays
    ``X`` and, optionally, ``y`` and ``names``.

    Parameters
    ----------
    path : path-like
        The file.
    target : str or None
        The target's column; None: no target.
    index : str or None, default=None
        The column of the rows' names.

    Returns
    -------
    FeatureTable
        ``X``, ``y`` (or None), ``columns`` and ``rows``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    if path.suffix.lower() == ".npz":
        return _read_npz(path, target)
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise WorkflowError(f"{path} is not a readable CSV file: {error}") from None
    if table.empty:
        raise WorkflowError(f"{path} has no rows.")
    if index is None and not pd.api.types.is_numeric_dtype(table.iloc[:, 0]):
        index = str(table.columns[0])
    if index is not None and index not in table:
        raise WorkflowError(
            f"no column {index!r} in {path}; columns: {', '.join(map(str, table))}"
        )
    rows = (
        table.pop(index).astype(str).tolist()
        if index is not None
        else [str(k) for k in range(len(table))]
    )
    y = None
    if target is not None:
        if target not in table:
            raise WorkflowError(
                f"no column {target!r} in {path}; columns: {', '.join(map(str, table))}"
            )
        y = pd.to_numeric(table.pop(target), errors="coerce").to_numpy(float)
    numeric = table.apply(pd.to_numeric, errors="coerce")
    bad = [str(c) for c in numeric if numeric[c].isna().any()]
    if bad:
        raise WorkflowError(
            f"non-numeric or missing values in columns {', '.join(bad)} of {path}."
        )
    if numeric.shape[1] == 0:
        raise WorkflowError(f"{path} has no feature columns besides the target.")
    return FeatureTable(
        numeric.to_numpy(float), y, [str(c) for c in numeric.columns], rows
    )


def _read_npz(path: Path, target: str | None) -> FeatureTable:
    try:
        data = np.load(path)
    except (OSError, ValueError) as error:
        raise WorkflowError(f"{path} is not a readable NPZ file: {error}") from None
    with data:
        if "X" not in data:
            raise WorkflowError(
                f"{path} has no array 'X' (it has: {', '.join(data.files)})."
            )
        X = np.asarray(data["X"], dtype=float)
        if X.ndim != 2:
            raise WorkflowError(f"'X' in {path} must be 2-D; got shape {X.shape}.")
        key = "y" if target in (None, "y") else target
        y = None
        if target is not None:
            if key not in data:
                raise WorkflowError(
                    f"{path} has no array {key!r} (it has: {', '.join(data.files)})."
                )
            y = np.asarray(data[key], dtype=float).ravel()
        elif "y" in data:
            y = np.asarray(data["y"], dtype=float).ravel()
        rows = (
            [str(v) for v in data["names"]]
            if "names" in data
            else [str(k) for k in range(X.shape[0])]
        )
    if y is not None and y.shape != (X.shape[0],):
        raise WorkflowError(
            f"the target in {path} has {y.size} values for {X.shape[0]} rows of X."
        )
    if not np.all(np.isfinite(X)):
        raise WorkflowError(f"'X' in {path} has NaN or infinite values.")
    return FeatureTable(X, y, [f"x{j}" for j in range(X.shape[1])], rows)
