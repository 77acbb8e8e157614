"""How much the bundled model's score on Kaggle's digit-recognizer test set is inflated.

Kaggle's digit-recognizer files are a random split of all 70,000 MNIST images, so
about six in seven of its test images are MNIST training images, on which the
bundled model (the ``default`` recipe trained on MNIST's 60,000 training images)
was trained. Kaggle's ``test.csv`` has no labels; every one of its images is found,
pixel for pixel, among the MNIST images, whose labels then score the predictions.

This prints, on Kaggle's test images:

* the bundled model's accuracy: on all of them, on those it was trained on, and on
  those from MNIST's test set (its honest score);
* the accuracy of the model a Kaggle user gets from ``skdigits train --train
  train.csv`` (the same recipe, trained on Kaggle's 42,000 labelled images only).

Usage::

    python -m benchmarks.bench_kaggle_leakage [--data DIR]   # ~2 min on 2 cores
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from skdigits import load_bundled_model, load_model
from skdigits.cli import main as skdigits_main
from skdigits.datasets import load_mnist_csv

from ._common import (
    add_data_argument,
    fmt,
    log,
    machine_lines,
    markdown_table,
    run_main,
    run_state,
)


def mnist_labels(data_dir):
    """``{image bytes: (label, split)}`` of all 70,000 MNIST images."""
    index = {}
    for split in ("train", "test"):
        X, y = load_mnist_csv(data_dir / f"mnist_{split}.csv.gz")
        for row, label in zip(X, y):
            index.setdefault(row.tobytes(), (int(label), split))
    return index


def label_kaggle_test(X, index):
    """Labels and MNIST split of each Kaggle test image (-1 / None if unmatched)."""
    found = [index.get(row.tobytes(), (-1, None)) for row in X]
    labels = np.array([label for label, _ in found])
    splits = np.array([split for _, split in found], dtype=object)
    return labels, splits


def kaggle_trained_model(train_csv, workdir):
    """What ``skdigits train --train train.csv`` saves (the default recipe)."""
    model = Path(workdir) / "kaggle.joblib"
    status = skdigits_main(["train", "--train", str(train_csv), "--model", str(model)])
    if status != 0:
        raise RuntimeError(f"skdigits train exited with status {status}")
    return load_model(model)


def accuracy(model, X, y, rows):
    return float(np.mean(model.predict(X[rows]) == y[rows])) if rows.any() else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    args = parser.parse_args(argv)
    state = run_state()
    kaggle = args.data / "digit-recognizer"
    log("indexing the 70,000 MNIST images")
    index = mnist_labels(args.data)
    X_test, _ = load_mnist_csv(kaggle / "test.csv.gz")
    y_test, splits = label_kaggle_test(X_test, index)
    matched = y_test >= 0
    in_train, in_test = splits == "train", splits == "test"
    log("training the default recipe on Kaggle's train.csv")
    with tempfile.TemporaryDirectory() as workdir:
        own = kaggle_trained_model(kaggle / "train.csv.gz", workdir)
    bundled = load_bundled_model()
    rows = [
        ("bundled model (trained on MNIST's training images)", bundled),
        ("skdigits train --train train.csv (Kaggle's own)", own),
    ]
    table = [
        [
            name,
            *(
                fmt(accuracy(model, X_test, y_test, subset), ".2%")
                for subset in (matched, in_train, in_test)
            ),
        ]
        for name, model in rows
    ]
    print("# The bundled model on Kaggle's digit-recognizer test set\n")
    print("\n".join(machine_lines(state)))
    print(
        f"- Kaggle's test.csv: {len(X_test):,} images, {matched.sum():,} found in "
        f"MNIST ({in_train.sum():,} training images, {in_test.sum():,} test images)"
    )
    print()
    header = ["model", "all test.csv", "MNIST training images", "MNIST test images"]
    print(markdown_table(header, table))


if __name__ == "__main__":
    sys.exit(run_main(main))
