"""Sphinx configuration of propmap's documentation.

Built offline: no intersphinx, no remote images or fonts. ``make docs`` builds
everything; the test suite builds it with ``PROPMAP_DOCS_GALLERY=quick`` (only
the quick gallery scripts run) and warnings as errors.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

import propmap  # noqa: E402

project = "propmap"
author = "The propmap developers"
copyright = "The propmap developers"
release = version = propmap.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "propmap_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
nitpicky = False
default_role = "literal"

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# Formulas become MathML at build time (_ext/propmap_docs.py): no script, no network.
html_math_renderer = "mathml"

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"propmap {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 8,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = False
html_copy_source = False

# -- Gallery -----------------------------------------------------------------
# Each example writes its figures and numbers into a folder; the scraper in
# _ext/propmap_docs.py puts the figures on the page. Scripts that take minutes
# run at a reduced size under PROPMAP_DOCS_QUICK=1, which their pages say.
GALLERY = os.environ.get("PROPMAP_DOCS_GALLERY", "all")
QUICK_EXAMPLES = r"(pcovr_diabetes|pcovr_blobs)\.py$"
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": QUICK_EXAMPLES if GALLERY == "quick" else r"\.py$",
    "ignore_pattern": r"__init__\.py|_gallery\.py",
    "plot_gallery": "False" if GALLERY == "none" else "True",
    "image_scrapers": ("propmap_docs.written_figures",),
    "reset_argv": "propmap_docs.example_argv",
    "reset_modules": ("propmap_docs.reset_output",),
    # a reduced run must not reuse a full run's outputs (and the other way round)
    "run_stale_examples": os.environ.get("PROPMAP_DOCS_QUICK") == "1",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    # its page loads scripts from the network; the timings are printed instead
    "write_computation_times": False,
    "show_signature": False,
    "line_numbers": False,
    "first_notebook_cell": None,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "expected_failing_examples": [],
    "only_warn_on_example_error": False,
    "capture_repr": (),
}

myst_heading_anchors = 3
suppress_warnings = [
    "myst.header",
    # numpydoc labels a docstring's references by the docstring; autosummary parses
    # a docstring a second time for its table's summary line, which Sphinx then
    # reports as a second citation of the same label
    "ref.citation",
]

warnings.filterwarnings(
    "ignore", category=UserWarning, message="Matplotlib is currently using agg"
)
