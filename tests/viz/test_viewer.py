"""chemiscope datasets and files, and the offline viewer, opened in a headless
Chromium with the network cut off.

The browser tests need playwright and a Chromium (Debian's ``chromium``); they
skip without them, unless PROPMAP_REQUIRE_BROWSER=1 (set by CI) makes that a
failure.
"""

import base64
import gzip
import json
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

pytest.importorskip("ase")
pytest.importorskip("chemiscope")

from ase.build import bulk
from ase.collections import g2

from browser_helpers import assert_clean
from propmap.viz._chemiscope import (
    chemiscope_dataset,
    write_chemiscope_json,
    write_viewer,
)

NAMES = ("H2O", "NH3", "CH4", "C2H6", "CO2", "HCN")
SCRIPT_LABEL = "</script><b>not markup</b>"


@pytest.fixture(scope="module")
def molecules():
    return [g2[name] for name in NAMES]


@pytest.fixture
def dataset(molecules, rng):
    return chemiscope_dataset(
        molecules,
        properties={
            "energy": np.arange(len(molecules), dtype=float),
            "label": [SCRIPT_LABEL, *NAMES[1:]],
        },
        latent=rng.normal(size=(len(molecules), 2)),
        name="six molecules",
        description="G2 molecules on a random map",
    )


def n_atoms(structures) -> int:
    return sum(len(atoms) for atoms in structures)


def select_structure(page, index: int) -> None:
    """Select a structure in the viewer and wait until chemiscope has asked the
    page to unpack it (to show it)."""
    page.page.evaluate(
        """() => {
            window.propmapAsked = [];
            const unpack = window.propmapStructure;
            window.propmapStructure = (i) => { window.propmapAsked.push(i);
                                               return unpack(i); };
        }"""
    )
    page.page.evaluate(f"window.propmapViewer.select({{structure: {index}}})")
    page.page.wait_for_function(f"window.propmapAsked.includes({index})")


# chemiscope_dataset


def test_missing_chemiscope_says_how_to_install(monkeypatch, molecules):
    monkeypatch.setitem(sys.modules, "chemiscope", None)
    with pytest.raises(ImportError, match=r'pip install "propmap\[viz\]"'):
        chemiscope_dataset(molecules)


def test_dataset_has_properties_latent_and_map_settings(dataset, molecules):
    assert dataset["meta"] == {
        "name": "six molecules",
        "description": "G2 molecules on a random map",
    }
    assert len(dataset["structures"]) == len(molecules)
    assert dataset["structures"][1]["names"] == ["N", "H", "H", "H"]
    assert list(dataset["properties"]) == ["energy", "label", "PCovR 1", "PCovR 2"]
    assert dataset["properties"]["label"]["values"][0] == SCRIPT_LABEL
    assert {p["target"] for p in dataset["properties"].values()} == {"structure"}
    settings = dataset["settings"]
    assert settings["target"] == "structure"
    assert settings["map"]["x"] == {"property": "PCovR 1"}
    assert settings["map"]["y"] == {"property": "PCovR 2"}
    assert settings["map"]["color"] == {"property": "energy"}
    assert "environments" not in dataset
    assert json.loads(json.dumps(dataset, allow_nan=False)) == dataset


def test_latent_components_name_colour_and_periodic_cell(rng):
    crystals = [bulk("Cu", cubic=True), bulk("NaCl", "rocksalt", a=5.6)]
    dataset = chemiscope_dataset(
        crystals,
        properties={"phase": ["metal", "salt"], "volume": [47.2, 175.6]},
        latent=rng.normal(size=(2, 3)),
        latent_name="KPCovR",
        color="volume",
    )
    properties = dataset["properties"]
    assert [f"KPCovR {k}" for k in (1, 2, 3)] == list(properties)[2:]
    assert properties["KPCovR 3"]["description"].startswith("component 3")
    assert dataset["settings"]["map"]["color"] == {"property": "volume"}
    assert dataset["settings"]["structure"][0]["unitCell"] is True
    assert len(dataset["structures"][0]["cell"]) == 9
    json.dumps(dataset, allow_nan=False)


def test_atom_properties_concatenated_or_per_structure(molecules):
    per_structure = [np.arange(len(atoms), dtype=float) for atoms in molecules]
    concatenated = np.concatenate(per_structure)
    one, two = (
        chemiscope_dataset(
            molecules, atom_properties={"index": index, "x": -concatenated}
        )
        for index in (per_structure, concatenated)
    )
    assert one == two
    assert one["properties"]["index"] == {
        "target": "atom",
        "values": concatenated.tolist(),
    }
    assert one["settings"]["target"] == "atom"
    assert one["settings"]["map"]["color"] == {"property": "index"}
    environments = one["environments"]
    assert len(environments) == n_atoms(molecules)
    assert environments[4] == {"structure": 1, "center": 1, "cutoff": 3.5}


def test_per_atom_latent_maps_atoms_with_environment_cutoff(molecules, rng):
    atoms = n_atoms(molecules)
    dataset = chemiscope_dataset(
        molecules,
        properties={"energy": np.ones(len(molecules))},
        atom_properties={"element": [s for a in molecules for s in a.symbols]},
        latent=rng.normal(size=(atoms, 2)),
        environments_cutoff=4.5,
    )
    assert dataset["properties"]["PCovR 1"]["target"] == "atom"
    assert dataset["settings"]["target"] == "atom"
    assert dataset["settings"]["map"]["color"] == {"property": "element"}
    assert {env["cutoff"] for env in dataset["environments"]} == {4.5}


def test_without_latent_the_map_plots_the_first_two_properties(molecules):
    dataset = chemiscope_dataset(
        molecules[0], properties={"a": [1.0], "b": [2.0], "c": ["x"]}, color="c"
    )
    assert len(dataset["structures"]) == 1
    assert "x" not in dataset["settings"]["map"]
    assert dataset["settings"]["map"]["color"] == {"property": "c"}
    with pytest.raises(ValueError, match="needs two; there are 0: give a latent"):
        chemiscope_dataset(molecules)
    with pytest.raises(ValueError, match=r"per-atom properties .* there are 1"):
        chemiscope_dataset(molecules, atom_properties={"q": np.ones(26)})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"properties": {"energy": [1.0, 2.0]}}, ValueError, r"'energy' has 2 .* 6 s"),
        ({"properties": {"energy": np.ones((6, 2))}}, ValueError, "one-dimensional"),
        ({"properties": {"z": [1j] * 6}}, TypeError, "'z' must hold numbers"),
        ({"properties": {"": np.ones(6)}}, ValueError, "non-empty strings"),
        (
            {"properties": {"energy": [0, 1, np.nan, 3, 4, np.inf]}},
            ValueError,
            r"'energy' has 2 NaN or infinite",
        ),
        (
            {"atom_properties": {"q": np.ones(5)}},
            ValueError,
            r"'q' has 5 values for 26 atoms in 6 structures",
        ),
        (
            {"atom_properties": {"q": [np.ones(3)] * 6}},
            ValueError,
            r"'q' has 3 values for structure 1, which has 4 atoms",
        ),
        (
            {"atom_properties": {"q": np.r_[np.ones(25), np.nan]}},
            ValueError,
            "'q' has 1 NaN",
        ),
        (
            {"properties": {"q": np.ones(6)}, "atom_properties": {"q": np.ones(26)}},
            ValueError,
            "'q' is used twice",
        ),
        (
            {"properties": {"PCovR 1": np.ones(6)}, "latent": np.ones((6, 2))},
            ValueError,
            "'PCovR 1' is used twice",
        ),
        ({"latent": np.ones(6)}, ValueError, "at least two columns; got shape"),
        ({"latent": np.ones((6, 1))}, ValueError, "at least two columns"),
        (
            {"latent": np.ones((7, 2))},
            ValueError,
            "latent has 7 rows, but there are 6 structures and 26 atoms",
        ),
        (
            {"latent": np.r_[np.ones((5, 2)), [[np.nan, 0.0]]]},
            ValueError,
            "Latent 'PCovR 1' has 1 NaN",
        ),
        (
            {"properties": {"a": np.ones(6), "b": np.ones(6)}, "color": "c"},
            ValueError,
            r"color='c' is not one of the properties: \['a', 'b'\]",
        ),
        (
            {"latent": np.ones((6, 2)), "environments_cutoff": 3.0},
            ValueError,
            "for datasets with per-atom",
        ),
        (
            {"latent": np.ones((26, 2)), "environments_cutoff": -1},
            ValueError,
            "positive, finite number; got -1",
        ),
        (
            {"latent": np.ones((26, 2)), "environments_cutoff": np.inf},
            ValueError,
            "positive, finite number; got inf",
        ),
    ],
)
def test_invalid_inputs_name_the_problem(molecules, kwargs, error, message):
    with pytest.raises(error, match=message):
        chemiscope_dataset(molecules, **kwargs)


def test_colour_must_be_shown_by_the_map(molecules):
    # per-structure latent, per-atom property: the map shows structures, and has
    # no property of theirs to colour by (the latent itself is not a default)
    kwargs = {"atom_properties": {"q": np.ones(26)}, "latent": np.ones((6, 2))}
    dataset = chemiscope_dataset(molecules, **kwargs)
    assert dataset["settings"]["target"] == "structure"
    assert "color" not in dataset["settings"]["map"]
    assert len(dataset["environments"]) == 26
    with pytest.raises(ValueError, match="'q' is a per-atom property, but the map"):
        chemiscope_dataset(molecules, color="q", **kwargs)


def test_invalid_structures(molecules):
    with pytest.raises(ValueError, match="No structures"):
        chemiscope_dataset([])
    with pytest.raises(TypeError, match=r"Structure 1 is a str, not ase\.Atoms"):
        chemiscope_dataset([molecules[0], "H2O"])
    with pytest.raises(TypeError, match="got int"):
        chemiscope_dataset(3)
    broken = molecules[0].copy()
    broken.positions[0, 0] = np.nan
    with pytest.raises(ValueError, match="Structure 0 has NaN or infinite"):
        chemiscope_dataset([broken])


# write_chemiscope_json


def test_json_and_gzip_round_trip(dataset, tmp_path):
    plain = write_chemiscope_json(dataset, tmp_path / "map.json")
    assert json.loads(plain.read_text()) == dataset
    packed = write_chemiscope_json(dataset, str(tmp_path / "map.json.gz"))
    raw = packed.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(raw)) == dataset
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.json", "map.json.gz"]


def test_json_is_strict_and_failures_leave_files_alone(dataset, tmp_path):
    path = tmp_path / "map.json"
    path.write_text("old")
    broken = {
        **dataset,
        "properties": {"x": {"target": "structure", "values": [np.nan]}},
    }
    with pytest.raises(ValueError, match="NaN or infinity"):
        write_chemiscope_json(broken, path)
    with pytest.raises(ValueError, match="NaN or infinity"):
        write_viewer(broken, tmp_path / "viewer.html")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.json"]
    with pytest.raises(ValueError, match=r"ends with \.json or \.json\.gz"):
        write_chemiscope_json(dataset, tmp_path / "map.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_chemiscope_json(dataset, tmp_path / "missing" / "map.json")


# write_viewer: the file


class _Page(HTMLParser):
    """Tags with their attributes, and the text of each script element."""

    def __init__(self):
        super().__init__()
        self.tags, self.scripts = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts.append([dict(attrs), ""])

    def handle_data(self, data):
        if self.tags and self.tags[-1][0] == "script" and self.scripts:
            self.scripts[-1][1] += data


def test_viewer_is_one_offline_file(dataset, tmp_path):
    path = write_viewer(dataset, tmp_path / "viewer.html", title="<G2> & co")
    text = path.read_text("utf-8")
    page = _Page()
    page.feed(text)
    references = [
        value
        for _, attrs in page.tags
        for key, value in attrs.items()
        if key in {"src", "href", "srcset", "data", "action"}
    ]
    assert references == []
    assert "<title>&lt;G2&gt; &amp; co</title>" in text
    assert [attrs.get("type") for attrs, _ in page.scripts] == [
        None,
        "application/json",
        "application/json",
        None,
    ]
    bundle, data, packed, start = (content for _, content in page.scripts)
    assert "Chemiscope" in bundle
    assert len(bundle) > 1_000_000
    assert "DefaultVisualizer" in start
    assert "visualizer.load(places, dataset, warnings)" in start
    assert "<" not in data
    assert "<" not in packed
    shown = json.loads(data)
    # the structures are packed apart: placeholders in the dataset ...
    assert shown["structures"] == [
        {"size": s["size"], "data": k} for k, s in enumerate(dataset["structures"])
    ]
    assert {**shown, "structures": dataset["structures"]} == dataset
    # ... and their atoms in float32 and element codes
    packed = json.loads(packed)
    sizes = np.frombuffer(base64.b64decode(packed["sizes"]), "<i4")
    codes = np.frombuffer(base64.b64decode(packed["codes"]), "u1")
    positions = np.frombuffer(base64.b64decode(packed["positions"]), "<f4")
    assert sizes.tolist() == [s["size"] for s in dataset["structures"]]
    names = [name for s in dataset["structures"] for name in s["names"]]
    assert [packed["elements"][c] for c in codes] == names
    xyz = [
        v
        for s in dataset["structures"]
        for v in zip(s["x"], s["y"], s["z"], strict=True)
    ]
    np.testing.assert_allclose(positions.reshape(-1, 3), xyz, rtol=1e-7)
    assert len(page.tags) < 30  # no tags from the data or the bundle leaked out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["viewer.html"]


def test_viewer_needs_an_existing_folder(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing' to write 'viewer\.html' in"):
        write_viewer(dataset, tmp_path / "missing" / "viewer.html")


# write_viewer: in a browser


@pytest.mark.browser
def test_viewer_shows_one_point_per_structure_offline(
    dataset, molecules, tmp_path, visit
):
    page = visit(write_viewer(dataset, tmp_path / "viewer.html"))
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert_clean(page)
    # the main trace comes first; the others mark the selection, carry the
    # colour bar, or stand in the legend
    traces = page.map_traces()
    assert traces[0]["name"] == ""
    assert traces[0]["points"] == len(molecules)
    assert page.axis_titles() == ["PCovR 1", "PCovR 2"]
    assert page.page.evaluate("window.propmapViewer.structure !== undefined")
    # the "</script>" in a property neither ended the data early nor made markup
    parsed = page.page.evaluate(
        "JSON.parse(document.getElementById('propmap-dataset').textContent)"
        ".properties.label.values[0]"
    )
    assert parsed == SCRIPT_LABEL
    assert page.page.locator("b").count() == 0
    meta = page.page.locator("#propmap-meta")
    assert meta.get_by_text("six molecules", exact=True).is_visible()
    screenshot = tmp_path / "viewer.png"
    page.page.screenshot(path=screenshot)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000


@pytest.mark.browser
def test_viewer_unpacks_each_structure_as_it_was(tmp_path, visit, rng):
    """The page holds the structures packed (float32 positions, element codes);
    what it hands chemiscope for an index is that structure, cell included."""
    crystal = bulk("NaCl", "rocksalt", a=5.64)
    structures = [g2["CH4"], crystal, g2["C2H6"], g2["H2O"]]
    dataset = chemiscope_dataset(
        structures,
        properties={"energy": np.arange(4.0)},
        latent=rng.normal(size=(4, 2)),
    )
    path = write_viewer(dataset, tmp_path / "viewer.html")
    text = path.read_text("utf-8")
    # the structures are not in the dataset's JSON, and the page is smaller
    assert '"names"' not in text.split('id="propmap-dataset"')[1]
    page = visit(path)
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert_clean(page)
    for index, atoms in enumerate(structures):
        shown = page.page.evaluate(f"window.propmapStructure({index})")
        assert shown["size"] == len(atoms)
        assert shown["names"] == list(atoms.get_chemical_symbols())
        positions = np.column_stack([shown["x"], shown["y"], shown["z"]])
        np.testing.assert_allclose(positions, atoms.positions, atol=1e-5)
        if atoms.pbc.any():
            np.testing.assert_allclose(shown["cell"], atoms.cell.array.ravel())
        else:
            assert "cell" not in shown
    # selecting a point shows its structure in chemiscope's viewer
    select_structure(page, 2)
    assert_clean(page)


@pytest.mark.browser
def test_viewer_keeps_structures_it_cannot_pack(tmp_path, visit, rng):
    """Structures with more than names, positions and a cell (here chemiscope's
    bonds) stay in the dataset as they are."""
    dataset = chemiscope_dataset(
        [g2["CH4"], g2["H2O"], g2["NH3"]],
        properties={"energy": np.arange(3.0)},
        latent=rng.normal(size=(3, 2)),
    )
    dataset["structures"][1]["bonds"] = [[0, 1, 1], [0, 2, 1]]
    path = write_viewer(dataset, tmp_path / "viewer.html")
    assert 'id="propmap-structures"' not in path.read_text("utf-8")
    page = visit(path)
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert page.page.evaluate("window.propmapStructure") is None


@pytest.mark.slow
@pytest.mark.browser
def test_viewer_of_all_of_qm9_opens_within_30_s(tmp_path, visit, rng):
    """As many molecules as QM9 (130,831, the shipped 2,000 repeated; 2.4
    million atoms), every point on the map and a molecule shown, in 30 s."""
    import time

    from propmap.datasets import load_qm9

    shipped = load_qm9()
    n = 130_831
    structures = [shipped[k % len(shipped)] for k in range(n)]
    gap = np.array([atoms.info["gap"] for atoms in shipped])[np.arange(n) % 2000]
    dataset = chemiscope_dataset(
        structures,
        properties={
            "gap": gap,
            "predicted": gap + rng.normal(scale=0.2, size=n),
            "set": np.where(rng.random(n) < 0.8, "train", "test").tolist(),
        },
        latent=rng.normal(size=(n, 2)),
    )
    path = write_viewer(dataset, tmp_path / "viewer.html")
    start = time.perf_counter()
    page = visit(path)
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert page.map_traces()[0]["points"] == n
    select_structure(page, 123456)
    # the structure's 3-D view (in chemiscope's shadow root, which locators enter)
    page.page.locator("#propmap-structure canvas").first.wait_for()
    elapsed = time.perf_counter() - start
    assert_clean(page)
    shown = page.page.evaluate("window.propmapStructure(123456)")
    assert shown["names"] == list(structures[123456].get_chemical_symbols())
    print(f"all of QM9 in the viewer: {elapsed:.1f} s")
    assert elapsed < 30, f"{elapsed:.1f} s"


@pytest.mark.browser
def test_viewer_of_atoms_with_environments(molecules, tmp_path, visit, rng):
    atoms = n_atoms(molecules)
    dataset = chemiscope_dataset(
        molecules,
        properties={"energy": np.arange(len(molecules), dtype=float)},
        atom_properties={
            "charge": rng.normal(size=atoms),
            "element": [[str(s) for s in a.symbols] for a in molecules],
        },
        latent=rng.normal(size=(atoms, 2)),
    )
    page = visit(write_viewer(dataset, tmp_path / "atoms.html"))
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert_clean(page)
    assert page.map_traces()[0]["points"] == atoms


@pytest.mark.browser
def test_viewer_reports_a_broken_dataset(tmp_path, visit):
    broken = {"meta": {"name": "broken"}, "structures": [], "properties": {}}
    page = visit(write_viewer(broken, tmp_path / "broken.html"))
    assert page.status == "error"
    assert page.page.inner_text("#propmap-error").startswith(
        "The viewer could not start:"
    )
    assert any("propmap viewer" in text for text in page.console_errors())
    assert page.blocked == []
    assert page.page.evaluate("window.propmapViewer") is None


@pytest.mark.browser
def test_viewer_of_a_table_shows_the_map_alone(tmp_path, visit, rng):
    rows = 25
    dataset = chemiscope_dataset(
        None,
        properties={
            "name": [f"row {k}" for k in range(rows)],
            "life": rng.normal(size=rows),
        },
        latent=rng.normal(size=(rows, 2)),
    )
    assert not dataset.get("structures")
    page = visit(write_viewer(dataset, tmp_path / "table.html"))
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert_clean(page)
    assert page.map_traces()[0]["points"] == rows
    assert page.page.locator("#propmap-structure").is_hidden()


def test_a_dataset_without_structures_needs_points(rng):
    with pytest.raises(ValueError, match="needs properties or a latent"):
        chemiscope_dataset(None)
    with pytest.raises(ValueError, match="atom_properties need structures"):
        chemiscope_dataset(None, atom_properties={"q": [1.0]}, latent=np.ones((1, 2)))


def test_many_labels_are_numbered_and_units_kept(molecules):
    """Strings of more than 21 distinct values are past what chemiscope takes as
    categories (it shows a warning instead): they become numbers with the labels
    in the description; units go with their properties."""
    count = len(molecules)
    dataset = chemiscope_dataset(
        molecules * 4,
        properties={
            "label": [f"molecule {k}" for k in range(4 * count)],
            "kind": ["a", "b"] * (2 * count),
            "energy": np.arange(4.0 * count),
        },
        latent=np.arange(8.0 * count).reshape(-1, 2),
        units={"energy": "eV"},
    )
    label = dataset["properties"]["label"]
    assert 4 * count > 21
    assert label["values"][:3] == [0, 1, 2]
    assert label["description"].startswith(f"{4 * count} labels, numbered: 0 = mol")
    assert dataset["properties"]["kind"]["values"][:2] == ["a", "b"]
    assert dataset["properties"]["energy"]["units"] == "eV"
    with pytest.raises(ValueError, match="units name the property 'nope'"):
        chemiscope_dataset(molecules, latent=np.ones((count, 2)), units={"nope": "m"})
