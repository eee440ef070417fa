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
        for line in block.split("```")[0].splitlines()
    ]
    commands = [shlex.split(line) for line in lines if line.startswith("propmap ")]
    assert any("--scheduler" in words for words in commands)
    runner = CliRunner()
    for words in commands:
        result = runner.invoke(app, [words[1], "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, words
        for word in words[2:]:
            if word.startswith("--"):
                option = re.escape(word.split("=")[0]) + r"(?![\w-])"
                assert re.search(option, result.output), (words[1], word)
