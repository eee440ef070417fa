"""The greedy selection engine shared by every selector.

A selector is this engine plus a *strategy*: the engine owns the loop (how many to
pick, thresholds, warm starts, random fill-up, progress, the fitted attributes); the
strategy owns the maths of one method. A strategy implements the contract of
:class:`SelectionStrategy`; the public classes in :mod:`propmap.feature_selection`
and :mod:`propmap.sample_selection` only choose a strategy and an axis.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from propmap._compat import Interval, RealNotInt, StrOptions, _fit_context
from propmap._dask import (
    DaskStatistics,
    active_client,
    check_dask_features,
    is_dask_array,
    root_of_gram,
    rows_like,
)
from propmap._linalg import blas_threads
from propmap._validation import FLOAT_DTYPES

__all__ = ["GreedySelector", "SelectionStrategy"]

# up to this many entries of X a selection runs on one BLAS thread: its passes
# over X and its eigensolvers are calls of a millisecond or less, and waking a
# second thread for each cost more than it saved (sample CUR of 30 of 3,000 x
# 300: 0.10 s on two threads, 0.065 s on one; feature CUR of 50 of 1,000²:
# 0.28 s and 0.22 s; at 1,500² both take the same)
SINGLE_THREAD_SIZE = 2**21


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
        """Take the candidates, once per fit, before any pick.

        Parameters
        ----------
        points : ndarray of shape (n_candidates, n_dimensions)
            The candidates as rows: X to pick samples, Xᵀ to pick features.
        targets : ndarray of shape (n_samples, n_targets) or None
            The targets, for the methods that weigh them (PCov-FPS, PCov-CUR).
        """
        raise NotImplementedError

    @classmethod
    def working_set(cls, axis: int, n_samples: int, n_features: int):
        """The largest set of arrays a fit on an ``n_samples x n_features`` X
        holds at once, as ``(n_rows, n_columns, copies)`` of float64 matrices;
        None when it is no more than a few vectors (FPS)."""
        return None

    def initial_picks(self) -> list[int]:
        """The candidates picked before any scoring (FPS's start).

        Returns
        -------
        list of int
            Their indices; empty when the method scores from the first pick.
        """
        return []

    def score_candidates(self) -> np.ndarray:
        """The score of every candidate given the picks so far.

        Returns
        -------
        ndarray of shape (n_candidates,)
            One score per candidate, larger is better.
        """
        raise NotImplementedError

    def best_candidate(self, selected: np.ndarray) -> tuple[int, float]:
        """The best candidate not picked yet: by default the first maximum of
        :meth:`score_candidates` among the unpicked ones.

        Parameters
        ----------
        selected : ndarray of bool of shape (n_candidates,)
            True for the candidates picked so far.

        Returns
        -------
        index : int
            The best candidate.
        score : float
            Its score.
        """
        scores = np.array(self.score_candidates(), dtype=np.float64)
        scores[selected] = -np.inf
        index = int(np.argmax(scores))
        return index, float(scores[index])

    def update_after_pick(self, index: int) -> None:
        """Take the pick into account (distances, residuals) before the next.

        Parameters
        ----------
        index : int
            The candidate just picked.
        """
        raise NotImplementedError

    def fitted_attributes(self) -> dict:
        """The method's own fitted attributes, set on the selector after fit.

        Returns
        -------
        dict
            Attribute names (ending in ``_``) and their values, e.g. FPS's
            Hausdorff distances.
        """
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


@dataclass
class _Previous:
    """A fitted selection that ``warm_start=True`` continues."""

    picks: np.ndarray
    shape: tuple[int, int]
    scores: list[float]
    first_score: float | None


class _Picks:
    """The picks of one fit, their scores and the mask of picked candidates;
    ``take`` also tells the strategy."""

    def __init__(self, strategy: SelectionStrategy, n_items: int) -> None:
        self.strategy = strategy
        self.picks: list[int] = []
        self.scores: list[float] = []
        self.mask = np.zeros(n_items, dtype=bool)

    def take(self, index: int, score: float) -> None:
        self.picks.append(index)
        self.scores.append(score)
        self.mask[index] = True
        self.strategy.update_after_pick(index)


class GreedySelector(BaseEstimator):
    """Greedy forward selection of samples (rows) or features (columns).

    Subclasses set ``_axis`` (0 for samples, 1 for features) and implement
    ``_make_strategy(client)`` (``client``: the ``distributed.Client`` whose
    workers hold a dask X's rows, else None); everything else is shared.
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

    def _make_strategy(self, client=None) -> SelectionStrategy:
        raise NotImplementedError

    def _strategy_class(self) -> type[SelectionStrategy]:
        return SelectionStrategy

    def working_set(self, n_samples: int, n_features: int):
        """What a fit on an ``n_samples x n_features`` X holds at once, as
        ``(n_rows, n_columns, copies)`` float64 matrices, or None when it is no
        more than a few vectors: for a memory check before the work.

        Parameters
        ----------
        n_samples, n_features : int

        Returns
        -------
        working_set : tuple of (int, int, int) or None
        """
        return self._strategy_class().working_set(self._axis, n_samples, n_features)

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
        previous = self._previous(warm_start, selected)
        X, y, lazy, client = self._candidates(X, y)
        shape = X.shape if lazy is None else lazy.shape
        n_items = X.shape[self._axis]
        self._check_fit(shape, previous, n_items)
        target = self._n_to_select(n_items)
        self.n_samples_in_, self.n_features_in_ = shape
        strategy = self._make_strategy(client)
        # a small X's selection is many small BLAS calls, where waking a second
        # thread for each costs more than it saves
        threads = 1 if shape[0] * shape[1] <= SINGLE_THREAD_SIZE else None
        with blas_threads(threads):
            strategy.initialize(self._points(X), y)
            run = _Picks(strategy, n_items)
            self._open(run, previous, selected, target)
            first_score = self._pick(run, target, previous)
            # (the strategy's fitted attributes are its work too: CUR's last
            # scores, FPS's final distances)
            self._record(run, first_score, X if lazy is None else lazy, y)
        return self

    # -- the steps of fit

    def _previous(self, warm_start, selected) -> _Previous | None:
        """What a warm start continues (None: a fresh selection)."""
        if warm_start is not None and not isinstance(warm_start, bool | np.bool_):
            raise ValueError(f"warm_start must be a bool or None, got {warm_start!r}.")
        warm = self.warm_start if warm_start is None else bool(warm_start)
        if not (warm and hasattr(self, "selected_idx_")):
            return None
        if selected is not None:
            raise ValueError(
                "selected= starts a selection from given picks; warm_start=True "
                "continues the previous one: give one of them."
            )
        return _Previous(
            np.asarray(self.selected_idx_, dtype=int),
            (self.n_samples_in_, self.n_features_in_),
            list(self._selection_scores_),
            getattr(self, "first_score_", None),
        )

    def _candidates(self, X, y):
        """X and y validated; a dask X as its d x d root (features), its rows
        read in, or left on a cluster's workers (``lazy`` the dask array,
        ``client`` the cluster's)."""
        lazy = client = None
        if is_dask_array(X) and self._axis == 1:
            # columns are compared only through their inner products (and those
            # with y): select on a d x d root of the joint Gram matrix instead
            lazy = check_dask_features(X)
            X, y = self._root_of_dask(lazy, y)
        elif is_dask_array(X):
            X, y, lazy, client = self._dask_samples(X, y)
        if lazy is None or self._axis == 1:
            X, y = self._validate(X, y)
        return X, y, lazy, client

    def _check_fit(self, shape, previous: _Previous | None, n_items: int) -> None:
        if previous is not None and shape != previous.shape:
            raise ValueError(
                f"warm_start=True continues a selection on the same data, but X has "
                f"shape {shape} and the previous fit saw {previous.shape}."
            )
        if self.full and self.score_threshold is not None:
            raise ValueError(
                "full=True (fill up with random picks) and score_threshold (stop "
                "early) contradict each other: set only one of them."
            )
        self._check_parameters(n_items)

    def _open(self, run: _Picks, previous, selected, target: int) -> None:
        """The picks made before any scoring: a warm start's, the given ones,
        or the strategy's own start (FPS's first point)."""
        if previous is not None:
            start = list(previous.picks)
        elif selected is not None:
            start = _given_picks(selected, self._axis_name)
        else:
            start = run.strategy.initial_picks()
        for index in start:
            index = int(index)
            if not 0 <= index < run.mask.size:
                raise ValueError(
                    f"Initial {self._axis_name} index {index} is out of range for "
                    f"{run.mask.size} {self._axis_name}s."
                )
            if run.mask[index]:
                raise ValueError(f"Initial {self._axis_name} index {index} repeats.")
            run.take(index, np.inf)
        if previous is not None:
            run.scores = list(previous.scores)
        if len(run.picks) > target:
            raise ValueError(
                f"{len(run.picks)} {self._axis_name}s are already selected "
                f"(initialize, selected= or warm start), more than "
                f"n_to_select={target}."
            )

    def _pick(self, run: _Picks, target: int, previous) -> float | None:
        """The greedy loop up to ``target`` picks (or the score threshold);
        returns the first score the relative threshold divides by."""
        random_state = check_random_state(self.random_state)
        first_score = None if previous is None else previous.first_score
        remaining = range(target - len(run.picks))
        for _ in _progress(
            remaining, self.progress_bar, f"selecting {self._axis_name}s"
        ):
            index, score = run.strategy.best_candidate(run.mask)
            if self.full and not score > 0:
                # nothing non-redundant is left: fill up at random, as documented
                index = int(random_state.choice(np.flatnonzero(~run.mask)))
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
                        f"{len(run.picks)} of {target} {self._axis_name}s.",
                        UserWarning,
                        stacklevel=3,
                    )
                    break
            run.take(index, score)
        return first_score

    def _record(self, run: _Picks, first_score, source, y) -> None:
        """The fitted attributes (a dask X keeps a lazy ``X_selected_``)."""
        self.first_score_ = first_score
        self._selection_scores_ = np.array(run.scores)
        self.selected_idx_ = np.array(run.picks, dtype=int)
        self.n_selected_ = len(run.picks)
        self.support_ = run.mask
        picked = self.selected_idx_
        self.X_selected_ = source[picked] if self._axis == 0 else source[:, picked]
        if y is not None and self._axis == 0:
            self.y_selected_ = y[self.selected_idx_]
        for name, value in run.strategy.fitted_attributes().items():
            setattr(self, name, value)

    def _dask_samples(self, X, y):
        """Rows of a dask X as candidates, and the cluster's client: on a
        distributed cluster they stay on the workers (methods that support it);
        otherwise X is read into memory (and the client is None)."""
        client = active_client() if getattr(self, "_distributable", False) else None
        if client is None:
            import dask

            return (*dask.compute(X, y), None, None)
        lazy = check_dask_features(X)
        if self._requires_targets and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: call fit(X, y) with the targets."
            )
        if y is not None:
            y, _ = rows_like(y, lazy, "y")
        return lazy, y, lazy, client

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
