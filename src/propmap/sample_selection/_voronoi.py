"""Voronoi-accelerated FPS and Voronoi weights of landmarks."""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from propmap._compat import Interval
from propmap.sample_selection._selectors import _SampleSelector
from propmap.selection._base import SelectionStrategy
from propmap.selection._fps import FPSStrategy
from propmap.selection._methods import FPSMethod, fill_doc

__all__ = ["VoronoiFPS", "voronoi_weights"]


def _crossover_fraction(products, trials: int, random_state) -> float:
    """The share of active rows above which one full pass over the data is cheaper
    than gathering the active rows, timed on this machine and data."""
    size = products.size
    everything = np.arange(size)
    subset = np.sort(random_state.choice(size, max(1, size // 4), replace=False))
    probe = np.array([0])
    full, partial = np.inf, np.inf
    for _ in range(trials):
        start = time.perf_counter()
        products.block(everything, probe)
        full = min(full, time.perf_counter() - start)
        start = time.perf_counter()
        products.block(subset, probe)
        partial = min(partial, time.perf_counter() - start)
    # gathering a quarter of the rows costs `partial`; the whole set about 4 times
    return float(np.clip(0.25 * full / max(partial, 1e-12), 0.01, 1.0))


class VoronoiFPSStrategy(FPSStrategy):
    """Eager FPS that, after each pick L, recomputes distances only for points whose
    Voronoi cell centre S satisfies ``d(S, L)² / 4 < d(x, S)²``: by the triangle
    inequality no other point can move closer to L than to S.

    It shares FPS's inner products, start and distance formula; ``bounds`` are exact
    here (every affected point is updated at each pick), so the best candidate is
    the plain masked argmax.
    """

    def __init__(
        self, make_products, initialize, random_state, full_fraction, trials
    ) -> None:
        super().__init__(make_products, initialize, random_state)
        self.full_fraction = full_fraction
        self.trials = trials

    def initialize(self, points, targets) -> None:
        super().initialize(points, targets)
        self.cell = np.zeros(self.products.size, dtype=np.int64)  # nearest pick
        if self.full_fraction is None:
            self.full_fraction = _crossover_fraction(
                self.products, self.trials, self.random_state
            )

    def score_candidates(self) -> np.ndarray:
        return self.bounds

    def best_candidate(self, selected: np.ndarray) -> tuple[int, float]:
        return SelectionStrategy.best_candidate(self, selected)

    def update_after_pick(self, index: int) -> None:
        size, new = self.products.size, np.array([index])
        self.at_select[index] = self.bounds[index]
        if self.picks:
            quarter = 0.25 * self._distances(np.asarray(self.picks), new)[:, 0]
            self.last_quarter = quarter
            active = np.flatnonzero(quarter[self.cell] < self.bounds)
            full_pass = active.size > self.full_fraction * size
        else:  # every distance is needed; a full pass unless full_fraction=1
            active, full_pass = None, size > self.full_fraction * size
        if full_pass:
            active = None
        distances = self._distances(active, new)[:, 0]
        rows = np.arange(size) if active is None else active
        if rows.size:
            # what scikit-matter's new_dist_ is made from (see fitted_attributes)
            self.last_update = (active, distances, index, full_pass)
        closer = distances < self.bounds[rows]
        self.bounds[rows[closer]] = distances[closer]
        self.cell[rows[closer]] = len(self.picks)
        self.bounds[index] = 0.0
        self.cell[index] = len(self.picks)
        self.picks.append(index)

    def fitted_attributes(self) -> dict:
        return {
            "hausdorff_": self.bounds.copy(),
            "hausdorff_at_select_": self.at_select.copy(),
            "voronoi_location_": self.cell.copy(),
            "full_fraction_": float(self.full_fraction),
            # scikit-matter's names
            "norms_": np.asarray(self.products.norms, dtype=np.float64).copy(),
            "dSL_": self._last_pick_quarters(),
            "new_dist_": self._last_pick_distances(),
        }

    def _last_pick_distances(self) -> np.ndarray:
        """scikit-matter's ``new_dist_``: the squared distances to the last pick
        that its update computed (every sample's after a full pass, the active
        ones' otherwise, with the pick itself at 0), and the distance to the
        nearest pick elsewhere (which the triangle inequality showed is not
        larger). Rows outside that update have kept their bounds since, so the
        final bounds give them."""
        last = self.bounds.copy()
        record = getattr(self, "last_update", None)
        if record is None:
            return last
        rows, distances, index, full_pass = record
        if rows is None:
            last[:] = distances
        else:
            last[rows] = distances
        if not full_pass:
            last[index] = 0.0
        return last

    def _last_pick_quarters(self) -> np.ndarray:
        quarters = np.zeros(len(self.picks))
        last = getattr(self, "last_quarter", np.zeros(0))
        quarters[: len(last)] = last
        return quarters


@fill_doc
class VoronoiFPS(_SampleSelector, FPSMethod):
    """Select samples by farthest point sampling accelerated with Voronoi cells.

    The same picks as :class:`FPS`. After each pick only the points of the Voronoi
    cells that the new point can change are updated; when more than
    ``full_fraction`` of the points are affected a full pass is cheaper and is
    done instead.

    Parameters
    ----------
    n_trial_calculation : int, default=4
        Timing trials used to choose ``full_fraction`` when it is None.
    full_fraction : float, default=None
        Share of active points above which a full pass is made; None times both
        ways on the data at fit.
    {initialize}
    {engine}

    Attributes
    ----------
    {attributes}
    {distances}
    voronoi_location_ : ndarray of shape (n_samples,)
        For every sample, the position in ``selected_idx_`` of its nearest pick.
    full_fraction_ : float
        The ``full_fraction`` used (scikit-matter overwrites the parameter
        ``full_fraction`` with it; here the parameter stays as given).
    vlocation_of_idx : ndarray of shape (n_samples,)
        scikit-matter's name for ``voronoi_location_``.
    norms_ : ndarray of shape (n_samples,)
        The squared norms of the samples.
    dSL_ : ndarray of shape (n_to_select,)
        A quarter of the squared distances from the last pick to each earlier
        pick (0 beyond them): the test that decides which cells the last pick
        could change.
    new_dist_ : ndarray of shape (n_samples,)
        What the last pick's update computed, as scikit-matter keeps it: the
        squared distance of every sample to the last pick after a full pass;
        otherwise that distance for the samples of the cells the pick could
        change (the pick itself at 0) and, for the others, their distance to
        the nearest pick (0 at earlier picks, where scikit-matter has -inf, as
        in ``hausdorff_``).

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.sample_selection import VoronoiFPS
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.1, 0.1], [0.0, 2.0]])
    >>> VoronoiFPS(n_to_select=3, full_fraction=0.5).fit(X).selected_idx_
    array([0, 3, 1])
    """

    _parameter_constraints: dict = {
        **FPSMethod._parameter_constraints,
        "n_trial_calculation": [Interval(Integral, 1, None, closed="left")],
        "full_fraction": [Interval(Real, 0, 1, closed="right"), None],
    }

    def __init__(
        self,
        n_trial_calculation=4,
        full_fraction=None,
        initialize=0,
        n_to_select=None,
        score_threshold=None,
        score_threshold_type="absolute",
        progress_bar=False,
        full=False,
        random_state=0,
        warm_start=False,
    ):
        self.n_trial_calculation = n_trial_calculation
        self.full_fraction = full_fraction
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

    def score(self, X=None, y=None):
        """The squared distance of every sample to its nearest pick
        (``hausdorff_``, 0 at the picks), as scikit-matter's ``score``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Checked for the fitted number of features when given; as in
            scikit-matter's VoronoiFPS it may be left out.
        y : None
            Ignored.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        if X is None:
            check_is_fitted(self, ["hausdorff_", "selected_idx_"])
            return self.hausdorff_
        return super().score(X, y)

    @property
    def vlocation_of_idx(self) -> np.ndarray:
        """scikit-matter's name for ``voronoi_location_``."""
        check_is_fitted(self, "voronoi_location_")
        return self.voronoi_location_

    _distributable = False  # its cells need every row: a dask X is read in

    def _make_strategy(self, client=None):
        return VoronoiFPSStrategy(
            self._inner_products,
            self.initialize,
            check_random_state(self.random_state),
            self.full_fraction,
            self.n_trial_calculation,
        )


def voronoi_weights(
    X_full, X_landmarks, normalize: bool = True, power: float = 1.0
) -> np.ndarray:
    """How many points of ``X_full`` each landmark stands for.

    Every row of ``X_full`` is assigned to its nearest landmark; a landmark's weight
    is the population of its Voronoi cell raised to ``power`` (0: every landmark the
    same, 1: the density of the full set), normalised to sum to one by default.
    Landmarks chosen for coverage (FPS) lose the density of the data; these weights
    put it back into a later fit.

    Parameters
    ----------
    X_full : array-like of shape (n_samples, n_features)
        The data the landmarks were drawn from.
    X_landmarks : array-like of shape (n_landmarks, n_features)
        The landmarks, e.g. ``X[FPS(...).fit(X).selected_idx_]``.
    normalize : bool, default=True
        Divide by the sum.
    power : float, default=1.0
        Exponent applied to the populations, >= 0.

    Returns
    -------
    weights : ndarray of shape (n_landmarks,)

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.sample_selection import voronoi_weights
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0]])
    >>> voronoi_weights(X, X[[0, 3]])
    array([0.75, 0.25])
    """
    if not (isinstance(power, Real) and power >= 0):
        raise ValueError(f"power must be a non-negative number, got {power!r}.")
    X_full = check_array(X_full, input_name="X_full")
    X_landmarks = check_array(X_landmarks, input_name="X_landmarks")
    if X_full.shape[1] != X_landmarks.shape[1]:
        raise ValueError(
            f"X_full has {X_full.shape[1]} features but X_landmarks has "
            f"{X_landmarks.shape[1]}; they must describe the same space."
        )
    assignments = pairwise_distances_argmin(X_full, X_landmarks)
    weights = np.bincount(assignments, minlength=X_landmarks.shape[0]).astype(float)
    if power != 1.0:
        weights = weights**power
    if normalize:
        weights /= weights.sum()
    return weights
