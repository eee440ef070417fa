"""A one-page HTML report: figures, numbers, and links to the viewers."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from propmap._files import write_atomically

__all__ = ["ReportSection", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #1f2328; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
     border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
table { border-collapse: collapse; margin: .8rem 0; }
td, th { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left; }
th { background: #f6f8fa; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #57606a; font-size: .9rem; }
a.viewer { display: inline-block; margin: .3rem 0; padding: .35rem .8rem;
           background: #0969da; color: white; border-radius: 6px;
           text-decoration: none; }
"""


@dataclass
class ReportSection:
    """One section of the report.

    Parameters
    ----------
    title : str
    text : str
        A paragraph (plain text, escaped).
    numbers : mapping of str to value
        Shown as a two-column table.
    figures : sequence of (path, caption)
        PNG files, embedded in the page.
    links : sequence of (href, label)
        Links relative to the report (e.g. the viewer).
    """

    title: str
    text: str = ""
    numbers: Mapping[str, object] = field(default_factory=dict)
    figures: Sequence[tuple[Path, str]] = ()
    links: Sequence[tuple[str, str]] = ()


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _section_html(section: ReportSection) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.text:
        parts.append(f"<p>{html.escape(section.text)}</p>")
    for href, label in section.links:
        parts.append(
            f'<p><a class="viewer" href="{html.escape(href, quote=True)}">'
            f"{html.escape(label)}</a></p>"
        )
    if section.numbers:
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_format(v))}</td></tr>"
            for k, v in section.numbers.items()
        )
        parts.append(f"<table>{rows}</table>")
    for path, caption in section.figures:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img alt="{html.escape(caption, quote=True)}" '
            f'src="data:image/png;base64,{data}"><figcaption>'
            f"{html.escape(caption)}</figcaption></figure>"
        )
    return "\n".join(parts)


def write_report(path, title: str, sections: Sequence[ReportSection], intro: str = ""):
    """Write one self-contained HTML page (figures embedded, viewers linked).

    Parameters
    ----------
    path : path-like
        The HTML file, written atomically.
    title : str
        Page title.
    sections : sequence of ReportSection
    intro : str, default=""
        A paragraph under the title.
    """
    body = "\n".join(_section_html(section) for section in sections)
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>"
        + (f"<p>{html.escape(intro)}</p>" if intro else "")
        + f"{body}</body></html>\n"
    )
    write_atomically(Path(path), lambda stream: stream.write(page))
