"""Make the QM9 subset shipped in propmap (src/propmap/datasets/data/).

It draws 2,000 of the 130,831 molecules of the ``qm9pack`` package's tables (MIT
licence; ``pip install qm9pack``) without replacement, with seed 2014, and writes
them as gzipped extended XYZ with the info keys and units of
:func:`propmap.datasets.load_qm9`.

    python scripts/make_qm9_subset.py            # qm9pack installed
    python scripts/make_qm9_subset.py --data DIR # a folder with qm9_part{1,2,3}.csv
"""

from __future__ import annotations

import argparse
import gzip
import io
from pathlib import Path

import ase.io
import numpy as np

from propmap._files import write_atomically
from propmap.datasets._qm9 import (
    QM9_SIZE,
    QM9_SUBSET_SIZE,
    molecules_from_table,
    qm9pack_table,
    subset_path,
)

SEED = 2014


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder of qm9pack's CSV files")
    parser.add_argument("--out", type=Path, default=subset_path())
    arguments = parser.parse_args()
    table = qm9pack_table(arguments.data)
    if len(table) != QM9_SIZE:
        raise SystemExit(f"expected {QM9_SIZE} molecules, found {len(table)}")
    rows = np.random.default_rng(SEED).choice(
        len(table), QM9_SUBSET_SIZE, replace=False
    )
    molecules = molecules_from_table(table.iloc[np.sort(rows)])
    text = io.StringIO()
    ase.io.write(text, molecules, format="extxyz")
    # mtime=0: the same molecules give the same bytes
    payload = gzip.compress(text.getvalue().encode("utf-8"), 9, mtime=0)
    write_atomically(arguments.out, lambda stream: stream.write(payload), "wb")
    print(f"wrote {len(molecules)} molecules to {arguments.out} ({len(payload):,} B)")


if __name__ == "__main__":
    main()
