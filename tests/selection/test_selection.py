"""One parametrised module for every selection method on both axes."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from propmap import feature_selection, sample_selection

DATA = Path(__file__).parents[1] / "data"
MODULES = {"feature": feature_selection, "sample": sample_selection}
METHODS = ["FPS", "CUR", "PCovFPS", "PCovCUR"]
NEEDS_Y = {"PCovFPS", "PCovCUR"}


def selector(axis, method, **params):
    return getattr(MODULES[axis], method)(**params)


def make_data(kind, rng, n_samples=60, n_features=12):
    if kind == "random":
        X = rng.standard_normal((n_samples, n_features))
    elif kind == "low-rank":
        X = rng.standard_normal((n_samples, 4)) @ rng.standard_normal((4, n_features))
        X += 1e-3 * rng.standard_normal(X.shape)
    elif kind == "clustered":
        centres = 5 * rng.standard_normal((5, n_features))
        X = centres[rng.integers(0, 5, n_samples)]
        X += 0.3 * rng.standard_normal(X.shape)
    elif kind == "duplicated":
        X = rng.standard_normal((n_samples // 2, n_features))
        X = np.vstack([X, X[: n_samples - X.shape[0]]])
    X -= X.mean(axis=0)
    y = X @ rng.standard_normal(n_features) + 0.1 * rng.standard_normal(n_samples)
    return X, (y - y.mean()).reshape(-1, 1)


# -- the recorded reference picks on the diabetes data


def reference_cases():
    cases = json.loads((DATA / "selection_vectors.json").read_text())["cases"]
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", reference_cases())
def test_reference_vectors(case):
    X, y = load_diabetes(return_X_y=True)
    if "X[:, :4]" in case["data"]:
        X = X[:, :4]
    chosen = selector(case["axis"], case["cls"], **case["params"])
    expected = case["selected_idx"]
    if case["params"]["score_threshold"] is None:
        chosen.fit(X, y.reshape(-1, 1))
        assert chosen.selected_idx_.tolist() == expected
        return
    with pytest.warns(UserWarning, match="Score threshold .* reached: stopped after"):
        chosen.fit(X, y.reshape(-1, 1))
    # The reference drops the last pick that passed the threshold from selected_idx_
    # (its own n_selected_ and X_selected_ keep it). We keep it.
    assert chosen.selected_idx_[:-1].tolist() == expected
    last_score = chosen.get_select_distance()[-1]
    threshold = case["params"]["score_threshold"]
    if case["params"]["score_threshold_type"] == "relative":
        last_score /= chosen.first_score_
    assert last_score >= threshold
    assert chosen.n_selected_ == len(expected) + 1 == chosen.X_selected_.shape[0]


# -- identical picks to the reference on varied data


PARITY_CASES = [
    (axis, method, kind, extra)
    for axis in ("feature", "sample")
    for method in METHODS
    for kind in ("random", "low-rank", "clustered", "duplicated")
    for extra in (
        [{}, {"score_threshold": 1e-3}]
        + (
            [{"k": 2}, {"k": 3}, {"recompute_every": 0}]
            if "CUR" in method
            else [{"initialize": [3, 7]}, {"initialize": "random", "random_state": 4}]
        )
    )
]


@pytest.mark.parity
@pytest.mark.parametrize(
    ("axis", "method", "kind", "extra"),
    PARITY_CASES,
    ids=[f"{a}-{m}-{k}-{e}" for a, m, k, e in PARITY_CASES],
)
def test_same_picks_as_reference(skmatter, axis, method, kind, extra):
    import skmatter.feature_selection
    import skmatter.sample_selection

    if kind == "duplicated" and "FPS" in method and "score_threshold" not in extra:
        # FPS among exact duplicates is a tie broken by rounding: stay above it
        extra = {**extra, "score_threshold": 1e-8}
    rng = np.random.default_rng(11)
    if method == "PCovFPS" and isinstance(extra.get("initialize"), list):
        # the reference's PCovFPS rejects a list initialize; ours starts from it
        X, y = make_data(kind, rng)
        chosen = selector(axis, method, n_to_select=5, mixing=0.4, **extra).fit(X, y)
        assert chosen.selected_idx_[:2].tolist() == extra["initialize"]
        return
    # more features than sample picks, so that no residual is exhausted (beyond the
    # rank every score is rounding noise, and both libraries pick arbitrarily)
    X, y = make_data(kind, rng, n_features=12 if axis == "feature" else 30)
    reference_module = getattr(skmatter, f"{axis}_selection")
    n_to_select = 8 if axis == "feature" else 20
    params = {"n_to_select": n_to_select, **extra}
    if method == "PCovFPS":
        params["mixing"] = 0.4
    if method == "PCovCUR":
        params["mixing"] = 0.4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # threshold warnings and reference chatter
        ours = selector(axis, method, **params).fit(X, y)
        theirs = getattr(reference_module, method)(**params).fit(X, y)
    expected = list(theirs.selected_idx_)
    if "score_threshold" in extra and len(ours.selected_idx_) < n_to_select:
        expected = list(theirs.selected_idx_)[: theirs.n_selected_]
        if len(expected) < theirs.n_selected_ or len(expected) < len(
            ours.selected_idx_
        ):
            # the reference's off-by-one on threshold stops (see above)
            expected = expected[: len(ours.selected_idx_) - 1]
            assert canonical(X, axis, ours.selected_idx_[: len(expected)]) == (
                canonical(X, axis, expected)
            )
            return
    assert canonical(X, axis, ours.selected_idx_) == canonical(X, axis, expected)


def canonical(X, axis, indices):
    """Indices with every exact duplicate replaced by its first copy: picking either
    of two identical candidates is an exact tie, which the reference breaks by
    rounding and we by the lowest index."""
    items = X if axis == "sample" else X.T
    _, first, inverse = np.unique(items, axis=0, return_index=True, return_inverse=True)
    return [int(first[inverse[int(index)]]) for index in indices]


@pytest.mark.parity
@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", ["CUR", "PCovCUR"])
@pytest.mark.parametrize("k", [1, 2])
def test_lanczos_path_same_picks(skmatter, monkeypatch, axis, method, k):
    """Large problems use Lanczos on the low-rank-updated eigenbasis operator;
    force it on a small one and compare with the reference."""
    import skmatter.feature_selection
    import skmatter.sample_selection

    from propmap.selection import _cur, _spectral

    monkeypatch.setattr(_cur, "_DENSE_LIMIT", 4)
    monkeypatch.setattr(_spectral, "DENSE_LIMIT", 4)
    X, y = make_data("low-rank", np.random.default_rng(5), n_features=30)
    params = {"n_to_select": 8, "k": k}
    if method == "PCovCUR":
        params["mixing"] = 0.3
    ours = selector(axis, method, **params).fit(X, y)
    reference = getattr(getattr(skmatter, f"{axis}_selection"), method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = reference(**params).fit(X, y)
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


# -- the engine


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", METHODS)
def test_warm_start_continues_one_long_run(rng, axis, method):
    X, y = make_data("random", rng)
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    long_run = selector(axis, method, n_to_select=6, **extra).fit(X, y)
    warm = selector(axis, method, n_to_select=3, warm_start=True, **extra).fit(X, y)
    assert warm.n_selected_ == 3
    warm.set_params(n_to_select=6).fit(X, y)
    assert warm.selected_idx_.tolist() == long_run.selected_idx_.tolist()
    cold = selector(axis, method, n_to_select=3, **extra).fit(X, y)
    cold.set_params(n_to_select=6).fit(X, y)  # warm_start=False starts over
    assert cold.selected_idx_.tolist() == long_run.selected_idx_.tolist()
    with pytest.raises(ValueError, match="warm_start=True continues a selection"):
        warm.fit(X[:-1], y[:-1])


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", METHODS)
def test_given_picks_continue_as_a_warm_start(rng, axis, method):
    """``fit(selected=...)``: picks made elsewhere (structures computed
    already) open the selection, which continues exactly as a warm start from
    them would — the method's own first picks give its long run back, and any
    picks give what warm_start=True makes after a fit that took them."""
    X, y = make_data("random", rng)
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    long_run = selector(axis, method, n_to_select=6, **extra).fit(X, y)
    given = selector(axis, method, n_to_select=6, **extra)
    given.fit(X, y, selected=long_run.selected_idx_[:3])
    assert given.selected_idx_.tolist() == long_run.selected_idx_.tolist()
    items = X.shape[1] if axis == "feature" else X.shape[0]
    elsewhere = rng.choice(items, 3, replace=False)
    given.fit(X, y, selected=elsewhere)
    assert given.selected_idx_[:3].tolist() == elsewhere.tolist()
    assert not set(given.selected_idx_[3:].tolist()) & set(elsewhere.tolist())
    warm = selector(axis, method, n_to_select=3, **extra)
    warm.fit(X, y, selected=elsewhere)
    warm.set_params(n_to_select=6).fit(X, y, warm_start=True)
    assert warm.selected_idx_.tolist() == given.selected_idx_.tolist()
    with pytest.raises(ValueError, match="give one of them"):
        warm.fit(X, y, warm_start=True, selected=elsewhere)
    with pytest.raises(ValueError, match="out of range"):
        given.fit(X, y, selected=[items])
    with pytest.raises(ValueError, match="repeats"):
        given.fit(X, y, selected=[1, 1])
    with pytest.raises(ValueError, match="1-D sequence"):
        given.fit(X, y, selected=[0.5])
    with pytest.raises(ValueError, match="more than n_to_select=6"):
        given.fit(X, y, selected=np.arange(7))


def test_given_picks_are_fps_initialize():
    """For FPS, given picks are what scikit-matter's initialize= with a list
    does."""
    X, _ = make_data("random", np.random.default_rng(3))
    start = [5, 17, 2]
    by_initialize = sample_selection.FPS(n_to_select=8, initialize=start).fit(X)
    given = sample_selection.FPS(n_to_select=8).fit(X, selected=start)
    assert given.selected_idx_.tolist() == by_initialize.selected_idx_.tolist()


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", METHODS)
def test_n_to_select_forms(rng, axis, method):
    X, y = make_data("random", rng)
    items = X.shape[1] if axis == "feature" else X.shape[0]
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    assert selector(axis, method, **extra).fit(X, y).n_selected_ == items // 2
    assert selector(axis, method, n_to_select=0.25, **extra).fit(X, y).n_selected_ == (
        int(items * 0.25)
    )
    everything = selector(axis, method, n_to_select=1.0, **extra).fit(X, y)
    assert sorted(everything.selected_idx_.tolist()) == list(range(items))


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", ["FPS", "PCovFPS"])
def test_fps_distances(rng, axis, method):
    X, y = make_data("clustered", rng)
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    chosen = selector(axis, method, n_to_select=10, **extra).fit(X, y)
    distances = chosen.get_select_distance()
    assert np.isinf(distances[0])
    assert np.all(np.diff(distances[1:]) <= 1e-12)
    # every unselected candidate is within the last pick's distance of the picks
    others = np.setdiff1d(np.arange(chosen.hausdorff_.size), chosen.selected_idx_)
    assert chosen.hausdorff_[others].max() <= distances[-1] + 1e-12
    assert np.all(chosen.hausdorff_[chosen.selected_idx_] == 0)


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", METHODS)
def test_sparse_input_gives_the_same_picks(rng, axis, method):
    X, y = make_data("random", rng)
    X[np.abs(X) < 0.7] = 0.0
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    dense = selector(axis, method, n_to_select=5, **extra).fit(X, y)
    sparse = selector(axis, method, n_to_select=5, **extra).fit(sp.csr_array(X), y)
    assert dense.selected_idx_.tolist() == sparse.selected_idx_.tolist()


def test_feature_selector_is_a_scikit_learn_selector(rng):
    pd = pytest.importorskip("pandas")
    X, _ = make_data("random", rng)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(12)])
    chosen = feature_selection.CUR(n_to_select=3).set_output(transform="pandas")
    reduced = chosen.fit(frame).transform(frame)
    assert list(reduced.columns) == [f"f{i}" for i in sorted(chosen.selected_idx_)]
    assert chosen.get_support().sum() == 3
    assert chosen.inverse_transform(reduced.to_numpy()).shape == X.shape


def test_pipeline_and_grid_search(rng):
    X, y = make_data("low-rank", rng, n_samples=90)
    pipeline = make_pipeline(feature_selection.PCovCUR(mixing=0.5), Ridge())
    search = GridSearchCV(pipeline, {"pcovcur__n_to_select": [2, 4, 6]}, cv=3)
    search.fit(X, y.ravel())
    assert search.best_params_["pcovcur__n_to_select"] in (2, 4, 6)
    assert search.predict(X).shape == (90,)


def test_full_fills_up_at_random(rng):
    X = np.zeros((10, 6))
    X[:, 0] = np.arange(10) - 4.5  # a rank-one X: after one pick nothing is left
    X[:, 1] = 2 * X[:, 0]
    plain = feature_selection.CUR(n_to_select=4).fit(X)
    filled = feature_selection.CUR(n_to_select=4, full=True, random_state=3).fit(X)
    again = feature_selection.CUR(n_to_select=4, full=True, random_state=3).fit(X)
    assert plain.n_selected_ == filled.n_selected_ == 4
    assert filled.selected_idx_.tolist() == again.selected_idx_.tolist()
    assert len(set(filled.selected_idx_)) == 4


def test_sample_selectors_keep_targets(rng):
    X, y = make_data("random", rng)
    chosen = sample_selection.FPS(n_to_select=5).fit(X, y)
    assert np.array_equal(chosen.y_selected_, y[chosen.selected_idx_])
    assert np.array_equal(chosen.X_selected_, X[chosen.selected_idx_])


def test_progress_bar_runs(rng):
    X, _ = make_data("random", rng)
    chosen = sample_selection.FPS(n_to_select=5, progress_bar=True).fit(X)
    assert chosen.n_selected_ == 5


# -- bad input


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", METHODS)
def test_bad_input(rng, axis, method):
    X, y = make_data("random", rng)
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    items = X.shape[1] if axis == "feature" else X.shape[0]
    with pytest.raises(ValueError, match=f"n_to_select={items + 1} is larger than"):
        selector(axis, method, n_to_select=items + 1, **extra).fit(X, y)
    for bad in (0, -2):
        with pytest.raises(ValueError, match="'n_to_select' parameter"):
            selector(axis, method, n_to_select=bad, **extra).fit(X, y)
    X_nan = X.copy()
    X_nan[2, 3] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        selector(axis, method, **extra).fit(X_nan, y)
    with pytest.raises(ValueError, match=r"full=True .* contradict"):
        selector(axis, method, full=True, score_threshold=0.1, **extra).fit(X, y)
    if method in NEEDS_Y:
        with pytest.raises(ValueError, match="requires y to be passed"):
            selector(axis, method, **extra).fit(X)


@pytest.mark.parametrize("axis", ["feature", "sample"])
def test_pcov_fps_refuses_mixing_one(rng, axis):
    X, y = make_data("random", rng)
    with pytest.raises(
        ValueError, match=f"mixing=1.0 .* use propmap.{axis}_selection.FPS"
    ):
        selector(axis, "PCovFPS", mixing=1.0).fit(X, y)


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", ["FPS", "PCovFPS"])
def test_bad_initialize(rng, axis, method):
    X, y = make_data("random", rng)
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    with pytest.raises(ValueError, match="index 500 is out of range"):
        selector(axis, method, initialize=500, **extra).fit(X, y)
    with pytest.raises(ValueError, match="index 1 repeats"):
        selector(axis, method, initialize=[1, 1], **extra).fit(X, y)


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", METHODS)
def test_constant_column_and_zero_matrix(rng, axis, method):
    X, y = make_data("random", rng)
    X[:, 4] = 0.0
    extra = {"mixing": 0.5} if method in NEEDS_Y else {}
    chosen = selector(axis, method, n_to_select=5, **extra).fit(X, y)
    if axis == "feature" and "CUR" in method:
        assert 4 not in chosen.selected_idx_  # a zero column explains nothing
    # an all-zero X is a documented, finite result: nothing to rank, first indices
    zero = selector(axis, method, n_to_select=3, **extra).fit(np.zeros((20, 6)), y[:20])
    assert zero.n_selected_ == 3
    assert len(set(zero.selected_idx_.tolist())) == 3


# -- KernelFPS: FPS from a precomputed kernel matrix


def test_kernel_fps_on_the_linear_kernel_is_fps_on_real_soap_features():
    pytest.importorskip("featomic")
    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    molecules = load_qm9(300)
    X = SoapOptions(max_radial=2, max_angular=2).featurizer().fit_transform(molecules)
    plain = sample_selection.FPS(n_to_select=60).fit(X)
    kernel = sample_selection.KernelFPS(n_to_select=60).fit(X @ X.T)
    np.testing.assert_array_equal(kernel.selected_idx_, plain.selected_idx_)
    np.testing.assert_allclose(
        kernel.get_select_distance()[1:], plain.get_select_distance()[1:], rtol=1e-8
    )


def test_kernel_fps_picks_in_the_kernel_feature_space(rng):
    from sklearn.metrics.pairwise import rbf_kernel

    X = rng.normal(size=(80, 4))
    # the rbf kernel's feature-space distance is 2 - 2 k(x, y): a monotone
    # function of the Euclidean one, so the farthest points are the same
    kernel = sample_selection.KernelFPS(n_to_select=10).fit(rbf_kernel(X, gamma=0.1))
    plain = sample_selection.FPS(n_to_select=10).fit(X)
    np.testing.assert_array_equal(kernel.selected_idx_, plain.selected_idx_)


def test_kernel_fps_needs_a_square_kernel(rng):
    with pytest.raises(ValueError, match="square kernel matrix"):
        sample_selection.KernelFPS(n_to_select=2).fit(rng.normal(size=(10, 4)))


def test_selectors_do_not_import_the_distributed_code():
    """FPS and the other strategies are imported without the cluster code
    (which a dask X on a distributed cluster alone needs)."""
    import subprocess
    import sys

    code = (
        "import sys, propmap.sample_selection, propmap.feature_selection; "
        "print('propmap.selection._distributed' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_selectors_state_what_a_fit_holds():
    """working_set: FPS keeps vectors only; CUR and PCov-CUR a d x d basis
    (three copies) or, for X much wider than tall, n x d (four); feature CUR
    keeps the d x d basis for X a little wider than tall, and sample CUR adds
    its single-precision screening copy in d x d units."""
    assert feature_selection.FPS().working_set(1000, 50) is None
    assert sample_selection.PCovFPS().working_set(1000, 50) is None
    for module in (feature_selection, sample_selection):
        assert module.CUR().working_set(5000, 800) == (800, 800, 3 + (
            module is sample_selection
        ) * 4)  # fmt: skip
        assert module.PCovCUR().working_set(100, 800) == (100, 800, 4)
    # 700 >= 0.6 x 1000: feature CUR keeps its d x d basis, PCov-CUR does not
    assert feature_selection.CUR().working_set(700, 1000) == (1000, 1000, 3)
    assert feature_selection.PCovCUR().working_set(700, 1000) == (700, 1000, 4)
    assert sample_selection.CUR().working_set(700, 1000) == (700, 1000, 4)
