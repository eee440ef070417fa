"""Atoms' and motifs' contributions to QM9's internal energy U0
============================================================

Per-atom and per-motif contributions to QM9's internal energy U0.

An additive model, U0 = per-element baseline + Σ over atoms of xᵢᵀw (xᵢ the
atom's SOAP environment, w a cross-validated ridge), is fitted on 80 % of the
QM9 molecules shipped with propmap and tested on the other 20 %. Each atom's
contribution xᵢᵀw, centred on the mean over its element's training atoms (the
mean moved into the element baseline: the same predictions), is what its
environment adds to, or takes from, an average atom of its element; a
functional group (SMARTS motifs, bonds perceived by RDKit from the coordinates)
contributes the sum of its atoms'. The script reports the test accuracy, the
contributions' spread per element, and the motif table: how many instances, the
mean contribution and its spread.

What it shows (``qm9_u0_contributions.json``, 2,000 molecules, 400 tested): test
MAE 0.095 eV (2.19 kcal/mol) against 1.80 eV for the element baselines alone
(train 0.039 eV). Spread of atom contributions: C 0.85 eV, N 0.72, O 0.60, H 0.25.
The motifs (``qm9_u0_motifs.csv``; mean ± spread, eV, beyond average atoms):
guanidine −2.09 ± 0.75 (4), urea −1.61 ± 0.59 (27), carbamate −0.80 ± 0.74,
alkene −0.60 ± 0.80, methyl −0.58 ± 0.37 (1,806) are the stabilising groups;
ketone +0.59 ± 0.35, nitrile +1.22 ± 0.24, oxime +1.55 ± 0.48, alkyne
+1.87 ± 0.29 (286) and nitro +2.93 ± 0.24 the destabilising ones. Wide spreads
(amides, amidines ≈ 1 eV) say a motif's environment matters as much as its
name. About 11 s here.

Run it with ``python examples/qm9_u0_contributions.py [--out DIR]
[--molecules N]``; it writes ``qm9_u0_contributions.png``,
``qm9_u0_motifs.csv`` and ``qm9_u0_contributions.json`` to DIR (default
``out``). It needs ``pip install "propmap[atomistic,viz]"``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

from propmap.viz import save_figure

FIGURE_NAME = "qm9_u0_contributions.png"
MOTIFS_NAME = "qm9_u0_motifs.csv"
SUMMARY_NAME = "qm9_u0_contributions.json"
SOAP = {"cutoff": 3.5, "max_radial": 3, "max_angular": 3}
EV_TO_KCAL = 23.060548


def fit(molecules, seed: int = 0):
    """The composition baseline and the additive model on the training
    molecules; the split."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import train_test_split

    from propmap.atomistic import (
        AdditiveModel,
        CompositionBaseline,
        SoapFeaturizer,
        structure_targets,
    )

    y = structure_targets(molecules, "U0")
    train, test = train_test_split(
        np.arange(len(molecules)), test_size=0.2, random_state=seed
    )
    training = [molecules[i] for i in train]
    baseline = CompositionBaseline().fit(training, y[train])
    residual = y - baseline.predict(molecules)
    model = AdditiveModel(
        SoapFeaturizer(**SOAP),
        regressor=RidgeCV(alphas=np.logspace(-8, 2, 21), fit_intercept=False),
        composition=False,
    ).fit(training, residual[train])
    return y, baseline, model, train, test


def element_gauge(molecules, contributions, baseline, train):
    """Atom contributions centred on their element's mean over the training
    atoms, the means moved into the per-element baseline: the same predictions,
    and a contribution now reads as what an environment adds to an average atom
    of its element (the baseline and the SOAP weights otherwise share the
    element offsets in whatever way the fit left them)."""
    numbers = np.concatenate([molecules[i].numbers for i in train])
    values = np.concatenate([contributions[i] for i in train])
    means = {int(z): float(values[numbers == z].mean()) for z in np.unique(numbers)}
    centred = [c - np.array([means.get(int(z), 0.0) for z in m.numbers])
               for c, m in zip(contributions, molecules, strict=True)]  # fmt: skip
    reference = baseline.predict(molecules) + np.array(
        [sum(means.get(int(z), 0.0) for z in m.numbers) for m in molecules]
    )
    return centred, reference


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--molecules", type=int, default=2_000)
    args = parser.parse_args(argv)
    if not 50 <= args.molecules <= 2_000:
        parser.error("--molecules must be between 50 and 2000")
    from ase.data import chemical_symbols

    from propmap.atomistic import label_motifs, motif_contributions, summarize_motifs
    from propmap.datasets import load_qm9
    from propmap.viz import motif_contributions as motif_figure

    molecules = load_qm9(args.molecules)
    y, baseline, model, train, test = fit(molecules)
    predicted = baseline.predict(molecules) + model.predict(molecules)
    contributions, reference = element_gauge(
        molecules, model.atom_contributions(molecules), baseline, train
    )

    def scores(rows, values):
        error = values[rows] - y[rows]
        return {
            "mae_ev": float(np.mean(np.abs(error))),
            "rmse_ev": float(np.sqrt(np.mean(error**2))),
            "mae_kcal_mol": float(np.mean(np.abs(error)) * EV_TO_KCAL),
        }

    accuracy = {
        "additive": {
            "train": scores(train, predicted),
            "test": scores(test, predicted),
        },
        "baseline_alone": {"test": scores(test, reference)},
    }
    numbers_of = np.concatenate([m.numbers for m in molecules])
    every = np.concatenate(contributions)
    elements = {
        chemical_symbols[z]: {
            "atoms": int(np.sum(numbers_of == z)),
            "mean_ev": float(every[numbers_of == z].mean()),
            "std_ev": float(every[numbers_of == z].std()),
            "min_ev": float(every[numbers_of == z].min()),
            "max_ev": float(every[numbers_of == z].max()),
        }
        for z in np.unique(numbers_of)
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        instances = label_motifs(molecules)
    unlabelled = sum("bond" in str(w.message).lower() for w in caught)
    instances = motif_contributions(instances, contributions)
    table = summarize_motifs(instances).sort_values("mean")
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / MOTIFS_NAME, float_format="%.4f")

    test_mae = accuracy["additive"]["test"]["mae_ev"]
    figure = motif_figure(
        instances,
        title=f"QM9 U0 beyond the element baselines, per motif (eV); additive model "
        f"test MAE {test_mae:.3f} eV ({test_mae * EV_TO_KCAL:.2f} kcal/mol)",
        max_motifs=25,
    )
    save_figure(figure, args.out / FIGURE_NAME, dpi=130)
    numbers = {
        "molecules": args.molecules,
        "n_train": int(train.size),
        "n_test": int(test.size),
        "ridge_alpha": float(model.regressor_.alpha_),
        "accuracy": accuracy,
        "elements": elements,
        "motifs": {
            name: {
                key: (None if not np.isfinite(v) else float(v))
                for key, v in row.items()
            }
            for name, row in table.to_dict(orient="index").items()
        },
        "molecules_without_motif_labels": unlabelled,
        "contributions_add_up": float(
            np.max(np.abs([c.sum() for c in contributions] - (predicted - reference)))
        ),
    }
    (args.out / SUMMARY_NAME).write_text(json.dumps(numbers, indent=2) + "\n")
    print(
        f"test MAE {test_mae:.3f} eV ({test_mae * EV_TO_KCAL:.2f} kcal/mol), baseline "
        f"alone {accuracy['baseline_alone']['test']['mae_ev']:.3f} eV; "
        f"{len(table)} motifs; wrote {args.out / FIGURE_NAME}, "
        f"{args.out / MOTIFS_NAME} and {args.out / SUMMARY_NAME}"
    )
    return 0


if __name__ == "__main__":
    main()
