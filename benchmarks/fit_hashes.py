"""Bit-for-bit fingerprints of a fixed set of small fits.

A refactoring of the training code must not change what a fit returns by one
bit. This script runs about thirty small fits. Of ``NumpyMLPClassifier`` (every
solver, every learning-rate schedule, every activation, dropout, augmentation,
early stopping, float32 and float64, ``partial_fit``, ``warm_start``,
``sample_weight``, ``class_weight``, multilabel and sparse targets, and a
checkpointed fit interrupted and resumed), and of ``NumpyMLPRegressor``
(completing 8x8 digits: adam, sgd with early stopping, lbfgs, poisson with
sample weights, dropout with the cosine schedule, partial_fit), each hashed:
SHA-256 of its ``coefs_``, ``intercepts_``, curves, counters and
``predict_proba`` (``predict`` for the regressor). It also hashes the bundled
model's ``predict_proba`` on the bundled test sample.

::

    python -m benchmarks.fit_hashes --save before.json   # on the old code
    python -m benchmarks.fit_hashes --check before.json  # on the new code

``--check`` prints one line per fit (``same``, ``CHANGED``, or ``new`` for a
fit the saved file lacks) and exits with status 1 when a saved hash differs
or is missing. BLAS runs on one thread, so the hashes do not
depend on the machine's load.
"""

import argparse
import hashlib
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

SMALL = {"hidden_layer_sizes": (16,), "max_iter": 8, "random_state": 0}


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:600], y[:600]


def _digest(model, X):
    """SHA-256 of everything a fit leaves that a user can read."""
    sha = hashlib.sha256()
    output = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    if output is None:
        output = model.predict(X)
    arrays = [*model.coefs_, *model.intercepts_, output]
    for name in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
        values = getattr(model, name, None)
        if values is not None:
            arrays.append(np.asarray(values, dtype=np.float64))
    for array in arrays:
        array = np.ascontiguousarray(array)
        sha.update(f"{array.dtype.str}{array.shape}".encode())
        sha.update(array.tobytes())
    scalars = [model.n_iter_, getattr(model, "t_", None), model.loss_]
    for name in ("best_loss_", "best_validation_score_"):
        scalars.append(getattr(model, name, None))
    sha.update(repr(scalars).encode())
    return sha.hexdigest()


def _fit(X, y, fit_params=None, **params):
    from skdigits import NumpyMLPClassifier

    model = NumpyMLPClassifier(**{**SMALL, **params})
    return model.fit(X, y, **(fit_params or {}))


def _cases():
    """``{name: (function, X)}``: each function returns a fitted model."""
    X, y = _digits()
    X32 = X.astype(np.float32)
    binary = (y % 2).astype(int)
    multilabel = np.column_stack([y % 2, y > 4, y % 3 == 0]).astype(int)
    weights = np.random.default_rng(0).integers(0, 3, y.size).astype(float)
    deep = {"hidden_layer_sizes": (12, 10, 8)}

    cases = {
        "adam_constant_f64": lambda: _fit(X, y),
        "adam_constant_f32": lambda: _fit(X32, y),
        "adam_cosine": lambda: _fit(X, y, learning_rate="cosine"),
        "sgd_nesterov": lambda: _fit(X, y, solver="sgd", learning_rate_init=0.1),
        "sgd_momentum_f32": lambda: _fit(
            X32, y, solver="sgd", nesterovs_momentum=False, learning_rate_init=0.1
        ),
        "sgd_invscaling": lambda: _fit(
            X, y, solver="sgd", learning_rate="invscaling", learning_rate_init=0.5
        ),
        "sgd_adaptive": lambda: _fit(
            X,
            y,
            solver="sgd",
            learning_rate="adaptive",
            tol=0.5,
            max_iter=30,
            n_iter_no_change=2,
            learning_rate_init=0.2,
        ),
        "sgd_cosine": lambda: _fit(X, y, solver="sgd", learning_rate="cosine"),
        "adam_stall_stop": lambda: _fit(X, y, tol=10.0, n_iter_no_change=2),
        "lbfgs_f64": lambda: _fit(X, y, solver="lbfgs", max_iter=30),
        "lbfgs_f32": lambda: _fit(X32, y, solver="lbfgs", max_iter=30),
        "act_identity_logistic_tanh": lambda: _fit(
            X, y, **deep, activation=["identity", "logistic", "tanh"]
        ),
        "act_leaky_elu_softplus": lambda: _fit(
            X, y, **deep, activation=["leaky_relu", "elu", "softplus"]
        ),
        "act_gelu_silu_relu_f32": lambda: _fit(
            X32, y, **deep, activation=["gelu", "silu", "relu"]
        ),
        "dropout": lambda: _fit(X, y, **deep, dropout=[0.2, 0.0, 0.5]),
        "augment": lambda: _fit(X, y, augment=_augmenter()),
        "early_stopping_adam": lambda: _fit(X, y, early_stopping=True, max_iter=15),
        "early_stopping_sgd_binary_f32": lambda: _fit(
            X32, binary, solver="sgd", early_stopping=True, max_iter=15
        ),
        "multilabel_f32": lambda: _fit(X32, multilabel),
        "sparse_sgd": lambda: _fit(sp.csr_matrix(X), y, solver="sgd"),
        "sample_weight": lambda: _fit(X, y, {"sample_weight": weights}),
        "class_weight_balanced": lambda: _fit(X, binary, class_weight="balanced"),
        "partial_fit": lambda: _partial_fit(X, y),
        "warm_start": lambda: _warm_start(X, y),
        "checkpoint_resumed": lambda: _resumed(X, y),
        **_regressor_cases(X),
    }
    inputs = {name: X32 if "f32" in name else X for name in cases}
    inputs.update({name: X[:, :32] for name in cases if name.startswith("reg_")})
    return {name: (fit, inputs[name]) for name, fit in cases.items()}


def _regressor_cases(X):
    """Digit completion fits of the regressor: the top half predicts the bottom."""
    top, bottom = X[:, :32], X[:, 32:]
    top32, bottom32 = top.astype(np.float32), bottom.astype(np.float32)
    counts = np.round(4 * bottom[:, :4])
    return {
        "reg_adam_f64": lambda: _fit_reg(top, bottom),
        "reg_adam_cosine_dropout_f32": lambda: _fit_reg(
            top32, bottom32, learning_rate="cosine", dropout=0.1
        ),
        "reg_sgd_early_stopping": lambda: _fit_reg(
            top, bottom, solver="sgd", early_stopping=True, max_iter=15
        ),
        "reg_lbfgs": lambda: _fit_reg(top, bottom, solver="lbfgs", max_iter=30),
        "reg_poisson_sample_weight": lambda: _fit_reg(
            top, counts, {"sample_weight": np.arange(600) % 3}, loss="poisson"
        ),
        "reg_partial_fit_f32": lambda: (
            _fit_reg(top32, bottom32, solver="sgd")
            .partial_fit(top32, bottom32)
            .partial_fit(top32, bottom32)
        ),
    }


def _fit_reg(X, Y, fit_params=None, **params):
    from skdigits import NumpyMLPRegressor

    model = NumpyMLPRegressor(**{**SMALL, **params})
    return model.fit(X, Y, **(fit_params or {}))


def _augmenter():
    from skdigits.augment import RandomAffine

    return RandomAffine(rotation=10, shift=1, image_shape=(8, 8))


def _partial_fit(X, y):
    from skdigits import NumpyMLPClassifier

    model = NumpyMLPClassifier((16,), random_state=0, solver="sgd")
    for start in range(0, 600, 200):
        model.partial_fit(
            X[start : start + 200], y[start : start + 200], classes=np.unique(y)
        )
    return model


def _warm_start(X, y):
    model = _fit(X, y, warm_start=True, max_iter=4)
    return model.fit(X, y)


class _Interrupt:
    """A callback that presses Ctrl-C at the end of epoch ``at``."""

    def __init__(self, at):
        self.at = at

    def __call__(self, info):
        if info["epoch"] == self.at:
            raise KeyboardInterrupt


def _resumed(X, y):
    """A checkpointed fit interrupted after epoch 3, then run again to its end."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fit.ckpt"
        params = {"checkpoint": path, "dropout": 0.1, "augment": _augmenter()}
        try:
            _fit(X, y, callback=_Interrupt(3), **params)
        except KeyboardInterrupt:
            pass
        return _fit(X, y, **params)


def _bundled_proba():
    from skdigits import load_bundled_model
    from skdigits.datasets import load_mnist_sample

    X, _ = load_mnist_sample("test")
    proba = np.ascontiguousarray(load_bundled_model().predict_proba(X))
    return hashlib.sha256(proba.tobytes()).hexdigest()


def compute(only=None):
    """``{name: sha256}`` of every fit (or of those named in ``only``)."""
    hashes = {}
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (fit, X) in _cases().items():
            if only and name not in only:
                continue
            hashes[name] = _digest(fit(), X)
            print(f"{name:34s} {hashes[name][:16]}", file=sys.stderr, flush=True)
        if not only or "bundled_model_proba" in only:
            hashes["bundled_model_proba"] = _bundled_proba()
    return hashes


def check(hashes, saved):
    """Lines comparing ``hashes`` with ``saved``; and whether all are the same."""
    lines, same = [], True
    for name in sorted(set(hashes) | set(saved)):
        now, before = hashes.get(name), saved.get(name)
        verdict = "same" if now == before else "CHANGED"
        if now is None or before is None:
            verdict = "missing now" if now is None else "new (not in the saved file)"
        same &= verdict == "same" or before is None
        lines.append(f"{name:34s} {verdict}")
    return lines, same


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fit_hashes",
        description="Hash a fixed set of small fits, to show a refactoring "
        "changes no bit of their results.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--save", type=Path, help="write the hashes to this JSON file")
    group.add_argument(
        "--check", type=Path, help="compare with the hashes saved in this JSON file"
    )
    parser.add_argument("--only", nargs="+", help="only these fits (by name)")
    args = parser.parse_args(argv)
    hashes = compute(args.only)
    if args.save:
        args.save.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    if args.check:
        saved = json.loads(args.check.read_text())
        if args.only:
            saved = {k: v for k, v in saved.items() if k in hashes}
        lines, same = check(hashes, saved)
        print("\n".join(lines))
        print("all hashes unchanged" if same else "SOME HASHES CHANGED")
        return 0 if same else 1
    if not args.save:
        print(json.dumps(hashes, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
