"""Tests for the optimizer-kernel backends (skdigits/_kernels.py).

The numba loops promise the numpy passes' bits, so they are compared with
``array_equal``, not a tolerance; the choice of backend must follow the
environment variable and survive a missing or broken numba.
"""

import importlib.abc
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

import skdigits
from skdigits import NumpyMLPClassifier, _kernels
from skdigits._optimizers import SGD, Adam


@pytest.fixture
def backend(monkeypatch):
    """Switch backends for one test, leaving the process's choice as it was."""

    def use(name):
        monkeypatch.setenv("SKDIGITS_KERNELS", name)
        _kernels.kernels.cache_clear()
        return _kernels.backend_name()

    yield use
    monkeypatch.undo()
    _kernels.kernels.cache_clear()


def _needs_numba(backend):
    if backend("numba") != "numba":
        pytest.skip("numba is not installed")


OPTIMIZERS = {
    "adam": lambda theta: Adam(theta),
    "sgd-nesterov": lambda theta: SGD(theta, learning_rate_init=0.05),
    "sgd-momentum": lambda theta: SGD(
        theta, learning_rate_init=0.05, nesterovs_momentum=False
    ),
}


def _run_steps(make, dtype, decay, steps=12):
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(4099).astype(dtype)
    optimizer, work = make(theta), np.empty_like(theta)
    for _ in range(steps):
        grad = rng.standard_normal(theta.size).astype(dtype)
        optimizer.step(theta, grad, work, decay=decay, n_decay=3000)
    return theta, optimizer


@pytest.mark.parametrize("decay", [0.0, 0.03])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_numba_steps_give_numpys_bits(backend, name, dtype, decay):
    _needs_numba(backend)
    assert backend("numpy") == "numpy"
    expected, expected_state = _run_steps(OPTIMIZERS[name], dtype, decay)
    assert backend("numba") == "numba"
    got, state = _run_steps(OPTIMIZERS[name], dtype, decay)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    for moment in ("m", "v", "velocity"):
        if hasattr(state, moment):
            np.testing.assert_array_equal(
                getattr(state, moment), getattr(expected_state, moment)
            )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_chunked_numpy_steps_give_the_unchunked_bits(backend, monkeypatch, name, dtype):
    # chunks of 1 KiB: the 4099 entries span many chunks, the last one partial,
    # and the L2 term's end (n_decay=3000) falls inside a chunk
    assert backend("numpy") == "numpy"
    expected, expected_state = _run_steps(OPTIMIZERS[name], dtype, decay=0.03)
    monkeypatch.setattr(_kernels, "CHUNK_BYTES", 1024)
    assert len(list(_kernels._in_chunks(expected, 3000))) > 10
    got, state = _run_steps(OPTIMIZERS[name], dtype, decay=0.03)
    np.testing.assert_array_equal(got, expected)
    for moment in ("m", "v", "velocity"):
        if hasattr(state, moment):
            np.testing.assert_array_equal(
                getattr(state, moment), getattr(expected_state, moment)
            )


def test_fits_are_identical_under_both_backends(backend):
    _needs_numba(backend)
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    coefs = {}
    for name in ("numpy", "numba"):
        assert backend(name) == name
        for solver in ("adam", "sgd"):
            est = NumpyMLPClassifier(
                hidden_layer_sizes=(32,), solver=solver, max_iter=5, random_state=0
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X, y)
            coefs[name, solver] = est.coefs_ + est.intercepts_
    for solver in ("adam", "sgd"):
        for got, expected in zip(coefs["numba", solver], coefs["numpy", solver]):
            np.testing.assert_array_equal(got, expected)


def test_environment_variable_forces_numpy(backend):
    assert backend("numpy") == "numpy"
    assert _kernels.kernels() is _kernels.NUMPY_KERNELS


def test_numba_provides_every_numpy_kernel(backend):
    _needs_numba(backend)
    assert set(_kernels.kernels()) == set(_kernels.NUMPY_KERNELS)


def _forget_numba_module(monkeypatch):
    """Make the next import of skdigits._kernels_numba really import it."""
    monkeypatch.delitem(sys.modules, "skdigits._kernels_numba", raising=False)
    monkeypatch.delattr(skdigits, "_kernels_numba", raising=False)


def test_missing_numba_falls_back_to_numpy(backend, monkeypatch):
    _forget_numba_module(monkeypatch)
    monkeypatch.setitem(sys.modules, "skdigits._kernels_numba", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing optional extra is not news
        assert backend("auto") == "numpy"


class _BrokenNumba(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "skdigits._kernels_numba":
            raise RuntimeError("LLVM could not be initialised")
        return None


def test_broken_numba_warns_and_falls_back_to_numpy(backend, monkeypatch):
    _forget_numba_module(monkeypatch)
    monkeypatch.setattr(sys, "meta_path", [_BrokenNumba(), *sys.meta_path])
    with pytest.warns(RuntimeWarning, match="LLVM could not be initialised"):
        assert backend("auto") == "numpy"
