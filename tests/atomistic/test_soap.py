"""SoapFeaturizer on real molecules."""

import numpy as np
import pytest

pytest.importorskip("featomic")
pytest.importorskip("ase")

import featomic
import scipy.sparse as sp
from ase.build import molecule
from ase.collections import g2
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from propmap.atomistic import SoapFeaturizer
from propmap.decomposition import PCovR

SMALL = {"cutoff": 4.0, "max_radial": 2, "max_angular": 2}


@pytest.fixture(scope="module")
def molecules():
    return [molecule(name) for name in ("H2O", "CH4", "CH3COOH", "C6H6", "NH3")]


def test_columns_do_not_depend_on_batches_or_species_order(molecules):
    reference = SoapFeaturizer(**SMALL).fit_transform(molecules)
    batched = SoapFeaturizer(**SMALL, batch_size=2).fit_transform(molecules)
    shuffled = SoapFeaturizer(**SMALL, species=["O", 1, "N", "C"]).fit(molecules[:1])
    np.testing.assert_array_equal(batched, reference)
    np.testing.assert_array_equal(shuffled.transform(molecules), reference)
    # a structure's row does not depend on the others in the call
    alone = SoapFeaturizer(**SMALL).fit(molecules).transform([molecules[2]])
    np.testing.assert_array_equal(alone[0], reference[2])


def test_structure_rows_are_means_and_sums_of_atom_rows(molecules):
    atoms = SoapFeaturizer(**SMALL, per="atom").fit(molecules).transform(molecules)
    mean = SoapFeaturizer(**SMALL).fit(molecules).transform(molecules)
    total = SoapFeaturizer(**SMALL, per="sum").fit(molecules).transform(molecules)
    owners = SoapFeaturizer.atom_index(molecules)[:, 0]
    for index in range(len(molecules)):
        rows = atoms[owners == index]
        np.testing.assert_allclose(mean[index], rows.mean(axis=0), atol=1e-14)
        np.testing.assert_allclose(total[index], rows.sum(axis=0), atol=1e-13)
    sparse = SoapFeaturizer(**SMALL, per="atom", sparse_output=True)
    sparse_rows = sparse.fit(molecules).transform(molecules)
    assert sp.issparse(sparse_rows)
    np.testing.assert_array_equal(sparse_rows.toarray(), atoms)


def test_values_are_featomics(molecules):
    soap = SoapFeaturizer(**SMALL, per="atom").fit(molecules)
    rows = soap.transform(molecules)
    descriptor = featomic.SoapPowerSpectrum(**soap.hypers()).compute(molecules)
    names = list(soap.get_feature_names_out())
    block = descriptor.block(center_type=6, neighbor_1_type=1, neighbor_2_type=8)
    first = names.index("C|H-O|n0|n0|l0")
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in molecules])])
    for (system, atom), values in zip(block.samples.values, block.values, strict=True):
        np.testing.assert_allclose(
            rows[offsets[system] + atom, first : first + values.size], values
        )


def test_features_are_invariant_to_rotation_and_translation():
    ethanol = molecule("CH3CH2OH")
    moved = ethanol.copy()
    moved.rotate(37, "x")
    moved.rotate(-71, (1, 1, 0))
    moved.translate([3.0, -2.0, 7.0])
    soap = SoapFeaturizer(**SMALL).fit([ethanol])
    np.testing.assert_allclose(
        soap.transform([moved]), soap.transform([ethanol]), atol=1e-10
    )


def test_feature_names_and_row_index(molecules):
    soap = SoapFeaturizer(**SMALL).fit(molecules)
    names = soap.get_feature_names_out()
    # 4 species: 4 centres x 10 neighbour pairs x 27 (l, n, n') channels
    assert len(names) == soap.n_features_out_ == 4 * 10 * 27
    assert names[0] == "H|H-H|n0|n0|l0"
    assert "O|N-O|n2|n1|l2" in set(names)
    index = SoapFeaturizer.atom_index(molecules)
    assert index.shape == (sum(len(m) for m in molecules), 2)
    assert tuple(index[3]) == (1, 0)  # water has three atoms


def test_pipeline_with_pcovr_on_g2():
    names = [n for n in g2.names if set(g2[n].get_chemical_symbols()) <= set("HCNO")]
    structures = [g2[n] for n in names[:40]]
    y = np.array([len(s) for s in structures], dtype=float)
    pipeline = make_pipeline(SoapFeaturizer(**SMALL), PCovR(n_components=2))
    with pytest.warns(UserWarning, match="centred"):
        latent = pipeline.fit(structures, y - y.mean()).transform(structures)
    assert latent.shape == (40, 2)


def test_bad_input(molecules):
    soap = SoapFeaturizer(**SMALL).fit(molecules[:2])  # H, O, C only
    with pytest.raises(ValueError, match="contains N, not among"):
        soap.transform(molecules)
    empty = molecules[0][[]]
    with pytest.raises(ValueError, match="Structure 1 has no atoms"):
        soap.transform([molecules[0], empty])
    with pytest.raises(TypeError, match=r"not ase\.Atoms"):
        soap.transform([molecules[0], "water.xyz"])
    with pytest.raises(ValueError, match="No structures"):
        SoapFeaturizer().fit([])
    with pytest.raises(InvalidParameterError, match="cutoff"):
        SoapFeaturizer(cutoff=-1.0).fit(molecules)
    with pytest.raises(ValueError, match="radial_scaling needs"):
        SoapFeaturizer(radial_scaling={"rate": 1.0}).fit(molecules)
    with pytest.raises(ValueError, match="Unknown element 'Xx'"):
        SoapFeaturizer(species=["H", "Xx"]).fit(molecules)


def test_radial_scaling_down_weights_far_neighbours(molecules):
    plain = SoapFeaturizer(**SMALL).fit_transform(molecules)
    scaled = SoapFeaturizer(
        **SMALL, radial_scaling={"rate": 1.0, "scale": 2.0, "exponent": 4}
    ).fit_transform(molecules)
    assert scaled.shape == plain.shape
    assert np.linalg.norm(scaled) < np.linalg.norm(plain)


@pytest.mark.parametrize("per", ["structure", "atom"])
def test_float32_features_are_the_rounded_float64_ones(per):
    from propmap.datasets import load_qm9

    molecules = load_qm9(40)
    double = SoapFeaturizer(cutoff=3.0, max_radial=2, max_angular=2, per=per)
    single = SoapFeaturizer(
        cutoff=3.0, max_radial=2, max_angular=2, per=per, dtype="float32"
    )
    expected = double.fit_transform(molecules)
    found = single.fit_transform(molecules)
    assert found.dtype == np.float32
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-7)


def test_featurising_needs_no_more_working_memory_for_more_structures():
    """Beyond its output, the featuriser's transient peak (numpy allocations,
    traced) is that of one batch: the same for 2x and 4x the structures; what
    propmap's own code keeps afterwards is the output alone."""
    import tracemalloc

    from propmap.datasets import load_qm9

    molecules = load_qm9(400)
    soap = SoapFeaturizer(
        cutoff=3.0, max_radial=2, max_angular=2, batch_size=50, dtype="float32"
    ).fit(molecules)
    transient = []
    for n in (100, 200, 400):
        tracemalloc.start()
        features = soap.transform(molecules[:n])
        current, peak = tracemalloc.get_traced_memory()
        kept = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*propmap*")]
        )
        tracemalloc.stop()
        transient.append(peak - current)
        ours = sum(stat.size for stat in kept.statistics("filename"))
        assert ours < features.nbytes + 2**16, (n, ours, features.nbytes)
    assert max(transient[1:]) < 1.5 * transient[0] + 2**20, transient
