"""The contributions workflow: per-atom and per-motif contributions to a property
of molecular crystals (or clusters) from an additive model on remnant features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from propmap.workflows._options import SoapOptions, WorkflowError
from propmap.workflows._steps import output_folder, read_inputs, stage, write_json

__all__ = ["CONTRIBUTION_FILES", "CONTRIBUTION_SOAP", "explain_contributions"]

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
    "summary": "summary.json",
}


def _gas_phase(structures, molecules_path: Path | None):
    """The ``molecules`` argument of RemnantFeaturizer from a file: one molecule
    for every structure, or one per structure."""
    if molecules_path is None:
        return None
    from propmap.atomistic import read_structures

    molecules = read_structures([str(molecules_path)])
    if len(molecules) == 1:
        return molecules * len(structures)
    if len(molecules) != len(structures):
        raise WorkflowError(
            f"{molecules_path} has {len(molecules)} molecules: give one (used for "
            f"every structure) or one per structure ({len(structures)})."
        )
    return molecules


def _motif_table(structures):
    """Motif instances of every structure, found molecule by molecule (so that
    periodic crystals work), with atom indices in the structure."""
    import numpy as np
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
        The property to explain (an ``info`` key of every structure).
    out : path-like
        Output folder (see ``CONTRIBUTION_FILES``).
    molecules : path-like or None, default=None
        Gas-phase molecules in the same atom order: one for every structure, or
        one per structure; None cuts them from the structures.
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
        return _explain(paths, target, out, molecules, soap, progress, seed, title)


def _single_molecules(structures) -> bool:
    """Every structure is one isolated molecule (nothing for remnants to see)."""
    from propmap.atomistic import find_molecules

    return all(
        not any(atoms.pbc) and len(find_molecules(atoms)) == 1 for atoms in structures
    )


def _explain(paths, target, out, molecules, soap_options, progress, seed, title):
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold

    from propmap._files import write_atomically
    from propmap.atomistic import (
        AdditiveModel,
        MotifPerceptionWarning,
        RemnantFeaturizer,
        motif_contributions,
        summarize_motifs,
    )
    from propmap.decomposition import PCovR
    from propmap.preprocessing import StandardFlexibleScaler
    from propmap.viz import (
        chemiscope_dataset,
        parity_plot,
        save_figure,
        write_chemiscope_json,
        write_viewer,
    )
    from propmap.viz import (
        motif_contributions as motif_figure,
    )

    structures, y = read_inputs(paths, target, progress)
    if len(structures) < MIN_STRUCTURES:
        raise WorkflowError(
            f"{len(structures)} structures are too few to fit and cross-validate an "
            f"additive model; give at least {MIN_STRUCTURES}."
        )
    gas_phase = _gas_phase(structures, molecules)
    if gas_phase is None and _single_molecules(structures):
        raise WorkflowError(
            "every structure is a single isolated molecule, so its atoms' remnant "
            "features (environment in the structure minus in the isolated molecule) "
            "are all zero: contributions needs crystals or clusters of several "
            "molecules (or --molecules with their gas-phase geometries). For a "
            "property of single molecules use propmap map."
        )
    soap = soap_options.featurizer()

    def make_model() -> AdditiveModel:
        return AdditiveModel(
            RemnantFeaturizer(soap),
            regressor=RidgeCV(alphas=np.logspace(-6, 2, 17)),
            composition=False,
        )

    def molecules_of(rows) -> dict:
        """The featurizer's ``molecules`` argument for these structures."""
        return {} if gas_phase is None else {"molecules": [gas_phase[i] for i in rows]}

    every = range(len(structures))
    extra = molecules_of(every)
    stage(
        f"remnant features and additive model of {len(structures)} structures", progress
    )
    model = make_model().fit(structures, y, **extra)
    contributions = model.atom_contributions(structures, **extra)
    folds = KFold(n_splits=min(5, len(structures)), shuffle=True, random_state=seed)
    cross_validated = np.empty(len(structures))
    for train, test in folds.split(structures):
        fold = make_model().fit(
            [structures[i] for i in train], y[train], **molecules_of(train)
        )
        cross_validated[test] = fold.predict(
            [structures[i] for i in test], **molecules_of(test)
        )

    stage("motifs", progress)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MotifPerceptionWarning)
        labels = _motif_table(structures)
    unlabelled = sorted({str(w.message).split(":")[0] for w in caught})
    instances = motif_contributions(labels, contributions)
    summary_table = summarize_motifs(instances) if len(instances) else pd.DataFrame()

    atoms_table = pd.DataFrame(
        {
            "structure": np.repeat(
                np.arange(len(structures)), [len(a) for a in structures]
            ),
            "source": np.repeat(
                [a.info.get("source", "") for a in structures],
                [len(a) for a in structures],
            ),
            "atom": np.concatenate([np.arange(len(a)) for a in structures]),
            "element": np.concatenate([a.get_chemical_symbols() for a in structures]),
            "contribution": np.concatenate(contributions),
        }
    )

    # atom-level map: PCovR of the per-atom remnant features against the atoms'
    # contributions
    stage("atom-level map and viewer", progress)
    atom_features = model.featurizer_.transform(structures, **extra)
    atom_values = atoms_table["contribution"].to_numpy()
    scaled = StandardFlexibleScaler().fit_transform(atom_features)
    scaled_values = StandardFlexibleScaler(column_wise=True).fit_transform(
        atom_values[:, None]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        latent = (
            PCovR(mixing=0.5, n_components=2)
            .fit(scaled, scaled_values)
            .transform(scaled)
        )

    def r2(values) -> float:
        return float(1.0 - np.sum((y - values) ** 2) / np.sum((y - y.mean()) ** 2))

    summary = {
        "structures": len(structures),
        "atoms": int(atoms_table.shape[0]),
        "target": target,
        "molecules": "given" if gas_phase is not None else "cut from the structures",
        "ridge_alpha": float(model.regressor_.alpha_),
        # each structure's prediction is the sum of its atoms' contributions
        "r2_train": r2(np.array([c.sum() for c in contributions])),
        "r2_cross_validated": r2(cross_validated),
        "mae_cross_validated": float(np.mean(np.abs(y - cross_validated))),
        "motif_instances": len(instances),
        "motifs": {
            name: {"count": int(row["count"]), "mean": float(row["mean"])}
            for name, row in summary_table.iterrows()
        },
        "unlabelled": unlabelled,
        "soap": soap.get_params(),
        "seed": seed,
        "files": CONTRIBUTION_FILES,
    }
    summary["soap"].pop("progress", None)

    write_atomically(
        out / CONTRIBUTION_FILES["atoms"], lambda f: atoms_table.to_csv(f, index=False)
    )
    write_atomically(
        out / CONTRIBUTION_FILES["instances"],
        lambda f: instances.to_csv(f, index=False),
    )
    write_atomically(
        out / CONTRIBUTION_FILES["motifs"], lambda f: summary_table.to_csv(f)
    )
    if len(instances):
        save_figure(
            motif_figure(instances, title=title), out / CONTRIBUTION_FILES["plot"]
        )
    groups = np.full(len(structures), "cross-validated")
    save_figure(
        parity_plot(y, cross_validated, label=target, groups=groups),
        out / CONTRIBUTION_FILES["parity"],
    )
    motif_of_atom = np.full(atoms_table.shape[0], "", dtype=object)
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in structures])])
    for structure, motif, atoms_ in zip(
        instances["structure"], instances["motif"], instances["atoms"], strict=True
    ):
        for atom in atoms_:
            row = offsets[structure] + atom
            motif_of_atom[row] = motif if not motif_of_atom[row] else motif_of_atom[row]
    motif_of_atom[motif_of_atom == ""] = "none"
    dataset = chemiscope_dataset(
        structures,
        properties={target: y, f"{target} (cross-validated)": cross_validated},
        atom_properties={
            "contribution": atom_values,
            "motif": motif_of_atom.tolist(),
        },
        latent=latent,
        latent_name="PCovR",
        color="contribution",
        name=title or f"propmap contributions to {target}",
        description="Atoms mapped by PCovR of their remnant SOAP features against "
        "their contributions.",
    )
    write_chemiscope_json(dataset, out / CONTRIBUTION_FILES["chemiscope"])
    write_viewer(
        dataset, out / CONTRIBUTION_FILES["viewer"], title=title or f"propmap: {target}"
    )
    write_json(out / CONTRIBUTION_FILES["summary"], summary)
    return summary
