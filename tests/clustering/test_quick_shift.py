"""Quick shift: parity with scikit-matter, a float cutoff, the tree and Delaunay
paths against the dense ones, the estimator contract and bad input."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from propmap.clustering import QuickShift, _quick_shift

CENTRES = np.array([[0.0, 0.0], [3.0, 1.0], [1.0, 4.0]])


def blobs(rng, per=80):
    X = np.vstack([rng.normal(c, 0.5, (per, 2)) for c in CENTRES])
    density = -((X[:, None, :] - CENTRES[None]) ** 2).sum(axis=2).min(axis=1)
    return X, density + 0.01 * rng.standard_normal(X.shape[0])


def test_three_blobs_give_three_clusters(rng):
    X, weights = blobs(rng)
    model = QuickShift(dist_cutoff_sq=2.0).fit(X, samples_weight=weights)
    assert model.cluster_centers_idx_.size == 3
    # each blob in one cluster, centred at its heaviest point
    for blob in range(3):
        rows = slice(80 * blob, 80 * (blob + 1))
        assert np.unique(model.labels_[rows]).size == 1
        root = model.labels_[rows][0]
        assert root == 80 * blob + np.argmax(weights[rows])
    np.testing.assert_allclose(model.cluster_centers_, X[model.cluster_centers_idx_])


@pytest.mark.parity
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "settings",
    [
        {"cuts": True},
        {"gabriel_shell": 1},
        {"gabriel_shell": 2},
        {"cuts": True, "metric_params": {"cell_length": [5.0, 6.0]}},
        {"gabriel_shell": 1, "metric_params": {"cell_length": [5.0, 6.0]}},
        {"cuts": True, "scale": 0.7},
    ],
)
def test_same_clusters_as_the_reference(skmatter, seed, settings):
    import skmatter.clustering

    rng = np.random.default_rng(seed)
    X, weights = blobs(rng)
    settings = dict(settings)
    if settings.pop("cuts", False):
        settings["dist_cutoff_sq"] = rng.uniform(0.5, 2.0, X.shape[0])
    ours = QuickShift(**settings).fit(X, samples_weight=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = skmatter.clustering.QuickShift(**settings)
        theirs.fit(X, samples_weight=weights)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_array_equal(
        ours.cluster_centers_idx_, theirs.cluster_centers_idx_
    )


def test_a_float_cutoff_is_one_per_point(rng):
    """scikit-matter indexes the cutoff per point, so a float raises there."""
    X, weights = blobs(rng)
    one = QuickShift(dist_cutoff_sq=1.5).fit(X, samples_weight=weights)
    every = QuickShift(dist_cutoff_sq=np.full(240, 1.5)).fit(X, samples_weight=weights)
    np.testing.assert_array_equal(one.labels_, every.labels_)


def test_the_tree_search_equals_the_dense_one(rng):
    """A user metric takes the dense path: with the Euclidean one it must agree
    with the k-d tree, including where the search has to grow (large cutoffs)."""
    X, weights = blobs(rng, per=200)

    def euclidean(A, B, squared=True):
        return ((A[:, None, :] - B[None]) ** 2).sum(axis=2)

    for cutoff in (0.05, 0.8, 30.0):
        tree = QuickShift(dist_cutoff_sq=cutoff).fit(X, samples_weight=weights)
        dense = QuickShift(dist_cutoff_sq=cutoff, metric=euclidean)
        dense.fit(X, samples_weight=weights)
        np.testing.assert_array_equal(tree.labels_, dense.labels_)


def test_the_delaunay_gabriel_graph_equals_the_dense_one(rng, monkeypatch):
    X = rng.uniform(0, 10, (400, 2))
    weights = np.sin(X[:, 0]) + np.cos(X[:, 1])
    monkeypatch.setattr(_quick_shift, "_DENSE_GABRIEL", 10)
    delaunay = QuickShift(gabriel_shell=2).fit(X, samples_weight=weights)
    geometry = _quick_shift._Geometry(X, None, None, {})
    fast = geometry.gabriel_graph().toarray()
    monkeypatch.setattr(_quick_shift, "_DENSE_GABRIEL", 10**6)
    np.testing.assert_array_equal(fast, geometry.gabriel_graph().toarray())
    dense = QuickShift(gabriel_shell=2).fit(X, samples_weight=weights)
    np.testing.assert_array_equal(delaunay.labels_, dense.labels_)


def test_coinciding_points_and_many_points(rng):
    X = np.repeat(rng.standard_normal((50, 3)), 3, axis=0)  # every point thrice
    weights = -(X**2).sum(axis=1) + 1e-3 * np.arange(150)
    model = QuickShift(dist_cutoff_sq=1.0).fit(X, samples_weight=weights)
    assert np.all(weights[model.labels_] >= weights)
    big = rng.standard_normal((20_000, 3))
    model = QuickShift(dist_cutoff_sq=0.3).fit(big, samples_weight=-(big**2).sum(1))
    assert model.labels_.shape == (20_000,)
    assert np.all(
        model.labels_[model.cluster_centers_idx_] == model.cluster_centers_idx_
    )


def test_without_weights_a_density_estimate_is_climbed(rng):
    from sklearn.neighbors import KernelDensity

    X, _ = blobs(rng)
    density = KernelDensity(bandwidth="scott").fit(X).score_samples(X)
    default = QuickShift(dist_cutoff_sq=2.0).fit(X)
    given = QuickShift(dist_cutoff_sq=2.0).fit(X, samples_weight=density)
    np.testing.assert_array_equal(default.labels_, given.labels_)
    assert default.cluster_centers_idx_.size == 3


def test_parameters_are_left_as_given():
    model = QuickShift(dist_cutoff_sq=2.0, scale=3.0)
    assert clone(model).get_params()["dist_cutoff_sq"] == 2.0  # not scaled in place
    assert QuickShift().get_params()["gabriel_shell"] is None  # no error here


@pytest.mark.parametrize(
    ("model", "weights", "message"),
    [
        (QuickShift(), "ok", "Either dist_cutoff_sq or gabriel_shell"),
        (QuickShift(1.0), "short", "one finite number per sample"),
        (QuickShift(np.ones(5)), "ok", "one per sample"),
        (QuickShift(1.0, metric_params={"cell_length": [1.0]}), "ok", "cell length"),
        (QuickShift(1.0, metric_params={"cell_length": [1.0, 0.0]}), "ok", "positive"),
        (QuickShift(1.0, metric_params={"cell": [1.0, 1.0]}), "ok", "cell_length"),
        (QuickShift(-1.0), "ok", "dist_cutoff_sq"),
        (QuickShift(gabriel_shell=0), "ok", "gabriel_shell"),
    ],
)
def test_bad_input_is_named(rng, model, weights, message):
    X, good = blobs(rng, per=10)
    weights = {"ok": good, "short": good[:-1], None: None}[weights]
    with pytest.raises(ValueError, match=message):
        model.fit(X, samples_weight=weights)
