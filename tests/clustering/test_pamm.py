"""PAMM: density-based clusters of real atomic environments and their
probabilistic assignment."""

import warnings

import numpy as np
import pytest

from propmap.clustering import PAMM
from propmap.exceptions import LocalizationWarning


@pytest.fixture(scope="module")
def environments():
    """SOAP environments of the atoms of 150 QM9 molecules (first three principal
    components) and the atoms' elements."""
    from sklearn.decomposition import PCA

    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    structures = load_qm9(150)
    soap = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
    X = soap.featurizer(per="atom", sparse_output=False).fit_transform(structures)
    elements = np.concatenate([atoms.numbers for atoms in structures])
    return PCA(3, random_state=0).fit_transform(np.asarray(X)), elements


def fit(model, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalizationWarning)
        return model.fit(X, **kwargs)


def test_clusters_of_atoms_are_their_elements(environments):
    X, elements = environments
    model = fit(PAMM(), X)
    # hydrogen, carbon, and nitrogen with oxygen (close in these three components)
    assert len(model.cluster_weights_) == 3
    for k in range(3):
        _, counts = np.unique(elements[model.labels_ == k], return_counts=True)
        assert counts.max() / counts.sum() > 0.99 or set(
            np.unique(elements[model.labels_ == k])
        ) == {7, 8}
    # the weights are the clusters' shares of the atoms, largest first
    shares = np.bincount(model.labels_) / len(X)
    np.testing.assert_allclose(model.cluster_weights_, shares, atol=0.01)
    assert np.all(np.diff(model.cluster_weights_) <= 0)


def test_probabilities(environments):
    X, _ = environments
    model = fit(PAMM(), X)
    probabilities = model.predict_proba(X[:200])
    assert probabilities.shape == (200, len(model.cluster_weights_))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X[:200]), probabilities.argmax(axis=1))
    np.testing.assert_array_equal(model.labels_[:200], model.predict(X[:200]))
    # at a mode the assignment is certain; on the way to the next mode it
    # passes through doubt
    a, b = model.cluster_centers_[:2]
    np.testing.assert_allclose(model.predict_proba([a])[0, 0], 1.0, atol=1e-6)
    low, high = 0.0, 1.0  # bisect on P(0 | x) along the segment
    for _ in range(60):
        t = (low + high) / 2
        first = model.predict_proba([a + t * (b - a)])[0, 0]
        low, high = (t, high) if first > 0.5 else (low, t)
    assert 0 < t < 1
    assert model.predict_proba([a + t * (b - a)])[0, :2].sum() > 0.99
    assert abs(first - 0.5) < 0.5 - 1e-6
    assert np.all(np.isfinite(model.score_samples(X[:50])))


def test_merging_small_clusters(environments):
    X, _ = environments
    full = fit(PAMM(), X)
    smallest = full.cluster_weights_.min()
    merged = fit(PAMM(merge_threshold=smallest + 1e-3), X)
    assert len(merged.cluster_weights_) == len(full.cluster_weights_) - 1
    np.testing.assert_allclose(merged.cluster_weights_.sum(), 1.0)


def test_a_cluster_across_the_periodic_boundary_is_one(rng):
    """Angles near 0 and near 2π are one basin in a 2π cell, two without it."""
    around_zero = rng.normal(0, 0.3, (600, 1)) % (2 * np.pi)
    elsewhere = rng.normal(np.pi, 0.3, (400, 1))
    X = np.vstack([around_zero, elsewhere])
    periodic = fit(PAMM(metric_params={"cell_length": [2 * np.pi]}), X)
    assert len(periodic.cluster_weights_) == 2
    np.testing.assert_allclose(periodic.cluster_weights_, [0.6, 0.4], atol=0.02)
    flat = fit(PAMM(), X)
    assert len(flat.cluster_weights_) >= 3


def test_a_distance_cutoff_instead_of_the_gabriel_graph(environments):
    X, _ = environments
    model = fit(PAMM(gabriel_shell=None, quick_shift_scale=3.0), X)
    assert 2 <= len(model.cluster_weights_) <= 5
    tight = fit(PAMM(gabriel_shell=None, quick_shift_scale=0.3), X)
    assert len(tight.cluster_weights_) > len(model.cluster_weights_)


def test_sample_weights_move_the_clusters(environments):
    X, elements = environments
    weights = np.where(elements == 1, 0.1, 1.0)
    model = fit(PAMM(), X, sample_weight=weights)
    hydrogen = np.bincount(model.labels_[elements == 1]).argmax()
    share = weights[elements == 1].sum() / weights.sum()
    assert model.cluster_weights_[hydrogen] == pytest.approx(share, abs=0.01)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (PAMM(merge_threshold=1.5), "merge_threshold"),
        (PAMM(quick_shift_scale=0), "quick_shift_scale"),
        (PAMM(gabriel_shell=0), "gabriel_shell"),
        (PAMM(metric_params={"cell_length": [1.0, 1.0]}), "Cell dimension"),
    ],
)
def test_bad_input_is_named(environments, model, message):
    with pytest.raises(ValueError, match=message):
        fit(model, environments[0][:200])


def test_prediction_checks_its_input(environments):
    model = fit(PAMM(), environments[0][:300])
    with pytest.raises(ValueError, match="3 features"):
        model.predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict_proba([[np.nan, 0.0, 0.0]])
