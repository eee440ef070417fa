"""The exact fast CUR / PCov-CUR machinery: its solvers, its parity with the
reference on data large enough for the Lanczos path, and its fallbacks."""

import contextlib
import tracemalloc
import warnings

import numpy as np
import pytest

from propmap import feature_selection, sample_selection
from propmap.selection import _cur, _rational, _spectral
from propmap.selection._cur import CURStrategy, PCovCURStrategy
from propmap.selection._spectral import (
    DiagonalPlusLowRank,
    RowSpace,
    Tridiagonal,
    top_eigenpairs,
)

MODULES = {"feature": feature_selection, "sample": sample_selection}


def make_data(kind, n, d, n_targets=1, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "random":
        X = rng.standard_normal((n, d))
    elif kind == "low-rank":
        X = rng.standard_normal((n, 30)) @ rng.standard_normal((30, d))
    elif kind == "decay":
        m = min(n, d)
        left = np.linalg.qr(rng.standard_normal((n, m)))[0]
        right = np.linalg.qr(rng.standard_normal((d, m)))[0]
        X = (left * 10.0 * np.exp(-np.arange(m) / 8.0)) @ right.T
        X += 1e-4 * rng.standard_normal((n, d))
    y = X @ rng.standard_normal((d, n_targets)) / np.sqrt(d)
    y += 0.5 * np.tanh(X[:, :n_targets] * X[:, 1 : n_targets + 1])
    return X, y


@pytest.fixture
def lanczos(monkeypatch):
    """Force the Lanczos solvers on small problems."""
    monkeypatch.setattr(_spectral, "DENSE_LIMIT", 8)
    monkeypatch.setattr(_cur, "_DENSE_LIMIT", 8)


def fit_both(skmatter, axis, method, X, y, **params):
    import skmatter.feature_selection
    import skmatter.sample_selection

    ours = getattr(MODULES[axis], method)(**params).fit(X, y)
    reference = getattr(getattr(skmatter, f"{axis}_selection"), method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = reference(**params).fit(X, y)
    return ours, theirs


# -- same picks as the reference, on the Lanczos path

SHAPES = {"tall": (150, 100), "wide": (60, 150)}
PARITY = [
    (axis, method, kind, shape, params)
    for axis in ("feature", "sample")
    for method in ("CUR", "PCovCUR")
    for kind in ("random", "low-rank", "decay")
    for shape in ("tall", "wide")
    for params in (
        [{"k": 1}, {"k": 3}]
        if method == "CUR"
        else [{"k": 1, "mixing": 0.5}, {"k": 2, "mixing": 0.1}, {"k": 1, "mixing": 0.9}]
    )
    # the reference's sample PCov-CUR is the slow O(n²) one: only its defaults
    if not (axis == "sample" and method == "PCovCUR" and params["k"] > 1)
]


@pytest.mark.parity
@pytest.mark.usefixtures("lanczos")
@pytest.mark.parametrize(
    ("axis", "method", "kind", "shape", "params"),
    PARITY,
    ids=[f"{a}-{m}-{k}-{s}-{p}" for a, m, k, s, p in PARITY],
)
def test_same_picks_as_reference(skmatter, axis, method, kind, shape, params):
    X, y = make_data(kind, *SHAPES[shape])
    # within the rank: beyond it every score is rounding noise in both libraries
    n_to_select = 12 if kind == "low-rank" else 20
    ours, theirs = fit_both(
        skmatter, axis, method, X, y, n_to_select=n_to_select, **params
    )
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()
    if axis == "feature":
        assert ours.n_dense_fallbacks_ == 0


@pytest.mark.parity
@pytest.mark.usefixtures("lanczos")
@pytest.mark.parametrize("n_targets", [1, 3])
def test_pcov_cur_several_targets(skmatter, n_targets):
    X, y = make_data("random", 120, 90, n_targets=n_targets, seed=3)
    ours, theirs = fit_both(
        skmatter, "feature", "PCovCUR", X, y, n_to_select=25, mixing=0.3
    )
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


@pytest.mark.parity
@pytest.mark.usefixtures("lanczos")
@pytest.mark.parametrize("shape", ["tall", "wide"])
@pytest.mark.parametrize("method", ["CUR", "PCovCUR"])
def test_scores_at_every_step_match_the_reference(skmatter, method, shape):
    """π of every candidate after every pick, against the reference's own scores,
    on a decaying spectrum (κ(XᵀX) ≈ 1e8)."""
    import skmatter.feature_selection

    X, y = make_data("decay", *SHAPES[shape], seed=1)
    params = {"mixing": 0.5} if method == "PCovCUR" else {}
    reference = getattr(skmatter.feature_selection, method)
    strategy = (
        PCovCURStrategy(1, 1, 1, 1e-12, 0.5)
        if method == "PCovCUR"
        else CURStrategy(1, 1, 1, 1e-12)
    )
    strategy.initialize(X.T, y)
    worst, done = 0.0, 0
    for step in (1, 4, 8, 12, 16):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = reference(n_to_select=step, **params).fit(X, y)
        for index in fitted.selected_idx_[done:step]:
            strategy.update_after_pick(int(index))
        done = step
        theirs = fitted.pi_
        worst = max(worst, np.abs(strategy.scores - theirs).max() / theirs.max())
    assert worst < 1e-10


# -- the fallbacks to the dense path


@pytest.mark.parity
def test_eigenvalue_at_the_cutoff_takes_the_dense_path(skmatter):
    """An eigenvalue of XᵀX next to the reference's 1e-12 cut-off: kept or dropped
    by rounding there, so PCov-CUR computes as the reference does."""
    rng = np.random.default_rng(4)
    left = np.linalg.qr(rng.standard_normal((80, 30)))[0]
    right = np.linalg.qr(rng.standard_normal((30, 30)))[0]
    singular = np.geomspace(3.0, 0.1, 30)
    singular[-1] = np.sqrt(3e-12)
    X = (left * singular) @ right.T
    y = X @ rng.standard_normal((30, 1)) + 0.1 * rng.standard_normal((80, 1))
    ours, theirs = fit_both(
        skmatter, "feature", "PCovCUR", X, y, n_to_select=10, mixing=0.5
    )
    assert ours.n_dense_fallbacks_ == 11  # the first scores and one per pick
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()
    # one decade away the fast path is exact
    singular[-1] = np.sqrt(1e-9)
    X = (left * singular) @ right.T
    ours, theirs = fit_both(
        skmatter, "feature", "PCovCUR", X, y, n_to_select=10, mixing=0.5
    )
    assert ours.n_dense_fallbacks_ == 0
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


@pytest.mark.parity
@pytest.mark.usefixtures("lanczos")
@pytest.mark.parametrize("method", ["CUR", "PCovCUR"])
def test_lanczos_failure_falls_back_to_dense_eigh(skmatter, monkeypatch, method):
    def fail(*args, **kwargs):
        raise _spectral.NotConverged("forced")

    monkeypatch.setattr(_spectral, "_largest", fail)
    X, y = make_data("random", 100, 70, seed=2)
    params = {"mixing": 0.5} if method == "PCovCUR" else {}
    ours, theirs = fit_both(skmatter, "feature", method, X, y, n_to_select=8, **params)
    assert ours.n_dense_fallbacks_ == 9  # the first scores and one per pick
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


def test_lost_capacitance_continues_on_the_dense_path(monkeypatch):
    """Where a capacitance would lose definiteness (a pick numerically in the span
    of the earlier ones), the rest is computed from the dense C' and X'ᵀY of the
    state: the scores of a selection that was dense from the start."""
    X, y = make_data("random", 90, 60, seed=6)
    fast = PCovCURStrategy(1, 1, 1, 1e-12, 0.5)
    fast.initialize(X.T, y)
    with monkeypatch.context() as patch:
        patch.setattr(_cur, "_AMBIGUOUS_BAND", (0.0, np.inf))
        dense = PCovCURStrategy(1, 1, 1, 1e-12, 0.5)
        dense.initialize(X.T, y)
    assert fast.dense is None
    assert dense.dense is not None
    for index in (0, 1):
        fast.update_after_pick(index)
        dense.update_after_pick(index)
    assert fast.dense is None
    np.testing.assert_allclose(fast.scores, dense.scores, rtol=0, atol=1e-12)
    monkeypatch.setattr(_cur._WhitenedTargets, "remove", lambda *args: False)
    for index in (5, 7, 11):
        fast.update_after_pick(index)
        dense.update_after_pick(index)
    assert fast.dense is not None
    np.testing.assert_allclose(fast.scores, dense.scores, rtol=0, atol=1e-12)


# -- wide X: never a d x d matrix


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", ["CUR", "PCovCUR"])
def test_wide_x_needs_no_square_matrix(axis, method):
    """40 x 20,000: a d x d float64 matrix would be 3.2 GB."""
    X, y = make_data("random", 40, 20_000, seed=7)
    params = {"mixing": 0.5} if method == "PCovCUR" else {}
    tracemalloc.start()
    try:
        chosen = getattr(MODULES[axis], method)(n_to_select=10, **params).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 80 * 2**20
    assert len(set(chosen.selected_idx_.tolist())) == 10


# -- the pieces


@pytest.mark.parametrize("shape", [(50, 120), (120, 50), (120, 80)])
def test_row_space(shape):
    rng = np.random.default_rng(8)
    X = rng.standard_normal(shape)
    if shape == (120, 80):
        X = X[:, :20] @ rng.standard_normal((20, 80))  # rank 20 < 0.6 d: thin
    space = RowSpace.of(X)
    rank = min(shape[0], 20 if shape == (120, 80) else shape[1])
    assert space.rank == rank
    assert np.all(np.diff(space.values) <= 0)
    orthogonality = space.vectors.T @ space.vectors
    np.testing.assert_allclose(orthogonality, np.eye(rank), atol=1e-12)
    gram = X.T @ X
    reconstructed = (space.vectors * space.values) @ space.vectors.T
    np.testing.assert_allclose(reconstructed, gram, atol=1e-10 * np.abs(gram).max())
    assert (space.left is not None) == (shape[0] < shape[1])


def random_operator(rng, size=40, n_columns=6):
    diagonal = np.sort(rng.uniform(0, 10, size))
    diagonal[-3:] = diagonal[-1]  # repeated entries: the near-pole path
    columns = rng.standard_normal((size, n_columns))
    weights = rng.choice([-0.3, 0.5], n_columns)
    return DiagonalPlusLowRank(diagonal, columns, weights)


def test_inertia_count_is_exact(rng):
    operator = random_operator(rng)
    eigenvalues = np.linalg.eigvalsh(operator.dense())
    for shift in np.linspace(eigenvalues[0] - 1, eigenvalues[-1] + 1, 37):
        expected = int((eigenvalues > shift).sum())
        solver = operator.shifted(shift, np.abs(eigenvalues).max())
        assert solver.count_above == expected


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_eigenpairs_match_dense_eigh(monkeypatch, rng, k):
    monkeypatch.setattr(_spectral, "DENSE_LIMIT", 4)
    diagonal = np.sort(rng.uniform(0, 10, 60))
    diagonal[-4:] = diagonal[-1]
    columns = rng.standard_normal((60, 5))
    operator = DiagonalPlusLowRank(diagonal, columns, -0.2 * np.ones(5))
    dense = operator.dense()
    shift = -np.linalg.eigvalsh(dense)[0] + 1e-3  # positive semi-definite
    operator.diagonal = diagonal + shift
    values, vectors = top_eigenpairs(operator, k, None, None, 20.0)
    expected, expected_vectors = np.linalg.eigh(dense + shift * np.eye(60))
    np.testing.assert_allclose(values, expected[::-1][:k], rtol=1e-13)
    overlap = np.abs((vectors * expected_vectors[:, ::-1][:, :k]).sum(axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-10)


# -- the Householder basis: tridiagonal plus low rank (feature and sample CUR)


def householder_basis(rng, n=90, d=40):
    """X, a random tall matrix, and ``XᵀX = V T Vᵀ`` (with the ``lanczos`` fixture,
    which lowers the size below which the eigenbasis is used)."""
    X = rng.standard_normal((n, d)) * np.exp(-np.arange(d) / 10.0)
    return X, RowSpace.of_gram(X.T @ X, tridiagonal=True)


@pytest.mark.usefixtures("lanczos")
def test_householder_basis_reconstructs_the_gram(rng):
    X, space = householder_basis(rng)
    assert space.values is None
    assert space.tridiagonal is not None
    vectors = space.vectors
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(40), atol=1e-12)
    gram = X.T @ X
    reconstructed = vectors @ space.tridiagonal.dense() @ vectors.T
    np.testing.assert_allclose(reconstructed, gram, atol=1e-12 * np.abs(gram).max())
    np.testing.assert_allclose(
        space.tridiagonal.spectrum, np.linalg.eigvalsh(gram), atol=1e-11
    )


def test_tridiagonal_products_shifts_and_counts(rng):
    base = Tridiagonal(rng.standard_normal(50) + 2.0, rng.standard_normal(49))
    dense = base.dense()
    vector, block = rng.standard_normal(50), rng.standard_normal((50, 3))
    np.testing.assert_allclose(base.times(vector), dense @ vector, atol=1e-13)
    np.testing.assert_allclose(base.times(block), dense @ block, atol=1e-13)
    eigenvalues = np.linalg.eigvalsh(dense)
    requested = [*eigenvalues[::7], *(eigenvalues[::5] + 1e-9), eigenvalues[-1] + 1]
    for shift in requested:
        safe = base.safe_shift(shift)
        assert safe >= shift
        # clear of every eigenvalue, and the count is exact there
        assert np.abs(eigenvalues - safe).min() >= 0.99e-6 * abs(safe)
        assert base.distance(safe) == pytest.approx(np.abs(eigenvalues - safe).min())
        assert base.count_above(safe) == int((eigenvalues > safe).sum())


def test_kept_solves_equal_fresh_ones(rng):
    base = Tridiagonal(rng.standard_normal(60) + 2.0, rng.standard_normal(59))
    shift = base.safe_shift(float(base.spectrum[-1]) + 0.5)
    fresh = np.linalg.inv(base.dense() - shift * np.eye(60))
    columns = _spectral.GrowingColumns(60)
    views = []
    for _ in range(6):  # one column appended per pick, as CUR does
        columns.append(rng.standard_normal(60))
        extra = rng.standard_normal((60, 2))  # Hotelling columns: never kept
        W = np.hstack([columns.matrix, extra])
        solved, gram = base.solved_columns(shift, W, columns.count)
        np.testing.assert_allclose(solved, fresh @ W, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gram, W.T @ fresh @ W, rtol=1e-10, atol=1e-12)
        views.append((solved.copy(), solved))
    # other columns than those kept, and a new shift: solved afresh
    other = rng.standard_normal((60, 3))
    solved, _ = base.solved_columns(shift, other, 3)
    np.testing.assert_allclose(solved, fresh @ other, rtol=1e-10, atol=1e-12)
    solved, _ = base.solved_columns(shift + 0.25, other, 3)
    moved = np.linalg.inv(base.dense() - (shift + 0.25) * np.eye(60))
    np.testing.assert_allclose(solved, moved @ other, rtol=1e-10, atol=1e-12)
    # what an earlier solver holds is never overwritten
    for copy, view in views:
        np.testing.assert_array_equal(copy, view)


def downdated_operator(space, picks):
    """``T − HHᵀ`` of feature CUR after picking ``picks`` (columns of X)."""
    base, vectors = space.tridiagonal, space.vectors
    columns = np.zeros((base.size, 0))
    for pick in picks:
        unit = vectors[pick]
        image = base.times(unit) - columns @ (columns.T @ unit)
        columns = np.column_stack([columns, image / np.sqrt(unit @ image)])
    return _spectral.TridiagonalPlusLowRank(
        base, columns, -np.ones(len(picks)), len(picks)
    )


@pytest.mark.usefixtures("lanczos")
def test_tridiagonal_inertia_count_is_exact(rng):
    _, space = householder_basis(rng)
    operator = downdated_operator(space, [3, 17, 8])
    operator.weights = operator.weights * rng.choice([0.5, -0.4], 3)  # indefinite
    eigenvalues = np.linalg.eigvalsh(operator.dense())
    scale = np.abs(eigenvalues).max()
    for shift in np.linspace(eigenvalues[0] - 1, eigenvalues[-1] + 1, 41):
        solver = operator.shifted(shift, scale)
        assert solver.shift >= shift
        assert solver.count_above == int((eigenvalues > solver.shift).sum())


@pytest.mark.usefixtures("lanczos")
@pytest.mark.parametrize("k", [1, 2, 3])
def test_tridiagonal_top_eigenpairs_match_dense_eigh(rng, k):
    _, space = householder_basis(rng, n=120, d=60)
    operator = downdated_operator(space, [5, 40, 12, 33])
    values, vectors = top_eigenpairs(operator, k, None, None, space.tridiagonal.norm)
    expected, expected_vectors = np.linalg.eigh(operator.dense())
    np.testing.assert_allclose(values, expected[::-1][:k], rtol=1e-12)
    overlap = np.abs((vectors * expected_vectors[:, ::-1][:, :k]).sum(axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-10)


@pytest.mark.usefixtures("lanczos")
def test_a_shift_next_to_an_eigenvalue_of_t_is_refined(rng):
    _, space = householder_basis(rng)
    operator = downdated_operator(space, [0, 1])
    spectrum, scale = space.tridiagonal.spectrum, space.tridiagonal.norm
    dense = operator.dense()
    vector = rng.standard_normal(40)
    # 2e-6 |σ| from an eigenvalue of T, Woodbury alone loses four digits (1e-11):
    # refinement is on offer there (switched on when Lanczos' check fails)
    for shift, refined in ((spectrum[-3] * (1 + 2e-6), True), (1.5 * scale, False)):
        solver = operator.shifted(shift, scale)
        assert solver.operator is None
        assert solver.refine() == refined
        assert not solver.refine()  # once
        expected = np.linalg.solve(solver.shift * np.eye(40) - dense, vector)
        np.testing.assert_allclose(
            solver.solve(vector), expected, rtol=0, atol=1e-13 * np.abs(expected).max()
        )


@pytest.mark.usefixtures("lanczos")
def test_cholesky_basis_gives_the_residual_left_singular_vectors(rng):
    X, space = householder_basis(rng, n=70, d=30)
    cholesky = _cur._CholeskyBasis(space.tridiagonal)
    lower = np.diag(cholesky.diagonal) + np.diag(cholesky.subdiagonal, -1)
    np.testing.assert_allclose(
        lower @ lower.T, space.tridiagonal.dense(), atol=1e-12 * space.tridiagonal.norm
    )
    np.testing.assert_allclose(cholesky.product.dense(), lower.T @ lower, atol=1e-12)
    # Ũ = X V L^{-T} is orthonormal
    left = X @ space.vectors @ cholesky.transposed_solve(np.eye(30))
    np.testing.assert_allclose(left.T @ left, np.eye(30), atol=1e-10)
    # after removing two sample directions, Ũ y is X′'s top left singular vector
    directions = np.linalg.qr((X[[4, 9]] @ space.vectors).T)[0]
    scaled = np.column_stack([cholesky.transposed_times(u) for u in directions.T])
    matrix = cholesky.product.dense() - scaled @ scaled.T
    top = np.linalg.eigh(matrix)[1][:, -1]
    residual = X - X @ (space.vectors @ directions) @ (space.vectors @ directions).T
    expected = np.linalg.svd(residual)[0][:, 0]
    ours = X @ space.vectors @ cholesky.transposed_solve(top[:, None])[:, 0]
    assert abs(ours @ expected) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.usefixtures("lanczos")
@pytest.mark.parametrize(("n", "householder"), [(40, False), (90, True), (150, True)])
def test_householder_basis_for_x_a_little_wider_than_tall(rng, n, householder):
    """n < 0.6 d: the thin SVD (no d x d matrix); from 0.6 d on the d x d basis,
    whose thin SVD would cost more than it saves."""
    X = rng.standard_normal((n, 100))
    space = RowSpace.of(X, tridiagonal=True)
    assert (space.tridiagonal is not None) == householder
    assert (space.left is None) == householder
    assert space.rank == (100 if householder else n)
    gram = X.T @ X
    if householder:
        reconstructed = space.vectors @ space.tridiagonal.dense() @ space.vectors.T
    else:
        reconstructed = (space.vectors * space.values) @ space.vectors.T
    np.testing.assert_allclose(reconstructed, gram, atol=1e-11 * np.abs(gram).max())
    # the eigenbasis asked for: always the thin SVD below d rows
    assert (RowSpace.of(X).left is not None) == (n < 100)


@pytest.mark.usefixtures("lanczos")
def test_cur_uses_the_householder_basis_where_it_can(rng):
    X = rng.standard_normal((80, 40))
    features = CURStrategy(1, 1, 1, 1e-12)
    features.initialize(X.T, None)
    assert features.residual.tridiagonal is not None
    samples = CURStrategy(0, 1, 1, 1e-12)
    samples.initialize(X, None)
    assert samples.cholesky is not None
    pcov = PCovCURStrategy(1, 1, 1, 1e-12, 0.5)  # needs C^{-1/2}: eigenbasis
    pcov.initialize(X.T, X[:, :1])
    assert pcov.residual.tridiagonal is None


@pytest.mark.parity
@pytest.mark.usefixtures("lanczos")
def test_singular_gram_of_full_width_takes_the_eigenbasis(skmatter, rng):
    """Rank 36 of 40 columns: too high for the thin basis, too singular for the
    Cholesky factor of T; sample CUR then drops the null directions as before."""
    X = rng.standard_normal((120, 36)) @ rng.standard_normal((36, 40))
    samples = CURStrategy(0, 1, 1, 1e-12)
    samples.initialize(X, None)
    assert samples.cholesky is None
    ours, theirs = fit_both(skmatter, "sample", "CUR", X, None, n_to_select=20)
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


# -- sample CUR's single-precision screen of the products with X


def screen_of(X):
    screen = _cur._ScreenedProducts.of(X)
    assert screen is not None
    return screen


@pytest.mark.parametrize("k", [1, 3])
def test_screen_keeps_the_exact_maximum(rng, k):
    X = rng.standard_normal((3000, 200))
    # near-ties far below float32's resolution, and an exact copy of the best row
    weights = rng.standard_normal((200, k))
    exact = ((X @ weights) ** 2).sum(axis=1)
    best = int(np.argmax(exact))
    X[17] = X[best] * (1 + 3e-12)
    X[2500] = X[17]
    first_copies = np.arange(3000)
    first_copies[2500] = 17
    exact = ((X @ weights) ** 2).sum(axis=1)
    # copies share their first's score, as the strategy maps them afterwards
    scores = screen_of(X).scores(weights, first_copies)[first_copies]
    assert int(np.argmax(scores)) == int(np.argmax(exact[first_copies])) == 17
    # the contenders' scores are the double-precision ones, the others are below
    top = scores >= scores[best] * (1 - 1e-3)
    np.testing.assert_allclose(scores[top], exact[top], rtol=1e-14)
    assert scores[~top].max() < exact.max()
    np.testing.assert_allclose(scores, exact[first_copies], atol=1e-5 * exact.max())


def test_screen_bounds_hold_for_tiny_and_huge_values(rng):
    X = rng.standard_normal((1000, 50))
    weights = rng.standard_normal((50, 1))
    # subnormal in float32, underflowing products, plain, large
    for factor in (1e-43, 1e-41, 1e-30, 1.0, 1e15):
        scaled = X * factor
        screen = screen_of(scaled)
        approximate, bound = screen.bounds(weights)
        assert np.all(np.abs(approximate - np.abs(scaled @ weights)) <= bound)
        exact = ((scaled @ weights) ** 2).sum(axis=1)
        scores = screen.scores(weights, None)
        assert int(np.argmax(scores)) == int(np.argmax(exact))
        assert scores.max() == pytest.approx(exact.max(), rel=1e-14)
    # beyond float32: no screen, and weights that overflow it take the exact pass
    assert _cur._ScreenedProducts.of(X * 1e40) is None
    scores = screen_of(X).scores(weights * 1e39, None)
    np.testing.assert_allclose(scores, ((X @ (weights * 1e39)) ** 2).sum(axis=1))


def test_sample_cur_screens_only_where_it_pays(monkeypatch, rng):
    monkeypatch.setattr(_cur, "SCREEN_MIN_SIZE", 1000)
    X = rng.standard_normal((200, 30))
    screened = CURStrategy(0, 1, 1, 1e-12)
    screened.initialize(X, None)
    assert screened.screen is not None
    stale = CURStrategy(0, 1, 5, 1e-12)  # scores reused: all of them must be exact
    stale.initialize(X, None)
    assert stale.screen is None
    plain = CURStrategy(0, 1, 1, 1e-12)
    plain.initialize(X[:20], None)  # below the size
    assert plain.screen is None
    # and the picks do not change
    ours = sample_selection.CUR(n_to_select=25).fit(X).selected_idx_
    monkeypatch.setattr(_cur, "SCREEN_MIN_SIZE", 10**12)
    assert sample_selection.CUR(n_to_select=25).fit(X).selected_idx_.tolist() == (
        ours.tolist()
    )


def test_shipped_rational_nodes_reach_their_tolerance():
    table = _rational._table()
    assert table["log10_kappa"][-1] >= _rational.MAX_LOG10_KAPPA
    for row, exponent in enumerate(table["log10_kappa"]):
        count = table["counts"][row]
        poles, weights = table["poles"][row, :count], table["weights"][row, :count]
        assert np.all(poles > 0)
        assert np.all(weights > 0)
        kappa = max(10.0**exponent, 1.0 + 1e-12)
        assert _rational.relative_error(kappa, poles, weights) <= 1.2e-14


def test_nodes_scale_to_any_interval():
    poles, weights = _rational.inverse_sqrt_nodes(3e-5, 2e4)
    x = np.geomspace(3e-5, 2e4, 1000)
    approximation = (weights / (x[:, None] + poles)).sum(axis=1)
    np.testing.assert_allclose(approximation * np.sqrt(x), 1.0, rtol=2e-14)
    with pytest.raises(ValueError, match="0 < lower <= upper"):
        _rational.inverse_sqrt_nodes(0.0, 1.0)
    with pytest.raises(ValueError, match="beyond the tabulated"):
        _rational.inverse_sqrt_nodes(1e-20, 1.0)


def test_the_script_remakes_the_table():
    pytest.importorskip("mpmath")
    table = _rational._table()
    for row in (0, 17, len(table["counts"]) - 1):
        poles, weights, error = _rational.compute_inverse_sqrt_nodes(
            table["log10_kappa"][row]
        )
        count = table["counts"][row]
        assert poles.size == count
        np.testing.assert_allclose(poles, table["poles"][row, :count], rtol=1e-13)
        np.testing.assert_allclose(weights, table["weights"][row, :count], rtol=1e-13)
        assert error <= _rational.RELATIVE_TOLERANCE


# -- exact ties and real data


@pytest.mark.parametrize("method", ["CUR", "PCovCUR"])
def test_exact_copies_tie_to_the_lowest_index(method):
    X, y = make_data("random", 100, 40, seed=9)
    X[:, 20] *= 5.0
    X[:, 9] = X[:, 20]
    params = {"mixing": 0.5} if method == "PCovCUR" else {}
    chosen = getattr(feature_selection, method)(n_to_select=3, **params).fit(X, y)
    assert chosen.selected_idx_[0] == 9
    rows = X[:, :10].copy()
    rows[40] *= 5.0
    rows[17] = rows[40]
    y[17] = y[40]
    chosen = getattr(sample_selection, method)(n_to_select=3, **params).fit(rows, y)
    assert chosen.selected_idx_[0] == 17


@pytest.mark.parity
def test_same_picks_on_real_soap_features(skmatter):
    """SOAP of 120 QM9 molecules (n < d, rank-deficient, with exact duplicate
    columns): the thin basis, the fast path, and the same picks as the reference
    up to the choice between exact copies."""
    pytest.importorskip("featomic")
    from propmap.datasets import load_qm9
    from propmap.workflows import SoapOptions

    structures = load_qm9(120)
    soap = SoapOptions(cutoff=3.5, max_radial=2, max_angular=1)
    X = soap.featurizer(per="structure").fit_transform(structures)
    X = np.asarray(X, dtype=np.float64)
    X = (X - X.mean(axis=0)) / X.std()
    y = np.array([a.info["gap"] for a in structures])[:, None]
    y -= y.mean()
    _, first, inverse = np.unique(X.T, axis=0, return_index=True, return_inverse=True)
    assert first.size < X.shape[1]  # real duplicates

    def canonical(indices):
        return first[inverse.ravel()][indices].tolist()

    for method, count, params in (("CUR", 25, {}), ("PCovCUR", 8, {"mixing": 0.5})):
        ours, theirs = fit_both(
            skmatter, "feature", method, X, y, n_to_select=count, **params
        )
        assert ours.n_dense_fallbacks_ == 0
        assert canonical(ours.selected_idx_) == canonical(theirs.selected_idx_)


@pytest.mark.parity
def test_rounding_level_eigenvalues_keep_the_fast_path(skmatter):
    """Per-atom SOAP of 120 QM9 molecules as the selection gallery scales it
    (1,818 atoms x 936 columns, rank 760): a few of XᵀX's eigenvalues that are
    zero in exact arithmetic land in the band around the reference's 1e-12
    cut-off, below the product's rounding level. They no longer send PCov-CUR to
    the dense per-pick eigendecomposition, and the picks are the reference's."""
    pytest.importorskip("featomic")
    from propmap.atomistic import SoapFeaturizer, atom_targets
    from propmap.datasets import load_qm9
    from propmap.selection._spectral import EPS

    structures = load_qm9(120)
    soap = SoapFeaturizer(per="atom", cutoff=3.5, max_radial=2, max_angular=2)
    X = np.asarray(soap.fit_transform(structures), dtype=np.float64)
    X = np.unique(X[:, X.std(axis=0) > 0], axis=1)
    X = (X - X.mean(axis=0)) / X.std(axis=0) / np.sqrt(X.shape[1])
    y = np.concatenate(atom_targets(structures, "mulliken_charges"))[:, None]
    y = (y - y.mean()) / y.std()
    values = np.linalg.eigvalsh(X.T @ X)
    low, high = _cur._AMBIGUOUS_BAND
    in_band = values[(values >= low) & (values <= high)]
    assert in_band.size  # the case the old rule sent to the dense path
    assert in_band.max() < X.shape[0] * EPS * values.max()
    ours, theirs = fit_both(
        skmatter, "feature", "PCovCUR", X, y, n_to_select=12, mixing=0.5
    )
    assert ours.n_dense_fallbacks_ == 0
    assert ours.selected_idx_.tolist() == theirs.selected_idx_.tolist()


@pytest.mark.parametrize("axis", ["feature", "sample"])
@pytest.mark.parametrize("method", ["CUR", "PCovCUR"])
def test_wide_sparse_and_float32_input_give_the_same_picks(axis, method):
    import scipy.sparse as sp

    X, y = make_data("random", 40, 200, seed=10)
    params = {"n_to_select": 10, **({"mixing": 0.5} if method == "PCovCUR" else {})}
    selector = getattr(MODULES[axis], method)
    dense = selector(**params).fit(X, y).selected_idx_.tolist()
    assert selector(**params).fit(sp.csr_matrix(X), y).selected_idx_.tolist() == dense
    single = selector(**params).fit(X.astype(np.float32), y).selected_idx_.tolist()
    assert single == dense


def test_one_strategy_class_per_method_and_axis():
    """CURStrategy(axis, ...) and PCovCURStrategy(axis, ...) make the class of
    that axis; none of them branches on the axis."""
    import inspect

    from propmap.selection import _cur

    pairs = {
        (CURStrategy, 1): _cur.FeatureCURStrategy,
        (CURStrategy, 0): _cur.SampleCURStrategy,
        (PCovCURStrategy, 1): _cur.FeaturePCovCURStrategy,
        (PCovCURStrategy, 0): _cur.SamplePCovCURStrategy,
    }
    for (method, axis), expected in pairs.items():
        extra = (0.5,) if method is PCovCURStrategy else ()
        made = method(axis, 1, 1, 1e-12, *extra)
        assert type(made) is expected
        assert isinstance(made, method)
    for cls in (*pairs.values(), CURStrategy, PCovCURStrategy, _cur._GramCUR):
        source = inspect.getsource(cls)
        assert "if self.axis" not in source, cls.__name__


def test_first_copies_finds_exact_copies_only():
    """Copies anywhere in X map to their first occurrence; rows one rounding
    step apart (the same number up to the last bit) are not copies."""
    rng = np.random.default_rng(11)
    rows = rng.standard_normal((500, 40))
    rows[431] = rows[7]
    rows[250] = rows[7]
    rows[99] = rows[3]
    rows[120] = rows[5]
    rows[120, 39] = np.nextafter(rows[5, 39], np.inf)
    copies = _cur._first_copies(rows)
    expected = np.arange(500)
    expected[[431, 250]] = 7
    expected[99] = 3
    np.testing.assert_array_equal(copies, expected)
    assert _cur._first_copies(rng.standard_normal((300, 20))) is None
    assert _cur._first_copies(np.zeros((1, 5))) is None


def test_small_selections_run_on_one_blas_thread(monkeypatch):
    """Below SINGLE_THREAD_SIZE entries of X the whole fit runs with one BLAS
    thread (waking a second for each small call cost more than it saved)."""
    from propmap.selection import _base

    limits = []
    original = _base.blas_threads

    def recording(limit):
        limits.append(limit)
        return original(limit)

    monkeypatch.setattr(_base, "blas_threads", recording)
    X, _ = make_data("random", 60, 30)
    sample_selection.CUR(n_to_select=3).fit(X)
    monkeypatch.setattr(_base, "SINGLE_THREAD_SIZE", 100)
    sample_selection.CUR(n_to_select=3).fit(X)
    assert limits == [1, None]


def test_one_blas_thread_from_the_environment_skips_the_controller(monkeypatch):
    from propmap import _linalg

    def unused():
        raise AssertionError("the BLAS libraries were searched")

    monkeypatch.setattr(_linalg, "_thread_controller", unused)
    monkeypatch.setattr(_linalg, "_openblas_threads", unused)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    with _linalg.blas_threads(1):
        pass
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with pytest.raises(AssertionError, match="searched"), _linalg.blas_threads(1):
        pass


def _blas_threads_now() -> dict:
    from threadpoolctl import threadpool_info

    return {
        info["filepath"]: info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas"
    }


def test_openblas_is_limited_directly_and_restored(monkeypatch):
    """Where every loaded BLAS is an OpenBLAS (numpy's and scipy's wheels), the
    limit is set through its own calls, found in a few ms, without
    threadpoolctl's search of every loaded library; the counts come back after
    the block, also when it raises."""
    from propmap import _linalg

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("GOTO_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = _blas_threads_now()
    if _linalg._openblas_threads() is None or any(
        "openblas" not in path.lower() for path in before
    ):
        pytest.skip("this numpy / scipy does not use OpenBLAS")

    def unused():
        raise AssertionError("threadpoolctl searched the libraries")

    monkeypatch.setattr(_linalg, "_thread_controller", unused)
    with _linalg.blas_threads(1):
        assert set(_blas_threads_now().values()) == {1}
    assert _blas_threads_now() == before
    with pytest.raises(ZeroDivisionError), _linalg.blas_threads(1):
        1 / 0
    assert _blas_threads_now() == before


def test_a_blas_other_than_openblas_is_left_to_threadpoolctl(monkeypatch):
    from propmap import _linalg

    assert _linalg.openblas_calls(["/opt/lib/libmkl_rt.so.2"]) is None
    assert _linalg.openblas_calls(["/opt/lib/libflexiblas.so.3"]) is None
    # an OpenBLAS without the calls (or not loaded): threadpoolctl too
    assert _linalg.openblas_calls(["/nowhere/libopenblas.so.0"]) is None
    assert _linalg.openblas_calls(["/usr/lib/libc.so.6"]) is None  # no BLAS
    seen = []

    class Controller:
        def limit(self, limits, user_api):
            seen.append((limits, user_api))
            return contextlib.nullcontext()

    monkeypatch.setattr(_linalg, "_openblas_threads", lambda: None)
    monkeypatch.setattr(_linalg, "_thread_controller", lambda: Controller())
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with _linalg.blas_threads(1):
        pass
    assert seen == [(1, "blas")]


class _InexactSolver:
    """A shifted solver whose solves err by 1e-8 until refined."""

    def __init__(self, exact, rng):
        self.exact, self.rng = exact, rng
        self.shift, self.count_above = exact.shift, exact.count_above
        self.refined = False

    def refine(self):
        if self.refined:
            return False
        self.refined = True
        return True

    def solve(self, vector):
        result = self.exact.solve(vector)
        if not self.refined:
            noise = self.rng.standard_normal(result.shape)
            result = result + 1e-8 * np.linalg.norm(result) * noise
        return result


@pytest.mark.usefixtures("lanczos")
def test_lanczos_switches_refinement_on_when_its_check_on_a_fails(rng, monkeypatch):
    _, space = householder_basis(rng, n=120, d=60)
    operator = downdated_operator(space, [5, 40])
    made = []

    def shifted(shift, scale):
        made.append(_InexactSolver(_spectral.TridiagonalPlusLowRank.shifted(
            operator, shift, scale
        ), rng))  # fmt: skip
        return made[-1]

    monkeypatch.setattr(operator, "shifted", shifted)
    scale = space.tridiagonal.norm
    start = rng.standard_normal(operator.size)
    value, vector = _spectral._largest(operator, start, 1.01 * scale, scale)
    expected, expected_vectors = np.linalg.eigh(operator.dense())
    assert any(solver.refined for solver in made)
    np.testing.assert_allclose(value, expected[-1], rtol=1e-12)
    np.testing.assert_allclose(abs(vector @ expected_vectors[:, -1]), 1.0, atol=1e-10)
