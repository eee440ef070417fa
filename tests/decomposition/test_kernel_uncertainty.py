"""KernelPCovR and SparseKernelPCovR with ``uncertainty=True``: the kernel
ridge's posterior, a noise level from its exact leave-one-out errors, and σ
beside every prediction."""

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge

from propmap.decomposition import KernelPCovR, PCovR, SparseKernelPCovR
from propmap.decomposition._uncertainty import NORMAL_COVERAGE, noise_level


def _smooth(n, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.5, 1.5, size=(n, 3))
    y = np.sin(2.0 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, 2]
    return X, y - 0.75 + noise * rng.normal(size=n)


def test_linear_kernel_std_is_the_ridge_posterior_and_its_leave_one_out_noise():
    """With a linear kernel the kernel ridge is a ridge without intercept: q of
    a new point is ``xᵀ(XᵀX + λI)⁻¹x``, and the noise level is what the
    errors and q of explicit leave-one-out refits give."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5))
    y = X @ rng.normal(size=5) + 0.3 * rng.normal(size=60)
    X_new = rng.normal(size=(20, 5))
    alpha = 0.3
    model = KernelPCovR(
        mixing=0.0, n_components=5, kernel="linear",
        regressor=KernelRidge(alpha=alpha), uncertainty=True,
    ).fit(X, y)  # fmt: skip
    predicted, std = model.predict(X_new, return_std=True)
    np.testing.assert_allclose(predicted, model.predict(X_new), rtol=1e-12)
    inverse = np.linalg.inv(X.T @ X + alpha * np.eye(5))
    q = np.einsum("ij,jk,ik->i", X_new, inverse, X_new)
    np.testing.assert_allclose(std, model.latent_noise_std_ * np.sqrt(1 + q), rtol=1e-9)
    # leave-one-out by refitting
    errors, variances = [], []
    for i in range(X.shape[0]):
        keep = np.arange(X.shape[0]) != i
        ridge = Ridge(alpha=alpha, fit_intercept=False).fit(X[keep], y[keep])
        errors.append(y[i] - ridge.predict(X[i : i + 1])[0])
        inverse = np.linalg.inv(X[keep].T @ X[keep] + alpha * np.eye(5))
        variances.append(X[i] @ inverse @ X[i])
    expected = noise_level(np.array(errors)[:, None], np.array(variances))[0]
    # (the scale is chosen on a grid of 201 values between two quantiles)
    assert model.noise_std_ == pytest.approx(expected, rel=2e-3)
    # five components of five features at α = 0: the latent prediction is
    # (nearly) the ridge's, and so is its noise level
    assert model.latent_noise_std_ == pytest.approx(model.noise_std_, rel=1e-2)


@pytest.mark.parametrize("center", [False, True])
def test_nystroem_with_every_point_active_gives_the_kernel_models_std(center):
    X, y = _smooth(70)
    X_new, _ = _smooth(25, seed=1)
    common = {"mixing": 0.3, "n_components": 4, "kernel": "rbf", "gamma": 0.7}
    dense = KernelPCovR(
        **common, regressor=KernelRidge(alpha=1e-2, kernel="rbf", gamma=0.7),
        center=center, uncertainty=True,
    ).fit(X, y)  # fmt: skip
    sparse = SparseKernelPCovR(
        **common, n_active=70, alpha=1e-2, center=center, uncertainty=True
    ).fit(X, y)
    np.testing.assert_allclose(sparse.noise_std_, dense.noise_std_, rtol=1e-5)
    # on the training points (in the span of the active ones) the same q; the
    # Nyström posterior's directions are kept in float32
    predicted, std = dense.predict(X, return_std=True)
    sparse_predicted, sparse_std = sparse.predict(X, return_std=True)
    np.testing.assert_allclose(sparse_predicted, predicted, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sparse_std, std, rtol=2e-3)
    # new points: the same prediction; the Nyström model lives in the span of
    # the active points, the kernel model also has the prior outside it
    predicted, std = dense.predict(X_new, return_std=True)
    sparse_predicted, sparse_std = sparse.predict(X_new, return_std=True)
    np.testing.assert_allclose(sparse_predicted, predicted, rtol=1e-6, atol=1e-8)
    assert np.all(sparse_std <= std * (1 + 1e-6))
    assert np.all(sparse_std > sparse.latent_noise_std_)


@pytest.mark.parametrize("sparse", [False, True])
def test_errors_of_new_data_fall_within_one_and_two_sigma(sparse):
    """Known noise (0.1): the calibrated noise level finds it, and new data's
    errors fall within 1σ and 2σ as a normal distribution's do."""
    X, y = _smooth(1500)
    X_new, y_new = _smooth(4000, seed=2)
    if sparse:
        model = SparseKernelPCovR(
            mixing=0.0, n_components=40, n_active=300, alpha=1e-3, kernel="rbf",
            gamma=1.0, uncertainty=True,
        ).fit(X, y)  # fmt: skip
    else:
        model = KernelPCovR(
            mixing=0.0, n_components=40, kernel="rbf", gamma=1.0,
            regressor=KernelRidge(alpha=1e-3, kernel="rbf", gamma=1.0),
            uncertainty=True,
        ).fit(X, y)  # fmt: skip
    assert model.noise_std_ == pytest.approx(0.1, rel=0.1)
    predicted, std = model.predict(X_new, return_std=True)
    z = np.abs(y_new - predicted) / std
    assert np.mean(z <= 1) == pytest.approx(NORMAL_COVERAGE[0], abs=0.04)
    assert np.mean(z <= 2) == pytest.approx(NORMAL_COVERAGE[1], abs=0.02)


def test_several_targets_get_one_noise_level_each():
    X, y = _smooth(200)
    Y = np.column_stack([y, 4 * y])
    model = KernelPCovR(
        mixing=0.2, n_components=6, kernel="rbf", gamma=1.0,
        regressor=KernelRidge(alpha=1e-2, kernel="rbf", gamma=1.0), uncertainty=True,
    ).fit(X, Y)  # fmt: skip
    predicted, std = model.predict(X[:5], return_std=True)
    assert predicted.shape == std.shape == (5, 2)
    np.testing.assert_allclose(std[:, 1], 4 * std[:, 0], rtol=1e-8)
    sparse = SparseKernelPCovR(
        mixing=0.2, n_components=6, n_active=50, alpha=1e-2, kernel="rbf", gamma=1.0,
        uncertainty=True,
    ).fit(X, Y)  # fmt: skip
    _, sparse_std = sparse.predict(X[:5], return_std=True)
    assert sparse_std.shape == (5, 2)
    np.testing.assert_allclose(sparse_std[:, 1], 4 * sparse_std[:, 0], rtol=1e-6)


def test_what_gives_no_uncertainty_says_so():
    X, y = _smooth(40)
    with pytest.raises(ValueError, match="uncertainty=True"):
        KernelPCovR(n_components=2).fit(X, y).predict(X, return_std=True)
    with pytest.raises(ValueError, match="precomputed"):
        KernelPCovR(n_components=2, kernel="precomputed", uncertainty=True).fit(
            X @ X.T, y
        )
    with pytest.raises(ValueError, match="regressor='precomputed'"):
        KernelPCovR(n_components=2, regressor="precomputed", uncertainty=True).fit(X, y)
    with pytest.raises(ValueError, match="alpha > 0"):
        KernelPCovR(
            n_components=2, regressor=KernelRidge(alpha=0.0), uncertainty=True
        ).fit(X, y)
    with pytest.raises(ValueError, match="uncertainty=True"):
        SparseKernelPCovR(n_components=2, n_active=10).fit(X, y).predict(
            X, return_std=True
        )
    with pytest.raises(ValueError, match="alpha > 0"):
        SparseKernelPCovR(n_components=2, alpha=0.0, uncertainty=True).fit(X, y)


def test_dask_rows_are_refused_with_uncertainty():
    da = pytest.importorskip("dask.array")
    X, y = _smooth(40)
    with pytest.raises(ValueError, match="in memory"):
        SparseKernelPCovR(n_components=2, n_active=10, uncertainty=True).fit(
            da.from_array(X, chunks=20), da.from_array(y, chunks=20)
        )
    model = SparseKernelPCovR(n_components=2, n_active=10, uncertainty=True).fit(X, y)
    with pytest.raises(ValueError, match="in memory"):
        model.predict(da.from_array(X, chunks=20), return_std=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda flag: PCovR(n_components=2, tol=1.0, uncertainty=flag),
        lambda flag: KernelPCovR(
            n_components=2,
            kernel="rbf",
            regressor=KernelRidge(kernel="rbf"),
            uncertainty=flag,
        ),
        lambda flag: SparseKernelPCovR(n_components=2, n_active=20, uncertainty=flag),
    ],
    ids=["PCovR", "KernelPCovR", "SparseKernelPCovR"],
)
def test_a_refit_without_uncertainty_keeps_no_older_posterior(make):
    """An older fit's posterior and noise level would give σ of other data."""
    X, y = _smooth(60)
    model = make(True).fit(X, y)
    assert hasattr(model, "posterior_")
    model.set_params(uncertainty=False).fit(X[:30], y[:30])
    for name in ("posterior_", "noise_std_", "latent_noise_std_"):
        assert not hasattr(model, name)
    with pytest.raises(ValueError, match="uncertainty=True"):
        model.predict(X, return_std=True)
