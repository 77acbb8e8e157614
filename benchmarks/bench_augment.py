"""How fast the augmenters are, and what share of a training epoch they take.

Two measurements on the full MNIST training set, scaled to float32 in [0, 1]:

1. **Images per second** of each augmenter of the best recipe on its own, of
   their chain with one composed interpolation, and of the same chain warped
   step by step: ``augmenter(X_batch, rng)`` on real batches of 128 training
   images (the classifier's call), ``--batches`` batches per repeat, median of
   ``--repeats`` repeats.
2. **The augmenter's share of the recipe's epoch**: one real epoch of
   ``NumpyMLPClassifier(**get_recipe("best"), max_iter=1)`` (784-1024-1024
   Adam, batch 128, float32, with an affine + elastic chain), fitted with the
   augmenter and without it, interleaved, ``--epoch-repeats`` times. The share
   is the time spent inside the augmenter's calls (timed around each call
   during the fit) divided by the epoch's wall time; the difference of the two
   epochs' medians is printed beside it as a check. The issue's target: at
   most 25%.

Usage::

    python -m benchmarks.bench_augment            # ~2 min on 2 cores
    python -m benchmarks.bench_augment --quick    # smoke test: 12,000 rows, 1 repeat
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np

from skdigits import NumpyMLPClassifier, get_recipe
from skdigits.augment import Chain

from ._common import (
    add_data_argument,
    fmt_list,
    load_mnist,
    log,
    machine_lines,
    markdown_table,
    run_main,
    run_state,
    share_verdict,
)

BATCH = 128
TARGET = 0.25  # the bound on augmentation's share of an epoch
SOURCE = 'skdigits._recipes.RECIPES["best"]'  # what the report names


def augmenters_of(augment):
    """Name -> augmenter: each step alone, the chain composed and step by step."""
    if not isinstance(augment, Chain):
        return {type(augment).__name__: augment}
    rows = {type(step).__name__: step for _, step in augment.steps}
    rows["chain, composed (one interpolation)"] = Chain(augment.steps, compose=True)
    rows["chain, step by step"] = Chain(augment.steps, compose=False)
    return rows


def images_per_second(augmenter, X, n_batches, repeats, seed=0):
    """Median images/s of ``augmenter(batch, rng)`` over random batches of X."""
    rng = np.random.default_rng(seed)
    batches = [
        np.ascontiguousarray(X[rng.choice(len(X), BATCH, replace=False)])
        for _ in range(n_batches)
    ]
    augmenter(batches[0], rng)  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            augmenter(batch, rng)
        rates.append(n_batches * BATCH / (time.perf_counter() - start))
    return statistics.median(rates), rates


class TimedAugmenter:
    """Wraps an augmenter, adding up the seconds spent in its calls."""

    def __init__(self, augmenter):
        self.augmenter = augmenter
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, X, rng):
        start = time.perf_counter()
        try:
            return self.augmenter(X, rng)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def one_epoch(params, X, y, augment, seed):
    """Wall time of one real epoch (the whole ``fit``) and the augmenter's seconds."""
    timed = None if augment is None else TimedAugmenter(augment)
    clf = NumpyMLPClassifier(
        **{**params, "augment": timed, "max_iter": 1, "random_state": seed}
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch has not converged
        clf.fit(X, y)
    wall = time.perf_counter() - start
    return wall, (0.0 if timed is None else timed.seconds)


def epoch_share(params, X, y, repeats):
    """Interleaved epochs with and without the augmenter; the medians."""
    augment = params["augment"]
    warm = {**params, "hidden_layer_sizes": (8,), "augment": None}
    one_epoch(warm, X[:512], y[:512], augment, 0)  # compile numba, start threads
    with_aug, without, inside = [], [], []
    for repeat in range(repeats):
        log(f"epoch repeat {repeat + 1}/{repeats}: with the augmenter")
        wall, seconds = one_epoch(params, X, y, augment, repeat)
        with_aug.append(wall)
        inside.append(seconds)
        log(f"  {wall:.2f} s ({seconds:.2f} s augmenting); without")
        without.append(one_epoch(params, X, y, None, repeat)[0])
        log(f"  {without[-1]:.2f} s")
    return with_aug, without, inside


def report(args, state, params, speeds, epochs):
    with_aug, without, inside = epochs
    t_with, t_without = statistics.median(with_aug), statistics.median(without)
    t_inside = statistics.median(inside)
    share = t_inside / t_with
    print("# Augmentation speed and its share of the best recipe's epoch\n")
    print(*machine_lines(state), sep="\n")
    print(f"- Data: {len(args.X):,} MNIST training rows, float32 in [0, 1]")
    augment = " ".join(repr(params["augment"]).split())
    print(f"- Recipe: {SOURCE}; augment = `{augment}`")
    print()
    rows = [
        [
            name,
            f"{rate:,.0f}",
            f"{1e3 * BATCH / rate:.2f}",
            fmt_list(rates, ",.0f", " / "),
        ]
        for name, (rate, rates) in speeds.items()
    ]
    header = ["augmenter", "images/s (median)", f"ms per batch of {BATCH}", "repeats"]
    print(markdown_table(header, rows))
    print()
    rows = [
        ["epoch with the augmenter", f"{t_with:.2f}", fmt_list(with_aug, ".2f", " / ")],
        ["epoch without it", f"{t_without:.2f}", fmt_list(without, ".2f", " / ")],
        [
            "inside the augmenter's calls",
            f"{t_inside:.2f}",
            fmt_list(inside, ".2f", " / "),
        ],
    ]
    print(markdown_table(["one epoch of the recipe", "s (median)", "repeats"], rows))
    print()
    difference = (t_with - t_without) / t_with
    print(share_verdict("Augmentation", "its calls", share, difference, TARGET, ".1%"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_argument(parser)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epoch-repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.repeats, args.epoch_repeats = 20, 1, 1
    state = run_state()
    log(f"loading MNIST from {args.data}")
    X, y, _, _ = load_mnist(args.data, n_train=12_000 if args.quick else None)
    args.X = X
    params = get_recipe("best")
    speeds = {}
    for name, augmenter in augmenters_of(params["augment"]).items():
        log(f"timing {name}")
        speeds[name] = images_per_second(augmenter, X, args.batches, args.repeats)
    epochs = epoch_share(params, X, y, args.epoch_repeats)
    report(args, state, params, speeds, epochs)


if __name__ == "__main__":
    sys.exit(run_main(main))
