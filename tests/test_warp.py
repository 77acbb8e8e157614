"""Tests for skdigits/_warp.py: batched bilinear warping with fixed coordinates."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from skdigits import _warp
from skdigits._warp import (
    CHUNK_PIXELS,
    Bilinear,
    concatenate_blocks,
    pad_edge,
    pixel_grid,
    row_blocks,
    rows_of,
    warp_batch,
)
from skdigits.augment import ElasticDistortion, RandomAffine


class ReadAt:
    """A step that reads output pixel k of image i at ``(x[i, k], y[i, k])``."""

    def __init__(self, image_shape, fill=0.0):
        self.image_shape = image_shape
        self.fill = fill

    def _prepare(self, params):
        return {key: np.asarray(value, np.float32) for key, value in params.items()}

    def _source(self, prepared, x, y):
        assert x is None, "ReadAt must be the last step of a chain"
        return prepared["x"].copy(), prepared["y"].copy()


class Shift:
    """A step that moves image i by ``d[i]`` pixels: it reads at ``p - d``."""

    def __init__(self, image_shape, fill=0.0):
        self.image_shape = image_shape
        self.fill = fill

    def _prepare(self, params):
        return {"d": np.asarray(params["d"], np.float32)}

    def _source(self, prepared, x, y):
        if x is None:
            x, y = pixel_grid(self.image_shape)
        d = prepared["d"]
        return x - d[:, 0:1], y - d[:, 1:2]


def images(n=6, shape=(7, 9), dtype=np.float32, seed=0):
    """Random images in [0, 1], one pixel 0 (the fill: values stay in [0, 1])."""
    X = np.random.default_rng(seed).random((n, shape[0] * shape[1])).astype(dtype)
    X[:1, :1] = 0.0
    return X


def random_coordinates(n, shape, seed=1):
    """Positions inside, on the frame and well outside the image."""
    h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, w + 2, (n, h * w)).astype(np.float32)
    y = rng.uniform(-3, h + 2, (n, h * w)).astype(np.float32)
    return {"x": x, "y": y}


# --- Bilinear and the frames ---------------------------------------------------


@pytest.mark.parametrize("fill", [0.0, 0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_warp_is_scipy_linear_map_coordinates_with_a_constant_outside(fill, dtype):
    shape = (7, 9)
    X, where = images(dtype=dtype), random_coordinates(6, shape)
    out = warp_batch(X, [ReadAt(shape, fill)], rows_of([where]), compose=True)
    for image, x, y, warped in zip(X.reshape(-1, *shape), where["x"], where["y"], out):
        ref = ndi.map_coordinates(
            image.astype(float), [y, x], order=1, mode="grid-constant", cval=fill
        )
        np.testing.assert_allclose(warped, ref, atol=1e-5)
    assert out.dtype == dtype


def test_whole_pixel_positions_are_read_exactly():
    shape = (7, 9)
    X = images()
    d = np.array([[1, 0], [0, -2], [3, 1], [-1, -1], [0, 0], [8, 6]], np.float32)
    out = warp_batch(X, [Shift(shape)], rows_of([{"d": d}]), compose=True)
    for image, (dx, dy), warped in zip(X.reshape(-1, *shape), d, out):
        ref = ndi.shift(image, (dy, dx), order=0, mode="constant", cval=0.0)
        assert np.array_equal(warped.reshape(shape), ref)


def test_edge_framed_planes_read_the_nearest_edge_outside():
    """ElasticDistortion samples its displacement field with pad_edge."""
    shape = (5, 6)
    D = np.random.default_rng(2).random((3, 2, *shape)).astype(np.float32)
    where = random_coordinates(3, shape, seed=3)
    sampled = Bilinear(where["x"], where["y"], shape, planes=2).sample(pad_edge(D))
    for c in range(2):
        for i in range(3):
            ref = ndi.map_coordinates(
                D[i, c], [where["y"][i], where["x"][i]], order=1, mode="nearest"
            )
            np.testing.assert_allclose(sampled[c][i], ref, atol=1e-5)


def test_pixel_grid_is_row_major_and_read_only():
    x, y = pixel_grid((3, 4))
    assert x.tolist() == [0, 1, 2, 3] * 3
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert x.dtype == y.dtype == np.float32
    with pytest.raises(ValueError, match="read-only"):
        x[0] = 5


# --- warp_batch: composing, clipping, blocks -----------------------------------


def test_composed_steps_are_read_once_and_stepwise_steps_in_turn():
    """Two half-pixel shifts: composed, a whole pixel (exact); in turn, blurred."""
    shape = (7, 9)
    X = images(n=4)
    half = {"d": np.tile([0.5, 0.0], (4, 1))}
    steps = [Shift(shape), Shift(shape)]
    composed = warp_batch(X, steps, rows_of([half, half]), compose=True)
    once = warp_batch(X, [Shift(shape)], rows_of([{"d": half["d"] * 2}]), True)
    assert np.array_equal(composed, once)
    stepwise = warp_batch(X, steps, rows_of([half, half]), compose=False)
    first = warp_batch(X, [Shift(shape)], rows_of([half]), compose=True)
    second = warp_batch(first, [Shift(shape)], rows_of([half]), compose=True)
    assert np.array_equal(stepwise, second)
    assert not np.allclose(stepwise, composed, atol=1e-3)


def test_no_parameters_copy_and_a_fill_outside_the_input_range_is_kept():
    X = images(n=3) * 2 - 0.5
    copy = warp_batch(X, [Shift((7, 9))], rows_of([None]), compose=True)
    assert copy is not X and np.array_equal(copy, X)
    coordinates = random_coordinates(3, (7, 9))
    for fill in (9.0, -4.0):
        step = ReadAt((7, 9), fill=fill)
        out = warp_batch(X, [step], rows_of([coordinates]), True)
        # left of or above the frame: the frame alone, with weight exactly 1
        outside = (coordinates["x"] <= -1) | (coordinates["y"] <= -1)
        assert outside.any() and (out[outside] == np.float32(fill)).all()
        low, high = min(X.min(), fill), max(X.max(), fill)
        assert low <= out.min() and out.max() <= high


def test_the_ulp_a_bilinear_step_overshoots_by_is_clipped():
    """a + f (b - a) with f = 1 rounds above b for these float32 values."""
    a, b = np.float32(0.15596053), np.float32(0.76290196)
    assert a + np.float32(1) * (b - a) > b  # the overshoot, as NumPy computes it
    X = np.array([[a]], dtype=np.float32)  # one 1x1 image; the frame is b
    at_right_edge = {"x": np.ones((1, 1)), "y": np.zeros((1, 1))}  # x = w: f = 1
    out = warp_batch(X, [ReadAt((1, 1), fill=b)], rows_of([at_right_edge]), True)
    assert out[0, 0] == b


def test_an_empty_batch_gives_an_empty_batch():
    out = warp_batch(images(n=0), [Shift((7, 9))], rows_of([None]), compose=True)
    assert out.shape == (0, 63) and out.dtype == np.float32


@pytest.mark.parametrize("n, pixels", [(0, 784), (1, 784), (45, 784), (3, 20_000)])
def test_row_blocks_cover_the_rows_in_order_within_the_chunk(n, pixels):
    blocks = row_blocks(n, pixels)
    starts, stops = [b[0] for b in blocks], [b[1] for b in blocks]
    assert starts == [0, *stops[:-1]][: len(blocks)] and stops[-1:] == [n][: n > 0]
    for start, stop in blocks:
        assert stop > start
        assert (stop - start) * pixels <= CHUNK_PIXELS or stop - start == 1


def test_parameters_drawn_by_blocks_are_rejoined_and_sliced_back():
    rng = np.random.default_rng(0)
    drawn = [{"a": rng.random(3), "b": rng.random((3, 2))} for _ in range(2)]
    whole = concatenate_blocks(drawn)
    assert whole["a"].shape == (6,) and whole["b"].shape == (6, 2)
    assert np.array_equal(whole["b"][3:], drawn[1]["b"])
    assert concatenate_blocks([None, None]) is None
    sliced = rows_of([whole, None])(3, 6)
    assert np.array_equal(sliced[0]["a"], drawn[1]["a"]) and sliced[1] is None


@pytest.mark.parametrize(
    "augmenter", [RandomAffine(shear=10), ElasticDistortion()], ids=repr
)
def test_result_does_not_depend_on_the_block_size(monkeypatch, augmenter):
    X = images(n=50, shape=(28, 28))
    whole = augmenter(X, np.random.default_rng(0))
    monkeypatch.setattr(_warp, "CHUNK_PIXELS", 7 * 784)
    assert len(row_blocks(50, 784)) == 8
    assert np.array_equal(augmenter(X, np.random.default_rng(0)), whole)
