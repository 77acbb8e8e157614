"""Preprocessing for MNIST-style pixels: scaling, and turning a photo into 784 pixels.

>>> import numpy as np
>>> from skdigits.preprocessing import PixelScaler
>>> PixelScaler().fit_transform(np.array([[0, 51, 255]], dtype=np.uint8))
array([[0. , 0.2, 1. ]], dtype=float32)
"""

import functools
import os
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy import ndimage
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import validate_data

__all__ = [
    "DigitPrediction",
    "PixelScaler",
    "UnreadableImageError",
    "image_to_mnist",
    "predict_digit",
]

PIXEL_MAX = 255
MNIST_SIDE = 28
DIGIT_BOX = 20  # the longer side of the digit's box, as in MNIST
MAX_WORKING_SIDE = 1024  # larger photos are shrunk first, for speed
MIN_CONTRAST = 0.1 * PIXEL_MAX  # weaker ink than this counts as a blank image
INK_THRESHOLD = 0.2  # of the darkest ink, to find the ink's bounding box
MIN_PART = 0.05  # ink blobs smaller than this share of the largest are specks
# MNIST strokes are about 0.126 of the digit's longer side (median over the
# test set; 5 % are thinner than 0.084). Thinner pen strokes are widened to it.
STROKE_WIDTH = 0.126
MIN_STROKE_WIDTH = 0.084


class UnreadableImageError(ValueError):
    """An image file that is missing, not an image, damaged or too large.

    Its message is one line that names the file and says what to do. It is a
    ``ValueError``, so code that caught ``ValueError`` from
    :func:`image_to_mnist` still catches it.

    Examples
    --------
    >>> from skdigits.preprocessing import UnreadableImageError, image_to_mnist
    >>> try:
    ...     image_to_mnist("nowhere.png")
    ... except UnreadableImageError as err:
    ...     print(err)
    nowhere.png: no such file
    """


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale raw 0-255 pixel values to [0, 1] as float32.

    A stateless transformer: ``transform`` computes ``X / 255`` and needs no
    ``fit`` (``fit`` only records ``n_features_in_`` and feature names, so the
    scaler works inside a :class:`~sklearn.pipeline.Pipeline`). Sparse input
    stays sparse. The output is always float32, whatever the input dtype.

    Values below 0 or above 255 raise ``ValueError``: they are not raw
    pixels. Data that is *already* scaled to [0, 1] lies inside 0..255 and
    cannot be told apart from very dark pixels, so scaling twice is not
    detected; pass raw pixels (as returned by
    :func:`skdigits.datasets.load_mnist_csv`).

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sklearn.preprocessing.MinMaxScaler : Learns the range from the data instead.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits.preprocessing import PixelScaler
    >>> X = np.array([[0, 128, 255], [255, 0, 0]], dtype=np.uint8)
    >>> PixelScaler().transform(X).round(3)
    array([[0.   , 0.502, 1.   ],
           [1.   , 0.   , 0.   ]], dtype=float32)
    """

    def fit(self, X, y=None):
        """Check ``X`` and record its number of features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Raw pixel values in 0..255.

        y : None
            Ignored.

        Returns
        -------
        self : object
            The scaler.
        """
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"])
        _check_pixel_range(X)
        return self

    def transform(self, X):
        """Divide ``X`` by 255.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Raw pixel values in 0..255.

        Returns
        -------
        X_scaled : {ndarray, sparse matrix} of shape (n_samples, n_features)
            float32 values in [0, 1]; sparse when ``X`` is sparse.
        """
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc", "coo"],
            dtype=np.float32,
            reset=False,
        )
        _check_pixel_range(X)
        if sp.issparse(X):
            X = X.copy()
            X.data /= np.float32(PIXEL_MAX)
            return X
        return X / np.float32(PIXEL_MAX)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _check_pixel_range(X):
    """Raise ValueError unless every value of ``X`` lies in 0..255."""
    values = X.data if sp.issparse(X) else X
    if values.size == 0:
        return
    low, high = values.min(), values.max()
    if low < 0:
        raise ValueError(
            f"Negative values in data passed to PixelScaler (min {low:g}): it "
            "expects raw pixel values in 0..255, such as the MNIST CSV columns."
        )
    if high > PIXEL_MAX:
        raise ValueError(
            f"Values above 255 in data passed to PixelScaler (max {high:g}): it "
            "expects raw pixel values in 0..255, such as the MNIST CSV columns."
        )


def image_to_mnist(image):
    """Turn a picture of one handwritten digit into 784 MNIST-style pixels.

    A photo is first turned upright by its EXIF orientation tag (phones store
    most photos sideways with such a tag), and a photo larger than 1024 pixels
    on a side is shrunk to 1024 (a JPEG while it is decoded), so a large photo
    costs little memory.

    Then it follows the recipe MNIST was made with: the ink is made bright on
    a black background, cropped to its bounding box, resized (keeping its
    aspect ratio) so that the longer side is 20 pixels, and pasted into a
    28x28 image so that its centre of mass lies on pixel (14, 14).

    The background is a plane fitted to the image's border (so an even change
    of light across a photo is taken out); the ink is dark on light (and the
    image is inverted) when the darkest part of the image is further below the
    background than the brightest part is above it. Ink blobs smaller
    than 5 % of the largest one (dust, specks) do not widen the crop. Strokes
    much thinner than MNIST's (a fine pen on a large photo) are widened to
    MNIST's typical width, about 1/8 of the digit's height. The picture should
    show one digit on a plain, evenly lit background.

    Parameters
    ----------
    image : str, path-like, binary file object, PIL.Image.Image or array-like
        A file Pillow can read (PNG, JPEG, ...), by its path or opened in
        binary mode, an opened Pillow image, or a 2-D array of gray levels
        (0..255; a float array whose values all lie in [0, 1] is read as
        0..1). An RGB(A) array of shape (height, width, 3 or 4) is also
        accepted. Transparent pixels count as white.

    Returns
    -------
    pixels : ndarray of shape (784,), dtype uint8
        The digit, row by row, bright ink on black, the brightest pixel 255.

    Raises
    ------
    UnreadableImageError
        If the file is missing, not an image, damaged or too large for Pillow
        (a ``ValueError``; its message names the file).
    ValueError
        If the image shows no ink, or an array is not an image.
    ImportError
        If Pillow is not installed (``pip install skdigits[images]``).

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits.preprocessing import image_to_mnist
    >>> page = np.full((300, 200), 255, dtype=np.uint8)  # white paper
    >>> page[40:260, 90:120] = 0  # a thick black "1"
    >>> pixels = image_to_mnist(page)
    >>> pixels.shape, pixels.dtype, int(pixels.max())
    ((784,), dtype('uint8'), 255)
    >>> rows = np.flatnonzero(pixels.reshape(28, 28).any(axis=1))
    >>> int(rows.min()), int(rows.max())
    (4, 23)
    """
    Image = _import_pillow()
    name = _image_name(image)
    gray, _ = _load_gray(image, name, Image)
    ink = _bright_ink(gray, name)
    return _normalise(ink[_ink_box(ink)], Image)


def _normalise(crop, Image):
    """MNIST's normalisation of one digit's ink crop (bright on 0, in [0, 1]).

    Thin strokes widened, the longer side scaled to 20 pixels, pasted into
    28x28 by its centre of mass; 784 uint8 pixels. ``image_to_mnist`` and the
    reader (:func:`skdigits.read_digits`) both end here.
    """
    return _centre_by_mass(_fit_box(_thicken(crop), Image))


class DigitPrediction(NamedTuple):
    """What :func:`predict_digit` read in an image."""

    #: The predicted class, ``model.classes_[argmax(probabilities)]``.
    label: object
    #: ``model.predict_proba`` of the image, in the order of ``model.classes_``.
    probabilities: np.ndarray
    #: The 784 pixels the model saw (:func:`image_to_mnist`), uint8.
    pixels: np.ndarray


def predict_digit(model, image):
    """Read the digit in ``image`` with ``model``: the one path from photo to digit.

    ``skdigits predict-image`` and the page of ``skdigits serve`` both call
    this, so they cannot disagree: :func:`image_to_mnist`, then
    ``model.predict_proba`` on its 784 pixels, then the most probable class.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_`` that takes
        raw 0-255 pixels, such as the pipelines ``skdigits train`` saves.

    image : str, path-like, PIL.Image.Image or array-like
        Anything :func:`image_to_mnist` takes.

    Returns
    -------
    prediction : DigitPrediction
        ``(label, probabilities, pixels)``.

    Raises
    ------
    ValueError
        If the image cannot be read or shows no ink (from :func:`image_to_mnist`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skdigits.preprocessing import predict_digit
    >>> model = DummyClassifier().fit(np.zeros((2, 784)), [1, 1])
    >>> page = np.full((300, 200), 255, dtype=np.uint8)
    >>> page[40:260, 90:120] = 0
    >>> int(predict_digit(model, page).label)
    1
    """
    pixels = image_to_mnist(image)
    probabilities = model.predict_proba(pixels.reshape(1, -1))[0]
    label = model.classes_[int(np.argmax(probabilities))]
    return DigitPrediction(label, probabilities, pixels)


def _import_pillow():
    try:
        from PIL import Image
    except ImportError as err:
        raise ImportError(
            "image_to_mnist needs Pillow to read and resize images: "
            "pip install skdigits[images]"
        ) from err
    return Image


def _image_name(image):
    """What error messages call the image: its file name when there is one."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    attribute = "name" if hasattr(image, "read") else "filename"  # a file's, PIL's
    filename = getattr(image, attribute, "")
    if isinstance(filename, (str, os.PathLike)) and os.fspath(filename):
        return os.fspath(filename)
    if hasattr(image, "getbands"):
        return "<image>"
    return "<file>" if hasattr(image, "read") else "<array>"


def _load_gray(image, name, Image):
    """The one loading path of every entry point (this module and the reader).

    The image is turned upright by its EXIF orientation tag before anything
    else, and shrunk to at most MAX_WORKING_SIDE on a side by Pillow, in its
    own 8-bit mode, before any float copy is made (a JPEG file is decoded at
    a reduced scale, ``Image.draft``), so a 4096x4096 photo costs little more
    memory than its decoded pixels.

    Parameters
    ----------
    image : str, path-like, binary file object, PIL.Image.Image or array-like
        What :func:`image_to_mnist` takes.
    name : str
        What error messages call it (:func:`_image_name`).
    Image : module
        ``PIL.Image``.

    Returns
    -------
    gray : ndarray of shape (h, w), dtype float64
        Gray levels in 0..255 at working size.
    shape : tuple of int
        The upright image's own ``(height, width)``, in whose pixels the
        reader gives its boxes.
    """
    if isinstance(image, (str, os.PathLike)) or hasattr(image, "read"):
        return _open_image(image, name, Image)
    if isinstance(image, Image.Image):
        return _pil_to_gray(image, name, Image)
    return _array_to_gray(image, name, Image)


def _open_image(file, name, Image):
    """Decode a file (path or binary file object): upright, shrunk, gray."""
    try:
        image = Image.open(file)
    except FileNotFoundError:
        raise UnreadableImageError(f"{name}: no such file") from None
    except Exception as err:  # Pillow raises many types for a bad file
        raise _unreadable(name, err, Image) from None
    with image:
        try:
            shape = _decode(image, Image)
        except Exception as err:  # SyntaxError, OSError, EOFError, ...
            raise _unreadable(name, err, Image) from None
        return _gray_levels(image, Image), shape


def _decode(image, Image):
    """Decode an image this module opened, upright; its upright full (h, w).

    A JPEG larger than needed is decoded at the smallest scale (1/2, 1/4 or
    1/8) that keeps MAX_WORKING_SIDE, in gray; the EXIF orientation is then
    applied in place (the image is ours, so no copy is made).
    """
    from PIL import ImageOps

    width, height = image.size
    working = _working_size(image.size)
    if working != image.size:
        image.draft("L", working)  # only JPEG decoders do anything with it
    image.load()
    turned = _orientation(image) in (5, 6, 7, 8)  # a quarter turn
    ImageOps.exif_transpose(image, in_place=True)
    return (width, height) if turned else (height, width)


def _pil_to_gray(image, name, Image):
    """Gray levels (working size) and upright (h, w) of a caller's PIL image.

    The caller's image is left as it is: it is turned upright on a copy, and
    only when its EXIF tag says so.
    """
    from PIL import ImageOps

    try:
        image.load()
        if _orientation(image) != 1:
            image = ImageOps.exif_transpose(image)
    except Exception as err:  # a lazily opened, damaged file
        raise _unreadable(name, err, Image) from None
    return _gray_levels(image, Image), image.size[::-1]


def _orientation(image):
    """The image's EXIF orientation tag (1 = upright when it has none)."""
    from PIL import ExifTags

    return image.getexif().get(ExifTags.Base.Orientation, 1)


def _gray_levels(image, Image):
    """Gray levels 0..255 of a decoded PIL image, shrunk in Pillow first.

    Transparent pixels count as white. High-bit modes (16- and 32-bit
    integers, floats) are shrunk in Pillow's 32-bit modes, then scaled as
    :func:`_to_0_255` says.
    """
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        wide = image if image.mode in ("I", "F") else image.convert("I")
        array = np.asarray(_shrink_image(wide, Image))
        return _to_0_255(array.astype(np.float64), array.dtype)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        gray = _on_white(image, Image)
    else:
        gray = image if image.mode == "L" else image.convert("L")
    return np.asarray(_shrink_image(gray, Image), dtype=np.float64)


def _on_white(image, Image):
    """An image with transparency as 8-bit gray laid on white paper.

    Done in "L" (one byte a pixel) rather than with ``alpha_composite`` on two
    RGBA copies: gray is linear in the colours, so laying the gray on white
    with the alpha as mask is the same picture, at a third of the memory.
    """
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    paper = Image.new("L", rgba.size, PIXEL_MAX)
    paper.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
    return paper


def _working_size(size):
    """``(width, height)`` shrunk so the longer side is at most MAX_WORKING_SIDE."""
    scale = MAX_WORKING_SIDE / max(size)
    if scale >= 1:
        return tuple(size)
    return tuple(max(1, round(side * scale)) for side in size)


def _shrink_image(image, Image):
    """A PIL image shrunk to :func:`_working_size` (box filter), or itself."""
    size = _working_size(image.size)
    return image if size == image.size else image.resize(size, Image.Resampling.BOX)


def _unreadable(name, err, Image):
    """The UnreadableImageError for a file Pillow cannot read, by what went wrong."""
    detail = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, Image.DecompressionBombError):
        message = (
            f"the image is too large to read ({detail}); use a smaller one, or "
            "raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
        )
    elif isinstance(err, IsADirectoryError):
        message = "it is a directory, not an image file"
    elif isinstance(err, PermissionError):
        message = f"cannot open it ({detail})"
    elif "cannot identify image file" in detail:
        message = (
            "cannot read it as an image: it is not an image file Pillow knows "
            "(PNG, JPEG, ...), or its header is damaged"
        )
    else:
        message = (
            f"cannot read it as an image: it is damaged or cut short ({detail}); "
            "save or export it again as PNG or JPEG"
        )
    return UnreadableImageError(f"{name}: {message}")


def _array_to_gray(image, name, Image):
    """Gray levels (working size) and (h, w) of an array-like image.

    A large 8-bit array goes through Pillow, which shrinks it in 8-bit; any
    other is converted to floats and then shrunk.
    """
    array = np.asarray(image)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"{name}: expected a 2-D array of gray levels, not {array.dtype}"
        )
    if array.ndim == 3 and array.shape[2] in (3, 4) or array.ndim == 2:
        if array.dtype == np.uint8 and max(array.shape[:2]) > MAX_WORKING_SIDE:
            return _pil_to_gray(Image.fromarray(array), name, Image)
    dtype, array = array.dtype, array.astype(np.float64)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = _rgb_to_gray(array)
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(
            f"{name}: expected a 2-D array of gray levels (or height x width x 3/4 "
            f"RGB(A)), got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: the image contains NaN or infinite values")
    return _shrink(_to_0_255(array, dtype), Image), array.shape


def _rgb_to_gray(array):
    """ITU-R 601 luma (as Pillow's ``convert("L")``); transparent = white."""
    gray = array[..., :3] @ np.array([0.299, 0.587, 0.114])
    if array.shape[2] == 4:
        alpha = array[..., 3] / (1.0 if array[..., 3].max() <= 1 else PIXEL_MAX)
        white = 1.0 if array[..., :3].max() <= 1 else PIXEL_MAX
        gray = gray * alpha + white * (1 - alpha)
    return gray


def _to_0_255(array, dtype):
    """Floats in [0, 1] and 16-bit levels -> 0..255; anything else unchanged."""
    if dtype.kind == "f" and array.min() >= 0 and array.max() <= 1:
        return array * PIXEL_MAX
    if dtype.kind in "ui" and dtype.itemsize > 1 and array.max() > PIXEL_MAX:
        return array * (PIXEL_MAX / 65535)
    return array


def _shrink(gray, Image):
    """Shrink a float gray array larger than MAX_WORKING_SIDE (box filter).

    The digit ends 20 px anyway. Arrays from :func:`_load_gray` are already
    at working size, so this leaves them as they are.
    """
    size = _working_size(gray.shape[::-1])
    if size == gray.shape[::-1]:
        return gray
    small = Image.fromarray(gray.astype(np.float32)).resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64)


class _Ink(NamedTuple):
    """What :func:`_find_ink` saw: the ink (not yet scaled), its contrast, the noise."""

    ink: np.ndarray
    contrast: float
    noise: float

    @property
    def blank(self):
        return self.contrast < MIN_CONTRAST or not self.ink.any()


def _find_ink(gray):
    """Ink as bright values (>= 0) on a 0 background, the background fitted to
    the border; dark ink when the darkest part is further below the background
    than the brightest part is above it."""
    background, noise = _background(gray)
    smooth = ndimage.gaussian_filter(gray, sigma=1.0) if min(gray.shape) > 2 else gray
    dark = np.max(background - smooth)
    light = np.max(smooth - background)
    ink = background - gray if dark > light else gray - background
    return _Ink(np.clip(ink - 3 * noise, 0, None), max(dark, light), noise)


def _bright_ink(gray, name):
    """Ink as bright values in [0, 1] on a 0 background; blank -> ValueError."""
    ink, contrast, noise = _find_ink(gray)
    if contrast < MIN_CONTRAST:
        raise ValueError(
            f"{name}: no digit found: the image is blank (the ink differs from "
            f"the background by {contrast:.0f} of 255 gray levels)"
        )
    if not ink.any():
        raise ValueError(
            f"{name}: no digit found: no ink stands out of the image's noise "
            f"({noise:.0f} gray levels) over more than a pixel or two"
        )
    return ink / ink.max()


def _background(gray):
    """The paper's gray levels, a plane fitted to the image's border, and its noise.

    A plane follows the even change of light across a photo; border pixels far
    from the first fit (ink touching the border) are left out of the second.
    """
    border, design = _border_design(gray.shape)
    values = gray[border]
    keep = slice(None)
    for _ in range(2):
        kept = design[:, keep]
        # least squares through the 3x3 normal equations: the coordinates are
        # centred, so they are well conditioned; lstsq copes with a 1-pixel side
        coef = np.linalg.lstsq(kept @ kept.T, kept @ values[keep], rcond=None)[0]
        residual = np.abs(values - coef @ design)
        noise = 1.4826 * np.median(residual[keep])
        keep = residual <= 3 * noise + 1
    rows, cols = (np.arange(n) - (n - 1) / 2 for n in gray.shape)
    return coef[0] * rows[:, None] + coef[1] * cols + coef[2], noise


@functools.lru_cache(maxsize=16)
def _border_design(shape):
    """The border ring of an image of ``shape`` (a mask) and the (3, n) matrix
    of its pixels' centred row and column numbers and ones, for
    :func:`_background`; the same shapes recur (the page's drawings)."""
    ring = max(1, min(shape) // 20)
    border = np.zeros(shape, dtype=bool)
    border[:ring] = border[-ring:] = True
    border[:, :ring] = border[:, -ring:] = True
    rows, cols = np.nonzero(border)
    design = np.vstack(
        [rows - (shape[0] - 1) / 2, cols - (shape[1] - 1) / 2, np.ones(len(rows))]
    )
    border.flags.writeable = design.flags.writeable = False
    return border, design


def _ink_box(ink):
    """Slices of the bounding box of the ink, leaving out small specks."""
    labels, _ = ndimage.label(ink > INK_THRESHOLD, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.concatenate([[False], sizes >= MIN_PART * sizes.max()])
    mask = keep[labels]
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _thicken(crop):
    """Widen strokes thinner than MNIST's (a fine pen) to MNIST's width.

    The stroke width is estimated as 2 * area / perimeter of the inked pixels;
    each pixel within the missing half-width of the ink takes the value of the
    nearest ink pixel.
    """
    mask = crop > INK_THRESHOLD
    perimeter = np.count_nonzero(mask & ~ndimage.binary_erosion(mask))
    width = 2 * np.count_nonzero(mask) / max(perimeter, 1)
    side = max(crop.shape)
    if width >= MIN_STROKE_WIDTH * side:
        return crop
    radius = (STROKE_WIDTH * side - width) / 2
    padded = np.pad(crop, int(np.ceil(radius)))
    distance, (rows, cols) = ndimage.distance_transform_edt(
        padded <= INK_THRESHOLD, return_indices=True
    )
    return np.where(distance <= radius, np.maximum(padded, padded[rows, cols]), padded)


def _fit_box(crop, Image):
    """Resize so the longer side is DIGIT_BOX pixels, keeping the aspect ratio."""
    scale = DIGIT_BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    image = Image.fromarray(crop.astype(np.float32))
    digit = np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
    digit = np.clip(digit, 0, None)
    return digit / digit.max()


def _centre_by_mass(digit):
    """Paste ``digit`` into 28x28 with its centre of mass on pixel (14, 14)."""
    centre_row, centre_col = ndimage.center_of_mass(digit)
    top = round(MNIST_SIDE / 2 - centre_row)
    left = round(MNIST_SIDE / 2 - centre_col)
    canvas = np.zeros((MNIST_SIDE, MNIST_SIDE))
    rows = slice(max(top, 0), min(top + digit.shape[0], MNIST_SIDE))
    cols = slice(max(left, 0), min(left + digit.shape[1], MNIST_SIDE))
    canvas[rows, cols] = digit[
        rows.start - top : rows.stop - top, cols.start - left : cols.stop - left
    ]
    return np.round(canvas * PIXEL_MAX).astype(np.uint8).ravel()
