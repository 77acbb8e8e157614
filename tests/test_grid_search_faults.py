"""grid-search keeps its fits in a journal and survives losing Dask workers.

The cluster tests start a real scheduler and two ``--no-nanny`` worker
processes on 127.0.0.1 (free ports), run ``skdigits grid-search`` in a
subprocess, SIGKILL workers or the whole cluster mid-search, and compare every
fit with an undisturbed :class:`~sklearn.model_selection.GridSearchCV` run.
"""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from skdigits import load_model
from skdigits._journal import read_journal
from skdigits.cli import build_parser, main
from skdigits.cli._common import make_pipeline
from skdigits.cli.grid_search import Search, parse_grid
from skdigits.datasets import load_mnist_sample

ROWS = 2000
GRID = '{"hidden_layer_sizes": [[16], [32]], "alpha": [0.0001, 0.01]}'
OPTIONS = ["--epochs", "5", "--cv", "2", "--seed", "3", "--grid", GRID]
N_FITS = 8
# One BLAS thread per process: the machine's cores are shared.
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
# The command line, with the wait for a worker shortened from 30 s to 3 s.
CLI = (
    "import sys\n"
    "from skdigits.cli import grid_search, main\n"
    "grid_search.DASK_NO_WORKERS_TIMEOUT = 3\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """As in the worker processes: the machine's cores are shared."""
    with threadpool_limits(limits=1):
        yield


def _write_csv(path, X, y):
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = np.column_stack([y, X])
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header, comments="")
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    X, y = load_mnist_sample("train")
    X, y = X[:ROWS], y[:ROWS]
    path = _write_csv(tmp_path_factory.mktemp("data") / "train.csv", X, y)
    return path, X, y


def _argv(train, model, *extra):
    return ["grid-search", "--train", train, *OPTIONS, "--model", str(model), *extra]


@pytest.fixture(scope="module")
def reference(data):
    """An undisturbed scikit-learn GridSearchCV over the same pipeline and folds."""
    train, X, y = data
    args = build_parser().parse_args(_argv(train, "ref.joblib"))
    pipeline = make_pipeline(args)
    grid = parse_grid(args.grid, pipeline.named_steps["mlp"])
    cv = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed)
    search = GridSearchCV(pipeline, grid, cv=cv, scoring="accuracy", n_jobs=1)
    search.fit(X, y)
    return search


def _journal(model):
    return read_journal(f"{model}.fits.jsonl")[1]


def _scores(records):
    return {(r["candidate"], r["fold"]): r["test_score"] for r in records}


def _assert_same_as_reference(model, reference):
    """Every fit's score, the mean scores and ranks, and the best model."""
    records = _journal(model)
    expected = {
        (candidate, fold): reference.cv_results_[f"split{fold}_test_score"][candidate]
        for candidate in range(len(reference.cv_results_["params"]))
        for fold in range(reference.n_splits_)
    }
    assert _scores(records) == expected
    search = Search(reference.estimator, reference.param_grid, [None, None])
    results = search.results({(r["candidate"], r["fold"]): r for r in records})
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert results.cv_results_[key].tolist() == reference.cv_results_[key].tolist()
    assert results.best_params_ == reference.best_params_
    mlp = load_model(model).named_steps["mlp"]
    for key, value in reference.best_params_.items():
        assert getattr(mlp, key.removeprefix("mlp__")) == value


def _fit_lines(out):
    return re.findall(rf"^  \[\d+/{N_FITS}\] ", out, re.M)


# --- the journal, locally -----------------------------------------------------


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """One undisturbed local run: its output, and its model and journal."""
    model = tmp_path_factory.mktemp("finished") / "best.joblib"
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(_argv(data[0], model)) == 0
    return model, out.getvalue()


def _copy_of(finished, tmp_path):
    model = tmp_path / "best.joblib"
    for suffix in ("", ".fits.jsonl"):
        shutil.copyfile(f"{finished[0]}{suffix}", f"{model}{suffix}")
    return model


def test_results_equal_gridsearchcv_and_a_rerun_reuses_every_fit(
    data, reference, finished, tmp_path, capsys
):
    model, out = finished
    assert f"keeping each finished fit in {model}.fits.jsonl" in out
    assert len(_fit_lines(out)) == N_FITS
    _assert_same_as_reference(model, reference)
    model = _copy_of(finished, tmp_path)
    best = load_model(model).predict_proba(data[1][:200])
    assert main(_argv(data[0], model)) == 0
    out = capsys.readouterr().out
    assert f"reusing {N_FITS} of {N_FITS} fits from {model}.fits.jsonl" in out
    assert "nothing to run" in out and not _fit_lines(out)
    assert len(_journal(model)) == N_FITS
    assert load_model(model).predict_proba(data[1][:200]).tobytes() == best.tobytes()


def test_a_torn_journal_resumes_only_the_missing_fits(
    data, reference, finished, tmp_path, capsys
):
    model = _copy_of(finished, tmp_path)
    journal = tmp_path / "best.joblib.fits.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:4]) + lines[4][: len(lines[4]) // 2])
    assert main(_argv(data[0], model)) == 0
    out = capsys.readouterr().out
    assert f"reusing 3 of {N_FITS} fits" in out
    assert f"(3 reused, {N_FITS - 3} to run)" in out
    assert len(_fit_lines(out)) == N_FITS - 3
    _assert_same_as_reference(model, reference)


@pytest.mark.parametrize("change", ["one row", "one grid value", "--fresh"])
def test_a_journal_of_another_search_is_not_reused(
    data, finished, tmp_path, capsys, change
):
    train, X, y = data
    model = _copy_of(finished, tmp_path)
    argv, expected = _argv(train, model), "different data"
    if change == "one row":
        X = X.copy()
        X[1234, 400] = 255 - X[1234, 400]
        argv = _argv(_write_csv(tmp_path / "changed.csv", X, y), model)
    elif change == "one grid value":
        argv[argv.index(GRID)] = GRID.replace("0.01", "0.02")
        expected = "different grid"
    else:
        argv.append("--fresh")
        expected = f"--fresh: not reusing the {N_FITS} fits"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert expected in out and "reusing" not in out.replace("not reusing", "")
    assert len(_fit_lines(out)) == N_FITS
    assert len(_journal(model)) == N_FITS  # a new journal, of the new search


# --- a real cluster on loopback -----------------------------------------------


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
    pytest.importorskip("distributed")
    clusters = []

    def start(port=None):
        clusters.append(LoopbackCluster(tmp_path, port))
        return clusters[-1].start()

    yield start
    for cluster in clusters:
        cluster.stop()


class CommandRun:
    """``skdigits grid-search`` in a subprocess; its output read as it comes."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLI, *argv],
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
        return len(_fit_lines("".join(self.lines)))

    def wait_for(self, condition, timeout=120):
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, (
                "".join(self.lines) + self.proc.stderr.read()
            )
            assert time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.02)

    def finish(self, timeout=180):
        try:
            status = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.reader.join(10)
        return status, "".join(self.lines), self.proc.stderr.read()


def _wait_for_data_holder(cluster, run):
    """The worker that received the data task, as the scheduler records it."""
    run.wait_for(lambda: cluster.data_holders())
    return cluster.data_holders()[0]


def _lost_worker_line(out, address):
    match = re.search(
        rf"^  lost worker {address}: (\d+) of its fits rescheduled(.*)$", out, re.M
    )
    assert match, out
    return int(match.group(1)), match.group(2)


def test_losing_the_worker_that_holds_the_data(
    cluster_factory, data, reference, tmp_path
):
    cluster = cluster_factory()
    model = tmp_path / "best.joblib"
    # One fit at a time: every fit runs beside the data, so the killed worker
    # holds its only copy and Dask must recompute it from the graph.
    run = CommandRun(
        _argv(data[0], model, "--dask-scheduler", cluster.address, "--n-jobs", "1")
    )
    holder = _wait_for_data_holder(cluster, run)
    run.wait_for(lambda: run.fits_done() >= 1)
    assert cluster.data_holders() == [holder]
    cluster.kill(cluster.worker_names()[holder])
    status, out, err = run.finish()
    assert status == 0, err
    rescheduled, data_note = _lost_worker_line(out, holder)
    assert rescheduled >= 1 and "training data it held is recomputed" in data_note
    assert len(_fit_lines(out)) == N_FITS
    _assert_same_as_reference(model, reference)


def test_losing_the_other_worker(cluster_factory, data, reference, tmp_path):
    cluster = cluster_factory()
    model = tmp_path / "best.joblib"
    run = CommandRun(_argv(data[0], model, "--dask-scheduler", cluster.address))
    holder = _wait_for_data_holder(cluster, run)
    run.wait_for(lambda: run.fits_done() >= 1)
    names = cluster.worker_names()
    [other] = [address for address in names if address != holder]
    cluster.kill(names[other])
    status, out, err = run.finish()
    assert status == 0, err
    rescheduled, _ = _lost_worker_line(out, other)
    assert rescheduled >= 1
    ran_on = dict(re.findall(r"(tcp://\S+) \((\d+) fits\)", out))
    assert sum(map(int, ran_on.values())) == N_FITS
    _assert_same_as_reference(model, reference)


def _assert_cluster_gone(status, out, err, model, reason):
    assert status == 2, out + err
    assert err.startswith(f"skdigits: error: {reason}") and err.count("\n") == 1, err
    assert "Traceback" not in err and "re-run the same command to resume" in err
    kept = int(re.search(r"(\d+) of \d+ fits are kept", err).group(1))
    assert kept == len(_journal(model)) and kept >= 1
    assert not model.exists()
    return kept


def test_losing_every_worker_is_one_line_and_status_2(cluster_factory, data, tmp_path):
    cluster = cluster_factory()
    model = tmp_path / "best.joblib"
    run = CommandRun(_argv(data[0], model, "--dask-scheduler", cluster.address))
    run.wait_for(lambda: run.fits_done() >= 1)
    cluster.kill("w0", "w1")
    status, out, err = run.finish()
    reason = f"no Dask worker left at {cluster.address} for 3 s"
    _assert_cluster_gone(status, out, err, model, reason)


@pytest.mark.slow  # two clusters and two runs: about 25 s
def test_losing_the_whole_cluster_then_resuming_on_a_fresh_one(
    cluster_factory, data, reference, tmp_path
):
    cluster = cluster_factory()
    model = tmp_path / "best.joblib"
    argv = _argv(data[0], model, "--dask-scheduler", cluster.address)
    run = CommandRun(argv)
    run.wait_for(lambda: run.fits_done() >= 2)
    cluster.client.close(timeout=5)
    cluster.client = None
    cluster.kill("scheduler", "w0", "w1")
    status, out, err = run.finish()
    reason = f"lost the Dask scheduler at {cluster.address}"
    kept = _assert_cluster_gone(status, out, err, model, reason)
    before = json.dumps(_journal(model))
    # The same command, against a new cluster at the same address.
    cluster_factory(port=cluster.port)
    status, out, err = CommandRun(argv).finish()
    assert status == 0, err
    assert f"reusing {kept} of {N_FITS} fits" in out
    assert len(_fit_lines(out)) == N_FITS - kept
    assert json.dumps(_journal(model)[:kept]) == before  # appended, not rewritten
    _assert_same_as_reference(model, reference)
