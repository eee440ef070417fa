import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics.pairwise import rbf_kernel

from propmap.utils import pcovr_covariance, pcovr_kernel


@pytest.fixture
def problem(rng):
    X = rng.standard_normal((25, 6))
    Y = rng.standard_normal((25, 2))
    return X - X.mean(axis=0), Y


def test_covariance_from_its_definition(problem):
    X, Y = problem
    gram = X.T @ X
    values, vectors = np.linalg.eigh(gram)
    inverse_sqrt = vectors @ np.diag(values**-0.5) @ vectors.T
    product = inverse_sqrt @ X.T @ Y
    expected = 0.3 * gram + 0.7 * product @ product.T
    covariance, isqrt = pcovr_covariance(0.3, X, Y, return_isqrt=True)
    assert np.allclose(covariance, expected)
    assert np.allclose(isqrt, inverse_sqrt)
    assert np.allclose(pcovr_covariance(0.3, sp.csr_array(X), Y), expected)
    assert np.allclose(pcovr_covariance(1.0, X, Y), gram)


def test_covariance_with_a_low_rank_inverse_root(problem):
    X, Y = problem
    full = pcovr_covariance(0.5, X, Y)
    approximate = pcovr_covariance(0.5, X, Y, rank=5, random_state=0)
    assert approximate.shape == full.shape
    assert np.linalg.norm(approximate - full) < np.linalg.norm(full)


def test_kernel_from_its_definition(problem):
    X, Y = problem
    assert np.allclose(pcovr_kernel(0.4, X, Y), 0.4 * X @ X.T + 0.6 * Y @ Y.T)
    rbf = rbf_kernel(X, gamma=0.5)
    assert np.allclose(
        pcovr_kernel(0.4, X, Y, kernel="rbf", gamma=0.5), 0.4 * rbf + 0.6 * Y @ Y.T
    )
    assert np.allclose(
        pcovr_kernel(0.4, rbf, Y, kernel="precomputed"), 0.4 * rbf + 0.6 * Y @ Y.T
    )
    assert np.allclose(pcovr_kernel(0.0, X, Y[:, 0]), np.outer(Y[:, 0], Y[:, 0]))


@pytest.mark.parity
def test_parity(skmatter, problem):
    from skmatter.utils import pcovr_covariance as reference_covariance
    from skmatter.utils import pcovr_kernel as reference_kernel

    X, Y = problem
    for mixing in (0.0, 0.5, 1.0):
        assert np.allclose(
            pcovr_covariance(mixing, X, Y), reference_covariance(mixing, X, Y)
        )
        assert np.allclose(pcovr_kernel(mixing, X, Y), reference_kernel(mixing, X, Y))
