"""run_selection and explain_contributions from Python, on real data."""

import json
import warnings

import numpy as np
import pytest

pytest.importorskip("featomic")
pytest.importorskip("matplotlib")

import ase.io

from propmap.datasets import load_s22
from propmap.workflows import (
    CONTRIBUTION_FILES,
    SELECT_FILES,
    SoapOptions,
    WorkflowError,
    explain_contributions,
    run_selection,
)


def test_pcov_cur_features_beat_random_ones_on_qm9_gaps(qm9_file, tmp_path, small_soap):
    out = tmp_path / "select"
    summary = run_selection(
        [qm9_file], out, method="pcov-cur", count=30, target="gap", soap=small_soap
    )
    # features: no structures picked, so neither picked.extxyz nor a viewer
    assert set(summary["files"]) == set(SELECT_FILES) - {"picked", "viewer"}
    for name in summary["files"].values():
        assert (out / name).stat().st_size > 0, name
    assert not (out / SELECT_FILES["picked"]).exists()
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["mixing"] == 0.5
    rmse = summary["test_rmse"]
    assert set(rmse) == {"pcov-cur", "cur", "random"}
    # supervised picks predict the gap better than the mean of random ones
    # (at 30 of 1,080 columns: 0.78 against 0.99 eV on these 150 molecules)
    assert rmse["pcov-cur"][-1] < rmse["random"][-1] - 0.1
    assert np.mean(rmse["pcov-cur"]) < np.mean(rmse["random"])


def test_sample_selection_from_a_table_names_the_rows(tmp_path):
    rng = np.random.default_rng(1)
    table = tmp_path / "countries.csv"
    rows = [f"country{k}" for k in range(40)]
    X = rng.normal(size=(40, 5))
    lines = ["name,a,b,c,d,e,life"] + [
        ",".join([r, *map(str, x), str(x[0] + x[1])])
        for r, x in zip(rows, X, strict=True)
    ]
    table.write_text("\n".join(lines) + "\n")
    summary = run_selection(
        [table], tmp_path / "s", method="fps", axis="samples", count=5, target="life"
    )
    assert summary["input"] == "table"
    assert summary["features"] == 5  # the name column labels rows, it is no feature
    picked = (tmp_path / "s" / "selected.csv").read_text().splitlines()[1:]
    assert all(line.split(",")[2].startswith("country") for line in picked)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "fps", "mixing": 0.4}, "--mixing"),
        ({"method": "kmeans"}, "unknown method"),
        ({"axis": "both"}, "axis"),
        ({"count": 0}, "--count"),
        ({"method": "pcov-cur", "mixing": 2.0}, "--mixing"),
    ],
)
def test_selection_options_fail_before_any_work(tmp_path, options, message):
    out = tmp_path / "never"
    with pytest.raises(WorkflowError, match=message):
        run_selection([tmp_path / "missing.xyz"], out, target="gap", **options)
    assert not out.exists()


def test_contributions_of_s22_dimers(tmp_path):
    path = tmp_path / "s22.extxyz"
    ase.io.write(path, load_s22().dimers[:8], format="extxyz")
    out = tmp_path / "contributions"
    summary = explain_contributions(
        [path], "interaction_energy", out, soap=SoapOptions(4.0, 2, 2)
    )
    for key in (
        "atoms",
        "instances",
        "motifs",
        "parity",
        "summary",
        "viewer",
        "report",
    ):
        assert (out / CONTRIBUTION_FILES[key]).stat().st_size > 0, key
    assert summary["structures"] == 8
    assert summary["molecules"] == "cut from the structures"


def test_contributions_refuse_single_molecules_early(qm9_file, tmp_path):
    out = tmp_path / "single"
    with pytest.raises(WorkflowError, match="single isolated molecule"):
        explain_contributions([qm9_file], "U0", out)
    assert not out.exists()


@pytest.mark.parametrize("method", ["cur", "pcov-cur"])
@pytest.mark.parametrize(
    ("shape", "needed"),
    [
        # wide: the thin SVD's four n x d arrays, no d x d matrix
        ((292, 40_500), "361 MiB (4 matrices of 292 x 40,500)"),
        # tall: three d x d arrays
        ((20_000, 9_000), "1.8 GiB (3 matrices of 9,000 x 9,000)"),
    ],
)
def test_cur_memory_is_checked_before_the_work(monkeypatch, method, shape, needed):
    import propmap.workflows._select as select
    import propmap.workflows._steps as steps

    monkeypatch.setattr(steps, "_available_memory", lambda: 100 * 2**20)
    with pytest.raises(WorkflowError, match="use fps or pcov-fps") as error:
        select._check_selection_memory(select.Method(method), *shape)
    message = str(error.value)
    assert f"{method} with {shape[0]:,} samples and {shape[1]:,} features" in message
    assert needed in message
    select._check_selection_memory(select.Method.pcov_fps, *shape)  # no eigh
    monkeypatch.setattr(steps, "_available_memory", lambda: 64 * 2**30)
    select._check_selection_memory(select.Method(method), *shape)


def test_sample_cur_memory_counts_the_single_precision_copy(monkeypatch):
    import propmap.workflows._select as select
    import propmap.workflows._steps as steps

    monkeypatch.setattr(steps, "_available_memory", lambda: 20 * 2**20)
    shape = (40_000, 1_000)  # 3 d x d arrays, and X in float32: 20 more
    for method, needed in (("cur", "23 matrices"), ("pcov-cur", "3 matrices")):
        with pytest.raises(WorkflowError, match=needed):
            select._check_selection_memory(
                select.Method(method), *shape, select.Axis.samples
            )
    with pytest.raises(WorkflowError, match="3 matrices"):
        select._check_selection_memory(select.Method.cur, *shape, select.Axis.features)


def test_feature_cur_memory_of_x_a_little_wider_than_tall(monkeypatch):
    """Feature CUR keeps the d x d Householder basis from n = 0.6 d on; the others
    (and very wide X) hold the thin SVD's n x d arrays."""
    import propmap.workflows._select as select
    import propmap.workflows._steps as steps

    monkeypatch.setattr(steps, "_available_memory", lambda: 20 * 2**20)
    cases = [
        ("cur", "features", (1_500, 2_000), "3 matrices of 2,000 x 2,000"),
        ("cur", "samples", (1_500, 2_000), "4 matrices of 1,500 x 2,000"),
        ("pcov-cur", "features", (1_500, 2_000), "4 matrices of 1,500 x 2,000"),
        ("cur", "features", (1_000, 2_000), "4 matrices of 1,000 x 2,000"),
    ]
    for method, axis, shape, needed in cases:
        with pytest.raises(WorkflowError, match=needed):
            select._check_selection_memory(
                select.Method(method), *shape, select.Axis(axis)
            )


# (8 features of 80 molecules: PCov-CUR's picks predict worse than random ones)
@pytest.mark.filterwarnings("ignore:.*predict worse than random ones")
def test_pcov_picks_do_not_depend_on_the_targets_units(tmp_path, small_soap):
    """The PCov methods balance ‖X‖² against ‖y‖²; with y scaled to unit variance
    the gap in keV picks what the gap in eV picks (unscaled, its ‖y‖² is 1e6
    times smaller and PCov-CUR picks CUR's columns), and the target counts: the
    picks differ from CUR's."""
    import pandas as pd

    from propmap.datasets import load_qm9
    from propmap.workflows import run_selection

    molecules = load_qm9(80)
    for atoms in molecules:
        atoms.info["gap_kev"] = atoms.info["gap"] / 1000.0
    path = tmp_path / "qm9.extxyz"
    ase.io.write(path, molecules, format="extxyz")
    picks = {}
    for target, method, mixing in (
        ("gap", "pcov-cur", 0.5), ("gap_kev", "pcov-cur", 0.5), ("gap", "cur", None),
    ):  # fmt: skip
        out = tmp_path / f"{target}-{method}"
        run_selection(
            [path], out, method=method, count=8, target=target, soap=small_soap,
            **({} if mixing is None else {"mixing": mixing}),
        )  # fmt: skip
        picks[target, method] = pd.read_csv(out / "selected.csv")["index"].tolist()
    assert picks["gap", "pcov-cur"] == picks["gap_kev", "pcov-cur"]
    assert picks["gap", "pcov-cur"] != picks["gap", "cur"]


@pytest.mark.parametrize("axis", ["samples", "features"])
def test_fps_needs_no_target_and_measures_coverage(
    qm9_file, tmp_path, small_soap, axis
):
    """FPS is unsupervised: without a target it runs, and its picks are
    measured by how well they cover the rest (the largest distance of an
    unpicked point to its nearest pick never grows with more picks)."""
    from typer.testing import CliRunner

    from propmap.cli import app

    out = tmp_path / axis
    summary = run_selection(
        [qm9_file], out, method="fps", axis=axis, count=12, soap=small_soap
    )
    assert summary["test_rmse"] is None
    covered = summary["coverage"]["fps"]
    assert np.all(np.diff(covered["largest"]) <= 1e-9)
    assert np.all(np.asarray(covered["mean"]) <= np.asarray(covered["largest"]))
    # FPS covers better than random picks: that is what it is for
    assert covered["largest"][-1] < summary["coverage"]["random"]["largest"][-1]
    assert (out / "selection_curve.png").stat().st_size > 0
    assert "no target was given" in (out / "report.html").read_text()
    result = CliRunner().invoke(
        app,
        ["select", str(qm9_file), "--method", "fps", "--axis", axis, "--count", "5",
         "--cutoff", "3.5", "--max-radial", "2", "--max-angular", "2",
         "-o", str(tmp_path / "cli")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "largest distance to the picks at 5: fps" in result.stdout
    with pytest.raises(WorkflowError, match="--target is needed: pcov-cur"):
        run_selection([qm9_file], tmp_path / "p", method="pcov-cur", soap=small_soap)


def test_coverage_is_the_distance_to_the_nearest_pick():
    from propmap.workflows._select_report import coverage_of

    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3))
    order = [5, 17, 2, 30]
    covered = coverage_of(points, order, [1, 4])
    for k, largest, mean in zip(
        [1, 4], covered["largest"], covered["mean"], strict=True
    ):
        rest = np.setdiff1d(np.arange(40), order[:k])
        nearest = np.min(
            np.linalg.norm(points[rest, None] - points[order[:k]][None], axis=2),
            axis=1,
        )
        assert largest == pytest.approx(nearest.max())
        assert mean == pytest.approx(nearest.mean())


def test_picks_worse_than_random_ones_are_said_to_be():
    from propmap.workflows._options import Method
    from propmap.workflows._select_curves import warn_if_worse_than_random

    errors = {
        "pcov-cur": np.array([1.0, 0.96]),
        "random": np.array([[0.9, 0.84], [0.9, 0.86], [0.9, 0.88]]),
    }
    with pytest.warns(UserWarning, match="predict worse than random ones"):
        warn_if_worse_than_random(Method.pcov_cur, 100, errors)
    errors["pcov-cur"] = np.array([1.0, 0.87])  # within the random spread
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_worse_than_random(Method.pcov_cur, 100, errors)


def test_the_default_method_is_the_one_that_measured_best_per_axis(
    qm9_file, tmp_path, small_soap
):
    """FPS for samples (no target needed), PCov-CUR for features."""
    samples = run_selection(
        [qm9_file], tmp_path / "s", axis="samples", count=5, soap=small_soap
    )
    assert samples["method"] == "fps"
    features = run_selection(
        [qm9_file], tmp_path / "f", count=5, target="gap", soap=small_soap
    )
    assert features["method"] == "pcov-cur"


@pytest.mark.filterwarnings("ignore:.*predict worse than random ones")
@pytest.mark.parametrize("method", ["fps", "pcov-cur"])
def test_exclude_continues_from_structures_computed_before(
    qm9_file, tmp_path, small_soap, method
):
    """--exclude: structures computed already are picked first (as a warm
    start), so copies of them among the candidates are never picked again;
    the picks come out as extxyz with their properties and rank, and a viewer
    marks them, the structures computed before and the rest."""
    molecules = ase.io.read(qm9_file, ":")
    computed = tmp_path / "computed.extxyz"
    # the first 6 candidates were computed already (same molecules)
    ase.io.write(computed, molecules[:6], format="extxyz")
    out = tmp_path / "picks"
    summary = run_selection(
        [qm9_file], out, method=method, axis="samples", count=10, target="gap",
        soap=small_soap, exclude=[computed],
    )  # fmt: skip
    assert summary["excluded"] == 6
    assert set(summary["files"]) == set(SELECT_FILES)
    selected = (out / "selected.csv").read_text().splitlines()[1:]
    indices = [int(line.split(",")[1]) for line in selected]
    assert len(indices) == 10
    assert not set(indices) & set(range(6))  # computed: not picked again
    alone = run_selection(
        [qm9_file], tmp_path / "alone", method=method, axis="samples", count=10,
        target="gap", soap=small_soap,
    )  # fmt: skip
    assert alone["excluded"] == 0
    picked = ase.io.read(out / "picked.extxyz", ":")
    assert [a.info["selection_rank"] for a in picked] == list(range(1, 11))
    for atoms, index in zip(picked, indices, strict=True):
        assert atoms.info["selection_method"] == method
        assert atoms.info["gap"] == pytest.approx(molecules[index].info["gap"])
        np.testing.assert_allclose(atoms.positions, molecules[index].positions)
    viewer = (out / "viewer.html").read_text()
    assert "computed before (--exclude)" in viewer
    assert "pick rank" in viewer
    # the curves train on the structures computed before too: with 6 of them
    # beside the first pick, the error is not that of one molecule's mean
    first = summary["test_rmse"][method][0]
    assert first != pytest.approx(alone["test_rmse"][method][0])


def test_exclude_is_refused_where_it_cannot_mean_anything(
    qm9_file, tmp_path, small_soap
):
    molecules = ase.io.read(qm9_file, ":")
    bare = tmp_path / "bare.extxyz"
    stripped = [a.copy() for a in molecules[:3]]
    for atoms in stripped:
        atoms.info = {}
    ase.io.write(bare, stripped, format="extxyz")
    with pytest.raises(WorkflowError, match="it continues a selection of samples"):
        run_selection([qm9_file], tmp_path / "a", exclude=[bare], soap=small_soap)
    with pytest.raises(WorkflowError, match="3 of the 3 excluded structures have no"):
        run_selection(
            [qm9_file], tmp_path / "b", axis="samples", target="gap",
            exclude=[bare], soap=small_soap,
        )  # fmt: skip
    # without a target they need none
    summary = run_selection(
        [qm9_file], tmp_path / "c", method="fps", axis="samples", count=4,
        exclude=[bare], soap=small_soap,
    )  # fmt: skip
    assert summary["excluded"] == 3
    assert summary["coverage"]["fps"]["largest"][-1] > 0
    from typer.testing import CliRunner

    from propmap.cli import app

    result = CliRunner().invoke(
        app,
        ["select", str(qm9_file), "--axis", "samples", "--count", "4",
         "--exclude", str(bare), "--cutoff", "3.5", "--max-radial", "2",
         "--max-angular", "2", "-o", str(tmp_path / "cli")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "selected 4 samples by fps after the 3 computed before" in result.stdout
    assert (tmp_path / "cli" / "picked.extxyz").stat().st_size > 0


@pytest.mark.browser
def test_the_selection_viewer_marks_the_picks(qm9_file, tmp_path, small_soap, visit):
    from browser_helpers import assert_clean

    molecules = ase.io.read(qm9_file, ":")
    computed = tmp_path / "computed.extxyz"
    ase.io.write(computed, molecules[:4], format="extxyz")
    out = tmp_path / "picks"
    summary = run_selection(
        [qm9_file], out, method="fps", axis="samples", count=8, target="gap",
        soap=small_soap, exclude=[computed],
    )  # fmt: skip
    page = visit(out / "viewer.html")
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert_clean(page)
    assert page.map_traces()[0]["points"] == summary["samples"] + 4
    values = page.page.evaluate(
        "JSON.parse(document.getElementById('propmap-dataset').textContent)"
        ".properties.selection.values"
    )
    assert values.count("picked") == 8
    assert values.count("computed before (--exclude)") == 4
    assert values.count("held out (test)") == summary["n_test"]
