"""Shared fixtures: the full MNIST CSV files when present, small data, quiet fits."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def full_data_dir():
    """Directory of the full MNIST CSVs, or None when they are not here.

    ``SKDIGITS_DATA_DIR`` wins; otherwise ``../shared/data`` beside the checkout.
    """
    path = Path(os.environ.get("SKDIGITS_DATA_DIR", _DEFAULT_DATA_DIR)).resolve()
    return path if (path / "mnist_train.csv.gz").is_file() else None


@pytest.fixture(scope="session")
def data_dir():
    """The full MNIST files; the test is skipped when they are absent."""
    path = full_data_dir()
    if path is None:
        pytest.skip("full MNIST CSVs not found (set SKDIGITS_DATA_DIR)")
    return path


# --- data and helpers shared by several test files -----------------------------


def _quiet_fit(est, X, y, **fit_params):
    """Fit without ConvergenceWarning noise (short fits on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **fit_params)


@pytest.fixture(scope="session")
def quiet_fit():
    """``quiet_fit(est, X, y, **fit_params)``: fit with ConvergenceWarning silenced."""
    return _quiet_fit


@pytest.fixture(scope="session")
def digits():
    """sklearn's 8x8 digits scaled to [0, 1], split with random_state=0.

    ``X_train, X_test, y_train, y_test``; tests must not modify the arrays.
    """
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, random_state=0)


def _write_mnist_csv(path, X, y=None):
    """Write ``X`` (and ``y`` as a first ``label`` column) in the MNIST CSV layout.

    The header is ``label,1x1,...,28x28`` as in mnist_train.csv (``label`` left
    out when ``y`` is None, as in a test file); returns ``str(path)``.
    """
    side = int(round(np.sqrt(np.shape(X)[1])))
    pixels = [f"{r}x{c}" for r in range(1, side + 1) for c in range(1, side + 1)]
    header = ",".join(pixels if y is None else ["label", *pixels])
    rows = np.asarray(X) if y is None else np.column_stack([y, X])
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header, comments="")
    return str(path)


@pytest.fixture(scope="session")
def write_mnist_csv():
    """``write_mnist_csv(path, X, y=None)``: an MNIST-layout CSV; returns the path."""
    return _write_mnist_csv
