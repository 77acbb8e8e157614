"""``skdigits recipes``: the named training recipes, their parameters and results."""

from sklearn import config_context

from skdigits._recipes import RECIPES, RESULTS
from skdigits.cli._common import DEFAULT_RECIPE

NAME = "recipes"


def add_parser(subparsers):
    """Add ``recipes`` to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(
        NAME,
        help="list the training recipes (skdigits train --recipe NAME)",
        description="List the named training recipes: the NumpyMLPClassifier "
        "parameters of each (pass them to NumpyMLPClassifier(**params) from "
        "Python with skdigits.get_recipe(NAME)) and what each one measured on "
        "the full MNIST CSVs.",
    )
    cmd.set_defaults(run=run)
    return cmd


def _result_lines(name):
    result = RESULTS.get(name)
    if result is None:
        return ["  measured: not yet"]
    return [
        f"  measured: {result['accuracy']} MNIST test accuracy, {result['time']} "
        f"wall on {result['machine']}",
        f"  command: {result['command']}",
    ]


def run(args):
    """``skdigits recipes``: print every recipe."""
    for name in sorted(RECIPES, key=lambda n: (n != DEFAULT_RECIPE, n)):
        default = " (default)" if name == DEFAULT_RECIPE else ""
        print(f"{name}{default}")
        with config_context(print_changed_only=False):  # every augmenter setting
            for key, value in RECIPES[name].items():
                print(f"  {key} = {value!r}")
        print("\n".join(_result_lines(name)))
