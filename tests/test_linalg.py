import numpy as np
import pytest

from propmap._linalg import (
    PsdRoots,
    flip_signs,
    inverse_sqrt_or_zero,
    resolve_solver,
    row_space,
    sqrt_or_zero,
    symmetric_eigh,
    truncated_eigh,
)


def random_psd(rng, size=30, rank=None):
    factor = rng.standard_normal((size, rank or size))
    return factor @ factor.T


def test_flip_signs_makes_largest_entry_positive():
    vectors = np.array([[0.1, -0.9], [-0.8, 0.2], [0.3, 0.1]])
    flipped = flip_signs(vectors.copy())
    assert np.allclose(flipped[:, 0], -vectors[:, 0])
    assert np.allclose(flipped[:, 1], -vectors[:, 1])
    assert np.all(flipped[np.argmax(np.abs(flipped), axis=0), [0, 1]] > 0)


def test_symmetric_eigh_is_decreasing_and_reconstructs(rng):
    matrix = random_psd(rng)
    values, vectors = symmetric_eigh(matrix)
    assert np.all(np.diff(values) <= 0)
    assert np.allclose(vectors @ np.diag(values) @ vectors.T, matrix)


@pytest.mark.parametrize("solver", ["full", "arpack", "randomized"])
def test_truncated_solvers_agree_with_full(rng, solver):
    matrix = random_psd(rng, size=60, rank=8)
    values, vectors = truncated_eigh(
        matrix, 5, solver=solver, random_state=0, iterated_power=10
    )
    exact_values, exact_vectors = symmetric_eigh(matrix)
    assert values.shape == (5,)
    assert vectors.shape == (60, 5)
    assert np.allclose(values, exact_values[:5], rtol=1e-8)
    # same vectors, same signs
    assert np.allclose(vectors, exact_vectors[:, :5], atol=1e-6)


def test_truncated_eigh_rejects_unknown_solver(rng):
    with pytest.raises(ValueError, match="solver='lobpcg' is not supported"):
        truncated_eigh(random_psd(rng), 2, solver="lobpcg")


def test_roots_are_pseudo_inverses(rng):
    matrix = random_psd(rng, size=20, rank=12)
    roots = PsdRoots.of(matrix, tol=1e-10)
    assert roots.rank == 12
    identity = np.eye(20)
    sqrt = (roots.eigenvectors * roots.sqrt_values) @ roots.eigenvectors.T
    inverse_sqrt = roots.inverse_sqrt()
    assert np.allclose(sqrt @ sqrt, matrix)
    assert np.allclose(inverse_sqrt, roots.inverse_sqrt_dot(identity))
    # A^{1/2} A^{-1/2} is the projector on the range of A
    projector = sqrt @ inverse_sqrt
    assert np.allclose(projector @ matrix, matrix)
    assert np.allclose(projector, projector @ projector)


def test_roots_tolerance_rule():
    values = np.array([4.0, 1e-13, 0.0, -1e-9])
    assert np.allclose(sqrt_or_zero(values, 1e-12), [2.0, 0.0, 0.0, 0.0])
    assert np.allclose(inverse_sqrt_or_zero(values, 1e-12), [0.5, 0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("solver", "shape", "n_components", "expected"),
    [
        ("auto", (100, 20), None, "full"),
        ("auto", (1000, 600), 10, "randomized"),
        ("auto", (1000, 600), 500, "full"),
        ("auto", (1000, 600), 0.9, "full"),
        ("arpack", (1000, 600), 10, "arpack"),
    ],
)
def test_solver_policy(solver, shape, n_components, expected):
    assert resolve_solver(solver, shape, n_components) == expected


# -- PCovPath: held-out losses for every mixing and penalty from one set-up


def _held_out_losses(model, X, Y):
    """(reconstruction, prediction) loss of a fitted estimator, from its score."""
    prediction = model.predict(X).reshape(Y.shape)
    loss_y = float(np.sum((Y - prediction) ** 2) / np.sum(Y**2))
    return -model.score(X, Y) - loss_y, loss_y


@pytest.fixture(scope="module")
def path_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 30))
    Y = X @ rng.normal(size=(30, 2)) + 0.3 * rng.normal(size=(120, 2))
    # centred on the training rows, as the estimators expect
    X -= X[:90].mean(axis=0)
    Y -= Y[:90].mean(axis=0)
    return X[:90], Y[:90], X[90:], Y[90:]


@pytest.mark.parametrize("space", ["feature", "sample"])
@pytest.mark.parametrize("mixing", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("penalty", [1e-3, 1.0])
def test_pcov_path_equals_pcovr_fits(path_data, space, mixing, penalty):
    from sklearn.linear_model import Ridge

    from propmap._linalg import PCovPath
    from propmap.decomposition import PCovR

    X, Y, Xv, Yv = path_data
    if space == "feature":
        path = PCovPath.from_features(X, Y, Xv)
    else:
        path = PCovPath.from_kernel(X @ X.T, Y, Xv @ X.T, np.sum(Xv**2, axis=1))
    model = PCovR(
        mixing=mixing,
        n_components=2,
        space=space,
        svd_solver="full",
        regressor=Ridge(alpha=penalty, fit_intercept=False),
    ).fit(X, Y)
    np.testing.assert_allclose(
        path.losses(mixing, penalty, 2, Yv), _held_out_losses(model, Xv, Yv), atol=1e-9
    )
    ridge = Ridge(alpha=penalty, fit_intercept=False).fit(X, Y).predict(Xv)
    np.testing.assert_allclose(path.ridge(penalty)[1], ridge, atol=1e-9)


@pytest.mark.parametrize("kernel_name", ["rbf", "laplacian"])
@pytest.mark.parametrize("mixing", [0.0, 0.5, 1.0])
def test_pcov_path_equals_centred_kernel_pcovr(path_data, mixing, kernel_name):
    from sklearn.kernel_ridge import KernelRidge

    from propmap.decomposition import KernelPCovR
    from propmap.decomposition._kernel_cv import (
        centred_kernel_path,
        distances,
        kernel_of,
    )

    X, Y, Xv, Yv = path_data
    every, targets = np.vstack([X, Xv]), np.vstack([Y, Yv])
    gamma, penalty = 0.02, 0.1
    matrix = kernel_of(distances(every, every, kernel_name), kernel_name, gamma)
    inner, held = np.arange(90), np.arange(90, 120)
    path = centred_kernel_path(matrix, targets, inner, held)
    model = KernelPCovR(
        mixing=mixing,
        n_components=2,
        kernel=kernel_name,
        gamma=gamma,
        center=True,
        svd_solver="full",
        regressor=KernelRidge(alpha=penalty, kernel=kernel_name, gamma=gamma),
    ).fit(X, Y)
    np.testing.assert_allclose(
        path.losses(mixing, penalty, 2, Yv), _held_out_losses(model, Xv, Yv), atol=1e-9
    )


@pytest.mark.parametrize("mixing", [0.0, 0.5, 1.0])
def test_pcov_path_equals_nystroem_pcovr(path_data, mixing):
    import warnings

    from propmap.decomposition import SparseKernelPCovR
    from propmap.decomposition._kernel_cv import NystroemFold

    X, Y, Xv, Yv = path_data
    active, gamma, penalty = np.arange(0, 90, 3), 0.02, 0.05
    path = NystroemFold(X, Xv, X[active], "rbf").path(gamma, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = SparseKernelPCovR(
            mixing=mixing,
            n_components=2,
            active=active,
            kernel="rbf",
            gamma=gamma,
            alpha=penalty,
            center=True,
            svd_solver="full",
        ).fit(X, Y)
    np.testing.assert_allclose(
        path.losses(mixing, penalty, 2, Yv), _held_out_losses(model, Xv, Yv), atol=1e-9
    )


def test_pcov_path_losses_move_the_right_way_with_mixing(path_data):
    from propmap._linalg import PCovPath

    X, Y, _Xv, _Yv = path_data
    path = PCovPath.from_features(X, Y, X)  # on the training points themselves
    losses = np.array([path.losses(a, 1e-3, 2, Y) for a in np.linspace(0, 1, 11)])
    assert np.all(np.diff(losses[:, 0]) <= 1e-9)  # X loss does not increase
    assert np.all(np.diff(losses[:, 1]) >= -1e-9)  # Y loss does not decrease


@pytest.mark.parametrize("overwrite", [False, True])
def test_row_space_is_an_orthonormal_basis_of_the_rows(rng, overwrite):
    """Rank 7 of 12 columns: the basis has 7 orthonormal columns spanning the rows;
    in place, the Fortran-ordered XᵀX is used as LAPACK's workspace."""
    X = rng.normal(size=(40, 7)) @ rng.normal(size=(7, 12))
    gram = np.asfortranarray(X.T @ X)
    before = gram.copy()
    basis = row_space(gram, 1e-10, overwrite=overwrite)
    assert basis.shape == (12, 7)
    np.testing.assert_allclose(basis.T @ basis, np.eye(7), atol=1e-10)
    np.testing.assert_allclose(X @ basis @ basis.T, X, atol=1e-9)
    if overwrite:
        assert not np.array_equal(gram, before)
    else:
        np.testing.assert_array_equal(gram, before)
    assert row_space(np.zeros((3, 3)), 1e-10).shape == (3, 0)
