"""Cut the small MNIST sample shipped in skdigits/data/ from the full MNIST CSVs.

Stratified by digit with a fixed seed, rows kept in their original order, the
header ``label,1x1,...,28x28`` kept, gzip level 9 with a zero timestamp: the
same command always writes the same bytes.

    python -m benchmarks.make_sample --data-dir ../shared/data --out skdigits/data

from the repository root (``--out``'s default is relative to it; ``--data-dir``'s
is ``$SKDIGITS_DATA_DIR``, else ``../shared/data`` from the repository root).
"""

import argparse
import gzip
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from skdigits.datasets import load_mnist_csv

from ._common import default_data_dir

SAMPLES = {  # output name: (source name, rows)
    "mnist_train_sample.csv.gz": ("mnist_train.csv.gz", 5000),
    "mnist_test_sample.csv.gz": ("mnist_test.csv.gz", 1000),
}
HEADER = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))


def stratified_rows(y, n_rows, seed):
    """Sorted indices of ``n_rows`` rows, in the proportions of the digits."""
    index, _ = train_test_split(
        np.arange(len(y)), train_size=n_rows, stratify=y, random_state=seed
    )
    return np.sort(index)


def to_csv_gz(X, y, path):
    """Write ``label,1x1,...`` rows to ``path`` atomically (temp file + rename)."""
    text = io.StringIO()
    text.write(HEADER + "\n")
    np.savetxt(text, np.column_stack([y, X]), fmt="%d", delimiter=",")
    data = gzip.compress(text.getvalue().encode("ascii"), compresslevel=9, mtime=0)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=Path("skdigits/data"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for out_name, (source_name, n_rows) in SAMPLES.items():
        X, y = load_mnist_csv(args.data_dir / source_name)
        rows = stratified_rows(y, n_rows, args.seed)
        out = args.out / out_name
        to_csv_gz(X[rows], y[rows], out)
        counts = np.bincount(y[rows], minlength=10).tolist()
        print(f"{out}: {len(rows)} rows, {out.stat().st_size:,} bytes, digits {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
