"""The propmap command line, through typer's CliRunner."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("featomic")
pytest.importorskip("matplotlib")
pytest.importorskip("chemiscope")

import ase.io
from typer.testing import CliRunner

from propmap import __version__
from propmap.cli import app
from propmap.datasets import load_g2, load_s22

SMALL_SOAP = ["--cutoff", "3.5", "--max-radial", "2", "--max-angular", "2"]


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def g2_file(tmp_path_factory):
    molecules, _ = load_g2()
    organic = [m for m in molecules if set(m.get_chemical_symbols()) <= set("HCNO")]
    path = tmp_path_factory.mktemp("inputs") / "g2.extxyz"
    ase.io.write(path, organic[:30], format="extxyz")
    return path


@pytest.fixture(scope="module")
def s22_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "s22.extxyz"
    ase.io.write(path, load_s22().dimers[:10], format="extxyz")
    return path


def invoke(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_error(result, *fragments):
    assert result.exit_code == 1, result.output
    # (progress is on: a line per stage, "propmap: [   1.2 s] ...", may come first)
    lines = [
        line
        for line in result.stderr.strip().splitlines()
        if not line.startswith("propmap: [")
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("propmap: error:")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def no_partial_files(folder):
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# -- help and version


@pytest.mark.parametrize(
    "command", [[], ["map"], ["project"], ["select"], ["contributions"], ["demo"]]
)
def test_help(runner, command):
    result = invoke(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_version_and_no_arguments(runner):
    assert invoke(runner, "--version").output.strip() == f"propmap {__version__}"
    result = invoke(runner)
    assert "Usage" in result.output
    assert "map" in result.output
    assert "demo" in result.output


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, time; t = time.perf_counter(); from propmap.cli import app; "
        "heavy = [m for m in ('numpy', 'ase', 'featomic', 'matplotlib', 'sklearn') "
        "if m in sys.modules]; print(heavy, time.perf_counter() - t)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    heavy, seconds = output.rsplit(" ", 1)
    assert heavy == "[]"
    assert float(seconds) < 0.5


# -- map


def test_map_writes_everything(runner, g2_file, tmp_path):
    out = tmp_path / "map"
    result = invoke(
        runner,
        "map",
        g2_file,
        "--target",
        "enthalpy_of_formation",
        "-o",
        out,
        "--no-progress",
        *SMALL_SOAP,
    )
    assert result.exit_code == 0, result.output
    for name in (
        "map.png",
        "parity.png",
        "mixing_sweep.png",
        "viewer.html",
        "chemiscope.json.gz",
        "model.joblib",
        "summary.json",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["structures"] == 30
    assert summary["n_train"] + summary["n_test"] == 30
    assert 0.0 <= summary["mixing"] <= 1.0
    assert len(summary["sweep"]["mixing"]) == 11
    assert "cross-validation" in summary["mixing_chosen_by"]
    assert summary["mixing"] in summary["sweep"]["mixing"]
    # the stated rule: the largest α within 5 % of the best held-out Y loss
    loss_y = np.array(summary["sweep"]["loss_y_cv"])
    within = np.array(summary["sweep"]["mixing"])[loss_y <= 1.05 * loss_y.min()]
    assert summary["mixing"] == within.max()
    assert np.isfinite([summary["r2_train"], summary["r2_test"]]).all()
    for model in ("map", "full_model"):
        for split in ("train", "test"):
            assert set(summary["accuracy"][model][split]) == {"mae", "rmse", "r2"}
    assert summary["accuracy"]["map"]["test"]["r2"] == summary["r2_test"]
    assert summary["penalty"] > 0
    assert "MAE" in result.stdout
    assert "ridge" in result.stdout
    assert no_partial_files(out)
    import joblib

    from propmap.workflows import MapPipeline

    pipeline = joblib.load(out / "model.joblib")
    assert isinstance(pipeline, MapPipeline)
    assert pipeline.predict(ase.io.read(g2_file, ":3")).shape == (3,)


def test_map_with_a_kernel_and_a_given_mixing(runner, g2_file, tmp_path):
    out = tmp_path / "kernel"
    result = invoke(
        runner,
        "map",
        g2_file,
        "-t",
        "enthalpy_of_formation",
        "-o",
        out,
        "--kernel",
        "rbf",
        "--mixing",
        "0.3",
        *SMALL_SOAP,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "KernelPCovR"
    assert summary["mixing"] == 0.3
    # the median heuristic, far above the library default 1 / n_features
    assert summary["gamma"] > 100 / summary["n_features"]


def test_map_nystroem(runner, g2_file, tmp_path):
    out = tmp_path / "sparse"
    result = invoke(
        runner,
        "map",
        g2_file,
        "-t",
        "enthalpy_of_formation",
        "-o",
        out,
        "--sparse",
        "10",
        *SMALL_SOAP,
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["model"] == (
        "SparseKernelPCovR"
    )


def test_map_as_a_sketch_map(runner, g2_file, tmp_path):
    out = tmp_path / "sketch"
    result = invoke(
        runner,
        "map",
        g2_file,
        "-t",
        "enthalpy_of_formation",
        "-o",
        out,
        "--map",
        "sketch",
        *SMALL_SOAP,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["layout"] == "sketch"
    assert summary["model"] == "PCovR"
    bad = invoke(
        runner, "map", g2_file, "-t", "x", "-o", tmp_path / "b", "--map", "tsne"
    )
    assert bad.exit_code != 0
    assert "tsne" in bad.output
    assert not (tmp_path / "b").exists()


def test_map_bad_input(runner, g2_file, tmp_path):
    missing = invoke(
        runner, "map", tmp_path / "nope.xyz", "-t", "x", "-o", tmp_path / "a"
    )
    assert_clean_error(missing, "nope.xyz")
    unknown = invoke(runner, "map", g2_file, "-t", "energy", "-o", tmp_path / "b")
    assert_clean_error(unknown, "energy", "enthalpy_of_formation")
    garbage = tmp_path / "garbage.xyz"
    garbage.write_text("this is not\na structure file\n")
    unreadable = invoke(runner, "map", garbage, "-t", "x", "-o", tmp_path / "c")
    assert_clean_error(unreadable, "garbage.xyz")
    words = tmp_path / "words.extxyz"
    molecules = ase.io.read(g2_file, ":")
    for m in molecules:
        m.info["label"] = "word"
    ase.io.write(words, molecules, format="extxyz")
    non_numeric = invoke(runner, "map", words, "-t", "label", "-o", tmp_path / "d")
    assert_clean_error(non_numeric, "label")
    few = tmp_path / "few.extxyz"
    ase.io.write(few, molecules[:3], format="extxyz")
    too_few = invoke(
        runner, "map", few, "-t", "enthalpy_of_formation", "-o", tmp_path / "e"
    )
    assert_clean_error(too_few, "too few")
    bad_kernel = invoke(
        runner,
        "map",
        g2_file,
        "-t",
        "enthalpy_of_formation",
        "-o",
        tmp_path / "f",
        "--kernel",
        "gaussian",
        *SMALL_SOAP,
    )
    # a wrong choice fails in the option parser, before any work
    assert bad_kernel.exit_code == 2
    assert "--kernel" in bad_kernel.output
    assert "linear" in bad_kernel.output
    assert not (tmp_path / "f").exists()
    bad_aggregate = invoke(
        runner, "map", g2_file, "-t", "x", "-o", tmp_path / "g", "--aggregate", "max"
    )
    assert bad_aggregate.exit_code == 2
    assert "--aggregate" in bad_aggregate.output


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--sparse", "5", "--kernel", "linear"], "--sparse"),
        (["--gamma", "0.1"], "--gamma"),
        (["--gamma", "-1", "--kernel", "rbf"], "--gamma"),
        (["--penalty", "0"], "--penalty"),
        (["--mixing", "0.3", "--components", "40"], "too few"),
        (["--sparse", "500"], "training structures"),
    ],
)
def test_map_refuses_conflicting_options(runner, g2_file, tmp_path, options, fragment):
    out = tmp_path / "refused"
    result = invoke(
        runner, "map", g2_file, "-t", "enthalpy_of_formation", "-o", out, *options
    )
    assert_clean_error(result, fragment)
    # a failed run leaves no empty output folder behind
    assert not out.exists()


def test_the_old_penalty_flag_still_works_with_a_warning(runner, g2_file, tmp_path):
    """--alpha was the ridge penalty (the papers' α is the mixing): it is kept
    as a deprecated alias of --penalty, and refused together with it."""
    args = ["map", g2_file, "-t", "enthalpy_of_formation", *SMALL_SOAP]
    old = invoke(runner, *args, "-o", tmp_path / "old", "--alpha", "0.01")
    assert old.exit_code == 0, old.output
    assert "--alpha is deprecated" in old.stderr
    summary = json.loads((tmp_path / "old" / "summary.json").read_text())
    assert summary["penalty"] == 0.01
    assert summary["penalty_chosen_by"] == "given"
    both = invoke(
        runner, *args, "-o", tmp_path / "both", "--alpha", "1", "--penalty", "1"
    )
    assert_clean_error(both, "--penalty", "once")
    assert not (tmp_path / "both").exists()


def test_library_messages_name_flags_on_the_command_line(runner, g2_file, tmp_path):
    """A per-atom property asked for a map of structures: the library names its
    parameter (`per`), the command line its flag."""
    from propmap.cli._common import as_flags

    assert as_flags("`test_fraction` and `layout`") == "--test-fraction and --map"
    from propmap.datasets import load_qm9

    path = tmp_path / "charges.extxyz"
    ase.io.write(path, load_qm9(12), format="extxyz")
    result = invoke(runner, "map", path, "-t", "mulliken_charges", "-o", tmp_path / "m")
    assert_clean_error(result, "per-atom property", "--per atom")
    assert "atom_targets" not in result.stderr


def test_existing_output_needs_force(runner, g2_file, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    args = ["map", g2_file, "-t", "enthalpy_of_formation", "-o", out, *SMALL_SOAP]
    refused = invoke(runner, *args)
    assert_clean_error(refused, "--force")
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]
    assert invoke(runner, *args, "--force").exit_code == 0


def test_an_interrupted_rerun_keeps_the_older_outputs_whole(
    runner, g2_file, tmp_path, monkeypatch
):
    """Outputs are built aside and swapped in at the end: an interrupt during
    the figures of a --force rerun leaves the older run's files as they were,
    and a first run that is interrupted leaves no folder at all."""
    import propmap.viz._chemiscope as chemiscope_module

    out = tmp_path / "kept"
    args = ["map", g2_file, "-o", out, *SMALL_SOAP]
    first = invoke(runner, *args, "-t", "enthalpy_of_formation", "--mixing", "0.3")
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(chemiscope_module, "write_viewer", interrupt)
    rerun = invoke(runner, *args, "-t", "enthalpy_of_formation", "--force")
    assert rerun.exit_code == 130
    assert "interrupted" in rerun.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    fresh = invoke(runner, *args, "-t", "enthalpy_of_formation", "-o", tmp_path / "n")
    assert fresh.exit_code == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    assert no_partial_files(out)


def test_a_forced_rerun_leaves_no_file_of_the_older_run(runner, tmp_path):
    """A map of atoms writes map_elements.png; a map of structures into the same
    folder with --force replaces the folder whole."""
    from propmap.datasets import load_qm9

    path = tmp_path / "q.extxyz"
    ase.io.write(path, load_qm9(24), format="extxyz")
    out = tmp_path / "out"
    args = ["map", path, "-o", out, *SMALL_SOAP, "--mixing", "0.5"]
    atoms = invoke(runner, *args, "-t", "mulliken_charges", "--per", "atom")
    assert atoms.exit_code == 0, atoms.output
    assert (out / "map_elements.png").exists()
    structures = invoke(runner, *args, "-t", "gap", "--force")
    assert structures.exit_code == 0, structures.output
    assert not (out / "map_elements.png").exists()
    assert json.loads((out / "summary.json").read_text())["target"] == "gap"


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_a_killed_run_leaves_no_output_folder(g2_file, tmp_path, signal_name):
    """A run stopped by SIGTERM unwinds (exit 130) and removes what it built;
    one killed by SIGKILL cannot, but leaves only a hidden folder, which the
    next run into the same place removes."""
    out = tmp_path / "killed"
    script = f"""
import os, signal, sys
import propmap.viz._chemiscope as chemiscope
def stop(*args, **kwargs):
    os.kill(os.getpid(), signal.{signal_name})
chemiscope.write_viewer = stop
from propmap.cli import main
sys.argv = ["propmap", "map", {str(g2_file)!r}, "-t", "enthalpy_of_formation",
            "-o", {str(out)!r}, *{SMALL_SOAP!r}]
main()
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert not out.exists()
    left = [p.name for p in tmp_path.iterdir()]
    if signal_name == "SIGTERM":
        assert result.returncode == 130, result.stderr
        assert left == []
    else:
        assert result.returncode == -9
        assert all(name.startswith(".killed.propmap-partial-") for name in left)
        runner = CliRunner()
        again = invoke(
            runner, "map", g2_file, "-t", "enthalpy_of_formation", "-o", out,
            *SMALL_SOAP, "--mixing", "0.5",
        )  # fmt: skip
        assert again.exit_code == 0, again.output
        assert [p.name for p in tmp_path.iterdir()] == ["killed"]


def test_map_cutoff_defaults_by_aggregate(runner, g2_file, tmp_path):
    args = ["map", g2_file, "-t", "enthalpy_of_formation", "--max-radial", "2",
            "--max-angular", "2", "--mixing", "0.5"]  # fmt: skip
    summed = invoke(runner, *args, "--aggregate", "sum", "-o", tmp_path / "s")
    assert summed.exit_code == 0, summed.output
    assert (
        json.loads((tmp_path / "s" / "summary.json").read_text())["soap"]["cutoff"]
        == 3.5
    )
    given = invoke(
        runner, *args, "--aggregate", "sum", "--cutoff", "4", "-o", tmp_path / "g"
    )
    assert given.exit_code == 0, given.output
    assert (
        json.loads((tmp_path / "g" / "summary.json").read_text())["soap"]["cutoff"]
        == 4.0
    )


def test_unexpected_errors_are_one_line_unless_debug(
    runner, g2_file, tmp_path, monkeypatch
):
    import propmap.workflows._map as map_module

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(map_module, "fit_and_evaluate", broken)
    args = ["map", g2_file, "-t", "enthalpy_of_formation", *SMALL_SOAP]
    quiet = invoke(runner, *args, "-o", tmp_path / "a")
    assert quiet.exit_code == 1
    *stages, line = quiet.stderr.strip().splitlines()
    assert all(stage.startswith("propmap: [") for stage in stages)
    assert line.startswith("propmap: internal error (RuntimeError): a bug")
    assert "--debug" in line
    assert "Traceback" not in quiet.output
    loud = invoke(runner, "--debug", *args, "-o", tmp_path / "b")
    assert loud.exit_code == 1
    assert isinstance(loud.exception, RuntimeError)
    # neither run left its output folder behind
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


# -- select


@pytest.mark.parametrize(
    ("method", "axis"),
    [("pcov-cur", "features"), ("fps", "samples"), ("cur", "samples")],
)
def test_select_on_structures(runner, g2_file, tmp_path, method, axis):
    out = tmp_path / f"{method}-{axis}"
    result = invoke(
        runner,
        "select",
        g2_file,
        "-t",
        "enthalpy_of_formation",
        "--method",
        method,
        "--axis",
        axis,
        "--count",
        "6",
        "-o",
        out,
        *SMALL_SOAP,
    )
    assert result.exit_code == 0, result.output
    selected = (out / "selected.csv").read_text().splitlines()
    assert selected[0] == "rank,index,name"
    assert len(selected) == 7
    assert (out / "selection_curve.png").read_bytes().startswith(b"\x89PNG")
    summary = json.loads((out / "summary.json").read_text())
    assert "random" in summary["test_rmse"]


def test_select_on_a_feature_file(runner, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 12))
    y = X[:, 3] - 2 * X[:, 7] + 0.01 * rng.normal(size=60)
    table = tmp_path / "features.csv"
    header = ",".join([f"f{j}" for j in range(12)] + ["y"])
    np.savetxt(
        table, np.column_stack([X, y]), delimiter=",", header=header, comments=""
    )
    out = tmp_path / "selected"
    result = invoke(
        runner,
        "select",
        table,
        "-t",
        "y",
        "--method",
        "pcov-fps",
        "--count",
        "3",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    names = [
        line.split(",")[2]
        for line in (out / "selected.csv").read_text().splitlines()[1:]
    ]
    assert {"f3", "f7"} <= set(names)
    bad = invoke(runner, "select", table, "-t", "z", "-o", tmp_path / "x")
    assert_clean_error(bad, "no column 'z'")
    too_many = invoke(
        runner, "select", table, "-t", "y", "--count", "99", "-o", tmp_path / "y"
    )
    assert_clean_error(too_many, "--count")
    method = invoke(
        runner, "select", table, "-t", "y", "--method", "kmeans", "-o", tmp_path / "w"
    )
    # a wrong choice fails in the option parser, listing the right ones
    assert method.exit_code == 2
    assert "pcov-cur" in method.output
    assert not (tmp_path / "w").exists()
    ignored = invoke(
        runner, "select", table, "-t", "y", "--method", "fps", "--mixing", "0.3",
        "-o", tmp_path / "v",
    )  # fmt: skip
    assert_clean_error(ignored, "--mixing")
    assert not (tmp_path / "v").exists()
    assert not (tmp_path / "y").exists()  # the failed --count run left nothing


def test_select_writes_a_report_and_sums_features(runner, g2_file, tmp_path):
    out = tmp_path / "summed"
    result = invoke(
        runner, "select", g2_file, "-t", "enthalpy_of_formation", "--method", "cur",
        "--count", "4", "--aggregate", "sum", "-o", out, *SMALL_SOAP,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["aggregate"] == "sum"
    assert summary["mixing"] is None
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 1
    assert "test RMSE with 4" in report


# -- contributions


def test_contributions_on_single_molecules_fail_before_the_work(
    runner, g2_file, tmp_path
):
    out = tmp_path / "molecules"
    result = invoke(
        runner, "contributions", g2_file, "-t", "enthalpy_of_formation", "-o", out
    )
    assert_clean_error(result, "single isolated molecule", "propmap map")
    assert not out.exists()


def test_contributions(runner, s22_file, tmp_path):
    out = tmp_path / "contributions"
    result = invoke(
        runner,
        "contributions",
        s22_file,
        "-t",
        "interaction_energy",
        "-o",
        out,
        *SMALL_SOAP,
    )
    assert result.exit_code == 0, result.output
    atoms = (out / "atom_contributions.csv").read_text().splitlines()
    assert atoms[0] == (
        "structure,source,atom,element,contribution,contribution_std,motif,"
        + ",".join(f"map_{k}" for k in range(1, 9))
    )
    assert len(atoms) - 1 == sum(len(d) for d in load_s22().dimers[:10])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["motif_instances"] > 0
    for name in ("motif_summary.csv", "motif_instances.csv", "viewer.html"):
        assert (out / name).stat().st_size > 0
    assert (out / "motif_contributions.png").read_bytes().startswith(b"\x89PNG")


def test_contributions_with_given_molecules(runner, tmp_path):
    s22 = load_s22()
    crystals, molecules = tmp_path / "dimers.extxyz", tmp_path / "monomers.extxyz"
    # the water dimer four times, each with the same gas-phase water
    dimers = [s22.dimers[1].copy() for _ in range(4)]
    for k, d in enumerate(dimers):
        d.positions[3:] += 0.1 * k
        d.info["interaction_energy"] = -5.0 + k
    ase.io.write(crystals, dimers, format="extxyz")
    ase.io.write(molecules, [s22.monomers_a[1]], format="extxyz")
    result = invoke(
        runner,
        "contributions",
        crystals,
        "-t",
        "interaction_energy",
        "--molecules",
        molecules,
        "-o",
        tmp_path / "out",
        *SMALL_SOAP,
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["molecules"] == (
        "given"
    )
    wrong = tmp_path / "wrong.extxyz"
    ase.io.write(wrong, [s22.monomers_a[0]] * 2, format="extxyz")
    bad = invoke(
        runner,
        "contributions",
        crystals,
        "-t",
        "interaction_energy",
        "--molecules",
        wrong,
        "-o",
        tmp_path / "bad",
        *SMALL_SOAP,
    )
    assert_clean_error(bad, "one per structure")


def test_select_runs_cur_on_egfr_soap_in_little_memory(tmp_path):
    """RDKit's 365 EGFR ligands have 40,500 SOAP columns: a d x d matrix would be
    13 GB, the thin basis of the 292 training rows needs a few hundred MB. The
    whole command, SOAP included, stays under 2 GB (peak resident memory of its
    own process)."""
    import rdkit

    egfr = Path(rdkit.__file__).parent / "Contrib" / "PBF" / "testData" / "egfr.sdf"
    if not egfr.exists():
        pytest.skip("this RDKit build ships no egfr.sdf")
    out = tmp_path / "egfr"
    target = "r_mmffld_Potential_Energy-OPLS_2005"
    script = (
        "import resource, sys\n"
        "from propmap.cli import main\n"
        "sys.argv = ['propmap', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(f'peak-kb={peak}', file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    arguments = ["select", str(egfr), "-t", target, "--method", "pcov-cur"]
    arguments += ["--count", "20", "-o", str(out)]
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "selected 20 features by pcov-cur" in done.stdout
    peak_kb = int(done.stderr.rsplit("peak-kb=", 1)[1].split()[0])
    assert peak_kb < 2 * 2**20
    summary = json.loads((out / "summary.json").read_text())
    assert summary["features"] == 40_500


def test_the_accuracy_line_carries_the_unit():
    from propmap.cli._map import accuracy_line

    test = {"mae": 0.3851, "r2": 0.852}
    summary = {
        "model": "PCovR", "structures": 2000, "mixing": 0.5, "unit": "eV",
        "full_model": "ridge",
        "accuracy": {"map": {"test": test}, "full_model": {"test": test}},
    }  # fmt: skip
    line = accuracy_line(summary)
    assert "map MAE 0.3851 eV, R² 0.852" in line
    assert "eV" not in accuracy_line({**summary, "unit": ""})


def test_the_accuracy_line_gives_the_cross_validated_score_and_a_small_test():
    """Beside each test R², the folds' mean and spread; a test set of fewer than
    30 is said to be one whose score moves with the split."""
    from propmap.cli._map import accuracy_line

    test = {"mae": 0.3851, "r2": 0.852}
    folds = {"r2": 0.861, "r2_std": 0.012}
    summary = {
        "model": "PCovR", "structures": 2000, "mixing": 0.5, "unit": "eV",
        "full_model": "ridge", "n_test": 400,
        "accuracy": {"map": {"test": test}, "full_model": {"test": test}},
        "cross_validation": {"map": folds, "full_model": folds},
    }  # fmt: skip
    line = accuracy_line(summary)
    assert "R² 0.852 (CV 0.861 ± 0.012)" in line
    assert "; test: map" in line
    small = accuracy_line({**summary, "structures": 60, "n_test": 12})
    assert "test on only 12 structures" in small
    assert "cross-validated" in small


def test_a_batch_job_logs_one_line_per_stage_with_the_time(runner, g2_file, tmp_path):
    """Off a terminal (the runner's stderr is not one) progress is on by default
    as lines: each stage with the seconds since the start; --no-progress is
    silent."""
    args = ["map", g2_file, "-t", "enthalpy_of_formation", *SMALL_SOAP]
    logged = invoke(runner, *args, "-o", tmp_path / "a", "--mixing", "0.5")
    assert logged.exit_code == 0, logged.output
    stages = [
        line for line in logged.stderr.splitlines() if line.startswith("propmap: [")
    ]
    assert len(stages) >= 4
    assert any("SOAP features of 30 structures" in line for line in stages)
    seconds = [float(line.split("[")[1].split(" s]")[0]) for line in stages]
    assert seconds == sorted(seconds)
    quiet = invoke(runner, *args, "-o", tmp_path / "b", "--no-progress")
    assert quiet.exit_code == 0
    assert quiet.stderr == ""


def test_a_library_warning_is_one_line(runner, g2_file, tmp_path, monkeypatch):
    """A warning of the library reaches the user as `propmap: warning: ...`,
    parameters named as flags, not as Python's warning with a source line."""
    import warnings

    import propmap.workflows

    original = propmap.workflows.map_structures

    def warn_then_map(*args, **kwargs):
        warnings.warn("a small `test_fraction` here", UserWarning, stacklevel=2)
        return original(*args, **kwargs)

    monkeypatch.setattr(propmap.workflows, "map_structures", warn_then_map)
    result = invoke(
        runner, "map", g2_file, "-t", "enthalpy_of_formation", "-o", tmp_path / "m",
        *SMALL_SOAP,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert lines == ["propmap: warning: a small --test-fraction here"]
    assert "UserWarning" not in result.stderr
    assert ".py:" not in result.stderr
