"""Training checkpoints (skdigits/_checkpoint.py) and resuming a fit from one.

The promise under test: a fit killed at any moment and run again ends with
the model an uninterrupted fit gives, bit for bit; a checkpoint of another fit
is never used; a file that is not a checkpoint is refused in one line and left
as it was. The subprocess tests at the end kill real processes (``skdigits
train`` and a Python script) with SIGKILL, also in the middle of a checkpoint
write, and with SIGINT.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skdigits import NumpyMLPClassifier, NumpyMLPRegressor, load_model
from skdigits._atomic import remove_stale_temps
from skdigits._checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    CheckpointWarning,
    ResumeWarning,
    checkpoint_path,
    read_checkpoint,
    read_header,
    write_checkpoint,
)
from skdigits.augment import ElasticDistortion, RandomAffine, make_chain
from skdigits.cli import main
from skdigits.datasets import load_mnist_sample

# Fits whose whole state matters: a schedule per step (cosine) with dropout
# and the best recipe's kinds of augmentation (affine, elastic) in float32,
# an sgd schedule that changes on stalls with early stopping (validation
# split, best weights), and per-epoch invscaling with sample and class weights.
CONFIGS = {
    "adam_cosine_dropout_augment": dict(
        learning_rate="cosine",
        dropout=0.2,
        augment=make_chain(
            RandomAffine(rotation=10.0, shift=1.0, image_shape=(8, 8)),
            ElasticDistortion(alpha=2.0, sigma=1.0, image_shape=(8, 8)),
        ),
    ),
    "sgd_adaptive_early_stopping": dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.2,
        early_stopping=True,
        tol=0.5,
        n_iter_no_change=1,
    ),
    "sgd_invscaling_weights": dict(
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.3,
        class_weight="balanced",
    ),
}
FITTED = (
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "loss_curve_",
    "validation_scores_",
    "validation_loss_curve_",
    "best_validation_score_",
)


@pytest.fixture(scope="module")
def data(digits):
    X, _, y, _ = digits
    X = X.astype(np.float32)
    weights = np.random.default_rng(0).integers(1, 3, size=len(y)).astype(float)
    return X, y, weights


def _estimator(name, **params):
    base = dict(hidden_layer_sizes=(16,), max_iter=6, random_state=0)
    return NumpyMLPClassifier(**{**base, **CONFIGS[name], **params})


def _fit(est, X, y, weights=None):
    """Fit without the warnings that are not under test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", CheckpointWarning)
        return est.fit(X, y, sample_weight=weights)


def _assert_same_model(a, b, X):
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    _assert_same_model_state(a, b)


def _assert_same_model_state(a, b):
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert Wa.dtype == Wb.dtype and np.array_equal(Wa, Wb)
    for name in FITTED:
        assert getattr(a, name) == getattr(b, name), name


class _StopAt:
    """A ``callback`` that raises KeyboardInterrupt (Ctrl-C) in epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, info):
        if info["epoch"] == self.epoch:
            raise KeyboardInterrupt


def _interrupted_fit(est, X, y, weights, epoch):
    with pytest.raises(KeyboardInterrupt):
        _fit(est.set_params(callback=_StopAt(epoch)), X, y, weights)
    est.set_params(callback=None)


# --- the file ---------------------------------------------------------------------


def test_round_trip_keeps_header_and_arrays_and_needs_no_pickle(tmp_path):
    path = tmp_path / "fit.ckpt"
    arrays = {"theta": np.arange(5, dtype=np.float32), "key": np.arange(3)}
    header = {"epoch": 3, "curve": [0.5, float("inf")], "big": 2**100}
    write_checkpoint(path, header, arrays)
    got_header, got_arrays = read_checkpoint(path)
    assert got_header == {"format": FORMAT, "version": VERSION, **header}
    assert read_header(path) == got_header
    for name, array in arrays.items():
        assert got_arrays[name].dtype == array.dtype
        assert np.array_equal(got_arrays[name], array)
    with np.load(path, allow_pickle=False) as npz:  # a plain .npz archive
        assert sorted(npz.files) == ["header", "key", "theta"]


def _one_line_error(path, match):
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=match) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "delete it" in message and "--fresh" in message
    assert path.read_bytes() == before  # left as it was
    return message


def _npz(path, **arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    return path


def _header_array(header):
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def test_truncated_file_is_one_line_error_and_left_alone(tmp_path):
    path = tmp_path / "fit.ckpt"
    write_checkpoint(path, {"epoch": 1}, {"theta": np.zeros(1000)})
    path.write_bytes(path.read_bytes()[:3000])
    _one_line_error(path, "truncated or not an .npz archive")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_text("epoch,loss\n1,0.5\n"), "npz archive|pickled"),
        (lambda p: np.save(open(p, "wb"), np.zeros(3)), "not an .npz archive"),
        (lambda p: _npz(p, theta=np.zeros(3)), "no skdigits checkpoint header"),
        (
            lambda p: _npz(p, header=np.array(["x"], dtype=object)),
            "allow_pickle",
        ),
        (
            lambda p: _npz(p, header=_header_array({"format": "keras"})),
            "not a skdigits training checkpoint",
        ),
        (
            lambda p: _npz(p, header=_header_array({"format": FORMAT, "version": 99})),
            "format version 99",
        ),
        (lambda p: _npz(p, header=np.zeros(4, np.uint8)), "header is not JSON"),
    ],
    ids=["text", "npy", "no-header", "pickled", "foreign", "version", "not-json"],
)
def test_foreign_files_are_one_line_errors_and_left_alone(tmp_path, make, match):
    path = tmp_path / "fit.ckpt"
    make(path)
    _one_line_error(path, match)


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "fit.ckpt"
    write_checkpoint(path, {"epoch": 1}, {"theta": np.zeros(3)})
    before = path.read_bytes()

    def half_then_fail(file, arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr("skdigits._checkpoint._write_npz", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(path, {"epoch": 2}, {"theta": np.ones(3)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["fit.ckpt"]


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    path = tmp_path / "fit.ckpt"
    dead_pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = tmp_path / f".fit.ckpt.{dead_pid}.0a1b2c3d.tmp"
    live = tmp_path / f".fit.ckpt.{os.getpid()}.0a1b2c3d.tmp"
    other = tmp_path / f".other.ckpt.{dead_pid}.0a1b2c3d.tmp"
    for file in (stale, live, other):
        file.write_bytes(b"half")
    assert remove_stale_temps(path) == [stale]
    assert live.exists() and other.exists() and not stale.exists()


def test_checkpoint_path_is_beside_the_model():
    assert checkpoint_path("runs/best.skops") == Path("runs/best.skops.ckpt")


# --- resuming a fit ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_checkpointing_changes_no_bit_of_an_uninterrupted_fit(name, data, tmp_path):
    X, y, weights = data
    plain = _fit(_estimator(name), X, y, weights)
    path = tmp_path / "fit.ckpt"
    checked = _fit(_estimator(name, checkpoint=path), X, y, weights)
    _assert_same_model(checked, plain, X)
    header = read_header(path)
    assert header["finished"] and header["epoch"] == plain.n_iter_


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("epoch", [1, 3])
def test_fit_resumed_after_ctrl_c_is_the_uninterrupted_fit(name, epoch, data, tmp_path):
    X, y, weights = data
    plain = _fit(_estimator(name), X, y, weights)
    path = tmp_path / "fit.ckpt"
    if epoch > plain.n_iter_:
        pytest.skip("this fit stops earlier")
    _interrupted_fit(_estimator(name, checkpoint=path), X, y, weights, epoch)
    if epoch > 1:
        assert read_header(path)["epoch"] == epoch - 1
    else:
        assert not path.exists()
    resumed = _estimator(name, checkpoint=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed.fit(X, y, sample_weight=weights)
    messages = [str(w.message) for w in caught if w.category is ResumeWarning]
    if epoch > 1:
        assert messages == [f"resuming at epoch {epoch} of 6 from {path}"]
    _assert_same_model(resumed, plain, X)


# The regressor's fits whose whole state matters, completing the bottom half
# of each 8x8 digit from its top half (32 outputs, float32): a schedule per
# step with dropout; early stopping on R2 with an adaptive schedule; and
# Poisson counts with sample weights.
REGRESSOR_CONFIGS = {
    "adam_cosine_dropout": dict(learning_rate="cosine", dropout=[0.2]),
    "sgd_adaptive_early_stopping": dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        early_stopping=True,
        tol=0.05,
        n_iter_no_change=1,
    ),
    "poisson_sgd_invscaling": dict(
        loss="poisson",
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.05,
    ),
}


@pytest.fixture(scope="module")
def completion(data):
    """``(top, target, weights)`` for each regressor configuration."""
    X, _, weights = data
    top, bottom = X[:, :32], X[:, 32:]
    counts = np.round(4 * bottom[:, :4]).astype(np.float32)
    return lambda name: (top, counts if "poisson" in name else bottom, weights)


def _regressor(name, **params):
    base = dict(hidden_layer_sizes=(16,), max_iter=6, random_state=0)
    return NumpyMLPRegressor(**{**base, **REGRESSOR_CONFIGS[name], **params})


def _assert_same_regressor(a, b, X):
    assert np.array_equal(a.predict(X), b.predict(X))
    _assert_same_model_state(a, b)


@pytest.mark.parametrize("name", sorted(REGRESSOR_CONFIGS))
def test_checkpointing_changes_no_bit_of_a_regressor_fit(name, completion, tmp_path):
    X, Y, weights = completion(name)
    plain = _fit(_regressor(name), X, Y, weights)
    path = tmp_path / "fit.ckpt"
    checked = _fit(_regressor(name, checkpoint=path), X, Y, weights)
    _assert_same_regressor(checked, plain, X)
    assert read_header(path)["finished"]


@pytest.mark.parametrize("name", sorted(REGRESSOR_CONFIGS))
@pytest.mark.parametrize("epoch", [1, 3])
def test_regressor_resumed_after_ctrl_c_is_the_uninterrupted_fit(
    name, epoch, completion, tmp_path
):
    X, Y, weights = completion(name)
    plain = _fit(_regressor(name), X, Y, weights)
    if epoch > plain.n_iter_:
        pytest.skip("this fit stops earlier")
    path = tmp_path / "fit.ckpt"
    _interrupted_fit(_regressor(name, checkpoint=path), X, Y, weights, epoch)
    assert path.exists() == (epoch > 1)
    resumed = _regressor(name, checkpoint=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed.fit(X, Y, sample_weight=weights)
    messages = [str(w.message) for w in caught if w.category is ResumeWarning]
    assert messages == ([f"resuming at epoch {epoch} of 6 from {path}"] * (epoch > 1))
    _assert_same_regressor(resumed, plain, X)


def test_a_classifier_checkpoint_is_not_resumed_by_a_regressor(data, tmp_path):
    X, y, _ = data
    path = tmp_path / "fit.ckpt"
    _fit(NumpyMLPClassifier((16,), max_iter=2, random_state=0, checkpoint=path), X, y)
    Y = X[:, 32:]
    with pytest.warns(CheckpointWarning, match="checkpoint of another fit"):
        NumpyMLPRegressor(
            hidden_layer_sizes=(16,), max_iter=2, random_state=0, checkpoint=path
        ).fit(X[:, :32], Y)


def test_ctrl_c_during_a_checkpoint_write_saves_that_epoch(data, tmp_path, monkeypatch):
    X, y, weights = data
    name = "adam_cosine_dropout_augment"
    plain = _fit(_estimator(name), X, y, weights)
    path = tmp_path / "fit.ckpt"
    real = __import__("skdigits._checkpoint", fromlist=["_write_npz"])._write_npz
    calls = []

    def interrupted_third_write(file, arrays):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(file, arrays)

    monkeypatch.setattr("skdigits._checkpoint._write_npz", interrupted_third_write)
    with pytest.raises(KeyboardInterrupt):
        _fit(_estimator(name, checkpoint=path), X, y, weights)
    monkeypatch.undo()
    assert len(calls) == 4  # the third epoch's write, interrupted, then again
    assert read_header(path)["epoch"] == 3
    _assert_same_model(_fit(_estimator(name, checkpoint=path), X, y, weights), plain, X)


def test_unseeded_fit_resumes_to_the_same_model_every_time(data, tmp_path):
    """With random_state=None every generator's state comes from the file."""
    X, y, _ = data
    name = "adam_cosine_dropout_augment"
    path = tmp_path / "fit.ckpt"
    _interrupted_fit(
        _estimator(name, checkpoint=path, random_state=None), X, y, None, 3
    )
    shutil.copy(path, tmp_path / "copy.ckpt")
    first = _fit(_estimator(name, checkpoint=path, random_state=None), X, y)
    shutil.copy(tmp_path / "copy.ckpt", path)
    second = _fit(_estimator(name, checkpoint=path, random_state=None), X, y)
    _assert_same_model(first, second, X)


def test_a_finished_checkpoint_gives_the_model_without_training(data, tmp_path):
    X, y, weights = data
    name = "sgd_adaptive_early_stopping"
    path = tmp_path / "fit.ckpt"
    first = _fit(_estimator(name, checkpoint=path), X, y, weights)
    epochs = []
    again = _estimator(name, checkpoint=path, callback=epochs.append)
    with pytest.warns(ResumeWarning, match="finished after .* without training"):
        again.fit(X, y, sample_weight=weights)
    assert epochs == []
    _assert_same_model(again, first, X)


def _warning_of_unused(est, X, y, weights=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y, sample_weight=weights)
    messages = [str(w.message) for w in caught if w.category is CheckpointWarning]
    assert len(messages) == 1 and "checkpoint of another fit" in messages[0]
    return messages[0]


@pytest.mark.parametrize(
    "change, names",
    [
        ("row", "different data"),
        ("label", "different data"),
        ("weight", "different data"),
        ("alpha", "different parameters: alpha"),
        ("augment", "different parameters: augment"),
    ],
)
def test_a_checkpoint_of_another_fit_is_not_used(change, names, data, tmp_path):
    X, y, weights = data
    name = "adam_cosine_dropout_augment"
    path = tmp_path / "fit.ckpt"
    _interrupted_fit(_estimator(name, checkpoint=path), X, y, weights, 4)
    X, y, weights, params = X.copy(), y.copy(), weights.copy(), {}
    if change == "row":
        X[7, 20] += np.float32(1 / 16)
    elif change == "label":
        y[7] = (y[7] + 1) % 10
    elif change == "weight":
        weights[7] += 1
    elif change == "alpha":
        params["alpha"] = 1e-3
    else:
        params["augment"] = RandomAffine(rotation=11.0, shift=1.0, image_shape=(8, 8))
    est = _estimator(name, checkpoint=path, **params)
    message = _warning_of_unused(est, X, y, weights)
    assert f"{path} is the checkpoint of another fit ({names})" in message
    _assert_same_model(est, _fit(_estimator(name, **params), X, y, weights), X)
    assert read_header(path)["epoch"] == est.n_iter_  # overwritten by this fit


def test_warm_start_from_other_weights_does_not_resume(data, tmp_path):
    X, y, weights = data
    name = "sgd_invscaling_weights"
    path = tmp_path / "fit.ckpt"
    est = _fit(_estimator(name, warm_start=True, checkpoint=path), X, y, weights)
    message = _warning_of_unused(est, X, y, weights)
    assert "different starting weights (warm_start)" in message
    # the same as continuing without a checkpoint
    plain = _fit(_estimator(name, warm_start=True), X, y, weights)
    _assert_same_model(est, _fit(plain, X, y, weights), X)


def test_callback_verbose_and_checkpoint_do_not_count(data, tmp_path, capsys):
    X, y, weights = data
    name = "sgd_invscaling_weights"
    path = tmp_path / "fit.ckpt"
    _interrupted_fit(_estimator(name, checkpoint=path), X, y, weights, 3)
    moved = tmp_path / "moved.ckpt"
    path.rename(moved)
    est = _estimator(name, checkpoint=moved, verbose=True, callback=print)
    with pytest.warns(ResumeWarning, match="resuming at epoch 3 of 6"):
        est.fit(X, y, sample_weight=weights)


def test_sparse_input_resumes_too(data, tmp_path):
    X, y, weights = data
    X = sp.csr_matrix(X)
    name = "sgd_invscaling_weights"
    plain = _fit(_estimator(name), X, y, weights)
    path = tmp_path / "fit.ckpt"
    _interrupted_fit(_estimator(name, checkpoint=path), X, y, weights, 4)
    _assert_same_model(_fit(_estimator(name, checkpoint=path), X, y, weights), plain, X)


def test_unreadable_checkpoint_stops_fit_and_is_left_alone(data, tmp_path):
    X, y, _ = data
    path = tmp_path / "fit.ckpt"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CheckpointError, match="fit.ckpt: truncated"):
        _fit(_estimator("sgd_invscaling_weights", checkpoint=path), X, y)
    assert path.read_bytes() == b"PK\x03\x04 not really"


def test_a_checkpoint_that_does_not_fit_the_network_is_refused(data, tmp_path):
    X, y, _ = data
    path = tmp_path / "fit.ckpt"
    est = _estimator("sgd_invscaling_weights", checkpoint=path)
    _interrupted_fit(est, X, y, None, 3)
    header, arrays = read_checkpoint(path)
    arrays["theta"] = arrays["theta"][:-1]
    write_checkpoint(path, header, arrays)
    with pytest.raises(CheckpointError, match="theta has shape"):
        _fit(_estimator("sgd_invscaling_weights", checkpoint=path), X, y)


def test_stale_temporary_files_are_removed_by_the_next_fit(data, tmp_path):
    X, y, _ = data
    path = tmp_path / "fit.ckpt"
    stale = tmp_path / ".fit.ckpt.999999999.0a1b2c3d.tmp"
    stale.write_bytes(b"half")
    _fit(_estimator("sgd_invscaling_weights", checkpoint=path, max_iter=1), X, y)
    assert sorted(os.listdir(tmp_path)) == ["fit.ckpt"]


def test_a_checkpoint_in_a_missing_directory_fails_before_training(data, tmp_path):
    X, y, _ = data
    path = tmp_path / "no-such-dir" / "fit.ckpt"
    epochs = []
    est = _estimator("sgd_invscaling_weights", checkpoint=path, callback=epochs.append)
    with pytest.raises(ValueError, match="no-such-dir does not exist; create it"):
        est.fit(X, y)
    assert epochs == []


def test_lbfgs_cannot_checkpoint_and_partial_fit_ignores_it(data, tmp_path):
    X, y, _ = data
    path = tmp_path / "fit.ckpt"
    est = NumpyMLPClassifier(solver="lbfgs", checkpoint=path)
    with pytest.raises(ValueError, match="checkpoint needs a stochastic solver"):
        est.fit(X, y)
    est = NumpyMLPClassifier(hidden_layer_sizes=(8,), checkpoint=path)
    est.partial_fit(X, y, classes=np.unique(y))
    assert not path.exists()


def test_without_checkpoint_ctrl_c_still_ends_fit_with_a_warning(data):
    X, y, _ = data
    est = _estimator("sgd_invscaling_weights", callback=_StopAt(2))
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est.fit(X, y)
    assert est.n_iter_ == 2 and hasattr(est, "coefs_")  # stopped in its report


# --- real processes, killed -------------------------------------------------------

EPOCHS = 12
# Paces the processes the kill tests run: each epoch then lasts at least 0.15 s,
# so a kill at a random moment within 0.3 s of an epoch's end lands at most two
# epochs later, on a fast machine too (the pause changes no result).
PACE_EPOCHS = """
import time
import skdigits._training as training
_epoch = training.Training.epoch
def paced(self, *args):
    record = _epoch(self, *args)
    time.sleep(0.15)
    return record
training.Training.epoch = paced
"""
# Replaces the checkpoint's byte writer in the process it runs in: the second
# checkpoint write of that process writes half of its bytes, creates the
# marker file (the first argument) and sleeps, to be killed there.
PAUSE_IN_SECOND_WRITE = """
import io, pathlib, sys, time
import numpy as np
import skdigits._checkpoint as checkpoint
marker, writes = pathlib.Path(sys.argv.pop(1)), []
def paused(file, arrays):
    writes.append(1)
    if len(writes) < 2:
        return np.savez(file, **arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    file.write(data[: len(data) // 2])
    file.flush()
    marker.touch()
    time.sleep(600)
checkpoint._write_npz = paused
"""
RUN_CLI = PACE_EPOCHS + "from skdigits.cli import main; sys.exit(main(sys.argv[1:]))"
RUN_SCRIPT = PACE_EPOCHS + (
    "import runpy; runpy.run_path(sys.argv.pop(1), run_name='__main__')"
)
# The Python route: a script that fits with checkpoint=path (argv: data, path,
# output) and saves predict_proba on the test rows.
SCRIPT = (
    """
import sys
import numpy as np
from skdigits import NumpyMLPClassifier, get_recipe
data = np.load(sys.argv[1])
params = {**get_recipe("default"), "hidden_layer_sizes": (32,), "max_iter": %d}
clf = NumpyMLPClassifier(
    **params,
    random_state=0,
    checkpoint=sys.argv[2],
    callback=lambda info: print("epoch", info["epoch"], flush=True),
)
clf.fit(data["X"], data["y"])
np.save(sys.argv[3], clf.predict_proba(data["X_test"]))
"""
    % EPOCHS
)

# The same for the regressor: the top half of each digit (392 pixels) predicts
# the bottom half (392 outputs); the script saves predict on the test rows.
REGRESSOR_SCRIPT = (
    """
import sys
import numpy as np
from skdigits import NumpyMLPRegressor
data = np.load(sys.argv[1])
reg = NumpyMLPRegressor(
    hidden_layer_sizes=(32,),
    max_iter=%d,
    learning_rate="cosine",
    dropout=0.1,
    random_state=0,
    checkpoint=sys.argv[2],
    callback=lambda info: print("epoch", info["epoch"], flush=True),
)
reg.fit(data["X"][:, :392], data["X"][:, 392:])
np.save(sys.argv[3], reg.predict(data["X_test"][:, :392]))
"""
    % EPOCHS
)


class _Process:
    """A child process whose output lines are collected while it runs."""

    def __init__(self, argv, cwd):
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.out, self.err = [], []
        self.readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.proc.stdout, self.out),
                (self.proc.stderr, self.err),
            )
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, predicate, timeout=120):
        """Wait until ``predicate()`` holds; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the readers finish
                if predicate():
                    return
                pytest.fail(f"process ended ({self.proc.returncode}): {self.output()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"timed out: {self.output()}")
            time.sleep(0.01)

    def epochs_seen(self):
        return sum(line.startswith("epoch") for line in self.out)

    def kill(self, sig=signal.SIGKILL):
        """Send ``sig``; True if the process was still running."""
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(sig)
        self.finish()
        return alive

    def finish(self, timeout=300):
        returncode = self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=10)
        return returncode

    def output(self):
        return "\n".join(self.out + self.err)


def _temps(checkpoint):
    return sorted(checkpoint.parent.glob(f".{checkpoint.name}.*.tmp"))


def _kill_at_random_moments(start, checkpoint, seed):
    """Kill runs of ``start(pause)`` at random moments, one in a checkpoint
    write, then run it to the end; returns the number of kills."""
    rng = np.random.default_rng(seed)
    kills = 0

    def kill_after_random_epochs(run):
        n = int(rng.integers(1, 3))
        run.wait_for(lambda: run.epochs_seen() >= n)
        time.sleep(rng.uniform(0.0, 0.3))  # in an epoch or in a write
        return run.kill()

    kills += kill_after_random_epochs(start(None))
    marker = checkpoint.parent / "paused"
    run = start(marker)
    run.wait_for(marker.exists)
    assert len(_temps(checkpoint)) == 1  # half written, beside the checkpoint
    saved = read_header(checkpoint)["epoch"]
    kills += run.kill()
    assert read_header(checkpoint)["epoch"] == saved  # intact...
    run = start(None)
    resuming = f"resuming at epoch {saved + 1} of {EPOCHS}"
    run.wait_for(lambda: any(resuming in line for line in run.out + run.err))
    assert _temps(checkpoint) == []  # ...used, and the stale file removed
    kills += kill_after_random_epochs(run)
    for _ in range(10):
        run = start(None)
        if run.finish() == 0:
            return kills
    pytest.fail(f"the run did not finish: {run.output()}")


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory, write_mnist_csv):
    """2,000 rows of the bundled training sample as an MNIST CSV file."""
    X, y = load_mnist_sample("train")
    path = tmp_path_factory.mktemp("data") / "train.csv"
    return write_mnist_csv(path, X[:2000], y[:2000])


def _train_argv(train_csv, model):
    options = ["--epochs", str(EPOCHS), "--hidden", "32"]
    return ["train", "--train", train_csv, *options, "--model", model]


def _cli(args, pause=None):
    if pause is None:
        return [sys.executable, "-c", "import sys\n" + RUN_CLI, *args]
    return [sys.executable, "-c", PAUSE_IN_SECOND_WRITE + RUN_CLI, str(pause), *args]


def _proba(model_path):
    X_test, _ = load_mnist_sample("test")
    return load_model(model_path).predict_proba(X_test[:500])


@pytest.fixture(scope="module")
def uninterrupted_model(tmp_path_factory, train_csv):
    """The model of an uninterrupted ``skdigits train`` process."""
    cwd = tmp_path_factory.mktemp("uninterrupted")
    run = _Process(_cli(_train_argv(train_csv, "m.skops")), cwd)
    assert run.finish() == 0, run.output()
    assert not checkpoint_path(cwd / "m.skops").exists()  # removed once saved
    return cwd / "m.skops"


@pytest.mark.slow
def test_train_killed_at_random_moments_ends_with_the_uninterrupted_model(
    tmp_path, train_csv, uninterrupted_model
):
    argv = _train_argv(train_csv, "m.skops")
    kills = _kill_at_random_moments(
        lambda pause: _Process(_cli(argv, pause), tmp_path),
        checkpoint_path(tmp_path / "m.skops"),
        seed=18,
    )
    assert kills >= 3
    assert not checkpoint_path(tmp_path / "m.skops").exists()
    assert np.array_equal(_proba(tmp_path / "m.skops"), _proba(uninterrupted_model))


@pytest.mark.slow
def test_train_ctrl_c_exits_130_names_the_command_and_saves_no_model(
    tmp_path, train_csv, uninterrupted_model
):
    run = _Process(_cli(_train_argv(train_csv, "m.skops")), tmp_path)
    run.wait_for(lambda: run.epochs_seen() >= 2)
    run.kill(signal.SIGINT)
    assert run.proc.returncode == 130, run.output()
    assert not (tmp_path / "m.skops").exists()
    assert "Traceback" not in run.output()
    lines = [line for line in run.err if line.strip()]
    assert len(lines) == 1, run.output()  # Ctrl-C is one line
    assert lines[0].startswith(
        "skdigits: interrupted, no model saved (m.skops.ckpt keeps epoch"
    )
    command = shlex.split(lines[0].split("resume with: ")[1])
    assert command[:2] == ["skdigits", "train"] and "--fresh" not in command
    resumed = _Process(_cli(command[1:]), tmp_path)  # the command it names
    assert resumed.finish() == 0, resumed.output()
    assert any(line.startswith("resuming at epoch") for line in resumed.out)
    assert np.array_equal(_proba(tmp_path / "m.skops"), _proba(uninterrupted_model))


@pytest.mark.slow
@pytest.mark.parametrize("script", [SCRIPT, REGRESSOR_SCRIPT], ids=["clf", "reg"])
def test_python_fit_killed_at_random_moments_ends_with_the_uninterrupted_model(
    script, tmp_path
):
    X, y = load_mnist_sample("train")
    X_test, _ = load_mnist_sample("test")
    scale = np.float32(1 / 255)
    np.savez(
        tmp_path / "data.npz",
        X=X[:2000].astype(np.float32) * scale,
        y=y[:2000],
        X_test=X_test[:500].astype(np.float32) * scale,
    )
    (tmp_path / "fit.py").write_text(script)

    def start(pause, checkpoint="fit.ckpt", out="proba.npy"):
        args = ["fit.py", "data.npz", checkpoint, out]
        if pause is None:
            return _Process(
                [sys.executable, "-c", "import sys\n" + RUN_SCRIPT, *args], tmp_path
            )
        code = PAUSE_IN_SECOND_WRITE + RUN_SCRIPT
        return _Process([sys.executable, "-c", code, str(pause), *args], tmp_path)

    reference = start(None, "reference.ckpt", "reference.npy")
    assert reference.finish() == 0, reference.output()
    kills = _kill_at_random_moments(start, tmp_path / "fit.ckpt", seed=181)
    assert kills >= 3
    assert np.array_equal(
        np.load(tmp_path / "proba.npy"), np.load(tmp_path / "reference.npy")
    )


# --- skdigits train and a checkpoint it must not use -------------------------------


@pytest.fixture
def small_run(tmp_path, write_mnist_csv, monkeypatch):
    """``run(*options, rows=X)``: skdigits train on 600 rows of the sample,
    in ``tmp_path``; returns (status, stdout, stderr)."""
    X, y = load_mnist_sample("train")
    X, y = X[:600].copy(), y[:600]
    monkeypatch.chdir(tmp_path)

    def run(*options, rows=X, capsys):
        write_mnist_csv("train.csv", rows, y)
        argv = ["train", "--train", "train.csv", "--epochs", "4", "--hidden", "16"]
        status = main([*argv, "--model", "m.joblib", *options])
        out, err = capsys.readouterr()
        return status, out, err

    run.X = X
    return run


def _interrupt_train_at(epoch, monkeypatch):
    """Make skdigits train's progress callback raise Ctrl-C in ``epoch``."""
    from skdigits.cli import train

    report = train.EpochProgress.__call__

    def interrupting(self, info):
        report(self, info)
        if info["epoch"] == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(train.EpochProgress, "__call__", interrupting)


def _proba_of(path):
    X_test, _ = load_mnist_sample("test")
    return load_model(path).predict_proba(X_test[:200])


@pytest.mark.parametrize(
    "change, names",
    [("row", "different data"), ("alpha", "different parameters: alpha")],
)
def test_train_does_not_use_the_checkpoint_of_another_run(
    change, names, small_run, monkeypatch, capsys
):
    fresh_options = ["--alpha", "0.01"] if change == "alpha" else []
    rows = small_run.X.copy()
    if change == "row":
        rows[5, 300] = 255 - rows[5, 300]
    assert small_run(*fresh_options, rows=rows, capsys=capsys)[0] == 0
    fresh = _proba_of("m.joblib")
    with monkeypatch.context() as patch:
        _interrupt_train_at(3, patch)
        status, out, _ = small_run(capsys=capsys)
    assert status == 130 and read_header("m.joblib.ckpt")["epoch"] == 2
    status, out, err = small_run(*fresh_options, rows=rows, capsys=capsys)
    assert status == 0
    warning = (
        "skdigits: warning: m.joblib.ckpt is the checkpoint of another fit "
        f"({names}), so it is not resumed from: training afresh, overwriting it\n"
    )
    assert err == warning and "resuming" not in out
    assert np.array_equal(_proba_of("m.joblib"), fresh)
    assert not Path("m.joblib.ckpt").exists()


def test_train_resumes_and_says_so(small_run, monkeypatch, capsys):
    assert small_run(capsys=capsys)[0] == 0
    uninterrupted = _proba_of("m.joblib")
    Path("m.joblib").unlink()
    with monkeypatch.context() as patch:
        _interrupt_train_at(3, patch)
        status, out, err = small_run(capsys=capsys)
    assert status == 130 and not Path("m.joblib").exists()
    assert err == (  # one line, naming the command that resumes
        "skdigits: interrupted, no model saved (m.joblib.ckpt keeps epoch 2); "
        "resume with: skdigits train --hidden 16 --epochs 4 --seed 0 "
        "--train train.csv --model m.joblib\n"
    )
    status, out, err = small_run(capsys=capsys)
    assert status == 0 and err == ""
    assert "resuming at epoch 3 of 4 from m.joblib.ckpt\n" in out
    assert "epoch 3/4" in out and "epoch 2/4" not in out
    assert np.array_equal(_proba_of("m.joblib"), uninterrupted)


def test_train_refuses_a_truncated_checkpoint_and_leaves_it(
    small_run, monkeypatch, capsys
):
    with monkeypatch.context() as patch:
        _interrupt_train_at(3, patch)
        assert small_run(capsys=capsys)[0] == 130
    data = Path("m.joblib.ckpt").read_bytes()
    Path("m.joblib.ckpt").write_bytes(data[: len(data) // 2])
    status, out, err = small_run(capsys=capsys)
    assert status == 2 and out == "" and not Path("m.joblib").exists()
    assert err == (
        "skdigits: error: m.joblib.ckpt: truncated or not an .npz archive; delete "
        "it (or run skdigits train with --fresh) to start the fit afresh\n"
    )
    assert Path("m.joblib.ckpt").read_bytes() == data[: len(data) // 2]
    truncated = Path("m.joblib.ckpt").read_bytes()
    status, _, err = small_run("--fresh", "--test", "missing.csv", capsys=capsys)
    assert status == 2 and "missing.csv" in err  # a failed run keeps the file
    assert Path("m.joblib.ckpt").read_bytes() == truncated
    status, out, err = small_run("--fresh", capsys=capsys)
    assert status == 0 and "resuming" not in out
    assert not Path("m.joblib.ckpt").exists()
