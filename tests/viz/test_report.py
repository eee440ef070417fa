"""The report page."""

import base64

import pytest

from propmap.viz._report import ReportSection, write_report

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_report_embeds_figures_and_links(tmp_path):
    figure = tmp_path / "map.png"
    figure.write_bytes(PNG)
    path = tmp_path / "report.html"
    write_report(
        path,
        "A <title>",
        [
            ReportSection(
                title="Map",
                text="R² & more",
                numbers={"R² test": 0.912345, "structures": 148},
                figures=[(figure, "The map")],
                links=[("viewer.html", "Open the viewer")],
            )
        ],
        intro="made by a test",
    )
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    assert "A &lt;title&gt;" in page
    assert "R² &amp; more" in page
    assert "0.9123" in page
    assert 'href="viewer.html"' in page
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in page
    assert "http" not in page
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_figure_is_an_error_and_leaves_no_page(tmp_path):
    path = tmp_path / "report.html"
    with pytest.raises(FileNotFoundError):
        write_report(
            path, "t", [ReportSection(title="x", figures=[(tmp_path / "no.png", "")])]
        )
    assert not path.exists()
