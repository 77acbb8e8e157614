"""``skdigits predict-image``: the number in each image, digit by digit.

Each image is read by :func:`skdigits.read_digits`, as the page of ``skdigits
serve`` reads it. One line per image::

    one.png: 7 (probability 0.997)
    house.jpg: 42 (4: 0.998, 2: 0.973)
    smudge.png: no digit

The number after each digit is the model's probability of it; a glyph the
reader found but does not take for a digit is shown as ``not a digit`` with
the model's top probability. With ``--json``, one JSON object per image per
line: ``{"image": path, "text": "42", "digits": [{"label": 4, "probability":
0.998, "box": [x0, y0, x1, y1]}, ...]}``, ``"text": ""`` and no digits when
there is none, and ``{"image": path, "error": message}`` for a file that
cannot be read. A file that cannot be read does not stop the others; the exit
status is 2 when any could not be read.
"""

import json
import sys

from skdigits._reader import read_digits, scorer_for
from skdigits.cli._common import (
    ERROR_STATUS,
    _load_model,
    _one_line,
    add_model_argument,
)
from skdigits.serve._predict import reader_for

NAME = "predict-image"


def add_parser(subparsers):
    """Add ``predict-image`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(
        NAME,
        help="read the number in image files (needs Pillow: pip install "
        "skdigits[images])",
        description="Read the handwritten number in each image, digit by digit, "
        "with each digit's probability; 'no digit' when there is none.",
    )
    add_model_argument(cmd)
    cmd.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per image per line: "image", "text" and "digits" '
        '(each {"label", "probability", "box"}), or "error"',
    )
    cmd.add_argument("images", metavar="IMAGE", nargs="+")
    cmd.set_defaults(run=run)
    return cmd


def run(args):
    """``skdigits predict-image``: read each image; 2 if any could not be read.

    Reads each image with :func:`skdigits.read_digits`, as the page of
    ``skdigits serve`` does: the bundled model with its digit detector by
    default, a model file with :func:`skdigits.serve._predict.reader_for`.
    """
    failed = False
    reader = _reader(args.model)
    for path in args.images:
        try:
            reading = read_digits(path, reader)
        except (OSError, ValueError) as exc:
            failed = True
            _print_error(path, _error_message(path, exc), args.json)
            continue
        if args.json:
            print(json.dumps({"image": path, **reading.to_json()}), flush=True)
        else:
            print(f"{path}: {describe(reading)}", flush=True)
    return ERROR_STATUS if failed else 0


def _reader(path):
    """What to read with: as ``read_digits(image)`` reads without ``--model``
    (the bundled model and its detector, loaded once), else the model file."""
    if path is None:
        return scorer_for(None)
    return reader_for(_load_model(path, proba=True))


def describe(reading):
    """A reading in words: ``7 (probability 0.997)``, ``42 (4: 0.998, 2:
    0.973)`` or ``no digit``."""
    if not reading.text:
        return "no digit"
    if len(reading.digits) == 1:
        return f"{reading.text} (probability {reading.digits[0].probability:.3f})"
    parts = [
        f"{'not a digit' if d.label is None else d.label}: {d.probability:.3f}"
        for d in reading.digits
    ]
    return f"{reading.text} ({', '.join(parts)})"


def _error_message(path, exc):
    message = _one_line(exc)
    return message if str(path) in message else f"{path}: {message}"


def _print_error(path, message, as_json):
    if as_json:
        print(json.dumps({"image": path, "error": message}), flush=True)
    else:
        print(f"skdigits: error: {message}", file=sys.stderr, flush=True)
