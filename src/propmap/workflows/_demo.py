"""The demo: the main jobs on the data shipped with propmap and ase, and one
report page."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from propmap.workflows._contributions import (
    CONTRIBUTION_SOAP,
    contributions_section,
    explain_contributions,
)
from propmap.workflows._map import map_section, map_structures
from propmap.workflows._steps import output_folder, stage, timed_stages

__all__ = ["run_demo"]

# the gap is intensive (mean of the atoms' SOAP features); U0 is extensive (sum,
# with a per-element composition baseline and the shorter default cutoff of sums)
GAP_MAP = {"target": "gap", "aggregate": "mean"}
U0_MAP = {"target": "U0", "aggregate": "sum"}
S22_TARGET = "interaction_energy"
CRYSTAL_TARGET = "lattice_energy"
S22_SOAP = CONTRIBUTION_SOAP


def _write_inputs(folder: Path) -> tuple[Path, Path]:
    """The embedded data sets as extended-XYZ files a user can open and reuse."""
    import ase.io

    from propmap._files import write_atomically
    from propmap.datasets import load_qm9, load_s22

    folder.mkdir(parents=True, exist_ok=True)
    molecules = load_qm9()
    dimers = load_s22().dimers
    qm9_file, s22_file = folder / "qm9.extxyz", folder / "s22.extxyz"
    write_atomically(qm9_file, lambda f: ase.io.write(f, molecules, format="extxyz"))
    write_atomically(s22_file, lambda f: ase.io.write(f, dimers, format="extxyz"))
    return qm9_file, s22_file


def run_demo(out: Path, *, progress: bool = False, force: bool = False) -> dict:
    """Everything ``propmap demo`` does: a gap map and a U0 map (composition
    baseline) of the 2,000 QM9 molecules shipped with propmap, the contributions
    to the S22 interaction energies and, where pyxtal is installed, to the
    lattice energies of its molecular crystals, and ``report.html`` quoting both
    accuracies of each map; returns the summaries (keys ``gap``, ``u0``,
    ``contributions``, ``crystals``: None without pyxtal) and the time taken
    (``seconds``).

    Parameters
    ----------
    out : path-like
        The output folder.
    progress : bool, default=False
        Show progress bars.
    force : bool, default=False
        Overwrite a non-empty output folder.

    Returns
    -------
    dict
        The summaries and ``seconds``.
    """
    start = time.perf_counter()
    with output_folder(out, force) as out, timed_stages():
        return _demo(out, progress, start)


def _demo(out: Path, progress: bool, start: float) -> dict:
    from propmap.viz._report import write_report

    qm9_file, s22_file = _write_inputs(out / "inputs")
    maps = {}
    for name, settings, title in (
        ("gap", GAP_MAP, "QM9 molecules: HOMO–LUMO gap (eV)"),
        ("u0", U0_MAP, "QM9 molecules: internal energy at 0 K, U0 (eV)"),
    ):
        stage(f"map of the QM9 molecules' {settings['target']}", progress)
        maps[name] = map_structures(
            [qm9_file],
            settings["target"],
            out / name,
            aggregate=settings["aggregate"],
            progress=progress,
            force=True,
            title=title,
        )
    stage("contributions to the S22 interaction energies", progress)
    contributions_folder = out / "contributions"
    explained = explain_contributions(
        [s22_file],
        S22_TARGET,
        contributions_folder,
        soap=S22_SOAP,
        progress=progress,
        force=True,
        title="S22 dimers: interaction energy",
    )
    crystals = _crystal_contributions(out, progress)
    sections = [
        map_section(maps["gap"], out / "gap", "gap/", "Map: QM9 HOMO–LUMO gaps (eV)"),
        map_section(maps["u0"], out / "u0", "u0/", "Map: QM9 energies U0 (eV)"),
        contributions_section(
            explained,
            contributions_folder,
            "contributions/",
            "Contributions: what binds the S22 dimers (kcal/mol)",
        ),
    ]
    if crystals is not None:
        sections.append(
            contributions_section(
                crystals,
                out / "crystals",
                "crystals/",
                "Contributions: lattice energies of molecular crystals (kJ/mol per "
                "molecule, GFN1-xTB)",
            )
        )
    gallery = gallery_section(out)
    if gallery is not None:
        sections.append(gallery)
    elapsed = time.perf_counter() - start
    write_report(
        out / "report.html",
        "propmap demo",
        sections,
        intro=(
            f"Made by `propmap demo` from {maps['gap']['structures']} QM9 molecules "
            "shipped with propmap (Ramakrishnan et al., Sci. Data 1, 140022, 2014), "
            "the S22 dimers shipped with ase"
            + (
                ", and the molecular crystals of pyxtal with propmap's GFN1-xTB "
                "lattice energies"
                if crystals is not None
                else ""
            )
            + f" (inputs in inputs/), in "
            f"{elapsed:.0f} s."
        ),
    )
    return {
        **maps,
        "contributions": explained,
        "crystals": crystals,
        "seconds": elapsed,
    }


def _crystal_contributions(out: Path, progress: bool) -> dict | None:
    """The contributions to the lattice energies of pyxtal's molecular crystals,
    from the files a user would have (None where pyxtal is not installed)."""
    if importlib.util.find_spec("pyxtal") is None:
        return None
    from propmap.datasets import load_molecular_crystals

    stage("contributions to the lattice energies of molecular crystals", progress)
    files = load_molecular_crystals().write(out / "inputs" / "crystals")
    return explain_contributions(
        [files["crystals"]],
        CRYSTAL_TARGET,
        out / "crystals",
        molecules=files["gas"],
        targets=files["targets"],
        per_molecule=True,
        progress=progress,
        force=True,
        title="Molecular crystals: lattice energy (kJ/mol per molecule)",
    )


def gallery_scripts(examples: Path | None = None) -> list[tuple[str, str]]:
    """The example gallery's scripts as (name, title) pairs.

    Every ``NAME.py`` of ``examples`` (by default the ``examples`` folder of the
    working directory: a source checkout, where ``make demo`` runs), titled by
    the first line of its docstring. An installed propmap without the
    checkout has none.

    Parameters
    ----------
    examples : path-like, default=None
        The folder of the scripts; None: ``examples`` in the working directory.

    Returns
    -------
    list of (str, str)
        The scripts' names without ``.py`` and their titles, by name.
    """
    import ast

    folder = Path("examples") if examples is None else Path(examples)
    scripts = []
    for path in sorted(folder.glob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if docstring:
            scripts.append((path.stem, docstring.partition("\n")[0]))
    return scripts


def gallery_section(folder: Path, examples: Path | None = None):
    """The report section of the gallery scripts that have written their figure
    into ``folder`` (None when none has): each figure, and a link to its
    numbers. ``examples`` is the scripts' folder (:func:`gallery_scripts`)."""
    from propmap.viz._report import ReportSection

    present = [
        (name, caption)
        for name, caption in gallery_scripts(examples)
        if (folder / f"{name}.png").is_file()
    ]
    if not present:
        return None
    return ReportSection(
        title="Gallery",
        text=(
            "Figures of the example scripts run into this folder "
            "(python examples/NAME.py); each wrote its numbers beside its figure."
        ),
        figures=[(folder / f"{name}.png", caption) for name, caption in present],
        links=[
            (f"{name}.json", f"numbers of {name}")
            for name, _ in present
            if (folder / f"{name}.json").is_file()
        ],
    )
