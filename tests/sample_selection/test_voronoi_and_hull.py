import warnings

import numpy as np
import pytest

from propmap.sample_selection import (
    FPS,
    DirectionalConvexHull,
    VoronoiFPS,
    voronoi_weights,
)


@pytest.fixture
def clustered(rng):
    centres = 4 * rng.standard_normal((6, 5))
    return centres[rng.integers(0, 6, 400)] + 0.5 * rng.standard_normal((400, 5))


# -- VoronoiFPS


@pytest.mark.parametrize("full_fraction", [None, 0.05, 0.5, 1.0])
def test_voronoi_fps_picks_as_fps(clustered, full_fraction):
    fps = FPS(n_to_select=40).fit(clustered)
    voronoi = VoronoiFPS(n_to_select=40, full_fraction=full_fraction).fit(clustered)
    assert voronoi.selected_idx_.tolist() == fps.selected_idx_.tolist()
    assert np.allclose(voronoi.get_select_distance(), fps.get_select_distance())
    assert np.allclose(voronoi.hausdorff_, fps.hausdorff_, atol=1e-9)
    # every point sits in the cell of its nearest pick
    nearest = np.argmin(
        ((clustered[:, None] - clustered[voronoi.selected_idx_][None]) ** 2).sum(-1),
        axis=1,
    )
    assert np.array_equal(voronoi.voronoi_location_, nearest)
    assert 0 < voronoi.full_fraction_ <= 1


def test_voronoi_fps_takes_none_and_fractions(clustered):
    """The reference fails on n_to_select=None or a float."""
    assert VoronoiFPS().fit(clustered).n_selected_ == 200
    assert VoronoiFPS(n_to_select=0.1).fit(clustered).n_selected_ == 40


def test_voronoi_fps_bad_parameters(clustered):
    with pytest.raises(ValueError, match="'full_fraction' parameter"):
        VoronoiFPS(full_fraction=1.5).fit(clustered)
    with pytest.raises(ValueError, match="'n_trial_calculation' parameter"):
        VoronoiFPS(n_trial_calculation=0).fit(clustered)


@pytest.mark.parity
def test_voronoi_fps_parity(skmatter, clustered):
    from skmatter.sample_selection import VoronoiFPS as Reference

    ours = VoronoiFPS(n_to_select=30, initialize=5).fit(clustered)
    theirs = Reference(n_to_select=30, initialize=5).fit(clustered)
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


# -- voronoi_weights


def test_voronoi_weights(clustered):
    landmarks = clustered[FPS(n_to_select=12).fit(clustered).selected_idx_]
    weights = voronoi_weights(clustered, landmarks)
    assert weights.shape == (12,)
    assert np.isclose(weights.sum(), 1.0)
    counts = voronoi_weights(clustered, landmarks, normalize=False)
    assert counts.sum() == 400
    assert np.allclose(voronoi_weights(clustered, landmarks, power=0.0), 1 / 12)
    damped = voronoi_weights(clustered, landmarks, power=0.5, normalize=False)
    assert np.allclose(damped, np.sqrt(counts))


def test_voronoi_weights_errors(clustered):
    with pytest.raises(ValueError, match="power must be a non-negative number"):
        voronoi_weights(clustered, clustered[:3], power=-1)
    with pytest.raises(ValueError, match="X_full has 5 features but X_landmarks has 4"):
        voronoi_weights(clustered, clustered[:3, :4])
    with pytest.raises(ValueError, match="Input X_landmarks contains NaN"):
        voronoi_weights(clustered, np.full((2, 5), np.nan))


@pytest.mark.parity
def test_voronoi_weights_parity(skmatter, clustered):
    from skmatter.sample_selection import voronoi_weights as reference

    landmarks = clustered[:10]
    for power in (0.0, 0.5, 1.0):
        assert np.allclose(
            voronoi_weights(clustered, landmarks, power=power),
            reference(clustered, landmarks, power=power),
        )


# -- DirectionalConvexHull


def hull_data(rng, n=60):
    X = rng.uniform(0, 1, (n, 4))
    y = (X[:, 0] - 0.5) ** 2 + 0.3 * rng.uniform(0, 1, n)
    return X, y


@pytest.mark.parametrize("low_dim_idx", [None, [0], [0, 1]])
def test_hull_vertices_have_zero_height(rng, low_dim_idx):
    X, y = hull_data(rng)
    hull = DirectionalConvexHull(low_dim_idx=low_dim_idx).fit(X, y)
    assert hull.get_params()["low_dim_idx"] == low_dim_idx  # parameters untouched
    heights = hull.score_samples(X, y)
    assert np.all(heights[hull.selected_idx_] == 0)
    assert np.all(heights >= 0)
    # a sample pushed below the hull has a negative height
    lowered = y.copy()
    lowered[hull.selected_idx_[0]] -= 1.0
    assert hull.score_samples(X, lowered)[hull.selected_idx_[0]] < 0
    residuals = hull.score_feature_matrix(X[hull.selected_idx_])
    assert np.allclose(residuals, 0.0, atol=1e-10)


def test_hull_errors(rng):
    X, y = hull_data(rng)
    with pytest.raises(ValueError, match=r"low_dim_idx=\[7\] is out of range"):
        DirectionalConvexHull(low_dim_idx=[7]).fit(X, y)
    with pytest.raises(ValueError, match="needs more than 3 samples; got 3"):
        DirectionalConvexHull(low_dim_idx=[0, 1]).fit(X[:3], y[:3])
    flat = np.zeros((10, 2))
    flat[:, 0] = np.arange(10)
    with pytest.raises(ValueError, match="points are degenerate"):
        DirectionalConvexHull(low_dim_idx=[0, 1]).fit(flat, np.zeros(10))
    hull = DirectionalConvexHull().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        hull.score_samples(X[:, :3], y)
    with pytest.warns(UserWarning, match="outside the low-dimensional range"):
        residuals = hull.score_feature_matrix(X + 5.0)
    assert np.all(np.isnan(residuals))


@pytest.mark.parity
@pytest.mark.parametrize("low_dim_idx", [[0], [0, 1]])
def test_hull_parity(skmatter, rng, low_dim_idx):
    from skmatter.sample_selection import DirectionalConvexHull as Reference

    X, y = hull_data(rng)
    X_new, y_new = hull_data(rng, 30)
    ours = DirectionalConvexHull(low_dim_idx=low_dim_idx).fit(X, y)
    theirs = Reference(low_dim_idx=low_dim_idx).fit(X, y)
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()
    assert np.allclose(
        ours.score_samples(X_new, y_new), theirs.score_samples(X_new, y_new)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.allclose(
            ours.score_feature_matrix(X_new),
            theirs.score_feature_matrix(X_new),
            equal_nan=True,
        )
