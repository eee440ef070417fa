"""Remnant features: condensed-phase environments minus isolated-molecule ones."""

import numpy as np
import pytest

pytest.importorskip("featomic")
pytest.importorskip("ase")

from ase import Atoms
from ase.build import molecule

from propmap.atomistic import (
    AdditiveModel,
    RemnantFeaturizer,
    SoapFeaturizer,
)
from propmap.datasets import load_s22

SMALL = SoapFeaturizer(cutoff=4.0, max_radial=2, max_angular=2)


@pytest.fixture(scope="module")
def s22():
    return load_s22()


def test_remnant_vanishes_for_molecules_far_apart():
    first, second = molecule("CH3OH"), molecule("H2O")
    second.translate([0.0, 0.0, 12.0])
    close = molecule("H2O")
    close.translate([0.0, 2.8, 0.0])
    remnant = RemnantFeaturizer(SMALL).fit([first + second])
    far = remnant.transform([first + second])
    assert np.abs(far).max() == 0.0
    near = remnant.transform([first + close])
    assert np.abs(near).max() > 1e-3


def test_dimer_minus_monomers_by_hand(s22):
    dimer, a, b = s22.dimers[0], s22.monomers_a[0], s22.monomers_b[0]
    remnant = RemnantFeaturizer(SMALL).fit(s22.dimers).transform([dimer])
    soap = SoapFeaturizer(**SMALL.get_params()).set_params(per="atom")
    soap.fit(s22.dimers)
    expected = soap.transform([dimer]) - np.vstack(
        [soap.transform([a]), soap.transform([b])]
    )
    np.testing.assert_allclose(remnant, expected, atol=1e-12)


def test_per_structure_rows_average_the_atom_rows(s22):
    atoms = RemnantFeaturizer(SMALL).fit(s22.dimers).transform(s22.dimers[:3])
    mean = RemnantFeaturizer(SMALL, per="structure").fit(s22.dimers)
    rows = mean.transform(s22.dimers[:3])
    counts = [len(d) for d in s22.dimers[:3]]
    starts = np.concatenate([[0], np.cumsum(counts)])
    for k in range(3):
        np.testing.assert_allclose(rows[k], atoms[starts[k] : starts[k + 1]].mean(0))


def test_gas_phase_molecules_replace_the_cut_ones(s22):
    dimer = s22.dimers[1]
    relaxed_a = s22.monomers_a[1].copy()
    relaxed_a.positions += 0.02  # a rigid shift: the same isolated environment
    remnant = RemnantFeaturizer(SMALL).fit([dimer])
    cut = remnant.transform([dimer])
    given = remnant.transform([dimer], molecules=[[relaxed_a, s22.monomers_b[1]]])
    np.testing.assert_allclose(given, cut, atol=1e-12)
    bent = s22.monomers_a[1].copy()
    bent.positions[0] += 0.3
    assert not np.allclose(
        remnant.transform([dimer], molecules=[[bent, s22.monomers_b[1]]]), cut
    )


def test_gas_phase_molecules_in_another_atom_order_are_matched(s22):
    dimer = s22.dimers[1]
    remnant = RemnantFeaturizer(SMALL).fit([dimer])
    cut = remnant.transform([dimer])
    monomer = s22.monomers_a[1]
    shuffled = monomer[np.random.default_rng(0).permutation(len(monomer))]
    shuffled.rotate(30, "z")  # and turned: the isolated environment is the same
    given = remnant.transform([dimer], molecules=[[shuffled, s22.monomers_b[1]]])
    np.testing.assert_allclose(given, cut, atol=1e-10)


def test_molecules_split_across_periodic_boundaries_match_the_isolated_ones():
    water = molecule("H2O")
    water.translate(-water.positions[0])  # O at the origin: H atoms wrap around
    crystal = water.copy()
    crystal.cell = [3.5, 3.5, 3.5]
    crystal.pbc = True
    crystal.wrap()
    isolated = water.copy()
    isolated.translate([3.0, 3.0, 3.0])
    featurizer = RemnantFeaturizer(SMALL).fit([crystal])
    # with the given molecule equal to the cut one, the remnant is the same
    np.testing.assert_allclose(
        featurizer.transform([crystal]),
        featurizer.transform([crystal], molecules=[isolated]),
        atol=1e-12,
    )
    # in a 3.5 Å box each water sees its periodic images: a non-zero remnant
    assert np.abs(featurizer.transform([crystal])).max() > 1e-4


def test_interaction_energies_of_s22_from_an_additive_remnant_model(s22):
    model = AdditiveModel(RemnantFeaturizer(SMALL), composition=False)
    model.fit(s22.dimers, s22.interaction_energies)
    contributions = model.atom_contributions(s22.dimers)
    np.testing.assert_allclose(
        [c.sum() for c in contributions], model.predict(s22.dimers), atol=1e-10
    )
    assert np.corrcoef(model.predict(s22.dimers), s22.interaction_energies)[0, 1] > 0.9


def test_bad_gas_phase_molecules(s22):
    k = next(
        k
        for k in range(22)
        if s22.monomers_a[k].get_chemical_formula()
        != s22.monomers_b[k].get_chemical_formula()
    )
    dimer = s22.dimers[k]
    remnant = RemnantFeaturizer(SMALL).fit([dimer])
    with pytest.raises(ValueError, match="molecule 0 of structure 0 does not match"):
        remnant.transform([dimer], molecules=[[s22.monomers_b[k], s22.monomers_a[k]]])
    with pytest.raises(ValueError, match="entries for 1 structures"):
        remnant.transform([dimer], molecules=[])
    with pytest.raises(ValueError, match="more molecules"):
        remnant.transform([dimer], molecules=[[s22.monomers_a[k]]])
    with pytest.raises(ValueError, match="no atoms"):
        remnant.transform([Atoms()])
