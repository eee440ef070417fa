"""What binds the S22 dimers, motif by motif
=========================================

Which functional groups hold the S22 dimers together?

The S22 set has 22 non-covalently bound dimers (hydrogen-bonded, dispersion-bound
and mixed) with accurate CCSD(T) interaction energies. This script:

1. describes every atom of each dimer by its *remnant* SOAP environment: its
   environment in the dimer minus its environment in its own isolated monomer,
   which keeps only what the other molecule changes;
2. fits an additive model, interaction energy = sum of per-atom contributions,
   on those features (ridge, penalty by cross-validation), and reports the
   leave-one-out predictions;
3. labels the atoms with functional-group motifs (SMARTS, RDKit bond perception
   from the 3-D coordinates) and sums the atom contributions of every motif
   instance;
4. plots the leave-one-out parity and the contributions by motif, and writes the
   tables.

Run it with ``python examples/s22_motif_contributions.py [--out DIR]``; it writes
``s22_motif_contributions.png``, ``s22_motif_instances.csv``,
``s22_motif_summary.csv`` and ``s22_motif_contributions.json`` to DIR (default
``out``). It needs ``pip install "propmap[atomistic,viz]"``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import LeaveOneOut

from propmap.atomistic import (
    AdditiveModel,
    RemnantFeaturizer,
    SoapFeaturizer,
    label_motifs,
    motif_contributions,
    summarize_motifs,
)
from propmap.datasets import load_s22
from propmap.viz import save_figure

FIGURE_NAME = "s22_motif_contributions.png"
INSTANCES_NAME = "s22_motif_instances.csv"
SUMMARY_NAME = "s22_motif_summary.csv"
NUMBERS_NAME = "s22_motif_contributions.json"
ALPHAS = np.logspace(-6, 2, 17)


def make_model() -> AdditiveModel:
    """Remnant SOAP features, summed per dimer, ridge with a cross-validated
    penalty; no per-element baseline (the interaction energy of two far-apart
    monomers is zero, and so are their remnant features)."""
    soap = SoapFeaturizer(cutoff=4.5, max_radial=3, max_angular=3)
    return AdditiveModel(
        RemnantFeaturizer(soap),
        regressor=RidgeCV(alphas=ALPHAS),
        composition=False,
    )


def leave_one_out(dimers, energies) -> np.ndarray:
    """Each dimer's interaction energy predicted by a model fitted without it."""
    predictions = np.empty(len(dimers))
    for train, test in LeaveOneOut().split(dimers):
        model = make_model().fit([dimers[i] for i in train], energies[train])
        predictions[test] = model.predict([dimers[i] for i in test])
    return predictions


def make_figure(energies, loo, summary, instances):
    figure, (parity, motifs) = plt.subplots(
        1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    parity.scatter(energies, loo, s=30, edgecolors="k", linewidths=0.4)
    limits = [min(energies.min(), loo.min()) - 1, max(energies.max(), loo.max()) + 1]
    parity.plot(limits, limits, color="0.6", lw=1, zorder=0)
    parity.set(
        xlim=limits,
        ylim=limits,
        xlabel="CCSD(T) interaction energy (kcal/mol)",
        ylabel="leave-one-out prediction (kcal/mol)",
        title=f"(a) additive remnant model, R² = {r2_score(energies, loo):.2f}",
    )
    order = summary.sort_values("mean").index
    for row, name in enumerate(order):
        values = instances.loc[instances["motif"] == name, "contribution"]
        motifs.scatter(
            values, np.full(values.size, row), s=14, alpha=0.6, color="tab:blue"
        )
        motifs.plot(summary.loc[name, "mean"], row, "k|", markersize=14)
    motifs.axvline(0.0, color="0.6", lw=1, zorder=0)
    motifs.set_yticks(
        range(len(order)), [f"{n} ({summary.loc[n, 'count']})" for n in order]
    )
    motifs.set(
        xlabel="contribution to the interaction energy (kcal/mol)",
        title="(b) contributions of motif instances (| = mean)",
    )
    figure.tight_layout()
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder")
    args = parser.parse_args(argv)

    s22 = load_s22()
    dimers, energies = s22.dimers, s22.interaction_energies
    model = make_model().fit(dimers, energies)
    contributions = model.atom_contributions(dimers)
    loo = leave_one_out(dimers, energies)

    instances = motif_contributions(label_motifs(dimers), contributions)
    instances.insert(1, "dimer", [s22.names[i] for i in instances["structure"]])
    summary = summarize_motifs(instances)
    numbers = {
        "n_dimers": len(dimers),
        "r2_train": r2_score(energies, model.predict(dimers)),
        "r2_leave_one_out": r2_score(energies, loo),
        "mae_leave_one_out_kcal_mol": mean_absolute_error(energies, loo),
        "ridge_alpha": float(model.regressor_.alpha_),
        "n_motif_instances": len(instances),
        "motifs": {
            name: {"count": int(row["count"]), "mean_kcal_mol": float(row["mean"])}
            for name, row in summary.iterrows()
        },
    }

    args.out.mkdir(parents=True, exist_ok=True)
    figure = make_figure(energies, loo, summary, instances)
    save_figure(figure, args.out / FIGURE_NAME, dpi=130)
    plt.close(figure)
    instances.to_csv(args.out / INSTANCES_NAME, index=False)
    summary.to_csv(args.out / SUMMARY_NAME)
    (args.out / NUMBERS_NAME).write_text(json.dumps(numbers, indent=2) + "\n")
    print(
        f"leave-one-out R² {numbers['r2_leave_one_out']:.2f}, MAE "
        f"{numbers['mae_leave_one_out_kcal_mol']:.2f} kcal/mol; "
        f"{len(instances)} motif instances of {len(summary)} motifs"
    )
    written = ", ".join([FIGURE_NAME, INSTANCES_NAME, SUMMARY_NAME, NUMBERS_NAME])
    print(f"wrote {written} to {args.out}")
    return 0


if __name__ == "__main__":
    main()
