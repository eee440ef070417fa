"""train_test_split with overlapping train and test sets."""

import numpy as np
import pytest

from propmap.model_selection import train_test_split


def test_without_overlap_it_is_scikit_learns():
    import sklearn.model_selection

    X, y = np.arange(40).reshape(20, 2), np.arange(20)
    ours = train_test_split(X, y, test_size=0.3, random_state=4)
    theirs = sklearn.model_selection.train_test_split(
        X, y, test_size=0.3, random_state=4
    )
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    # overlap asked for but only one size given: the complement, no overlap
    train, test = train_test_split(
        np.arange(20), test_size=0.3, random_state=4, train_test_overlap=True
    )
    assert len(train) + len(test) == 20
    assert not np.intersect1d(train, test).size


@pytest.mark.parametrize(
    ("train_size", "test_size", "sizes"),
    [
        (0.8, 0.5, (16, 10)),
        (14, 12, (14, 12)),
        (1.0, 0.25, (20, 5)),
        (0.5, 20, (10, 20)),
    ],
)
def test_overlapping_sets_have_the_sizes_asked_for(train_size, test_size, sizes):
    data = np.arange(20)
    labels = data % 3
    train, test, train_labels, test_labels = train_test_split(
        data,
        labels,
        train_size=train_size,
        test_size=test_size,
        random_state=0,
        train_test_overlap=True,
    )
    assert (len(train), len(test)) == sizes
    assert len(np.unique(train)) == len(train)  # no sample twice within a set
    np.testing.assert_array_equal(train_labels, train % 3)  # arrays stay aligned
    np.testing.assert_array_equal(test_labels, test % 3)
    # one permutation: the test set its start, the train set its end
    assert len(np.intersect1d(train, test)) == sum(sizes) - 20


@pytest.mark.parity
def test_overlap_matches_the_reference(skmatter):
    import skmatter.model_selection

    X = np.arange(60).reshape(30, 2)
    for sizes in ((0.7, 0.6), (20, 15), (1.0, 0.3)):
        options = {"train_size": sizes[0], "test_size": sizes[1], "random_state": 5}
        ours = train_test_split(X, train_test_overlap=True, **options)
        theirs = skmatter.model_selection.train_test_split(
            X, train_test_overlap=True, **options
        )
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(
            np.arange(10), train_size=0.5, test_size=1.5, train_test_overlap=True
        )
