"""Training-time augmenters: random affine warps and elastic distortions.

An augmenter deforms a batch of flattened images afresh every time it is
called. Give one to :class:`~skdigits.NumpyMLPClassifier` as ``augment`` and it
is applied to every training minibatch of ``fit`` and ``partial_fit`` (never at
predict time)::

    from skdigits import NumpyMLPClassifier
    from skdigits.augment import ElasticDistortion, RandomAffine, make_chain

    augment = make_chain(RandomAffine(rotation=10), ElasticDistortion())
    NumpyMLPClassifier(solver="adam", augment=augment)

Every augmenter follows one contract:

- it is a scikit-learn-style object (``get_params``/``set_params``, ``clone``,
  tunable as ``mlp__augment__rotation`` in a grid search, picklable, and
  loadable from ``.skops`` files as a trusted skdigits type);
- ``augmenter(X, rng)`` takes ``X`` of shape ``(n_images, height * width)``
  (each row an image, row-major, as MNIST CSVs store them) and a
  :class:`numpy.random.Generator`, and returns a new array of the same shape
  and dtype; ``X`` is never modified and the same generator state gives the
  same output;
- the random draw is kept apart from the warp: ``augmenter.draw(n, rng)``
  returns the random parameters and ``augmenter.warp(X, params)`` is a pure
  function of the images and those parameters (as in torchvision's
  ``transforms.v2.RandomAffine``), so ``augmenter(X, rng)`` is
  ``augmenter.warp(X, augmenter.draw(len(X), rng))``;
- output values stay in the batch's ``[X.min(), X.max()]``; pixels that come
  from outside the image are ``fill`` (default 0, the background of pixels
  scaled to [0, 1] by :class:`~skdigits.PixelScaler`).

The geometric augmenters resample by bilinear interpolation, vectorised over
the whole batch (one set of sampling coordinates per image, as kornia's
batched warps): no Python loop per image. A :class:`Chain` of geometric steps
composes their sampling coordinates and interpolates once, which blurs less
and runs faster than warping step after step. (The interpolation is in the
private ``skdigits._warp``; :func:`plot_augmented` is in ``skdigits._plotting``.)

Coordinates: a pixel's position is :math:`p = (x, y)`, its column and row,
with :math:`y` pointing down as the image is displayed, and the image centre
is :math:`c = ((w - 1)/2, (h - 1)/2)`.
"""

import functools
import math
import weakref
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

from skdigits._plotting import plot_augmented
from skdigits._sklearn_compat import Interval, _BaseComposition, validate_params
from skdigits._warp import (
    Bilinear,
    concatenate_blocks,
    pad_edge,
    pixel_grid,
    row_blocks,
    rows_of,
    warp_batch,
)

__all__ = [
    "Chain",
    "ElasticDistortion",
    "RandomAffine",
    "make_chain",
    "plot_augmented",
]

_PAIR = (tuple, list, np.ndarray)


# --------------------------------------------------------------------- base


# The parameter values each augmenter last validated (kept outside the objects,
# so that nothing of it is pickled or saved).
_VALIDATED = weakref.WeakKeyDictionary()


def _validate_once(estimator):
    """scikit-learn's ``_validate_params``, skipped while the values are unchanged.

    An augmenter is called once per training minibatch; validating its
    parameters every time was about a tenth of a chain's call. The values
    last validated are compared by ``==``, so a parameter replaced by
    ``set_params`` is validated again.
    """
    names = estimator._parameter_constraints
    values = tuple(getattr(estimator, name) for name in names)
    try:
        if _VALIDATED.get(estimator) == values:
            return
    except (TypeError, ValueError):  # e.g. an array compared element-wise
        pass
    validate_params(estimator)
    _VALIDATED[estimator] = values


class _Augmenter(BaseEstimator):
    """What every augmenter shares: the check of its input images."""

    def _check_images(self, X):
        return check_images(X, self.image_shape, type(self).__name__)


class _Geometric(_Augmenter):
    """An augmenter that moves pixels: a map from output to source coordinates.

    Subclasses define ``draw(n, rng)`` (None for the identity), ``_prepare``
    (the parameters as arrays with one row per image) and ``_source``
    (output coordinates -> the input coordinates they read from). A
    :class:`Chain` composes the ``_source`` maps of its steps.
    """

    def __call__(self, X, rng):
        """Return a freshly augmented copy of the images ``X``.

        The same as ``self.warp(X, self.draw(len(X), rng))``, drawn and
        warped block by block of rows.

        Parameters
        ----------
        X : ndarray of shape (n_images, height * width)
            Flattened images, float32 or float64. Not modified.
        rng : numpy.random.Generator
            The source of the random draw.

        Returns
        -------
        X_aug : ndarray of shape (n_images, height * width)
            Same dtype as ``X``.
        """
        X = self._check_images(X)
        drawer = self._drawer()
        draw = lambda start, stop: [drawer(stop - start, rng)]  # noqa: E731
        return warp_batch(X, [self], draw, compose=True)

    def warp(self, X, params):
        """Warp the images ``X`` with the parameters ``params`` from `draw`.

        Parameters
        ----------
        X : ndarray of shape (n_images, height * width)
            Flattened images, float32 or float64. Not modified.
        params : dict of ndarray or None
            What ``draw(n_images, rng)`` returned; None is the identity.

        Returns
        -------
        X_aug : ndarray of shape (n_images, height * width)
            Same dtype as ``X``: a new array even for the identity.
        """
        X = self._check_images(X)
        return warp_batch(X, [self], rows_of([params]), compose=True)


# ------------------------------------------------------------ RandomAffine


class RandomAffine(_Geometric):
    r"""Random rotation, scaling, shear and shift of every image, about its centre.

    Each image gets its own parameters, drawn uniformly from the ranges (as
    torchvision's ``RandomAffine``): an angle :math:`\theta` (degrees,
    counter-clockwise as displayed), a scale :math:`s`, a shear angle
    :math:`\varphi` (degrees, parallel to the x axis) and a shift
    :math:`t = (t_x, t_y)` (pixels, right and down). The content at input
    position :math:`q` moves to

    .. math::

        p = c + t + M (q - c), \qquad M = s\, R(\theta)\, S(\varphi), \qquad
        R(\theta) = \begin{pmatrix} \cos\theta & \sin\theta \\
        -\sin\theta & \cos\theta \end{pmatrix}, \qquad
        S(\varphi) = \begin{pmatrix} 1 & \tan\varphi \\ 0 & 1 \end{pmatrix},

    so each output pixel :math:`p` is read, by bilinear interpolation, from
    :math:`q = c + M^{-1}(p - c - t)` (``fill`` where that falls outside).
    With :math:`\theta = 90` a square image becomes ``np.rot90(image)``.

    Parameters
    ----------
    rotation : float or (float, float), default=10.0
        Range of :math:`\theta` in degrees: ``d`` means ``(-d, d)``.
        Positive angles turn the digit counter-clockwise as displayed (as
        ``np.rot90`` and ``scipy.ndimage.rotate``).
    scale : (float, float), default=(0.9, 1.1)
        Range of :math:`s`; above 1 enlarges. ``(1, 1)`` keeps the size.
    shear : float or (float, float), default=0.0
        Range of :math:`\varphi` in degrees, inside (-90, 90): ``d`` means
        ``(-d, d)``. The shear is :math:`x' = x + y \tan\varphi`.
    shift : float or (float, float), default=2.0
        Largest shift in **pixels**: ``d`` draws :math:`t_x` and :math:`t_y`
        each from ``(-d, d)``; ``(dx, dy)`` gives one maximum per axis (as
        torchvision's ``translate``, but in pixels, not fractions). Shifts
        need not be whole pixels.
    image_shape : (int, int), default=(28, 28)
        ``(height, width)`` of the images; each row of ``X`` must have
        ``height * width`` values.
    fill : float, default=0.0
        The value of pixels that come from outside the image.

    See Also
    --------
    ElasticDistortion : Simard's random elastic deformations.
    make_chain : Compose augmenters, with one interpolation for the chain.

    Notes
    -----
    With every range at its identity (``rotation=0``, ``scale=(1, 1)``,
    ``shear=0``, ``shift=0``) the augmenter returns an exact copy of ``X`` and
    draws nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits.augment import RandomAffine
    >>> X = np.zeros((1, 25), dtype=np.float32)
    >>> X[0, 7] = 1.0                   # row 1, column 2 of a 5 x 5 image
    >>> shift = RandomAffine(rotation=0, scale=(1, 1), shift=0,
    ...                      image_shape=(5, 5))
    >>> params = {"angle": [0.0], "scale": [1.0], "shear": [0.0],
    ...           "shift": [[1.0, 2.0]]}   # 1 pixel right, 2 down
    >>> out = shift.warp(X, params).reshape(5, 5)
    >>> [int(i) for i in np.argwhere(out == 1.0)[0]]
    [3, 3]
    """

    _parameter_constraints = {
        "rotation": [Interval(Real, 0, None, closed="left"), *_PAIR],
        "scale": [*_PAIR],
        "shear": [Interval(Real, 0, 90, closed="left"), *_PAIR],
        "shift": [Interval(Real, 0, None, closed="left"), *_PAIR],
        "image_shape": [*_PAIR],
        "fill": [Real],
    }

    def __init__(
        self,
        rotation=10.0,
        scale=(0.9, 1.1),
        shear=0.0,
        shift=2.0,
        image_shape=(28, 28),
        fill=0.0,
    ):
        self.rotation = rotation
        self.scale = scale
        self.shear = shear
        self.shift = shift
        self.image_shape = image_shape
        self.fill = fill

    def draw(self, n, rng):
        """Draw the parameters of ``n`` random affine maps.

        Parameters
        ----------
        n : int
            The number of images.
        rng : numpy.random.Generator
            The source of the draw: ``n * 5`` uniform numbers.

        Returns
        -------
        params : dict of ndarray or None
            ``angle``, ``scale`` and ``shear`` of shape (n,) (degrees, factor,
            degrees) and ``shift`` of shape (n, 2) (pixels right, pixels
            down), for :meth:`warp`; None when every range is the identity.
        """
        return self._drawer()(n, rng)

    def _drawer(self):
        """``draw`` with the parameters checked once: a function of (n, rng)."""
        ranges = self._ranges()
        if _is_identity_affine(ranges):
            return lambda n, rng: None
        (rot_lo, rot_hi), (s_lo, s_hi), (sh_lo, sh_hi), (dx, dy) = ranges
        low = np.array([rot_lo, s_lo, sh_lo, -dx, -dy])
        span = np.array([rot_hi - rot_lo, s_hi - s_lo, sh_hi - sh_lo, 2 * dx, 2 * dy])

        def draw(n, rng):
            V = low + span * rng.random((n, 5))
            return {
                "angle": V[:, 0],
                "scale": V[:, 1],
                "shear": V[:, 2],
                "shift": V[:, 3:],
            }

        return draw

    def _ranges(self):
        """The four ranges as checked pairs; a ValueError names a bad one."""
        _validate_once(self)
        _check_shape(self.image_shape, type(self).__name__)
        name = type(self).__name__
        rotation = _symmetric_range(self.rotation, "rotation", name)
        scale = _pair(self.scale, "scale", name)
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(
                f"{name}: scale must be (low, high) with 0 < low <= high, "
                f"got {self.scale!r}"
            )
        shear = _symmetric_range(self.shear, "shear", name)
        if not (-90 < shear[0] and shear[1] < 90):
            raise ValueError(f"{name}: shear must lie inside (-90, 90) degrees")
        shift = _shift_maxima(self.shift, name)
        return rotation, scale, shear, shift

    def _prepare(self, params):
        """The inverse maps as rows ``(a, b, e, c, d, f)``: x' = a x + b y + e."""
        angle, scale, shear, shift = (
            np.asarray(params[key], dtype=np.float64)
            for key in ("angle", "scale", "shear", "shift")
        )
        theta, phi = np.radians(angle), np.radians(shear)
        cos, sin, tan = np.cos(theta) / scale, np.sin(theta) / scale, np.tan(phi)
        # M^-1 = S(phi)^-1 R(-theta) / s
        a, b = cos - tan * sin, -sin - tan * cos
        c, d = sin, cos
        h, w = self.image_shape
        cx, cy = (w - 1) / 2, (h - 1) / 2
        px, py = cx + shift[:, 0], cy + shift[:, 1]  # c + t
        e = cx - (a * px + b * py)
        f = cy - (c * px + d * py)
        return {"inverse": np.stack([a, b, e, c, d, f], axis=1).astype(np.float32)}

    def _source(self, prepared, x, y):
        """Input coordinates read by output coordinates ``(x, y)`` (None: grid)."""
        A = prepared["inverse"][:, :, None]
        if x is None:  # on the grid: a column term plus a row term, one pass
            h, w = self.image_shape
            cols = np.arange(w, dtype=np.float32)
            rows = np.arange(h, dtype=np.float32)[:, None]
            m = A.shape[0]
            x_src = A[:, 0:1] * cols + (A[:, 1:2] * rows + A[:, 2:3])
            y_src = A[:, 3:4] * cols + (A[:, 4:5] * rows + A[:, 5:6])
            return x_src.reshape(m, h * w), y_src.reshape(m, h * w)
        A = A[:, :, 0]
        x_src = A[:, 0:1] * x
        x_src += A[:, 1:2] * y
        x_src += A[:, 2:3]
        y_src = A[:, 3:4] * x
        y_src += A[:, 4:5] * y
        y_src += A[:, 5:6]
        return x_src, y_src


def _is_identity_affine(ranges):
    rotation, scale, shear, shift = ranges
    return (
        rotation == (0, 0) and scale == (1, 1) and shear == (0, 0) and shift == (0, 0)
    )


# ------------------------------------------------------- ElasticDistortion


class ElasticDistortion(_Geometric):
    r"""Simard et al.'s (2003) elastic distortion: a random smooth displacement.

    For each image, two fields of independent uniform noise
    :math:`U_x, U_y \sim \mathcal{U}[-1, 1]^{h \times w}` are smoothed by a
    Gaussian of standard deviation :math:`\sigma` pixels and scaled by
    :math:`\alpha`:

    .. math::

        d_x = \alpha\, G_h U_x G_w^\top, \qquad
        d_y = \alpha\, G_h U_y G_w^\top, \qquad
        (G_n)_{ij} = \frac{g(i - j)}{\sum_{|k| \le r} g(k)}, \quad
        g(k) = e^{-k^2 / 2\sigma^2} \ [|k| \le r], \quad
        r = \lfloor 4\sigma + 1/2 \rfloor,

    which is ``scipy.ndimage.gaussian_filter(U, sigma, mode='constant')``
    written as two small matrix products per field (:math:`G_n` is the banded
    :math:`n \times n` Gaussian matrix). Each output pixel :math:`p` is read,
    by bilinear interpolation, from :math:`p + d(p)` (``fill`` outside the
    image).

    Parameters
    ----------
    alpha : float, default=34.0
        Strength :math:`\alpha`: the displacement in pixels before smoothing.
        0 is the identity. Simard et al. used 34 (with sigma 4) on MNIST;
        Ciresan et al. (2010) 34-38 with sigma 5-6.
    sigma : float, default=4.0
        Smoothness :math:`\sigma` of the field, in pixels. Small values give
        random jitter, large ones an almost rigid shift; with the same
        ``alpha`` a larger ``sigma`` also moves pixels less.
    image_shape : (int, int), default=(28, 28)
        ``(height, width)`` of the images; each row of ``X`` must have
        ``height * width`` values.
    fill : float, default=0.0
        The value of pixels that come from outside the image.

    See Also
    --------
    RandomAffine : Rotation, scaling, shear and shift.
    make_chain : Compose augmenters, with one interpolation for the chain.

    References
    ----------
    P. Y. Simard, D. Steinkraus and J. C. Platt, "Best practices for
    convolutional neural networks applied to visual document analysis",
    ICDAR 2003.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits.augment import ElasticDistortion
    >>> X = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    >>> out = ElasticDistortion(alpha=34, sigma=4)(X, np.random.default_rng(1))
    >>> low = min(X.min(), 0.0)  # pixels pulled from outside the image are fill=0
    >>> out.shape, out.dtype, bool(low <= out.min() <= out.max() <= X.max())
    ((3, 784), dtype('float32'), True)
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "image_shape": [*_PAIR],
        "fill": [Real],
    }

    def __init__(self, alpha=34.0, sigma=4.0, image_shape=(28, 28), fill=0.0):
        self.alpha = alpha
        self.sigma = sigma
        self.image_shape = image_shape
        self.fill = fill

    def draw(self, n, rng):
        """Draw ``n`` smoothed random displacement fields.

        Parameters
        ----------
        n : int
            The number of images.
        rng : numpy.random.Generator
            The source of the noise: ``n * 2 * height * width`` uniform
            float32 numbers.

        Returns
        -------
        params : dict of ndarray or None
            ``displacement`` of shape (n, 2, height, width), float32: the
            :math:`(d_x, d_y)` of each image in pixels, for :meth:`warp`;
            None when ``alpha`` is 0.
        """
        return self._drawer()(n, rng)

    def _drawer(self):
        """``draw`` with the parameters checked once: a function of (n, rng)."""
        _validate_once(self)
        h, w = _check_shape(self.image_shape, type(self).__name__)
        if self.alpha == 0:
            return lambda n, rng: None
        G_h, G_w = gaussian_matrix(h, self.sigma), gaussian_matrix(w, self.sigma)
        # alpha G (2U - 1) G^T = (2 alpha G_h) U G_w^T - alpha (G_h 1)(G_w 1)^T
        scaled, G_wT = np.float32(2 * self.alpha) * G_h, G_w.T
        offset = np.float32(self.alpha) * np.outer(G_h.sum(axis=1), G_w.sum(axis=1))

        def draw(n, rng):
            displacement = np.empty((n, 2, h, w), dtype=np.float32)
            for start, stop in row_blocks(n, h * w):
                noise = rng.random((stop - start, 2, h, w), dtype=np.float32)
                field = displacement[start:stop]
                np.matmul(np.matmul(scaled, noise), G_wT, out=field)
                field -= offset
            return {"displacement": displacement}

        return draw

    def _prepare(self, params):
        return {"displacement": np.asarray(params["displacement"], dtype=np.float32)}

    def _source(self, prepared, x, y):
        """Input coordinates read by output coordinates ``(x, y)`` (None: grid)."""
        D = prepared["displacement"]
        m, _, h, w = D.shape
        if x is None:
            x, y = pixel_grid(self.image_shape)
            return x + D[:, 0].reshape(m, h * w), y + D[:, 1].reshape(m, h * w)
        # Off the pixel grid (a step after this one in a Chain has moved the
        # coordinates): interpolate the field, extended by its edge values.
        d_x, d_y = Bilinear(x, y, (h, w), planes=2).sample(pad_edge(D))
        return x + d_x, y + d_y


def gaussian_matrix(n, sigma, truncate=4.0):
    r"""The :math:`n \times n` banded matrix that Gaussian-smooths a length-n signal.

    ``gaussian_matrix(n, sigma) @ v`` equals
    ``scipy.ndimage.gaussian_filter1d(v, sigma, mode='constant')``: a kernel
    of radius ``int(truncate * sigma + 0.5)``, normalised to sum 1, with zeros
    beyond the ends.

    Parameters
    ----------
    n : int
        Length of the signal (an image's height or width).
    sigma : float
        Standard deviation of the Gaussian, in pixels.
    truncate : float, default=4.0
        The kernel's radius in standard deviations, as in scipy.

    Returns
    -------
    G : ndarray of shape (n, n), float32
    """
    return _gaussian_matrix(int(n), float(sigma), float(truncate))


@functools.lru_cache(maxsize=16)
def _gaussian_matrix(n, sigma, truncate):
    """:func:`gaussian_matrix`, built once per ``(n, sigma, truncate)`` (read-only)."""
    radius = int(truncate * sigma + 0.5)
    k = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (k / sigma) ** 2)
    kernel /= kernel.sum()
    offsets = np.arange(n)[None, :] - np.arange(n)[:, None]
    inside = np.abs(offsets) <= radius
    G = np.where(inside, kernel[np.clip(offsets + radius, 0, 2 * radius)], 0.0)
    G = G.astype(np.float32)
    G.flags.writeable = False
    return G


# ------------------------------------------------------------------- Chain


class Chain(_BaseComposition):
    """Apply augmenters one after another, as one augmenter.

    Built like a :class:`~sklearn.pipeline.Pipeline`, from named steps, with
    nested parameters: ``Chain([("affine", RandomAffine()), ("elastic",
    ElasticDistortion())])`` has ``affine__rotation`` and ``elastic__alpha``
    (``augment__affine__rotation`` on the classifier,
    ``mlp__augment__affine__rotation`` in a grid search over a pipeline).

    When every step is a geometric skdigits augmenter with the same
    ``image_shape`` and ``fill``, the chain composes their coordinate maps:
    output pixel :math:`p` reads the input at
    :math:`q = f_1(f_2(\\cdots f_k(p)))`, where :math:`f_i` is step
    :math:`i`'s map from output to input coordinates, and interpolates once
    (less blur than warping step by step, and faster). The random draws are
    the same either way: block by block of rows (about 16,000 pixels: 20
    MNIST images), each step in turn.

    Parameters
    ----------
    steps : list of (str, augmenter) tuples
        The augmenters in the order they deform the images; an augmenter may
        be ``'passthrough'`` (skipped), to switch a step off in a grid
        search. Any callable ``augmenter(X, rng)`` is allowed; one that is
        not a skdigits geometric augmenter makes the chain apply its steps
        in turn.
    compose : bool, default=True
        Compose geometric steps into one interpolation. False warps and
        interpolates step by step.

    See Also
    --------
    make_chain : Build a Chain with names made from the augmenters' classes.

    Examples
    --------
    >>> from skdigits.augment import Chain, ElasticDistortion, RandomAffine
    >>> chain = Chain([("affine", RandomAffine()), ("elastic", ElasticDistortion())])
    >>> chain.set_params(affine__rotation=15).get_params()["affine__rotation"]
    15
    """

    _parameter_constraints = {"steps": [list], "compose": ["boolean"]}

    def __init__(self, steps, *, compose=True):
        self.steps = steps
        self.compose = compose

    def get_params(self, deep=True):
        """Parameters of the chain and, with ``deep``, of its steps (``name__param``).

        Parameters
        ----------
        deep : bool, default=True
            Include the steps and their parameters.

        Returns
        -------
        params : dict
        """
        return self._get_params("steps", deep=deep)

    def set_params(self, **params):
        """Set the chain's parameters, its steps by name, or theirs as ``name__param``.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their new values.

        Returns
        -------
        self : Chain
        """
        self._set_params("steps", **params)
        return self

    def __call__(self, X, rng):
        """Return a freshly augmented copy of the images ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_images, height * width)
            Flattened images, float32 or float64. Not modified.
        rng : numpy.random.Generator
            The source of every step's random draw.

        Returns
        -------
        X_aug : ndarray of shape (n_images, height * width)
            Same dtype as ``X``.
        """
        steps = self._active_steps()
        if not self._geometric(steps):
            X_aug = X
            for step in steps:
                X_aug = step(X_aug, rng)
            return np.array(X, copy=True) if X_aug is X else X_aug
        X = steps[0]._check_images(X)
        drawers = [step._drawer() for step in steps]
        draw = lambda start, stop: [d(stop - start, rng) for d in drawers]  # noqa: E731
        return warp_batch(X, steps, draw, self._compose(steps))

    def draw(self, n, rng):
        """Draw every step's parameters (its steps must be geometric).

        Parameters
        ----------
        n : int
            The number of images.
        rng : numpy.random.Generator
            The source of the draws: block after block of rows, each step in
            turn, as :meth:`__call__` draws.

        Returns
        -------
        params : list
            One entry per step (None for ``'passthrough'``), for :meth:`warp`.
        """
        steps = self._active_steps()
        if not self._geometric(steps):
            raise ValueError(
                "Chain.draw needs skdigits geometric augmenters (RandomAffine, "
                "ElasticDistortion) as steps; call the chain as chain(X, rng)"
            )
        pixels = int(np.prod(steps[0].image_shape))
        drawers = [step._drawer() for step in steps]
        blocks = [
            [draw(stop - start, rng) for draw in drawers]
            for start, stop in row_blocks(n, pixels)
        ] or [[draw(0, rng) for draw in drawers]]
        drawn = iter([concatenate_blocks(per_step) for per_step in zip(*blocks)])
        return [None if _is_passthrough(s) else next(drawn) for _, s in self.steps]

    def warp(self, X, params):
        """Warp the images with every step's parameters from :meth:`draw`.

        Parameters
        ----------
        X : ndarray of shape (n_images, height * width)
            Flattened images. Not modified.
        params : list
            What :meth:`draw` returned.

        Returns
        -------
        X_aug : ndarray of shape (n_images, height * width)
            Same dtype as ``X``.
        """
        steps = self._active_steps()
        params = [p for (_, s), p in zip(self.steps, params) if not _is_passthrough(s)]
        if not self._geometric(steps):
            X_aug = X
            for step, p in zip(steps, params):
                X_aug = step.warp(X_aug, p)
            return np.array(X, copy=True) if X_aug is X else X_aug
        X = steps[0]._check_images(X)
        return warp_batch(X, steps, rows_of(params), self._compose(steps))

    def _active_steps(self):
        """The augmenters that are not 'passthrough', after checking the list."""
        _validate_once(self)
        names = [name for name, _ in self.steps] if _named(self.steps) else None
        if names is None:
            raise ValueError(
                "Chain: steps must be a list of (name, augmenter) tuples, "
                f"got {self.steps!r}"
            )
        self._validate_names(names)
        for name, step in self.steps:
            if not (_is_passthrough(step) or callable(step)):
                raise ValueError(
                    f"Chain: step {name!r} is not an augmenter: expected a "
                    f"callable augmenter(X, rng) or 'passthrough', got {step!r}"
                )
        return [step for _, step in self.steps if not _is_passthrough(step)]

    def _geometric(self, steps):
        """Whether the steps are warps drawn and applied block by block."""
        if not (steps and all(isinstance(step, _Geometric) for step in steps)):
            return False
        shapes = {_check_shape(s.image_shape, type(s).__name__) for s in steps}
        if len(shapes) > 1:
            raise ValueError(
                f"Chain: the steps have different image_shape {sorted(shapes)}; "
                "give every step the images' (height, width)"
            )
        return True

    def _compose(self, steps):
        """Whether the steps can share one interpolation (the same fill)."""
        return self.compose and len({step.fill for step in steps}) == 1


def _named(steps):
    return isinstance(steps, list) and all(
        isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
        for item in steps
    )


def _is_passthrough(step):
    return isinstance(step, str) and step == "passthrough"


def make_chain(*augmenters, compose=True):
    """Build a :class:`Chain` from augmenters, named after their classes.

    As :func:`sklearn.pipeline.make_pipeline`: the names are the lowercased
    class names, numbered (``randomaffine-1``, ``randomaffine-2``) when a
    class comes twice.

    Parameters
    ----------
    *augmenters : augmenters
        In the order they deform the images.
    compose : bool, default=True
        See :class:`Chain`.

    Returns
    -------
    chain : Chain

    Examples
    --------
    >>> from skdigits.augment import ElasticDistortion, RandomAffine, make_chain
    >>> [name for name, _ in make_chain(RandomAffine(), ElasticDistortion()).steps]
    ['randomaffine', 'elasticdistortion']
    """
    names = [type(step).__name__.lower() for step in augmenters]
    counts = {name: names.count(name) for name in names}
    seen = dict.fromkeys(names, 0)
    steps = []
    for name, step in zip(names, augmenters):
        if counts[name] > 1:
            seen[name] += 1
            name = f"{name}-{seen[name]}"
        steps.append((name, step))
    return Chain(steps, compose=compose)


# -------------------------------------------------------- input checks


def check_images(X, image_shape, owner):
    """``X`` as a 2-D float array of flattened images, or a clear ValueError.

    Parameters
    ----------
    X : array-like of shape (n_images, height * width)
    image_shape : (int, int)
    owner : str
        The augmenter's name, for the message.

    Returns
    -------
    X : ndarray
        ``X`` itself when it already is a float ndarray (never copied).
    """
    h, w = _check_shape(image_shape, owner)
    X = np.asarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.floating):
        raise ValueError(
            f"{owner}: expected a 2-D float array of flattened images "
            f"(n_images, {h * w}), got an array of shape {X.shape} and dtype "
            f"{X.dtype}; scale the pixels first (e.g. with skdigits.PixelScaler)"
        )
    if X.shape[1] != h * w:
        side = math.isqrt(X.shape[1])
        hint = (
            f", e.g. image_shape=({side}, {side})" if side * side == X.shape[1] else ""
        )
        raise ValueError(
            f"{owner}: rows have {X.shape[1]} values but image_shape="
            f"{tuple(image_shape)} needs {h * w}; set image_shape to the "
            f"images' (height, width){hint}"
        )
    return X


def _check_shape(image_shape, owner):
    if not (
        isinstance(image_shape, _PAIR)
        and len(image_shape) == 2
        and all(isinstance(v, Integral) and v >= 1 for v in image_shape)
    ):
        raise ValueError(
            f"{owner}: image_shape must be (height, width), two positive "
            f"integers, got {image_shape!r}"
        )
    return int(image_shape[0]), int(image_shape[1])


def _pair(value, param, owner):
    if not (isinstance(value, _PAIR) and len(value) == 2):
        raise ValueError(f"{owner}: {param} must be a pair (low, high), got {value!r}")
    low, high = (float(v) for v in value)
    if not low <= high:
        raise ValueError(f"{owner}: {param} must have low <= high, got {value!r}")
    return low, high


def _symmetric_range(value, param, owner):
    if isinstance(value, Real):
        return -float(value), float(value)
    return _pair(value, param, owner)


def _shift_maxima(value, owner):
    if isinstance(value, Real):
        return float(value), float(value)
    if not (isinstance(value, _PAIR) and len(value) == 2 and min(value) >= 0):
        raise ValueError(
            f"{owner}: shift must be a number of pixels >= 0 or a pair "
            f"(max_dx, max_dy) >= 0, got {value!r}"
        )
    return float(value[0]), float(value[1])
