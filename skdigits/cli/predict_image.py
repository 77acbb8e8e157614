"""``skdigits predict-image``: the digit in each image and its probability."""

from skdigits import load_bundled_model
from skdigits.cli._common import CommandError, _load_model, _one_line
from skdigits.preprocessing import predict_digit

NAME = "predict-image"


def add_parser(subparsers):
    """Add ``predict-image`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(
        NAME,
        help="classify image files (needs Pillow: pip install skdigits[images])",
    )
    cmd.add_argument(
        "--model",
        metavar="PATH",
        help="model file, .skops or .joblib (default: the bundled MNIST model, "
        "skdigits/data/mnist_default.skops)",
    )
    cmd.add_argument("images", metavar="IMAGE", nargs="+")
    cmd.set_defaults(run=run)
    return cmd


def run(args):
    """``skdigits predict-image``: the digit in each image and its probability.

    Reads each image with :func:`skdigits.preprocessing.predict_digit`, as the
    page of ``skdigits serve`` does.
    """
    model = _load_model(args.model) if args.model else load_bundled_model()
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
