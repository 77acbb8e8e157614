"""``skdigits predict``: a Kaggle submission, ``ImageId,Label``."""

from skdigits._atomic import atomic_output
from skdigits.cli._common import (
    _load_model,
    add_model_argument,
    warn_bundled_on_kaggle,
)
from skdigits.datasets import load_mnist_csv

NAME = "predict"


def add_parser(subparsers):
    """Add ``predict`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(NAME, help="write a Kaggle submission CSV")
    add_model_argument(cmd)
    cmd.add_argument(
        "--data",
        metavar="PATH",
        required=True,
        help="CSV with or without the label column",
    )
    cmd.add_argument(
        "--output", metavar="PATH", required=True, help="submission file: ImageId,Label"
    )
    cmd.set_defaults(run=run)
    return cmd


def run(args):
    """``skdigits predict``: a Kaggle submission, ``ImageId,Label``."""
    model = _load_model(args.model)
    X, _ = load_mnist_csv(args.data)
    warn_bundled_on_kaggle(args.model, args.data)
    labels = model.predict(X)
    rows = [f"{i},{label}" for i, label in enumerate(labels, start=1)]
    with atomic_output(args.output) as file:
        file.write("ImageId,Label\n" + "\n".join(rows) + "\n")
    print(f"wrote {len(rows)} predictions to {args.output}")
