"""Bilinear warping of batches of flattened images, block by block of rows.

The numerical part of :mod:`skdigits.augment`: the augmenters draw random
parameters and say where each output pixel reads its input; this module does
the reading, for a whole batch at once (one set of sampling coordinates per
image, as kornia's batched warps: no Python loop per image).

:func:`warp_batch` takes *steps*, objects with

- ``image_shape`` ``(height, width)`` and ``fill`` (the value read outside
  the image);
- ``_prepare(params)``: the step's parameters for some rows, as arrays with
  one row per image;
- ``_source(prepared, x, y)``: the input coordinates read by output
  coordinates ``(x, y)``, arrays of shape ``(m, height * width)``, or by the
  output pixel grid when ``x`` is None.

Composing the steps' ``_source`` maps, last step first, gives the input
position each output pixel reads through the whole chain, so it is
interpolated once.

Coordinates: a pixel's position is ``(x, y)``, its column and row, with
``y`` pointing down; pixel ``(j, i)`` of a row-major image is value
``i * width + j``.
"""

import functools

import numpy as np

# Rows are drawn and warped in blocks of at most this many pixels (20 MNIST
# images), so that every working array stays below glibc's 128 KiB mmap
# threshold and is reused from the heap: page-faulting fresh arrays of a whole
# batch on every call made warps of 128 MNIST images 2-4 times slower.
CHUNK_PIXELS = 16_384


def warp_batch(X, steps, params_of, compose):
    """Warp ``X`` through geometric ``steps`` (in order), block by block of rows.

    ``params_of(start, stop)`` gives the steps' parameters for those rows (a
    fresh draw, or those rows of given parameters). With ``compose`` the
    steps' source maps are composed and the block is interpolated once;
    otherwise once per step.

    Every output value is a bilinear mix of input values and the ``fill`` of
    the steps that read outside the image; the result is clipped to the range
    of those (``X``'s and the fills used), which only takes back the ulp that
    ``a + f (b - a)`` may overshoot by, and keeps a ``fill`` outside ``X``'s
    range as it is.
    """
    out = np.empty_like(X)
    if X.shape[0] == 0:
        return out
    low, high = X.min(), X.max()
    for start, stop in row_blocks(X.shape[0], X.shape[1]):
        block = out[start:stop]
        pairs = [
            (step, step._prepare(p))
            for step, p in zip(steps, params_of(start, stop))
            if p is not None
        ]
        groups = ([pairs] if compose else [[pair] for pair in pairs]) if pairs else []
        source = X[start:stop]
        for group in groups:
            _warp_block(source, group, block)
            source = block  # _warp_block copies its input before writing
        if not groups:
            block[...] = source
        fills = [X.dtype.type(step.fill) for step, _ in pairs]
        np.clip(block, min([low, *fills]), max([high, *fills]), out=block)
    return out


def _warp_block(X, pairs, out):
    """Interpolate rows ``X`` at the composed source coordinates of ``pairs``."""
    x = y = None
    for step, prepared in reversed(pairs):
        x, y = step._source(prepared, x, y)
    shape, fill = pairs[0][0].image_shape, pairs[0][0].fill
    Bilinear(x, y, shape).sample(_pad_constant(X, shape, fill), out=out)


def row_blocks(n, pixels):
    """``(start, stop)`` of the blocks of rows that are drawn and warped together."""
    rows = max(1, CHUNK_PIXELS // pixels)
    return [(start, min(start + rows, n)) for start in range(0, n, rows)]


def rows_of(params):
    """``params_of`` for given parameters: the rows asked for."""

    def params_of(start, stop):
        return [
            None if p is None else {k: v[start:stop] for k, v in p.items()}
            for p in params
        ]

    return params_of


def concatenate_blocks(params):
    """One step's parameters drawn block by block, as one dict of arrays."""
    if params[0] is None:
        return None
    return {key: np.concatenate([p[key] for p in params]) for key in params[0]}


@functools.lru_cache(maxsize=8)
def _grid_of(h, w):
    y, x = np.divmod(np.arange(h * w, dtype=np.float32), np.float32(w))
    x.flags.writeable = y.flags.writeable = False
    return x, y


def pixel_grid(image_shape):
    """The output pixels' ``(x, y)``: two read-only float32 vectors of h * w."""
    return _grid_of(int(image_shape[0]), int(image_shape[1]))


def _pad_constant(X, image_shape, fill):
    """Images ``(m, h*w)`` -> planes ``(m, 1, h+2, w+2)`` framed by ``fill``."""
    h, w = image_shape
    P = np.full((X.shape[0], 1, h + 2, w + 2), fill, dtype=X.dtype)
    P[:, 0, 1:-1, 1:-1] = X.reshape(-1, h, w)
    return P


def pad_edge(D):
    """Planes ``(m, c, h, w)`` -> ``(m, c, h+2, w+2)`` framed by their edges."""
    return np.pad(D, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")


class Bilinear:
    r"""Bilinear sampling of padded planes at per-image coordinates.

    For a source position :math:`(x, y)` with :math:`x = j + f_x`,
    :math:`y = i + f_y` (:math:`0 \le f \le 1`) the value is

    .. math::

        (1 - f_y)\,[(1 - f_x) P_{i,j} + f_x P_{i,j+1}]
        + f_y\,[(1 - f_x) P_{i+1,j} + f_x P_{i+1,j+1}],

    computed as three ``a + f (b - a)`` steps (exact when :math:`f = 0`).
    The planes carry a one-pixel frame (``fill`` or the edge values) at
    :math:`x, y = -1` and :math:`x = w`, :math:`y = h`; positions beyond it
    are clamped onto it, so they read the frame.
    """

    def __init__(self, x, y, image_shape, planes=1):
        h, w = image_shape
        self.row = w + 2
        self.plane = (h + 2) * (w + 2)
        self.planes = planes
        x0, self.fx = _floor_and_fraction(x, w)
        y0, self.fy = _floor_and_fraction(y, h)
        # Flat index of the top-left neighbour in the padded planes, counted
        # in float32 (exact: a chunk holds far fewer than 2**24 values).
        y0 *= self.row
        y0 += x0
        self.index = y0.astype(np.int32)
        first = np.arange(x.shape[0], dtype=np.int32) * (planes * self.plane)
        self.index += first[:, None] + (self.row + 1)  # +1 row, +1 column: the frame

    def sample(self, P, out=None):
        """Sample padded planes ``P`` of shape (m, planes, h+2, w+2).

        Returns a list with one ``(m, h*w)`` array per plane; with ``out``,
        the single plane's values are written there.
        """
        flat = P.reshape(-1)
        return [
            self._sample_plane(flat[c * self.plane :], out) for c in range(self.planes)
        ]

    def _sample_plane(self, flat, out):
        k, row = self.index, self.row
        top, top_right = flat.take(k), flat[1:].take(k)
        bottom, bottom_right = flat[row:].take(k), flat[row + 1 :].take(k)
        top_right -= top
        top_right *= self.fx
        top += top_right
        bottom_right -= bottom
        bottom_right *= self.fx
        bottom += bottom_right
        bottom -= top
        bottom *= self.fy
        return np.add(top, bottom, out=out)


def _floor_and_fraction(x, n):
    """``(i, f)`` with ``x = i + f`` for x clamped to the frame [-1, n]."""
    x = np.clip(x, np.float32(-1), np.float32(n))
    i = np.floor(x)
    np.minimum(i, np.float32(n - 1), out=i)  # x = n: i = n - 1, f = 1
    x -= i
    return i, x
