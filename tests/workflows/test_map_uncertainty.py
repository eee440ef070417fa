"""The map's uncertainty: σ of every prediction, its calibration on the test
set, the applicability domain, and where they show."""

import gzip
import json

import numpy as np
import pytest

pytest.importorskip("featomic")
pytest.importorskip("matplotlib")
pytest.importorskip("chemiscope")

from propmap.workflows import load_map, map_structures


@pytest.fixture(scope="module")
def gap_map(tmp_path_factory, qm9_file, small_soap):
    out = tmp_path_factory.mktemp("trust") / "map"
    return out, map_structures([qm9_file], "gap", out, soap=small_soap)


def test_the_summary_says_how_well_sigma_covers_the_test_errors(gap_map, qm9_file):

    out, summary = gap_map
    trust = summary["uncertainty"]
    for scores in (trust, trust["full_model"]):
        assert 0.0 <= scores["coverage_1sigma"] <= scores["coverage_2sigma"] <= 1.0
        assert scores["scale"] > 0
        assert -1.0 <= scores["spearman_abs_error_sigma"] <= 1.0
    assert trust["domain"]["threshold"] > 0
    assert summary["files"]["calibration"] == "calibration.png"
    assert (out / "calibration.png").stat().st_size > 0
    # the coverage is that of the pipeline's σ on the test structures
    _assert_pipeline_sigma_covers(out, trust, qm9_file)


def _assert_pipeline_sigma_covers(out, trust, qm9_file):
    """The summary's coverage is that of the saved pipeline's σ on the map's
    test structures."""
    import ase.io

    pipeline = load_map(out / "model.joblib")
    assert pipeline.steps[-1][1].gives_uncertainty
    structures = ase.io.read(qm9_file, ":")
    test = np.flatnonzero(pipeline.map_["sets"] == "test")
    predicted, std = pipeline.predict([structures[i] for i in test], return_std=True)
    truth = np.array([structures[i].info["gap"] for i in test])
    z = np.abs(truth - predicted) / std
    assert np.mean(z <= 1) == pytest.approx(trust["coverage_1sigma"])
    assert np.mean(z <= 2) == pytest.approx(trust["coverage_2sigma"])


def test_the_viewer_and_the_report_show_sigma_and_the_domain(gap_map):
    out, summary = gap_map
    with gzip.open(out / "chemiscope.json.gz", "rt") as stream:
        properties = json.load(stream)["properties"]
    sigma = np.array(properties["gap σ"]["values"])
    assert sigma.shape == (summary["structures"],)
    assert np.all(sigma > 0)
    assert properties["gap σ"]["units"] == "eV"
    assert set(properties["domain"]["values"]) <= {"in", "out"}
    report = (out / "report.html").read_text()
    assert "within 1σ / 2σ" in report
    assert "Calibration: the observed error" in report


@pytest.mark.parametrize("sparse", [None, 60])
def test_kernel_maps_give_sigma_too(tmp_path, qm9_file, small_soap, sparse):
    """A kernel map (dense, or Nyström) gives σ from the refit kernel ridge's
    posterior, its noise level from the exact leave-one-out errors: in the
    summary, the viewer and the pipeline, which projects with it."""

    out = tmp_path / "rbf"
    summary = map_structures(
        [qm9_file], "gap", out, soap=small_soap, kernel="rbf", sparse=sparse
    )
    trust = summary["uncertainty"]
    assert "leave-one-out" in trust["calibrated_on"]
    assert 0.3 < trust["full_model"]["coverage_1sigma"] <= 1.0
    assert (
        trust["full_model"]["coverage_1sigma"] <= trust["full_model"]["coverage_2sigma"]
    )
    assert (out / "calibration.png").stat().st_size > 0
    _assert_pipeline_sigma_covers(out, trust, qm9_file)
    with gzip.open(out / "chemiscope.json.gz", "rt") as stream:
        properties = json.load(stream)["properties"]
    assert np.all(np.array(properties["gap σ"]["values"]) > 0)


@pytest.mark.parametrize("n_active", [None, 30])
def test_a_kernel_model_makes_its_kernel_rows_once_for_sigma_and_domain(n_active):
    """predict_in_domain of a kernel map: the predictions, σ and the domain
    from one pass of kernel rows, the predictions those of predict."""
    from propmap.decomposition import KernelPCovRCV
    from propmap.preprocessing import StandardFlexibleScaler
    from propmap.workflows import ScaledTargetModel

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=120)
    model = ScaledTargetModel(
        KernelPCovRCV(
            kernel="rbf", gammas=[0.5], n_active=n_active, cv=3, random_state=0
        ),
        StandardFlexibleScaler(column_wise=True),
    ).fit(X[:90], y[:90])
    fitted = model.model_
    calls = []
    if n_active is None:
        original = fitted._centred_kernel
        fitted._centred_kernel = lambda *a, **k: calls.append(1) or original(*a, **k)
    else:
        inner = fitted.best_estimator_
        original = inner._kernel_rows
        inner._kernel_rows = lambda *a, **k: calls.append(1) or original(*a, **k)
    predicted, std, inside = model.predict_in_domain(X[90:])
    assert len(calls) == 1
    np.testing.assert_allclose(predicted, model.predict(X[90:]), rtol=1e-10)
    assert std.shape == inside.shape == (30,)
    assert np.all(std > 0)
