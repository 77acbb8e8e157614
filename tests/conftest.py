"""Shared fixtures: where the full MNIST CSV files live, when they are present."""

import os
from pathlib import Path

import pytest

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
