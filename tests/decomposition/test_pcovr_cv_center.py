"""PCovRCV(center=True): centring inside the fit, and the column groups of
block-sparse X (per-atom features) that it keeps."""

import numpy as np
import pytest
from sklearn.model_selection import ShuffleSplit

from propmap.decomposition import PCovRCV
from propmap.decomposition._cv_moments import ColumnGroups, Span, row_statistics

MIXINGS = [0.3, 0.6, 1.0]  # (at α = 0 the second latent direction is arbitrary)


def _blocks(n=1200, n_groups=3, width=30, zero_rows=40, seed=0):
    """Rows nonzero in one of ``n_groups`` ranges of ``width`` columns each (as
    an atom in its element's columns), with offsets, and some rows of zeros."""
    rng = np.random.default_rng(seed)
    d = n_groups * width
    X = np.zeros((n, d))
    group = rng.integers(0, n_groups, n)
    for g in range(n_groups):
        rows = group == g
        mixing = rng.normal(size=(width, width))
        block = rng.normal(size=(rows.sum(), width)) @ mixing
        X[rows, g * width : (g + 1) * width] = block + 3 * rng.normal(size=width)
    X[:zero_rows] = 0.0
    y = X @ rng.normal(size=d) + group + 0.1 * rng.normal(size=n) + 5.0
    return X, y


def _dense(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 4.0
    return X, X @ rng.normal(size=d) + 3.0


def _assert_same_model(inside, outside, X, y):
    """``inside`` (center=True on X, y) is ``outside`` (center=False on the
    centred X and y)."""
    mean, y_mean = X.mean(axis=0), y.mean(axis=0)
    Xc = X - mean
    assert inside.rank_ == outside.rank_
    assert inside.best_mixing_ == outside.best_mixing_
    assert inside.best_penalty_ == outside.best_penalty_
    for key in ("ridge_loss", "loss_x", "loss_y"):
        np.testing.assert_allclose(
            inside.cv_results_[key], outside.cv_results_[key], rtol=1e-7, atol=1e-12
        )
    np.testing.assert_allclose(inside.mean_, mean)
    np.testing.assert_allclose(inside.y_mean_, y_mean)
    latent = inside.transform(X)
    np.testing.assert_allclose(latent, outside.transform(Xc), atol=1e-7)
    np.testing.assert_allclose(
        inside.predict(X), outside.predict(Xc) + y_mean, atol=1e-7
    )
    np.testing.assert_allclose(
        inside.predict(T=latent), outside.predict(T=latent) + y_mean, atol=1e-7
    )
    np.testing.assert_allclose(
        inside.regressor_.predict(X), outside.regressor_.predict(Xc) + y_mean, atol=1e-7
    )
    np.testing.assert_allclose(
        inside.inverse_transform(latent),
        outside.inverse_transform(latent) + mean,
        atol=1e-6,
    )
    assert inside.score(X, y) == pytest.approx(outside.score(Xc, y - y_mean))
    every = inside.transform_predict(X)
    np.testing.assert_allclose(every.predicted, inside.predict(X), atol=1e-8)
    np.testing.assert_allclose(every.regressor, inside.regressor_.predict(X))


@pytest.mark.parametrize(
    "data",
    [_blocks(), _dense(400, 25), _dense(40, 60)],
    ids=["column groups", "dense", "fewer rows than columns"],
)
def test_centring_inside_is_the_fit_on_centred_data(data):
    X, y = data
    inside = PCovRCV(mixings=MIXINGS, center=True, random_state=0).fit(X, y)
    outside = PCovRCV(mixings=MIXINGS, random_state=0).fit(
        X - X.mean(axis=0), y - y.mean()
    )
    _assert_same_model(inside, outside, X, y)


def test_centring_inside_with_folds_that_do_not_partition_the_rows():
    X, y = _blocks(n=600)
    folds = list(ShuffleSplit(3, test_size=0.3, random_state=0).split(X))
    inside = PCovRCV(mixings=MIXINGS, cv=folds, center=True).fit(X, y)
    outside = PCovRCV(mixings=MIXINGS, cv=folds).fit(X - X.mean(axis=0), y - y.mean())
    _assert_same_model(inside, outside, X, y)


def test_centring_inside_with_several_targets_and_float32():
    X, y = _blocks(n=900)
    Y = np.column_stack([y, 0.5 * y + X[:, 3]])
    inside = PCovRCV(mixings=MIXINGS, center=True, random_state=0).fit(
        X.astype(np.float32), Y
    )
    outside = PCovRCV(mixings=MIXINGS, random_state=0).fit(
        X - X.mean(axis=0), Y - Y.mean(axis=0)
    )
    assert inside.y_mean_.shape == (2,)
    assert inside.transform(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(
        inside.predict(X.astype(np.float32)),
        outside.predict(X - X.mean(axis=0)) + Y.mean(axis=0),
        rtol=1e-4,
        atol=1e-3 * np.abs(Y).max(),
    )
    assert (inside.best_mixing_, inside.best_penalty_) == (
        outside.best_mixing_,
        outside.best_penalty_,
    )


def test_centring_inside_a_dask_array():
    da = pytest.importorskip("dask.array")
    X, y = _dense(300, 20)
    inside = PCovRCV(mixings=MIXINGS, center=True, random_state=0).fit(
        da.from_array(X, chunks=(70, 20)), y
    )
    outside = PCovRCV(mixings=MIXINGS, random_state=0).fit(
        X - X.mean(axis=0), y - y.mean()
    )
    assert (inside.best_mixing_, inside.best_penalty_) == (
        outside.best_mixing_,
        outside.best_penalty_,
    )
    np.testing.assert_allclose(
        inside.transform(X), outside.transform(X - X.mean(axis=0)), atol=1e-7
    )
    lazy = inside.predict(da.from_array(X, chunks=(70, 20))).compute()
    np.testing.assert_allclose(lazy, inside.predict(X), atol=1e-10)
    np.testing.assert_allclose(
        inside.inverse_transform(da.from_array(inside.transform(X))).compute(),
        inside.inverse_transform(inside.transform(X)),
        atol=1e-10,
    )


def test_column_groups_are_found_from_the_rows_nonzero_columns():
    X, _ = _blocks(n=300, n_groups=3, width=10, zero_rows=5)
    _, _, groups = row_statistics(X, scan_groups=True)
    assert groups.starts.tolist() == [0, 10, 20]
    assert groups.stops.tolist() == [10, 20, 30]
    assert groups.zero_rows.tolist() == [0, 1, 2, 3, 4]
    assert sum(rows.size for rows in groups.rows) == 295
    for rows, columns in groups.slices():
        outside = np.delete(X[rows], np.r_[columns], axis=1)
        assert not np.any(outside)
    # a dense X, or one row reaching across the ranges, has none
    assert row_statistics(X + 1.0, scan_groups=True)[2] is None
    X[7, 5:15] = 1.0
    first = np.argmax(X != 0, axis=1)
    last = X.shape[1] - 1 - np.argmax(X[:, ::-1] != 0, axis=1)
    first[:5] = last[:5] = -1
    merged = ColumnGroups.scan(first, last, X.shape[1])
    assert merged.starts.tolist() == [0, 20]
    assert merged.stops.tolist() == [20, 30]


def test_the_basis_of_column_groups_spans_the_centred_rows():
    X, _ = _blocks(n=600)
    mean = X.mean(axis=0)
    _, _, groups = row_statistics(X, scan_groups=True)
    span = Span(X, 1e-12, mean=mean, groups=groups)
    assert len(span.pieces) == 4  # three groups and the rows of zeros
    np.testing.assert_allclose(span.basis.T @ span.basis, np.eye(span.rank), atol=1e-10)
    centred = X - mean
    residual = centred - (centred @ span.basis) @ span.basis.T
    assert np.linalg.norm(residual) < 1e-8 * np.linalg.norm(centred)


def test_the_progress_bar_counts_the_groups_work(record_work):
    import propmap.decomposition._cv as cv_module

    record = record_work(cv_module)
    X, y = _blocks(n=800)
    PCovRCV(cv=3, progress_bar=True, center=True, random_state=0).fit(X, y)
    assert record["done"] == pytest.approx(record["total"], rel=1e-12)
