"""ResumableGridSearchCV without Dask: GridSearchCV's results, the journal, events.

Cheap estimators only (DummyClassifier, a shallow tree, a few logistic
regressions on sklearn's 8x8 digits): this file runs in a few seconds.
"""

import json
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import make_scorer, recall_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import check_estimator

from skdigits._journal import read_journal
from skdigits.model_selection import (
    ClusterLost,
    ClusterLostError,
    FitDone,
    JournalOpened,
    ResumableGridSearchCV,
    SearchDone,
    SearchStarted,
    _engine,
    _runners,
)

TREE_GRID = {"max_depth": [1, 3], "criterion": ["gini", "entropy"]}
N_FITS = 4 * 2


@pytest.fixture(scope="module")
def data(digits):
    X_train, _, y_train, _ = digits
    return X_train[:300], y_train[:300]


def _cv():
    return StratifiedKFold(n_splits=2, shuffle=True, random_state=0)


def _search(**kwargs):
    params = {"estimator": DecisionTreeClassifier(random_state=0)}
    params = {**params, "param_grid": TREE_GRID, "cv": _cv(), **kwargs}
    return ResumableGridSearchCV(**params)


class Events(list):
    """An ``on_event`` that keeps every event."""

    def __call__(self, event):
        self.append(event)

    def of(self, kind):
        return [event for event in self if isinstance(event, kind)]


def _assert_same_results(ours, theirs):
    """cv_results_ keys in the same order, values bit for bit (times: shape)."""
    assert list(ours.cv_results_) == list(theirs.cv_results_)
    for key, expected in theirs.cv_results_.items():
        got = ours.cv_results_[key]
        if key.endswith("_time"):
            assert got.shape == expected.shape and np.isfinite(got).all()
        elif isinstance(expected, np.ma.MaskedArray):
            assert got.dtype == expected.dtype, key
            assert got.mask.tolist() == expected.mask.tolist(), key
            assert got.tolist() == expected.tolist(), key
        elif isinstance(expected, np.ndarray):
            assert got.dtype == expected.dtype, key
            assert got.tobytes() == expected.tobytes(), key
        else:
            assert got == expected, key
    assert ours.best_index_ == theirs.best_index_
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == theirs.best_score_
    assert ours.n_splits_ == theirs.n_splits_


# --- the engine -----------------------------------------------------------------


def test_missing_lists_the_unknown_fits_candidate_major():
    assert _engine.missing(2, 3, {(0, 1): {}, (1, 0): {}}) == [
        (0, 0),
        (0, 2),
        (1, 1),
        (1, 2),
    ]
    assert _engine.missing(2, 2, {(c, f) for c in range(2) for f in range(2)}) == []


def test_failed_candidates_rank_last_and_all_failed_rank_first():
    assert _engine._rank(np.array([0.5, np.nan, 0.7])).tolist() == [2, 3, 1]
    assert _engine._rank(np.array([np.nan, np.nan])).tolist() == [1, 1]


# --- the same search as GridSearchCV --------------------------------------------


@pytest.mark.parametrize(
    "scoring",
    [None, "accuracy", "f1_macro", make_scorer(recall_score, average="micro")],
)
def test_results_equal_gridsearchcv_for_every_kind_of_scoring(data, scoring):
    X, y = data
    theirs = GridSearchCV(
        DecisionTreeClassifier(random_state=0), TREE_GRID, cv=_cv(), scoring=scoring
    ).fit(X, y)
    ours = _search(scoring=scoring).fit(X, y)
    _assert_same_results(ours, theirs)
    assert ours.scorer_(ours.best_estimator_, X, y) == theirs.score(X, y)
    assert ours.score(X, y) == theirs.score(X, y)
    assert ours.predict(X).tolist() == theirs.predict(X).tolist()
    assert ours.predict_proba(X).tobytes() == theirs.predict_proba(X).tobytes()
    assert ours.classes_.tolist() == theirs.classes_.tolist()


def test_a_list_of_grids_gives_masked_param_columns_as_gridsearchcv(data):
    X, y = data
    grid = [
        {"max_depth": [1, 2], "criterion": ["gini"]},
        {"min_samples_leaf": [5], "max_features": [0.5, None]},
    ]
    estimator = DecisionTreeClassifier(random_state=0)
    theirs = GridSearchCV(estimator, grid, cv=KFold(3)).fit(X, y)
    ours = ResumableGridSearchCV(estimator, grid, cv=KFold(3)).fit(X, y)
    _assert_same_results(ours, theirs)
    mask = [False, False, True, True]
    assert ours.cv_results_["param_max_depth"].mask.tolist() == mask


def test_an_int_cv_is_stratified_for_a_classifier_and_not_for_a_regressor(data):
    X, y = data
    for estimator in (DummyClassifier(), DecisionTreeRegressor(max_depth=2)):
        grid = {"random_state": [0, 1]}
        theirs = GridSearchCV(estimator, grid, cv=4).fit(X, y)
        _assert_same_results(
            ResumableGridSearchCV(estimator, grid, cv=4).fit(X, y), theirs
        )


def test_an_unsupervised_search_equals_gridsearchcv_and_resumes(data, tmp_path):
    X = data[0]
    grid, cv = {"n_clusters": [2, 3]}, KFold(2)
    estimator = KMeans(n_init=1, max_iter=5, random_state=0)
    theirs = GridSearchCV(estimator, grid, cv=cv).fit(X)
    path = tmp_path / "fits.jsonl"
    _assert_same_results(
        ResumableGridSearchCV(estimator, grid, cv=cv, journal=path).fit(X), theirs
    )
    again = ResumableGridSearchCV(estimator, grid, cv=cv, journal=path).fit(X)
    assert again.n_reused_ == 4


def test_refit_false_keeps_the_ranking_but_no_best_estimator(data):
    search = _search(refit=False).fit(*data)
    assert not hasattr(search, "best_estimator_")
    assert search.best_params_ == search.cv_results_["params"][search.best_index_]
    with pytest.raises(AttributeError) as info:
        search.predict(data[0])
    assert "refit=False" in str(info.value.__cause__)
    assert not hasattr(search, "predict_proba")


def test_refit_time_and_fit_times_are_measured(data):
    search = _search().fit(*data)
    assert search.refit_time_ >= 0
    assert (search.cv_results_["mean_fit_time"] > 0).all()


def _failed_checks(estimator):
    """The names of the scikit-learn checks ``estimator`` fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None, on_skip=None)
    return sorted(r["check_name"] for r in results if r["status"] == "failed")


def test_scikit_learn_checks_fail_only_where_gridsearchcv_fails():
    tree = DecisionTreeClassifier(random_state=0)
    theirs = _failed_checks(GridSearchCV(tree, {"max_depth": [1, 2]}, cv=2))
    ours = _failed_checks(ResumableGridSearchCV(tree, {"max_depth": [1, 2]}, cv=2))
    assert ours == theirs
    # both leave the data to the estimator; the checks ran, and these fail
    assert theirs == ["check_estimators_nan_inf", "check_supervised_y_2d"]


def test_clone_shares_the_dask_client_and_on_event():
    class Client:  # like distributed.Client: cannot be deep-copied
        def __init__(self):
            self.lock = threading.Lock()

        def submit(self): ...

        def nthreads(self): ...

        def __deepcopy__(self, memo):
            raise TypeError("cannot pickle '_asyncio.Task' object")

    search = _search(dask=Client(), on_event=Events())
    twin = clone(search)
    assert twin.dask is search.dask and twin.on_event is search.on_event
    assert twin.estimator is not search.estimator
    assert twin.get_params(deep=False).keys() == search.get_params(deep=False).keys()


def test_bad_parameters_are_rejected_at_fit():
    with pytest.raises(
        ValueError, match="The .scoring. parameter of ResumableGridSearchCV"
    ):
        _search(scoring="no_such_scorer").fit([[0], [1]], [0, 1])
    with pytest.raises(ValueError, match="The .worker_timeout. parameter"):
        _search(worker_timeout=0).fit([[0], [1]], [0, 1])


# --- failed fits ------------------------------------------------------------------


def _failing_grid():
    # max_depth=-1 is rejected by the tree's own parameter validation
    return {"max_depth": [1, -1]}


def test_failed_fits_score_error_score_warn_and_are_not_journalled(data, tmp_path):
    X, y = data
    path = tmp_path / "fits.jsonl"
    failed = pytest.warns(FitFailedWarning, match="2 fits failed out of a total of 4")
    with failed, pytest.warns(UserWarning, match="test scores are non-finite"):
        ours = _search(param_grid=_failing_grid(), journal=path).fit(X, y)
    with pytest.warns(FitFailedWarning), pytest.warns(UserWarning):
        theirs = GridSearchCV(
            DecisionTreeClassifier(random_state=0), _failing_grid(), cv=_cv()
        ).fit(X, y)
    _assert_same_results(ours, theirs)
    assert [r["candidate"] for r in read_journal(path)[1]] == [0, 0]


def test_error_score_raise_raises_the_fits_error(data):
    with pytest.raises(ValueError, match="max_depth"):
        _search(param_grid=_failing_grid(), error_score="raise").fit(*data)


def test_all_fits_failing_is_an_error(data):
    with pytest.raises(ValueError, match="All the 2 fits failed"):
        _search(param_grid={"max_depth": [-1]}).fit(*data)


# --- the journal ----------------------------------------------------------------


def _fits_run(events):
    return [(e.record["candidate"], e.record["fold"]) for e in events.of(FitDone)]


def test_events_in_order_and_nothing_printed(data, tmp_path, capsys):
    events = Events()
    search = _search(journal=tmp_path / "fits.jsonl", on_event=events).fit(*data)
    kinds = [type(event) for event in events]
    assert kinds == [JournalOpened, SearchStarted] + [FitDone] * N_FITS + [SearchDone]
    opened, started = events[0], events[1]
    assert (opened.found, opened.reused, opened.n_fits) == (0, 0, N_FITS)
    assert (started.n_candidates, started.n_splits, started.n_reused) == (4, 2, 0)
    assert started.backend == "local" and started.where == "in 1 process"
    assert [e.done for e in events.of(FitDone)] == list(range(1, N_FITS + 1))
    assert {e.total for e in events.of(FitDone)} == {N_FITS}
    assert _fits_run(events) == _engine.missing(4, 2, {})
    done = events[-1]
    assert done.best_params == search.best_params_ and done.n_ran == N_FITS
    assert sum(n for _, n in done.ran_on) == N_FITS
    assert capsys.readouterr() == ("", "")


def test_a_rerun_reuses_every_fit_and_gives_the_same_results(data, tmp_path):
    path = tmp_path / "fits.jsonl"
    first = _search(journal=path).fit(*data)
    before = path.read_bytes()
    events = Events()
    again = _search(journal=str(path), on_event=events).fit(*data)
    assert events[0] == JournalOpened(path, N_FITS, N_FITS, (), False, N_FITS)
    assert events[1] == SearchStarted(4, 2, N_FITS, None, None)
    assert not events.of(FitDone) and again.n_reused_ == N_FITS
    assert path.read_bytes() == before
    for key in ("mean_test_score", "rank_test_score", "mean_fit_time"):
        assert again.cv_results_[key].tolist() == first.cv_results_[key].tolist()


def test_a_cut_journal_resumes_only_the_missing_fits(data, tmp_path):
    X, y = data
    path = tmp_path / "fits.jsonl"
    _search(journal=path).fit(X, y)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]) + lines[4][:20])  # header, 3 fits, torn
    events = Events()
    search = _search(journal=path, on_event=events).fit(X, y)
    kept = {(r["candidate"], r["fold"]) for r in map(json.loads, lines[1:4])}
    assert events[1].n_reused == 3
    assert _fits_run(events) == _engine.missing(4, 2, kept)
    theirs = GridSearchCV(DecisionTreeClassifier(random_state=0), TREE_GRID, cv=_cv())
    _assert_same_results(search, theirs.fit(X, y))
    assert len(read_journal(path)[1]) == N_FITS


@pytest.mark.parametrize(
    "change, part",
    [
        ({"param_grid": {**TREE_GRID, "max_depth": [1, 2]}}, "grid"),
        ({"cv": StratifiedKFold(2, shuffle=True, random_state=1)}, "cv"),
        ({"estimator": DecisionTreeClassifier(random_state=1)}, "estimator"),
        ({"scoring": "balanced_accuracy"}, "scoring"),
        ({"X": "one value"}, "data"),
    ],
)
def test_another_search_starts_a_new_journal(data, tmp_path, change, part):
    X, y = data
    path = tmp_path / "fits.jsonl"
    _search(journal=path).fit(X, y)
    if change.pop("X", None):
        X = X.copy()
        X[0, 10] += 1
    events = Events()
    _search(journal=path, on_event=events, **change).fit(X, y)
    assert part in events[0].mismatch and events[0].reused == 0
    assert events[1].n_reused == 0 and len(events.of(FitDone)) == N_FITS
    assert len(read_journal(path)[1]) == N_FITS  # the new search's only


def test_fresh_ignores_a_matching_journal(data, tmp_path):
    path = tmp_path / "fits.jsonl"
    _search(journal=path).fit(*data)
    events = Events()
    _search(journal=path, fresh=True, on_event=events).fit(*data)
    assert events[0].fresh and events[0].found == N_FITS
    assert len(events.of(FitDone)) == N_FITS


# --- a lost cluster (simulated: a runner that gives up half way) ---------------


@pytest.mark.parametrize("journal", [True, False])
def test_a_lost_cluster_raises_and_keeps_the_finished_fits(
    data, tmp_path, monkeypatch, journal
):
    def run_then_lose(self, task, data, todo, candidates, emit):
        for candidate, fold in todo[:3]:
            yield task(data, candidate, fold, candidates[candidate])
        raise _runners.ClusterGone("lost the Dask scheduler at tcp://x:1")

    monkeypatch.setattr(_runners.LocalRunner, "run", run_then_lose)
    path = tmp_path / "fits.jsonl" if journal else None
    events = Events()
    with pytest.raises(ClusterLostError) as info:
        _search(journal=path, on_event=events).fit(*data)
    error = info.value
    assert isinstance(error, RuntimeError) and "\n" not in str(error)
    assert (error.reason, error.n_kept, error.n_fits) == (
        "lost the Dask scheduler at tcp://x:1",
        3,
        N_FITS,
    )
    assert events[-1] == ClusterLost(error.reason, 3, N_FITS, path)
    if journal:
        assert str(error).endswith(
            f"3 of 8 fits are kept in {path}: fit again with it to resume"
        )
        assert len(read_journal(path)[1]) == 3
    else:
        assert "are lost: give a journal" in str(error)


def test_dask_without_distributed_is_an_import_error_naming_the_extra(
    data, monkeypatch
):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install skdigits\[dask\]"):
        _search(dask="tcp://127.0.0.1:1").fit(*data)
