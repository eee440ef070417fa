import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.linear_model import (
    Lasso,
    LinearRegression,
    Ridge,
    RidgeCV,
)
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline

from propmap.decomposition import PCovR
from propmap.exceptions import UncenteredDataWarning
from propmap.preprocessing import StandardFlexibleScaler

REFERENCE = Path(__file__).parents[1] / "data"


def centred_problem(rng, n_samples=60, n_features=8, n_targets=2, noise=0.1):
    X = rng.standard_normal((n_samples, n_features))
    X -= X.mean(axis=0)
    weights = rng.standard_normal((n_features, n_targets))
    Y = X @ weights + noise * rng.standard_normal((n_samples, n_targets))
    Y -= Y.mean(axis=0)
    return X, Y


def same_up_to_column_signs(first, second, atol):
    signs = np.sign(np.sum(first * second, axis=0))
    signs[signs == 0] = 1
    return np.allclose(first, second * signs, atol=atol)


def losses(model, X, Y):
    T = model.transform(X)
    loss_x = np.linalg.norm(X - T @ model.ptx_) ** 2 / np.linalg.norm(X) ** 2
    loss_y = np.linalg.norm(Y - T @ model.pty_) ** 2 / np.linalg.norm(Y) ** 2
    return loss_x, loss_y


# -- the reference's published example


@pytest.fixture(scope="module")
def docstring_case():
    return json.loads((REFERENCE / "pcovr_docstring.json").read_text())


def test_reference_docstring_case(docstring_case):
    X, Y = np.array(docstring_case["X"]), np.array(docstring_case["Y"])
    case = docstring_case["pcovr"]
    with pytest.warns(UncenteredDataWarning, match="largest column mean is 0.5"):
        model = PCovR(**case["params"]).fit(X, Y)
    assert np.allclose(model.predict(X), case["predict"], atol=1e-6)
    # The reference subtracts the training mean in transform (only there); we do not,
    # so that transform, predict and inverse_transform agree for uncentred data.
    assert np.allclose(
        model.transform(X) - model.mean_ @ model.pxt_, case["transform"], atol=1e-6
    )
    assert np.allclose(model.predict(X), model.transform(X) @ model.pty_)


def test_transform_of_training_data_is_the_fitted_latent_space(rng):
    """In sample space T = U Λ^{1/2} exactly, for centred and uncentred X alike."""
    X, Y = centred_problem(rng, n_samples=20, n_features=30)
    X += 3.0
    with pytest.warns(UncenteredDataWarning):
        model = PCovR(mixing=0.3, n_components=4, space="sample").fit(X, Y)
    T = model.transform(X)
    assert np.allclose(T.T @ T, np.diag(model.singular_values_**2), atol=1e-8)
    assert np.allclose(model.predict(X), T @ model.pty_)
    assert np.allclose(model.inverse_transform(T), T @ model.ptx_)


# -- invariants


@pytest.mark.parametrize("space", ["feature", "sample"])
def test_mixing_one_is_pca(rng, space):
    X, Y = centred_problem(rng, n_samples=40, n_features=10)
    model = PCovR(mixing=1.0, n_components=4, space=space).fit(X, Y)
    pca = PCA(n_components=4, svd_solver="full").fit(X)
    assert np.allclose(model.singular_values_, pca.singular_values_)
    T, T_pca = model.transform(X), pca.transform(X)
    assert np.allclose(T @ T.T, T_pca @ T_pca.T, atol=1e-8)
    assert same_up_to_column_signs(T, T_pca, atol=1e-8)


@pytest.mark.parametrize("space", ["feature", "sample"])
def test_mixing_zero_reproduces_the_regressor(rng, space):
    X, Y = centred_problem(rng, n_samples=50, n_features=12, n_targets=3)
    model = PCovR(mixing=0.0, n_components=3, space=space).fit(X, Y)
    ridge = Ridge(alpha=1e-6, fit_intercept=False).fit(X, Y)
    assert np.allclose(model.predict(X), ridge.predict(X), atol=1e-8)


@pytest.mark.parametrize("n_components", [1, 3, 8])
def test_sample_and_feature_space_agree(rng, n_components):
    X, Y = centred_problem(rng, n_samples=30, n_features=8)
    feature = PCovR(mixing=0.4, n_components=n_components, space="feature").fit(X, Y)
    sample = PCovR(mixing=0.4, n_components=n_components, space="sample").fit(X, Y)
    assert same_up_to_column_signs(feature.transform(X), sample.transform(X), 1e-8)
    assert np.allclose(feature.predict(X), sample.predict(X), atol=1e-8)
    assert np.allclose(feature.singular_values_, sample.singular_values_)
    assert np.allclose(
        feature.inverse_transform(feature.transform(X)),
        sample.inverse_transform(sample.transform(X)),
        atol=1e-8,
    )


def test_losses_are_monotone_in_mixing(rng):
    X, Y = centred_problem(rng, n_samples=80, n_features=10, noise=1.0)
    grid = np.linspace(0, 1, 11)
    results = [losses(PCovR(mixing=a, n_components=2).fit(X, Y), X, Y) for a in grid]
    loss_x, loss_y = np.array(results).T
    assert np.all(np.diff(loss_x) <= 1e-10)
    assert np.all(np.diff(loss_y) >= -1e-10)
    assert loss_y[0] < loss_y[-1]
    assert loss_x[-1] < loss_x[0]


def test_full_rank_pca_limit_reconstructs_x(rng):
    X, Y = centred_problem(rng, n_samples=30, n_features=6)
    model = PCovR(mixing=1.0).fit(X, Y)
    assert model.n_components_ == 6
    assert np.allclose(model.inverse_transform(model.transform(X)), X)


def test_explained_variance(rng):
    X, Y = centred_problem(rng, n_samples=30, n_features=6)
    full = PCovR(mixing=0.5).fit(X, Y)
    assert np.isclose(full.explained_variance_ratio_.sum(), 1.0)
    part = PCovR(mixing=0.5, n_components=2).fit(X, Y)
    assert np.allclose(
        part.explained_variance_ratio_, full.explained_variance_ratio_[:2]
    )
    assert np.allclose(part.explained_variance_, part.singular_values_**2 / 29)


def test_fractional_n_components(rng):
    X, Y = centred_problem(rng, n_samples=30, n_features=6)
    full = PCovR(mixing=0.5).fit(X, Y)
    wanted = np.cumsum(full.explained_variance_ratio_)[2] - 1e-3
    model = PCovR(mixing=0.5, n_components=float(wanted)).fit(X, Y)
    assert model.n_components_ == 3
    assert model.transform(X).shape == (30, 3)


# -- regressors


def test_default_regressor_is_exposed_and_matches_ridge(rng):
    X, Y = centred_problem(rng)
    for space in ("feature", "sample"):
        model = PCovR(space=space).fit(X, Y)
        ridge = Ridge(alpha=1e-6, fit_intercept=False, tol=1e-12).fit(X, Y)
        assert isinstance(model.regressor_, Ridge)
        assert np.allclose(model.regressor_.coef_, ridge.coef_, atol=1e-10)
        assert np.allclose(model.regressor_.predict(X), ridge.predict(X), atol=1e-10)
    for targets in (Y[:, :1], Y[:, 0]):  # coef_ and predict shaped as Ridge's own
        model = PCovR().fit(X, targets)
        ridge = Ridge(alpha=1e-6, fit_intercept=False).fit(X, targets)
        assert model.regressor_.coef_.shape == ridge.coef_.shape
        assert model.regressor_.predict(X).shape == ridge.predict(X).shape


@pytest.mark.parametrize(
    "regressor",
    [
        Ridge(alpha=1.0, fit_intercept=False),
        Ridge(alpha=0.5),
        LinearRegression(fit_intercept=False),
        RidgeCV(alphas=[0.1, 1.0, 10.0], fit_intercept=False),
        Lasso(alpha=0.01),
    ],
    ids=lambda r: repr(r),
)
@pytest.mark.parametrize("space", ["feature", "sample"])
def test_any_linear_regressor(rng, regressor, space):
    X, Y = centred_problem(rng, n_samples=40, n_features=6, n_targets=1)
    y = Y[:, 0]
    model = PCovR(mixing=0.0, n_components=1, space=space, regressor=regressor)
    model.fit(X, y)
    fitted = regressor.__class__(**regressor.get_params()).fit(X, y)
    # α = 0 with one component: T spans XW, and Y is regressed on T
    direction = X @ fitted.coef_
    expected = direction * (direction @ y) / (direction @ direction)
    assert np.allclose(model.predict(X), expected, atol=1e-6)
    assert np.allclose(model.regressor_.coef_, fitted.coef_)
    assert model.predict(X).shape == (40,)


def test_fitted_regressor_is_used_not_refitted(rng):
    X, Y = centred_problem(rng)
    prefit = Ridge(alpha=10.0, fit_intercept=False).fit(X[:20], Y[:20])
    model = PCovR(mixing=0.0, n_components=2, regressor=prefit).fit(X, Y)
    assert np.allclose(model.regressor_.coef_, prefit.coef_)
    assert model.regressor_ is not prefit
    # α = 0 with as many components as targets: Y regressed on the span of X Wᵀ
    span = X @ prefit.coef_.T
    expected = span @ np.linalg.lstsq(span, Y, rcond=None)[0]
    assert np.allclose(model.predict(X), expected, atol=1e-8)


def test_precomputed_regressor(rng):
    X, Y = centred_problem(rng)
    Yhat = Ridge(alpha=1e-6, fit_intercept=False).fit(X, Y).predict(X)
    for space in ("feature", "sample"):
        reference = PCovR(mixing=0.3, n_components=3, space=space).fit(X, Yhat)
        model = PCovR(mixing=0.3, n_components=3, space=space, regressor="precomputed")
        model.fit(X, Yhat)
        assert not hasattr(model, "regressor_")
        assert np.allclose(model.predict(X), reference.predict(X), atol=1e-8)


def test_precomputed_weights_are_used_in_sample_space(rng):
    X, Y = centred_problem(rng, n_samples=10, n_features=20)
    weights = np.linalg.lstsq(X, Y, rcond=None)[0]
    given = PCovR(mixing=0.5, n_components=2, space="sample", regressor="precomputed")
    given.fit(X, Y, W=weights)
    derived = PCovR(mixing=0.5, n_components=2, space="sample", regressor="precomputed")
    derived.fit(X, Y)
    assert np.allclose(given.pxt_, derived.pxt_, atol=1e-8)


def test_user_regressor_is_not_modified(rng):
    X, Y = centred_problem(rng)
    regressor = Ridge(alpha=2.0)
    PCovR(regressor=regressor).fit(X, Y)
    assert not hasattr(regressor, "coef_")


# -- inputs beyond the reference: sparse, float32, pandas


@pytest.mark.parametrize("space", ["feature", "sample"])
def test_sparse_input_gives_the_dense_result(rng, space):
    X, Y = centred_problem(rng, n_samples=40, n_features=15)
    X[np.abs(X) < 1.0] = 0.0
    X -= X.mean(axis=0)
    X[np.abs(X) < 0.3] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)
        dense = PCovR(mixing=0.5, n_components=3, space=space).fit(X, Y)
        sparse = PCovR(mixing=0.5, n_components=3, space=space).fit(sp.csr_array(X), Y)
    assert np.allclose(dense.pxt_, sparse.pxt_, atol=1e-8)
    assert np.allclose(dense.predict(X), sparse.predict(sp.csr_array(X)), atol=1e-8)
    assert np.allclose(
        dense.transform(X), sparse.transform(sp.csr_matrix(X)), atol=1e-8
    )
    assert np.isclose(dense.score(X, Y), sparse.score(sp.csr_array(X), Y))


@pytest.mark.parametrize("space", ["feature", "sample"])
def test_float32_stays_float32(rng, space):
    # each space on the shapes it is meant for (a rank-deficient XXᵀ would amplify
    # float32 rounding through the nearly unregularised ridge)
    shape = (50, 10) if space == "feature" else (20, 50)
    X, Y = centred_problem(rng, *shape)
    model64 = PCovR(mixing=0.5, n_components=3, space=space).fit(X, Y)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)  # means ~1e-8 in float32
        model32 = PCovR(mixing=0.5, n_components=3, space=space).fit(X32, Y32)
    for output in (
        model32.transform(X32),
        model32.predict(X32),
        model32.inverse_transform(model32.transform(X32)),
        model32.pxt_,
    ):
        assert output.dtype == np.float32
    assert np.allclose(model32.predict(X32), model64.predict(X), atol=1e-4)
    assert same_up_to_column_signs(model32.transform(X32), model64.transform(X), 1e-3)


def test_pandas_output_and_feature_names(rng):
    pd = pytest.importorskip("pandas")
    X, Y = centred_problem(rng, n_features=4)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = PCovR(n_components=2).set_output(transform="pandas").fit(frame, Y)
    latent = model.transform(frame)
    assert list(latent.columns) == ["pcovr0", "pcovr1"]
    assert list(model.get_feature_names_out()) == ["pcovr0", "pcovr1"]
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]


def test_whiten(rng):
    X, Y = centred_problem(rng)
    model = PCovR(mixing=0.5, n_components=3, whiten=True).fit(X, Y)
    T = model.transform(X)
    assert np.allclose(T.T @ T / (X.shape[0] - 1), np.eye(3), atol=1e-8)
    plain = PCovR(mixing=0.5, n_components=3).fit(X, Y)
    assert np.allclose(
        model.inverse_transform(T), plain.inverse_transform(X @ plain.pxt_)
    )
    assert np.allclose(model.predict(T=T), plain.predict(X))


# -- score and model selection


def test_score_is_minus_the_two_relative_losses(rng):
    X, Y = centred_problem(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)
        model = PCovR(mixing=0.5, n_components=2).fit(X[:40], Y[:40])
    loss_x, loss_y = losses(model, X[40:], Y[40:])
    assert np.isclose(model.score(X[40:], Y[40:]), -(loss_x + loss_y))
    T = model.transform(X[40:])
    assert np.isclose(model.score(X[40:], Y[40:], T=T), -(loss_x + loss_y))


def test_grid_search_over_mixing(rng):
    X, Y = centred_problem(rng, n_samples=90)
    search = GridSearchCV(
        make_pipeline(StandardFlexibleScaler(), PCovR(n_components=2)),
        {"pcovr__mixing": [0.0, 0.5, 1.0]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)  # folds are not centred
        search.fit(X, Y)
    assert search.best_params_["pcovr__mixing"] in (0.0, 0.5, 1.0)
    assert search.predict(X).shape == Y.shape


# -- property-based


@settings(max_examples=40, deadline=None)
@given(
    n_samples=st.integers(3, 25),
    n_features=st.integers(1, 25),
    n_targets=st.integers(1, 3),
    # 0 < α < 1e-6 leaves the components beyond the targets' with eigenvalues
    # α g ~ tol, where rounding of O(1) entries (1e-16) is a relative error of
    # 1e-4 in either space: they agree there only to that (found at α = 1e-12)
    mixing=st.one_of(st.just(0.0), st.floats(1e-6, 1.0)),
    seed=st.integers(0, 2**16),
)
def test_spaces_agree_for_any_shape_and_mixing(
    n_samples, n_features, n_targets, mixing, seed
):
    rng = np.random.default_rng(seed)
    X, Y = centred_problem(rng, n_samples, n_features, n_targets)
    n_components = max(1, min(n_samples, n_features) // 2)
    kwargs = {"mixing": mixing, "n_components": n_components}
    feature = PCovR(space="feature", **kwargs).fit(X, Y)
    sample = PCovR(space="sample", **kwargs).fit(X, Y)
    scale = max(1.0, np.abs(Y).max())
    assert np.all(np.isfinite(feature.transform(X)))
    assert np.allclose(feature.predict(X), sample.predict(X), atol=1e-6 * scale)
    assert np.allclose(feature.singular_values_, sample.singular_values_, atol=1e-6)
    T = sample.transform(X)
    gram = T.T @ T
    assert np.allclose(gram, np.diag(np.diag(gram)), atol=1e-6 * max(1, gram.max()))


# -- bad input


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mixing": 1.5}, "'mixing' parameter of PCovR must be a float in the range"),
        ({"mixing": -0.1}, "'mixing' parameter"),
        ({"n_components": 0}, "'n_components' parameter"),
        ({"space": "kernel"}, "'space' parameter"),
        ({"svd_solver": "eig"}, "'svd_solver' parameter"),
        ({"tol": -1.0}, "'tol' parameter"),
        ({"regressor": "ridge"}, "'regressor' parameter"),
    ],
)
def test_bad_parameters(rng, params, message):
    X, Y = centred_problem(rng)
    with pytest.raises(ValueError, match=message):
        PCovR(**params).fit(X, Y)


def test_too_many_components(rng):
    X, Y = centred_problem(rng, n_samples=10, n_features=4)
    with pytest.raises(ValueError, match=r"n_components=5 must be between 1 and .*=4"):
        PCovR(n_components=5).fit(X, Y)
    with pytest.raises(ValueError, match="strictly less than"):
        PCovR(n_components=4, svd_solver="arpack").fit(X, Y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(rng, bad):
    X, Y = centred_problem(rng)
    X[3, 2] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        PCovR().fit(X, Y)
    X, Y = centred_problem(rng)
    Y[0, 0] = bad
    with pytest.raises(ValueError, match="Input y contains"):
        PCovR().fit(X, Y)


def test_shape_errors(rng):
    X, Y = centred_problem(rng)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PCovR().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="Expected 2D array"):
        PCovR().fit(X[:, 0], Y)
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        PCovR().fit(X[:1], Y[:1])
    model = PCovR(n_components=2).fit(X, Y)
    with pytest.raises(ValueError, match="X has 7 features, but PCovR is expecting 8"):
        model.transform(X[:, :7])
    with pytest.raises(ValueError, match="X has 7 features"):
        model.predict(X[:, :7])
    with pytest.raises(ValueError, match="T has 3 columns, but this model has"):
        model.inverse_transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="Either X or T must be given"):
        model.predict()


def test_regressor_errors(rng):
    X, Y = centred_problem(rng)
    with pytest.raises(ValueError, match="must be a linear model that exposes coef_"):
        PCovR(regressor=KNeighborsRegressor()).fit(X, Y)
    prefit = Ridge().fit(X[:, :5], Y)
    with pytest.raises(ValueError, match="expects 5 features but X has 8"):
        PCovR(regressor=prefit).fit(X, Y)
    prefit = Ridge().fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="does not match 8 features and 2 targets"):
        PCovR(regressor=prefit).fit(X, Y)
    with pytest.raises(ValueError, match="W can only be given with"):
        PCovR().fit(X, Y, W=np.zeros((8, 2)))


def test_uncentred_warning_only_when_uncentred(rng):
    X, Y = centred_problem(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PCovR().fit(X, Y)
    with pytest.warns(UncenteredDataWarning, match="StandardFlexibleScaler"):
        PCovR().fit(X + 1.0, Y)


@pytest.mark.parametrize("space", ["feature", "sample"])
def test_constant_and_rank_deficient_x(rng, space):
    X, Y = centred_problem(rng, n_samples=30, n_features=6)
    X[:, 2] = 0.0  # a constant (centred) column
    X[:, 5] = X[:, 0] + X[:, 1]  # and a dependent one: rank 4
    model = PCovR(mixing=0.5, space=space).fit(X, Y)
    T = model.transform(X)
    assert np.all(np.isfinite(T))
    assert np.all(np.isfinite(model.predict(X)))
    # the null directions carry nothing
    assert np.allclose(model.singular_values_[4:], 0.0, atol=1e-6)
    ridge = Ridge(alpha=1e-6, fit_intercept=False).fit(X, Y)
    assert np.allclose(model.regressor_.predict(X), ridge.predict(X), atol=1e-6)


def test_all_zero_x_gives_zero_latent_space(rng):
    _, Y = centred_problem(rng)
    model = PCovR(mixing=0.5, n_components=2).fit(np.zeros((60, 8)), Y)
    assert np.allclose(model.transform(np.ones((3, 8))), 0.0)
    assert np.allclose(model.predict(np.ones((3, 8))), 0.0)


# -- parity with the reference (scikit-matter)

PARITY_SHAPES = {"feature": (120, 12), "sample": (15, 40), "auto-large": (700, 30)}


def parity_regressors():
    return {
        "default": None,
        "ridge": Ridge(alpha=1.0, fit_intercept=False),
        "ridge-intercept": Ridge(alpha=0.1),
        "linear": LinearRegression(),
        "ridgecv": RidgeCV(alphas=[0.01, 0.1, 1.0]),
        "precomputed": "precomputed",
    }


@pytest.mark.parity
@pytest.mark.parametrize("shape_name", list(PARITY_SHAPES))
@pytest.mark.parametrize("solver", ["full", "arpack", "randomized"])
@pytest.mark.parametrize("regressor_name", list(parity_regressors()))
@pytest.mark.parametrize("n_targets", [1, 3])
def test_parity_with_reference(skmatter, shape_name, solver, regressor_name, n_targets):
    from skmatter.decomposition import PCovR as ReferencePCovR

    rng = np.random.default_rng(7)
    n_samples, n_features = PARITY_SHAPES[shape_name]
    X, Y = centred_problem(rng, n_samples, n_features, n_targets, noise=0.5)
    if n_targets == 1:
        Y = Y[:, 0]
    n_components = 3
    settings_ = {
        "mixing": 0.3,
        "n_components": n_components,
        "svd_solver": solver,
        "random_state": 0,
        "iterated_power": 7,
    }
    # each gets its own copy of the regressor
    ours = PCovR(regressor=parity_regressors()[regressor_name], **settings_).fit(X, Y)
    theirs = ReferencePCovR(regressor=parity_regressors()[regressor_name], **settings_)
    if regressor_name == "precomputed" and Y.ndim == 1 and ours.space_ == "sample":
        # the reference crashes on a 1-D precomputed Ŷ in sample space; we do not
        with pytest.raises(ValueError, match="mismatch in its core dimension"):
            theirs.fit(X, Y)
        Y = Y[:, None]
        ours = PCovR(regressor="precomputed", **settings_).fit(X, Y)
    theirs.fit(X, Y)
    assert ours.space_ == theirs.space_
    assert np.allclose(ours.singular_values_, theirs.singular_values_, rtol=1e-8)
    scale = np.abs(theirs.transform(X)).max()
    T_ours, T_theirs = ours.transform(X), theirs.transform(X)
    if solver == "full":  # same sign convention, not only the same subspace
        assert np.allclose(T_ours, T_theirs, atol=1e-8 * scale)
    assert same_up_to_column_signs(T_ours, T_theirs, atol=1e-8 * scale)
    prediction_scale = np.abs(theirs.predict(X)).max()
    assert np.allclose(ours.predict(X), theirs.predict(X), atol=1e-8 * prediction_scale)
    assert np.isclose(ours.score(X, Y), theirs.score(X, Y), rtol=1e-8)
    assert np.allclose(
        ours.inverse_transform(T_ours),
        theirs.inverse_transform(T_theirs),
        atol=1e-8 * np.abs(X).max(),
    )


@pytest.mark.parity
def test_parity_with_reference_for_all_components(skmatter):
    from skmatter.decomposition import PCovR as ReferencePCovR

    rng = np.random.default_rng(3)
    for shape in ((60, 7), (7, 60)):
        X, Y = centred_problem(rng, *shape)
        ours = PCovR(mixing=0.5).fit(X, Y)
        theirs = ReferencePCovR(mixing=0.5).fit(X, Y)
        assert ours.n_components_ == theirs.n_components_ == 7
        assert np.allclose(ours.predict(X), theirs.predict(X), atol=1e-8)
        assert np.allclose(ours.pxy_, theirs.pxy_, atol=1e-8)
