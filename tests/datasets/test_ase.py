"""The G2 and S22 datasets, loaded from the tables shipped with ase."""

import numpy as np
import pytest

pytest.importorskip("ase")

from ase.build import molecule
from ase.data import g2, s22
from ase.units import kcal, mol

from propmap.atomistic._io import structure_targets
from propmap.datasets import load_g2, load_s22


def test_g2_holds_every_molecule_of_ase_with_its_enthalpy():
    molecules, enthalpies = load_g2()

    assert len(molecules) == len(g2.molecule_names) == 148
    assert [m.info["name"] for m in molecules] == g2.molecule_names
    assert {m.info["database"] for m in molecules} == {"G2-1", "G2-2"}
    np.testing.assert_array_equal(
        enthalpies, structure_targets(molecules, "enthalpy_of_formation")
    )
    np.testing.assert_allclose(
        structure_targets(molecules, "enthalpy_of_formation_eV"),
        enthalpies * kcal / mol,
    )


@pytest.mark.parametrize(
    ("name", "kcal_per_mol"), [("CH4", -17.9), ("H2O", -57.8), ("C6H6", 19.7)]
)
def test_g2_enthalpies_and_geometries_are_ase_s(name, kcal_per_mol):
    molecules, enthalpies = load_g2()
    position = g2.molecule_names.index(name)

    assert enthalpies[position] == g2.data[name]["enthalpy"] == kcal_per_mol
    reference = molecule(name)
    assert molecules[position].get_chemical_symbols() == (
        reference.get_chemical_symbols()
    )
    np.testing.assert_allclose(molecules[position].positions, reference.positions)


def test_g2_open_shell_molecules_carry_magnetic_moments():
    molecules, _ = load_g2()
    by_name = {m.info["name"]: m for m in molecules}

    assert sum(m.has("initial_magmoms") for m in molecules) == 30
    assert by_name["O2"].get_initial_magnetic_moments().sum() == pytest.approx(2.0)
    assert not by_name["CH4"].has("initial_magmoms")


def test_s22_dimers_monomers_and_energies_match_ase():
    data = load_s22()

    assert data.names == s22.s22
    assert len(data.dimers) == len(data.monomers_a) == len(data.monomers_b) == 22
    expected = [s22.get_interaction_energy_s22(name) for name in s22.s22]
    np.testing.assert_array_equal(data.interaction_energies_eV, expected)
    np.testing.assert_allclose(
        data.interaction_energies, np.array(expected) / (kcal / mol)
    )
    # the water dimer: -0.2177 eV in ase, -5.02 kcal/mol
    water = data.names.index("Water_dimer")
    assert data.interaction_energies[water] == pytest.approx(-5.02, abs=0.005)
    for name, dimer, a, b in zip(
        data.names, data.dimers, data.monomers_a, data.monomers_b, strict=True
    ):
        assert dimer.info["name"] == name
        assert dimer.info["interaction_energy"] == pytest.approx(
            dimer.info["interaction_energy_eV"] / (kcal / mol)
        )
        assert (len(a), len(b)) == tuple(s22.get_number_of_dimer_atoms(name))
        joined = np.concatenate([a.positions, b.positions])
        np.testing.assert_array_equal(joined, dimer.positions)
        assert a.get_chemical_symbols() + b.get_chemical_symbols() == (
            dimer.get_chemical_symbols()
        )
        np.testing.assert_array_equal(
            np.concatenate([a.info["parent_indices"], b.info["parent_indices"]]),
            np.arange(len(dimer)),
        )
        assert (a.info["name"], b.info["dimer"]) == (f"{name}/A", name)
    assert np.all(data.interaction_energies < 0)
