"""scikit-matter's module path for the sparse KDE, kept for code written against it.

scikit-matter's PAMM and sparse-KDE examples import its covariance helper from
``skmatter.neighbors._sparsekde``; ``from propmap.neighbors._sparsekde import
_covariance`` works the same way. Everything here is propmap's own implementation
in :mod:`propmap.neighbors._sparse_kde`.

Examples
--------
>>> import numpy as np
>>> from propmap.neighbors._sparsekde import _covariance
>>> X = np.array([[1.0, 2.0], [3.0, 3.0], [4.0, 6.0]])
>>> _covariance(X, np.full(3, 1 / 3), None).round(4)
array([[2.3333, 2.8333],
       [2.8333, 4.3333]])
"""

from propmap.neighbors._sparse_kde import SparseKDE, _covariance

__all__ = ["SparseKDE", "_covariance"]
