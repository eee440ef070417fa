import numpy as np
import pytest
import scipy.sparse as sp

from propmap.preprocessing import (
    KernelNormalizer,
    SparseKernelCenterer,
    StandardFlexibleScaler,
)


@pytest.fixture
def data(rng):
    return rng.standard_normal((30, 5)) * [1.0, 2.0, 3.0, 0.5, 10.0] + 4.0


# -- StandardFlexibleScaler


def test_whole_matrix_scaling_gives_norm_n(data):
    scaled = StandardFlexibleScaler().fit_transform(data)
    assert np.allclose(scaled.mean(axis=0), 0.0)
    assert np.isclose(np.linalg.norm(scaled) ** 2, data.shape[0])
    # relative scale of the columns is kept
    ratios = scaled.std(axis=0) / data.std(axis=0)
    assert np.allclose(ratios, ratios[0])


def test_column_wise_scaling_gives_unit_variance(data):
    scaled = StandardFlexibleScaler(column_wise=True).fit_transform(data)
    assert np.allclose(scaled.std(axis=0), 1.0)


@pytest.mark.parametrize("column_wise", [False, True])
def test_inverse_transform_round_trip(data, column_wise):
    scaler = StandardFlexibleScaler(column_wise=column_wise).fit(data)
    assert np.allclose(scaler.inverse_transform(scaler.transform(data)), data)


def test_without_mean_or_std(data):
    scaler = StandardFlexibleScaler(with_mean=False, with_std=False).fit(data)
    assert np.allclose(scaler.transform(data), data)
    scaled = StandardFlexibleScaler(with_mean=False).fit_transform(data)
    assert np.allclose(scaled * np.sqrt(data.var(axis=0).sum()), data)


def test_sample_weight_equals_repetition(data):
    weights = np.arange(1, 31) % 3
    repeated = np.repeat(data, weights, axis=0)
    weighted = StandardFlexibleScaler(column_wise=True).fit(data, sample_weight=weights)
    plain = StandardFlexibleScaler(column_wise=True).fit(repeated)
    assert np.allclose(weighted.mean_, plain.mean_)
    assert np.allclose(weighted.scale_, plain.scale_)


def test_copy_false_scales_in_place(data):
    original = data.copy()
    StandardFlexibleScaler().fit(data).transform(data, copy=True)
    assert np.array_equal(data, original)
    scaled = StandardFlexibleScaler(copy=False).fit(data).transform(data)
    assert scaled is data or np.shares_memory(scaled, data)


def test_sparse_input(data):
    matrix = sp.csr_array(np.where(np.abs(data - 4.0) > 0.3, data, 0.0))
    dense = matrix.toarray()
    scaler = StandardFlexibleScaler(with_mean=False, column_wise=True).fit(matrix)
    expected = StandardFlexibleScaler(with_mean=False, column_wise=True).fit(dense)
    assert np.allclose(scaler.scale_, expected.scale_)
    assert sp.issparse(scaler.transform(matrix))
    assert np.allclose(scaler.transform(matrix).toarray(), expected.transform(dense))
    with pytest.raises(ValueError, match="Cannot centre a sparse matrix"):
        StandardFlexibleScaler().fit(matrix)


def test_float32_is_kept(data):
    scaled = StandardFlexibleScaler().fit_transform(data.astype(np.float32))
    assert scaled.dtype == np.float32


def test_zero_variance_errors(data):
    data[:, 2] = 1.0
    with pytest.raises(ValueError, match=r"column\(s\) \[2\] are constant"):
        StandardFlexibleScaler(column_wise=True).fit(data)
    StandardFlexibleScaler().fit(data)  # fine as a whole matrix
    with pytest.raises(ValueError, match="every column of X is constant"):
        StandardFlexibleScaler().fit(np.ones((5, 3)))


def test_bad_input(data):
    with pytest.raises(ValueError, match="Input X contains NaN"):
        StandardFlexibleScaler().fit(np.where(data > 5, np.nan, data))
    scaler = StandardFlexibleScaler().fit(data)
    with pytest.raises(
        ValueError, match="X has 4 features, but StandardFlexibleScaler"
    ):
        scaler.transform(data[:, :4])
    with pytest.raises(
        ValueError, match="X has 4 features, but StandardFlexibleScaler"
    ):
        scaler.inverse_transform(data[:, :4])
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        StandardFlexibleScaler().fit(data, sample_weight=-np.ones(30))


@pytest.mark.parity
@pytest.mark.parametrize("column_wise", [False, True])
def test_scaler_parity(skmatter, data, column_wise):
    from skmatter.preprocessing import StandardFlexibleScaler as Reference

    weights = np.linspace(0.5, 2.0, 30)
    ours = StandardFlexibleScaler(column_wise=column_wise).fit(
        data, sample_weight=weights
    )
    theirs = Reference(column_wise=column_wise).fit(data, sample_weight=weights)
    assert np.allclose(ours.transform(data), theirs.transform(data))
    assert np.allclose(ours.scale_, theirs.scale_)


# -- KernelNormalizer


def test_kernel_normalizer_centres_in_feature_space(rng):
    X = rng.standard_normal((20, 4)) + 2.0
    X_new = rng.standard_normal((6, 4))
    normalizer = KernelNormalizer().fit(X @ X.T)
    centred = X - X.mean(axis=0)
    scale = np.trace(centred @ centred.T) / 20
    assert np.allclose(normalizer.transform(X @ X.T), centred @ centred.T / scale)
    expected = (X_new - X.mean(axis=0)) @ centred.T / scale
    assert np.allclose(normalizer.transform(X_new @ X.T), expected)
    assert np.isclose(np.trace(normalizer.transform(X @ X.T)), 20)


@pytest.mark.parametrize("with_center", [True, False])
def test_kernel_normalizer_transforms_the_diagonal_of_new_points(rng, with_center):
    """``transform_diagonal`` is the diagonal of the normalised kernel of new
    points with themselves, from their own k(x, x) and their kernel with the
    training points: ‖φ(x) − mean‖² / scale."""
    X = rng.standard_normal((20, 4)) + 2.0
    X_new = rng.standard_normal((6, 4))
    normalizer = KernelNormalizer(with_center=with_center).fit(X @ X.T)
    diagonal = normalizer.transform_diagonal(
        np.einsum("ij,ij->i", X_new, X_new), X_new @ X.T
    )
    shift = X.mean(axis=0) if with_center else 0.0
    centred = X - shift
    scale = np.trace(centred @ centred.T) / 20
    assert np.allclose(diagonal, np.sum((X_new - shift) ** 2, axis=1) / scale)
    with pytest.raises(ValueError, match=r"K has shape \(6, 3\); expected \(6, 20\)"):
        normalizer.transform_diagonal(np.ones(6), np.ones((6, 3)))


def test_kernel_normalizer_options(rng):
    X = rng.standard_normal((10, 3))
    K = X @ X.T
    assert np.allclose(
        KernelNormalizer(with_center=False, with_trace=False).fit_transform(K), K
    )
    scaled = KernelNormalizer(with_center=False).fit_transform(K)
    assert np.isclose(np.trace(scaled), 10)


def test_kernel_normalizer_errors(rng):
    X = rng.standard_normal((10, 3))
    with pytest.raises(
        ValueError, match=r"K must be a square training kernel; got shape \(10, 3\)"
    ):
        KernelNormalizer().fit(X)
    normalizer = KernelNormalizer().fit(X @ X.T)
    with pytest.raises(ValueError, match="X has 9 features, but KernelNormalizer"):
        normalizer.transform(np.ones((2, 9)))
    with pytest.raises(ValueError, match="trace"):
        KernelNormalizer().fit(np.ones((4, 4)))


@pytest.mark.parity
def test_kernel_normalizer_parity(skmatter, rng):
    from skmatter.preprocessing import KernelNormalizer as Reference

    X = rng.standard_normal((15, 4)) + 1.0
    K, K_new = X @ X.T, rng.standard_normal((5, 4)) @ X.T
    weights = np.linspace(0.5, 2.0, 15)
    for kwargs in ({}, {"sample_weight": weights}):
        ours, theirs = KernelNormalizer().fit(K, **kwargs), Reference().fit(K, **kwargs)
        assert np.isclose(ours.scale_, theirs.scale_)
        assert np.allclose(ours.transform(K_new), theirs.transform(K_new))


# -- SparseKernelCenterer


def test_sparse_kernel_centerer_matches_the_nystrom_kernel(rng):
    X = rng.standard_normal((40, 3)) + 1.0
    active = X[:8]
    Knm, Kmm = X @ active.T, active @ active.T
    centerer = SparseKernelCenterer().fit(Knm, Kmm)
    centred = Knm - Knm.mean(axis=0)
    nystrom = centred @ np.linalg.pinv(Kmm) @ centred.T
    assert np.isclose(centerer.scale_, np.sqrt(np.trace(nystrom) / 40))
    transformed = centerer.transform(Knm)
    assert np.isclose(np.trace(transformed @ np.linalg.pinv(Kmm) @ transformed.T), 40)


def test_sparse_kernel_centerer_errors(rng):
    Knm, Kmm = rng.standard_normal((10, 4)), np.eye(4)
    with pytest.raises(ValueError, match=r"Kmm must be square; got shape \(4, 3\)"):
        SparseKernelCenterer().fit(Knm, np.ones((4, 3)))
    with pytest.raises(ValueError, match="Knm has 4 columns but Kmm describes 5"):
        SparseKernelCenterer().fit(Knm, np.eye(5))
    centerer = SparseKernelCenterer().fit(Knm, Kmm)
    with pytest.raises(ValueError, match="Knm has 3 columns but the active set has 4"):
        centerer.transform(Knm[:, :3])
    with pytest.raises(ValueError, match="Knm contains NaN"):
        SparseKernelCenterer().fit(np.full((3, 4), np.nan), Kmm)


@pytest.mark.parity
def test_sparse_kernel_centerer_parity(skmatter, rng):
    from sklearn.metrics.pairwise import rbf_kernel
    from skmatter.preprocessing import SparseKernelCenterer as Reference

    X = rng.standard_normal((30, 5))
    Knm, Kmm = rbf_kernel(X, X[:6], gamma=0.2), rbf_kernel(X[:6], gamma=0.2)
    ours, theirs = SparseKernelCenterer().fit(Knm, Kmm), Reference().fit(Knm, Kmm)
    assert np.isclose(ours.scale_, theirs.scale_)
    assert np.allclose(ours.transform(Knm), theirs.transform(Knm))
