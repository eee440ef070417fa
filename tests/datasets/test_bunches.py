"""The datasets as scikit-learn Bunches with a DESCR that cites the data."""

import numpy as np
import pytest
from sklearn.utils import Bunch

pytest.importorskip("ase")
pytest.importorskip("pandas")

from propmap.datasets import (
    load_g2,
    load_g2_dataset,
    load_qm9,
    load_qm9_dataset,
    load_s22,
    load_s22_dataset,
)


def test_qm9_bunch_holds_the_molecules_and_their_properties():
    data = load_qm9_dataset(50)
    assert isinstance(data, Bunch)
    assert len(data.structures) == len(data.frame) == data.target.shape[0] == 50
    assert data.target_names == ["U0", "gap", "homo", "lumo", "dipole_moment"]
    molecules = load_qm9(50)
    np.testing.assert_allclose(data.target[:, 1], [m.info["gap"] for m in molecules])
    assert list(data.frame["smiles"]) == [m.info["smiles"] for m in molecules]
    assert (data.frame["n_atoms"] == [len(m) for m in molecules]).all()
    assert "10.1038/sdata.2014.22" in data.DESCR
    with pytest.raises(ValueError, match="positive integer"):
        load_qm9_dataset(0)


def test_g2_bunch():
    data = load_g2_dataset()
    molecules, enthalpies = load_g2()
    assert len(data.structures) == len(data.frame) == 148
    np.testing.assert_allclose(data.target, enthalpies)
    assert list(data.frame["name"]) == [m.info["name"] for m in molecules]
    assert "10.1063/1.473182" in data.DESCR


def test_s22_bunch():
    data = load_s22_dataset()
    s22 = load_s22()
    assert len(data.structures) == len(data.monomers_a) == len(data.monomers_b) == 22
    np.testing.assert_allclose(data.target, s22.interaction_energies)
    assert list(data.frame["name"]) == s22.names
    assert all(
        len(dimer) == len(a) + len(b)
        for dimer, a, b in zip(
            data.structures, data.monomers_a, data.monomers_b, strict=True
        )
    )
    assert "10.1063/1.3378024" in data.DESCR
