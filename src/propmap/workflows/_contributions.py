"""The contributions workflow: per-atom and per-motif contributions to a property
of molecular crystals (or clusters) from an additive model on remnant features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from propmap.workflows._additive_fits import AdditiveFits, size_baseline
from propmap.workflows._contribution_inputs import (
    check_inputs,
    read_targets,
)
from propmap.workflows._inputs import point_names, read_inputs
from propmap.workflows._options import SoapOptions
from propmap.workflows._scores import coverage, r2, scores
from propmap.workflows._similarity import compare_environments, similar_structures
from propmap.workflows._steps import (
    output_folder,
    stage,
    timed_stages,
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
    progress : bool, default=False
        Progress bars and notes on stderr.
    seed : int, default=0
        Seed of every random choice (the split, the folds).
    force : bool, default=False
        Write into a non-empty output folder.
    title : str or None, default=None
        Title of the figures and viewer.

    Returns
    -------
    summary : dict
        What ``summary.json`` holds.
    """
    with output_folder(out, force) as out, timed_stages():
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


def _explain(paths, target, out, inputs, soap_options, progress, seed, title):
    if inputs.targets is None:
        structures, y = read_inputs(paths, target, progress)
    else:
        structures, _ = read_inputs(paths, None, progress)
        y = read_targets(structures, Path(inputs.targets), target)
    gas_phase = check_inputs(structures, inputs.molecules)
    soap = soap_options.featurizer()
    stage(
        f"remnant features and additive model of {len(structures)} structures", progress
    )
    aggregate = "molecule" if inputs.per_molecule else "sum"
    fits = AdditiveFits.of(structures, y, soap, gas_phase, seed, aggregate)
    stage("motifs", progress)
    instances, motifs, unlabelled = _motif_instances(structures, fits.contributions)
    atoms_table = _atom_table(structures, fits.contributions)
    atoms_table["contribution_std"] = np.concatenate(fits.contribution_stds)
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
    baseline = size_baseline(structures, y, seed, inputs.per_molecule)
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
        # σ of each cross-validated prediction against its error
        "uncertainty": {
            **coverage(y, fits.cross_validated, fits.cross_validated_std),
            "scale": float(fits.model.noise_std_),
            "calibrated_on": "each fold's training structures' leave-one-out errors "
            "(exact for a ridge); the coverage is of the held-out folds",
        },
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
                "cross_validated_std": fits.cross_validated_std,
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
    """The report section of one contributions run (also used by the demo).

    Parameters
    ----------
    summary : dict
        The run's ``summary.json``.
    folder : path-like
        The run's output folder.
    link_prefix : str
        The folder's path relative to the report page (e.g. ``"gap/"``).
    title : str
        The section's title.

    Returns
    -------
    ReportSection
        The section, for :func:`propmap.viz.write_report`.
    """
    from propmap.viz._report import ReportSection

    files = summary["files"]
    figures = [(folder / files["parity"], "Cross-validated predictions, with their σ.")]
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
            "within 1σ / 2σ (cross-validated)": _shares(summary.get("uncertainty")),
            "motif instances": summary["motif_instances"],
        },
        figures=figures,
        links=[(link_prefix + files["viewer"], "Open the atom-level viewer")],
    )


def _shares(uncertainty: dict | None) -> str:
    """The shares of errors within 1σ and 2σ, as the report shows them (a
    summary of an older run may have none)."""
    if not uncertainty:
        return "not computed"
    return (
        f"{uncertainty['coverage_1sigma']:.0%} / {uncertainty['coverage_2sigma']:.0%}"
        " (a normal distribution's: 68% / 95%)"
    )


def _write_report(out: Path, summary: dict, title: str | None) -> None:
    from propmap.viz._report import write_report

    heading = title or f"Contributions to {summary['target']}"
    write_report(
        out / CONTRIBUTION_FILES["report"],
        f"propmap: {heading}",
        [contributions_section(summary, out, "", heading)],
    )


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


def _atom_map(fits: AdditiveFits, structures, atom_values) -> np.ndarray:
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
        parity_plot(
            y,
            fits.cross_validated,
            label=target,
            groups=groups,
            y_std=fits.cross_validated_std,
        ),
        files["parity"],
    )
    dataset = chemiscope_dataset(
        structures,
        properties={
            target: y,
            f"{target} (cross-validated)": fits.cross_validated,
            f"{target} σ (cross-validated)": fits.cross_validated_std,
        },
        atom_properties={
            "contribution": atoms["contribution"].to_numpy(),
            "contribution σ": atoms["contribution_std"].to_numpy(),
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
