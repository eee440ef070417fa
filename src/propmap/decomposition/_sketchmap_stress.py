r"""The numerics of sketch-map: the sigmoids, the automatic choice of their
parameters, classical MDS and the stress of a whole embedding.

The stress works on the condensed upper triangle of the pair matrices (half the
elementwise work of the full square), reuses its buffers between evaluations and
evaluates the low-dimensional sigmoid from squared distances, so the common
exponents (``a = 2``, ``b / a = 1``) need no power at all. The formulas are in
:class:`~propmap.decomposition.SketchMap`'s docstring.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.spatial.distance import pdist, squareform

from propmap._linalg import truncated_eigh

__all__ = [
    "PairStress",
    "Sigmoid",
    "analyze_distances",
    "classical_mds",
    "condensed",
    "sigmoid",
    "sigmoid_and_derivative",
    "suggest_sigmoid_params",
]

N_BINS = 200


class Sigmoid:
    r"""The switching function :math:`s(r) = 1 - (1 + A (r/\sigma)^a)^{-b/a}`,
    :math:`A = 2^{a/b} - 1`, evaluated from squared distances."""

    def __init__(self, sigma: float, a: float, b: float) -> None:
        self.sigma, self.a, self.b = float(sigma), float(a), float(b)
        self.prefactor = 2.0 ** (self.a / self.b) - 1.0
        self.half_a = 0.5 * self.a
        self.decay_power = self.b / self.a

    def _u(self, squared: np.ndarray) -> np.ndarray:
        """:math:`u = A (r/\\sigma)^a` from :math:`r^2` (a new array)."""
        # (r^2 A^(2/a) / sigma^2)^(a/2): one multiplication and one power
        u = squared * (self.prefactor ** (1.0 / self.half_a) / self.sigma**2)
        if self.half_a != 1.0:
            np.power(u, self.half_a, out=u)
        return u

    def _decay(self, one_plus_u: np.ndarray) -> np.ndarray:
        """:math:`(1 + u)^{-b/a}` (a new array)."""
        if self.decay_power == 1.0:
            return np.reciprocal(one_plus_u)
        if self.decay_power == 0.5:
            decay = np.sqrt(one_plus_u)
            return np.reciprocal(decay, out=decay)
        return np.power(one_plus_u, -self.decay_power)

    def value(self, squared: np.ndarray) -> np.ndarray:
        """:math:`s(r)` from :math:`r^2`."""
        one_plus_u = self._u(squared)
        one_plus_u += 1.0
        value = self._decay(one_plus_u)
        np.subtract(1.0, value, out=value)
        return value

    def with_slope(
        self, squared: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r""":math:`s(r)`, :math:`s'(r) / r` and :math:`u / (1 + u)` from :math:`r^2`.

        :math:`s'(r)/r = b\,u\,(1+u)^{-b/a-1} / r^2`; for a = 2 it is
        :math:`(bA/\sigma^2)(1+u)^{-b/a-1}`, with no division by r; otherwise it
        is set to 0 at r = 0, where it multiplies a zero vector.
        """
        decay, slope, saturation = self._parts(squared)
        value = np.subtract(1.0, decay, out=decay)
        return value, slope, saturation

    def decay_and_slope(self, squared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:math:`1 - s(r)` and :math:`s'(r)/r` from :math:`r^2`, with the fewest
        passes over the arrays when a = 2 and b = a (the default in 2D)."""
        if self.half_a == 1.0 and self.decay_power == 1.0:
            decay = self._u(squared)
            decay += 1.0
            np.reciprocal(decay, out=decay)
            slope = np.multiply(decay, decay)
            slope *= self.b * self.prefactor / self.sigma**2
            return decay, slope
        decay, slope, _ = self._parts(squared)
        return decay, slope

    def _parts(self, squared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = self._u(squared)
        one_plus_u = u + 1.0
        decay = self._decay(one_plus_u)
        saturation = np.divide(u, one_plus_u, out=u)
        if self.half_a == 1.0:
            slope = np.subtract(1.0, saturation, out=one_plus_u)  # 1 / (1 + u)
            slope *= decay
            slope *= self.b * self.prefactor / self.sigma**2
        else:
            slope = np.multiply(saturation, decay, out=one_plus_u)
            slope *= self.b
            with np.errstate(divide="ignore", invalid="ignore"):
                slope /= squared
            slope[squared <= 0.0] = 0.0
        return decay, slope, saturation


def sigmoid(distances, sigma: float, a: float, b: float) -> np.ndarray:
    r"""The sketch-map sigmoid :math:`s(r)` of ``distances`` (0 where r <= 0)."""
    value, _ = sigmoid_and_derivative(distances, sigma, a, b, derivative=False)
    return value


def sigmoid_and_derivative(
    distances, sigma: float, a: float, b: float, *, derivative: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    r""":math:`s(r)` and :math:`s'(r) = b\,u\,(1+u)^{-b/a-1} / r`, with
    :math:`u = A (r/\sigma)^a`; both 0 where r <= 0."""
    distances = np.asarray(distances, dtype=np.float64)
    prefactor = 2.0 ** (a / b) - 1.0
    positive = distances > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        u = prefactor * (distances / sigma) ** a
        one_plus_u = 1.0 + u
        decay = one_plus_u ** (-b / a)
        value = np.where(positive, 1.0 - decay, 0.0)
        if not derivative:
            return value, None
        slope = np.where(positive, b * u * decay / (one_plus_u * distances), 0.0)
    return value, slope


def condensed(square: np.ndarray) -> np.ndarray:
    """The upper triangle of a square matrix, row by row (scipy's condensed form)."""
    return squareform(square, checks=False, force="tovector")


def _gaussian(x, amplitude, center, width):
    return amplitude * np.exp(-((x - center) ** 2) / (2 * width**2))


def analyze_distances(
    distances: np.ndarray, pair_weights: np.ndarray | None = None, n_bins: int = N_BINS
) -> dict:
    """Histogram of the pair distances (condensed) and the three scales read from
    it: the peak, the end of the short-range (Gaussian) regime and the start of the
    long-range one; see :class:`~propmap.decomposition.SketchMap`."""
    valid = np.isfinite(distances) & (distances >= 0)
    values = distances[valid]
    if pair_weights is not None:
        pair_weights = pair_weights[valid]
    if values.size == 0:
        raise ValueError("No finite, non-negative pair distance to analyse.")
    max_distance = np.percentile(values, 99.9)
    edges = np.linspace(0, max_distance, n_bins + 1)
    density, _ = np.histogram(values, bins=edges, density=True, weights=pair_weights)
    centers = 0.5 * (edges[:-1] + edges[1:])
    peak_index = np.argmax(density)
    peak = centers[peak_index]
    analysis = {
        "peak_distance": peak,
        "gaussian_std": None,
        "gaussian_range": None,
        "uniform_cutoff": None,
        "bin_centers": centers,
        "prob_density": density,
        "max_distance": max_distance,
    }
    left = centers <= peak
    if np.count_nonzero(left) > 3:
        try:
            with warnings.catch_warnings():
                # an unestimable covariance does not matter: only the width is used
                warnings.simplefilter("ignore", OptimizeWarning)
                fitted, _ = curve_fit(
                    _gaussian,
                    centers[left],
                    density[left],
                    p0=[np.max(density), peak, 1.0],
                    maxfev=5000,
                )
            analysis["gaussian_std"] = abs(fitted[2])
            analysis["gaussian_range"] = peak + 3 * analysis["gaussian_std"]
        except (RuntimeError, ValueError):
            analysis["gaussian_std"] = peak / 3.0
            analysis["gaussian_range"] = peak * 2.0
    right = centers > peak
    right_density = density[right]
    if right_density.size > 3:
        below = right_density < 0.1 * density[peak_index]
        analysis["uniform_cutoff"] = (
            centers[right][np.argmax(below)]
            if np.any(below)
            else np.percentile(values, 90)
        )
    if (
        analysis["gaussian_range"] is not None
        and analysis["uniform_cutoff"] is not None
        and analysis["gaussian_range"] >= analysis["uniform_cutoff"]
    ):
        analysis["gaussian_range"] = peak + 0.2 * max_distance
        analysis["uniform_cutoff"] = peak + 0.6 * max_distance
    return analysis


def suggest_sigmoid_params(
    distances: np.ndarray,
    n_components: int,
    pair_weights: np.ndarray | None = None,
    n_bins: int = N_BINS,
) -> tuple[dict, dict]:
    """The automatic sigmoid parameters and the distance analysis they come from."""
    analysis = analyze_distances(distances, pair_weights, n_bins)
    short_range, long_range = analysis["gaussian_range"], analysis["uniform_cutoff"]
    if short_range is not None and long_range is not None:
        b_high = np.clip(2.0 + np.log(long_range / max(short_range, 1e-10)), 2.0, 6.0)
    else:
        b_high = 3.0
    low = float(max(n_components, 1))
    params = {
        "sigma": 0.9 * analysis["peak_distance"],
        "a_high": 2.0 * b_high,
        "b_high": b_high,
        "a_low": low,
        "b_low": low,
    }
    return params, analysis


def classical_mds(
    distances: np.ndarray, n_components: int, solver: str = "full"
) -> np.ndarray:
    """Coordinates whose Gram matrix best matches the doubly centred
    ``-distances² / 2`` (largest eigenvalues first; the largest-magnitude entry of
    each column positive)."""
    gram = -0.5 * np.asarray(distances, dtype=np.float64) ** 2
    gram -= gram.mean(axis=0, keepdims=True)
    gram -= gram.mean(axis=1, keepdims=True)
    n_components = min(n_components, gram.shape[0])
    eigenvalues, eigenvectors = truncated_eigh(
        gram, n_components, solver=solver, random_state=0, overwrite=True
    )
    return eigenvectors * np.sqrt(np.maximum(eigenvalues, 0.0))


def pair_products(weights: np.ndarray) -> np.ndarray:
    """:math:`w_i w_j` for i < j, condensed, without an n x n matrix."""
    n = weights.shape[0]
    return np.concatenate([weights[i] * weights[i + 1 :] for i in range(n - 1)])


def condensed_row(n: int, index: int) -> np.ndarray:
    """Positions in the condensed vector of the pairs (index, j), j != index."""
    before = np.arange(index)
    after = np.arange(index + 1, n)
    return np.concatenate(
        [
            n * before - before * (before + 1) // 2 + index - before - 1,
            n * index - index * (index + 1) // 2 + after - index - 1,
        ]
    )


class PairStress:
    """The stress of a whole embedding and its gradient, over the condensed pairs.

    Parameters
    ----------
    distances : ndarray of shape (n_pairs,)
        High-dimensional distances, condensed.
    n_samples, n_components : int
    high, low : Sigmoid
        The high- and low-dimensional sigmoids.
    weights : ndarray of shape (n_samples,) or None
        Sample weights; a pair weighs :math:`w_i w_j`.
    pair_weights : ndarray of shape (n_pairs,) or None
        ``pair_products(weights)``, if already computed.
    """

    def __init__(
        self,
        distances: np.ndarray,
        n_samples: int,
        n_components: int,
        high: Sigmoid,
        low: Sigmoid,
        weights: np.ndarray | None = None,
        pair_weights: np.ndarray | None = None,
    ) -> None:
        self.distances = distances
        self.target = sigmoid(distances, high.sigma, high.a, high.b)
        self._target_minus_one = self.target - 1.0
        self.n_samples, self.n_components = n_samples, n_components
        self.low = low
        if weights is not None and pair_weights is None:
            pair_weights = pair_products(weights)
        self.pair_weights = pair_weights
        self.weights = weights
        self.total_weight = (
            float(distances.size)
            if weights is None
            else float(np.sum(self.pair_weights))
        )
        self._squared = np.empty_like(distances)
        self._augmented = np.ones((n_samples, n_components + 1))

    def _weighted(self, values: np.ndarray) -> np.ndarray:
        return values if self.pair_weights is None else values * self.pair_weights

    def __call__(self, flat: np.ndarray, mixing: float) -> tuple[float, np.ndarray]:
        """Stress and gradient (flat, float64) of the embedding ``flat``."""
        embedding = flat.reshape(self.n_samples, self.n_components)
        squared = pdist(embedding, "sqeuclidean", out=self._squared)
        stress = 0.0
        coefficient = None
        # the pair coefficients are (d chi / d d_ij) / d_ij up to the factor
        # -2 / W, applied to the (n, k) gradient rather than to every pair
        if mixing < 1.0:
            decay, slope = self.low.decay_and_slope(squared)
            residual = np.add(self._target_minus_one, decay, out=decay)  # s - s~
            weighted = self._weighted(residual)
            stress += (1.0 - mixing) * float(np.einsum("i,i->", residual, weighted))
            coefficient = np.multiply(weighted, slope, out=slope)
            if mixing > 0.0:
                coefficient *= 1.0 - mixing
        if mixing > 0.0:
            lengths = np.sqrt(squared)
            raw = np.subtract(self.distances, lengths)
            weighted = self._weighted(raw)
            stress += mixing * float(np.einsum("i,i->", raw, weighted))
            # tiny() guards coincident points: their pair has no direction anyway
            np.maximum(lengths, np.finfo(np.float64).tiny, out=lengths)
            raw_coefficient = np.divide(weighted, lengths, out=lengths)
            if mixing < 1.0:
                raw_coefficient *= mixing
                coefficient += raw_coefficient
            else:
                coefficient = raw_coefficient
        # sum_j c_ij (y_i - y_j): one product with [Y | 1] gives both sums
        self._augmented[:, : self.n_components] = embedding
        sums = squareform(coefficient, checks=False) @ self._augmented
        gradient = sums[:, -1:] * embedding - sums[:, :-1]
        gradient *= -2.0 / self.total_weight
        return stress / self.total_weight, gradient.ravel()

    def point_stress(
        self, candidates: np.ndarray, index: int, embedding: np.ndarray, mixing: float
    ) -> np.ndarray:
        """Unnormalised stress of the pairs of point ``index`` when it is placed
        at each of ``candidates`` (the rest of ``embedding`` fixed)."""
        pairs = condensed_row(self.n_samples, index)
        others = np.delete(embedding, index, axis=0)
        delta = candidates[:, None, :] - others[None, :, :]
        squared = np.einsum("cjk,cjk->cj", delta, delta)
        terms = (1.0 - mixing) * (self.target[pairs] - self.low.value(squared)) ** 2
        if mixing:
            terms += mixing * (self.distances[pairs] - np.sqrt(squared)) ** 2
        if self.weights is not None:
            terms *= np.delete(self.weights, index)[None, :]
        return terms.sum(axis=1)
