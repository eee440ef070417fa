"""The documentation: it builds with warnings as errors, its API reference lists
every public name, and its pages open in a browser from disk.

The build runs on a copy of docs/, examples/ and CHANGELOG.md, so the checkout
is left as it was. By default only the quick gallery scripts run
(``PROPMAP_DOCS_GALLERY=quick``, a minute on two cores); the slow test builds
everything, as ``make docs`` does.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docs_helpers import SUBPACKAGES

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
GENERATED = ("_build", "auto_examples", "generated", "sg_execution_times.rst")


def build(folder: Path, gallery: str) -> tuple[Path, subprocess.CompletedProcess]:
    """Build the pages from a copy of the sources in ``folder``; the HTML and
    the finished process."""
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    source = folder / "source"
    shutil.copytree(DOCS, source / "docs", ignore=shutil.ignore_patterns(*GENERATED))
    shutil.copytree(ROOT / "examples", source / "examples")
    shutil.copy(ROOT / "CHANGELOG.md", source / "CHANGELOG.md")
    html = folder / "html"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going"]
    command += ["-q", "-d", str(folder / "doctrees"), str(source / "docs"), str(html)]
    environment = {**os.environ, "PROPMAP_DOCS_GALLERY": gallery, "MPLBACKEND": "Agg"}
    finished = subprocess.run(
        command, capture_output=True, text=True, env=environment, check=False
    )
    return html, finished


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The pages as the default test run builds them (quick gallery scripts)."""
    html, finished = build(tmp_path_factory.mktemp("docs"), "quick")
    assert finished.returncode == 0, finished.stderr[-6000:]
    return html


def test_the_pages_build_without_a_warning(built):
    for page in (
        "index.html",
        "getting_started.html",
        "cli.html",
        "methods.html",
        "api/index.html",
        "api/generated/propmap.decomposition.PCovR.html",
        "auto_examples/index.html",
        "auto_examples/pcovr_diabetes.html",
        "changelog.html",
    ):
        assert (built / page).is_file(), page


def test_the_command_line_page_lists_every_command_and_option(built):
    import typer

    from propmap.cli import app

    page = (built / "cli.html").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f"propmap {name}" in page
        for param in command.params:
            if getattr(param, "hidden", False):
                assert f"{param.opts[0]} " not in page
                continue
            for option in param.opts:
                if option.startswith("-"):
                    assert option in page, (name, option)


def test_the_gallery_pages_show_figures_and_printed_numbers(built):
    page = (built / "auto_examples" / "pcovr_diabetes.html").read_text("utf-8")
    assert re.search(r'<img [^>]*src="../_images/sphx_glr_pcovr_diabetes_001', page)
    assert "test R²: PCA" in page  # the script's printed numbers
    # nothing is fetched from the network (links to papers are fine)
    assert not re.search(r'<(?:script|link|img)[^>]*(?:src|href)="https?://', page)


def documented_names() -> dict[str, set[str]]:
    """Per subpackage, the names its API page documents."""
    names: dict[str, set[str]] = {}
    for page in sorted((DOCS / "api").glob("*.rst")):
        module = None
        in_table = False
        for line in page.read_text(encoding="utf-8").splitlines():
            if match := re.match(r"\.\. currentmodule:: propmap\.(\w+)", line):
                module = match.group(1)
                names.setdefault(module, set())
            elif line.startswith(".. autosummary::"):
                in_table = True
            elif match := re.match(r"\.\. (?:data|autodata):: (\w+)", line):
                names[module].add(match.group(1))
            elif in_table and re.match(r"   \w+$", line):
                names[module].add(line.strip())
            elif in_table and line and not line.startswith(" "):
                in_table = False
    return names


def test_the_api_reference_lists_every_public_name_and_no_other():
    documented = documented_names()
    assert sorted(documented) == sorted(SUBPACKAGES)
    for name in SUBPACKAGES:
        module = importlib.import_module(f"propmap.{name}")
        assert documented[name] == set(module.__all__), name


def test_every_subpackage_is_in_the_reference():
    import propmap

    packages = {
        path.name
        for path in Path(propmap.__file__).parent.iterdir()
        if path.is_dir() and (path / "__init__.py").is_file()
    }
    assert packages == set(SUBPACKAGES) - {"exceptions"}  # a module


@pytest.mark.browser
def test_the_built_pages_open_in_a_browser(built, visit):
    index = visit(built / "index.html")
    assert index.errors == []
    assert index.blocked == []
    assert index.page.title().startswith("propmap")

    api = visit(built / "api" / "generated" / "propmap.decomposition.PCovR.html")
    assert api.errors == []
    assert api.blocked == []
    assert api.page.locator("dt#propmap\\.decomposition\\.PCovR").count() == 1
    # the formulas of the docstring are MathML, drawn without a script
    assert api.page.locator("math").count() > 0

    gallery = visit(built / "auto_examples" / "pcovr_diabetes.html")
    assert gallery.errors == []
    assert gallery.blocked == []
    figure = gallery.page.locator("img.sphx-glr-single-img").first
    figure.wait_for(state="attached")
    assert figure.evaluate("img => img.complete && img.naturalWidth") > 300


@pytest.mark.slow
def test_everything_builds_as_make_docs_builds_it(tmp_path):
    pytest.importorskip("featomic")
    html, finished = build(tmp_path, "all")
    assert finished.returncode == 0, finished.stderr[-6000:]
    for name in [path.stem for path in (ROOT / "examples").glob("*.py")]:
        page = (html / "auto_examples" / f"{name}.html").read_text("utf-8")
        assert f"sphx_glr_{name}_001" in page, name
