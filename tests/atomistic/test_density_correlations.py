"""DensityCorrelationFeaturizer on real QM9 molecules: the power spectrum at body
order 3, rotation invariance at 4 and 5, columns fixed at fit."""

import numpy as np
import pytest

pytest.importorskip("featomic")

import scipy.sparse as sp
from scipy.spatial.transform import Rotation

from propmap.atomistic import DensityCorrelationFeaturizer, SoapFeaturizer
from propmap.datasets import load_qm9

SMALL = {"cutoff": 3.5, "max_radial": 2, "max_angular": 2}


@pytest.fixture(scope="module")
def molecules():
    return load_qm9(24)


def test_body_order_three_is_the_power_spectrum(molecules):
    ours = DensityCorrelationFeaturizer(body_order=3, **SMALL).fit(molecules)
    soap = SoapFeaturizer(**SMALL).fit(molecules)
    mine, theirs = ours.transform(molecules), soap.transform(molecules)
    column = {name: k for k, name in enumerate(ours.get_feature_names_out())}
    assert mine.shape[1] > theirs.shape[1]  # both orders of each species pair
    for j, name in enumerate(soap.get_feature_names_out()):
        centre, pair, n1, n2, angular = name.split("|")
        first, second = pair.split("-")
        l = angular[1:]  # noqa: E741
        direct = column[f"{centre}|l_1={l},l_2={l}|{first}:{n1}|{second}:{n2}"]
        swapped = column[f"{centre}|l_1={l},l_2={l}|{second}:{n2}|{first}:{n1}"]
        factor = 1.0 if first == second else np.sqrt(0.5)
        np.testing.assert_allclose(
            mine[:, direct], factor * theirs[:, j], rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(mine[:, swapped], mine[:, direct], atol=1e-12)
    # the same linear kernel
    np.testing.assert_allclose(mine @ mine.T, theirs @ theirs.T, rtol=1e-10)


@pytest.mark.parametrize(
    ("order", "settings"),
    [(4, SMALL), (5, {"cutoff": 3.5, "max_radial": 1, "max_angular": 1})],
)
def test_higher_orders_are_rotation_invariant(molecules, order, settings):
    featurizer = DensityCorrelationFeaturizer(body_order=order, **settings)
    reference = featurizer.fit_transform(molecules[:6])
    rotated = []
    for k, atoms in enumerate(molecules[:6]):
        turned = atoms.copy()
        matrix = Rotation.random(random_state=k).as_matrix()
        turned.positions = turned.positions @ matrix.T + [1.0, -2.0, 0.5]
        rotated.append(turned)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(
        featurizer.transform(rotated), reference, atol=1e-9 * scale
    )
    assert np.linalg.matrix_rank(reference) > 1


def test_columns_are_fixed_at_fit(molecules):
    full = DensityCorrelationFeaturizer(**SMALL).fit(molecules)
    reference = full.transform(molecules)
    batched = DensityCorrelationFeaturizer(**SMALL, batch_size=5).fit(molecules)
    np.testing.assert_array_equal(batched.transform(molecules), reference)
    # a molecule without N or O has the same columns, zero where they would be
    alone = full.transform([molecules[1]])
    np.testing.assert_array_equal(alone[0], reference[1])
    species = DensityCorrelationFeaturizer(**SMALL, species=["O", "N", 6, 1])
    np.testing.assert_array_equal(
        species.fit(molecules[:1]).transform(molecules), reference
    )
    names = full.get_feature_names_out()
    assert len(names) == len(set(names)) == reference.shape[1] == full.n_features_out_
    assert names[0].startswith("H|l_1=0,l_2=0,k_2=0,l_3=0|H:n0|H:n0|H:n0")
    with pytest.raises(ValueError, match="contains F"):
        DensityCorrelationFeaturizer(**SMALL).fit(molecules[:3]).transform(
            [a for a in load_qm9(400) if 9 in a.numbers][:1]
        )


def test_atom_rows_sum_and_average_to_structure_rows(molecules):
    settings = {**SMALL, "body_order": 4}
    atoms = DensityCorrelationFeaturizer(per="atom", **settings).fit(molecules)
    rows = atoms.transform(molecules)
    sparse = atoms.set_params(sparse_output=True).transform(molecules)
    assert sp.issparse(sparse)
    np.testing.assert_array_equal(sparse.toarray(), rows)
    sizes = np.cumsum([0] + [len(a) for a in molecules])
    means = DensityCorrelationFeaturizer(**settings).fit(molecules).transform(molecules)
    sums = (
        DensityCorrelationFeaturizer(per="sum", **settings)
        .fit(molecules)
        .transform(molecules)
    )
    for k in range(len(molecules)):
        block = rows[sizes[k] : sizes[k + 1]]
        np.testing.assert_allclose(block.sum(axis=0), sums[k], atol=1e-12)
        np.testing.assert_allclose(block.mean(axis=0), means[k], atol=1e-12)


def test_bad_parameters_are_named(molecules):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="body_order"):
        DensityCorrelationFeaturizer(body_order=2).fit(molecules)
    with pytest.raises(InvalidParameterError, match="angular_cutoff"):
        DensityCorrelationFeaturizer(angular_cutoff=-1).fit(molecules)


@pytest.mark.parametrize("compressor", ["pca", "cur"])
def test_compression_bounds_the_width_and_keeps_invariance(molecules, compressor):
    settings = {**SMALL, "compression": 12, "compressor": compressor}
    four = DensityCorrelationFeaturizer(body_order=4, **settings).fit(molecules)
    five = DensityCorrelationFeaturizer(body_order=5, **settings).fit(molecules[:12])
    full = DensityCorrelationFeaturizer(body_order=4, **SMALL).fit(molecules)
    # the width no longer grows with the body order
    assert five.n_features_out_ == four.n_features_out_ < full.n_features_out_ / 5
    for featurizer in (four, five):
        reference = featurizer.transform(molecules[:5])
        rotated = []
        for k, atoms in enumerate(molecules[:5]):
            turned = atoms.copy()
            turned.positions = (
                turned.positions @ Rotation.random(random_state=k).as_matrix().T
            )
            rotated.append(turned)
        scale = np.abs(reference).max()
        np.testing.assert_allclose(
            featurizer.transform(rotated), reference, atol=1e-9 * scale
        )
        # fitted maps: a structure's row does not depend on its batch
        np.testing.assert_array_equal(
            featurizer.transform([molecules[3]])[0], reference[3]
        )
        names = featurizer.get_feature_names_out()
        assert len(set(names)) == len(names) == featurizer.n_features_out_
        assert np.linalg.matrix_rank(reference) > 1
    assert four.get_feature_names_out()[0].startswith("H|k_2=0,l_3=0,q_2=0,")
    assert len(four.compressions_) == 1
    assert len(five.compressions_) == 2


def test_cur_compression_keeps_columns_of_the_products(molecules):
    """CUR compression picks product columns: each map is a column selection."""
    featurizer = DensityCorrelationFeaturizer(
        body_order=4, compression=8, compressor="cur", **SMALL
    ).fit(molecules)
    for matrix in featurizer.compressions_[0].values():
        assert set(np.unique(matrix)) <= {0.0, 1.0}
        np.testing.assert_array_equal(matrix.sum(axis=0), 1.0)


def test_bad_compression_is_named(molecules):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="compression"):
        DensityCorrelationFeaturizer(compression=0).fit(molecules)
    with pytest.raises(InvalidParameterError, match="compressor"):
        DensityCorrelationFeaturizer(compression=4, compressor="svd").fit(molecules)
