"""Maps of feature tables (data that are not structures), and projecting new
rows onto them."""

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("chemiscope")

from typer.testing import CliRunner

from propmap.cli import app
from propmap.workflows import (
    WorkflowError,
    load_map,
    map_structures,
    project_structures,
    read_table,
)

COLUMNS = ["gdp", "schooling", "water", "doctors", "urban", "co2"]


def _indicators(rng, rows):
    """Country-like indicators, life expectancy mostly linear in two of them."""
    X = rng.normal(size=(rows, len(COLUMNS)))
    life = 70 + 3 * X[:, 0] - 2 * X[:, 1] + 0.3 * rng.normal(size=rows)
    return X, life


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    X, life = _indicators(np.random.default_rng(0), 200)
    frame = pd.DataFrame(X, columns=COLUMNS)
    frame.insert(0, "country", [f"country {k}" for k in range(200)])
    frame["life"] = life
    frame.to_csv(folder / "indicators.csv", index=False)
    return folder


def test_a_table_is_mapped_with_its_rows_named(table, tmp_path):
    out = tmp_path / "map"
    summary = map_structures([table / "indicators.csv"], "life", out)
    assert summary["input"] == "table"
    assert summary["n_features"] == len(COLUMNS)
    assert summary["soap"] is None
    assert summary["baseline"] == "none"
    assert summary["accuracy"]["full_model"]["test"]["r2"] > 0.95
    assert summary["accuracy"]["map"]["test"]["r2"] > 0.9
    assert (out / "report.html").stat().st_size > 0


def test_the_table_viewer_has_no_structures(table, tmp_path):
    import gzip

    out = tmp_path / "map"
    map_structures([table / "indicators.csv"], "life", out)
    dataset = json.loads(gzip.decompress((out / "chemiscope.json.gz").read_bytes()))
    assert not dataset.get("structures")
    # 200 names would be 200 categories, more than chemiscope takes: they are
    # numbered, the names in the property's description
    names = dataset["properties"]["name"]
    assert names["values"][:2] == [0, 1]
    assert names["description"].startswith("200 labels, numbered: 0 = country 0")
    assert len(dataset["properties"]["life"]["values"]) == 200
    small = tmp_path / "small.csv"
    lines = (table / "indicators.csv").read_text().splitlines()
    small.write_text("\n".join(lines[:21]) + "\n")
    map_structures([small], "life", tmp_path / "small")
    dataset = json.loads(
        gzip.decompress((tmp_path / "small" / "chemiscope.json.gz").read_bytes())
    )
    assert dataset["properties"]["name"]["values"][:2] == ["country 0", "country 1"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"aggregate": "sum"}, "`aggregate` is for structures"),
        ({"baseline": "composition"}, "needs structures"),
    ],
)
def test_structure_options_are_refused_for_a_table(table, tmp_path, options, message):
    out = tmp_path / "never"
    with pytest.raises(WorkflowError, match=message):
        map_structures([table / "indicators.csv"], "life", out, **options)
    assert not out.exists()


def test_new_rows_are_projected_in_the_maps_column_order(table, tmp_path):
    map_structures([table / "indicators.csv"], "life", tmp_path / "map")
    X, life = _indicators(np.random.default_rng(9), 6)
    frame = pd.DataFrame(X, columns=COLUMNS)[COLUMNS[::-1]]  # other order
    frame.insert(0, "country", [f"new {k}" for k in range(6)])
    frame.to_csv(tmp_path / "new.csv", index=False)
    summary = project_structures(
        tmp_path / "map" / "model.joblib", [tmp_path / "new.csv"], tmp_path / "p"
    )
    assert summary["structures"] == 6
    projected = pd.read_csv(tmp_path / "p" / "projected.csv")
    assert list(projected["structure"]) == [f"new {k}" for k in range(6)]
    np.testing.assert_allclose(projected["life (predicted)"], life, atol=2.0)
    pipeline = load_map(tmp_path / "map" / "model.joblib")
    np.testing.assert_allclose(
        projected["life (predicted)"], pipeline.predict(X), rtol=1e-12
    )
    frame.drop(columns="co2").to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(WorkflowError, match="lacks the map's columns co2"):
        project_structures(
            tmp_path / "map" / "model.joblib", [tmp_path / "short.csv"], tmp_path / "q"
        )


def test_read_table_errors_name_the_problem(tmp_path):
    (tmp_path / "words.csv").write_text("name,a,b\nx,1,2\ny,3,oops\n")
    with pytest.raises(
        WorkflowError, match="non-numeric or missing values in columns b"
    ):
        read_table(tmp_path / "words.csv", None)
    np.savez(tmp_path / "bad.npz", X=np.ones((3, 2)), y=np.ones(4))
    with pytest.raises(WorkflowError, match="4 values for 3 rows"):
        read_table(tmp_path / "bad.npz", "y")
    np.savez(tmp_path / "noX.npz", features=np.ones((3, 2)))
    with pytest.raises(WorkflowError, match="no array 'X'"):
        read_table(tmp_path / "noX.npz", None)


def test_map_command_on_a_table(table, tmp_path):
    result = CliRunner().invoke(
        app,
        ["map", str(table / "indicators.csv"), "-t", "life", "-o", str(tmp_path / "m")],
    )
    assert result.exit_code == 0, result.output
    assert "ridge MAE" in result.stdout


def test_index_names_the_column_that_labels_rows(table, tmp_path):
    frame = pd.read_csv(table / "indicators.csv").drop(columns="country")
    frame["code"] = [f"C{k:03d}" for k in range(len(frame))]  # last, not first
    frame.to_csv(tmp_path / "coded.csv", index=False)
    with pytest.raises(
        WorkflowError, match="non-numeric or missing values in columns code"
    ):
        map_structures([tmp_path / "coded.csv"], "life", tmp_path / "n")
    map_structures([tmp_path / "coded.csv"], "life", tmp_path / "m", index="code")
    pipeline = load_map(tmp_path / "m" / "model.joblib")
    assert pipeline.map_["names"][:2] == ["C000", "C001"]
    assert pipeline.map_["columns"] == COLUMNS
    with pytest.raises(WorkflowError, match="no column 'nope'"):
        read_table(tmp_path / "coded.csv", "life", "nope")
