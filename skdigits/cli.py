"""The ``skdigits`` command line: train, evaluate, predict and grid-search.

Every command reads MNIST CSV files (``label,1x1,...,28x28`` or Kaggle's
``label,pixel0,...``; a file without the label column works wherever labels are
not needed) and model files written by :func:`skdigits.save_model`.

Errors a user can act on (a missing file, a bad option value, a file that is not
a model) print one line, ``skdigits: error: ...``, on stderr and exit with
status 2; output files are written to a temporary file and renamed, so a failed
run leaves an existing file as it was.

>>> main(["train", "--hidden", "0", "--model", "m.joblib"])
2
"""

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import uuid
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.pipeline import Pipeline

from skdigits import NumpyMLPClassifier, PixelScaler, load_model, save_model
from skdigits._activations import ACTIVATIONS
from skdigits._atomic import atomic_output
from skdigits._persistence import check_save_path
from skdigits.datasets import load_mnist_csv, load_mnist_sample, sample_path
from skdigits.preprocessing import image_to_mnist

# Defaults of `skdigits train` (and the base model of `skdigits grid-search`).
DEFAULT_HIDDEN = (512, 256)
DEFAULT_ACTIVATION = "relu"
DEFAULT_SOLVER = "adam"
DEFAULT_EPOCHS = 30
DEFAULT_BATCH_SIZE = 128
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_ALPHA = 1e-4
DEFAULT_DROPOUT = 0.2
DEFAULT_EARLY_STOPPING = False
DEFAULT_SEED = 0

SOLVERS = ("adam", "sgd", "lbfgs")
# Seconds to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT = 5


class CommandError(ValueError):
    """A problem with the user's input, reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: ``skdigits: error: ...``."""

    def error(self, message):
        self.exit(2, f"skdigits: error: {_one_line(message)}\n")


def _one_line(text):
    return " ".join(str(text).split())


# --- argument types ---------------------------------------------------------


def _int(text, minimum, what):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def _positive_int(text):
    return _int(text, 1, "a positive integer")


def _seed(text):
    return _int(text, 0, "a non-negative integer seed")


def _cv_folds(text):
    return _int(text, 2, "a number of folds >= 2")


def _n_jobs(text):
    value = _int(text, -(2**31), "an integer (-1 for all cores)")
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (use -1 for all cores)")
    return value


def _float(text, low, high, what):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not (np.isfinite(value) and low(value) and high(value)):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def _positive_float(text):
    return _float(text, lambda v: v > 0, lambda v: True, "a positive number")


def _non_negative_float(text):
    return _float(text, lambda v: v >= 0, lambda v: True, "a number >= 0")


def _dropout(text):
    return _float(text, lambda v: v >= 0, lambda v: v < 1, "a rate in [0, 1)")


def _hidden(text):
    """``"256,128"`` -> ``(256, 128)``, each size a positive integer."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 256,128, got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"layer sizes must be positive integers, got {text!r}"
        )
    return sizes


def _activation(text):
    """A name from the registry, or comma-separated names (one per hidden layer)."""
    names = text.split(",")
    unknown = [name for name in names if name not in ACTIVATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown activation {unknown[0]!r}; choose from "
            + ", ".join(sorted(ACTIVATIONS))
        )
    return names[0] if len(names) == 1 else names


# --- the parser -------------------------------------------------------------


def _model_options():
    """Options shared by train and grid-search: the pipeline's hyper-parameters."""
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("model")
    add = group.add_argument
    add(
        "--hidden",
        type=_hidden,
        default=DEFAULT_HIDDEN,
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (default: "
        f"{','.join(map(str, DEFAULT_HIDDEN))})",
    )
    add(
        "--activation",
        type=_activation,
        default=DEFAULT_ACTIVATION,
        metavar="NAME",
        help="activation, or one per hidden layer comma-separated; "
        f"one of {', '.join(sorted(ACTIVATIONS))} (default: %(default)s)",
    )
    add(
        "--solver",
        choices=SOLVERS,
        default=DEFAULT_SOLVER,
        help="optimizer (default: %(default)s)",
    )
    add(
        "--epochs",
        type=_positive_int,
        default=DEFAULT_EPOCHS,
        metavar="N",
        help="maximum number of epochs (default: %(default)s)",
    )
    add(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help="minibatch size (default: %(default)s)",
    )
    add(
        "--learning-rate",
        type=_positive_float,
        default=DEFAULT_LEARNING_RATE,
        metavar="F",
        help="initial learning rate (default: %(default)s)",
    )
    add(
        "--alpha",
        type=_non_negative_float,
        default=DEFAULT_ALPHA,
        metavar="F",
        help="L2 penalty (default: %(default)s)",
    )
    add(
        "--dropout",
        type=_dropout,
        default=DEFAULT_DROPOUT,
        metavar="F",
        help="dropout rate of the hidden layers (default: %(default)s)",
    )
    add(
        "--early-stopping",
        action="store_true",
        default=DEFAULT_EARLY_STOPPING,
        help="hold out 10%% of the training data and stop when its accuracy "
        "stops improving",
    )
    add(
        "--seed",
        type=_seed,
        default=DEFAULT_SEED,
        metavar="N",
        help="random seed: same seed, same data -> same model (default: %(default)s)",
    )
    return parent


def build_parser():
    """The argparse parser of the ``skdigits`` command."""
    parser = _Parser(
        prog="skdigits", description="Train and use MLP classifiers on MNIST CSV files."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    model = _model_options()
    train_help = f"training CSV (default: the bundled sample, {sample_path().name})"

    cmd = commands.add_parser("train", parents=[model], help="train and save a model")
    cmd.add_argument("--train", metavar="PATH", help=train_help)
    cmd.add_argument(
        "--test",
        metavar="PATH",
        help="labelled CSV to report accuracy on (default without --train: the "
        "bundled test sample)",
    )
    cmd.add_argument(
        "--model",
        metavar="PATH",
        required=True,
        help="where to save the model (.joblib or .skops)",
    )
    cmd.set_defaults(run=run_train)

    cmd = commands.add_parser("evaluate", help="accuracy, report, confusion matrix")
    cmd.add_argument("--model", metavar="PATH", required=True)
    cmd.add_argument("--data", metavar="PATH", required=True, help="labelled CSV")
    cmd.add_argument(
        "--plots",
        metavar="DIR",
        help="also write PNG plots here "
        "(needs matplotlib: pip install skdigits[plots])",
    )
    cmd.set_defaults(run=run_evaluate)

    cmd = commands.add_parser("predict", help="write a Kaggle submission CSV")
    cmd.add_argument("--model", metavar="PATH", required=True)
    cmd.add_argument(
        "--data",
        metavar="PATH",
        required=True,
        help="CSV with or without the label column",
    )
    cmd.add_argument(
        "--output", metavar="PATH", required=True, help="submission file: ImageId,Label"
    )
    cmd.set_defaults(run=run_predict)

    cmd = commands.add_parser(
        "predict-image",
        help="classify image files (needs Pillow: pip install skdigits[images])",
    )
    cmd.add_argument("--model", metavar="PATH", required=True)
    cmd.add_argument("images", metavar="IMAGE", nargs="+")
    cmd.set_defaults(run=run_predict_image)

    cmd = commands.add_parser(
        "grid-search",
        parents=[model],
        help="cross-validated grid search; saves the best",
    )
    cmd.add_argument("--train", metavar="PATH", help=train_help)
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
        help="where to save the best model (.joblib or .skops)",
    )
    cmd.set_defaults(run=run_grid_search)
    return parser


def main(argv=None):
    """Run the ``skdigits`` command line; return the exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.error(
                "choose a command: train, evaluate, predict, predict-image "
                "or grid-search (see skdigits --help)"
            )
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code
    try:
        args.run(args)
    except (ValueError, OSError, ImportError) as exc:
        print(f"skdigits: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skdigits: interrupted", file=sys.stderr)
        return 130
    return 0


# --- shared helpers ---------------------------------------------------------


def _load_labelled(path, command):
    """``(X, y)`` from a CSV that must have labels; the bundled sample if None."""
    if path is None:
        return load_mnist_sample("train")
    X, y = load_mnist_csv(path)
    if y is None:
        raise CommandError(f"{path} has no label column; {command} needs labels")
    return X, y


def _load_model(path):
    model = load_model(path)
    if not hasattr(model, "predict"):
        raise CommandError(f"{path} does not hold a classifier (no predict method)")
    return model


def make_pipeline(args):
    """The model: ``PixelScaler`` then ``NumpyMLPClassifier`` with the options."""
    mlp = NumpyMLPClassifier(
        hidden_layer_sizes=args.hidden,
        activation=args.activation,
        solver=args.solver,
        max_iter=args.epochs,
        batch_size=args.batch_size,
        learning_rate_init=args.learning_rate,
        alpha=args.alpha,
        dropout=args.dropout,
        early_stopping=args.early_stopping,
        random_state=args.seed,
    )
    return Pipeline([("scale", PixelScaler()), ("mlp", mlp)])


def _format_seconds(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


# --- train ------------------------------------------------------------------


class EpochProgress:
    """The classifier's ``callback``: one line per epoch, with the time left."""

    def __init__(self, file=None):
        self.file = file
        self.seconds = []

    def __call__(self, info):
        self.seconds.append(info["seconds"])
        left = np.mean(self.seconds) * (info["max_iter"] - info["epoch"])
        val = info.get("validation_score")
        val = "-" if val is None else f"{val:.4f}"
        width = len(str(info["max_iter"]))
        print(
            f"epoch {info['epoch']:>{width}}/{info['max_iter']}  "
            f"loss {info['loss']:.4f}  val_acc {val}  "
            f"{info['seconds']:.1f}s  left {_format_seconds(left)}",
            file=self.file or sys.stdout,
            flush=True,
        )


def _test_set(args):
    """The held-out set of ``train``: --test, or the bundled test sample when
    training on the bundled training sample (never the training data itself)."""
    if args.test is not None:
        return _load_labelled(args.test, "train --test"), args.test
    if args.train is None:
        return load_mnist_sample(
            "test"
        ), f"the bundled sample ({sample_path('test').name})"
    return None, None


def run_train(args):
    """``skdigits train``: fit the pipeline, report accuracy, save it."""
    check_save_path(args.model)  # fail before a long fit, not after
    X, y = _load_labelled(args.train, "train")
    test, test_source = _test_set(args)
    source = args.train or f"the bundled sample ({sample_path().name})"
    print(f"training on {len(y)} images from {source}")
    if args.solver == "lbfgs":
        print("(lbfgs reports no per-epoch progress)")
    model = make_pipeline(args)
    model.set_params(mlp__callback=EpochProgress())
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # --epochs is the plan
        model.fit(X, y)
    model.set_params(mlp__callback=None)  # so that the model pickles
    print(f"trained in {_format_seconds(time.perf_counter() - start)}")
    print(f"train accuracy: {model.score(X, y):.4f}")
    if test is not None:
        print(f"test accuracy: {model.score(*test):.4f} ({test_source})")
    save_model(model, args.model)
    print(f"saved model to {args.model}")


# --- evaluate ---------------------------------------------------------------


def _format_confusion(matrix, labels):
    width = max(5, len(str(matrix.max())) + 1)
    lines = ["true \\ predicted"]
    lines.append("      " + "".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, matrix):
        lines.append(f"{label:>5} " + "".join(f"{n:>{width}}" for n in row))
    return "\n".join(lines)


def run_evaluate(args):
    """``skdigits evaluate``: accuracy, classification report, confusion matrix."""
    if args.plots is not None:
        from skdigits._cli_plots import require_matplotlib

        require_matplotlib()
    model = _load_model(args.model)
    X, y = _load_labelled(args.data, "evaluate")
    y_pred = model.predict(X)
    labels = np.unique(np.concatenate([y, y_pred]))
    matrix = confusion_matrix(y, y_pred, labels=labels)
    print(
        f"accuracy: {accuracy_score(y, y_pred):.4f} "
        f"({int(np.trace(matrix))}/{len(y)} images of {args.data})\n"
    )
    print(classification_report(y, y_pred, labels=labels, digits=4))
    print(_format_confusion(matrix, labels))
    if args.plots is not None:
        from skdigits._cli_plots import write_plots

        for path in write_plots(model, X, y, args.plots):
            print(f"wrote {path}")


# --- predict ----------------------------------------------------------------


def run_predict(args):
    """``skdigits predict``: a Kaggle submission, ``ImageId,Label``."""
    model = _load_model(args.model)
    X, _ = load_mnist_csv(args.data)
    labels = model.predict(X)
    rows = [f"{i},{label}" for i, label in enumerate(labels, start=1)]
    with atomic_output(args.output) as file:
        file.write("ImageId,Label\n" + "\n".join(rows) + "\n")
    print(f"wrote {len(rows)} predictions to {args.output}")


def run_predict_image(args):
    """``skdigits predict-image``: the digit in each image and its probability."""
    model = _load_model(args.model)
    for path in args.images:
        try:
            x = image_to_mnist(path)
        except (OSError, ValueError) as exc:
            message = _one_line(exc)
            raise CommandError(
                message if str(path) in message else f"{path}: {message}"
            ) from exc
        proba = model.predict_proba(x.reshape(1, -1))[0]
        best = int(np.argmax(proba))
        print(f"{path}: {model.classes_[best]} (probability {proba[best]:.3f})")


# --- grid-search ------------------------------------------------------------


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


def run_grid_search(args):
    """``skdigits grid-search``: GridSearchCV over the pipeline; saves the best."""
    check_save_path(args.model)
    pipeline = make_pipeline(args)
    grid = parse_grid(args.grid, pipeline.named_steps["mlp"])
    X, y = _load_labelled(args.train, "grid-search")
    cv = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed)
    n_candidates = len(ParameterGrid(grid))
    keys = sorted({key for one in grid for key in one})
    with _search_backend(args, keys) as (n_jobs, reporter):
        search = GridSearchCV(
            pipeline,
            grid,
            cv=cv,
            n_jobs=n_jobs,
            refit=True,
            scoring=reporter.scorer,
            error_score="raise",
        )
        print(
            f"fitting {args.cv} folds for each of {n_candidates} candidates, "
            f"{args.cv * n_candidates} fits, {reporter.where}",
            flush=True,
        )
        reporter.start(args.cv * n_candidates)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X, y)
        reporter.finish()
    _print_ranking(search)
    save_model(search.best_estimator_, args.model)
    print(f"saved the best model (refit on all {len(y)} images) to {args.model}")


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


class FitScorer:
    """GridSearchCV's scorer: accuracy, plus a report of each finished fit.

    It runs where the fit ran, right after it.  In a Dask worker it logs an
    event (worker address, parameters, accuracy) under ``topic`` for the client
    to print; elsewhere it prints the line itself.
    """

    def __init__(self, keys, topic=None):
        self.keys = keys
        self.topic = topic

    def __call__(self, estimator, X, y):
        score = float(accuracy_score(y, estimator.predict(X)))
        params = estimator.get_params()
        text = _format_params({key: params[key] for key in self.keys})
        worker = _dask_worker()
        if worker is not None and self.topic is not None:
            worker.log_event(
                self.topic, {"worker": worker.address, "params": text, "score": score}
            )
        else:
            print(
                f"  fit done in process {os.getpid()}: fold accuracy {score:.4f}  "
                f"{text}",
                flush=True,
            )
        return score


def _dask_worker():
    """The Dask worker running this code, or None (without importing dask)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_worker()
    except ValueError:
        return None


class _LocalReporter:
    def __init__(self, keys, n_jobs):
        self.scorer = FitScorer(keys)
        self.where = f"in {'1 process' if n_jobs == 1 else f'{n_jobs} jobs'}"

    def start(self, n_fits):
        pass

    def finish(self):
        pass


class _DaskReporter:
    """Prints each fit as its event arrives, then where all the fits ran."""

    def __init__(self, client, keys):
        self.client = client
        self.topic = f"skdigits-grid-search-{uuid.uuid4().hex}"
        self.scorer = FitScorer(keys, self.topic)
        workers = client.scheduler_info()["workers"]
        self.where = (
            f"on the Dask cluster at {client.scheduler.address} "
            f"({len(workers)} workers)"
        )
        self.n_fits = self.done = 0

    def start(self, n_fits):
        self.n_fits = n_fits
        self.client.subscribe_topic(self.topic, self._on_event)

    def _on_event(self, event):
        _, msg = event
        self.done += 1
        print(
            f"  [{self.done}/{self.n_fits}] fold accuracy {msg['score']:.4f} on "
            f"{msg['worker']}  {msg['params']}",
            flush=True,
        )

    def finish(self):
        deadline = time.monotonic() + 5
        events = self.client.get_events(self.topic)
        while len(events) < self.n_fits and time.monotonic() < deadline:
            time.sleep(0.05)
            events = self.client.get_events(self.topic)
        self.client.unsubscribe_topic(self.topic)
        counts = {}
        for _, msg in events:
            counts[msg["worker"]] = counts.get(msg["worker"], 0) + 1
        print(
            "fits ran on: "
            + ", ".join(f"{worker} ({n} fits)" for worker, n in sorted(counts.items()))
        )


@contextlib.contextmanager
def _search_backend(args, keys):
    """Yield ``(n_jobs, reporter)`` with joblib set up for local or Dask fits."""
    if args.dask_scheduler is None:
        n_jobs = args.n_jobs or 1
        with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
            yield n_jobs, _LocalReporter(keys, n_jobs)
        return
    # Dask's nanny starts every worker with OPENBLAS_NUM_THREADS=1 (checked),
    # so nothing is changed on the workers: an external cluster is left as found.
    client, cluster = _connect_dask(args.dask_scheduler)
    try:
        with joblib.parallel_config(backend="dask"):
            yield args.n_jobs or -1, _DaskReporter(client, keys)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT), None
    except (OSError, ValueError, TypeError) as exc:
        raise CommandError(
            f"--dask-scheduler: cannot reach a Dask scheduler at "
            f"{address} within {DASK_CONNECT_TIMEOUT} s "
            f"({_one_line(exc)})"
        ) from None
    finally:
        quiet.setLevel(level)
