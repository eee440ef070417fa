"""GFRE, GFRD and LFRE: their maths, parity with scikit-matter where it is right,
our fixes where it is wrong, and bad input."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from propmap import metrics
from propmap.linear_model import Ridge2FoldCV
from propmap.preprocessing import StandardFlexibleScaler

GLOBAL = [
    "global_reconstruction_error",
    "pointwise_global_reconstruction_error",
    "global_reconstruction_distortion",
    "pointwise_global_reconstruction_distortion",
]
LOCAL = ["local_reconstruction_error", "pointwise_local_reconstruction_error"]


@pytest.fixture
def spaces(rng):
    """A narrow source and a wider, non-linear target."""
    X = rng.standard_normal((200, 5))
    Y = np.tanh(X @ rng.standard_normal((5, 8))) + 0.05 * rng.standard_normal((200, 8))
    return X, Y


def scaled_split(X, Y, train, test):
    blocks = []
    for A in (X, Y):
        scaler = StandardFlexibleScaler().fit(A[train])
        blocks += [scaler.transform(A[train]), scaler.transform(A[test])]
    return blocks


# -- the maths


def test_gfre_is_zero_for_a_contained_space_and_one_for_an_unrelated_one(rng):
    X = rng.standard_normal((400, 6))
    assert metrics.global_reconstruction_error(X, X[:, :3]) < 1e-6
    unrelated = rng.standard_normal((400, 4))
    assert metrics.global_reconstruction_error(X, unrelated) == pytest.approx(
        1, abs=0.1
    )
    # half of the target's directions missing: sqrt(1/2) of its norm
    assert metrics.global_reconstruction_error(X[:, :3], X) == pytest.approx(
        np.sqrt(0.5), abs=0.05
    )


def test_pointwise_gfre_is_the_test_residual(spaces):
    X, Y = spaces
    train, test = np.arange(0, 200, 2), np.arange(1, 200, 2)
    errors = metrics.pointwise_global_reconstruction_error(
        X, Y, train_idx=train, test_idx=test, estimator=LinearRegression()
    )
    X_train, X_test, Y_train, Y_test = scaled_split(X, Y, train, test)
    model = LinearRegression().fit(X_train, Y_train)
    np.testing.assert_allclose(
        errors, np.linalg.norm(Y_test - model.predict(X_test), axis=1), atol=1e-12
    )
    total = metrics.global_reconstruction_error(
        X, Y, train_idx=train, test_idx=test, estimator=LinearRegression()
    )
    assert total == pytest.approx(np.sqrt(np.mean(errors**2)))


def test_gfrd_is_zero_for_a_rotation_and_defined_for_a_wider_source(rng):
    X = rng.standard_normal((300, 4))
    rotation = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    assert metrics.global_reconstruction_distortion(X, X @ rotation) < 1e-6
    # X wider than Y: the linear prediction is padded to X's width
    distortion = metrics.pointwise_global_reconstruction_distortion(X, X[:, :2])
    assert distortion.shape == (150,)
    assert np.all(np.isfinite(distortion))


def test_lfre_is_the_local_residual(spaces):
    X, Y = spaces
    train, test = np.arange(0, 200, 2), np.arange(1, 200, 2)
    errors = metrics.pointwise_local_reconstruction_error(
        X, Y, 15, train_idx=train, test_idx=test, estimator=LinearRegression()
    )
    X_train, X_test, Y_train, Y_test = scaled_split(X, Y, train, test)
    expected = []
    for i in range(test.size):
        near = np.argsort(((X_train - X_test[i]) ** 2).sum(axis=1))[:15]
        x_mean, y_mean = X_train[near].mean(0), Y_train[near].mean(0)
        model = LinearRegression().fit(X_train[near] - x_mean, Y_train[near] - y_mean)
        predicted = y_mean + model.predict((X_test[i] - x_mean)[None])[0]
        expected.append(np.linalg.norm(Y_test[i] - predicted))
    np.testing.assert_allclose(errors, expected, atol=1e-10)
    # more neighbours than a linear map needs locally: a smooth target is
    # reconstructed better locally than globally
    assert metrics.local_reconstruction_error(X, Y, 15) < (
        metrics.global_reconstruction_error(X, Y)
    )


class _OneByOne(Ridge2FoldCV):
    """Same estimator, but not batched (the loop of any other estimator)."""


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the default of the measures: relative cutoffs, RMSE scorer
        {"alphas": [1e-3, 0.1, 10.0], "random_state": 1},
        {"alphas": [1e-3, 0.1], "regularization_method": "cutoff", "random_state": 4},
        {"alphas": [1e-2, 0.5], "alpha_type": "relative", "shuffle": False},
    ],
)
def test_batched_local_fits_equal_one_by_one_fits(spaces, settings):
    X, Y = spaces
    if settings:
        estimator = Ridge2FoldCV(**settings)
        one_by_one = _OneByOne(**settings)
    else:
        estimator = metrics._reconstruction._default_estimator()
        one_by_one = _OneByOne(**estimator.get_params())
    for k in (6, 15, 40):
        batched = metrics.pointwise_local_reconstruction_error(
            X, Y, k, estimator=estimator
        )
        looped = metrics.pointwise_local_reconstruction_error(
            X, Y, k, estimator=one_by_one
        )
        np.testing.assert_allclose(batched, looped, rtol=1e-10, atol=1e-12)


# -- parity and fixes


@pytest.mark.parity
@pytest.mark.parametrize("name", GLOBAL + LOCAL)
def test_measures_match_the_reference(skmatter, spaces, name):
    import skmatter.metrics

    X, Y = spaces
    extra = (12,) if name in LOCAL else ()
    ours = getattr(metrics, name)(X, Y, *extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(skmatter.metrics, name)(X, Y, *extra)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)
    train = np.arange(0, 200, 3)
    ours = getattr(metrics, name)(X, Y, *extra, train_idx=train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(skmatter.metrics, name)(X, Y, *extra, train_idx=train)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)


@pytest.mark.parity
def test_gfrd_with_a_wider_source_where_the_reference_fails(skmatter, spaces):
    import skmatter.metrics

    X, Y = spaces  # Y (8 columns) wider than X (5): both work
    with pytest.raises(ValueError, match="broadcast"):
        skmatter.metrics.global_reconstruction_distortion(Y, X)
    value = metrics.global_reconstruction_distortion(Y, X)
    assert 0 < value < 2


@pytest.mark.parity
def test_the_default_split_and_estimator_are_the_references(skmatter, spaces):
    import skmatter.metrics

    X, Y = spaces
    ours = metrics.check_global_reconstruction_measures_input(
        X, Y, None, None, None, None
    )
    theirs = skmatter.metrics.check_global_reconstruction_measures_input(
        X, Y, None, None, None, None
    )
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[3].get_params()["alpha_type"] == theirs[3].alpha_type == "relative"
    np.testing.assert_allclose(ours[3].alphas, theirs[3].alphas)


def test_the_objects_passed_are_left_unfitted(spaces):
    X, Y = spaces
    scaler, estimator = StandardFlexibleScaler(), Ridge2FoldCV(random_state=0)
    metrics.global_reconstruction_error(X, Y, scaler=scaler, estimator=estimator)
    metrics.local_reconstruction_error(X, Y, 10, scaler=scaler, estimator=estimator)
    assert not hasattr(scaler, "mean_")
    assert not hasattr(estimator, "coef_")


@pytest.mark.parametrize("name", GLOBAL + LOCAL)
def test_a_positional_split_is_refused(spaces, name):
    """scikit-matter's pointwise GFRE takes (train_idx, test_idx), its siblings
    (test_idx, train_idx): positional indices are refused, not guessed."""
    X, Y = spaces
    extra = (12,) if name in LOCAL else ()
    with pytest.raises(TypeError, match="by keyword"):
        getattr(metrics, name)(X, Y, *extra, np.arange(100), np.arange(100, 200))


# -- bad input


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda X, Y: (X[:-1], Y), "same number of rows"),
        (lambda X, Y: (np.where(X > 2, np.nan, X), Y), "NaN"),
        (lambda X, Y: (X[:, :, None], Y), "2-D"),
        (lambda X, Y: (X[:3], Y[:3]), "At least 4"),
    ],
)
def test_bad_data_is_named(spaces, change, message):
    X, Y = change(*spaces)
    with pytest.raises(ValueError, match=message):
        metrics.global_reconstruction_error(X, Y)


def test_sparse_input_is_densified(spaces):
    import scipy.sparse as sp

    X, Y = spaces
    np.testing.assert_allclose(
        metrics.global_reconstruction_error(sp.csr_array(X), Y),
        metrics.global_reconstruction_error(X, Y),
    )
    with pytest.raises(ValueError, match="numeric"):
        metrics.global_reconstruction_error([["a"] * 5] * 200, Y)


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"train_idx": []}, "non-empty"),
        ({"train_idx": [0, 500]}, "outside"),
        ({"test_idx": [0.5, 1.5]}, "integer"),
        ({"test_idx": np.ones(10, dtype=bool)}, "one entry per sample"),
    ],
)
def test_bad_splits_are_named(spaces, split, message):
    with pytest.raises(ValueError, match=message):
        metrics.global_reconstruction_error(*spaces, **split)


@pytest.mark.parametrize("count", [0, 1, 101, 2.5, True])
def test_bad_neighbour_counts_are_named(spaces, count):
    with pytest.raises(ValueError, match="n_local_points"):
        metrics.local_reconstruction_error(*spaces, count)
