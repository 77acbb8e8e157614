"""Shared helpers for the benchmarks: data, machine description, memory, tables.

Nothing here is part of the skdigits package. The benchmarks are modules of the
``benchmarks`` package, run from the repository root as
``python -m benchmarks.bench_training`` (and so on); the frameworks they compare
and the grid-search timer are in ``benchmarks._frameworks``.
"""

import ctypes
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
N_FEATURES = 784


def default_data_dir():
    """Return ``$SKDIGITS_DATA_DIR`` or ``../shared/data`` relative to the repo root."""
    env = os.environ.get("SKDIGITS_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def add_data_argument(parser):
    """``--data DIR``: where the full MNIST CSVs are (default: `default_data_dir`)."""
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data_dir(),
        help="directory with mnist_train.csv.gz and mnist_test.csv.gz "
        "(default: $SKDIGITS_DATA_DIR or ../shared/data from the repo root)",
    )


def _read_csv(path):
    """Read one labelled MNIST CSV as ``(X uint8, y int64)``.

    Uses ``skdigits.datasets.load_mnist_csv`` when it exists, pandas otherwise.
    """
    try:
        from skdigits.datasets import load_mnist_csv
    except ImportError:
        load_mnist_csv = None
    if load_mnist_csv is not None:
        X, y = load_mnist_csv(path)
    else:
        import pandas as pd

        values = pd.read_csv(path, dtype=np.uint8).to_numpy()
        if values.shape[1] != N_FEATURES + 1:
            raise ValueError(
                f"{path}: expected 785 columns (label + 784 pixels), "
                f"found {values.shape[1]}"
            )
        X, y = values[:, 1:], values[:, 0]
    if y is None:
        raise ValueError(f"{path}: the file has no label column")
    return X, np.array(y, dtype=np.int64)  # a writable copy


def _scale(X):
    """0-255 -> [0, 1] as a C-contiguous float32 array."""
    return np.ascontiguousarray(np.asarray(X, dtype=np.float32) / np.float32(255))


def load_mnist(data_dir, n_train=None):
    """Load ``mnist_train.csv.gz`` and ``mnist_test.csv.gz`` from `data_dir`.

    Parameters
    ----------
    data_dir : path-like
        Directory holding the two files.
    n_train : int or None, default=None
        Keep only the first `n_train` training rows.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        X float32 in [0, 1] (C-contiguous), y int64.
    """
    data_dir = Path(data_dir)
    paths = [data_dir / "mnist_train.csv.gz", data_dir / "mnist_test.csv.gz"]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: pass the directory holding mnist_train.csv.gz "
                "and mnist_test.csv.gz with --data DIR (or set SKDIGITS_DATA_DIR)"
            )
    X_train, y_train = _read_csv(paths[0])
    X_test, y_test = _read_csv(paths[1])
    if n_train is not None:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    return _scale(X_train), y_train, _scale(X_test), y_test


def sgemm_gflops(n=2048, repeats=7):
    """Median GFLOP/s of ``np.dot`` on two ``n x n`` float32 matrices (2 n^3 FLOPs)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    np.dot(A, B)  # warm-up: thread pool start, page faults
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.dot(A, B)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def _proc_status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def reset_peak_rss():
    """Reset VmHWM to the current RSS (Linux >= 4.0); return False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb():
    """VmHWM (peak resident set size) of this process in MiB, or None."""
    kb = _proc_status_kb("VmHWM")
    return None if kb is None else kb / 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks "
            "keepcost"
        ).split()
    ]


def _malloc_in_use_function():
    """Return a function giving glibc's bytes in use (heap + mmap), or None."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2

    def in_use():
        info = mallinfo2()
        return info.uordblks + info.hblkhd

    return in_use


class MallocPeak:
    """Context manager sampling glibc's bytes in use every `interval` seconds.

    Sees every ``malloc`` (numpy, torch, Python), unlike tracemalloc, and unlike
    VmHWM is not hidden by freed heap memory being reused. Spikes shorter than
    the interval can be missed. ``added_mb`` is the peak minus the value on
    entry, or None without glibc's ``mallinfo2``.
    """

    def __init__(self, interval=0.0005):
        self.interval = interval
        self.added_mb = None
        self._in_use = _malloc_in_use_function()
        self._stop = threading.Event()

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._in_use())

    def __enter__(self):
        if self._in_use is not None:
            self._start = self._peak = self._in_use()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info):
        if self._in_use is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._in_use())
            self.added_mb = (self._peak - self._start) / 2**20
        return False


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_commit():
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _blas_description():
    from threadpoolctl import threadpool_info

    numpy_libs = [
        info
        for info in threadpool_info()
        if info["user_api"] == "blas" and "numpy" in info["filepath"]
    ]
    blas = numpy_libs or [i for i in threadpool_info() if i["user_api"] == "blas"]
    if not blas:
        return "no BLAS found by threadpoolctl"
    info = blas[0]
    return (
        f"{info['internal_api']} {info.get('version')} "
        f"({info.get('architecture', '?')}, {info['num_threads']} threads, "
        f"{info.get('threading_layer', '?')})"
    )


def run_state():
    """``(git commit, load averages)`` now, to describe a run from its start."""
    return _git_commit(), os.getloadavg()


def _command():
    """The command that started this run: ``python -m benchmarks.NAME ...``."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = ["-m", spec.name] if spec is not None else sys.argv[:1]
    return " ".join(["python", *program, *sys.argv[1:]])


def machine_lines(start_state, extra_versions=()):
    """Markdown bullet lines: command, machine, numpy BLAS, library versions.

    Parameters
    ----------
    start_state : tuple
        What `run_state` returned when the run started.
    extra_versions : iterable of (str, str)
        More ``(name, version)`` pairs to list.
    """
    import sklearn

    import skdigits

    versions = [
        ("Python", platform.python_version()),
        ("numpy", np.__version__),
        ("scikit-learn", sklearn.__version__),
        ("skdigits", f"{skdigits.__version__} (git {start_state[0]} at start)"),
        *extra_versions,
    ]
    command = _command()
    start_load, end_load = (
        ", ".join(f"{x:.2f}" for x in loads)
        for loads in (start_state[1], os.getloadavg())
    )
    return [
        f"- Command: `{command}`",
        f"- Machine: {_cpu_model()}, {os.cpu_count()} logical cores, "
        f"{platform.system()} {platform.release()}",
        f"- numpy BLAS (threadpoolctl): {_blas_description()}",
        f"- Load average (1, 5, 15 min) at start: {start_load}; at end: {end_load} "
        "(other processes on the same cores slow every row, and unevenly)",
        "- Versions: " + ", ".join(f"{name} {ver}" for name, ver in versions),
    ]


def markdown_table(header, rows):
    """Format `rows` (lists of str) under `header` as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value, spec, missing="n/a"):
    """``format(value, spec)``, or `missing` when `value` is None."""
    return missing if value is None else format(value, spec)


def fmt_ratio(value):
    """A ratio as ``0.53x``, or ``n/a`` when `value` is None."""
    return fmt(value, ".2f") + ("" if value is None else "x")


def fmt_list(values, spec, sep=" "):
    """Every value of `values` formatted with `spec`, joined by `sep`."""
    return sep.join(format(value, spec) for value in values)


def share_verdict(what, inside, share, difference, target, spec, detail=""):
    """The closing sentence of a benchmark timing a part of the recipe's epoch.

    Parameters
    ----------
    what : str
        The part, as the sentence's subject ("Augmentation").
    inside : str
        What was timed ("its calls").
    share, difference : float
        Time inside the part / epoch wall time, and the relative difference of
        the epochs with and without it (the check).
    target : float
        The issue's bound on `share`.
    spec : str
        Format of `share` and `difference` (".1%").
    detail : str, default=""
        More text inside the parentheses, after the difference.
    """
    verdict = "meets" if share <= target else "misses"
    return (
        f"{what} takes **{share:{spec}}** of the recipe's epoch (time inside "
        f"{inside} / epoch wall time; the two epochs' difference gives "
        f"{difference:{spec}}{detail}): {verdict} the issue's target of "
        f"<= {target:.0%}."
    )


def log(message):
    """Progress on stderr (the report goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def run_main(main, argv=None):
    """``main(argv)``; a missing file or a bad value is one line on stderr, exit 2."""
    try:
        return main(argv)
    except (FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        return 2


#: environment variables that pin OpenBLAS's kernel (its core type, its L2 size)
OPENBLAS_PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def restart_without_openblas_pinning():
    """Start this ``python -m`` run again with `OPENBLAS_PINNING` unset.

    OpenBLAS reads the variables once, when numpy loads it, so unsetting them in
    a running process changes nothing: when either is set, this replaces the
    process (``os.execve``) by the same command without them, and the kernel is
    the one OpenBLAS picks for the CPU (the report names it, from
    threadpoolctl). Call it first in a benchmark's ``__main__`` block; it
    returns only when neither is set.
    """
    pinned = [name for name in OPENBLAS_PINNING if name in os.environ]
    if not pinned:
        return
    names = " and ".join(pinned)
    log(f"{names} set (pinning OpenBLAS's kernel): starting again without")
    env = {key: value for key, value in os.environ.items() if key not in pinned}
    spec = sys.modules["__main__"].__spec__
    argv = [sys.executable, "-m", spec.name, *sys.argv[1:]]
    os.execve(sys.executable, argv, env)
