"""SparseKDE: parity with scikit-matter where it is right, its fixes, the density
it defines, and bad input."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from propmap.exceptions import LocalizationWarning
from propmap.neighbors import SparseKDE


@pytest.fixture(scope="module")
def environments():
    """Real data: SOAP environments of the atoms of 150 QM9 molecules, as their
    first three principal components (2,335 x 3), and the atoms' elements."""
    from sklearn.decomposition import PCA

    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    structures = load_qm9(150)
    soap = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
    X = soap.featurizer(per="atom", sparse_output=False).fit_transform(structures)
    elements = np.concatenate([atoms.numbers for atoms in structures])
    return PCA(3, random_state=0).fit_transform(np.asarray(X)), elements


def quiet_fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalizationWarning)
        return model.fit(*args, **kwargs)


def brute_force_log_density(model, x):
    """The estimate from its definition, one cell and one point at a time."""
    total = 0.0
    cut = (3 * (np.sqrt(len(x)) + 1)) ** 2
    for j, centre in enumerate(model.grid_):
        inverse = np.linalg.inv(model.bandwidth_[j])
        norm = np.sqrt(np.linalg.det(2 * np.pi * model.bandwidth_[j]))

        def gaussian(mean, inverse=inverse, norm=norm):
            offset = x - mean
            return np.exp(-0.5 * offset @ inverse @ offset) / norm

        offset = x - centre
        if offset @ inverse @ offset > cut:
            total += model.grid_weights_[j] * gaussian(centre)
            continue
        for k in np.flatnonzero(model.labels_ == j):
            if not np.array_equal(model.descriptors_[k], x):
                total += model.descriptor_weights_[k] * gaussian(model.descriptors_[k])
    return np.log(total)


@pytest.mark.parity
@pytest.mark.parametrize("settings", [{"fpoints": 0.15}, {"fpoints": 0.4}])
def test_same_density_as_the_reference(skmatter, environments, settings):
    from skmatter.feature_selection import FPS
    from skmatter.neighbors import SparseKDE as Reference

    X = environments[0]
    grid = X[FPS(n_to_select=int(np.sqrt(len(X)))).fit(X.T).selected_idx_]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = Reference(X, None, **settings).fit(grid)
    ours = quiet_fit(SparseKDE(**settings), X)  # propmap's spelling
    theirs = quiet_fit(SparseKDE(X, None, **settings), grid)  # scikit-matter's
    np.testing.assert_array_equal(ours.grid_, grid)
    np.testing.assert_allclose(ours.bandwidth_, reference.bandwidth_, rtol=1e-12)
    np.testing.assert_allclose(ours.grid_weights_, reference._sample_weights)
    queries = np.vstack([X[::8], X[::8] + 0.05])  # training points and not
    expected = reference.score_samples(queries)
    np.testing.assert_allclose(ours.score_samples(queries), expected, atol=1e-11)
    np.testing.assert_allclose(theirs.score_samples(queries), expected, atol=1e-11)


@pytest.mark.parity
def test_same_periodic_density_as_the_reference(skmatter, rng):
    """Angles in a 2π cell, where the reference's circular mean is right."""
    from skmatter.neighbors import SparseKDE as Reference

    X = np.vstack([rng.normal(0.2, 0.4, (500, 2)), rng.normal(3, 0.6, (300, 2))])
    X %= 2 * np.pi
    grid = X[::29]
    params = {"metric_params": {"cell_length": np.array([2 * np.pi, 2 * np.pi])}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = Reference(X, None, **params).fit(grid)
    ours = quiet_fit(SparseKDE(X, None, **params), grid)
    np.testing.assert_allclose(ours.bandwidth_, reference.bandwidth_, rtol=1e-12)
    queries = np.vstack([X[:60], rng.uniform(0, 2 * np.pi, (60, 2))])
    np.testing.assert_allclose(
        ours.score_samples(queries), reference.score_samples(queries), atol=1e-11
    )


def test_the_density_is_its_definition(environments):
    X = environments[0][:600]
    model = quiet_fit(SparseKDE(), X)
    queries = np.vstack([X[:5], X[:5] + 0.1, [[5.0, 0.0, 0.0]]])
    expected = [brute_force_log_density(model, q) for q in queries]
    np.testing.assert_allclose(model.score_samples(queries), expected, rtol=1e-10)


def test_a_training_point_leaves_itself_out(environments):
    X = environments[0][:600]
    model = quiet_fit(SparseKDE(), X)
    at_point = model.score_samples(X[:1])[0]
    beside = model.score_samples(X[:1] * (1 + 1e-13))[0]
    # the shifted query sees the point's own kernel, (2π)^{-D/2} |H|^{-1/2} / n
    assert beside > at_point
    assert model.score(X[:3]) == pytest.approx(model.score_samples(X[:3]).sum())


def test_the_density_integrates_to_one(rng):
    X = np.vstack([rng.normal(0, 1, (400, 2)), rng.normal(4, 0.5, (300, 2))])
    model = quiet_fit(SparseKDE(fpoints=0.3), X)
    axis = np.linspace(-6, 8, 241)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    mass = np.exp(model.score_samples(grid)).sum() * (axis[1] - axis[0]) ** 2
    assert mass == pytest.approx(1.0, abs=0.01)


def test_fspread_localises_and_never_below_the_grid_spacing(skmatter, rng):
    """The reference's fspread branch broadcasts the data against the grid and
    fails whenever σ² is below the local population; here it works."""
    from skmatter.neighbors import SparseKDE as Reference

    X = rng.normal(0, 0.05, (400, 2))
    grid = X[:20]
    with pytest.raises(ValueError, match="broadcast"):
        Reference(X, None, fspread=0.5).fit(grid)
    model = SparseKDE(X, None, fspread=0.01).fit(grid)
    spacing = ((grid[:, None] - grid[None]) ** 2).sum(-1)
    np.fill_diagonal(spacing, np.inf)
    np.testing.assert_allclose(
        model.localization_,
        np.maximum(
            0.01**2 * np.trace(np.cov(grid.T, aweights=model.grid_weights_)),
            spacing.min(axis=1),
        ),
        rtol=1e-6,
    )
    assert np.all(np.isfinite(model.score_samples(X[:10])))


def test_fpoints_sets_the_local_population(environments):
    X = environments[0]
    model = quiet_fit(SparseKDE(fpoints=0.3), X)
    np.testing.assert_array_less(np.abs(model.local_populations_ - 0.3), 1 / len(X))


def test_a_cell_heavier_than_fpoints_warns(environments):
    with pytest.warns(LocalizationWarning, match="Voronoi cell"):
        SparseKDE(fpoints=0.01).fit(environments[0][:400])


def test_the_callers_weights_are_left_alone(environments):
    """The reference divides the weights passed to its constructor in place."""
    X = environments[0][:300]
    weights = np.arange(1.0, 301.0)
    kept = weights.copy()
    model = quiet_fit(SparseKDE(X, weights), X[::17])
    np.testing.assert_array_equal(weights, kept)
    assert model.descriptor_weights_.sum() == pytest.approx(1.0)
    clone(model)  # the estimator contract: parameters as given
    same = quiet_fit(SparseKDE(), X, sample_weight=weights * 3)
    np.testing.assert_allclose(same.descriptor_weights_, model.descriptor_weights_)


def test_weights_move_the_density(environments):
    X = environments[0][:600]
    weights = np.where(np.arange(600) < 300, 1.0, 0.1)
    plain = quiet_fit(SparseKDE(), X)
    weighted = quiet_fit(SparseKDE(), X, sample_weight=weights)
    gain = weighted.score_samples(X[:300] + 0.01) - plain.score_samples(X[:300] + 0.01)
    assert np.median(gain) > 0


def test_samples_follow_the_data(environments):
    X = environments[0]
    model = quiet_fit(SparseKDE(), X)
    drawn = model.sample(20_000, random_state=0)
    np.testing.assert_allclose(drawn.mean(axis=0), X.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.cov(drawn.T), np.cov(X.T), atol=0.05)
    np.testing.assert_array_equal(
        model.sample(3, random_state=1), model.sample(3, random_state=1)
    )


def test_many_points(rng):
    X = rng.normal(size=(100_000, 2))
    model = quiet_fit(SparseKDE(), X)
    assert model.grid_.shape == (316, 2)
    values = model.score_samples(X[:2000])
    assert np.all(np.isfinite(values))
    # a standard normal: the log-density is −log 2π − |x|²/2 up to the smoothing
    truth = -np.log(2 * np.pi) - 0.5 * (X[:2000] ** 2).sum(axis=1)
    assert np.median(np.abs(values - truth)) < 0.1


def test_a_custom_metric_assigns_the_cells(environments):
    X = environments[0][:500]

    def manhattan(A, B, squared=True):
        distances = np.abs(A[:, None, :] - B[None, :, :]).sum(-1)
        return distances**2 if squared else distances

    model = quiet_fit(SparseKDE(X, None, metric=manhattan), X[::20])
    expected = np.argmin(np.abs(X[:, None] - X[::20][None]).sum(-1), axis=1)
    np.testing.assert_array_equal(model.labels_, expected)


@pytest.mark.parametrize(
    ("model", "X", "fit_kwargs", "message"),
    [
        (SparseKDE(), [[0.0, np.nan], [1.0, 2.0]], {}, "NaN"),
        (SparseKDE(fpoints=1.5), np.eye(4), {}, "fpoints"),
        (SparseKDE(kernel="tophat"), np.eye(4), {}, "kernel"),
        (SparseKDE(n_grid=10), np.eye(4), {}, "n_grid=10 is more than the 4"),
        (SparseKDE(), np.eye(4), {"sample_weight": [1, 1]}, "one weight per sample"),
        (SparseKDE(), np.eye(4), {"sample_weight": [1, -1, 1, 1]}, "non-negative"),
        (SparseKDE(), np.eye(4), {"sample_weight": [0, 0, 0, 0]}, "sum to zero"),
        (
            SparseKDE(metric_params={"cell_length": [1.0]}),
            np.eye(4),
            {},
            "Cell dimension does not match",
        ),
        (SparseKDE(np.eye(3), None), np.eye(4), {}, "The grid has 4 features"),
        (SparseKDE(np.eye(4), None), np.eye(4), {"sample_weight": [1] * 4}, "weights="),
        (SparseKDE(np.eye(4), None, n_grid=2), np.eye(4), {}, "n_grid chooses"),
        (SparseKDE(fpoints=1.0), np.eye(4), {}, "cannot be reached"),
    ],
)
def test_bad_input_is_named(model, X, fit_kwargs, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalizationWarning)
        with pytest.raises(ValueError, match=message):
            model.fit(np.asarray(X, dtype=float), **fit_kwargs)


def test_scoring_checks_its_input(environments):
    model = quiet_fit(SparseKDE(), environments[0][:200])
    with pytest.raises(ValueError, match="3 features"):
        model.score_samples(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        model.score_samples([[0.0, np.nan, 0.0]])
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        model.sample(0)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SparseKDE().score_samples(np.zeros((1, 3)))
