"""The benchmark scripts keep working (timings are read from their output, never
asserted here)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def quick_run(script: str, *options: str, timeout: int = 600) -> str:
    """Run ``script --quick --no-save [options]``; its standard output, after
    checking it succeeded and reported no runner error."""
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--no-save", *options],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stdout
    return completed.stdout


@pytest.mark.slow
@pytest.mark.parity
def test_pcovr_benchmark_quick_run(skmatter):
    assert "feature n=10000 d=1000" in quick_run("bench_pcovr.py")


@pytest.mark.slow
@pytest.mark.parity
def test_selection_benchmark_quick_run(skmatter):
    cases = ("--case", "sample-fps", "--case", "sample-pcovcur")
    assert "same" in quick_run("bench_selection.py", *cases, timeout=900)


@pytest.mark.slow
@pytest.mark.parity
def test_kpcovr_benchmark_quick_run(skmatter):
    cases = ("--case", "dense-2000-c2", "--case", "nystroem-accuracy")
    assert "|R2 dense - R2 sparse|" in quick_run("bench_kpcovr.py", *cases, timeout=900)


@pytest.mark.slow
def test_soap_benchmark_quick_run():
    pytest.importorskip("featomic")
    assert "propmap / featomic" in quick_run("bench_soap.py")


@pytest.mark.slow
def test_main_job_benchmark_quick_run():
    pytest.importorskip("featomic")
    pytest.importorskip("chemiscope")
    output = quick_run("bench_main_job.py")
    for job in ("map", "map-rbf", "map-sparse-125", "map-U0-sum", "floor"):
        assert f" {job} " in output, job
    assert "map-rbf / SOAP" in output
    # the plain map's stages beside its cross-validation's floor
    assert "its exact numerics' floor" in output
    assert "the job's floor (read + SOAP + that floor + outputs)" in output


@pytest.mark.slow
@pytest.mark.parity
def test_metrics_benchmark_quick_run(skmatter):
    pytest.importorskip("featomic")
    output = quick_run("bench_metrics.py")
    assert "lfre QM9 SOAP 100 x 100" in output
    assert "goal >= 10" in output


@pytest.mark.slow
@pytest.mark.parity
def test_kde_benchmark_quick_run(skmatter):
    pytest.importorskip("featomic")
    output = quick_run("bench_kde.py")
    assert "score QM9 atoms 1000 x 3" in output
    assert "goal >= 20" in output


@pytest.mark.slow
@pytest.mark.parity
def test_sketchmap_benchmark_quick_run(skmatter):
    pytest.importorskip("featomic")
    assert "goal < 60 s" in quick_run("bench_sketchmap.py")


@pytest.mark.slow
def test_dask_benchmark_quick_run():
    pytest.importorskip("zarr")
    pytest.importorskip("distributed")
    output = quick_run("bench_dask.py")
    assert "the XᵀX floor" in output
    assert "0 picks differ" in output
