"""What a selection of structures starts from and hands on: structures computed
already (``--exclude``), read and featurised with the candidates, and the
picked structures as an extxyz file and in a viewer."""

from __future__ import annotations

import numpy as np

from propmap.workflows._inputs import Inputs, point_names
from propmap.workflows._options import Aggregate
from propmap.workflows._options import WorkflowError as _Error

__all__ = ["read_with_excluded", "write_picked", "write_selection_viewer"]

# the viewer's categories of a sample
PICKED, COMPUTED, CANDIDATE, HELD_OUT = (
    "picked",
    "computed before (--exclude)",
    "not picked",
    "held out (test)",
)


def read_with_excluded(
    paths, exclude, target, soap, aggregate, progress
) -> tuple[Inputs, int]:
    """The candidates' rows followed by those of the ``exclude`` structures,
    featurised together (one SOAP, the same species), and how many of the
    latter there are. With a ``target``, the excluded structures must carry it
    (the error curve trains on them with the picks)."""
    from propmap.atomistic import structure_targets
    from propmap.preprocessing import StandardFlexibleScaler
    from propmap.workflows._inputs import _without_isolated, read_inputs
    from propmap.workflows._steps import featurise

    structures, _ = read_inputs(paths, None, progress)
    structures = _without_isolated(structures, soap.cutoff)
    computed, _ = read_inputs(exclude, None, progress)
    computed = _without_isolated(computed, soap.cutoff)
    y = None
    if target is not None:
        y = structure_targets(structures, target)
        missing = sum(target not in atoms.info for atoms in computed)
        if missing:
            raise _Error(
                f"{missing} of the {len(computed)} excluded structures have no "
                f"{target!r}: the error curve trains on them with the picks. Give "
                "them the target, or leave out --target (fps and cur need none)."
            )
        y = np.concatenate([y, structure_targets(computed, target)])
    pooled = "structure" if Aggregate(aggregate) == Aggregate.mean else "sum"
    featurizer, X = featurise(structures + computed, soap, pooled, progress)
    names = point_names(structures) + [
        f"excluded:{name}" for name in point_names(computed)
    ]
    inputs = Inputs(
        X, y, names, structures + computed, featurizer, StandardFlexibleScaler(),
        "structures",
    )  # fmt: skip
    return inputs, len(computed)


def write_picked(path, structures, order, method: str) -> None:
    """The picked structures, in the order picked, as extxyz: each keeps its
    ``info`` (properties, source) and gains ``selection_rank`` (1 = first)
    and ``selection_method``."""
    import ase.io

    from propmap._files import write_atomically

    picked = []
    for rank, index in enumerate(order, start=1):
        atoms = structures[int(index)].copy()
        atoms.info["selection_rank"] = rank
        atoms.info["selection_method"] = method
        picked.append(atoms)
    write_atomically(path, lambda stream: ase.io.write(stream, picked, format="extxyz"))


def write_selection_viewer(
    path, X, structures, groups, ranks, target, y, title: str
) -> None:
    """A viewer of every sample on the first two principal components of the
    (scaled) features the method picked in, coloured by ``groups`` (picked,
    computed before, not picked, held out), with the pick ``ranks`` (0: not
    picked) and the target."""
    from sklearn.decomposition import PCA

    from propmap.viz import chemiscope_dataset, write_viewer

    latent = PCA(n_components=2, random_state=0).fit_transform(
        np.asarray(X, dtype=np.float64)
    )
    properties = {"selection": list(groups), "pick rank": np.asarray(ranks)}
    if y is not None:
        properties[target] = np.asarray(y, dtype=np.float64)
    dataset = chemiscope_dataset(
        structures, properties=properties, latent=latent, latent_name="PCA",
        color="selection", name=title,
        description="Picked samples among the candidates, on the first two "
        "principal components of the features the selection compared; pick "
        "rank 1 is the first pick, 0 not picked.",
    )  # fmt: skip
    write_viewer(dataset, path, title=title)
