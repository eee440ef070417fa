"""KernelPCovRCV: the cross-validated choice of γ, penalty and mixing for dense
and Nyström Kernel PCovR, and its refit."""

import warnings

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GroupKFold, KFold

from propmap.decomposition import KernelPCovR, KernelPCovRCV, SparseKernelPCovR
from propmap.sample_selection import FPS


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return X, y - y.mean()


def _held_out_losses(model, X, y):
    """(reconstruction, prediction) relative losses of a fitted model on rows it
    did not see, as the cross-validation scores them."""
    loss_y = np.sum((y - model.predict(X)) ** 2) / np.sum(y**2)
    return -model.score(X, y) - loss_y, loss_y


@pytest.mark.parametrize("kernel", ["rbf", "laplacian"])
def test_dense_losses_are_those_of_refits_on_every_fold(kernel):
    """Every fold's held-out losses at the chosen (γ, penalty) and every mixing
    are those of KernelPCovR (center=True) refitted on that fold."""
    X, y = _data()
    folds = list(KFold(4, shuffle=True, random_state=2).split(X))
    cv = KernelPCovRCV(kernel=kernel, gammas=[0.3], cv=folds, mixings=[0.0, 0.5, 1.0])
    cv.fit(X, y)
    for k, mixing in enumerate(cv.cv_results_["mixings"]):
        for f, (inner, held) in enumerate(folds):
            model = KernelPCovR(
                mixing=mixing,
                n_components=2,
                kernel=kernel,
                gamma=0.3,
                center=True,
                svd_solver="full",
                regressor=KernelRidge(alpha=cv.best_penalty_, kernel=kernel, gamma=0.3),
            ).fit(X[inner], y[inner])
            np.testing.assert_allclose(
                (
                    cv.cv_results_["loss_x_folds"][f, k],
                    cv.cv_results_["loss_y_folds"][f, k],
                ),
                _held_out_losses(model, X[held], y[held]),
                rtol=1e-7,
                atol=1e-10,
            )


def test_nystroem_losses_are_those_of_refits_on_every_fold():
    """With n_active, every fold's active points are the FPS of its training
    rows, and its losses those of SparseKernelPCovR refitted on them."""
    X, y = _data()
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    cv = KernelPCovRCV(n_active=25, gammas=[0.4], cv=folds, mixings=[0.2, 0.8])
    cv.fit(X, y)
    for k, mixing in enumerate(cv.cv_results_["mixings"]):
        for f, (inner, held) in enumerate(folds):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model = SparseKernelPCovR(
                    mixing=mixing, n_components=2, n_active=25, active="fps",
                    kernel="rbf", gamma=0.4, alpha=cv.best_penalty_, center=True,
                    svd_solver="full",
                ).fit(X[inner], y[inner])  # fmt: skip
            np.testing.assert_allclose(
                cv.cv_results_["loss_y_folds"][f, k],
                _held_out_losses(model, X[held], y[held])[1],
                rtol=1e-7,
            )


def test_the_dense_refit_is_kernel_pcovr_with_the_chosen_values():
    X, y = _data()
    cv = KernelPCovRCV(random_state=0).fit(X[:120], y[:120])
    reference = KernelPCovR(
        mixing=cv.best_mixing_,
        n_components=2,
        kernel="rbf",
        gamma=cv.best_gamma_,
        center=True,
        regressor=KernelRidge(
            alpha=cv.best_penalty_, kernel="rbf", gamma=cv.best_gamma_
        ),
    ).fit(X[:120], y[:120])
    new = X[120:]
    every = cv.transform_predict(new)
    np.testing.assert_allclose(every.latent, reference.transform(new), atol=1e-8)
    np.testing.assert_allclose(every.predicted, reference.predict(new), atol=1e-8)
    np.testing.assert_allclose(cv.predict(new), reference.predict(new), atol=1e-8)
    # the full kernel ridge model on the same centred kernel
    K = cv._centred_kernel(new)
    weights = reference.regressor_.dual_coef_
    np.testing.assert_allclose(every.regressor, K @ weights, atol=1e-8)


def test_the_nystroem_refit_and_its_full_ridge_model():
    from propmap.decomposition._kernel_cv import NystroemFold

    X, y = _data()
    cv = KernelPCovRCV(n_active=30, random_state=0).fit(X[:120], y[:120])
    model = cv.best_estimator_
    assert isinstance(model, SparseKernelPCovR)
    active = FPS(n_to_select=30).fit(X[:120]).selected_idx_
    np.testing.assert_array_equal(np.sort(model.active_indices_), np.sort(active))
    every = cv.transform_predict(X[120:])
    np.testing.assert_allclose(every.latent, model.transform(X[120:]), atol=1e-10)
    np.testing.assert_allclose(every.predicted, model.predict(X[120:]), atol=1e-10)
    # the full model: ridge regression on the centred, scaled Nyström features
    fold = NystroemFold(X[:120], X[120:], model.X_active_, "rbf")
    features, held = _nystroem_features(fold, cv.best_gamma_)
    weights = np.linalg.solve(
        features.T @ features + cv.best_penalty_ * np.eye(features.shape[1]),
        features.T @ y[:120],
    )
    np.testing.assert_allclose(every.regressor, held @ weights, atol=1e-6)


def _nystroem_features(fold, gamma):
    """The centred, scaled Nyström features of a fold's training and held-out
    rows, written out."""
    active = np.exp(-gamma * fold.active)
    values, vectors = np.linalg.eigh(active)
    kept = values > values[-1] * active.shape[0] * np.finfo(float).eps
    whitening = vectors[:, kept] / np.sqrt(values[kept])
    features = np.exp(-gamma * fold.training) @ whitening
    mean = features.mean(axis=0)
    scale = np.sqrt(np.sum((features - mean) ** 2) / features.shape[0])
    held = (np.exp(-gamma * fold.held) @ whitening - mean) / scale
    return (features - mean) / scale, held


def test_the_gamma_search_follows_its_rule():
    """γ is the argmin of the losses tried, which start at 0.5x, 1x and 2x the
    median heuristic and go on by factors of 2 past the winning end."""
    from propmap.decomposition._kernel_cv import distances, median_gamma

    X, y = _data()
    cv = KernelPCovRCV(random_state=0).fit(X, y)
    gammas, losses = cv.cv_results_["gammas"], cv.cv_results_["gamma_loss"]
    assert cv.best_gamma_ == gammas[np.argmin(losses)]
    median = median_gamma(distances(X, X, "rbf"), "rbf")
    np.testing.assert_allclose(
        sorted(set(np.round(gammas / median, 6)) & {0.5, 1.0, 2.0}), [0.5, 1.0, 2.0]
    )
    best = np.argmin(losses)
    assert 0 < best < gammas.size - 1 or gammas[best] / median in (1 / 16, 16)
    # a grid of widths: each tried, the best kept
    grid = KernelPCovRCV(gammas=[0.05, 0.5, 5.0], random_state=0).fit(X, y)
    np.testing.assert_array_equal(grid.cv_results_["gammas"], [0.05, 0.5, 5.0])
    assert grid.best_gamma_ == 0.5 or grid.best_gamma_ in (0.05, 5.0)
    assert (
        grid.best_gamma_
        == grid.cv_results_["gammas"][np.argmin(grid.cv_results_["gamma_loss"])]
    )


def test_the_mixing_rule_and_given_values():
    X, y = _data()
    cv = KernelPCovRCV(random_state=0, mixing_tolerance=0.05).fit(X, y)
    loss = cv.cv_results_["loss_y"]
    within = cv.cv_results_["mixings"][loss <= 1.05 * loss.min()]
    assert cv.best_mixing_ == within.max()
    given = KernelPCovRCV(mixings=[0.3], alphas=[0.01], gammas=[0.2]).fit(X, y)
    assert (given.best_mixing_, given.best_penalty_, given.best_gamma_) == (
        0.3,
        0.01,
        0.2,
    )
    assert given.cv_results_["gammas"].size == 0
    linear = KernelPCovRCV(kernel="linear", gammas=[5.0]).fit(X, y)
    assert linear.best_gamma_ is None


def test_groups_are_never_split():
    """With groups, the dense γ search's subset and every fold hold whole
    groups; a GroupKFold gives the same choices as the folds it makes."""
    X, y = _data(200)
    groups = np.repeat(np.arange(40), 5)
    cv = KernelPCovRCV(random_state=0, gamma_search_samples=60).fit(X, y, groups=groups)
    folds = list(GroupKFold(5).split(X, y, groups))
    explicit = KernelPCovRCV(random_state=0, gamma_search_samples=None, cv=folds)
    splitter = KernelPCovRCV(
        random_state=0, gamma_search_samples=None, cv=GroupKFold(5)
    )
    explicit.fit(X, y)
    splitter.fit(X, y, groups=groups)
    assert explicit.best_gamma_ == splitter.best_gamma_
    assert explicit.best_penalty_ == splitter.best_penalty_
    assert cv.n_splits_ == 5


def test_multiple_targets_keep_their_shape():
    X, y = _data()
    Y = np.column_stack([y, np.cos(X[:, 2]) - np.cos(X[:, 2]).mean()])
    for n_active in (None, 20):
        cv = KernelPCovRCV(n_active=n_active, gammas=[0.3], random_state=0).fit(X, Y)
        every = cv.transform_predict(X)
        assert every.predicted.shape == every.regressor.shape == (len(X), 2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gammas": [0.1, -1.0]}, "gammas must be positive"),
        ({"alphas": []}, "alphas must be"),
        ({"mixings": [2.0]}, "mixings must lie in"),
        ({"n_active": 500}, "more than the 160 training"),
        ({"cv": 500}, "cv=500 folds need"),
    ],
)
def test_bad_parameters_are_named(options, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        KernelPCovRCV(**options).fit(X, y)


def test_same_choices_as_the_former_map_on_the_shipped_molecules():
    """On the 2,000 QM9 molecules shipped with propmap (default SOAP, the map's
    split and scaling), the choices the map made before the estimators owned
    its cross-validation (rbf and Nyström, 500 active points)."""
    pytest.importorskip("featomic")
    from sklearn.model_selection import train_test_split

    from propmap.atomistic import SoapFeaturizer, structure_targets
    from propmap.datasets import load_qm9
    from propmap.preprocessing import StandardFlexibleScaler

    structures = load_qm9()
    y = structure_targets(structures, "gap")
    train, _ = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0)
    X = SoapFeaturizer().fit_transform(structures)
    X = StandardFlexibleScaler().fit(X[np.sort(train)]).transform(X)[train]
    Y = StandardFlexibleScaler(column_wise=True).fit_transform(y[train, None])
    for n_active in (None, 500):
        cv = KernelPCovRCV(n_active=n_active, random_state=0).fit(X, Y)
        assert cv.best_gamma_ == pytest.approx(0.041539612650429, rel=1e-9)
        assert cv.best_penalty_ == pytest.approx(10**-2.5)
        assert cv.best_mixing_ == 0.5


def test_a_pickled_dense_model_keeps_its_training_rows_in_float32():
    import pickle

    X, y = _data()
    cv = KernelPCovRCV(random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(cv))
    assert copy.X_fit_.dtype == np.float32
    assert cv.X_fit_.dtype == np.float64
    # the float32 rounding of the rows, through a kernel ridge of small penalty
    # (this one's is 1e-7): 1e-4 of the predictions' spread, far below the error
    for method in ("predict", "transform"):
        expected = getattr(cv, method)(X)
        np.testing.assert_allclose(
            getattr(copy, method)(X), expected, rtol=0, atol=1e-3 * expected.std()
        )


@pytest.mark.parametrize(
    "settings",
    [{}, {"n_active": 20}, {"gammas": [0.1, 0.2]}, {"kernel": "linear"}],
)
def test_the_progress_bar_counts_all_the_work(monkeypatch, record_work, settings):
    """The bar's units add up to its last total (which grows when the γ search
    goes past its first widths), and the fit is the same without the bar."""
    import propmap.decomposition._kernel_cv as module

    X, y = _data()
    record = record_work(module)
    shown = KernelPCovRCV(progress_bar=True, random_state=0, **settings).fit(X, y)
    assert record["total"] > 0
    assert record["done"] == pytest.approx(record["total"], rel=1e-12)
    monkeypatch.undo()
    quiet = KernelPCovRCV(random_state=0, **settings).fit(X, y)
    np.testing.assert_array_equal(shown.predict(X), quiet.predict(X))
