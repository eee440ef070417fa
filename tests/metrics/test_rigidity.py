"""Local and component-wise prediction rigidities."""

import numpy as np
import pytest

from propmap.metrics import (
    componentwise_prediction_rigidity,
    local_prediction_rigidity,
)


@pytest.fixture
def structures(rng):
    sizes = rng.integers(2, 9, 35)
    train = [rng.standard_normal((n, 6)) for n in sizes[:30]]
    test = [rng.standard_normal((n, 6)) for n in sizes[30:]]
    return train, test


def explicit(train, rows, alpha):
    scale = np.sqrt((np.vstack(train) ** 2).mean(axis=0).sum())
    means = np.vstack([t.mean(axis=0) for t in train]) / scale
    inverse = np.linalg.inv(means.T @ means + alpha * np.eye(means.shape[1]))
    x = rows / scale
    return 1 / np.einsum("ij,jk,ik->i", x, inverse, x)


def test_lpr_is_the_inverse_variance_factor(structures):
    train, test = structures
    LPR, rank_diff = local_prediction_rigidity(train, test, alpha=0.01)
    assert rank_diff == 0
    assert [values.shape[0] for values in LPR] == [t.shape[0] for t in test]
    np.testing.assert_allclose(
        np.concatenate(LPR), explicit(train, np.vstack(test), 0.01), rtol=1e-12
    )
    # a larger regulariser stiffens every prediction (a smaller variance factor)
    stiffer, _ = local_prediction_rigidity(train, test, alpha=1.0)
    assert np.all(np.concatenate(stiffer) > np.concatenate(LPR))


def test_a_singular_covariance_takes_the_pseudo_inverse(structures):
    train, test = structures
    train = [np.hstack([t, t[:, :1]]) for t in train]  # a repeated feature
    test = [np.hstack([t, t[:, :1]]) for t in test]
    LPR, rank_diff = local_prediction_rigidity(train, test, alpha=0.0)
    assert rank_diff == 1
    assert np.all(np.isfinite(np.concatenate(LPR)))
    assert np.all(np.concatenate(LPR) > 0)


def test_cpr_with_one_component_is_the_lpr(structures):
    train, test = structures
    CPR, LCPR, rank_diff = componentwise_prediction_rigidity(
        train, test, alpha=0.01, comp_dims=[6]
    )
    LPR, _ = local_prediction_rigidity(train, test, alpha=0.01)
    for local, lpr in zip(LCPR, LPR, strict=True):
        np.testing.assert_allclose(local[:, 0], lpr, rtol=1e-12)
    means = np.vstack([t.mean(axis=0) for t in test])
    np.testing.assert_allclose(CPR[:, 0], explicit(train, means, 0.01), rtol=1e-12)
    assert rank_diff == 0


def test_cpr_masks_the_other_components(structures):
    train, test = structures
    CPR, LCPR, _ = componentwise_prediction_rigidity(
        train, test, alpha=0.01, comp_dims=np.array([2, 4])
    )
    atoms = np.vstack(test)
    masked = atoms.copy()
    masked[:, 2:] = 0
    np.testing.assert_allclose(
        np.vstack(LCPR)[:, 0], explicit(train, masked, 0.01), rtol=1e-12
    )
    assert CPR.shape == (5, 2)


@pytest.mark.parity
@pytest.mark.parametrize("alpha", [0.0, 1e-3, 1.0])
def test_rigidities_match_the_reference(skmatter, structures, alpha):
    import skmatter.metrics

    train, test = structures
    ours, rank = local_prediction_rigidity(train, test, alpha)
    theirs, their_rank = skmatter.metrics.local_prediction_rigidity(train, test, alpha)
    assert rank == their_rank
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    dims = np.array([2, 4])
    ours = componentwise_prediction_rigidity(train, test, alpha, dims)
    theirs = skmatter.metrics.componentwise_prediction_rigidity(
        train, test, alpha, dims
    )
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert ours[2] == theirs[2]


def test_a_zero_environment_is_infinitely_rigid(structures):
    train, test = structures
    test = [np.vstack([test[0], np.zeros((1, 6))])]
    LPR, _ = local_prediction_rigidity(train, test, alpha=0.01)
    assert np.isinf(LPR[0][-1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda tr, te: (np.vstack(tr), te), "list of arrays"),
        (lambda tr, te: ([], te), "no structures"),
        (lambda tr, te: (tr, [t[:, :4] for t in te]), "expected 6"),
        (lambda tr, te: ([*tr[:-1], np.full((2, 6), np.nan)], te), "NaN"),
        (lambda tr, te: ([*tr[:-1], np.ones(6)], te), "non-empty"),
    ],
)
def test_bad_structures_are_named(structures, change, message):
    train, test = change(*structures)
    with pytest.raises(ValueError, match=message):
        local_prediction_rigidity(train, test, alpha=0.1)


@pytest.mark.parametrize("alpha", [-1.0, np.inf, True, "0.1"])
def test_bad_regularisers_are_named(structures, alpha):
    with pytest.raises(ValueError, match="alpha"):
        local_prediction_rigidity(*structures, alpha=alpha)


@pytest.mark.parametrize("dims", [[2, 3], [6, 0], [2.0, 4.0], [], [[6]]])
def test_bad_component_widths_are_named(structures, dims):
    with pytest.raises(ValueError, match="comp_dims"):
        componentwise_prediction_rigidity(*structures, alpha=0.1, comp_dims=dims)
