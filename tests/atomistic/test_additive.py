"""AdditiveModel: per-atom contributions that add up to predictions."""

import numpy as np
import pytest

pytest.importorskip("featomic")
pytest.importorskip("ase")

from ase.collections import g2
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge, RidgeCV

from propmap.atomistic import AdditiveModel, SoapFeaturizer

SMALL = SoapFeaturizer(cutoff=3.5, max_radial=2, max_angular=2)


@pytest.fixture(scope="module")
def hydrocarbons():
    names = [
        n for n in g2.names if set(g2[n].get_chemical_symbols()) <= {"H", "C", "O"}
    ]
    return [g2[n] for n in names]


def element_property(structures, weights):
    return np.array(
        [sum(weights[s] for s in a.get_chemical_symbols()) for a in structures]
    )


@pytest.mark.parametrize("aggregate", ["sum", "mean", "molecule"])
@pytest.mark.parametrize("regressor", [None, Ridge(alpha=1e-3), RidgeCV()])
def test_contributions_add_up_to_predictions(hydrocarbons, aggregate, regressor):
    y = element_property(hydrocarbons, {"H": -0.5, "C": -38.0, "O": -75.0})
    y = y + np.random.default_rng(0).normal(scale=0.1, size=y.size)
    model = AdditiveModel(SMALL, regressor=regressor, aggregate=aggregate)
    model.fit(hydrocarbons, y)
    prediction = model.predict(hydrocarbons)
    contributions = model.atom_contributions(hydrocarbons)
    assert [len(c) for c in contributions] == [len(a) for a in hydrocarbons]
    np.testing.assert_allclose(
        [c.sum() for c in contributions], prediction, rtol=1e-12, atol=1e-10
    )


def test_a_truly_additive_property_is_learned_and_split_by_element(hydrocarbons):
    weights = {"H": -0.5, "C": -38.0, "O": -75.0}
    y = element_property(hydrocarbons, weights)
    model = AdditiveModel(SMALL).fit(hydrocarbons, y)
    np.testing.assert_allclose(model.predict(hydrocarbons), y, atol=1e-3)
    new = [g2["CH3CH2OH"], g2["C6H6"]]
    np.testing.assert_allclose(
        model.predict(new), element_property(new, weights), atol=0.05
    )


def test_group_contributions(hydrocarbons):
    y = np.array([len(a) for a in hydrocarbons], dtype=float)
    model = AdditiveModel(SMALL).fit(hydrocarbons, y)
    per_atom = model.atom_contributions(hydrocarbons)
    groups = [(0, [0]), (3, [0, 2]), (3, list(range(len(hydrocarbons[3]))))]
    values = model.group_contributions(hydrocarbons, groups)
    np.testing.assert_allclose(
        values,
        [per_atom[0][0], per_atom[3][[0, 2]].sum(), per_atom[3].sum()],
    )
    assert values[2] == pytest.approx(model.predict(hydrocarbons)[3])
    with pytest.raises(ValueError, match="structure 99"):
        model.group_contributions(hydrocarbons, [(99, [0])])
    with pytest.raises(ValueError, match="outside structure 0"):
        model.group_contributions(hydrocarbons, [(0, [500])])


def test_bad_input(hydrocarbons):
    y = np.arange(len(hydrocarbons), dtype=float)
    with pytest.raises(ValueError, match="one value per structure"):
        AdditiveModel(SMALL).fit(hydrocarbons, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        AdditiveModel(SMALL).fit(hydrocarbons, np.where(y == 1, np.nan, y))
    with pytest.raises(ValueError, match="coef_"):
        AdditiveModel(SMALL, regressor=RandomForestRegressor(n_estimators=2)).fit(
            hydrocarbons, y
        )
    model = AdditiveModel(SMALL).fit(hydrocarbons, y)
    with pytest.raises(ValueError, match="not among the species"):
        model.predict([g2["NH3"]])


def test_g2_end_to_end_enthalpies_to_motif_contributions():
    from propmap.atomistic import (
        MotifPerceptionWarning,
        label_motifs,
        motif_contributions,
        summarize_motifs,
    )
    from propmap.datasets import load_g2

    structures, enthalpies = load_g2()
    organic = [
        k
        for k, s in enumerate(structures)
        if set(s.get_chemical_symbols()) <= {"H", "C", "N", "O"} and len(s) > 2
    ]
    molecules = [structures[k] for k in organic]
    y = np.asarray(enthalpies)[organic]
    model = AdditiveModel(SMALL, regressor=RidgeCV(alphas=np.logspace(-6, 1, 8)))
    model.fit(molecules, y)
    assert np.corrcoef(model.predict(molecules), y)[0, 1] > 0.95
    # G2 has radicals (CH3, OH, ...): they warn and stay unlabelled
    with pytest.warns(MotifPerceptionWarning, match="radical"):
        labels = label_motifs(molecules)
    table = motif_contributions(labels, model.atom_contributions(molecules))
    summary = summarize_motifs(table)
    assert {"methyl", "carbonyl", "hydroxyl"} <= set(summary.index)
    assert summary["count"].sum() == len(table)


def test_per_molecule_aggregate_on_clusters_of_molecules():
    from ase import Atoms
    from ase.build import molecule

    def cluster(name, copies):
        atoms = Atoms()
        for k in range(copies):
            part = molecule(name)
            part.translate([0.0, 0.0, 8.0 * k])
            atoms += part
        return atoms

    # a property per molecule: clusters of 1, 2 or 3 copies have the molecule's
    structures = [cluster(n, c) for n in ("CH4", "H2O", "NH3") for c in (1, 2, 3)]
    per_molecule = {"CH4": -1.0, "H2O": -2.0, "NH3": -1.5}
    y = np.array([per_molecule[n] for n in ("CH4", "H2O", "NH3") for _ in range(3)])
    soap = SoapFeaturizer(cutoff=3.0, max_radial=2, max_angular=1)
    model = AdditiveModel(soap, aggregate="molecule").fit(structures, y)
    np.testing.assert_allclose(model.predict(structures), y, atol=1e-4)
    for atoms, contributions, value in zip(
        structures, model.atom_contributions(structures), y, strict=True
    ):
        # each molecule's atoms add up to the molecule's value
        heavy = next(s for s in atoms.get_chemical_symbols() if s != "H")
        size = {"C": 5, "O": 3, "N": 4}[heavy]
        sums = contributions.reshape(-1, size).sum(axis=1)
        np.testing.assert_allclose(sums, value, atol=1e-4)
    # the sum aggregate cannot: the same molecules, a different total
    summed = AdditiveModel(soap, aggregate="sum").fit(structures, y)
    assert np.abs(summed.predict(structures) - y).max() > 0.1


def _design(model, structures):
    """The structures' features, through the public steps."""
    rows, owners = model.atom_features(structures)
    return model.aggregate_atoms(rows, owners, structures)


@pytest.mark.parametrize("aggregate", ["sum", "mean", "molecule"])
@pytest.mark.parametrize("intercept", [True, False])
def test_the_uncertainty_is_the_ridge_posterior(hydrocarbons, aggregate, intercept):
    """σ of a structure is s sqrt(1 + q), q the ridge's posterior variance of
    its features (1/n for an unpenalised intercept); a contribution's is s
    sqrt(q) of its own row, and the atoms of a structure together (summed
    rows) give the structure's q."""
    rng = np.random.default_rng(1)
    y = element_property(hydrocarbons, {"H": -0.5, "C": -38.0, "O": -75.0})
    y = y + rng.normal(scale=0.2, size=y.size)
    model = AdditiveModel(
        SMALL, regressor=Ridge(alpha=0.3, fit_intercept=intercept),
        aggregate=aggregate,
    ).fit(hydrocarbons[:40], y[:40])  # fmt: skip
    design = _design(model, hydrocarbons[:40])
    mean = design.mean(axis=0) if intercept else np.zeros(design.shape[1])
    inverse = np.linalg.inv(
        (design - mean).T @ (design - mean) + 0.3 * np.eye(design.shape[1])
    )
    new = hydrocarbons[40:]
    new_design = _design(model, new)
    shifted = new_design - mean
    q = np.einsum("ij,jk,ik->i", shifted, inverse, shifted) + (
        1 / 40 if intercept else 0
    )
    predicted, std = model.predict(new, return_std=True)
    np.testing.assert_allclose(predicted, model.predict(new))
    np.testing.assert_allclose(std, model.noise_std_ * np.sqrt(1 + q), rtol=1e-4)
    values, stds = model.atom_contributions(new, return_std=True)
    assert [s.shape for s in stds] == [v.shape for v in values]
    assert all(np.all(s > 0) for s in stds)
    # every atom of a structure as one group: the structure's own q (with a
    # per-molecule sum, m_S times its features)
    groups = [(k, np.arange(len(a))) for k, a in enumerate(new)]
    sums, group_stds = model.group_contributions(new, groups, return_std=True)
    np.testing.assert_allclose(sums, [v.sum() for v in values])
    times = np.ones(len(new))
    if aggregate == "molecule":
        times = model._molecule_counts(new)
    np.testing.assert_allclose(
        group_stds, model.noise_std_ * np.sqrt(q) * times, rtol=1e-4
    )


def test_the_noise_level_is_fitted_on_leave_one_out_errors(hydrocarbons):
    """s comes from each structure's error when it is left out (the exact
    ridge formula, checked against refits) and its q then."""
    from propmap.decomposition._uncertainty import noise_level

    rng = np.random.default_rng(2)
    y = element_property(hydrocarbons, {"H": -0.5, "C": -38.0, "O": -75.0})
    y = y + rng.normal(scale=0.3, size=y.size)
    model = AdditiveModel(SMALL, regressor=Ridge(alpha=0.1)).fit(hydrocarbons, y)
    errors, variances = [], []
    for k in range(len(hydrocarbons)):
        rest = [a for j, a in enumerate(hydrocarbons) if j != k]
        fold = AdditiveModel(SMALL, regressor=Ridge(alpha=0.1))
        fold.fit(rest, np.delete(y, k))
        left_out = [hydrocarbons[k]]
        predicted, std = fold.predict(left_out, return_std=True)
        errors.append(y[k] - predicted[0])
        variances.append((std[0] / fold.noise_std_) ** 2 - 1)
    expected = noise_level(np.array(errors)[:, None], np.array(variances))[0]
    assert model.noise_std_ == pytest.approx(expected, rel=0.02)


def test_return_std_needs_a_ridge(hydrocarbons):
    y = np.array([len(a) for a in hydrocarbons], dtype=float)
    forest = AdditiveModel(
        SMALL, regressor=RandomForestRegressor(n_estimators=3, random_state=0)
    )
    with pytest.raises(ValueError, match="linear model exposing coef_"):
        forest.fit(hydrocarbons, y)
    from sklearn.linear_model import LinearRegression

    plain = AdditiveModel(SMALL, regressor=LinearRegression()).fit(hydrocarbons, y)
    assert plain.posterior_ is None
    with pytest.raises(ValueError, match="return_std=True needs the ridge's posterior"):
        plain.predict(hydrocarbons, return_std=True)
    off = AdditiveModel(SMALL, uncertainty=False).fit(hydrocarbons, y)
    assert off.posterior_ is None
    assert off.noise_std_ is None
