"""Where an epoch of NumpyMLPClassifier goes, and what each part costs at best.

Trains the benchmark network of ``bench_training.py`` (784-256-128-10 relu, Adam
lr 1e-3, batch 128, alpha 1e-4, float32, full MNIST) with the real
``NumpyMLPClassifier.fit``, its loop's steps wrapped in timers, and sets the
measured parts beside what they would cost at this machine's limits:

* the matrix products of one epoch alone, replayed on warm buffers of the same
  shapes (the BLAS floor of any implementation that does these products);
* the Adam step with its vectors already in cache, and the bytes one fused
  pass must move (read theta, grad, m, v; write theta, m, v) at the machine's
  measured memory bandwidth;
* optionally (``--numba``, when numba is installed) the same fit with the Adam
  step as one compiled loop instead of 10 numpy passes, to see what a compiled
  kernel would buy; numba is not a skdigits dependency.

sklearn's MLPClassifier is timed in the same run, interleaved, so the parts
can be read as fractions of its epoch. Usage::

    python benchmarks/bench_phases.py              # ~2 min on 2 cores
    python benchmarks/bench_phases.py --numba      # adds the fused-kernel fit
"""

import argparse
import dataclasses
import math
import statistics
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    default_data_dir,
    load_mnist,
    machine_lines,
    markdown_table,
    run_state,
    sgemm_gflops,
)
from bench_training import FRAMEWORKS, HIDDEN, SETTINGS  # noqa: E402

from skdigits import _classifier, _losses, _network, _optimizers  # noqa: E402

UNITS = (784, *HIDDEN, 10)
BATCH = SETTINGS["batch_size"]
TARGET = 0.45  # of sklearn's s/epoch, from the speed issue


def log(message):
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Timers around the steps of the real training loop
# --------------------------------------------------------------------------


@contextmanager
def _timed(owner, name, totals, key, replacement=None):
    """Replace ``owner.name`` by a timing wrapper (of ``replacement`` if given)."""
    original = getattr(owner, name)
    inner = replacement or original

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def _timed_output(totals):
    """Time the softmax loss through the registry entry the network reads."""
    entry = _losses.OUTPUTS["softmax"]
    holder = type("Holder", (), {"f": staticmethod(entry.loss_and_proba)})
    with _timed(holder, "f", totals, "loss"):
        _losses.OUTPUTS["softmax"] = dataclasses.replace(entry, loss_and_proba=holder.f)
        try:
            yield
        finally:
            _losses.OUTPUTS["softmax"] = entry


def time_phases(X, y, epochs, seed, adam_step=None):
    """One instrumented fit of ours; return ({phase: s/epoch}, s/epoch)."""
    totals = dict.fromkeys(("gather", "forward", "loss", "backward", "grad", "step"), 0)
    estimator = FRAMEWORKS["ours"].estimator(epochs, seed)
    with ExitStack() as stack:
        stack.enter_context(_timed(_classifier._Batches, "_gather", totals, "gather"))
        stack.enter_context(_timed(_network.Network, "forward", totals, "forward"))
        stack.enter_context(_timed(_network.Network, "_backward", totals, "backward"))
        stack.enter_context(_timed(_network.Network, "loss_grad", totals, "grad"))
        stack.enter_context(_timed(_optimizers.Adam, "step", totals, "step", adam_step))
        stack.enter_context(_timed_output(totals))
        start = time.perf_counter()
        estimator.fit(X, y)
        total = time.perf_counter() - start
    # loss_grad encloses forward, loss and backward; what is left of it is the
    # output delta, the L2 norm and the L2 gradient term
    totals["grad"] -= totals["forward"] + totals["loss"] + totals["backward"]
    phases = {key: value / epochs for key, value in totals.items()}
    phases["rest"] = total / epochs - sum(phases.values())
    return phases, total / epochs


# --------------------------------------------------------------------------
# Floors
# --------------------------------------------------------------------------


def _products(rng):
    """The 8 matrix products of one training step, as (A, B, out) triples."""
    a = [rng.random((BATCH, u), dtype=np.float32) for u in UNITS]  # activations
    d = [rng.random((BATCH, u), dtype=np.float32) for u in UNITS[1:]]  # deltas
    W = [rng.random((i, o), dtype=np.float32) for i, o in zip(UNITS, UNITS[1:])]
    gW = [np.empty_like(w) for w in W]
    forward = [(a[i], W[i], a[i + 1]) for i in range(len(W))]
    weight_grads = [(a[i].T, d[i], gW[i]) for i in range(len(W))]
    input_grads = [(d[i], W[i].T, d[i - 1]) for i in range(1, len(W))]
    return forward + weight_grads + input_grads


def products_floor(steps, repeats=5):
    """Median s/epoch of the epoch's matrix products alone, warm buffers."""
    triples = _products(np.random.default_rng(0))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            for A, B, out in triples:
                np.matmul(A, B, out=out)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def adam_in_cache(n_params, steps):
    """s/epoch of ``steps`` Adam steps (plus the L2 term) on warm vectors."""
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(n_params, dtype=np.float32)
    grad = rng.standard_normal(n_params, dtype=np.float32)
    work = np.empty_like(theta)
    adam = _optimizers.Adam(theta)
    start = time.perf_counter()
    for _ in range(steps):
        _network._add_scaled(1e-6, grad, theta, work)
        adam.step(theta, grad, work)
    return time.perf_counter() - start


def memory_bandwidth(n_bytes=2**28, repeats=5):
    """Median GB/s of copying one large float32 array (bytes read + written)."""
    src = np.ones(n_bytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - start)
    return 2 * n_bytes / statistics.median(times) / 1e9


def numba_adam_step():
    """An ``Adam.step`` replacement doing the same update in one compiled loop."""
    import numba

    @numba.njit(fastmath=True)
    def fused(theta, grad, m, v, b1, b2, eps, lr):
        for i in range(theta.size):
            g = grad[i]
            m[i] = b1 * m[i] + g
            v[i] = b2 * v[i] + g * g
            theta[i] -= lr * m[i] / (math.sqrt(v[i]) + eps)

    one = np.ones(1, np.float32)
    fused(one, one, one, one, *one.repeat(4))  # compile now, not inside the fit

    def step(self, theta, grad, work):
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        root = np.sqrt(1.0 - b2)
        lr = self.learning_rate * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        eps, lr = self.epsilon / root, lr * (1.0 - b1) / root
        f32 = np.float32
        fused(theta, grad, self.m, self.v, f32(b1), f32(b2), f32(eps), f32(lr))

    return step


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

WHAT = {
    "gather": "np.take of the batch's rows of X",
    "forward": "3 products, bias adds, relu",
    "loss": "softmax cross-entropy",
    "grad": "output delta, L2 norm and L2 gradient term",
    "backward": "5 products, bias sums, relu derivative",
    "step": "Adam: 10 in-place ufunc passes over the 235,146 parameters",
    "rest": "Python loop, labels' gather, shuffling, input validation",
}


def report(args, state, phases, ours, sklearn, floors, fused):
    rows = [
        [
            name,
            WHAT[name],
            f"{seconds:.3f}",
            f"{100 * seconds / ours:.0f}%",
            f"{seconds / sklearn:.2f}",
        ]
        for name, seconds in phases.items()
    ]
    rows.append(
        [
            "total",
            "NumpyMLPClassifier.fit / epochs",
            f"{ours:.3f}",
            "100%",
            f"{ours / sklearn:.2f}",
        ]
    )
    products, peak, adam_hot, bandwidth, fused_pass = floors
    # forward, weight gradients, and input gradients of all but the first layer
    macs = sum(a * b for a, b in zip(UNITS, UNITS[1:]))
    flops_per_step = 2 * BATCH * (3 * macs - UNITS[0] * UNITS[1])
    lines = [
        f"One instrumented fit of NumpyMLPClassifier, {args.n_train:,} rows, "
        f"{args.epochs} epochs; sklearn's MLPClassifier median of {args.repeats} fits "
        f"interleaved with ours: **{sklearn:.3f} s/epoch**, so the speed target "
        f"({TARGET}x) is **{TARGET * sklearn:.3f} s/epoch**.",
        "",
        markdown_table(["part", "what", "s/epoch", "of ours", "÷ sklearn"], rows),
        "",
        f"- The epoch's 8 matrix products alone, warm buffers: **{products:.3f} "
        f"s/epoch** ({products / sklearn:.2f}x sklearn), "
        f"{flops_per_step * args.steps / products / 1e9:.0f} GFLOP/s against "
        f"{peak:.0f} for a 2048^3 sgemm.",
        f"- Adam + L2 term alone, {args.steps} steps on the same vectors: "
        f"{adam_hot:.3f} s/epoch. "
        f"One fused pass moving 7 x 4 B x {args.n_params:,} per step at the measured "
        f"{bandwidth:.1f} GB/s copy bandwidth: {fused_pass:.3f} s/epoch.",
        f"- Products + fused optimizer pass, everything else free: "
        f"{products + fused_pass:.3f} s/epoch = "
        f"{(products + fused_pass) / sklearn:.2f}x sklearn.",
    ]
    if fused is not None:
        lines.append(
            f"- Same fit with the Adam step as one numba loop: step "
            f"{fused[0]['step']:.3f} s/epoch, total {fused[1]:.3f} s/epoch "
            f"({fused[1] / sklearn:.2f}x sklearn)."
        )
    lines += machine_lines(state)
    print("\n".join(lines))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="directory with mnist_train.csv.gz and mnist_test.csv.gz",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="interleaved fits of each of sklearn and ours",
    )
    parser.add_argument(
        "--numba",
        action="store_true",
        help="also time a fit with a numba-fused Adam step",
    )
    args = parser.parse_args(argv)
    args.data = args.data or default_data_dir()
    return args


def main(argv=None):
    args = parse_args(argv)
    state = run_state()
    log(f"loading MNIST from {args.data}")
    X, y, _, _ = load_mnist(args.data)
    args.n_train, args.steps = len(X), math.ceil(len(X) / BATCH)
    args.n_params = sum(i * o + o for i, o in zip(UNITS, UNITS[1:]))
    sklearn_times, runs = [], []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        FRAMEWORKS["sklearn"].fit(X, y, args.epochs, repeat)
        sklearn_times.append((time.perf_counter() - start) / args.epochs)
        runs.append(time_phases(X, y, args.epochs, repeat))
        log(
            f"  repeat {repeat + 1}: sklearn {sklearn_times[-1]:.3f}, ours "
            f"{runs[-1][1]:.3f} s/epoch"
        )
    phases, ours = sorted(runs, key=lambda run: run[1])[len(runs) // 2]
    log("timing the floors")
    bandwidth = memory_bandwidth()
    floors = (
        products_floor(args.steps),
        sgemm_gflops(),
        adam_in_cache(args.n_params, args.steps),
        bandwidth,
        7 * 4 * args.n_params * args.steps / (bandwidth * 1e9),
    )
    fused = None
    if args.numba:
        log("timing the numba-fused step")
        fused = time_phases(X, y, args.epochs, 0, numba_adam_step())
    report(args, state, phases, ours, statistics.median(sklearn_times), floors, fused)
    return 0


if __name__ == "__main__":
    sys.exit(main())
