r"""Feature-space reconstruction measures (Goscinski et al. 2021).

How much of feature space F' can be decoded from F: the root mean square error of
regressing the (scaled) features :math:`X_{F'}` on :math:`X_F`, with a linear map
fitted on a training split and measured on the test split — globally (GFRE), as the
distortion between the linear and the best orthogonal map (GFRD), or with one
linear map per test point fitted on its k nearest training neighbours (LFRE). Each
value lies between 0 (F' fully decodable from F) and about 1 (nothing decodable),
because the default scaler gives each block unit mean square norm on the training
set.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors

from propmap.linear_model import OrthogonalRegression, Ridge2FoldCV
from propmap.linear_model._ridge import spectral_filter
from propmap.model_selection import train_test_split
from propmap.preprocessing import StandardFlexibleScaler

__all__ = [
    "check_global_reconstruction_measures_input",
    "check_local_reconstruction_measures_input",
    "global_reconstruction_distortion",
    "global_reconstruction_error",
    "local_reconstruction_error",
    "pointwise_global_reconstruction_distortion",
    "pointwise_global_reconstruction_error",
    "pointwise_local_reconstruction_error",
]

# the split and the regression of Goscinski et al., as scikit-matter defaults them
_SEED = 0x5F3759DF


def _default_estimator() -> Ridge2FoldCV:
    return Ridge2FoldCV(
        alphas=np.geomspace(1e-9, 0.9, 20),
        alpha_type="relative",
        regularization_method="cutoff",
        random_state=_SEED,
        shuffle=True,
        scoring="neg_root_mean_squared_error",
        n_jobs=1,
    )


def _positional_guard(name: str, extra: tuple) -> None:
    if extra:
        raise TypeError(
            f"{name}() takes the split, scaler and estimator by keyword only "
            "(train_idx=..., test_idx=...): scikit-matter's functions disagree on "
            "the order of train_idx and test_idx, so a positional call is refused "
            "rather than guessed."
        )


def _as_matrix(A, name: str) -> np.ndarray:
    if hasattr(A, "toarray"):  # sparse: the default scaler centres, so densify
        A = A.toarray()
    try:
        A = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric array.") from error
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {A.shape}.")
    if A.shape[1] == 0:
        raise ValueError(f"{name} has no columns.")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return A


def _as_indices(indices, n: int, name: str) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.dtype == bool:
        if indices.shape != (n,):
            raise ValueError(f"A boolean {name} must have one entry per sample ({n}).")
        indices = np.flatnonzero(indices)
    if indices.ndim != 1 or indices.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of indices.")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got {indices.dtype}.")
    if indices.min() < -n or indices.max() >= n:
        raise ValueError(f"{name} has indices outside the {n} samples.")
    return indices


# the parameters every measure shares, filled into their docstrings (one text)
_DATA_PARAMETERS = """X : array-like of shape (n_samples, n_features_X)
        Source features F (rows: samples; transpose both for a reconstruction of
        samples).
    Y : array-like of shape (n_samples, n_features_Y)
        Target features F'."""
_MODEL_PARAMETERS = """*args
        None: the split, the scaler and the estimator are keyword only (a
        positional one raises a TypeError, as scikit-matter's functions disagree
        on the order of ``train_idx`` and ``test_idx``).
    train_idx, test_idx : array-like of int, default=None
        The split; see :func:`check_global_reconstruction_measures_input`.
    scaler : estimator, default=None
        Scales each block on its training rows; None:
        :class:`~propmap.preprocessing.StandardFlexibleScaler`.
    estimator : regressor, default=None
        The map P; None: the cross-validated
        :class:`~propmap.linear_model.Ridge2FoldCV` of Goscinski et al."""


def _shared_parameters(function):
    """Fill the parameters the measures share into ``function``'s docstring."""
    if function.__doc__ is not None:  # None under python -OO
        function.__doc__ = function.__doc__.replace("{data}", _DATA_PARAMETERS).replace(
            "{models}", _MODEL_PARAMETERS
        )
    return function


def check_global_reconstruction_measures_input(
    X, Y, train_idx, test_idx, scaler, estimator
):
    """Check the data and fill in the defaults of the global measures.

    Parameters
    ----------
    X, Y : array-like of shape (n_samples, n_features_X / n_features_Y)
        Source and target (one row per sample; for a reconstruction of samples,
        pass the transposed matrices).
    train_idx, test_idx : array-like of int or None
        The split; one None means the complement of the other, both None a
        shuffled half split (seed 0x5F3759DF, as scikit-matter).
    scaler : estimator with fit/transform or None
        None means :class:`~propmap.preprocessing.StandardFlexibleScaler`.
    estimator : estimator with fit/predict or None
        None means :class:`~propmap.linear_model.Ridge2FoldCV` with 20 relative
        cutoffs from 1e-9 to 0.9, as in Goscinski et al.

    Returns
    -------
    train_idx, test_idx : ndarray of int
    scaler, estimator : unfitted clones (the objects passed are left untouched)
    """
    X, Y = _as_matrix(X, "X"), _as_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must have the same number of rows (samples): {X.shape[0]} "
            f"and {Y.shape[0]}."
        )
    n = X.shape[0]
    if train_idx is None and test_idx is None:
        if n < 4:
            raise ValueError(f"At least 4 samples are needed to split, got {n}.")
        train_idx, test_idx = train_test_split(
            np.arange(n),
            test_size=0.5,
            train_size=0.5,
            random_state=_SEED,
            shuffle=True,
            train_test_overlap=False,
        )
    elif train_idx is None:
        test_idx = _as_indices(test_idx, n, "test_idx")
        train_idx = np.setdiff1d(np.arange(n), np.arange(n)[test_idx])
    elif test_idx is None:
        train_idx = _as_indices(train_idx, n, "train_idx")
        test_idx = np.setdiff1d(np.arange(n), np.arange(n)[train_idx])
    train_idx = _as_indices(train_idx, n, "train_idx")
    test_idx = _as_indices(test_idx, n, "test_idx")
    scaler = StandardFlexibleScaler() if scaler is None else clone(scaler)
    estimator = _default_estimator() if estimator is None else clone(estimator)
    return train_idx, test_idx, scaler, estimator


def check_local_reconstruction_measures_input(
    X, Y, n_local_points, train_idx, test_idx, scaler, estimator
):
    """Check the data and fill in the defaults of the local measures.

    As :func:`check_global_reconstruction_measures_input`, and
    ``n_local_points`` must be between 2 and the number of training samples.

    Parameters
    ----------
    X, Y : array-like of shape (n_samples, n_features_X / n_features_Y)
        Source and target, as for the global measures.
    n_local_points : int
        The neighbours of each test point.
    train_idx, test_idx : array-like of int or None
        The split, as for the global measures.
    scaler : estimator with fit/transform or None
        As for the global measures.
    estimator : estimator with fit/predict or None
        As for the global measures.

    Returns
    -------
    train_idx, test_idx : ndarray of int
        The split.
    scaler, estimator : estimator
        Unfitted clones (the objects passed are left untouched).
    """
    result = check_global_reconstruction_measures_input(
        X, Y, train_idx, test_idx, scaler, estimator
    )
    n_train = result[0].size
    if (
        not isinstance(n_local_points, Integral | np.integer)
        or isinstance(n_local_points, bool)
        or not 2 <= n_local_points <= n_train
    ):
        raise ValueError(
            f"n_local_points must be an integer between 2 and the {n_train} "
            f"training samples, got {n_local_points!r}."
        )
    return result


def _prepare_data(X, Y, train_idx, test_idx, scaler):
    """Split, then scale X and Y each with a clone of ``scaler`` fitted on their
    training rows."""
    X, Y = _as_matrix(X, "X"), _as_matrix(Y, "Y")
    blocks = []
    for A in (X, Y):
        fitted = clone(scaler).fit(A[train_idx])
        blocks += [fitted.transform(A[train_idx]), fitted.transform(A[test_idx])]
    return tuple(np.asarray(block, dtype=np.float64) for block in blocks)


@_shared_parameters
def pointwise_global_reconstruction_error(
    X, Y, *args, train_idx=None, test_idx=None, scaler=None, estimator=None
):
    r"""Global feature reconstruction error of every test sample.

    .. math::

        \mathrm{GFRE}^{(i)} = \lVert y_i - x_i P \rVert,

    P the regression of the scaled training Y on the scaled training X.

    Parameters
    ----------
    {data}
    {models}

    Returns
    -------
    errors : ndarray of shape (n_test,)
        The error of each test sample.

    References
    ----------
    .. [1] A. Goscinski, G. Fraux, G. Imbalzano, M. Ceriotti, "The role of feature
       space in atomistic learning", Mach. Learn.: Sci. Technol. 2, 025028 (2021).
    """
    _positional_guard("pointwise_global_reconstruction_error", args)
    train_idx, test_idx, scaler, estimator = check_global_reconstruction_measures_input(
        X, Y, train_idx, test_idx, scaler, estimator
    )
    X_train, X_test, Y_train, Y_test = _prepare_data(X, Y, train_idx, test_idx, scaler)
    predicted = np.asarray(estimator.fit(X_train, Y_train).predict(X_test))
    return np.linalg.norm(Y_test - predicted.reshape(Y_test.shape), axis=1)


@_shared_parameters
def global_reconstruction_error(
    X, Y, *args, test_idx=None, train_idx=None, scaler=None, estimator=None
):
    r"""Global feature reconstruction error.

    :math:`\mathrm{GFRE} = \sqrt{\tfrac{1}{n_{test}} \sum_i
    (\mathrm{GFRE}^{(i)})^2}`, with the errors of
    :func:`pointwise_global_reconstruction_error`.

    Parameters
    ----------
    {data}
    {models}

    Returns
    -------
    error : float
        The root mean square of the test samples' errors.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.metrics import global_reconstruction_error
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 4))
    >>> round(global_reconstruction_error(X, X[:, :2]), 3)  # F' inside F
    0.0
    >>> # two of the target's four directions missing: about √½
    >>> round(global_reconstruction_error(X[:, :2], X), 2)
    0.81
    """
    _positional_guard("global_reconstruction_error", args)
    errors = pointwise_global_reconstruction_error(
        X, Y, train_idx=train_idx, test_idx=test_idx, scaler=scaler, estimator=estimator
    )
    return float(np.sqrt(np.mean(errors**2)))


@_shared_parameters
def pointwise_global_reconstruction_distortion(
    X, Y, *args, test_idx=None, train_idx=None, scaler=None, estimator=None
):
    r"""Global feature reconstruction distortion of every test sample.

    .. math::

        \mathrm{GFRD}^{(i)} = \lVert x_i P - x_i Q \rVert,

    P the regression of Y on X and Q the orthogonal (Procrustes) map from the
    training X to its prediction :math:`X_{train} P`, both padded with zero columns
    to the larger width: how far the linear map is from a rotation. Also defined
    when X is wider than Y (scikit-matter's raises a shape error there).

    Parameters
    ----------
    {data}
    {models}

    Returns
    -------
    distortions : ndarray of shape (n_test,)
        The distortion of each test sample.
    """
    _positional_guard("pointwise_global_reconstruction_distortion", args)
    train_idx, test_idx, scaler, estimator = check_global_reconstruction_measures_input(
        X, Y, train_idx, test_idx, scaler, estimator
    )
    X_train, X_test, Y_train, _ = _prepare_data(X, Y, train_idx, test_idx, scaler)
    estimator.fit(X_train, Y_train)
    width = Y_train.shape[1]

    def predicted(A):
        return np.asarray(estimator.predict(A)).reshape(A.shape[0], width)

    orthogonal = OrthogonalRegression(use_orthogonal_projector=False).fit(
        X_train, predicted(X_train)
    )
    rotated = orthogonal.predict(X_test)  # max(d_X, d_Y) wide
    linear = np.pad(predicted(X_test), [(0, 0), (0, rotated.shape[1] - width)])
    return np.linalg.norm(linear - rotated, axis=1)


@_shared_parameters
def global_reconstruction_distortion(
    X, Y, *args, test_idx=None, train_idx=None, scaler=None, estimator=None
):
    r"""Global feature reconstruction distortion.

    :math:`\sqrt{\tfrac{1}{n_{test}} \sum_i (\mathrm{GFRD}^{(i)})^2}`, with
    the distortions of :func:`pointwise_global_reconstruction_distortion`.

    Parameters
    ----------
    {data}
    {models}

    Returns
    -------
    distortion : float
        The root mean square of the test samples' distortions.
    """
    _positional_guard("global_reconstruction_distortion", args)
    distortions = pointwise_global_reconstruction_distortion(
        X, Y, train_idx=train_idx, test_idx=test_idx, scaler=scaler, estimator=estimator
    )
    return float(np.sqrt(np.mean(distortions**2)))


@_shared_parameters
def pointwise_local_reconstruction_error(
    X,
    Y,
    n_local_points,
    *args,
    test_idx=None,
    train_idx=None,
    scaler=None,
    estimator=None,
    n_jobs=None,
):
    r"""Local feature reconstruction error of every test sample.

    For test point i with its k nearest training neighbours (in the scaled X),
    centred on their means :math:`\bar x, \bar y`, a map :math:`P^{(i)}` is fitted
    from the neighbours' X to their Y, and

    .. math::

        \mathrm{LFRE}^{(i)} = \lVert y_i - \bar y - (x_i - \bar x) P^{(i)} \rVert.

    The neighbours come from one tree query for all test points; with the default
    estimator (or any :class:`~propmap.linear_model.Ridge2FoldCV`) every local
    cross-validated fit is made at once, from batched SVDs of the neighbourhoods
    (their folds are the same rows for every point). Another estimator is cloned
    and fitted per point.

    Parameters
    ----------
    {data}
    n_local_points : int
        k, the neighbours of each test point (2 to the number of training samples).
    {models}
    n_jobs : int, default=None
        Threads of the neighbour search.

    Returns
    -------
    errors : ndarray of shape (n_test,)
        The error of each test sample.
    """
    _positional_guard("pointwise_local_reconstruction_error", args)
    train_idx, test_idx, scaler, estimator = check_local_reconstruction_measures_input(
        X, Y, n_local_points, train_idx, test_idx, scaler, estimator
    )
    X_train, X_test, Y_train, Y_test = _prepare_data(X, Y, train_idx, test_idx, scaler)
    search = NearestNeighbors(n_neighbors=n_local_points, n_jobs=n_jobs)
    _, neighbours = search.fit(X_train).kneighbors(X_test)
    local_X = X_train[neighbours]  # n_test x k x d_X
    local_Y = Y_train[neighbours]
    x_mean, y_mean = local_X.mean(axis=1), local_Y.mean(axis=1)
    local_X -= x_mean[:, None, :]
    local_Y -= y_mean[:, None, :]
    offsets = X_test - x_mean
    predicted = _local_predictions(estimator, local_X, local_Y, offsets)
    return np.linalg.norm(Y_test - y_mean - predicted, axis=1)


@_shared_parameters
def local_reconstruction_error(
    X,
    Y,
    n_local_points,
    *args,
    test_idx=None,
    train_idx=None,
    scaler=None,
    estimator=None,
    n_jobs=None,
):
    r"""Local feature reconstruction error.

    :math:`\sqrt{\tfrac{1}{n_{test}} \sum_i (\mathrm{LFRE}^{(i)})^2}`, with the
    errors of :func:`pointwise_local_reconstruction_error`.

    Parameters
    ----------
    {data}
    n_local_points : int
        k, the neighbours of each test point (2 to the number of training samples).
    {models}
    n_jobs : int, default=None
        Threads of the neighbour search.

    Returns
    -------
    error : float
        The root mean square of the test samples' errors.
    """
    _positional_guard("local_reconstruction_error", args)
    errors = pointwise_local_reconstruction_error(
        X,
        Y,
        n_local_points,
        train_idx=train_idx,
        test_idx=test_idx,
        scaler=scaler,
        estimator=estimator,
        n_jobs=n_jobs,
    )
    return float(np.sqrt(np.mean(errors**2)))


def _batched_scores(scoring, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The scorer of ``scoring`` for each neighbourhood (axis 0): ``truth`` and
    ``predicted`` are (m, rows, p)."""
    squared = (truth - predicted) ** 2
    if scoring in (None, "neg_mean_squared_error"):
        return -squared.mean(axis=(1, 2))
    # neg_root_mean_squared_error: the outputs' RMSEs, averaged
    return -np.sqrt(squared.mean(axis=1)).mean(axis=1)


def _local_predictions(
    estimator, X: np.ndarray, Y: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """``clone(estimator).fit(X[i], Y[i]).predict(offsets[i])`` for every
    neighbourhood i (X, Y of shape (m, k, ·)): all at once for a Ridge2FoldCV that
    :func:`_batched_ridge_2fold` can batch, else one by one."""
    if type(estimator) is Ridge2FoldCV and _batchable(estimator):
        return _batched_ridge_2fold(estimator, X, Y, offsets)
    predicted = np.empty((X.shape[0], Y.shape[2]))
    for i in range(X.shape[0]):
        model = clone(estimator).fit(X[i], Y[i])
        predicted[i] = np.asarray(model.predict(offsets[i : i + 1])).ravel()
    return predicted


def _batchable(estimator: Ridge2FoldCV) -> bool:
    """Ridge2FoldCV's folds depend only on the number of rows when it splits with
    a seeded shuffle (or none), so every neighbourhood has the same folds; its
    scores batch for the (root) mean squared error."""
    seeded = isinstance(estimator.random_state, Integral | np.integer) or (
        not estimator.shuffle
    )
    known = estimator.scoring in (
        None,
        "neg_mean_squared_error",
        "neg_root_mean_squared_error",
    )
    return estimator.cv is None and seeded and known


def _batched_ridge_2fold(
    estimator: Ridge2FoldCV, X: np.ndarray, Y: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """``clone(estimator).fit(X[i], Y[i]).predict(offsets[i])`` for every i at
    once, from batched SVDs of the neighbourhoods (see :func:`_batchable`)."""
    from sklearn.model_selection import KFold

    alphas = estimator._checked_alphas()
    k, d = X.shape[1], X.shape[2]
    folds = KFold(2, shuffle=estimator.shuffle, random_state=estimator.random_state)
    first, second = next(folds.split(X[0]))
    rcond = max(k, d) * np.spacing(1.0)

    def decomposed(rows):
        U, s, Vt = np.linalg.svd(X[:, rows], full_matrices=False)
        kept = s > rcond
        projected = np.einsum("mkr,mkp->mrp", U, Y[:, rows])  # Uᵀ y
        return s, kept, Vt, projected

    def filtered(s, kept, alpha):  # alpha: (m,); dropped values are 0 (finite)
        safe = np.where(kept, s, 1.0)
        values = spectral_filter(safe, alpha[:, None], estimator.regularization_method)
        return np.where(kept, values, 0.0)

    one, two = decomposed(first), decomposed(second)
    largest = np.maximum(one[0].max(axis=1), two[0].max(axis=1))
    scaled = np.broadcast_to(alphas, (X.shape[0], alphas.size)).copy()
    if estimator.alpha_type == "relative":
        scaled *= largest[:, None]
    across = [
        np.einsum("mkd,mrd->mkr", X[:, second], one[2]),  # X₂ V₁
        np.einsum("mkd,mrd->mkr", X[:, first], two[2]),  # X₁ V₂
    ]
    truths = [Y[:, second], Y[:, first]]
    scores = np.zeros_like(scaled)
    for a in range(alphas.size):
        for fold, block, truth in zip((one, two), across, truths, strict=True):
            factors = filtered(fold[0], fold[1], scaled[:, a])
            predicted = np.einsum("mkr,mrp->mkp", block * factors[:, None, :], fold[3])
            scores[:, a] += _batched_scores(estimator.scoring, truth, predicted) / 2
    best = scaled[np.arange(X.shape[0]), np.argmax(scores, axis=1)]
    s, kept, Vt, projected = decomposed(np.arange(k))
    factors = filtered(s, kept, best)
    # prediction o (V f Uᵀ y) = (o V) f (Uᵀ y)
    coordinates = np.einsum("md,mrd->mr", offsets, Vt) * factors
    return np.einsum("mr,mrp->mp", coordinates, projected)
