r"""Out-of-sample sketch-map: place points one by one against fixed landmarks.

Each point minimises its own stress against the landmarks (the objective is in
:class:`~propmap.decomposition.SketchMap`'s docstring). The objectives are
independent, so a block of points is optimised at once: every array is
(points, landmarks) or (points, landmarks, n_components), and each iteration costs
O(points x landmarks). The objective is not convex: each point starts from the best
of a few candidates, the low-dimensional positions of its nearest landmarks (in
high-dimensional distance) and their inverse-distance weighted mean, and is refined
by Newton steps on its exact Hessian, made positive definite by taking the absolute
values of its eigenvalues (so saddles are left downhill), with a backtracking
(Armijo) line search.
"""

from __future__ import annotations

import numpy as np

from propmap.decomposition._sketchmap_stress import Sigmoid, sigmoid

__all__ = ["Placement"]

MAX_ITER = 100
# a point stops when |gradient| x (map scale) falls below this
GRADIENT_TOL = 1e-9
ARMIJO = 1e-4
MAX_HALVINGS = 40
N_NEIGHBOURS = 3


class Placement:
    """Places points against landmarks fixed at ``landmarks``.

    Parameters
    ----------
    landmarks : ndarray of shape (n_landmarks, n_components)
        Their low-dimensional positions.
    weights : ndarray of shape (n_landmarks,)
        Their weights (normalised here to sum to one).
    high, low : Sigmoid
        The high- and low-dimensional sigmoids.
    mixing : float
        The mixing ratio m of the objective.
    """

    def __init__(
        self,
        landmarks: np.ndarray,
        weights: np.ndarray,
        high: Sigmoid,
        low: Sigmoid,
        mixing: float,
    ) -> None:
        self.landmarks = landmarks
        self.weights = weights / weights.sum()
        self.high, self.low, self.mixing = high, low, float(mixing)
        centred = landmarks - landmarks.mean(axis=0)
        radius = float(np.sqrt((centred**2).sum(axis=1).max()))
        self.scale = max(radius, low.sigma)
        # below this the raw-distance term's direction is undefined
        self.min_length = 1e-12 * self.scale

    def target(self, distances: np.ndarray) -> np.ndarray:
        """:math:`s(D)` of a block of high-dimensional distances."""
        high = self.high
        return sigmoid(distances, high.sigma, high.a, high.b)

    def _geometry(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delta = points[:, None, :] - self.landmarks[None, :, :]
        return delta, np.einsum("cjk,cjk->cj", delta, delta)

    def objective(
        self, points: np.ndarray, distances: np.ndarray, target: np.ndarray
    ) -> np.ndarray:
        """Each point's stress against the landmarks, shape (n_points,)."""
        _, squared = self._geometry(points)
        terms = np.zeros_like(squared)
        if self.mixing < 1.0:
            terms += (1.0 - self.mixing) * (target - self.low.value(squared)) ** 2
        if self.mixing > 0.0:
            terms += self.mixing * (distances - np.sqrt(squared)) ** 2
        return terms @ self.weights

    def derivatives(
        self, points: np.ndarray, distances: np.ndarray, target: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Objective, gradient (n_points, k) and Hessian (n_points, k, k).

        With :math:`\delta_j = x - y_j`, :math:`d_j = |\delta_j|` and the per-pair
        term :math:`\phi_j(d_j)`, the Hessian is
        :math:`\sum_j w_j [(\phi_j'' - \phi_j'/d_j)\,\delta_j\delta_j^T/d_j^2 +
        (\phi_j'/d_j) I]`; both coefficients are written without dividing by a
        vanishing :math:`d_j` where the sigmoid allows it.
        """
        delta, squared = self._geometry(points)
        first = np.zeros_like(squared)  # phi' / d
        second = np.zeros_like(squared)  # (phi'' - phi'/d) / d^2
        value = np.zeros(points.shape[0])
        if self.mixing < 1.0:
            share = 1.0 - self.mixing
            low = self.low
            fitted, slope, saturation = low.with_slope(squared)
            residual = target - fitted
            value += share * (residual**2 @ self.weights)
            first -= 2.0 * share * residual * slope
            if low.half_a == 1.0:
                # saturation / r^2 = (A / sigma^2) (1 - saturation) when a = 2
                curvature = -(low.a + low.b) * (low.prefactor / low.sigma**2)
                curvature = slope * curvature * (1.0 - saturation)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    curvature = (low.a - 2.0 - (low.a + low.b) * saturation) / squared
                curvature[squared <= 0.0] = 0.0
                curvature *= slope
            second += 2.0 * share * (slope**2 - residual * curvature)
        if self.mixing > 0.0:
            lengths = np.sqrt(squared)
            value += self.mixing * ((distances - lengths) ** 2 @ self.weights)
            np.maximum(lengths, self.min_length, out=lengths)
            first -= 2.0 * self.mixing * (distances - lengths) / lengths
            second += 2.0 * self.mixing * distances / lengths**3
        first *= self.weights
        second *= self.weights
        gradient = np.einsum("cj,cjk->ck", first, delta)
        hessian = np.einsum("cj,cjk,cjl->ckl", second, delta, delta)
        hessian += first.sum(axis=1)[:, None, None] * np.eye(points.shape[1])
        return value, gradient, hessian

    def candidates(self, distances: np.ndarray) -> list[np.ndarray]:
        """Starting points: the positions of the nearest landmarks and their
        inverse-distance weighted mean; a list of (n_points, k) arrays."""
        n_near = min(N_NEIGHBOURS, distances.shape[1])
        nearest = np.argpartition(distances, n_near - 1, axis=1)[:, :n_near]
        near_distances = np.take_along_axis(distances, nearest, axis=1)
        closeness = 1.0 / (near_distances + 1e-12 * (near_distances.max() + 1.0))
        closeness /= closeness.sum(axis=1, keepdims=True)
        positions = self.landmarks[nearest]
        mean = np.einsum("cn,cnk->ck", closeness, positions)
        return [positions[:, index] for index in range(n_near)] + [mean]

    def start(self, distances: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The best candidate of each point."""
        candidates = self.candidates(distances)
        values = np.stack([self.objective(c, distances, target) for c in candidates])
        best = np.argmin(values, axis=0)
        return np.stack(candidates)[best, np.arange(distances.shape[0])]

    def place(
        self, distances: np.ndarray, snap: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions of points whose distances to the landmarks are ``distances``
        (n_points, n_landmarks), with each point's final gradient norm and number
        of Newton iterations. ``snap``: a point at distance 0 from a landmark is
        put on it (where a converged fit has it already)."""
        target = self.target(distances)
        points = self.start(distances, target)
        n_points = points.shape[0]
        gradient_norm = np.zeros(n_points)
        n_iter = np.zeros(n_points, dtype=int)
        active = np.ones(n_points, dtype=bool)
        if snap:
            on_landmark = distances.min(axis=1) == 0.0
            points[on_landmark] = self.landmarks[distances[on_landmark].argmin(axis=1)]
            active &= ~on_landmark
        for _ in range(MAX_ITER):
            rows = np.flatnonzero(active)
            if rows.size == 0:
                break
            value, gradient, hessian = self.derivatives(
                points[rows], distances[rows], target[rows]
            )
            norms = np.linalg.norm(gradient, axis=1)
            gradient_norm[rows] = norms
            done = norms * self.scale <= GRADIENT_TOL
            active[rows[done]] = False
            keep = ~done
            rows, value, gradient = rows[keep], value[keep], gradient[keep]
            if rows.size == 0:
                break
            step = self._newton_step(gradient, hessian[keep])
            moved = self._line_search(
                points, rows, step, value, gradient, distances, target
            )
            n_iter[rows] += 1
            active[rows[~moved]] = False  # no descent left at machine precision
        if active.any():
            rows = np.flatnonzero(active)
            _, gradient, _ = self.derivatives(
                points[rows], distances[rows], target[rows]
            )
            gradient_norm[rows] = np.linalg.norm(gradient, axis=1)
        return points, gradient_norm, n_iter

    def _newton_step(self, gradient: np.ndarray, hessian: np.ndarray) -> np.ndarray:
        """:math:`-|H|^{-1} g`, |H| with the absolute eigenvalues of H (floored),
        shortened to at most the map's scale."""
        eigenvalues, eigenvectors = np.linalg.eigh(hessian)
        magnitude = np.abs(eigenvalues)
        floor = 1e-10 * magnitude.max(axis=1, keepdims=True) + 1e-300
        magnitude = np.maximum(magnitude, floor)
        along = np.einsum("ckl,ck->cl", eigenvectors, gradient) / magnitude
        step = -np.einsum("ckl,cl->ck", eigenvectors, along)
        length = np.linalg.norm(step, axis=1, keepdims=True)
        return step * np.minimum(1.0, self.scale / np.maximum(length, 1e-300))

    def _line_search(
        self, points, rows, step, value, gradient, distances, target
    ) -> np.ndarray:
        """Backtrack each row's step until the Armijo condition holds; moves
        ``points`` in place and returns which rows moved."""
        slope = np.einsum("ck,ck->c", gradient, step)
        length = np.ones(rows.size)
        moved = np.zeros(rows.size, dtype=bool)
        pending = np.flatnonzero(slope < 0.0)
        for _ in range(MAX_HALVINGS):
            if pending.size == 0:
                break
            chosen = rows[pending]
            trial = points[chosen] + length[pending, None] * step[pending]
            trial_value = self.objective(trial, distances[chosen], target[chosen])
            accepted = trial_value <= (
                value[pending] + ARMIJO * length[pending] * slope[pending]
            )
            points[chosen[accepted]] = trial[accepted]
            moved[pending[accepted]] = True
            pending = pending[~accepted]
            length[pending] *= 0.5
        return moved
