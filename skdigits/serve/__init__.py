"""``skdigits serve``: a local page that reads the number you draw, and its JSON API.

The server is :class:`DigitServer` (``_server``: ``http.server``, a thread per
connection, no dependency beyond Pillow), with the images read and classified
(``_predict``: bytes in, answer out) in worker processes (``_workers``,
``--workers``, one per core by default) so that concurrent requests use every
core; the page is ``static/index.html`` with its script and style beside it,
package data served from memory, with no CDN, font or build step.
:func:`serve` runs it until Ctrl-C.

API:

- ``GET /`` - the page.
- ``POST /api/predict`` - body: the bytes of a PNG or JPEG image, read by
  :func:`skdigits.read_digits` as ``skdigits predict-image`` reads it.
  Answers ``{"text": "42", "digits": [{"label": 4, "probability": 0.998,
  "box": [x0, y0, x1, y1], "score": 3.1, "probabilities": [...], "image28":
  [[...], ...]}, ...], "digit": null, "probabilities": null, "image28": null,
  "classes": [0, ..., 9]}``: the number read (``""`` when no digit, with no
  ``digits``), and each glyph found, left to right (``label`` null when it is
  not a digit), with its box in the image's pixels, its "no digit" score (a
  digit when at least the reader's threshold), its ten probabilities and the
  28x28 pixels (0-255) the model saw. When exactly one digit is read, ``digit``,
  ``probabilities`` and ``image28`` are that digit's, as they were before the
  reader read numbers; otherwise they are null.
- ``GET /api/health`` - ``{"status": "ok", ...}``.

Bad input gets a 4xx status and ``{"error": "..."}``: 400 for an empty body,
bytes that are not a PNG/JPEG image, or a damaged image (an image without a
digit is an answer, ``"text": ""``); 413 for a body over 5 MB or an image
over 4096x4096 pixels (refused before it is decoded). A refused request's
connection is closed after the answer; its body, if not too large, is read
and dropped first, so that a client that sends the whole body before reading
still reads the refusal.

Hostile clients are bounded (``_limits``): 400 for a ``Content-Length`` that
is not one plausible number; 403 for a ``Host`` header naming another host
than this one (DNS rebinding; ``--allow-host NAME`` adds a name) or a POST
whose ``Origin`` is another site's page; 408 for a request not sent whole
within :data:`REQUEST_TIMEOUT` seconds; at most :data:`MAX_CONNECTIONS`
connections, the longest-idle one closed to make room and a 503 when all are
being answered; 503 for a model that does not answer within
:data:`WORKER_TIMEOUT` seconds.

>>> from sklearn.dummy import DummyClassifier
>>> import numpy as np
>>> model = DummyClassifier().fit(np.zeros((2, 784)), [3, 3])
>>> server = DigitServer(model, port=0)
>>> server.url.startswith("http://127.0.0.1:")
True
>>> server.server_close()
"""

from skdigits.serve._limits import MAX_CONNECTIONS, REQUEST_TIMEOUT
from skdigits.serve._predict import MAX_PIXELS, require_pillow
from skdigits.serve._server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_BODY_BYTES,
    WORKER_TIMEOUT,
    DigitServer,
    is_loopback,
    serve,
)
from skdigits.serve._workers import MAX_DEFAULT_WORKERS, default_workers

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "MAX_DEFAULT_WORKERS",
    "MAX_PIXELS",
    "REQUEST_TIMEOUT",
    "WORKER_TIMEOUT",
    "DigitServer",
    "is_loopback",
    "require_pillow",
    "default_workers",
    "serve",
]
