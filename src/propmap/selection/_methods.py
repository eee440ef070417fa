"""The four selection methods as engine + strategy, independent of the axis.

The public classes in :mod:`propmap.feature_selection` and
:mod:`propmap.sample_selection` add only the axis (and, for features, scikit-learn's
``SelectorMixin``). Their shared parameter text lives in :data:`DOCS` and is filled
in by :func:`fill_doc`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from propmap._compat import Interval, StrOptions
from propmap.selection._base import GreedySelector
from propmap.selection._cur import CURStrategy, PCovCURStrategy
from propmap.selection._fps import FPSStrategy, GramInnerProducts, RowInnerProducts
from propmap.utils._pcovr_utils import pcovr_covariance

__all__ = ["CURMethod", "FPSMethod", "PCovCURMethod", "PCovFPSMethod", "fill_doc"]

DOCS = {
    "engine": """n_to_select : int, float or None, default=None
        How many {axis}s to select: an integer, a fraction in (0, 1] of the
        {axis}s, or None for half of them.
    score_threshold : float, default=None
        Stop early, with a warning, once the best candidate's score falls below
        this.
    score_threshold_type : {{"absolute", "relative"}}, default="absolute"
        Compare the threshold with the score itself, or with the score divided by
        the first greedy pick's score.
    progress_bar : bool, default=False
        Show a progress bar while selecting.
    full : bool, default=False
        Once every candidate scores zero (nothing non-redundant is left, e.g. an
        all-zero X), fill up to ``n_to_select`` with random picks; without it the
        lowest remaining indices are taken. Not compatible with
        ``score_threshold``.
    random_state : int, RandomState instance or None, default=0
        Seeds ``initialize="random"`` and the random fill-up of ``full``.
    warm_start : bool, default=False
        Continue the previous fit's selection on the same data (after raising
        ``n_to_select``) instead of starting over.""",
    "attributes": """selected_idx_ : ndarray of shape (n_selected_,)
        Indices of the selected {axis}s, in the order they were picked.
    n_selected_ : int
        Number of {axis}s selected.
    X_selected_ : ndarray
        The selected {axis}s of the training X.
    first_score_ : float or None
        Score of the first greedy pick (set when a threshold is used).
    n_features_in_ : int
        Number of features seen during fit.""",
    "distances": """hausdorff_ : ndarray of shape (n_{axis}s,)
        Squared distance of every {axis} to its nearest selected {axis} (in the
        method's metric).
    hausdorff_at_select_ : ndarray of shape (n_{axis}s,)
        For picked {axis}s, that distance when they were picked (inf elsewhere).""",
    "targets": """y_selected_ : ndarray of shape (n_selected_, n_targets)
        The targets of the selected samples (when y was given).""",
    "initialize": """initialize : int, sequence of int or "random", default=0
        The first pick(s): an index, several indices (taken in order), or a random
        index drawn with ``random_state``.""",
    "cur": """k : int, default=1
        Number of singular vectors whose squared components make the score.
    recompute_every : int, default=1
        Orthogonalise after every pick and recompute the scores every this many
        picks; 0 ranks once by the initial scores without orthogonalising.
    tolerance : float, default=1e-12
        A picked direction shorter than this is not projected out.""",
    "mixing": """mixing : float, default=0.5
        The PCovR mixing α in [0, 1): the weight of the features against the
        targets (α = 1 would be the plain method).""",
}


def fill_doc(cls):
    """Fill ``{engine}``, ``{initialize}``, ... in a class docstring, with the
    ``{axis}`` placeholder set from the class."""
    if cls.__doc__ is None:  # python -OO strips docstrings
        return cls
    axis = "feature" if cls._axis == 1 else "sample"
    fragments = {key: text.format(axis=axis) for key, text in DOCS.items()}
    cls.__doc__ = cls.__doc__.format(axis=axis, **fragments)
    return cls


_ENGINE_DEFAULTS = {
    "n_to_select": None,
    "score_threshold": None,
    "score_threshold_type": "absolute",
    "progress_bar": False,
    "full": False,
    "random_state": 0,
    "warm_start": False,
}


class FPSMethod(GreedySelector):
    """Farthest point sampling (see :mod:`propmap.selection._fps`)."""

    _score_attribute = "hausdorff_"  # what score() returns

    _parameter_constraints: dict = {
        **GreedySelector._parameter_constraints,
        "initialize": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"random"}),
            "array-like",
        ],
    }

    def __init__(
        self,
        initialize=0,
        n_to_select=None,
        score_threshold=None,
        score_threshold_type="absolute",
        progress_bar=False,
        full=False,
        random_state=0,
        warm_start=False,
    ):
        self.initialize = initialize
        self.n_to_select = n_to_select
        self.score_threshold = score_threshold
        self.score_threshold_type = score_threshold_type
        self.progress_bar = progress_bar
        self.full = full
        self.random_state = random_state
        self.warm_start = warm_start

    def _inner_products(self, points, targets):
        if self._axis == 1 and not sp.issparse(points):
            # lazy FPS gathers a few candidates per step: make them contiguous rows
            points = np.ascontiguousarray(points)
        return RowInnerProducts([(1.0, points)])

    # sample selection of a dask array on a cluster runs on actors
    _distributable = True

    def _weighted_blocks(self, points, targets):
        return [(1.0, points)]

    def _make_strategy(self, client=None):
        random_state = check_random_state(self.random_state)
        if client is not None:
            # only a cluster run needs the distributed code
            from propmap.selection._distributed import DistributedFPSStrategy

            return DistributedFPSStrategy(
                client, self._weighted_blocks, self.initialize, random_state
            )
        return FPSStrategy(self._inner_products, self.initialize, random_state)

    def get_select_distance(self) -> np.ndarray:
        """Squared distance of each pick to the earlier picks when it was picked,
        in picking order (non-increasing after the first; the first is inf)."""
        check_is_fitted(self, ["hausdorff_at_select_", "selected_idx_"])
        return self.hausdorff_at_select_[self.selected_idx_]

    def get_distance(self) -> np.ndarray:
        """Squared distance of every candidate to its nearest selected point."""
        check_is_fitted(self, ["hausdorff_"])
        return self.hausdorff_


class PCovFPSMethod(FPSMethod):
    """FPS in the PCovR metric."""

    _requires_targets = True
    _parameter_constraints: dict = {
        **FPSMethod._parameter_constraints,
        "mixing": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        mixing=0.5,
        initialize=0,
        n_to_select=None,
        score_threshold=None,
        score_threshold_type="absolute",
        progress_bar=False,
        full=False,
        random_state=0,
        warm_start=False,
    ):
        self.mixing = mixing
        super().__init__(
            initialize=initialize,
            n_to_select=n_to_select,
            score_threshold=score_threshold,
            score_threshold_type=score_threshold_type,
            progress_bar=progress_bar,
            full=full,
            random_state=random_state,
            warm_start=warm_start,
        )

    def _check_parameters(self, n_items: int) -> None:
        if self.mixing == 1.0:
            raise ValueError(
                f"mixing=1.0 ignores the targets and is plain FPS: use "
                f"propmap.{self.__module__.split('.')[1]}.FPS instead."
            )

    def _inner_products(self, points, targets):
        if self._axis == 1:  # features: distances from the modified covariance C~
            return GramInnerProducts(pcovr_covariance(self.mixing, points.T, targets))
        # samples: α‖xi − xj‖² + (1 − α)‖yi − yj‖², without an n x n matrix
        return RowInnerProducts(self._weighted_blocks(points, targets))

    def _weighted_blocks(self, points, targets):
        return [(self.mixing, points), (1.0 - self.mixing, targets)]


class CURMethod(GreedySelector):
    """Deterministic CUR (see :mod:`propmap.selection._cur`)."""

    _score_attribute = "pi_"  # what score() returns

    _parameter_constraints: dict = {
        **GreedySelector._parameter_constraints,
        "k": [Interval(Integral, 1, None, closed="left")],
        "recompute_every": [Interval(Integral, 0, None, closed="left")],
        "tolerance": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        recompute_every=1,
        k=1,
        tolerance=1e-12,
        n_to_select=None,
        score_threshold=None,
        score_threshold_type="absolute",
        progress_bar=False,
        full=False,
        random_state=0,
        warm_start=False,
    ):
        self.recompute_every = recompute_every
        self.k = k
        self.tolerance = tolerance
        self.n_to_select = n_to_select
        self.score_threshold = score_threshold
        self.score_threshold_type = score_threshold_type
        self.progress_bar = progress_bar
        self.full = full
        self.random_state = random_state
        self.warm_start = warm_start

    def _make_strategy(self, client=None):
        return CURStrategy(self._axis, self.k, self.recompute_every, self.tolerance)

    def _strategy_class(self):
        return CURStrategy


class PCovCURMethod(CURMethod):
    """CUR on the PCovR-modified matrices."""

    _requires_targets = True
    _parameter_constraints: dict = {
        **CURMethod._parameter_constraints,
        "mixing": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        mixing=0.5,
        recompute_every=1,
        k=1,
        tolerance=1e-12,
        n_to_select=None,
        score_threshold=None,
        score_threshold_type="absolute",
        progress_bar=False,
        full=False,
        random_state=0,
        warm_start=False,
    ):
        self.mixing = mixing
        super().__init__(
            recompute_every=recompute_every,
            k=k,
            tolerance=tolerance,
            n_to_select=n_to_select,
            score_threshold=score_threshold,
            score_threshold_type=score_threshold_type,
            progress_bar=progress_bar,
            full=full,
            random_state=random_state,
            warm_start=warm_start,
        )

    def _strategy_class(self):
        return PCovCURStrategy

    def _make_strategy(self, client=None):
        return PCovCURStrategy(
            self._axis, self.k, self.recompute_every, self.tolerance, self.mixing
        )
