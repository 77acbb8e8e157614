"""``skdigits train``: fit the pipeline, report accuracy, save it."""

import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skdigits import save_model
from skdigits._persistence import check_save_path
from skdigits._recipes import RECIPES
from skdigits.cli._common import (
    DEFAULT_RECIPE,
    _load_labelled,
    make_pipeline,
    model_options,
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


def run(args):
    """``skdigits train``: fit the pipeline, report accuracy, save it."""
    check_save_path(args.model)  # fail before a long fit, not after
    X, y = _load_labelled(args.train, "train")
    test, test_source = _test_set(args)
    source = args.train or f"the bundled sample ({sample_path().name})"
    print(f"training on {len(y)} images from {source}")
    model = make_pipeline(args)
    if model[-1].solver == "lbfgs":
        print("(lbfgs reports no per-epoch progress)")
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
