"""``skdigits predict-image``: the digit in each image and its probability."""

from skdigits.cli._common import (
    CommandError,
    _load_model,
    _one_line,
    add_model_argument,
)
from skdigits.preprocessing import predict_digit

NAME = "predict-image"


def add_parser(subparsers):
    """Add ``predict-image`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(
        NAME,
        help="classify image files (needs Pillow: pip install skdigits[images])",
    )
    add_model_argument(cmd)
    cmd.add_argument("images", metavar="IMAGE", nargs="+")
    cmd.set_defaults(run=run)
    return cmd


def run(args):
    """``skdigits predict-image``: the digit in each image and its probability.

    Reads each image with :func:`skdigits.preprocessing.predict_digit`, as the
    page of ``skdigits serve`` does.
    """
    model = _load_model(args.model, proba=True)
    for path in args.images:
        try:
            prediction = predict_digit(model, path)
        except (OSError, ValueError) as exc:
            message = _one_line(exc)
            raise CommandError(
                message if str(path) in message else f"{path}: {message}"
            ) from exc
        best = prediction.probabilities.max()
        print(f"{path}: {prediction.label} (probability {best:.3f})")
