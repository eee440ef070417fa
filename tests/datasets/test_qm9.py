"""The shipped QM9 subset and the qm9pack table parser."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ase")
import pandas as pd

from propmap.datasets import load_g2, load_qm9, load_s22
from propmap.datasets._qm9 import HARTREE_EV, molecules_from_table, subset_path

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def molecules():
    return load_qm9()


def test_the_subset_is_2000_qm9_molecules(molecules):
    assert len(molecules) == 2000
    indices = [m.info["qm9_index"] for m in molecules]
    assert indices == sorted(indices)
    assert len(set(indices)) == 2000
    assert min(indices) >= 1
    assert max(indices) <= 133_885
    elements = {s for m in molecules for s in m.get_chemical_symbols()}
    assert elements == set("HCNOF")
    assert max(sum(s != "H" for s in m.get_chemical_symbols()) for m in molecules) == 9
    assert subset_path().stat().st_size <= 2 * 2**20


def test_the_subset_has_properties_in_the_documented_units(molecules):
    for molecule in molecules:
        info = molecule.info
        assert {"U0", "gap", "homo", "lumo", "dipole_moment", "smiles"} <= set(info)
        # gap = lumo - homo in eV, each rounded to 1e-4 hartree in the table
        assert info["gap"] == pytest.approx(info["lumo"] - info["homo"], abs=6e-3)
        assert 0.5 < info["gap"] < 20
        assert info["dipole_moment"] >= 0
        charges = molecule.arrays["mulliken_charges"]
        assert charges.shape == (len(molecule),)
        assert abs(charges.sum()) < 1e-3  # neutral molecules
    # U0 in eV: about -1,000 eV per heavy atom (carbon: -37.8 hartree)
    energies = np.array([m.info["U0"] for m in molecules])
    heavy = np.array([sum(m.numbers > 1) for m in molecules])
    assert np.all(energies / heavy < -500)
    assert np.all(energies / heavy > -3000)


def test_fewer_molecules_are_the_first_of_the_subset(molecules):
    first = load_qm9(10)
    assert [m.info["qm9_index"] for m in first] == [
        m.info["qm9_index"] for m in molecules[:10]
    ]


@pytest.mark.parametrize("n", [0, -3, 2.5, "all"])
def test_bad_n_is_refused(n):
    with pytest.raises(ValueError, match="n must be"):
        load_qm9(n)


def test_more_than_the_whole_set_is_refused():
    with pytest.raises(ValueError, match="130831"):
        load_qm9(200_000)


def test_the_whole_set_needs_qm9pack():
    try:
        import qm9pack  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"propmap\[qm9\]"):
            load_qm9(None)
    else:
        pytest.skip("qm9pack is installed here")


def test_the_table_parser_on_real_qm9pack_rows():
    table = pd.read_csv(DATA / "qm9pack_rows.csv")
    methane, ammonia, water, _ = molecules_from_table(table)
    assert methane.get_chemical_formula() == "CH4"
    assert ammonia.get_chemical_formula() == "H3N"
    assert water.get_chemical_formula() == "H2O"
    assert methane.info["qm9_index"] == 1
    assert methane.info["smiles"] == "C"
    assert methane.info["U0"] == pytest.approx(-40.47893 * HARTREE_EV)
    assert methane.info["gap"] == pytest.approx(0.5048 * HARTREE_EV)
    assert methane.info["dipole_moment"] == 0.0
    np.testing.assert_allclose(
        methane.arrays["mulliken_charges"],
        [-0.535689, 0.133921, 0.133922, 0.133923, 0.133923],
    )
    # C-H bond length of methane at B3LYP: 1.09 Å
    assert methane.get_distance(0, 1) == pytest.approx(1.0919, abs=1e-3)


def test_the_table_parser_names_what_is_wrong():
    table = pd.read_csv(DATA / "qm9pack_rows.csv")
    with pytest.raises(ValueError, match="Mulliken_pop"):
        molecules_from_table(table.drop(columns="Mulliken_pop"))
    broken = table.copy()
    broken.loc[0, "XYZ_Ang"] = "[[0.0,1.0,2.0]]"
    with pytest.raises(ValueError, match="QM9 molecule 1: 5 elements"):
        molecules_from_table(broken)


def test_g2_and_s22_are_here_too():
    molecules, enthalpies = load_g2()
    assert len(molecules) == enthalpies.size == 148
    assert len(load_s22().dimers) == 22
