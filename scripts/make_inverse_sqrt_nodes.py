"""Make the table of rational x^(-1/2) nodes shipped in propmap.

PCov-CUR applies C'^(-1/2) through ``Σ w_j / (x + t_j)`` (see
``propmap.selection._rational``). The nodes need elliptic functions with parameter
m → 1, which double precision cannot evaluate, so they are computed here once with
mpmath (``pip install mpmath``) for κ = 10^q, q = 0, 0.25, ..., 14.5, each with as
many nodes as a relative error of at most 1e-14 needs, and written to
``src/propmap/selection/data/inverse_sqrt_nodes.npz``:

    python scripts/make_inverse_sqrt_nodes.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from propmap._files import write_atomically
from propmap.selection._rational import (
    MAX_LOG10_KAPPA,
    RELATIVE_TOLERANCE,
    TABLE,
    compute_inverse_sqrt_nodes,
)

OUT = Path(__file__).parents[1] / "src" / "propmap" / "selection" / "data" / TABLE


def build_table() -> dict[str, np.ndarray]:
    """The table's arrays: one row per quarter decade of κ, padded with NaN."""
    exponents = np.arange(0.0, MAX_LOG10_KAPPA + 0.125, 0.25)
    rows = [compute_inverse_sqrt_nodes(q, RELATIVE_TOLERANCE) for q in exponents]
    width = max(poles.size for poles, _, _ in rows)
    poles = np.full((exponents.size, width), np.nan)
    weights = np.full((exponents.size, width), np.nan)
    for i, (t, w, _) in enumerate(rows):
        poles[i, : t.size] = t
        weights[i, : w.size] = w
    return {
        "log10_kappa": exponents,
        "counts": np.array([t.size for t, _, _ in rows]),
        "poles": poles,
        "weights": weights,
        "max_relative_error": np.array([error for _, _, error in rows]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    arguments = parser.parse_args()
    table = build_table()
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(arguments.out, lambda stream: np.savez(stream, **table), "wb")
    worst = table["max_relative_error"].max()
    print(
        f"wrote {arguments.out}: {table['counts'].size} intervals, "
        f"{table['counts'].min()}-{table['counts'].max()} nodes, "
        f"largest relative error {worst:.2e}"
    )


if __name__ == "__main__":
    main()
