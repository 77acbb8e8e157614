"""Worker processes for ``skdigits serve``: the model's work off the server's GIL.

Reading an image and classifying it is Python and small NumPy operations, which
hold the GIL: in one process, concurrent requests take turns on one core however
many the machine has. :class:`WorkerPool` runs that work in ``workers``
processes instead, each with its own copy of the model (sent once, when the
worker starts), while the server's threads only parse HTTP and write answers.
Each worker handles one request at a time, so any estimator can be served.

Workers are started with ``spawn`` on every platform (no ``fork`` of a process
that already runs threads), and ignore Ctrl-C: the server stops them when it
stops, and they end on their own when the server's process is killed. A worker
that dies (killed, out of memory) breaks the pool; the pool is then started
again and the request is tried once more on the new workers.

A result is awaited for a limited time: a request waits at most ``timeout``
seconds for a free worker (:class:`WorkerBusyError` after that), then at most
``timeout`` seconds for its answer. A worker that takes longer is stuck (or
far too slow): the pool's workers are killed, as if they had died, so the
next requests run on new ones (:class:`WorkerTimeoutError` for this one).
"""

import os
import pickle
import signal
import threading
import time
from concurrent import futures
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context, parent_process
from multiprocessing.connection import wait

#: Most worker processes :func:`default_workers` picks.
MAX_DEFAULT_WORKERS = 4

_MODEL = None  # in a worker process: the model it serves


class WorkerStartError(ValueError):
    """The model cannot be served from worker processes (serve it with 0)."""


class WorkerBusyError(RuntimeError):
    """No worker was free within the timeout: the request was not run."""


class WorkerTimeoutError(RuntimeError):
    """The request's worker did not answer within the timeout; it was killed."""


def default_workers():
    """One worker per CPU core, at most :data:`MAX_DEFAULT_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def _start_worker(model):
    global _MODEL
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers
    threading.Thread(target=_exit_with_the_server, daemon=True).start()
    _MODEL = model


def _exit_with_the_server():
    """End this worker when the server's process ends, however it ends.

    A killed server closes no pipe the worker waits on (each worker holds both
    ends of the pool's queue), so without this the worker would live on.
    """
    wait([parent_process().sentinel])
    os._exit(1)


def _call(function, *args):
    """``function(model, *args)`` in a worker, on the model it holds."""
    return function(_MODEL, *args)


def _pid(_):
    return os.getpid()


class WorkerPool:
    """``workers`` processes that each hold a copy of ``model``.

    Parameters
    ----------
    model : estimator
        Picklable; each worker unpickles its own copy once.

    workers : int
        The number of processes, at least 1.

    Raises
    ------
    WorkerStartError
        If ``model`` cannot be pickled, or the workers die while loading it.
    """

    def __init__(self, model, workers):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        try:
            pickle.dumps(model)
        except Exception as err:
            raise WorkerStartError(
                f"the model cannot be copied to worker processes ({err}); "
                "serve it from the server's own process with workers=0 "
                "(skdigits serve --workers 0)"
            ) from None
        self.model, self.workers = model, workers
        self._lock = threading.Lock()
        self._free = threading.Semaphore(workers)  # a worker for each request run
        self._closed = False
        self._pool = self._start()

    def _start(self):
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.model,),
        )
        # spawn every worker now, so the first requests do not wait for one
        futures = [pool.submit(_pid, i) for i in range(self.workers)]
        try:
            for future in futures:
                future.result()
        except BrokenProcessPool:
            pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerStartError(
                "the worker processes could not start (they exited while loading "
                "the model: is its code importable in a new Python process?); "
                "serve it with workers=0 (skdigits serve --workers 0)"
            ) from None
        return pool

    def run(self, function, *args, timeout=None):
        """``function(model, *args)`` in a worker; its result or its exception.

        ``function`` must be importable (a module-level function), and its
        arguments, result and exceptions picklable. With ``timeout`` (seconds),
        :class:`WorkerBusyError` if no worker is free within it, and
        :class:`WorkerTimeoutError` if the worker does not answer within it
        (the pool's workers are then killed and replaced).
        """
        if not self._free.acquire(timeout=timeout):
            raise WorkerBusyError(f"no worker was free within {timeout} s")
        try:
            pool = self._pool
            try:
                return self._result(pool, function, args, timeout)
            except BrokenProcessPool:
                return self._result(self._restart(pool), function, args, timeout)
        finally:
            self._free.release()

    def _result(self, pool, function, args, timeout):
        try:
            future = pool.submit(_call, function, *args)
        except RuntimeError:  # broken, or shut down by another thread's restart
            raise BrokenProcessPool("the pool was replaced") from None
        try:
            return future.result(timeout)
        except futures.TimeoutError:  # the builtin TimeoutError from Python 3.11
            self._kill(pool)  # the next request finds it broken, and restarts
            raise WorkerTimeoutError(
                f"the worker did not answer within {timeout} s"
            ) from None

    @staticmethod
    def _kill(pool):
        """Kill ``pool``'s processes: its requests then fail as broken, and
        are tried again on new workers."""
        for process in list((pool._processes or {}).values()):
            process.kill()

    def _restart(self, broken):
        """A working pool in place of ``broken`` (once, however many threads ask)."""
        with self._lock:
            if self._closed:  # a request that was running when it closed
                raise WorkerBusyError("the workers have stopped")
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
            return self._pool

    def pids(self):
        """The process ids of the workers now running."""
        return sorted(process.pid for process in self._pool._processes.values())

    def close(self, timeout=5):
        """Stop the workers: requests still running have ``timeout`` seconds
        to finish, then their workers are killed (a stuck one would otherwise
        hold the server's Ctrl-C for ever)."""
        with self._lock:
            self._closed = True  # no restart for the requests killed below
        processes = list((self._pool._processes or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(max(0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout)
