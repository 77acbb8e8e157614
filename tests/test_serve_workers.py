"""skdigits.serve._workers: the worker processes that run the model for serve."""

import os
import signal
import threading
import time

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from skdigits.serve._workers import (
    MAX_DEFAULT_WORKERS,
    WorkerBusyError,
    WorkerPool,
    WorkerStartError,
    WorkerTimeoutError,
    default_workers,
)


def proba_and_pid(model, X):
    """What a worker computes: the model's answer, and which process gave it."""
    return model.predict_proba(X), os.getpid()


def fail(model, message):
    raise ValueError(message)


def sleep_then_pid(model, seconds):
    time.sleep(seconds)
    return os.getpid()


@pytest.fixture(scope="module")
def model():
    return DummyClassifier(strategy="prior").fit(np.zeros((4, 2)), [0, 1, 1, 1])


@pytest.fixture(scope="module")
def pool(model):
    pool = WorkerPool(model, 2)
    yield pool
    pool.close()


def test_workers_run_the_function_on_their_own_copy_of_the_model(pool, model):
    X = np.zeros((3, 2))
    proba, pid = pool.run(proba_and_pid, X)
    np.testing.assert_array_equal(proba, model.predict_proba(X))
    assert pid != os.getpid() and pid in pool.pids()
    assert len(pool.pids()) == 2  # both started before the first request


def test_an_exception_in_a_worker_reaches_the_caller(pool):
    with pytest.raises(ValueError, match="not a digit"):
        pool.run(fail, "not a digit")
    assert pool.run(proba_and_pid, np.zeros((1, 2)))[1] in pool.pids()


def test_a_killed_worker_is_replaced_and_the_request_still_answered(pool):
    before = pool.pids()
    os.kill(before[0], signal.SIGKILL)
    time.sleep(0.5)  # the pool notices the death
    proba, pid = pool.run(proba_and_pid, np.zeros((1, 2)))
    assert proba.shape == (1, 2)
    after = pool.pids()
    assert len(after) == 2 and before[0] not in after and pid in after


def test_a_stuck_worker_times_out_and_is_replaced(pool):
    before = pool.pids()
    start = time.monotonic()
    with pytest.raises(WorkerTimeoutError, match="did not answer within 0.5 s"):
        pool.run(sleep_then_pid, 3600, timeout=0.5)
    assert time.monotonic() - start < 10  # not the hour it asked for
    proba, pid = pool.run(proba_and_pid, np.zeros((1, 2)), timeout=30)
    after = pool.pids()
    assert len(after) == 2 and not set(before) & set(after) and pid in after


def test_a_request_finding_no_free_worker_is_not_run(pool):
    # both workers busy for 2 s: a request allowed 0.3 s is refused unrun,
    # and the two running ones finish on the same workers
    pids = []
    busy = [
        threading.Thread(target=lambda: pids.append(pool.run(sleep_then_pid, 2)))
        for _ in range(2)
    ]
    for thread in busy:
        thread.start()
    time.sleep(0.5)
    with pytest.raises(WorkerBusyError, match="no worker was free within 0.3 s"):
        pool.run(proba_and_pid, np.zeros((1, 2)), timeout=0.3)
    for thread in busy:
        thread.join(timeout=20)
    assert sorted(pids) == pool.pids()  # neither was killed


def test_closing_a_pool_with_a_stuck_worker_kills_it(model):
    pool = WorkerPool(model, 1)
    pid = pool.pids()[0]
    errors = []

    def stuck():
        try:
            pool.run(sleep_then_pid, 3600)
        except WorkerBusyError as err:  # killed, and not tried again
            errors.append(err)

    thread = threading.Thread(target=stuck)
    thread.start()
    time.sleep(0.5)
    start = time.monotonic()
    pool.close(timeout=1)
    thread.join(timeout=10)
    assert time.monotonic() - start < 10  # not the hour
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    assert len(errors) == 1 and "stopped" in str(errors[0])


def _zombie(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0] in "ZX"


def test_a_model_that_cannot_be_copied_says_to_serve_without_workers(model):
    unpicklable = DummyClassifier().fit(np.zeros((2, 2)), [0, 1])
    unpicklable.hook = lambda X: X
    with pytest.raises(WorkerStartError, match=r"cannot be copied.*--workers 0"):
        WorkerPool(unpicklable, 2)


class _Unloadable(DummyClassifier):
    """Pickles, but its workers cannot unpickle it."""

    def __reduce__(self):
        return (_fail_to_load, ())


def _fail_to_load():
    os._exit(3)  # as a worker dies when the model's code is missing there


def test_workers_that_cannot_load_the_model_say_so():
    with pytest.raises(WorkerStartError, match=r"could not start.*--workers 0"):
        WorkerPool(_Unloadable(), 2)


def test_workers_must_be_at_least_one(model):
    with pytest.raises(ValueError, match="at least 1, got 0"):
        WorkerPool(model, 0)


def test_default_workers_is_one_per_core_within_bounds(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert default_workers() == MAX_DEFAULT_WORKERS
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert default_workers() == 1
