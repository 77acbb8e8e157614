"""``skdigits grid-search``: a cross-validated grid search; saves the best.

A thin front end over :class:`~skdigits.model_selection.ResumableGridSearchCV`:
it parses the options, prints the search's events as they come, and saves the
best model. Each finished fit is kept in ``<--model>.fits.jsonl``, so a run
that dies keeps what it finished and the same command resumes it; with
``--dask-scheduler`` the fits run on a Dask cluster that may lose workers.
"""

import argparse
import contextlib
import json
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import StratifiedKFold

from skdigits import save_model
from skdigits._persistence import check_save_path
from skdigits._recipes import RECIPES
from skdigits.cli._common import (
    DEFAULT_RECIPE,
    JOBLIB_NOTE,
    CommandError,
    _cv_folds,
    _load_labelled,
    _n_jobs,
    _one_line,
    _positive_float,
    add_member_argument,
    make_pipeline,
    member_default_help,
    model_options,
    naming,
    refuse_overwriting_inputs,
    train_csv_help,
)
from skdigits.model_selection import (
    ClusterLostError,
    FitDone,
    FitResubmitted,
    JournalOpened,
    ResumableGridSearchCV,
    SearchDone,
    SearchStarted,
    WorkerLost,
    _runners,
)

NAME = "grid-search"


def _scoring(text):
    if text not in get_scorer_names():
        raise argparse.ArgumentTypeError(
            f"unknown scorer {text!r}; see sklearn.metrics.get_scorer_names(), "
            "e.g. accuracy, balanced_accuracy, f1_macro, neg_log_loss"
        )
    return text


# fmt: off
def add_parser(subparsers):
    """Add ``grid-search`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(NAME, parents=[model_options()],
                                help="cross-validated grid search; saves the best")
    add = cmd.add_argument
    add("--recipe", choices=sorted(RECIPES), default=None,
        help=f"the base model's recipe (default: {DEFAULT_RECIPE}), as in train")
    add("--train", metavar="PATH", help=train_csv_help())
    add_member_argument(cmd, "--train", member_default_help("training"))
    add("--grid", metavar="JSON", required=True,
        help="JSON text or a .json file, e.g. '{\"alpha\": [1e-4, 1e-2]}'")
    add("--cv", type=_cv_folds, default=3, metavar="K",
        help="number of folds (default: %(default)s)")
    add("--scoring", type=_scoring, default="accuracy", metavar="NAME",
        help="a scikit-learn scorer name (default: %(default)s)")
    add("--n-jobs", type=_n_jobs, default=None, metavar="N",
        help="parallel fits (default: 1; all workers with --dask-scheduler)")
    add("--dask-scheduler", metavar="ADDRESS",
        help="run the fits on this Dask cluster (e.g. tcp://host:8786), or "
        "'local' for a 2-worker cluster on this machine (needs pip install "
        "skdigits[dask])")
    add("--dask-worker-timeout", type=_positive_float, metavar="S",
        default=_runners.NO_WORKERS_TIMEOUT,
        help="seconds to wait for a Dask worker when none is left "
        "(default: %(default)g)")
    add("--model", metavar="PATH", required=True,
        help=f"where to save the best model (.skops or .joblib; {JOBLIB_NOTE}); "
        "each finished fit is kept in PATH.fits.jsonl, and the same command run "
        "again reuses those fits")
    add("--fresh", action="store_true",
        help="ignore the fits kept from an earlier run of this search and start "
        "a new journal")
    cmd.set_defaults(run=run)
    return cmd
# fmt: on


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
    valid = [v for v in sorted(estimator.get_params(deep=False)) if v != "callback"]
    return [_parse_one_grid(one, valid) for one in grids]


def _parse_one_grid(grid, valid):
    if not isinstance(grid, dict) or not grid:
        raise CommandError(
            '--grid: expected a JSON object such as {"alpha": [0.0001, 0.01]}'
        )
    parsed = {}
    for key, values in grid.items():
        name = key.removeprefix("mlp__")
        if name not in valid:
            raise CommandError(
                f"--grid: unknown parameter {key!r}; valid names: {', '.join(valid)}"
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
    with naming("--model"):
        check_save_path(args.model)
    refuse_overwriting_inputs("--model", args.model, {"--train": args.train})
    pipeline = make_pipeline(args)
    grid = parse_grid(args.grid, pipeline.named_steps["mlp"])
    X, y = _load_labelled(args.train, "--train", NAME, member=args.member)
    with _dask_client(args.dask_scheduler) as client:
        search = ResumableGridSearchCV(
            pipeline,
            grid,
            scoring=args.scoring,
            n_jobs=args.n_jobs,
            cv=StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed),
            error_score="raise",
            journal=f"{args.model}.fits.jsonl",
            fresh=args.fresh,
            dask=client,
            worker_timeout=args.dask_worker_timeout,
            on_event=Printer(args.scoring),
        )
        try:
            with warnings.catch_warnings():  # --epochs is the plan
                warnings.simplefilter("ignore", ConvergenceWarning)
                search.fit(X, y)
        except ClusterLostError as exc:
            raise CommandError(
                f"{exc.reason}; {exc.n_kept} of {exc.n_fits} fits are kept in "
                f"{exc.journal}: re-run the same command to resume"
            ) from None
    _print_ranking(search, args.scoring)
    with naming("--model"):
        save_model(search.best_estimator_, args.model)
    print(f"saved the best model (refit on all {len(y)} images) to {args.model}")


@contextlib.contextmanager
def _dask_client(address):
    """None, or a client of ``--dask-scheduler`` (``local``: a cluster of ours)."""
    if address is None:
        yield None
        return
    _runners.import_distributed("--dask-scheduler")
    if address == "local":
        with _runners.local_client(n_workers=2) as client:
            yield client
        return
    from skdigits import cli  # its DASK_CONNECT_TIMEOUT, read now (tests lower it)

    timeout = cli.DASK_CONNECT_TIMEOUT
    try:
        client = _runners.connect(address, timeout=timeout)
    except (OSError, ValueError, TypeError) as exc:
        raise CommandError(
            f"--dask-scheduler: cannot reach a Dask scheduler at {address} "
            f"within {timeout} s ({_one_line(exc)})"
        ) from None
    # a lost scheduler is one line, ours
    with _runners.quiet_distributed(), _runners.closing(client):
        yield client


# --- printing ---------------------------------------------------------------


_PART_NAMES = {"cv": "cv folds", "estimator": "model options"}


class Printer:
    """The search's ``on_event``: one line per event, as the command prints it."""

    def __init__(self, scoring):
        self.scoring = scoring
        self.backend = None
        self.lines = {
            JournalOpened: self.journal_opened,
            SearchStarted: self.search_started,
            FitDone: self.fit_done,
            WorkerLost: self.worker_lost,
            FitResubmitted: self.fit_resubmitted,
            SearchDone: self.search_done,
        }

    def __call__(self, event):
        line = self.lines.get(type(event), lambda event: None)(event)
        if line is not None:
            print(line, flush=True)

    def journal_opened(self, e):
        if e.fresh:
            return f"--fresh: not reusing the {e.found} fits in {e.path}"
        if e.mismatch:
            what = " and ".join(_PART_NAMES.get(part, part) for part in e.mismatch)
            return (
                f"not reusing the {e.found} fits in {e.path}: they are from a "
                f"search with different {what}; starting a new journal"
            )
        if e.reused:
            return f"reusing {e.reused} of {e.n_fits} fits from {e.path}"
        return f"keeping each finished fit in {e.path}"

    def search_started(self, e):
        self.backend = e.backend
        if e.where is None:
            return f"all {e.n_fits} fits reused; nothing to run"
        todo = e.n_fits - e.n_reused
        reused = f" ({e.n_reused} reused, {todo} to run)" if e.n_reused else ""
        return (
            f"fitting {e.n_splits} folds for each of {e.n_candidates} candidates, "
            f"{e.n_fits} fits{reused}, {e.where}"
        )

    def fit_done(self, e):
        score = f"fold {self.scoring} {e.record['test_score']:.4f}"
        if self.backend == "dask":
            line = f"{score} on {e.where}"
        else:
            line = f"fit done in {e.where}: {score}"
        return f"  [{e.done}/{e.total}] {line}  {_format_params(e.record['params'])}"

    def worker_lost(self, e):
        data = "; the training data it held is recomputed" if e.data_lost else ""
        return (
            f"  lost worker {e.worker}: {e.n_rescheduled} of its fits rescheduled{data}"
        )

    def fit_resubmitted(self, e):
        return f"  resubmitting the fit of candidate {e.candidate} on fold {e.fold}"

    def search_done(self, e):
        if self.backend == "dask" and e.ran_on:
            ran_on = ", ".join(f"{where} ({n} fits)" for where, n in e.ran_on)
            return f"fits ran on: {ran_on}"
        return None


def _format_params(params):
    return ", ".join(
        f"{key.removeprefix('mlp__')}={value!r}"
        for key, value in sorted(params.items())
    )


def _print_ranking(search, scoring):
    results = search.cv_results_
    print(f"\nrank  {scoring} (std)    fit time  parameters")
    for i in np.argsort(results["rank_test_score"], kind="stable"):
        mean, std = results["mean_test_score"][i], results["std_test_score"][i]
        print(
            f"{results['rank_test_score'][i]:>4}  {mean:.4f} ({std:.4f})  "
            f"{results['mean_fit_time'][i]:7.1f}s  "
            f"{_format_params(results['params'][i])}"
        )
    print(
        f"best: {_format_params(search.best_params_)} "
        f"(mean cv {scoring} {search.best_score_:.4f})"
    )
