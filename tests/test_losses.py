"""Tests for the output activations and their losses (skdigits/_losses.py)."""

import warnings

import numpy as np
import pytest
from scipy.special import xlogy
from sklearn.metrics import accuracy_score, r2_score

from skdigits._losses import OUTPUTS, mean_loss

EPS = 1e-6


def one_hot(labels, n_classes):
    return np.eye(n_classes)[labels]


def naive_softmax_loss(Z, Y):
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    return -(Y * np.log(P)).sum(axis=1), P


def naive_logistic_loss(Z, Y):
    P = 1 / (1 + np.exp(-Z))
    return -(Y * np.log(P) + (1 - Y) * np.log(1 - P)).sum(axis=1), P


def naive_squared_loss(Z, Y):
    """scikit-learn's squared_loss per sample: half the mean over the outputs."""
    return 0.5 * ((Z - Y) ** 2).mean(axis=1), Z


def naive_poisson_loss(Z, Y):
    """scikit-learn's poisson_loss per sample, with mean exp(z)."""
    P = np.exp(Z)
    return (xlogy(Y, Y / P) - Y + P).sum(axis=1), P


CLASSIFIER_OUTPUTS = sorted(n for n in OUTPUTS if OUTPUTS[n].log_proba is not None)


def problem(output, seed=0):
    """Moderate logits and targets: one-hot (softmax), 0/1 labels (logistic),
    reals (identity), counts (exp)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(scale=2.0, size=(6, 4))
    if output == "softmax":
        return Z, one_hot(rng.integers(0, 4, 6), 4)
    if output == "identity":
        return Z, rng.normal(scale=3.0, size=(6, 4))
    if output == "exp":
        return Z, rng.poisson(2.0, size=(6, 4)).astype(float)
    return Z, rng.integers(0, 2, size=(6, 4)).astype(float)


@pytest.mark.parametrize(
    "output, naive",
    [
        ("softmax", naive_softmax_loss),
        ("logistic", naive_logistic_loss),
        ("identity", naive_squared_loss),
        ("exp", naive_poisson_loss),
    ],
)
def test_loss_and_proba_match_the_textbook_formulas(output, naive):
    Z, Y = problem(output)
    expected_loss, expected_proba = naive(Z, Y)
    Zc = Z.copy()
    loss = OUTPUTS[output].loss_and_proba(Zc, Y)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(Zc, expected_proba, rtol=1e-12)
    np.testing.assert_allclose(OUTPUTS[output].proba(Z.copy()), expected_proba)


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_gradient_of_loss_wrt_logits_is_p_minus_y(output):
    """Canonical pairs: the backprop starts from P - Y, checked numerically
    (the squared error's P - Y is the gradient of its sum over the outputs)."""
    Z, Y = problem(output, seed=1)
    P = OUTPUTS[output].proba(Z.copy())
    factor = OUTPUTS[output].objective_factor(Z.shape[1])
    numerical = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        plus, minus = Z.copy(), Z.copy()
        plus[idx] += EPS
        minus[idx] -= EPS
        numerical[idx] = (
            (
                OUTPUTS[output].loss_and_proba(plus, Y).sum()
                - OUTPUTS[output].loss_and_proba(minus, Y).sum()
            )
            * factor
            / (2 * EPS)
        )
    np.testing.assert_allclose(P - Y, numerical, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_with_huge_logits_is_finite_and_exact(dtype):
    Z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype)
    Y = one_hot([0, 0, 2], 3).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = Z.copy()
        loss = OUTPUTS["softmax"].loss_and_proba(P, Y)
        log_p = OUTPUTS["softmax"].log_proba(Z.copy())
    third = dtype(1) / dtype(3)
    np.testing.assert_array_equal(P, np.array([[1, 0, 0], [0, 0.5, 0.5], [third] * 3]))
    # float32 rounds at the scale of the logits (its ulp at 1e4 is ~1e-3).
    atol = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(loss, [0.0, 1e4 + np.log(2), np.log(3)], atol=atol)
    assert np.isfinite(log_p).all()
    np.testing.assert_allclose(log_p[0], [0, -1e4, -2e4], rtol=1e-6)
    assert P.dtype == dtype and loss.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_with_huge_logits_is_finite_and_exact(dtype):
    Z = np.array([[1e4, -1e4, 1e4, -1e4]], dtype)
    Y = np.array([[1, 0, 0, 1]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = Z.copy()
        loss = OUTPUTS["logistic"].loss_and_proba(P, Y)
        log_p = OUTPUTS["logistic"].log_proba(Z.copy())
    np.testing.assert_array_equal(P, [[1, 0, 1, 0]])
    np.testing.assert_allclose(loss, [2e4], rtol=1e-6)
    np.testing.assert_allclose(log_p, [[0, -1e4, 0, -1e4]], rtol=1e-6)
    assert P.dtype == dtype


@pytest.mark.parametrize("output", CLASSIFIER_OUTPUTS)
def test_log_proba_is_log_of_proba_where_representable(output):
    Z, _ = problem(output, seed=2)
    np.testing.assert_allclose(
        OUTPUTS[output].log_proba(Z.copy()),
        np.log(OUTPUTS[output].proba(Z.copy())),
        rtol=1e-12,
    )


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_score_is_accuracy_of_the_labels_or_r2(output):
    """The early-stopping score of outputs P, as the estimators' ``score``."""
    Z, Y = problem(output, seed=4)
    P = OUTPUTS[output].proba(Z.copy())
    w = np.arange(1.0, 7.0)
    if output == "softmax":
        expected = accuracy_score(Y.argmax(1), P.argmax(1), sample_weight=w)
    elif output == "logistic":  # multilabel: every label of a row right
        expected = accuracy_score(Y.astype(int), (P > 0.5).astype(int), sample_weight=w)
    else:
        expected = r2_score(Y, P, sample_weight=w)
    assert OUTPUTS[output].score(P, Y, w) == expected
    assert OUTPUTS[output].score(Y.copy(), Y, w) == 1.0


def test_poisson_loss_is_finite_for_zero_counts_and_huge_logits():
    Z, Y = np.array([[-50.0, 3.0]]), np.array([[0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = OUTPUTS["exp"].loss_and_proba(Z.copy(), Y)
    np.testing.assert_allclose(loss, [np.exp(-50.0) + np.exp(3.0)])


def test_softmax_rows_sum_to_one():
    Z = np.random.default_rng(3).normal(scale=50.0, size=(20, 10))
    np.testing.assert_allclose(OUTPUTS["softmax"].proba(Z).sum(axis=1), 1.0)


def test_mean_loss_plain_weighted_and_all_zero_weights():
    losses = np.array([1.0, 2.0, 4.0])
    assert mean_loss(losses) == pytest.approx(7 / 3)
    assert mean_loss(losses, np.array([1.0, 0.0, 3.0])) == pytest.approx(13 / 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mean_loss(losses, np.zeros(3)) == 0.0
