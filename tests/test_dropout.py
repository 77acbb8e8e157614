"""Tests for the per-distinct-row dropout masks (skdigits/_dropout.py)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skdigits import NumpyMLPClassifier
from skdigits._dropout import DropoutMasks, row_keys


def data(n_rows=40, n_features=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    X[X < 0.5] = 0  # sparse-looking, so the sparse path has work to do
    return X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_row_keys_equal_for_equal_rows_and_distinct_otherwise(fmt, dtype):
    X = data().astype(dtype)
    X[[5, 17, 33]] = X[2]
    Xf = X if fmt == "dense" else sp.csr_matrix(X).asformat(fmt)
    keys = row_keys(Xf)
    assert keys.dtype == np.uint64 and keys.shape == (X.shape[0],)
    assert keys[5] == keys[17] == keys[33] == keys[2]
    assert np.unique(keys).size == X.shape[0] - 3


def test_sparse_and_dense_rows_get_the_same_keys():
    X = data()
    expected = row_keys(X)
    np.testing.assert_array_equal(row_keys(sp.csr_matrix(X)), expected)
    np.testing.assert_array_equal(row_keys(sp.csc_matrix(X)), expected)


def test_row_keys_do_not_depend_on_position_or_chunking():
    X = data(n_rows=50)
    order = np.random.default_rng(1).permutation(50)
    np.testing.assert_array_equal(row_keys(X[order]), row_keys(X)[order])
    np.testing.assert_array_equal(row_keys(X, chunk_rows=7), row_keys(X))


def test_row_keys_see_every_feature_and_tiny_changes():
    X = np.zeros((14, 13))
    for j in range(13):
        X[j + 1, j] = 1.0  # one row per feature, plus the zero row
    assert np.unique(row_keys(X[:14])).size == 14
    Y = np.ones((2, 5))
    Y[1, 3] = np.nextafter(1.0, 2.0)
    assert row_keys(Y)[0] != row_keys(Y)[1]
    # Same multiset of values in other columns: a different row.
    Z = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    assert np.unique(row_keys(Z)).size == 3


def masks_for(X, idx, rates=(0.5, 0.25), widths=(6, 4), seed=0):
    drawer = DropoutMasks(rates, row_keys(X), np.random.default_rng(seed), np.float64)
    return drawer.draw(idx, widths)


def test_identical_rows_share_their_mask():
    X = data()
    X[[3, 9, 20]] = X[0]
    for mask in masks_for(X, np.arange(40), widths=(64, 64)):
        np.testing.assert_array_equal(mask[3], mask[0])
        np.testing.assert_array_equal(mask[9], mask[0])
        np.testing.assert_array_equal(mask[20], mask[0])
        assert np.unique(mask, axis=0).shape[0] == 37  # distinct rows differ


def test_masks_do_not_depend_on_row_order():
    X = data()
    idx = np.arange(40)
    order = np.random.default_rng(2).permutation(40)
    for plain, shuffled in zip(masks_for(X, idx), masks_for(X, idx[order])):
        np.testing.assert_array_equal(shuffled, plain[order])


def test_mask_values_are_zero_or_inverse_keep_rate_with_mean_one():
    X = np.random.default_rng(3).normal(size=(2000, 5))
    p = 0.3
    (mask,) = masks_for(X, np.arange(2000), rates=[p], widths=[50])
    values = np.unique(mask)
    np.testing.assert_allclose(values, [0.0, 1 / (1 - p)])
    assert mask.mean() == pytest.approx(1.0, abs=0.02)
    assert (mask == 0).mean() == pytest.approx(p, abs=0.01)


def test_zero_rate_layers_get_no_mask_and_masks_change_between_draws():
    X = data()
    drawer = DropoutMasks([0.0, 0.5], row_keys(X), np.random.default_rng(0), "f4")
    first, second = (
        drawer.draw(np.arange(40), [6, 4]),
        drawer.draw(np.arange(40), [6, 4]),
    )
    assert first[0] is None and second[0] is None
    assert first[1].dtype == np.float32
    assert not np.array_equal(first[1], second[1])


def test_masks_depend_only_on_the_generator():
    X = data()
    a, b = masks_for(X, np.arange(40), seed=5), masks_for(X, np.arange(40), seed=5)
    c = masks_for(X, np.arange(40), seed=6)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sample_weight_two_equals_a_duplicated_row_with_dropout(solver):
    """Full-batch training: weight 2 on a row trains exactly like two copies."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    w = np.ones(30)
    w[[4, 11, 12]] = 2
    X_dup = np.vstack([X, X[[4, 11, 12]]])
    y_dup = np.concatenate([y, y[[4, 11, 12]]])
    params = dict(
        hidden_layer_sizes=(10, 8),
        dropout=0.3,
        solver=solver,
        max_iter=15,
        learning_rate_init=0.05,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = NumpyMLPClassifier(batch_size=30, **params)
        weighted.fit(X, y, sample_weight=w)
        duplicated = NumpyMLPClassifier(batch_size=33, **params).fit(X_dup, y_dup)
    np.testing.assert_allclose(weighted.loss_curve_, duplicated.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(
        weighted.predict_proba(X), duplicated.predict_proba(X), rtol=1e-7, atol=1e-10
    )
    # and dropout did something: without it the fit differs
    plain = NumpyMLPClassifier(batch_size=33, **{**params, "dropout": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain.fit(X_dup, y_dup)
    assert not np.allclose(plain.loss_curve_, duplicated.loss_curve_)


def test_masks_come_only_from_their_generator():
    """A checkpoint restores ``masks.rng``: the masks must follow from it alone."""
    keys = row_keys(np.arange(40, dtype=np.float64).reshape(10, 4))
    masks = DropoutMasks([0.5], keys, np.random.default_rng(3), np.float32)
    masks.draw(np.arange(10), [6])
    state = masks.rng.bit_generator.state
    ahead = masks.draw(np.arange(10), [6])
    other = DropoutMasks([0.5], keys, np.random.default_rng(99), np.float32)
    other.rng.bit_generator.state = state
    assert np.array_equal(other.draw(np.arange(10), [6])[0], ahead[0])
