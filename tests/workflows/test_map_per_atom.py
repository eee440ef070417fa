"""Maps of atoms (`--per atom`): per-atom SOAP rows and a per-atom property (QM9's
Mulliken charges), structures kept whole in every split, per-element accuracies,
an atom-level viewer, and projection of new molecules' atoms."""

import gzip
import json
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("featomic")
pytest.importorskip("matplotlib")
pytest.importorskip("chemiscope")

import ase.io
from typer.testing import CliRunner

from propmap.cli import app
from propmap.datasets import load_qm9
from propmap.workflows import (
    ATOM_MAP_FILES,
    SoapOptions,
    WorkflowError,
    map_structures,
    project_structures,
)
from propmap.workflows import _inputs as map_inputs

SOAP = SoapOptions(cutoff=3.5, max_radial=3, max_angular=2)
CHARGES = "mulliken_charges"


@pytest.fixture(scope="module")
def molecules_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("qm9") / "qm9.extxyz"
    ase.io.write(path, load_qm9(60), format="extxyz")
    return path


@pytest.fixture(scope="module")
def atom_map(molecules_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("maps") / "charges"
    summary = map_structures([molecules_file], CHARGES, out, soap=SOAP, per="atom")
    return out, summary


def _structure_of(name: str) -> str:
    return name.rsplit("#", 1)[0]


def test_a_map_of_atoms_writes_everything(atom_map):
    out, summary = atom_map
    for name in ATOM_MAP_FILES.values():
        assert (out / name).stat().st_size > 0, name
    molecules = load_qm9(60)
    assert summary["per"] == "atom"
    assert summary["structures"] == 60
    assert summary["points"] == sum(len(m) for m in molecules)
    assert summary["n_train"] + summary["n_test"] == summary["points"]
    # real data: SOAP environments predict Mulliken charges well
    assert summary["accuracy"]["full_model"]["test"]["r2"] > 0.9
    assert summary["accuracy"]["map"]["test"]["r2"] > 0.5
    per_element = summary["accuracy"]["per_element"]
    assert set(per_element) == {"H", "C", "N", "O"}
    assert sum(e["atoms"] for e in per_element.values()) == summary["n_test"]
    report = (out / "report.html").read_text()
    assert "The same map, coloured by element." in report
    assert f"{per_element['O']['mae']:.4g}" in report


def test_structures_are_never_split(atom_map):
    out, summary = atom_map
    record = joblib.load(out / "model.joblib").map_
    sets: dict[str, set] = {}
    for name, side in zip(record["names"], record["sets"], strict=True):
        sets.setdefault(_structure_of(name), set()).add(side)
    assert len(sets) == 60
    assert all(len(sides) == 1 for sides in sets.values())
    assert record["per"] == "atom"
    assert len(record["latent"]) == summary["points"]


def test_the_folds_keep_structures_whole():
    """The estimators' folds (and the γ search's subset) of a map of atoms hold
    whole structures."""
    from propmap.decomposition._cv import cv_folds
    from propmap.decomposition._kernel_cv import _subsample

    groups = np.repeat(np.arange(30), np.arange(30) % 7 + 1)
    groups = groups[groups % 4 != 0]
    folds = cv_folds(5, groups.size, groups, random_state=0)
    assert len(folds) == 5
    held = np.concatenate([h for _, h in folds])
    np.testing.assert_array_equal(np.sort(held), np.arange(groups.size))
    for inner, held in folds:
        assert not set(groups[inner]) & set(groups[held])
        assert set(inner) | set(held) == set(range(groups.size))
    subset = _subsample(groups.size, 40, groups, random_state=0)
    kept = set(groups[subset])
    assert all(set(np.flatnonzero(groups == g)) <= set(subset) for g in kept)


def test_the_viewer_shows_atoms(atom_map):
    out, summary = atom_map
    with gzip.open(out / "chemiscope.json.gz", "rt") as stream:
        dataset = json.load(stream)
    assert len(dataset["environments"]) == summary["points"]
    properties = dataset["properties"]
    assert properties[CHARGES]["target"] == "atom"
    assert len(properties["element"]["values"]) == summary["points"]
    assert dataset["settings"]["map"]["color"]["property"] == CHARGES


def test_new_molecules_are_projected_atom_by_atom(atom_map, tmp_path):
    out, _ = atom_map
    new = load_qm9(64)[60:]
    path = tmp_path / "new.extxyz"
    ase.io.write(path, new, format="extxyz")
    summary = project_structures(out / "model.joblib", [path], tmp_path / "p")
    table = pd.read_csv(tmp_path / "p" / "projected.csv")
    assert summary["structures"] == 4
    assert len(table) == summary["points"] == sum(len(m) for m in new)
    assert table["structure"].iloc[0].endswith("#0")
    # the neighbours are training atoms
    assert all("#" in name for name in table["neighbour 1"])
    truth = np.concatenate([m.arrays[CHARGES] for m in new])
    predicted = table[f"{CHARGES} (predicted)"].to_numpy()
    assert np.corrcoef(truth, predicted)[0, 1] > 0.8


def test_the_command_maps_atoms(molecules_file, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "map", str(molecules_file), "-t", CHARGES, "--per", "atom", "-o",
            str(out), "--cutoff", "3.5", "--max-radial", "3", "--max-angular", "2",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "atoms of 60 structures" in result.output
    assert (out / "map_elements.png").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"aggregate": "sum"}, "`aggregate` makes structure features"),
        ({"baseline": "composition"}, "`baseline` composition fits structure"),
        ({"target": "positions"}, "one number per atom"),
    ],
)
def test_what_a_map_of_atoms_cannot_take(molecules_file, tmp_path, options, message):
    settings = {"target": CHARGES, "soap": SOAP, "per": "atom", **options}
    with pytest.raises(WorkflowError, match=message):
        map_structures([molecules_file], out=tmp_path / "out", **settings)
    assert not (tmp_path / "out").exists()


def test_other_refusals_are_named(molecules_file, tmp_path, monkeypatch):
    from propmap.workflows import ClusterOptions

    table = tmp_path / "t.csv"
    table.write_text("name,a,y\n" + "".join(f"r{k},{k},{k}\n" for k in range(12)))
    with pytest.raises(WorkflowError, match="not a feature table"):
        map_structures([table], "y", tmp_path / "a", per="atom")
    with pytest.raises(WorkflowError, match="runs in memory"):
        map_structures(
            [molecules_file], CHARGES, tmp_path / "b", per="atom",
            cluster=ClusterOptions(workers=1),
        )  # fmt: skip
    monkeypatch.setattr(map_inputs, "GRAM_ROWS", 100)
    with pytest.raises(WorkflowError, match="use `sparse`"):
        map_structures(
            [molecules_file], CHARGES, tmp_path / "c", soap=SOAP, per="atom",
            kernel="rbf",
        )  # fmt: skip
    with pytest.raises(KeyError, match="No per-atom property 'charge'"):
        map_structures([molecules_file], "charge", tmp_path / "d", per="atom")
    for folder in "abcd":
        assert not (tmp_path / folder).exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a map of structures is unchanged
        map_structures([molecules_file], "gap", tmp_path / "e", soap=SOAP)


def test_summaries_are_strict_json(tmp_path):
    from propmap.workflows._steps import write_json

    write_json(tmp_path / "s.json", {"r2": float("nan"), "rows": [1.0, float("inf")]})
    text = (tmp_path / "s.json").read_text()
    assert json.loads(text) == {"r2": None, "rows": [1.0, None]}
    assert "NaN" not in text


@pytest.mark.browser
def test_the_viewer_of_atoms_opens_without_a_warning(atom_map, visit):
    """60 structures' atoms: their structures are numbered, not named (a name
    each would be 60 categories, past chemiscope's 50, and a warning banner)."""
    from browser_helpers import assert_clean

    out, summary = atom_map
    page = visit(out / "viewer.html")
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert_clean(page)
    assert page.map_traces()[0]["points"] == summary["points"]
