"""Dask arrays in PCovR, StandardFlexibleScaler and the feature selectors: the
numpy path's fitted attributes (to 1e-10, or the same picks), one graph run per
fit, and lazy outputs with the input's row chunks — on dask's threaded
scheduler and on a distributed LocalCluster."""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from sklearn.linear_model import Lasso, Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from propmap import feature_selection  # noqa: E402
from propmap.decomposition import PCovR  # noqa: E402
from propmap.preprocessing import StandardFlexibleScaler  # noqa: E402

ROWS = 400  # row chunk

# the test data live in the graph (da.from_array): distributed says so
pytestmark = pytest.mark.filterwarnings("ignore:Sending large graph:UserWarning")


@pytest.fixture(scope="module")
def environments():
    """Real data: per-atom SOAP of 150 QM9 molecules (2,335 atoms; duplicate
    columns, e.g. the symmetric species pairs, dropped so that no pick is a tie),
    centred and scaled, and a centred per-atom target (the atomic number)."""
    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    structures = load_qm9(150)
    soap = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
    X = soap.featurizer(per="atom", sparse_output=False).fit_transform(structures)
    X = np.unique(np.asarray(X), axis=1)
    X = StandardFlexibleScaler().fit_transform(X)
    y = np.concatenate([atoms.numbers for atoms in structures]).astype(float)
    return X, (y - y.mean()) / y.std()


@pytest.fixture(scope="module")
def components(environments):
    """The same environments as their first 40 principal components. The SOAP
    columns themselves make XᵀX singular to 1e-22 (132 null directions): there the
    numpy fit itself moves by 1e-8 when the rows are merely permuted (the sum's
    order), so 1e-10 agreement is asked on this well-conditioned real data."""
    from sklearn.decomposition import PCA

    X, y = environments
    return PCA(40, random_state=0).fit_transform(X), y


def lazy(X, rows=ROWS):
    return da.from_array(X, chunks=(rows, -1) if X.ndim == 2 else rows)


def assert_lazy_rows(result, X):
    assert isinstance(result, da.Array)
    assert result.chunks[0] == X.chunks[0]


@pytest.mark.parametrize("targets", ["1d", "2d"])
def test_pcovr_on_dask_is_the_numpy_fit(components, graphs, targets):
    X, y = components
    Y = y if targets == "1d" else np.column_stack([y, y**2 - 1])
    settings = {"mixing": 0.4, "n_components": 4, "svd_solver": "full"}
    expected = PCovR(**settings).fit(X, Y)
    Xd = lazy(X)
    with graphs() as counter:
        model = PCovR(**settings).fit(Xd, lazy(Y))
        assert counter.n == 1  # XᵀX, XᵀY and the column sums in one pass
        # the column means of centred data are rounding: compared absolutely
        np.testing.assert_allclose(model.mean_, expected.mean_, rtol=0, atol=1e-13)
        for name in ("pxt_", "ptx_", "pty_", "pxy_", "explained_variance_"):
            np.testing.assert_allclose(
                getattr(model, name),
                getattr(expected, name),
                rtol=1e-10,
                atol=1e-10 * np.abs(getattr(expected, name)).max(),
                err_msg=name,
            )
        latent = model.transform(Xd)
        prediction = model.predict(Xd)
        reconstruction = model.inverse_transform(latent)
        assert counter.n == 1  # nothing computed yet
        for result in (latent, prediction, reconstruction):
            assert_lazy_rows(result, Xd)
        assert prediction.shape == Y.shape
        np.testing.assert_allclose(latent.compute(), expected.transform(X), atol=1e-9)
        np.testing.assert_allclose(prediction.compute(), expected.predict(X), atol=1e-9)
        np.testing.assert_allclose(
            reconstruction.compute(),
            expected.inverse_transform(expected.transform(X)),
            atol=1e-9,
        )
    # numpy in, numpy out
    assert isinstance(model.transform(X), np.ndarray)


def test_a_scaled_pipeline_reads_x_twice_and_no_more(components, graphs):
    X, y = components
    raw = X * np.linspace(1, 3, X.shape[1]) + 2.0
    expected = make_pipeline(
        StandardFlexibleScaler(), PCovR(mixing=0.5, n_components=3, svd_solver="full")
    ).fit(raw, y)
    with graphs() as counter:
        pipeline = make_pipeline(
            StandardFlexibleScaler(),
            PCovR(mixing=0.5, n_components=3, svd_solver="full"),
        ).fit(lazy(raw), y)
        assert counter.n == 2  # the scaler's moments, then PCovR's products
        latent = pipeline.transform(lazy(raw)).compute()
    np.testing.assert_allclose(latent, expected.transform(raw), atol=1e-9)


@pytest.mark.parametrize("column_wise", [False, True])
@pytest.mark.parametrize("weights", [None, "numpy", "dask"])
def test_the_scaler_on_dask_is_the_numpy_fit(components, graphs, column_wise, weights):
    X = components[0] * 3.0 + 100.0  # far from centred: one-pass care
    X = X + np.random.default_rng(0).normal(scale=0.1, size=X.shape)
    sample_weight = None
    if weights is not None:
        sample_weight = np.random.default_rng(1).uniform(0.0, 2.0, len(X))
    expected = StandardFlexibleScaler(column_wise=column_wise).fit(
        X, sample_weight=sample_weight
    )
    given = lazy(sample_weight) if weights == "dask" else sample_weight
    with graphs() as counter:
        scaler = StandardFlexibleScaler(column_wise=column_wise).fit(
            lazy(X), sample_weight=given
        )
        assert counter.n == 1
        np.testing.assert_allclose(scaler.mean_, expected.mean_, rtol=1e-12)
        np.testing.assert_allclose(scaler.scale_, expected.scale_, rtol=1e-10)
        scaled = scaler.transform(lazy(X))
        assert_lazy_rows(scaled, lazy(X))
        np.testing.assert_allclose(scaled.compute(), expected.transform(X), atol=1e-9)
        back = scaler.inverse_transform(scaled).compute()
    np.testing.assert_allclose(back, X, rtol=1e-12)


@pytest.mark.parametrize("method", ["FPS", "CUR", "PCovFPS", "PCovCUR"])
def test_feature_selection_on_dask_makes_the_numpy_picks(environments, graphs, method):
    X, y = environments
    selector = getattr(feature_selection, method)
    expected = selector(n_to_select=20).fit(X, y)
    Xd = lazy(X)
    with graphs() as counter:
        ours = selector(n_to_select=20).fit(Xd, lazy(y))
        assert counter.n == 1  # [X y]ᵀ[X y] in one pass; the picks from its root
        np.testing.assert_array_equal(ours.selected_idx_, expected.selected_idx_)
        assert (ours.n_samples_in_, ours.n_features_in_) == X.shape
        scores, reference = ours.score(Xd), expected.score(X)
        finite = np.isfinite(reference)
        # the PCov methods regress y on these ill-conditioned columns (XᵀX
        # singular to 1e-22): their scores carry that regression's rounding
        tolerance = 1e-5 if method.startswith("PCov") else 1e-8
        np.testing.assert_allclose(
            scores[finite],
            reference[finite],
            rtol=tolerance,
            atol=tolerance * np.abs(reference[finite]).max(),
        )
        kept = ours.transform(Xd)
        assert_lazy_rows(kept, Xd)
        assert isinstance(ours.X_selected_, da.Array)
        assert counter.n == 1
        np.testing.assert_array_equal(kept.compute(), expected.transform(X))
        np.testing.assert_array_equal(ours.X_selected_.compute(), expected.X_selected_)


def test_several_column_chunks_are_joined(components, graphs):
    X, y = components
    expected = PCovR(mixing=0.5, n_components=2, svd_solver="full").fit(X, y)
    blocks = da.from_array(X, chunks=(ROWS, 15))
    with graphs():
        model = PCovR(mixing=0.5, n_components=2, svd_solver="full").fit(blocks, y)
        latent = model.transform(blocks)
        assert latent.chunks[1] == (2,)
        np.testing.assert_allclose(latent.compute(), expected.transform(X), atol=1e-9)


@pytest.mark.parametrize(
    ("make", "model", "message"),
    [
        (lambda X, y: (X[X[:, 0] > 0], y), PCovR(), "unknown chunk sizes"),
        (lambda X, y: (X[:, 0], y), PCovR(), "two-dimensional"),
        (lambda X, y: (X, y[:-1]), PCovR(), "rows but X has"),
        (lambda X, y: (X, None), PCovR(), "requires y"),
        (lambda X, y: (X, y), PCovR(space="sample"), "feature space"),
        (lambda X, y: (X, y), PCovR(regressor=Lasso()), "solvable from XᵀX"),
        (lambda X, y: (X, y), PCovR(regressor=Ridge()), "solvable from XᵀX"),
        (
            lambda X, y: (
                da.concatenate([X, da.full((1, X.shape[1]), np.nan)]),
                np.append(y, 0.0),
            ),
            PCovR(),
            "NaN or infinity",
        ),
        (lambda X, y: (X, None), feature_selection.PCovCUR(), "requires y"),
    ],
)
def test_bad_dask_input_is_named(environments, make, model, message):
    X, y = environments
    Xd, yd = make(lazy(X[:, :50]), y)
    with (
        dask.config.set(scheduler="threads"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ValueError, match=message):
            model.fit(Xd, yd)


def test_outputs_check_the_width_of_a_dask_input(environments):
    X, y = environments
    model = PCovR(n_components=2).fit(X[:, :30], y)
    with pytest.raises(ValueError, match="30 features"):
        model.transform(lazy(X[:, :31]))
    with pytest.raises(ValueError, match="fitted with 2"):
        model.inverse_transform(lazy(np.zeros((5, 3))))
    selector = feature_selection.FPS(n_to_select=3).fit(X[:, :30])
    with pytest.raises(ValueError, match="30 features"):
        selector.transform(lazy(X[:, :31]))


@pytest.mark.parametrize("method", ["FPS", "PCovFPS"])
@pytest.mark.parametrize("initialize", [0, [5, 17], "random"])
def test_sample_fps_on_dask_makes_the_numpy_picks(
    components, graphs, method, initialize
):
    """On a cluster the rows stay on the workers, one actor per row chunk; on a
    local scheduler X is read in once and the numpy path runs."""
    from propmap import sample_selection

    X, y = components
    selector = getattr(sample_selection, method)
    settings = {"n_to_select": 40, "initialize": initialize, "random_state": 3}
    expected = selector(**settings).fit(X, y)
    Xd = lazy(X, rows=300)
    with graphs() as counter:
        ours = selector(**settings).fit(Xd, lazy(y, rows=300))
        # a local scheduler: one compute; a cluster: one for the row chunks,
        # one to place an actor on each, none per pick
        assert counter.n <= 2
        np.testing.assert_array_equal(ours.selected_idx_, expected.selected_idx_)
        np.testing.assert_allclose(ours.hausdorff_, expected.hausdorff_, atol=1e-10)
        finite = np.isfinite(expected.hausdorff_at_select_)
        np.testing.assert_array_equal(finite, np.isfinite(ours.hausdorff_at_select_))
        np.testing.assert_allclose(
            ours.hausdorff_at_select_[finite],
            expected.hausdorff_at_select_[finite],
            atol=1e-10,
        )
        assert (ours.n_samples_in_, ours.n_features_in_) == X.shape
        rows = ours.X_selected_
        rows = rows.compute() if isinstance(rows, da.Array) else rows
        np.testing.assert_array_equal(rows, expected.X_selected_)
    # the client was handed to the strategy, not kept on the selector
    assert not [name for name, value in vars(ours).items() if "client" in name]


def test_sample_fps_with_warm_start_and_fill_up_on_a_cluster(components, cluster):
    from propmap import sample_selection

    X, _ = components
    client, _ = cluster
    Xd = lazy(X, rows=300)
    expected = sample_selection.FPS(n_to_select=30).fit(X)
    with client.as_current():
        first = sample_selection.FPS(n_to_select=10).fit(Xd)
        first.set_params(n_to_select=30)
        more = first.fit(Xd, warm_start=True)
    np.testing.assert_array_equal(more.selected_idx_, expected.selected_idx_)
    # duplicated rows leave nothing non-redundant: full=True fills up at random
    doubled = np.vstack([X[:5], X[:5]])
    with client.as_current():
        filled = sample_selection.FPS(n_to_select=8, full=True, random_state=0)
        filled.fit(lazy(doubled, rows=4))
    assert len(set(filled.selected_idx_.tolist())) == 8


@pytest.mark.parametrize(
    "settings",
    [
        {"active": "fps"},
        {"active": "random", "random_state": 0, "center": True},
        {"active": np.arange(0, 600, 10), "fit_inverse_transform": True},
    ],
    ids=["fps", "random-centred", "given-inverse"],
)
def test_sparse_kernel_pcovr_on_dask_is_the_numpy_fit(components, graphs, settings):
    from propmap.decomposition import SparseKernelPCovR

    X, y = components
    common = {
        "n_active": 60, "kernel": "rbf", "gamma": 0.05, "n_components": 3,
        "svd_solver": "full", **settings,
    }  # fmt: skip
    expected = SparseKernelPCovR(**common).fit(X, y)
    Xd = lazy(X)
    with graphs() as counter:
        model = SparseKernelPCovR(**common).fit(Xd, lazy(y))
        # the active points (FPS: one pass, or two graphs on a cluster), their
        # rows, then K_NM's products in one pass
        assert counter.n <= (4 if isinstance(settings["active"], str) else 2)
        np.testing.assert_array_equal(model.active_indices_, expected.active_indices_)
        np.testing.assert_allclose(model.X_active_, expected.X_active_)
        for name in ("pkt_", "pty_", "pky_", "kernel_mean_"):
            np.testing.assert_allclose(
                getattr(model, name), getattr(expected, name),
                rtol=1e-10, atol=1e-10 * np.abs(getattr(expected, name)).max(),
                err_msg=name,
            )  # fmt: skip
        before = counter.n
        latent, prediction = model.transform(Xd), model.predict(Xd)
        assert counter.n == before
        assert_lazy_rows(latent, Xd)
        assert_lazy_rows(prediction, Xd)
        np.testing.assert_allclose(latent.compute(), expected.transform(X), atol=1e-9)
        np.testing.assert_allclose(prediction.compute(), expected.predict(X), atol=1e-9)
    if settings.get("fit_inverse_transform"):
        np.testing.assert_allclose(model.ptx_, expected.ptx_, atol=1e-9)


def test_grouped_statistics_are_each_groups_products(components, graphs):
    from propmap._dask import DaskStatistics

    X, y = components
    rng = np.random.default_rng(0)
    groups = rng.integers(-1, 3, X.shape[0])
    groups[:ROWS] = 2  # a block with one group only
    with graphs() as counter:
        statistics = DaskStatistics.grouped(lazy(X), lazy(y[:, None]), groups, 3)
        assert counter.n == 1
    joint = np.column_stack([X, y, np.ones(len(y))])
    for label, found in enumerate(statistics):
        rows = joint[groups == label]
        np.testing.assert_allclose(found.joint, rows.T @ rows, rtol=1e-12, atol=1e-9)
        assert found.n_samples == rows.shape[0]
    with pytest.raises(ValueError, match="one label per row"):
        DaskStatistics.grouped(lazy(X), None, groups[:-1], 3)
    with pytest.raises(ValueError, match=r"-1 or in range\(3\)"):
        DaskStatistics.grouped(lazy(X), None, groups + 1, 3)
