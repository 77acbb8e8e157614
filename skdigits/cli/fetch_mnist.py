"""``skdigits fetch-mnist``: write mnist_train.csv and mnist_test.csv from OpenML."""

from skdigits.datasets import fetch_mnist_csv

NAME = "fetch-mnist"


def add_parser(subparsers):
    """Add ``fetch-mnist`` and its options to ``subparsers``; return its parser."""
    cmd = subparsers.add_parser(
        NAME,
        help="download MNIST (scikit-learn's fetch_openml('mnist_784')) and "
        "write mnist_train.csv and mnist_test.csv",
        description="Download MNIST from OpenML with scikit-learn's "
        "fetch_openml('mnist_784') and write mnist_train.csv (60,000 images) and "
        "mnist_test.csv (10,000), in MNIST's order, with the header "
        "label,1x1,...,28x28 that every command reads. Existing files are "
        "replaced only once both are written.",
    )
    cmd.add_argument(
        "--output-dir",
        metavar="DIR",
        default=".",
        help="folder to write the two files to, made if missing "
        "(default: the current folder)",
    )
    cmd.add_argument(
        "--data-home",
        metavar="DIR",
        help="scikit-learn's download cache (default: ~/scikit_learn_data)",
    )
    cmd.set_defaults(run=run)
    return cmd


def run(args):
    """``skdigits fetch-mnist``: download, check, write both files."""
    print("downloading mnist_784 from OpenML (scikit-learn keeps it for next time)")
    for path in fetch_mnist_csv(args.output_dir, data_home=args.data_home):
        print(f"wrote {path}")
