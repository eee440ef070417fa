"""The map workflow on a dask cluster: the SOAP features are computed where the
structure files are read and stay there; only d x d moments, the map's
coordinates and the predictions come back. Local workers (this machine's) send
the features back instead, chunk by chunk as they are made, when the in-memory
job fits in memory: the rest of the job is then the in-memory one, which uses
every core through BLAS.

Graphs run, after the survey of the files: the features (persisted on the
workers), the training rows' means and variance (the scaler), the moments of
every fold in one pass (:class:`~propmap.decomposition.PCovRCV`, which also
refits from them), and one pass for the coordinates and predictions of every
row.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

__all__ = [
    "VIEWER_STRUCTURES",
    "latent_and_ridge",
    "read_files",
]

# a map on a cluster keeps the structures themselves (for the viewer, the
# chemiscope file and the model) up to this many; past it the map shows points
VIEWER_STRUCTURES = 20_000


@dataclass
class Streamed:
    """What the survey of the files returns to this process."""

    X: object  # dask array, persisted on the workers; or numpy, gathered here
    y: np.ndarray
    names: list[str]
    compositions: list  # per structure: an object with .numbers
    packed: dict | None  # the structures, packed (see read_files)
    featurizer: object


def read_files(
    paths, target: str | None, soap, per: str, progress: bool,
    structures: bool = True, dtype: str = "float32", gather=None,
) -> Streamed:  # fmt: skip
    """Survey the files (targets, compositions, with ``structures`` the
    structures themselves) and compute their features once, in ``dtype``, on
    the workers. ``gather(n_rows, n_columns)``: whether the features come back
    to this process (numpy X, every structure kept; computed from the
    structures the survey read, needs ``structures``); otherwise (or without
    ``gather``) they stay on the workers and the structures come back up to
    VIEWER_STRUCTURES."""
    from propmap.atomistic import featurize_files
    from propmap.workflows._steps import stage

    stage("surveying the structure files", progress, key="read")
    found = featurize_files(
        paths,
        soap.featurizer(per=per, dtype=dtype),
        target=target,
        structures=structures,
    )
    names = [
        f"{path}:{index}"
        for path, count in zip(found.files, found.structures_per_file, strict=True)
        for index in range(count)
    ]
    ends = np.cumsum(found.atoms_per_structure)
    compositions = [
        SimpleNamespace(numbers=found.numbers[end - size : end].astype(np.int64))
        for end, size in zip(ends, found.atoms_per_structure, strict=True)
    ]
    # (the features of the structures the survey read, not of the files again)
    gathered = structures and gather is not None and gather(*found.X.shape)
    kept = structures and (gathered or len(names) <= VIEWER_STRUCTURES)
    packed = found.structures if kept else None
    if gathered:
        from propmap.atomistic import featurize_packed
        from propmap.utils._progress import work_bar

        stage(
            f"SOAP features of {len(names)} structures, computed on the workers "
            "and gathered here",
            progress,
            key="featurize",
        )
        with work_bar("SOAP features", found.X.shape[0], progress) as advance:
            X = featurize_packed(packed, found.featurizer, dtype, advance)
    else:
        kept_there = "" if gather is None else " (too many to bring here)"
        stage(
            f"SOAP features of {len(names)} structures, on the workers{kept_there}",
            progress, key="featurize",
        )  # fmt: skip
        X = persist_in_large_chunks(found.X)
    return Streamed(X, found.y, names, compositions, packed, found.featurizer)


def persist_in_large_chunks(X):
    """X computed once and kept on the workers, in row chunks of about dask's
    chunk size (128 MiB) rather than one per file: every pass over it makes d x d
    products per chunk, which must not outnumber the rows (a folder of
    one-molecule files)."""
    return X.rechunk({0: "auto", 1: -1}).persist()


def latent_and_ridge(model, Xs):
    """The latent coordinates, the full ridge model's predictions and the
    ridge's posterior variance (None when the model has none) of every row of
    a dask X, in one pass."""
    import dask

    weights = np.asarray(model.regressor_.coef_, dtype=np.float64).reshape(-1, 1)
    intercept = float(model.regressor_.intercept_)
    predicted = Xs.map_blocks(
        lambda block: block @ weights + intercept,
        chunks=(Xs.chunks[0], (1,)),
        dtype=np.float64,
    )
    if not hasattr(model, "posterior_variance"):
        latent, ridge = dask.compute(model.transform(Xs), predicted)
        return latent, ridge[:, 0], None
    variance = Xs.map_blocks(
        lambda block: model.posterior_variance(block)[:, None],
        chunks=(Xs.chunks[0], (1,)),
        dtype=np.float64,
    )
    latent, ridge, variance = dask.compute(model.transform(Xs), predicted, variance)
    return latent, ridge[:, 0], variance[:, 0]
