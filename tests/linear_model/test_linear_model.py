"""OrthogonalRegression and Ridge2FoldCV: the maths, parity with scikit-matter
where it is right, our fixes where it is wrong, and bad input."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge

from propmap.linear_model import OrthogonalRegression, Ridge2FoldCV


@pytest.fixture
def data(rng):
    X = rng.standard_normal((80, 6))
    Y = X @ rng.standard_normal((6, 2)) + 0.1 * rng.standard_normal((80, 2))
    return X, Y


# -- OrthogonalRegression


@pytest.mark.parametrize("projector", [True, False])
def test_orthogonal_regression_recovers_a_rotation(rng, projector):
    X = rng.standard_normal((60, 4))
    rotation = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    model = OrthogonalRegression(use_orthogonal_projector=projector).fit(
        X, X @ rotation
    )
    np.testing.assert_allclose(model.coef_.T, rotation, atol=1e-12)
    np.testing.assert_allclose(model.predict(X), X @ rotation, atol=1e-12)


def test_orthogonal_weights_are_orthogonal(data):
    X, Y = data
    weights = OrthogonalRegression().fit(X, Y).coef_.T  # 6 x 2
    np.testing.assert_allclose(weights.T @ weights, np.eye(2), atol=1e-12)
    padded = OrthogonalRegression(use_orthogonal_projector=False).fit(X, Y)
    assert padded.max_components_ == 6
    np.testing.assert_allclose(padded.coef_ @ padded.coef_.T, np.eye(6), atol=1e-12)
    assert padded.predict(X).shape == (80, 6)  # Y padded to X's width


def test_orthogonal_regression_keeps_a_one_dimensional_target(data):
    X, Y = data
    model = OrthogonalRegression().fit(X, Y[:, 0])
    assert model.coef_.shape == (6,)
    assert model.predict(X).shape == (80,)
    np.testing.assert_allclose(np.linalg.norm(model.coef_), 1.0)


def test_the_linear_estimator_passed_is_not_fitted(data):
    X, Y = data
    ridge = Ridge(alpha=3.0)
    model = OrthogonalRegression(linear_estimator=ridge).fit(X, Y)
    assert not hasattr(ridge, "coef_")  # a clone was fitted
    assert model.coef_.shape == (2, 6)


@pytest.mark.parity
@pytest.mark.parametrize("projector", [True, False])
def test_orthogonal_regression_matches_the_reference(skmatter, data, projector):
    import skmatter.linear_model

    X, Y = data
    ours = OrthogonalRegression(use_orthogonal_projector=projector).fit(X, Y)
    theirs = skmatter.linear_model.OrthogonalRegression(
        use_orthogonal_projector=projector
    ).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-13)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-12)


# -- Ridge2FoldCV

SETTINGS = [
    {},
    {"alpha_type": "relative", "alphas": [1e-3, 1e-2, 0.5]},
    {"regularization_method": "cutoff", "alphas": [0.1, 1.0, 5.0]},
    {"regularization_method": "cutoff", "alpha_type": "relative", "alphas": [0.0, 0.3]},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_ridge_scores_are_the_two_fold_losses(data, settings):
    """cv_values_ against an explicit fit on each fold and prediction of the other."""
    X, Y = data
    model = Ridge2FoldCV(random_state=3, **settings).fit(X, Y)
    from sklearn.model_selection import KFold

    first, second = next(KFold(2, shuffle=True, random_state=3).split(X))
    largest = max(
        np.linalg.svd(X[first], compute_uv=False)[0],
        np.linalg.svd(X[second], compute_uv=False)[0],
    )
    alphas = np.asarray(model.alphas, dtype=float)
    if model.alpha_type == "relative":
        alphas = alphas * largest

    def fitted(rows, alpha):
        U, s, Vt = np.linalg.svd(X[rows], full_matrices=False)
        if model.regularization_method == "tikhonov":
            factors = s / (s**2 + alpha)
        else:
            factors = np.where(s > alpha, 1 / s, 0.0)
        return Vt.T @ (factors[:, None] * (U.T @ Y[rows]))

    for value, alpha in zip(model.cv_values_, alphas, strict=True):
        losses = [
            np.mean((Y[b] - X[b] @ fitted(a, alpha)) ** 2)
            for a, b in ((first, second), (second, first))
        ]
        assert value == pytest.approx(-np.mean(losses), rel=1e-10)
    assert model.best_score_ == max(model.cv_values_)
    assert model.alpha_ == model.alphas[int(np.argmax(model.cv_values_))]


def test_ridge_final_fit_is_the_ridge_on_all_data(data):
    X, Y = data
    model = Ridge2FoldCV(alphas=[0.5, 2.0, 50.0], random_state=0).fit(X, Y)
    ridge = Ridge(alpha=model.alpha_, fit_intercept=False).fit(X, Y)
    np.testing.assert_allclose(model.coef_, ridge.coef_, atol=1e-12)
    one = Ridge2FoldCV(alphas=[0.5, 2.0, 50.0], random_state=0).fit(X, Y[:, 0])
    assert one.coef_.shape == (6,)
    assert one.predict(X).shape == (80,)


@pytest.mark.parity
@pytest.mark.parametrize("settings", SETTINGS)
def test_ridge_matches_the_reference(skmatter, data, settings):
    import skmatter.linear_model

    X, Y = data
    ours = Ridge2FoldCV(random_state=3, **settings).fit(X, Y)
    theirs = skmatter.linear_model.Ridge2FoldCV(random_state=3, **settings).fit(X, Y)
    np.testing.assert_allclose(ours.cv_values_, theirs.cv_values_, rtol=1e-12)
    assert ours.alpha_ == theirs.alpha_
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-12)


@pytest.mark.parity
def test_ridge_cutoff_applies_in_the_final_fit(skmatter, rng):
    """A rank-deficient X (a duplicated column): the reference drops the singular
    values at rounding level in the folds but not in the final fit, where 1/s
    blows up; ours keeps the pseudo-inverse's answer."""
    import skmatter.linear_model

    X = rng.standard_normal((60, 5))
    X = np.hstack([X, X[:, :1]])
    y = X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(60)
    ours = Ridge2FoldCV(alphas=[0.0], random_state=0).fit(X, y)
    np.testing.assert_allclose(ours.coef_, np.linalg.pinv(X) @ y, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = skmatter.linear_model.Ridge2FoldCV(alphas=[0.0], random_state=0)
        theirs.fit(X, y)
    assert np.abs(theirs.coef_).max() > 1e6 * np.abs(ours.coef_).max()


@pytest.mark.parity
def test_ridge_passes_predictions_and_truth_in_the_right_order(skmatter, data):
    """The reference hands a scorer (prediction, truth) swapped: harmless for the
    mean squared error, wrong for r²."""
    import skmatter.linear_model
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    X, Y = data
    Y = Y + 3.0 * np.linspace(0, 1, 80)[:, None]  # r² is not symmetric here
    ours = Ridge2FoldCV(alphas=[1.0], scoring="r2", random_state=2).fit(X, Y)
    first, second = next(KFold(2, shuffle=True, random_state=2).split(X))
    expected = []
    for a, b in ((first, second), (second, first)):
        weights = Ridge(alpha=1.0, fit_intercept=False).fit(X[a], Y[a])
        expected.append(r2_score(Y[b], weights.predict(X[b])))
    assert ours.cv_values_[0] == pytest.approx(np.mean(expected), rel=1e-10)
    theirs = skmatter.linear_model.Ridge2FoldCV(
        alphas=[1.0], scoring="r2", random_state=2
    ).fit(X, Y)
    assert abs(theirs.cv_values_[0] - ours.cv_values_[0]) > 1e-3


def test_ridge_leaves_its_parameters_as_given():
    model = Ridge2FoldCV(alphas=[1, 2])
    assert model.alphas == [1, 2]  # not rewritten (scikit-matter makes an array)
    assert clone(model).get_params()["alphas"] == [1, 2]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alphas": []}, "at least one"),
        ({"alphas": [1.0, -1.0]}, ">= 0"),
        ({"alphas": [np.nan]}, "finite"),
        ({"alphas": [0.5, 1.0], "alpha_type": "relative"}, r"\[0, 1\)"),
        ({"alpha_type": "percent"}, "alpha_type"),
        ({"regularization_method": "lasso"}, "regularization_method"),
    ],
)
def test_ridge_bad_parameters_are_named(data, settings, message):
    X, Y = data
    with pytest.raises(ValueError, match=message):
        Ridge2FoldCV(**settings).fit(X, Y)


@pytest.mark.parametrize("model", [Ridge2FoldCV(), OrthogonalRegression()])
def test_bad_input_is_named(data, model):
    X, Y = data
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(model).fit(bad, Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clone(model).fit(X, Y[:-1])
    fitted = clone(model).fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :4])
