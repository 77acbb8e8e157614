"""From a request body to ``POST /api/predict``'s answer, with no HTTP in sight.

This is the work a worker process of ``skdigits serve`` runs (or the server's
own thread, with ``--workers 0``): read the image's header to check its format
and the pixel count it declares, then call :func:`skdigits.read_digits` on the
bytes, the function ``skdigits predict-image`` calls, so the page and the
command cannot disagree (both turn a photo upright by its EXIF tag, and decode
it shrunk). A bad body raises :class:`RequestError`, which the server answers
with its status and ``{"error": message}``; it pickles by value, so it crosses
from a worker process to the server intact.
"""

import io
from http import HTTPStatus

import numpy as np

from skdigits._reader import read_digits
from skdigits.preprocessing import UnreadableImageError

#: Largest image accepted, in pixels (4096 x 4096, more than a 12-megapixel
#: photo); checked on the size an image declares, before it is decoded.
MAX_PIXELS = 4096 * 4096
#: The image formats the API reads.
FORMATS = ("PNG", "JPEG")


class RequestError(Exception):
    """A bad request: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = HTTPStatus(status)
        self.headers = headers or {}

    def __reduce__(self):  # raised in a worker process, answered by the server
        return type(self), (self.status.value, str(self), self.headers)


def require_pillow():
    """Raise ImportError with the install command when Pillow is missing."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        raise ImportError(
            "skdigits serve needs Pillow to read drawings and photos: "
            'pip install "skdigits[serve]"'
        ) from None


def check_image(data):
    """Refuse a body that is not a PNG or JPEG, or too large, before decoding it.

    Only the image's header is read; decoding is left to
    :func:`~skdigits.preprocessing.image_to_mnist`, which turns the image
    upright by its EXIF tag and decodes a large JPEG at a reduced scale.

    Parameters
    ----------
    data : bytes
        A request body.

    Returns
    -------
    format : str
        ``"PNG"`` or ``"JPEG"``.

    Raises
    ------
    RequestError
        400 if ``data`` is not a PNG or JPEG image, 413 if it declares more
        than :data:`MAX_PIXELS` pixels.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            width, height = image.size
            fmt = image.format
    except Image.DecompressionBombError as err:
        raise _too_many_pixels(str(err)) from None
    except Exception:
        raise RequestError(
            400,
            "the body is not a PNG or JPEG image: send the bytes of a .png or "
            ".jpg file, as Content-Type image/png or image/jpeg",
        ) from None
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(f"it is {width}x{height} pixels")
    return fmt


def _too_many_pixels(detail):
    return RequestError(
        413,
        f"the image is too large to decode ({detail}); the limit is "
        f"{MAX_PIXELS:,} pixels (4096x4096): send a smaller image",
    )


def predict_payload(model, body):
    """The answer to ``POST /api/predict`` with ``body``: a dict, or RequestError.

    :func:`check_image`, then :func:`skdigits.read_digits` on the bytes with
    :func:`reader_for` ``model`` (what ``skdigits predict-image`` does), then
    :func:`reading_json`; a worker process runs this on its model.
    """
    fmt = check_image(body)
    try:
        reading = read_digits(io.BytesIO(body), reader_for(model))
    except UnreadableImageError as err:
        message = _one_line(err).removeprefix("<file>: ")
        raise RequestError(400, f"the {fmt} image: {message}") from None
    return reading_json(reading)


def reader_for(model):
    """What :func:`skdigits.read_digits` reads a served model's images with.

    The bundled model's "no digit" score is its digit detector, fitted on
    that model's own hidden layers, so it holds for those weights wherever
    they come from: the default model, a copy of its file named with
    ``--model``, or the same model behind the server's lock. A model that
    answers a probe of MNIST test digits exactly as the bundled model does is
    read with the bundled scorer; any other model is read with its own top
    probability (``model`` itself). The answer is kept per model object.

    Parameters
    ----------
    model : estimator
        The served classifier of the ten digits.

    Returns
    -------
    reader : estimator or scorer
        What to pass to ``read_digits`` as its ``model``.
    """
    key = id(model)
    if key not in _READERS:
        bundled = _bundled_scorer()
        same = bundled is not None and _answers_alike(model, bundled.model)
        _READERS[key] = (model, bundled if same else model)  # model kept: id stays
    return _READERS[key][1]


_READERS = {}


def _bundled_scorer():
    """The bundled model's scorer, or None without skops (or without the model)."""
    from skdigits._reader import scorer_for

    try:
        return scorer_for(None)
    except (ImportError, ValueError):
        return None


def _answers_alike(model, bundled):
    """Whether ``model`` gives the bundled model's probabilities on a probe."""
    from skdigits.datasets import load_mnist_sample

    probe = load_mnist_sample("test")[0][:16]
    try:
        mine = np.asarray(model.predict_proba(probe), dtype=np.float64)
    except Exception:  # any estimator may be served; it is just not the bundled one
        return False
    theirs = np.asarray(bundled.predict_proba(probe), dtype=np.float64)
    same_classes = list(getattr(model, "classes_", [])) == list(bundled.classes_)
    return same_classes and mine.shape == theirs.shape and np.allclose(mine, theirs)


def reading_json(reading):
    """The API's answer for a :class:`skdigits.Reading`.

    ``"text"`` and ``"digits"`` are :meth:`skdigits.Reading.to_json`'s, each
    digit with its "no digit" ``"score"`` (:attr:`skdigits.ReadDigit.score`),
    its ``"probabilities"`` (digits 0 to 9) and ``"image28"`` (the 28x28
    pixels the model saw) added. ``"digit"``, ``"probabilities"`` and
    ``"image28"`` at the top are the one digit's when exactly one digit is
    read (as before the reader read numbers), and None otherwise (no digit,
    or a number: see ``"digits"``). ``"classes"`` is always 0 to 9, the
    order of every ``"probabilities"``.
    """
    digits = [
        {
            **digit.to_json(),
            "score": float(digit.score),
            "probabilities": [float(p) for p in digit.probabilities],
            "image28": np.asarray(digit.image28).tolist(),
        }
        for digit in reading.digits
    ]
    read = [digit for digit in digits if digit["label"] is not None]
    one = read[0] if len(read) == 1 else {}
    return {
        "text": reading.text,
        "digits": digits,
        "digit": one.get("label"),
        "probabilities": one.get("probabilities"),
        "image28": one.get("image28"),
        "classes": list(range(10)),
    }


def plain(value):
    """A NumPy scalar as the Python value JSON can hold."""
    return value.item() if hasattr(value, "item") else value


def _one_line(err):
    return " ".join(str(err).split()) or type(err).__name__
