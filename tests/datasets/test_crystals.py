"""Molecular crystals: pyxtal's structures with propmap's GFN1-xTB lattice energies."""

import numpy as np
import pytest

pytest.importorskip("ase")
pytest.importorskip("rdkit")
pytest.importorskip("pyxtal")

from propmap.atomistic import find_molecules
from propmap.atomistic._molecules import superpose
from propmap.datasets import (
    CrystalMismatchWarning,
    _crystals,
    load_molecular_crystals,
    load_molecular_crystals_dataset,
)
from propmap.datasets._crystals import (
    SUPERCELL_WIDTH,
    crystal_candidates,
    read_energy_table,
    read_gas_molecules,
    shortest_contact,
    supercell_repeats,
)

# small, well known crystals: hydrogen-bonded, aromatic, aliphatic
HANDFUL = ["BENZEN", "FORMAM", "UREAXX02", "ADAMAN01", "NAPHTA15", "ACSALA"]


@pytest.fixture(scope="module")
def handful():
    return load_molecular_crystals(HANDFUL)


@pytest.fixture(scope="module")
def candidates():
    return {c.csd_code: c for c in crystal_candidates()}


def test_the_shipped_table_covers_every_crystal_that_is_in_the_dataset(candidates):
    table = read_energy_table()
    wanted = {code for code, c in candidates.items() if not c.excluded}
    assert set(table) == wanted
    assert len(table) >= 50
    molecules = read_gas_molecules()
    assert set(molecules) == wanted
    for code, row in table.items():
        assert len(molecules[code]) == row["n_molecules"], code
        # bound crystals, at Γ of supercells at least 10 Å wide
        assert -250 < row["lattice_energy"] < -10, code
        assert row["shortest_contact"] > 1.5, code
        cell = candidates[code].atoms
        repeats = tuple(int(r) for r in row["supercell"].split("x"))
        assert repeats == supercell_repeats(cell)
        assert row["supercell_atoms"] == len(cell) * np.prod(repeats)


def test_crystals_are_left_out_for_a_reason(candidates):
    reasons = {code: c.excluded for code, c in candidates.items()}
    assert "several components" in reasons["XAFQAZ"]  # a co-crystal
    assert "elements" in reasons["MERQUY"]  # sulfur
    assert "atoms missing" in reasons["DBZCOR"]  # no hydrogens in the structure
    assert "network" in reasons["TEPHTH16"]  # disordered acid hydrogens
    assert reasons["BENZEN"] == reasons["FORMAM"] == ""


def test_supercells_are_at_least_ten_angstrom_wide(candidates):
    for code in HANDFUL:
        cell = candidates[code].atoms
        supercell = cell.repeat(supercell_repeats(cell))
        volume = supercell.cell.volume
        widths = [
            volume
            / np.linalg.norm(np.cross(supercell.cell[i - 2], supercell.cell[i - 1]))
            for i in range(3)
        ]
        assert min(widths) >= SUPERCELL_WIDTH
        # and no wider than needed along any direction
        fewer = [
            volume
            / np.linalg.norm(np.cross(supercell.cell[i - 2], supercell.cell[i - 1]))
            * (r - 1)
            / r
            for i, r in enumerate(supercell_repeats(cell))
        ]
        assert max(fewer) < SUPERCELL_WIDTH


def test_loaded_crystals_hold_the_relaxed_molecules_in_pyxtal_places(
    handful, candidates
):
    assert handful.codes == HANDFUL
    table = read_energy_table()
    np.testing.assert_allclose(
        handful.lattice_energies, [table[c]["lattice_energy"] for c in HANDFUL]
    )
    for code, crystal, molecules in zip(
        handful.codes, handful.crystals, handful.molecules, strict=True
    ):
        original = candidates[code].atoms
        assert crystal.info["csd_code"] == code
        assert crystal.info["lattice_energy"] == table[code]["lattice_energy"]
        assert crystal.get_chemical_formula() == original.get_chemical_formula()
        np.testing.assert_allclose(crystal.cell.array, original.cell.array)
        groups = find_molecules(crystal)
        assert len(groups) == len(molecules) == crystal.info["n_molecules"]
        for indices, molecule in zip(groups, molecules, strict=True):
            assert not molecule.pbc.any()
            assert list(molecule.numbers) == list(crystal.numbers[indices])
            # the crystal's molecule is the gas-phase one, moved rigidly
            from propmap.atomistic import extract_molecule

            placed = extract_molecule(crystal, indices).positions
            assert superpose(molecule.positions, placed, reflection=True)[1] < 1e-6
            # and sits where pyxtal's molecule is (X-ray hydrogens 0.1-0.2 Å
            # off), up to a lattice vector (the atoms are wrapped into the cell)
            where = extract_molecule(original, indices).positions
            shift = crystal.cell.scaled_positions(placed.mean(0) - where.mean(0))
            shift = (shift - np.round(shift)) @ crystal.cell.array
            assert np.abs(shift).max() < 0.05
        assert shortest_contact(crystal) > 1.5


def test_lattice_energies_of_well_known_crystals(handful):
    energies = dict(zip(handful.codes, handful.lattice_energies, strict=True))
    # GFN1-xTB, rigid molecules; DMC references (X23): benzene −50, formamide
    # −81, urea −103, adamantane −61, naphthalene −79 kJ/mol
    assert -50 < energies["BENZEN"] < -35
    assert -80 < energies["FORMAM"] < -60
    assert -110 < energies["UREAXX02"] < -80
    assert -70 < energies["ADAMAN01"] < -50
    assert -75 < energies["NAPHTA15"] < -55
    assert energies["NAPHTA15"] < energies["BENZEN"]  # bigger: more bound


def test_bunch(handful):
    data = load_molecular_crystals_dataset(HANDFUL[:2])
    assert data.target_names == ["lattice_energy"]
    np.testing.assert_allclose(data.target, handful.lattice_energies[:2])
    assert list(data.frame["csd_code"]) == HANDFUL[:2]
    assert "pyxtal" in data.DESCR
    assert len(data.structures) == len(data.molecules) == 2


def test_unknown_codes_are_named():
    with pytest.raises(KeyError, match="NOSUCH"):
        load_molecular_crystals(["BENZEN", "NOSUCH"])


def test_missing_pyxtal_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_crystals.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"propmap\[crystals\]"):
        load_molecular_crystals(["BENZEN"])


def test_a_structure_that_differs_from_the_computed_one_is_left_out(monkeypatch):
    table = read_energy_table()
    table["FORMAM"] = dict(table["FORMAM"], n_atoms=table["FORMAM"]["n_atoms"] + 1)
    monkeypatch.setattr(_crystals, "read_energy_table", lambda: table)
    with pytest.warns(CrystalMismatchWarning, match="FORMAM .*atoms"):
        data = load_molecular_crystals(["BENZEN", "FORMAM"])
    assert data.codes == ["BENZEN"]
    with (
        pytest.warns(CrystalMismatchWarning),
        pytest.raises(ValueError, match="none of the crystals"),
    ):
        load_molecular_crystals(["FORMAM"])
