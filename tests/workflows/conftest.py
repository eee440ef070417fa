"""What the workflow tests share: compact SOAP settings and a file of real
molecules (the first 150 of the shipped QM9 subset)."""

import pytest


@pytest.fixture(scope="session")
def small_soap():
    from propmap.workflows import SoapOptions

    return SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)


@pytest.fixture(scope="session")
def qm9_file(tmp_path_factory):
    pytest.importorskip("ase")
    import ase.io

    from propmap.datasets import load_qm9

    path = tmp_path_factory.mktemp("inputs") / "qm9.extxyz"
    ase.io.write(path, load_qm9(150), format="extxyz")
    return path


@pytest.fixture(scope="session")
def qm9_folder(tmp_path_factory):
    """Four extxyz files of 30 real QM9 molecules each (a folder of files, as a
    cluster run streams them)."""
    pytest.importorskip("ase")
    import ase.io

    from propmap.datasets import load_qm9

    root = tmp_path_factory.mktemp("qm9-files")
    molecules = load_qm9(120)
    for part in range(4):
        chunk = molecules[30 * part : 30 * part + 30]
        ase.io.write(root / f"part{part}.extxyz", chunk, format="extxyz")
    return root
