"""CompositionBaseline: one value per element, fitted by least squares."""

import numpy as np
import pytest

pytest.importorskip("ase")
import ase

from propmap.atomistic import CompositionBaseline
from propmap.datasets import load_qm9


def test_an_additive_property_is_recovered_exactly():
    molecules = load_qm9(200)
    truth = {1: -13.6, 6: -1029.0, 7: -1484.0, 8: -2041.0, 9: -2715.0}
    y = np.array([sum(truth[z] for z in m.numbers) for m in molecules])
    baseline = CompositionBaseline().fit(molecules, y)
    assert list(baseline.species_) == sorted(
        {int(z) for m in molecules for z in m.numbers}
    )
    for z, value in zip(baseline.species_, baseline.element_values_, strict=True):
        assert value == pytest.approx(truth[z])
    np.testing.assert_allclose(baseline.predict(molecules), y)


def test_qm9_energies_are_mostly_composition():
    molecules = load_qm9(500)
    y = np.array([m.info["U0"] for m in molecules])
    baseline = CompositionBaseline().fit(molecules[:400], y[:400])
    residual = y[400:] - baseline.predict(molecules[400:])
    # thousands of eV of total energy down to about one eV
    assert np.abs(y[400:]).min() > 1000
    assert np.mean(np.abs(residual)) < 2.0


def test_unseen_elements_and_bad_targets_are_named():
    baseline = CompositionBaseline().fit(
        [ase.Atoms("H2O"), ase.Atoms("CH4")], [1.0, 2.0]
    )
    with pytest.raises(ValueError, match="elements S are not among"):
        baseline.predict([ase.Atoms("H2S")])
    with pytest.raises(ValueError, match="one value per structure"):
        CompositionBaseline().fit([ase.Atoms("H2O")], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        CompositionBaseline().fit([ase.Atoms("H2O")], [np.nan])
