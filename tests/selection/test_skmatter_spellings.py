"""What scikit-matter code calls on selectors works here too: score(), pi_,
get_support(indices=True, ordered=True) and fit(X, warm_start=True)."""

import warnings

import numpy as np
import pytest

from propmap import feature_selection, sample_selection
from propmap.selection import _cur

MODULES = {"feature": feature_selection, "sample": sample_selection}
METHODS = ["FPS", "CUR", "PCovFPS", "PCovCUR"]


@pytest.fixture
def data(rng):
    X = rng.standard_normal((120, 40))
    return X, X[:, :2].sum(axis=1)


@pytest.mark.parity
@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", METHODS)
def test_score_is_the_references(skmatter, data, axis, method):
    import skmatter.feature_selection
    import skmatter.sample_selection

    X, y = data
    ours = getattr(MODULES[axis], method)(n_to_select=10).fit(X, y)
    reference = getattr(getattr(skmatter, f"{axis}_selection"), method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = reference(n_to_select=10).fit(X, y)
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()
    expected = theirs.score(X, y)
    if "FPS" in method:  # the reference marks the picks with -inf: ours are 0
        picked = np.isneginf(expected)
        assert np.all(ours.score(X, y)[picked] == 0)
        expected = np.where(picked, 0.0, expected)
    else:
        np.testing.assert_allclose(ours.pi_, theirs.pi_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        ours.score(X, y), expected, rtol=0, atol=1e-10 * np.abs(expected).max()
    )


def test_pi_is_exact_where_sample_cur_screens(monkeypatch, data):
    X, _ = data
    monkeypatch.setattr(_cur, "SCREEN_MIN_SIZE", 1000)
    screened = sample_selection.CUR(n_to_select=12).fit(X)
    monkeypatch.setattr(_cur, "SCREEN_MIN_SIZE", 10**12)
    plain = sample_selection.CUR(n_to_select=12).fit(X)
    assert screened.selected_idx_.tolist() == plain.selected_idx_.tolist()
    np.testing.assert_allclose(screened.pi_, plain.pi_, rtol=1e-12, atol=1e-14)


def test_score_checks_x(data):
    X, _ = data
    selector = feature_selection.CUR(n_to_select=3).fit(X)
    with pytest.raises(ValueError, match="features"):
        selector.score(X[:, :10])
    with pytest.raises(Exception, match="not fitted"):
        feature_selection.CUR(n_to_select=3).score(X)


@pytest.mark.parametrize("axis", ["feature", "sample"])
def test_get_support_in_pick_order(data, axis):
    X, _ = data
    selector = MODULES[axis].FPS(n_to_select=6, initialize=5).fit(X)
    ordered = selector.get_support(indices=True, ordered=True)
    np.testing.assert_array_equal(ordered, selector.selected_idx_)
    assert ordered[0] == 5
    np.testing.assert_array_equal(
        selector.get_support(indices=True), np.sort(selector.selected_idx_)
    )
    assert selector.get_support().sum() == 6


@pytest.mark.parametrize("axis", ["feature", "sample"])
def test_warm_start_as_a_fit_argument(data, axis):
    X, _ = data
    selector = MODULES[axis].CUR(n_to_select=4).fit(X)
    first = selector.selected_idx_.tolist()
    selector.set_params(n_to_select=7)
    selector.fit(X, warm_start=True)
    assert selector.selected_idx_.tolist()[:4] == first
    assert len(selector.selected_idx_) == 7
    assert selector.warm_start is False  # the parameter is left as it was
    fresh = MODULES[axis].CUR(n_to_select=7).fit(X)
    assert selector.selected_idx_.tolist() == fresh.selected_idx_.tolist()
    selector.fit(X, warm_start=False)  # afresh
    assert selector.selected_idx_.tolist() == fresh.selected_idx_.tolist()
    with pytest.raises(ValueError, match="warm_start"):
        selector.fit(X, warm_start="yes")


@pytest.mark.parity
def test_voronoi_fps_fitted_names_are_the_references(skmatter, data):
    from skmatter.sample_selection import VoronoiFPS as Reference

    X = data[0]
    theirs = Reference(n_to_select=12, full_fraction=0.3).fit(X)
    ours = sample_selection.VoronoiFPS(n_to_select=12, full_fraction=0.3).fit(X)
    np.testing.assert_array_equal(ours.selected_idx_, theirs.selected_idx_)
    np.testing.assert_array_equal(ours.vlocation_of_idx, theirs.vlocation_of_idx)
    np.testing.assert_array_equal(ours.vlocation_of_idx, ours.voronoi_location_)
    np.testing.assert_allclose(ours.norms_, theirs.norms_, rtol=1e-13)
    np.testing.assert_allclose(ours.dSL_, theirs.dSL_, rtol=1e-10, atol=1e-12)
    # the switching point: the parameter stays as given, the value used is fitted
    timed = sample_selection.VoronoiFPS(n_to_select=5, n_trial_calculation=2).fit(X)
    assert timed.full_fraction is None
    assert 0 < timed.full_fraction_ <= 1
