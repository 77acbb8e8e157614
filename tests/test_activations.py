"""Tests for the hidden-layer activations (skdigits/_activations.py).

Every derivative is checked against central finite differences of its own
forward function, and shown to differ from the others' (the notebooks this
project replaces paired a sigmoid derivative with tanh).
"""

import itertools
import warnings

import numpy as np
import pytest

from skdigits._activations import ACTIVATIONS

NAMES = sorted(ACTIVATIONS)
EPS = 1e-6

# Near 0 on both sides (but not on a kink), moderate values and large |z|.
Z_GRID = np.array(
    [-60.0, -30.0, -12.0, -5.0, -2.0, -1.0, -0.3, -1e-3, 1e-3, 0.3, 1.0, 2.0, 5.0, 12.0]
    + [30.0, 60.0]
)


def forward(name, Z):
    return ACTIVATIONS[name].forward(Z, np.empty_like(Z))


def derivative(name, Z):
    """f'(Z) from the registry, given Z only when the entry says it needs it."""
    act = ACTIVATIONS[name]
    A = act.forward(Z, np.empty_like(Z))
    return act.derivative(Z if act.needs_z else None, A, np.ones_like(Z))


def numerical_derivative(name, Z):
    return (forward(name, Z + EPS) - forward(name, Z - EPS)) / (2 * EPS)


def random_z():
    rng = np.random.default_rng(0)
    return np.concatenate([Z_GRID, rng.normal(scale=3.0, size=200)]).reshape(-1, 8)


def test_registry_holds_the_nine_documented_activations():
    assert set(ACTIVATIONS) == {
        "identity",
        "logistic",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "softplus",
        "gelu",
        "silu",
    }


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences_of_forward(name):
    Z = random_z()
    np.testing.assert_allclose(
        derivative(name, Z), numerical_derivative(name, Z), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("name", NAMES)
def test_derivative_multiplies_delta_in_place(name):
    Z = random_z()
    delta = np.random.default_rng(1).normal(size=Z.shape)
    act = ACTIVATIONS[name]
    A = act.forward(Z.copy(), np.empty_like(Z))
    out = act.derivative(Z if act.needs_z else None, A, delta.copy())
    np.testing.assert_allclose(out, delta * derivative(name, Z), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_forward_may_write_into_its_input(name):
    Z = random_z()
    expected = forward(name, Z)
    inplace = Z.copy()
    result = ACTIVATIONS[name].forward(inplace, inplace)
    np.testing.assert_array_equal(inplace, expected)
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("name, other", list(itertools.permutations(NAMES, 2)))
def test_derivative_does_not_match_another_activation(name, other):
    """A derivative wired to the wrong forward function is caught."""
    Z = random_z()
    assert not np.allclose(
        derivative(name, Z), numerical_derivative(other, Z), rtol=1e-5, atol=1e-7
    )


def test_tanh_derivative_is_not_logistic_derivative():
    Z = np.linspace(-3, 3, 13)
    tanh, logistic = derivative("tanh", Z), derivative("logistic", Z)
    np.testing.assert_allclose(tanh, 1 - np.tanh(Z) ** 2)
    np.testing.assert_allclose(logistic, np.exp(-Z) / (1 + np.exp(-Z)) ** 2)
    assert np.abs(tanh - logistic).max() > 0.5


@pytest.mark.parametrize(
    "name, expected",
    [
        ("identity", lambda z: z),
        ("logistic", lambda z: 1 / (1 + np.exp(-z))),
        ("tanh", np.tanh),
        ("relu", lambda z: np.maximum(z, 0)),
        ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
        ("elu", lambda z: np.where(z > 0, z, np.exp(z) - 1)),
        ("softplus", lambda z: np.log1p(np.exp(z))),
        ("silu", lambda z: z / (1 + np.exp(-z))),
    ],
)
def test_forward_matches_textbook_formula(name, expected):
    Z = np.linspace(-8, 8, 33)
    np.testing.assert_allclose(forward(name, Z), expected(Z), rtol=1e-12, atol=1e-15)


def test_gelu_is_exact_not_the_tanh_approximation():
    from math import erf

    Z = np.linspace(-4, 4, 17)
    exact = np.array([z * 0.5 * (1 + erf(z / np.sqrt(2))) for z in Z])
    np.testing.assert_allclose(forward("gelu", Z), exact, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_no_overflow_warning_and_dtype_kept_for_huge_inputs(name, dtype):
    Z = np.array([[-1e4, -1e3, -100.0, -1.0, 0.5, 100.0, 1e3, 1e4]], dtype=dtype)
    act = ACTIVATIONS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = act.forward(Z.copy(), np.empty_like(Z))
        delta = act.derivative(Z if act.needs_z else None, A, np.ones_like(Z))
    assert A.dtype == dtype and delta.dtype == dtype
    assert np.isfinite(A).all() and np.isfinite(delta).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_exactly_without_warnings(dtype):
    Z = np.array([-1e4, -800.0, -100.0, 100.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = forward("logistic", Z)
    np.testing.assert_array_equal(A[[0, 1]], 0)
    np.testing.assert_array_equal(A[[4, 5]], 1)
    assert 0 < A[2] < 1e-40 or (dtype == np.float32 and A[2] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_derivative_at_large_z_is_the_limit(dtype):
    """Saturated units pass (almost) no gradient; linear tails pass all of it."""
    Z = np.array([-1e4, 1e4], dtype=dtype)
    limits = {
        "identity": [1, 1],
        "logistic": [0, 0],
        "tanh": [0, 0],
        "relu": [0, 1],
        "leaky_relu": [0.01, 1],
        "elu": [0, 1],
        "softplus": [0, 1],
        "gelu": [0, 1],
        "silu": [0, 1],
    }
    for name, expected in limits.items():
        np.testing.assert_allclose(derivative(name, Z), expected, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_initial_weights_scheme_suits_the_activation(name):
    """Rectifiers start from He-uniform, symmetric ones from Glorot-uniform."""
    bound = ACTIVATIONS[name].init_bound(600, 10)
    glorot = np.sqrt(6 / 610)
    if name in {"identity", "tanh"}:
        assert bound == pytest.approx(glorot)
    elif name == "logistic":
        assert bound == pytest.approx(4 * glorot)
    else:  # cut or damp negatives: He, which ignores fan_out
        assert bound == pytest.approx(np.sqrt(6 / 600))
        assert ACTIVATIONS[name].init_bound(600, 1000) == bound
