"""Fit the bundled model's digit detector: skdigits/data/mnist_default_detector.npz.

The reader (``skdigits.read_digits``) says that a glyph is not a digit when
its score is below a threshold. For the bundled model the score is a small
network (one ReLU layer of HIDDEN units) on the network's hidden layers,
log-probabilities and energy (``skdigits._scores.fit_detector``; chosen over
a logistic regression and over networks that also see the pixels on the tune
set, see bench_reading), fitted here on the ``fit`` set of
``benchmarks._reading_sets`` (MNIST *training* digits as the reader sees
them, plus raw MNIST training digits, against letters, symbols, shapes,
scribbles, strokes, cut and overlapped digits and textures). Its threshold
is the score that keeps KEEP of the digits of the ``tune`` set (MNIST test
rows 0-4999); the ``report`` set is never looked at. The file records the
SHA-256 of the weights it was fitted for: a rebuilt model needs a new
detector (``make_bundled_model`` runs this script after it).

    python -m benchmarks.make_digit_detector --data ../shared/data
    python -m benchmarks.make_digit_detector --model my_model.skops  # your own
    python -m benchmarks.make_digit_detector --compare  # the detectors compared
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from skdigits import load_bundled_model, load_model
from skdigits._atomic import atomic_output
from skdigits._scores import (
    BUNDLED_DETECTOR,
    MaxProbaScorer,
    fit_detector,
    model_fingerprint,
)
from skdigits.datasets import load_mnist_csv

from ._common import REPO_ROOT, add_data_argument, log, markdown_table
from ._reading_sets import build_split, image_scores, read_all

#: The share of the tune set's digits the threshold keeps (the target is 97 %
#: on the report set; a little more on tune leaves room for the difference).
KEEP = 0.975
#: Raw MNIST training rows added to the digits (rows the fit set does not draw
#: first), and the sizes of the fit set.
RAW_ROWS = slice(30000, 36000)
N_FIT_DIGITS, N_FIT_NON_DIGITS = 3000, 8000
#: The detector's hidden units and L2 penalty. On tune (digits kept 97.5 %),
#: non-digits refused / ROC AUC (``--compare``): logistic regression 75.1 % /
#: 0.9626; this 80.2 % / 0.9675; the same on the pixels and features 77.2 % /
#: 0.9667; on the pixels alone (64 units) 68.2 % / 0.9455. Also tried: 64
#: units 74.2 %, 256 units 76.8 %, alpha 0.001 80.7 % / 0.9665 and 0.03
#: 76.8 %; seeds 1 and 2 of this one 73.7 % and 76.1 % (seed 0 is kept).
HIDDEN, ALPHA = 128, 0.01


def fit_examples(model, X_train, y_train):
    """The detector's digits and non-digits, as the reader normalises them."""
    fit = build_split("fit", X_train, y_train, N_FIT_DIGITS, N_FIT_NON_DIGITS, 0)
    scorer = MaxProbaScorer(model)
    digits = read_all(fit.digits, scorer)
    non_digits = read_all(fit.non_digits, scorer)
    X_digits = np.vstack([g for g in digits if len(g) == 1] + [X_train[RAW_ROWS]])
    return X_digits, np.vstack([g for g in non_digits if len(g)])


def tune_threshold(detector, X_test, y_test):
    """The score that keeps KEEP of the tune set's digits."""
    tune = build_split("tune", X_test, y_test, 1000, 0, 0)
    glyphs = read_all(tune.digits, detector)
    return float(np.quantile(image_scores(glyphs, detector), 1 - KEEP))


# --- the detectors compared (--compare) -----------------------------------------


def compare(model, X_digits, X_non_digits, X_test, y_test):
    """A Markdown table: each candidate detector fitted on the fit set, scored
    on the tune set at the threshold that keeps KEEP of its digits."""
    from sklearn.metrics import roc_auc_score

    tune = build_split("tune", X_test, y_test, 1000, 1000, 0)
    base = MaxProbaScorer(model)
    digits, non_digits = read_all(tune.digits, base), read_all(tune.non_digits, base)
    rows = []
    for name, score_of in candidates(model, X_digits, X_non_digits).items():
        scorer = _Scores(score_of)
        d, n = image_scores(digits, scorer), image_scores(non_digits, scorer)
        threshold = np.quantile(d, 1 - KEEP)
        values = np.where(np.isfinite(np.r_[d, n]), np.r_[d, n], -1e300)
        auc = roc_auc_score(np.r_[np.ones(len(d)), np.zeros(len(n))], values)
        rows.append([name, f"{auc:.4f}", f"{np.mean(d >= threshold):.1%}"])
        rows[-1].append(f"{np.mean(n < threshold):.1%}")
    header = ["detector", "ROC AUC", "digits kept", "non-digits refused"]
    return markdown_table(header, rows)


class _Scores:
    """A score function read as a scorer (``evaluate``) by ``image_scores``."""

    def __init__(self, score_of):
        self.score_of = score_of

    def evaluate(self, X):
        return None, self.score_of(X)


def candidates(model, X_digits, X_non_digits):
    """Name -> score function of every detector compared, fitted here."""
    linear = fit_detector(model, X_digits, X_non_digits)
    chosen = fit_detector(model, X_digits, X_non_digits, hidden=HIDDEN, alpha=ALPHA)
    out = {
        "logistic regression on the features": lambda X: linear.evaluate(X)[1],
        f"network ({HIDDEN} units) on the features (shipped)": lambda X: (
            chosen.evaluate(X)[1]
        ),
    }
    for name, units, features in (
        (f"network ({HIDDEN} units) on the pixels and the features", HIDDEN, True),
        ("network (64 units) on the pixels", 64, False),
    ):
        out[name] = pixel_network(linear, X_digits, X_non_digits, units, features)
    return out


def pixel_network(linear, X_digits, X_non_digits, units, features):
    """A digit detector that sees the glyph's 784 pixels (scaled to [0, 1]),
    and the standardised features of ``linear`` too when ``features``."""
    import warnings

    from skdigits import NumpyMLPClassifier
    from skdigits._scores import network_features

    def inputs(X):
        pixels = np.asarray(X, float) / 255
        if not features:
            return pixels
        scaled = (network_features(linear.model, X) - linear.mean) / linear.scale
        return np.hstack([pixels, scaled])

    clf = NumpyMLPClassifier(
        hidden_layer_sizes=(units,),
        alpha=ALPHA,
        max_iter=40,
        early_stopping=True,
        class_weight="balanced",
        random_state=0,
    )
    y = np.r_[np.ones(len(X_digits), int), np.zeros(len(X_non_digits), int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(inputs(np.vstack([X_digits, X_non_digits])), y)

    def score(X):
        p = np.clip(clf.predict_proba(inputs(X))[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    return score


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument(
        "--model",
        type=Path,
        help="a model of your own (skdigits train): its detector is written "
        "beside it as MODEL_detector.npz (default: the bundled model)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "skdigits" / "data",
        metavar="DIR",
        help="where the bundled model's detector is written",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="print the detectors compared on the tune set (a logistic "
        "regression, networks on the pixels) instead of writing one",
    )
    args = parser.parse_args(argv)
    X_train, y_train = load_mnist_csv(args.data / "mnist_train.csv.gz")
    X_test, y_test = load_mnist_csv(args.data / "mnist_test.csv.gz")
    model = load_bundled_model() if args.model is None else load_model(args.model)
    log("reading the fit set ...")
    X_digits, X_non_digits = fit_examples(model, X_train, y_train)
    log(f"fitting on {len(X_digits)} digits and {len(X_non_digits)} non-digits")
    if args.compare:
        print(compare(model, X_digits, X_non_digits, X_test, y_test))
        return 0
    detector = fit_detector(model, X_digits, X_non_digits, hidden=HIDDEN, alpha=ALPHA)
    detector.threshold = tune_threshold(detector, X_test, y_test)
    path = args.out / BUNDLED_DETECTOR
    if args.model is not None:
        path = args.model.with_name(args.model.stem + "_detector.npz")
    with atomic_output(path, binary=True) as file:
        np.savez(
            file,
            model_fingerprint=np.array(model_fingerprint(model)),
            **detector.arrays(),
        )
    print(
        f"wrote {path}: {sum(a.size for a in detector.arrays().values())} "
        "numbers, threshold "
        f"{detector.threshold:.4f} (keeps {KEEP:.1%} of the tune digits)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
