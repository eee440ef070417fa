"""The pieces of propmap's documentation build that Sphinx does not provide.

- Mathematics as MathML, converted at build time (latex2mathml): the pages
  show formulas without fetching a script from the network.
- The gallery: each example script writes its figures into a folder given by
  ``--out``; :func:`written_figures` puts the new ones on the page.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

LOGGER = logging.getLogger(__name__)

# -- mathematics -----------------------------------------------------------------


def _mathml(latex: str, display: bool, where) -> str:
    from latex2mathml.converter import convert

    try:
        return convert(latex.strip(), display="block" if display else "inline")
    except Exception as error:  # a macro latex2mathml does not know
        LOGGER.warning("cannot convert %r to MathML: %s", latex, error, location=where)
        return f"<code>{latex}</code>"


def _visit_inline(self, node):
    self.body.append(f'<span class="math">{_mathml(node.astext(), False, node)}</span>')
    raise nodes.SkipNode


def _visit_block(self, node):
    if node.get("label"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    self.body.append(f'<div class="math">{_mathml(node.astext(), True, node)}</div>')
    raise nodes.SkipNode


# -- gallery -----------------------------------------------------------------------

_OUTPUT = Path(tempfile.mkdtemp(prefix="propmap-gallery-"))


def _output_folder(src_file: str) -> Path:
    return _OUTPUT / Path(src_file).stem


# PROPMAP_DOCS_QUICK=1: the scripts that take minutes at full size run smaller
QUICK_ARGUMENTS = {
    "qm9_gap_maps": ["--molecules", "500"],
    "qm9_u0_contributions": ["--molecules", "500"],
    "qm9_body_order": ["--molecules", "100"],
    "qm9_selection_curves": ["--molecules", "100"],
}


def _quick() -> bool:
    return os.environ.get("PROPMAP_DOCS_QUICK") == "1"


def example_argv(gallery_conf, script_vars) -> list[str]:
    """The command line each gallery script runs with: its outputs go to a
    folder of their own, whose figures the scraper collects."""
    name = Path(script_vars["src_file"]).stem
    quick = QUICK_ARGUMENTS.get(name, []) if _quick() else []
    return ["--out", str(_output_folder(script_vars["src_file"])), *quick]


def note_reduced_size(app, docname, source):
    """Say on a gallery page when its script ran at a reduced size."""
    name = docname.rpartition("/")[2]
    if not (docname.startswith("auto_examples/") and _quick()):
        return
    if name not in QUICK_ARGUMENTS:
        return
    lines = source[0].splitlines()
    title = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+", line))
    note = [
        "",
        ".. note::",
        "",
        "   These pages were built with ``PROPMAP_DOCS_QUICK=1``: the script ran "
        f"with ``{' '.join(QUICK_ARGUMENTS[name])}``, smaller than its default, "
        "so its numbers differ from a run at full size.",
        "",
    ]
    source[0] = "\n".join(lines[: title + 1] + note + lines[title + 1 :])


def reset_output(gallery_conf, fname) -> None:
    """Start each script with an empty output folder (called before it runs)."""
    shutil.rmtree(_output_folder(fname), ignore_errors=True)


def written_figures(block, block_vars, gallery_conf) -> str:
    """The PNG files the script wrote since the last block, in the order it
    wrote them, as images of the gallery page."""
    from sphinx_gallery.scrapers import figure_rst

    folder = _output_folder(block_vars["src_file"])
    if not folder.is_dir():
        return ""
    seen = block_vars.setdefault("propmap_seen", set())
    written = sorted(
        (p for p in folder.rglob("*.png") if p not in seen),
        key=lambda p: p.stat().st_mtime_ns,
    )
    images = []
    for path, target in zip(written, block_vars["image_path_iterator"], strict=False):
        shutil.copyfile(path, target)
        seen.add(path)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


# -- API reference -----------------------------------------------------------------


def _defined_outside_propmap(obj) -> bool:
    target = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    module = getattr(target, "__module__", None)
    if module is None:  # a method of a built-in type (str.maketrans of an enum)
        return callable(target)
    return not module.startswith("propmap")


# a name ending in "_" outside literals: a fitted attribute such as
# n_components_, which reStructuredText would otherwise read as a link
_LITERAL = re.compile(r"(``.*?``|:\w+:`[^`]*`|`[^`]*`)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\\\w])([A-Za-z](?:\w*[A-Za-z0-9])?)_(?![\w`])")


def escape_fitted_attributes(app, what, name, obj, options, lines):
    """Docstrings are written to be read in ``help()`` too, where a fitted
    attribute is written plainly as ``n_components_``; on the pages the trailing
    underscore is text, never a reStructuredText reference."""
    # a long "name : type" line continued with a backslash (raw docstrings keep it)
    i = 0
    while i < len(lines) - 1:
        if lines[i].endswith("\\"):
            lines[i : i + 2] = [lines[i][:-1].rstrip() + " " + lines[i + 1].strip()]
        else:
            i += 1
    in_math = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(".. math::"):
            in_math = True
            continue
        if in_math and stripped and not line.startswith((" ", "\t")):
            in_math = False
        if in_math:
            continue
        parts = _LITERAL.split(line)
        parts[::2] = [_TRAILING_UNDERSCORE.sub(r"\1\\_", part) for part in parts[::2]]
        lines[i] = "".join(parts)


def skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out of a class's page the members it inherits from scikit-learn,
    Python or another library: their pages are theirs. A propmap subclass that
    overrides one still shows it."""
    if what in ("class", "exception") and _defined_outside_propmap(obj):
        return True
    return None


# -- the command line ------------------------------------------------------------


def _escape(text: str) -> str:
    """Plain text as reStructuredText that shows it as written."""
    for character in ("\\", "*", "`", "|", "_"):
        text = text.replace(character, "\\" + character)
    return text


def _paragraphs(text: str) -> list[str]:
    blocks = [" ".join(block.split()) for block in (text or "").split("\n\n")]
    return [_escape(block) for block in blocks if block]


def _command_rst(command, context, name: str, level: str) -> list[str]:
    title = f"``{name}``"
    lines = [title, level * len(title), ""]
    for paragraph in _paragraphs(command.help):
        lines += [paragraph, ""]
    usage = " ".join([name, *command.collect_usage_pieces(context)])
    lines += [".. code-block:: text", "", f"   {usage}", ""]
    records = [
        param.get_help_record(context)
        for param in command.params
        if not getattr(param, "hidden", False)
    ]
    for term, description in filter(None, records):
        lines += [f"``{term}``", f"   {_escape(' '.join(description.split()))}", ""]
    return lines


class CommandLineDirective(SphinxDirective):
    """Every command of ``propmap`` with its usage and options, read from the
    typer application when the page is built."""

    has_content = False

    def run(self):
        import typer

        from propmap.cli import app

        group = typer.main.get_command(app)
        context = group.context_class(group, info_name="propmap")
        lines = [*_paragraphs(group.help), ""]
        lines += [
            ".. code-block:: text",
            "",
            "   propmap [OPTIONS] COMMAND [ARGS]...",
            "",
        ]
        for param in group.params:
            record = param.get_help_record(context)
            if record:
                lines += [f"``{record[0]}``", f"   {_escape(record[1])}", ""]
        for name, command in group.commands.items():
            sub_context = command.context_class(command, info_name=name, parent=context)
            lines += _command_rst(command, sub_context, f"propmap {name}", "-")
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(
            self.state, StringList(lines, source="propmap.cli"), node
        )
        return node.children


def setup(app):
    app.add_directive("propmap-command-line", CommandLineDirective)
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("source-read", note_reduced_size)
    # before numpydoc (priority 500) parses the sections
    app.connect("autodoc-process-docstring", escape_fitted_attributes, priority=400)
    app.add_html_math_renderer("mathml", (_visit_inline, None), (_visit_block, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
