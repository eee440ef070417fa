"""The map workflow: structures -> SOAP -> (Kernel) PCovR map, its accuracy next
to the full ridge model's, figures, viewer, report and the fitted model.

Steps, one module each: the options (:mod:`._map_options`), the inputs read and
featurised (:mod:`._inputs`; on a cluster :mod:`._map_streamed`), split →
baseline → scale (:mod:`._map_split`), cross-validate and refit
(:class:`~propmap.decomposition.PCovRCV`,
:class:`~propmap.decomposition.KernelPCovRCV`) → evaluate (:mod:`._map_fit`),
the summary (:mod:`._map_summary`) and the files written
(:mod:`._map_outputs`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from propmap.workflows._cluster import (
    ClusterOptions,
    cluster_client,
    release_workers,
)
from propmap.workflows._inputs import check_kernel_size, read_map_inputs
from propmap.workflows._map_fit import fit_and_evaluate
from propmap.workflows._map_options import (
    ATOM_MAP_FILES,
    MAP_FILES,
    MIN_STRUCTURES,
    MapOptions,
    MapResult,
)
from propmap.workflows._map_outputs import map_section, write_map_outputs
from propmap.workflows._options import (
    Aggregate,
    Baseline,
    Kernel,
    Layout,
    Per,
    SoapOptions,
)
from propmap.workflows._options import WorkflowError as _Error
from propmap.workflows._steps import output_folder, stage, timed_stages
from propmap.workflows._tables import is_feature_file

__all__ = [
    "ATOM_MAP_FILES",
    "MAP_FILES",
    "MapOptions",
    "MapResult",
    "map_section",
    "map_structures",
]


def map_structures(
    paths: list[Path],
    target: str | None,
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
    unit: str | None = None,
    options: MapOptions | None = None,
) -> MapResult:
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
        Kernel width; None: cross-validated over factors of 2 (1/16x to 16x) of
        the median heuristic
        (1 / the median (squared) distance between training structures).
    sparse : int or None, default=None
        Nyström Kernel PCovR on this many active points (picked by FPS).
    penalty : float or None, default=None
        Ridge (kernel ridge) penalty of the regression inside the model; None
        chooses it by the same cross-validation (the command line's
        ``--penalty``).
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
        to 20,000 of them. Local workers send the features back instead when
        the in-memory job fits in memory (``ClusterOptions.gather``); the job
        is then the in-memory one (summary ``streamed`` false).
    per : {"structure", "atom"}, default="structure"
        The map's points. ``"atom"``: one point per atom (its SOAP environment)
        and a per-atom ``target`` (``atoms.arrays`` key, e.g. charges or NMR
        shieldings); train, test and cross-validation folds split whole
        structures (no molecule has atoms on both sides); accuracies are per
        atom, also per element; the viewer shows atoms. Linear maps of more
        than 8,192 atoms are cross-validated from the folds' d x d moments;
        kernel maps of that many atoms need ``sparse``.

    unit : str or None, default=None
        The target's unit, on the figures, in the report and the summary
        (``unit``); None: known for QM9's and ase's properties
        (:data:`~propmap.workflows._map_options.KNOWN_UNITS`), else none; ``""``:
        none.
    options : MapOptions or None, default=None
        All of the map's choices at once, instead of the keywords from
        ``mixing`` to ``unit`` (those are then ignored); ``target`` may be None,
        or must equal ``options.target``. ``progress``, ``force`` and
        ``cluster`` say how the job runs and are not options of the map.

    Returns
    -------
    result : MapResult
        What ``summary.json`` holds (a dict), with typed access and the paths of
        the files written.
    """
    if options is None:
        options = MapOptions(
            target, mixing=mixing, penalty=penalty, kernel=kernel, gamma=gamma,
            sparse=sparse, components=components, test_fraction=test_fraction,
            per=per, aggregate=aggregate, baseline=baseline, soap=soap,
            layout=layout, seed=seed, title=title, index=index, unit=unit,
        )  # fmt: skip
    elif target is not None and target != options.target:
        raise _Error(
            f"`target` {target!r} differs from the options' {options.target!r}."
        )
    from_table = is_feature_file(paths)
    streamed = cluster is not None and cluster.active
    options = options.resolved(from_table=from_table, streamed=streamed)
    with (
        output_folder(out, force) as folder,
        cluster_client(cluster) as client,
        timed_stages(),
    ):
        inputs = read_map_inputs(
            paths, options, progress, from_table, streamed,
            gather=streamed and cluster.gathers,
        )  # fmt: skip
        if streamed and isinstance(inputs.X, np.ndarray):
            # features gathered from local workers: the in-memory job from here
            release_workers(client)
            streamed = False
        # whole structures are split when the points are atoms
        n = len(inputs.y) if inputs.groups is None else len(inputs.structures)
        what = inputs.kind if inputs.groups is None else "structures"
        least = max(MIN_STRUCTURES, options.components + 3)
        if n < least:
            raise _Error(
                f"{n} {what} are too few for a {options.components}-component map "
                f"with a test set; give at least {least}."
            )
        check_kernel_size(inputs, options.kernel, options.sparse)
        summary, arrays = fit_and_evaluate(inputs, options, progress, streamed)
        stage("figures, viewer and report", progress, key="outputs")
        write_map_outputs(
            folder, inputs, options.target, summary, arrays, options.title
        )
    return MapResult(summary, Path(out))
