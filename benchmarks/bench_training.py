"""Training benchmark: sklearn's MLPClassifier vs PyTorch vs NumpyMLPClassifier.

All three train the same network on the full MNIST CSVs: 784-256-128-10, relu,
Adam (learning_rate_init=1e-3, betas 0.9/0.999, eps 1e-8), batch_size=128,
L2 alpha=1e-4, float32 input in [0, 1], shuffled every epoch, no early stopping,
``--epochs`` epochs (3). Repeats are interleaved (sklearn, torch, ours, sklearn,
...) and medians reported. The result is one Markdown table on stdout; progress
goes to stderr.

Usage::

    python -m benchmarks.bench_training                 # full run (~3 min, 2 cores)
    python -m benchmarks.bench_training --quick         # smoke test
    python -m benchmarks.bench_training --only ours sklearn --skip-memory
    python -m benchmarks.bench_training --profile       # cProfile of one fit of ours

from the repository root. The frameworks' adapters are in ``benchmarks._frameworks``.

PyTorch is optional (never a skdigits dependency); without it its row is skipped.
"""

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from ._common import (
    REPO_ROOT,
    MallocPeak,
    add_data_argument,
    fmt,
    fmt_list,
    load_mnist,
    log,
    machine_lines,
    markdown_table,
    peak_rss_mb,
    reset_peak_rss,
    run_main,
    run_state,
    sgemm_gflops,
)
from ._frameworks import (
    FRAMEWORKS,
    HIDDEN,
    OURS,
    GridRun,
    OursMLP,
    available_frameworks,
    time_grid_search,
)

#: multiply-accumulates per sample of one forward pass: 784*256 + 256*128 + 128*10
MACS_PER_SAMPLE = sum(a * b for a, b in zip((784, *HIDDEN), (*HIDDEN, 10)))
#: FLOPs per sample of one training step: 2 per MAC forward, 4 backward (dA, dW)
FLOPS_PER_SAMPLE = 6 * MACS_PER_SAMPLE
GRID_ROWS = 20_000
GRID = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
QUICK_ROWS = 20_000
PREDICT_REPEATS = 5
TARGETS = {"sklearn": 0.45, "torch": 0.75, "accuracy_points": 0.3, "memory_mb": 60}


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------


def time_training(frameworks, data, epochs, repeats):
    """Interleaved fits; return {name: {"seconds": [...], "accuracy": [...], ...}}."""
    X_train, y_train, X_test, y_test = data
    results = {f.name: {"seconds": [], "accuracy": []} for f in frameworks}
    for repeat in range(repeats):
        for framework in frameworks:
            gc.collect()
            start = time.perf_counter()
            model = framework.fit(X_train, y_train, epochs, seed=repeat)
            seconds = (time.perf_counter() - start) / epochs
            proba = framework.predict_proba(model, X_test)
            accuracy = float(np.mean(np.argmax(proba, axis=1) == y_test))
            log(
                f"  repeat {repeat + 1}/{repeats} {framework.name:8s}"
                f" {seconds:7.3f} s/epoch  test accuracy {100 * accuracy:.2f}%"
            )
            entry = results[framework.name]
            entry["seconds"].append(seconds)
            entry["accuracy"].append(accuracy)
            entry["model"] = model
    for framework in frameworks:
        entry = results[framework.name]
        entry["rows_per_s"] = time_predict(framework, entry.pop("model"), X_test)
    return results


def time_predict(framework, model, X):
    """predict_proba rows per second on `X` (median of PREDICT_REPEATS calls)."""
    times = []
    for _ in range(PREDICT_REPEATS):
        start = time.perf_counter()
        framework.predict_proba(model, X)
        times.append(time.perf_counter() - start)
    return len(X) / statistics.median(times)


def measure_memory_here(name, arrays_dir, data_dir, n_train, epochs):
    """Child-process side of --measure-memory: fit once, return peak MiB added."""
    framework = FRAMEWORKS[name]
    if name == "torch":
        import torch  # noqa: F401  (its import is not part of fit)
    else:
        framework.estimator_class()
    if arrays_dir is not None:
        X = np.load(Path(arrays_dir) / "X_train.npy")
        y = np.load(Path(arrays_dir) / "y_train.npy")
    else:
        X, y, _, _ = load_mnist(data_dir, n_train)
    # a tiny fit first maps the libraries' code pages and starts the thread
    # pools, so VmHWM growth below is the fit's data, not the code it runs
    framework.warm_up(X[:64], y[:64])
    gc.collect()
    can_reset = reset_peak_rss()
    rss_before = peak_rss_mb()
    tracemalloc.start()
    with MallocPeak() as malloc_peak:
        framework.fit(X, y, epochs, seed=0)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rss_added = peak_rss_mb() - rss_before if can_reset else None
    return {
        "framework": name,
        "input_mb": X.nbytes / 2**20,
        "tracemalloc_mb": None if name == "torch" else traced_peak,
        "malloc_mb": malloc_peak.added_mb,
        "vmhwm_mb": rss_added,
    }


def measure_memory(frameworks, X_train, y_train, epochs):
    """Run one fit per framework in a fresh subprocess; return {name: result}."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="skdigits-bench-") as tmp:
        np.save(Path(tmp) / "X_train.npy", X_train)
        np.save(Path(tmp) / "y_train.npy", y_train)
        for framework in frameworks:
            command = [
                sys.executable,
                "-m",
                __spec__.name,  # this module, benchmarks.bench_training
                "--measure-memory",
                framework.name,
                "--arrays",
                tmp,
                "--epochs",
                str(epochs),
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, cwd=REPO_ROOT
            )
            if done.returncode != 0:
                log(f"  memory run of {framework.name} failed:\n{done.stderr}")
                continue
            results[framework.name] = json.loads(done.stdout.strip().splitlines()[-1])
            log(f"  memory {framework.name}: {results[framework.name]}")
    return results


def time_grid(frameworks, X, y, epochs, repeats):
    """GridSearchCV over ``GRID`` (cv=2, no refit) with n_jobs=1 and 2; return medians.

    Eight fits of half the rows each: few enough to run in seconds, enough that
    the worker pool's start-up and data transfer do not hide the parallel part.
    The refit is left out: it is one more fit that ``n_jobs`` does not touch.
    Only the frameworks with ``parallel`` set are timed (sklearn and ours with
    numpy steps).
    """
    runs = [
        GridRun(f.name, n_jobs, f.estimator(epochs, seed=0))
        for f in frameworks
        if f.parallel
        for n_jobs in (1, 2)
    ]
    times = time_grid_search(runs, GRID, X, y, cv=2, refit=False, repeats=repeats)
    return {key: statistics.median(values) for key, values in times.items()}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _row(framework, timing, sklearn, memory, grid, peak, n_train):
    """One table row; ``sklearn`` is sklearn's median s/epoch, or None."""
    seconds = statistics.median(timing["seconds"])
    ratio = fmt(sklearn and seconds / sklearn, ".2f")
    accuracy = [100 * a for a in timing["accuracy"]]
    acc = f"{statistics.median(accuracy):.2f}"
    if len(accuracy) > 1:
        acc += f" ({min(accuracy):.2f}-{max(accuracy):.2f})"
    gflops = FLOPS_PER_SAMPLE * n_train / seconds / 1e9
    mem = memory or {}
    grid_cell = "n/a"
    if grid and (framework.name, 1) in grid:
        one, two = grid[framework.name, 1], grid[framework.name, 2]
        grid_cell = f"{one:.1f} / {two:.1f} ({one / two:.2f}x)"
    return [
        framework.label,
        f"{seconds:.3f}",
        ratio,
        acc,
        fmt(mem.get("tracemalloc_mb"), ".1f"),
        fmt(mem.get("malloc_mb"), ".1f"),
        f"{gflops:.1f} ({100 * gflops / peak:.0f}%)",
        f"{timing['rows_per_s']:,.0f}",
        grid_cell,
    ]


HEADER = [
    "framework",
    "s/epoch (median)",
    "÷ sklearn's",
    "test acc. % (min-max)",
    "fit peak +MB, numpy (tracemalloc)",
    "fit peak +MB, malloc (sampled)",
    "GFLOP/s (% of sgemm)",
    "predict_proba rows/s",
    "GridSearchCV s, n_jobs=1 / 2 (speed-up)",
]


def target_lines(timing, memory):
    """Check the project's performance targets for ours; return Markdown lines."""
    lines = []

    def check(text, ok):
        lines.append(f"- {text}: {'met' if ok else 'MISSED'}")

    for ours_name in (name for name in OURS if name in timing):
        ours = statistics.median(timing[ours_name]["seconds"])
        for name in ("sklearn", "torch"):
            if name in timing:
                ratio = ours / statistics.median(timing[name]["seconds"])
                check(
                    f"{ours_name} ÷ {name} s/epoch = {ratio:.2f} "
                    f"(target <= {TARGETS[name]})",
                    ratio <= TARGETS[name],
                )
        if "sklearn" in timing:
            diff = 100 * (
                statistics.median(timing[ours_name]["accuracy"])
                - statistics.median(timing["sklearn"]["accuracy"])
            )
            check(
                f"{ours_name} - sklearn test accuracy = {diff:+.2f} points (target >= "
                f"-{TARGETS['accuracy_points']})",
                diff >= -TARGETS["accuracy_points"],
            )
        mb = (memory.get(ours_name) or {}).get("tracemalloc_mb")
        if mb is not None:
            check(
                f"{ours_name} fit peak = {mb:.1f} MB over the input (target <= "
                f"{TARGETS['memory_mb']})",
                mb <= TARGETS["memory_mb"],
            )
    return lines or ["- Targets: not checked (ours was not run)."]


def report(args, state, frameworks, timing, memory, grid, peak, n_train, skipped):
    sklearn = (
        statistics.median(timing["sklearn"]["seconds"]) if "sklearn" in timing else None
    )
    rows = [
        _row(f, timing[f.name], sklearn, memory.get(f.name), grid, peak, n_train)
        for f in frameworks
    ]
    versions = []
    if "torch" in timing:
        import torch

        versions.append(
            ("torch", f"{torch.__version__} ({torch.get_num_threads()} threads)")
        )
    lines = [
        f"Training {n_train:,} MNIST rows, 784-256-128-10 relu, adam lr=1e-3, "
        f"batch 128, alpha=1e-4, float32, {args.epochs} epochs, tol=0; "
        f"median of {args.repeats} interleaved repeats; test set 10,000 rows.",
        "",
        markdown_table(HEADER, rows),
        "",
        f"- Machine's large-sgemm speed: {peak:.1f} GFLOP/s (np.dot of two "
        "2048x2048 float32, median of 7). GFLOP/s of training = 6 FLOPs per "
        f"multiply-accumulate per sample (2 forward, 4 backward) x {MACS_PER_SAMPLE:,}"
        " MACs x rows / s per epoch.",
        "- s/epoch = whole fit() wall time / epochs (includes input validation; no "
        "validation split). Fit peak memory: one fit "
        f"({args.memory_epochs} epoch(s)) in a fresh subprocess after "
        "a tiny warm-up fit, over the float32 input already in memory: tracemalloc "
        "peak (exact for numpy; torch's allocations are invisible to it) and "
        "glibc's bytes in use (mallinfo2: numpy, torch and Python) sampled every "
        "0.5 ms.",
        "- s/epoch of each repeat, in order (the machine's speed swings by up to "
        "2x for tens of seconds, so a slow repeat shows here): "
        + "; ".join(
            f"{f.name} " + fmt_list(timing[f.name]["seconds"], ".3f")
            for f in frameworks
        )
        + ".",
        *[
            f"- GridSearchCV: alpha in {GRID['alpha']}, cv=2 (8 fits), refit=False, "
            f"{min(GRID_ROWS, n_train):,} rows, same network, median wall time; worker "
            "pool warmed up."
        ][: 1 if grid else 0],
        *target_lines(timing, memory),
        *[f"- Skipped {name}: {why}." for name, why in skipped],
        *machine_lines(state, versions),
    ]
    print("\n".join(lines))


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_argument(parser)
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="interleaved repeats; the median of 5 outlasts a slow minute (default 5)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(FRAMEWORKS),
        default=list(FRAMEWORKS),
        help="frameworks to run",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_ROWS:,} training rows, 1 repeat (smoke test)",
    )
    parser.add_argument(
        "--memory-epochs",
        type=int,
        default=1,
        help="epochs of the fit whose peak memory is measured (1: buffers are "
        "allocated in the first epoch)",
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile (top 15, cumtime) of one fit of ours",
    )
    parser.add_argument(
        "--measure-memory", choices=list(FRAMEWORKS), help=argparse.SUPPRESS
    )
    parser.add_argument("--arrays", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.epochs < 1:
        parser.error("--repeats and --epochs must be at least 1")
    if args.quick:
        args.repeats = 1
    return args


def profile_ours(data, epochs):
    import cProfile
    import pstats

    X, y = data[0], data[1]
    profiler = cProfile.Profile()
    profiler.enable()
    OursMLP().fit(X, y, epochs, seed=0)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)


def run(args):
    n_train = QUICK_ROWS if args.quick else None
    if args.measure_memory:
        result = measure_memory_here(
            args.measure_memory, args.arrays, args.data, n_train, args.epochs
        )
        print(json.dumps(result))
        return 0
    state = run_state()
    log(f"loading MNIST from {args.data}")
    data = load_mnist(args.data, n_train)
    if args.profile:
        reason = OursMLP().unavailable_reason()
        if reason:
            log(f"cannot profile ours: {reason}")
            return 1
        profile_ours(data, args.epochs)
        return 0
    frameworks, skipped = available_frameworks(args.only)
    log("timing large sgemm")
    peak = sgemm_gflops()
    log("timing training (interleaved)")
    timing = time_training(frameworks, data, args.epochs, args.repeats)
    memory = {}
    if not args.skip_memory:
        log("measuring fit peak memory (one subprocess per framework)")
        memory = measure_memory(frameworks, data[0], data[1], args.memory_epochs)
    grid = None
    if not args.skip_grid and any(f.parallel for f in frameworks):
        log("timing GridSearchCV n_jobs=1 vs 2")
        rows = min(GRID_ROWS, len(data[0]))
        grid = time_grid(
            frameworks, data[0][:rows], data[1][:rows], args.epochs, args.repeats
        )
    report(args, state, frameworks, timing, memory, grid, peak, len(data[0]), skipped)
    return 0


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(run_main(main))
