"""``skdigits grid-search`` keeps its fits in a journal and resumes from it.

Real fits of the command's pipeline on 2,000 MNIST sample rows, compared with
an undisturbed :class:`~sklearn.model_selection.GridSearchCV`; the printed
lines these tests read (what is reused, and why not) are the command's
contract. Losing Dask workers is tested in ``test_model_selection_dask.py``,
through this command too.
"""

import contextlib
import io
import re
import shutil

import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from skdigits import load_model
from skdigits._journal import read_journal
from skdigits.cli import build_parser, main
from skdigits.cli._common import make_pipeline
from skdigits.cli.grid_search import parse_grid
from skdigits.datasets import load_mnist_sample
from skdigits.model_selection._engine import cv_results

ROWS = 2000
GRID = '{"hidden_layer_sizes": [[16], [32]], "alpha": [0.0001, 0.01]}'
OPTIONS = ["--epochs", "5", "--cv", "2", "--seed", "3", "--grid", GRID]
N_FITS = 8


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """The machine's cores are shared."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory, write_mnist_csv):
    X, y = load_mnist_sample("train")
    X, y = X[:ROWS], y[:ROWS]
    path = write_mnist_csv(tmp_path_factory.mktemp("data") / "train.csv", X, y)
    return path, X, y


def _argv(train, model, *extra):
    return ["grid-search", "--train", train, *OPTIONS, "--model", str(model), *extra]


@pytest.fixture(scope="module")
def reference(data):
    """An undisturbed scikit-learn GridSearchCV over the same pipeline and folds."""
    train, X, y = data
    args = build_parser().parse_args(_argv(train, "ref.joblib"))
    pipeline = make_pipeline(args)
    grid = parse_grid(args.grid, pipeline.named_steps["mlp"])
    cv = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed)
    search = GridSearchCV(pipeline, grid, cv=cv, scoring="accuracy", n_jobs=1)
    search.fit(X, y)
    return search


def _journal(model):
    return read_journal(f"{model}.fits.jsonl")[1]


def _assert_same_as_reference(model, reference):
    """Every fit's score, the mean scores and ranks, and the best model."""
    fits = {(r["candidate"], r["fold"]): r for r in _journal(model)}
    expected = reference.cv_results_
    for (candidate, fold), record in fits.items():
        assert record["test_score"] == expected[f"split{fold}_test_score"][candidate]
    assert len(fits) == N_FITS
    results = cv_results(expected["params"], reference.n_splits_, fits)
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert results[key].tobytes() == expected[key].tobytes()
    mlp = load_model(model).named_steps["mlp"]
    for key, value in reference.best_params_.items():
        assert getattr(mlp, key.removeprefix("mlp__")) == value


def _fit_lines(out):
    return re.findall(rf"^  \[\d+/{N_FITS}\] ", out, re.M)


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """One undisturbed local run: its output, and its model and journal."""
    model = tmp_path_factory.mktemp("finished") / "best.joblib"
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(_argv(data[0], model)) == 0
    return model, out.getvalue()


def _copy_of(finished, tmp_path):
    model = tmp_path / "best.joblib"
    for suffix in ("", ".fits.jsonl"):
        shutil.copyfile(f"{finished[0]}{suffix}", f"{model}{suffix}")
    return model


def test_results_equal_gridsearchcv_and_a_rerun_reuses_every_fit(
    data, reference, finished, tmp_path, capsys
):
    model, out = finished
    assert f"keeping each finished fit in {model}.fits.jsonl" in out
    assert len(_fit_lines(out)) == N_FITS
    _assert_same_as_reference(model, reference)
    model = _copy_of(finished, tmp_path)
    best = load_model(model).predict_proba(data[1][:200])
    assert main(_argv(data[0], model)) == 0
    out = capsys.readouterr().out
    assert f"reusing {N_FITS} of {N_FITS} fits from {model}.fits.jsonl" in out
    assert "nothing to run" in out and not _fit_lines(out)
    assert len(_journal(model)) == N_FITS
    assert load_model(model).predict_proba(data[1][:200]).tobytes() == best.tobytes()


def test_a_torn_journal_resumes_only_the_missing_fits(
    data, reference, finished, tmp_path, capsys
):
    model = _copy_of(finished, tmp_path)
    journal = tmp_path / "best.joblib.fits.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:4]) + lines[4][: len(lines[4]) // 2])
    assert main(_argv(data[0], model)) == 0
    out = capsys.readouterr().out
    assert f"reusing 3 of {N_FITS} fits" in out
    assert f"(3 reused, {N_FITS - 3} to run)" in out
    assert len(_fit_lines(out)) == N_FITS - 3
    _assert_same_as_reference(model, reference)


@pytest.mark.parametrize("change", ["one row", "one grid value", "--fresh"])
def test_a_journal_of_another_search_is_not_reused(
    data, finished, tmp_path, capsys, change, write_mnist_csv
):
    train, X, y = data
    model = _copy_of(finished, tmp_path)
    argv, expected = _argv(train, model), "different data"
    if change == "one row":
        X = X.copy()
        X[1234, 400] = 255 - X[1234, 400]
        argv = _argv(write_mnist_csv(tmp_path / "changed.csv", X, y), model)
    elif change == "one grid value":
        argv[argv.index(GRID)] = GRID.replace("0.01", "0.02")
        expected = "different grid"
    else:
        argv.append("--fresh")
        expected = f"--fresh: not reusing the {N_FITS} fits"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert expected in out and "reusing" not in out.replace("not reusing", "")
    assert len(_fit_lines(out)) == N_FITS
    assert len(_journal(model)) == N_FITS  # a new journal, of the new search
