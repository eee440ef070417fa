"""Compute the GFN1-xTB lattice energies that propmap ships (datasets/data/).

For every single-component C/H/N/O crystal of pyxtal's databases (see
``propmap.datasets._crystals.crystal_candidates``), with tblite's ase calculator:

- the crystal's energy per unit cell, at the Γ point of a supercell whose
  perpendicular widths are all at least 10 Å (tblite has no k-points);
- each molecule of the cell isolated at its crystal geometry (their mean energy);
- the gas-phase molecule relaxed from each symmetry-distinct molecule of the cell
  (distinct = different isolated energies), BFGS to 0.01 eV/Å; the lowest is kept.

Lattice energy = crystal energy / molecules in the cell − gas-phase energy (kJ/mol).

Resumable: each crystal's row is appended to the table (and its relaxed molecule to
the extended XYZ file) as soon as it is done; crystals already in the table are
skipped. Needs the ``crystals`` and ``xtb`` extras (pyxtal, tblite).

    OMP_NUM_THREADS=2 python scripts/compute_crystal_energies.py
    python scripts/compute_crystal_energies.py --only BENZEN ADAMAN01   # a few
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import ase.io
import numpy as np
from ase.optimize import BFGS

from propmap.atomistic import match_molecule, split_into_molecules
from propmap.datasets._crystals import (
    ENERGY_COLUMNS,
    EV_KJ_MOL,
    METHOD,
    crystal_candidates,
    energies_path,
    gas_molecules_path,
    read_energy_table,
    read_gas_molecules,
    rigid_crystal,
    shortest_contact,
    supercell_repeats,
)

FMAX = 0.01  # eV/Å
MAX_STEPS = 2000
# isolated molecules (at their crystal geometry) whose energies differ by less
# than this are symmetry copies of each other
DISTINCT = 1e-5  # eV


def calculator():
    from tblite.ase import TBLite

    return TBLite(method=METHOD, verbosity=0, max_iterations=500)


def energy(atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = calculator()
    return float(atoms.get_potential_energy())


def relax(molecule):
    molecule = molecule.copy()
    molecule.calc = calculator()
    optimizer = BFGS(molecule, logfile=None)
    converged = optimizer.run(fmax=FMAX, steps=MAX_STEPS)
    if not converged:
        raise RuntimeError(f"relaxation did not converge in {MAX_STEPS} steps")
    relaxed = molecule.copy()
    return relaxed, float(molecule.get_potential_energy()), optimizer.nsteps


def compute(candidate) -> tuple[dict, list]:
    start = time.perf_counter()
    atoms = candidate.atoms
    groups = candidate.molecules
    molecules = split_into_molecules(atoms)
    # symmetry copies have the same isolated energy: relax one of each kind and
    # give the copies its geometry, matched to their own atom order
    isolated = np.round(np.array([energy(m) for m in molecules]) / DISTINCT)
    kinds = {}
    steps = 0
    for value in np.unique(isolated):
        first = int(np.flatnonzero(isolated == value)[0])
        geometry, gas_energy, n_steps = relax(molecules[first])
        kinds[value] = (geometry, gas_energy)
        steps = max(steps, n_steps)
    relaxed, gas_energies = [], []
    for value, molecule in zip(isolated, molecules, strict=True):
        geometry, gas_energy = kinds[value]
        relaxed.append(match_molecule(geometry, molecule).copy())
        gas_energies.append(gas_energy)
    crystal = rigid_crystal(atoms, groups, relaxed)
    repeats = supercell_repeats(crystal)
    supercell = crystal.repeat(repeats)
    crystal_energy = energy(supercell) / np.prod(repeats)
    n_molecules = len(groups)
    gas_energies = np.array(gas_energies)
    gas_energy = float(gas_energies.min())
    row = {
        "csd_code": candidate.csd_code,
        "database": candidate.database,
        "formula": atoms.get_chemical_formula("hill"),
        "n_atoms": len(atoms),
        "n_molecules": n_molecules,
        "supercell": "x".join(str(r) for r in repeats),
        "supercell_atoms": len(supercell),
        "crystal_energy": crystal_energy,
        "gas_energy": gas_energy,
        "conformer_energy": (gas_energies.mean() - gas_energy) * EV_KJ_MOL,
        "lattice_energy": (crystal_energy / n_molecules - gas_energy) * EV_KJ_MOL,
        "shortest_contact": shortest_contact(crystal),
        "relaxation_steps": steps,
        "seconds": time.perf_counter() - start,
    }
    for number, (geometry, value) in enumerate(zip(relaxed, gas_energies, strict=True)):
        geometry.calc = None
        geometry.info = {
            "csd_code": candidate.csd_code,
            "molecule": number,
            "energy_eV": float(value),
        }
    return row, relaxed


def append_row(path: Path, row: dict) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as stream:
        if new:
            stream.write(
                f"# {METHOD} energies of pyxtal's C/H/N/O molecular crystals, "
                "made by scripts/compute_crystal_energies.py\n"
            )
            for name, meaning in ENERGY_COLUMNS.items():
                stream.write(f"# {name}: {meaning}\n")
        writer = csv.DictWriter(stream, fieldnames=list(ENERGY_COLUMNS))
        if new:
            writer.writeheader()
        writer.writerow(
            {
                key: f"{value:.8f}" if isinstance(value, float) else value
                for key, value in row.items()
            }
        )
        stream.flush()


def append_molecule(path: Path, molecule) -> None:
    text = io.StringIO()
    ase.io.write(text, molecule, format="extxyz")
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(text.getvalue())
        stream.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=energies_path())
    parser.add_argument("--molecules", type=Path, default=gas_molecules_path())
    parser.add_argument("--only", nargs="*", help="CSD codes to compute")
    arguments = parser.parse_args()
    done = read_energy_table(arguments.table) if arguments.table.exists() else {}
    # a molecule written without its row (stopped in between) is dropped
    molecules = read_gas_molecules(arguments.molecules)
    if set(molecules) - set(done):
        arguments.molecules.unlink()
        for code in done:
            for molecule in molecules[code]:
                append_molecule(arguments.molecules, molecule)
    candidates = [c for c in crystal_candidates() if not c.excluded]
    todo = [
        c
        for c in candidates
        if c.csd_code not in done
        and (not arguments.only or c.csd_code in arguments.only)
    ]
    todo.sort(key=lambda c: len(c.atoms) * np.prod(supercell_repeats(c.atoms)))
    print(f"{len(candidates)} crystals, {len(done)} done, {len(todo)} to compute")
    for number, candidate in enumerate(todo, 1):
        try:
            row, molecules = compute(candidate)
        except Exception as error:  # one crystal's failure must not stop the rest
            print(f"{candidate.csd_code}: failed: {error}", file=sys.stderr)
            continue
        for molecule in molecules:
            append_molecule(arguments.molecules, molecule)
        append_row(arguments.table, row)
        print(
            f"[{number}/{len(todo)}] {row['csd_code']}: lattice energy "
            f"{row['lattice_energy']:.1f} kJ/mol ({row['supercell_atoms']} atoms, "
            f"{row['seconds']:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
