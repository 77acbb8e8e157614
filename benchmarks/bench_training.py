"""Training benchmark: sklearn's MLPClassifier vs PyTorch vs NumpyMLPClassifier.

All three train the same network on the full MNIST CSVs: 784-256-128-10, relu,
Adam (learning_rate_init=1e-3, betas 0.9/0.999, eps 1e-8), batch_size=128,
L2 alpha=1e-4, float32 input in [0, 1], shuffled every epoch, no early stopping,
``--epochs`` epochs (3). Repeats are interleaved (sklearn, torch, ours, sklearn,
...) and medians reported. The result is one Markdown table on stdout; progress
goes to stderr.

Usage::

    python benchmarks/bench_training.py                 # full run (~3 min, 2 cores)
    python benchmarks/bench_training.py --quick         # smoke test
    python benchmarks/bench_training.py --only ours sklearn --skip-memory
    python benchmarks/bench_training.py --profile       # cProfile of one fit of ours

PyTorch is optional (never a skdigits dependency); without it its row is skipped.
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    MallocPeak,
    add_data_argument,
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

HIDDEN = (256, 128)
SETTINGS = dict(
    hidden_layer_sizes=HIDDEN,
    activation="relu",
    solver="adam",
    learning_rate_init=1e-3,
    batch_size=128,
    alpha=1e-4,
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


def blas_threads():
    """Number of threads numpy's BLAS uses (torch gets the same number)."""
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return max(counts, default=os.cpu_count() or 1)


# --------------------------------------------------------------------------
# Frameworks: each has fit(X, y, epochs, seed) -> model and predict_proba.
# --------------------------------------------------------------------------


class SklearnMLP:
    """scikit-learn's MLPClassifier with the benchmark settings."""

    name = "sklearn"
    label = "sklearn MLPClassifier"
    parallel = True

    def estimator_class(self):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier

    def unavailable_reason(self):
        return None

    def estimator(self, epochs, seed, **overrides):
        params = dict(
            SETTINGS,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=10**6,
            shuffle=True,
            early_stopping=False,
            random_state=seed,
        )
        return self.estimator_class()(**{**params, **overrides})

    def fit(self, X, y, epochs, seed):
        from sklearn.exceptions import ConvergenceWarning

        model = self.estimator(epochs, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        if model.n_iter_ != epochs:
            log(f"  warning: {self.name} stopped after {model.n_iter_} epochs")
        return model

    def predict_proba(self, model, X):
        return model.predict_proba(X)

    def warm_up(self, X, y):
        """Fit a tiny network once: loads code pages and thread pools only."""
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator(1, 0, hidden_layer_sizes=(8,), batch_size=16).fit(X, y)


def use_kernels(backend):
    """Make skdigits' optimizer steps ``backend`` ('numpy' or 'numba') from now on.

    Compiles them (numba) on a tiny step, so no timed fit pays for it. Returns the
    backend in force, which is 'numpy' when numba is missing.
    """
    from skdigits import _kernels, _optimizers

    os.environ["SKDIGITS_KERNELS"] = backend
    _kernels.kernels.cache_clear()
    theta = np.zeros(8, np.float32)
    _optimizers.Adam(theta).step(theta, theta.copy(), theta.copy())
    return _kernels.backend_name()


class OursMLP(SklearnMLP):
    """skdigits.NumpyMLPClassifier with the same settings and numpy optimizer steps."""

    name = "ours"
    label = "skdigits NumpyMLPClassifier (numpy steps)"
    backend = "numpy"

    def estimator_class(self):
        import skdigits

        return getattr(skdigits, "NumpyMLPClassifier", None)

    def unavailable_reason(self):
        try:
            cls = self.estimator_class()
        except Exception as exc:  # a half-written package must not stop the rest
            return f"skdigits cannot be imported ({exc})"
        if cls is None:
            return "skdigits.NumpyMLPClassifier is None"
        if use_kernels(self.backend) != self.backend:
            return f"{self.backend} kernels unavailable (pip install numba)"
        return None

    def fit(self, X, y, epochs, seed):
        use_kernels(self.backend)
        return super().fit(X, y, epochs, seed)

    def warm_up(self, X, y):
        use_kernels(self.backend)
        super().warm_up(X, y)


class OursFastMLP(OursMLP):
    """The same with the ``fast`` extra: numba optimizer steps, same results."""

    name = "ours-fast"
    label = "skdigits NumpyMLPClassifier (numba steps)"
    backend = "numba"
    parallel = False  # GridSearchCV is timed once for skdigits, with numpy steps


class TorchMLP:
    """The same network in PyTorch (CPU, float32, as many threads as numpy's BLAS).

    sklearn adds ``alpha / (2 * batch_size) * sum ||W||^2`` to each batch's mean
    loss, so the weights' gradient gets ``alpha * W / batch_size``; torch's Adam
    ``weight_decay`` adds ``weight_decay * W`` to the gradient (coupled L2, not
    AdamW), hence ``weight_decay = alpha / batch_size`` on the weights only (not
    the biases). Weights and biases are initialised like sklearn's relu layers:
    uniform in ``+-sqrt(6 / (fan_in + fan_out))``.
    """

    name = "torch"
    label = "PyTorch"
    parallel = False

    def unavailable_reason(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            return "torch is not installed"
        return None

    def _network(self, hidden, n_classes):
        import torch
        from torch import nn

        sizes = (784, *hidden, n_classes)
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            linear = nn.Linear(fan_in, fan_out)
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            with torch.no_grad():
                linear.weight.uniform_(-bound, bound)
                linear.bias.uniform_(-bound, bound)
            layers += [linear, nn.ReLU()]
        return nn.Sequential(*layers[:-1])

    def fit(self, X, y, epochs, seed, hidden=HIDDEN, batch_size=None):
        import torch

        torch.set_num_threads(blas_threads())
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = self._network(hidden, int(y.max()) + 1)
        weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
        biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
        batch_size = batch_size or SETTINGS["batch_size"]
        decay = SETTINGS["alpha"] / batch_size
        optimizer = torch.optim.Adam(
            [{"params": weights, "weight_decay": decay}, {"params": biases}],
            lr=SETTINGS["learning_rate_init"],
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        for _ in range(epochs):
            order = torch.randperm(len(X_t), generator=generator)
            for start in range(0, len(X_t), batch_size):
                batch = order[start : start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(X_t[batch]), y_t[batch]).backward()
                optimizer.step()
        return model

    def predict_proba(self, model, X):
        import torch

        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()

    def warm_up(self, X, y):
        """Fit a tiny network once: loads code pages and thread pools only."""
        self.fit(X, y, 1, 0, hidden=(8,), batch_size=16)


FRAMEWORKS = {f.name: f for f in (SklearnMLP(), TorchMLP(), OursMLP(), OursFastMLP())}
OURS = ("ours", "ours-fast")


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------


def available_frameworks(names):
    """``(frameworks, skipped)``: the FRAMEWORKS among ``names`` that can run,
    in FRAMEWORKS' order, and ``(name, reason)`` for those that cannot (logged)."""
    wanted = [FRAMEWORKS[name] for name in FRAMEWORKS if name in names]
    skipped = [(f.name, f.unavailable_reason()) for f in wanted]
    skipped = [(name, why) for name, why in skipped if why]
    for name, why in skipped:
        log(f"skipping {name}: {why}")
    return [f for f in wanted if f.name not in dict(skipped)], skipped


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
                str(Path(__file__).resolve()),
                "--measure-memory",
                framework.name,
                "--arrays",
                tmp,
                "--epochs",
                str(epochs),
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                log(f"  memory run of {framework.name} failed:\n{done.stderr}")
                continue
            results[framework.name] = json.loads(done.stdout.strip().splitlines()[-1])
            log(f"  memory {framework.name}: {results[framework.name]}")
    return results


def time_grid_search(frameworks, X, y, epochs, repeats):
    """GridSearchCV over ``GRID`` (cv=2, no refit) with n_jobs=1 and 2; return medians.

    Eight fits of half the rows each: few enough to run in seconds, enough that
    the worker pool's start-up and data transfer do not hide the parallel part.
    The refit is left out: it is one more fit that ``n_jobs`` does not touch.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    def run(framework, n_jobs, X, y, max_iter):
        search = GridSearchCV(
            framework.estimator(max_iter, seed=0),
            GRID,
            cv=2,
            n_jobs=n_jobs,
            refit=False,
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X, y)
        return time.perf_counter() - start

    frameworks = [f for f in frameworks if f.parallel]
    # set before the worker pool starts: workers keep the environment they began with
    use_kernels("numpy")
    for framework in frameworks:  # start the worker processes, import in them
        run(framework, 2, X[:500], y[:500], 1)
    times = {(f.name, n): [] for f in frameworks for n in (1, 2)}
    for repeat in range(repeats):
        for framework in frameworks:
            for n_jobs in (1, 2):
                seconds = run(framework, n_jobs, X, y, epochs)
                times[framework.name, n_jobs].append(seconds)
                log(
                    f"  repeat {repeat + 1}/{repeats} grid {framework.name:8s}"
                    f" n_jobs={n_jobs} {seconds:7.2f} s"
                )
    return {key: statistics.median(values) for key, values in times.items()}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _fmt(value, spec, missing="n/a"):
    return missing if value is None else format(value, spec)


def _row(framework, timing, sklearn, memory, grid, peak, n_train):
    """One table row; ``sklearn`` is sklearn's median s/epoch, or None."""
    seconds = statistics.median(timing["seconds"])
    ratio = _fmt(sklearn and seconds / sklearn, ".2f")
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
        _fmt(mem.get("tracemalloc_mb"), ".1f"),
        _fmt(mem.get("malloc_mb"), ".1f"),
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
            f"{f.name} " + " ".join(f"{s:.3f}" for s in timing[f.name]["seconds"])
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
        grid = time_grid_search(
            frameworks, data[0][:rows], data[1][:rows], args.epochs, args.repeats
        )
    report(args, state, frameworks, timing, memory, grid, peak, len(data[0]), skipped)
    return 0


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(run_main(main))
