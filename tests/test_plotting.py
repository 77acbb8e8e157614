"""Tests for skdigits/_plotting.py (public as skdigits.augment.plot_augmented)."""

import numpy as np
import pytest

from skdigits.augment import ElasticDistortion, RandomAffine, make_chain, plot_augmented

pytest.importorskip("matplotlib")


def test_plot_augmented_writes_a_png_grid(tmp_path, digits):
    X = digits[0]
    path = tmp_path / "augmented.png"
    chain = make_chain(
        RandomAffine(image_shape=(8, 8)), ElasticDistortion(alpha=4, image_shape=(8, 8))
    )
    figure = plot_augmented(chain, X, path, n_images=4, n_copies=5)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figure.axes) == 4 * 6
    images = [ax.images[0].get_array() for ax in figure.axes]
    assert np.array_equal(images[0], X[0].reshape(8, 8))  # the original
    assert np.array_equal(images[6], X[1].reshape(8, 8))  # one row per image
    assert not np.array_equal(images[1], images[0])  # an augmented copy
    assert not np.array_equal(images[1], images[2])  # each copy drawn afresh


def test_plot_augmented_bad_rows_leave_an_existing_file_alone(tmp_path, digits):
    path = tmp_path / "augmented.png"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="rows have 64 values"):
        plot_augmented(RandomAffine(), digits[0], path)
    assert path.read_bytes() == b"old"


def test_integer_pixels_are_shown_and_augmented_as_float():
    X = np.zeros((2, 25), dtype=np.uint8)
    X[:, 12] = 200
    shift = RandomAffine(rotation=0, scale=(1, 1), shift=1, image_shape=(5, 5))
    figure = plot_augmented(shift, X, n_images=2, n_copies=3)
    assert len(figure.axes) == 2 * 4
    assert figure.axes[1].images[0].get_array().dtype == np.float32
