"""``train_test_split`` with optionally overlapping train and test sets."""

from __future__ import annotations

import sklearn.model_selection
from sklearn.utils import indexable
from sklearn.utils.validation import _num_samples

__all__ = ["train_test_split"]


def train_test_split(
    *arrays,
    test_size=None,
    train_size=None,
    random_state=None,
    shuffle=True,
    stratify=None,
    train_test_overlap=False,
):
    """Split arrays into train and test subsets that may overlap.

    :func:`sklearn.model_selection.train_test_split`, plus ``train_test_overlap``:
    with both sizes given and ``train_test_overlap=True`` the test set is drawn as
    if alone (``train_size=None``) and the train set as if alone (``test_size=None``),
    so that they may share samples when the sizes add up to more than the data; a
    size of 1.0 (or all samples) takes every sample. With an integer
    ``random_state`` both draws use the same permutation: the test set is its
    start, the train set its end.

    Parameters
    ----------
    *arrays : sequence of indexables with the same length
        Lists, numpy arrays, scipy sparse matrices or pandas data frames.
    test_size : float or int, default=None
        Share (0 to 1) or number of test samples; None: the complement of the train
        size, or 0.25 if both are None.
    train_size : float or int, default=None
        Share or number of train samples; None: the complement of the test size.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling.
    shuffle : bool, default=True
        Shuffle before splitting (``stratify`` must be None without it).
    stratify : array-like, default=None
        Class labels for a stratified split.
    train_test_overlap : bool, default=False
        Allow the train and test sets to overlap (only with both sizes given).

    Returns
    -------
    splitting : list of length 2 * len(arrays)
        ``[train_0, test_0, train_1, test_1, ...]``.

    Examples
    --------
    >>> import numpy as np
    >>> from propmap.model_selection import train_test_split
    >>> train, test = train_test_split(
    ...     np.arange(10), train_size=0.8, test_size=0.5, random_state=0,
    ...     train_test_overlap=True,
    ... )
    >>> len(train), len(test), len(np.intersect1d(train, test))
    (8, 5, 3)
    """
    options = {"random_state": random_state, "shuffle": shuffle, "stratify": stratify}
    if not (train_test_overlap and train_size is not None and test_size is not None):
        return sklearn.model_selection.train_test_split(
            *arrays, test_size=test_size, train_size=train_size, **options
        )
    arrays = indexable(*arrays)
    n_samples = _num_samples(arrays[0])

    def every(size) -> bool:
        return size == 1.0 or size == n_samples

    if every(test_size):
        tests = list(arrays)
    else:
        tests = sklearn.model_selection.train_test_split(
            *arrays, test_size=test_size, train_size=None, **options
        )[1::2]
    if every(train_size):
        trains = list(arrays)
    else:
        trains = sklearn.model_selection.train_test_split(
            *arrays, test_size=None, train_size=train_size, **options
        )[::2]
    return [part for pair in zip(trains, tests, strict=True) for part in pair]
