"""The contributions workflow: per-atom and per-motif contributions to a property
of molecular crystals (or clusters) from an additive model on remnant features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
    "report": "report.html",
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
    structures, y = read_inputs(paths, target, progress)
    gas_phase = _check_inputs(structures, molecules)
    soap = soap_options.featurizer()
    stage(
        f"remnant features and additive model of {len(structures)} structures", progress
    )
    fits = _AdditiveFits.of(structures, y, soap, gas_phase, seed)
    stage("motifs", progress)
    instances, motifs, unlabelled = _motif_instances(structures, fits.contributions)
    atoms_table = _atom_table(structures, fits.contributions)
    stage("atom-level map and viewer", progress)
    latent = _atom_map(fits, structures, atoms_table["contribution"].to_numpy())
    summary = {
        "structures": len(structures),
        "atoms": int(atoms_table.shape[0]),
        "target": target,
        "molecules": "given" if gas_phase is not None else "cut from the structures",
        "ridge_alpha": float(fits.model.regressor_.alpha_),
        # each structure's prediction is the sum of its atoms' contributions
        "r2_train": _r2(y, np.array([c.sum() for c in fits.contributions])),
        "r2_cross_validated": _r2(y, fits.cross_validated),
        "mae_cross_validated": float(np.mean(np.abs(y - fits.cross_validated))),
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
    _write(
        out, structures, y, target, title, fits, instances, motifs, atoms_table, latent
    )
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


def _r2(truth, values) -> float:
    return float(
        1.0 - np.sum((truth - values) ** 2) / np.sum((truth - truth.mean()) ** 2)
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

    def molecules_of(self, rows) -> dict:
        """The featurizer's ``molecules`` argument for these structures."""
        if self.gas_phase is None:
            return {}
        return {"molecules": [self.gas_phase[i] for i in rows]}

    @classmethod
    def of(cls, structures, y, soap, gas_phase, seed: int) -> _AdditiveFits:
        from sklearn.linear_model import RidgeCV
        from sklearn.model_selection import KFold

        from propmap.atomistic import AdditiveModel, RemnantFeaturizer

        def make_model():
            return AdditiveModel(
                RemnantFeaturizer(soap),
                regressor=RidgeCV(alphas=np.logspace(-6, 2, 17)),
                composition=False,
            )

        fits = cls(None, [], np.empty(len(structures)), gas_phase)
        every = fits.molecules_of(range(len(structures)))
        fits.model = make_model().fit(structures, y, **every)
        fits.contributions = fits.model.atom_contributions(structures, **every)
        folds = KFold(n_splits=min(5, len(structures)), shuffle=True, random_state=seed)
        for train, test in folds.split(structures):
            fold = make_model().fit(
                [structures[i] for i in train], y[train], **fits.molecules_of(train)
            )
            fits.cross_validated[test] = fold.predict(
                [structures[i] for i in test], **fits.molecules_of(test)
            )
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
    """PCovR of the per-atom remnant features against the atoms' contributions."""
    import warnings

    from propmap.decomposition import PCovR
    from propmap.preprocessing import StandardFlexibleScaler

    every = fits.molecules_of(range(len(structures)))
    atom_features = fits.model.featurizer_.transform(structures, **every)
    scaled = StandardFlexibleScaler().fit_transform(atom_features)
    scaled_values = StandardFlexibleScaler(column_wise=True).fit_transform(
        atom_values[:, None]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return (
            PCovR(mixing=0.5, n_components=2)
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


def _write(out, structures, y, target, title, fits, instances, motifs, atoms, latent):
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
    write_atomically(files["atoms"], lambda f: atoms.to_csv(f, index=False))
    write_atomically(files["instances"], lambda f: instances.to_csv(f, index=False))
    write_atomically(files["motifs"], lambda f: motifs.to_csv(f))
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
            "motif": _motif_of_atoms(structures, instances, atoms.shape[0]),
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
