"""`propmap map` on a dask cluster: the features are computed on the workers,
once, and the cross-validated choices, accuracies and model are the in-memory
run's; with local workers and room in memory the features come back and the job
is the in-memory one."""

import json
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytest.importorskip("featomic")
pytest.importorskip("chemiscope")

import ase.io
from typer.testing import CliRunner

from propmap.cli import app
from propmap.datasets import load_qm9
from propmap.workflows import (
    ClusterOptions,
    SoapOptions,
    WorkflowError,
    map_structures,
    project_structures,
)

SOAP = SoapOptions(cutoff=3.5, max_radial=2, max_angular=2)
# local workers that keep the features (the map fitted on dask)
IN_PROCESS = ClusterOptions(workers=2, processes=False, gather=False)


def _on_cluster(folder, out, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's start-up chatter
        return map_structures([folder], out=out, cluster=IN_PROCESS, **settings)


@pytest.mark.parametrize(
    ("target", "aggregate"), [("gap", "mean"), ("U0", "sum")], ids=["gap", "U0"]
)
def test_the_cluster_map_is_the_in_memory_map(qm9_folder, tmp_path, target, aggregate):
    settings = {"target": target, "aggregate": aggregate, "soap": SOAP}
    memory = map_structures([qm9_folder], out=tmp_path / "memory", **settings)
    cluster = _on_cluster(qm9_folder, tmp_path / "cluster", **settings)
    assert cluster["streamed"]
    assert not memory["streamed"]
    # the same choices from the folds' moments as from the folds' rows
    for key in ("mixing", "penalty", "n_features", "n_train", "baseline"):
        assert cluster[key] == memory[key], key
    for curve in ("loss_x_cv", "loss_y_cv"):
        # (float32 features, scaled on the workers or here: ~1e-7 apart)
        np.testing.assert_allclose(
            cluster["sweep"][curve], memory["sweep"][curve], rtol=1e-5
        )
    for model in ("map", "full_model"):
        for split in ("train", "test"):
            for score, value in memory["accuracy"][model][split].items():
                assert cluster["accuracy"][model][split][score] == pytest.approx(
                    value, rel=1e-5, abs=1e-9
                ), (model, split, score)
    if aggregate == "sum":
        values = memory["baseline_element_values"]
        assert cluster["baseline_element_values"] == pytest.approx(values)
    # the saved models predict alike and keep the same structures
    ours = joblib.load(tmp_path / "cluster" / "model.joblib")
    theirs = joblib.load(tmp_path / "memory" / "model.joblib")
    new = load_qm9(140)[120:]
    np.testing.assert_allclose(ours.predict(new), theirs.predict(new), rtol=1e-5)
    latent = ours.transform(new)
    reference = theirs.transform(new)
    signs = np.sign(np.sum(latent * reference, axis=0))  # a component's sign is free
    scale = np.abs(reference).max()
    np.testing.assert_allclose(latent * signs, reference, rtol=1e-4, atol=1e-5 * scale)
    mine = ours.map_structures(tmp_path / "cluster")
    reference = theirs.map_structures(tmp_path / "memory")
    assert len(mine) == len(reference) == 120
    for a, b in zip(mine, reference, strict=True):
        assert a.get_chemical_symbols() == b.get_chemical_symbols()
        np.testing.assert_allclose(a.positions, b.positions)
    assert len(ours.map_["names"]) == 120
    assert ours.map_["names"][0].endswith("part0.extxyz:0")


def test_the_features_are_computed_once_on_the_workers(
    qm9_folder, tmp_path, monkeypatch
):
    """Each file is featurised once (the in-process workers share this process),
    and the run is a fixed number of graphs: survey, features, scaler, the
    moments of every row, the folds' moments in the coordinates of their span
    (the final fit reuses them), the held-out rows that calibrate the
    uncertainty, coordinates and predictions."""
    import distributed

    from propmap.atomistic import _files_dask

    log = tmp_path / "featurised.txt"  # the task may be a copy: count in a file
    featurise = _files_dask._features

    def counted(path, *args):
        with open(log, "a") as stream:
            stream.write(f"{path}\n")
        return featurise(path, *args)

    monkeypatch.setattr(_files_dask, "_features", counted)
    graphs = []

    class Count(distributed.diagnostics.plugin.SchedulerPlugin):
        def update_graph(self, scheduler, **kwargs):
            graphs.append(1)

    original = distributed.Client.__init__

    def register(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.cluster.scheduler.add_plugin(Count())

    monkeypatch.setattr(distributed.Client, "__init__", register)
    _on_cluster(qm9_folder, tmp_path / "out", target="gap", soap=SOAP)
    calls = log.read_text().split()
    assert sorted(calls) == sorted(str(p) for p in qm9_folder.iterdir())
    assert len(graphs) == 7


def test_features_of_local_workers_come_back_and_the_job_is_the_in_memory_one(
    qm9_folder, tmp_path, monkeypatch
):
    """Local workers featurise the structures the survey read (no file is read
    twice) and send the features back: the rest is the in-memory job, with its
    summary to the last digit; the workers' peak memory is in the summary."""
    from propmap.atomistic import _files_dask

    log = tmp_path / "calls.txt"  # the task may be a copy: count in a file
    features_of_files = _files_dask._features
    features_of_packed = _files_dask._packed_features

    def of_files(*args):
        with open(log, "a") as stream:
            stream.write("files\n")
        return features_of_files(*args)

    def of_packed(*args):
        with open(log, "a") as stream:
            stream.write("packed\n")
        return features_of_packed(*args)

    monkeypatch.setattr(_files_dask, "_features", of_files)
    monkeypatch.setattr(_files_dask, "_packed_features", of_packed)
    settings = {"target": "gap", "soap": SOAP}
    memory = map_structures([qm9_folder], out=tmp_path / "memory", **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's start-up chatter
        gathered = map_structures(
            [qm9_folder], out=tmp_path / "gathered",
            cluster=ClusterOptions(workers=2, processes=False), **settings,
        )  # fmt: skip
    assert log.read_text().split() == ["packed"]  # one chunk of 120
    assert not gathered["streamed"]
    assert gathered["workers_peak_memory_mb"] == 0.0  # threads of this process
    assert "workers_peak_memory_mb" not in memory
    apart = {"timings", "peak_memory_mb", "workers_peak_memory_mb"}
    assert {k: v for k, v in gathered.items() if k not in apart} == {
        k: v for k, v in memory.items() if k not in apart
    }
    ours = joblib.load(tmp_path / "gathered" / "model.joblib")
    theirs = joblib.load(tmp_path / "memory" / "model.joblib")
    new = load_qm9(140)[120:]
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    # every structure is in the viewer's file, as in memory
    assert len(ours.map_structures(tmp_path / "gathered")) == 120


def test_features_too_big_for_this_process_stay_on_the_workers(
    qm9_folder, tmp_path, monkeypatch
):
    """When the in-memory job would not fit in the memory available, local
    workers keep the features and the map is fitted on dask."""
    from propmap.workflows import _steps

    monkeypatch.setattr(_steps, "_available_memory", lambda: 2**20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = map_structures(
            [qm9_folder], "gap", tmp_path / "out", soap=SOAP,
            cluster=ClusterOptions(workers=2, processes=False),
        )  # fmt: skip
    assert summary["streamed"]


def test_new_structures_are_projected_onto_a_cluster_map(qm9_folder, tmp_path):
    _on_cluster(qm9_folder, tmp_path / "map", target="gap", soap=SOAP)
    new = tmp_path / "new.extxyz"
    ase.io.write(new, load_qm9(130)[120:], format="extxyz")
    project_structures(tmp_path / "map" / "model.joblib", [new], tmp_path / "p")
    table = pd.read_csv(tmp_path / "p" / "projected.csv")
    assert len(table) == 10
    assert np.all(np.isfinite(table.filter(like="PCovR").to_numpy()))


def test_the_map_command_runs_on_local_worker_processes(qm9_folder, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "map", str(qm9_folder), "-t", "gap", "--workers", "2", "-o", str(out),
            "--cutoff", "3.5", "--max-radial", "2", "--max-angular", "2",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    # (room in memory: the features came back from the worker processes)
    assert not summary["streamed"]
    assert summary["workers_peak_memory_mb"] > 100
    assert summary["structures"] == 120
    assert "PCovR map of 120 structures" in result.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kernel": "rbf"}, "kernel map needs kernels"),
        ({"sparse": 20}, "kernel map needs kernels"),
        ({"layout": "sketch"}, "`layout` sketch needs every feature row"),
    ],
)
def test_what_a_cluster_map_cannot_do_is_refused_first(
    qm9_folder, tmp_path, options, message
):
    with pytest.raises(WorkflowError, match=message):
        map_structures(
            [qm9_folder],
            "gap",
            tmp_path / "out",
            cluster=IN_PROCESS,
            soap=SOAP,
            **options,
        )
    assert not (tmp_path / "out").exists()


def test_cluster_problems_are_named(qm9_folder, tmp_path):
    table = tmp_path / "table.csv"
    rows = "".join(f"r{k},{k},{k % 3},{k}\n" for k in range(12))
    table.write_text("name,a,b,y\n" + rows)
    with pytest.raises(WorkflowError, match="feature table"):
        map_structures([table], "y", tmp_path / "t", cluster=IN_PROCESS)
    with pytest.raises(WorkflowError, match="cannot reach the dask scheduler"):
        map_structures(
            [qm9_folder], "gap", tmp_path / "nowhere", soap=SOAP,
            cluster=ClusterOptions(scheduler="tcp://127.0.0.1:9"),
        )  # fmt: skip
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(KeyError, match="No property 'no_such_property'"):
        _on_cluster(
            qm9_folder, tmp_path / "missing", target="no_such_property", soap=SOAP
        )
    assert not (tmp_path / "missing").exists()
