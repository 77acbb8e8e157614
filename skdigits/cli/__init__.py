"""The ``skdigits`` command line: train, evaluate, predict, grid-search and more.

Every command reads MNIST CSV files (``label,1x1,...,28x28`` or Kaggle's
``label,pixel0,...``; a file without the label column works wherever labels are
not needed), plain, gzip-compressed or inside a zip archive such as Kaggle's
``digit-recognizer.zip`` (each command reads the member it needs; ``--member``
picks another), and model files written by :func:`skdigits.save_model`.
``skdigits fetch-mnist`` writes ``mnist_train.csv`` and ``mnist_test.csv``.

Errors a user can act on (a missing file, a bad option value, a file that is not
a model) print one line, ``skdigits: error: ...``, on stderr and exit with
status 2; output files are written to a temporary file and renamed, so a failed
run leaves an existing file as it was.

Each command is a module with ``NAME``, ``add_parser(subparsers)`` and
``run(args)``; :data:`COMMANDS` lists them in the order of ``skdigits --help``,
and the parser is built from it alone.

>>> main(["train", "--hidden", "0", "--model", "m.joblib"])
2
"""

from skdigits import __version__
from skdigits.cli import (
    evaluate,
    fetch_mnist,
    grid_search,
    predict,
    predict_image,
    recipes,
    serve,
    train,
)
from skdigits.cli._common import CommandError, _Parser, run_command

__all__ = ["COMMANDS", "CommandError", "build_parser", "main"]

# The command modules, in the order ``skdigits --help`` lists them.
COMMANDS = (
    train,
    evaluate,
    predict,
    predict_image,
    serve,
    grid_search,
    recipes,
    fetch_mnist,
)

# Seconds to wait for a Dask scheduler before giving up (read at call time).
DASK_CONNECT_TIMEOUT = 5


def build_parser():
    """The argparse parser of the ``skdigits`` command, one subparser per command."""
    parser = _Parser(
        prog="skdigits", description="Train and use MLP classifiers on MNIST CSV files."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def _command_names():
    """``"train, evaluate, ... or grid-search"``, from :data:`COMMANDS`."""
    names = [command.NAME for command in COMMANDS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def main(argv=None):
    """Run the ``skdigits`` command line; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after ``skdigits``; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 2 for a usage or input error, 130 on Ctrl-C.
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.error(f"choose a command: {_command_names()} (see skdigits --help)")
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code
    return run_command(args)
