"""SOAP features of many structure files as a dask array: the same rows as
featurizing the structures in memory, shapes known before any feature is made."""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("featomic")

import ase.io  # noqa: E402

from propmap.atomistic import (  # noqa: E402
    SoapFeaturizer,
    featurize_files,
    read_structures,
)
from propmap.datasets import load_qm9  # noqa: E402

SMALL = {"cutoff": 3.5, "max_radial": 2, "max_angular": 2}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three extxyz files of real QM9 molecules (30, 45 and 25)."""
    root = tmp_path_factory.mktemp("qm9-files")
    molecules = load_qm9(100)
    parts = {"a": molecules[:30], "b": molecules[30:75], "c": molecules[75:]}
    for name, part in parts.items():
        ase.io.write(root / f"{name}.extxyz", part, format="extxyz")
    return root


@pytest.mark.parametrize("per", ["structure", "atom"])
def test_the_files_give_the_in_memory_features(folder, per, graphs):
    structures = read_structures(folder)
    expected_featurizer = SoapFeaturizer(per=per, **SMALL).fit(structures)
    expected = expected_featurizer.transform(structures)
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    with graphs() as counter:
        blocks = featurize_files(folder, SoapFeaturizer(per=per, **SMALL), target="gap")
        assert counter.n == 1  # the survey only: the features are still lazy
        assert blocks.X.shape == expected.shape
        assert blocks.X.chunks[0] == (
            tuple(blocks.atoms_per_file) if per == "atom" else (30, 45, 25)
        )
        np.testing.assert_allclose(blocks.X.compute(), expected, atol=1e-12)
    np.testing.assert_array_equal(blocks.structures_per_file, [30, 45, 25])
    np.testing.assert_allclose(blocks.y, [s.info["gap"] for s in structures])
    np.testing.assert_array_equal(
        blocks.featurizer.get_feature_names_out(),
        expected_featurizer.get_feature_names_out(),
    )


def test_the_survey_brings_back_compositions_and_structures(folder):
    from propmap.atomistic import pack_structures

    structures = read_structures(folder)
    with dask.config.set(scheduler="threads"):
        found = featurize_files(folder, SoapFeaturizer(**SMALL), structures=True)
        plain = featurize_files(folder, SoapFeaturizer(**SMALL))
    np.testing.assert_array_equal(
        found.numbers, np.concatenate([a.numbers for a in structures])
    )
    assert found.numbers.dtype == np.uint8
    np.testing.assert_array_equal(
        found.atoms_per_structure, [len(a) for a in structures]
    )
    for key, value in pack_structures(structures).items():
        np.testing.assert_array_equal(found.structures[key], value)
    assert plain.structures is None
    np.testing.assert_array_equal(plain.numbers, found.numbers)


def test_a_map_fits_on_the_lazy_features(folder):
    from propmap.decomposition import PCovR
    from propmap.preprocessing import StandardFlexibleScaler

    # the atoms' environments: 1,8xx rows of 1,080 features (taller than wide)
    blocks = featurize_files(folder, SoapFeaturizer(per="atom", **SMALL))
    numbers = np.concatenate([a.numbers for a in read_structures(folder)])
    y = (numbers - numbers.mean()) / numbers.std()
    with dask.config.set(scheduler="threads"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X = StandardFlexibleScaler().fit_transform(blocks.X)
        model = PCovR(mixing=0.5, n_components=2).fit(X, y)
        latent = model.transform(X).compute()
    assert latent.shape == (numbers.size, 2)
    assert model.score(X.compute(), y) > -1.0  # the map explains the elements


def test_a_fitted_featurizer_names_the_elements_it_lacks(folder):
    hydrocarbons = SoapFeaturizer(species=["H", "C"], **SMALL).fit(load_qm9(2))
    with pytest.raises(ValueError, match="not fitted with: N, O"):
        featurize_files(folder, hydrocarbons)


def test_a_missing_target_or_folder_is_named(folder, tmp_path):
    with pytest.raises(KeyError, match="no_such_property"):
        featurize_files(folder, SoapFeaturizer(**SMALL), target="no_such_property")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        featurize_files(tmp_path / "nowhere", SoapFeaturizer(**SMALL))


@pytest.mark.parametrize("per", ["structure", "atom"])
def test_one_big_file_is_featurised_in_chunks(folder, tmp_path, per):
    """A file of more structures than ``chunk_size`` gives a task per chunk (so
    one big file keeps every worker busy), with the rows, sources and features
    of the whole file read at once; a compressed file is chunked too."""
    import gzip
    import shutil

    from propmap.atomistic._io import read_chunk

    structures = read_structures(folder)
    for atoms in structures:
        del atoms.info["source"]  # (the file records its own)
    path = tmp_path / "all.extxyz"
    ase.io.write(path, structures, format="extxyz")
    packed = tmp_path / "all.extxyz.gz"
    with open(path, "rb") as plain, gzip.open(packed, "wb") as stream:
        shutil.copyfileobj(plain, stream)
    whole = featurize_files(path, SoapFeaturizer(per=per, **SMALL), chunk_size=None)
    assert len(whole.X.chunks[0]) == 1
    for source in (path, packed):
        chunked = featurize_files(
            source, SoapFeaturizer(per=per, **SMALL), chunk_size=40
        )
        rows = [40, 40, 20]
        if per == "atom":
            sizes = [len(a) for a in structures]
            rows = [sum(sizes[:40]), sum(sizes[40:80]), sum(sizes[80:])]
        assert chunked.X.chunks[0] == tuple(rows)
        np.testing.assert_allclose(
            chunked.X.compute(), whole.X.compute(), rtol=1e-12, atol=1e-12
        )
    chunk = read_chunk(path, None, 40, 80)
    assert [a.info["source"] for a in chunk] == [f"{path}:{k}" for k in range(40, 80)]
    for mine, theirs in zip(chunk, structures[40:80], strict=True):
        np.testing.assert_allclose(mine.positions, theirs.positions)


def test_auto_chunks_are_two_per_worker_within_limits(monkeypatch):
    from propmap.atomistic import _files_dask

    monkeypatch.setattr(_files_dask, "_workers", lambda: 2)
    assert [stop - start for start, stop in _files_dask._chunks(10_000, "auto")] == [
        2_500
    ] * 4
    assert len(_files_dask._chunks(130_831, "auto")) == 14  # 10,000 at most
    assert _files_dask._chunks(900, "auto") == [(0, 500), (500, 900)]
    assert _files_dask._chunks(400, "auto") == [None]
    assert _files_dask._chunks(0, "auto") == []


@pytest.mark.parametrize("per", ["structure", "atom"])
def test_packed_structures_are_featurised_on_the_workers_in_chunks(
    folder, per, cluster, monkeypatch
):
    """The features of structures already read, computed on the workers chunk
    by chunk (two per worker) and copied into one array, in order, in the
    asked type; the progress is told every chunk's rows."""
    from propmap.atomistic import _files_dask, featurize_packed, pack_structures

    client, _ = cluster
    monkeypatch.setattr(_files_dask, "MIN_CHUNK", 10)
    structures = read_structures(folder)
    featurizer = SoapFeaturizer(per=per, **SMALL).fit(structures)
    expected = featurizer.transform(structures)
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    told = []
    with client.as_current():
        ours = featurize_packed(
            pack_structures(structures), featurizer, "float32", told.append
        )
    assert ours.dtype == np.float32
    assert ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected.astype(np.float32))
    # 100 structures in chunks of 25: four tasks on two workers
    assert len(told) == 4
    assert sum(told) == expected.shape[0]
