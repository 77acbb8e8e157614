"""What the commands share: argument types, model options, loaders, errors.

A command module imports from here; nothing here imports a command.  The one
place that turns a known error into one line, ``skdigits: error: ...``, and
exit status 2 is :func:`run_command` (errors raised while running a command)
together with :class:`_Parser` (usage errors found while parsing).
"""

import argparse
import sys

import numpy as np
from sklearn.pipeline import Pipeline

from skdigits import NumpyMLPClassifier, PixelScaler, load_bundled_model, load_model
from skdigits._activations import ACTIVATIONS
from skdigits._recipes import RECIPES, get_recipe
from skdigits._scores import check_scorer
from skdigits.datasets import load_mnist_csv, load_mnist_sample, sample_path

# Defaults of `skdigits train` (and the base model of `skdigits grid-search`):
# the "default" recipe, where they are set.
DEFAULT_RECIPE = "default"
_DEFAULT = RECIPES[DEFAULT_RECIPE]
DEFAULT_HIDDEN = tuple(_DEFAULT["hidden_layer_sizes"])
DEFAULT_ACTIVATION = _DEFAULT["activation"]
DEFAULT_SOLVER = _DEFAULT["solver"]
DEFAULT_EPOCHS = _DEFAULT["max_iter"]
DEFAULT_BATCH_SIZE = _DEFAULT["batch_size"]
DEFAULT_LEARNING_RATE = _DEFAULT["learning_rate_init"]
DEFAULT_ALPHA = _DEFAULT["alpha"]
DEFAULT_DROPOUT = _DEFAULT["dropout"]
DEFAULT_SEED = 0

# The model options and the NumpyMLPClassifier parameter each one sets; an
# option given on the command line overrides the recipe's value.
OPTION_PARAMS = {
    "hidden": "hidden_layer_sizes",
    "activation": "activation",
    "solver": "solver",
    "epochs": "max_iter",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate_init",
    "alpha": "alpha",
    "dropout": "dropout",
    "early_stopping": "early_stopping",
}

SOLVERS = ("adam", "sgd", "lbfgs")

# Exit status of a run stopped by a known error (as argparse's usage errors).
ERROR_STATUS = 2


class CommandError(ValueError):
    """A problem with the user's input, reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: ``skdigits: error: ...``."""

    def error(self, message):
        self.exit(ERROR_STATUS, f"skdigits: error: {_one_line(message)}\n")


def _one_line(text):
    return " ".join(str(text).split())


def run_command(args):
    """Run ``args.run(args)``; return the exit status.

    The status is what ``args.run`` returns (None is 0: a command that reads
    several files may report each failure itself and return 2). A known
    error (``ValueError``, which includes :class:`CommandError`, ``OSError``
    or ``ImportError``) is printed as one line on stderr and gives status 2;
    Ctrl-C gives 130, with the ``KeyboardInterrupt``'s own message when a
    command gives it one (``train`` names the command that resumes).
    """
    try:
        status = args.run(args)
    except (ValueError, OSError, ImportError) as exc:
        print(f"skdigits: error: {_one_line(exc)}", file=sys.stderr)
        return ERROR_STATUS
    except KeyboardInterrupt as exc:
        print(f"skdigits: {_one_line(exc) or 'interrupted'}", file=sys.stderr)
        return 130
    return status or 0


# --- argument types ---------------------------------------------------------


def _int(text, minimum, what, maximum=None):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
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


# --- shared options ---------------------------------------------------------


def train_csv_help():
    """Help text of ``--train``: the bundled sample is the default."""
    return f"training CSV (default: the bundled sample, {sample_path().name})"


def model_options():
    """Options shared by train and grid-search: the pipeline's hyper-parameters.

    Returns
    -------
    parent : _Parser
        A parser without ``--help``, to pass as ``parents=[parent]``.
    """
    parent = _Parser(add_help=False)
    group = parent.add_argument_group(
        "model",
        "Each option overrides the recipe's value; the defaults shown are those of "
        f"the {DEFAULT_RECIPE!r} recipe (`skdigits recipes` lists them all).",
    )
    add = group.add_argument
    add(
        "--hidden",
        type=_hidden,
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (default: "
        f"{','.join(map(str, DEFAULT_HIDDEN))})",
    )
    add(
        "--activation",
        type=_activation,
        metavar="NAME",
        help="activation, or one per hidden layer comma-separated; "
        f"one of {', '.join(sorted(ACTIVATIONS))} (default: {DEFAULT_ACTIVATION})",
    )
    add(
        "--solver",
        choices=SOLVERS,
        help=f"optimizer (default: {DEFAULT_SOLVER})",
    )
    _add_training_options(add)
    return parent


def _add_training_options(add):
    """Epochs, batch size, step, penalty, dropout, early stopping and the seed."""
    add(
        "--epochs",
        type=_positive_int,
        metavar="N",
        help=f"maximum number of epochs (default: {DEFAULT_EPOCHS})",
    )
    add(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        help=f"minibatch size (default: {DEFAULT_BATCH_SIZE})",
    )
    add(
        "--learning-rate",
        type=_positive_float,
        metavar="F",
        help=f"initial learning rate (default: {DEFAULT_LEARNING_RATE})",
    )
    add(
        "--alpha",
        type=_non_negative_float,
        metavar="F",
        help=f"L2 penalty (default: {DEFAULT_ALPHA})",
    )
    add(
        "--dropout",
        type=_dropout,
        metavar="F",
        help=f"dropout rate of the hidden layers (default: {DEFAULT_DROPOUT})",
    )
    add(
        "--early-stopping",
        action="store_true",
        default=None,
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


# --- loaders and the model --------------------------------------------------


def _load_labelled(path, command):
    """``(X, y)`` from a CSV that must have labels; the bundled sample if None."""
    if path is None:
        return load_mnist_sample("train")
    X, y = load_mnist_csv(path)
    if y is None:
        raise CommandError(f"{path} has no label column; {command} needs labels")
    return X, y


def add_model_argument(cmd):
    """``--model PATH`` of the commands that use a model (default: the bundled one)."""
    cmd.add_argument(
        "--model",
        metavar="PATH",
        help="model file, .skops or .joblib (default: the bundled MNIST model, "
        "skdigits/data/mnist_default.skops)",
    )


def _load_model(path, proba=False):
    """A saved classifier, refused unless it has a ``predict`` method (and,
    with ``proba``, for reading images: ``predict_proba`` and the ten digits
    as ``classes_``).

    ``None`` (no ``--model``) gives the model bundled with skdigits.
    """
    if path is None:
        return load_bundled_model()
    model = load_model(path)
    if not hasattr(model, "predict"):
        raise CommandError(f"{path} does not hold a classifier (no predict method)")
    if proba and not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        raise CommandError(
            f"{path}: reading images needs a classifier with predict_proba"
        )
    if proba:
        try:
            check_scorer(model)  # what read_digits asks of a model
        except ValueError as exc:
            raise CommandError(f"{path}: {_one_line(exc)}") from None
    return model


def _has_kaggle_header(path):
    """Whether ``path`` starts with Kaggle's digit-recognizer header
    (``label,pixel0,...,pixel783`` or ``pixel0,...,pixel783``)."""
    from skdigits.datasets import _read_layout, _resolve_source

    try:
        names = _read_layout(_resolve_source(path, None)).names or ()
    except (ValueError, OSError):
        return False
    return "pixel0" in (name.lower() for name in names)


def warn_bundled_on_kaggle(model_path, data_path):
    """One line on stderr when the bundled model (no ``--model``) reads a file
    in Kaggle's layout: its score there is inflated, because Kaggle's files are
    cut from all 70,000 MNIST images, the bundled model's training images
    included."""
    if model_path is None and _has_kaggle_header(data_path):
        print(
            f"skdigits: warning: {data_path} is in Kaggle's digit-recognizer "
            "layout, and the bundled model was trained on MNIST's training "
            "images, which Kaggle's files include, so its score on this file is "
            "inflated; train on Kaggle's train.csv (skdigits train --train "
            "train.csv --model kaggle.skops) and pass --model kaggle.skops",
            file=sys.stderr,
        )


def recipe_params(args):
    """The classifier's parameters: the recipe's, then every option given.

    ``args.recipe`` (absent or None: the default recipe) names the recipe. With
    ``--solver lbfgs``, a full-batch solver, the recipe's minibatch-only parts
    (its augmenter, and its dropout unless ``--dropout`` is given) are left out.
    """
    params = get_recipe(getattr(args, "recipe", None) or DEFAULT_RECIPE)
    if getattr(args, "solver", None) == "lbfgs":
        params.pop("augment", None)
        params.pop("dropout", None)
    for option, param in OPTION_PARAMS.items():
        value = getattr(args, option, None)
        if value is not None:
            params[param] = value
    params["random_state"] = args.seed
    return params


def make_pipeline(args):
    """The model: ``PixelScaler`` then ``NumpyMLPClassifier`` with the options."""
    mlp = NumpyMLPClassifier(**recipe_params(args))
    return Pipeline([("scale", PixelScaler()), ("mlp", mlp)])
