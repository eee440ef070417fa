"""PCovRCV: the cross-validated choice of mixing and penalty, and its refit."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold, KFold

from propmap.decomposition import PCovR, PCovRCV
from propmap.exceptions import UncenteredDataWarning


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3
    X -= X.mean(axis=0)
    y = X @ rng.normal(size=d) + rng.normal(size=n)
    return X, y - y.mean()


@pytest.mark.parametrize(("n", "d"), [(300, 40), (40, 300)])
def test_the_refit_is_pcovr_with_the_chosen_mixing_and_penalty(n, d):
    X, y = _data(n, d)
    cv = PCovRCV(random_state=0).fit(X, y)
    reference = PCovR(
        mixing=cv.best_mixing_,
        n_components=2,
        regressor=Ridge(alpha=cv.best_penalty_, fit_intercept=False),
        space="feature",
        svd_solver="full",
    ).fit(X, y)
    np.testing.assert_allclose(cv.transform(X), reference.transform(X), atol=1e-8)
    np.testing.assert_allclose(cv.predict(X), reference.predict(X), atol=1e-8)
    np.testing.assert_allclose(
        cv.regressor_.predict(X), reference.regressor_.predict(X), atol=1e-8
    )
    np.testing.assert_allclose(
        cv.inverse_transform(cv.transform(X)),
        reference.inverse_transform(reference.transform(X)),
        atol=1e-8,
    )


def _fold_losses(X, y, folds, mixing, penalty):
    """Held-out losses of PCovR refitted on each fold, the slow way."""
    losses = []
    for inner, held in folds:
        model = PCovR(
            mixing=mixing,
            n_components=2,
            regressor=Ridge(alpha=penalty, fit_intercept=False),
            space="feature",
            svd_solver="full",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncenteredDataWarning)
            model.fit(X[inner], y[inner])
        residual = y[held] - model.predict(X[held])
        losses.append(np.sum(residual**2) / np.sum(y[held] ** 2))
    return np.mean(losses)


def test_the_losses_are_those_of_refits_on_every_fold():
    X, y = _data(120, 15)
    folds = list(KFold(4, shuffle=True, random_state=3).split(X))
    cv = PCovRCV(mixings=[0.0, 0.5, 1.0], alphas=[1e-3, 1.0], cv=folds).fit(X, y)
    for k, mixing in enumerate(cv.cv_results_["mixings"]):
        expected = _fold_losses(X, y, folds, mixing, cv.best_penalty_)
        assert cv.cv_results_["loss_y"][k] == pytest.approx(expected, rel=1e-8)
    # the rule: the largest mixing within 5 % of the best loss
    loss = cv.cv_results_["loss_y"]
    within = loss <= 1.05 * loss.min()
    assert cv.best_mixing_ == cv.cv_results_["mixings"][within].max()
    assert cv.n_splits_ == 4
    assert cv.cv_results_["ridge_loss_folds"].shape == (4, 2)


def test_folds_that_do_not_partition_the_rows_give_their_refits_losses():
    from sklearn.model_selection import ShuffleSplit

    X, y = _data(120, 15, seed=4)
    folds = list(ShuffleSplit(3, test_size=0.3, random_state=0).split(X))
    cv = PCovRCV(mixings=[0.2, 0.7], alphas=[1e-2], cv=folds).fit(X, y)
    for k, mixing in enumerate(cv.cv_results_["mixings"]):
        expected = _fold_losses(X, y, folds, mixing, 1e-2)
        assert cv.cv_results_["loss_y"][k] == pytest.approx(expected, rel=1e-8)


def test_a_zero_tolerance_takes_the_best_mixing():
    X, y = _data(150, 10, seed=2)
    cv = PCovRCV(mixing_tolerance=0.0, random_state=0).fit(X, y)
    loss = cv.cv_results_["loss_y"]
    assert cv.best_mixing_ == cv.cv_results_["mixings"][np.argmin(loss)]


def test_groups_stay_whole_in_every_fold(monkeypatch):
    X, y = _data(90, 8)
    groups = np.repeat(np.arange(30), 3)
    seen = []
    original = PCovRCV._choose

    def record(self, paths, *args):
        seen.append(len(paths))
        return original(self, paths, *args)

    monkeypatch.setattr(PCovRCV, "_choose", record)
    model = PCovRCV(cv=5, random_state=0)
    folds = model._folds(90, groups)
    for inner, held in folds:
        assert not set(groups[inner]) & set(groups[held])
    model.fit(X, y, groups=groups)
    assert seen == [5]
    # a splitter takes the groups too
    PCovRCV(cv=GroupKFold(3)).fit(X, y, groups=groups)


def test_float32_stays_float32_and_chooses_alike():
    X, y = _data(200, 30)
    double = PCovRCV(random_state=0).fit(X, y)
    with warnings.catch_warnings():  # float32 means are ~1e-8, not 0
        warnings.simplefilter("ignore", UncenteredDataWarning)
        single = PCovRCV(random_state=0).fit(X.astype(np.float32), y)
    assert single.transform(X.astype(np.float32)).dtype == np.float32
    assert (single.best_mixing_, single.best_penalty_) == (
        double.best_mixing_,
        double.best_penalty_,
    )


def test_a_rank_deficient_x_is_fitted_in_its_span():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 60))  # rank 5 of 60
    X -= X.mean(axis=0)
    y = X[:, 0] - X[:, 1]
    cv = PCovRCV(random_state=0).fit(X, y)
    assert cv.rank_ == 5
    residual = y - cv.regressor_.predict(X)
    assert np.sum(residual**2) < 1e-6 * np.sum(y**2)


def test_dask_input_makes_the_same_choices():
    da = pytest.importorskip("dask.array")
    X, y = _data(300, 20)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    in_memory = PCovRCV(cv=folds).fit(X, y)
    lazy = PCovRCV(cv=folds).fit(da.from_array(X, chunks=(70, 20)), y)
    assert (lazy.best_mixing_, lazy.best_penalty_) == (
        in_memory.best_mixing_,
        in_memory.best_penalty_,
    )
    np.testing.assert_allclose(
        # (at α = 0 two latent directions share one eigenvalue: the bases of
        # the span, from dask's sums and from BLAS, differ by rounding)
        lazy.cv_results_["loss_y"],
        in_memory.cv_results_["loss_y"],
        rtol=1e-5,
    )
    np.testing.assert_allclose(lazy.transform(X), in_memory.transform(X), atol=1e-7)


def test_dask_input_refuses_folds_whose_held_out_sets_overlap():
    da = pytest.importorskip("dask.array")
    from sklearn.model_selection import ShuffleSplit

    X, y = _data(100, 8)
    folds = list(ShuffleSplit(3, test_size=0.4, random_state=0).split(X))
    with pytest.raises(ValueError, match="split every row once"):
        PCovRCV(cv=folds).fit(da.from_array(X, chunks=(30, 8)), y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alphas": [1.0, -1.0]}, "alphas must be"),
        ({"mixings": [0.5, 1.5]}, "mixings must lie in"),
        ({"mixings": []}, "mixings must be"),
        ({"cv": 50}, "cv=50 folds need at least 50 samples"),
    ],
)
def test_bad_grids_and_folds_are_named(params, message):
    X, y = _data(30, 5)
    with pytest.raises(ValueError, match=message):
        PCovRCV(**params).fit(X, y)


@pytest.mark.parametrize("center", [False, True])
def test_the_shipped_qm9_gap_gets_the_maps_former_choices(center):
    """On the shipped 2,000 molecules (gap, default SOAP, the map's split and
    scaling), the penalty and mixing propmap map chose before PCovRCV existed;
    also when the estimator centres the features itself (as the map now has
    it)."""
    pytest.importorskip("featomic")
    from sklearn.model_selection import train_test_split

    from propmap.datasets import load_qm9
    from propmap.preprocessing import StandardFlexibleScaler
    from propmap.workflows import SoapOptions

    molecules = load_qm9()
    y = np.array([m.info["gap"] for m in molecules])
    X = SoapOptions().featurizer(per="structure").fit_transform(molecules)
    train, _ = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0)
    train = np.sort(train)
    scaler = StandardFlexibleScaler(with_mean=not center)
    Xs = scaler.fit(X[train]).transform(X[train])
    ys = (y[train] - y[train].mean()) / y[train].std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)
        cv = PCovRCV(svd_solver="arpack", center=center, random_state=0)
        cv.fit(Xs.astype(np.float32), ys)
    assert cv.best_penalty_ == pytest.approx(10**-2.5)
    assert cv.best_mixing_ == 0.5


def test_transform_predict_is_transform_predict_and_the_ridge():
    """One call gives the latent coordinates, the prediction through them and
    the full ridge model's, also for float32 X (read a block at a time)."""
    X, y = _data(300, 40)
    cv = PCovRCV(random_state=0).fit(X, y)
    every = cv.transform_predict(X)
    np.testing.assert_allclose(every.latent, cv.transform(X))
    np.testing.assert_allclose(every.predicted, cv.predict(X), atol=1e-10)
    np.testing.assert_allclose(every.regressor, cv.regressor_.predict(X))
    single = cv.transform_predict(X.astype(np.float32))
    np.testing.assert_allclose(single.latent, every.latent, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(single.regressor, every.regressor, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(300, 40), (30, 40)])
def test_the_progress_bar_counts_all_the_work(monkeypatch, record_work, shape, rng):
    """The bar's units add up to its final total (rows more or fewer than the
    columns), and the fit is the same with or without it."""
    import propmap.decomposition._cv as cv_module

    record = record_work(cv_module)
    X = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1]))
    X -= X.mean(axis=0)
    y = X @ rng.normal(size=shape[1])
    shown = PCovRCV(cv=3, progress_bar=True, random_state=0).fit(X, y)
    assert record["total"] > 0
    assert record["done"] == pytest.approx(record["total"], rel=1e-12)
    monkeypatch.undo()
    quiet = PCovRCV(cv=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(shown.predict(X), quiet.predict(X))


def test_the_progress_bar_is_drawn_on_a_terminal_only(monkeypatch, capsys, rng):
    import rich.console

    X = rng.normal(size=(200, 30))
    X -= X.mean(axis=0)
    y = X @ rng.normal(size=30)
    PCovRCV(cv=3, progress_bar=True, random_state=0).fit(X, y)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(rich.console.Console, "is_terminal", property(lambda s: True))
    PCovRCV(cv=3, progress_bar=True, random_state=0).fit(X, y)
    assert "cross-validation" in capsys.readouterr().err
