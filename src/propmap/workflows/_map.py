"""The map workflow: structures -> SOAP -> (Kernel) PCovR map, its accuracy next
to the full ridge model's, figures, viewer, report and the fitted model.

Steps: read → featurise → split (and composition baseline) → scale →
cross-validate and refit (:class:`~propmap.decomposition.PCovRCV`,
:class:`~propmap.decomposition.KernelPCovRCV`) → evaluate → write.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from propmap._linalg import permute_rows
from propmap.atomistic._io import pack_structures, unpack_structures
from propmap.exceptions import UncenteredDataWarning
from propmap.workflows._cluster import ClusterOptions, cluster_client
from propmap.workflows._map_streamed import (
    check_streamed_options,
    latent_and_ridge,
    read_files,
)
from propmap.workflows._options import (
    Aggregate,
    Baseline,
    Kernel,
    Layout,
    Per,
    SoapOptions,
)
from propmap.workflows._options import WorkflowError as _Error
from propmap.workflows._pipeline import assemble
from propmap.workflows._steps import (
    featurise,
    output_folder,
    point_names,
    read_inputs,
    stage,
    stamp_timings,
    timed_stages,
    write_json,
)
from propmap.workflows._tables import is_feature_file, read_table

__all__ = ["ATOM_MAP_FILES", "MAP_FILES", "map_structures"]

MIN_STRUCTURES = 8
CV_FOLDS = 5
# the mixing: the largest α whose held-out loss is within this share of the best's
LOSS_TOLERANCE = 0.05
MIXING_RULE = (
    "largest α whose mean held-out prediction loss is within 5 % of the best α's"
)
# the kernel width is searched on the folds of at most this many training rows
GAMMA_SEARCH_ROWS = 800
# dense kernel maps of more rows than this are refused (n x n kernels)
GRAM_ROWS = 8192
# a sketch-map of more rows than this is fitted on this many landmarks (FPS)
SKETCH_LANDMARKS = 500
MAP_FILES = {
    "map": "map.png",
    "parity": "parity.png",
    "sweep": "mixing_sweep.png",
    "viewer": "viewer.html",
    "chemiscope": "chemiscope.json.gz",
    "model": "model.joblib",
    "summary": "summary.json",
    "report": "report.html",
}
# a map of atoms also shows them coloured by element
ATOM_MAP_FILES = {**MAP_FILES, "elements": "map_elements.png"}


def _check_options(kernel, gamma, sparse, mixing, penalty, components) -> Kernel:
    """Refuse conflicting or ignored options before any work; the kernel to use."""
    if kernel is None:
        kernel = Kernel.rbf if sparse is not None else Kernel.linear
    try:
        kernel = Kernel(kernel)
    except ValueError:
        choices = ", ".join(k.value for k in Kernel)
        raise _Error(f"unknown kernel {kernel!r}; choose from {choices}.") from None
    if sparse is not None and kernel != Kernel.rbf:
        raise _Error(
            f"--sparse (Nyström) works with the rbf kernel, not {kernel.value}; "
            "leave out --kernel or use --kernel rbf."
        )
    if sparse is not None and sparse < 2:
        raise _Error(f"--sparse needs at least 2 active points, not {sparse}.")
    if gamma is not None and kernel == Kernel.linear:
        raise _Error("--gamma has no effect with the linear kernel.")
    if gamma is not None and not gamma > 0:
        raise _Error(f"--gamma must be positive, not {gamma}.")
    if mixing is not None and not 0.0 <= mixing <= 1.0:
        raise _Error(f"--mixing must be in [0, 1], not {mixing}.")
    if penalty is not None and not penalty > 0:
        raise _Error(f"--alpha (the ridge penalty) must be positive, not {penalty}.")
    if components < 2:
        raise _Error(f"a map needs at least 2 components, not {components}.")
    return kernel


def _r2(truth: np.ndarray, residual: np.ndarray) -> float:
    total = np.sum((truth - truth.mean()) ** 2)
    return float(1.0 - np.sum(residual**2) / total) if total > 0 else float("nan")


def _scores(truth, predicted, baseline=None) -> dict[str, float]:
    """MAE, RMSE and R²; with a baseline also the R² of what it leaves (the R² of
    a total energy is 1.000 for any sensible model)."""
    residual = truth - predicted
    scores = {
        "mae": float(np.mean(np.abs(residual))),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "r2": _r2(truth, residual),
    }
    if baseline is not None and np.any(baseline != 0):
        scores["r2_after_baseline"] = _r2(truth - baseline, residual)
    return scores


def _gamma_rule(kernel, gamma_grid: bool, sparse, n_train: int) -> str | None:
    """How γ was chosen, in words."""
    if kernel == Kernel.linear:
        return None
    if not gamma_grid:
        return "given"
    rows = min(n_train, GAMMA_SEARCH_ROWS)
    return (
        f"{CV_FOLDS}-fold cross-validation on {rows} training structures: smallest "
        "held-out loss of the full model over factors of 2 (1/16 to 16) of 1 / the "
        "median squared distance between them"
    )


def _unseen_elements(compositions, train, test) -> list[str]:
    """Elements of test structures that no training structure has (objects with
    ``.numbers``)."""
    from ase.data import chemical_symbols

    seen = {int(z) for i in train for z in np.unique(compositions[i].numbers)}
    held = {int(z) for i in test for z in np.unique(compositions[i].numbers)}
    return sorted(chemical_symbols[z] for z in held - seen)


@dataclass
class _Fitted:
    """The final model, the full model's predictions and the latent coordinates
    of every structure."""

    model: Any
    ridge_prediction: np.ndarray  # scaled targets, all rows
    latent: np.ndarray


def map_structures(
    paths: list[Path],
    target: str,
    out: Path,
    *,
    mixing: float | None = None,
    kernel: Kernel | str | None = None,
    gamma: float | None = None,
    sparse: int | None = None,
    penalty: float | None = None,
    components: int = 2,
    test_fraction: float = 0.2,
    soap: SoapOptions | None = None,
    aggregate: Aggregate | str = Aggregate.mean,
    baseline: Baseline | str | None = None,
    progress: bool = False,
    seed: int = 0,
    force: bool = False,
    title: str | None = None,
    index: str | None = None,
    layout: Layout | str = Layout.pcovr,
    cluster: ClusterOptions | None = None,
    per: Per | str = Per.structure,
) -> dict[str, Any]:
    """Map structures by (Kernel) PCovR of their SOAP features, coloured by a
    property, and measure how well the map and the full model predict it.

    Parameters
    ----------
    paths : list of path-like
        Structure files or folders (any format ase reads).
    target : str
        The property: an ``info`` key or calculator result of every structure.
    out : path-like
        Output folder (see ``MAP_FILES``); an existing non-empty one needs
        ``force``.
    mixing : float or None, default=None
        The PCovR α; None chooses it by 5-fold cross-validation on the training
        structures: the largest α whose held-out prediction loss is within 5 % of
        the best.
    kernel : {"linear", "rbf", "laplacian"} or None, default=None
        linear: PCovR on the features; otherwise centred Kernel PCovR. None is
        linear, or rbf with ``sparse``.
    gamma : float or None, default=None
        Kernel width; None: cross-validated over 1/4x..4x the median heuristic
        (1 / the median (squared) distance between training structures).
    sparse : int or None, default=None
        Nyström Kernel PCovR on this many active points (picked by FPS).
    penalty : float or None, default=None
        Ridge (kernel ridge) penalty of the regression inside the model; None
        chooses it by the same cross-validation.
    components : int, default=2
        Latent dimensions.
    test_fraction : float, default=0.2
        Share of structures held out for testing; they are used for nothing else.
    soap : SoapOptions or None, default=None
        SOAP settings; None: :meth:`SoapOptions.for_aggregate` (the defaults,
        with a 3.5 Å cutoff for ``aggregate="sum"``).
    aggregate : {"mean", "sum"}, default="mean"
        Structure features as the mean (intensive properties) or the sum
        (extensive ones) of the atoms'.
    baseline : {"none", "composition"} or None, default=None
        Subtract a per-element composition fit (training set) before the model;
        None: composition for ``aggregate="sum"``, none otherwise.
    progress : bool, default=False
        Progress bars and notes on stderr.
    seed : int, default=0
        Seed of the split, the folds and the active points.
    force : bool, default=False
        Write into a non-empty output folder.
    title : str or None, default=None
        Title of the figures and viewer.
    index : str or None, default=None
        For a feature table: the column that names the rows (default: the first
        column, when it is not numeric).
    layout : {"pcovr", "sketch"}, default="pcovr"
        The coordinates the map shows: the model's latent space, or a sketch-map
        (:class:`~propmap.decomposition.SketchMap`, ``components`` dimensions) of
        the scaled features of all rows, fitted on 500 farthest-point landmarks
        when there are more. The sketch-map sees no target: the accuracies are
        the model's either way, and ``propmap project`` places new structures on
        the sketch-map.
    cluster : ClusterOptions or None, default=None
        Run on a dask cluster (a scheduler's address, or local worker
        processes): the structure files are featurised on the workers
        (:func:`~propmap.atomistic.featurize_files`) and their features stay
        there; the linear PCovR map is cross-validated and fitted from their
        d x d moments. Structures (not features) come back for the viewer, up
        to 20,000 of them.
    per : {"structure", "atom"}, default="structure"
        The map's points. ``"atom"``: one point per atom (its SOAP environment)
        and a per-atom ``target`` (``atoms.arrays`` key, e.g. charges or NMR
        shieldings); train, test and cross-validation folds split whole
        structures (no molecule has atoms on both sides); accuracies are per
        atom, also per element; the viewer shows atoms. Linear maps of more
        than 8,192 atoms are cross-validated from the folds' d x d moments;
        kernel maps of that many atoms need ``sparse``.

    Returns
    -------
    summary : dict
        What ``summary.json`` holds.
    """
    kernel = _check_options(kernel, gamma, sparse, mixing, penalty, components)
    layout = Layout(layout)
    aggregate = Aggregate(aggregate)
    per = Per(per)
    if per == Per.atom:
        _check_atom_options(paths, aggregate, baseline, cluster)
    if baseline is None:
        baseline = Baseline.composition if aggregate == Aggregate.sum else Baseline.none
    baseline = Baseline(baseline)
    if not 0.0 < test_fraction < 1.0:
        raise _Error(f"the test fraction must be in (0, 1), not {test_fraction}.")
    from_table = is_feature_file(paths)
    streamed = cluster is not None and cluster.active
    if streamed:
        if from_table:
            raise _Error(
                "--scheduler and --workers stream structure files; a feature table "
                "is read into memory: leave them out."
            )
        check_streamed_options(kernel, sparse, layout)
    if from_table:
        _check_table_options(aggregate, baseline, soap)
        baseline = Baseline.none
    elif index is not None:
        raise _Error("--index names the rows of a feature table, not of structures.")
    soap = soap or SoapOptions.for_aggregate(aggregate)
    with (
        output_folder(out, force) as out,
        cluster_client(cluster),
        timed_stages(),
    ):
        inputs = _read(
            paths, target, soap, aggregate, progress, from_table, index, streamed,
            per, kernel,
        )  # fmt: skip
        # whole structures are split when the points are atoms
        n = len(inputs.y) if inputs.groups is None else len(inputs.structures)
        what = inputs.kind if inputs.groups is None else "structures"
        if n < max(MIN_STRUCTURES, components + 3):
            raise _Error(
                f"{n} {what} are too few for a {components}-component map with "
                f"a test set; give at least {max(MIN_STRUCTURES, components + 3)}."
            )
        _check_kernel_size(inputs, kernel, sparse)
        settings = _Settings(
            kernel, gamma, sparse, penalty, mixing, components, test_fraction, soap,
            aggregate, baseline, progress, seed, layout, streamed,
        )  # fmt: skip
        summary, arrays = _run(inputs, target, settings)
        stage("figures, viewer and report", progress, key="outputs")
        _write_outputs(out, inputs, target, summary, arrays, title)
    return summary


@dataclass
class _Inputs:
    """What the map is made of: structures and their SOAP features, or the rows
    of a feature table."""

    X: np.ndarray
    y: np.ndarray
    names: list[str]
    structures: list | None
    featurizer: Any
    x_scaler: Any
    kind: str  # "structures", "atoms" or "rows"
    columns: list[str] | None = None  # a table's feature columns
    # a map of atoms: the structure of each row (splits keep structures whole)
    groups: np.ndarray | None = None
    # per structure, an object with .numbers (the structures themselves, or
    # their compositions when the structures stayed on a cluster)
    compositions: list | None = None
    # the structures packed (pack_structures): the map's record
    packed: dict | None = None

    def __post_init__(self):
        if self.compositions is None and self.structures is not None:
            self.compositions = self.structures
        if self.packed is None and self.structures is not None:
            self.packed = pack_structures(self.structures)


def _check_atom_options(paths, aggregate, baseline, cluster) -> None:
    """Options that a map of atoms cannot take, refused before any work."""
    if is_feature_file(paths):
        raise _Error("--per atom maps the atoms of structures, not a feature table.")
    if aggregate != Aggregate.mean:
        raise _Error(
            "--aggregate makes structure features from the atoms'; a map of atoms "
            "uses each atom's own: leave it out."
        )
    if baseline is not None and Baseline(baseline) != Baseline.none:
        raise _Error(
            "--baseline composition fits structure totals; a per-atom property has "
            "none: leave it out."
        )
    if cluster is not None and cluster.active:
        raise _Error("--per atom runs in memory: leave out --scheduler and --workers.")


def _check_kernel_size(inputs, kernel, sparse) -> None:
    """A dense kernel map of many rows would need n x n matrices."""
    n = len(inputs.y)
    if kernel != Kernel.linear and sparse is None and n > GRAM_ROWS:
        raise _Error(
            f"a {kernel.value} kernel map of {n:,} {inputs.kind} needs {n:,} x {n:,} "
            f"kernels; use --sparse (e.g. --sparse 2000) or the linear kernel."
        )


def _check_table_options(aggregate, baseline, soap) -> None:
    """Options that only structures have are refused for a feature table."""
    if aggregate != Aggregate.mean:
        raise _Error("--aggregate is for structures; a feature table has no atoms.")
    if baseline is not None and Baseline(baseline) != Baseline.none:
        raise _Error("--baseline composition needs structures, not a feature table.")
    if soap is not None and soap != SoapOptions():
        raise _Error("the SOAP options are for structures, not a feature table.")


def _working_set(kernel: Kernel) -> dict:
    """How the features are held, and what the map needs besides them.

    A linear map holds them once, in float32 (scaled in place), plus three d x d
    float64 matrices (``XᵀX``, its pivoted Cholesky factor and the basis of the
    span), one r x r (r <= d) per fold and for the refit, and, for fewer rows
    than columns, two n x n ones. A kernel map keeps float64 features, a scaled
    copy and its n x n kernels.
    """
    if kernel == Kernel.linear:

        def linear(n, d):
            return 8 * (3 + CV_FOLDS + 1) * d * d + 8 * 2 * min(n, d) ** 2

        return {"dtype": "float32", "copies": 1, "extra": linear}
    return {"copies": 2, "extra": lambda n, d: 8 * 3 * min(n, GRAM_ROWS) ** 2}


def _read(
    paths, target, soap, aggregate, progress, from_table, index, streamed=False,
    points=Per.structure, kernel=Kernel.linear,
) -> _Inputs:  # fmt: skip
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from propmap.preprocessing import StandardFlexibleScaler

    if from_table:
        table = read_table(paths[0], target, index)
        if table.y is None or not np.all(np.isfinite(table.y)):
            raise _Error(f"the target {target!r} has missing or non-numeric values.")
        # columns in their own units: unit variance each, then ‖X‖² = n as for SOAP
        scaler = make_pipeline(StandardScaler(), StandardFlexibleScaler())
        return _Inputs(
            table.X, table.y, table.rows, None, None, scaler, "rows", table.columns
        )
    per = "structure" if aggregate == Aggregate.mean else "sum"
    if streamed:
        found = read_files(paths, target, soap, per, progress)
        return _Inputs(
            found.X, found.y, found.names,
            None if found.packed is None else unpack_structures(found.packed),
            found.featurizer, StandardFlexibleScaler(), "structures",
            compositions=found.compositions, packed=found.packed,
        )  # fmt: skip
    if points == Per.atom:
        return _read_atoms(paths, target, soap, progress, kernel)
    structures, y = read_inputs(paths, target, progress)
    featurizer, X = featurise(structures, soap, per, progress, **_working_set(kernel))
    names = point_names(structures)
    return _Inputs(
        X, y, names, structures, featurizer, StandardFlexibleScaler(), "structures"
    )


def _read_atoms(paths, target, soap, progress, kernel=Kernel.linear) -> _Inputs:
    """The atoms of the structures as the map's rows: per-atom SOAP and the
    per-atom target."""
    from propmap.atomistic import atom_targets
    from propmap.preprocessing import StandardFlexibleScaler

    structures, _ = read_inputs(paths, None, progress)
    values = atom_targets(structures, target)
    for position, value in enumerate(values):
        if value.ndim != 1:
            raise _Error(
                f"the per-atom target {target!r} has {value.shape[1:]} values per "
                f"atom in structure {position}; a map needs one number per atom."
            )
    featurizer, X = featurise(
        structures, soap, "atom", progress, **_working_set(kernel)
    )
    sizes = np.array([len(atoms) for atoms in structures])
    names = point_names(structures, per_atom=True)
    return _Inputs(
        np.asarray(X.toarray() if hasattr(X, "toarray") else X),
        np.concatenate(values), names, structures, featurizer,
        StandardFlexibleScaler(), "atoms",
        groups=np.repeat(np.arange(len(structures)), sizes),
    )  # fmt: skip


@dataclass(frozen=True)
class _Settings:
    """The options of one map, checked."""

    kernel: Kernel
    gamma: float | None
    sparse: int | None
    penalty: float | None
    mixing: float | None
    components: int
    test_fraction: float
    soap: SoapOptions
    aggregate: Aggregate
    baseline: Baseline
    progress: bool
    seed: int
    layout: Layout = Layout.pcovr
    streamed: bool = False  # features on a dask cluster


@dataclass
class _Scaled:
    """The training split, the baseline and the scaled data of every row."""

    train: np.ndarray
    test: np.ndarray
    baseline: Any  # fitted CompositionBaseline or None
    reference: np.ndarray  # the baseline's value for every row (0 without one)
    x_scaler: Any
    y_scaler: Any
    X: np.ndarray
    Y: np.ndarray
    groups: np.ndarray | None = None  # the structure of each row (a map of atoms)
    # X's rows are the inputs' rows in this order (None: the same order): the
    # sorted training rows first, then the sorted test rows
    order: np.ndarray | None = None

    def training_rows(self):
        """The training rows of X (a view when they come first) and their index
        into the inputs' rows."""
        train = np.sort(self.train)
        if self.order is None:
            return self.X[train], train
        return self.X[: train.size], train

    def in_input_order(self, values: np.ndarray) -> np.ndarray:
        """Rows computed from X, put back in the inputs' order."""
        if self.order is None:
            return values
        out = np.empty_like(values)
        out[self.order] = values
        return out


def _run(inputs: _Inputs, target: str, settings: _Settings):
    """Split, scale, cross-validate, fit and evaluate: the summary and what the
    outputs are drawn from."""
    stage("split, baseline and scaling", settings.progress, key="split_and_scale")
    data = _split_and_scale(inputs, settings)
    linear = settings.kernel == Kernel.linear
    stage(
        "cross-validation (penalty, mixing) and final fit"
        if linear
        else "kernels, cross-validation (penalty, γ, mixing) and final fit",
        settings.progress,
        key="cross_validation_and_fit",
    )
    fitted = _fit(data, settings)
    search = not linear and settings.gamma is None
    latent = fitted.latent

    def in_units(scaled: np.ndarray) -> np.ndarray:
        values = data.y_scaler.inverse_transform(scaled.reshape(-1, 1))[:, 0]
        return values + data.reference

    # every model here predicts through its latent space, T P_TY: no second
    # pass of kernels over all structures
    predicted = in_units(latent @ fitted.model.pty_)
    ridge_predicted = in_units(fitted.ridge_prediction)
    accuracy = _accuracy(inputs.y, data, predicted, ridge_predicted)
    if inputs.groups is not None:
        accuracy["per_element"] = _element_accuracy(inputs, data, predicted)
    summary = _summary(inputs, target, settings, data, fitted.model, search, accuracy)
    # the cross-validated estimator is named after the model it refits
    refit = getattr(fitted.model, "best_estimator_", fitted.model)
    summary["model"] = type(refit).__name__.removesuffix("CV")
    shown, embedding = latent, None
    if settings.layout == Layout.sketch:
        stage("sketch-map of the features", settings.progress, key="sketch_map")
        embedding = _sketch_map(data.X, settings.components)
        shown = data.in_input_order(embedding.embedding_)
    summary["layout"] = settings.layout.value
    summary["latent_name"] = "sketch-map" if embedding is not None else summary["model"]
    summary["sketch_map"] = None if embedding is None else _sketch_summary(embedding)
    groups = np.where(np.isin(np.arange(len(inputs.y)), data.test), "test", "train")
    featurizer = inputs.featurizer
    pipeline = assemble(
        None if featurizer is None else featurizer.set_params(progress=False),
        data.x_scaler,
        fitted.model,
        data.y_scaler,
        data.baseline,
        {
            "structures": inputs.packed,
            "latent": shown,
            "latent_name": summary["latent_name"],
            "model_name": summary["model"],
            "target": inputs.y,
            "target_name": target,
            "sets": groups,
            "names": inputs.names,
            "columns": inputs.columns,
            "per": summary["per"],
        },
        embedding,
    )
    arrays = {
        "residual": inputs.y - data.reference,
        "latent": shown,
        "model_latent": latent,
        "predicted": predicted,
        "ridge_predicted": ridge_predicted,
        "test": data.test,
        "pipeline": pipeline,
    }
    return summary, arrays


def _sketch_map(X: np.ndarray, components: int):
    """A sketch-map of the scaled features of every row (landmarks past
    :data:`SKETCH_LANDMARKS` rows)."""
    from propmap.decomposition import SketchMap

    landmarks = SKETCH_LANDMARKS if len(X) > SKETCH_LANDMARKS else None
    return SketchMap(n_components=components, n_landmarks=landmarks).fit(X)


def _sketch_summary(sketch) -> dict[str, Any]:
    return {
        "n_landmarks": sketch.n_landmarks,
        "stress": float(sketch.stress_),
        "parameters": {key: float(value) for key, value in sketch.params_.items()},
    }


def _split_and_scale(inputs: _Inputs, settings: _Settings) -> _Scaled:
    """The train/test split, the composition baseline (training rows) and the
    scaled features and baseline residuals."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from propmap.atomistic import CompositionBaseline
    from propmap.preprocessing import StandardFlexibleScaler

    compositions, X, y, groups = inputs.compositions, inputs.X, inputs.y, inputs.groups
    if groups is None:
        train, test = train_test_split(
            np.arange(len(y)), test_size=settings.test_fraction,
            random_state=settings.seed,
        )  # fmt: skip
        trained, tested = train, test
    else:  # whole structures on either side
        trained, tested = train_test_split(
            np.arange(len(compositions)), test_size=settings.test_fraction,
            random_state=settings.seed,
        )  # fmt: skip
        train, test = (
            np.flatnonzero(np.isin(groups, part)) for part in (trained, tested)
        )
    if settings.sparse is not None and settings.sparse > train.size:
        raise _Error(
            f"--sparse {settings.sparse} is more than the {train.size} training "
            f"{inputs.kind}."
        )
    unseen = (
        [] if compositions is None else _unseen_elements(compositions, trained, tested)
    )
    if unseen:
        warnings.warn(
            f"test structures contain elements no training structure has "
            f"({', '.join(unseen)}): their predictions are extrapolations.",
            UserWarning,
            stacklevel=4,
        )
    reference, baseline = np.zeros(len(y)), None
    if settings.baseline == Baseline.composition:
        baseline = CompositionBaseline().fit([compositions[i] for i in train], y[train])
        reference = baseline.predict(compositions)
    residual = (y - reference)[:, None]
    y_scaler = StandardFlexibleScaler(column_wise=True).fit(residual[train])
    if (
        settings.kernel == Kernel.linear
        and isinstance(X, np.ndarray)
        and type(inputs.x_scaler) is StandardFlexibleScaler
    ):
        # the features are held once: the training rows are moved first, in
        # place, and scaled in place; the fit reads them as one view
        order = np.concatenate([np.sort(train), np.sort(test)])
        permute_rows(X, order)
        inputs.X = None  # (now data.X, in another order)
        x_scaler = clone(inputs.x_scaler).fit(X[: train.size])
        return _Scaled(
            train, test, baseline, reference, x_scaler, y_scaler,
            x_scaler.transform(X, copy=False), y_scaler.transform(residual), groups,
            order,
        )  # fmt: skip
    # (a dask X: sorted rows keep its chunks whole)
    x_scaler = clone(inputs.x_scaler).fit(X[np.sort(train)])
    return _Scaled(
        train, test, baseline, reference, x_scaler, y_scaler,
        x_scaler.transform(X), y_scaler.transform(residual), groups,
    )  # fmt: skip


def _estimator(settings: _Settings):
    """The cross-validated estimator of the map: PCovRCV (linear) or
    KernelPCovRCV (dense, or Nyström with ``sparse``), with the given values as
    one-point grids."""
    from propmap.decomposition import KernelPCovRCV, PCovRCV

    common = {
        "mixings": None if settings.mixing is None else [settings.mixing],
        "alphas": None if settings.penalty is None else [settings.penalty],
        "n_components": settings.components,
        "cv": CV_FOLDS,
        "mixing_tolerance": LOSS_TOLERANCE,
        "random_state": settings.seed,
    }
    if settings.kernel == Kernel.linear:
        # arpack: exact top eigenpairs (the auto policy would take the
        # randomized solver here)
        return PCovRCV(svd_solver="arpack", **common)
    return KernelPCovRCV(
        gammas=None if settings.gamma is None else [settings.gamma],
        kernel=settings.kernel.value,
        n_active=settings.sparse,
        gamma_search_samples=GAMMA_SEARCH_ROWS,
        **common,
    )


def _fit(data: _Scaled, settings: _Settings) -> _Fitted:
    """The estimator chooses the hyperparameters on the training rows' folds and
    refits on them; then the latent coordinates and the full model's predictions
    of every row."""
    model = _estimator(settings)
    if data.order is None and settings.kernel != Kernel.linear:
        # the training rows in the split's order (the folds shuffle them anyway)
        rows, train = data.X[data.train], data.train
    else:
        # (a dask X: sorted rows keep its chunks whole)
        rows, train = data.training_rows()
    groups = None if data.groups is None else data.groups[train]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncenteredDataWarning)  # a subset
        model.fit(rows, data.Y[train], groups=groups)
    if settings.streamed:
        latent, ridge = latent_and_ridge(model, data.X)
    else:
        every = model.transform_predict(data.X)
        latent = data.in_input_order(every.latent)
        ridge = data.in_input_order(every.regressor)
    return _Fitted(model, np.asarray(ridge, dtype=np.float64).ravel(), latent)


def _accuracy(y, data: _Scaled, predicted, ridge_predicted) -> dict:
    """Train and test scores of the map, the full model and the baseline."""
    splits = (("train", data.train), ("test", data.test))
    accuracy = {
        name: {
            split: _scores(y[rows], values[rows], data.reference[rows])
            for split, rows in splits
        }
        for name, values in (("map", predicted), ("full_model", ridge_predicted))
    }
    if data.baseline is not None:
        accuracy["baseline"] = {
            split: _scores(y[rows], data.reference[rows]) for split, rows in splits
        }
    return accuracy


def _elements(inputs) -> np.ndarray:
    """The element symbol of every row of a map of atoms."""
    return np.array(_symbols(np.concatenate([a.numbers for a in inputs.structures])))


def _element_accuracy(inputs, data, predicted) -> dict:
    """Test MAE, RMSE and R² of the map for the atoms of each element."""
    elements = _elements(inputs)[data.test]
    truth, values = inputs.y[data.test], predicted[data.test]
    return {
        element: {
            "atoms": int(np.sum(elements == element)),
            **_scores(truth[elements == element], values[elements == element]),
        }
        for element in sorted(set(elements.tolist()))
    }


def _summary(inputs, target, settings, data, model, search, accuracy) -> dict:
    """What summary.json holds (the model's name is added by the caller), with
    the choices of the cross-validated ``model``."""
    kernel, sparse, baseline = settings.kernel, settings.sparse, data.baseline
    results = model.cv_results_
    cv = f"{CV_FOLDS}-fold cross-validation on the training set"
    from_structures = inputs.structures is not None
    return {
        "structures": len(inputs.y)
        if inputs.groups is None
        else len(inputs.structures),
        "per": "structure" if inputs.groups is None else "atom",
        "points": len(inputs.y),
        "target": target,
        "n_train": int(data.train.size),
        "n_test": int(data.test.size),
        "full_model": "ridge" if kernel == Kernel.linear else f"{kernel} kernel ridge",
        "kernel": kernel.value,
        "gamma": getattr(model, "best_gamma_", None),
        "gamma_chosen_by": _gamma_rule(kernel, search, sparse, data.train.size),
        "n_active": sparse,
        "n_components": settings.components,
        "mixing": model.best_mixing_,
        "mixing_chosen_by": "given"
        if settings.mixing is not None
        else f"{cv}: {MIXING_RULE}",
        "penalty": model.best_penalty_,
        "penalty_chosen_by": "given"
        if settings.penalty is not None
        else f"{cv}: smallest held-out loss of the full model",
        "r2_train": accuracy["map"]["train"]["r2"],
        "r2_test": accuracy["map"]["test"]["r2"],
        "mae_test": accuracy["map"]["test"]["mae"],
        "accuracy": accuracy,
        "gamma_search": [
            {"gamma": float(g), "loss_cv": float(loss)}
            for g, loss in zip(results["gammas"], results["gamma_loss"], strict=True)
        ]
        if search
        else None,
        "sweep": {
            "mixing": results["mixings"].tolist(),
            "loss_x_cv": results["loss_x"].tolist(),
            "loss_y_cv": results["loss_y"].tolist(),
        },
        "input": "structures" if from_structures else "table",
        "aggregate": settings.aggregate.value if from_structures else None,
        "baseline": settings.baseline.value,
        "baseline_element_values": None
        if baseline is None
        else dict(
            zip(
                _symbols(baseline.species_),
                map(float, baseline.element_values_),
                strict=True,
            )
        ),
        "soap": settings.soap.as_dict() if from_structures else None,
        "n_features": int(data.X.shape[1]),
        "seed": settings.seed,
        # features computed and kept on a dask cluster's workers
        "streamed": settings.streamed,
        "files": MAP_FILES if inputs.groups is None else ATOM_MAP_FILES,
    }


def _symbols(numbers) -> list[str]:
    from ase.data import chemical_symbols

    return [chemical_symbols[int(z)] for z in numbers]


def _write_outputs(out, inputs, target, summary, arrays, title) -> None:
    import joblib

    from propmap._files import write_atomically
    from propmap.viz import (
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
    save_figure(
        latent_map(latent, y, value_label=target, axis_labels=labels, title=title),
        files["map"],
    )
    per_atom = summary["per"] == "atom"
    if per_atom:
        save_figure(
            latent_map(
                latent, _elements(inputs), value_label="element",
                axis_labels=labels, title=title, categorical=True,
            ),
            files["elements"],
        )  # fmt: skip
    groups = np.where(np.isin(np.arange(y.size), arrays["test"]), "test", "train")
    # with a baseline, its residual is what the models learn and what shows
    shown, shift, shown_label = y, 0.0, target
    if summary["baseline"] == "composition":
        shift = y - arrays["residual"]
        shown, shown_label = arrays["residual"], f"{target} − composition baseline"
    save_figure(
        parity_plot(
            np.column_stack([shown, shown]),
            np.column_stack([predicted - shift, arrays["ridge_predicted"] - shift]),
            label=[shown_label, shown_label],
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


def _structure_dataset(inputs, target, summary, arrays, groups, title) -> dict:
    """The chemiscope dataset of a map of structures (or of a table's rows)."""
    from propmap.viz import chemiscope_dataset

    model_name, sketch = summary["model"], summary["layout"] == "sketch"
    properties = {} if inputs.structures is not None else {"name": inputs.names}
    properties[target] = inputs.y
    properties[f"{target} (predicted)"] = arrays["predicted"]
    if summary["baseline"] == "composition":
        properties[f"{target} − composition baseline"] = arrays["residual"]
    properties["set"] = groups.tolist()
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
        color=target,
        name=title or f"propmap map of {target}",
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
        "element": _elements(inputs).tolist(),
        "set": groups.tolist(),
    }
    if summary["layout"] == "sketch":
        for k in range(arrays["model_latent"].shape[1]):
            atom_properties[f"{model_name} {k + 1}"] = arrays["model_latent"][:, k]
    test = summary["accuracy"]["map"]["test"]
    return chemiscope_dataset(
        inputs.structures,
        properties={"structure": point_names(inputs.structures)},
        atom_properties=atom_properties,
        latent=arrays["latent"],
        latent_name=summary["latent_name"],
        color=target,
        name=title or f"propmap map of per-atom {target}",
        description=(
            f"{model_name} (mixing {summary['mixing']:g}) of per-atom SOAP features; "
            f"test R² {test['r2']:.3f} over {summary['n_test']} atoms of structures "
            "held out whole"
        ),
    )


def map_section(summary: dict, folder: Path, link_prefix: str, title: str):
    """The report section of one map (also used by the demo)."""
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
    for name, label in (("map", "map (latent)"), ("full_model", summary["full_model"])):
        test = accuracy[name]["test"]
        numbers[f"test MAE, {label}"] = test["mae"]
        numbers[f"test RMSE, {label}"] = test["rmse"]
        numbers[f"test R², {label}"] = test["r2"]
        if "r2_after_baseline" in test:
            numbers[f"test R² after the baseline, {label}"] = test["r2_after_baseline"]
    if "baseline" in accuracy:
        numbers["test MAE, composition baseline alone"] = accuracy["baseline"]["test"][
            "mae"
        ]
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
            numbers[f"test MAE, map, {element} ({scores['atoms']} atoms)"] = scores[
                "mae"
            ]
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
        ],
        links=[(link_prefix + files["viewer"], "Open the interactive viewer")],
    )
