r"""A rational approximation of :math:`x^{-1/2}` on a positive interval.

PCov-CUR needs :math:`g = C'^{-1/2} b` at every pick. Writing

.. math::

    x^{-1/2} = \frac{2}{\pi} \int_0^\infty \frac{d\tau}{x + \tau^2}

and substituting :math:`\tau = \sqrt{a}\,\mathrm{sc}(u \mid m)` with the Jacobi
elliptic functions of parameter :math:`m = 1 - a/b` turns the integral into one over
:math:`u \in [0, K(m)]` whose integrand is analytic in a strip; the midpoint rule
with N points then converges geometrically on all of :math:`[a, b]` at once (Hale,
Higham and Trefethen, SIAM J. Numer. Anal. 46, 2505 (2008); the result is
Zolotarev's best rational approximation up to a constant factor):

.. math::

    x^{-1/2} \approx \sum_{j=1}^{N} \frac{w_j}{x + t_j}, \qquad
    t_j = a\,\mathrm{sc}^2(u_j), \quad
    w_j = \frac{2\sqrt{a}\,K}{\pi N} \frac{\mathrm{dn}(u_j)}{\mathrm{cn}^2(u_j)},
    \quad u_j = \frac{(j - \tfrac12) K}{N}.

So one matrix function becomes N shifted solves. The nodes depend on the interval
only through :math:`\kappa = b/a` (t scales with a, w with :math:`\sqrt{a}`).
Computing them needs extended precision: as :math:`m \to 1` double-precision
elliptic functions (scipy's ``ellipj``) lose up to all of their digits. propmap
therefore ships the nodes, computed once with mpmath, for κ at every quarter decade
from 1 to :data:`MAX_LOG10_KAPPA` (``data/inverse_sqrt_nodes.npz``, made by
``scripts/make_inverse_sqrt_nodes.py``), and rounds κ up to the next tabulated
value: the nodes for a wider interval are valid on a narrower one. mpmath is needed
only to remake the table, not to use propmap.
"""

from __future__ import annotations

import functools
import math
from importlib import resources

import numpy as np

__all__ = [
    "MAX_LOG10_KAPPA",
    "RELATIVE_TOLERANCE",
    "compute_inverse_sqrt_nodes",
    "inverse_sqrt_nodes",
    "relative_error",
]

# The selectors treat eigenvalues below max(1e-12, 30 eps λmax) as zero, so the
# interval's ratio never exceeds 1 / (30 eps) ≈ 1.5e14.
MAX_LOG10_KAPPA = 14.5
RELATIVE_TOLERANCE = 1e-14
TABLE = "inverse_sqrt_nodes.npz"


def relative_error(kappa: float, poles, weights, n_grid: int = 4000) -> float:
    """Largest ``|sqrt(x) r(x) − 1|`` over a geometric grid of ``[1, kappa]``."""
    x = np.geomspace(1.0, kappa, n_grid)
    approximation = (weights[None, :] / (x[:, None] + poles[None, :])).sum(axis=1)
    return float(np.abs(approximation * np.sqrt(x) - 1.0).max())


def compute_inverse_sqrt_nodes(
    log10_kappa: float, rtol: float = RELATIVE_TOLERANCE
) -> tuple[np.ndarray, np.ndarray, float]:
    """Poles and weights for ``[1, 10**log10_kappa]`` (needs mpmath).

    The number of nodes starts from the a-priori estimate of Hale et al. and grows
    until the error measured in double precision is at most ``rtol``.

    Returns
    -------
    poles, weights : ndarray of shape (N,)
    error : float
        The measured largest relative error.
    """
    try:
        import mpmath
    except ImportError as error:  # pragma: no cover - the script's dependency
        raise ImportError(
            "Computing the rational nodes needs mpmath (pip install mpmath); propmap "
            "itself uses the shipped table."
        ) from error
    mpmath.mp.dps = 40
    kappa = 10.0**log10_kappa
    estimate = math.log(4 / rtol) * math.log(16 * kappa) / (2 * math.pi**2)
    count = max(4, math.ceil(estimate))
    while True:
        m = 1 - 1 / mpmath.mpf(kappa) if kappa > 1 else mpmath.mpf(0)
        quarter = mpmath.ellipk(m)
        poles, weights = np.empty(count), np.empty(count)
        for j in range(count):
            u = (j + mpmath.mpf(1) / 2) * quarter / count
            sn = mpmath.ellipfun("sn", u, m=m)
            cn = mpmath.ellipfun("cn", u, m=m)
            dn = mpmath.ellipfun("dn", u, m=m)
            poles[j] = float((sn / cn) ** 2)
            weights[j] = float(2 * quarter / (mpmath.pi * count) * dn / cn**2)
        error = relative_error(max(kappa, 1.0 + 1e-12), poles, weights)
        if error <= rtol or count > 400:
            return poles, weights, error
        count += max(2, count // 8)


@functools.cache
def _table() -> dict[str, np.ndarray]:
    path = resources.files("propmap.selection").joinpath("data", TABLE)
    with path.open("rb") as stream, np.load(stream) as data:
        return {name: data[name] for name in data.files}


def inverse_sqrt_nodes(lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
    """Poles t and weights w with ``|sqrt(x) Σ w_j/(x + t_j) − 1| ≤ 1e-14`` on
    ``[lower, upper]`` (``0 < lower <= upper``)."""
    if not 0 < lower <= upper or not math.isfinite(upper):
        raise ValueError(
            f"The interval of the rational approximation must satisfy "
            f"0 < lower <= upper < inf, got [{lower!r}, {upper!r}]."
        )
    table = _table()
    log10_kappa = math.log10(upper / lower)
    row = int(np.searchsorted(table["log10_kappa"], log10_kappa - 1e-12))
    if row >= table["log10_kappa"].size:
        raise ValueError(
            f"The interval [{lower:.3g}, {upper:.3g}] has a ratio of "
            f"{upper / lower:.3g}, beyond the tabulated 1e{MAX_LOG10_KAPPA:g}."
        )
    count = int(table["counts"][row])
    poles = lower * table["poles"][row, :count]
    weights = math.sqrt(lower) * table["weights"][row, :count]
    return poles, weights
