"""PCovRCV's uncertainty: the ridge posterior, the noise level calibrated on
held-out rows, and the applicability domain."""

import warnings

import numpy as np
import pytest

from propmap.decomposition import PCovRCV
from propmap.exceptions import UncenteredDataWarning
from propmap.metrics import local_prediction_rigidity


def _linear(n, d=20, noise=0.5, seed=0, offset=2.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d))
    weights = rng.normal(size=d)

    def draw(count):
        X = rng.normal(size=(count, d)) @ mixing + offset
        return X, X @ weights + noise * rng.normal(size=count)

    return draw(n), draw(4000)


@pytest.mark.parametrize("center", [True, False])
def test_the_posterior_variance_is_the_closed_form(center):
    (X, y), (X_new, _) = _linear(600)
    if not center:
        X, X_new = X - X.mean(axis=0), X_new - X.mean(axis=0)
        y = y - y.mean()
    model = PCovRCV(center=center, random_state=0).fit(X, y)
    centred = X - X.mean(axis=0)
    inverse = np.linalg.inv(
        centred.T @ centred + model.best_penalty_ * np.eye(X.shape[1])
    )
    rows = X_new[:50] - X.mean(axis=0)
    expected = np.einsum("ij,jk,ik->i", rows, inverse, rows)
    np.testing.assert_allclose(
        model.posterior_variance(X_new[:50]), expected, rtol=1e-6
    )
    # the inverse of the local prediction rigidity (features there are divided
    # by their root mean square norm, which scales the regulariser)
    scale = np.mean(np.sum(centred**2, axis=1))
    rigidity, _ = local_prediction_rigidity(
        [row[None] for row in centred], [row[None] for row in rows],
        model.best_penalty_ / scale,
    )  # fmt: skip
    np.testing.assert_allclose(1.0 / np.concatenate(rigidity), expected, rtol=1e-6)


def test_the_predicted_spread_covers_the_errors_of_new_data():
    """Known Gaussian noise 0.5: the calibrated noise level finds it, and new
    points' errors fall within 1 and 2 standard deviations as often as a normal
    distribution's."""
    (X, y), (X_new, y_new) = _linear(3000)
    model = PCovRCV(center=True, random_state=0).fit(X, y)
    assert model.noise_std_ == pytest.approx(0.5, rel=0.05)
    assert model.calibration_size_ == 2000
    predicted, std = model.predict(X_new, return_std=True)
    z = np.abs(y_new - predicted) / std
    assert np.mean(z <= 1) == pytest.approx(0.683, abs=0.03)
    assert np.mean(z <= 2) == pytest.approx(0.954, abs=0.015)
    every = model.transform_predict(X_new, return_std=True)
    np.testing.assert_allclose(every.predicted_std, std)
    np.testing.assert_allclose(
        every.regressor_std, model.noise_std_ * np.sqrt(1 + every.variance)
    )
    z_full = np.abs(y_new - every.regressor) / every.regressor_std
    assert np.mean(z_full <= 1) == pytest.approx(0.683, abs=0.03)


def test_the_map_spread_grows_with_its_larger_held_out_error():
    """The prediction through two latent dimensions errs more than the ridge:
    its noise level is larger, by the ratio of their held-out errors."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 12)) * np.linspace(3, 0.2, 12)
    y = X @ rng.normal(size=12) + 0.1 * rng.normal(size=1500)
    model = PCovRCV(center=True, mixings=[1.0], random_state=0).fit(X, y)
    assert model.latent_noise_std_ > 1.5 * model.noise_std_


def test_points_far_from_the_training_data_are_out_of_the_domain():
    (X, y), (X_new, _) = _linear(1500)
    model = PCovRCV(center=True, random_state=0).fit(X, y)
    inside = model.in_domain(X_new)
    assert inside.mean() > 0.97
    far = X_new[:100] + 20 * np.abs(X).max() * np.eye(X.shape[1])[0]
    assert not model.in_domain(far).any()
    # one rule, whether from X, from q, or beside the predictions
    every = model.transform_predict(X_new, return_std=True)
    np.testing.assert_array_equal(every.in_domain, inside)
    np.testing.assert_array_equal(model.variance_in_domain(every.variance), inside)
    _, std_far = model.predict(far, return_std=True)
    _, std_near = model.predict(X_new[:100], return_std=True)
    assert np.all(std_far > std_near)


def test_the_calibration_works_in_every_fit_path():
    """Fewer rows than columns, folds that do not partition the rows, several
    targets, and a dask X all get a noise level and a domain."""
    from sklearn.model_selection import ShuffleSplit

    (X, y), _ = _linear(300, d=40)
    few = PCovRCV(center=True, random_state=0).fit(X[:30], y[:30])
    assert few.noise_std_ > 0
    assert few.domain_threshold_ > 0
    folds = list(ShuffleSplit(3, test_size=0.3, random_state=0).split(X))
    shuffled = PCovRCV(center=True, cv=folds).fit(X, y)
    assert shuffled.calibration_size_ == 3 * 90
    several = PCovRCV(center=True, random_state=0).fit(X, np.column_stack([y, 2 * y]))
    assert several.noise_std_.shape == (2,)
    assert several.noise_std_[1] == pytest.approx(2 * several.noise_std_[0])
    _, std = several.predict(X[:5], return_std=True)
    assert std.shape == (5, 2)
    da = pytest.importorskip("dask.array")
    lazy = PCovRCV(center=True, random_state=0).fit(
        da.from_array(X, chunks=(70, 40)), y
    )
    eager = PCovRCV(center=True, random_state=0).fit(X, y)
    assert lazy.noise_std_ == pytest.approx(eager.noise_std_, rel=1e-6)
    assert lazy.domain_threshold_ == pytest.approx(eager.domain_threshold_, rel=1e-6)


def test_return_std_needs_the_features():
    (X, y), _ = _linear(300)
    model = PCovRCV(center=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="return_std=True needs X"):
        model.predict(T=model.transform(X), return_std=True)


def _grouped(n=600, width=30, n_groups=3, seed=0):
    """Rows zero outside one of a few ranges of columns (per-atom features)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, width * n_groups))
    label = rng.integers(0, n_groups, n)
    for g in range(n_groups):
        rows = label == g
        columns = slice(width * g, width * (g + 1))
        mixing = rng.normal(size=(width, width))
        X[rows, columns] = rng.normal(size=(rows.sum(), width)) @ mixing + 1.0
    X[:3] = 0.0  # rows with no feature at all
    return X, X @ rng.normal(size=X.shape[1]) + rng.normal(size=n)


@pytest.mark.parametrize("data", ["dense", "fewer rows", "grouped"])
@pytest.mark.parametrize("folds", ["k-fold", "shuffled"])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_training_rows_variance_is_the_closed_form(data, folds, center, dtype):
    """``train_variance_``, gathered in the cross-validation's pass, is q of
    every row given to fit: every fit path (one pass with the folds'
    moments, the rows' coordinates, n < d's kernel; column groups with the
    centring apart), to float64's rounding, or float32's."""
    from sklearn.model_selection import ShuffleSplit

    if data == "grouped":
        X, y = _grouped()
    else:
        (X, y), _ = _linear(60 if data == "fewer rows" else 500, d=40)
    if not center:
        X, y = X - X.mean(axis=0), y - y.mean()
    cv = 5 if folds == "k-fold" else ShuffleSplit(3, test_size=0.3, random_state=0)
    model = PCovRCV(center=center, cv=cv, alphas=[1e-3, 0.1, 1.0], random_state=0)
    with warnings.catch_warnings():
        # centred in float64, not to float32's rounding
        warnings.simplefilter("ignore", UncenteredDataWarning)
        model.fit(X.astype(dtype), y)
    centred = X - X.mean(axis=0)
    inverse = np.linalg.inv(
        centred.T @ centred + model.best_penalty_ * np.eye(X.shape[1])
    )
    expected = np.einsum("ij,jk,ik->i", centred, inverse, centred)
    tolerance = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(
        model.train_variance_, expected, rtol=tolerance, atol=tolerance * 1e-3
    )
    # the posterior of new rows agrees on them
    np.testing.assert_allclose(
        model.posterior_variance(X.astype(dtype)), expected, rtol=1e-4, atol=1e-7
    )


@pytest.mark.parametrize("center", [True, False])
def test_the_grouped_posterior_takes_any_row(center):
    """Per-atom features (rows zero outside one group of columns) keep the
    posterior in the groups' basis; new rows of one group, of several, with
    columns outside every group, or of zeros get the closed form's q."""
    from propmap.decomposition._uncertainty import GroupedPosterior

    X, y = _grouped(n=900, width=30)
    X = np.hstack([X, np.zeros((X.shape[0], 4))])  # columns no row uses
    if not center:
        y = y - y.mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)
        model = PCovRCV(center=center, random_state=0).fit(X, y)
    assert isinstance(model.posterior_, GroupedPosterior)
    rng = np.random.default_rng(5)
    fresh, _ = _grouped(n=40, width=30, seed=9)
    fresh = np.hstack([fresh, np.zeros((40, 4))])
    several = fresh[:10] + fresh[10:20][:, ::-1]
    outside = fresh[20:30].copy()
    outside[:, -4:] = rng.normal(size=(10, 4))
    rows = np.vstack([fresh, several, outside, np.zeros((2, X.shape[1]))])
    mean = X.mean(axis=0) if center else np.zeros(X.shape[1])
    centred = X - mean
    inverse = np.linalg.inv(
        centred.T @ centred + model.best_penalty_ * np.eye(X.shape[1])
    )
    shifted = rows - mean
    expected = np.einsum("ij,jk,ik->i", shifted, inverse, shifted)
    np.testing.assert_allclose(
        model.posterior_variance(rows), expected, rtol=1e-4, atol=1e-8
    )
    # rows far outside the groups' span are far outside the domain
    assert not model.in_domain(outside).any()


def test_plain_pcovr_gives_the_ridge_posterior_when_asked():
    """PCovR(uncertainty=True): q of the ridge it holds, s from the exact
    leave-one-out errors, the latent prediction's s scaled by its larger
    training error; new data's errors then fall within 1σ and 2σ as a normal
    distribution's do."""
    from sklearn.linear_model import Ridge

    from propmap.decomposition import PCovR

    (X, y), (X_new, y_new) = _linear(3000)
    mean, y_mean = X.mean(axis=0), y.mean()
    X, X_new, y, y_new = X - mean, X_new - mean, y - y_mean, y_new - y_mean
    model = PCovR(
        n_components=2, regressor=Ridge(alpha=1.0, fit_intercept=False),
        uncertainty=True,
    ).fit(X, y)  # fmt: skip
    assert model.noise_std_ == pytest.approx(0.5, rel=0.05)
    assert model.latent_noise_std_ > model.noise_std_
    predicted, std = model.predict(X_new, return_std=True)
    np.testing.assert_allclose(predicted, model.predict(X_new))
    inverse = np.linalg.inv(X.T @ X + np.eye(X.shape[1]))
    q = np.einsum("ij,jk,ik->i", X_new[:50], inverse, X_new[:50])
    np.testing.assert_allclose(
        std[:50], model.latent_noise_std_ * np.sqrt(1 + q), rtol=1e-5
    )
    full = PCovR(
        mixing=0.0, n_components=1, regressor=Ridge(alpha=1.0, fit_intercept=False),
        uncertainty=True,
    ).fit(X, y)  # fmt: skip
    _, std_full = full.predict(X_new, return_std=True)
    z = np.abs(y_new - full.predict(X_new)) / std_full
    assert np.mean(z <= 1) == pytest.approx(0.683, abs=0.03)
    assert np.mean(z <= 2) == pytest.approx(0.954, abs=0.015)
    several = PCovR(n_components=2, uncertainty=True).fit(
        X, np.column_stack([y, 3 * y])
    )
    _, spread = several.predict(X_new[:4], return_std=True)
    assert spread.shape == (4, 2)
    np.testing.assert_allclose(spread[:, 1], 3 * spread[:, 0], rtol=1e-2)
    with pytest.raises(ValueError, match="uncertainty=True"):
        PCovR(n_components=2).fit(X, y).predict(X_new, return_std=True)
    with pytest.raises(ValueError, match="needs X"):
        model.predict(T=model.transform(X_new), return_std=True)


@pytest.mark.parametrize("n_active", [None, 80])
def test_kernel_maps_have_the_kernel_ridge_posterior(n_active):
    """KernelPCovRCV: q is the refit kernel ridge's posterior variance (of
    the centred kernel, or in the Nyström features), the training rows' q
    their leverage, and the noise level, fitted on the exact leave-one-out
    errors, finds known noise; new points' errors are covered as a normal
    distribution's."""
    from propmap.decomposition import KernelPCovRCV

    rng = np.random.default_rng(4)

    def draw(count):
        X = rng.uniform(-2, 2, size=(count, 3))
        return X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.3 * rng.normal(size=count)

    X, y = draw(500)
    X_new, y_new = draw(3000)
    model = KernelPCovRCV(n_active=n_active, gammas=[0.5], random_state=0).fit(
        X, y - y.mean()
    )
    assert model.noise_std_ == pytest.approx(0.3, rel=0.12)
    lam = model.best_penalty_
    if n_active is None:
        K = model.centerer_.transform(np.exp(-0.5 * _squared(X, X)))
        inverse = np.linalg.inv(K + lam * np.eye(K.shape[0]))
        np.testing.assert_allclose(
            model.train_variance_, np.diagonal(K @ inverse), rtol=1e-6, atol=1e-9
        )
        rows = model.centerer_.transform(np.exp(-0.5 * _squared(X_new[:40], X)))
        own = model.centerer_.transform_diagonal(np.ones(40), np.exp(
            -0.5 * _squared(X_new[:40], X)
        ))  # fmt: skip
        expected = (own - np.einsum("ij,jk,ik->i", rows, inverse, rows)) / lam
        # the directions the data pin down, the rest at 1/λ: within 1 %
        np.testing.assert_allclose(
            model.posterior_variance(X_new[:40]), expected, rtol=0.02
        )
    else:
        features = model.best_estimator_.nystroem_features(X)
        inverse = np.linalg.inv(features.T @ features + lam * np.eye(features.shape[1]))
        new = model.best_estimator_.nystroem_features(X_new[:40])
        np.testing.assert_allclose(
            model.posterior_variance(X_new[:40]),
            np.einsum("ij,jk,ik->i", new, inverse, new),
            rtol=1e-4,
        )
        np.testing.assert_allclose(
            model.train_variance_,
            np.einsum("ij,jk,ik->i", features, inverse, features),
            rtol=1e-4,
        )
    every = model.transform_predict(X_new, return_std=True)
    z = np.abs(y_new - y.mean() - every.regressor) / every.regressor_std
    assert np.mean(z <= 1) == pytest.approx(0.683, abs=0.05)
    assert np.mean(z <= 2) == pytest.approx(0.954, abs=0.03)
    predicted, std = model.predict(X_new[:5], return_std=True)
    np.testing.assert_allclose(predicted, every.predicted[:5])
    np.testing.assert_allclose(std, every.predicted_std[:5])
    far = X_new[:20] + 30.0
    assert not model.in_domain(far).any()
    assert model.in_domain(X_new).mean() > 0.95


def _squared(A, B):
    return np.sum(A**2, axis=1)[:, None] + np.sum(B**2, axis=1)[None, :] - 2 * A @ B.T
