import numpy as np
import pytest

from propmap._linalg import (
    PsdRoots,
    flip_signs,
    inverse_sqrt_or_zero,
    resolve_solver,
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
