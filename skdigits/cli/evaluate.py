"""``skdigits evaluate``: accuracy, classification report, confusion matrix."""

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

from skdigits.cli._common import (
    _load_model,
    add_member_argument,
    add_model_argument,
    load_data,
    member_default_help,
    warn_bundled_on_training_data,
)

NAME = "evaluate"
ROLE = "scoring"  # which CSV of a zip archive --data reads by default


def add_parser(subparsers):
    """Add ``evaluate`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(NAME, help="accuracy, report, confusion matrix")
    add_model_argument(cmd)
    cmd.add_argument(
        "--data",
        metavar="PATH",
        required=True,
        help="labelled CSV (.csv, .csv.gz, or a .zip such as Kaggle's "
        "digit-recognizer.zip)",
    )
    add_member_argument(cmd, "--data", member_default_help(ROLE))
    cmd.add_argument(
        "--plots",
        metavar="DIR",
        help="also write PNG plots here: loss curve, confusion matrix, worst "
        "mistakes and, for a model trained with an augmenter, augmented.png "
        "(digits beside augmented copies) (needs matplotlib: pip install "
        '"skdigits[plots]")',
    )
    cmd.set_defaults(run=run)
    return cmd


def _format_confusion(matrix, labels):
    width = max(5, len(str(matrix.max())) + 1)
    lines = ["true \\ predicted"]
    lines.append("      " + "".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, matrix):
        lines.append(f"{label:>5} " + "".join(f"{n:>{width}}" for n in row))
    return "\n".join(lines)


def run(args):
    """``skdigits evaluate``: accuracy, classification report, confusion matrix."""
    if args.plots is not None:
        from skdigits.cli._plots import require_matplotlib

        require_matplotlib()
    model = _load_model(args.model)
    data = load_data(args.data, "--data", ROLE, args.member, labels=NAME)
    warn_bundled_on_training_data(args.model, data)
    X, y = data.X, data.y
    y_pred = model.predict(X)
    labels = np.unique(np.concatenate([y, y_pred]))
    matrix = confusion_matrix(y, y_pred, labels=labels)
    print(
        f"accuracy: {accuracy_score(y, y_pred):.4f} "
        f"({int(np.trace(matrix))}/{len(y)} images of {data.name})\n"
    )
    # zero_division=0: a class never predicted scores 0, without a warning
    print(classification_report(y, y_pred, labels=labels, digits=4, zero_division=0))
    print(_format_confusion(matrix, labels))
    if args.plots is not None:
        from skdigits.cli._plots import write_plots

        for path in write_plots(model, X, y, args.plots):
            print(f"wrote {path}")
