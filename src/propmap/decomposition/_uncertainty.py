r"""How much to trust a ridge prediction: its posterior variance, scaled by a
noise level calibrated on held-out errors, and the applicability domain.

For a ridge regression with penalty λ on (centred) features X̃, with a Gaussian
prior on the weights and noise of variance s², the posterior predictive
variance of a new point x is

.. math::

    \sigma^2(x) = s^2 \left(1 + q(x)\right), \qquad
    q(x) = (x - \mu)^T (\tilde{X}^T\tilde{X} + \lambda I)^{-1} (x - \mu):

the noise, plus the spread of the fitted weights along x. q is the inverse of
the local prediction rigidity (:func:`propmap.metrics.local_prediction_rigidity`).
Only s is fitted: on held-out rows of the cross-validation, so that their
errors divided by ``sqrt(1 + q)`` have unit mean square. q also measures how far
a point lies from what the training data pin down, hence the domain: a point is
inside when its q is at most the 99th percentile of the held-out rows' q.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state, gen_batches

__all__ = [
    "CALIBRATION_ROWS",
    "DOMAIN_QUANTILE",
    "GroupedPosterior",
    "HeldOutRows",
    "KernelPosterior",
    "LinearPosterior",
    "RidgePosterior",
    "TrainingVariance",
    "UncertaintyMixin",
    "calibration_rows",
    "design_posterior",
    "error_ratio",
    "in_sample_noise",
    "latent_ratio",
    "leave_one_out",
    "noise_level",
    "ridge_penalty",
    "spread",
]

# held-out rows whose own errors calibrate s (spread over the folds): s² is a
# mean of their squared scaled errors, to a few per cent with 2,000
CALIBRATION_ROWS = 2000
# held-out rows of the cross-validation inside the domain, by construction
DOMAIN_QUANTILE = 0.99
# directions whose share g / (g + λ) of the prior is pinned by the data below
# this are counted as unpinned: their term of q is taken at 1/λ instead of
# 1/(g + λ), at most share / (1 − share) too large (σ errs on the safe side).
# On the 10,000 QM9 gap map's 2,000 test rows 0.1 keeps 2,142 of 2,668
# directions and q within 0.8 % (median 0.16 %) of every direction's, and
# changes no domain decision; 0.01 kept 2,668 and cost the test rows' q and
# the model file a quarter more
PINNED_SHARE = 0.1


class RidgePosterior:
    r"""``q(x) = (x − μ)ᵀ (X̃ᵀX̃ + λI)⁻¹ (x − μ)`` of a fitted ridge regression.

    With the eigenpairs (g, v) of ``X̃ᵀX̃`` and ``u = Vᵀ(x − μ)``,
    ``q(x) = Σ_k u_k² / (g_k + λ) + ‖(x − μ) − V u‖² / λ``: the directions the
    data pin down (``g / (g + λ)`` above :data:`PINNED_SHARE`) are kept in
    ``directions`` (d x k, orthonormal), every other direction has the prior's
    1/λ. The remainder is formed as a vector, not as ``‖x‖² − ‖u‖²``, so float32
    directions keep q accurate even where it is a tiny share of ``‖x‖² / λ``.

    Parameters
    ----------
    directions : ndarray of shape (n_features, k)
    weights : ndarray of shape (k,)
        ``1 / (g + λ)`` of each direction.
    penalty : float
        λ.
    mean : ndarray of shape (n_features,) or None
        μ (None: the features are used as given).
    """

    def __init__(self, directions, weights, penalty: float, mean=None) -> None:
        self.directions = directions
        self.weights = weights
        self.penalty = float(penalty)
        self.mean = mean

    @classmethod
    def from_eigenpairs(
        cls, span, vectors, values, penalty: float, mean=None,
        share: float = PINNED_SHARE,
    ) -> RidgePosterior:  # fmt: skip
        """From the eigenpairs of ``X̃ᵀX̃`` in the coordinates of an orthonormal
        basis ``span`` (d x r) of its range (``vectors`` None: the basis is the
        eigenbasis); the directions are made and stored in float32. Those whose
        ``g / (g + λ)`` is at most ``share`` are left to the remainder (0:
        every direction of nonzero g is kept)."""
        values = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
        kept = values / (values + penalty) > share
        basis = np.asarray(span, dtype=np.float32)
        if vectors is None:
            directions = np.ascontiguousarray(basis[:, kept])
        else:
            directions = basis @ np.asarray(vectors[:, kept], dtype=np.float32)
        return cls(directions, 1.0 / (values[kept] + penalty), penalty, mean)

    def variance(self, X) -> np.ndarray:
        """q of every row of X (float64), a block of rows at a time.

        Two float32 products per block: ``u = (x − μ) D`` and the remainder
        ``(x − μ) − D u`` as a vector (x − μ formed in float64). Its squared
        norm then errs by about ``2 ε ‖x − μ‖ ‖rest‖``, at most ``2 ε
        sqrt(‖x − μ‖² / (λ q))`` of q (1e-4 for QM9's SOAP rows at 10,000
        molecules, where ``‖x − μ‖² − ‖u‖²`` in float32 erred by up to 18 %).
        """
        out = np.empty(X.shape[0])
        directions = self.directions
        for rows in gen_batches(X.shape[0], 1024):
            part = X[rows]
            if self.mean is not None:
                # centred in float64: a large mean would take float32's digits
                part = np.asarray(part, dtype=np.float64) - self.mean
            part = np.asarray(part, dtype=np.float32)
            pinned = part @ directions
            rest = part - pinned @ directions.T
            out[rows] = (np.asarray(pinned, np.float64) ** 2) @ self.weights + (
                np.einsum("ij,ij->i", rest, rest, dtype=np.float64) / self.penalty
            )
        return out


def _span_variance(base, square, along, count: int):
    """q in the span from a row's sums (see :class:`TrainingVariance`):
    ``z̃ᵀA⁻¹z̃ = base + square`` and ``cᵀA⁻¹z̃ = along − base`` (``base =
    cᵀA⁻¹c``), with the Sherman–Morrison term of the mean kept apart (``count``
    rows; none when 0); rounding can leave a row of tiny q slightly below 0."""
    quadratic = base + square
    if count:
        quadratic = quadratic + count * (along - base) ** 2 / (1.0 - count * base)
    return np.clip(quadratic, 0.0, None)


def _add_span_sums(z, centre, inverse):
    """A piece's share of ``square`` and ``along`` (see :func:`_span_variance`)
    from uncentred coordinates z (rows x the piece's basis columns), the mean's
    coordinates and ``1 / (g + λ)`` there (a vector, or penalties x columns)."""
    inverse = inverse.T if inverse.ndim == 2 else inverse
    return (z * (z - 2.0 * centre)) @ inverse, (z * centre) @ inverse


class GroupedPosterior:
    r"""``q(x)`` of a ridge fitted on rows that are each zero outside one of a
    few ranges of columns (per-atom SOAP features: an atom's lie in its
    element's columns), kept in the basis of their span.

    The basis is the direct sum of the groups' bases (``blocks``: the columns
    of each group, their d_g x r_g basis in float32, and the coordinates it
    fills), an eigenbasis of the groups' own ``XᵀX`` (eigenvalues g); with the
    mean's coordinates c and m rows, the centred moments are
    ``diag(g) − m c cᵀ``. A row's coordinates ``z = Bᵀx`` then give its q in
    the span exactly as :class:`TrainingVariance` (Sherman–Morrison), and its
    part outside the span, ``‖x − B z‖²`` (the mean lies in the span), the
    prior's 1/λ. Any row is taken (nonzero in several groups, or outside them
    all: those columns lie outside the span); a row of one group costs
    ``4 d_g r_g`` flops instead of the dense posterior's ``4 d k`` (25x fewer for
    QM9's five elements), and the model keeps ``Σ d_g r_g`` numbers, not
    ``d k``.

    Parameters
    ----------
    blocks : list of (slice, ndarray of shape (d_g, r_g), ndarray of int)
    values : ndarray of shape (r,)
        g.
    centre : ndarray of shape (r,)
        c (zeros when uncentred).
    count : int
        m (0 when uncentred).
    penalty : float
        λ.
    n_features : int
    """

    def __init__(self, blocks, values, centre, count, penalty, n_features) -> None:
        self.blocks = [
            (columns, np.asarray(basis, dtype=np.float32), np.asarray(filled))
            for columns, basis, filled in blocks
        ]
        self.penalty = float(penalty)
        self.inverse = 1.0 / (
            np.clip(np.asarray(values, np.float64), 0.0, None) + self.penalty
        )
        self.centre = np.asarray(centre, dtype=np.float64)
        self.count = int(count)
        self.base = float(self.inverse @ self.centre**2)  # cᵀA⁻¹c
        inside = np.zeros(n_features, dtype=bool)
        for columns, _, _ in self.blocks:
            inside[columns] = True
        self.outside = np.flatnonzero(~inside)

    def variance(self, X) -> np.ndarray:
        """q of every row of X (float64), a block of rows at a time, each group
        on the rows nonzero in its columns."""
        out = np.empty(X.shape[0])
        for rows in gen_batches(X.shape[0], 1024):
            part = np.asarray(X[rows])
            square = np.zeros(part.shape[0])  # z̃ᵀA⁻¹z̃ − cᵀA⁻¹c
            along = np.zeros(part.shape[0])  # cᵀA⁻¹z
            rest = np.zeros(part.shape[0])  # ‖x − B z‖²
            for columns, basis, filled in self.blocks:
                here = np.asarray(part[:, columns], dtype=np.float32)
                active = np.flatnonzero(np.any(here != 0, axis=1))
                if active.size == 0:
                    continue
                here = here[active]
                z = here @ basis
                residual = here - z @ basis.T
                rest[active] += np.einsum(
                    "ij,ij->i", residual, residual, dtype=np.float64
                )
                shares = _add_span_sums(
                    np.asarray(z, dtype=np.float64),
                    self.centre[filled],
                    self.inverse[filled],
                )
                square[active] += shares[0]
                along[active] += shares[1]
            if self.outside.size:
                beyond = np.asarray(part[:, self.outside], dtype=np.float64)
                rest += np.einsum("ij,ij->i", beyond, beyond)
            inside = _span_variance(self.base, square, along, self.count)
            out[rows] = inside + rest / self.penalty
        return out


class TrainingVariance:
    r"""q of the rows a ridge is fitted on, for every penalty of a grid, gathered
    while the cross-validation reads their coordinates in the basis of their
    span (so that the uncertainty of the training rows costs no pass of its own).

    In an orthonormal eigenbasis of the span, the centred moments are
    ``G = diag(g) − m c cᵀ``, with ``c`` the mean's coordinates and ``m`` the
    number of rows where g are the eigenvalues of the rows' own ``XᵀX``
    (``m = 0`` where g are already those of the centred ``X̃ᵀX̃``). With
    ``A = diag(g) + λ`` and a row's centred coordinates ``z̃ = z − c``,
    Sherman–Morrison gives

    .. math::

        q = \tilde z^T A^{-1} \tilde z
            + \frac{m \, (c^T A^{-1} \tilde z)^2}{1 - m \, c^T A^{-1} c}

    exactly, every direction of the span weighed (a row of the fit lies in the
    span: no remainder). The coordinates may come piece by piece (per-atom
    features: a row is nonzero only in its element's columns, its coordinates
    only in its group's): each piece adds its share of ``z̃ᵀA⁻¹z̃ − cᵀA⁻¹c`` and
    of ``cᵀA⁻¹z``, per row and penalty.

    Parameters
    ----------
    values : ndarray of shape (r,)
        g.
    centre : ndarray of shape (r,)
        c (zeros when the rows are not centred).
    count : int
        m.
    n_rows : int
    penalties : ndarray of shape (n_penalties,)
    blocks : list or None
        The span's column groups (:meth:`Span.group_blocks`), for
        :meth:`posterior`.
    """

    def __init__(
        self, values, centre, count: int, n_rows: int, penalties, blocks=None
    ) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        self.blocks = blocks  # the span's column groups (Span.group_blocks)
        self.penalties = np.asarray(penalties, dtype=np.float64)
        self.inverse = 1.0 / (
            np.clip(np.asarray(values, np.float64), 0.0, None)[None, :]
            + self.penalties[:, None]
        )
        self.centre = np.asarray(centre, dtype=np.float64)
        self.count = int(count)
        self.base = self.inverse @ self.centre**2  # cᵀA⁻¹c per penalty
        # rows no piece reaches (rows of zeros): z = 0
        self.square = np.zeros((n_rows, self.penalties.size))
        self.along = np.zeros((n_rows, self.penalties.size))

    def add(self, rows, filled, coordinates) -> None:
        """The uncentred coordinates (rows x pieces' columns) of ``rows`` (an
        index, or a slice) in the basis columns ``filled``."""
        square, along = _add_span_sums(
            np.asarray(coordinates, dtype=np.float64),
            self.centre[filled],
            self.inverse[:, filled],
        )
        self.square[rows] += square
        self.along[rows] += along

    def posterior(self, penalty: float, n_features: int) -> GroupedPosterior | None:
        """The posterior of new rows at ``penalty`` in the groups' basis (None
        when the span has no column groups)."""
        if self.blocks is None:
            return None
        return GroupedPosterior(
            self.blocks, self.values, self.centre, self.count, penalty, n_features
        )

    def variance(self, penalty: float) -> np.ndarray:
        """q of every row at ``penalty`` (one of the grid's)."""
        at = int(np.argmin(np.abs(self.penalties - penalty)))
        return _span_variance(
            self.base[at], self.square[:, at], self.along[:, at], self.count
        )


def ridge_penalty(regressor) -> float | None:
    """A fitted ridge regressor's one penalty (``alpha_`` of the CV ones, else
    ``alpha``), or None when it has no single positive one."""
    penalty = getattr(regressor, "alpha_", getattr(regressor, "alpha", None))
    if penalty is None or np.ndim(penalty) != 0 or not penalty > 0:
        return None
    return float(penalty)


def design_posterior(centred, penalty: float) -> tuple[RidgePosterior, np.ndarray]:
    """The posterior of a ridge without intercept on the rows of ``centred``
    (n x p, float64), every direction of their span kept (a design of
    structures or of Nyström features is small: q to float32's rounding), and
    each row's leverage (its own q): from ``DᵀD`` when n >= p, else from
    ``DDᵀ``."""
    n, p = centred.shape
    if n >= p:
        values, directions = np.linalg.eigh(centred.T @ centred)
        values = np.clip(values, 0.0, None)
        rows = centred @ directions  # the rows' coordinates
    else:
        values, left = np.linalg.eigh(centred @ centred.T)
        kept = values > 1e-12 * max(values[-1], 0.0)
        values, left = values[kept], left[:, kept]
        roots = np.sqrt(values)
        directions = centred.T @ (left / roots)
        rows = left * roots
    leverage = (rows**2) @ (1.0 / (values + penalty))
    posterior = RidgePosterior.from_eigenpairs(
        directions, None, values, penalty, share=0.0
    )
    return posterior, leverage


class LinearPosterior:
    r"""The posterior of a fitted ridge regression (scikit-learn's ``Ridge``,
    ``RidgeCV`` and the like: ``alpha`` or ``alpha_``, ``fit_intercept``) on
    its design matrix D, with the noise level calibrated on its exact
    leave-one-out errors.

    With an intercept the design's mean μ is taken off (the intercept is not
    penalised) and adds ``1/n`` to q: ``q(x) = 1/n + (x − μ)ᵀ(D̃ᵀD̃ + λI)⁻¹(x −
    μ)``. A ridge's leave-one-out error of row i is ``e_i / (1 − h_i)``, with
    h_i its leverage (q of the row itself), and its q when left out is
    ``h_i / (1 − h_i)``: s is fitted on those (:func:`noise_level`), as a
    cross-validation would, without refitting.

    Attributes
    ----------
    posterior : RidgePosterior
        Of the centred rows.
    mean : ndarray of shape (n_features,)
        μ (zeros without an intercept).
    noise_std : float or ndarray of shape (n_targets,)
        s (one per target for 2-D targets).
    n_samples : int
    intercept : bool
    """

    def __init__(self, posterior, mean, noise_std, n_samples, intercept) -> None:
        self.posterior = posterior
        self.mean = mean
        self.noise_std = noise_std
        self.n_samples = int(n_samples)
        self.intercept = bool(intercept)

    @classmethod
    def of(cls, regressor, design, targets) -> LinearPosterior:
        """From a ridge ``regressor`` fitted on ``design`` (n x p) and
        ``targets`` (n,) or (n, n_targets)."""
        penalty = ridge_penalty(regressor)
        if penalty is None:
            raise ValueError(
                "The uncertainty needs a ridge regressor with one penalty alpha > 0 "
                f"(Ridge, RidgeCV); got {type(regressor).__name__}."
            )
        design = np.asarray(
            design.toarray() if hasattr(design, "toarray") else design, np.float64
        )
        n = design.shape[0]
        intercept = bool(getattr(regressor, "fit_intercept", False))
        mean = design.mean(axis=0) if intercept else np.zeros(design.shape[1])
        posterior, leverage = design_posterior(design - mean, penalty)
        if intercept:  # the intercept's, unpenalised
            leverage = leverage + 1.0 / n
        targets = np.asarray(targets, np.float64)
        residuals = targets.reshape(n, -1) - np.asarray(
            regressor.predict(design), np.float64
        ).reshape(n, -1)
        noise, _ = leave_one_out(residuals, leverage)
        noise = float(noise[0]) if targets.ndim == 1 else noise
        return cls(posterior, mean, noise, n, intercept)

    def variance(self, X, weight=None) -> np.ndarray:
        """q of rows X of the design's kind, each a ``weight`` (default 1)
        times a row's share: centred by ``weight μ``, the intercept's variance
        ``weight² / n`` (an atom's part of a structure's sum, 1/n_S of it for
        a mean, a group of atoms the sum of theirs)."""
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X, np.float64)
        weight = np.ones(X.shape[0]) if weight is None else np.asarray(weight, float)
        q = self.posterior.variance(X - weight[:, None] * self.mean[None, :])
        if self.intercept:
            q = q + weight**2 / self.n_samples
        return q


def spread(variance, noise, two_d: bool):
    """``noise · sqrt(1 + q)`` shaped as the predictions: (n,) for one target,
    (n, n_targets) with one noise level per target."""
    root = np.sqrt(1.0 + np.asarray(variance, dtype=np.float64))
    if two_d:
        return root[:, None] * np.asarray(noise)[None, :]
    return float(np.ravel(noise)[0]) * root


class UncertaintyMixin:
    """The domain's rule and σ beside the predictions, for an estimator fitted
    with ``posterior_variance(X)``, ``noise_std_``, ``latent_noise_std_`` and
    ``domain_threshold_`` (the one owner of the rule "inside when q is at most
    the threshold")."""

    def in_domain(self, X) -> np.ndarray:
        """Whether each row lies in the applicability domain: its
        :meth:`posterior_variance` at most ``domain_threshold_`` (the 99th
        percentile of the held-out rows' q).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        inside : ndarray of bool, shape (n_samples,)
        """
        return self.variance_in_domain(self.posterior_variance(X))

    def variance_in_domain(self, variance) -> np.ndarray:
        """The domain's rule on posterior variances q already computed (e.g. by
        ``transform_predict``): q at most ``domain_threshold_``.

        Parameters
        ----------
        variance : array-like of shape (n_samples,)

        Returns
        -------
        inside : ndarray of bool, shape (n_samples,)
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "domain_threshold_")
        return np.asarray(variance) <= self.domain_threshold_

    def _with_std(self, latent, predicted, regressor, variance):
        """The :class:`LatentPrediction` of both predictions with their σ
        (``latent_noise_std_`` and ``noise_std_`` times ``sqrt(1 + q)``), q and
        the domain."""
        from propmap.decomposition._base import LatentPrediction

        two_d = np.ndim(predicted) == 2
        return LatentPrediction(
            latent, predicted, regressor,
            spread(variance, self.latent_noise_std_, two_d),
            spread(variance, self.noise_std_, two_d), variance,
            self.variance_in_domain(variance),
        )  # fmt: skip


def error_ratio(targets, ridge, latent) -> np.ndarray:
    """Per target, how much more the prediction through the latent space errs
    than the ridge on the training rows: the square root of the ratio of their
    sums of squared errors."""
    targets = np.asarray(targets, np.float64)
    targets = targets.reshape(targets.shape[0], -1)
    ridge = np.asarray(ridge, np.float64).reshape(targets.shape)
    latent = np.asarray(latent, np.float64).reshape(targets.shape)
    return np.sqrt(
        np.sum((targets - latent) ** 2, axis=0)
        / np.maximum(np.sum((targets - ridge) ** 2, axis=0), 1e-300)
    )


def in_sample_noise(targets, ridge, latent, leverage, targets_1d: bool):
    """The noise levels of a ridge without intercept fitted on all its rows
    and of the prediction through the latent space: the ridge's from its
    exact leave-one-out errors (:func:`leave_one_out`, from its in-sample
    predictions ``ridge`` and the rows' leverages), the latent one that times
    :func:`error_ratio`. Floats for one target (``targets_1d``), else one
    per target."""
    targets = np.asarray(targets, np.float64)
    targets = targets.reshape(targets.shape[0], -1)
    residuals = targets - np.asarray(ridge, np.float64).reshape(targets.shape)
    noise, _ = leave_one_out(residuals, leverage)
    latent_noise = noise * error_ratio(targets, ridge, latent)
    if targets_1d:
        return float(noise[0]), float(latent_noise[0])
    return noise, latent_noise


def latent_ratio(results: dict, weights, penalty: float, mixing: float) -> float:
    """How much more the prediction through the latent space errs than the full
    ridge, on the folds: the square root of the ratio of their held-out losses
    (``cv_results_``, each fold weighted by its held-out targets' ``Σ y²``) at
    the chosen penalty and mixing."""
    chosen_penalty = int(np.argmin(np.abs(results["alphas"] - penalty)))
    chosen_mixing = int(np.argmin(np.abs(results["mixings"] - mixing)))
    weights = np.asarray(weights, dtype=np.float64)
    ridge = weights @ results["ridge_loss_folds"][:, chosen_penalty]
    latent = weights @ results["loss_y_folds"][:, chosen_mixing]
    return float(np.sqrt(latent / max(ridge, 1e-300)))


def leave_one_out(residuals, leverage) -> tuple[np.ndarray, np.ndarray]:
    """The noise level per target and the rows' q when each is left out, from
    a ridge's in-sample residuals (rows x targets) and leverages h: its
    leave-one-out errors are ``e / (1 − h)`` and their q ``h / (1 − h)``,
    exactly (a cross-validation of n folds, without refitting)."""
    leverage = np.clip(np.asarray(leverage, np.float64), 0.0, 1.0 - 1e-12)
    residuals = np.asarray(residuals, np.float64).reshape(leverage.size, -1)
    left_out = residuals / (1.0 - leverage)[:, None]
    variances = leverage / (1.0 - leverage)
    return noise_level(left_out, variances), variances


class KernelPosterior:
    r"""``q(x) = φ(x)ᵀ(ΦᵀΦ + λI)⁻¹φ(x)`` of a kernel ridge regression on a
    (centred) training kernel ``K = ΦΦᵀ``, from a new point's kernel row
    ``k(x, ·)`` and ``k(x, x)``.

    With ``K = U diag(w) Uᵀ``, a point's coordinate along the j-th direction of
    the training points' span in feature space is ``u_jᵀk(x, ·)/sqrt(w_j)``; the
    directions the data pin down (``w / (w + λ)`` above :data:`PINNED_SHARE`)
    are kept, the rest of ``‖φ(x)‖² = k(x, x)`` has the prior's 1/λ.

    Parameters
    ----------
    projection : ndarray of shape (n_samples, k)
        ``u_j / sqrt(w_j)`` of the pinned directions.
    weights : ndarray of shape (k,)
        ``1 / (w_j + λ)``.
    penalty : float
    """

    def __init__(self, projection, weights, penalty: float) -> None:
        self.projection = projection
        self.weights = weights
        self.penalty = float(penalty)

    @classmethod
    def of(cls, K, penalty: float) -> tuple[KernelPosterior, np.ndarray]:
        """The posterior, and the leverage of every training point (its own q,
        every direction weighed)."""
        values, vectors = np.linalg.eigh(np.asarray(K, dtype=np.float64))
        kept = values > 1e-12 * max(values[-1], 0.0)
        values, vectors = values[kept], vectors[:, kept]
        leverage = (vectors**2) @ (values / (values + penalty))
        pinned = values / (values + penalty) > PINNED_SHARE
        projection = vectors[:, pinned] / np.sqrt(values[pinned])
        posterior = cls(projection, 1.0 / (values[pinned] + penalty), penalty)
        return posterior, leverage

    def variance(self, K_rows, diagonal) -> np.ndarray:
        """q of new points from their (centred) kernel rows with the training
        points and their own ``k(x, x)`` (centred alike)."""
        return self.variance_of(
            np.asarray(K_rows, dtype=np.float64) @ self.projection, diagonal
        )

    def variance_of(self, z, diagonal) -> np.ndarray:
        """q from the kernel rows' products with ``projection`` already made
        (e.g. in the same pass as a prediction) and ``k(x, x)``."""
        along = np.asarray(z, dtype=np.float64) ** 2
        rest = np.clip(np.asarray(diagonal, np.float64) - along.sum(axis=1), 0.0, None)
        return along @ self.weights + rest / self.penalty


def calibration_rows(folds, random_state, total: int = CALIBRATION_ROWS):
    """Up to ``total`` held-out rows, the same number from each fold: their
    positions (ascending) in each fold's held-out set."""
    rng = check_random_state(random_state)
    each = -(-total // max(len(folds), 1))
    picked = []
    for _, held in folds:
        size = len(held)
        if size <= each:
            picked.append(np.arange(size))
        else:
            picked.append(np.sort(rng.choice(size, each, replace=False)))
    return picked


# the shares of a normal distribution within 1 and 2 standard deviations
NORMAL_COVERAGE = (0.6827, 0.9545)


def noise_level(errors: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """s per target, from held-out ``errors`` (rows x targets) and their q:
    the scale whose 1σ and 2σ intervals ``s sqrt(1 + q)`` hold shares of the
    errors closest to a normal distribution's (least squares over the two).

    For normal errors that is their root mean square; for errors with heavier
    tails (a few large ones) the root mean square would cover too many within
    1σ, the 1σ quantile too few within 2σ: the scale lies between the two.
    """
    z = np.abs(errors) / np.sqrt(1.0 + variances)[:, None]
    levels = []
    for column in z.T:
        exact = [np.quantile(column, NORMAL_COVERAGE[0]), 0.5 * np.quantile(
            column, NORMAL_COVERAGE[1]
        )]  # fmt: skip
        low, high = min(exact), max(exact)
        if not high > 0:
            levels.append(float(np.sqrt(np.mean(column**2))))
            continue
        candidates = np.linspace(low, high, 201)
        ordered = np.sort(column)
        misfit = [
            sum(
                (
                    np.searchsorted(ordered, k * scale, side="right") / ordered.size
                    - share
                )
                ** 2
                for k, share in zip((1, 2), NORMAL_COVERAGE, strict=True)
            )
            for scale in candidates
        ]
        levels.append(float(candidates[int(np.argmin(misfit))]))
    return np.array(levels)


class HeldOutRows:
    """Held-out rows whose own errors calibrate the uncertainty
    (:func:`calibration_rows` of each fold): their positions in the fold's
    held-out set and their row numbers; once read, their coordinates in the
    basis of the span (centred), targets and squared norms ``‖x − μ‖²``."""

    def __init__(self, positions: list, index: list) -> None:
        self.positions = positions
        self.index = index
        self.rows = self.targets = self.norms = None

    @classmethod
    def pick(cls, folds, random_state) -> HeldOutRows:
        positions = calibration_rows(folds, random_state)
        index = [
            np.asarray(held)[chosen]
            for (_, held), chosen in zip(folds, positions, strict=True)
        ]
        return cls(positions, index)

    def read(self, X, Y, mean, basis) -> None:
        """From X itself (in memory or dask) and the span's basis."""
        everything = np.concatenate(self.index)
        order = np.argsort(everything, kind="stable")
        rows, targets = X[everything[order]], Y[everything[order]]
        if hasattr(rows, "dask"):  # one graph for both
            import dask

            rows, targets = dask.compute(rows, targets)
        values = np.empty((everything.size, X.shape[1]))
        values[order] = np.asarray(rows, dtype=np.float64)
        if mean is not None:
            values -= mean
        chosen = np.empty((everything.size, *np.shape(targets)[1:]))
        chosen[order] = np.asarray(targets, dtype=np.float64)
        self._split(values @ basis, chosen, None)
        self.norms = [
            np.einsum("ij,ij->i", part, part)
            for part in np.split(values, np.cumsum([i.size for i in self.index])[:-1])
        ]

    def read_coordinates(self, Z, Y, squared) -> None:
        """From the coordinates of every row (centred) and their norms."""
        everything = np.concatenate(self.index)
        self._split(
            np.asarray(Z[everything], dtype=np.float64),
            Y[everything],
            squared[everything],
        )

    def _split(self, rows, targets, norms) -> None:
        cuts = np.cumsum([i.size for i in self.index])[:-1]
        self.rows = np.split(rows, cuts)
        self.targets = np.split(np.asarray(targets, dtype=np.float64), cuts)
        if norms is not None:
            self.norms = np.split(norms, cuts)
