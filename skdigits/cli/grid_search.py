"""``skdigits grid-search``: a cross-validated grid search; saves the best.

The fits run in local processes (joblib's loky) or on a Dask cluster
(``--dask-scheduler``); either way each finished fit is reported as it ends and
appended to a journal beside the model, ``<--model>.fits.jsonl``, so that a run
that dies keeps what it finished and the same command resumes it.

On Dask, the training data travels as a task of its own (its result is the
data), not as scattered data: when a worker is lost, Dask recomputes whatever
it held from the task graph and reschedules its fits, where scattered data
would be gone for good. Each fit is one task that reads the data task.

The search gives what :class:`~sklearn.model_selection.GridSearchCV` gives with
the same estimator, grid and cv splitter: the same fits, the same mean scores,
ranks and best parameters, and the best candidate refit on all the data.
"""

import contextlib
import json
import logging
import os
import queue
import sys
import time
import uuid
import warnings
from pathlib import Path

import joblib
import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import ParameterGrid, StratifiedKFold
from sklearn.utils.parallel import Parallel, delayed

from skdigits import save_model
from skdigits._journal import FitJournal, fingerprint
from skdigits._persistence import check_save_path
from skdigits.cli._common import (
    CommandError,
    _cv_folds,
    _load_labelled,
    _n_jobs,
    _one_line,
    make_pipeline,
    model_options,
    train_csv_help,
)

NAME = "grid-search"

# Seconds a Dask search waits for a worker when none is left before giving up
# (read at call time, so tests can lower it).
DASK_NO_WORKERS_TIMEOUT = 30
# How often the Dask loop looks at the cluster while no fit finishes (s).
_POLL_SECONDS = 0.2
# A fit cancelled while the scheduler is still there is resubmitted this often.
_MAX_RESUBMITS = 3


def add_parser(subparsers):
    """Add ``grid-search`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(
        NAME,
        parents=[model_options()],
        help="cross-validated grid search; saves the best",
    )
    cmd.add_argument("--train", metavar="PATH", help=train_csv_help())
    cmd.add_argument(
        "--grid",
        metavar="JSON",
        required=True,
        help="JSON text or a .json file, e.g. '{\"alpha\": [1e-4, 1e-2]}'",
    )
    cmd.add_argument(
        "--cv",
        type=_cv_folds,
        default=3,
        metavar="K",
        help="number of folds (default: %(default)s)",
    )
    cmd.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        metavar="N",
        help="parallel fits (default: 1; all workers with --dask-scheduler)",
    )
    cmd.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="run the fits on this Dask cluster (e.g. tcp://host:8786), "
        "or 'local' for a 2-worker cluster on this machine "
        "(needs pip install skdigits[dask])",
    )
    cmd.add_argument(
        "--model",
        metavar="PATH",
        required=True,
        help="where to save the best model (.joblib or .skops); each finished "
        "fit is kept in PATH.fits.jsonl, and the same command run again reuses "
        "those fits",
    )
    cmd.add_argument(
        "--fresh",
        action="store_true",
        help="ignore the fits kept from an earlier run of this search and start "
        "a new journal",
    )
    cmd.set_defaults(run=run)
    return cmd


# --- the grid ---------------------------------------------------------------


def _tuples(value):
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def parse_grid(text, estimator):
    """The ``--grid`` JSON (text or a file) as a GridSearchCV grid for ``mlp__``."""
    if not text.lstrip().startswith(("{", "[")):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise CommandError(f"--grid: cannot read {text}: {exc.strerror}") from None
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--grid: not valid JSON: {exc}") from None
    grids = grid if isinstance(grid, list) else [grid]
    valid = sorted(estimator.get_params(deep=False))
    return [_parse_one_grid(one, valid) for one in grids]


def _parse_one_grid(grid, valid):
    if not isinstance(grid, dict) or not grid:
        raise CommandError(
            '--grid: expected a JSON object such as {"alpha": [0.0001, 0.01]}'
        )
    parsed = {}
    for key, values in grid.items():
        name = key.removeprefix("mlp__")
        if name not in valid or name == "callback":
            raise CommandError(
                f"--grid: unknown parameter {key!r}; valid names: "
                + ", ".join(v for v in valid if v != "callback")
            )
        if not isinstance(values, list) or not values:
            raise CommandError(
                f"--grid: {key!r} must map to a non-empty list of "
                f"candidate values, got {json.dumps(values)}"
            )
        parsed[f"mlp__{name}"] = [_tuples(value) for value in values]
    return parsed


# --- the command ------------------------------------------------------------


def run(args):
    """``skdigits grid-search``: every candidate on every fold; saves the best."""
    check_save_path(args.model)
    pipeline = make_pipeline(args)
    grid = parse_grid(args.grid, pipeline.named_steps["mlp"])
    X, y = _load_labelled(args.train, "grid-search")
    cv = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed)
    search = Search(pipeline, grid, list(cv.split(X, y)))
    journal = _open_journal(args, search, X, y)
    with journal:
        todo = search.missing(journal.fits)
        if todo:
            _run_fits(args, search, (X, y, search.splits), todo, journal)
        else:
            print(f"all {search.n_fits} fits reused; nothing to run", flush=True)
    results = search.results(journal.fits)
    _print_ranking(results)
    best = _fit(pipeline, results.best_params_, X, y)
    save_model(best, args.model)
    print(f"saved the best model (refit on all {len(y)} images) to {args.model}")


def _open_journal(args, search, X, y):
    """The journal beside ``--model``; says what it reuses, or why it does not."""
    path = Path(f"{args.model}.fits.jsonl")
    marks = fingerprint(
        X,
        y,
        search.candidates,
        search.splits,
        search.estimator.get_params(deep=False),
        "accuracy",
    )
    journal, status = FitJournal.open(
        path,
        marks,
        n_candidates=len(search.candidates),
        n_splits=len(search.splits),
        fresh=args.fresh,
    )
    if status.fresh:
        print(f"--fresh: not reusing the {status.found} fits in {path}")
    elif status.mismatch:
        what = " and ".join(_PART_NAMES[part] for part in status.mismatch)
        print(
            f"not reusing the {status.found} fits in {path}: they are from a "
            f"search with different {what}; starting a new journal"
        )
    elif status.reused:
        print(f"reusing {status.reused} of {search.n_fits} fits from {path}")
    else:
        print(f"keeping each finished fit in {path}")
    return journal


_PART_NAMES = {
    "data": "data",
    "grid": "grid",
    "cv": "cv folds",
    "estimator": "model options",
    "scoring": "scoring",
}


def _run_fits(args, search, data, todo, journal):
    """Run the fits in ``todo`` locally or on Dask, journalling each one."""
    progress = _Progress(search, journal)
    try:
        with _fit_runner(args) as runner:
            reused = search.n_fits - len(todo)
            print(
                f"fitting {len(search.splits)} folds for each of "
                f"{len(search.candidates)} candidates, {search.n_fits} fits"
                f"{f' ({reused} reused, {len(todo)} to run)' if reused else ''}, "
                f"{runner.where}",
                flush=True,
            )
            for record in runner.run(search, data, todo):
                journal.append(record)
                progress.report(record, runner.describe(record))
            runner.finish(progress.ran_on)
    except _ClusterGone as exc:
        kept = len(journal.fits)
        raise CommandError(
            f"{exc}; {kept} of {search.n_fits} fits are kept in {journal.path}: "
            "re-run the same command to resume"
        ) from None


class _ClusterGone(Exception):
    """The Dask cluster is gone (no worker, or no scheduler); the message says."""


class _Progress:
    """Prints each finished fit as ``[done/total]`` and counts where fits ran."""

    def __init__(self, search, journal):
        self.search = search
        self.done = len(journal.fits)
        self.ran_on = {}

    def report(self, record, line):
        self.done += 1
        where = record["where"]
        self.ran_on[where] = self.ran_on.get(where, 0) + 1
        params = _format_params(self.search.candidates[record["candidate"]])
        print(f"  [{self.done}/{self.search.n_fits}] {line}  {params}", flush=True)


# --- the search -------------------------------------------------------------


class Search:
    """The candidates-by-folds table of a grid search, and its results.

    Parameters
    ----------
    estimator : estimator
        The base estimator, cloned for every fit.
    grid : dict or list of dict
        A ``param_grid`` as :class:`~sklearn.model_selection.GridSearchCV`
        takes it.
    splits : list of (ndarray, ndarray)
        The ``(train, test)`` indices of every cv fold.
    """

    def __init__(self, estimator, grid, splits):
        self.estimator = estimator
        self.candidates = list(ParameterGrid(grid))
        self.splits = splits

    @property
    def n_fits(self):
        return len(self.candidates) * len(self.splits)

    def missing(self, fits):
        """``(candidate, fold)`` pairs not in ``fits``, in GridSearchCV's order."""
        return [
            (candidate, fold)
            for candidate in range(len(self.candidates))
            for fold in range(len(self.splits))
            if (candidate, fold) not in fits
        ]

    def results(self, fits):
        """GridSearchCV's results, computed as it computes them, from ``fits``."""
        shape = (len(self.candidates), len(self.splits))
        table = {
            name: np.array(
                [fits[pair][name] for pair in np.ndindex(shape)], dtype=np.float64
            ).reshape(shape)
            for name in ("test_score", "fit_time", "score_time")
        }
        return SearchResults(self.candidates, table)


class SearchResults:
    """``cv_results_`` and the best candidate, as GridSearchCV computes them.

    Parameters
    ----------
    candidates : list of dict
        The parameter settings, in search order.
    table : dict of str to ndarray of shape (n_candidates, n_splits)
        ``test_score``, ``fit_time`` and ``score_time`` of every fit.

    Attributes
    ----------
    cv_results_ : dict of str to ndarray or list
        ``params``, ``split<k>_test_score``, ``mean_/std_test_score``,
        ``rank_test_score``, ``mean_/std_fit_time`` and ``mean_/std_score_time``.
    best_index_ : int
    best_params_ : dict
    best_score_ : float
    """

    def __init__(self, candidates, table):
        results = {"params": candidates}
        for k, column in enumerate(table["test_score"].T):
            results[f"split{k}_test_score"] = column
        for name, array in table.items():
            mean = np.average(array, axis=1)
            results[f"mean_{name}"] = mean
            results[f"std_{name}"] = np.sqrt(
                np.average((array - mean[:, np.newaxis]) ** 2, axis=1)
            )
        mean_score = results["mean_test_score"]
        results["rank_test_score"] = rankdata(-mean_score, method="min").astype(
            np.int32
        )
        self.cv_results_ = results
        self.best_index_ = int(results["rank_test_score"].argmin())
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(mean_score[self.best_index_])


def _fit(estimator, params, X, y):
    """A fresh copy of ``estimator`` with ``params``, fitted (--epochs is the plan:
    no ConvergenceWarning)."""
    model = clone(estimator).set_params(**clone(params, safe=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def fit_and_score(estimator, params, data, candidate, fold):
    """Fit a clone of ``estimator`` with ``params`` on one fold; score it.

    This runs where the fit runs (a local process or a Dask worker).

    Parameters
    ----------
    estimator : estimator
        The base estimator (cloned here).
    params : dict
        The candidate's parameters.
    data : tuple
        ``(X, y, splits)``: the data and every fold's ``(train, test)`` indices.
    candidate, fold : int
        Which candidate and which fold, returned in the record.

    Returns
    -------
    record : dict
        ``candidate``, ``fold``, ``params``, ``test_score`` (accuracy on the
        fold's test rows), ``fit_time``, ``score_time`` (seconds) and ``where``
        (the Dask worker's address, or ``process <pid>``).
    """
    X, y, splits = data
    train, test = splits[fold]
    start = time.perf_counter()
    model = _fit(estimator, params, X[train], y[train])
    fit_time = time.perf_counter() - start
    score = float(accuracy_score(y[test], model.predict(X[test])))
    return {
        "candidate": candidate,
        "fold": fold,
        "params": params,  # made plain JSON by FitJournal.append
        "test_score": score,
        "fit_time": fit_time,
        "score_time": time.perf_counter() - start - fit_time,
        "where": _where(),
    }


def _where():
    """The Dask worker's address when run by one, else ``process <pid>``."""
    distributed = sys.modules.get("distributed")  # a worker has imported it
    if distributed is not None:
        with contextlib.suppress(ValueError):
            return distributed.get_worker().address
    return f"process {os.getpid()}"


def _format_params(params):
    return ", ".join(
        f"{key.removeprefix('mlp__')}={value!r}"
        for key, value in sorted(params.items())
    )


def _print_ranking(search):
    results = search.cv_results_
    print("\nrank  accuracy (std)    fit time  parameters")
    for i in np.argsort(results["rank_test_score"], kind="stable"):
        mean, std = results["mean_test_score"][i], results["std_test_score"][i]
        print(
            f"{results['rank_test_score'][i]:>4}  {mean:.4f} ({std:.4f})  "
            f"{results['mean_fit_time'][i]:7.1f}s  "
            f"{_format_params(results['params'][i])}"
        )
    print(
        f"best: {_format_params(search.best_params_)} "
        f"(mean cv accuracy {search.best_score_:.4f})"
    )


# --- where the fits run -----------------------------------------------------


@contextlib.contextmanager
def _fit_runner(args):
    """A :class:`_LocalFits` or a :class:`_DaskFits`, for the options."""
    if args.dask_scheduler is None:
        yield _LocalFits(args.n_jobs or 1)
        return
    # Dask's nanny starts every worker with OPENBLAS_NUM_THREADS=1 (checked),
    # so nothing is changed on the workers: an external cluster is left as found.
    client, cluster = _connect_dask(args.dask_scheduler)
    # Lost workers and a lost scheduler are reported by us, in a line each.
    with _quiet_distributed():
        try:
            yield _DaskFits(client, args.dask_scheduler, args.n_jobs)
        finally:
            _close(client, cluster)


@contextlib.contextmanager
def _quiet_distributed():
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


def _close(client, cluster):
    with contextlib.suppress(Exception):  # a lost scheduler cannot be said goodbye
        client.close(timeout=2)
    if cluster is not None:
        cluster.close()


class _LocalFits:
    """Fits in this process (``n_jobs=1``) or in loky worker processes."""

    def __init__(self, n_jobs):
        self.n_jobs = n_jobs
        self.where = f"in {'1 process' if n_jobs == 1 else f'{n_jobs} jobs'}"

    def run(self, search, data, todo):
        """Yield the record of each fit in ``todo`` as it finishes."""
        with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
            parallel = Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")
            yield from parallel(
                delayed(fit_and_score)(
                    search.estimator, search.candidates[c], data, c, f
                )
                for c, f in todo
            )

    @staticmethod
    def describe(record):
        score = record["test_score"]
        return f"fit done in {record['where']}: fold accuracy {score:.4f}"

    def finish(self, ran_on):
        pass


class _DaskFits:
    """Fits as Dask tasks, each reading one task whose result is the data.

    Dask reschedules the fits of a lost worker and recomputes the data task
    wherever it is needed again; this class reports each loss, resubmits a fit
    cancelled while the scheduler is still there, and raises
    :class:`_ClusterGone` when the scheduler or every worker is gone.
    """

    def __init__(self, client, address, n_jobs):
        self.client = client
        self.address = address if address != "local" else client.scheduler.address
        self.limit = None if n_jobs in (None, -1) else max(n_jobs, 1)
        self.run_id = uuid.uuid4().hex[:12]
        workers = client.nthreads()
        self.where = f"on the Dask cluster at {self.address} ({len(workers)} workers)"
        self.events = queue.Queue()
        self._no_workers_since = None

    @staticmethod
    def describe(record):
        return f"fold accuracy {record['test_score']:.4f} on {record['where']}"

    def run(self, search, data, todo):
        """Yield the record of each fit in ``todo`` as it finishes."""
        self.client.subscribe_topic("all", self.events.put)
        self._submit_data(data)
        self.waiting, self.running, self.tries = list(todo), {}, {}
        checked = time.monotonic()
        try:
            while self.waiting or self.running:
                self._submit(search)
                finished = [f for f in self.running if f.done()]
                for future in finished:
                    record = self._result(future, search)
                    if record is not None:
                        yield record
                if not finished and time.monotonic() - checked > 1:
                    self._check_cluster()
                    checked = time.monotonic()
                time.sleep(0 if finished else _POLL_SECONDS)
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

    def _submit(self, search):
        while self.waiting and (self.limit is None or len(self.running) < self.limit):
            candidate, fold = self.waiting.pop(0)
            future = self.client.submit(
                fit_and_score,
                search.estimator,
                search.candidates[candidate],
                self.data,
                candidate,
                fold,
                key=f"skdigits-fit-{self.run_id}-{candidate}-{fold}-"
                f"{self.tries.get((candidate, fold), 0)}",
                pure=False,
            )
            self.running[future] = (candidate, fold)

    def _result(self, future, search):
        """The record of a finished fit; None when it was resubmitted."""
        pair = self.running.pop(future)
        if future.status == "cancelled":
            if self.client.status != "running":
                raise _ClusterGone(f"lost the Dask scheduler at {self.address}")
            self.tries[pair] = self.tries.get(pair, 0) + 1
            if self.tries[pair] > _MAX_RESUBMITS:
                raise _ClusterGone(
                    f"the cluster at {self.address} cancelled a fit "
                    f"{_MAX_RESUBMITS + 1} times"
                )
            if self.data.cancelled():  # e.g. a scheduler restarted in between
                self._submit_data(self._data_value)
            self.waiting.insert(0, pair)
            return None
        try:
            return future.result()
        except _killed_worker() as exc:
            params = _format_params(search.candidates[pair[0]])
            raise _ClusterGone(
                f"the fit of {params} on fold {pair[1]} took down "
                f"{exc.allowed_failures + 1} Dask workers (out of memory?)"
            ) from None

    def _check_cluster(self):
        """Report lost workers; raise :class:`_ClusterGone` when all are gone."""
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
        timeout = DASK_NO_WORKERS_TIMEOUT
        if now - self._no_workers_since > timeout:
            raise _ClusterGone(f"no Dask worker left at {self.address} for {timeout} s")

    def _report_events(self):
        while not self.events.empty():
            _, event = self.events.get()
            if not isinstance(event, dict) or event.get("action") != "remove-worker":
                continue
            ours = f"skdigits-fit-{self.run_id}-"
            keys = set(event.get("processing-tasks", ())) | set(
                event.get("lost-computed-tasks", ())
            )
            fits = sum(str(key).startswith(ours) for key in keys)
            data = self.data.key in set(event.get("lost-computed-tasks", ()))
            print(
                f"  lost worker {event.get('worker')}: {fits} of its fits "
                "rescheduled"
                + ("; the training data it held is recomputed" if data else ""),
                flush=True,
            )

    def _stop(self):
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic("all")
        self._report_events()
        if self.running and self.client.status == "running":
            with contextlib.suppress(Exception):
                self.client.cancel(list(self.running))
        self.running, self.data = {}, None

    def finish(self, ran_on):
        print(
            "fits ran on: "
            + ", ".join(f"{where} ({n} fits)" for where, n in sorted(ran_on.items()))
        )


def _identity(value):
    """The data task: its result is its argument, so Dask can recompute it."""
    return value


def _killed_worker():
    from distributed import KilledWorker

    return KilledWorker


def _connect_dask(address):
    """``(client, cluster)``; the cluster is ours to close for ``"local"``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(
            "--dask-scheduler needs dask.distributed: pip install skdigits[dask]"
        ) from None
    if address == "local":
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        return Client(cluster), cluster
    timeout = _connect_timeout()
    try:
        with _quiet_distributed():
            return Client(address, timeout=timeout), None
    except (OSError, ValueError, TypeError) as exc:
        raise CommandError(
            f"--dask-scheduler: cannot reach a Dask scheduler at "
            f"{address} within {timeout} s "
            f"({_one_line(exc)})"
        ) from None


def _connect_timeout():
    """``skdigits.cli.DASK_CONNECT_TIMEOUT``, read when connecting (tests lower it)."""
    from skdigits import cli

    return cli.DASK_CONNECT_TIMEOUT
