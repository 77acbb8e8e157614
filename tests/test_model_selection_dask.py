"""The grid search survives losing Dask workers, and resumes after losing all.

Each test starts a real scheduler and two ``--no-nanny`` worker processes on
127.0.0.1 (free ports), runs a search, SIGKILLs workers or the whole cluster
mid-search, and compares every fit with an undisturbed
:class:`~sklearn.model_selection.GridSearchCV`. Each test runs twice, through
two front ends (the ``front`` fixture):

- ``python``: :class:`~skdigits.model_selection.ResumableGridSearchCV` in a
  thread of this process, on :class:`SleepyClassifier` (fits that take half a
  second without using the CPU, long enough to be caught mid-fit), read
  through its events;
- ``cli``: ``skdigits grid-search`` in a subprocess, with real fits of the
  command's pipeline on MNIST sample rows, read through its printed lines
  (the lines the tests read are the command's contract).
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from skdigits import load_model
from skdigits._journal import read_journal
from skdigits.cli import build_parser
from skdigits.cli._common import make_pipeline
from skdigits.cli.grid_search import parse_grid
from skdigits.datasets import load_mnist_sample
from skdigits.model_selection import (
    ClusterLost,
    ClusterLostError,
    FitDone,
    JournalOpened,
    ResumableGridSearchCV,
    WorkerLost,
)

pytest.importorskip("distributed")

N_FITS = 8  # 4 candidates x 2 folds, in both front ends
WORKER_TIMEOUT = 3  # seconds without a worker before the search gives up
# One BLAS thread per process: the machine's cores are shared. The workers
# import this module (to unpickle SleepyClassifier) from its directory.
ENV = {
    **os.environ,
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(__file__), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    ).rstrip(os.pathsep),
}


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """As in the worker processes: the machine's cores are shared."""
    with threadpool_limits(limits=1):
        yield


class SleepyClassifier(DummyClassifier):
    """A DummyClassifier whose fit first sleeps ``delay`` seconds."""

    def __init__(self, *, strategy="prior", random_state=None, delay=0.0):
        super().__init__(strategy=strategy, random_state=random_state)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay)
        return super().fit(X, y, sample_weight)


# --- what a run gives, whichever the front end ----------------------------------


@dataclass
class Outcome:
    """What a search reported, read from its events or from its output."""

    n_run: int  # fits run by this call
    reused: int = 0
    lost: dict = field(default_factory=dict)  # worker -> (rescheduled, data lost)
    ran_on: dict = field(default_factory=dict)  # worker -> fits
    error: str = None  # the reason of a lost cluster
    n_kept: int = None


def _wait_for(condition, alive, describe, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert alive(), describe()
        assert time.monotonic() < deadline, describe()
        time.sleep(0.02)


class PythonRun:
    """``search.fit(X, y)`` in a thread; its events as they come."""

    def __init__(self, search, X, y):
        self.events, self.error = [], None
        search.set_params(on_event=self.events.append)
        self.search = search
        self.thread = threading.Thread(target=self._fit, args=(X, y), daemon=True)
        self.thread.start()

    def _fit(self, X, y):
        try:
            self.search.fit(X, y)
        except Exception as exc:  # noqa: BLE001 - checked by finish()
            self.error = exc

    def fits_done(self):
        return sum(isinstance(event, FitDone) for event in list(self.events))

    def wait_for(self, condition, timeout=120):
        _wait_for(condition, self.thread.is_alive, lambda: repr(self.error), timeout)

    def finish(self, timeout=180):
        self.thread.join(timeout)
        assert not self.thread.is_alive()
        events = self.events
        outcome = Outcome(n_run=self.fits_done())
        for event in events:
            if isinstance(event, JournalOpened):
                outcome.reused = event.reused
            elif isinstance(event, WorkerLost):
                outcome.lost[event.worker] = (event.n_rescheduled, event.data_lost)
            elif isinstance(event, FitDone):
                where = event.where
                outcome.ran_on[where] = outcome.ran_on.get(where, 0) + 1
        if self.error is not None:
            assert isinstance(self.error, ClusterLostError), repr(self.error)
            assert isinstance(events[-1], ClusterLost)
            message = str(self.error)
            assert "\n" not in message and "fit again with it to resume" in message
            outcome.error, outcome.n_kept = self.error.reason, self.error.n_kept
        return outcome


class CommandRun:
    """``skdigits grid-search`` in a subprocess; its output read as it comes."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "skdigits", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def fits_done(self):
        return len(re.findall(rf"^  \[\d+/{N_FITS}\] ", "".join(self.lines), re.M))

    def wait_for(self, condition, timeout=120):
        def describe():
            return "".join(self.lines) + (self.proc.stderr.read() or "")

        _wait_for(condition, lambda: self.proc.poll() is None, describe, timeout)

    def finish(self, timeout=240):
        try:
            status = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.reader.join(10)
        out, err = "".join(self.lines), self.proc.stderr.read()
        outcome = Outcome(n_run=self.fits_done())
        reused = re.search(rf"^reusing (\d+) of {N_FITS} fits", out, re.M)
        outcome.reused = int(reused.group(1)) if reused else 0
        lost = r"^  lost worker (\S+): (\d+) of its fits rescheduled(.*)$"
        for worker, n, note in re.findall(lost, out, re.M):
            data_lost = note == "; the training data it held is recomputed"
            outcome.lost[worker] = (int(n), data_lost)
        ran_on = re.search(r"^fits ran on: (.*)$", out, re.M)
        if ran_on:
            counts = re.findall(r"(tcp://\S+) \((\d+) fits\)", ran_on.group(1))
            outcome.ran_on = {worker: int(n) for worker, n in counts}
        if status == 0:
            assert not err.strip(), err
            return outcome
        assert status == 2, out + err
        match = re.fullmatch(
            rf"skdigits: error: (.*); (\d+) of {N_FITS} fits are kept in \S+: "
            r"re-run the same command to resume\n",
            err,
        )
        assert match, err
        outcome.error, outcome.n_kept = match.group(1), int(match.group(2))
        return outcome


# --- the two front ends ---------------------------------------------------------


class PythonFront:
    """ResumableGridSearchCV on SleepyClassifier fits over sklearn's digits."""

    grid = {"strategy": ["stratified", "uniform"], "random_state": [0, 1]}

    def __init__(self, digits, tmp_path):
        self.X, _, self.y, _ = digits
        self.journal = tmp_path / "search.fits.jsonl"
        self.cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=3)

    def reference(self):
        search = GridSearchCV(SleepyClassifier(), self.grid, cv=self.cv)
        return search.fit(self.X, self.y)

    def start(self, address, n_jobs=None):
        search = ResumableGridSearchCV(
            SleepyClassifier(delay=0.5),
            self.grid,
            cv=self.cv,
            n_jobs=n_jobs,
            journal=self.journal,
            dask=address,
            worker_timeout=WORKER_TIMEOUT,
        )
        return PythonRun(search, self.X, self.y)

    def assert_same_as_reference(self, run, reference):
        for key in ("mean_test_score", "std_test_score", "rank_test_score"):
            got = run.search.cv_results_[key]
            assert got.tobytes() == reference.cv_results_[key].tobytes()
        assert run.search.best_params_ == reference.best_params_
        assert run.search.predict(self.X).tolist() == reference.predict(self.X).tolist()

    def no_output_left(self, run):
        return not hasattr(run.search, "cv_results_")


class CommandFront:
    """``skdigits grid-search`` with real fits on 2,000 MNIST sample rows."""

    grid = '{"hidden_layer_sizes": [[16], [32]], "alpha": [0.0001, 0.01]}'

    def __init__(self, train_csv, tmp_path):
        self.train = train_csv
        self.model = tmp_path / "best.joblib"
        self.journal = tmp_path / "best.joblib.fits.jsonl"

    def argv(self, *extra):
        return [
            "grid-search",
            *("--train", self.train, "--epochs", "5", "--cv", "2", "--seed", "3"),
            *("--grid", self.grid, "--model", str(self.model), *extra),
        ]

    def reference(self):
        args = build_parser().parse_args(self.argv())
        pipeline = make_pipeline(args)
        grid = parse_grid(args.grid, pipeline.named_steps["mlp"])
        cv = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed)
        search = GridSearchCV(pipeline, grid, cv=cv, scoring="accuracy")
        X, y = load_mnist_sample("train")
        return search.fit(X[:2000], y[:2000])

    def start(self, address, n_jobs=None):
        extra = ["--dask-scheduler", address]
        extra += ["--dask-worker-timeout", str(WORKER_TIMEOUT)]
        extra += [] if n_jobs is None else ["--n-jobs", str(n_jobs)]
        return CommandRun(self.argv(*extra))

    def assert_same_as_reference(self, run, reference):
        mlp = load_model(self.model).named_steps["mlp"]
        for key, value in reference.best_params_.items():
            assert getattr(mlp, key.removeprefix("mlp__")) == value

    def no_output_left(self, run):
        return not self.model.exists()


_REFERENCES = {}


@pytest.fixture(scope="module")
def mnist_csv(tmp_path_factory, write_mnist_csv):
    X, y = load_mnist_sample("train")
    path = tmp_path_factory.mktemp("data") / "train.csv"
    return write_mnist_csv(path, X[:2000], y[:2000])


@pytest.fixture(params=["python", "cli"])
def front(request, tmp_path, digits, mnist_csv):
    """A front end to run the search through, and its GridSearchCV reference."""
    if request.param == "python":
        front = PythonFront(digits, tmp_path)
    else:
        front = CommandFront(mnist_csv, tmp_path)
    if request.param not in _REFERENCES:
        _REFERENCES[request.param] = front.reference()
    front.expected = _REFERENCES[request.param]
    return front


def _assert_journal_is_the_reference(front):
    """Every fit's score in the journal equals GridSearchCV's, bit for bit."""
    records = read_journal(front.journal)[1]
    got = {(r["candidate"], r["fold"]): r["test_score"] for r in records}
    results = front.expected.cv_results_
    expected = {
        (candidate, fold): results[f"split{fold}_test_score"][candidate]
        for candidate in range(len(results["params"]))
        for fold in range(front.expected.n_splits_)
    }
    assert got == expected


# --- a real cluster on loopback -------------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackCluster:
    """A Dask scheduler and two ``--no-nanny`` worker processes on 127.0.0.1."""

    def __init__(self, log_dir, port=None):
        self.port = port or _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.procs = {}
        self.client = None

    def start(self):
        self._spawn(
            "scheduler",
            "distributed.cli.dask_scheduler",
            ["--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
        )
        for name in ("w0", "w1"):
            options = ["--no-nanny", "--nthreads", "1", "--host", "127.0.0.1"]
            options += ["--name", name, "--no-dashboard"]
            self._spawn(name, "distributed.cli.dask_worker", [self.address, *options])
        from distributed import Client

        self.client = Client(self.address, timeout=60)
        self.client.wait_for_workers(2, timeout=120)
        return self

    def _spawn(self, name, module, options):
        log = open(self.log_dir / f"{name}-{self.port}.log", "w")
        argv = [sys.executable, "-m", module, *options]
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=log, env=ENV)
        log.close()

    def worker_names(self):
        """Worker address -> the name it was started with."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return {address: info["name"] for address, info in workers.items()}

    def data_holders(self):
        """The workers holding the search's data task, from the scheduler."""
        who_has = self.client.who_has()
        keys = [key for key in who_has if str(key).startswith("skdigits-data-")]
        return sorted(who_has[keys[0]]) if keys else []

    def kill(self, *names):
        for name in names:
            self.procs[name].send_signal(signal.SIGKILL)
            self.procs[name].wait(30)

    def stop(self):
        if self.client is not None:
            self.client.close(timeout=5)
            self.client = None
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)


@pytest.fixture
def cluster_factory(tmp_path):
    """Start loopback clusters; every process is killed at teardown, pass or fail."""
    clusters = []

    def start(port=None):
        clusters.append(LoopbackCluster(tmp_path, port))
        return clusters[-1].start()

    yield start
    for cluster in clusters:
        cluster.stop()


def _wait_for_data_holder(cluster, run):
    """The worker that received the data task, as the scheduler records it."""
    run.wait_for(lambda: cluster.data_holders())
    return cluster.data_holders()[0]


# --- the faults -----------------------------------------------------------------


def test_losing_the_worker_that_holds_the_data(cluster_factory, front):
    cluster = cluster_factory()
    # One fit at a time: every fit runs beside the data, so the killed worker
    # holds its only copy and Dask must recompute it from the graph.
    run = front.start(cluster.address, n_jobs=1)
    holder = _wait_for_data_holder(cluster, run)
    run.wait_for(lambda: run.fits_done() >= 1)
    assert cluster.data_holders() == [holder]
    cluster.kill(cluster.worker_names()[holder])
    outcome = run.finish()
    assert outcome.error is None and outcome.n_run == N_FITS
    rescheduled, data_lost = outcome.lost[holder]
    assert rescheduled >= 1 and data_lost
    _assert_journal_is_the_reference(front)
    front.assert_same_as_reference(run, front.expected)


def test_losing_the_other_worker(cluster_factory, front):
    cluster = cluster_factory()
    run = front.start(cluster.address)
    holder = _wait_for_data_holder(cluster, run)
    run.wait_for(lambda: run.fits_done() >= 1)
    names = cluster.worker_names()
    [other] = [address for address in names if address != holder]
    cluster.kill(names[other])
    outcome = run.finish()
    assert outcome.error is None
    rescheduled, data_lost = outcome.lost[other]
    assert rescheduled >= 1 and not data_lost
    assert sum(outcome.ran_on.values()) == N_FITS
    assert set(outcome.ran_on) <= set(names)
    _assert_journal_is_the_reference(front)
    front.assert_same_as_reference(run, front.expected)


def _assert_cluster_gone(front, run, outcome, reason):
    assert outcome.error == reason
    assert outcome.n_kept == len(read_journal(front.journal)[1]) >= 1
    assert front.no_output_left(run)


def test_losing_every_worker_is_a_clear_error(cluster_factory, front):
    cluster = cluster_factory()
    run = front.start(cluster.address)
    run.wait_for(lambda: run.fits_done() >= 1)
    cluster.kill("w0", "w1")
    outcome = run.finish()
    reason = f"no Dask worker left at {cluster.address} for {WORKER_TIMEOUT} s"
    _assert_cluster_gone(front, run, outcome, reason)


@pytest.mark.slow  # two clusters and two runs
def test_losing_the_whole_cluster_then_resuming_on_a_fresh_one(cluster_factory, front):
    cluster = cluster_factory()
    run = front.start(cluster.address)
    run.wait_for(lambda: run.fits_done() >= 2)
    cluster.client.close(timeout=5)
    cluster.client = None
    cluster.kill("scheduler", "w0", "w1")
    outcome = run.finish()
    _assert_cluster_gone(
        front, run, outcome, f"lost the Dask scheduler at {cluster.address}"
    )
    kept = outcome.n_kept
    before = json.dumps(read_journal(front.journal)[1])
    # The same search, against a new cluster at the same address.
    cluster_factory(port=cluster.port)
    run = front.start(cluster.address)
    outcome = run.finish()
    assert outcome.error is None
    assert (outcome.reused, outcome.n_run) == (kept, N_FITS - kept)
    records = read_journal(front.journal)[1]
    assert json.dumps(records[:kept]) == before  # appended, not rewritten
    _assert_journal_is_the_reference(front)
    front.assert_same_as_reference(run, front.expected)


def test_sleepy_classifier_gives_dummy_classifiers_results(digits):
    """The Python front's stand-in changes nothing but the time a fit takes."""
    X, _, y, _ = digits
    sleepy = SleepyClassifier(strategy="stratified", random_state=0, delay=0.01)
    dummy = DummyClassifier(strategy="stratified", random_state=0)
    assert np.array_equal(sleepy.fit(X, y).predict(X), dummy.fit(X, y).predict(X))
