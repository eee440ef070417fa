"""The utilities under scikit-matter's names: orthogonalisers, fit checks,
effective dimension, shrinkage, progress bars."""

import warnings

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from propmap import utils


@pytest.fixture
def data(rng):
    return rng.standard_normal((30, 6)), rng.standard_normal((30, 2))


# -- orthogonalisers


def test_x_orthogonalizer_removes_a_column_in_place(data):
    X, _ = data
    original = X.copy()
    result = utils.X_orthogonalizer(X, c=2)
    assert result is X  # float input, copy=False: in place
    np.testing.assert_allclose(X.T @ original[:, 2], 0, atol=1e-12)
    copied = utils.X_orthogonalizer(original, c=2, copy=True)
    assert copied is not original
    np.testing.assert_allclose(copied, X)


def test_x_orthogonalizer_by_several_columns_is_orthogonal_to_each(data, rng):
    """scikit-matter projects the columns out one after another, which leaves
    components along the first ones unless they are orthogonal."""
    X, _ = data
    columns = rng.standard_normal((30, 3))
    columns[:, 1] += columns[:, 0]  # not orthogonal
    result = utils.X_orthogonalizer(X, x2=columns, copy=True)
    np.testing.assert_allclose(columns.T @ result, 0, atol=1e-12)


def test_integer_input_is_not_truncated(rng):
    X = rng.integers(-5, 5, (20, 4))
    result = utils.X_orthogonalizer(X, c=0)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result.T @ X[:, 0], 0, atol=1e-10)


def test_y_orthogonalizers_remove_what_the_features_explain(data):
    X, Y = data
    residual = utils.Y_feature_orthogonalizer(Y, X[:, :3])
    np.testing.assert_allclose(X[:, :3].T @ residual, 0, atol=1e-12)
    weights = np.linalg.lstsq(X[:8], Y[:8], rcond=None)[0]
    np.testing.assert_allclose(
        utils.Y_sample_orthogonalizer(Y, X, Y[:8], X[:8]), Y - X @ weights
    )
    inplace = Y.copy()
    assert utils.Y_feature_orthogonalizer(inplace, X[:, :3], copy=False) is inplace
    np.testing.assert_allclose(inplace, residual)
    one = utils.Y_feature_orthogonalizer(Y[:, 0], X[:, :3])
    assert one.shape == (30,)


@pytest.mark.parity
def test_orthogonalizers_match_the_reference(skmatter, data, rng):
    import skmatter.utils

    X, Y = data
    column = rng.standard_normal((30, 1))
    pairs = [
        (
            utils.X_orthogonalizer(X, c=2, copy=True),
            skmatter.utils.X_orthogonalizer(X.copy(), c=2),
        ),
        (
            utils.X_orthogonalizer(X, x2=column, copy=True),
            skmatter.utils.X_orthogonalizer(X, x2=column, copy=True),
        ),
        (
            utils.Y_feature_orthogonalizer(Y, X[:, :3]),
            skmatter.utils.Y_feature_orthogonalizer(Y, X[:, :3]),
        ),
        (
            utils.Y_sample_orthogonalizer(Y, X, Y[:8], X[:8]),
            skmatter.utils.Y_sample_orthogonalizer(Y, X, Y[:8], X[:8]),
        ),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda X, Y: utils.X_orthogonalizer(X), "Give c"),
        (lambda X, Y: utils.X_orthogonalizer(X, c=9), "not a column"),
        (lambda X, Y: utils.X_orthogonalizer(X, x2=X[:5]), "same number of rows"),
        (lambda X, Y: utils.Y_feature_orthogonalizer(Y, X[:5]), "same number of rows"),
        (
            lambda X, Y: utils.Y_sample_orthogonalizer(Y, X, Y[:4], X[:5]),
            "y_ref and X_ref",
        ),
        (
            lambda X, Y: utils.Y_sample_orthogonalizer(Y, X, Y[:4], X[:4, :2]),
            "features",
        ),
        (lambda X, Y: utils.X_orthogonalizer(np.full((3, 3), np.nan), c=0), "NaN"),
    ],
)
def test_orthogonalizer_bad_input_is_named(data, call, message):
    with pytest.raises(ValueError, match=message):
        call(*data)


def test_a_zero_column_warns(data):
    X, _ = data
    with pytest.warns(UserWarning, match="only zeros"):
        result = utils.X_orthogonalizer(X, x2=np.zeros(30), copy=True)
    np.testing.assert_allclose(result, X)


# -- fit checks


def test_check_lr_fit_copies_a_fitted_model_and_fits_a_clone(data):
    X, Y = data
    unfitted = Ridge(alpha=2.0)
    fitted = utils.check_lr_fit(unfitted, X, Y)
    assert fitted is not unfitted
    assert not hasattr(unfitted, "coef_")
    prefit = LinearRegression().fit(X, Y)
    copy = utils.check_lr_fit(prefit, X, Y)
    assert copy is not prefit
    np.testing.assert_array_equal(copy.coef_, prefit.coef_)
    with pytest.raises(ValueError, match="expects 6 features but X has 4"):
        utils.check_lr_fit(prefit, X[:, :4], Y)
    with pytest.raises(ValueError, match="coef_ has shape"):
        utils.check_lr_fit(prefit, X, Y[:, 0])
    with pytest.raises(ValueError, match="exposes coef_"):
        utils.check_lr_fit(KernelRidge(), X, Y)


def test_fit_checks_take_sparse_x(data):
    import scipy.sparse as sp

    X, Y = data
    sparse = sp.csr_array(X)
    np.testing.assert_allclose(
        utils.check_lr_fit(Ridge(), sparse, Y).coef_, Ridge().fit(X, Y).coef_
    )
    labels = (Y[:, 0] > 0).astype(int)
    assert utils.check_cl_fit(LogisticRegression(), sparse, labels).coef_.shape == (
        1,
        6,
    )


def test_check_krr_fit(data):
    X, Y = data
    K = X @ X.T
    fitted = utils.check_krr_fit(KernelRidge(kernel="linear"), K, X, Y)
    assert fitted.kernel == "precomputed"
    np.testing.assert_allclose(
        fitted.predict(K), KernelRidge(kernel="linear").fit(X, Y).predict(X)
    )
    prefit = KernelRidge(kernel="linear").fit(X, Y)
    assert utils.check_krr_fit(prefit, K, X, Y) is not prefit
    with pytest.raises(ValueError, match="same training points"):
        utils.check_krr_fit(prefit, K[:10, :10], X[:10], Y[:10])


def test_check_cl_fit(data):
    X, Y = data
    labels = (Y[:, 0] > 0).astype(int)
    fitted = utils.check_cl_fit(LogisticRegression(), X, labels)
    assert fitted.coef_.shape == (1, 6)
    three = np.digitize(Y[:, 0], [-0.5, 0.5])
    prefit = LogisticRegression().fit(X, three)
    with pytest.raises(ValueError, match="expected \\(1, 6\\) for 2 classes"):
        utils.check_cl_fit(prefit, X, labels)


@pytest.mark.parity
def test_fit_checks_match_the_reference(skmatter, data):
    import skmatter.utils

    X, Y = data
    ours = utils.check_lr_fit(Ridge(), X, Y)
    theirs = skmatter.utils.check_lr_fit(Ridge(), X, Y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_)
    labels = (Y[:, 0] > 0).astype(int)
    np.testing.assert_allclose(
        utils.check_cl_fit(LogisticRegression(), X, labels).coef_,
        skmatter.utils.check_cl_fit(LogisticRegression(), X, labels).coef_,
    )


# -- effective dimension, shrinkage, progress bars


def test_effdim_counts_directions():
    assert utils.effdim(np.eye(4)) == pytest.approx(4)
    assert utils.effdim(np.diag([1.0, 0, 0])) == pytest.approx(1)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        utils.effdim(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="square"):
        utils.effdim(np.ones((2, 3)))


def test_oas_shrinks_towards_the_scaled_identity(data):
    X, _ = data
    cov = np.cov(X.T)
    shrunk = utils.oas(cov, 30, 6)
    target = np.trace(cov) / 6 * np.eye(6)
    # a convex combination of the covariance and the target
    phi = (shrunk - cov)[0, 1] / (target - cov)[0, 1]
    np.testing.assert_allclose(shrunk, (1 - phi) * cov + phi * target)
    assert 0 < phi < 1
    with pytest.raises(ValueError, match="D must be"):
        utils.oas(cov, 30, 5)
    with pytest.raises(ValueError, match="n must be"):
        utils.oas(cov, 0, 6)


@pytest.mark.parity
def test_effdim_and_oas_match_the_reference(skmatter, data):
    import skmatter.utils

    cov = np.cov(data[0].T)
    assert utils.effdim(cov) == pytest.approx(skmatter.utils.effdim(cov), rel=1e-12)
    np.testing.assert_allclose(utils.oas(cov, 30, 6), skmatter.utils.oas(cov, 30, 6))


def test_progress_bar_helpers():
    bar = utils.get_progress_bar()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert list(bar(range(3), desc="test")) == [0, 1, 2]
    marker = object()
    assert utils.no_progress_bar(marker) is marker
