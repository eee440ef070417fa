"""Drop-in gaps: what scikit-matter users read from fitted objects works here too.

VoronoiFPS's switching-point state (``vlocation_of_idx``, ``dSL_``, ``norms_``,
``new_dist_``, ``score()`` without X), the CUR family's residuals (``X_current_``,
PCov-CUR's ``y_current_``, ``X_ref_``, ``y_ref_``), ``selection_type`` and
``report_progress_``, sample selectors' refusing ``transform``, SparseKDE's names
read by scikit-matter's examples and ``propmap.neighbors._sparsekde._covariance``,
and ``KernelPCovR._get_kernel``. Tests marked ``parity`` compare with
scikit-matter and skip without it.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from propmap import feature_selection, sample_selection
from propmap.decomposition import KernelPCovR
from propmap.neighbors import SparseKDE
from propmap.utils import no_progress_bar

AXES = {"feature": feature_selection, "sample": sample_selection}

# methods of scikit-learn's SelectorMixin that scikit-matter's sample selectors
# inherit: transform / fit_transform / inverse_transform raise (tested below);
# these two only make sense for features and are not offered on samples
FEATURE_ONLY = {"get_feature_names_out", "set_output"}
REFUSED = {"transform", "fit_transform", "inverse_transform"}


def _quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def _public_names(fitted) -> set[str]:
    """The public attributes of a fitted object and the public names of its
    class (methods, properties)."""
    names = {name for name in vars(fitted) if not name.startswith("_")}
    return names | {name for name in dir(type(fitted)) if not name.startswith("_")}


@pytest.fixture
def clustered(rng):
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 0, 0, 1], [-3.0, 2, 0, -1]])
    X = np.vstack([rng.normal(centre, 0.3, (40, 4)) for centre in centres])
    return X, X[:, :2] @ np.array([1.0, -0.5])


@pytest.fixture
def regression(rng):
    X = rng.standard_normal((40, 12))
    y = X[:, :2] @ np.array([1.0, -2.0]) + 0.1 * rng.standard_normal(40)
    return X, y


# -- 1. VoronoiFPS ---------------------------------------------------------------


@pytest.mark.parity
def test_voronoi_fps_has_every_public_name_of_the_reference(skmatter, clustered):
    from skmatter.sample_selection import VoronoiFPS as Reference

    X, y = clustered
    theirs = _quietly(Reference(n_to_select=8, full_fraction=0.3).fit, X, y)
    ours = sample_selection.VoronoiFPS(n_to_select=8, full_fraction=0.3).fit(X, y)
    expected = _public_names(theirs) - FEATURE_ONLY - REFUSED
    assert sorted(name for name in expected if not hasattr(ours, name)) == []


@pytest.mark.parity
@pytest.mark.parametrize("full_fraction", [0.05, 0.5, 1.0])
@pytest.mark.parametrize("n_to_select", [1, 2, 12])
def test_voronoi_fps_fitted_values_are_the_references(
    skmatter, clustered, full_fraction, n_to_select
):
    from skmatter.sample_selection import VoronoiFPS as Reference

    X, y = clustered
    kwargs = {"n_to_select": n_to_select, "full_fraction": full_fraction}
    theirs = _quietly(Reference(**kwargs).fit, X, y)
    ours = sample_selection.VoronoiFPS(**kwargs).fit(X, y)
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()
    assert ours.get_support(indices=True, ordered=True).tolist() == (
        theirs.get_support(indices=True, ordered=True).tolist()
    )
    assert ours.n_selected_ == theirs.n_selected_
    assert (ours.n_samples_in_, ours.n_features_in_) == (
        theirs.n_samples_in_,
        theirs.n_features_in_,
    )
    assert ours.selection_type == theirs.selection_type == "sample"
    np.testing.assert_array_equal(ours.support_, theirs.support_)
    np.testing.assert_array_equal(ours.X_selected_, theirs.X_selected_)
    np.testing.assert_allclose(ours.y_selected_, theirs.y_selected_)

    # the Voronoi bookkeeping: same shapes, dtypes and values
    assert ours.vlocation_of_idx.dtype == theirs.vlocation_of_idx.dtype
    np.testing.assert_array_equal(ours.vlocation_of_idx, theirs.vlocation_of_idx)
    assert ours.dSL_.shape == theirs.dSL_.shape
    np.testing.assert_allclose(ours.dSL_, theirs.dSL_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.norms_, theirs.norms_, rtol=1e-14)
    np.testing.assert_allclose(
        ours.hausdorff_at_select_, theirs.hausdorff_at_select_, rtol=1e-12
    )
    np.testing.assert_allclose(
        ours.get_select_distance(), theirs.get_select_distance(), rtol=1e-12
    )

    # scikit-matter marks earlier picks with -inf, propmap with 0 (CHANGELOG)
    for name in ("hausdorff_", "new_dist_"):
        reference = getattr(theirs, name)
        picked = np.isneginf(reference)
        assert np.all(getattr(ours, name)[picked] == 0.0), name
        expected = np.where(picked, 0.0, reference)
        assert getattr(ours, name).shape == expected.shape, name
        np.testing.assert_allclose(
            getattr(ours, name), expected, rtol=1e-10, atol=1e-10, err_msg=name
        )
    np.testing.assert_array_equal(ours.get_distance(), ours.hausdorff_)
    np.testing.assert_array_equal(ours.score(), ours.hausdorff_)  # no X needed
    np.testing.assert_array_equal(ours.score(X), ours.hausdorff_)


def _squared_distances_to(X, index):
    return ((X - X[index]) ** 2).sum(axis=1)


def test_voronoi_new_dist_after_a_full_pass_is_every_distance_to_the_last_pick(
    clustered,
):
    X, _ = clustered
    selector = sample_selection.VoronoiFPS(n_to_select=6, full_fraction=0.01)
    selector.fit(X)
    last = selector.selected_idx_[-1]
    np.testing.assert_allclose(
        selector.new_dist_, _squared_distances_to(X, last), rtol=1e-10, atol=1e-10
    )


def test_voronoi_new_dist_after_a_partial_update(clustered):
    X, _ = clustered
    selector = sample_selection.VoronoiFPS(n_to_select=6, full_fraction=1.0).fit(X)
    last = selector.selected_idx_[-1]
    exact = _squared_distances_to(X, last)
    new = selector.new_dist_
    assert new[last] == 0.0
    computed = np.isclose(new, exact, rtol=1e-10, atol=1e-10)
    # the cells the last pick could not change were skipped: there the entry is
    # the distance to the nearest pick, which is smaller
    assert computed.sum() > 1
    assert not computed.all()
    # some rows were recomputed without moving to the last pick's cell: there
    # new_dist_ holds their (larger) distance to it, not their distance to the set
    assert np.any(new[computed] > selector.hausdorff_[computed] + 1e-6)
    skipped = ~computed
    np.testing.assert_array_equal(new[skipped], selector.hausdorff_[skipped])
    assert np.all(new[skipped] < exact[skipped])


def test_voronoi_score_without_x(clustered):
    X, _ = clustered
    selector = sample_selection.VoronoiFPS(n_to_select=4, full_fraction=0.5)
    with pytest.raises(NotFittedError):
        selector.score()
    selector.fit(X)
    np.testing.assert_array_equal(selector.score(), selector.hausdorff_)
    with pytest.raises(ValueError, match="features"):
        selector.score(X[:, :2])


@pytest.mark.parity
def test_voronoi_timed_full_fraction_is_an_attribute_not_the_parameter(
    skmatter, clustered
):
    """scikit-matter writes the timed switching point into ``full_fraction``;
    propmap leaves the parameter as given and reports it as ``full_fraction_``
    (CHANGELOG, scikit-matter spellings), so clone() and refits see None."""
    from skmatter.sample_selection import VoronoiFPS as Reference

    X, _ = clustered
    theirs = _quietly(Reference(n_to_select=4).fit, X)
    ours = sample_selection.VoronoiFPS(n_to_select=4).fit(X)
    assert isinstance(theirs.full_fraction, float)
    assert ours.full_fraction is None
    assert 0 < ours.full_fraction_ <= 1
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


# -- 2. CUR and PCov-CUR (and the other selectors' common names) -----------------


SAMPLE_SELECTORS = ["CUR", "PCovCUR", "FPS", "PCovFPS", "VoronoiFPS"]


@pytest.mark.parametrize("method", [*SAMPLE_SELECTORS, "KernelFPS"])
def test_sample_selectors_refuse_to_transform(regression, method):
    X, y = regression
    if method == "KernelFPS":
        X = X @ X.T
    selector = getattr(sample_selection, method)(n_to_select=3).fit(X, y)
    for name in sorted(REFUSED):
        # a ValueError, as scikit-matter raises ...
        with pytest.raises(ValueError, match="selects samples"):
            getattr(selector, name)(X)
        # ... that is also an AttributeError: scikit-learn (Pipeline,
        # check_estimator) does not take a sample selector for a transformer
        assert not hasattr(selector, name)
    with pytest.raises(AttributeError):
        selector.transform(X)


@pytest.mark.parity
@pytest.mark.parametrize("method", SAMPLE_SELECTORS)
def test_reference_sample_selectors_raise_value_error_on_transform(
    skmatter, regression, method
):
    import skmatter.sample_selection

    X, y = regression
    reference = getattr(skmatter.sample_selection, method)(n_to_select=3)
    _quietly(reference.fit, X, y)
    with pytest.raises(ValueError, match="not currently supported"):
        reference.transform(X)
    with pytest.raises(ValueError, match="not currently supported"):
        _quietly(reference.fit_transform, X, y)


@pytest.mark.parity
@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", ["CUR", "PCovCUR", "FPS", "PCovFPS"])
def test_fitted_names_of_the_reference_exist(skmatter, regression, axis, method):
    import skmatter.feature_selection
    import skmatter.sample_selection

    X, y = regression
    reference = getattr(getattr(skmatter, f"{axis}_selection"), method)
    theirs = _quietly(reference(n_to_select=4).fit, X, y)
    ours = getattr(AXES[axis], method)(n_to_select=4).fit(X, y)
    expected = _public_names(theirs)
    if axis == "sample":
        expected -= FEATURE_ONLY | REFUSED
    # FPS's squared norms and PCov-FPS's n x n (or d x d) modified Gram matrix
    # are not kept (not in this change: the FPS family is outside it)
    expected -= {"norms_", "pcovr_distance_"}
    assert sorted(name for name in expected if not hasattr(ours, name)) == []
    assert ours.selection_type == theirs.selection_type == axis


@pytest.mark.parity
@pytest.mark.parametrize("recompute_every", [1, 0, 3])
@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", ["CUR", "PCovCUR"])
def test_cur_residuals_are_the_references(
    skmatter, regression, axis, method, recompute_every
):
    import skmatter.feature_selection
    import skmatter.sample_selection

    X, y = regression
    kwargs = {"n_to_select": 6, "recompute_every": recompute_every}
    reference = getattr(getattr(skmatter, f"{axis}_selection"), method)
    theirs = _quietly(reference(**kwargs).fit, X, y)
    ours = getattr(AXES[axis], method)(**kwargs).fit(X, y)
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()
    assert ours.X_current_.shape == theirs.X_current_.shape == X.shape
    np.testing.assert_allclose(ours.X_current_, theirs.X_current_, atol=1e-10)
    if method == "PCovCUR":
        assert ours.y_current_.shape == theirs.y_current_.shape == (len(y), 1)
        np.testing.assert_allclose(ours.y_current_, theirs.y_current_, atol=1e-10)
        np.testing.assert_array_equal(ours.X_ref_, theirs.X_ref_)
        np.testing.assert_array_equal(ours.y_ref_, theirs.y_ref_)


@pytest.mark.parametrize("axis", ["feature", "sample"])
def test_cur_residuals_are_orthogonal_to_the_picks(regression, axis):
    X, y = regression
    selector = AXES[axis].PCovCUR(n_to_select=5).fit(X, y)
    picks = selector.selected_idx_
    residual, targets = selector.X_current_, selector.y_current_
    scale = np.abs(X).max() ** 2
    if axis == "sample":
        # every row loses its part along the picked rows; the picked rows vanish
        np.testing.assert_allclose(residual @ X[picks].T, 0, atol=1e-12 * scale)
        np.testing.assert_allclose(residual[picks], 0, atol=1e-12 * scale)
        # the picked samples' targets are fitted exactly (5 rows, 12 features)
        np.testing.assert_allclose(targets[picks], 0, atol=1e-10)
    else:
        np.testing.assert_allclose(X[:, picks].T @ residual, 0, atol=1e-12 * scale)
        np.testing.assert_allclose(X[:, picks].T @ targets, 0, atol=1e-10)
    # what is removed lies in the span of the picks (rows or columns)
    removed = X - residual
    basis = X[picks].T if axis == "sample" else X[:, picks]
    inside = removed.T if axis == "sample" else removed
    coefficients = np.linalg.lstsq(basis, inside, rcond=None)[0]
    np.testing.assert_allclose(basis @ coefficients, inside, atol=1e-10)
    assert not np.allclose(residual, X)
    np.testing.assert_array_equal(selector.X_ref_, X)
    np.testing.assert_array_equal(selector.y_ref_, y.reshape(-1, 1))


def test_cur_residuals_without_orthogonalisation_are_the_data(regression):
    X, y = regression
    selector = sample_selection.PCovCUR(n_to_select=4, recompute_every=0).fit(X, y)
    np.testing.assert_array_equal(selector.X_current_, X)
    np.testing.assert_array_equal(selector.y_current_, y.reshape(-1, 1))
    assert selector.X_current_ is not X  # a copy, as the reference's


def test_cur_residuals_need_a_fit_and_in_memory_data(regression):
    da = pytest.importorskip("dask.array")
    X, _ = regression
    selector = feature_selection.CUR(n_to_select=3)
    with pytest.raises(NotFittedError):
        selector.X_current_
    selector.fit(da.from_array(X, chunks=(20, 12)))
    assert selector.selected_idx_.size == 3
    with pytest.raises(AttributeError, match="dask"):
        selector.X_current_
    selector.fit(X)
    assert selector.X_current_.shape == X.shape


@pytest.mark.parametrize("axis", ["feature", "sample"])
def test_selection_type_and_report_progress(regression, axis):
    X, y = regression
    selector = AXES[axis].CUR(n_to_select=3)
    assert selector.selection_type == axis
    with pytest.raises(NotFittedError):
        selector.report_progress_
    selector.fit(X, y)
    assert selector.report_progress_ is no_progress_bar
    selector.set_params(progress_bar=True)
    bar = selector.report_progress_
    assert bar is not no_progress_bar
    assert callable(bar)


# -- 3. SparseKDE ----------------------------------------------------------------


@pytest.fixture
def two_gaussians(rng):
    return np.vstack(
        [
            rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], 300),
            rng.multivariate_normal([4, 4], [[1, 0.5], [0.5, 0.5]], 300),
        ]
    )


@pytest.mark.parity
def test_sparse_kde_names_read_by_the_reference_examples(skmatter, two_gaussians):
    """scikit-matter's sparse-KDE and PAMM examples read these from a fitted
    SparseKDE built with its spelling ``SparseKDE(descriptors, weights)``."""
    from skmatter.neighbors import SparseKDE as Reference

    X = two_gaussians
    grid = X[sample_selection.FPS(n_to_select=24).fit(X).selected_idx_]
    theirs = _quietly(Reference(X.copy(), None, fpoints=0.5).fit, grid)
    ours = SparseKDE(X, None, fpoints=0.5).fit(grid)
    for name in ("_grids", "_sample_weights", "bandwidth_", "_covariance"):
        expected = getattr(theirs, name)
        assert getattr(ours, name).shape == expected.shape, name
        np.testing.assert_allclose(
            getattr(ours, name), expected, rtol=1e-12, atol=1e-14, err_msg=name
        )
    np.testing.assert_array_equal(ours._sample_labels_, theirs._sample_labels_)
    assert ours.nsamples == theirs.nsamples == len(X)
    assert ours.ndimension == theirs.ndimension == 2
    assert ours.kdecut_squared == pytest.approx(theirs.kdecut_squared, rel=1e-15)
    assert ours.cell is None
    assert theirs.cell is None
    assert ours.fitted_ is True
    assert theirs.fitted_ is True
    np.testing.assert_allclose(
        ours.score_samples(grid), _quietly(theirs.score_samples, grid), rtol=1e-10
    )


def test_sparse_kde_names_before_and_after_fit(two_gaussians):
    X = two_gaussians
    given = SparseKDE(X)  # scikit-matter's spelling: the names need no fit
    assert (given.nsamples, given.ndimension) == (600, 2)
    assert given.kdecut_squared == pytest.approx((3 * (np.sqrt(2) + 1)) ** 2)
    assert not hasattr(given, "fitted_")
    empty = SparseKDE(fpoints=0.5)
    with pytest.raises(NotFittedError):
        empty.nsamples
    empty.fit(X)
    assert empty.fitted_ is True
    assert (empty.nsamples, empty.ndimension) == (600, 2)
    np.testing.assert_array_equal(empty._grids, empty.grid_)


def test_sparsekde_module_is_scikit_matters_path():
    from propmap.neighbors import _sparse_kde, _sparsekde

    assert _sparsekde.SparseKDE is SparseKDE
    assert _sparsekde._covariance is _sparse_kde._covariance


@pytest.mark.parity
def test_covariance_helper_is_the_references(skmatter, rng):
    from skmatter.neighbors._sparsekde import _covariance as reference

    from propmap.neighbors._sparsekde import _covariance

    X = rng.normal(size=(50, 3))
    weights = rng.random(50)
    np.testing.assert_allclose(
        _covariance(X, weights, None), reference(X, weights, None), rtol=1e-12
    )
    # scikit-matter's keyword names work too; in a cell of side 2π the periodic
    # means agree (elsewhere propmap's uses 2πx/L, scikit-matter's x: CHANGELOG)
    cell = np.full(3, 2 * np.pi)
    np.testing.assert_allclose(
        _covariance(X=X, sample_weights=weights, cell=cell),
        reference(X, weights, cell),
        rtol=1e-12,
    )
    # the fixture of scikit-matter's own test of the helper
    points = np.array([[1, 2], [3, 3], [4, 6]])
    np.testing.assert_allclose(
        _covariance(points, np.full(3, 1 / 3), None),
        reference(points, np.full(3, 1 / 3), None),
        rtol=1e-12,
    )


def test_covariance_helper_in_a_cell_is_periodic(rng):
    from propmap.neighbors._sparsekde import _covariance

    X = rng.uniform(0, 3, size=(40, 2))
    weights = rng.random(40)
    cell = [3.0, 3.0]  # a list, as scikit-matter's examples pass metric params
    shifted = X.copy()
    shifted[::3] += 3.0  # the same points, moved by a cell length
    shifted[1::5, 1] -= 6.0
    np.testing.assert_allclose(
        _covariance(shifted, weights, cell), _covariance(X, weights, cell), atol=1e-12
    )


# -- 4. KernelPCovR._get_kernel ------------------------------------------------


def _callable_kernel(a, b, scale=1.0):
    return scale * np.exp(-np.abs(a - b).sum())


KERNELS = {
    "rbf": {"kernel": "rbf", "gamma": 0.3},
    "poly": {"kernel": "poly", "degree": 2, "coef0": 0.5, "gamma": 0.1},
    "linear": {"kernel": "linear"},
    "callable": {"kernel": _callable_kernel, "kernel_params": {"scale": 2.0}},
}


@pytest.mark.parity
@pytest.mark.parametrize("name", list(KERNELS))
def test_get_kernel_is_the_references(skmatter, rng, name):
    from skmatter.decomposition import KernelPCovR as Reference

    X, Z = rng.normal(size=(20, 4)), rng.normal(size=(7, 4))
    ours, theirs = KernelPCovR(**KERNELS[name]), Reference(**KERNELS[name])
    np.testing.assert_allclose(ours._get_kernel(X), theirs._get_kernel(X))
    np.testing.assert_allclose(ours._get_kernel(Z, X), theirs._get_kernel(Z, X))
    assert ours._get_kernel(Z, X).shape == (7, 20)


@pytest.mark.parity
def test_get_kernel_precomputed_is_the_references(skmatter, rng):
    from skmatter.decomposition import KernelPCovR as Reference

    X = rng.normal(size=(10, 3))
    kernel = X @ X.T
    np.testing.assert_array_equal(
        KernelPCovR(kernel="precomputed")._get_kernel(kernel),
        Reference(kernel="precomputed")._get_kernel(kernel),
    )


def test_get_kernel_builds_the_models_kernel(rng):
    X, Z = rng.normal(size=(30, 4)), rng.normal(size=(6, 4))
    Y = np.sin(X[:, :2])
    model = KernelPCovR(mixing=0.5, n_components=3, kernel="rbf", gamma=0.5)
    model.fit(X, Y)
    np.testing.assert_allclose(
        model._get_kernel(Z, model.X_fit_) @ model.pky_, model.predict(Z), atol=1e-10
    )
    np.testing.assert_allclose(
        model._get_kernel(X), np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1))
    )
