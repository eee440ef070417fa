"""chemiscope input files and a standalone HTML viewer that opens from disk.

:func:`chemiscope_dataset` turns structures, their properties and a latent space
into a chemiscope dataset (a plain, strictly JSON-serialisable dict);
:func:`write_chemiscope_json` saves it for https://chemiscope.org or
``chemiscope.show``; :func:`write_viewer` writes one HTML file with chemiscope's
JavaScript and the data inlined, so the map and the structures can be explored in a
browser with no network and no server.
"""

from __future__ import annotations

import gzip
import html
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from numbers import Real
from pathlib import Path

import numpy as np

from propmap._files import write_atomically
from propmap._requirements import require
from propmap.atomistic import as_structure_list

__all__ = ["chemiscope_dataset", "write_chemiscope_json", "write_viewer"]

_EXTRA = 'pip install "propmap[viz]"'
_JSON_SUFFIXES = (".json", ".json.gz")
# chemiscope's browser bundle, shipped with the Python package for its sphinx
# extension: a UMD script that defines the global ``Chemiscope``
_BUNDLE = ("sphinx", "static", "chemiscope.min.js")


# -- the dataset


def _structure_list(structures) -> list:
    structures = as_structure_list(structures)
    for index, atoms in enumerate(structures):
        if not np.isfinite(atoms.positions).all():
            raise ValueError(f"Structure {index} has NaN or infinite positions.")
    return structures


# chemiscope reads a string property as categories, and refuses one of more than
# this many distinct values (its warning says 50; its code stops at 21)
MAX_CATEGORIES = 21


def _coded(column: dict) -> dict:
    """A string property of more categories than chemiscope takes, as numbers:
    each label's position in the order of first appearance, the labels in the
    description (the viewer shows it)."""
    labels: dict[str, int] = {}
    codes = [labels.setdefault(value, len(labels)) for value in column["values"]]
    listed = ", ".join(f"{code} = {label}" for label, code in labels.items())
    if len(listed) > 2000:
        listed = listed[:2000].rsplit(", ", 1)[0] + ", ..."
    note = f"{len(labels)} labels, numbered: {listed}"
    described = column.get("description")
    coded = {**column, "values": [float(code) for code in codes]}
    coded["description"] = f"{described}; {note}" if described else note
    return coded


def _property_values(values, label: str) -> list:
    """One property's values as a list of floats (finite) or of strings
    (categories); ``label`` names the property in errors."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{label} must be one-dimensional; got an array of shape {array.shape}."
        )
    if array.dtype.kind in "US" or (
        array.dtype.kind == "O" and all(isinstance(value, str) for value in array)
    ):
        return [str(value) for value in array]
    unsupported = TypeError(
        f"{label} must hold numbers, or strings for categories; got values of type "
        f"{array.dtype}."
    )
    if array.dtype.kind not in "biufO":
        raise unsupported
    try:
        numbers = array.astype(np.float64)
    except (TypeError, ValueError):
        raise unsupported from None
    bad = np.count_nonzero(~np.isfinite(numbers))
    if bad:
        raise ValueError(
            f"{label} has {bad} NaN or infinite value(s): a chemiscope file is strict "
            "JSON, which cannot store them. Drop or replace them first."
        )
    return numbers.tolist()


def _per_atom(values, label: str, sizes: list[int]) -> list:
    """Per-atom values, given concatenated over the structures or as one array per
    structure, as one flat list checked against the atom counts."""
    n_atoms = sum(sizes)
    if (
        isinstance(values, Sequence | np.ndarray)
        and not isinstance(values, str)
        and len(values) == len(sizes)
        and all(np.ndim(part) == 1 for part in values)
    ):
        for index, (part, size) in enumerate(zip(values, sizes, strict=True)):
            if len(part) != size:
                raise ValueError(
                    f"{label} has {len(part)} values for structure {index}, which "
                    f"has {size} atoms."
                )
        values = [value for part in values for value in part]
    flat = _property_values(values, label)
    if len(flat) != n_atoms:
        raise ValueError(
            f"{label} has {len(flat)} values for {n_atoms} atoms in "
            f"{len(sizes)} structures."
        )
    return flat


def _checked_name(name, label: str, taken: dict) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{label} names must be non-empty strings; got {name!r}.")
    if name in taken:
        raise ValueError(f"The property name {name!r} is used twice.")
    return name


def chemiscope_dataset(
    structures,
    *,
    properties: Mapping | None = None,
    atom_properties: Mapping | None = None,
    latent=None,
    latent_name: str = "PCovR",
    color: str | None = None,
    name: str = "propmap",
    description: str = "",
    environments_cutoff: float | None = None,
    units: Mapping[str, str] | None = None,
) -> dict:
    """A chemiscope dataset for structures, their properties and a latent map.

    The dataset is made by chemiscope's own ``create_input``, and is a plain dict
    that ``json.dumps(dataset, allow_nan=False)`` accepts: save it with
    :func:`write_chemiscope_json` or :func:`write_viewer`, or show it in a
    notebook with ``chemiscope.show_input``.

    Parameters
    ----------
    structures : ase.Atoms, sequence of ase.Atoms or None
        The structures, none of them empty; None for data that are not
        structures (a table's rows), where the viewer shows the map alone.
    properties : mapping of str to array-like, optional
        Per-structure properties: one value per structure, numbers, or strings
        for categories. Strings of more than 21 distinct values (past what
        chemiscope takes as categories) are stored as numbers, each label's
        position in order of first appearance, the labels in the property's
        description.
    atom_properties : mapping of str to array-like, optional
        Per-atom properties, concatenated over the structures in order, or given
        as one array per structure. With them (or a per-atom ``latent``) the
        dataset has an environment around every atom, and the map can show atoms.
    latent : array-like of shape (n, k), k >= 2, optional
        Coordinates of the map, e.g. ``PCovR().transform(X)``, one row per
        structure or, when n is the total number of atoms, one row per atom.
        Added as properties ``"<latent_name> 1"`` ... ``"<latent_name> k"``, and
        the map opens with components 1 and 2 on its axes, showing structures or
        atoms accordingly.
    latent_name : str, default="PCovR"
        Prefix of the latent components' names.
    color : str, optional
        The property that colours the map; by default the first of
        ``properties`` or ``atom_properties`` that the map shows (per structure or
        per atom), if any.
    name : str, default="propmap"
        Name of the dataset, shown above the map.
    description : str, default=""
        Longer description, shown on demand.
    environments_cutoff : float, optional
        Radius (Å) of the environment drawn around a selected atom; by default
        chemiscope's. Only for datasets with per-atom data.
    units : mapping of str to str, optional
        The unit of some properties (shown by the viewer beside their values and
        on the map's axes and colour bar), e.g. ``{"gap": "eV"}``.

    Returns
    -------
    dataset : dict
        ``meta``, ``structures``, ``properties``, ``settings`` and, with per-atom
        data, ``environments``, in chemiscope's input format.

    Raises
    ------
    ImportError
        chemiscope or ase is not installed.
    TypeError
        A structure is not ase.Atoms; a property holds neither numbers nor strings.
    ValueError
        No structures, or one without atoms or with non-finite positions; a
        property's length does not match the structures (or atoms); a property or
        the latent holds NaN or infinity; two properties share a name; the map
        would have fewer than two properties to plot; ``color`` names no
        property, or one that the map cannot show; ``environments_cutoff`` is
        not a positive number, or is given without per-atom data; ``units``
        names no property.

    Examples
    --------
    >>> from ase.build import molecule
    >>> from propmap.viz import chemiscope_dataset
    >>> structures = [molecule(formula) for formula in ("H2O", "NH3", "CH4")]
    >>> dataset = chemiscope_dataset(
    ...     structures,
    ...     properties={"electrons": [10, 10, 10]},
    ...     latent=[[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
    ... )
    >>> sorted(dataset["properties"])
    ['PCovR 1', 'PCovR 2', 'electrons']
    >>> dataset["settings"]["map"]["x"], dataset["settings"]["map"]["color"]
    ({'property': 'PCovR 1'}, {'property': 'electrons'})
    """
    chemiscope = require("chemiscope", "viz")
    if structures is None:
        # a map of data that are not structures: one point per row
        if atom_properties:
            raise ValueError("atom_properties need structures.")
        sizes = []
        n_structures = _row_count(properties, latent)
    else:
        structures = _structure_list(structures)
        sizes = [len(atoms) for atoms in structures]
        n_structures = len(structures)
    n_atoms = sum(sizes)

    # name -> {"target": ..., "values": [...]}, in the order given
    columns: dict[str, dict] = {}
    for key, values in (properties or {}).items():
        key = _checked_name(key, "Property", columns)
        flat = _property_values(values, f"Property {key!r}")
        if len(flat) != n_structures:
            raise ValueError(
                f"Property {key!r} has {len(flat)} values for {n_structures} "
                "structures."
            )
        columns[key] = {"target": "structure", "values": flat}
    for key, values in (atom_properties or {}).items():
        key = _checked_name(key, "Atom property", columns)
        columns[key] = {
            "target": "atom",
            "values": _per_atom(values, f"Atom property {key!r}", sizes),
        }

    for key, column in columns.items():
        values = column["values"]
        if values and isinstance(values[0], str) and len(set(values)) > MAX_CATEGORIES:
            columns[key] = _coded(column)

    for key, unit in (units or {}).items():
        if key not in columns:
            raise ValueError(
                f"units name the property {key!r}, which is not one of "
                f"{sorted(columns)}."
            )
        if unit:
            columns[key]["units"] = str(unit)

    # the map's default colour is the first of these that it can show
    given = list(columns)
    target = "atom" if atom_properties else "structure"
    axes = {}
    if latent is not None:
        coordinates = np.asarray(latent)
        if coordinates.ndim != 2 or coordinates.shape[1] < 2:
            raise ValueError(
                "latent must be a 2-D array with at least two columns; got shape "
                f"{coordinates.shape}."
            )
        if coordinates.shape[0] == n_structures:
            target = "structure"
        elif coordinates.shape[0] == n_atoms:
            target = "atom"
        else:
            raise ValueError(
                f"latent has {coordinates.shape[0]} rows, but there are "
                f"{n_structures} structures and {n_atoms} atoms."
            )
        for component in range(coordinates.shape[1]):
            key = _checked_name(f"{latent_name} {component + 1}", "Latent", columns)
            values = _property_values(coordinates[:, component], f"Latent {key!r}")
            columns[key] = {
                "target": target,
                "values": values,
                "description": f"component {component + 1} of the {latent_name} "
                "latent space",
            }
        axes = {"x": f"{latent_name} 1", "y": f"{latent_name} 2"}

    shown = [key for key, column in columns.items() if column["target"] == target]
    if len(shown) < 2:
        raise ValueError(
            f"chemiscope's map plots per-{target} properties against each other, "
            f"and needs two; there are {len(shown)}: give a latent, or more "
            "properties."
        )
    if color is None:
        # not a label per point (names): chemiscope colours by categories only
        # when they repeat
        color = next(
            (
                key
                for key in given
                if columns[key]["target"] == target
                and not _distinct_labels(columns[key]["values"])
            ),
            None,
        )
    elif color not in columns:
        raise ValueError(
            f"color={color!r} is not one of the properties: {sorted(columns)}."
        )
    elif columns[color]["target"] != target:
        raise ValueError(
            f"color={color!r} is a per-{columns[color]['target']} property, but the "
            f"map shows {target}s."
        )

    per_atom = any(column["target"] == "atom" for column in columns.values())
    if environments_cutoff is not None:
        if not per_atom:
            raise ValueError(
                "environments_cutoff is for datasets with per-atom data: give "
                "atom_properties or a per-atom latent."
            )
        if (
            isinstance(environments_cutoff, bool)
            or not isinstance(environments_cutoff, Real)
            or not 0 < environments_cutoff < np.inf
        ):
            raise ValueError(
                "environments_cutoff must be a positive, finite number; got "
                f"{environments_cutoff!r}."
            )
    environments = None
    if per_atom:
        cutoff = {} if environments_cutoff is None else {"cutoff": environments_cutoff}
        environments = chemiscope.all_atomic_environments(structures, **cutoff)

    settings = chemiscope.quick_settings(
        **axes,
        map_color=color,
        target=target,
        periodic=structures is not None
        and all(atoms.cell.rank == 3 for atoms in structures),
    )
    # every point drawn: past 10,000 points chemiscope's adaptive resolution
    # would show a subsample of the map (its settings can turn it back on)
    settings["map"]["useLOD"] = False
    metadata = {"name": name}
    if description:
        metadata["description"] = description
    return chemiscope.create_input(
        structures,
        metadata=metadata,
        properties=columns,
        environments=environments,
        settings=settings,
    )


def _distinct_labels(values: list) -> bool:
    """Strings that are all different: names, not categories."""
    return (
        len(values) > 1
        and isinstance(values[0], str)
        and len(set(values)) == len(values)
    )


def _row_count(properties, latent) -> int:
    """The number of points of a dataset without structures."""
    if latent is not None:
        return int(np.asarray(latent).shape[0])
    if properties:
        return len(_property_values(next(iter(properties.values())), "Property"))
    raise ValueError("a dataset without structures needs properties or a latent.")


def write_chemiscope_json(dataset: Mapping, path) -> Path:
    """Save a chemiscope dataset as JSON, gzip-compressed for a ``.json.gz`` path,
    atomically: the file appears complete or not at all.

    Parameters
    ----------
    dataset : mapping
        From :func:`chemiscope_dataset` (or ``chemiscope.create_input``).
    path : path-like
        Ends with ``.json`` or ``.json.gz``; its folder must exist.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        The suffix is neither; the dataset holds NaN or infinity.
    FileNotFoundError
        The folder of ``path`` does not exist.
    """
    path = Path(path)
    if not path.name.endswith(_JSON_SUFFIXES):
        raise ValueError(
            f"A chemiscope file ends with .json or .json.gz; got {str(path)!r}."
        )
    data = _strict_json(dataset).encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    write_atomically(path, lambda stream: stream.write(data), "wb")
    return path


# -- the viewer

_STYLE = """
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; font-family: system-ui, sans-serif;
       color: #1f2328; background: #fff; }
header { display: flex; align-items: baseline; gap: 1rem; padding: .45rem 1rem;
         border-bottom: 1px solid #d0d7de; }
header h1 { margin: 0; font-size: 1.1rem; font-weight: 600; }
#propmap-status { color: #57606a; font-size: .9rem; }
.propmap-message { display: none; margin: .5rem 1rem; padding: .6rem .9rem;
                   border-radius: 6px; white-space: pre-wrap; }
.propmap-message.shown { display: block; }
#propmap-error { border: 1px solid #d1242f; background: #ffebe9; color: #82071e; }
#propmap-warning { border: 1px solid #bf8700; background: #fff8c5; color: #6f4e00; }
main { flex: 1; min-height: 0; display: flex; gap: .75rem; padding: .5rem 1rem 1rem; }
.propmap-column { flex: 1 1 0; min-width: 0; display: flex; flex-direction: column; }
#propmap-map { flex: 1; min-height: 0; display: flex; flex-direction: column; }
#propmap-map > div:first-child { flex: 1; min-height: 0; }
#propmap-structure { flex: 1; min-height: 0; }
#propmap-info { flex: none; }
@media (max-width: 800px) {
  main { flex-direction: column; }
  .propmap-column { flex: none; height: 90vh; }
}
"""

# Runs after chemiscope's bundle: reads the dataset from its JSON script element
# and starts the visualizer; the outcome is left in body[data-status] and
# window.propmapViewer for people and tests alike.
_START = """
(function () {
  "use strict";
  var status = document.getElementById("propmap-status");
  function show(id, text) {
    var box = document.getElementById(id);
    box.textContent = text;
    box.classList.add("shown");
  }
  function fail(error) {
    console.error("propmap viewer:", error);
    show("propmap-error", "The viewer could not start: " +
      (error && error.message ? error.message : String(error)));
    status.textContent = "";
    document.body.dataset.status = "error";
  }
  // the structures as write_viewer packs them: atoms' positions (float32),
  // element codes and each structure's size, base64-encoded; returns the
  // structure of an index as chemiscope wants it
  function unpack(packed) {
    function buffer(text) {
      var raw = atob(text), bytes = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
      return bytes.buffer;
    }
    var sizes = new Int32Array(buffer(packed.sizes));
    var codes = packed.wide ? new Uint16Array(buffer(packed.codes))
                            : new Uint8Array(buffer(packed.codes));
    var positions = new Float32Array(buffer(packed.positions));
    var starts = new Float64Array(sizes.length + 1);
    for (var k = 0; k < sizes.length; k++) { starts[k + 1] = starts[k] + sizes[k]; }
    return function (index) {
      var first = starts[index], size = sizes[index];
      var structure = {size: size, names: [], x: [], y: [], z: []};
      for (var atom = first; atom < first + size; atom++) {
        structure.names.push(packed.elements[codes[atom]]);
        structure.x.push(positions[3 * atom]);
        structure.y.push(positions[3 * atom + 1]);
        structure.z.push(positions[3 * atom + 2]);
      }
      var cell = packed.cells[String(index)];
      if (cell !== undefined) { structure.cell = cell; }
      return structure;
    };
  }
  try {
    if (typeof Chemiscope === "undefined") {
      throw new Error("chemiscope's script did not load");
    }
    var dataset = JSON.parse(
      document.getElementById("propmap-dataset").textContent);
    var packed = document.getElementById("propmap-structures");
    var config = {};
    if (packed !== null) {
      window.propmapStructure = unpack(JSON.parse(packed.textContent));
      config.loadStructure = function (index) {
        return window.propmapStructure(index);
      };
    }
    var warnings = new Chemiscope.Warnings();
    warnings.addHandler(function (message) { show("propmap-warning", message); });
    var places = config;
    places.map = "propmap-map";
    places.info = "propmap-info";
    places.meta = "propmap-meta";
    var visualizer = Chemiscope.MapVisualizer;
    if (dataset.structures && dataset.structures.length > 0) {
      places.structure = "propmap-structure";
      visualizer = Chemiscope.DefaultVisualizer;
    } else {
      // rows of a table: no structure to show, the map takes the page
      document.getElementById("propmap-structure").style.display = "none";
    }
    visualizer.load(places, dataset, warnings).then(function (viewer) {
      window.propmapViewer = viewer;
      status.textContent = "";
      document.body.dataset.status = "loaded";
    }, fail);
  } catch (error) {
    fail(error);
  }
})();
"""


def read_chemiscope_structures(path) -> list:
    """The structures of a chemiscope file (``.json`` or ``.json.gz``, as
    :func:`write_chemiscope_json` writes them) as ase.Atoms: symbols, positions
    and, where given, the periodic cell.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    structures : list of ase.Atoms

    Raises
    ------
    ValueError
        The file is not a chemiscope dataset with structures.
    """
    import gzip

    import ase

    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as stream:
            dataset = json.load(stream)
        structures = dataset["structures"]
        return [
            ase.Atoms(
                symbols=structure["names"],
                positions=np.column_stack(
                    [structure["x"], structure["y"], structure["z"]]
                ),
                **(
                    {"cell": np.reshape(structure["cell"], (3, 3)), "pbc": True}
                    if "cell" in structure
                    else {}
                ),
            )
            for structure in structures
        ]
    except (OSError, EOFError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(
            f"{path} is not a chemiscope file with structures "
            f"({type(error).__name__}: {error})."
        ) from None


# the keys of the structures chemiscope_dataset makes; others (bonds, shapes,
# custom data) stay in the dataset as they are
_PACKABLE = frozenset({"size", "names", "x", "y", "z", "cell"})


def _packed_structures(dataset: Mapping) -> tuple[Mapping, dict | None]:
    """The dataset with its structures replaced by placeholders (``size`` and
    ``data``, the index) and the structures packed: every atom's position in
    float32 and element code, base64-encoded; the page's ``loadStructure``
    unpacks one when chemiscope shows it.

    The JSON of a structure spends about 45 bytes an atom, the packed form 17.
    """
    structures = dataset.get("structures") or []
    if not structures or any(
        not isinstance(structure, Mapping) or not set(structure) <= _PACKABLE
        for structure in structures
    ):
        return dataset, None
    import base64

    sizes = np.array([structure["size"] for structure in structures], np.int32)
    elements: dict[str, int] = {}
    codes = np.fromiter(
        (
            elements.setdefault(name, len(elements))
            for structure in structures
            for name in structure["names"]
        ),
        dtype=np.int64,
        count=int(sizes.sum()),
    )
    positions = np.empty((codes.size, 3), dtype="<f4")
    start = 0
    for structure, size in zip(structures, sizes, strict=True):
        for axis, key in enumerate("xyz"):
            positions[start : start + size, axis] = structure[key]
        start += size
    wide = len(elements) > 256
    packed = {
        "elements": list(elements),
        "wide": wide,
        "sizes": base64.b64encode(sizes.astype("<i4").tobytes()).decode("ascii"),
        "codes": base64.b64encode(
            codes.astype("<u2" if wide else "u1").tobytes()
        ).decode("ascii"),
        "positions": base64.b64encode(positions.tobytes()).decode("ascii"),
        "cells": {
            str(index): [float(v) for v in structure["cell"]]
            for index, structure in enumerate(structures)
            if "cell" in structure
        },
    }
    placeholders = [
        {"size": int(size), "data": index} for index, size in enumerate(sizes)
    ]
    return {**dataset, "structures": placeholders}, packed


def _strict_json(dataset: Mapping) -> str:
    try:
        return json.dumps(dataset, allow_nan=False, separators=(",", ":"))
    except ValueError as error:
        raise ValueError(
            f"The dataset holds NaN or infinity, which strict JSON cannot store: "
            f"{error}"
        ) from error


def _chemiscope_bundle() -> str:
    """chemiscope's browser script, from the installed Python package."""
    chemiscope = require("chemiscope", "viz")
    bundle = resources.files(chemiscope).joinpath(*_BUNDLE)
    if not bundle.is_file():
        raise FileNotFoundError(
            f"chemiscope {chemiscope.__version__} does not ship {'/'.join(_BUNDLE)}, "
            f"which the viewer inlines: upgrade it ({_EXTRA} --upgrade)."
        )
    # "</script" inside the inlined code would end the script element early; in a
    # JavaScript string, regular expression or comment "<\/" means the same
    return re.sub(r"</(?=script)", r"<\\/", bundle.read_text("utf-8"), flags=re.I)


def write_viewer(dataset: Mapping, path, *, title: str = "propmap viewer") -> Path:
    """Write one self-contained HTML file that shows a chemiscope dataset: the
    map, the selected structure and its properties, from disk and offline.

    chemiscope's JavaScript (from the installed chemiscope package) and the
    dataset are inlined, so the page needs no server and fetches nothing; open it
    with any recent browser. Once the viewer has started, ``document.body`` has
    ``data-status="loaded"`` and ``window.propmapViewer`` is chemiscope's
    ``DefaultVisualizer``; if it fails, the page shows the error and has
    ``data-status="error"``.

    Structures as :func:`chemiscope_dataset` makes them (names, positions,
    cell) are packed: positions in float32 and element codes, base64-encoded in
    their own script element, unpacked one at a time when the viewer shows it
    (``window.propmapStructure(index)`` gives one): for 130,831 QM9 molecules
    (2.4 million atoms) the page is 53 MB instead of 101 MB and opens in 7.8 s
    instead of 9.4 s in headless Chromium. The chemiscope file keeps full
    precision.

    Parameters
    ----------
    dataset : mapping
        From :func:`chemiscope_dataset` (or ``chemiscope.create_input``).
    path : path-like
        The HTML file, written atomically; its folder must exist.
    title : str, default="propmap viewer"
        Title of the page.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ImportError
        chemiscope is not installed.
    ValueError
        The dataset holds NaN or infinity.
    FileNotFoundError
        The folder of ``path`` does not exist.
    """
    path = Path(path)
    # "<" as \\u003c: the JSON can neither close its script element nor open an
    # HTML comment in it, and JSON.parse reads it back unchanged
    dataset, packed = _packed_structures(dataset)
    data = _strict_json(dataset).replace("<", "\\u003c")
    structures = ""
    if packed is not None:
        structures = (
            '<script type="application/json" id="propmap-structures">'
            + _strict_json(packed).replace("<", "\\u003c")
            + "</script>\n"
        )
    bundle = _chemiscope_bundle()
    title = html.escape(title)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{_STYLE}</style>
</head>
<body data-status="loading">
<header><h1>{title}</h1><span id="propmap-status">Loading…</span></header>
<div id="propmap-error" class="propmap-message" role="alert"></div>
<div id="propmap-warning" class="propmap-message" role="status"></div>
<main>
<div class="propmap-column">
<div id="propmap-meta"></div>
<div id="propmap-map"></div>
</div>
<div class="propmap-column">
<div id="propmap-structure"></div>
<div id="propmap-info"></div>
</div>
</main>
<script>{bundle}</script>
<script type="application/json" id="propmap-dataset">{data}</script>
{structures}<script>{_START}</script>
</body>
</html>
"""
    content = page.encode("utf-8")
    write_atomically(path, lambda stream: stream.write(content), "wb")
    return path
