"""The ``skdigits`` command line, end to end on the bundled MNIST sample."""

import csv
import json
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import skdigits
from skdigits import cli, load_model
from skdigits.cli import main
from skdigits.datasets import load_mnist_csv, load_mnist_sample, sample_path

TRAIN = str(sample_path("train"))
TEST = str(sample_path("test"))
SMALL = ["--epochs", "2", "--hidden", "32"]
GRID = '{"hidden_layer_sizes": [[16], [32]], "alpha": [0.0001, 0.1]}'


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    """The first 1,000 rows of the training sample: quick fits for most tests."""
    X, y = load_mnist_csv(TRAIN)
    path = tmp_path_factory.mktemp("data") / "small_train.csv"
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = np.column_stack([y, X])[:1000]
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header, comments="")
    return str(path)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, small_csv):
    """A model trained once for the evaluate/predict tests (a .skops file: a
    .joblib one adds a note on stderr when it is loaded)."""
    path = tmp_path_factory.mktemp("model") / "model.skops"
    argv = ["train", "--train", small_csv, "--epochs", "10", "--hidden", "64"]
    assert main([*argv, "--model", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def unlabelled_csv(tmp_path_factory):
    """The test sample without its label column, in Kaggle's test.csv layout."""
    X, _ = load_mnist_csv(TEST)
    path = tmp_path_factory.mktemp("data") / "test_unlabelled.csv"
    header = ",".join(f"pixel{i}" for i in range(784))
    np.savetxt(path, X[:200], fmt="%d", delimiter=",", header=header, comments="")
    return path


def _float_after(label, text):
    match = re.search(rf"{label}:? (\d\.\d+)", text)
    assert match, f"no {label!r} in output:\n{text}"
    return float(match.group(1))


def _assert_one_line_error(capsys, rc, note=None):
    """The error line; ``note``: the start of one note line expected before it."""
    out, err = capsys.readouterr()
    assert rc == 2
    if note is not None:
        first, err = err.split("\n", 1)
        assert first.startswith(f"skdigits: note: {note}"), first
    assert err.startswith("skdigits: error: ")
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    return err


# --- train --------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, early_stopping", [(".joblib", False), (".skops", True)]
)
def test_train_shows_progress_and_saves_a_working_model(
    tmp_path, capsys, suffix, early_stopping, small_csv
):
    path = tmp_path / f"model{suffix}"
    # one run on the bundled sample (no --train), one on a smaller file
    # (the early-stopping arm trains 16 steps: too few for the default recipe's
    # augmentation and cosine schedule to pass 0.5, so it uses the plain recipe)
    extra = ["--early-stopping", "--train", small_csv, "--recipe", "plain"]
    extra = extra if early_stopping else []
    argv = ["train", *SMALL, "--test", TEST, "--model", str(path), *extra]
    assert main(argv) == 0
    out = capsys.readouterr().out
    epochs = re.findall(r"^epoch +(\d)/2 +loss \S+ +val_acc (\S+) .* left ", out, re.M)
    assert [epoch for epoch, _ in epochs] == ["1", "2"]
    for _, val_acc in epochs:
        assert (val_acc != "-") == early_stopping
    model = load_model(path)
    assert model.get_params()["mlp__callback"] is None
    X_test, y_test = load_mnist_csv(TEST)
    test_accuracy = _float_after("test accuracy", out)
    assert test_accuracy == pytest.approx(model.score(X_test, y_test), abs=1e-4)
    assert 0.5 < _float_after("train accuracy", out) <= 1


def test_train_on_the_sample_reports_the_held_out_test_sample(tmp_path, capsys):
    # The notebooks' mistake: a "test" accuracy measured on the training set.
    path = tmp_path / "model.joblib"
    assert main(["train", *SMALL, "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert "mnist_test_sample.csv.gz" in out
    X_test, y_test = load_mnist_sample("test")
    assert _float_after("test accuracy", out) == pytest.approx(
        load_model(path).score(X_test, y_test), abs=1e-4
    )


def test_train_same_seed_same_predictions(tmp_path, small_csv):
    X_test, _ = load_mnist_csv(TEST)
    probas = []
    for i, seed in enumerate(["3", "3", "4"]):
        path = tmp_path / f"m{i}.joblib"
        argv = ["train", *SMALL, "--train", small_csv, "--seed", seed]
        assert main([*argv, "--model", str(path)]) == 0
        probas.append(load_model(path).predict_proba(X_test))
    assert probas[0].tobytes() == probas[1].tobytes()
    assert probas[0].tobytes() != probas[2].tobytes()


def test_train_options_reach_the_classifier(tmp_path, small_csv):
    path = tmp_path / "m.joblib"
    argv = [
        "train",
        "--train",
        small_csv,
        "--epochs",
        "1",
        "--hidden",
        "16,8",
        "--activation",
        "tanh",
        "--batch-size",
        "64",
        "--learning-rate",
        "0.01",
        "--alpha",
        "0.001",
        "--dropout",
        "0.1",
        "--solver",
        "sgd",
        "--seed",
        "7",
        "--model",
        str(path),
    ]
    assert main(argv) == 0
    params = load_model(path).named_steps["mlp"].get_params()
    expected = {
        "hidden_layer_sizes": (16, 8),
        "activation": "tanh",
        "batch_size": 64,
        "learning_rate_init": 0.01,
        "alpha": 0.001,
        "dropout": 0.1,
        "solver": "sgd",
        "random_state": 7,
        "max_iter": 1,
    }
    assert {key: params[key] for key in expected} == expected


# --- evaluate -----------------------------------------------------------------


def test_evaluate_prints_accuracy_report_and_confusion_matrix(model_path, capsys):
    assert main(["evaluate", "--model", str(model_path), "--data", TEST]) == 0
    out = capsys.readouterr().out
    X, y = load_mnist_csv(TEST)
    y_pred = load_model(model_path).predict(X)
    assert _float_after("accuracy", out) == pytest.approx(
        np.mean(y == y_pred), abs=1e-4
    )
    assert "precision" in out and "recall" in out and "macro avg" in out
    diagonal = [
        int(line.split()[1 + int(line.split()[0])])
        for line in out.splitlines()
        if re.match(r"^ +\d +(\d+ +){9}\d+$", line)
    ]
    assert diagonal == [int(np.sum((y == d) & (y_pred == d))) for d in range(10)]


def test_evaluate_of_a_model_that_never_predicts_a_digit_prints_no_warning(
    tmp_path, capsys
):
    # classification_report's UndefinedMetricWarning is three lines of stderr
    from sklearn.dummy import DummyClassifier

    from skdigits import save_model

    X, y = load_mnist_csv(TEST)
    path = tmp_path / "dummy.skops"
    save_model(DummyClassifier(strategy="most_frequent").fit(X, y), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["evaluate", "--model", str(path), "--data", TEST]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "macro avg" in out


def test_evaluate_plots_are_png_files(model_path, tmp_path, capsys):
    plots = tmp_path / "plots"
    argv = [
        "evaluate",
        "--model",
        str(model_path),
        "--data",
        TEST,
        "--plots",
        str(plots),
    ]
    assert main(argv) == 0
    from PIL import Image

    names = {"loss_curve.png", "confusion_matrix.png", "misclassified.png"}
    names.add("augmented.png")  # the default recipe trains with an augmenter
    assert {p.name for p in plots.iterdir()} == names
    for name in names:
        assert (plots / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(plots / name) as image:
            image.verify()
            assert min(image.size) > 100


def test_evaluate_plots_without_matplotlib_is_a_one_line_error(
    model_path, tmp_path, capsys, monkeypatch
):
    for name in ["matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"]:
        monkeypatch.setitem(sys.modules, name, None)
    plots = tmp_path / "plots"
    argv = [
        "evaluate",
        "--model",
        str(model_path),
        "--data",
        TEST,
        "--plots",
        str(plots),
    ]
    err = _assert_one_line_error(capsys, main(argv))
    assert "pip install skdigits[plots]" in err
    assert not plots.exists()


# --- predict ------------------------------------------------------------------


@pytest.mark.parametrize("labelled", [True, False])
def test_predict_writes_a_kaggle_submission(
    model_path, unlabelled_csv, tmp_path, labelled
):
    data = TEST if labelled else str(unlabelled_csv)
    output = tmp_path / "submission.csv"
    argv = [
        "predict",
        "--model",
        str(model_path),
        "--data",
        data,
        "--output",
        str(output),
    ]
    assert main(argv) == 0
    with open(output, newline="") as file:
        rows = list(csv.reader(file))
    X, _ = load_mnist_csv(data)
    assert rows[0] == ["ImageId", "Label"]
    assert [int(row[0]) for row in rows[1:]] == list(range(1, len(X) + 1))
    expected = load_model(model_path).predict(X)
    assert [int(row[1]) for row in rows[1:]] == expected.tolist()


# --- predict-image ------------------------------------------------------------


def _draw_one(path):
    """A hand-drawn '1': a thick dark stroke on white paper, bigger than MNIST."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (120, 160), color=255)
    ImageDraw.Draw(image).line([(62, 20), (58, 140)], fill=0, width=14)
    image.save(path)
    return path


def test_predict_image_prints_digit_and_probability(tmp_path, capsys):
    from skdigits.preprocessing import image_to_mnist

    path = _draw_one(tmp_path / "one.png")
    assert main(["predict-image", str(path)]) == 0  # the bundled model
    out = capsys.readouterr().out
    match = re.fullmatch(rf"{re.escape(str(path))}: (\d) \(probability (\S+)\)\n", out)
    assert match, out
    proba = skdigits.load_bundled_model().predict_proba(image_to_mnist(path)[None, :])[
        0
    ]
    assert int(match.group(1)) == int(np.argmax(proba)) == 1
    assert float(match.group(2)) == pytest.approx(proba.max(), abs=1e-3)


def test_predict_image_without_pillow_is_a_one_line_error(
    model_path, tmp_path, capsys, monkeypatch
):
    path = _draw_one(tmp_path / "one.png")
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    err = _assert_one_line_error(
        capsys, main(["predict-image", "--model", str(model_path), str(path)])
    )
    assert "pip install skdigits[images]" in err


def _write(path, array):
    from PIL import Image

    Image.fromarray(array).save(path)
    return str(path)


def test_predict_image_reads_a_number_digit_by_digit(tmp_path, capsys):
    from _pngs import number_image

    number, _ = number_image("42")
    path = _write(tmp_path / "number.png", number)
    assert main(["predict-image", path]) == 0  # the bundled model
    out = capsys.readouterr().out
    match = re.fullmatch(rf"{re.escape(path)}: 42 \(4: (\S+), 2: (\S+)\)\n", out)
    assert match, out
    reading = skdigits.read_digits(path)
    expected = [f"{d.probability:.3f}" for d in reading.digits]
    assert list(match.groups()) == expected


def test_predict_image_json_is_one_object_per_image_with_boxes(tmp_path, capsys):
    from _pngs import number_image

    number, boxes = number_image("305")
    rng = np.random.default_rng(0)
    paths = [
        _write(tmp_path / "number.png", number),
        _write(tmp_path / "blank.png", np.full((200, 300), 255, dtype=np.uint8)),
        _write(tmp_path / "noise.png", rng.integers(0, 256, (200, 300), np.uint8)),
    ]
    assert main(["predict-image", "--json", *paths]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["image"] for line in lines] == paths
    assert [line["text"] for line in lines] == ["305", "", ""]
    assert [d["label"] for d in lines[0]["digits"]] == [3, 0, 5]
    for digit, box in zip(lines[0]["digits"], boxes):
        assert digit["box"] == list(box)  # in the image's own pixels
        assert type(digit["probability"]) is float and 0.5 < digit["probability"] <= 1
    assert lines[1]["digits"] == lines[2]["digits"] == []
    assert main(["predict-image", *paths[1:]]) == 0
    out = capsys.readouterr().out
    assert out == f"{paths[1]}: no digit\n{paths[2]}: no digit\n"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_predict_image_reports_an_unreadable_file_and_reads_the_rest(
    as_json, tmp_path, capsys
):
    good = str(_draw_one(tmp_path / "one.png"))
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    argv = ["predict-image", *(["--json"] if as_json else []), good, str(bad), good]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    if as_json:
        answers = [json.loads(line) for line in lines]
        assert [a["image"] for a in answers] == [good, str(bad), good]
        assert answers[0] == answers[2] and answers[0]["text"] == "1"
        assert set(answers[1]) == {"image", "error"}
        assert answers[1]["error"].startswith(f"{bad}: cannot read it as an image")
        assert err == ""
    else:
        assert lines == [f"{good}: 1 (probability {lines[0].split()[-1]}"] * 2
        assert err.startswith(f"skdigits: error: {bad}: cannot read it as an image")
        assert err.count("\n") == 1 and "Traceback" not in err


def test_predict_image_reads_a_sideways_photo_as_the_upright_one(tmp_path, capsys):
    from _pngs import sideways, upright_seven

    paths = []
    for orientation in range(1, 9):
        paths.append(tmp_path / f"seven_{orientation}.png")
        paths[-1].write_bytes(sideways(upright_seven(), orientation))
    assert main(["predict-image", *map(str, paths)]) == 0  # the bundled model
    lines = capsys.readouterr().out.splitlines()
    answers = {line.removeprefix(f"{path}: ") for line, path in zip(lines, paths)}
    assert len(lines) == 8 and len(answers) == 1, lines
    assert answers.pop().startswith("7 ")
    assert main(["predict-image", "--json", *map(str, paths)]) == 0
    readings = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [reading.pop("image") for reading in readings] == list(map(str, paths))
    assert all(reading == readings[0] for reading in readings)  # boxes too


def _damaged_chunk(path):
    from _pngs import encode, upright_seven, with_broken_chunk
    from PIL import Image

    path.write_bytes(with_broken_chunk(encode(Image.fromarray(upright_seven()))))


def _cut_short(path):
    _draw_one(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bomb(path):
    from _pngs import png_declaring

    path.write_bytes(png_declaring(30000, 30000))


@pytest.mark.parametrize(
    "make, words",
    [
        (_damaged_chunk, "broken PNG file"),
        (_cut_short, "truncated"),
        (lambda path: path.write_bytes(b""), "not an image file"),
        (_bomb, "too large"),
    ],
    ids=["damaged chunk", "cut short", "empty", "decompression bomb"],
)
def test_predict_image_on_a_bad_image_is_one_line(make, words, tmp_path, capsys):
    path = tmp_path / "photo.png"
    make(path)
    err = _assert_one_line_error(capsys, main(["predict-image", str(path)]))
    assert f"{path}: " in err and words in err


# --- grid-search --------------------------------------------------------------


def _grid_search(tmp_path, name, train, *extra):
    path = tmp_path / name
    argv = ["grid-search", *SMALL, "--train", train, "--grid", GRID, "--cv", "2"]
    argv += ["--model", str(path)]
    assert main([*argv, *extra]) == 0
    return load_model(path)


def _best_line(out):
    return re.search(r"^best: (.*) \(mean cv", out, re.M).group(1)


def test_grid_search_ranks_candidates_and_saves_the_best(tmp_path, capsys, small_csv):
    model = _grid_search(tmp_path, "best.joblib", small_csv)
    out = capsys.readouterr().out
    ranks = re.findall(r"^ +(\d) +(\d\.\d{4}) \(", out, re.M)
    assert len(ranks) == 4 and ranks[0][0] == "1"
    assert [int(rank) for rank, _ in ranks] == sorted(int(rank) for rank, _ in ranks)
    scores = [float(score) for _, score in ranks]
    assert scores == sorted(scores, reverse=True)
    mlp = model.named_steps["mlp"]
    best = f"alpha={mlp.alpha!r}, hidden_layer_sizes={mlp.hidden_layer_sizes!r}"
    assert _best_line(out) == best
    assert mlp.max_iter == 2  # the base options still apply
    assert out.count("fit done") == 8  # 4 candidates x 2 folds, in-process


@pytest.mark.slow
def test_grid_search_same_best_model_with_one_or_two_jobs(tmp_path, small_csv):
    X_test, _ = load_mnist_csv(TEST)
    one = _grid_search(
        tmp_path, "one.joblib", small_csv, "--n-jobs", "1", "--seed", "5"
    )
    two = _grid_search(
        tmp_path, "two.joblib", small_csv, "--n-jobs", "2", "--seed", "5"
    )
    # compared by repr: the default recipe's augmenter, like any scikit-learn
    # estimator, has no value equality (its parameters are compared by name too)
    params = [repr(m.get_params()["mlp"].get_params()) for m in (one, two)]
    assert params[0] == params[1]
    assert one.predict_proba(X_test).tobytes() == two.predict_proba(X_test).tobytes()


def test_grid_search_reads_the_grid_from_a_json_file(tmp_path, capsys, small_csv):
    grid = tmp_path / "grid.json"
    grid.write_text('{"mlp__alpha": [0.001]}')
    path = tmp_path / "m.joblib"
    argv = [
        "grid-search",
        *SMALL,
        "--train",
        small_csv,
        "--grid",
        str(grid),
        "--cv",
        "2",
        "--model",
        str(path),
    ]
    assert main(argv) == 0
    assert load_model(path).named_steps["mlp"].alpha == 0.001


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_recipe_and_scoring_reach_the_search(tmp_path, capsys, small_csv):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skdigits.cli import build_parser
    from skdigits.cli._common import make_pipeline

    path = tmp_path / "m.joblib"
    argv = ["grid-search", *SMALL, "--train", small_csv, "--cv", "2", "--recipe"]
    argv += ["plain", "--scoring", "balanced_accuracy", "--model", str(path)]
    argv += ["--grid", '{"alpha": [0.001, 0.01]}']
    assert main(argv) == 0
    out = capsys.readouterr().out
    mlp = load_model(path).named_steps["mlp"]
    assert (mlp.augment, mlp.learning_rate) == (None, "constant")  # plain's
    assert re.search(r"^  \[1/4\] fit done in .*: fold balanced_accuracy ", out, re.M)
    reference = GridSearchCV(
        make_pipeline(build_parser().parse_args(argv)),
        {"mlp__alpha": [0.001, 0.01]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="balanced_accuracy",
    ).fit(*load_mnist_csv(small_csv))
    assert f"(mean cv balanced_accuracy {reference.best_score_:.4f})" in out
    assert mlp.alpha == reference.best_params_["mlp__alpha"]


@pytest.fixture(scope="module")
def local_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    yield cluster
    cluster.close()


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster_matches_a_local_run(
    local_cluster, tmp_path, capsys, small_csv
):
    local = _grid_search(tmp_path, "local.joblib", small_csv, "--seed", "1")
    local_out = capsys.readouterr().out
    address = local_cluster.scheduler_address
    dask = _grid_search(
        tmp_path, "dask.joblib", small_csv, "--seed", "1", "--dask-scheduler", address
    )
    out = capsys.readouterr().out
    workers = set(local_cluster.scheduler_info["workers"])
    ran_on = re.search(r"^fits ran on: (.*)$", out, re.M).group(1)
    counts = dict(re.findall(r"(tcp://\S+) \((\d+) fits\)", ran_on))
    assert counts and set(counts) <= workers
    assert sum(int(n) for n in counts.values()) == 8
    assert len(re.findall(r"^  \[\d/8\] fold accuracy", out, re.M)) == 8
    assert _best_line(out) == _best_line(local_out)
    X_test, _ = load_mnist_csv(TEST)
    assert dask.predict(X_test).tolist() == local.predict(X_test).tolist()


def test_grid_search_unreachable_scheduler_fails_fast(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(cli, "DASK_CONNECT_TIMEOUT", 1)
    path = tmp_path / "m.joblib"
    argv = [
        "grid-search",
        *SMALL,
        "--grid",
        GRID,
        "--cv",
        "2",
        "--model",
        str(path),
        "--dask-scheduler",
        "tcp://127.0.0.1:1",
    ]
    start = time.monotonic()
    err = _assert_one_line_error(capsys, main(argv))
    assert time.monotonic() - start < 10
    assert "tcp://127.0.0.1:1" in err
    assert not path.exists()


def test_grid_search_without_dask_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    argv = [
        "grid-search",
        *SMALL,
        "--grid",
        GRID,
        "--model",
        str(tmp_path / "m.joblib"),
        "--dask-scheduler",
        "local",
    ]
    assert "pip install skdigits[dask]" in _assert_one_line_error(capsys, main(argv))


# --- errors -------------------------------------------------------------------


def _train(*extra):
    return ["train", *SMALL, *extra]


BAD_ARGUMENTS = {
    "hidden abc": (_train("--hidden", "abc"), "--hidden"),
    "hidden 0": (_train("--hidden", "0"), "--hidden"),
    "hidden 64,0": (_train("--hidden", "64,0"), "--hidden"),
    "activation nope": (_train("--activation", "nope"), "relu"),
    "epochs -3": (_train("--epochs", "-3"), "--epochs"),
    "learning-rate zero": (_train("--learning-rate", "zero"), "--learning-rate"),
    "dropout 1": (_train("--dropout", "1"), "--dropout"),
    "solver": (_train("--solver", "newton"), "--solver"),
    "missing train file": (_train("--train", "no_such.csv"), "no_such.csv"),
    "test file without labels": (_train("--test", "{unlabelled}"), "label"),
    "model suffix": (["train", *SMALL, "--model", "{tmp}/model.pkl"], "model.pkl"),
    "no command": ([], "command"),
    "cv 1": (["grid-search", "--grid", GRID, "--cv", "1"], "--cv"),
    "grid unknown key": (["grid-search", "--grid", '{"alhpa": [1]}'], "alpha"),
    "grid not json": (["grid-search", "--grid", "{alpha: 1}"], "JSON"),
    "grid value not list": (["grid-search", "--grid", '{"alpha": 1}'], "list"),
    "grid bad value": (["grid-search", *SMALL, "--grid", '{"alpha": [-1.0]}'], "alpha"),
    "grid-search scoring": (["grid-search", "--grid", GRID, "--scoring", "acc"], "acc"),
    "evaluate unlabelled": (["evaluate", "--data", "{unlabelled}"], "label"),
    "evaluate missing data": (["evaluate", "--data", "missing.csv"], "missing.csv"),
    "model not a model": (
        ["evaluate", "--model", "{not_model}", "--data", TEST],
        "not_a_model.joblib",
    ),
    "predict bad data": (["predict", "--data", "{not_model}"], "not_a_model.joblib"),
    "predict-image missing": (["predict-image", "{tmp}/nope.png"], "nope.png"),
    "predict-image not an image": (
        ["predict-image", "{unlabelled}"],
        "test_unlabelled",
    ),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_errors_are_one_line_exit_2_and_leave_outputs_alone(
    case, model_path, unlabelled_csv, tmp_path, capsys
):
    not_model = tmp_path / "not_a_model.joblib"
    not_model.write_bytes(b"this is not a model\n")
    existing = {name: tmp_path / name for name in ["out.joblib", "out.csv"]}
    for path in existing.values():
        path.write_bytes(b"precious\n")
    argv, needle = BAD_ARGUMENTS[case]
    names = {"unlabelled": unlabelled_csv, "not_model": not_model, "tmp": tmp_path}
    for key, value in names.items():
        argv = [arg.replace(f"{{{key}}}", str(value)) for arg in argv]
    command = argv[0] if argv else None
    if command in ("train", "grid-search") and "--model" not in argv:
        argv += ["--model", str(existing["out.joblib"])]
    if command in ("evaluate", "predict", "predict-image") and "--model" not in argv:
        argv[1:1] = ["--model", str(model_path)]
    if command == "predict":
        argv += ["--output", str(existing["out.csv"])]
    # loading a .joblib file is announced, because it runs code
    joblib_model = BAD_ARGUMENTS[case][0][1:3] == ["--model", "{not_model}"]
    note = "loading" if joblib_model else None
    err = _assert_one_line_error(capsys, main(argv), note=note)
    assert needle in err
    for path in existing.values():
        assert path.read_bytes() == b"precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["not_a_model.joblib", *existing]
    ), "temporary files left behind"


def test_failed_predict_leaves_existing_submission_alone(
    tmp_path, capsys, monkeypatch, model_path
):
    output = tmp_path / "submission.csv"
    output.write_text("ImageId,Label\n1,7\n")

    def broken_predict(self, X):
        raise ValueError("model exploded")

    from sklearn.pipeline import Pipeline

    monkeypatch.setattr(Pipeline, "predict", broken_predict)
    argv = [
        "predict",
        "--model",
        str(model_path),
        "--data",
        TEST,
        "--output",
        str(output),
    ]
    assert "model exploded" in _assert_one_line_error(capsys, main(argv))
    assert output.read_text() == "ImageId,Label\n1,7\n"


# --- as a program -------------------------------------------------------------


def _run(argv, cwd):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_python_dash_m_and_console_script(tmp_path):
    result = _run([sys.executable, "-m", "skdigits", "--help"], tmp_path)
    assert result.returncode == 0
    for command in ["train", "evaluate", "predict", "predict-image", "grid-search"]:
        assert command in result.stdout
    script = shutil.which("skdigits")
    if script is None:
        pytest.skip("the skdigits console script is not installed")
    result = _run([script, "train", "--hidden", "abc", "--model", "m.joblib"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("skdigits: error: argument --hidden")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# --- the promise on the full data ----------------------------------------------


@pytest.mark.fulldata
@pytest.mark.slow
def test_train_defaults_reach_98_8_percent_on_mnist(data_dir, tmp_path, capsys):
    argv = [
        "train",
        "--train",
        str(data_dir / "mnist_train.csv.gz"),
        "--test",
        str(data_dir / "mnist_test.csv.gz"),
        "--model",
        str(tmp_path / "model.joblib"),
    ]
    start = time.monotonic()
    assert main(argv) == 0
    minutes = (time.monotonic() - start) / 60
    # the default recipe's bar (issue 11): >= 98.8% in <= 5 minutes on 2 cores;
    # the time is only a loose guard here (a shared machine can be slow)
    assert _float_after("test accuracy", capsys.readouterr().out) >= 0.988
    assert minutes < 10


# --- recipes ------------------------------------------------------------------


def test_train_uses_the_default_recipe_and_options_override_a_recipe(
    tmp_path, small_csv
):
    from skdigits import get_recipe

    path = tmp_path / "model.joblib"
    assert main(["train", "--train", small_csv, "--model", str(path)]) == 0
    mlp = load_model(path).named_steps["mlp"]
    for key, value in get_recipe("default").items():
        assert repr(mlp.get_params()[key]) == repr(value), key
    argv = ["train", "--recipe", "plain", "--epochs", "2", "--hidden", "16"]
    assert main([*argv, "--train", small_csv, "--model", str(path)]) == 0
    mlp = load_model(path).named_steps["mlp"]
    assert (mlp.max_iter, mlp.hidden_layer_sizes) == (2, (16,))
    assert mlp.learning_rate == get_recipe("plain").get("learning_rate", "constant")
    assert mlp.augment is None and mlp.dropout == get_recipe("plain")["dropout"]


def test_train_with_lbfgs_leaves_out_the_recipes_minibatch_only_parts(
    tmp_path, small_csv, capsys
):
    # the default recipe's augmenter and dropout need minibatches; --solver lbfgs
    # drops both, but a --dropout given on the command line is kept (and refused)
    path = tmp_path / "model.joblib"
    argv = ["train", "--train", small_csv, "--model", str(path), "--solver", "lbfgs"]
    assert main([*argv, "--epochs", "3"]) == 0
    mlp = load_model(path).named_steps["mlp"]
    assert (mlp.solver, mlp.augment, mlp.dropout) == ("lbfgs", None, 0.0)
    assert "lbfgs reports no per-epoch progress" in capsys.readouterr().out
    rc = main([*argv, "--dropout", "0.2"])
    assert "dropout needs a stochastic solver" in _assert_one_line_error(capsys, rc)


@pytest.mark.parametrize("command", ["predict-image", "serve"])
def test_reading_images_needs_a_model_with_predict_proba(command, tmp_path, capsys):
    from sklearn.svm import LinearSVC

    from skdigits import save_model

    path = tmp_path / "svm.skops"
    save_model(LinearSVC().fit(np.eye(4), [0, 1, 0, 1]), path)
    argv = [command, "--model", str(path)]
    rc = main(argv + (["digit.png"] if command == "predict-image" else ["--port", "0"]))
    err = _assert_one_line_error(capsys, rc)
    assert str(path) in err and "needs a classifier with predict_proba" in err


@pytest.mark.parametrize("command", ["predict-image", "serve"])
def test_reading_images_needs_a_model_of_the_ten_digits(command, tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression

    from skdigits import save_model

    path = tmp_path / "parity.skops"  # odd or even: not a reader of digits
    save_model(LogisticRegression().fit(np.eye(4), [0, 1, 0, 1]), path)
    argv = [command, "--model", str(path)]
    rc = main(argv + (["digit.png"] if command == "predict-image" else ["--port", "0"]))
    err = _assert_one_line_error(capsys, rc)
    assert str(path) in err and "not the ten digits" in err


def test_unknown_recipe_is_a_usage_error(tmp_path, capsys):
    rc = main(["train", "--recipe", "nope", "--model", str(tmp_path / "m.joblib")])
    err = _assert_one_line_error(capsys, rc)
    assert "--recipe" in err and "best" in err


def test_recipes_lists_every_recipe_with_all_its_parameters(capsys):
    from skdigits import RECIPES

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    # one block per recipe, from its name line to the next recipe's
    blocks = re.split(r"^(\w+)(?: \(default\))?$", out, flags=re.M)[1:]
    listed = dict(zip(blocks[::2], blocks[1::2]))
    assert list(listed) == list(RECIPES)
    for name, params in RECIPES.items():
        keys = re.findall(r"^  (\w+) = ", listed[name], re.M)
        assert keys == list(params), name
        assert "measured:" in listed[name], name
    assert "elasticdistortion" in listed["best"]


# --- the bundled model on Kaggle's files ----------------------------------------


@pytest.fixture(scope="module")
def kaggle_train_csv(tmp_path_factory):
    """200 labelled rows of the test sample in Kaggle's train.csv layout."""
    X, y = load_mnist_csv(TEST)
    path = tmp_path_factory.mktemp("data") / "train.csv"
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    rows = np.column_stack([y, X])[:200]
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header, comments="")
    return str(path)


def _kaggle_warning(err):
    lines = [line for line in err.splitlines() if line.startswith("skdigits: warn")]
    assert len(lines) <= 1, err
    return lines[0] if lines else None


def test_bundled_model_on_a_kaggle_file_warns_and_still_works(
    kaggle_train_csv, unlabelled_csv, tmp_path, capsys
):
    output = tmp_path / "submission.csv"
    argv = ["predict", "--data", str(unlabelled_csv), "--output", str(output)]
    assert main(argv) == 0
    warning = _kaggle_warning(capsys.readouterr().err)
    assert warning and str(unlabelled_csv) in warning
    assert "inflated" in warning and "train.csv" in warning and "--model" in warning
    assert len(output.read_text().splitlines()) == 201

    assert main(["evaluate", "--data", kaggle_train_csv]) == 0
    out, err = capsys.readouterr()
    assert _kaggle_warning(err) and kaggle_train_csv in _kaggle_warning(err)
    assert _float_after("accuracy", out) > 0.9


def test_no_kaggle_warning_with_a_model_or_on_an_mnist_file(
    model_path, kaggle_train_csv, tmp_path, capsys
):
    argv = ["evaluate", "--model", str(model_path), "--data", kaggle_train_csv]
    assert main(argv) == 0
    assert _kaggle_warning(capsys.readouterr().err) is None
    assert main(["evaluate", "--data", TEST]) == 0  # bundled model, MNIST layout
    assert _kaggle_warning(capsys.readouterr().err) is None
    output = tmp_path / "submission.csv"
    assert main(["predict", "--data", TEST, "--output", str(output)]) == 0
    assert _kaggle_warning(capsys.readouterr().err) is None


def test_serve_names_the_serve_extra_when_pillow_or_skops_is_missing(
    monkeypatch, capsys
):
    for module in ("PIL", "skops"):
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, module, None)
            err = _assert_one_line_error(capsys, main(["serve", "--port", "0"]))
        assert 'pip install "skdigits[serve]"' in err
        assert ("Pillow" if module == "PIL" else "skops") in err


# --- files and arguments: index columns, spreadsheet exports, zips, outputs -----

KAGGLE_PIXELS = [f"pixel{i}" for i in range(784)]


def _write_csv(path, table, header=None, line_end="\n"):
    """``table`` (rows of integers) as CSV text, with an optional header line."""
    lines = [",".join(header)] if header is not None else []
    lines += [",".join(map(str, row)) for row in np.asarray(table).tolist()]
    path.write_text(line_end.join(lines) + line_end)
    return str(path)


def test_a_row_index_column_is_left_out_or_refused_never_read_as_labels(
    model_path, tmp_path, capsys
):
    X, y = load_mnist_csv(TEST)
    X, y = X[:200], y[:200]
    rows = np.arange(200)
    # df.reset_index().to_csv(...) of Kaggle's test.csv: predict reads the pixels
    reset = _write_csv(
        tmp_path / "test_reset.csv",
        np.column_stack([rows, X]),
        ["index"] + KAGGLE_PIXELS,
    )
    output = tmp_path / "submission.csv"
    argv = ["predict", "--model", str(model_path), "--data", reset]
    assert main([*argv, "--output", str(output)]) == 0
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"skdigits: note: \S+test_reset.csv: column 1 \('index'\) "
        r"holds the row numbers 0..199, .*\n",
        err,
    ), err
    expected = load_model(model_path).predict(X)
    labels = [int(line.split(",")[1]) for line in output.read_text().split()[1:]]
    assert labels == expected.tolist()
    # ... and evaluate says there are no labels, instead of scoring the index
    rc = main(["evaluate", "--model", str(model_path), "--data", reset])
    err = _assert_one_line_error(capsys, rc, note="")
    assert "--data" in err and "test_reset.csv has no label column" in err
    # a headerless Kaggle train.csv with its row numbers: the label is column 2
    indexed = _write_csv(tmp_path / "train_indexed.csv", np.column_stack([rows, y, X]))
    assert main(["evaluate", "--model", str(model_path), "--data", indexed]) == 0
    accuracy = _float_after("accuracy", capsys.readouterr().out)
    assert accuracy == pytest.approx(np.mean(expected == y), abs=1e-4)


def test_a_label_column_of_row_ids_is_refused_by_train_and_evaluate(
    model_path, tmp_path, capsys
):
    X, _ = load_mnist_csv(TEST)
    shuffled = np.random.default_rng(0).permutation(300) + 1000  # ids, shuffled
    joined = np.concatenate([np.arange(200), np.arange(100)])  # two files' indexes
    # (twelve drawings of the ten digits are a real file: 10 labels, 12 rows)
    twelve = _write_csv(
        tmp_path / "twelve.csv", np.column_stack([[*range(10), 1, 7], X[:12]])
    )
    assert main(["evaluate", "--model", str(model_path), "--data", twelve]) == 0
    capsys.readouterr()
    model = tmp_path / "m.skops"
    for name, ids, n_classes in (("ids", shuffled, 300), ("joined", joined, 200)):
        path = _write_csv(tmp_path / f"{name}.csv", np.column_stack([ids, X[:300]]))
        for argv in (
            ["train", *SMALL, "--train", path, "--model", str(model)],
            ["evaluate", "--model", str(model_path), "--data", path],
        ):
            err = _assert_one_line_error(capsys, main(argv))
            assert f"{name}.csv: its 300 rows have {n_classes} different labels" in err
            assert "row id" in err and f"make {n_classes} classes" in err
    assert not model.exists()


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_spreadsheet_export_with_trailing_commas_is_read(
    model_path, tmp_path, capsys, line_end
):
    X, y = load_mnist_csv(TEST)
    header = ["label"] + KAGGLE_PIXELS + [""]  # an empty last column
    table = np.column_stack([y[:100], X[:100]]).astype(object)
    table = np.column_stack([table, np.full(100, "")])
    path = _write_csv(tmp_path / "export.csv", table, header, line_end)
    assert main(["evaluate", "--model", str(model_path), "--data", path]) == 0
    expected = np.mean(load_model(model_path).predict(X[:100]) == y[:100])
    assert _float_after("accuracy", capsys.readouterr().out) == pytest.approx(
        expected, abs=1e-4
    )


@pytest.fixture()
def kaggle_zip(tmp_path):
    """``digit-recognizer.zip`` as Kaggle ships it (members in its order), made
    from 300 labelled and 50 unlabelled rows of the test sample."""
    import zipfile

    X, y = load_mnist_csv(TEST)
    folder = tmp_path / "parts"
    folder.mkdir()
    train = _write_csv(
        folder / "train.csv",
        np.column_stack([y[:300], X[:300]]),
        ["label", *KAGGLE_PIXELS],
    )
    test = _write_csv(folder / "test.csv", X[300:350], KAGGLE_PIXELS)
    path = tmp_path / "digit-recognizer.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sample_submission.csv", "ImageId,Label\n1,0\n2,0\n")
        archive.write(test, "test.csv")
        archive.write(train, "train.csv")
    return path, train, test


def test_commands_read_the_member_of_kaggles_zip_they_need(
    kaggle_zip, model_path, tmp_path, capsys
):
    path, train_csv, test_csv = kaggle_zip
    model = tmp_path / "kaggle.skops"
    argv = ["train", "--train", str(path), "--epochs", "1", "--hidden", "16"]
    assert main([*argv, "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "training on 300 images from" in out and "(member 'train.csv')" in out
    # evaluate reads train.csv, the labelled one; predict reads test.csv
    evaluate = ["evaluate", "--model", str(model_path), "--data"]
    assert main([*evaluate, str(path)]) == 0
    from_zip = capsys.readouterr().out
    assert "(member 'train.csv')" in from_zip
    assert main([*evaluate, train_csv]) == 0
    assert _float_after("accuracy", from_zip) == _float_after(
        "accuracy", capsys.readouterr().out
    )
    output = tmp_path / "submission.csv"
    predict = ["predict", "--model", str(model_path), "--data", str(path)]
    assert main([*predict, "--output", str(output)]) == 0
    assert len(output.read_text().splitlines()) == 51  # test.csv's 50 rows
    # --member chooses another
    assert main([*predict, "--member", "train.csv", "--output", str(output)]) == 0
    assert len(output.read_text().splitlines()) == 301
    rc = main([*evaluate, str(path), "--member", "test.csv"])
    assert "no label column" in _assert_one_line_error(capsys, rc)
    rc = main([*predict, "--member", "sample_submission.csv", "--output", "x.csv"])
    err = _assert_one_line_error(capsys, rc)
    assert "--data" in err and "ImageId,Label" in err and "predictions" in err


def test_zip_member_errors_name_the_member_option(
    kaggle_zip, model_path, tmp_path, capsys
):
    import zipfile

    path, train_csv, test_csv = kaggle_zip
    other = tmp_path / "two.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.write(train_csv, "a.csv")
        archive.write(test_csv, "b.csv")
    evaluate = ["evaluate", "--model", str(model_path), "--data"]
    err = _assert_one_line_error(capsys, main([*evaluate, str(other)]))
    assert "2 CSV files (a.csv, b.csv)" in err and "--member a.csv" in err
    assert "member=" not in err
    err = _assert_one_line_error(capsys, main([*evaluate, str(path), "--member", "x"]))
    assert "--member x" in err and "train.csv" in err and "member=" not in err
    err = _assert_one_line_error(capsys, main([*evaluate, TEST, "--member", "x.csv"]))
    assert "--member x.csv" in err and "not a zip archive" in err
    rc = main([*evaluate, str(tmp_path / "gone.zip"), "--member", "train.csv"])
    assert "gone.zip: no such file" in _assert_one_line_error(capsys, rc)
    model = tmp_path / "m.skops"
    rc = main(["train", *SMALL, "--member", "train.csv", "--model", str(model)])
    err = _assert_one_line_error(capsys, rc)
    assert "--member train.csv" in err and "add --train" in err
    # train's --member is --train's: a --test zip without mnist_test.csv is refused
    rc = main(["train", *SMALL, "--test", str(path), "--model", str(model)])
    err = _assert_one_line_error(capsys, rc)
    assert "--test" in err and "none of them mnist_test.csv" in err
    assert "unzip it" in err and "--member" not in err
    assert not model.exists()
    args = cli.build_parser().parse_args(
        ["grid-search", "--grid", GRID, "--member", "train.csv", "--model", "m.skops"]
    )
    assert args.member == "train.csv"


@pytest.mark.parametrize("how", ["same", "relative", "symlink", "model"])
def test_an_output_that_is_an_input_is_refused_before_writing(
    how, model_path, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "test.csv"
    shutil.copy(TEST, data)  # gzip bytes under a .csv name: the loader reads them
    model = tmp_path / "model.skops"
    shutil.copy(model_path, model)
    before = {path: path.read_bytes() for path in (data, model)}
    output = {
        "same": str(data),
        "relative": "./sub/../test.csv",
        "symlink": str(tmp_path / "link.csv"),
        "model": str(model),
    }[how]
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(data)
    argv = ["predict", "--model", str(model), "--data", str(data), "--output", output]
    err = _assert_one_line_error(capsys, main(argv))
    assert f"--output {output} is the input" in err
    assert ("--model" if how == "model" else "--data") in err.split("is the input")[1]
    assert {path: path.read_bytes() for path in before} == before
    assert (tmp_path / "link.csv").is_symlink()


def test_train_refuses_to_save_the_model_over_its_training_file(tmp_path, capsys):
    data = tmp_path / "train.skops"  # a CSV with a model's name, by mistake
    shutil.copy(TRAIN, data)
    argv = ["train", *SMALL, "--train", str(data), "--model", str(data)]
    err = _assert_one_line_error(capsys, main(argv))
    assert "--model" in err and "is the input --train" in err
    assert data.read_bytes() == sample_path("train").read_bytes()


def test_data_errors_name_the_option_the_file_and_the_line(
    model_path, tmp_path, capsys
):
    X, y = load_mnist_csv(TEST)
    table = np.column_stack([y[:5], X[:5]]).astype(object)
    table[2, 10] = "abc"
    path = _write_csv(tmp_path / "bad.csv", table, ["label", *KAGGLE_PIXELS])
    rc = main(["evaluate", "--model", str(model_path), "--data", path])
    err = _assert_one_line_error(capsys, rc)
    assert err.startswith(f"skdigits: error: --data: {path}: line 4, column 11 ")
    assert "'abc' is not a number" in err


# --- the bundled model on its own training images ------------------------------


def test_the_bundled_model_is_recognised_by_its_bytes(
    kaggle_train_csv, tmp_path, capsys
):
    from skdigits._persistence import bundled_model_path

    copy = tmp_path / "my_model.skops"
    shutil.copy(bundled_model_path(), copy)
    for model in (bundled_model_path(), copy):
        assert (
            main(["evaluate", "--model", str(model), "--data", kaggle_train_csv]) == 0
        )
        warning = _kaggle_warning(capsys.readouterr().err)
        assert warning and "inflated" in warning and "--model kaggle.skops" in warning


def test_the_bundled_model_warns_on_files_cut_from_mnists_training_set(
    model_path, tmp_path, capsys
):
    X_train, y_train = load_mnist_sample("train")
    # a headerless Kaggle test.csv: 200 images, about 1 in 12 from the sample
    # (here all of them: rows of the training sample itself)
    headerless = _write_csv(tmp_path / "test.csv", X_train[:200])
    output = tmp_path / "submission.csv"
    assert main(["predict", "--data", headerless, "--output", str(output)]) == 0
    warning = _kaggle_warning(capsys.readouterr().err)
    assert warning and headerless in warning and "200 of the 5,000 images" in warning
    assert "inflated" in warning and "train.csv" in warning
    # MNIST's training set (here its 5,000-image sample, in mnist_train's layout)
    assert main(["evaluate", "--data", TRAIN]) == 0
    warning = _kaggle_warning(capsys.readouterr().err)
    assert warning and "all 5,000 images" in warning and "own training data" in warning
    assert "mnist_test.csv" in warning
    # another model, or images the bundled model never saw: no warning
    argv = ["predict", "--model", str(model_path), "--data", headerless]
    assert main([*argv, "--output", str(output)]) == 0
    assert _kaggle_warning(capsys.readouterr().err) is None
    unseen = _write_csv(tmp_path / "unseen.csv", load_mnist_sample("test")[0][:200])
    assert main(["predict", "--data", unseen, "--output", str(output)]) == 0
    assert _kaggle_warning(capsys.readouterr().err) is None


@pytest.mark.fulldata
@pytest.mark.slow
def test_the_leak_warning_on_the_full_files(data_dir, capsys):
    # MNIST's training file warns; its test file, which the model never saw, does not
    assert main(["evaluate", "--data", str(data_dir / "mnist_train.csv.gz")]) == 0
    assert "all 5,000 images" in _kaggle_warning(capsys.readouterr().err)
    assert main(["evaluate", "--data", str(data_dir / "mnist_test.csv.gz")]) == 0
    assert _kaggle_warning(capsys.readouterr().err) is None


# --- .joblib files run code when loaded -----------------------------------------


def test_loading_a_joblib_model_says_once_that_it_runs_code(
    model_path, tmp_path, capsys
):
    from skdigits import save_model

    path = tmp_path / "model.joblib"
    save_model(load_model(model_path), path)
    assert main(["evaluate", "--model", str(path), "--data", TEST]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note" in line]
    assert notes == [
        f"skdigits: note: loading {path}: a .joblib file is a pickle: loading it "
        "runs any code it holds, so load only your own and share .skops files"
    ]
    assert main(["evaluate", "--model", str(model_path), "--data", TEST]) == 0
    assert "note" not in capsys.readouterr().err  # a .skops file: nothing to say
    for command in ("train", "evaluate", "predict", "predict-image", "grid-search"):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert text.count("runs any code it holds") == 1, command
        assert "share .skops files" in text, command


# --- skdigits --version ------------------------------------------------------------


def test_version_is_the_package_version(capsys):
    import skdigits

    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"skdigits {skdigits.__version__}\n"
    assert main(["--version"]) == 0
    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text())["project"]
    assert project["version"] == skdigits.__version__


# --- skdigits fetch-mnist ----------------------------------------------------------


def _fake_openml(n_train, n_test, seed=0):
    """What ``fetch_openml("mnist_784", as_frame=False)`` returns, made up:
    float64 pixels and the labels as strings."""
    from sklearn.utils import Bunch

    rng = np.random.default_rng(seed)
    n = n_train + n_test
    data = rng.integers(0, 256, size=(n, 784)).astype(np.float64)
    target = rng.integers(0, 10, size=n).astype(str).astype(object)
    return Bunch(data=data, target=target)


@pytest.fixture()
def fake_openml(monkeypatch):
    """Patch fetch_openml (no network here); ``calls`` records its arguments."""
    import sklearn.datasets

    from skdigits import datasets

    monkeypatch.setattr(datasets, "_N_TRAIN", 12)
    monkeypatch.setattr(datasets, "_N_TEST", 5)
    fake = {"result": _fake_openml(12, 5), "calls": []}

    def fetch_openml(name, **kwargs):
        fake["calls"].append((name, kwargs))
        if isinstance(fake["result"], Exception):
            raise fake["result"]
        return fake["result"]

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch_openml)
    return fake


def test_fetch_mnist_writes_both_files_in_mnists_order(fake_openml, tmp_path, capsys):
    from skdigits.datasets import load_mnist

    folder = tmp_path / "new" / "data"
    argv = ["fetch-mnist", "--output-dir", str(folder), "--data-home", "cache"]
    assert main(argv) == 0
    assert fake_openml["calls"] == [
        ("mnist_784", {"version": 1, "as_frame": False, "data_home": "cache"})
    ]
    out = capsys.readouterr().out
    assert (
        f"wrote {folder / 'mnist_train.csv'}\nwrote {folder / 'mnist_test.csv'}" in out
    )
    data, target = fake_openml["result"].data, fake_openml["result"].target
    for subset, rows in (("train", slice(0, 12)), ("test", slice(12, 17))):
        path = folder / f"mnist_{subset}.csv"
        header = path.read_text().split("\n", 1)[0]
        assert header == "label," + ",".join(
            f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)
        )
        X, y = load_mnist(subset, folder)
        assert X.dtype == np.uint8 and np.array_equal(X, data[rows])
        assert y.tolist() == [int(label) for label in target[rows]]


@pytest.mark.slow
def test_fetch_mnist_splits_at_60000(fake_openml, tmp_path, monkeypatch):
    from skdigits import datasets

    monkeypatch.setattr(datasets, "_N_TRAIN", 60000)
    monkeypatch.setattr(datasets, "_N_TEST", 10000)
    fake_openml["result"] = _fake_openml(60000, 10000)
    assert main(["fetch-mnist", "--output-dir", str(tmp_path)]) == 0
    X, _ = load_mnist_csv(tmp_path / "mnist_test.csv")
    assert X.shape == (10000, 784)
    assert np.array_equal(X, fake_openml["result"].data[60000:])
    assert load_mnist_csv(tmp_path / "mnist_train.csv")[0].shape == (60000, 784)
    from skdigits.datasets import _N_TEST, _N_TRAIN

    assert (_N_TRAIN, _N_TEST) == (60000, 10000)


def _failures():
    from urllib.error import URLError

    bad_pixels = _fake_openml(12, 5)
    bad_pixels.data[3, 3] = 0.5
    bad_labels = _fake_openml(12, 5)
    bad_labels.target[0] = "x"
    return {
        "offline": (URLError("no network"), ["OpenML", "connection", "MNIST in CSV"]),
        "shape": (_fake_openml(10, 5), ["shape (15, 784)", "cache"]),
        "pixels": (bad_pixels, ["0-255", "cache"]),
        "labels": (bad_labels, ["0-9", "cache"]),
    }


@pytest.mark.parametrize("case", ["offline", "shape", "pixels", "labels", "write"])
def test_a_failed_fetch_mnist_leaves_existing_files_alone(
    case, fake_openml, tmp_path, capsys, monkeypatch
):
    from skdigits import datasets

    for name in ("mnist_train.csv", "mnist_test.csv"):
        (tmp_path / name).write_text("precious\n")
    phrases = ["mnist_test.csv: cannot write it (disk full)", "no existing file"]
    if case == "write":  # the second file fails half-way: neither is replaced
        write_rows = datasets._write_mnist_rows

        def failing(file, X, y):
            if len(X) == 5:
                file.write("label,")
                raise OSError(28, "disk full")
            write_rows(file, X, y)

        monkeypatch.setattr(datasets, "_write_mnist_rows", failing)
    else:
        fake_openml["result"], phrases = _failures()[case]
    err = _assert_one_line_error(
        capsys, main(["fetch-mnist", "--output-dir", str(tmp_path)])
    )
    for phrase in phrases:
        assert phrase in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mnist_test.csv",
        "mnist_train.csv",
    ]
    for name in ("mnist_train.csv", "mnist_test.csv"):
        assert (tmp_path / name).read_text() == "precious\n"
