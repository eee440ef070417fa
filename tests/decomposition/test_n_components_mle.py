"""PCovR and PCovC with n_components="mle" (Minka's choice of the rank), as PCA
and scikit-matter accept it."""

import warnings

import numpy as np
import pytest

from propmap.decomposition import PCovC, PCovR


@pytest.fixture
def data(rng):
    latent = rng.standard_normal((300, 4))
    X = latent @ rng.standard_normal((4, 12)) + 0.05 * rng.standard_normal((300, 12))
    X -= X.mean(axis=0)
    Y = X @ rng.standard_normal((12, 2))
    return X, Y - Y.mean(axis=0)


def test_mle_finds_the_rank_of_x_at_mixing_one(data):
    X, Y = data
    model = PCovR(mixing=1.0, n_components="mle").fit(X, Y)
    assert model.n_components_ == 4  # four latent directions plus small noise
    assert model.transform(X).shape == (300, 4)
    # the targets alone: the rank of Ŷ, two columns
    assert PCovR(mixing=0.0, n_components="mle").fit(X, Y).n_components_ == 2
    labels = (Y[:, 0] > 0).astype(int)
    classifier = PCovC(mixing=1.0, n_components="mle", scale_z=True)
    assert classifier.fit(X, labels).n_components_ == 4


@pytest.mark.parity
@pytest.mark.parametrize("mixing", [0.5, 1.0])
def test_mle_matches_the_reference(skmatter, data, mixing):
    import skmatter.decomposition

    X, Y = data
    ours = PCovR(mixing=mixing, n_components="mle").fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = skmatter.decomposition.PCovR(mixing=mixing, n_components="mle")
        theirs.fit(X, Y)
    assert ours.n_components_ == theirs.n_components_
    np.testing.assert_allclose(
        np.abs(ours.transform(X)), np.abs(theirs.transform(X)), atol=1e-8
    )


def test_mle_needs_the_full_solver_and_a_tall_x(data):
    X, Y = data
    with pytest.raises(ValueError, match="svd_solver='full'"):
        PCovR(n_components="mle", svd_solver="randomized").fit(X, Y)
    with pytest.raises(ValueError, match="at least as many samples"):
        PCovR(n_components="mle").fit(X[:8], Y[:8])
    with pytest.raises(ValueError, match="n_components"):
        PCovR(n_components="auto").fit(X, Y)


def test_kernel_models_take_mle_and_variance_fractions(data):
    """On a linear kernel at mixing one the eigenvalues of K~ are (n - 1) times
    X's variances: "mle" finds X's rank, a fraction keeps PCA's count (scikit-
    matter squares the eigenvalues and keeps fewer)."""
    from sklearn.decomposition import PCA

    from propmap.decomposition import KernelPCovC, KernelPCovR

    X, Y = data
    assert KernelPCovR(mixing=1.0, n_components="mle").fit(X, Y).n_components_ == 4
    for fraction in (0.5, 0.9, 0.999):
        kernel = KernelPCovR(mixing=1.0, n_components=fraction).fit(X, Y)
        assert kernel.n_components_ == PCA(fraction).fit(X).n_components_
    labels = (Y[:, 0] > 0).astype(int)
    classifier = KernelPCovC(mixing=1.0, n_components="mle", scale_z=True)
    classifier.fit(X, labels)
    assert classifier.n_components_ == 4
    with pytest.raises(ValueError, match="svd_solver='full'"):
        KernelPCovR(n_components="mle", svd_solver="arpack").fit(X, Y)
