"""SketchMap: parity with scikit-matter's helpers and fit, landmark fits, the
out-of-sample placement and the input checks, on QM9 SOAP features."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.spatial.distance import cdist, pdist
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from propmap.decomposition import SketchMap
from propmap.decomposition import _sketchmap as sketchmap_module
from propmap.decomposition._sketchmap_placement import MAX_ITER, Placement
from propmap.decomposition._sketchmap_stress import (
    PairStress,
    Sigmoid,
    classical_mds,
    pair_products,
    sigmoid_and_derivative,
    suggest_sigmoid_params,
)
from propmap.sample_selection import FPS, voronoi_weights

FAST = {"max_iter": 200, "mds_opt_steps": 20, "global_opt_steps": 1}


@pytest.fixture(scope="module")
def soap():
    """Structure SOAP features of 300 QM9 molecules, first 10 principal
    components."""
    pytest.importorskip("featomic")
    from sklearn.decomposition import PCA

    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    structures = load_qm9(300)
    options = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
    X = np.asarray(options.featurizer(per="structure").fit_transform(structures))
    return PCA(10, random_state=0).fit_transform(X)


@pytest.fixture(scope="module")
def fitted(soap):
    return SketchMap().fit(soap[:200])


@pytest.fixture(scope="module")
def landmark_fit(soap):
    return SketchMap(n_landmarks=60, **FAST).fit(soap)


def reference_quietly(function, *args, **kwargs):
    # scikit-matter's Gaussian fit warns that its covariance is unestimable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# -- parity with scikit-matter's helpers


@pytest.mark.parity
@pytest.mark.parametrize(("a", "b"), [(2.0, 2.0), (4.5, 2.25), (1.5, 3.0), (6.0, 1.0)])
def test_sigmoid_and_derivative_match_reference(skmatter, soap, a, b):
    from skmatter.decomposition import _sketchmap_utils as reference

    distances = np.concatenate([[0.0], pdist(soap[:50])])
    sigma = float(np.median(distances))
    value, slope = sigmoid_and_derivative(distances, sigma, a, b)
    expected_value, expected_slope = reference._sigmoid_and_derivative(
        distances, sigma, a, b
    )
    np.testing.assert_allclose(value, expected_value, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(slope, expected_slope, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        value, reference._sigmoid_transform(distances, sigma, a, b), rtol=1e-13
    )
    # the squared-distance form the stress uses
    low_value, low_slope, _ = Sigmoid(sigma, a, b).with_slope(distances**2)
    np.testing.assert_allclose(low_value, expected_value, rtol=1e-12, atol=1e-15)
    positive = distances > 0
    np.testing.assert_allclose(
        low_slope[positive] * distances[positive],
        expected_slope[positive],
        rtol=1e-12,
    )


@pytest.mark.parity
@pytest.mark.parametrize("weighted", [False, True])
def test_suggested_params_and_analysis_match_reference(skmatter, soap, weighted):
    from skmatter.decomposition import _sketchmap_utils as reference

    weights = np.random.default_rng(0).uniform(0.2, 3.0, 300) if weighted else None
    expected, expected_analysis = reference_quietly(
        reference._suggest_sigmoid_params,
        cdist(soap, soap),
        2,
        sample_weight=weights,
    )
    params, analysis = suggest_sigmoid_params(
        pdist(soap), 2, None if weights is None else pair_products(weights)
    )
    assert params.keys() == expected.keys()
    for key, value in expected.items():
        assert params[key] == pytest.approx(value, rel=1e-12), key
    for key, value in expected_analysis.items():
        np.testing.assert_allclose(analysis[key], value, rtol=1e-10, err_msg=key)


@pytest.mark.parity
def test_classical_mds_matches_reference(skmatter, soap):
    from skmatter.decomposition import _sketchmap_utils as reference

    distances = cdist(soap, soap)
    for n_components in (1, 2, 3):
        expected = reference._classical_mds(distances, n_components)
        np.testing.assert_allclose(
            classical_mds(distances, n_components), expected, atol=1e-12
        )
    # the Lanczos solver large fits use agrees too
    np.testing.assert_allclose(
        classical_mds(distances, 2, solver="arpack"),
        reference._classical_mds(distances, 2),
        atol=1e-9,
    )


@pytest.mark.parity
@pytest.mark.parametrize("mixing", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("exponents", [(2.0, 2.0), (3.0, 1.5)])
def test_stress_and_gradient_match_reference(
    skmatter, soap, fitted, mixing, weighted, exponents
):
    from skmatter.decomposition import SketchMap as ReferenceSketchMap
    from skmatter.decomposition import _sketchmap_utils as reference

    X = soap[:200]
    n = X.shape[0]
    params = fitted.params_
    sigma, a_low, b_low = params["sigma"], *exponents
    weights = np.random.default_rng(1).uniform(0.5, 2.0, n) if weighted else None
    square = cdist(X, X)
    target = reference._sigmoid_transform(
        square, sigma, params["a_high"], params["b_high"]
    )
    pair_weights = None if weights is None else np.outer(weights, weights)
    total = n * (n - 1) / 2 if weights is None else np.triu(pair_weights, 1).sum()
    model = ReferenceSketchMap()
    model._ld_sigmoid_ = (sigma, a_low, b_low)
    embedding = fitted.embedding_ + 0.01  # any map; not a minimum
    expected_stress, expected_gradient = model._stress_and_grad(
        embedding.ravel(), (square, target, pair_weights, total), mixing
    )
    stress = PairStress(
        pdist(X),
        n,
        2,
        Sigmoid(sigma, params["a_high"], params["b_high"]),
        Sigmoid(sigma, a_low, b_low),
        weights,
    )
    value, gradient = stress(embedding.ravel(), mixing)
    assert value == pytest.approx(expected_stress, rel=1e-12)
    np.testing.assert_allclose(
        gradient,
        expected_gradient,
        rtol=0,
        atol=1e-11 * np.abs(expected_gradient).max(),
    )


@pytest.mark.parity
def test_fitted_stress_no_worse_than_reference(skmatter, soap, fitted):
    from skmatter.decomposition import SketchMap as ReferenceSketchMap

    reference = reference_quietly(ReferenceSketchMap().fit, soap[:200])
    for key, value in reference.params_.items():
        assert fitted.params_[key] == pytest.approx(value, rel=1e-12), key
    assert fitted.stress_ <= reference.stress_ * (1 + 1e-3)
    assert fitted.n_iter_ > 0


@pytest.mark.parity
def test_landmark_fit_no_worse_than_reference_on_the_same_landmarks(
    skmatter, soap, landmark_fit
):
    """A scikit-matter user can fit the same FPS landmarks with the same Voronoi
    weights (and cannot place the other points)."""
    from skmatter.decomposition import SketchMap as ReferenceSketchMap

    landmarks = soap[landmark_fit.landmark_indices_]
    reference = reference_quietly(
        ReferenceSketchMap(**FAST).fit,
        landmarks,
        sample_weight=landmark_fit.landmark_weights_,
    )
    for key, value in reference.params_.items():
        assert landmark_fit.params_[key] == pytest.approx(value, rel=1e-12), key
    assert landmark_fit.stress_ <= reference.stress_ * (1 + 1e-3)


@pytest.mark.slow
@pytest.mark.parity
def test_full_fit_of_2000_molecules_no_worse_than_reference(skmatter):
    from sklearn.decomposition import PCA
    from skmatter.decomposition import SketchMap as ReferenceSketchMap

    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    options = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
    X = options.featurizer(per="structure").fit_transform(load_qm9(2000))
    X = PCA(10, random_state=0).fit_transform(np.asarray(X))
    ours = SketchMap().fit(X)
    reference = reference_quietly(ReferenceSketchMap().fit, X)
    assert ours.stress_ <= reference.stress_ * (1 + 1e-3)


# -- landmarks


def test_landmarks_are_fps_points_weighted_by_their_voronoi_cells(soap, landmark_fit):
    expected = FPS(n_to_select=60, initialize=0).fit(soap).selected_idx_
    np.testing.assert_array_equal(landmark_fit.landmark_indices_, expected)
    np.testing.assert_array_equal(
        landmark_fit.landmark_weights_,
        voronoi_weights(soap, soap[expected], normalize=False),
    )
    assert landmark_fit.landmark_weights_.sum() == soap.shape[0]
    assert landmark_fit.embedding_.shape == (soap.shape[0], 2)
    assert np.all(np.isfinite(landmark_fit.embedding_))
    np.testing.assert_array_equal(
        landmark_fit.embedding_[expected], landmark_fit.landmark_embedding_
    )


def test_landmark_weights_sum_the_sample_weights_of_each_cell(soap, landmark_fit):
    weights = np.random.default_rng(2).uniform(0.0, 2.0, soap.shape[0])
    model = SketchMap(n_landmarks=60, **FAST).fit(soap, sample_weight=weights)
    cells = cdist(soap, soap[model.landmark_indices_]).argmin(axis=1)
    np.testing.assert_allclose(
        model.landmark_weights_, np.bincount(cells, weights=weights, minlength=60)
    )


def test_non_landmarks_are_placed_like_transform_places_them(soap, landmark_fit):
    others = np.setdiff1d(np.arange(soap.shape[0]), landmark_fit.landmark_indices_)
    np.testing.assert_allclose(
        landmark_fit.transform(soap[others]), landmark_fit.embedding_[others]
    )


def test_out_of_sample_works_in_bounded_blocks(soap, monkeypatch):
    """Never an n x n matrix: every block is at most _BLOCK_ELEMENTS entries."""
    blocks = []
    place = Placement.place

    def spy(self, distances, snap=True):
        blocks.append(distances.shape)
        return place(self, distances, snap)

    monkeypatch.setattr(sketchmap_module, "_BLOCK_ELEMENTS", 40 * 30)
    monkeypatch.setattr(Placement, "place", spy)
    model = SketchMap(n_landmarks=30, **FAST).fit(soap)
    assert len(blocks) == int(np.ceil(270 / 40))
    assert all(rows <= 40 and columns == 30 for rows, columns in blocks)
    unblocked = SketchMap(n_landmarks=30, **FAST)
    monkeypatch.setattr(sketchmap_module, "_BLOCK_ELEMENTS", 2**20)
    np.testing.assert_allclose(unblocked.fit(soap).embedding_, model.embedding_)


def test_n_landmarks_equal_to_n_samples_is_the_full_fit(soap):
    full = SketchMap(**FAST).fit(soap[:80])
    same = SketchMap(n_landmarks=80, **FAST).fit(soap[:80])
    np.testing.assert_array_equal(same.embedding_, full.embedding_)
    np.testing.assert_array_equal(full.landmark_indices_, np.arange(80))
    np.testing.assert_array_equal(full.landmark_weights_, np.ones(80))


# -- transform and the out-of-sample step


def test_transform_of_the_landmarks_returns_their_fitted_positions(soap, landmark_fit):
    landmarks = soap[landmark_fit.landmark_indices_]
    np.testing.assert_array_equal(
        landmark_fit.transform(landmarks), landmark_fit.landmark_embedding_
    )


@pytest.mark.parametrize("model", ["fitted", "landmark_fit"])
def test_optimiser_alone_keeps_landmarks_near_their_fitted_positions(
    soap, request, model
):
    """Without the zero-distance snap, and with the landmarks moved by 1e-7,
    each lands where the fit put it: the fitted map is a stationary point of each
    landmark's own objective, up to the fit's convergence."""
    model = request.getfixturevalue(model)
    landmarks = soap[model.landmark_indices_]
    distances = cdist(landmarks + 1e-7, landmarks)
    placed, _, _ = model._placement().place(distances, snap=False)
    error = np.linalg.norm(placed - model.landmark_embedding_, axis=1)
    scale = np.ptp(model.landmark_embedding_, axis=0).max()
    assert np.median(error) < 1e-4 * scale
    assert np.quantile(error, 0.95) < 1e-2 * scale


def test_out_of_sample_step_converges(soap, landmark_fit):
    rng = np.random.default_rng(3)
    new = soap[:40] + 0.3 * soap.std(axis=0) * rng.normal(size=(40, soap.shape[1]))
    landmarks = soap[landmark_fit.landmark_indices_]
    placement = landmark_fit._placement()
    distances = cdist(new, landmarks)
    placed, gradient_norm, n_iter = placement.place(distances)
    assert np.all(gradient_norm * placement.scale <= 1e-8)
    assert n_iter.max() < MAX_ITER
    np.testing.assert_allclose(landmark_fit.transform(new), placed)
    # no multistart local search does better than the placed minimum
    target = placement.target(distances)
    for index in range(0, 40, 4):
        row = slice(index, index + 1)

        def objective(x, row=row):
            return placement.objective(x[None], distances[row], target[row])[0]

        starts = landmark_fit.landmark_embedding_[rng.choice(60, 6, replace=False)]
        best = min(
            minimize(
                objective, start, method="Nelder-Mead", options={"xatol": 1e-9}
            ).fun
            for start in starts
        )
        assert objective(placed[index]) <= best + 1e-9


def test_transform_without_landmarks_uses_every_training_point(soap, fitted):
    assert fitted.landmark_indices_.size == 200
    new = fitted.transform(soap[200:])
    assert new.shape == (100, 2)
    assert np.all(np.isfinite(new))
    np.testing.assert_array_equal(fitted.transform(soap[:200]), fitted.embedding_)


def test_transform_is_independent_of_the_batch(soap, landmark_fit):
    new = soap[::3] + 1e-3
    together = landmark_fit.transform(new)
    apart = np.vstack(
        [landmark_fit.transform(new[i : i + 7]) for i in range(0, 100, 7)]
    )
    # the same point's optimisation, up to the rounding of differently sized sums
    np.testing.assert_allclose(together, apart, rtol=0, atol=1e-8)


def test_precomputed_distances_give_the_euclidean_fit(soap):
    X = soap[:150]
    euclidean = SketchMap(n_landmarks=50, **FAST).fit(X)
    precomputed = SketchMap(n_landmarks=50, dissimilarity="precomputed", **FAST)
    precomputed.fit(cdist(X, X))
    np.testing.assert_array_equal(
        precomputed.landmark_indices_, euclidean.landmark_indices_
    )
    np.testing.assert_allclose(precomputed.embedding_, euclidean.embedding_, atol=1e-8)
    to_landmarks = cdist(soap[150:], X[euclidean.landmark_indices_])
    np.testing.assert_allclose(
        precomputed.transform(to_landmarks), euclidean.transform(soap[150:]), atol=1e-8
    )


@pytest.mark.parametrize("mixing_ratio", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("a_low", [2.0, 3.0])
def test_out_of_sample_hessian_is_exact(soap, fitted, mixing_ratio, a_low):
    model = clone(fitted).set_params(mixing_ratio=mixing_ratio, a_low=a_low, **FAST)
    model.fit(soap[:120])
    placement = model._placement()
    distances = cdist(soap[120:130], soap[:120])
    target = placement.target(distances)
    points = model.transform(soap[120:130]) + 0.05
    _, gradient, hessian = placement.derivatives(points, distances, target)
    step = 1e-6
    for axis in range(2):
        shift = np.zeros(2)
        shift[axis] = step
        forward = placement.derivatives(points + shift, distances, target)
        backward = placement.derivatives(points - shift, distances, target)
        numeric_gradient = (forward[0] - backward[0]) / (2 * step)
        numeric_hessian = (forward[1] - backward[1]) / (2 * step)
        np.testing.assert_allclose(gradient[:, axis], numeric_gradient, rtol=1e-5)
        np.testing.assert_allclose(
            hessian[:, :, axis], numeric_hessian, rtol=1e-4, atol=1e-6
        )


# -- the estimator


def test_fit_transform_returns_the_embedding_and_names_its_columns(soap):
    model = SketchMap(n_components=3, **FAST)
    embedding = model.fit_transform(soap[:80])
    assert embedding is model.embedding_
    assert embedding.shape == (80, 3)
    assert list(model.get_feature_names_out()) == [
        "sketchmap0",
        "sketchmap1",
        "sketchmap2",
    ]


def test_clone_and_get_params_round_trip():
    model = SketchMap(sigma=0.2, n_landmarks=40, mixing_schedule=(1.0, 0.5, 0.0))
    params = model.get_params()
    assert params["n_landmarks"] == 40
    assert params["mixing_schedule"] == (1.0, 0.5, 0.0)
    copy = clone(model)
    assert copy.get_params() == params
    assert SketchMap(**params).get_params() == params
    assert set(params) == {
        "n_components",
        "sigma",
        "a_high",
        "b_high",
        "a_low",
        "b_low",
        "mds_opt_steps",
        "optimizer",
        "max_iter",
        "global_opt_steps",
        "global_optimizer",
        "mixing_ratio",
        "mixing_schedule",
        "dissimilarity",
        "init",
        "verbose",
        "progress_bar",
        "n_landmarks",
    }


def test_user_parameters_override_the_suggested_ones(soap):
    model = SketchMap(sigma=0.3, b_low=1.0, **FAST).fit(soap[:80])
    assert model.params_["sigma"] == 0.3
    assert model.params_["b_low"] == 1.0
    assert model.params_["a_high"] == model.suggested_params_["a_high"]
    assert model.suggested_params_["sigma"] != 0.3
    assert "peak_distance" in model.distance_analysis_


def test_fit_is_deterministic(soap):
    first = SketchMap(n_landmarks=40, **FAST).fit(soap[:150]).embedding_
    second = SketchMap(n_landmarks=40, **FAST).fit(soap[:150]).embedding_
    np.testing.assert_array_equal(first, second)


def test_init_skips_mds_and_a_converged_init_stays(soap, fitted):
    model = SketchMap(init=fitted.embedding_, global_opt_steps=0).fit(soap[:200])
    assert model.stress_ <= fitted.stress_ * (1 + 1e-9)


@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "CG"},
        {"mixing_schedule": "auto", "global_opt_steps": 3},
        {"mixing_schedule": [1.0, 0.1, 0.0]},
        {"mixing_ratio": 0.2, "mixing_schedule": "auto", "global_opt_steps": 2},
        {"global_optimizer": "grid", "global_opt_steps": 1},
        {"global_optimizer": "grid", "mixing_schedule": "auto", "global_opt_steps": 2},
        {"n_components": 1},
        {"n_components": 3, "a_low": 2.5, "b_low": 1.5},
    ],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()),
)
def test_options_fit_a_map(soap, settings):
    params = {**FAST, **settings}
    model = SketchMap(**params).fit(soap[:40])
    assert model.embedding_.shape == (40, model.n_components)
    assert np.isfinite(model.stress_)
    assert model.stress_ < 0.2


def test_grid_moves_do_not_raise_the_stress(soap):
    X = soap[:40]
    gradient = SketchMap(max_iter=300, global_opt_steps=0).fit(X)
    grid = SketchMap(
        init=gradient.embedding_, global_optimizer="grid", global_opt_steps=1
    ).fit(X)
    assert grid.stress_ <= gradient.stress_ * (1 + 1e-9)


def test_verbose_and_progress_bar(soap, capsys):
    SketchMap(verbose=True, progress_bar=True, **FAST).fit(soap[:30])
    printed = capsys.readouterr().out
    assert "Fitting sketch-map: 30 samples" in printed
    assert "Final stress" in printed


def test_zero_weight_points_are_placed_but_do_not_pull(soap):
    weights = np.ones(80)
    weights[:5] = 0.0
    weighted = SketchMap(**FAST).fit(soap[:80], sample_weight=weights)
    assert np.all(np.isfinite(weighted.embedding_))
    assert weighted.landmark_weights_[:5].sum() == 0


# -- bad input


def bad_inputs():
    X = np.random.default_rng(0).normal(size=(30, 4))
    nan, inf = X.copy(), X.copy()
    nan[3, 1], inf[2, 2] = np.nan, np.inf
    square = cdist(X, X)
    negative = square.copy()
    negative[0, 1] = -1.0
    return [
        ("nan", {}, nan, {}, "Input X contains NaN"),
        ("inf", {}, inf, {}, "Input X contains infinity"),
        ("1d", {}, X[:, 0], {}, "Expected 2D array"),
        ("one sample", {}, X[:1], {}, "minimum of 2 is required"),
        (
            "not square",
            {"dissimilarity": "precomputed"},
            square[:, :20],
            {},
            "needs the square matrix of pair distances; got X of shape (30, 20)",
        ),
        (
            "negative distance",
            {"dissimilarity": "precomputed"},
            negative,
            {},
            "Negative values in data passed to SketchMap",
        ),
        ("too many landmarks", {"n_landmarks": 31}, X, {}, "n_landmarks=31 exceeds"),
        (
            "one landmark",
            {"n_landmarks": 1},
            X,
            {},
            "The 'n_landmarks' parameter of SketchMap must be an int in the range "
            "[2, inf) or None",
        ),
        (
            "components above landmarks",
            {"n_landmarks": 2, "n_components": 3},
            X,
            {},
            "n_components=3 must not exceed the number of points fitted",
        ),
        (
            "sample_weight length",
            {},
            X,
            {"sample_weight": np.ones(29)},
            r"sample_weight.shape == (29,), expected (30,)!",
        ),
        (
            "negative sample_weight",
            {},
            X,
            {"sample_weight": -np.ones(30)},
            "Negative values in data passed to `sample_weight`",
        ),
        (
            "one weighted sample",
            {},
            X,
            {"sample_weight": np.eye(30)[0]},
            "at least two landmarks a positive weight",
        ),
        (
            "init shape",
            {"init": np.zeros((30, 3))},
            X,
            {},
            "init has shape (30, 3); expected (n_samples, n_components) = (30, 2)",
        ),
        (
            "grid in 3d",
            {"global_optimizer": "grid", "n_components": 3},
            X,
            {},
            "global_optimizer='grid' needs n_components=2, got n_components=3",
        ),
        (
            "grid with a schedule",
            {"global_optimizer": "grid", "mixing_schedule": [1.0, 0.0]},
            X,
            {},
            "global_optimizer='grid' takes mixing_schedule=None or 'auto'",
        ),
        (
            "schedule out of range",
            {"mixing_schedule": [1.0, 2.0]},
            X,
            {},
            "mixing_schedule must hold mixing ratios in [0, 1]",
        ),
        (
            "mixing ratio",
            {"mixing_ratio": 1.5},
            X,
            {},
            "The 'mixing_ratio' parameter of SketchMap must be a float in the range "
            "[0.0, 1.0]. Got 1.5 instead.",
        ),
        (
            "optimizer",
            {"optimizer": "BFGS"},
            X,
            {},
            "The 'optimizer' parameter of SketchMap must be a str among",
        ),
        (
            "negative sigma",
            {"sigma": -1.0},
            X,
            {},
            "The 'sigma' parameter of SketchMap must be a float in the range "
            "(0.0, inf) or None. Got -1.0 instead.",
        ),
    ]


@pytest.mark.parametrize(
    ("params", "X", "fit_params", "message"),
    [case[1:] for case in bad_inputs()],
    ids=[case[0] for case in bad_inputs()],
)
def test_bad_input_is_refused_with_a_clear_message(params, X, fit_params, message):
    with pytest.raises(ValueError, match=_literal(message)):
        SketchMap(**{**FAST, **params}).fit(X, **fit_params)


def test_transform_checks_its_input(soap, landmark_fit):
    with pytest.raises(NotFittedError):
        SketchMap().transform(soap)
    with pytest.raises(
        ValueError, match="X has 3 features, but SketchMap is expecting"
    ):
        landmark_fit.transform(soap[:, :3])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        landmark_fit.transform(np.full((2, 10), np.nan))
    precomputed = SketchMap(n_landmarks=20, dissimilarity="precomputed", **FAST)
    precomputed.fit(cdist(soap[:60], soap[:60]))
    with pytest.raises(ValueError, match="transform takes the distances to the land"):
        precomputed.transform(cdist(soap[60:70], soap[:60]))
    with pytest.raises(ValueError, match="Negative values in data"):
        precomputed.transform(-np.ones((2, 20)))


def test_init_only_stores_its_arguments():
    model = SketchMap(n_components=-4, optimizer="nonsense", n_landmarks=0)
    assert model.n_components == -4
    assert model.optimizer == "nonsense"
    assert not hasattr(model, "params_")


def _literal(message: str) -> str:
    import re

    return re.escape(message)
