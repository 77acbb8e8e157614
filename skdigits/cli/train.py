"""``skdigits train``: fit the pipeline, report accuracy, save it.

With 'sgd' or 'adam' the fit keeps a checkpoint beside the model
(``--model best.skops`` -> ``best.skops.ckpt``), written after every epoch:
the same command run again after a kill or Ctrl-C resumes where the last
finished epoch left off and ends with the model an uninterrupted run would
have saved, bit for bit. Once the model is saved the checkpoint is removed.
"""

import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skdigits import save_model
from skdigits._checkpoint import (
    CheckpointWarning,
    ResumeWarning,
    checkpoint_path,
    read_header,
)
from skdigits._persistence import check_save_path
from skdigits._recipes import RECIPES
from skdigits.cli._common import (
    DEFAULT_RECIPE,
    JOBLIB_NOTE,
    _load_labelled,
    add_member_argument,
    load_data,
    make_pipeline,
    member_default_help,
    model_options,
    naming,
    refuse_overwriting_inputs,
    train_csv_help,
)
from skdigits.datasets import load_mnist_sample, sample_path

NAME = "train"


def add_parser(subparsers):
    """Add ``train`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(
        NAME, parents=[model_options()], help="train and save a model"
    )
    cmd.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default=None,
        help=f"a named set of training parameters (default: {DEFAULT_RECIPE}); "
        "`skdigits recipes` lists them with their measured accuracy and time",
    )
    cmd.add_argument("--train", metavar="PATH", help=train_csv_help())
    add_member_argument(cmd, "--train", member_default_help("training"))
    cmd.add_argument(
        "--test",
        metavar="PATH",
        help="labelled CSV to report accuracy on (default without --train: the "
        "bundled test sample; from a .zip: "
        f"{member_default_help('held-out')})",
    )
    cmd.add_argument(
        "--model",
        metavar="PATH",
        required=True,
        help="where to save the model (.skops or .joblib; "
        f"{JOBLIB_NOTE}); with 'sgd' or 'adam' "
        "a checkpoint is kept beside it while training (MODEL.ckpt), from which "
        "the same command resumes after a kill or Ctrl-C",
    )
    cmd.add_argument(
        "--fresh",
        action="store_true",
        help="ignore and replace the checkpoint of an earlier run of this command "
        "instead of resuming from it",
    )
    cmd.set_defaults(run=run)
    return cmd


def _format_seconds(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


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


def _training_set(args):
    """``(X, y, name)`` of --train (the bundled training sample by default)."""
    if args.train is None:
        X, y = _load_labelled(None, "--train", NAME, member=args.member)
        return X, y, f"the bundled sample ({sample_path().name})"
    data = load_data(args.train, "--train", "training", args.member, labels=NAME)
    return data.X, data.y, data.name


def _test_set(args):
    """The held-out set of ``train``: --test, or the bundled test sample when
    training on the bundled training sample (never the training data itself)."""
    if args.test is not None:
        data = load_data(
            args.test, "--test", "held-out", labels="train --test", member_option=False
        )
        return (data.X, data.y), data.name
    if args.train is None:
        return load_mnist_sample(
            "test"
        ), f"the bundled sample ({sample_path('test').name})"
    return None, None


def _command_line(args):
    """The ``skdigits train`` command that ``args`` came from, without --fresh."""
    words = ["skdigits", NAME]
    for dest, value in vars(args).items():
        if dest in ("command", "run", "fresh") or value is None or value is False:
            continue
        flag = "--" + dest.replace("_", "-")
        if value is True:
            words.append(flag)
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        words += [flag, str(value)]
    return shlex.join(words)


def _prepare_checkpoint(model, args):
    """The checkpoint beside ``--model``, or None ('lbfgs' has none).

    A checkpoint that cannot be read stops the command now, in one line,
    before the data is loaded (with ``--fresh`` it is replaced instead: see
    :func:`run`).
    """
    if model[-1].solver == "lbfgs":
        return None
    path = checkpoint_path(args.model)
    if path.exists() and not args.fresh:
        read_header(path)  # CheckpointError: one line, exit status 2
    model.set_params(mlp__checkpoint=str(path))
    return path


def _show_checkpoint_warnings(show):
    """``warnings.showwarning`` that prints what fit did with the checkpoint as
    one line (resuming: on stdout) and leaves other warnings to ``show``."""

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, CheckpointWarning):
            return show(message, category, filename, lineno, file, line)
        if issubclass(category, ResumeWarning):
            print(message, flush=True)
        else:
            print(f"skdigits: warning: {message}", file=sys.stderr, flush=True)

    return showwarning


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # --epochs is the plan
        warnings.simplefilter("always", CheckpointWarning)
        warnings.showwarning = _show_checkpoint_warnings(warnings.showwarning)
        model.fit(X, y)


def _interrupted(checkpoint, args):
    """The one line of a Ctrl-C: what is kept, and the command that resumes."""
    try:
        kept = f"{checkpoint} keeps epoch {read_header(checkpoint)['epoch']}"
    except (OSError, ValueError):
        kept = "no epoch finished yet"
    return f"interrupted, no model saved ({kept}); resume with: {_command_line(args)}"


def run(args):
    """``skdigits train``: fit the pipeline, report accuracy, save it."""
    with naming("--model"):
        check_save_path(args.model)  # fail before a long fit, not after
    inputs = {"--train": args.train, "--test": args.test}
    refuse_overwriting_inputs("--model", args.model, inputs)
    model = make_pipeline(args)
    checkpoint = _prepare_checkpoint(model, args)
    X, y, source = _training_set(args)
    test, test_source = _test_set(args)
    print(f"training on {len(y)} images from {source}")
    if checkpoint is None:
        print("(lbfgs reports no per-epoch progress and keeps no checkpoint)")
    model.set_params(mlp__callback=EpochProgress())
    if checkpoint is not None and args.fresh:  # only now: the data was readable
        checkpoint.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        _fit(model, X, y)
    except KeyboardInterrupt:
        if checkpoint is None:
            raise
        raise KeyboardInterrupt(_interrupted(checkpoint, args)) from None
    # no callback (so that the model pickles), no checkpoint path in the model
    model.set_params(mlp__callback=None, mlp__checkpoint=None)
    print(f"trained in {_format_seconds(time.perf_counter() - start)}")
    print(f"train accuracy: {model.score(X, y):.4f}")
    if test is not None:
        print(f"test accuracy: {model.score(*test):.4f} ({test_source})")
    with naming("--model"):
        save_model(model, args.model)
    print(f"saved model to {args.model}")
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
