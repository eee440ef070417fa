"""What a map writes: the figures, the chemiscope file and viewer, the model,
summary.json and the report section."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from propmap.workflows._map_summary import atom_elements
from propmap.workflows._steps import stamp_timings, write_json

__all__ = ["map_section", "write_map_outputs"]


def write_map_outputs(out, inputs, target, summary, arrays, title) -> None:
    import joblib

    from propmap._files import write_atomically
    from propmap.viz import (
        calibration_plot,
        latent_map,
        mixing_sweep,
        parity_plot,
        save_figure,
        write_chemiscope_json,
        write_viewer,
    )
    from propmap.viz._report import write_report

    files = {name: out / file for name, file in summary["files"].items()}
    y = inputs.y
    model_name = summary["model"]
    latent_name = summary["latent_name"]
    labels = (f"{latent_name} 1", f"{latent_name} 2")
    latent, predicted = arrays["latent"], arrays["predicted"]
    # with a baseline, its residual is what the models learn and what shows
    shown, shift, shown_label = y, 0.0, target
    if summary["baseline"] == "composition":
        shift = y - arrays["residual"]
        shown, shown_label = arrays["residual"], residual_name(target)
    unit = f" ({summary['unit']})" if summary.get("unit") else ""
    save_figure(
        latent_map(
            latent, shown, value_label=shown_label + unit, axis_labels=labels,
            title=title,
        ),
        files["map"],
    )  # fmt: skip
    per_atom = summary["per"] == "atom"
    if per_atom:
        save_figure(
            latent_map(
                latent, atom_elements(inputs), value_label="element",
                axis_labels=labels, title=title, categorical=True,
            ),
            files["elements"],
        )  # fmt: skip
    groups = np.where(np.isin(np.arange(y.size), arrays["test"]), "test", "train")
    bars = None
    if arrays["predicted_std"] is not None:
        # error bars on the test points (the training points' would hide them)
        bars = np.column_stack([arrays["predicted_std"], arrays["ridge_std"]])
        bars[groups == "train"] = np.nan
        test = arrays["test"]
        save_figure(
            calibration_plot(
                y[test] - predicted[test], arrays["predicted_std"][test],
                label=shown_label + unit,
                title="test set: the map's predicted σ against its errors",
            ),
            files["calibration"],
        )  # fmt: skip
    save_figure(
        parity_plot(
            np.column_stack([shown, shown]),
            np.column_stack([predicted - shift, arrays["ridge_predicted"] - shift]),
            y_std=bars,
            label=[shown_label + unit, shown_label + unit],
            # train first, so that the test points are drawn on top
            groups={"train": groups == "train", "test": groups == "test"},
            panel_titles=[
                f"{model_name} ({summary['n_components']}-D latent space)"
                if summary["layout"] == "sketch"
                else f"map ({summary['n_components']}-D latent space)",
                f"full model ({summary['full_model']})",
            ],
        ),
        files["parity"],
    )
    sweep = summary["sweep"]
    save_figure(
        mixing_sweep(
            sweep["mixing"],
            sweep["loss_x_cv"],
            sweep["loss_y_cv"],
            chosen=summary["mixing"],
        ),
        files["sweep"],
    )
    make = _atom_dataset if per_atom else _structure_dataset
    dataset = make(inputs, target, summary, arrays, groups, title)
    write_chemiscope_json(dataset, files["chemiscope"])
    write_viewer(dataset, files["viewer"], title=title or f"propmap: {target}")
    write_atomically(
        files["model"], lambda stream: joblib.dump(arrays["pipeline"], stream), "wb"
    )
    stamp_timings(summary)
    write_json(files["summary"], summary)
    write_report(
        files["report"],
        title or f"propmap map of {target}",
        [map_section(summary, out, "", title or f"Map of {target}")],
    )


def residual_name(target: str) -> str:
    """What a map with a composition baseline models and shows."""
    return f"{target} − composition baseline"


def _trust(target: str, arrays) -> dict:
    """The viewer's σ of every point's prediction and whether it is in the
    applicability domain (nothing when the model gives no uncertainty)."""
    if arrays.get("predicted_std") is None:
        return {}
    return {
        f"{target} σ": arrays["predicted_std"],
        "domain": np.where(arrays["in_domain"], "in", "out").tolist(),
    }


def _units(summary, *names) -> dict[str, str]:
    return dict.fromkeys(names, summary["unit"]) if summary.get("unit") else {}


def _structure_dataset(inputs, target, summary, arrays, groups, title) -> dict:
    """The chemiscope dataset of a map of structures (or of a table's rows)."""
    from propmap.viz import chemiscope_dataset

    model_name, sketch = summary["model"], summary["layout"] == "sketch"
    properties = {} if inputs.structures is not None else {"name": inputs.names}
    properties[target] = inputs.y
    properties[f"{target} (predicted)"] = arrays["predicted"]
    color = target
    if summary["baseline"] == "composition":
        color = residual_name(target)
        properties[color] = arrays["residual"]
    properties["set"] = groups.tolist()
    properties.update(_trust(target, arrays))
    if sketch:
        for k in range(arrays["model_latent"].shape[1]):
            properties[f"{model_name} {k + 1}"] = arrays["model_latent"][:, k]
    source = "SOAP features" if summary["input"] == "structures" else "the table"
    test = summary["accuracy"]["map"]["test"]
    return chemiscope_dataset(
        inputs.structures,
        properties=properties,
        latent=arrays["latent"],
        latent_name=summary["latent_name"],
        color=color,
        name=title or f"propmap map of {target}",
        units=_units(summary, *(k for k in properties if k.startswith(target))),
        description=("sketch-map of the features; " if sketch else "")
        + f"{model_name} (mixing {summary['mixing']:g}) of {source}"
        f"; test R² {test['r2']:.3f}",
    )


def _atom_dataset(inputs, target, summary, arrays, groups, title) -> dict:
    """The chemiscope dataset of a map of atoms: one environment per atom,
    coloured by the per-atom property."""
    from propmap.viz import chemiscope_dataset

    model_name = summary["model"]
    atom_properties = {
        target: inputs.y,
        f"{target} (predicted)": arrays["predicted"],
        "element": atom_elements(inputs).tolist(),
        "set": groups.tolist(),
        **_trust(target, arrays),
    }
    if summary["layout"] == "sketch":
        for k in range(arrays["model_latent"].shape[1]):
            atom_properties[f"{model_name} {k + 1}"] = arrays["model_latent"][:, k]
    test = summary["accuracy"]["map"]["test"]
    return chemiscope_dataset(
        inputs.structures,
        # numbers, not names: one string per structure would be a category
        # each, more than chemiscope takes
        properties={"structure": np.arange(len(inputs.structures))},
        atom_properties=atom_properties,
        latent=arrays["latent"],
        latent_name=summary["latent_name"],
        color=target,
        name=title or f"propmap map of per-atom {target}",
        units=_units(summary, target, f"{target} (predicted)", f"{target} σ"),
        description=(
            f"{model_name} (mixing {summary['mixing']:g}) of per-atom SOAP features; "
            f"test R² {test['r2']:.3f} over {summary['n_test']} atoms of structures "
            "held out whole"
        ),
    )


def map_section(summary: dict, folder: Path, link_prefix: str, title: str):
    """The report section of one map (also used by the demo).

    Parameters
    ----------
    summary : dict
        The run's ``summary.json``.
    folder : path-like
        The run's output folder.
    link_prefix : str
        The folder's path relative to the report page (e.g. ``"gap/"``).
    title : str
        The section's title.

    Returns
    -------
    ReportSection
        The section, for :func:`propmap.viz.write_report`.
    """
    from propmap.viz._report import ReportSection

    accuracy = summary["accuracy"]
    per_atom = summary.get("per") == "atom"
    points = "atoms" if per_atom else "structures"
    numbers = {
        f"{points} (train / test)": (
            f"{summary['points'] if per_atom else summary['structures']} "
            f"({summary['n_train']} / {summary['n_test']})"
        ),
        "mixing α": summary["mixing"],
        "ridge penalty": summary["penalty"],
    }
    if summary["gamma"] is not None:
        numbers["kernel γ"] = summary["gamma"]
    unit = f" ({summary['unit']})" if summary.get("unit") else ""
    for name, label in (("map", "map (latent)"), ("full_model", summary["full_model"])):
        test = accuracy[name]["test"]
        numbers[f"test MAE{unit}, {label}"] = test["mae"]
        numbers[f"test RMSE{unit}, {label}"] = test["rmse"]
        numbers[f"test R², {label}"] = test["r2"]
        if "r2_after_baseline" in test:
            numbers[f"test R² after the baseline, {label}"] = test["r2_after_baseline"]
        cross = summary.get("cross_validation")
        if cross is not None:
            after = " after the baseline" if cross["after_baseline"] else ""
            numbers[f"cross-validated R²{after}, {label} ({cross['folds']} folds)"] = (
                f"{cross[name]['r2']:.3f} ± {cross[name]['r2_std']:.3f}"
            )
    trust = summary.get("uncertainty")
    if trust is not None:
        numbers["test errors within 1σ / 2σ, map"] = (
            f"{trust['coverage_1sigma']:.0%} / {trust['coverage_2sigma']:.0%}"
        )
        if trust["spearman_abs_error_sigma"] is not None:
            numbers["Spearman(|error|, σ), map"] = trust["spearman_abs_error_sigma"]
        numbers[f"noise level{unit}, map / full model"] = (
            f"{trust['scale']:.3g} / {trust['full_model']['scale']:.3g}"
        )
        numbers["test points outside the applicability domain"] = trust["domain"][
            "test_out_of_domain"
        ]
    if "baseline" in accuracy:
        numbers[f"test MAE{unit}, composition baseline alone"] = accuracy["baseline"][
            "test"
        ]["mae"]
    from_table = summary["input"] == "table"
    numbers["features" if from_table else "SOAP features"] = summary["n_features"]
    baseline = (
        " after subtracting a per-element composition baseline fitted on the "
        "training set"
        if summary["baseline"] == "composition"
        else ""
    )
    if per_atom:
        numbers["structures (split whole)"] = summary["structures"]
        for element, scores in accuracy["per_element"].items():
            numbers[f"test MAE{unit}, map, {element} ({scores['atoms']} atoms)"] = (
                scores["mae"]
            )
    features = (
        "the table's standardised columns"
        if from_table
        else "each atom's SOAP features"
        if per_atom
        else f"the {summary['aggregate']} of atomic SOAP features"
    )
    text = (
        f"{summary['model']} of {features} "
        f"against {summary['target']}{baseline}. The map predicts through its "
        f"{summary['n_components']}-D latent space; the full {summary['full_model']} "
        "uses every feature. Mixing: "
        f"{summary['mixing_chosen_by']}; penalty: {summary['penalty_chosen_by']}."
    )
    sketch = summary.get("sketch_map")
    if sketch is not None:
        text += (
            " The map shows a sketch-map of the same features (it sees no target; "
            f"stress {sketch['stress']:.3g}"
            + (
                f", fitted on {sketch['n_landmarks']} landmarks"
                if sketch["n_landmarks"]
                else ""
            )
            + "); the accuracies are the latent space's."
        )
    files = summary["files"]
    return ReportSection(
        title=title,
        text=text,
        numbers=numbers,
        figures=[
            (folder / files["map"], "Latent map, coloured by the property."),
            (
                folder / files["parity"],
                "Predicted against true values, map and full model.",
            ),
            (folder / files["sweep"], "Cross-validated losses against the mixing α."),
            *(
                [(folder / files["elements"], "The same map, coloured by element.")]
                if "elements" in files
                else []
            ),
            *(
                [
                    (
                        folder / files["calibration"],
                        "Calibration: the observed error of test points against "
                        "their predicted σ, in bins (a calibrated σ lies on the "
                        "diagonal).",
                    )
                ]
                if "calibration" in files
                else []
            ),
        ],
        links=[(link_prefix + files["viewer"], "Open the interactive viewer")],
    )
