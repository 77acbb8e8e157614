"""From a request body to ``POST /api/predict``'s answer, with no HTTP in sight.

This is the work a worker process of ``skdigits serve`` runs (or the server's
own thread, with ``--workers 0``): open the bytes with Pillow, check the pixel
count the image declares before decoding it, then call
:func:`skdigits.preprocessing.predict_digit`, the function ``skdigits
predict-image`` calls, so the page and the command cannot disagree. A bad body
raises :class:`RequestError`, which the server answers with its status and
``{"error": message}``; it pickles by value, so it crosses from a worker
process to the server intact.
"""

import io
from http import HTTPStatus

from skdigits.preprocessing import predict_digit

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


def open_image(data):
    """Open the bytes of a PNG or JPEG image, refusing huge ones before decoding.

    Parameters
    ----------
    data : bytes
        A request body.

    Returns
    -------
    image : PIL.Image.Image
        The decoded image.

    Raises
    ------
    RequestError
        400 if ``data`` is not a complete PNG or JPEG image, 413 if it declares
        more than :data:`MAX_PIXELS` pixels.
    """
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as err:
        raise _too_many_pixels(str(err)) from None
    except Exception:
        raise RequestError(
            400,
            "the body is not a PNG or JPEG image: send the bytes of a .png or "
            ".jpg file, as Content-Type image/png or image/jpeg",
        ) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(f"it is {width}x{height} pixels")
    try:
        image.load()
    except Exception as err:
        raise RequestError(
            400,
            f"cannot decode the {image.format} image ({_one_line(err)}); "
            "send a complete, undamaged file",
        ) from None
    return image


def _too_many_pixels(detail):
    return RequestError(
        413,
        f"the image is too large to decode ({detail}); the limit is "
        f"{MAX_PIXELS:,} pixels (4096x4096): send a smaller image",
    )


def predict_payload(model, body):
    """The answer to ``POST /api/predict`` with ``body``: a dict, or RequestError.

    :func:`open_image`, then :func:`~skdigits.preprocessing.predict_digit`, then
    :func:`prediction_json`; a worker process runs this on its model.
    """
    image = open_image(body)
    try:
        prediction = predict_digit(model, image)
    except ValueError as err:
        message = _one_line(err).removeprefix("<image>: ")
        raise RequestError(
            400,
            f"{message}; draw one digit, or send a photo of one dark digit "
            "on plain light paper",
        ) from None
    return prediction_json(prediction, model.classes_)


def prediction_json(prediction, classes):
    """The API's answer for a :class:`~skdigits.preprocessing.DigitPrediction`."""
    return {
        "digit": plain(prediction.label),
        "probabilities": [float(p) for p in prediction.probabilities],
        "image28": prediction.pixels.reshape(28, 28).tolist(),
        "classes": [plain(label) for label in classes],
    }


def plain(value):
    """A NumPy scalar as the Python value JSON can hold."""
    return value.item() if hasattr(value, "item") else value


def _one_line(err):
    return " ".join(str(err).split()) or type(err).__name__
