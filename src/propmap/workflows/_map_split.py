"""The map's split and scaling: train and test rows (whole structures for a map
of atoms, copies of one structure kept together), the composition baseline on
the training rows, and the features and targets scaled — in place, held once,
for features in memory."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from propmap._linalg import permute_rows
from propmap.workflows._inputs import Inputs
from propmap.workflows._map_options import MapOptions
from propmap.workflows._options import Baseline, Kernel
from propmap.workflows._options import WorkflowError as _Error

__all__ = ["ScaledRows", "duplicate_labels", "split_and_scale", "unseen_elements"]


@dataclass
class ScaledRows:
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
    # the training rows first (sorted, or for kernel maps in the split's order:
    # the folds of the choices made so far), then the sorted test rows
    order: np.ndarray | None = None
    sorted_training: bool = True

    def training_rows(self):
        """The training rows of X (a view when they come first) and their index
        into the inputs' rows."""
        if self.order is None:
            train = np.sort(self.train) if self.sorted_training else self.train
            return self.X[train], train
        return self.X[: self.train.size], self.order[: self.train.size]

    def in_input_order(self, values: np.ndarray) -> np.ndarray:
        """Rows computed from X, put back in the inputs' order."""
        if self.order is None:
            return values
        out = np.empty_like(values)
        out[self.order] = values
        return out


def split_and_scale(inputs: Inputs, options: MapOptions) -> ScaledRows:
    """The train/test split, the composition baseline (training rows) and the
    scaled features and baseline residuals."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from propmap.atomistic import CompositionBaseline
    from propmap.preprocessing import StandardFlexibleScaler

    compositions, X, y, groups = inputs.compositions, inputs.X, inputs.y, inputs.groups
    repeats = None
    if groups is None and isinstance(X, np.ndarray):
        repeats = duplicate_labels(X)
    if repeats is not None:
        # a structure given twice must not be tested on its own copy
        count = len(repeats) - np.unique(repeats).size
        warnings.warn(
            f"{count} of the {len(repeats)} {inputs.kind} repeat others (the same "
            "features to rounding): each set of copies is kept whole on one side "
            "of the test split and of every cross-validation fold.",
            UserWarning,
            stacklevel=4,
        )
        from sklearn.model_selection import GroupShuffleSplit

        splitter = GroupShuffleSplit(
            n_splits=1, test_size=options.test_fraction, random_state=options.seed
        )
        train, test = next(splitter.split(np.arange(len(y)), groups=repeats))
        trained, tested, groups = train, test, repeats
    elif groups is None:
        train, test = train_test_split(
            np.arange(len(y)), test_size=options.test_fraction,
            random_state=options.seed,
        )  # fmt: skip
        trained, tested = train, test
    else:  # whole structures on either side
        trained, tested = train_test_split(
            np.arange(len(compositions)), test_size=options.test_fraction,
            random_state=options.seed,
        )  # fmt: skip
        train, test = (
            np.flatnonzero(np.isin(groups, part)) for part in (trained, tested)
        )
    if options.sparse is not None and options.sparse > train.size:
        raise _Error(
            f"`sparse` {options.sparse} is more than the {train.size} training "
            f"{inputs.kind}."
        )
    unseen = (
        [] if compositions is None else unseen_elements(compositions, trained, tested)
    )
    if unseen:
        warnings.warn(
            f"test structures contain elements no training structure has "
            f"({', '.join(unseen)}): their predictions are extrapolations.",
            UserWarning,
            stacklevel=4,
        )
    reference, baseline = np.zeros(len(y)), None
    if options.baseline == Baseline.composition:
        baseline = CompositionBaseline().fit([compositions[i] for i in train], y[train])
        reference = baseline.predict(compositions)
    residual = (y - reference)[:, None]
    y_scaler = StandardFlexibleScaler(column_wise=True).fit(residual[train])
    linear = options.kernel == Kernel.linear
    x_scaler = clone(inputs.x_scaler)
    if linear and type(x_scaler) is StandardFlexibleScaler:
        # PCovRCV centres inside (center=True): the features keep their zeros,
        # which makes a map of atoms' moments element by element
        x_scaler.set_params(with_mean=False)
    if isinstance(X, np.ndarray) and type(inputs.x_scaler) is StandardFlexibleScaler:
        # the features are held once: the training rows are moved first, in
        # place, and scaled in place; the fit reads them as one view
        order = np.concatenate([np.sort(train) if linear else train, np.sort(test)])
        permute_rows(X, order)
        inputs.X = None  # (now data.X, in another order)
        x_scaler.fit(X[: train.size])
        return ScaledRows(
            train, test, baseline, reference, x_scaler, y_scaler,
            x_scaler.transform(X, copy=False), y_scaler.transform(residual), groups,
            order, linear,
        )  # fmt: skip
    # (a dask X: sorted rows keep its chunks whole)
    x_scaler.fit(X[np.sort(train)])
    return ScaledRows(
        train, test, baseline, reference, x_scaler, y_scaler,
        x_scaler.transform(X), y_scaler.transform(residual), groups,
        sorted_training=linear,
    )  # fmt: skip


def duplicate_labels(X, decimals: int = 6) -> np.ndarray | None:
    """A label per row, shared by rows whose features are equal to rounding (the
    same structure given twice); None when no row repeats another.

    Rows are compared through 8 random projections (one pass over X, float64
    products by blocks), each rounded to ``decimals`` digits of its spread.
    """
    from sklearn.utils import gen_batches

    rng = np.random.default_rng(0)
    directions = rng.normal(size=(X.shape[1], 8))
    keys = np.concatenate(
        [
            np.asarray(X[rows], dtype=np.float64) @ directions
            for rows in gen_batches(X.shape[0], 512)
        ]
    )
    spread = keys.std(axis=0)
    keys = np.round(keys / np.where(spread > 0, spread, 1.0), decimals)
    _, labels, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return None if counts.max() == 1 else labels.ravel()


def unseen_elements(compositions, train, test) -> list[str]:
    """Elements of test structures that no training structure has (objects with
    ``.numbers``)."""
    from ase.data import chemical_symbols

    seen = {int(z) for i in train for z in np.unique(compositions[i].numbers)}
    held = {int(z) for i in test for z in np.unique(compositions[i].numbers)}
    return sorted(chemical_symbols[z] for z in held - seen)
