"""The fitted map as one scikit-learn Pipeline: structures in, latent coordinates
and predictions (in the target's units) out."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from propmap.atomistic._io import pack_structures, unpack_structures

__all__ = ["MapPipeline", "ScaledTargetModel", "pack_structures", "unpack_structures"]


class Projection(NamedTuple):
    """New points on a map (:meth:`MapPipeline.project`)."""

    latent: np.ndarray
    predicted: np.ndarray  # in the property's units
    std: np.ndarray | None  # σ of each prediction (None: the model has none)
    in_domain: np.ndarray | None


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
        """Fit the scaler on the targets, then the model on the scaled targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The targets, in their units.

        Returns
        -------
        self : ScaledTargetModel
            The fitted model.
        """
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self.target_scaler_ = clone(self.target_scaler).fit(y)
        self.model_ = clone(self.model).fit(X, self.target_scaler_.transform(y))
        self.embedding_ = None if self.embedding is None else clone(self.embedding)
        if self.embedding_ is not None:
            self.embedding_.fit(X)
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def transform(self, X) -> np.ndarray:
        """The map's coordinates: the embedding's, else the latent space's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The scaled features (the pipeline's steps before the model).

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The coordinates.
        """
        check_is_fitted(self, "model_")
        if getattr(self, "embedding_", None) is not None:
            return self.embedding_.transform(X)
        return self.model_.transform(X)

    def predict(self, X, return_std: bool = False):
        """Predictions in the targets' units (through the latent space), and
        with ``return_std`` their standard deviations (see
        :meth:`propmap.decomposition.PCovRCV.predict`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The scaled features (the pipeline's steps before the model).
        return_std : bool, default=False
            Also return the standard deviations.

        Returns
        -------
        predicted : ndarray of shape (n_samples,)
            The predictions.
        std : ndarray of shape (n_samples,)
            Their standard deviations; with ``return_std`` only.
        """
        check_is_fitted(self, "model_")
        if return_std:
            predicted, std, _ = self.predict_in_domain(X)
            return predicted, std
        scaled = np.asarray(self.model_.predict(X)).reshape(len(X), -1)
        return self.target_scaler_.inverse_transform(scaled)[:, 0]

    def predict_in_domain(self, X):
        """Predictions in the targets' units, their standard deviations and
        whether each row lies in the applicability domain, from one pass of the
        model's posterior (``transform_predict(X, return_std=True)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The scaled features (the pipeline's steps before the model).

        Returns
        -------
        predicted, std : ndarray of shape (n_samples,)
            The predictions and their standard deviations.
        in_domain : ndarray of bool of shape (n_samples,)
            Whether each row lies in the applicability domain.
        """
        check_is_fitted(self, "model_")
        self._check_uncertain()
        every = self.model_.transform_predict(X, return_std=True)
        unit = float(np.ravel(self.target_scaler_.scale_)[0])
        from propmap.decomposition import PCovRCV

        if isinstance(self.model_, PCovRCV):
            # the values of predict itself (X times the projector, in the
            # model's dtype): one cheap product more
            predicted = self.predict(X)
        else:
            # a kernel model predicts through transform_predict: its kernel
            # rows are not made a second time
            scaled = np.asarray(every.predicted).reshape(len(X), -1)
            predicted = self.target_scaler_.inverse_transform(scaled)[:, 0]
        return predicted, unit * np.ravel(every.predicted_std), every.in_domain

    @property
    def gives_uncertainty(self) -> bool:
        """Whether the model has a posterior (``return_std``, ``in_domain``)."""
        return getattr(getattr(self, "model_", None), "posterior_", None) is not None

    def in_domain(self, X) -> np.ndarray:
        """Whether each row lies in the model's applicability domain.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The scaled features (the pipeline's steps before the model).

        Returns
        -------
        ndarray of bool of shape (n_samples,)
            True for the rows inside the domain.
        """
        check_is_fitted(self, "model_")
        self._check_uncertain()
        return self.model_.in_domain(X)

    def _check_uncertain(self) -> None:
        if not self.gives_uncertainty:
            raise ValueError(
                f"this map's {type(self.model_).__name__} gives no uncertainty "
                "(a map made before σ existed: make it again)."
            )


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
    memory : str, object with the joblib.Memory interface or None, default=None
        As for :class:`sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
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
        """Fit the baseline (when there is one) on the targets, then the steps
        on what it leaves.

        Parameters
        ----------
        X : list of ase.Atoms or array-like of shape (n_samples, n_features)
            The structures (or the feature table's rows).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The targets, in their units.
        **params : dict
            Passed to the steps' ``fit``, as scikit-learn's ``Pipeline.fit``.

        Returns
        -------
        self : MapPipeline
            The fitted map.
        """
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
        file is not there.

        Parameters
        ----------
        folder : path-like or None, default=None
            The folder of the map's files; None: the model file's.

        Returns
        -------
        list of ase.Atoms or None
            The structures, in the map's order.
        """
        packed = self.map_.get("structures")
        if packed is not None:
            return unpack_structures(packed)
        name = self.map_.get("structures_file")
        folder = folder if folder is not None else getattr(self, "folder_", None)
        if name is None or folder is None or not (Path(folder) / name).is_file():
            return None
        from propmap.viz import read_chemiscope_structures

        return read_chemiscope_structures(Path(folder) / name)

    def predict(self, X, return_std: bool = False, **params):
        """The property in its units (and with ``return_std`` the standard
        deviation of each prediction).

        Parameters
        ----------
        X : list of ase.Atoms or array-like of shape (n_samples, n_features)
            The structures (or a feature table's rows).
        return_std : bool, default=False
            Also return the standard deviations.
        **params : dict
            Passed to the steps, as scikit-learn's ``Pipeline.predict``.

        Returns
        -------
        prediction : ndarray of shape (n_samples,)
            The predictions, the baseline included.
        std : ndarray of shape (n_samples,)
            Their standard deviations; with ``return_std`` only.
        """
        if return_std:
            params["return_std"] = True
        prediction = super().predict(X, **params)
        std = None
        if return_std:
            prediction, std = prediction
        if getattr(self, "baseline_", None) is not None:
            prediction = prediction + self.baseline_.predict(X)
        return (prediction, std) if return_std else prediction

    def in_domain(self, X) -> np.ndarray:
        """Whether each of X lies in the model's applicability domain (the
        ridge's posterior variance at most the 99th percentile of the held-out
        rows' in the map's cross-validation).

        Parameters
        ----------
        X : list of ase.Atoms or array-like of shape (n_samples, n_features)
            The structures (or a feature table's rows).

        Returns
        -------
        ndarray of bool of shape (n_samples,)
            True for the structures inside the domain.
        """
        return self.steps[-1][1].in_domain(self[:-1].transform(X))

    def project(self, X) -> Projection:
        """New points' map coordinates, predictions and (when the model has a
        posterior) their σ and whether they lie in the applicability domain,
        featurising them once.

        Parameters
        ----------
        X : list of ase.Atoms or array-like of shape (n_samples, n_features)
            The structures (or a feature table's rows).

        Returns
        -------
        Projection
            ``latent``, ``predicted``, ``std`` and ``in_domain`` (the last two
            None without a posterior).
        """
        features = self[:-1].transform(X)
        model = self.steps[-1][1]
        latent = model.transform(features)
        std = inside = None
        if model.gives_uncertainty:
            predicted, std, inside = model.predict_in_domain(features)
        else:
            predicted = model.predict(features)
        if getattr(self, "baseline_", None) is not None:
            predicted = predicted + self.baseline_.predict(X)
        return Projection(latent, predicted, std, inside)


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
