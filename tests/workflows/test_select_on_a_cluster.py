"""`propmap select` on a dask cluster: the structure files are featurised on the
workers and the picks, names and error curves are the in-memory run's."""

import json
import warnings

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("featomic")

import pandas as pd
from typer.testing import CliRunner

from propmap.atomistic import read_structures
from propmap.cli import app
from propmap.workflows import (
    ClusterOptions,
    SoapOptions,
    WorkflowError,
    run_selection,
)

SOAP = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
IN_PROCESS = ClusterOptions(workers=2, processes=False)


@pytest.mark.parametrize(
    ("axis", "method"),
    [("features", "pcov-cur"), ("features", "fps"), ("samples", "pcov-fps")],
)
def test_the_cluster_run_is_the_in_memory_run(qm9_folder, tmp_path, axis, method):
    settings = {
        "method": method, "axis": axis, "count": 8, "target": "gap", "soap": SOAP,
    }  # fmt: skip
    memory = run_selection([qm9_folder], tmp_path / "memory", **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = run_selection(
            [qm9_folder], tmp_path / "cluster", cluster=IN_PROCESS, **settings
        )
    picked = pd.read_csv(tmp_path / "memory" / "selected.csv")["index"].to_numpy()
    found = pd.read_csv(tmp_path / "cluster" / "selected.csv")["index"].to_numpy()
    if axis == "samples":
        np.testing.assert_array_equal(found, picked)
    else:
        # the same picks, but for exactly equal columns (a same-element SOAP pair
        # has p(n1, n2) = p(n2, n1)): a tie that the order of a sum breaks
        X = SOAP.featurizer().fit_transform(read_structures(qm9_folder))
        for ours, theirs in zip(found, picked, strict=True):
            np.testing.assert_array_equal(X[:, ours], X[:, theirs])
    assert cluster["samples"] == memory["samples"] == 120
    for name, curve in memory["test_rmse"].items():
        np.testing.assert_allclose(cluster["test_rmse"][name], curve, rtol=1e-8)


def test_the_command_runs_on_local_worker_processes(qm9_folder, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "select", str(qm9_folder), "-t", "gap", "--method", "fps", "--count", "5",
            "--workers", "2", "-o", str(out), "--cutoff", "3.5", "--max-radial",
            "2", "--max-angular", "2",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["samples"] == 120


def test_cluster_options_are_checked(qm9_folder, tmp_path):
    with pytest.raises(WorkflowError, match="not both"):
        ClusterOptions(scheduler="tcp://127.0.0.1:1", workers=2)
    table = tmp_path / "table.csv"
    table.write_text("name,a,b,y\nx,1,2,3\nz,4,5,6\n")
    with pytest.raises(WorkflowError, match="feature table"):
        run_selection([table], tmp_path / "t", target="y", cluster=IN_PROCESS)
    with pytest.raises(WorkflowError, match="cannot reach the dask scheduler"):
        run_selection(
            [qm9_folder], tmp_path / "nowhere", target="gap", soap=SOAP,
            cluster=ClusterOptions(scheduler="tcp://127.0.0.1:9"),
        )  # fmt: skip
    assert not (tmp_path / "nowhere").exists()
    result = CliRunner().invoke(
        app,
        ["select", str(qm9_folder), "-t", "gap", "--workers", "1", "--scheduler",
         "tcp://127.0.0.1:9", "-o", str(tmp_path / "both")],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "not both" in result.output
