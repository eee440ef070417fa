"""The project workflow: new structures onto an existing map (a ``model.joblib``
written by :func:`~propmap.workflows.map_structures`)."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from propmap.workflows._inputs import point_names, read_inputs, read_table_rows
from propmap.workflows._options import WorkflowError
from propmap.workflows._pipeline import MapPipeline
from propmap.workflows._steps import (
    output_folder,
    stage,
    timed_stages,
    write_json,
)

__all__ = ["PROJECT_FILES", "load_map", "project_structures"]

PROJECT_FILES = {
    "table": "projected.csv",
    "map": "map.png",
    "viewer": "viewer.html",
    "chemiscope": "chemiscope.json.gz",
    "summary": "summary.json",
}


def load_map(path) -> MapPipeline:
    """The fitted map in ``path`` (a ``model.joblib`` of ``propmap map``).

    A WorkflowError says what is wrong with any other file.

    Parameters
    ----------
    path : path-like
        The model file.

    Returns
    -------
    MapPipeline
        The fitted map, ``map_`` its record.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such model file: {path}")
    try:
        pipeline = joblib.load(path)
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        KeyError,
        IndexError,
    ) as error:
        raise WorkflowError(
            f"{path} is not a readable model file ({type(error).__name__}: {error}); "
            "give the model.joblib that propmap map wrote."
        ) from None
    except (AttributeError, ModuleNotFoundError, ImportError) as error:
        raise WorkflowError(
            f"{path} needs code that is not here to load ({error}); was it written "
            "by another version of propmap or by another program?"
        ) from None
    if not isinstance(pipeline, MapPipeline) or not hasattr(pipeline, "map_"):
        raise WorkflowError(
            f"{path} holds a {type(pipeline).__name__}, not a propmap map: give the "
            "model.joblib that propmap map wrote."
        )
    pipeline.folder_ = path.parent
    return pipeline


def _check_elements(pipeline: MapPipeline, structures) -> None:
    from ase.data import chemical_symbols

    known = {int(z) for z in pipeline.named_steps["featurizer"].species_}
    seen = {int(z) for atoms in structures for z in atoms.numbers}
    unseen = sorted(seen - known)
    if unseen:
        new = ", ".join(chemical_symbols[z] for z in unseen)
        mapped = ", ".join(chemical_symbols[z] for z in sorted(known))
        raise WorkflowError(
            f"the new structures contain {new}, which the map's structures do not "
            f"({mapped}); the map cannot place them."
        )


def project_structures(
    model: Path,
    paths: list[Path],
    out: Path,
    *,
    neighbours: int = 5,
    progress: bool = False,
    force: bool = False,
    title: str | None = None,
) -> dict[str, Any]:
    """Place new structures on a map: their latent coordinates, predicted
    property, nearest training structures, a map figure and a viewer.

    Parameters
    ----------
    model : path-like
        ``model.joblib`` written by :func:`~propmap.workflows.map_structures`.
    paths : list of path-like
        Structure files or folders of the new structures.
    out : path-like
        Output folder (see ``PROJECT_FILES``).
    neighbours : int, default=5
        How many nearest training structures (in the latent space) to list.
    progress : bool, default=False
        Progress bars and notes on stderr.
    force : bool, default=False
        Write into a non-empty output folder.
    title : str or None, default=None
        Title of the figures and viewer.

    Returns
    -------
    summary : dict
        What ``summary.json`` holds.
    """
    import warnings

    from sklearn.neighbors import NearestNeighbors

    if neighbours < 1:
        raise WorkflowError(f"--neighbours must be at least 1, not {neighbours}.")
    pipeline = load_map(model)
    record = pipeline.map_
    training = np.flatnonzero(np.asarray(record["sets"]) == "train")
    count = min(neighbours, training.size)
    with output_folder(out, force) as out, timed_stages():
        if record.get("columns") is not None:  # a feature table's map
            structures, names, data = None, *read_table_rows(paths, record["columns"])
        else:
            structures, _ = read_inputs(paths, None, progress)
            _check_elements(pipeline, structures)
            # a map of atoms has atoms as points
            names = point_names(structures, per_atom=record.get("per") == "atom")
            data = structures
        kind = "rows" if structures is None else "structures"
        if record.get("per") == "atom":
            kind = "atoms"
        stage(f"projecting {len(names)} {kind}", progress)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # new data is not centred
            projection = pipeline.project(data)
        finder = NearestNeighbors(n_neighbors=count).fit(record["latent"][training])
        distances, nearest = finder.kneighbors(projection.latent)
        summary = _write(
            out, pipeline, structures, names, projection, training[nearest],
            distances, title,
        )  # fmt: skip
        summary["model_file"] = str(model)
    return summary


def _projection_table(record, model_name, names, projection, nearest, distances):
    """One row per new point: latent coordinates, prediction (its σ and whether
    it lies in the applicability domain), the nearest training points of the
    map and their distances in the latent space."""
    import pandas as pd

    latent = projection.latent
    columns = {"structure": names}
    for k in range(latent.shape[1]):
        columns[f"{model_name} {k + 1}"] = latent[:, k]
    columns[f"{record['target_name']} (predicted)"] = projection.predicted
    if projection.std is not None:
        columns[f"{record['target_name']} σ"] = projection.std
        columns["in domain"] = projection.in_domain
    for j in range(nearest.shape[1]):
        columns[f"neighbour {j + 1}"] = [record["names"][i] for i in nearest[:, j]]
        columns[f"distance {j + 1}"] = distances[:, j]
    return pd.DataFrame(columns)


def _write(out, pipeline, structures, names, projection, nearest, distances, title):
    from propmap._files import write_atomically
    from propmap.viz import (
        chemiscope_dataset,
        latent_map,
        save_figure,
        write_chemiscope_json,
        write_viewer,
    )

    record = pipeline.map_
    target = record["target_name"]
    model_type = record.get(
        "model_name", type(pipeline.named_steps["model"].model_).__name__
    )
    model_name = record.get("latent_name", model_type)  # the map's axes
    latent, predicted = projection.latent, projection.predicted
    table = _projection_table(record, model_name, names, projection, nearest, distances)
    files = {name: out / file for name, file in PROJECT_FILES.items()}
    write_atomically(files["table"], lambda f: table.to_csv(f, index=False))
    labels = (f"{model_name} 1", f"{model_name} 2")
    save_figure(
        latent_map(
            record["latent"],
            record["target"],
            value_label=target,
            axis_labels=labels,
            title=title,
            marked=latent,
            marked_label="projected",
            marked_outside=None
            if projection.in_domain is None
            else ~projection.in_domain,
        ),
        files["map"],
    )
    known = None if structures is None else pipeline.map_structures()
    per_atom = record.get("per") == "atom"
    shown_latent = np.vstack([record["latent"], latent])
    new_set = ["projected"] * len(names)
    if projection.in_domain is not None:
        new_set = np.where(
            projection.in_domain, "projected", "projected, outside the domain"
        ).tolist()
    points = {
        target: np.concatenate([record["target"], predicted]),
        "set": list(record["sets"]) + new_set,
    }
    if structures is not None and known is None:
        warnings.warn(
            f"the map's structures are read from {record.get('structures_file')} "
            "beside the model file, which is not there: the viewer shows the "
            "projected structures alone (the figure shows the whole map).",
            UserWarning,
            stacklevel=3,
        )
        known, shown_latent = [], latent
        points = {target: predicted, "set": new_set}
    every = None if structures is None else known + list(structures)
    dataset = chemiscope_dataset(
        every,
        properties=None
        if per_atom
        else {
            **({} if every is not None else {"name": list(record["names"]) + names}),
            **points,
        },
        atom_properties=points if per_atom else None,
        latent=shown_latent,
        latent_name=model_name,
        color=target,
        name=title or f"propmap: {len(names)} new points on the map of {target}",
        description=(
            f"The map's structures (train and test, their true {target}) and the "
            f"projected ones (set 'projected', their predicted {target})."
        ),
    )
    write_chemiscope_json(dataset, files["chemiscope"])
    write_viewer(dataset, files["viewer"], title=title or f"propmap: {target}")
    summary = {
        "structures": len(names) if structures is None else len(structures),
        "points": len(names),
        "target": target,
        "model": model_type,
        "coordinates": model_name,
        "neighbours": int(nearest.shape[1]),
        "predicted": {
            "mean": float(np.mean(predicted)),
            "min": float(np.min(predicted)),
            "max": float(np.max(predicted)),
        },
        "files": PROJECT_FILES,
    }
    if projection.in_domain is not None:
        outside = int(np.count_nonzero(~projection.in_domain))
        summary["uncertainty"] = {
            "sigma": {
                "mean": float(np.mean(projection.std)),
                "max": float(np.max(projection.std)),
            },
            "out_of_domain": outside,
            "in_domain": len(names) - outside,
            "domain_rule": (
                "the ridge's posterior variance at most the 99th percentile of "
                "the held-out rows' in the map's cross-validation"
            ),
        }
    write_json(files["summary"], summary)
    return summary
