"""map_structures from Python, on real QM9 molecules: outputs, the fast
cross-validated sweep against explicit refits, and option checks before work."""

import gzip
import json
import warnings

import numpy as np
import pytest

pytest.importorskip("featomic")
pytest.importorskip("matplotlib")
pytest.importorskip("chemiscope")

import ase.io

from propmap.datasets import load_qm9
from propmap.workflows import (
    MAP_FILES,
    Aggregate,
    Baseline,
    WorkflowError,
    map_structures,
)


def test_map_from_python_writes_everything(qm9_file, tmp_path, small_soap):
    out = tmp_path / "gap"
    summary = map_structures([qm9_file], "gap", out, soap=small_soap)
    for name in MAP_FILES.values():
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["model"] == "PCovR"
    assert summary["baseline"] == "none"
    map_test = summary["accuracy"]["map"]["test"]
    ridge_test = summary["accuracy"]["full_model"]["test"]
    # real data: both models explain most of the gap's variance
    assert map_test["r2"] > 0.3
    assert ridge_test["r2"] > 0.3
    assert map_test["rmse"] >= map_test["mae"] > 0
    report = (out / "report.html").read_text()
    assert f"{ridge_test['mae']:.4g}" in report
    assert f"{map_test['mae']:.4g}" in report
    # the cross-validated R² of both models beside the test's: five folds, each
    # 1 - its held-out loss at the chosen values, near the test score
    cross = summary["cross_validation"]
    assert cross["folds"] == 5
    assert cross["after_baseline"] is False
    for name, test in (("map", map_test), ("full_model", ridge_test)):
        folds = np.array(cross[name]["r2_folds"])
        assert folds.shape == (5,)
        assert cross[name]["r2"] == pytest.approx(folds.mean())
        assert cross[name]["r2_std"] == pytest.approx(folds.std())
        assert abs(cross[name]["r2"] - test["r2"]) < 0.25
    assert "cross-validated R², map (latent) (5 folds)" in report
    # the map's folds are those of the mixing sweep, at the chosen mixing
    sweep = summary["sweep"]
    chosen = sweep["mixing"].index(summary["mixing"])
    assert cross["map"]["r2"] == pytest.approx(1 - sweep["loss_y_cv"][chosen])


@pytest.mark.parametrize(
    ("options", "model", "kernel"),
    [
        ({"kernel": "rbf"}, "KernelPCovR", "rbf"),
        ({"kernel": "laplacian"}, "KernelPCovR", "laplacian"),
        ({"sparse": 40}, "SparseKernelPCovR", "rbf"),
    ],
)
def test_kernel_maps_choose_gamma_and_penalty(
    qm9_file, tmp_path, options, model, kernel, small_soap
):
    summary = map_structures(
        [qm9_file], "gap", tmp_path / "kernel", soap=small_soap, **options
    )
    assert summary["model"] == model
    assert summary["kernel"] == kernel
    assert summary["gamma"] > 0
    assert summary["penalty"] > 0
    assert "factors of 2" in summary["gamma_chosen_by"]
    tried = [entry["gamma"] for entry in summary["gamma_search"]]
    assert summary["gamma"] in tried
    best = min(summary["gamma_search"], key=lambda entry: entry["loss_cv"])
    assert best["gamma"] == summary["gamma"]
    assert summary["accuracy"]["full_model"]["test"]["r2"] > 0.3


def test_given_mixing_gamma_and_penalty_are_used(qm9_file, tmp_path, small_soap):
    summary = map_structures(
        [qm9_file], "gap", tmp_path / "given", soap=small_soap, kernel="rbf",
        mixing=0.3, gamma=0.05, penalty=0.01,
    )  # fmt: skip
    assert (summary["mixing"], summary["gamma"], summary["penalty"]) == (
        0.3,
        0.05,
        0.01,
    )
    assert summary["mixing_chosen_by"] == summary["penalty_chosen_by"] == "given"
    assert summary["gamma_chosen_by"] == "given"
    assert summary["gamma_search"] is None
    # a given mixing is not swept: its held-out losses alone are reported
    assert summary["sweep"]["mixing"] == [0.3]
    assert len(summary["sweep"]["loss_y_cv"]) == 1


def test_extensive_targets_get_a_composition_baseline(qm9_file, tmp_path, small_soap):
    summary = map_structures(
        [qm9_file], "U0", tmp_path / "u0", soap=small_soap, aggregate=Aggregate.sum
    )
    assert summary["baseline"] == "composition"
    accuracy = summary["accuracy"]
    # the baseline turns thousands of eV into about one; SOAP does better still
    assert accuracy["baseline"]["test"]["mae"] < 3.0
    assert accuracy["full_model"]["test"]["mae"] < accuracy["baseline"]["test"]["mae"]
    assert set(summary["baseline_element_values"]) <= set("HCNOF")
    # the map shows what the model learns: U0 less the baseline, in eV
    assert summary["unit"] == "eV"
    dataset = json.loads(
        gzip.decompress((tmp_path / "u0" / "chemiscope.json.gz").read_bytes())
    )
    shown = dataset["settings"]["map"]["color"]["property"]
    assert shown == "U0 − composition baseline"
    assert dataset["properties"][shown]["units"] == "eV"
    assert (
        "test MAE (eV), map (latent)" in (tmp_path / "u0" / "report.html").read_text()
    )
    without = map_structures(
        [qm9_file], "U0", tmp_path / "raw", soap=small_soap, aggregate="sum",
        baseline=Baseline.none,
    )  # fmt: skip
    assert "baseline" not in without["accuracy"]
    assert (
        without["accuracy"]["full_model"]["test"]["mae"]
        > accuracy["full_model"]["test"]["mae"]
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sparse": 10, "kernel": "linear"}, "`sparse`"),
        ({"sparse": 10, "kernel": "laplacian"}, "`sparse`"),
        ({"gamma": 0.1}, "`gamma`"),
        ({"kernel": "rbf", "gamma": 0.0}, "`gamma`"),
        ({"kernel": "gaussian"}, "unknown `kernel`"),
        ({"mixing": 1.5}, "`mixing`"),
        ({"penalty": -1.0}, "`penalty`"),
        ({"components": 1}, "2 components"),
        ({"test_fraction": 1.0}, "`test_fraction`"),
        ({"aggregate": "max"}, "max"),
    ],
)
def test_conflicting_options_fail_before_any_work(tmp_path, options, message):
    out = tmp_path / "never"
    # the structure file does not even exist: the options are checked first
    with pytest.raises(ValueError, match=message):
        map_structures([tmp_path / "missing.xyz"], "gap", out, **options)
    assert not out.exists()


def test_too_many_active_points_leave_no_folder(qm9_file, tmp_path, small_soap):
    out = tmp_path / "sparse"
    with pytest.raises(WorkflowError, match="training structures"):
        map_structures([qm9_file], "gap", out, soap=small_soap, sparse=1000)
    assert not out.exists()


def test_unseen_test_elements_are_reported():
    from propmap.workflows._map_split import unseen_elements as _unseen_elements

    structures = [ase.Atoms("CH4"), ase.Atoms("H2O"), ase.Atoms("HF"), ase.Atoms("NH3")]
    assert _unseen_elements(structures, [0, 1], [2, 3]) == ["F", "N"]
    assert _unseen_elements(structures, [0, 1, 2, 3], [1]) == []


def test_the_model_file_is_one_pipeline_on_structures(qm9_file, tmp_path, small_soap):
    import joblib

    from propmap.atomistic import read_structures
    from propmap.workflows import MapPipeline

    out = tmp_path / "u0"
    summary = map_structures([qm9_file], "U0", out, soap=small_soap, aggregate="sum")
    pipeline = joblib.load(out / "model.joblib")
    assert isinstance(pipeline, MapPipeline)
    assert [name for name, _ in pipeline.steps] == ["featurizer", "scaler", "model"]
    structures = read_structures(str(qm9_file))
    truth = np.array([s.info["U0"] for s in structures])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        predicted = pipeline.predict(structures)
        latent = pipeline.transform(structures)
    # in eV, baseline included, and the latent coordinates the map shows
    # (float32 features: a few ulp apart)
    np.testing.assert_allclose(latent, pipeline.map_["latent"], rtol=1e-5, atol=1e-6)
    test = pipeline.map_["sets"] == "test"
    mae = np.mean(np.abs(predicted[test] - truth[test]))
    # (the features are float32: the pipeline and the run round alike to ~1e-6)
    assert mae == pytest.approx(summary["accuracy"]["map"]["test"]["mae"], rel=1e-5)
    assert "r2_after_baseline" in summary["accuracy"]["map"]["test"]


def test_a_pipeline_refits_from_structures(qm9_file, small_soap):
    """MapPipeline is a scikit-learn Pipeline: clone and fit work on structures."""
    from sklearn.base import clone
    from sklearn.linear_model import Ridge

    from propmap.atomistic import CompositionBaseline, read_structures
    from propmap.decomposition import PCovR
    from propmap.preprocessing import StandardFlexibleScaler
    from propmap.workflows import MapPipeline, ScaledTargetModel

    structures = read_structures(str(qm9_file))
    y = np.array([s.info["U0"] for s in structures])
    pipeline = MapPipeline(
        [
            ("featurizer", small_soap.featurizer(per="sum")),
            ("scaler", StandardFlexibleScaler()),
            (
                "model",
                ScaledTargetModel(
                    PCovR(n_components=2, regressor=Ridge(1e-3, fit_intercept=False)),
                    StandardFlexibleScaler(column_wise=True),
                ),
            ),
        ],
        baseline=CompositionBaseline(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fitted = clone(pipeline).fit(structures[:120], y[:120])
        error = np.abs(fitted.predict(structures[120:]) - y[120:])
    assert np.mean(error) < 1.0  # eV, on totals of thousands of eV
    assert fitted.transform(structures[:3]).shape == (3, 2)


def test_soap_too_large_for_memory_is_refused_before_featomic(
    qm9_file, tmp_path, monkeypatch, small_soap
):
    import propmap.workflows._steps as steps

    monkeypatch.setattr(steps, "_available_memory", lambda: 2**20)  # 1 MiB
    out = tmp_path / "huge"
    with pytest.raises(WorkflowError, match="of the 1 MiB of memory") as error:
        map_structures([qm9_file], "gap", out, soap=small_soap)
    assert "`max_radial`" in str(error.value)
    assert "150 structures with 4 elements" in str(error.value)
    assert not out.exists()


def test_the_forecast_counts_what_the_map_needs_besides_the_features(
    qm9_file, tmp_path, monkeypatch, capsys, small_soap
):
    """The features alone would fit; with the map's d x d and r x r matrices
    they do not: refused before featomic runs, and the forecast is printed
    first (with progress on)."""
    import propmap.workflows._steps as steps

    n, d = 150, len(small_soap.featurizer().fit(load_qm9(150)).get_feature_names_out())
    features = 4 * n * d  # float32, once
    monkeypatch.setattr(steps, "_available_memory", lambda: int(3 * features))
    out = tmp_path / "tight"
    with pytest.raises(WorkflowError, match=r"would take .* \(150 x"):
        map_structures([qm9_file], "gap", out, soap=small_soap, progress=True)
    assert "will need about" in capsys.readouterr().err
    assert not out.exists()


def test_the_linear_forecast_has_no_d_x_d_matrix_for_fewer_rows_than_columns():
    """With n <= d the span comes from the n x n kernel: the forecast of the
    shipped 2,000 molecules (7,500 columns; measured peak 0.69 GB) is below
    1 GiB, where counting d x d matrices said 3.9 GiB; with n > d it counts
    XᵀX, its factor and the basis."""
    from propmap.workflows._inputs import working_set
    from propmap.workflows._map_options import CV_FOLDS
    from propmap.workflows._options import Kernel

    working = working_set(Kernel.linear)
    n, d = 2000, 7500
    total = 4 * n * d + working["extra"](n, d)
    assert total < 2**30
    assert working["extra"](n, d) == 8 * (
        2 * n * d + 2 * n * n + (CV_FOLDS + 1) * n * n
    )
    assert working["extra"](10_000, d) == 8 * (3 + CV_FOLDS + 1) * d * d


def test_the_forecast_of_the_shipped_molecules_is_near_their_peak(monkeypatch, capsys):
    """Default SOAP of the 2,000 shipped molecules: the printed need (features,
    featomic's batch, the map's matrices) is below 1 GiB — the job's measured
    peak is 0.69 GB — where counting every column of every atom of a batch
    and d x d matrices said 4.9 GiB."""
    import re

    from propmap.atomistic import SoapFeaturizer
    from propmap.workflows import SoapOptions
    from propmap.workflows._inputs import working_set
    from propmap.workflows._options import Kernel
    from propmap.workflows._steps import featurise

    def no_work(self, structures):  # the forecast comes before the features
        return np.zeros((len(structures), self.n_features_out_), np.float32)

    monkeypatch.setattr(SoapFeaturizer, "transform", no_work)
    featurise(
        load_qm9(2000), SoapOptions(), "structure", True, **working_set(Kernel.linear)
    )
    printed = capsys.readouterr().err
    need = re.search(r"will need about ([0-9.]+) (GiB|MiB)", printed)
    value = float(need.group(1)) * (1.0 if need.group(2) == "GiB" else 1 / 1024)
    assert 0.3 < value < 1.0


def test_the_summary_has_the_time_of_every_stage_and_the_peak_memory(
    qm9_file, tmp_path, small_soap
):
    summary = map_structures([qm9_file], "gap", tmp_path / "m", soap=small_soap)
    timings = summary["timings"]
    stages = ["read", "featurize", "split_and_scale", "cross_validation_and_fit"]
    assert list(timings)[:4] == stages
    assert "outputs" in timings
    assert all(value >= 0 for value in timings.values())
    assert timings["total"] >= sum(timings[key] for key in stages)
    assert summary["peak_memory_mb"] > 50
    written = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert written["timings"] == timings


def test_elements_only_in_test_structures_are_warned_about(tmp_path, small_soap):
    from sklearn.model_selection import train_test_split

    molecules = [m for m in load_qm9(400) if "F" not in m.get_chemical_symbols()]
    molecules = (
        molecules[:59] + [m for m in load_qm9() if "F" in m.get_chemical_symbols()][:1]
    )
    _, test = train_test_split(np.arange(60), test_size=0.2, random_state=0)
    # put the one fluorinated molecule where the split sends a test structure
    position = int(test[0])
    molecules[position], molecules[-1] = molecules[-1], molecules[position]
    path = tmp_path / "with_f.extxyz"
    ase.io.write(path, molecules, format="extxyz")
    with pytest.warns(UserWarning, match=r"no training structure has \(F\)"):
        map_structures([path], "gap", tmp_path / "out", soap=small_soap)


def test_index_is_only_for_tables(qm9_file, tmp_path):
    with pytest.raises(WorkflowError, match="`index`"):
        map_structures([qm9_file], "gap", tmp_path / "x", index="name")
    assert not (tmp_path / "x").exists()


def test_the_full_model_is_scikit_learns_ridge_on_the_same_split(
    qm9_file, tmp_path, small_soap
):
    import joblib
    from sklearn.linear_model import Ridge

    from propmap.atomistic import read_structures

    out = tmp_path / "gap"
    summary = map_structures([qm9_file], "gap", out, soap=small_soap)
    pipeline = joblib.load(out / "model.joblib")
    structures = read_structures(str(qm9_file))
    y = np.array([s.info["gap"] for s in structures])
    # (scikit-learn's ridge solves a float32 X in float32: give it float64)
    X = (
        pipeline.named_steps["scaler"]
        .transform(pipeline.named_steps["featurizer"].transform(structures))
        .astype(np.float64)
    )
    y_scaler = pipeline.named_steps["model"].target_scaler_
    train = pipeline.map_["sets"] == "train"
    # (the map's model centres the features itself: an intercept)
    ridge = Ridge(alpha=summary["penalty"]).fit(
        X[train], y_scaler.transform(y[train, None])
    )
    predicted = y_scaler.inverse_transform(ridge.predict(X).reshape(-1, 1))[:, 0]
    test = ~train
    assert summary["accuracy"]["full_model"]["test"]["mae"] == pytest.approx(
        np.mean(np.abs(predicted[test] - y[test])), rel=1e-8
    )


def test_summed_features_default_to_a_shorter_cutoff(qm9_file, tmp_path):
    from propmap.workflows import SoapOptions

    assert SoapOptions.for_aggregate("sum").cutoff == 3.5
    assert SoapOptions.for_aggregate("mean") == SoapOptions()
    summed = map_structures(
        [qm9_file], "U0", tmp_path / "u0", aggregate="sum", mixing=0.5, penalty=1e-3
    )
    assert summed["soap"]["cutoff"] == 3.5


@pytest.mark.parametrize("options", [{"kernel": "rbf"}, {"sparse": 30}])
def test_kernel_maps_latent_coordinates_are_the_pipelines(
    qm9_file, tmp_path, small_soap, options
):
    """The map's coordinates (computed from the kernel the cross-validation
    had) are those the saved pipeline gives for the same structures."""
    import joblib

    from propmap.atomistic import read_structures

    out = tmp_path / "kernel"
    summary = map_structures([qm9_file], "gap", out, soap=small_soap, **options)
    pipeline = joblib.load(out / "model.joblib")
    structures = read_structures(str(qm9_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        latent = pipeline.transform(structures)
        predicted = pipeline.predict(structures)
    # the record's coordinates, and a dense model's training rows, are kept in
    # float32 in the model file
    scale = np.abs(latent).max()
    assert pipeline.map_["latent"].dtype == np.float32
    np.testing.assert_allclose(pipeline.map_["latent"], latent, atol=1e-6 * scale)
    test = pipeline.map_["sets"] == "test"
    truth = np.array([s.info["gap"] for s in structures])
    assert np.mean(np.abs(predicted[test] - truth[test])) == pytest.approx(
        summary["accuracy"]["map"]["test"]["mae"], rel=1e-5
    )


def test_a_sketch_map_layout_keeps_the_models_accuracy(qm9_file, tmp_path, small_soap):
    import gzip

    import joblib

    from propmap.atomistic import read_structures
    from propmap.workflows import project_structures

    plain = map_structures([qm9_file], "gap", tmp_path / "pcovr", soap=small_soap)
    out = tmp_path / "sketch"
    summary = map_structures([qm9_file], "gap", out, soap=small_soap, layout="sketch")
    # the sketch-map sees no target: the numbers are the PCovR model's
    for name, splits in plain["accuracy"].items():
        for split, scores in splits.items():
            for score, value in scores.items():
                assert summary["accuracy"][name][split][score] == pytest.approx(
                    value, rel=1e-9
                ), (name, split, score)
    assert summary["layout"] == "sketch"
    assert summary["latent_name"] == "sketch-map"
    assert summary["sketch_map"]["n_landmarks"] is None  # 150 rows: all of them
    assert summary["sketch_map"]["stress"] > 0
    pipeline = joblib.load(out / "model.joblib")
    shown = pipeline.map_["latent"]
    assert shown.shape == (150, 2)
    assert not np.allclose(
        shown, joblib.load(tmp_path / "pcovr/model.joblib").map_["latent"]
    )
    dataset = json.loads(gzip.decompress((out / "chemiscope.json.gz").read_bytes()))
    assert {"sketch-map 1", "PCovR 1", "PCovR 2"} <= set(dataset["properties"])
    assert "sketch-map" in (out / "report.html").read_text()
    # new structures land on the sketch-map, beside their nearest training twins
    structures = read_structures(str(qm9_file))[:5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        placed = pipeline.transform(structures)
    np.testing.assert_allclose(placed, shown[:5], atol=0.05 * np.ptp(shown))
    projected = project_structures(
        out / "model.joblib", [qm9_file], tmp_path / "projected", neighbours=1
    )
    assert projected["coordinates"] == "sketch-map"
    assert projected["model"] == "PCovR"


def test_an_unknown_layout_is_refused(qm9_file, tmp_path):
    with pytest.raises(ValueError, match="umap"):
        map_structures([qm9_file], "gap", tmp_path / "bad", layout="umap")
    assert not (tmp_path / "bad").exists()


def test_map_options_are_checked_when_made_and_resolved_from_each_other():
    from propmap.workflows import MapOptions, SoapOptions

    options = MapOptions("U0", sparse=300, aggregate="sum")
    assert options.model_kernel == "rbf"
    resolved = options.resolved()
    assert (resolved.kernel, resolved.baseline) == ("rbf", "composition")
    assert resolved.soap == SoapOptions.for_aggregate("sum")
    assert MapOptions("y").resolved(from_table=True).baseline == "none"
    for bad, message in (
        ({"mixing": -0.1}, "`mixing` must be in"),
        ({"per": "molecule"}, "unknown `per` 'molecule'"),
        ({"sparse": 50, "kernel": "laplacian"}, "`sparse` .* rbf"),
        ({"per": "atom", "aggregate": "sum"}, "`aggregate`"),
    ):
        with pytest.raises(WorkflowError, match=message):
            MapOptions("gap", **bad)
    with pytest.raises(WorkflowError, match="`index` names the rows"):
        MapOptions("gap", index="name").resolved()
    with pytest.raises(WorkflowError, match="kernel map needs kernels"):
        MapOptions("gap", kernel="rbf").resolved(streamed=True)


def test_a_map_from_options_returns_a_typed_result(qm9_file, tmp_path, small_soap):
    from propmap.workflows import MapOptions, MapResult

    options = MapOptions("gap", soap=small_soap, mixing=0.4, penalty=0.01)
    result = map_structures([qm9_file], None, tmp_path / "typed", options=options)
    assert isinstance(result, MapResult)
    assert (result.model, result.mixing, result.penalty) == ("PCovR", 0.4, 0.01)
    assert result.gamma is None
    assert result.test_scores == result["accuracy"]["map"]["test"]
    assert all(path.exists() for path in result.files.values())
    on_disk = json.loads(result.files["summary"].read_text())
    assert on_disk["mixing"] == result["mixing"]
    with pytest.raises(WorkflowError, match="differs from the options'"):
        map_structures([qm9_file], "U0", tmp_path / "other", options=options)


def test_scores_come_from_scikit_learn_and_name_a_constant_truth():
    from propmap.workflows._scores import r2, scores

    truth = np.array([1.0, 2.0, 4.0, 7.0])
    predicted = np.array([1.5, 2.0, 3.0, 7.5])
    result = scores(truth, predicted, baseline=np.array([1.0, 1.0, 1.0, 1.0]))
    assert result["mae"] == pytest.approx(0.5)
    assert result["rmse"] == pytest.approx(np.sqrt(1.5 / 4))
    assert result["r2"] == pytest.approx(1 - 1.5 / np.sum((truth - 3.5) ** 2))
    # a constant baseline moves nothing that R² measures
    assert result["r2_after_baseline"] == pytest.approx(result["r2"])
    assert np.isnan(r2(np.ones(5), np.arange(5.0)))


def test_a_map_of_an_ase_database_reads_its_key_value_pairs(tmp_path, small_soap):
    import ase.db

    from propmap.datasets import load_qm9

    path = tmp_path / "qm9.db"
    with ase.db.connect(str(path)) as database:
        for atoms in load_qm9(40):
            database.write(atoms, gap=atoms.info["gap"], smiles=atoms.info["smiles"])
    summary = map_structures([path], "gap", tmp_path / "map", soap=small_soap)
    assert summary["structures"] == 40
    assert summary["unit"] == "eV"


def test_copies_of_a_structure_stay_on_one_side_of_every_split(tmp_path, small_soap):
    """Every molecule three times: a warning counts the copies, no molecule is
    both trained on and tested, so the test score is not that of a lookup."""
    import ase.io

    from propmap.datasets import load_qm9
    from propmap.workflows import load_map
    from propmap.workflows._map_split import duplicate_labels

    molecules = load_qm9(60)
    path = tmp_path / "thrice.extxyz"
    ase.io.write(path, molecules * 3, format="extxyz")
    with pytest.warns(UserWarning, match="120 of the 180 structures repeat others"):
        summary = map_structures([path], "gap", tmp_path / "m", soap=small_soap)
    assert summary["repeated"] == 120
    sets = load_map(tmp_path / "m" / "model.joblib").map_["sets"]
    for k in range(60):
        assert len(set(sets[[k, k + 60, k + 120]])) == 1
    assert summary["accuracy"]["map"]["test"]["r2"] < 0.99
    # the labels: equal rows share one, distinct rows do not
    X = np.random.default_rng(0).normal(size=(50, 30)).astype(np.float32)
    assert duplicate_labels(X) is None
    labels = duplicate_labels(np.vstack([X, X[:5]]))
    np.testing.assert_array_equal(labels[50:], labels[:5])
    assert np.unique(labels).size == 50


def test_structures_whose_soap_sees_no_neighbour_are_left_out(tmp_path, small_soap):
    """Single atoms (and atoms far apart) have the SOAP of their own density
    alone: the map leaves them out with a warning that counts them, and refuses
    a set of nothing else."""
    import ase
    import ase.io
    from ase.build import bulk

    from propmap.datasets import load_qm9
    from propmap.workflows._inputs import isolated

    molecules = load_qm9(56)
    atoms = [ase.Atoms(symbol, info={"gap": 10.0}) for symbol in "CHON"]
    path = tmp_path / "with_atoms.extxyz"
    ase.io.write(path, molecules + atoms, format="extxyz")
    with pytest.warns(UserWarning, match=r"4 of the 60 structures have no two atoms"):
        summary = map_structures([path], "gap", tmp_path / "m", soap=small_soap)
    assert summary["structures"] == 56
    alone = tmp_path / "alone.extxyz"
    ase.io.write(alone, atoms * 3, format="extxyz")
    with pytest.raises(WorkflowError, match="12 of the 12 structures"):
        map_structures([alone], "gap", tmp_path / "none", soap=small_soap)
    far = ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 9.0]])
    near = ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    lone_in_a_cell = ase.Atoms("Ar", cell=[3.0, 3.0, 3.0], pbc=True)
    flags = isolated([far, near, bulk("Cu"), lone_in_a_cell, atoms[0]], 3.5)
    assert flags.tolist() == [True, False, False, False, True]
