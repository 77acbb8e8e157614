"""The journal of finished fits: fingerprint, torn lines, mismatches, --fresh."""

import functools
import json
import threading

import numpy as np
import pytest
from sklearn.metrics import make_scorer
from sklearn.model_selection import ParameterGrid, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeClassifier

from skdigits import NumpyMLPClassifier
from skdigits._fingerprint import differing_parts
from skdigits._journal import FitJournal, fingerprint, read_journal
from skdigits.model_selection import ResumableGridSearchCV

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


# --- what a journal's fingerprint sees in the estimator and the grid -----------


def _shift(s):
    return lambda X: X + s


def _tree_pipeline(func):
    return Pipeline(
        [("shift", FunctionTransformer(func)), ("tree", DecisionTreeClassifier())]
    )


@pytest.mark.parametrize(
    "where, part",
    [("estimator", "estimator"), ("grid", "grid"), ("scoring", "scoring")],
)
def test_a_closure_over_another_value_is_another_search(data, where, part):
    X, y = data

    def marks(s):
        estimator = _tree_pipeline(_shift(s) if where == "estimator" else None)
        grid = {"tree__max_depth": [1, 2]}
        if where == "grid":
            grid["shift__func"] = [_shift(s)]
        scoring = None
        if where == "scoring":
            scoring = make_scorer(functools.partial(_weighted_accuracy, weight=s))
        return _search(X, y, grid=grid, estimator=estimator, scoring=scoring)[0]

    same, other = marks(0), marks(3)
    assert same == marks(0)
    assert differing_parts(same, other) == (part,)


def _weighted_accuracy(y_true, y_pred, weight):
    return weight * np.mean(y_true == y_pred)


def test_a_random_state_instance_counts_by_its_state(data):
    X, y = data

    def marks(seed):
        tree = DecisionTreeClassifier(random_state=np.random.RandomState(seed))
        return _search(X, y, grid={"max_depth": [1, 2]}, estimator=tree)[0]

    assert marks(0) == marks(0)
    assert differing_parts(marks(0), marks(1)) == ("estimator",)


def test_a_parameter_that_cannot_be_fingerprinted_is_refused_in_one_line(data):
    X, y = data
    lock = threading.Lock()
    estimator = _tree_pipeline(lambda X: (lock, X)[1])
    with pytest.raises(ValueError) as info:
        _search(X, y, grid={"tree__max_depth": [1]}, estimator=estimator)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "the journal cannot fingerprint the estimator's parameter "
        "'steps[0][1].func', closure variable 'lock': a _thread.lock object"
    )
    assert "_thread.lock object" in message and "journal=None" in message


def test_a_search_with_another_closure_reuses_none_of_the_journal(data, tmp_path):
    X, y = data
    path = tmp_path / "fits.jsonl"

    def search(s, events):
        return ResumableGridSearchCV(
            _tree_pipeline(_shift(s)),
            {"tree__max_depth": [1, 2]},
            cv=2,
            journal=path,
            on_event=events.append,
        ).fit(X, y)

    assert search(0, []).n_reused_ == 0
    assert search(0, []).n_reused_ == 4
    events = []
    assert search(3, events).n_reused_ == 0
    assert events[0].mismatch == ("estimator",)
