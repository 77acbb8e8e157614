"""``skdigits predict``: a Kaggle submission, ``ImageId,Label``."""

from skdigits._atomic import atomic_output
from skdigits._persistence import bundled_model_path
from skdigits.cli._common import (
    _load_model,
    add_member_argument,
    add_model_argument,
    load_data,
    member_default_help,
    refuse_overwriting_inputs,
    warn_bundled_on_training_data,
)

NAME = "predict"
ROLE = "predicting"  # which CSV of a zip archive --data reads by default


def add_parser(subparsers):
    """Add ``predict`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(NAME, help="write a Kaggle submission CSV")
    add_model_argument(cmd)
    cmd.add_argument(
        "--data",
        metavar="PATH",
        required=True,
        help="CSV with or without the label column (.csv, .csv.gz, or a .zip "
        "such as Kaggle's digit-recognizer.zip)",
    )
    add_member_argument(cmd, "--data", member_default_help(ROLE))
    cmd.add_argument(
        "--output",
        metavar="PATH",
        required=True,
        help="submission file: ImageId,Label (never one of the inputs)",
    )
    cmd.set_defaults(run=run)
    return cmd


def run(args):
    """``skdigits predict``: a Kaggle submission, ``ImageId,Label``."""
    model_file = args.model or bundled_model_path()
    inputs = {"--data": args.data, "--model": model_file}
    refuse_overwriting_inputs("--output", args.output, inputs)
    model = _load_model(args.model)
    data = load_data(args.data, "--data", ROLE, args.member)
    warn_bundled_on_training_data(args.model, data)
    labels = model.predict(data.X)
    rows = [f"{i},{label}" for i, label in enumerate(labels, start=1)]
    with atomic_output(args.output) as file:
        file.write("ImageId,Label\n" + "\n".join(rows) + "\n")
    print(f"wrote {len(rows)} predictions to {args.output}")
