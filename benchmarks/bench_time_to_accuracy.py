"""Time to accuracy: training seconds until MNIST test accuracy reaches 98% and 99%.

Trains skdigits' recipes (``skdigits recipes`` lists them) and scikit-learn's
``MLPClassifier`` in one run on the full MNIST CSVs, scores the 10,000 test images
after every epoch, and prints a Markdown table: for each model, the training
seconds (scoring excluded) at which the test accuracy first reached each
threshold, the epoch that did it, and the final accuracy.

The test set is used only to *report* the curve, never to choose anything
during training (no early stopping on it).

scikit-learn's model is its best plain configuration that we know of for this
budget: 784-1024-1024 relu is too slow per epoch for it (about 15 s), so it is
the 784-512-256 network of skdigits' default recipe, Adam at lr 1e-3, batch 128,
alpha 1e-4, which is what ``MLPClassifier`` supports (no dropout, no
augmentation, no schedule for Adam). It is trained one epoch per
``partial_fit`` call (Adam's state carries over; a ``RandomState`` instance
gives a fresh shuffle every epoch).

Usage::

    python -m benchmarks.bench_time_to_accuracy                 # default, best, sklearn
    python -m benchmarks.bench_time_to_accuracy --only default sklearn --epochs 10
"""

import argparse
import sys
import time

import numpy as np

from ._common import (
    add_data_argument,
    load_mnist,
    log,
    machine_lines,
    markdown_table,
    run_main,
    run_state,
)

THRESHOLDS = (0.98, 0.99)
SKLEARN_PARAMS = dict(
    hidden_layer_sizes=(512, 256),
    solver="adam",
    learning_rate_init=1e-3,
    batch_size=128,
    alpha=1e-4,
)


class Curve:
    """Training seconds and test accuracy after every epoch."""

    def __init__(self, name, X_test, y_test):
        self.name, self.X_test, self.y_test = name, X_test, y_test
        self.seconds, self.accuracy = [], []

    def add(self, model, seconds):
        elapsed = (self.seconds[-1] if self.seconds else 0.0) + seconds
        self.seconds.append(elapsed)
        self.accuracy.append(float(model.score(self.X_test, self.y_test)))
        log(
            f"{self.name}: epoch {len(self.seconds)}, {elapsed:.0f} s, "
            f"test {100 * self.accuracy[-1]:.2f}%"
        )

    def reached(self, threshold):
        """``(seconds, epoch)`` when the accuracy first reached ``threshold``."""
        for epoch, (s, a) in enumerate(zip(self.seconds, self.accuracy), 1):
            if a >= threshold:
                return s, epoch
        return None


def run_recipe(name, data, epochs):
    from skdigits import NumpyMLPClassifier
    from skdigits._recipes import get_recipe

    X, y, X_test, y_test = data
    params = get_recipe(name) | {"random_state": 0}  # as `skdigits train --seed 0`
    if epochs:
        params["max_iter"] = epochs
    curve = Curve(f"skdigits {name}", X_test, y_test)
    model = NumpyMLPClassifier(**params)
    model.set_params(callback=lambda info: curve.add(model, info["seconds"]))
    model.fit(X, y)
    return curve, params


def run_sklearn(data, epochs):
    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = data
    curve = Curve("sklearn MLPClassifier", X_test, y_test)
    model = MLPClassifier(**SKLEARN_PARAMS, random_state=np.random.RandomState(0))
    classes = np.unique(y)
    for _ in range(epochs or 30):
        start = time.perf_counter()
        model.partial_fit(X, y, classes=classes)
        curve.add(model, time.perf_counter() - start)
    return curve, dict(SKLEARN_PARAMS, max_iter=epochs or 30)


def _cell(hit):
    return "not reached" if hit is None else f"{hit[0]:.0f} s (epoch {hit[1]})"


def _describe(params):
    keep = ("hidden_layer_sizes", "learning_rate", "max_iter", "dropout", "augment")
    # one line per table cell: an augmenter's repr may wrap
    cells = (f"{k}={' '.join(repr(params[k]).split())}" for k in keep if k in params)
    return ", ".join(cells)


def report(state, curves):
    rows = []
    for curve, params in curves:
        per_epoch = curve.seconds[-1] / len(curve.seconds)
        rows.append(
            [
                curve.name,
                _describe(params),
                str(len(curve.seconds)),
                f"{per_epoch:.2f}",
                *(_cell(curve.reached(t)) for t in THRESHOLDS),
                f"{100 * max(curve.accuracy):.2f}",
                f"{100 * curve.accuracy[-1]:.2f}",
            ]
        )
    header = ["model", "parameters", "epochs", "s/epoch"]
    header += [f"to {100 * t:.0f}%" for t in THRESHOLDS]
    header += ["best test acc. %", "final test acc. %"]
    print("\n".join(machine_lines(state)))
    print()
    print(markdown_table(header, rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_argument(parser)
    parser.add_argument(
        "--only",
        nargs="+",
        default=["default", "best", "sklearn"],
        help="recipe names and/or 'sklearn' (default: default best sklearn)",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="override every model's max_iter"
    )
    args = parser.parse_args(argv)
    state = run_state()
    X, y, X_test, y_test = load_mnist(args.data)
    data = (X, y, X_test, y_test)
    curves = [
        run_sklearn(data, args.epochs)
        if name == "sklearn"
        else run_recipe(name, data, args.epochs)
        for name in args.only
    ]
    report(state, curves)


if __name__ == "__main__":
    sys.exit(run_main(main))
