"""The greedy selection engine shared by every selector.

A selector is this engine plus a *strategy*: the engine owns the loop (how many to
pick, thresholds, warm starts, random fill-up, progress, the fitted attributes); the
strategy owns the maths of one method. A strategy implements the contract of
:class:`SelectionStrategy`; the public classes in :mod:`propmap.feature_selection`
and :mod:`propmap.sample_selection` only choose a strategy and an axis.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import Interval, RealNotInt, StrOptions, _fit_context
from propmap._dask import (
    DaskStatistics,
    check_dask_features,
    is_dask_array,
    root_of_gram,
    rows_like,
)
from propmap._validation import FLOAT_DTYPES

__all__ = ["GreedySelector", "SelectionStrategy"]


class SelectionStrategy:
    """What a selection method provides to the engine.

    The engine calls, in this order:

    1. ``initialize(points, targets)`` once per fit, with ``points`` the candidates as
       rows (X for samples, Xᵀ for features) and the targets as a 2-D array or None;
    2. ``initial_picks()``: indices picked before any scoring (FPS's start), may be
       empty;
    3. repeatedly ``best_candidate(selected)`` with a boolean mask of the picks so
       far, which returns ``(index, score)`` of the best unselected candidate, and
       ``update_after_pick(index)`` once that index is taken.

    A strategy normally implements only ``score_candidates()`` (one score per
    candidate, larger is better); the default ``best_candidate`` masks the picks and
    takes the first maximum. Strategies that can find the best candidate without
    scoring all of them (lazy FPS) override ``best_candidate`` instead.
    ``fitted_attributes()`` returns the method's own fitted attributes (e.g. FPS's
    Hausdorff distances), set on the selector at the end of fit.
    """

    def initialize(self, points, targets) -> None:
        raise NotImplementedError

    def initial_picks(self) -> list[int]:
        return []

    def score_candidates(self) -> np.ndarray:
        raise NotImplementedError

    def best_candidate(self, selected: np.ndarray) -> tuple[int, float]:
        scores = np.array(self.score_candidates(), dtype=np.float64)
        scores[selected] = -np.inf
        index = int(np.argmax(scores))
        return index, float(scores[index])

    def update_after_pick(self, index: int) -> None:
        raise NotImplementedError

    def fitted_attributes(self) -> dict:
        return {}


def _given_picks(selected, axis_name: str) -> list[int]:
    """``selected=`` of :meth:`GreedySelector.fit` as a list of indices."""
    picks = np.asarray(selected)
    if picks.ndim != 1 or (picks.size and not np.issubdtype(picks.dtype, np.integer)):
        raise ValueError(
            f"selected must be a 1-D sequence of {axis_name} indices, got "
            f"{picks.dtype} of shape {picks.shape}."
        )
    return [int(index) for index in picks]


def _progress(iterable, enabled: bool, description: str):
    """Wrap with a rich progress bar when asked, on a terminal (stderr)."""
    from propmap.utils._progress import tracked

    return tracked(iterable, description, enabled)


class GreedySelector(BaseEstimator):
    """Greedy forward selection of samples (rows) or features (columns).

    Subclasses set ``_axis`` (0 for samples, 1 for features) and implement
    ``_make_strategy()``; everything else is shared.
    """

    _axis: int = 1
    _requires_targets: bool = False

    _parameter_constraints: dict = {
        "n_to_select": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            None,
        ],
        "score_threshold": [Interval(Real, None, None, closed="neither"), None],
        "score_threshold_type": [StrOptions({"absolute", "relative"})],
        "progress_bar": ["boolean"],
        "full": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
    }

    @property
    def _axis_name(self) -> str:
        return "feature" if self._axis == 1 else "sample"

    def _make_strategy(self) -> SelectionStrategy:
        raise NotImplementedError

    def _check_parameters(self, n_items: int) -> None:
        """Parameter checks that the constraint table cannot express."""

    def _n_to_select(self, n_items: int) -> int:
        name = self._axis_name
        if self.n_to_select is None:
            return max(1, n_items // 2)
        if isinstance(self.n_to_select, Integral):
            if self.n_to_select > n_items:
                raise ValueError(
                    f"n_to_select={self.n_to_select} is larger than the number of "
                    f"{name}s, {n_items}: it must be an integer in [1, {n_items}], a "
                    f"fraction in (0, 1] or None (half of the {name}s)."
                )
            return int(self.n_to_select)
        return max(1, int(n_items * self.n_to_select))

    def _validate(self, X, y):
        common = {
            "accept_sparse": "csr",
            "dtype": list(FLOAT_DTYPES),
            "ensure_min_samples": 2,
            "ensure_min_features": 2,
        }
        if self._requires_targets and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: call fit(X, y) with the targets."
            )
        if y is None:
            return validate_data(self, X, **common), None
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, **common)
        return X, np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)

    def _root_of_dask(self, X, y):
        """R (and Ỹ) whose columns have the inner products of X's (and y's):
        ``[R Ỹ]ᵀ[R Ỹ] = [X y]ᵀ[X y]``, from one pass over X (one compute)."""
        if self._requires_targets and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: call fit(X, y) with the targets."
            )
        targets = rows_like(y, X, "y")[0] if self._requires_targets else None
        root = root_of_gram(DaskStatistics.of(X, targets).products)
        if targets is None:
            return root, None
        return root[:, : X.shape[1]], root[:, X.shape[1] :]

    def _points(self, X):
        """Candidates as rows: X itself for samples, the view Xᵀ for features."""
        return X if self._axis == 0 else X.T

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, warm_start=None, *, selected=None):
        """Select samples or features greedily.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to select from.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            Targets; required by the PCov methods, otherwise ignored (except that
            sample selectors keep ``y_selected_``).
        warm_start : bool, default=None
            For this call only, continue the previous selection (True) or start
            afresh (False), as scikit-matter spells it; None uses the
            ``warm_start`` parameter, which is left unchanged either way.
        selected : array-like of int, default=None
            Samples (or features) of X taken as selected already, in order —
            e.g. structures computed before: the selection continues from them
            exactly as a warm start from a fit that had picked them would
            (FPS's ``initialize`` is then not used). They open
            ``selected_idx_`` and count towards ``n_to_select``; their scores
            are inf. Not with ``warm_start``.

        Returns
        -------
        self
        """
        if warm_start is not None and not isinstance(warm_start, bool | np.bool_):
            raise ValueError(f"warm_start must be a bool or None, got {warm_start!r}.")
        warm = self.warm_start if warm_start is None else bool(warm_start)
        continuing = warm and hasattr(self, "selected_idx_")
        given, selected = selected, None  # (the name is the mask's below)
        if continuing and given is not None:
            raise ValueError(
                "selected= starts a selection from given picks; warm_start=True "
                "continues the previous one: give one of them."
            )
        if continuing:
            previous = np.asarray(self.selected_idx_, dtype=int)
            previous_shape = (self.n_samples_in_, self.n_features_in_)
        lazy, self._client = None, None
        if is_dask_array(X) and self._axis == 1:
            # columns are compared only through their inner products (and those
            # with y): select on a d x d root of the joint Gram matrix instead
            lazy = check_dask_features(X)
            X, y = self._root_of_dask(lazy, y)
        elif is_dask_array(X):
            X, y, lazy = self._dask_samples(X, y)
        if lazy is None or self._axis == 1:
            X, y = self._validate(X, y)
        shape = X.shape if lazy is None else lazy.shape
        n_items = X.shape[self._axis]
        if continuing and shape != previous_shape:
            raise ValueError(
                f"warm_start=True continues a selection on the same data, but X has "
                f"shape {shape} and the previous fit saw {previous_shape}."
            )
        if self.full and self.score_threshold is not None:
            raise ValueError(
                "full=True (fill up with random picks) and score_threshold (stop "
                "early) contradict each other: set only one of them."
            )
        self._check_parameters(n_items)
        target = self._n_to_select(n_items)
        self.n_samples_in_, self.n_features_in_ = shape

        strategy = self._make_strategy()
        strategy.initialize(self._points(X), y)
        picks: list[int] = []
        scores: list[float] = []
        selected = np.zeros(n_items, dtype=bool)

        def take(index: int, score: float) -> None:
            picks.append(index)
            scores.append(score)
            selected[index] = True
            strategy.update_after_pick(index)

        if continuing:
            start = list(previous)
        elif given is not None:
            start = _given_picks(given, self._axis_name)
        else:
            start = strategy.initial_picks()
        for index in start:
            index = int(index)
            if not 0 <= index < n_items:
                raise ValueError(
                    f"Initial {self._axis_name} index {index} is out of range for "
                    f"{n_items} {self._axis_name}s."
                )
            if selected[index]:
                raise ValueError(f"Initial {self._axis_name} index {index} repeats.")
            take(index, np.inf)
        if continuing:
            scores = list(self._selection_scores_)
        if len(picks) > target:
            raise ValueError(
                f"{len(picks)} {self._axis_name}s are already selected (initialize, "
                f"selected= or warm start), more than n_to_select={target}."
            )

        random_state = check_random_state(self.random_state)
        first_score = getattr(self, "first_score_", None) if continuing else None
        remaining = range(target - len(picks))
        for _ in _progress(
            remaining, self.progress_bar, f"selecting {self._axis_name}s"
        ):
            index, score = strategy.best_candidate(selected)
            if self.full and not score > 0:
                # nothing non-redundant is left: fill up at random, as documented
                index = int(random_state.choice(np.flatnonzero(~selected)))
            elif self.score_threshold is not None:
                if first_score is None:
                    first_score = score
                value = (
                    score
                    if self.score_threshold_type == "absolute"
                    else (score / first_score if first_score else 0.0)
                )
                if value < self.score_threshold:
                    warnings.warn(
                        f"Score threshold {self.score_threshold} "
                        f"({self.score_threshold_type}) reached: stopped after "
                        f"{len(picks)} of {target} {self._axis_name}s.",
                        UserWarning,
                        stacklevel=2,
                    )
                    break
            take(index, score)

        self.first_score_ = first_score
        self._selection_scores_ = np.array(scores)
        self.selected_idx_ = np.array(picks, dtype=int)
        self.n_selected_ = len(picks)
        self.support_ = selected
        picked = self.selected_idx_
        source = X if lazy is None else lazy  # a dask X keeps a lazy X_selected_
        self.X_selected_ = source[picked] if self._axis == 0 else source[:, picked]
        if y is not None and self._axis == 0:
            self.y_selected_ = y[self.selected_idx_]
        for name, value in strategy.fitted_attributes().items():
            setattr(self, name, value)
        self._client = None
        return self

    def _dask_samples(self, X, y):
        """Rows of a dask X as candidates: on a distributed cluster they stay on
        the workers (methods that support it); otherwise X is read into memory."""
        from propmap.selection._distributed import active_client

        client = active_client() if getattr(self, "_distributable", False) else None
        if client is None:
            import dask

            return (*dask.compute(X, y), None)
        lazy = check_dask_features(X)
        if self._requires_targets and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: call fit(X, y) with the targets."
            )
        if y is not None:
            y, _ = rows_like(y, lazy, "y")
        self._client = client
        return lazy, y, lazy

    def score(self, X, y=None):
        """The per-candidate scores of the fitted selection, as scikit-matter's
        ``score``: the Hausdorff distances (``hausdorff_``) for the FPS family,
        the importances (``pi_``) for the CUR family. X is only checked against
        the fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Checked for the fitted number of features.
        y : None
            Ignored.

        Returns
        -------
        scores : ndarray of shape (n_candidates,)
        """
        check_is_fitted(self, ["selected_idx_"])
        if is_dask_array(X):  # only its shape is checked: nothing to compute
            if X.ndim != 2 or X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has shape {X.shape}, but {type(self).__name__} was fitted "
                    f"with {self.n_features_in_} features."
                )
        else:
            validate_data(self, X, reset=False, accept_sparse="csr")
        return getattr(self, self._score_attribute)

    def get_support(self, indices: bool = False, ordered: bool = False):
        """The selection as a mask, or as indices (sorted, or in order of picking).

        Parameters
        ----------
        indices : bool, default=False
            Return indices instead of a boolean mask.
        ordered : bool, default=False
            With ``indices``, in the order they were picked.

        Returns
        -------
        support : ndarray
        """
        check_is_fitted(self, ["support_", "selected_idx_"])
        if indices:
            return self.selected_idx_.copy() if ordered else np.sort(self.selected_idx_)
        return self.support_.copy()

    def _get_support_mask(self):
        check_is_fitted(self, ["support_"])
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.required = self._requires_targets
        return tags
