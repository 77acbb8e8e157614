"""Load MNIST CSV files, and the small real MNIST sample shipped with skdigits.

An MNIST CSV holds one 28x28 image per row: an optional label column and 784
pixel columns (grey levels 0-255, row by row). :func:`load_mnist_csv` reads the
layouts people download (``label,1x1,...,28x28``; Kaggle's
``label,pixel0,...,pixel783`` and its unlabeled ``test.csv``; files without a
header), plain, gzip-compressed or inside a zip archive, and names the file and
line of anything it cannot read. A first column of row numbers (the index
pandas writes) and the empty last column of a spreadsheet export (a comma at
the end of every line) are left out. :func:`fetch_mnist_csv` writes
``mnist_train.csv`` and ``mnist_test.csv`` from OpenML, for those who have no
MNIST CSV files yet.

>>> from skdigits.datasets import load_mnist_sample, sample_path
>>> X, y = load_mnist_sample("test")
>>> X.shape, X.dtype, y.dtype
((1000, 784), dtype('uint8'), dtype('int64'))
>>> sample_path("train").name
'mnist_train_sample.csv.gz'
"""

import contextlib
import functools
import gzip
import io
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from skdigits._atomic import atomic_output

__all__ = [
    "fetch_mnist_csv",
    "load_mnist",
    "load_mnist_csv",
    "load_mnist_sample",
    "sample_path",
]

N_PIXELS = 784
_SAMPLES = {"train": "mnist_train_sample.csv.gz", "test": "mnist_test_sample.csv.gz"}
# Bytes a well-formed data section is made of; anything else sends the file to
# the careful line-by-line pass.
_PLAIN_BYTES = b"0123456789, \r\n"
_MAX_LINE = 1 << 20  # far longer than any MNIST row (785 short integers)
_BOM = b"\xef\xbb\xbf"
_INTEGER = re.compile(rb"[+-]?[0-9]+")
_BLOCK_LINES = 1000
_CORRUPT = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile)
_NUMBERED_FROM_0 = [str(i) for i in range(N_PIXELS)]
_NUMBERED_FROM_1 = [str(i) for i in range(1, N_PIXELS + 1)]
# First header cells that name a row index or an id, not a label or a pixel:
# pandas' unnamed index ("" when written, "Unnamed: 0" when read back and
# written again), reset_index()'s "index", Kaggle's "ImageId".
_INDEX_NAMES = ("", "unnamed: 0", "index", "level_0", "id", "imageid")
# A headerless first column that counts 0..n-1 (or 1..n) is taken as row
# numbers only over more rows than there are digits: ten drawings labelled
# 0-9, in order, are a real file.
_INDEX_MIN_ROWS = 11
# MNIST as OpenML's "mnist_784" holds it: the 60,000 training images, then the
# 10,000 test images, in the order of LeCun's files.
_OPENML_NAME = "mnist_784"
_N_TRAIN, _N_TEST = 60000, 10000
_MNIST_HEADER = "label," + ",".join(
    f"{row}x{col}" for row in range(1, 29) for col in range(1, 29)
)
_LAYOUTS = (
    "an MNIST CSV has 785 columns (a label and 784 pixels, one per pixel of a "
    "28x28 image) or 784 (pixels only, like Kaggle's test.csv)"
)


def sample_path(subset="train"):
    """Path of the small MNIST sample bundled with skdigits.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        ``"train"``: 5,000 rows of the MNIST training set; ``"test"``: 1,000
        rows of the MNIST test set.

    Returns
    -------
    path : pathlib.Path
        A ``.csv.gz`` file with the header ``label,1x1,...,28x28``, like the
        full ``mnist_train.csv``; any command that takes a CSV path takes it.

    Examples
    --------
    >>> from skdigits.datasets import sample_path
    >>> sample_path("test").is_file()
    True
    """
    if subset not in _SAMPLES:
        raise ValueError(
            f"subset must be one of {sorted(_SAMPLES)}, got {subset!r}. "
            "Use subset='train' (5,000 rows) or subset='test' (1,000 rows)."
        )
    return Path(__file__).resolve().parent / "data" / _SAMPLES[subset]


def load_mnist_sample(subset="train"):
    """Load the small real MNIST sample bundled with skdigits.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        ``"train"``: 5,000 rows of the MNIST training set; ``"test"``: 1,000
        rows of the MNIST test set (both stratified by digit).

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype uint8
        Pixels 0-255, each row a 28x28 image read row by row.
    y : ndarray of shape (n_samples,), dtype int64
        The digits 0-9.

    Examples
    --------
    >>> from skdigits.datasets import load_mnist_sample
    >>> X, y = load_mnist_sample()
    >>> X.shape, sorted(set(y.tolist())) == list(range(10))
    ((5000, 784), True)
    """
    return load_mnist_csv(sample_path(subset))


def load_mnist(subset="train", data_dir=None):
    """Load MNIST's training or test set from a folder, or the bundled sample.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        Which file: ``mnist_train.csv`` or ``mnist_test.csv``.
    data_dir : str, os.PathLike or None, default=None
        A folder holding ``mnist_<subset>.csv`` or ``mnist_<subset>.csv.gz``
        (the layout of the files people download, and of those
        :func:`fetch_mnist_csv` writes). None gives :func:`load_mnist_sample`,
        so scripts run without a download.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype uint8
        Pixels 0-255.
    y : ndarray of shape (n_samples,), dtype int64
        The digits.

    Examples
    --------
    >>> from skdigits.datasets import load_mnist
    >>> X, y = load_mnist("test")
    >>> X.shape
    (1000, 784)
    """
    path = sample_path(subset)  # also checks ``subset``
    if data_dir is None:
        return load_mnist_csv(path)
    for name in (f"mnist_{subset}.csv.gz", f"mnist_{subset}.csv"):
        if (Path(data_dir) / name).is_file():
            return load_mnist_csv(Path(data_dir) / name)
    raise ValueError(
        f"{data_dir}: no mnist_{subset}.csv or mnist_{subset}.csv.gz in this folder; "
        "point data_dir at the folder that holds the MNIST CSV files, or write "
        "them there with skdigits.datasets.fetch_mnist_csv(data_dir)."
    )


def fetch_mnist_csv(output_dir=".", *, data_home=None):
    """Download MNIST from OpenML and write ``mnist_train.csv`` and ``mnist_test.csv``.

    For those who have neither Kaggle's files nor the widely shared CSVs:
    :func:`sklearn.datasets.fetch_openml` downloads ``"mnist_784"`` (cached
    in ``data_home`` for the next time), and the 60,000 training and 10,000 test
    images are written, in MNIST's order, in the layout
    ``label,1x1,...,28x28`` that :func:`load_mnist` and the command line read.
    Both files are written to temporary files first and renamed at the end,
    so a failed run leaves existing files as they were.

    Parameters
    ----------
    output_dir : str or os.PathLike, default="."
        The folder to write to; made if missing.
    data_home : str or os.PathLike, default=None
        scikit-learn's download cache (None: ``~/scikit_learn_data``).

    Returns
    -------
    paths : tuple of pathlib.Path
        ``mnist_train.csv`` and ``mnist_test.csv``.

    Raises
    ------
    ValueError
        When the download fails, OpenML's data is not MNIST's 70,000 images
        of 784 grey levels 0-255 with the digits 0-9 as labels, or a file
        cannot be written. The message is one line and says what to do.
    """
    from sklearn.datasets import fetch_openml

    try:
        mnist = fetch_openml(
            _OPENML_NAME, version=1, as_frame=False, data_home=data_home
        )
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"cannot download {_OPENML_NAME!r} from OpenML "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}). Check the "
            "connection (fetch_openml needs https://openml.org), or download "
            "Kaggle's 'MNIST in CSV' dataset instead."
        ) from None
    X, y = _checked_openml_mnist(mnist.data, mnist.target)
    output_dir = Path(output_dir)
    paths = (output_dir / "mnist_train.csv", output_dir / "mnist_test.csv")
    parts = (slice(0, _N_TRAIN), slice(_N_TRAIN, None))
    path = output_dir
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:  # renamed together, at the end
            for path, part in zip(paths, parts):
                file = stack.enter_context(atomic_output(path))
                _write_mnist_rows(file, X[part], y[part])
    except OSError as exc:
        raise ValueError(
            f"{path}: cannot write it ({exc.strerror or exc}); no existing file "
            "was replaced. Free some space, or choose another folder."
        ) from None
    return paths


def _checked_openml_mnist(data, target):
    """``(X, y)`` as uint8 and int64, or a ValueError if it is not MNIST."""
    data = np.asarray(data)
    where = f"OpenML's {_OPENML_NAME!r}"
    if data.shape != (_N_TRAIN + _N_TEST, N_PIXELS):
        raise ValueError(
            f"{where} has shape {data.shape}, not MNIST's "
            f"({_N_TRAIN + _N_TEST}, {N_PIXELS}). Clear scikit-learn's cache "
            "(sklearn.datasets.get_data_home()) and run again."
        )
    X = data.astype(np.uint8)
    if not np.array_equal(X, data):
        raise ValueError(
            f"{where} holds values other than the grey levels 0-255. Clear "
            "scikit-learn's cache (sklearn.datasets.get_data_home()) and run again."
        )
    labels = np.asarray(target).astype(str)
    if not np.isin(labels, [str(d) for d in range(10)]).all():
        raise ValueError(
            f"{where} has labels other than the digits 0-9. Clear "
            "scikit-learn's cache (sklearn.datasets.get_data_home()) and run again."
        )
    return X, labels.astype(np.int64)


def _write_mnist_rows(file, X, y):
    """Write the header and one ``label,pixel,...`` line per image to ``file``."""
    file.write(_MNIST_HEADER + "\n")
    cells = np.array([str(v) for v in range(256)], dtype=object)
    for start in range(0, len(X), _BLOCK_LINES):
        block = cells[X[start : start + _BLOCK_LINES]]
        labels = y[start : start + _BLOCK_LINES]
        file.write(
            "".join(
                f"{label}," + ",".join(row) + "\n" for label, row in zip(labels, block)
            )
        )


def load_mnist_csv(path, *, member=None):
    """Load an MNIST CSV file into a uint8 pixel matrix and its labels.

    Reads ``.csv``, ``.csv.gz`` and ``.zip`` (recognised by their content, not
    their name), with or without a header line. The label column is the one
    named ``label``, or else the first of 785 columns; a file with 784 columns
    has no labels. The file is checked completely: nothing is silently
    dropped, converted or clipped.

    A first column that is a row index, not a label (``index``, ``ImageId``,
    pandas' unnamed index, or without a header a column counting ``0..n-1`` or
    ``1..n`` over more than ten rows, in front of 784 pixels or a label and 784
    pixels), is left out with a ``UserWarning`` when it holds exactly the row
    numbers, and refused otherwise (the rows were reordered, or it is an id).
    Empty cells at the end of a line (a spreadsheet's trailing commas) are
    ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file, e.g. ``mnist_train.csv``, ``train.csv.gz`` or Kaggle's
        ``digit-recognizer.zip`` as downloaded.
    member : str, default=None
        For a zip archive, the CSV inside it to read (e.g. ``"train.csv"``).
        None picks the archive's only CSV file.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype uint8
        Pixels 0-255, each row a 28x28 image read row by row.
    y : ndarray of shape (n_samples,), dtype int64, or None
        The labels (any non-negative integers, e.g. 1-26 for EMNIST letters),
        or None when the file has no label column.

    Raises
    ------
    ValueError
        When the file cannot be read as an MNIST CSV. The message names the
        file, the 1-based line of the first bad row (the header is line 1),
        what is wrong and what to do.

    Examples
    --------
    >>> from skdigits.datasets import load_mnist_csv, sample_path
    >>> X, y = load_mnist_csv(sample_path("test"))
    >>> X.shape, y.shape
    ((1000, 784), (1000,))
    """
    source = _resolve_source(path, member)
    try:
        layout = _read_layout(source)
        result = _read_fast(source, layout)
        if result is None:
            result = _read_careful(source, layout)
        result = _leave_out_row_numbers(source, layout, *result)
    except _CORRUPT as exc:
        raise ValueError(
            f"{source.name}: the file is truncated or corrupt ({exc}). "
            "Download it again, or unpack it with a tool that reports the damage."
        ) from None
    except OSError as exc:
        raise ValueError(
            f"{source.name}: cannot read the file ({exc.strerror or exc}). "
            "Check that it exists and that you may read it."
        ) from None
    if len(result[0]) == 0:
        raise ValueError(
            f"{source.name}: the file has a header but no data rows. It was "
            "probably cut short: download or export it again."
        )
    return result


# --- where the bytes come from ----------------------------------------------


@dataclass(frozen=True)
class _Source:
    """A readable MNIST CSV: a plain, gzip or zip-member file."""

    path: Path
    kind: str  # "plain", "gzip" or "zip"
    member: str = None

    @property
    def name(self):
        """The file as named in error messages."""
        if self.member is None:
            return str(self.path)
        return f"{self.path} (member {self.member!r})"

    @contextlib.contextmanager
    def open(self):
        """A fresh binary stream of the CSV text, from its first byte."""
        with contextlib.ExitStack() as stack:
            if self.kind == "zip":
                archive = stack.enter_context(zipfile.ZipFile(self.path))
                try:
                    member = archive.open(self.member)
                except (RuntimeError, NotImplementedError) as exc:  # encrypted...
                    raise ValueError(
                        f"{self.name}: cannot unpack this member ({exc}). Unpack "
                        "the archive with another tool and pass the CSV file."
                    ) from None
                yield stack.enter_context(member)
            elif self.kind == "gzip":
                yield stack.enter_context(gzip.open(self.path, "rb"))
            else:
                yield stack.enter_context(open(self.path, "rb"))


def _resolve_source(path, member):
    """Check that ``path`` is a readable file and find out how it is packed."""
    path = Path(os.fsdecode(os.fspath(path)))
    if path.is_dir():
        found = sorted(
            p.name
            for pattern in ("*.csv", "*.csv.gz", "*.zip")
            for p in path.glob(pattern)
        )
        hint = f" It holds: {', '.join(found[:10])}." if found else ""
        raise ValueError(
            f"{path} is a directory. Pass the path of a .csv, .csv.gz or .zip "
            f"file instead.{hint}"
        )
    if not path.is_file():
        raise ValueError(
            f"{path}: no such file. Check the path (relative paths start at "
            f"{Path.cwd()}), or download the MNIST CSV first."
        )
    try:
        with open(path, "rb") as stream:
            magic = stream.read(4)
    except OSError as exc:
        raise ValueError(
            f"{path}: cannot read the file ({exc.strerror}). Check that you may "
            "read it (permissions, a file still being written)."
        ) from None
    kind = {b"\x1f\x8b": "gzip", b"PK": "zip"}.get(magic[:2], "plain")
    if kind != "zip" and member is not None:
        raise ValueError(
            f"{path} is not a zip archive, so member={member!r} does not apply. "
            "Call load_mnist_csv without member=."
        )
    if kind == "zip":
        member = _pick_member(path, member)
    return _Source(path, kind, member)


def _pick_member(path, member):
    """The archive member to read: ``member``, or the archive's only CSV."""
    names = _zip_names(path)
    csvs = _csv_names(names)
    if member is None:
        if len(csvs) == 1:
            return csvs[0]
        what = f"{len(csvs)} CSV files" if csvs else "no CSV file"
        example = (_image_files(csvs) or csvs or names or ["train.csv"])[0]
        raise ValueError(
            f"{path} holds {what}; choose one with member=, e.g. "
            f"load_mnist_csv({str(path)!r}, member={example!r}). "
            f"Members: {', '.join(names) or 'none'}."
        )
    if member in names:
        return member
    by_base = [n for n in names if n.rsplit("/", 1)[-1] == member]
    if len(by_base) == 1:
        return by_base[0]
    raise ValueError(
        f"{path} has no member {member!r}. Choose member= from: "
        f"{', '.join(names) or 'none (the archive is empty)'}."
    )


def _image_files(names):
    """The members of ``names`` that may hold images: Kaggle's
    ``sample_submission.csv`` (``ImageId,Label``) does not."""
    return [name for name in names if "submission" not in name.lower()]


def _csv_members(path):
    """The CSV members of the zip archive ``path`` (in the archive's order), or
    None when ``path`` is not a zip archive; a damaged archive is a ValueError."""
    path = Path(os.fsdecode(os.fspath(path)))
    try:
        with open(path, "rb") as stream:
            if stream.read(2) != b"PK":
                return None
    except OSError:
        return None  # the loader names the problem
    return _csv_names(_zip_names(path))


def _zip_names(path):
    """The file names inside the zip archive ``path``."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [n for n in archive.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(
            f"{path}: not a readable zip archive ({exc}). The download may be "
            "incomplete: download it again."
        ) from None


def _csv_names(names):
    return [n for n in names if n.lower().endswith(".csv") and "__MACOSX" not in n]


# --- the first line: header or not, which column is the label ---------------


@dataclass(frozen=True)
class _Layout:
    """What the first non-blank line says about the file."""

    n_columns: int  # values read from a line: row index, label and pixels
    label_index: int = None  # None: the file has no labels
    names: tuple = None  # header cells; None when there is no header
    skip_lines: int = 0  # lines before the first data row
    index_column: int = None  # 0 when the first column is a row index or id
    width: int = None  # cells on the first line, trailing empty cells included

    def column(self, index):
        """Column ``index`` (0-based) as named in error messages."""
        name = f" ({self.names[index]!r})" if self.names else ""
        return f"column {index + 1}{name}"

    def kind(self, index):
        """``"label"``, ``"row index"`` or ``"pixel"``: what column ``index`` holds."""
        if index == self.label_index:
            return "label"
        return "row index" if index == self.index_column else "pixel"

    def pixel_mask(self):
        """Boolean mask of the pixel columns among the ``n_columns`` values."""
        pixels = np.ones(self.n_columns, dtype=bool)
        for index in (self.label_index, self.index_column):
            if index is not None:
                pixels[index] = False
        return pixels


def _read_layout(source):
    """Sniff the first non-blank line of ``source``."""
    with source.open() as stream:
        lineno = 0
        while True:
            line = stream.readline(_MAX_LINE)
            lineno += 1
            if not line:
                raise ValueError(
                    f"{source.name}: the file is empty. Download or export it again."
                )
            if len(line) == _MAX_LINE or b"\x00" in line:
                raise _binary_error(source.name, lineno)
            if line.strip():
                break
    return _layout_of_line(line, lineno, source.name)


def _layout_of_line(line, lineno, name):
    """The layout told by the first non-blank ``line`` (a header or a data row)."""
    try:
        text = line.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError:
        raise _binary_error(name, lineno) from None
    cells = [cell.strip().strip("\"'").strip() for cell in text.split(",")]
    width = len(cells)
    while len(cells) > 1 and not cells[-1]:  # a spreadsheet's empty last column
        cells.pop()
    if _is_header(cells):
        return _header_layout(cells, lineno, name, text, width)
    n_columns = len(cells)
    if n_columns not in (N_PIXELS, N_PIXELS + 1, N_PIXELS + 2):
        raise ValueError(
            f"{name}: line {lineno} has {n_columns} values, but {_LAYOUTS}."
            f"{_separator_hint(text)}"
        )
    # 786 values: a row index in front of a label and the pixels, or an error
    # (see _leave_out_row_numbers); 785: the label first (or a row index)
    label = {N_PIXELS: None, N_PIXELS + 1: 0, N_PIXELS + 2: 1}[n_columns]
    index = 0 if n_columns == N_PIXELS + 2 else None
    return _Layout(n_columns, label, None, lineno - 1, index, width)


def _is_header(cells):
    """Whether a first line names the columns rather than holding an image."""
    filled = [cell for cell in cells if cell]
    if any(cell.lower() == "label" for cell in filled):
        return True
    if sum(not _is_number(cell) for cell in filled) > len(filled) / 2:
        return True
    # The integer names pandas writes for an unnamed frame: 0..783 (or 1..784).
    return cells[-N_PIXELS:] in (_NUMBERED_FROM_0, _NUMBERED_FROM_1)


def _header_layout(cells, lineno, name, text, width):
    """The layout told by a header line: its width, its label and index columns."""
    n_columns = len(cells)
    where = f"{name}: line {lineno}: the header"
    lowered = [cell.lower() for cell in cells]
    if lowered == ["imageid", "label"]:
        raise ValueError(
            f"{where} is ImageId,Label: this is a file of predictions (Kaggle's "
            "sample_submission.csv), not of images. Pass train.csv or test.csv."
        )
    index = 0 if lowered[0] in _INDEX_NAMES and n_columns > N_PIXELS else None
    first = 0 if index is None else 1  # the first label or pixel column
    n_values = n_columns - first
    label = lowered.index("label", first) if "label" in lowered[first:] else None
    if label is not None and n_values != N_PIXELS + 1:
        raise ValueError(
            f"{where} has a 'label' column and {n_values - 1} pixel columns, "
            f"but a labeled MNIST file has {N_PIXELS} pixel columns (785 "
            "columns in all). The file is damaged or not a 28x28 image file: "
            "download or export it again."
        )
    if n_values not in (N_PIXELS, N_PIXELS + 1):
        raise ValueError(
            f"{where} has {n_columns} column(s), but {_LAYOUTS}.{_separator_hint(text)}"
        )
    if label is None and n_values == N_PIXELS + 1:
        label = first
    return _Layout(n_columns, label, tuple(cells), lineno, index, width)


# --- a first column of row numbers: left out, or refused --------------------


def _leave_out_row_numbers(source, layout, X, y, index):
    """``(X, y)`` without a first column of row numbers (with a warning).

    The column is the one the header names as an index (``index``, ``ImageId``,
    pandas' unnamed index), the first of 786 headerless columns, or the
    headerless label column when it counts ``0..n-1`` or ``1..n`` over at least
    ``_INDEX_MIN_ROWS`` rows. A named or 786th column that does not hold the
    row numbers is refused: its rows were reordered, or it is an id.
    """
    if len(X) == 0:
        return X, y
    if layout.index_column is None:
        if layout.names is not None or y is None or len(y) < _INDEX_MIN_ROWS:
            return X, y
        if _row_numbers_start(y) is None:
            return X, y
        y, index = None, y
    start = _row_numbers_start(index)
    if start is None:
        raise _not_row_numbers_error(source, layout, index)
    warnings.warn(
        f"{source.name}: {layout.column(0)} holds the row numbers "
        f"{start}..{start + len(index) - 1}, not a label or pixels: it was left "
        "out. Save the file without it (DataFrame.to_csv(..., index=False)) to "
        "silence this warning.",
        UserWarning,
        stacklevel=3,
    )
    return X, y


def _row_numbers_start(values):
    """0 or 1 when ``values`` are ``0..n-1`` or ``1..n`` in order, else None."""
    for start in (0, 1):
        if values[0] == start and np.array_equal(
            values, np.arange(start, start + len(values))
        ):
            return start
    return None


def _not_row_numbers_error(source, layout, index):
    """The ValueError for an index column that is not the row numbers."""
    start = 1 if index[0] == 1 else 0
    row = int(np.flatnonzero(index != np.arange(start, start + len(index)))[0])
    lineno = _line_of_row(source, layout, row)
    found = f"line {lineno} holds {index[row]}, not {start + row}"
    if layout.names is None:
        return ValueError(
            f"{source.name}: line {layout.skip_lines + 1} has {layout.n_columns} "
            f"values, but {_LAYOUTS}, and its column 1 is not a row index either "
            f"({found}). Delete the extra column, or download the file again."
        )
    return ValueError(
        f"{source.name}: line {lineno}, {layout.column(0)}: {index[row]} where row "
        f"number {start + row} was expected. The column is a row index or an id, "
        "not a label or a pixel, and the rows are not in its order: save the file "
        "without it (DataFrame.to_csv(..., index=False)) or delete the column."
    )


def _line_of_row(source, layout, row):
    """The 1-based line number of data row ``row`` (0-based; blank lines skipped)."""
    with source.open() as stream:
        for block in _data_blocks(stream, layout, source.name):
            if row < len(block):
                return block[row][0]
            row -= len(block)
    return None  # pragma: no cover - the row was read from this file


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _separator_hint(text):
    for sep, sep_name in ((";", "semicolons"), ("\t", "tabs")):
        if text.count(sep) >= N_PIXELS - 1:
            return f" The values are separated by {sep_name}: save it with commas."
    return " Check that it is a comma-separated MNIST file of 28x28 images."


def _binary_error(name, lineno):
    return ValueError(
        f"{name}: line {lineno} is binary data, not CSV text, and the file is "
        "not a gzip or zip archive either. Download it again, or unpack it "
        "first if it is packed in another format."
    )


# --- the fast path: pandas' C parser, then whole-file checks ----------------


class _CheckedReader:
    """Let pandas read a stream while counting what the fast path must confirm.

    Pandas' integer parsing is lenient (it takes ``2.0``, ``1e2``, ``+3`` and
    drops extra trailing fields with ``index_col=False``), so the fast path
    only stands when the data holds nothing but digits, commas, spaces and
    line ends, and exactly ``n_columns - 1`` commas per parsed row.
    """

    class Unexpected(Exception):
        """A byte that needs the careful pass."""

    def __init__(self, stream):
        self._stream = stream
        self.commas = 0

    def read(self, size=-1):
        chunk = self._stream.read(size)
        if chunk.translate(None, _PLAIN_BYTES):
            raise self.Unexpected
        self.commas += chunk.count(b",")
        return chunk


@functools.cache
def _pandas_refuses_wrapping():
    """Whether ``read_csv(dtype=uint8)`` refuses 300 (pandas >= 3) rather than
    wrapping it to 44, silently, as older pandas does."""
    try:
        pd.read_csv(io.StringIO("300\n"), header=None, dtype={0: np.uint8})
    except (ValueError, OverflowError):
        return True
    return False


# Rows per chunk when pandas wraps out-of-range pixels: they are parsed as
# int64 and range-checked, a chunk at a time, so memory stays near that of X.
_CHECKED_CHUNK_ROWS = 1024


def _read_fast(source, layout):
    """Parse with pandas' C engine; None when the file needs the careful pass.

    Returns ``(X, y, index)``: the pixels, the labels (or None) and the first
    column when it may be a row index (or None). pandas >= 3 refuses a pixel
    out of 0-255 in ``dtype=uint8``; older pandas wraps it (300 becomes 44),
    so there the pixels are parsed as int64, a chunk of rows at a time, and
    checked here. The empty cells of trailing commas are parsed as text and
    checked to be empty.
    """
    checked = not _pandas_refuses_wrapping()
    dtype = dict.fromkeys(range(layout.n_columns), np.int64 if checked else np.uint8)
    for index in (layout.label_index, layout.index_column):
        if index is not None:
            dtype[index] = np.int64
    dtype.update(dict.fromkeys(range(layout.n_columns, layout.width), object))
    with source.open() as stream:
        for _ in range(layout.skip_lines):
            stream.readline()
        reader = _CheckedReader(stream)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frames = pd.read_csv(
                    reader,
                    header=None,
                    names=range(layout.width),
                    dtype=dtype,
                    index_col=False,
                    na_filter=False,
                    engine="c",
                    chunksize=_CHECKED_CHUNK_ROWS if checked else None,
                )
                parts = []
                for frame in frames if checked else [frames]:
                    part = _frame_arrays(frame, layout, checked)
                    if part is None:  # a bad pixel: stop parsing, go careful
                        return None
                    parts.append(part)
        except _CORRUPT:
            raise
        except Exception:  # any parse failure: let the careful pass explain it
            return None
    if not parts:
        return None
    if reader.commas != sum(len(part[0]) for part in parts) * (layout.width - 1):
        return None
    if len(parts) == 1:
        return parts[0]
    return tuple(
        None if column[0] is None else np.concatenate(column) for column in zip(*parts)
    )


def _frame_arrays(frame, layout, checked):
    """``(X, y, index)`` of a parsed frame; None when ``checked`` finds a pixel
    out of 0-255, or a trailing cell is not empty (the careful pass then names
    its line)."""
    for name in range(layout.n_columns, layout.width):
        if frame.pop(name).str.strip().ne("").any():
            return None
    y, index = (
        None if column is None else frame.pop(column).to_numpy(dtype=np.int64)
        for column in (layout.label_index, layout.index_column)
    )
    # Column by column: the frame holds one block per column, and this avoids
    # a consolidated copy next to the C-ordered result.
    X = np.empty((len(frame), N_PIXELS), dtype=np.uint8)
    for j, name in enumerate(frame.columns):
        column = frame[name].to_numpy()
        if checked and column.size and not 0 <= column.min() <= column.max() <= 255:
            return None
        X[:, j] = column
    return X, y, index


# --- the careful pass: line by line, to name the first bad line -------------


def _read_careful(source, layout):
    """Check every line; raise ValueError at the first bad one, else load it.

    Returns ``(X, y, index)`` as :func:`_read_fast` does. Blocks of plain
    lines (digits and commas, values in range) are parsed at once; a block
    with anything else is gone through cell by cell.
    """
    X_blocks, y_blocks, index_blocks = [], [], []
    pixels = layout.pixel_mask()
    with source.open() as stream:
        for block in _data_blocks(stream, layout, source.name):
            values = _plain_values(block, layout, pixels)
            if values is None:
                rows = [_parse_row(line, n, layout, source.name) for n, line in block]
                values = np.array(rows, dtype=np.int64)
            X_blocks.append(values[:, pixels].astype(np.uint8))
            if layout.label_index is not None:
                y_blocks.append(values[:, layout.label_index])
            if layout.index_column is not None:
                index_blocks.append(values[:, layout.index_column])
    if not X_blocks:
        return np.empty((0, N_PIXELS), dtype=np.uint8), None, None
    y = np.concatenate(y_blocks) if y_blocks else None
    index = np.concatenate(index_blocks) if index_blocks else None
    return np.concatenate(X_blocks), y, index


def _data_blocks(stream, layout, name):
    """Lists of up to ``_BLOCK_LINES`` (1-based line number, data line)."""
    block, lineno = [], 0
    while line := stream.readline(_MAX_LINE):
        lineno += 1
        if len(line) == _MAX_LINE and not line.endswith(b"\n"):
            raise _binary_error(name, lineno)
        if lineno <= layout.skip_lines or not line.strip():
            continue
        block.append((lineno, line.removeprefix(_BOM) if lineno == 1 else line))
        if len(block) == _BLOCK_LINES:
            yield block
            block = []
    if block:
        yield block


def _plain_values(block, layout, pixels):
    """The int64 values of a block of plain, valid lines; None otherwise."""
    lines = [_no_trailing_commas(line, layout.n_columns) for _, line in block]
    joined = b",".join(lines)
    if (
        joined.translate(None, b"0123456789,")
        or b",," in joined
        or joined.startswith(b",")
        or joined.endswith(b",")
        or any(line.count(b",") != layout.n_columns - 1 for line in lines)
    ):
        return None
    values = np.fromstring(joined, dtype=np.int64, sep=",")
    values = values.reshape(len(lines), layout.n_columns)
    # fromstring saturates on overflow: let the cell-by-cell pass judge those.
    if values[:, pixels].max() > 255 or values.max() == np.iinfo(np.int64).max:
        return None
    return values


def _no_trailing_commas(line, n_columns):
    """``line`` without its line end and the commas after its ``n_columns``
    values (the empty last columns of a spreadsheet export)."""
    line = line.rstrip(b"\r\n")
    while line.endswith(b",") and line.count(b",") >= n_columns:
        line = line[:-1]
    return line


def _parse_row(line, lineno, layout, name):
    """The values of one data line, label included, or a ValueError."""
    cells = [cell.strip() for cell in line.rstrip(b"\r\n").split(b",")]
    while len(cells) > layout.n_columns and not cells[-1]:  # trailing commas
        cells.pop()
    if len(cells) != layout.n_columns:
        raise _column_count_error(len(cells), lineno, layout, name)
    values = [_cell_value(cell) for cell in cells]
    for index, value in enumerate(values):
        problem = _cell_problem(value, cells[index], layout.kind(index))
        if problem:
            raise ValueError(
                f"{name}: line {lineno}, {layout.column(index)}: {problem}"
                f"{_row_hint(values, layout, index)}"
            )
    return values


def _column_count_error(n_cells, lineno, layout, name):
    labeled = "a label and 784 pixels" if layout.label_index is not None else "pixels"
    what = "is cut short" if n_cells < layout.n_columns else "has extra values"
    return ValueError(
        f"{name}: line {lineno} has {n_cells} values, but the file has "
        f"{layout.n_columns} columns ({labeled}). The row {what}: fix or "
        "delete that line, or download the file again."
    )


def _cell_value(cell):
    """An int, a float or None (text) for one stripped cell."""
    if _INTEGER.fullmatch(cell):
        return int(cell)
    try:
        return float(cell)
    except ValueError:
        return None


def _cell_problem(value, cell, kind):
    """What is wrong with one cell of a ``kind`` column, or None."""
    shown = cell[:20].decode("utf-8", "replace")
    if not cell:
        return "the cell is empty. Fill it in (0 is background) or delete the line."
    if value is None:
        if any(b < 32 or b > 126 for b in cell):
            return f"binary data {shown!r}, not CSV text. Download the file again."
        return (
            f"{shown!r} is not a number (a second header line, or files joined "
            "together?). Every cell after the header must be an integer: fix "
            "or delete the line."
        )
    if isinstance(value, float):
        return f"{shown!r} is not an integer; each {kind} must be a whole number."
    if kind == "label" and value < 0:
        return (
            f"label {value} is negative; labels must be non-negative integers "
            "(0-9 for digits, 1-26 for EMNIST letters). Fix the label or delete "
            "the line."
        )
    if kind != "pixel" and not -(2**63) <= value < 2**63:
        what = "a class label" if kind == "label" else "a row number"
        return f"{kind} {shown} is too large for {what}. Fix it or delete the line."
    if kind == "pixel" and not 0 <= value <= 255:
        return (
            f"pixel value {value} is outside 0-255. Pixels must be 8-bit grey "
            "levels: fix the cell, or rescale the file to 0-255."
        )
    return None


def _row_hint(values, layout, bad_index):
    """Extra advice for a decimal number: is the row already scaled to [0, 1]?"""
    if not isinstance(values[bad_index], float):
        return ""
    pixels = [v for v, is_pixel in zip(values, layout.pixel_mask()) if is_pixel]
    scaled = all(v is not None and 0 <= v <= 1 for v in pixels)
    if scaled and any(isinstance(v, float) for v in pixels):
        return (
            " The pixels look already scaled to [0, 1]: load the original 0-255 "
            "file, or save np.rint(X * 255).astype(np.uint8) instead."
        )
    if layout.kind(bad_index) != "pixel":
        return f" Save the {layout.kind(bad_index)} column as integers."
    return " Save the pixels as integers 0-255 (e.g. X.astype(np.uint8))."
