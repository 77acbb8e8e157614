"""Where a search's fits run: local processes (joblib's loky) or a Dask cluster.

A runner only executes fits and reports: :meth:`run` yields the record of each
fit as it finishes and passes events (a lost worker, a resubmitted fit) to the
``emit`` callable it is given. It never prints.

On Dask, the data travels as a task of its own (its result is the data), not
as scattered data: when a worker is lost, Dask recomputes whatever it held from
the task graph and reschedules its fits, where scattered data would be gone for
good. Each fit is one task that reads the data task.
"""

import contextlib
import logging
import queue
import time
import uuid
import warnings

import joblib
from sklearn.utils.parallel import Parallel, delayed

from skdigits.model_selection._events import FitResubmitted, WorkerLost

# Seconds a Dask search waits for a worker when none is left (the default of
# ResumableGridSearchCV's worker_timeout).
NO_WORKERS_TIMEOUT = 30.0
# How often the Dask loop looks at the cluster while no fit finishes (s).
POLL_SECONDS = 0.2
# A fit cancelled while the scheduler is still there is resubmitted this often.
MAX_RESUBMITS = 3


class ClusterGone(Exception):
    """The Dask cluster is gone (no worker, or no scheduler); the message says."""


class LocalRunner:
    """Fits in this process (``n_jobs=1``) or in loky worker processes.

    Parameters
    ----------
    n_jobs : int, default=None
        Parallel fits; None means 1, -1 all cores.
    """

    backend = "local"

    def __init__(self, n_jobs=None):
        self.n_jobs = n_jobs or 1
        n = joblib.effective_n_jobs(self.n_jobs)
        self.where = f"in {'1 process' if self.n_jobs == 1 else f'{n} jobs'}"

    def run(self, task, data, todo, candidates, emit):
        """Yield the record of each fit in ``todo`` as it finishes.

        Parameters
        ----------
        task : callable
            ``task(data, candidate, fold, params) -> record``.
        data : tuple
            ``(X, y, splits)``.
        todo : list of (int, int)
            The ``(candidate, fold)`` pairs to fit.
        candidates : list of dict
            Every candidate's parameters.
        emit : callable
            Receives events (none are sent by this runner).
        """
        with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
            parallel = Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")
            yield from parallel(
                delayed(task)(data, c, f, candidates[c]) for c, f in todo
            )


@contextlib.contextmanager
def dask_runner(dask, n_jobs=None, worker_timeout=NO_WORKERS_TIMEOUT):
    """A :class:`DaskRunner` on ``dask``, a ``distributed.Client`` or an address.

    A client made here from an address is closed on exit; a given one is not.
    Distributed's own log lines are silenced meanwhile (events report losses).
    """
    if isinstance(dask, str):
        ours = closing(connect(dask))
    else:
        ours = contextlib.nullcontext(dask)
    with quiet_distributed(), ours as client:
        yield DaskRunner(client, n_jobs=n_jobs, worker_timeout=worker_timeout)


@contextlib.contextmanager
def closing(client):
    """``client``, closed on exit (quietly: a lost scheduler cannot be told)."""
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=2)


@contextlib.contextmanager
def local_client(n_workers=2):
    """A client of a new cluster of ``n_workers`` one-thread processes here."""
    distributed = import_distributed()
    with (
        distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def import_distributed(what="dask"):
    """``distributed``, or an ImportError naming the ``[dask]`` extra."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            f"{what} needs dask.distributed: pip install skdigits[dask]"
        ) from None
    return distributed


def connect(address, timeout=None):
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Parameters
    ----------
    address : str
        E.g. ``"tcp://host:8786"``.
    timeout : float, default=None
        Seconds to wait for the scheduler; None is Dask's configured default.
    """
    distributed = import_distributed()
    options = {} if timeout is None else {"timeout": timeout}
    with quiet_distributed():
        return distributed.Client(address, **options)


@contextlib.contextmanager
def quiet_distributed():
    """Silence distributed's loggers (some have levels and handlers of their own)."""
    names = ["distributed"] + [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.startswith("distributed.")
    ]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class DaskRunner:
    """Fits as Dask tasks, each reading one task whose result is the data.

    Dask reschedules the fits of a lost worker and recomputes the data task
    wherever it is needed again; this runner reports each loss
    (:class:`WorkerLost`), resubmits a fit cancelled while the scheduler is
    still there (:class:`FitResubmitted`), and raises :class:`ClusterGone`
    when the scheduler or every worker is gone.

    Parameters
    ----------
    client : distributed.Client
        A connected client.
    n_jobs : int, default=None
        Fits submitted at a time; None or -1 for all of them at once.
    worker_timeout : float, default=NO_WORKERS_TIMEOUT
        Seconds to wait for a worker when none is left.
    """

    backend = "dask"

    def __init__(self, client, n_jobs=None, worker_timeout=NO_WORKERS_TIMEOUT):
        self.client = client
        self.address = client.scheduler.address
        self.limit = None if n_jobs in (None, -1) else max(n_jobs, 1)
        self.worker_timeout = worker_timeout
        self.run_id = uuid.uuid4().hex[:12]
        workers = client.nthreads()
        self.where = f"on the Dask cluster at {self.address} ({len(workers)} workers)"
        self.events = queue.Queue()
        self._no_workers_since = None

    def run(self, task, data, todo, candidates, emit):
        """Yield the record of each fit in ``todo`` as it finishes.

        The parameters are those of :meth:`LocalRunner.run`; ``emit`` receives
        :class:`WorkerLost` and :class:`FitResubmitted` events.
        """
        self.task, self.candidates, self.emit = task, candidates, emit
        self.client.subscribe_topic("all", self.events.put)
        self._submit_data(data)
        self.waiting, self.running, self.tries = list(todo), {}, {}
        checked = time.monotonic()
        try:
            while self.waiting or self.running:
                self._submit()
                finished = [f for f in self.running if f.done()]
                for future in finished:
                    record = self._result(future)
                    if record is not None:
                        yield record
                if not finished and time.monotonic() - checked > 1:
                    self._check_cluster()
                    checked = time.monotonic()
                time.sleep(0 if finished else POLL_SECONDS)
        finally:
            self._stop()

    def _submit_data(self, data):
        """The data task, whose result is ``data`` (kept to resubmit it)."""
        self._data_value = data
        with warnings.catch_warnings():
            # The data is in the graph on purpose: that is what lets Dask
            # recompute it when the worker holding it is lost.
            warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
            self.data = self.client.submit(
                _identity, data, key=f"skdigits-data-{uuid.uuid4().hex}", pure=False
            )

    def _submit(self):
        while self.waiting and (self.limit is None or len(self.running) < self.limit):
            candidate, fold = self.waiting.pop(0)
            tries = self.tries.get((candidate, fold), 0)
            future = self.client.submit(
                self.task,
                self.data,
                candidate,
                fold,
                self.candidates[candidate],
                key=f"skdigits-fit-{self.run_id}-{candidate}-{fold}-{tries}",
                pure=False,
            )
            self.running[future] = (candidate, fold)

    def _result(self, future):
        """The record of a finished fit; None when it was resubmitted."""
        pair = self.running.pop(future)
        if future.status == "cancelled":
            self._resubmit(pair)
            return None
        try:
            return future.result()
        except _killed_worker() as exc:
            raise ClusterGone(
                f"the fit of candidate {pair[0]} ({self.candidates[pair[0]]}) on "
                f"fold {pair[1]} took down {exc.allowed_failures + 1} Dask workers "
                "(out of memory?)"
            ) from None

    def _resubmit(self, pair):
        if self.client.status != "running":
            raise ClusterGone(f"lost the Dask scheduler at {self.address}")
        self.tries[pair] = self.tries.get(pair, 0) + 1
        if self.tries[pair] > MAX_RESUBMITS:
            raise ClusterGone(
                f"the cluster at {self.address} cancelled a fit "
                f"{MAX_RESUBMITS + 1} times"
            )
        if self.data.cancelled():  # e.g. a scheduler restarted in between
            self._submit_data(self._data_value)
        self.waiting.insert(0, pair)
        self.emit(FitResubmitted(*pair, attempt=self.tries[pair]))

    def _check_cluster(self):
        """Report lost workers; raise :class:`ClusterGone` when all are gone."""
        self._report_events()
        if self.client.status != "running":
            return  # reconnecting; a lost scheduler cancels our futures
        try:
            n_workers = len(self.client.nthreads())
        except (OSError, TimeoutError):
            return
        if n_workers:
            self._no_workers_since = None
            return
        now = time.monotonic()
        self._no_workers_since = self._no_workers_since or now
        if now - self._no_workers_since > self.worker_timeout:
            raise ClusterGone(
                f"no Dask worker left at {self.address} for {self.worker_timeout:g} s"
            )

    def _report_events(self):
        while not self.events.empty():
            _, event = self.events.get()
            if not isinstance(event, dict) or event.get("action") != "remove-worker":
                continue
            ours = f"skdigits-fit-{self.run_id}-"
            lost = set(event.get("lost-computed-tasks", ()))
            keys = set(event.get("processing-tasks", ())) | lost
            fits = sum(str(key).startswith(ours) for key in keys)
            data_lost = self.data is not None and self.data.key in lost
            self.emit(WorkerLost(str(event.get("worker")), fits, data_lost))

    def _stop(self):
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic("all")
        self._report_events()
        if self.running and self.client.status == "running":
            with contextlib.suppress(Exception):
                self.client.cancel(list(self.running))
        self.running, self.data = {}, None


def _identity(value):
    """The data task: its result is its argument, so Dask can recompute it."""
    return value


def _killed_worker():
    from distributed import KilledWorker

    return KilledWorker
