"""Pairwise Euclidean and Mahalanobis distances with periodic boundaries."""

import numpy as np
import pytest

from propmap.metrics import (
    pairwise_mahalanobis_distances,
    periodic_pairwise_euclidean_distances,
)

CELL = [1.0, 2.0, 2.5]


@pytest.fixture
def points(rng):
    return rng.uniform(-3, 3, (40, 3)), rng.uniform(-3, 3, (25, 3))


def minimum_image(X, Y, cell):
    """The shortest of the 27 images, by brute force."""
    shifts = np.array(np.meshgrid(*[[-1, 0, 1]] * 3)).reshape(3, -1).T * cell
    best = np.full((len(X), len(Y)), np.inf)
    for i, x in enumerate(X):
        for j, y in enumerate(Y):
            difference = (x - y) - np.round((x - y) / cell) * cell
            candidates = difference + shifts
            best[i, j] = np.linalg.norm(candidates, axis=1).min()
    return best


def test_periodic_distance_is_the_minimum_image(points):
    X, Y = points
    distances = periodic_pairwise_euclidean_distances(X, Y, cell_length=CELL)
    np.testing.assert_allclose(distances, minimum_image(X, Y, np.array(CELL)))
    squared = periodic_pairwise_euclidean_distances(
        X, Y, cell_length=CELL, squared=True
    )
    np.testing.assert_allclose(squared, distances**2)
    # no cell: plain Euclidean; Y=None: X with itself
    plain = periodic_pairwise_euclidean_distances(X)
    np.testing.assert_allclose(
        plain, np.linalg.norm(X[:, None] - X[None], axis=-1), atol=1e-12
    )


def test_mahalanobis_with_several_covariances(points, rng):
    X, Y = points
    A = rng.standard_normal((2, 3, 3))
    inverse = A @ A.transpose(0, 2, 1) + np.eye(3)
    distances = pairwise_mahalanobis_distances(X, Y, inverse)
    assert distances.shape == (2, 40, 25)
    difference = X[:, None] - Y[None]
    expected = np.sqrt(np.einsum("ija,cab,ijb->cij", difference, inverse, difference))
    np.testing.assert_allclose(distances, expected, rtol=1e-12)
    # the identity: Euclidean (minimum image with a cell)
    periodic = pairwise_mahalanobis_distances(X, Y, np.eye(3), cell_length=CELL)
    np.testing.assert_allclose(
        periodic[0], periodic_pairwise_euclidean_distances(X, Y, cell_length=CELL)
    )


def test_large_inputs_are_done_in_blocks(rng, monkeypatch):
    from propmap.metrics import _pairwise

    monkeypatch.setattr(_pairwise, "_BLOCK", 100)
    X, Y = rng.uniform(0, 2, (30, 3)), rng.uniform(0, 2, (20, 3))
    blocked = periodic_pairwise_euclidean_distances(X, Y, cell_length=CELL)
    monkeypatch.setattr(_pairwise, "_BLOCK", 2**22)
    np.testing.assert_allclose(
        blocked, periodic_pairwise_euclidean_distances(X, Y, cell_length=CELL)
    )


@pytest.mark.parity
def test_distances_match_the_reference(skmatter, points, rng):
    import skmatter.metrics

    X, Y = points
    for squared in (False, True):
        np.testing.assert_allclose(
            periodic_pairwise_euclidean_distances(
                X, Y, cell_length=CELL, squared=squared
            ),
            skmatter.metrics.periodic_pairwise_euclidean_distances(
                X, Y, cell_length=CELL, squared=squared
            ),
            rtol=1e-12,
        )
    A = rng.standard_normal((3, 3))
    inverse = A @ A.T + np.eye(3)
    for cell in (None, CELL):
        np.testing.assert_allclose(
            pairwise_mahalanobis_distances(X, Y, inverse, cell),
            skmatter.metrics.pairwise_mahalanobis_distances(X, Y, inverse, cell),
            rtol=1e-12,
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda X, Y: periodic_pairwise_euclidean_distances(X, Y, cell_length=[1]),
            "dimension",
        ),
        (
            lambda X, Y: periodic_pairwise_euclidean_distances(
                X, Y, cell_length=[1, 0, 1]
            ),
            "positive",
        ),
        (lambda X, Y: periodic_pairwise_euclidean_distances(X, Y[:, :2]), "dimension"),
        (lambda X, Y: pairwise_mahalanobis_distances(X, Y, np.eye(2)), "cov_inv"),
        (
            lambda X, Y: pairwise_mahalanobis_distances(X, Y, np.full((3, 3), np.nan)),
            "NaN",
        ),
    ],
)
def test_bad_input_is_named(points, call, message):
    with pytest.raises(ValueError, match=message):
        call(*points)
