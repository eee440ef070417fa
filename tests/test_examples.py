"""The example scripts run end to end (``make demo`` runs the first one)."""

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pcovr_diabetes_writes_figure_and_numbers(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    example = load_example("pcovr_diabetes")
    assert example.main(["--out", str(tmp_path / "out"), "--mixing", "0.5"]) == 0
    figure = tmp_path / "out" / "pcovr_diabetes.png"
    assert figure.read_bytes().startswith(b"\x89PNG")
    summary = json.loads((tmp_path / "out" / "pcovr_diabetes.json").read_text())
    # PCovR sits between the PCA limit and the full regression
    assert summary["r2_test_pca"] < summary["r2_test_pcovr"] <= summary["r2_test_ridge"]
    assert summary["n_train"] + summary["n_test"] == 442
    assert not list((tmp_path / "out").glob("*.tmp"))
    assert "wrote" in capsys.readouterr().out


def test_pcovr_diabetes_rejects_bad_mixing(tmp_path):
    example = load_example("pcovr_diabetes")
    with pytest.raises(SystemExit) as error:
        example.main(["--out", str(tmp_path), "--mixing", "1.5"])
    assert error.value.code == 2
    assert not list(tmp_path.iterdir())


def test_readme_example_runs():
    readme = (EXAMPLES.parent / "README.md").read_text()
    blocks = readme.split("```python\n")[1:]
    assert blocks, "README has no python example"
    for block in blocks:
        namespace = {}
        code = block.split("```")[0]
        if "dask" in code:
            pytest.importorskip("dask.array")
        exec(code, namespace)
        if "dask" in code:  # lazy, with X's row chunks
            latent = namespace["T"]
            assert latent.chunks[0] == namespace["X"].chunks[0]
            assert latent[:5].compute().shape == (5, 2)
        else:
            assert namespace["T"].shape == (442, 2)


def test_s22_motif_contributions_writes_figure_and_tables(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("featomic")
    pytest.importorskip("rdkit")
    example = load_example("s22_motif_contributions")
    out = tmp_path / "out"
    assert example.main(["--out", str(out)]) == 0
    assert (out / "s22_motif_contributions.png").read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((out / "s22_motif_contributions.json").read_text())
    assert numbers["n_dimers"] == 22
    assert numbers["r2_leave_one_out"] > 0.5
    # hydrogen-bonded carboxylic acids bind more strongly than aromatic C-H
    motifs = numbers["motifs"]
    assert (
        motifs["carboxylic acid"]["mean_kcal_mol"]
        < motifs["aromatic CH"]["mean_kcal_mol"]
    )
    summary = (out / "s22_motif_summary.csv").read_text().splitlines()
    assert summary[0].startswith("motif,count,mean")
    assert not list(out.glob("*.tmp"))
    assert "wrote" in capsys.readouterr().out


def test_readme_commands_use_options_that_exist():
    """Every `propmap ...` line of the README's shell blocks names a command and
    options that the command line has."""
    pytest.importorskip("typer")
    import re
    import shlex

    from typer.testing import CliRunner

    from propmap.cli import app

    readme = (EXAMPLES.parent / "README.md").read_text()
    lines = [
        line.split("#")[0].strip()
        for block in readme.split("```bash\n")[1:]
        # a command continued over lines (`\` at the end) is one line
        for line in block.split("```")[0].replace("\\\n", " ").splitlines()
    ]
    commands = [shlex.split(line) for line in lines if line.startswith("propmap ")]
    assert any("--scheduler" in words for words in commands)
    assert any("--per-molecule" in words for words in commands)
    runner = CliRunner()
    for words in commands:
        result = runner.invoke(app, [words[1], "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, words
        for word in words[2:]:
            if word.startswith("--"):
                option = re.escape(word.split("=")[0]) + r"(?![\w-])"
                assert re.search(option, result.output), (words[1], word)


def test_pcovr_blobs_shows_the_mixing_trade(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    example = load_example("pcovr_blobs")
    out = tmp_path / "out"
    assert example.main(["--out", str(out)]) == 0
    assert (out / "pcovr_blobs.png").read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((out / "pcovr_blobs.json").read_text())
    mixing = numbers["mixing"]
    assert set(mixing) == {"0", "0.1", "0.5", "1"}
    # the claims of the docstring: PCA misses y, PCovR finds it, X pays
    assert mixing["1"]["r2_test"] < 0.05
    assert numbers["pca_agreement"] > 0.999  # α = 1 is PCA's plane
    for alpha in ("0", "0.1", "0.5"):
        assert mixing[alpha]["r2_test"] > 0.99
        assert mixing[alpha]["r2_test"] == pytest.approx(
            numbers["ridge_r2_test"], abs=0.005
        )
    assert mixing["1"]["loss_x_test"] < mixing["0.5"]["loss_x_test"]
    assert mixing["0.5"]["loss_x_test"] < mixing["0"]["loss_x_test"]
    curve = numbers["curve"]
    switch = [c["mixing"] for c in curve if c["r2_test"] < 0.5]
    assert min(switch) == pytest.approx(0.85)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
def test_qm9_gap_maps_compare_pcovr_and_kernel_pcovr(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("featomic")
    pytest.importorskip("chemiscope")
    example = load_example("qm9_gap_maps")
    out = tmp_path / "out"
    assert example.main(["--out", str(out)]) == 0
    assert (out / "qm9_gap_maps.png").read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((out / "qm9_gap_maps.json").read_text())
    linear, kernel = numbers["linear"], numbers["rbf"]
    assert (linear["model"], kernel["model"]) == ("PCovR", "KernelPCovR")
    assert numbers["molecules"] == 2000
    # the claims quoted in the closing note: both maps predict the gap
    # well through two dimensions, the kernel model better than the linear one
    assert linear["map_r2_test"] > 0.8
    assert kernel["map_r2_test"] > linear["map_r2_test"]
    assert kernel["full_model_mae_test"] < linear["full_model_mae_test"]
    for name in ("linear", "rbf"):
        assert (out / "qm9_gap_maps" / name / "viewer.html").exists()
    assert "wrote" in capsys.readouterr().out


def test_the_demo_report_shows_the_gallery_scripts_that_ran(tmp_path):
    pytest.importorskip("matplotlib")
    from propmap.viz._report import write_report
    from propmap.workflows._demo import gallery_scripts, gallery_section

    gallery = dict(gallery_scripts(EXAMPLES))
    assert gallery_section(tmp_path, EXAMPLES) is None
    assert load_example("pcovr_blobs").main(["--out", str(tmp_path)]) == 0
    section = gallery_section(tmp_path, EXAMPLES)
    captions = [caption for _, caption in section.figures]
    assert captions == [gallery["pcovr_blobs"]]
    assert section.links == [("pcovr_blobs.json", "numbers of pcovr_blobs")]
    write_report(tmp_path / "report.html", "demo", [section])
    page = (tmp_path / "report.html").read_text()
    assert gallery["pcovr_blobs"] in page
    assert 'href="pcovr_blobs.json"' in page
    # every script of examples/ is in the gallery, titled
    assert sorted(gallery) == sorted(path.stem for path in EXAMPLES.glob("*.py"))
    assert gallery["pcovr_blobs"].startswith("PCA against PCovR")


def test_body_order_reduction_keeps_the_gfre():
    """The example's isometric reduction changes no GFRE (a fast check of the
    step that spares the 8,640² Procrustes SVD)."""
    import numpy as np

    from propmap.metrics import global_reconstruction_error

    example = load_example("qm9_body_order")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 200)) @ rng.standard_normal((200, 300))
    Y = np.tanh(X[:, :40]) + 0.1 * rng.standard_normal((60, 40))
    reduced = example.in_own_span(X)
    assert reduced.shape == (60, 60)
    np.testing.assert_allclose(reduced @ reduced.T, X @ X.T, rtol=1e-10, atol=1e-8)
    for source, target in ((X, Y), (Y, X)):
        plain = global_reconstruction_error(source, target)
        spans = global_reconstruction_error(
            example.in_own_span(source), example.in_own_span(target)
        )
        assert spans == pytest.approx(plain, rel=1e-6)


@pytest.mark.slow
def test_qm9_body_order_shows_what_the_bispectrum_adds(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("featomic")
    example = load_example("qm9_body_order")
    out = tmp_path / "out"
    assert example.main(["--out", str(out)]) == 0
    assert (out / "qm9_body_order.png").read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((out / "qm9_body_order.json").read_text())
    gfre = {(p["from"], p["to"]): p["gfre"] for p in numbers["pairs"]}
    power, bispectrum, soap = numbers["features"]
    assert gfre[power, bispectrum] > 3 * gfre[bispectrum, power]
    assert gfre[bispectrum, power] < 0.05
    assert gfre[power, soap] < 0.03
    assert gfre[soap, power] < 0.03
    assert numbers["widths"][bispectrum] > 10 * numbers["widths"][power]
    assert numbers["n_train"] > 1000


@pytest.mark.slow
def test_qm9_selection_curves_table(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("featomic")
    example = load_example("qm9_selection_curves")
    out = tmp_path / "out"
    assert example.main(["--out", str(out)]) == 0
    assert (out / "qm9_selection_curves.png").read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((out / "qm9_selection_curves.json").read_text())
    ridge, needed = numbers["ridge_rmse"], numbers["columns_needed"]
    expected = {
        "FPS", "CUR", "PCov-FPS", "PCov-CUR", "SelectKBest(f_regression)",
        "SelectKBest(mutual_info)", "SelectFromModel(LassoCV)",
        "SequentialFeatureSelector", "random",
    }  # fmt: skip
    assert set(ridge) == expected
    # the docstring's claims
    assert needed["PCov-CUR"]["CUR @ 100"] <= 10
    assert needed["PCov-CUR"]["FPS @ 100"] <= 5
    assert needed["PCov-FPS"]["CUR @ 100"] < 100
    assert ridge["SelectFromModel(LassoCV)"]["100"] < ridge["PCov-CUR"]["100"]
    assert needed["PCov-CUR"]["SelectFromModel(LassoCV) @ 100"] is None
    assert ridge["PCov-CUR"]["100"] < ridge["CUR"]["100"] < ridge["FPS"]["100"]
    assert set(numbers["mlp_rmse"]["SequentialFeatureSelector"]) == {"20"}


@pytest.mark.slow
def test_qm9_u0_contributions_motif_table(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("featomic")
    pytest.importorskip("rdkit")
    example = load_example("qm9_u0_contributions")
    out = tmp_path / "out"
    assert example.main(["--out", str(out)]) == 0
    assert (out / "qm9_u0_contributions.png").read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((out / "qm9_u0_contributions.json").read_text())
    test = numbers["accuracy"]["additive"]["test"]
    assert test["mae_ev"] < 0.15
    assert test["mae_ev"] < numbers["accuracy"]["baseline_alone"]["test"]["mae_ev"] / 10
    assert numbers["contributions_add_up"] < 1e-9
    # centred per element on the training atoms
    for element in numbers["elements"].values():
        assert abs(element["mean_ev"]) < 0.05
    motifs = numbers["motifs"]
    assert motifs["urea"]["mean"] < 0 < motifs["alkyne"]["mean"]
    assert motifs["methyl"]["count"] > 1000
    table = (out / "qm9_u0_motifs.csv").read_text().splitlines()
    assert table[0] == "motif,count,mean,std,min,max"


# crystals whose energies the default run reads: aspirin's two polymorphs,
# hydrogen-bonded acids, amides and ureas, aromatics
CRYSTAL_HANDFUL = [
    "ACSALA",
    "ACSALA13",
    "BENZEN",
    "UREAXX02",
    "TEPHTH15",
    "PYRZIN01",
    "NAPHTA15",
    "PYRENE07",
    "XULDUD",
    "COUMAR13",
]


def _run_crystal_example(out, codes=None):
    pytest.importorskip("matplotlib")
    pytest.importorskip("featomic")
    pytest.importorskip("pyxtal")
    example = load_example("molecular_crystal_lattice_energies")
    argv = ["--out", str(out)] + (["--codes", *codes] if codes else [])
    assert example.main(argv) == 0
    png = out / "molecular_crystal_lattice_energies.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((out / "molecular_crystal_lattice_energies.json").read_text())
    table = (out / "molecular_crystal_motifs.csv").read_text().splitlines()
    assert table[0] == "motif,count,mean,std,min,max"
    return numbers, {line.split(",")[0] for line in table[1:]}


def test_molecular_crystal_lattice_energies_on_a_handful(tmp_path, capsys):
    numbers, motifs = _run_crystal_example(tmp_path / "out", CRYSTAL_HANDFUL)
    assert numbers["n_crystals"] == len(CRYSTAL_HANDFUL)
    assert numbers["mae_cross_validated_kJ_mol"] > 0
    assert {"carboxylic acid", "urea", "benzene ring", "ester"} <= motifs
    pair = numbers["comparisons"]["ACSALA vs ACSALA13"]
    assert len(pair["most_like"]) == len(pair["most_unlike"]) == 3
    assert pair["most_like"][0]["distance"] <= pair["most_unlike"][0]["distance"]
    assert "cross-validated R²" in capsys.readouterr().out


@pytest.mark.slow
def test_molecular_crystal_lattice_energies_of_every_crystal(tmp_path):
    numbers, motifs = _run_crystal_example(tmp_path / "out")
    assert numbers["n_crystals"] == 55
    # the remnant model explains what the molecules' size does not (measured:
    # R² 0.87, MAE 9.0 kJ/mol; element counts alone R² 0.43, MAE 22.2)
    assert numbers["r2_cross_validated"] > 0.8
    assert numbers["r2_cross_validated"] > numbers["r2_size_baseline"] + 0.3
    assert numbers["mae_cross_validated_kJ_mol"] < 12
    assert {"primary amide", "secondary amide", "nitro", "nitrile"} <= motifs
    # GFN1-xTB against diffusion Monte Carlo: about 8 kJ/mol
    against = numbers["gfn1_against_dmc_kJ_mol"]
    assert set(against) == {"BENZEN", "ADAMAN01", "FORMAM"}
    assert all(abs(v["gfn1"] - v["dmc"]) < 15 for v in against.values())
