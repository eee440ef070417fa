"""PCovC and Kernel PCovC: parity with the reference, the latent classifier, the
classifier contract, warnings, and use in model selection."""

import warnings
from functools import cache

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.datasets import (
    load_breast_cancer,
    load_iris,
    make_classification,
    make_moons,
)
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Perceptron, RidgeClassifier
from sklearn.metrics import accuracy_score
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from propmap.decomposition import KernelPCovC, PCovC
from propmap.exceptions import UncenteredDataWarning, UnscaledDataWarning
from propmap.preprocessing import KernelNormalizer, StandardFlexibleScaler

# tolerances so large that Z never warns (for tests about something else, and for
# the reference, whose warnings are plain UserWarnings)
QUIET = {"z_mean_tol": 1e30, "z_var_tol": 1e30}
KERNELS = {
    "rbf": {"gamma": 0.5},
    "linear": {},
    "poly": {"gamma": 0.2, "degree": 3, "coef0": 1.0},
}


def standardised(X):
    return StandardFlexibleScaler(column_wise=True).fit_transform(X)


@cache
def _linear_problem(space, task):
    if space == "feature":  # n_samples > n_features
        if task == "multiclass":
            X, y = load_iris(return_X_y=True)
        else:
            X, y = load_breast_cancer(return_X_y=True)
            X, y = X[:120], y[:120]
    else:  # n_samples < n_features
        X, y = make_classification(
            n_samples=24,
            n_features=40,
            n_informative=6,
            n_classes=2 if task == "binary" else 3,
            random_state=0,
        )
    return standardised(X), y


def linear_problem(space="feature", task="multiclass"):
    """Column-standardised (so centred) X and labels."""
    X, y = _linear_problem(space, task)
    return X.copy(), y.copy()


@cache
def _kernel_problem(task):
    if task == "binary":
        X, y = make_moons(60, noise=0.15, random_state=0)
    else:
        X, y = load_iris(return_X_y=True)
        X, y = X[::3], y[::3]
    return standardised(X), y


def kernel_problem(task="binary"):
    X, y = _kernel_problem(task)
    return X.copy(), y.copy()


def training_kernel(X, kernel="rbf", center=False):
    """The training kernel as Kernel PCovC uses it."""
    K = pairwise_kernels(X, metric=kernel, filter_params=True, **KERNELS[kernel])
    return KernelNormalizer().fit_transform(K) if center else K


def same_up_to_column_signs(first, second, atol):
    signs = np.sign(np.sum(first * second, axis=0))
    signs[signs == 0] = 1
    return np.allclose(first, second * signs, atol=atol)


def make_classifier(name):
    """A fresh classifier for each estimator, so that none sees another's fit."""
    return {
        "default": lambda: None,
        "ridge": RidgeClassifier,
        # converged far below its default tol, so that the rounding of K (computed
        # in blocks here) cannot move the solution by more than the tolerances
        "linear-svc": lambda: LinearSVC(random_state=0, tol=1e-10, max_iter=100_000),
        "perceptron": lambda: Perceptron(random_state=0),
    }[name]()


# -- parity with the reference (scikit-matter): PCovC


def reference_pcovc_crashes(classifier_name, space, task, scale_z):
    """RidgeClassifier has a 1-D coef_ for two classes; the reference then forms a
    1-D Z, which its sample-space solver and its Z scaler cannot take."""
    return (
        classifier_name == "ridge"
        and task == "binary"
        and (scale_z or space == "sample")
    )


PCOVC_PARITY_CASES = [
    (classifier_name, space, task, scale_z)
    for classifier_name in ("default", "ridge", "linear-svc", "perceptron")
    for space in ("feature", "sample")
    for task in ("binary", "multiclass")
    for scale_z in (False, True)
    if not reference_pcovc_crashes(classifier_name, space, task, scale_z)
]


@pytest.mark.parity
@pytest.mark.parametrize(
    ("classifier_name", "space", "task", "scale_z"), PCOVC_PARITY_CASES
)
def test_pcovc_matches_reference(skmatter, classifier_name, space, task, scale_z):
    from skmatter.decomposition import PCovC as ReferencePCovC

    X, y = linear_problem(space, task)
    params = {
        "mixing": 0.5,
        "n_components": 2,
        "space": space,
        "scale_z": scale_z,
        **QUIET,
    }
    ours = PCovC(classifier=make_classifier(classifier_name), **params).fit(X, y)
    theirs = ReferencePCovC(classifier=make_classifier(classifier_name), **params)
    theirs.fit(X, y)

    assert ours.space_ == theirs.space_ == space
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert np.allclose(ours.singular_values_, theirs.singular_values_, rtol=1e-8)
    T_ours, T_theirs = ours.transform(X), theirs.transform(X)
    assert same_up_to_column_signs(T_ours, T_theirs, 1e-8 * np.abs(T_theirs).max())

    decision_theirs = theirs.decision_function(X)
    scale = np.abs(decision_theirs).max()
    assert ours.decision_function(X).shape == decision_theirs.shape
    assert np.allclose(ours.decision_function(X), decision_theirs, atol=1e-8 * scale)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))

    n_decisions = 1 if task == "binary" else 3
    expected_ptz = (2,) if n_decisions == 1 else (2, n_decisions)
    expected_pxz = (X.shape[1],) if n_decisions == 1 else (X.shape[1], n_decisions)
    assert ours.ptz_.shape == theirs.ptz_.shape == expected_ptz
    assert ours.pxz_.shape == theirs.pxz_.shape == expected_pxz
    # P_XZ does not depend on the signs of the latent axes
    assert np.allclose(ours.pxz_, theirs.pxz_, atol=1e-8 * np.abs(theirs.pxz_).max())


@pytest.mark.parametrize(
    ("space", "scale_z"), [("feature", False), ("feature", True), ("sample", True)]
)
def test_binary_ridge_classifier_with_its_one_dimensional_coef(space, scale_z):
    X, y = linear_problem(space, "binary")
    params = {"mixing": 0.5, "n_components": 2, "space": space, "scale_z": scale_z}
    ridge = RidgeClassifier().fit(X, y)
    assert ridge.coef_.ndim == 1  # what trips the reference up
    model = PCovC(classifier=RidgeClassifier(), **params, **QUIET).fit(X, y)
    weights = PCovC(classifier="precomputed", **params, **QUIET)
    weights.fit(X, y, W=ridge.coef_.reshape(-1, 1))
    T = model.transform(X)
    assert np.allclose(T, weights.transform(X), atol=1e-10)
    assert model.ptz_.shape == (2,)
    assert model.pxz_.shape == (X.shape[1],)
    refit = RidgeClassifier().fit(T, y)
    assert np.allclose(model.decision_function(X), refit.decision_function(T))
    assert model.decision_function(X).shape == (X.shape[0],)
    np.testing.assert_array_equal(model.predict(X), refit.predict(T))


@pytest.mark.parity
@pytest.mark.parametrize(
    ("space", "scale_z"), [("feature", True), ("sample", False), ("sample", True)]
)
def test_binary_ridge_classifier_where_the_reference_crashes(skmatter, space, scale_z):
    from skmatter.decomposition import PCovC as ReferencePCovC

    X, y = linear_problem(space, "binary")
    params = {
        "mixing": 0.5,
        "n_components": 2,
        "space": space,
        "scale_z": scale_z,
        **QUIET,
    }
    with pytest.raises(ValueError, match=r"(Expected 2D array|core dimension)"):
        ReferencePCovC(classifier=RidgeClassifier(), **params).fit(X, y)
    ours = PCovC(classifier=RidgeClassifier(), **params).fit(X, y)
    # the reference's own formulation, with the 2-D weights it cannot form itself
    # (a copy: with scale_z it divides the given W in place)
    weights = RidgeClassifier().fit(X, y).coef_.reshape(-1, 1)
    theirs = ReferencePCovC(classifier="precomputed", **params).fit(X, y, W=weights)
    T_theirs = theirs.transform(X)
    assert same_up_to_column_signs(
        ours.transform(X), T_theirs, 1e-8 * np.abs(T_theirs).max()
    )


# -- parity with the reference: Kernel PCovC

KERNEL_PARITY_CASES = [
    (classifier_name, kernel, center, task)
    for classifier_name in ("default", "ridge", "linear-svc")
    for kernel in KERNELS
    for center in (False, True)
    for task in ("binary", "multiclass")
    # with a 1-D coef_ the reference adds the scalar ZᵀZ to K (see below)
    if not (classifier_name == "ridge" and task == "binary")
]


@pytest.mark.parity
@pytest.mark.parametrize(
    ("classifier_name", "kernel", "center", "task"), KERNEL_PARITY_CASES
)
def test_kernel_pcovc_matches_reference(
    skmatter, classifier_name, kernel, center, task
):
    from skmatter.decomposition import KernelPCovC as ReferenceKernelPCovC

    X, y = kernel_problem(task)
    params = {
        "mixing": 0.4,
        "n_components": 2,
        "kernel": kernel,
        "center": center,
        **KERNELS[kernel],
        **QUIET,
    }
    ours = KernelPCovC(classifier=make_classifier(classifier_name), **params)
    ours.fit(X, y)
    theirs = ReferenceKernelPCovC(classifier=make_classifier(classifier_name), **params)
    theirs.fit(X, y)

    T_ours, T_theirs = ours.transform(X), theirs.transform(X)
    # the iterative classifiers stop at their own tolerance, which K's rounding
    # (computed in blocks here) can shift slightly
    assert same_up_to_column_signs(T_ours, T_theirs, 1e-6 * np.abs(T_theirs).max())
    decision_theirs = theirs.decision_function(X)
    assert ours.decision_function(X).shape == decision_theirs.shape
    assert np.allclose(
        ours.decision_function(X),
        decision_theirs,
        atol=1e-6 * np.abs(decision_theirs).max(),
    )
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.ptz_.shape == theirs.ptz_.shape
    assert ours.pkz_.shape == theirs.pkz_.shape == (X.shape[0], *ours.ptz_.shape[1:])
    assert np.allclose(ours.pkz_, theirs.pkz_, atol=1e-6 * np.abs(theirs.pkz_).max())


@pytest.mark.parity
def test_kernel_binary_ridge_classifier_follows_the_reference_formulation(skmatter):
    """With RidgeClassifier's 1-D coef_ for two classes the reference's Z is 1-D and
    its ``Z @ Z.T`` a scalar; ours is the reference given the 2-D weights."""
    from skmatter.decomposition import KernelPCovC as ReferenceKernelPCovC

    X, y = kernel_problem("binary")
    params = {"mixing": 0.4, "n_components": 2, "kernel": "rbf", "gamma": 0.5}
    ours = KernelPCovC(classifier=RidgeClassifier(), **params, **QUIET).fit(X, y)
    weights = RidgeClassifier().fit(training_kernel(X), y).coef_.reshape(-1, 1)
    theirs = ReferenceKernelPCovC(classifier="precomputed", **params, **QUIET)
    theirs.fit(X, y, W=weights)
    T_theirs = theirs.transform(X)
    assert same_up_to_column_signs(
        ours.transform(X), T_theirs, 1e-8 * np.abs(T_theirs).max()
    )
    broken = ReferenceKernelPCovC(classifier=RidgeClassifier(), **params, **QUIET)
    broken.fit(X, y)
    assert not same_up_to_column_signs(broken.transform(X), T_theirs, 1e-3)


@pytest.mark.parametrize("estimator", ["linear", "kernel"])
def test_user_classifier_is_never_modified(estimator):
    X, y = kernel_problem("binary")
    classifier = LogisticRegression(C=0.5, max_iter=150)
    before = classifier.get_params(deep=True)
    if estimator == "linear":
        model = PCovC(classifier=classifier, scale_z=True)
    else:
        model = KernelPCovC(classifier=classifier, kernel="rbf", center=True)
        model.set_params(gamma=0.5, scale_z=True)
    model.fit(X, y)
    assert model.classifier is classifier
    assert classifier.get_params(deep=True) == before
    assert classifier.max_iter == 150  # the reference raises it to 500 in place
    with pytest.raises(NotFittedError):
        check_is_fitted(classifier)
    for fitted in (model.z_classifier_, model.classifier_):
        assert fitted is not classifier
        assert fitted.get_params(deep=True) == before


def test_kernel_default_classifier_has_more_iterations():
    X, y = kernel_problem("binary")
    model = KernelPCovC(kernel="rbf", gamma=0.5, center=True, scale_z=True).fit(X, y)
    assert model.classifier is None
    for fitted in (model.z_classifier_, model.classifier_):
        assert isinstance(fitted, LogisticRegression)
        assert fitted.max_iter == 500
    linear = PCovC(scale_z=True).fit(*linear_problem())
    assert linear.z_classifier_.get_params() == LogisticRegression().get_params()


# -- Z scaling in Kernel PCovC


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_kernel_scale_z_keeps_t_equal_to_k_pkt(center, task):
    """W is rescaled with Z, so T = K P_KT = U Λ^{1/2} and TᵀT = Λ."""
    X, y = kernel_problem(task)
    model = KernelPCovC(
        mixing=0.4,
        n_components=3,
        kernel="rbf",
        gamma=0.5,
        center=center,
        scale_z=True,
        svd_solver="full",
        z_mean_tol=1e30,  # without centring K, Z is not centred
    ).fit(X, y)
    T = model.transform(X)
    eigenvalues = model.singular_values_**2
    assert np.allclose(T.T @ T, np.diag(eigenvalues), atol=1e-8 * eigenvalues[0])
    # and Λ is the spectrum of αK + (1 − α) ZZᵀ with the rescaled Z
    K = training_kernel(X, center=center)
    Z = K @ np.atleast_2d(model.z_classifier_.coef_).T / model.z_scale_
    assert np.isclose(np.sum((Z - Z.mean(axis=0)) ** 2) / Z.shape[0], 1.0)
    modified = 0.4 * K + 0.6 * Z @ Z.T
    assert np.allclose(eigenvalues, np.linalg.eigvalsh(modified)[::-1][:3])


@pytest.mark.parity
def test_reference_kernel_scale_z_breaks_t_equal_to_k_pkt(skmatter):
    """The reference rescales Z but not W: same eigenproblem (Z is centred here),
    but its T = K P_KT is no longer U Λ^{1/2}."""
    from skmatter.decomposition import KernelPCovC as ReferenceKernelPCovC

    X, y = kernel_problem("binary")
    params = {
        "mixing": 0.4,
        "n_components": 3,
        "kernel": "rbf",
        "gamma": 0.5,
        "center": True,
        "scale_z": True,
        "svd_solver": "full",
    }
    ours = KernelPCovC(**params).fit(X, y)
    theirs = ReferenceKernelPCovC(**params).fit(X, y)
    eigenvalues = ours.singular_values_**2
    T = theirs.transform(X)
    gram = T.T @ T
    off_diagonal = gram - np.diag(np.diag(gram))
    assert np.abs(off_diagonal).max() > 1e-3 * eigenvalues[0]
    assert not np.allclose(np.diag(gram), eigenvalues, rtol=1e-3)


# -- the latent classifier


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_pcovc_predictions_from_x_and_from_t_agree(whiten, task):
    X, y = linear_problem("feature", task)
    model = PCovC(mixing=0.5, n_components=2, scale_z=True, whiten=whiten).fit(X, y)
    T = model.transform(X)
    decision = model.decision_function(X)
    assert np.allclose(decision, X @ model.pxz_ + model.classifier_.intercept_)
    assert np.allclose(model.decision_function(T=T), decision, atol=1e-10)
    np.testing.assert_array_equal(model.predict(T=T), model.predict(X))
    assert np.allclose(model.predict_proba(T=T), model.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_kernel_pcovc_predictions_from_x_and_from_t_agree(task):
    X, y = kernel_problem(task)
    model = KernelPCovC(mixing=0.5, n_components=2, kernel="rbf", gamma=0.5)
    model.set_params(center=True, scale_z=True).fit(X, y)
    X_new = X[::4] + 0.1
    T = model.transform(X_new)
    decision = model.decision_function(X_new)
    K = KernelNormalizer().fit(training_kernel(X))
    K_new = K.transform(pairwise_kernels(X_new, X, metric="rbf", gamma=0.5))
    assert np.allclose(decision, K_new @ model.pkz_ + model.classifier_.intercept_)
    assert np.allclose(model.decision_function(T=T), decision, atol=1e-10)
    np.testing.assert_array_equal(model.predict(T=T), model.predict(X_new))
    assert np.allclose(model.predict_proba(T=T), model.predict_proba(X_new))


@pytest.mark.parametrize("estimator", ["linear", "kernel"])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_predict_proba_and_score(estimator, task):
    X, y = (
        linear_problem("feature", task)
        if estimator == "linear"
        else kernel_problem(task)
    )
    train, test = np.arange(X.shape[0]) % 3 != 0, np.arange(X.shape[0]) % 3 == 0
    if estimator == "linear":
        model = PCovC(mixing=0.5, n_components=2, scale_z=True)
        # centred on the training part
        scaler = StandardFlexibleScaler(column_wise=True).fit(X[train])
        X = scaler.transform(X)
    else:
        model = KernelPCovC(n_components=2, kernel="rbf", gamma=0.5, center=True)
        model.set_params(scale_z=True)
    assert is_classifier(model)
    assert hasattr(model, "predict_proba")
    model.fit(X[train], y[train])
    probabilities = model.predict_proba(X[test])
    assert probabilities.shape == (test.sum(), np.unique(y).size)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.all(probabilities >= 0)
    assert np.allclose(np.exp(model.predict_log_proba(X[test])), probabilities)
    predicted = model.predict(X[test])
    np.testing.assert_array_equal(
        model.classes_[np.argmax(probabilities, axis=1)], predicted
    )
    assert model.score(X[test], y[test]) == accuracy_score(y[test], predicted)
    assert model.score(X[test], y[test]) == np.mean(predicted == y[test])


@pytest.mark.parametrize("classifier", [RidgeClassifier(), LinearSVC(random_state=0)])
def test_no_predict_proba_without_the_classifiers(classifier):
    X, y = linear_problem()
    model = PCovC(n_components=2, classifier=classifier, scale_z=True)
    kernel_model = KernelPCovC(n_components=2, classifier=classifier, kernel="rbf")
    for candidate in (model, kernel_model):
        assert not hasattr(candidate, "predict_proba")
        assert not hasattr(candidate, "predict_log_proba")
    model.fit(X, y)
    assert not hasattr(model, "predict_proba")
    assert not hasattr(model, "predict_log_proba")
    assert model.decision_function(X).shape == (X.shape[0], 3)


# -- the classifier that gives Z


def test_fitted_classifier_is_used_as_it_is():
    X, y = linear_problem()
    params = {"mixing": 0.5, "n_components": 2, "scale_z": True}
    # fitted on part of the data: its W, not a refit, gives Z
    prefit = LogisticRegression().fit(X[::2], y[::2])
    coef = prefit.coef_.copy()
    model = PCovC(classifier=prefit, **params).fit(X, y)
    np.testing.assert_array_equal(prefit.coef_, coef)
    assert model.z_classifier_ is not prefit
    np.testing.assert_array_equal(model.z_classifier_.coef_, coef)
    given = PCovC(classifier="precomputed", **params).fit(X, y, W=coef.T)
    assert not hasattr(given, "z_classifier_")
    assert np.allclose(model.pxt_, given.pxt_, atol=1e-12)
    assert np.allclose(model.decision_function(X), given.decision_function(X))
    refit = PCovC(classifier=LogisticRegression(), **params).fit(X, y)
    assert not np.allclose(model.pxt_, refit.pxt_, atol=1e-3)
    # fitted on all of it: the same W as fitting inside, so the same model
    prefit = LogisticRegression().fit(X, y)
    model = PCovC(classifier=prefit, **params).fit(X, y)
    assert np.allclose(model.pxt_, refit.pxt_, atol=1e-12)
    assert np.allclose(model.decision_function(X), refit.decision_function(X))
    # with W=None, "precomputed" takes it from the default classifier
    derived = PCovC(classifier="precomputed", **params).fit(X, y)
    assert np.allclose(derived.pxt_, PCovC(**params).fit(X, y).pxt_, atol=1e-12)


def test_kernel_fitted_classifier_and_precomputed_weights():
    X, y = kernel_problem("multiclass")
    params = {"n_components": 2, "kernel": "rbf", "gamma": 0.5, "center": True}
    params["scale_z"] = True
    default = KernelPCovC(**params).fit(X, y)
    prefit = LogisticRegression(max_iter=500).fit(training_kernel(X, center=True), y)
    coef = prefit.coef_.copy()
    model = KernelPCovC(classifier=prefit, **params).fit(X, y)
    np.testing.assert_array_equal(prefit.coef_, coef)
    given = KernelPCovC(classifier="precomputed", **params).fit(X, y, W=coef.T)
    derived = KernelPCovC(classifier="precomputed", **params).fit(X, y)
    for other in (model, given, derived):
        assert np.allclose(other.pkt_, default.pkt_, atol=1e-8)
        assert np.allclose(other.decision_function(X), default.decision_function(X))


def test_refit_leaves_nothing_of_the_previous_fit():
    X, y = linear_problem()
    model = PCovC(n_components=2, scale_z=True).fit(X, y)
    assert hasattr(model, "z_classifier_")
    assert hasattr(model, "z_scale_")
    model.set_params(classifier="precomputed", scale_z=False, **QUIET).fit(X, y)
    # documented as absent with "precomputed"; a stale one describes another Z
    assert not hasattr(model, "z_classifier_")
    assert not hasattr(model, "z_scale_")


@pytest.mark.parametrize("estimator", [PCovC, KernelPCovC])
def test_classifier_errors(estimator):
    X, y = linear_problem()
    with pytest.raises(ValueError, match="W can only be given with"):
        estimator(classifier=LogisticRegression()).fit(X, y, W=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="W can only be given with"):
        estimator().fit(X, y, W=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="coef_"):
        estimator(classifier=KNeighborsClassifier()).fit(X, y)
    with pytest.raises(ValueError, match="'classifier' parameter"):
        estimator(classifier="logistic").fit(X, y)


def test_fitted_classifier_on_other_inputs():
    X, y = linear_problem()
    prefit = LogisticRegression().fit(X[:, :3], y)
    with pytest.raises(ValueError, match="expects 3 features but X has 4"):
        PCovC(classifier=prefit).fit(X, y)


# -- bad input


@pytest.mark.parametrize("estimator", [PCovC, KernelPCovC])
def test_bad_input(estimator, rng):
    X, y = linear_problem()
    with pytest.raises(ValueError, match="Unknown label type"):
        estimator().fit(X, y + rng.uniform(0.1, 0.9, size=y.shape))
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        estimator().fit(bad, y)
    model = estimator(n_components=2, scale_z=True, **QUIET).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(bad)
    for method in (model.decision_function, model.predict, model.predict_proba):
        with pytest.raises(ValueError, match="T has 3 columns, but this model has"):
            method(T=np.zeros((5, 3)))
        with pytest.raises(ValueError, match="Either X or T must be given"):
            method()


def test_too_many_components():
    X, y = linear_problem()  # 150 x 4
    with pytest.raises(ValueError, match=r"n_components=5 must be between 1 and"):
        PCovC(n_components=5).fit(X, y)
    X, y = kernel_problem("binary")  # 60 samples
    with pytest.raises(ValueError, match=r"n_components=61 must be between 1 and"):
        KernelPCovC(n_components=61, kernel="rbf").fit(X, y)


# -- warnings


def test_unscaled_z_warns():
    X, y = linear_problem()
    with pytest.warns(UnscaledDataWarning, match="z_var_tol=1.5.*scale_z=True"):
        PCovC(n_components=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PCovC(n_components=2, z_var_tol=1e30).fit(X, y)


def test_uncentred_z_warns():
    X, y = kernel_problem("binary")
    with pytest.warns(UncenteredDataWarning, match="decision function Z is not centr"):
        KernelPCovC(kernel="rbf", gamma=0.5, center=False, scale_z=True).fit(X, y)
    X, y = linear_problem()
    with (
        pytest.warns(UncenteredDataWarning, match="StandardFlexibleScaler"),  # X
        pytest.warns(UncenteredDataWarning, match="decision function Z is not"),
    ):
        PCovC(n_components=2, scale_z=True).fit(X + 2.0, y)


@pytest.mark.parametrize(
    ("space", "task"),
    [("feature", "binary"), ("feature", "multiclass"), ("sample", "multiclass")],
)
def test_scaled_z_on_centred_x_does_not_warn(space, task):
    X, y = linear_problem(space, task)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PCovC(n_components=2, space=space, scale_z=True).fit(X, y)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_scaled_z_of_a_centred_kernel_does_not_warn(task):
    X, y = kernel_problem(task)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KernelPCovC(kernel="rbf", gamma=0.5, center=True, scale_z=True).fit(X, y)


# -- PCA limit, pipelines and model selection


@pytest.mark.parametrize("space", ["feature", "sample"])
def test_mixing_one_is_pca(space):
    X, y = linear_problem(space, "multiclass")
    model = PCovC(mixing=1.0, n_components=2, space=space, **QUIET).fit(X, y)
    pca = PCA(n_components=2, svd_solver="full").fit(X)
    assert np.allclose(model.singular_values_, pca.singular_values_)
    assert same_up_to_column_signs(model.transform(X), pca.transform(X), atol=1e-8)


def test_pipeline_and_grid_search_over_mixing():
    X, y = load_iris(return_X_y=True)  # raw: the pipeline centres and scales it
    pipeline = make_pipeline(
        StandardFlexibleScaler(column_wise=True), PCovC(n_components=2, scale_z=True)
    )
    pipeline.fit(X, y)
    assert pipeline.transform(X).shape == (150, 2)
    assert pipeline.score(X, y) > 0.85
    grid = [0.0, 0.5, 1.0]
    search = GridSearchCV(pipeline, {"pcovc__mixing": grid}, cv=3).fit(X, y)
    assert search.best_params_["pcovc__mixing"] in grid
    for mixing, score in zip(grid, search.cv_results_["mean_test_score"], strict=True):
        pipeline.set_params(pcovc__mixing=mixing)
        assert np.isclose(score, cross_val_score(pipeline, X, y, cv=3).mean())
    best = search.best_estimator_[-1]
    assert best.mixing == search.best_params_["pcovc__mixing"]
    assert search.score(X, y) == accuracy_score(y, search.predict(X))


def test_pandas_input_and_output():
    pd = pytest.importorskip("pandas")
    X, y = linear_problem()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = PCovC(n_components=2, scale_z=True).set_output(transform="pandas")
    model.fit(frame, y)
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    latent = model.transform(frame)  # no feature-name warning (filterwarnings=error)
    assert list(latent.columns) == ["pcovc0", "pcovc1"]
    assert np.allclose(latent.to_numpy(), X @ model.pxt_)
    np.testing.assert_array_equal(
        model.predict(frame), model.classifier_.predict(X @ model.pxt_)
    )


# -- precomputed kernels


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_precomputed_kernel_gives_the_same_model(center, task):
    X, y = kernel_problem(task)
    X_new = X[::3] + 0.05
    params = {"mixing": 0.4, "n_components": 2, "center": center, "scale_z": True}
    params["z_mean_tol"] = 1e30  # without centring K, Z is not centred
    internal = KernelPCovC(kernel="rbf", gamma=0.5, **params).fit(X, y)
    precomputed = KernelPCovC(kernel="precomputed", **params)
    precomputed.fit(pairwise_kernels(X, metric="rbf", gamma=0.5), y)
    K_new = pairwise_kernels(X_new, X, metric="rbf", gamma=0.5)
    np.testing.assert_array_equal(precomputed.predict(K_new), internal.predict(X_new))
    assert np.allclose(precomputed.transform(K_new), internal.transform(X_new))
    assert np.allclose(
        precomputed.decision_function(K_new), internal.decision_function(X_new)
    )
    assert np.allclose(precomputed.predict_proba(K_new), internal.predict_proba(X_new))
