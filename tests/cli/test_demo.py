"""``propmap demo`` end to end, and its viewer in a headless browser."""

import json

import pytest

pytest.importorskip("featomic")
pytest.importorskip("matplotlib")
pytest.importorskip("chemiscope")

from typer.testing import CliRunner

from browser_helpers import assert_clean
from propmap.cli import app


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(app, ["demo", "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out, result


def test_demo_writes_the_report_and_the_viewers(demo):
    out, result = demo
    assert "report.html" in result.output
    report = (out / "report.html").read_text()
    assert 'href="viewer.html"' in report
    assert 'href="contributions/viewer.html"' in report
    assert report.count("data:image/png;base64,") == 5
    for name in ("viewer.html", "contributions/viewer.html", "summary.json"):
        assert (out / name).stat().st_size > 0
    mapped = json.loads((out / "summary.json").read_text())
    assert mapped["structures"] == 148
    assert mapped["r2_test"] > 0.0
    explained = json.loads((out / "contributions" / "summary.json").read_text())
    assert explained["structures"] == 22
    assert explained["motif_instances"] > 100
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert json.loads((out / "summary.json").read_text())["seed"] == 0


def test_demo_refuses_to_overwrite_without_force(demo):
    out, _ = demo
    result = CliRunner().invoke(app, ["demo", "-o", str(out)])
    assert result.exit_code == 1
    assert "--force" in result.stderr


@pytest.mark.browser
def test_demo_viewer_works_offline(demo, visit):
    out, _ = demo
    page = visit(out / "viewer.html")
    assert page.status == "loaded", page.page.inner_text("#propmap-error")
    assert_clean(page)
    assert page.map_traces()[0]["points"] == 148
    assert page.axis_titles() == ["PCovR 1", "PCovR 2"]
    atoms = visit(out / "contributions" / "viewer.html")
    assert atoms.status == "loaded"
    assert_clean(atoms)
    report = visit(out / "report.html")
    assert_clean(report)
