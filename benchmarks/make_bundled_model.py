"""Build the pretrained model that ships in skdigits/data: `skdigits train` as is.

Runs ``skdigits train`` with every option at its default (so the bundled model
follows the defaults wherever they change) on the full MNIST training set,
scores the saved file on the MNIST test set, and writes

- ``skdigits/data/mnist_default.skops``: the model, at most 3 MB (the run fails,
  leaving the old file in place, if it is larger);
- ``skdigits/data/mnist_default.json``: how it was made (test accuracy, git
  commit, command, parameters, versions, size, SHA-256);
- the "bundled model" lines of ``skdigits/data/README.md``;
- ``skdigits/data/mnist_default_detector.npz``: the reader's digit detector
  for the new model (``benchmarks.make_digit_detector``, run last: a detector
  belongs to one model file).

The optimizer's moment vectors (training state, two more copies of the
weights) are dropped before saving: predictions are unchanged; a warm start
from the bundled model begins with a fresh optimizer.

    python -m benchmarks.make_bundled_model --data ../shared/data
"""

import argparse
import datetime
import hashlib
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn

import skdigits
from skdigits import load_model, save_model
from skdigits._atomic import atomic_output
from skdigits.cli import main as skdigits_main
from skdigits.datasets import load_mnist_csv

from . import make_digit_detector
from ._common import REPO_ROOT, add_data_argument

MAX_BYTES = 3_000_000  # "3 MB or less" (issue 12)
NAME = "mnist_default"
README_BLOCK = re.compile(
    r"(<!-- bundled-model: start -->\n).*?(<!-- bundled-model: end -->)", re.S
)
# Attributes that only a further fit needs; dropped from the bundled file.
TRAINING_STATE = ("_optimizer",)


def train_with_defaults(train, test, path):
    """``skdigits train --train TRAIN --test TEST --model PATH``; its seconds."""
    argv = ["train", "--train", str(train), "--test", str(test), "--model", str(path)]
    print("$ skdigits " + " ".join(argv), flush=True)
    start = time.perf_counter()
    status = skdigits_main(argv)
    if status != 0:
        raise SystemExit(f"skdigits train failed with exit status {status}")
    return time.perf_counter() - start


def strip_training_state(model, X_check):
    """Drop TRAINING_STATE from the classifier; check predictions do not move."""
    before = model.predict_proba(X_check)
    mlp = model[-1]
    dropped = [name for name in TRAINING_STATE if mlp.__dict__.pop(name, None)]
    if not np.array_equal(before, model.predict_proba(X_check)):
        raise SystemExit("dropping the optimizer state changed the predictions")
    return dropped


def git_description():
    """The checkout's commit, with ``+dirty`` when files differ from it."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def provenance(model, accuracy, n_test, args, seconds, data):
    """The JSON record of how the bundled model was made."""
    params = {key: value for key, value in model[-1].get_params(deep=False).items()}
    return {
        "file": f"{NAME}.skops",
        "test_accuracy": round(accuracy, 6),
        "test_images": n_test,
        "train_file": args.data.joinpath("mnist_train.csv.gz").name,
        "test_file": args.data.joinpath("mnist_test.csv.gz").name,
        "made_by": "python -m benchmarks.make_bundled_model --data DIR",
        "equivalent_command": (
            "skdigits train --train mnist_train.csv.gz --test mnist_test.csv.gz "
            f"--model {NAME}.skops  (every other option at its default)"
        ),
        "classifier_parameters": json.loads(json.dumps(params, default=repr)),
        "git_commit": git_description(),
        "date": datetime.date.today().isoformat(),
        "train_seconds": round(seconds, 1),
        "versions": {
            "skdigits": skdigits.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "training_state_dropped": "the optimizer's moments (predictions unchanged)",
    }


def update_readme(path, record):
    """Rewrite the bundled-model lines of skdigits/data/README.md."""
    text = path.read_text()
    lines = (
        f"`{record['file']}`: {record['bytes']:,} bytes, "
        f"**{100 * record['test_accuracy']:.2f}%** on the {record['test_images']:,} "
        f"MNIST test images; built {record['date']} from git "
        f"`{record['git_commit'][:12]}` in {record['train_seconds']:.0f} s of "
        "training.\n"
    )
    if not README_BLOCK.search(text):
        raise SystemExit(f"{path}: no '<!-- bundled-model: start -->' block")
    new = README_BLOCK.sub(lambda m: m.group(1) + lines + m.group(2), text)
    with atomic_output(path) as file:
        file.write(new)


def write_bytes_atomically(path, data):
    with atomic_output(path, binary=True) as file:
        file.write(data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "skdigits" / "data", metavar="DIR"
    )
    args = parser.parse_args(argv)
    train, test = args.data / "mnist_train.csv.gz", args.data / "mnist_test.csv.gz"
    for path in (train, test):
        if not path.is_file():
            raise SystemExit(f"{path}: not found; pass --data DIR with the MNIST CSVs")
    X_test, y_test = load_mnist_csv(test)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        trained = Path(tmp) / "trained.skops"
        seconds = train_with_defaults(train, test, trained)
        model = load_model(trained)  # the trusted loader, as for any .skops file
        dropped = strip_training_state(model, X_test[:500])
        final = Path(tmp) / f"{NAME}.skops"
        save_model(model, final)
        data = final.read_bytes()
        if len(data) > MAX_BYTES:
            raise SystemExit(
                f"the model file is {len(data):,} bytes, over the limit of "
                f"{MAX_BYTES:,} (3 MB); {args.out / (NAME + '.skops')} is unchanged"
            )
        shipped = load_model(final)
        accuracy = float(shipped.score(X_test, y_test))
    record = provenance(shipped, accuracy, len(y_test), args, seconds, data)
    write_bytes_atomically(args.out / f"{NAME}.skops", data)
    with atomic_output(args.out / f"{NAME}.json") as file:
        file.write(json.dumps(record, indent=2) + "\n")
    update_readme(args.out / "README.md", record)
    print(
        f"\nwrote {args.out / (NAME + '.skops')}: {len(data):,} bytes "
        f"(dropped {', '.join(dropped) or 'nothing'})\n"
        f"test accuracy of the file as shipped: {accuracy:.4f} "
        f"({len(y_test):,} images of {test.name})\n"
        f"provenance: {args.out / (NAME + '.json')}, git {record['git_commit']}",
        flush=True,
    )
    if args.out.resolve() == (REPO_ROOT / "skdigits" / "data").resolve():
        make_digit_detector.main(["--data", str(args.data), "--out", str(args.out)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
