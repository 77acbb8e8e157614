"""What writing a checkpoint after every epoch costs the best recipe's training.

``NumpyMLPClassifier(checkpoint=path)`` writes the whole state of the fit
(weights, Adam's two moments, the generators' states, the curves) after every
epoch, atomically (a temporary file, fsync, rename). This times real fits of
``skdigits._recipes.RECIPES["best"]`` (784-1024-1024 Adam, batch 128, affine +
elastic augmentation, float32) on ``--rows`` rows of the full MNIST training
set, with and without a checkpoint, interleaved, ``--repeats`` times, and
prints per epoch:

* the epoch's wall time with and without the checkpoint (each fit runs
  ``--epochs`` epochs; its wall time is divided by them);
* the time inside the checkpoint writes (timed around each write during the
  fit), and inside their ``fsync`` calls (what durability against a power loss
  costs; a killed process loses nothing without it);
* once per fit, the time to fingerprint the training data.

The cost is the time inside the writes divided by the epoch's wall time
(median of the repeats; the difference of the two epochs' medians is printed
beside it as a check). The issue's target: at most 2%.

Run it on a quiet machine, with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
unset (they pin OpenBLAS's kernel, which the report names from threadpoolctl).
Usage::

    python -m benchmarks.bench_checkpoint            # ~3 min on 2 cores
    python -m benchmarks.bench_checkpoint --quick    # smoke test: 2,000 rows
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from skdigits import NumpyMLPClassifier, _atomic, _base, _checkpoint, get_recipe

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

TARGET = 0.02  # the bound on checkpointing's share of an epoch
PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class Timer:
    """Seconds and calls added up by the wrappers of :func:`timed`."""

    def __init__(self):
        self.seconds, self.calls = 0.0, 0


@contextmanager
def timed(owner, name, timer):
    """Replace ``owner.name`` by a wrapper that adds its time to ``timer``."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timer.seconds += time.perf_counter() - start
            timer.calls += 1

    setattr(owner, name, wrapper)
    try:
        yield timer
    finally:
        setattr(owner, name, original)


def one_fit(params, X, y, checkpoint, seed):
    """One fit: its wall time and the timers of the checkpoint's parts."""
    timers = {part: Timer() for part in ("write", "fsync", "fingerprint")}
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)  # a fresh fit, not a resumed one
    clf = NumpyMLPClassifier(
        **{**params, "random_state": seed, "checkpoint": checkpoint}
    )
    with (
        timed(_checkpoint.TrainingCheckpoint, "save", timers["write"]),
        timed(_atomic.os, "fsync", timers["fsync"]),
        timed(_base, "data_digest", timers["fingerprint"]),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # a few epochs of a long plan
        start = time.perf_counter()
        clf.fit(X, y)
        wall = time.perf_counter() - start
    assert timers["write"].calls == (clf.n_iter_ if checkpoint else 0)
    return wall / clf.n_iter_, timers


def measure(params, X, y, repeats, directory):
    """Interleaved fits without and with a checkpoint; per-epoch figures."""
    path = Path(directory) / "bench.ckpt"
    warm = {**params, "hidden_layer_sizes": (8,), "max_iter": 1}
    one_fit(warm, X[:512], y[:512], path, 0)  # compile numba, start threads
    rows = {"without": [], "with": [], "write": [], "fsync": [], "fingerprint": []}
    for repeat in range(repeats):
        log(f"repeat {repeat + 1}/{repeats}: without a checkpoint")
        epoch, _ = one_fit(params, X, y, None, repeat)
        rows["without"].append(epoch)
        log(f"  {epoch:.2f} s/epoch; with a checkpoint")
        epoch, timers = one_fit(params, X, y, path, repeat)
        rows["with"].append(epoch)
        for part in ("write", "fsync"):
            rows[part].append(timers[part].seconds / timers["write"].calls)
        rows["fingerprint"].append(timers["fingerprint"].seconds)
        log(f"  {epoch:.2f} s/epoch, {rows['write'][-1]:.3f} s writing")
    size = path.stat().st_size
    path.unlink()
    return rows, size


def report(args, state, params, rows, size):
    median = {name: statistics.median(values) for name, values in rows.items()}
    share = median["write"] / median["with"]
    print("# The cost of a checkpoint after every epoch of the best recipe\n")
    print(*machine_lines(state), sep="\n")
    pinned = [name for name in PINNING if name in os.environ]
    if pinned:
        print(f"- **Warning**: {', '.join(pinned)} set; unset them and run again")
    print(f"- Data: {len(args.X):,} MNIST training rows, float32 in [0, 1]")
    print(
        f"- Recipe: skdigits._recipes.RECIPES['best'], {args.epochs} epochs per fit "
        f"(max_iter={params['max_iter']}); checkpoint file {size / 2**20:.1f} MiB, "
        f"written in {args.dir.resolve()}, fsync "
        f"{'on' if _checkpoint.FSYNC else 'off'} (skdigits._checkpoint.FSYNC)"
    )
    print()
    labels = {
        "without": "epoch without a checkpoint",
        "with": "epoch with a checkpoint",
        "write": "inside the checkpoint write",
        "fsync": "of which inside fsync",
        "fingerprint": "fingerprint of the data (once per fit)",
    }
    table = [
        [label, f"{median[name]:.3f}", fmt_list(rows[name], ".3f", " / ")]
        for name, label in labels.items()
    ]
    print(markdown_table(["per epoch", "s (median)", "repeats"], table))
    print()
    difference = (median["with"] - median["without"]) / median["with"]
    fsync = f"; fsync alone {median['fsync'] / median['with']:.2%}"
    print(
        share_verdict(
            "Checkpointing", "the writes", share, difference, TARGET, ".2%", fsync
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_argument(parser)
    parser.add_argument(
        "--rows", type=int, default=60_000, help="training rows (default: all)"
    )
    parser.add_argument(
        "--epochs", type=int, default=2, help="epochs per fit (default: 2)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="fits of each kind (default: 3)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("."),
        help="directory to write the checkpoint in: the disk the fsync waits for "
        "(default: the current directory; /tmp may be memory)",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.repeats = 2_000, 1, 1
    if min(args.rows, args.epochs, args.repeats) < 1:
        raise ValueError("--rows, --epochs and --repeats must be at least 1")
    state = run_state()
    log(f"loading MNIST from {args.data}")
    X, y, _, _ = load_mnist(args.data, n_train=args.rows)
    args.X = X
    params = {**get_recipe("best"), "max_iter": args.epochs}
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        rows, size = measure(params, X, y, args.repeats, directory)
    report(args, state, params, rows, size)


if __name__ == "__main__":
    sys.exit(run_main(main))
