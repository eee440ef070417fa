"""Lattice energies of molecular crystals, atom by atom and motif by motif
=======================================================================

What holds organic molecular crystals together, atom by atom and motif by motif?

The single-component C/H/N/O crystals of pyxtal's CSD databases come with
GFN1-xTB lattice energies computed by propmap (``load_molecular_crystals``). This
script does what a user with their own crystals would do, through files:

1. writes each crystal as a CIF file, its relaxed gas-phase molecule as an XYZ
   file, and a CSV table of lattice energies keyed by file name;
2. runs ``propmap contributions`` on them (the same as
   ``propmap contributions crystals/ --targets lattice_energies.csv
   -t lattice_energy --molecules gas/ --per-molecule``): remnant SOAP features
   (each atom's environment in the crystal minus in its gas-phase molecule), an
   additive ridge model of the lattice energy per molecule, 5-fold
   cross-validated predictions, per-atom and per-motif contributions, a PCovR map
   of the atoms' remnant environments in the atom-level viewer;
3. prints the cross-validated accuracy (against GFN1-xTB, the method the energies
   come from) beside that of the molecules' size alone and GFN1-xTB's own error
   against diffusion Monte Carlo where there is a reference, the motif table, and, for
   two crystals, which of their atoms' environments are most and least alike
   (the co-former screening question).

Run it with ``python examples/molecular_crystal_lattice_energies.py [--out DIR]``
(``--codes A B ...`` for some crystals only); it writes the contributions run to
DIR/molecular_crystals/, and ``molecular_crystal_lattice_energies.png``,
``molecular_crystal_lattice_energies.json`` and ``molecular_crystal_motifs.csv``
to DIR (default ``out``). It needs
``pip install "propmap[atomistic,crystals,viz]"``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from propmap.datasets import load_molecular_crystals
from propmap.viz import save_figure
from propmap.workflows import compare_environments, explain_contributions

FIGURE_NAME = "molecular_crystal_lattice_energies.png"
NUMBERS_NAME = "molecular_crystal_lattice_energies.json"
MOTIFS_NAME = "molecular_crystal_motifs.csv"
# diffusion Monte Carlo lattice energies (kJ/mol) of crystals of the set (X23:
# A. Zen et al., "Fast and accurate quantum Monte Carlo for molecular crystals",
# PNAS 115, 1724 (2018)): how far GFN1-xTB itself is from the truth
DMC = {"BENZEN": -50.0, "ADAMAN01": -61.0, "FORMAM": -81.0}
# aspirin's two polymorphs, and aspirin against benzene
PAIRS = [("ACSALA", "ACSALA13"), ("ACSALA", "BENZEN")]


def make_figure(folder: Path, motifs: pd.DataFrame):
    """(a) cross-validated lattice energies, additive model and size alone; (b)
    the contributions of every motif instance."""
    predictions = pd.read_csv(folder / "predictions.csv")
    instances = pd.read_csv(folder / "motif_instances.csv")
    figure, (parity, ranges) = plt.subplots(
        1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [1, 1.3]}
    )
    truth = predictions["lattice_energy"]
    for column, label, colour in (
        ("size_baseline", "element counts alone", "0.65"),
        ("cross_validated", "additive remnant model", "tab:blue"),
    ):
        parity.scatter(
            truth,
            predictions[column],
            s=24,
            label=label,
            color=colour,
            lw=0.3,
            edgecolors="k",
        )
    limits = [truth.min() - 10, truth.max() + 10]
    parity.plot(limits, limits, color="0.6", lw=1, zorder=0)
    parity.set(
        xlim=limits,
        ylim=limits,
        xlabel="GFN1-xTB lattice energy (kJ/mol)",
        ylabel="5-fold cross-validated prediction (kJ/mol)",
        title="(a) lattice energies per molecule",
    )
    parity.legend(loc="upper left")
    order = motifs.index
    for row, name in enumerate(order):
        values = instances.loc[instances["motif"] == name, "contribution"]
        ranges.scatter(values, np.full(values.size, row), s=10, alpha=0.5)
        ranges.plot(motifs.loc[name, "mean"], row, "k|", markersize=14)
    ranges.axvline(0.0, color="0.6", lw=1, zorder=0)
    ranges.set_yticks(
        range(len(order)), [f"{n} ({motifs.loc[n, 'count']})" for n in order]
    )
    ranges.set(
        xlabel="contribution to the lattice energy of its molecule (kJ/mol)",
        title="(b) motif instances (| = mean)",
    )
    figure.tight_layout()
    return figure


def motif_table(folder: Path) -> pd.DataFrame:
    """Per motif: instances and the range of their contributions (kJ/mol per
    molecule)."""
    summary = pd.read_csv(folder / "motif_summary.csv", index_col=0)
    return summary.sort_values("mean")[["count", "mean", "std", "min", "max"]]


def comparisons(folder: Path) -> dict:
    """For each pair of PAIRS present, the most alike and most unlike atomic
    environments."""
    atoms = pd.read_csv(folder / "atom_contributions.csv")
    names = (
        atoms.groupby("structure")["source"]
        .first()
        .map(lambda s: Path(s.rsplit(":", 1)[0]).stem)
    )
    index = {name: structure for structure, name in names.items()}
    result = {}
    for one, other in PAIRS:
        if one in index and other in index:
            like, unlike = compare_environments(atoms, index[one], index[other], n=3)
            result[f"{one} vs {other}"] = {
                "most_like": like.to_dict("records"),
                "most_unlike": unlike.to_dict("records"),
            }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder")
    parser.add_argument("--codes", nargs="*", help="CSD codes (default: all)")
    args = parser.parse_args(argv)

    data = load_molecular_crystals(args.codes)
    files = data.write(args.out / "molecular_crystal_files")
    folder = args.out / "molecular_crystals"
    summary = explain_contributions(
        [files["crystals"]],
        "lattice_energy",
        folder,
        molecules=files["gas"],
        targets=files["targets"],
        per_molecule=True,
        force=True,
        title="Lattice energies of molecular crystals (GFN1-xTB)",
    )
    motifs = motif_table(folder)
    numbers = {
        "n_crystals": summary["structures"],
        "n_atoms": summary["atoms"],
        "r2_cross_validated": summary["r2_cross_validated"],
        "mae_cross_validated_kJ_mol": summary["mae_cross_validated"],
        "r2_size_baseline": summary["r2_size_baseline"],
        "mae_size_baseline_kJ_mol": summary["mae_size_baseline"],
        "lattice_energy_std_kJ_mol": float(np.std(data.lattice_energies)),
        "ridge_alpha": summary["ridge_alpha"],
        "comparisons": comparisons(folder),
        "gfn1_against_dmc_kJ_mol": {
            code: {"gfn1": float(energy), "dmc": DMC[code]}
            for code, energy in zip(data.codes, data.lattice_energies, strict=True)
            if code in DMC
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    figure = make_figure(folder, motifs)
    save_figure(figure, args.out / FIGURE_NAME, dpi=130)
    plt.close(figure)
    motifs.to_csv(args.out / MOTIFS_NAME)
    (args.out / NUMBERS_NAME).write_text(
        json.dumps(numbers, indent=2, default=str) + "\n"
    )
    print(
        f"{summary['structures']} crystals: cross-validated R² "
        f"{summary['r2_cross_validated']:.2f}, MAE "
        f"{summary['mae_cross_validated']:.1f} kJ/mol against GFN1-xTB (size "
        f"alone: R² {summary['r2_size_baseline']:.2f}, MAE "
        f"{summary['mae_size_baseline']:.1f} kJ/mol)"
    )
    against = numbers["gfn1_against_dmc_kJ_mol"]
    if against:
        errors = [abs(v["gfn1"] - v["dmc"]) for v in against.values()]
        print(
            f"GFN1-xTB itself against diffusion Monte Carlo on {len(errors)} of "
            f"them: MAE {np.mean(errors):.1f} kJ/mol"
        )
    print("contributions of motifs (kJ/mol per molecule):")
    print(motifs.round(1).to_string())
    for pair, found in numbers["comparisons"].items():
        like, unlike = found["most_like"][0], found["most_unlike"][0]
        print(
            f"{pair}: most alike {like['element']}{like['atom']} ({like['motif']}) ~ "
            f"{like['element']}{like['nearest']} ({like['nearest_motif']}); most "
            f"unlike {unlike['element']}{unlike['atom']} ({unlike['motif']})"
        )
    written = ", ".join([FIGURE_NAME, MOTIFS_NAME, NUMBERS_NAME])
    print(f"wrote {folder}/, {written} to {args.out}")
    return 0


if __name__ == "__main__":
    main()
