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
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skdigits import NumpyMLPClassifier
from skdigits._atomic import remove_stale_temps
from skdigits._checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    CheckpointWarning,
    checkpoint_path,
    read_checkpoint,
    read_header,
    write_checkpoint,
)
from skdigits.augment import RandomAffine

# Fits whose whole state matters: a schedule per step (cosine) with dropout
# and augmentation in float32, an sgd schedule that changes on stalls with
# early stopping (validation split, best weights), and per-epoch invscaling
# with sample and class weights.
CONFIGS = {
    "adam_cosine_dropout_augment": dict(
        learning_rate="cosine",
        dropout=0.2,
        augment=RandomAffine(rotation=10.0, shift=1.0, image_shape=(8, 8)),
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
    messages = [str(w.message) for w in caught if w.category is CheckpointWarning]
    if epoch > 1:
        assert messages == [f"resuming at epoch {epoch} of 6 from {path}"]
    _assert_same_model(resumed, plain, X)


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
    with pytest.warns(CheckpointWarning, match="finished after .* without training"):
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
    with pytest.warns(CheckpointWarning, match="resuming at epoch 3 of 6"):
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
