"""The options of a map, checked when they are made, and what a map returns.

Messages name the parameters in backquotes (`mixing`); the command line puts
its flags in their place (``propmap.cli._common.report_errors``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from propmap.workflows._options import (
    Aggregate,
    Baseline,
    Kernel,
    Layout,
    Per,
    SoapOptions,
    WorkflowError,
)

__all__ = [
    "ATOM_MAP_FILES",
    "CV_FOLDS",
    "GAMMA_SEARCH_ROWS",
    "GRAM_ROWS",
    "KNOWN_UNITS",
    "LOSS_TOLERANCE",
    "MAP_FILES",
    "MIN_STRUCTURES",
    "MIXING_RULE",
    "SKETCH_LANDMARKS",
    "MapOptions",
    "MapResult",
]

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


# the units of properties known by name: QM9's (load_qm9) and ase's calculator
# results (eV, eV/Å, e)
KNOWN_UNITS = {
    **dict.fromkeys(("U0", "U", "H", "G", "gap", "homo", "lumo", "zpve"), "eV"),
    **dict.fromkeys(("energy", "free_energy"), "eV"),
    "dipole_moment": "D",
    **dict.fromkeys(("mulliken_charges", "charges", "initial_charges"), "e"),
}


def _choice(kind, value, name: str):
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise WorkflowError(
            f"unknown `{name}` {value!r}; choose from {choices}."
        ) from None


@dataclass(frozen=True)
class MapOptions:
    """The choices of one map (:func:`~propmap.workflows.map_structures` lists
    them), checked when made: a value out of range or two that conflict raise
    :class:`~propmap.workflows.WorkflowError` naming the parameters, before any
    work. ``None`` means "choose": by cross-validation (``mixing``, ``penalty``,
    ``gamma``) or from the other options (``kernel``, ``baseline``, ``soap``;
    :meth:`resolved` fills them in)."""

    target: str
    mixing: float | None = None
    penalty: float | None = None
    kernel: Kernel | None = None
    gamma: float | None = None
    sparse: int | None = None
    components: int = 2
    test_fraction: float = 0.2
    per: Per = Per.structure
    aggregate: Aggregate = Aggregate.mean
    baseline: Baseline | None = None
    soap: SoapOptions | None = None
    layout: Layout = Layout.pcovr
    seed: int = 0
    title: str | None = None
    index: str | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        coerce = object.__setattr__
        for name, kind in (
            ("kernel", Kernel),
            ("per", Per),
            ("aggregate", Aggregate),
            ("baseline", Baseline),
            ("layout", Layout),
        ):
            value = getattr(self, name)
            if value is not None:
                coerce(self, name, _choice(kind, value, name))
        self._check_values()
        self._check_combinations()

    def _check_values(self) -> None:
        if not isinstance(self.target, str) or not self.target:
            raise WorkflowError("`target` must name a property.")
        if self.mixing is not None and not 0.0 <= self.mixing <= 1.0:
            raise WorkflowError(f"`mixing` must be in [0, 1], not {self.mixing}.")
        if self.penalty is not None and not self.penalty > 0:
            raise WorkflowError(
                f"`penalty` (of the ridge regression) must be positive, not "
                f"{self.penalty}."
            )
        if self.gamma is not None and not self.gamma > 0:
            raise WorkflowError(f"`gamma` must be positive, not {self.gamma}.")
        if self.sparse is not None and self.sparse < 2:
            raise WorkflowError(
                f"`sparse` needs at least 2 active points, not {self.sparse}."
            )
        if self.components < 2:
            raise WorkflowError(
                f"a map needs at least 2 components, not `components` "
                f"{self.components}."
            )
        if not 0.0 < self.test_fraction < 1.0:
            raise WorkflowError(
                f"`test_fraction` must be in (0, 1), not {self.test_fraction}."
            )

    def _check_combinations(self) -> None:
        kernel = self.model_kernel
        if self.sparse is not None and kernel != Kernel.rbf:
            raise WorkflowError(
                f"`sparse` (Nyström) works with the rbf kernel, not {kernel.value}; "
                "leave out `kernel` or give rbf."
            )
        if self.gamma is not None and kernel == Kernel.linear:
            raise WorkflowError("`gamma` has no effect with the linear kernel.")
        if self.per == Per.atom:
            if self.aggregate != Aggregate.mean:
                raise WorkflowError(
                    "`aggregate` makes structure features from the atoms'; a map "
                    "of atoms (`per` atom) uses each atom's own: leave it out."
                )
            if self.baseline not in (None, Baseline.none):
                raise WorkflowError(
                    "`baseline` composition fits structure totals; a per-atom "
                    "property (`per` atom) has none: leave it out."
                )

    @property
    def target_unit(self) -> str:
        """The target's unit for labels and tables: as given (``""``: none),
        else that of a property propmap knows by name (QM9's and ase's
        calculator results: eV, debye, e), else none."""
        if self.unit is not None:
            return self.unit
        return KNOWN_UNITS.get(self.target, "")

    @property
    def model_kernel(self) -> Kernel:
        """The kernel: as given, else rbf with ``sparse``, else linear."""
        if self.kernel is not None:
            return self.kernel
        return Kernel.rbf if self.sparse is not None else Kernel.linear

    def resolved(self, *, from_table: bool = False, streamed: bool = False):
        """These options for the inputs at hand, with the defaults chosen from
        the others.

        Parameters
        ----------
        from_table : bool, default=False
            The inputs are a feature table (no atoms, no SOAP).
        streamed : bool, default=False
            The structures are streamed on a cluster.

        Returns
        -------
        MapOptions
            A copy with every choice made.
        """
        if from_table:
            if self.per == Per.atom:
                raise WorkflowError(
                    "`per` atom maps the atoms of structures, not a feature table."
                )
            if self.aggregate != Aggregate.mean:
                raise WorkflowError(
                    "`aggregate` is for structures; a feature table has no atoms."
                )
            if self.baseline not in (None, Baseline.none):
                raise WorkflowError(
                    "`baseline` composition needs structures, not a feature table."
                )
            if self.soap is not None and self.soap != SoapOptions():
                raise WorkflowError(
                    "the SOAP options are for structures, not a feature table."
                )
        elif self.index is not None:
            raise WorkflowError(
                "`index` names the rows of a feature table, not of structures."
            )
        if streamed:
            if from_table:
                raise WorkflowError(
                    "`scheduler` and `workers` stream structure files; a feature "
                    "table is read into memory: leave them out."
                )
            if self.per == Per.atom:
                raise WorkflowError(
                    "`per` atom runs in memory: leave out `scheduler` and `workers`."
                )
            if self.model_kernel != Kernel.linear:
                raise WorkflowError(
                    "on a cluster (`scheduler` / `workers`) the map is linear "
                    "PCovR, fitted from the d x d moments of the features; a kernel "
                    "map needs kernels between structures in memory: leave out "
                    "`kernel`, `gamma` and `sparse`, or run without a cluster."
                )
            if self.layout != Layout.pcovr:
                raise WorkflowError(
                    "`layout` sketch needs every feature row in memory; on a "
                    "cluster the map shows the PCovR latent space."
                )
        baseline = self.baseline
        if baseline is None:
            summed = self.aggregate == Aggregate.sum
            baseline = Baseline.composition if summed else Baseline.none
        return replace(
            self,
            kernel=self.model_kernel,
            baseline=Baseline.none if from_table else baseline,
            soap=self.soap or SoapOptions.for_aggregate(self.aggregate),
        )


class MapResult(dict):
    """What :func:`~propmap.workflows.map_structures` returns: the map's
    ``summary.json`` (a dict with its keys), with typed access to what is most
    read and the paths of the files written.

    Parameters
    ----------
    summary : dict
        The map's ``summary.json``.
    folder : path-like
        The map's output folder.
    """

    folder: Path

    def __init__(self, summary: dict[str, Any], folder: Path) -> None:
        super().__init__(summary)
        self.folder = Path(folder)

    @property
    def model(self) -> str:
        """The fitted model's name: PCovR, KernelPCovR or SparseKernelPCovR."""
        return self["model"]

    @property
    def mixing(self) -> float:
        """The mixing α of the map (given, or chosen by cross-validation)."""
        return float(self["mixing"])

    @property
    def penalty(self) -> float:
        """The ridge (kernel ridge) penalty of the map's regression."""
        return float(self["penalty"])

    @property
    def gamma(self) -> float | None:
        """The kernel's width γ; None for a linear map."""
        return self["gamma"]

    @property
    def test_scores(self) -> dict[str, float]:
        """MAE, RMSE and R² of the held-out rows, through the map."""
        return dict(self["accuracy"]["map"]["test"])

    @property
    def files(self) -> dict[str, Path]:
        """Every file written, by role (``map``, ``viewer``, ``model``, ...)."""
        return {name: self.folder / file for name, file in self["files"].items()}
