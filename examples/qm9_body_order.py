"""Body orders 3 and 4 of QM9's carbon environments: GFRE and GFRD
===============================================================

What the bispectrum knows that the power spectrum does not: global feature
reconstruction error (GFRE) and distortion (GFRD) between body orders 3 and 4 on
QM9's atomic environments.

For the carbon atoms of QM9 molecules, the power spectrum (body order 3, ν = 2) and the
bispectrum (body order 4, ν = 3) are computed with
:class:`propmap.atomistic.DensityCorrelationFeaturizer` on the same density. The
GFRE of X → Y (Goscinski et al., Mach. Learn.: Sci. Technol. 2, 025028, 2021) is
the test-set error of the best linear (ridge, 2-fold cross-validated)
reconstruction of Y's standardised features from X's: 0 means X holds all of Y,
1 nothing of it; the GFRD is how far from an orthogonal map that reconstruction
is. Both directions are measured, with train and test atoms from different
molecules, and the same for the SOAP power spectrum as a check (it is the body
order 3 features up to how same-species pairs are stored: GFRE ≈ 0 both ways).

The bispectrum has far more columns (8,640 here) than there are atoms, so each
feature set is first written in the coordinates of its own rows' span (X → U S
of its thin SVD: the same distances and inner products, so the same GFRE; the
GFRD's orthogonal map then needs an SVD of the span's size, not of 8,640²). The
orthogonal map is not unique on directions no training atom spans; there the
GFRD, as scikit-matter's, rests on LAPACK's choice.

What it shows (``qm9_body_order.json``, the carbon atoms of 500 molecules, 1,437
for training and 1,404 from other molecules for testing): the bispectrum
reconstructs the power spectrum almost entirely (GFRE 0.021), the power spectrum
leaves 13 % of the bispectrum unexplained (GFRE 0.132): body order 4 carries
information that body order 3 lacks, and not the other way round. The two power
spectra reconstruct each other to 0.015 (the same linear kernel; the residue is
the cross-validated ridge's truncation). The distortions (0.17 and 0.21) say
neither map is close to a rotation. About 75 s and 7.6 GB here.

Run it with ``python examples/qm9_body_order.py [--out DIR] [--molecules N]``;
it writes ``qm9_body_order.png`` and ``qm9_body_order.json`` to DIR (default
``out``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

from propmap.viz import save_figure

FIGURE_NAME = "qm9_body_order.png"
SUMMARY_NAME = "qm9_body_order.json"
DENSITY = {"cutoff": 3.5, "max_radial": 2, "max_angular": 2}


def features(molecules, centre: int = 6):
    """Power spectrum, bispectrum and SOAP of the molecules' ``centre`` atoms
    (carbon), and the molecule of each."""
    from propmap.atomistic import DensityCorrelationFeaturizer, SoapFeaturizer

    rows = np.concatenate([m.numbers for m in molecules]) == centre
    made = {}
    for name, featurizer in (
        (
            "power spectrum (ν = 2)",
            DensityCorrelationFeaturizer(body_order=3, **DENSITY),
        ),
        ("bispectrum (ν = 3)", DensityCorrelationFeaturizer(body_order=4, **DENSITY)),
        ("SOAP power spectrum", SoapFeaturizer(**DENSITY)),
    ):
        featurizer.set_params(per="atom")
        start = time.perf_counter()
        X = featurizer.fit_transform(molecules)
        X = X[rows]
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        # columns that are zero for every atom (the other centres' blocks, pairs
        # of absent species) carry nothing and are left out
        made[name] = (X[:, np.any(X != 0, axis=0)], time.perf_counter() - start)
    return made, np.repeat(np.arange(len(molecules)), [len(m) for m in molecules])[rows]


def in_own_span(X: np.ndarray) -> np.ndarray:
    """X's rows in the orthonormal coordinates of their span (U S of the thin
    SVD, numerically zero directions dropped): an isometry of the rows."""
    left, singular, _ = np.linalg.svd(X, full_matrices=False)
    kept = singular > singular[0] * 1e-12
    return left[:, kept] * singular[kept]


def measure(made, groups, seed: int = 0) -> dict:
    from sklearn.model_selection import GroupShuffleSplit

    from propmap.metrics import (
        global_reconstruction_distortion,
        global_reconstruction_error,
    )

    split = GroupShuffleSplit(n_splits=1, test_size=0.5, random_state=seed)
    train, test = next(split.split(groups, groups=groups))
    names = list(made)
    pairs = [(a, b) for a in names for b in names if a != b]
    spans = {name: in_own_span(X) for name, (X, _) in made.items()}
    results = []
    for source, target in pairs:
        X, Y = spans[source], spans[target]
        start = time.perf_counter()
        gfre = global_reconstruction_error(X, Y, train_idx=train, test_idx=test)
        gfrd = global_reconstruction_distortion(X, Y, train_idx=train, test_idx=test)
        results.append(
            {
                "from": source,
                "to": target,
                "gfre": float(gfre),
                "gfrd": float(gfrd),
                "seconds": time.perf_counter() - start,
            }
        )
    return {"pairs": results, "n_train": int(train.size), "n_test": int(test.size)}


def draw(numbers) -> Figure:
    names = numbers["features"]
    gfre = np.full((len(names), len(names)), np.nan)
    gfrd = np.full_like(gfre, np.nan)
    for pair in numbers["pairs"]:
        i, j = names.index(pair["from"]), names.index(pair["to"])
        gfre[i, j], gfrd[i, j] = pair["gfre"], pair["gfrd"]
    figure = Figure(figsize=(11, 4.4), constrained_layout=True)
    for ax, matrix, title in zip(
        figure.subplots(1, 2), (gfre, gfrd), ("GFRE", "GFRD"), strict=True
    ):
        image = ax.imshow(
            matrix, cmap="magma_r", vmin=0, vmax=max(np.nanmax(matrix), 1e-3)
        )
        for i in range(len(names)):
            for j in range(len(names)):
                if i != j:
                    dark = matrix[i, j] > 0.6 * np.nanmax(matrix)
                    ax.text(
                        j, i, f"{matrix[i, j]:.3f}", ha="center", va="center",
                        color="w" if dark else "k",
                    )  # fmt: skip
        ax.set_xticks(
            range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=8
        )
        ax.set_yticks(
            range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=8
        )
        ax.set_xlabel("reconstructed (Y)")
        ax.set_ylabel("from (X)")
        ax.set_title(f"{title}(X → Y), C atoms of held-out molecules", fontsize=10)
        figure.colorbar(image, ax=ax, shrink=0.8)
    return figure


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--molecules", type=int, default=500)
    args = parser.parse_args(argv)
    if not 10 <= args.molecules <= 2_000:
        parser.error("--molecules must be between 10 and 2000")
    from propmap.datasets import load_qm9

    molecules = load_qm9(args.molecules)
    made, groups = features(molecules)
    numbers = measure(made, groups)
    numbers["features"] = list(made)
    numbers["widths"] = {name: int(X.shape[1]) for name, (X, _) in made.items()}
    numbers["featurise_seconds"] = {name: t for name, (_, t) in made.items()}
    numbers["molecules"] = args.molecules
    numbers["atoms"] = int(groups.size)
    args.out.mkdir(parents=True, exist_ok=True)
    figure = draw(numbers)
    save_figure(figure, args.out / FIGURE_NAME, dpi=130)
    (args.out / SUMMARY_NAME).write_text(json.dumps(numbers, indent=2) + "\n")
    for pair in numbers["pairs"]:
        print(
            f"{pair['from']} -> {pair['to']}: GFRE {pair['gfre']:.3f}, "
            f"GFRD {pair['gfrd']:.3f}"
        )
    print(f"wrote {args.out / FIGURE_NAME} and {args.out / SUMMARY_NAME}")
    return 0


if __name__ == "__main__":
    main()
