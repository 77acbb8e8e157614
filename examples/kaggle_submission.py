"""A submission for Kaggle's "Digit Recognizer" competition.

Kaggle gives ``train.csv`` (``label,pixel0,...,pixel783``) and ``test.csv``
(the same without ``label``) and wants ``ImageId,Label`` with ImageId counting
from 1.  ``load_mnist_csv`` reads both layouts; a file without labels gives
``y = None``.  The script fits the pipeline, reports its accuracy on a held-out
tenth of the training rows, refits on everything and writes the submission.

Run it on the bundled sample (it stands in for Kaggle's files; a few seconds)::

    python examples/kaggle_submission.py --output submission.csv

or on the competition files (a directory holding train.csv(.gz) and
test.csv(.gz))::

    python examples/kaggle_submission.py --data /path/to/digit-recognizer
"""

import argparse
import warnings
from pathlib import Path

import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist_csv, load_mnist_sample

# A fixed, small epoch budget is the plan here, not a failure to converge.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def load(data_dir, name):
    """Kaggle's ``name``.csv(.gz) in ``data_dir``; the bundled sample if None."""
    if data_dir is None:
        return load_mnist_sample("train" if name == "train" else "test")
    for file in (f"{name}.csv.gz", f"{name}.csv"):
        if (Path(data_dir) / file).exists():
            return load_mnist_csv(Path(data_dir) / file)
    raise SystemExit(f"no {name}.csv(.gz) in {data_dir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", metavar="DIR", help="Kaggle's digit-recognizer files")
    parser.add_argument("--output", default="submission.csv", help="%(default)s")
    args = parser.parse_args()
    X, y = load(args.data, "train")
    X_test, _ = load(args.data, "test")  # labels, if any, are not used

    model = make_pipeline(
        PixelScaler(),
        NumpyMLPClassifier(hidden_layer_sizes=(128,), max_iter=8, random_state=0),
    )
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.1, stratify=y, random_state=0
    )
    accuracy = clone(model).fit(X_fit, y_fit).score(X_val, y_val)
    print(f"held-out accuracy: {accuracy:.4f} (expect about this on Kaggle)")

    model.fit(X, y)
    submission = pd.DataFrame(
        {"ImageId": range(1, len(X_test) + 1), "Label": model.predict(X_test)}
    )
    submission.to_csv(args.output, index=False)
    print(f"wrote {len(submission)} rows to {args.output}")


if __name__ == "__main__":
    main()
