"""The additive model of the contributions workflow: fitted on every
structure, cross-validated (with σ of each held-out prediction), and the
size-only baseline on the same folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AdditiveFits", "size_baseline"]


@dataclass
class AdditiveFits:
    """The additive model on every structure, its atoms' contributions, and the
    cross-validated predictions."""

    model: Any
    contributions: list
    cross_validated: np.ndarray
    gas_phase: list | None
    # the remnant features of every atom, and the predictions of the full model
    atom_rows: Any = None
    fitted: Any = None
    # σ of the cross-validated predictions (each fold's posterior and noise
    # level, from its training structures' leave-one-out errors) and of the
    # atoms' contributions (the full model's)
    cross_validated_std: Any = None
    contribution_stds: Any = None

    def molecules_of(self, rows) -> dict:
        """The featurizer's ``molecules`` argument for these structures."""
        if self.gas_phase is None:
            return {}
        return {"molecules": [self.gas_phase[i] for i in rows]}

    @classmethod
    def of(
        cls, structures, y, soap, gas_phase, seed: int, aggregate: str = "sum"
    ) -> AdditiveFits:
        from sklearn.linear_model import RidgeCV
        from sklearn.model_selection import KFold

        from propmap.atomistic import AdditiveModel, RemnantFeaturizer

        def make_model():
            return AdditiveModel(
                RemnantFeaturizer(soap),
                regressor=RidgeCV(alphas=np.logspace(-6, 2, 17)),
                aggregate=aggregate,
                composition=False,
            )

        from sklearn.base import clone

        from propmap.decomposition._uncertainty import LinearPosterior

        fits = cls(None, [], np.empty(len(structures)), gas_phase)
        every = fits.molecules_of(range(len(structures)))
        model = fits.model = make_model().fit(structures, y, **every)
        # the atoms' remnant features once: the folds refit only the ridge model
        # on their sums (as AdditiveModel refits would, with the species of all
        # the structures; remnants of one structure do not depend on the others)
        rows, owners = model.atom_features(structures, **every)
        design = model.aggregate_atoms(rows, owners, structures)
        fits.atom_rows = rows
        fits.contributions, fits.contribution_stds = model.contributions(
            rows, owners, structures, return_std=True
        )
        fits.fitted = model.regressor_.predict(design)
        folds = KFold(n_splits=min(5, len(structures)), shuffle=True, random_state=seed)
        fits.cross_validated_std = np.empty(len(structures))
        for train, test in folds.split(structures):
            fold = clone(model.regressor).fit(design[train], y[train])
            fits.cross_validated[test] = fold.predict(design[test])
            posterior = LinearPosterior.of(fold, design[train], y[train])
            fits.cross_validated_std[test] = posterior.noise_std * np.sqrt(
                1.0 + posterior.variance(design[test])
            )
        return fits


def size_baseline(structures, y, seed: int, per_molecule: bool) -> np.ndarray:
    """Cross-validated predictions (the folds of the additive model) of a ridge
    model on the counts of each element per structure (per molecule with
    ``per_molecule``): how much of the property the molecules' size explains."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    from propmap.atomistic import find_molecules

    elements = np.unique(np.concatenate([a.numbers for a in structures]))
    counts = np.array(
        [np.sum(a.numbers[:, None] == elements[None, :], axis=0) for a in structures],
        dtype=float,
    )
    if per_molecule:
        counts /= np.array([len(find_molecules(a)) for a in structures])[:, None]
    folds = KFold(n_splits=min(5, len(structures)), shuffle=True, random_state=seed)
    return cross_val_predict(
        RidgeCV(alphas=np.logspace(-6, 2, 17)), counts, y, cv=folds
    )
