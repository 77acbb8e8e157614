"""What the commands share: argument types, model options, loaders, errors.

A command module imports from here; nothing here imports a command.  The one
place that turns a known error into one line, ``skdigits: error: ...``, and
exit status 2 is :func:`run_command` (errors raised while running a command)
together with :class:`_Parser` (usage errors found while parsing).
"""

import argparse
import contextlib
import functools
import hashlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from skdigits import NumpyMLPClassifier, PixelScaler, load_bundled_model, load_model
from skdigits._activations import ACTIVATIONS
from skdigits._persistence import bundled_model_path
from skdigits._recipes import RECIPES, get_recipe
from skdigits._scores import check_scorer
from skdigits.datasets import (
    _INDEX_MIN_ROWS,
    _csv_members,
    _read_layout,
    _resolve_source,
    load_mnist_csv,
    load_mnist_sample,
    sample_path,
)

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

# What a data option reads from a zip archive that holds several CSV files
# (Kaggle's digit-recognizer.zip: train.csv, test.csv, sample_submission.csv;
# Kaggle's "MNIST in CSV": mnist_train.csv, mnist_test.csv): the first of these
# names it holds. ``--member`` chooses another.
ZIP_MEMBERS = {
    "training": ("train.csv", "mnist_train.csv"),  # train/grid-search --train
    "held-out": ("mnist_test.csv",),  # train --test: never the training file
    "scoring": ("mnist_test.csv", "train.csv"),  # evaluate --data
    "predicting": ("test.csv", "mnist_test.csv"),  # predict --data
}

# More classes than any handwriting set has (EMNIST's largest split has 62):
# with fewer than two images each, the label column is an id (_check_labels).
_MANY_CLASSES = 100

# The one line that says what a .joblib file is, in the help of --model and
# when one is loaded.
JOBLIB_NOTE = (
    "a .joblib file is a pickle: loading it runs any code it holds, so load "
    "only your own and share .skops files"
)

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


@contextlib.contextmanager
def naming(option):
    """Turn a ValueError raised inside into a :class:`CommandError` that starts
    with ``option``, the parameter it is about (``--data: FILE: line 3 ...``)."""
    try:
        yield
    except CommandError:
        raise
    except ValueError as exc:
        raise CommandError(f"{option}: {_one_line(exc)}") from None


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


@dataclass(frozen=True)
class Data:
    """A CSV read by a command: its pixels, its labels and how to name it."""

    X: np.ndarray
    y: np.ndarray  # None: the file has no label column
    name: str  # the file (and zip member) as messages name it
    kaggle_layout: bool = False  # Kaggle's header: pixel0, ..., pixel783


def add_member_argument(cmd, option, default):
    """``--member NAME``: the CSV to read from a zip archive given to ``option``."""
    cmd.add_argument(
        "--member",
        metavar="NAME",
        help=f"the CSV file to read when {option} is a .zip holding several, "
        f"e.g. Kaggle's digit-recognizer.zip (default: {default})",
    )


def member_default_help(role):
    """``"train.csv, else mnist_train.csv"``: the ``--member`` default of ``role``."""
    return ", else ".join(ZIP_MEMBERS[role])


def load_data(path, option, role, member=None, labels=None, member_option=True):
    """Read the CSV of a data option; a known problem is one line naming ``option``.

    Parameters
    ----------
    path : str
        The option's value: a ``.csv``, ``.csv.gz`` or ``.zip`` file.
    option : str
        The option, e.g. ``"--data"``, as error messages name it.
    role : str
        A key of :data:`ZIP_MEMBERS`: which CSV a zip archive's default is.
    member : str, default=None
        ``--member``: the CSV to read from a zip archive.
    labels : str, default=None
        The command that needs labels (e.g. ``"evaluate"``); None when a file
        without labels will do.
    member_option : bool, default=True
        Whether the command's ``--member`` applies to ``option`` (``train``'s
        applies to ``--train``, not to ``--test``): what an error advises.

    Returns
    -------
    data : Data
        The pixels and labels; every warning of the loader (a column of row
        numbers left out) was printed as one line, ``skdigits: note: ...``.
    """
    with naming(option):
        member = _member_for(path, option, role, member, member_option)
        source = _resolve_source(path, member)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X, y = load_mnist_csv(path, member=member)
        names = _read_layout(source).names or ()
    for warning in caught:
        print(f"skdigits: note: {_one_line(warning.message)}", file=sys.stderr)
    kaggle = "pixel0" in (name.lower() for name in names)
    data = Data(X, y, source.name, kaggle)
    if labels is not None:
        _check_labels(data, option, labels)
    return data


def _member_for(path, option, role, member, member_option=True):
    """The zip member to read: ``--member``, the archive's only CSV, or the
    first of the role's :data:`ZIP_MEMBERS`; None for a file that is no zip."""
    members = _csv_members(path)
    if members is None:
        if member is not None and Path(path).is_file():
            raise CommandError(
                f"--member {member}: {option} {path} is not a zip archive; "
                "leave out --member"
            )
        return None
    by_base = {}
    for name in members:
        by_base.setdefault(name.rsplit("/", 1)[-1], []).append(name)
    if member is not None:
        if member in members or len(by_base.get(member, ())) == 1:
            return member
        raise CommandError(
            f"--member {member}: {option} {path} holds no such CSV file; choose "
            f"--member from: {', '.join(members) or 'none'}"
        )
    if len(members) == 1:
        return members[0]
    for name in ZIP_MEMBERS[role]:
        if len(by_base.get(name, ())) == 1:
            return by_base[name][0]
    raise _no_member_error(path, option, role, members, member_option)


def _no_member_error(path, option, role, members, member_option):
    """The error for a zip archive none of whose CSV files the role reads."""
    if not members:
        return CommandError(
            f"{option} {path} holds no CSV file: pass the CSV file itself"
        )
    listed = f"{len(members)} CSV files ({', '.join(members)})"
    if not member_option:
        return CommandError(
            f"{option} {path} holds {listed}, none of them "
            f"{' or '.join(ZIP_MEMBERS[role])}: unzip it and pass the CSV file itself"
        )
    images = [name for name in members if "submission" not in name.lower()]
    return CommandError(
        f"{option} {path} holds {listed}; choose one with --member, e.g. "
        f"--member {(images or members)[0]}, or pass the CSV file itself"
    )


def _check_no_member(member, option):
    """Refuse ``--member`` when ``option``, the zip it would apply to, is absent."""
    if member is not None:
        raise CommandError(
            f"--member {member} applies to the zip archive of {option}, which is "
            f"not given: add {option} ARCHIVE.zip, or leave out --member"
        )


def _check_labels(data, option, command):
    """Refuse a file without labels, or whose label column is an id: a label of
    its own on every row, or more than ``_MANY_CLASSES`` labels for fewer than
    two rows each (it would make about one class per image)."""
    if data.y is None:
        raise CommandError(
            f"{option} {data.name} has no label column (784 columns: pixels only, "
            f"like Kaggle's test.csv); {command} needs labels: pass a labelled "
            "file, e.g. train.csv or mnist_test.csv"
        )
    n, n_classes = len(data.y), len(np.unique(data.y))
    every_row_its_own = n >= _INDEX_MIN_ROWS and n_classes == n
    if every_row_its_own or n_classes > max(n / 2, _MANY_CLASSES):
        raise CommandError(
            f"{option} {data.name}: its {n} rows have {n_classes} different "
            "labels, so its label column is a row id, not the digit (a class "
            f"needs many images); it would make {n_classes} classes: save the file "
            "with the digits in a column named 'label' and without the id "
            "(DataFrame.to_csv(..., index=False))"
        )


def _load_labelled(path, option, command, role="training", member=None):
    """``(X, y)`` from a CSV that must have labels; the bundled sample if None."""
    if path is None:
        _check_no_member(member, option)
        return load_mnist_sample("train")
    data = load_data(path, option, role, member, labels=command)
    return data.X, data.y


def add_model_argument(cmd):
    """``--model PATH`` of the commands that use a model (default: the bundled one)."""
    cmd.add_argument(
        "--model",
        metavar="PATH",
        help="model file, .skops or .joblib (default: the bundled MNIST model, "
        f"skdigits/data/mnist_default.skops); {JOBLIB_NOTE}",
    )


def _load_model(path, proba=False):
    """A saved classifier, refused unless it has a ``predict`` method (and,
    with ``proba``, for reading images: ``predict_proba`` and the ten digits
    as ``classes_``).

    ``None`` (no ``--model``) gives the model bundled with skdigits. Before a
    ``.joblib`` file is loaded, one line on stderr says that it runs code.
    """
    if path is None:
        return load_bundled_model()
    if Path(path).suffix.lower() == ".joblib":
        print(f"skdigits: note: loading {path}: {JOBLIB_NOTE}", file=sys.stderr)
    with naming("--model"):
        model = load_model(path)
    if not hasattr(model, "predict"):
        raise CommandError(
            f"--model: {path} does not hold a classifier (no predict method)"
        )
    if proba and not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        raise CommandError(
            f"--model: {path}: reading images needs a classifier with predict_proba"
        )
    if proba:
        try:
            check_scorer(model)  # what read_digits asks of a model
        except ValueError as exc:
            raise CommandError(f"--model: {path}: {_one_line(exc)}") from None
    return model


# --- outputs that must not replace an input ------------------------------------


def refuse_overwriting_inputs(option, output, inputs):
    """Refuse an output file that is one of the inputs (also through a link).

    Parameters
    ----------
    option : str
        The output's option, e.g. ``"--output"``.
    output : str
        Its value.
    inputs : dict of str to str or None
        Each input option and its value (None: not given).
    """
    for input_option, path in inputs.items():
        if path is not None and _same_file(output, path):
            raise CommandError(
                f"{option} {output} is the input {input_option} {path}: writing "
                f"it would destroy that file; choose another {option}"
            )


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


# --- the bundled model on its own training images ------------------------------


def is_bundled_model(path):
    """Whether ``--model path`` (None: no --model) is the bundled model: the
    same bytes as ``mnist_default.skops``, wherever the file is and whatever
    it is called."""
    if path is None:
        return True
    bundled = bundled_model_path()
    try:
        if os.path.getsize(path) != os.path.getsize(bundled):
            return False
    except OSError:
        return False
    return _sha256(path) == _sha256(bundled)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def _training_sample_rows():
    """The rows of the bundled training sample: 5,000 of the 60,000 MNIST
    training images the bundled model was trained on."""
    X, _ = load_mnist_sample("train")
    return frozenset(row.tobytes() for row in X)


def n_training_images(X):
    """How many rows of ``X`` are images of the bundled training sample."""
    seen = _training_sample_rows()
    return sum(row.tobytes() in seen for row in np.ascontiguousarray(X))


def warn_bundled_on_training_data(model_path, data):
    """One line on stderr when the bundled model reads its own training images.

    The bundled model (``--model`` absent, or a file with its bytes) was
    trained on MNIST's 60,000 training images. Its score is inflated on a
    file that holds some of them: MNIST's training file, and Kaggle's
    digit-recognizer files, which are cut from all 70,000 MNIST images. Such
    a file is recognised by Kaggle's header, or, with any header or none, by
    holding images of the training sample shipped with skdigits (5,000 of the
    60,000): a Kaggle file of a hundred rows holds about seven of them, MNIST's
    test set none.
    """
    if not is_bundled_model(model_path):
        return
    seen = n_training_images(data.X)
    if seen or data.kaggle_layout:
        message = _leak_message(seen, len(_training_sample_rows()), data.kaggle_layout)
        print(f"skdigits: warning: {data.name}: {message}", file=sys.stderr)


def _leak_message(seen, n_sample, kaggle_layout):
    """Why the bundled model's score on a file is inflated, and what to do."""
    if seen == n_sample:
        return (
            f"it holds all {n_sample:,} images of skdigits' training sample, the "
            "bundled model's own training data (MNIST's training set, or the "
            "sample itself), so its score here is inflated and says nothing about "
            "new digits; score it on mnist_test.csv, or pass your own model with "
            "--model"
        )
    held = (
        "images the bundled model was trained on (MNIST's training images, "
        "60,000 of the 70,000 that Kaggle's files are cut from)"
    )
    if seen:
        layout = ", in Kaggle's digit-recognizer layout" if kaggle_layout else ""
        lead = (
            f"it holds {seen} of the {n_sample:,} images of skdigits' training "
            f"sample{layout}: {held}"
        )
    else:
        lead = "it is in Kaggle's digit-recognizer layout, and Kaggle's files hold "
        lead += held
    return (
        f"{lead}, so its score on this file is inflated; score it on "
        "mnist_test.csv, or for Kaggle train on Kaggle's train.csv (skdigits "
        "train --train train.csv --model kaggle.skops) and pass --model "
        "kaggle.skops"
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
