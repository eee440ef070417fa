"""The fitted map as one scikit-learn Pipeline: structures in, latent coordinates
and predictions (in the target's units) out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from propmap.atomistic._io import pack_structures, unpack_structures

__all__ = ["MapPipeline", "ScaledTargetModel", "pack_structures", "unpack_structures"]


class ScaledTargetModel(RegressorMixin, TransformerMixin, BaseEstimator):
    """A PCov model fitted on scaled targets, predicting in the targets' units.

    Parameters
    ----------
    model : estimator
        A (Kernel, Nyström) PCovR model: ``fit``, ``transform``, ``predict``.
    target_scaler : transformer
        Scales the targets (e.g. ``StandardFlexibleScaler(column_wise=True)``);
        its ``inverse_transform`` brings predictions back to the targets' units.
    embedding : transformer or None, default=None
        The map's coordinates, when they are not the model's latent space (e.g. a
        :class:`~propmap.decomposition.SketchMap` of the same inputs): fitted on X
        alone, it gives :meth:`transform`; predictions stay the model's.

    Attributes
    ----------
    model_ : estimator
        The fitted model.
    target_scaler_ : transformer
        The fitted target scaler.
    embedding_ : transformer or None
        The fitted embedding.
    """

    def __init__(self, model=None, target_scaler=None, embedding=None) -> None:
        self.model = model
        self.target_scaler = target_scaler
        self.embedding = embedding

    @classmethod
    def from_fitted(cls, model, target_scaler, embedding=None) -> ScaledTargetModel:
        """Wrap a model, a scaler (and an embedding) fitted already."""
        wrapped = cls(model, target_scaler, embedding)
        wrapped.model_, wrapped.target_scaler_ = model, target_scaler
        wrapped.embedding_ = embedding
        wrapped.n_features_in_ = model.n_features_in_
        return wrapped

    def fit(self, X, y):
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self.target_scaler_ = clone(self.target_scaler).fit(y)
        self.model_ = clone(self.model).fit(X, self.target_scaler_.transform(y))
        self.embedding_ = None if self.embedding is None else clone(self.embedding)
        if self.embedding_ is not None:
            self.embedding_.fit(X)
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def transform(self, X) -> np.ndarray:
        """The map's coordinates: the embedding's, else the latent space's."""
        check_is_fitted(self, "model_")
        if getattr(self, "embedding_", None) is not None:
            return self.embedding_.transform(X)
        return self.model_.transform(X)

    def predict(self, X) -> np.ndarray:
        """Predictions in the targets' units (through the latent space)."""
        check_is_fitted(self, "model_")
        scaled = np.asarray(self.model_.predict(X)).reshape(len(X), -1)
        return self.target_scaler_.inverse_transform(scaled)[:, 0]


class MapPipeline(Pipeline):
    """A fitted map: featuriser → scaler → :class:`ScaledTargetModel` (no
    featuriser for a map of a feature table), plus an optional baseline of the
    structures (e.g. a per-element composition fit) that the model's predictions
    are added to.

    ``predict(structures)`` gives the property in its units, ``transform`` the
    latent coordinates. Everything else is scikit-learn's ``Pipeline``.

    Parameters
    ----------
    steps : list of (name, estimator)
        As for :class:`sklearn.pipeline.Pipeline`.
    baseline : regressor or None, default=None
        Fitted on the structures and the raw targets; the steps model what it
        leaves.

    Attributes
    ----------
    baseline_ : regressor or None
        The fitted baseline.
    map_ : dict
        What the map shows, set by :func:`~propmap.workflows.map_structures`:
        ``structures_file`` (the chemiscope file beside the model that holds
        the structures, None for a table; :meth:`map_structures` reads it),
        ``latent`` (the map's coordinates, float32), ``latent_name`` (their axis
        label), ``target`` (values), ``target_name``, ``sets`` ("train"/"test"),
        ``names`` and, for a table, ``columns``.
    """

    def __init__(self, steps, *, baseline=None, memory=None, verbose=False):
        super().__init__(steps, memory=memory, verbose=verbose)
        self.baseline = baseline

    def fit(self, X, y=None, **params):
        y = np.asarray(y, dtype=np.float64)
        self.baseline_ = None if self.baseline is None else clone(self.baseline)
        residual = y
        if self.baseline_ is not None:
            residual = y - self.baseline_.fit(X, y).predict(X)
        return super().fit(X, residual, **params)

    def map_structures(self, folder=None) -> list | None:
        """The structures of the map (ase.Atoms): from the chemiscope file that
        ``propmap map`` wrote beside the model (in ``folder``, by default the
        one :func:`~propmap.workflows.load_map` read the model from), or packed
        in model files of earlier versions; None for a table's map, or when that
        file is not there."""
        packed = self.map_.get("structures")
        if packed is not None:
            return unpack_structures(packed)
        name = self.map_.get("structures_file")
        folder = folder if folder is not None else getattr(self, "folder_", None)
        if name is None or folder is None or not (Path(folder) / name).is_file():
            return None
        from propmap.viz import read_chemiscope_structures

        return read_chemiscope_structures(Path(folder) / name)

    def predict(self, X, **params):
        prediction = super().predict(X, **params)
        if getattr(self, "baseline_", None) is not None:
            prediction = prediction + self.baseline_.predict(X)
        return prediction


def assemble(
    featurizer, x_scaler, model, y_scaler, baseline, record, embedding=None
) -> MapPipeline:
    """The pipeline of parts fitted already, and the map's record."""
    steps = [] if featurizer is None else [("featurizer", featurizer)]
    steps += [
        ("scaler", x_scaler),
        ("model", ScaledTargetModel.from_fitted(model, y_scaler, embedding)),
    ]
    pipeline = MapPipeline(steps, baseline=baseline)
    pipeline.baseline_ = baseline
    pipeline.map_ = record
    return pipeline
