"""Tests for skdigits.datasets: every CSV layout, every bad file, the sample."""

import gzip
import os
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skdigits import datasets
from skdigits.datasets import (
    load_mnist,
    load_mnist_csv,
    load_mnist_sample,
    sample_path,
)

MNIST_HEADER = ["label"] + [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
KAGGLE_PIXELS = [f"pixel{i}" for i in range(784)]


def make_data(n_rows=6, labels=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n_rows, 784), dtype=np.uint8)
    y = np.arange(n_rows) % 10 if labels is None else np.asarray(labels)
    return X, y


def csv_text(X, y=None, header=None, newline="\n"):
    """CSV text of X (and y as the first column) with an optional header."""
    table = X if y is None else np.column_stack([y, X])
    lines = [",".join(map(str, row)) for row in table.tolist()]
    if header is not None:
        lines.insert(0, ",".join(header))
    return newline.join(lines) + newline


def write(path, text):
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# --- layouts that load -------------------------------------------------------


@pytest.mark.parametrize(
    "header, labeled",
    [
        (MNIST_HEADER, True),
        (["label"] + KAGGLE_PIXELS, True),
        (KAGGLE_PIXELS, False),
        (None, True),
        (None, False),
    ],
    ids=["mnist", "kaggle-train", "kaggle-test", "no-header-785", "no-header-784"],
)
def test_layouts_load_pixels_and_labels(tmp_path, header, labeled):
    X, y = make_data()
    path = write(tmp_path / "f.csv", csv_text(X, y if labeled else None, header))
    X_read, y_read = load_mnist_csv(path)
    assert X_read.dtype == np.uint8 and X_read.flags.c_contiguous
    np.testing.assert_array_equal(X_read, X)
    if labeled:
        assert y_read.dtype == np.int64
        np.testing.assert_array_equal(y_read, y)
    else:
        assert y_read is None


def test_gzip_crlf_bom_and_trailing_blank_line(tmp_path):
    X, y = make_data()
    text = "\ufeff" + csv_text(X, y, MNIST_HEADER, newline="\r\n") + "\r\n"
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    X_read, y_read = load_mnist_csv(str(path))
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_label_column_found_by_name(tmp_path):
    X, y = make_data()
    table = np.column_stack([X, y])
    lines = [",".join(KAGGLE_PIXELS + ["label"])]
    lines += [",".join(map(str, row)) for row in table.tolist()]
    path = write(tmp_path / "f.csv", "\n".join(lines) + "\n")
    X_read, y_read = load_mnist_csv(path)
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_emnist_and_large_labels(tmp_path):
    X, _ = make_data(4)
    labels = [1, 26, 13, 300]
    path = write(tmp_path / "emnist.csv", csv_text(X, np.array(labels)))
    _, y_read = load_mnist_csv(path)
    assert y_read.tolist() == labels


def test_zip_with_one_csv_needs_no_member(tmp_path):
    X, y = make_data()
    path = tmp_path / "one.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", "not data")
        archive.writestr("mnist_train.csv", csv_text(X, y, MNIST_HEADER))
    np.testing.assert_array_equal(load_mnist_csv(path)[0], X)


def kaggle_zip(tmp_path):
    X, y = make_data()
    path = tmp_path / "digit-recognizer.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        # in the order of Kaggle's download
        archive.writestr("sample_submission.csv", "ImageId,Label\n1,0\n")
        archive.writestr("test.csv", csv_text(X[:3], None, KAGGLE_PIXELS))
        archive.writestr("train.csv", csv_text(X, y, ["label"] + KAGGLE_PIXELS))
    return path, X, y


def test_kaggle_zip_members(tmp_path):
    path, X, y = kaggle_zip(tmp_path)
    X_train, y_train = load_mnist_csv(path, member="train.csv")
    np.testing.assert_array_equal(X_train, X)
    np.testing.assert_array_equal(y_train, y)
    X_test, y_test = load_mnist_csv(path, member="test.csv")
    np.testing.assert_array_equal(X_test, X[:3])
    assert y_test is None


def test_member_found_by_base_name(tmp_path):
    X, y = make_data()
    path = tmp_path / "nested.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mnist/train.csv", csv_text(X, y))
        archive.writestr("mnist/test.csv", csv_text(X, y))
    np.testing.assert_array_equal(load_mnist_csv(path, member="test.csv")[0], X)


def test_whitespace_around_cells_and_huge_labels(tmp_path):
    X, _ = make_data(3)
    labels = [0, 2**63 - 1, 7]
    text = csv_text(X, np.array(labels, dtype=np.int64), MNIST_HEADER)
    path = write(tmp_path / "f.csv", text.replace(",", "\t, ", 5))
    X_read, y_read = load_mnist_csv(path)
    np.testing.assert_array_equal(X_read, X)
    assert y_read.tolist() == labels
    write(path, replace_cell(text, 3, 1, "9" * 20))
    with pytest.raises(ValueError, match="line 3, column 1 .*too large"):
        load_mnist_csv(path)


def test_files_written_by_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = make_data()
    frame = pd.DataFrame(X)  # integer column names 0..783
    frame.to_csv(tmp_path / "pixels.csv", index=False)
    X_read, y_read = load_mnist_csv(tmp_path / "pixels.csv")
    np.testing.assert_array_equal(X_read, X)
    assert y_read is None
    frame.insert(0, "label", y)
    frame.to_csv(tmp_path / "labeled.csv", index=False)
    np.testing.assert_array_equal(load_mnist_csv(tmp_path / "labeled.csv")[1], y)
    frame.to_csv(tmp_path / "indexed.csv")  # the row index as an unnamed column
    with pytest.warns(UserWarning, match="indexed.csv: column 1 .*row numbers"):
        X_read, y_read = load_mnist_csv(tmp_path / "indexed.csv")
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_the_int64_chunks_for_pandas_that_wraps_uint8_load_alike(tmp_path, monkeypatch):
    """pandas < 3 wraps a pixel of 300 to 44 in uint8, so there the fast pass
    parses int64 chunks and checks them; forced here, on any pandas."""
    monkeypatch.setattr(datasets, "_pandas_refuses_wrapping", lambda: False)
    monkeypatch.setattr(datasets, "_CHECKED_CHUNK_ROWS", 64)
    chunks, frame_arrays = [], datasets._frame_arrays

    def spy(frame, *args):
        result = frame_arrays(frame, *args)
        chunks.append(None if result is None else len(result[0]))
        return result

    monkeypatch.setattr(datasets, "_frame_arrays", spy)
    X, y = make_data(150)
    path = write(tmp_path / "f.csv", csv_text(X, y, MNIST_HEADER))
    X_loaded, y_loaded = load_mnist_csv(path)
    assert chunks == [64, 64, 22]  # the fast pass, a chunk at a time
    assert X_loaded.dtype == np.uint8 and X_loaded.flags.c_contiguous
    assert np.array_equal(X_loaded, X) and np.array_equal(y_loaded, y)
    bad = write(tmp_path / "bad.csv", replace_cell(long_file(), 102, 9, "300"))
    with pytest.raises(ValueError, match=r"line 102, .*300.*0-255"):
        load_mnist_csv(bad)  # not wrapped: the careful pass names the line


def test_no_float_copy_of_the_file(tmp_path):
    if not datasets._pandas_refuses_wrapping():
        pytest.skip(
            "pandas < 3 wraps pixels out of 0-255 in uint8, so the loader parses "
            "int64 chunks and checks them, at the cost of this memory bound"
        )
    X, y = make_data(1500)
    path = write(tmp_path / "f.csv", csv_text(X, y, MNIST_HEADER))
    tracemalloc.start()
    try:
        load_mnist_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.size * 8 / 2  # a float64 copy alone would be X.size * 8


# --- bad files: ValueError naming the file, the line and what is wrong -------


def replace_cell(text, line, column, value):
    """``text`` with the cell at 1-based ``line``, ``column`` set to ``value``."""
    lines = text.split("\n")
    cells = lines[line - 1].split(",")
    cells[column - 1] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines)


def long_file():
    X, y = make_data(150)
    return csv_text(X, y, MNIST_HEADER)


BAD_ROWS = {  # name: (text, expected line, phrases in the message)
    "short-row": (
        lambda t: replace_cell(t, 102, 784, "").replace(",,", ",", 1),  # 1 less
        102,
        ["784 values", "785 columns", "cut short"],
    ),
    "extra-value": (lambda t: replace_cell(t, 5, 785, "1,2"), 5, ["extra"]),
    "empty-cell": (lambda t: replace_cell(t, 102, 40, ""), 102, ["empty"]),
    "text-cell": (lambda t: replace_cell(t, 3, 7, "abc"), 3, ["'abc'", "not a number"]),
    "pixel-300": (lambda t: replace_cell(t, 102, 9, "300"), 102, ["300", "0-255"]),
    "pixel-negative": (lambda t: replace_cell(t, 2, 2, "-1"), 2, ["-1", "0-255"]),
    "label-negative": (lambda t: replace_cell(t, 4, 1, "-3"), 4, ["label -3"]),
    "float-pixel": (
        lambda t: replace_cell(t, 102, 3, "2.5"),
        102,
        ["'2.5'", "integer"],
    ),
    "integral-float": (lambda t: replace_cell(t, 9, 3, "7.0"), 9, ["'7.0'"]),
    "exponent": (lambda t: replace_cell(t, 9, 3, "1e2"), 9, ["'1e2'"]),
    "second-header": (
        lambda t: t + ",".join(MNIST_HEADER) + "\n",
        152,
        ["'label'", "header"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_names_file_and_line(tmp_path, case):
    mutate, line, phrases = BAD_ROWS[case]
    path = write(tmp_path / f"{case}.csv", mutate(long_file()))
    with pytest.raises(ValueError) as info:
        load_mnist_csv(path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}," in message or f"line {line} " in message
    for phrase in phrases:
        assert phrase in message


def test_line_numbers_without_header(tmp_path):
    X, y = make_data(5)
    text = replace_cell(csv_text(X, y), 3, 10, "x")
    path = write(tmp_path / "f.csv", text)
    with pytest.raises(ValueError, match=r"line 3, column 10: 'x'"):
        load_mnist_csv(path)


def test_floats_in_unit_range_look_scaled(tmp_path):
    X, y = make_data(3)
    text = csv_text(np.round(X / 255, 3), y, MNIST_HEADER)
    path = write(tmp_path / "scaled.csv", text)
    with pytest.raises(ValueError, match=r"line 2, .*scaled to \[0, 1\]"):
        load_mnist_csv(path)


def test_floats_out_of_unit_range_do_not_claim_scaling(tmp_path):
    X, y = make_data(3)
    path = write(tmp_path / "f.csv", csv_text(X + 0.5, y, MNIST_HEADER))
    with pytest.raises(ValueError, match="line 2") as info:
        load_mnist_csv(path)
    assert "scaled" not in str(info.value)


BAD_FILES = {  # name: (file bytes, phrases in the message)
    "empty": (b"", ["empty"]),
    "blank-lines": (b"\n\r\n\n", ["empty"]),
    "header-only": ((",".join(MNIST_HEADER) + "\n").encode(), ["no data rows"]),
    "wrong-columns": (b"a,b,c\n1,2,3\n", ["line 1", "3 column", "785", "784"]),
    "missing-pixel": (
        (",".join(MNIST_HEADER[:-1]) + "\n").encode(),
        ["line 1", "'label'", "783 pixel columns"],
    ),
    "row-of-10": (b"1,2,3,4,5,6,7,8,9,10\n", ["line 1", "10 values"]),
    "semicolons": (
        (";".join(MNIST_HEADER) + "\n").encode(),
        ["line 1", "semicolons"],
    ),
    "binary": (bytes(range(256)) * 20, ["binary"]),
    "binary-later": (
        (",".join(MNIST_HEADER) + "\n").encode() + b"\x00\xff\x01" * 500,
        ["line 2", "binary"],
    ),
    "bad-zip": (b"PK\x03\x04 this is not really a zip", ["zip", "download it again"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_names_file(tmp_path, case):
    content, phrases = BAD_FILES[case]
    path = write(tmp_path / f"{case}.csv", content)
    with pytest.raises(ValueError) as info:
        load_mnist_csv(path)
    assert str(path) in str(info.value)
    for phrase in phrases:
        assert phrase in str(info.value)


def test_truncated_gzip(tmp_path):
    X, y = make_data(50)
    data = gzip.compress(csv_text(X, y, MNIST_HEADER).encode())
    path = write(tmp_path / "cut.csv.gz", data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt.*Download it again"):
        load_mnist_csv(path)


def test_corrupt_gzip_header(tmp_path):
    path = write(tmp_path / "bad.csv.gz", b"\x1f\x8b\x00\x00garbage" * 10)
    with pytest.raises(ValueError, match="bad.csv.gz"):
        load_mnist_csv(path)


def test_missing_path(tmp_path):
    with pytest.raises(ValueError, match="nope.csv: no such file"):
        load_mnist_csv(tmp_path / "nope.csv")


def test_directory_lists_its_csv_files(tmp_path):
    write(tmp_path / "train.csv", "x")
    with pytest.raises(ValueError, match="is a directory.*train.csv"):
        load_mnist_csv(tmp_path)


def test_zip_with_several_csv_lists_members(tmp_path):
    path, _, _ = kaggle_zip(tmp_path)
    with pytest.raises(ValueError) as info:
        load_mnist_csv(path)
    message = str(info.value)
    assert "digit-recognizer.zip" in message and "member=" in message
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        assert name in message
    # the example is a file of images, not Kaggle's submission template
    assert "member='sample_submission.csv'" not in message


def test_unknown_member_lists_members(tmp_path):
    path, _, _ = kaggle_zip(tmp_path)
    with pytest.raises(ValueError, match="no member 'valid.csv'.*train.csv"):
        load_mnist_csv(path, member="valid.csv")


def test_bad_row_inside_zip_names_member_and_line(tmp_path):
    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.csv", replace_cell(long_file(), 7, 2, "999"))
    with pytest.raises(ValueError, match=r"d.zip \(member 'train.csv'\): line 7"):
        load_mnist_csv(path)


def test_zip_member_in_an_unsupported_format(tmp_path):
    path = tmp_path / "deflate64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.csv", long_file())
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = data.index(signature) + offset
        data[start : start + 2] = (9).to_bytes(2, "little")  # Deflate64
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="deflate64.zip .*cannot unpack"):
        load_mnist_csv(path)


def test_member_on_a_plain_file(tmp_path):
    X, y = make_data()
    path = write(tmp_path / "f.csv", csv_text(X, y))
    with pytest.raises(ValueError, match="not a zip archive.*member="):
        load_mnist_csv(path, member="train.csv")


# --- robustness: nothing but ValueError, and both passes agree ---------------

SMALL_CSV = csv_text(*make_data(2, seed=1), header=MNIST_HEADER).encode()
# an index column and trailing commas: the paths that leave columns out
_X_INDEXED = np.column_stack([np.arange(12), make_data(12, seed=2)[0]])
INDEXED_CSV = (
    csv_text(_X_INDEXED, None, ["index"] + KAGGLE_PIXELS).replace("\n", ",\n").encode()
)
SOME_BYTES = st.sampled_from(list(b'0123456789,.-+ \r\n"ex\x00\xff'))


def check_result_or_value_error(path):
    """Load ``path``: a ValueError, or a result the careful pass agrees with."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a column of row numbers left out
            X, y = load_mnist_csv(path)
    except ValueError:
        return
    assert X.dtype == np.uint8 and X.ndim == 2 and X.shape[1] == 784
    assert y is None or (y.dtype == np.int64 and y.shape == (len(X),))
    X_careful, y_careful = careful_read(path)
    np.testing.assert_array_equal(X, X_careful)
    np.testing.assert_array_equal(y, y_careful)


def careful_read(path):
    """What the careful pass alone makes of ``path``, as load_mnist_csv returns."""
    source = datasets._resolve_source(path, None)
    layout = datasets._read_layout(source)
    columns = datasets._read_careful(source, layout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datasets._leave_out_row_numbers(source, layout, *columns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4000))
def test_random_bytes_raise_only_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "random.csv"
    write(path, data)
    check_result_or_value_error(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(INDEXED_CSV) - 1),  # taken modulo the length
            st.integers(0, 3),  # how many bytes to remove
            st.lists(SOME_BYTES, max_size=3).map(bytes),  # what to put instead
        ),
        min_size=1,
        max_size=4,
    ),
    packed=st.booleans(),
    base=st.sampled_from([SMALL_CSV, INDEXED_CSV]),
)
def test_mutated_csv_raises_only_value_error(tmp_path_factory, edits, packed, base):
    data = base
    for position, n_removed, inserted in edits:
        position %= max(len(data), 1)
        data = data[:position] + inserted + data[position + n_removed :]
    path = tmp_path_factory.mktemp("mutated") / "m.csv.gz"
    write(path, gzip.compress(data) if packed else data)
    check_result_or_value_error(path)


# --- the bundled sample ------------------------------------------------------


@pytest.mark.parametrize("subset, n_rows", [("train", 5000), ("test", 1000)])
def test_sample(subset, n_rows):
    X, y = load_mnist_sample(subset)
    assert X.shape == (n_rows, 784) and X.dtype == np.uint8
    assert y.shape == (n_rows,) and y.dtype == np.int64
    assert sorted(np.unique(y).tolist()) == list(range(10))
    assert X.max() == 255 and X.min() == 0


def test_sample_files_are_small_and_in_mnist_layout():
    paths = [sample_path("train"), sample_path("test")]
    assert all(isinstance(p, Path) and p.suffixes == [".csv", ".gz"] for p in paths)
    assert sum(os.path.getsize(p) for p in paths) < 2_000_000
    with gzip.open(paths[0], "rt") as stream:
        assert stream.readline().rstrip("\n").split(",") == MNIST_HEADER


@pytest.mark.parametrize("function", [load_mnist_sample, sample_path])
def test_bad_subset_names_the_choices(function):
    with pytest.raises(ValueError, match=r"subset.*'test'.*'train'.*'valid'"):
        function("valid")


# --- the full files ----------------------------------------------------------


@pytest.mark.fulldata
@pytest.mark.parametrize(
    "name, n_rows, labeled",
    [
        ("mnist_train.csv.gz", 60000, True),
        ("mnist_test.csv.gz", 10000, True),
        ("digit-recognizer/train.csv.gz", 42000, True),
        ("digit-recognizer/test.csv.gz", 28000, False),
    ],
)
def test_full_files(data_dir, name, n_rows, labeled):
    X, y = load_mnist_csv(data_dir / name)
    assert X.shape == (n_rows, 784) and X.dtype == np.uint8
    if labeled:
        assert y.shape == (n_rows,) and set(np.unique(y).tolist()) == set(range(10))
    else:
        assert y is None


# --- load_mnist: a folder of MNIST files, or the sample --------------------------


def test_load_mnist_without_a_folder_is_the_sample():
    X, y = load_mnist("test")
    X_sample, y_sample = load_mnist_sample("test")
    assert np.array_equal(X, X_sample) and np.array_equal(y, y_sample)


def test_load_mnist_reads_mnist_subset_from_a_folder(tmp_path):
    X, y = load_mnist_sample("test")
    header = ["label"] + [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
    rows = [",".join(header)]
    rows += [",".join(map(str, [label, *pix])) for label, pix in zip(y[:3], X[:3])]
    (tmp_path / "mnist_train.csv").write_text("\n".join(rows) + "\n")
    X_read, y_read = load_mnist("train", tmp_path)
    assert np.array_equal(X_read, X[:3]) and np.array_equal(y_read, y[:3])


def test_load_mnist_names_the_folder_when_the_file_is_missing(tmp_path):
    with pytest.raises(ValueError, match=r"no mnist_test\.csv.*in this folder"):
        load_mnist("test", tmp_path)
    with pytest.raises(ValueError, match="subset"):
        load_mnist("validation")


# --- a first column that is a row index or an id, not a label -----------------

INDEXED = {  # name: (first header cell or None for no header, first value, labeled)
    "reset_index": ("index", 0, False),
    "reset_index-labeled": ("index", 0, True),
    "to_csv-unnamed": ("", 0, False),
    "read-back-unnamed": ("Unnamed: 0", 0, True),
    "imageid": ("ImageId", 1, False),
    "no-header-from-0": (None, 0, False),
    "no-header-from-1": (None, 1, False),
    "no-header-labeled": (None, 0, True),
}


@pytest.mark.parametrize("case", sorted(INDEXED))
def test_a_first_column_of_row_numbers_is_left_out_with_a_warning(tmp_path, case):
    name, first, labeled = INDEXED[case]
    X, y = make_data(30)
    table = np.column_stack([y, X]) if labeled else X
    table = np.column_stack([np.arange(first, first + 30), table])
    header = None
    if name is not None:
        header = [name] + (["label"] if labeled else []) + KAGGLE_PIXELS
    path = write(tmp_path / f"{case}.csv", csv_text(table, None, header))
    with pytest.warns(UserWarning, match=rf"{case}.csv: column 1 .*row numbers"):
        X_read, y_read = load_mnist_csv(path)
    np.testing.assert_array_equal(X_read, X)
    if labeled:
        np.testing.assert_array_equal(y_read, y)
    else:
        assert y_read is None


def test_the_index_pandas_writes_is_left_out(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = make_data(20)
    frame = pd.DataFrame(X, columns=KAGGLE_PIXELS)
    frame.reset_index().to_csv(tmp_path / "reset.csv", index=False)
    frame.insert(0, "label", y)
    frame.to_csv(tmp_path / "indexed.csv")
    with pytest.warns(UserWarning, match="reset.csv: column 1 \\('index'\\)"):
        X_read, y_read = load_mnist_csv(tmp_path / "reset.csv")
    assert np.array_equal(X_read, X) and y_read is None
    with pytest.warns(UserWarning, match="indexed.csv: column 1"):
        X_read, y_read = load_mnist_csv(tmp_path / "indexed.csv")
    assert np.array_equal(X_read, X) and np.array_equal(y_read, y)


def test_an_id_column_that_is_not_the_row_numbers_is_refused(tmp_path):
    X, _ = make_data(30)
    ids = np.arange(30)
    ids[[4, 5]] = ids[[5, 4]]  # rows reordered: line 6 holds id 5
    text = csv_text(np.column_stack([ids, X]), None, ["index"] + KAGGLE_PIXELS)
    path = write(tmp_path / "shuffled.csv", text)
    with pytest.raises(ValueError) as info:
        load_mnist_csv(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 6, column 1 ('index'):")
    assert "not a label" in message and "index=False" in message
    # without a header, a column of ids in front of a label and 784 pixels
    text = csv_text(np.column_stack([ids + 1000, np.arange(30) % 10, X]))
    path = write(tmp_path / "ids.csv", text)
    with pytest.raises(ValueError, match=r"ids.csv: line 1 has 786 values.*column 1"):
        load_mnist_csv(path)


def test_ten_digits_labelled_in_order_keep_their_labels(tmp_path):
    # 0..n-1 in a headerless first column is a label column up to ten rows:
    # ten drawings of 0-9, in order, is a real file
    X, y = make_data(10)
    path = write(tmp_path / "ten.csv", csv_text(X, np.arange(10)))
    np.testing.assert_array_equal(load_mnist_csv(path)[1], np.arange(10))


# --- trailing commas: the empty last column of a spreadsheet export -----------


@pytest.mark.parametrize("header", [MNIST_HEADER, None], ids=["header", "no-header"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_trailing_comma_on_every_line_is_an_empty_column(tmp_path, header, newline):
    X, y = make_data(40)
    text = csv_text(X, y, header, newline=newline).replace(newline, "," + newline)
    path = write(tmp_path / "export.csv", text)
    X_read, y_read = load_mnist_csv(path)
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)
    # read by the fast pass (a 60,000-row export must not go line by line),
    # and the careful pass agrees (an error elsewhere sends the file there)
    source = datasets._resolve_source(path, None)
    assert datasets._read_fast(source, datasets._read_layout(source)) is not None
    X_careful, y_careful = careful_read(path)
    np.testing.assert_array_equal(X_careful, X)
    np.testing.assert_array_equal(y_careful, y)


def test_trailing_commas_on_some_lines_only_and_their_errors(tmp_path):
    X, y = make_data(40)
    lines = csv_text(X, y, MNIST_HEADER).splitlines()
    lines = [line + ",," * (i % 2) for i, line in enumerate(lines)]
    path = write(tmp_path / "mixed.csv", "\n".join(lines) + "\n")
    X_read, y_read = load_mnist_csv(path)
    assert np.array_equal(X_read, X) and np.array_equal(y_read, y)
    lines[7] += "5"  # a value in the empty column: a row with an extra value
    write(path, "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"mixed.csv: line 8 has 787 values.*extra"):
        load_mnist_csv(path)
