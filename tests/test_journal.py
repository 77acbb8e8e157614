"""The journal of finished fits: fingerprint, torn lines, mismatches, --fresh."""

import json

import numpy as np
import pytest
from sklearn.model_selection import ParameterGrid, StratifiedKFold

from skdigits import NumpyMLPClassifier
from skdigits._journal import FitJournal, fingerprint, read_journal

GRID = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (16, 8)]}


def _search(X, y, grid=GRID, n_splits=2, seed=0, estimator=None, scoring=None):
    candidates = list(ParameterGrid(grid))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    estimator = estimator or NumpyMLPClassifier(max_iter=3, random_state=0)
    marks = fingerprint(
        X,
        y,
        candidates,
        list(cv.split(X, y)),
        estimator.get_params(deep=False),
        scoring,
    )
    return marks, len(candidates), n_splits


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(40, 784), dtype=np.uint8)
    y = np.repeat(np.arange(4), 10)
    return X, y


def _record(candidate, fold, score=0.5):
    return {
        "candidate": candidate,
        "fold": fold,
        "params": {"alpha": 0.01},
        "test_score": score,
        "fit_time": 1.0,
        "score_time": 0.1,
    }


def _open(path, marks, n_candidates, n_splits, **kwargs):
    return FitJournal.open(
        path, marks, n_candidates=n_candidates, n_splits=n_splits, **kwargs
    )


# --- the fingerprint ----------------------------------------------------------


def test_fingerprint_is_the_same_for_the_same_search(data):
    X, y = data
    assert _search(X, y)[0] == _search(X.copy(), y.copy())[0]


@pytest.mark.parametrize(
    "change, part",
    [
        ("one pixel", "data"),
        ("one label", "data"),
        ("dtype", "data"),
        ("one grid value", "grid"),
        ("cv seed", "cv"),
        ("cv folds", "cv"),
        ("estimator option", "estimator"),
        ("scoring", "scoring"),
    ],
)
def test_fingerprint_changes_with_every_input(data, change, part):
    X, y = data
    marks = _search(X, y)[0]
    X2, y2, kwargs = X.copy(), y.copy(), {}
    if change == "one pixel":
        X2[17, 300] ^= 1
    elif change == "one label":
        y2[0] = 3
    elif change == "dtype":
        X2 = X.astype(np.int64)
    elif change == "one grid value":
        kwargs["grid"] = {**GRID, "alpha": [1e-4, 1e-3]}
    elif change == "cv seed":
        kwargs["seed"] = 1
    elif change == "cv folds":
        kwargs["n_splits"] = 3
    elif change == "scoring":
        kwargs["scoring"] = "balanced_accuracy"
    else:
        kwargs["estimator"] = NumpyMLPClassifier(max_iter=4, random_state=0)
    changed = _search(X2, y2, **kwargs)[0]
    differing = {name for name in marks if marks[name] != changed[name]}
    # the stratified folds follow the labels, so new data may move them too
    also = {"cv"} if part == "data" else set()
    assert part in differing and differing - {part} <= also


# --- reading and writing ------------------------------------------------------


def test_each_fit_is_on_disk_when_append_returns(tmp_path, data):
    path = tmp_path / "m.joblib.fits.jsonl"
    marks, n_candidates, n_splits = _search(*data)
    journal, status = _open(path, marks, n_candidates, n_splits)
    assert status == (0, 0, (), False)
    assert not path.exists()  # nothing is written before the first fit
    journal.append(_record(0, 0, 0.25))
    journal.append(_record(3, 1, 0.75))
    header, records = read_journal(path)  # read while still open: flushed
    assert header["fingerprint"] == marks
    assert [(r["candidate"], r["fold"], r["test_score"]) for r in records] == [
        (0, 0, 0.25),
        (3, 1, 0.75),
    ]
    journal.close()
    journal, status = _open(path, marks, n_candidates, n_splits)
    assert status.reused == 2 and set(journal.fits) == {(0, 0), (3, 1)}
    journal.close()


def test_a_torn_last_line_is_ignored_and_ended_by_the_next_fit(tmp_path, data):
    path = tmp_path / "m.joblib.fits.jsonl"
    marks, n_candidates, n_splits = _search(*data)
    with _open(path, marks, n_candidates, n_splits)[0] as journal:
        journal.append(_record(0, 0))
        journal.append(_record(1, 0))
    whole = path.read_bytes()
    torn = json.dumps(_record(2, 0)).encode()[:-7]
    path.write_bytes(whole + torn)  # a kill in the middle of a write
    assert len(read_journal(path)[1]) == 2
    journal, status = _open(path, marks, n_candidates, n_splits)
    assert (status.found, status.reused) == (2, 2)
    journal.append(_record(2, 1))
    journal.close()
    assert path.read_bytes().startswith(whole + torn + b"\n")
    records = read_journal(path)[1]
    assert [(r["candidate"], r["fold"]) for r in records] == [(0, 0), (1, 0), (2, 1)]


def test_malformed_lines_are_skipped(tmp_path, data):
    path = tmp_path / "m.joblib.fits.jsonl"
    marks, n_candidates, n_splits = _search(*data)
    with _open(path, marks, n_candidates, n_splits)[0] as journal:
        journal.append(_record(0, 0))
    bad = [
        "not json",
        json.dumps({**_record(1, 0), "candidate": n_candidates}),  # out of range
        json.dumps({**_record(1, 0), "fold": -1}),
        json.dumps({k: v for k, v in _record(1, 0).items() if k != "test_score"}),
        json.dumps({**_record(1, 0), "test_score": "high"}),
        json.dumps(_record(0, 0, 0.99)),  # a duplicate: the first one counts
    ]
    with open(path, "a") as file:
        file.write("\n".join(bad) + "\n")
    journal, status = _open(path, marks, n_candidates, n_splits)
    assert (status.found, status.reused) == (2, 1)
    assert journal.fits[(0, 0)]["test_score"] == 0.5
    journal.close()


def test_a_file_that_is_not_a_journal_is_replaced_by_the_first_fit(tmp_path, data):
    path = tmp_path / "m.joblib.fits.jsonl"
    path.write_text("my notes, not a journal\n")
    marks, n_candidates, n_splits = _search(*data)
    journal, status = _open(path, marks, n_candidates, n_splits)
    assert status == (0, 0, (), False)
    journal.append(_record(1, 1))
    journal.close()
    header, records = read_journal(path)
    assert header["fingerprint"] == marks and len(records) == 1


# --- mismatches and --fresh ---------------------------------------------------


def _journal_with_two_fits(path, marks, n_candidates, n_splits):
    with _open(path, marks, n_candidates, n_splits)[0] as journal:
        journal.append(_record(0, 0))
        journal.append(_record(0, 1))
    return path.read_bytes()


@pytest.mark.parametrize("part", ["data", "grid", "cv", "estimator", "scoring"])
def test_a_journal_of_another_search_is_never_mixed_in(tmp_path, data, part):
    path = tmp_path / "m.joblib.fits.jsonl"
    marks, n_candidates, n_splits = _search(*data)
    before = _journal_with_two_fits(path, marks, n_candidates, n_splits)
    other = {**marks, part: "0" * 64}
    journal, status = _open(path, other, n_candidates, n_splits)
    assert status == (2, 0, (part,), False)
    assert journal.fits == {}
    assert path.read_bytes() == before  # untouched until a new fit finishes
    journal.append(_record(1, 1))
    journal.close()
    header, records = read_journal(path)
    assert header["fingerprint"] == other
    assert [(r["candidate"], r["fold"]) for r in records] == [(1, 1)]


def test_fresh_ignores_a_matching_journal(tmp_path, data):
    path = tmp_path / "m.joblib.fits.jsonl"
    marks, n_candidates, n_splits = _search(*data)
    _journal_with_two_fits(path, marks, n_candidates, n_splits)
    journal, status = _open(path, marks, n_candidates, n_splits, fresh=True)
    assert status == (2, 0, (), True)
    assert journal.fits == {}
    journal.append(_record(1, 0))
    journal.close()
    assert [(r["candidate"], r["fold"]) for r in read_journal(path)[1]] == [(1, 0)]
