"""The contributions workflow: per-atom and per-motif contributions to a property
of molecular crystals (or clusters) from an additive model on remnant features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from propmap.workflows._options import SoapOptions, WorkflowError
from propmap.workflows._scores import r2, scores
from propmap.workflows._steps import (
    output_folder,
    point_names,
    read_inputs,
    stage,
    write_json,
)

__all__ = [
    "CONTRIBUTION_FILES",
    "CONTRIBUTION_SOAP",
    "compare_environments",
    "explain_contributions",
    "similar_structures",
]

# remnants of molecular crystals: short environments, compact expansion
CONTRIBUTION_SOAP = SoapOptions(cutoff=4.5, max_radial=3, max_angular=3)
MIN_STRUCTURES = 4

CONTRIBUTION_FILES = {
    "atoms": "atom_contributions.csv",
    "instances": "motif_instances.csv",
    "motifs": "motif_summary.csv",
    "plot": "motif_contributions.png",
    "parity": "parity.png",
    "viewer": "viewer.html",
    "chemiscope": "chemiscope.json.gz",
    "predictions": "predictions.csv",
    "neighbours": "similar_structures.csv",
    "summary": "summary.json",
    "report": "report.html",
}
# components of the PCovR map of the atoms whose distances define similar
# environments (the viewer shows the first two)
NEIGHBOUR_COMPONENTS = 8
# similar_structures compares every pair of structures (1.3 s for 55 crystals,
# growing as the square): past this many it is not written
SIMILAR_MAX_STRUCTURES = 500


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


def _read_targets(structures, table_path: Path, target: str) -> np.ndarray:
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


def _motif_table(structures):
    """Motif instances of every structure, found molecule by molecule (so that
    periodic crystals work), with atom indices in the structure."""
    import pandas as pd

    from propmap.atomistic import label_motifs, split_into_molecules

    tables = []
    for index, atoms in enumerate(structures):
        molecules = split_into_molecules(atoms)
        table = label_motifs(molecules)
        if table.empty:
            continue
        parents = [np.asarray(m.info["parent_indices"]) for m in molecules]
        table["atoms"] = [
            tuple(sorted(int(parents[m][a]) for a in atoms_))
            for m, atoms_ in zip(table["structure"], table["atoms"], strict=True)
        ]
        table["structure"] = index
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["structure", "motif", "atoms", "n_atoms"])
    return pd.concat(tables, ignore_index=True)


def explain_contributions(
    paths: list[Path],
    target: str,
    out: Path,
    *,
    molecules: Path | None = None,
    targets: Path | None = None,
    per_molecule: bool = False,
    soap: SoapOptions = CONTRIBUTION_SOAP,
    progress: bool = False,
    seed: int = 0,
    force: bool = False,
    title: str | None = None,
) -> dict[str, Any]:
    """Per-atom and per-motif contributions to a property of molecular crystals or
    clusters, from an additive ridge model on remnant SOAP features (each atom's
    environment in the structure minus in its isolated molecule).

    Parameters
    ----------
    paths : list of path-like
        Crystals or clusters of molecules (any format ase reads).
    target : str
        The property to explain: an ``info`` key of every structure, or with
        ``targets`` a column of that table.
    out : path-like
        Output folder (see ``CONTRIBUTION_FILES``).
    molecules : path-like or None, default=None
        Gas-phase molecules, in any atom order (matched to the structures' by
        bonds and geometry): a file with one for every structure or one per
        structure, or a folder with one file per structure named as its file
        (``BENZEN.xyz`` for ``BENZEN.cif``); None cuts them from the structures.
    targets : path-like or None, default=None
        A CSV table of the property whose first column names each structure (its
        file name without suffix, or ``file:index``); None reads the property
        from the structures.
    per_molecule : bool, default=False
        The property is per molecule (a lattice energy): the model predicts the
        sum over a structure's atoms divided by its number of molecules, and each
        atom's contribution is to its molecule's value.
    soap : SoapOptions, default=CONTRIBUTION_SOAP
        SOAP settings of the remnant features.
    progress, seed, force, title
        As for :func:`~propmap.workflows.map_structures`.

    Returns
    -------
    summary : dict
        What ``summary.json`` holds.
    """
    with output_folder(out, force) as out:
        return _explain(
            paths,
            target,
            out,
            _Inputs(molecules, targets, per_molecule),
            soap,
            progress,
            seed,
            title,
        )


@dataclass(frozen=True)
class _Inputs:
    molecules: Path | None
    targets: Path | None
    per_molecule: bool


def _single_molecules(structures) -> bool:
    """Every structure is one isolated molecule (nothing for remnants to see)."""
    from propmap.atomistic import find_molecules

    return all(
        not any(atoms.pbc) and len(find_molecules(atoms)) == 1 for atoms in structures
    )


def _explain(paths, target, out, inputs, soap_options, progress, seed, title):
    if inputs.targets is None:
        structures, y = read_inputs(paths, target, progress)
    else:
        structures, _ = read_inputs(paths, None, progress)
        y = _read_targets(structures, Path(inputs.targets), target)
    gas_phase = _check_inputs(structures, inputs.molecules)
    soap = soap_options.featurizer()
    stage(
        f"remnant features and additive model of {len(structures)} structures", progress
    )
    aggregate = "molecule" if inputs.per_molecule else "sum"
    fits = _AdditiveFits.of(structures, y, soap, gas_phase, seed, aggregate)
    stage("motifs", progress)
    instances, motifs, unlabelled = _motif_instances(structures, fits.contributions)
    atoms_table = _atom_table(structures, fits.contributions)
    atoms_table["motif"] = _motif_of_atoms(structures, instances, len(atoms_table))
    stage("atom-level map and viewer", progress)
    components = _atom_map(fits, structures, atoms_table["contribution"].to_numpy())
    latent = components[:, :2]
    for k in range(components.shape[1]):
        atoms_table[f"map_{k + 1}"] = components[:, k]
    names = point_names(structures)
    neighbours = (
        similar_structures(atoms_table, names)
        if len(structures) <= SIMILAR_MAX_STRUCTURES
        else None
    )
    baseline = _size_baseline(structures, y, seed, inputs.per_molecule)
    cross_validated, size_only = scores(y, fits.cross_validated), scores(y, baseline)
    summary = {
        "structures": len(structures),
        "atoms": int(atoms_table.shape[0]),
        "target": target,
        "molecules": "given" if gas_phase is not None else "cut from the structures",
        "per_molecule": inputs.per_molecule,
        "ridge_alpha": float(fits.model.regressor_.alpha_),
        "r2_train": r2(y, fits.fitted),
        "r2_cross_validated": cross_validated["r2"],
        "mae_cross_validated": cross_validated["mae"],
        # the same folds with only the size of the molecules (atoms per element)
        "r2_size_baseline": size_only["r2"],
        "mae_size_baseline": size_only["mae"],
        "similar_structures": (
            "written"
            if neighbours is not None
            else f"not written: {len(structures)} structures, more than the "
            f"{SIMILAR_MAX_STRUCTURES} whose pairs it compares; use "
            "similar_structures on atom_contributions.csv for a subset"
        ),
        "motif_instances": len(instances),
        "motifs": {
            name: {"count": int(row["count"]), "mean": float(row["mean"])}
            for name, row in motifs.iterrows()
        },
        "unlabelled": unlabelled,
        "soap": {k: v for k, v in soap.get_params().items() if k != "progress"},
        "seed": seed,
        "files": CONTRIBUTION_FILES,
    }
    import pandas as pd

    tables = {
        "atoms": atoms_table,
        "instances": instances,
        "predictions": pd.DataFrame(
            {
                "structure": names,
                target: y,
                "cross_validated": fits.cross_validated,
                "size_baseline": baseline,
            }
        ),
        "neighbours": neighbours,
    }
    _write(out, structures, y, target, title, fits, instances, motifs, tables, latent)
    write_json(out / CONTRIBUTION_FILES["summary"], summary)
    _write_report(out, summary, title)
    return summary


def contributions_section(summary: dict, folder: Path, link_prefix: str, title: str):
    """The report section of one contributions run (also used by the demo)."""
    from propmap.viz._report import ReportSection

    files = summary["files"]
    figures = [(folder / files["parity"], "Cross-validated predictions.")]
    if summary["motif_instances"]:
        figures.insert(
            0,
            (
                folder / files["plot"],
                "Contributions of every motif instance (| = mean).",
            ),
        )
    return ReportSection(
        title=title,
        text=(
            "An additive ridge model on remnant SOAP features (each atom's "
            "environment in the structure minus in its isolated molecule, "
            f"{summary['molecules']}) gives every atom's contribution to "
            f"{summary['target']}; functional-group motifs sum their atoms' "
            "contributions."
        ),
        numbers={
            "structures": summary["structures"],
            "atoms": summary["atoms"],
            "R² cross-validated": summary["r2_cross_validated"],
            "MAE cross-validated": summary["mae_cross_validated"],
            "R² of size alone (element counts)": summary["r2_size_baseline"],
            "motif instances": summary["motif_instances"],
        },
        figures=figures,
        links=[(link_prefix + files["viewer"], "Open the atom-level viewer")],
    )


def _write_report(out: Path, summary: dict, title: str | None) -> None:
    from propmap.viz._report import write_report

    heading = title or f"Contributions to {summary['target']}"
    write_report(
        out / CONTRIBUTION_FILES["report"],
        f"propmap: {heading}",
        [contributions_section(summary, out, "", heading)],
    )


def _check_inputs(structures, molecules_path):
    """The gas-phase molecules (None: cut from the structures), after the checks
    that the structures can be explained at all."""
    if len(structures) < MIN_STRUCTURES:
        raise WorkflowError(
            f"{len(structures)} structures are too few to fit and cross-validate an "
            f"additive model; give at least {MIN_STRUCTURES}."
        )
    gas_phase = _gas_phase(structures, molecules_path)
    if gas_phase is None and _single_molecules(structures):
        raise WorkflowError(
            "every structure is a single isolated molecule, so its atoms' remnant "
            "features (environment in the structure minus in the isolated molecule) "
            "are all zero: contributions needs crystals or clusters of several "
            "molecules (or --molecules with their gas-phase geometries). For a "
            "property of single molecules use propmap map."
        )
    return gas_phase


@dataclass
class _AdditiveFits:
    """The additive model on every structure, its atoms' contributions, and the
    cross-validated predictions."""

    model: Any
    contributions: list
    cross_validated: np.ndarray
    gas_phase: list | None
    # the remnant features of every atom, and the predictions of the full model
    atom_rows: Any = None
    fitted: Any = None

    def molecules_of(self, rows) -> dict:
        """The featurizer's ``molecules`` argument for these structures."""
        if self.gas_phase is None:
            return {}
        return {"molecules": [self.gas_phase[i] for i in rows]}

    @classmethod
    def of(
        cls, structures, y, soap, gas_phase, seed: int, aggregate: str = "sum"
    ) -> _AdditiveFits:
        from sklearn.linear_model import RidgeCV
        from sklearn.model_selection import KFold

        from propmap.atomistic import AdditiveModel, RemnantFeaturizer

        def make_model():
            return AdditiveModel(
                RemnantFeaturizer(soap),
                regressor=RidgeCV(alphas=np.logspace(-6, 2, 17)),
                aggregate=aggregate,
                composition=False,
            )

        from sklearn.base import clone

        fits = cls(None, [], np.empty(len(structures)), gas_phase)
        every = fits.molecules_of(range(len(structures)))
        model = fits.model = make_model().fit(structures, y, **every)
        # the atoms' remnant features once: the folds refit only the ridge model
        # on their sums (as AdditiveModel refits would, with the species of all
        # the structures; remnants of one structure do not depend on the others)
        rows, owners = model._atom_features(structures, every)
        design = model._aggregate(rows, owners, structures)
        fits.atom_rows = rows
        fits.contributions = model._contributions_of(rows, owners, structures)
        fits.fitted = model.regressor_.predict(design)
        folds = KFold(n_splits=min(5, len(structures)), shuffle=True, random_state=seed)
        for train, test in folds.split(structures):
            fold = clone(model.regressor).fit(design[train], y[train])
            fits.cross_validated[test] = fold.predict(design[test])
        return fits


def _motif_instances(structures, contributions):
    """Motif instances with their contributions, the per-motif summary, and the
    structures whose motifs could not be perceived."""
    import warnings

    import pandas as pd

    from propmap.atomistic import (
        MotifPerceptionWarning,
        motif_contributions,
        summarize_motifs,
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MotifPerceptionWarning)
        labels = _motif_table(structures)
    unlabelled = sorted({str(w.message).split(":")[0] for w in caught})
    instances = motif_contributions(labels, contributions)
    motifs = summarize_motifs(instances) if len(instances) else pd.DataFrame()
    return instances, motifs, unlabelled


def _atom_table(structures, contributions):
    import pandas as pd

    sizes = [len(a) for a in structures]
    return pd.DataFrame(
        {
            "structure": np.repeat(np.arange(len(structures)), sizes),
            "source": np.repeat([a.info.get("source", "") for a in structures], sizes),
            "atom": np.concatenate([np.arange(n) for n in sizes]),
            "element": np.concatenate([a.get_chemical_symbols() for a in structures]),
            "contribution": np.concatenate(contributions),
        }
    )


def _atom_map(fits: _AdditiveFits, structures, atom_values) -> np.ndarray:
    """PCovR of the per-atom remnant features against the atoms' contributions
    (up to NEIGHBOUR_COMPONENTS components; the map is the first two)."""
    import warnings

    from propmap.decomposition import PCovR
    from propmap.preprocessing import StandardFlexibleScaler

    scaled = StandardFlexibleScaler().fit_transform(fits.atom_rows)
    scaled_values = StandardFlexibleScaler(column_wise=True).fit_transform(
        atom_values[:, None]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        n_components = max(2, min(NEIGHBOUR_COMPONENTS, *scaled.shape))
        return (
            PCovR(mixing=0.5, n_components=n_components)
            .fit(scaled, scaled_values)
            .transform(scaled)
        )


def _motif_of_atoms(structures, instances, n_atoms: int) -> list[str]:
    """Each atom's (first) motif, "none" for atoms in none."""
    motif_of_atom = np.full(n_atoms, "", dtype=object)
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in structures])])
    for structure, motif, atoms_ in zip(
        instances["structure"], instances["motif"], instances["atoms"], strict=True
    ):
        for atom in atoms_:
            row = offsets[structure] + atom
            motif_of_atom[row] = motif if not motif_of_atom[row] else motif_of_atom[row]
    motif_of_atom[motif_of_atom == ""] = "none"
    return motif_of_atom.tolist()


def _write(out, structures, y, target, title, fits, instances, motifs, tables, latent):
    """Every output file but the summary and the report; ``tables``: the CSV
    tables without an index, by their CONTRIBUTION_FILES key (None: not written)."""
    from propmap._files import write_atomically
    from propmap.viz import (
        chemiscope_dataset,
        parity_plot,
        save_figure,
        write_chemiscope_json,
        write_viewer,
    )
    from propmap.viz import motif_contributions as motif_figure

    files = {name: out / file for name, file in CONTRIBUTION_FILES.items()}
    for name, table in tables.items():
        if table is not None:
            write_atomically(files[name], lambda f, t=table: t.to_csv(f, index=False))
    write_atomically(files["motifs"], lambda f: motifs.to_csv(f))
    atoms = tables["atoms"]
    if len(instances):
        save_figure(motif_figure(instances, title=title), files["plot"])
    groups = np.full(len(structures), "cross-validated")
    save_figure(
        parity_plot(y, fits.cross_validated, label=target, groups=groups),
        files["parity"],
    )
    dataset = chemiscope_dataset(
        structures,
        properties={target: y, f"{target} (cross-validated)": fits.cross_validated},
        atom_properties={
            "contribution": atoms["contribution"].to_numpy(),
            "motif": atoms["motif"].tolist(),
        },
        latent=latent,
        latent_name="PCovR",
        color="contribution",
        name=title or f"propmap contributions to {target}",
        description="Atoms mapped by PCovR of their remnant SOAP features against "
        "their contributions.",
    )
    write_chemiscope_json(dataset, files["chemiscope"])
    write_viewer(dataset, files["viewer"], title=title or f"propmap: {target}")


def _size_baseline(structures, y, seed: int, per_molecule: bool) -> np.ndarray:
    """Cross-validated predictions (the folds of the additive model) of a ridge
    model on the counts of each element per structure (per molecule with
    ``per_molecule``): how much of the property the molecules' size explains."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    from propmap.atomistic import find_molecules

    elements = np.unique(np.concatenate([a.numbers for a in structures]))
    counts = np.array(
        [np.sum(a.numbers[:, None] == elements[None, :], axis=0) for a in structures],
        dtype=float,
    )
    if per_molecule:
        counts /= np.array([len(find_molecules(a)) for a in structures])[:, None]
    folds = KFold(n_splits=min(5, len(structures)), shuffle=True, random_state=seed)
    return cross_val_predict(
        RidgeCV(alphas=np.logspace(-6, 2, 17)), counts, y, cv=folds
    )


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
