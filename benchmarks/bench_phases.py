"""Where an epoch of NumpyMLPClassifier goes, and what each part costs at best.

Trains the benchmark network of ``bench_training`` (784-256-128-10 relu, Adam
lr 1e-3, batch 128, alpha 1e-4, float32, full MNIST) with the real
``NumpyMLPClassifier.fit``, its loop's steps wrapped in timers, once per
optimizer-kernel backend available (numpy always; numba when installed, see
``skdigits._kernels``), and sets the parts beside what they would cost at this
machine's limits:

* the matrix products of one epoch alone, replayed on warm buffers of the same
  shapes (the BLAS floor of any implementation that does these products);
* the bytes one optimizer pass must move (read theta, grad, m, v; write theta,
  m, v) at the machine's measured memory bandwidth.

sklearn's MLPClassifier is timed in the same run, interleaved, so the parts
can be read as fractions of its epoch. Usage::

    python -m benchmarks.bench_phases     # ~2 min on 2 cores with numba installed
"""

import argparse
import dataclasses
import math
import statistics
import sys
import time
from contextlib import ExitStack, contextmanager

import numpy as np

from skdigits import _losses, _network, _optimizers, _training

from ._common import (
    add_data_argument,
    load_mnist,
    log,
    machine_lines,
    markdown_table,
    run_main,
    run_state,
    sgemm_gflops,
)
from ._frameworks import FRAMEWORKS, HIDDEN, SETTINGS, use_kernels

UNITS = (784, *HIDDEN, 10)
BATCH = SETTINGS["batch_size"]
TARGET = 0.45  # of sklearn's s/epoch, from the speed issue


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


def time_phases(X, y, epochs, seed, backend):
    """One instrumented fit of ours with the ``backend`` optimizer kernels.

    Returns ``({phase: s/epoch}, s/epoch)``; the kernels are compiled (numba)
    before the fit, so the fit's time holds no compilation.
    """
    use_kernels(backend)
    totals = dict.fromkeys(("gather", "forward", "loss", "backward", "grad", "step"), 0)
    estimator = FRAMEWORKS["ours"].estimator(epochs, seed)
    with ExitStack() as stack:
        stack.enter_context(_timed(_training.Batches, "_gather", totals, "gather"))
        stack.enter_context(_timed(_network.Network, "forward", totals, "forward"))
        stack.enter_context(_timed(_network.Network, "_backward", totals, "backward"))
        stack.enter_context(_timed(_network.Network, "loss_grad", totals, "grad"))
        stack.enter_context(_timed(_optimizers.Adam, "step", totals, "step"))
        stack.enter_context(_timed_output(totals))
        start = time.perf_counter()
        estimator.fit(X, y)
        total = time.perf_counter() - start
    # loss_grad encloses forward, loss and backward; what is left of it is the
    # output delta and the L2 norm (the L2 gradient term is in the step)
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


def available_backends():
    """``['numpy']``, plus ``'numba'`` when numba is installed and builds."""
    if use_kernels("numba") == "numba":
        return ["numpy", "numba"]
    log("numba kernels not timed: numba is not installed (pip install numba)")
    return ["numpy"]


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

WHAT = {
    "gather": "np.take of the batch's rows of X",
    "forward": "3 products, bias adds, relu",
    "loss": "softmax cross-entropy",
    "grad": "output delta and L2 norm",
    "backward": "5 products, bias sums, relu derivative",
    "step": "L2 gradient term and Adam step (numpy: 12 ufunc passes; numba: one loop)",
    "rest": "Python loop, labels' gather, shuffling, input validation",
}


def report(args, state, results, sklearn, floors):
    """Print the Markdown report; ``results`` maps backend -> (phases, total)."""
    header = ["part", "what"] + [f"{b}: s/epoch (÷ sklearn)" for b in results]
    rows = [
        [name, WHAT[name]]
        + [f"{r[0][name]:.3f} ({r[0][name] / sklearn:.2f})" for r in results.values()]
        for name in WHAT
    ]
    rows.append(
        ["total", "NumpyMLPClassifier.fit / epochs"]
        + [f"**{r[1]:.3f}** ({r[1] / sklearn:.2f})" for r in results.values()]
    )
    products, peak, bandwidth = floors
    one_pass = 7 * 4 * args.n_params * args.steps / (bandwidth * 1e9)
    # forward, weight gradients, and input gradients of all but the first layer
    macs = sum(a * b for a, b in zip(UNITS, UNITS[1:]))
    flops_per_step = 2 * BATCH * (3 * macs - UNITS[0] * UNITS[1])
    lines = [
        f"Instrumented fits of NumpyMLPClassifier, {args.n_train:,} rows, "
        f"{args.epochs} epochs, the median of {args.repeats} per backend, interleaved "
        f"with sklearn's MLPClassifier: **{sklearn:.3f} s/epoch**, so the speed "
        f"target ({TARGET}x) is **{TARGET * sklearn:.3f} s/epoch**.",
        "",
        markdown_table(header, rows),
        "",
        f"- The epoch's 8 matrix products alone, warm buffers: **{products:.3f} "
        f"s/epoch** ({products / sklearn:.2f}x sklearn), "
        f"{flops_per_step * args.steps / products / 1e9:.0f} GFLOP/s against "
        f"{peak:.0f} for a 2048^3 sgemm.",
        f"- One optimizer pass moving 7 x 4 B x {args.n_params:,} per step at the "
        f"measured {bandwidth:.1f} GB/s copy bandwidth: {one_pass:.3f} s/epoch; "
        f"products + that pass, everything else free: {products + one_pass:.3f} "
        f"s/epoch = {(products + one_pass) / sklearn:.2f}x sklearn.",
        *machine_lines(state),
    ]
    print("\n".join(lines))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_argument(parser)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="interleaved fits of sklearn and of ours with each backend",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    state = run_state()
    log(f"loading MNIST from {args.data}")
    X, y, _, _ = load_mnist(args.data)
    args.n_train, args.steps = len(X), math.ceil(len(X) / BATCH)
    args.n_params = sum(i * o + o for i, o in zip(UNITS, UNITS[1:]))
    backends = available_backends()
    sklearn_times, runs = [], {backend: [] for backend in backends}
    for repeat in range(args.repeats):
        start = time.perf_counter()
        FRAMEWORKS["sklearn"].fit(X, y, args.epochs, repeat)
        sklearn_times.append((time.perf_counter() - start) / args.epochs)
        for backend in backends:
            runs[backend].append(time_phases(X, y, args.epochs, repeat, backend))
        log(
            f"  repeat {repeat + 1}: sklearn {sklearn_times[-1]:.3f}, "
            + ", ".join(f"{b} {runs[b][-1][1]:.3f}" for b in backends)
            + " s/epoch"
        )
    results = {
        backend: sorted(found, key=lambda run: run[1])[len(found) // 2]
        for backend, found in runs.items()
    }
    log("timing the floors")
    floors = (products_floor(args.steps), sgemm_gflops(), memory_bandwidth())
    report(args, state, results, statistics.median(sklearn_times), floors)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
