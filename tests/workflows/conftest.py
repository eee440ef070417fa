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
