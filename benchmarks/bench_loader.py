"""Time and memory of load_mnist_csv against pandas.read_csv(path, dtype="uint8").

The loader must take at most twice pandas' time (it checks every cell and
returns uint8 pixels plus int64 labels) and never hold a float copy.

    python -m benchmarks.bench_loader [--path ../shared/data/mnist_train.csv.gz]

The default path is ``mnist_train.csv.gz`` in ``$SKDIGITS_DATA_DIR``, else in
``../shared/data`` from the repository root.
"""

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from skdigits.datasets import load_mnist_csv

from ._common import default_data_dir

MAX_RATIO = 2.0


def median_seconds(contenders, path, repeats):
    """Median wall time of each contender, runs interleaved so load hits both."""
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, function in contenders.items():
            start = time.perf_counter()
            function(path)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_bytes(function, path):
    """Peak memory traced by tracemalloc (NumPy buffers included) of one call."""
    tracemalloc.start()
    try:
        function(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--path", type=Path, default=default_data_dir() / "mnist_train.csv.gz"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    contenders = {
        "skdigits load_mnist_csv": load_mnist_csv,
        'pandas read_csv(dtype="uint8")': lambda p: pd.read_csv(p, dtype="uint8"),
    }
    for function in contenders.values():
        function(args.path)  # warm the page cache and imports
    seconds = median_seconds(contenders, args.path, args.repeats)
    rows = {
        name: (seconds[name], peak_bytes(function, args.path))
        for name, function in contenders.items()
    }
    print(f"{args.path} (median of {args.repeats} runs)\n")
    print(f"| {'reader':<31} | {'median s':>8} | {'peak MB':>8} |")
    print(f"|{'-' * 33}|{'-' * 10}|{'-' * 10}|")
    for name, (seconds, peak) in rows.items():
        print(f"| {name:<31} | {seconds:>8.2f} | {peak / 1e6:>8.1f} |")
    ours, theirs = (seconds for seconds, _ in rows.values())
    ratio = ours / theirs
    verdict = "ok" if ratio <= MAX_RATIO else f"TOO SLOW (limit {MAX_RATIO})"
    print(f"\ntime ratio skdigits / pandas: {ratio:.2f} ({verdict})")
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
