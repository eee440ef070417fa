"""The benchmark scripts keep working (timings are read from their output, never
asserted here)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parity
def test_pcovr_benchmark_quick_run(skmatter):
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_pcovr.py"), "--quick", "--no-save"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "feature n=10000 d=1000" in completed.stdout
    assert "ERROR" not in completed.stdout


@pytest.mark.slow
@pytest.mark.parity
def test_selection_benchmark_quick_run(skmatter):
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_selection.py"),
            "--quick",
            "--no-save",
            "--case",
            "sample-fps",
            "--case",
            "sample-pcovcur",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stdout
    assert "same" in completed.stdout


@pytest.mark.slow
@pytest.mark.parity
def test_kpcovr_benchmark_quick_run(skmatter):
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_kpcovr.py"),
            "--quick",
            "--no-save",
            "--case",
            "dense-2000-c2",
            "--case",
            "nystroem-accuracy",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stdout
    assert "|R2 dense - R2 sparse|" in completed.stdout


@pytest.mark.slow
def test_soap_benchmark_quick_run():
    pytest.importorskip("featomic")
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_soap.py"), "--quick", "--no-save"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "propmap / featomic" in completed.stdout


@pytest.mark.slow
def test_main_job_benchmark_quick_run():
    pytest.importorskip("featomic")
    pytest.importorskip("chemiscope")
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_main_job.py"), "--quick", "--no-save"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stdout
    for job in ("map", "map-rbf", "map-sparse-125", "map-U0-sum"):
        assert f" {job} " in completed.stdout, job
    assert "map-rbf / SOAP" in completed.stdout


@pytest.mark.slow
@pytest.mark.parity
def test_metrics_benchmark_quick_run(skmatter):
    pytest.importorskip("featomic")
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_metrics.py"), "--quick", "--no-save"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stdout
    assert "lfre QM9 SOAP 100 x 100" in completed.stdout


@pytest.mark.slow
@pytest.mark.parity
def test_kde_benchmark_quick_run(skmatter):
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_kde.py"), "--quick", "--no-save"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "score QM9 atoms 1000 x 3" in completed.stdout
    assert "ERROR" not in completed.stdout


@pytest.mark.slow
@pytest.mark.parity
def test_sketchmap_benchmark_quick_run(skmatter):
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_sketchmap.py"),
            "--quick",
            "--no-save",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stdout
    assert "goal < 60 s" in completed.stdout
