"""Kernel PCovR, dense and sparse (Nyström)."""

import json
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import KernelPCA
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from propmap import sample_selection
from propmap.decomposition import KernelPCovR, PCovR, SparseKernelPCovR
from propmap.preprocessing import KernelNormalizer, StandardFlexibleScaler

REFERENCE = Path(__file__).parents[1] / "data"
PSD_KERNELS = ["linear", "rbf", "poly", "cosine", "laplacian"]


def smooth_problem(rng, n_samples=80, n_features=4, n_targets=2):
    X = rng.standard_normal((n_samples, n_features))
    X -= X.mean(axis=0)
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] ** 2, X[:, 2] * X[:, 3]])
    Y = Y[:, :n_targets] + 0.05 * rng.standard_normal((n_samples, n_targets))
    Y -= Y.mean(axis=0)
    return X, Y


def reference_class(skmatter):
    from skmatter.decomposition import KernelPCovR as Reference

    return Reference


def same_up_to_column_signs(first, second, atol):
    signs = np.sign(np.sum(first * second, axis=0))
    signs[signs == 0] = 1
    return np.allclose(first, second * signs, atol=atol)


# -- the reference's published example


def test_reference_docstring_case():
    case = json.loads((REFERENCE / "pcovr_docstring.json").read_text())
    X = StandardFlexibleScaler().fit_transform(np.array(case["X"]))
    Y = StandardFlexibleScaler(column_wise=True).fit_transform(np.array(case["Y"]))
    expected = case["kernel_pcovr"]
    model = KernelPCovR(mixing=0.1, n_components=2, kernel="rbf", gamma=1).fit(X, Y)
    np.testing.assert_allclose(model.transform(X), expected["transform"], atol=1e-6)
    np.testing.assert_allclose(model.predict(X), expected["predict"], atol=1e-6)
    assert model.score(X, Y) == pytest.approx(expected["score"], abs=1e-5)


# -- parity with the reference


@pytest.mark.parity
@pytest.mark.parametrize("kernel", PSD_KERNELS)
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize(
    ("solver", "n_components"),
    [("full", 3), ("arpack", 3), ("randomized", 3), ("full", None)],
)
@pytest.mark.parametrize("n_targets", [1, 2])
def test_matches_reference(
    skmatter, rng, kernel, center, solver, n_components, n_targets
):
    X, Y = smooth_problem(rng, n_targets=n_targets)
    if n_targets == 1:
        Y = Y[:, 0]
    params = {
        "mixing": 0.3,
        "n_components": n_components,
        "kernel": kernel,
        "gamma": 0.2,
        "center": center,
        "svd_solver": solver,
        "random_state": 0,
        "fit_inverse_transform": True,
    }
    ours = KernelPCovR(**params).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference's own centring warnings
        reference = reference_class(skmatter)(**params).fit(X, Y)
    new = rng.standard_normal((15, X.shape[1]))
    assert same_up_to_column_signs(
        ours.transform(new), reference.transform(new), atol=1e-8
    )
    np.testing.assert_allclose(ours.predict(new), reference.predict(new), atol=1e-8)
    np.testing.assert_allclose(
        ours.inverse_transform(ours.transform(new)),
        reference.inverse_transform(reference.transform(new)),
        atol=1e-8,
    )
    # on the training set the reference's score is right
    assert ours.score(X, Y) == pytest.approx(reference.score(X, Y), abs=1e-9)


@pytest.mark.parity
def test_reference_score_fails_where_ours_works(skmatter, rng):
    X, Y = smooth_problem(rng, n_samples=60)
    params = {"mixing": 0.5, "n_components": 2, "kernel": "rbf", "gamma": 0.3}
    reference = reference_class(skmatter)(**params).fit(X, Y)
    with pytest.raises(ValueError, match="mismatch"):
        reference.score(X[:20], Y[:20])
    assert np.isfinite(KernelPCovR(**params).fit(X, Y).score(X[:20], Y[:20]))


# -- what the model is


def test_linear_kernel_without_centring_is_sample_space_pcovr(rng):
    X, Y = smooth_problem(rng, n_samples=30, n_features=8)
    kernel_model = KernelPCovR(mixing=0.4, n_components=3).fit(X, Y)
    linear_model = PCovR(
        mixing=0.4,
        n_components=3,
        space="sample",
        regressor=Ridge(alpha=1.0, fit_intercept=False),
    ).fit(X, Y)
    new = rng.standard_normal((10, 8))
    assert same_up_to_column_signs(
        kernel_model.transform(new), linear_model.transform(new), atol=1e-10
    )
    np.testing.assert_allclose(
        kernel_model.predict(new), linear_model.predict(new), atol=1e-10
    )


def test_mixing_one_is_kernel_pca(rng):
    X, Y = smooth_problem(rng)
    model = KernelPCovR(mixing=1.0, n_components=4, kernel="rbf", gamma=0.3).fit(X, Y)
    pca = KernelPCA(n_components=4, kernel="precomputed").fit(rbf_kernel(X, gamma=0.3))
    # KernelPCA centres the kernel; without centring ours does not: compare centred
    centred = KernelPCovR(
        mixing=1.0, n_components=4, kernel="rbf", gamma=0.3, center=True
    ).fit(X, Y)
    scale = centred.centerer_.scale_
    np.testing.assert_allclose(
        centred.singular_values_**2 * scale, pca.eigenvalues_, rtol=1e-9
    )
    assert same_up_to_column_signs(
        centred.transform(X) * np.sqrt(scale),
        pca.transform(rbf_kernel(X, gamma=0.3)),
        atol=1e-8,
    )
    assert model.n_components_ == 4


def test_training_latent_is_orthogonal_with_eigenvalue_norms(rng):
    X, Y = smooth_problem(rng)
    model = KernelPCovR(mixing=0.5, n_components=5, kernel="rbf", gamma=0.3).fit(X, Y)
    T = model.transform(X)
    np.testing.assert_allclose(T.T @ T, np.diag(model.singular_values_**2), atol=1e-9)


def test_mixing_zero_predicts_the_projection_on_the_ridge_predictions(rng):
    """α = 0 spans the latent space by Ŷ; predictions are Y projected onto it."""
    X, Y = smooth_problem(rng, n_samples=40)
    model = KernelPCovR(mixing=0.0, kernel="rbf", gamma=0.3).fit(X, Y)
    ridge = KernelRidge(alpha=1.0, kernel="rbf", gamma=0.3).fit(X, Y).predict(X)
    projected = ridge @ np.linalg.lstsq(ridge, Y, rcond=None)[0]
    np.testing.assert_allclose(model.predict(X), projected, atol=1e-9)
    assert model.n_components_ == 40
    assert np.sum(model.singular_values_ > 1e-6) == 2


def test_losses_move_monotonically_with_mixing(rng):
    X, Y = smooth_problem(rng)
    previous = None
    for mixing in np.linspace(0.0, 1.0, 6):
        model = KernelPCovR(
            mixing=mixing, n_components=2, kernel="rbf", gamma=0.3, center=True
        ).fit(X, Y)
        prediction_loss = np.sum((Y - model.predict(X)) ** 2)
        if previous is not None:
            assert prediction_loss >= previous - 1e-9
        previous = prediction_loss


@pytest.mark.parametrize(
    ("mixing", "solver"), [(0.5, "full"), (0.001, "full"), (0.5, "arpack")]
)
def test_score_matches_an_explicit_feature_space_computation(rng, mixing, solver):
    """With a linear kernel φ(x) = x: the reconstruction term is that of the
    least-squares map from the training latent coordinates to the features."""
    X, Y = smooth_problem(rng, n_samples=50, n_features=6)
    model = KernelPCovR(mixing=mixing, n_components=2, svd_solver=solver).fit(X, Y)
    validation = rng.standard_normal((17, 6))
    targets = rng.standard_normal((17, 2))
    to_features = np.linalg.lstsq(model.transform(X), X, rcond=None)[0]
    residual = validation - model.transform(validation) @ to_features
    loss_x = np.sum(residual**2) / np.sum(validation**2)
    loss_y = np.sum((targets - model.predict(validation)) ** 2) / np.sum(targets**2)
    assert model.score(validation, targets) == pytest.approx(-(loss_x + loss_y))


def test_score_with_centring_matches_centring_by_hand(rng):
    X, Y = smooth_problem(rng, n_samples=50, n_features=6)
    model = KernelPCovR(mixing=0.5, n_components=3, center=True).fit(X, Y)
    validation, targets = rng.standard_normal((9, 6)), rng.standard_normal((9, 2))
    scale = np.sqrt(model.centerer_.scale_)
    features = (X - X.mean(axis=0)) / scale
    centred = (validation - X.mean(axis=0)) / scale
    to_features = np.linalg.lstsq(model.transform(X), features, rcond=None)[0]
    residual = centred - model.transform(validation) @ to_features
    loss_x = np.sum(residual**2) / np.sum(centred**2)
    loss_y = np.sum((targets - model.predict(validation)) ** 2) / np.sum(targets**2)
    assert model.score(validation, targets) == pytest.approx(-(loss_x + loss_y))


def test_callable_and_precomputed_kernels_match_the_named_one(rng):
    X, Y = smooth_problem(rng)
    new = rng.standard_normal((12, X.shape[1]))
    named = KernelPCovR(mixing=0.5, n_components=3, kernel="rbf", gamma=0.4).fit(X, Y)

    def kernel(a, b, gamma):
        return np.exp(-gamma * np.sum((a - b) ** 2))

    called = KernelPCovR(
        mixing=0.5, n_components=3, kernel=kernel, kernel_params={"gamma": 0.4}
    ).fit(X, Y)
    pre = KernelPCovR(mixing=0.5, n_components=3, kernel="precomputed").fit(
        rbf_kernel(X, gamma=0.4), Y
    )
    for other, data in ((called, new), (pre, rbf_kernel(new, X, gamma=0.4))):
        np.testing.assert_allclose(other.predict(data), named.predict(new), atol=1e-10)
        assert same_up_to_column_signs(
            other.transform(data), named.transform(new), atol=1e-10
        )


def test_precomputed_kernel_is_not_modified(rng):
    X, Y = smooth_problem(rng)
    K = rbf_kernel(X, gamma=0.4)
    original = K.copy()
    KernelPCovR(kernel="precomputed", center=True, n_components=2).fit(K, Y)
    np.testing.assert_array_equal(K, original)


def test_centring_matches_kernel_normalizer(rng):
    X, Y = smooth_problem(rng)
    K = KernelNormalizer().fit_transform(rbf_kernel(X, gamma=0.4))
    on_normalised = KernelPCovR(kernel="precomputed", n_components=3).fit(K, Y)
    centred = KernelPCovR(kernel="rbf", gamma=0.4, center=True, n_components=3).fit(
        X, Y
    )
    np.testing.assert_allclose(on_normalised.predict(K), centred.predict(X), atol=1e-10)


# -- regressors


def test_fitted_and_unfitted_regressors_agree(rng):
    X, Y = smooth_problem(rng)
    params = {"mixing": 0.5, "n_components": 3, "kernel": "rbf", "gamma": 0.3}
    ridge = KernelRidge(alpha=0.1, kernel="rbf", gamma=0.3)
    unfitted = KernelPCovR(regressor=ridge, **params).fit(X, Y)
    fitted = KernelPCovR(regressor=ridge.fit(X, Y), **params).fit(X, Y)
    np.testing.assert_allclose(unfitted.predict(X), fitted.predict(X), atol=1e-9)
    np.testing.assert_allclose(
        unfitted.regressor_.dual_coef_, ridge.dual_coef_, atol=1e-9
    )


def test_precomputed_targets_with_and_without_weights(rng):
    X, Y = smooth_problem(rng)
    params = {"mixing": 0.5, "n_components": 3, "kernel": "rbf", "gamma": 0.3}
    ridge = KernelRidge(alpha=1.0, kernel="rbf", gamma=0.3).fit(X, Y)
    default = KernelPCovR(**params).fit(X, Y)
    given = KernelPCovR(regressor="precomputed", **params).fit(
        X, ridge.predict(X), W=ridge.dual_coef_
    )
    assert same_up_to_column_signs(given.transform(X), default.transform(X), atol=1e-9)
    solved = KernelPCovR(regressor="precomputed", **params).fit(X, ridge.predict(X))
    assert same_up_to_column_signs(solved.transform(X), default.transform(X), atol=1e-6)


def test_per_target_penalties(rng):
    X, Y = smooth_problem(rng)
    ridge = KernelRidge(alpha=[0.1, 1.0], kernel="rbf", gamma=0.3)
    model = KernelPCovR(regressor=ridge, kernel="rbf", gamma=0.3).fit(X, Y)
    expected = KernelRidge(alpha=[0.1, 1.0], kernel="rbf", gamma=0.3).fit(X, Y)
    np.testing.assert_allclose(
        model.regressor_.dual_coef_, expected.dual_coef_, atol=1e-9
    )


def test_indefinite_kernel_warns_and_falls_back(rng):
    X, Y = smooth_problem(rng)
    with pytest.warns(UserWarning, match="not positive definite"):
        KernelPCovR(kernel="sigmoid", gamma=2.0, coef0=-3.0, n_components=2).fit(X, Y)


def test_grid_search_over_mixing_and_gamma(rng):
    X, Y = smooth_problem(rng, n_samples=60)
    search = GridSearchCV(
        KernelPCovR(n_components=2, kernel="rbf"),
        {"mixing": [0.1, 0.9], "gamma": [0.1, 1.0]},
        cv=3,
    ).fit(X, Y)
    assert set(search.best_params_) == {"mixing", "gamma"}


# -- memory


def test_fit_holds_at_most_two_kernel_sized_arrays(rng):
    n_samples = 600
    X = rng.standard_normal((n_samples, 5))
    y = np.sin(X[:, 0])
    kernel_bytes = 8 * n_samples**2
    tracemalloc.start()
    try:
        KernelPCovR(n_components=2, kernel="rbf", gamma=0.2).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * kernel_bytes, peak / kernel_bytes


def test_sparse_fit_memory_does_not_grow_with_n_squared(rng):
    n_samples, n_active = 4000, 40
    X = rng.standard_normal((n_samples, 5))
    y = np.sin(X[:, 0])
    tracemalloc.start()
    try:
        SparseKernelPCovR(n_active=n_active, active="random", kernel="rbf").fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one n x n array would be 128 MB; an n x m block is 1.3 MB
    assert peak < 16 * 2**20


# -- bad input


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"gamma": -1.0}, "gamma"),
        ({"gamma": "large"}, "gamma"),
        ({"degree": -2}, "degree"),
        ({"kernel": "gaussian"}, "kernel"),
        ({"kernel_params": [1, 2]}, "kernel_params"),
        ({"mixing": 1.5}, "mixing"),
        ({"regressor": Ridge()}, "regressor"),
    ],
)
def test_bad_parameters(rng, params, message):
    X, Y = smooth_problem(rng)
    with pytest.raises(InvalidParameterError, match=message):
        KernelPCovR(**params).fit(X, Y)


def test_bad_data(rng):
    X, Y = smooth_problem(rng)
    broken = X.copy()
    broken[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KernelPCovR().fit(broken, Y)
    with pytest.raises(ValueError, match="n_components"):
        KernelPCovR(n_components=200).fit(X, Y)
    model = KernelPCovR(n_components=2).fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :2])
    with pytest.raises(ValueError, match="fit_inverse_transform"):
        model.inverse_transform(model.transform(X))
    with pytest.raises(ValueError, match="differ"):
        KernelPCovR(kernel="rbf", regressor=KernelRidge(kernel="linear")).fit(X, Y)
    with pytest.raises(ValueError, match="W can only"):
        KernelPCovR().fit(X, Y, W=np.ones((80, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        KernelPCovR(kernel="poly", degree=3).fit(X * 1e120, Y)


def test_bad_precomputed_kernels(rng):
    X, Y = smooth_problem(rng)
    K = rbf_kernel(X)
    with pytest.raises(ValueError, match="square"):
        KernelPCovR(kernel="precomputed").fit(K[:, :50], Y)
    asymmetric = K.copy()
    asymmetric[0, 1] += 0.5
    with pytest.raises(ValueError, match="not symmetric"):
        KernelPCovR(kernel="precomputed").fit(asymmetric, Y)
    with pytest.raises(ValueError, match="precomputed"):
        KernelPCovR(kernel="precomputed", fit_inverse_transform=True).fit(K, Y)
    model = KernelPCovR(kernel="precomputed", n_components=2).fit(K, Y)
    with pytest.raises(ValueError, match="expecting 80"):
        model.transform(K[:5, :40])
    with pytest.raises(ValueError, match="score needs"):
        model.score(K[:5], Y[:5])


# -- sparse (Nyström) Kernel PCovR


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly"])
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("n_components", [2, 5])
def test_sparse_with_every_point_active_is_dense(rng, kernel, center, n_components):
    X, Y = smooth_problem(rng, n_samples=50, n_features=6)
    if kernel == "linear":  # a full-rank linear kernel needs n <= d
        X = rng.standard_normal((12, 20))
        Y = Y[:12]
    params = {
        "mixing": 0.4,
        "n_components": n_components,
        "kernel": kernel,
        "gamma": 0.1,
        "degree": 2,
        "center": center,
        "svd_solver": "full",
        "fit_inverse_transform": True,
    }
    dense = KernelPCovR(**params).fit(X, Y)
    sparse = SparseKernelPCovR(n_active=X.shape[0], alpha=1.0, **params).fit(X, Y)
    new = rng.standard_normal((9, X.shape[1]))
    assert same_up_to_column_signs(
        sparse.transform(new), dense.transform(new), atol=1e-7
    )
    np.testing.assert_allclose(sparse.predict(new), dense.predict(new), atol=1e-7)
    np.testing.assert_allclose(
        sparse.inverse_transform(sparse.transform(new)),
        dense.inverse_transform(dense.transform(new)),
        atol=1e-7,
    )
    assert sparse.score(X, Y) == pytest.approx(dense.score(X, Y), abs=1e-8)


def test_sparse_active_point_choices(rng):
    X, Y = smooth_problem(rng, n_samples=120)
    fps = SparseKernelPCovR(n_active=15, kernel="rbf").fit(X, Y)
    np.testing.assert_array_equal(
        fps.active_indices_,
        sample_selection.FPS(n_to_select=15).fit(X).selected_idx_,
    )
    cur = SparseKernelPCovR(n_active=15, active="cur", kernel="rbf").fit(X, Y)
    np.testing.assert_array_equal(
        cur.active_indices_,
        sample_selection.CUR(n_to_select=15).fit(X).selected_idx_,
    )
    first = SparseKernelPCovR(n_active=15, active="random", random_state=3).fit(X, Y)
    again = SparseKernelPCovR(n_active=15, active="random", random_state=3).fit(X, Y)
    np.testing.assert_array_equal(first.active_indices_, again.active_indices_)
    assert np.unique(first.active_indices_).size == 15
    given = SparseKernelPCovR(active=[5, 1, 9], kernel="rbf").fit(X, Y)
    np.testing.assert_array_equal(given.active_indices_, [5, 1, 9])
    assert given.n_active_ == 3
    every = SparseKernelPCovR(n_active=500).fit(X, Y)
    assert every.n_active_ == 120


def test_sparse_approaches_dense_as_active_points_grow(rng):
    X = rng.standard_normal((400, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    y -= y.mean()
    X_test = rng.standard_normal((200, 3))
    params = {
        "mixing": 0.2,
        "n_components": 3,
        "kernel": "rbf",
        "gamma": 0.5,
        "center": True,
    }
    dense = KernelPCovR(
        regressor=KernelRidge(alpha=1e-2, kernel="rbf", gamma=0.5), **params
    ).fit(X, y)
    errors = []
    for n_active in (10, 40, 300):
        sparse = SparseKernelPCovR(n_active=n_active, alpha=1e-2, **params).fit(X, y)
        errors.append(np.abs(sparse.predict(X_test) - dense.predict(X_test)).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01


@pytest.mark.parametrize(
    ("active", "message"),
    [
        ([0, 0, 3], "repeat"),
        ([0, 500], "must be in"),
        ([0.5, 1.5], "integer"),
    ],
)
def test_sparse_bad_active_points(rng, active, message):
    X, Y = smooth_problem(rng)
    with pytest.raises(ValueError, match=message):
        SparseKernelPCovR(active=active).fit(X, Y)


def test_sparse_bad_parameters(rng):
    X, Y = smooth_problem(rng)
    with pytest.raises(InvalidParameterError, match="kernel"):
        SparseKernelPCovR(kernel="precomputed").fit(X, Y)
    with pytest.raises(InvalidParameterError, match="active"):
        SparseKernelPCovR(active="kmeans").fit(X, Y)
    with pytest.raises(InvalidParameterError, match="alpha"):
        SparseKernelPCovR(alpha=-1.0).fit(X, Y)
    model = SparseKernelPCovR(n_active=10).fit(X, Y)
    with pytest.raises(ValueError, match="fit_inverse_transform"):
        model.inverse_transform(model.transform(X))


def test_refit_leaves_nothing_of_the_previous_fit(rng):
    X, Y = smooth_problem(rng)
    model = KernelPCovR(center=True, fit_inverse_transform=True, n_components=2)
    model.fit(X, Y)
    model.set_params(center=False, fit_inverse_transform=False, regressor="precomputed")
    model.fit(X, Y)
    for name in ("centerer_", "ptx_", "regressor_"):
        assert not hasattr(model, name)
    sparse = SparseKernelPCovR(n_active=10, fit_inverse_transform=True).fit(X, Y)
    sparse.set_params(fit_inverse_transform=False).fit(X, Y)
    assert not hasattr(sparse, "ptx_")


def test_auto_solver_choice(rng):
    X = rng.standard_normal((600, 3))
    y = np.sin(X[:, 0])
    chosen = {
        n_components: KernelPCovR(n_components=n_components, kernel="rbf")
        .fit(X, y)
        .fit_svd_solver_
        for n_components in (None, 2, 50, 590)
    }
    assert chosen == {None: "full", 2: "arpack", 50: "randomized", 590: "full"}
    small = KernelPCovR(n_components=2).fit(X[:100], y[:100])
    assert small.fit_svd_solver_ == "full"


def test_fit_with_every_component_stays_lean(rng):
    n_samples = 500
    X = rng.standard_normal((n_samples, 4))
    y = np.sin(X[:, 0])
    tracemalloc.start()
    try:
        KernelPCovR(kernel="rbf", gamma=0.2).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # kernel, K~ and the eigensolver's workspace; pkt_, T and T G⁺ stay
    assert peak < 5.5 * 8 * n_samples**2


def test_sparse_transform_predict_gives_the_full_nystroem_ridge():
    """SparseKernelPCovR's ``ridge_coef_`` is kernel ridge regression on its
    centred, scaled Nyström features; ``transform_predict`` gives it with the
    latent coordinates and the prediction through them."""
    from propmap.decomposition import SparseKernelPCovR

    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] ** 2])
    Y -= Y.mean(axis=0)
    model = SparseKernelPCovR(
        n_components=2, n_active=20, kernel="rbf", gamma=0.5, alpha=1e-2, center=True
    ).fit(X, Y)
    every = model.transform_predict(X)
    np.testing.assert_allclose(every.latent, model.transform(X), atol=1e-10)
    np.testing.assert_allclose(every.predicted, model.predict(X), atol=1e-10)
    # the features by hand: (k(x, M) − k̄) U Λ^{-1/2} / √s
    from sklearn.metrics.pairwise import rbf_kernel

    active = rbf_kernel(model.X_active_, gamma=0.5)
    values, vectors = np.linalg.eigh(active)
    kept = values > values[-1] * 20 * np.finfo(float).eps
    features = (rbf_kernel(X, model.X_active_, gamma=0.5) - model.kernel_mean_) @ (
        vectors[:, kept] / np.sqrt(values[kept])
    )
    features /= np.sqrt(model.scale_)
    weights = np.linalg.solve(
        features.T @ features + 1e-2 * np.eye(features.shape[1]), features.T @ Y
    )
    np.testing.assert_allclose(every.regressor, features @ weights, atol=1e-6)
    single = SparseKernelPCovR(n_active=20, kernel="rbf", gamma=0.5, center=True)
    assert single.fit(X, Y[:, 0]).transform_predict(X).regressor.shape == (120,)
