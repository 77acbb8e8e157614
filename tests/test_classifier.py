"""Tests for NumpyMLPClassifier (skdigits/_classifier.py).

What a user of sklearn's MLPClassifier relies on, checked on our estimator:
parameters and fitted attributes, targets, input types, training options,
errors, and a handful of scikit-learn's own MLP tests run unchanged.
"""

import inspect
import re
import tracemalloc
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.datasets import (
    load_digits,
    load_iris,
    make_classification,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits._activations import ACTIVATIONS

EXTRA_PARAMS = {
    "dropout": 0.0,
    "class_weight": None,
    "callback": None,
    "augment": None,
    "checkpoint": None,
}
CALLBACK_KEYS = {
    "epoch",
    "max_iter",
    "loss",
    "validation_score",
    "validation_loss",
    "seconds",
}


@pytest.fixture(scope="module")
def small():
    """A small 3-class problem, quick to fit."""
    X, y = make_classification(
        n_samples=120, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    return X, y


# ---------------------------------------------------------------- drop-in parity


def test_same_parameters_and_defaults_as_mlpclassifier():
    ours = NumpyMLPClassifier().get_params()
    theirs = MLPClassifier().get_params()
    assert set(ours) == set(theirs) | set(EXTRA_PARAMS)
    for name, value in theirs.items():
        assert ours[name] == value, name
    for name, value in EXTRA_PARAMS.items():
        assert ours[name] == value, name


def test_same_positional_parameters_as_mlpclassifier():
    def positional(cls):
        return [
            p.name
            for p in inspect.signature(cls).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD
        ]

    assert positional(NumpyMLPClassifier) == positional(MLPClassifier)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_fitted_attributes_include_mlpclassifier_ones(solver, quiet_fit):
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0)
    ours = quiet_fit(NumpyMLPClassifier(**params), X, y)
    theirs = quiet_fit(MLPClassifier(**params), X, y)

    def public_fitted(est):
        return {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}

    assert public_fitted(theirs) <= public_fitted(ours)
    assert public_fitted(ours) - public_fitted(theirs) <= {"validation_loss_curve_"}
    np.testing.assert_array_equal(ours.feature_names_in_, X.columns)
    assert ours.n_features_in_ == 4
    assert ours.n_layers_ == 3 and ours.n_outputs_ == 3
    assert ours.out_activation_ == "softmax"
    for ours_W, theirs_W in zip(ours.coefs_, theirs.coefs_):
        assert ours_W.shape == theirs_W.shape
    for ours_b, theirs_b in zip(ours.intercepts_, theirs.intercepts_):
        assert ours_b.shape == theirs_b.shape


def test_documented_fitted_attributes_of_a_stochastic_fit(small, quiet_fit):
    X, y = small
    clf = quiet_fit(NumpyMLPClassifier((6,), max_iter=4, random_state=0), X, y)
    for name in [
        "classes_",
        "loss_",
        "best_loss_",
        "loss_curve_",
        "validation_scores_",
        "best_validation_score_",
        "t_",
        "coefs_",
        "intercepts_",
        "n_features_in_",
        "n_iter_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
    ]:
        assert hasattr(clf, name), name
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 4
    assert clf.t_ == 4 * X.shape[0]
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert not hasattr(clf, "feature_names_in_")


# ---------------------------------------------------------------- targets


def test_binary_uses_one_logistic_output(quiet_fit):
    X, y = make_classification(n_samples=100, n_features=6, random_state=0)
    labels = np.array(["no", "yes"])[y]
    clf = quiet_fit(NumpyMLPClassifier((8,), max_iter=50, random_state=0), X, labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.coefs_[-1].shape == (8, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-7)
    assert set(clf.predict(X)) <= {"no", "yes"}


def test_multiclass_uses_softmax(small, quiet_fit):
    X, y = small
    clf = quiet_fit(NumpyMLPClassifier((8,), max_iter=30, random_state=0), X, y)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))


def test_multilabel_indicator_targets(quiet_fit):
    X, Y = make_multilabel_classification(n_samples=80, n_classes=4, random_state=0)
    clf = NumpyMLPClassifier((20,), solver="lbfgs", random_state=0, max_iter=300)
    quiet_fit(clf, X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    proba = clf.predict_proba(X)
    assert proba.shape == (80, 4)
    assert not np.allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(X)
    assert pred.shape == (80, 4)
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    assert clf.score(X, Y) > 0.9


# ---------------------------------------------------------------- input types


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_trains_like_dense(fmt, digits, quiet_fit):
    X_train, X_test, y_train, _ = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0)
    dense = quiet_fit(NumpyMLPClassifier(**params), X_train, y_train)
    sparse = quiet_fit(
        NumpyMLPClassifier(**params), sp.csr_matrix(X_train).asformat(fmt), y_train
    )
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_matrix(X_test).asformat(fmt)),
        dense.predict_proba(X_test),
        rtol=1e-6,
        atol=1e-9,
    )
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-9)


def test_float32_input_is_trained_and_predicted_in_float32(digits, quiet_fit):
    X_train, X_test, y_train, _ = digits
    clf = NumpyMLPClassifier((16,), max_iter=10, random_state=0)
    quiet_fit(clf, X_train.astype(np.float32), y_train)
    assert all(W.dtype == np.float32 for W in clf.coefs_)
    assert all(b.dtype == np.float32 for b in clf.intercepts_)
    assert clf.predict_proba(X_test.astype(np.float32)).dtype == np.float32
    assert clf.predict_log_proba(X_test.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"dropout": 0.2},
        {"early_stopping": True},
        {"solver": "lbfgs", "max_iter": 2},
    ],
    ids=["adam", "dropout", "early_stopping", "lbfgs"],
)
def test_float32_fit_makes_no_copy_of_x(params, quiet_fit):
    """A 20000x784 float32 fit allocates far less than a float64 copy (125 MB).

    Measured peaks: 3 MB (adam), 27 MB (dropout: row hashing), 9 MB (early
    stopping: the validation rows), 9 MB (lbfgs); a float32 copy would be 63 MB.
    """
    rng = np.random.default_rng(0)
    X = rng.random((20000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 20000)
    clf = NumpyMLPClassifier((16,), **{"max_iter": 1, "random_state": 0, **params})
    tracemalloc.start()
    try:
        quiet_fit(clf, X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert clf.coefs_[0].dtype == np.float32
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_sklearn_error(bad, small, quiet_fit):
    X, y = small
    X = X.copy()
    X[3, 2] = bad
    match = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=f"Input X contains {match}"):
        NumpyMLPClassifier(max_iter=2).fit(X, y)
    clf = quiet_fit(NumpyMLPClassifier(max_iter=2), small[0], y)
    with pytest.raises(ValueError, match=f"Input X contains {match}"):
        clf.predict(X)


# ---------------------------------------------------------------- training options


def test_verbose_prints_iteration_lines(capsys, small, quiet_fit):
    X, y = small
    quiet_fit(NumpyMLPClassifier((4,), max_iter=3, verbose=True), X, y)
    out = capsys.readouterr().out
    assert re.search(r"^Iteration 1, loss = [0-9.]+$", out, re.M)
    assert "Iteration 3, loss = " in out
    quiet_fit(NumpyMLPClassifier((4,), solver="lbfgs", max_iter=3, verbose=True), X, y)
    assert "Iteration 1, loss = " in capsys.readouterr().out


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_improves_with_each_call(solver, small):
    X, y = small
    clf = NumpyMLPClassifier((16,), solver=solver, learning_rate_init=0.01)
    clf.set_params(random_state=0)
    clf.partial_fit(X, y, classes=np.unique(y))
    first = clf.loss_
    for _ in range(20):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 21
    assert clf.loss_ < 0.8 * first


def test_partial_fit_needs_classes_first_and_a_stochastic_solver(small):
    X, y = small
    with pytest.raises(ValueError, match="classes"):
        NumpyMLPClassifier(solver="sgd").partial_fit(X, y)
    lbfgs = NumpyMLPClassifier(solver="lbfgs")
    assert not hasattr(lbfgs, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit"):
        lbfgs.partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues_from_the_previous_weights(small, quiet_fit):
    X, y = small
    clf = NumpyMLPClassifier((16,), warm_start=True, max_iter=5, random_state=0)
    quiet_fit(clf, X, y.copy())
    first_curve = list(clf.loss_curve_)
    quiet_fit(clf, X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 10
    assert clf.loss_curve_[5] < first_curve[0]
    assert clf.loss_curve_[5] == pytest.approx(first_curve[-1], rel=0.1)
    cold = quiet_fit(clf.set_params(warm_start=False), X, y)
    assert len(cold.loss_curve_) == 5
    np.testing.assert_allclose(cold.loss_curve_, first_curve)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_early_stopping_curves(solver, digits, quiet_fit):
    X_train, _, y_train, _ = digits
    clf = NumpyMLPClassifier(
        (16,), solver=solver, early_stopping=True, random_state=0, max_iter=30
    )
    quiet_fit(clf, X_train, y_train)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert all(0 <= s <= 1 for s in clf.validation_scores_)
    assert all(np.isfinite(clf.validation_loss_curve_))
    assert clf.validation_loss_curve_[-1] < clf.validation_loss_curve_[0]


def test_early_stopping_keeps_the_best_weights(digits, quiet_fit):
    """The final weights are those of the best validation epoch, not the last."""
    X_train, _, y_train, _ = digits
    params = dict(
        hidden_layer_sizes=(16,),
        early_stopping=True,
        random_state=0,
        n_iter_no_change=3,
        tol=0.0,
        learning_rate_init=0.05,
    )
    clf = quiet_fit(NumpyMLPClassifier(max_iter=60, **params), X_train, y_train)
    best_epoch = int(np.argmax(clf.validation_scores_)) + 1
    assert best_epoch < clf.n_iter_ < 60
    # the same fit stopped at the best epoch ends with exactly those weights
    stopped = NumpyMLPClassifier(max_iter=best_epoch, **params)
    quiet_fit(stopped, X_train, y_train)
    assert stopped.validation_scores_ == clf.validation_scores_[:best_epoch]
    for W, W_best in zip(clf.coefs_, stopped.coefs_):
        np.testing.assert_array_equal(W, W_best)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden_layer_sizes=(10, 5), activation=["relu"]), "activation"),
        (dict(hidden_layer_sizes=(10, 5), activation=["relu", "bogus"]), "activation"),
        (dict(activation="bogus"), "activation"),
        (dict(activation=[3]), "activation"),
        (dict(dropout=1.0), "dropout"),
        (dict(dropout=-0.1), "dropout"),
        (dict(hidden_layer_sizes=(10, 5), dropout=[0.1, 1.0]), "dropout"),
        (dict(hidden_layer_sizes=(10, 5), dropout=[0.1]), "dropout"),
        (dict(solver="lbfgs", dropout=0.2), "dropout"),
        (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes"),
    ],
)
def test_invalid_layer_parameters_name_the_parameter(params, match, small):
    X, y = small
    with pytest.raises(ValueError, match=match):
        NumpyMLPClassifier(max_iter=2, **params).fit(X, y)


def test_activation_list_gives_one_activation_per_layer(digits, quiet_fit):
    X_train, X_test, y_train, y_test = digits
    clf = NumpyMLPClassifier((32, 16), activation=["tanh", "relu"], random_state=0)
    quiet_fit(clf.set_params(max_iter=40, learning_rate_init=0.01), X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9
    # predictions use the per-layer activations (tanh, then relu)
    A = np.tanh(X_test @ clf.coefs_[0] + clf.intercepts_[0])
    A = np.maximum(A @ clf.coefs_[1] + clf.intercepts_[1], 0)
    Z = A @ clf.coefs_[2] + clf.intercepts_[2]
    np.testing.assert_array_equal(clf.predict(X_test), Z.argmax(axis=1))


# ---------------------------------------------------------------- weights


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=3,
        weights=[0.85, 0.15],
        class_sep=0.5,
        flip_y=0.05,
        random_state=0,
    )
    return X, y


def test_class_weight_makes_a_class_predicted_more(imbalanced, quiet_fit):
    X, y = imbalanced
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, alpha=1.0)

    def n_minority(class_weight):
        clf = NumpyMLPClassifier(class_weight=class_weight, **params)
        return (quiet_fit(clf, X, y).predict(X) == 1).sum()

    plain, balanced = n_minority(None), n_minority("balanced")
    heavy = n_minority({0: 1.0, 1: 10.0})
    assert plain < balanced
    assert plain < heavy
    assert n_minority({0: 10.0, 1: 1.0}) < plain


def test_balanced_class_weight_is_sklearns_formula(imbalanced, quiet_fit):
    X, y = imbalanced
    per_class = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, max_iter=50)
    balanced = quiet_fit(NumpyMLPClassifier(class_weight="balanced", **params), X, y)
    as_dict = NumpyMLPClassifier(class_weight=dict(enumerate(per_class)), **params)
    quiet_fit(as_dict, X, y)
    assert per_class[1] > 2 * per_class[0]
    assert balanced.loss_ == pytest.approx(as_dict.loss_, rel=1e-6)
    np.testing.assert_allclose(
        balanced.coefs_[0], as_dict.coefs_[0], rtol=1e-5, atol=1e-10
    )


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 1.0, 1: 3.0}])
def test_sample_weight_and_class_weight_combine(class_weight, imbalanced, quiet_fit):
    """Integer sample weights equal repeated rows, zero weights equal removal."""
    X, y = imbalanced
    counts = np.random.default_rng(0).integers(0, 3, X.shape[0])
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, max_iter=50)
    weighted = NumpyMLPClassifier(class_weight=class_weight, **params)
    quiet_fit(weighted, X, y, sample_weight=counts.astype(float))
    repeated = NumpyMLPClassifier(class_weight=class_weight, **params)
    quiet_fit(repeated, np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.loss_, repeated.loss_, rtol=1e-8)
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-6, atol=1e-9
    )


def test_class_weight_changes_the_fit_with_sample_weight(imbalanced, quiet_fit):
    X, y = imbalanced
    w = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, max_iter=50)
    a = quiet_fit(NumpyMLPClassifier(**params), X, y, sample_weight=w)
    b = quiet_fit(
        NumpyMLPClassifier(class_weight={0: 1.0, 1: 3.0}, **params),
        X,
        y,
        sample_weight=w,
    )
    assert (b.predict(X) == 1).sum() > (a.predict(X) == 1).sum()


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_minibatches_of_zero_weight_do_not_stop_training(solver, digits, quiet_fit):
    X_train, _, y_train, _ = digits
    order = np.argsort(y_train, kind="stable")
    X, y = X_train[order], y_train[order]
    w = np.ones(len(y))
    w[:50] = 0  # with shuffle=False and batch_size=10: 5 all-zero batches
    params = dict(
        hidden_layer_sizes=(16,),
        solver=solver,
        shuffle=False,
        batch_size=10,
        max_iter=5,
        random_state=0,
    )
    clf = quiet_fit(NumpyMLPClassifier(**params), X, y, sample_weight=w)
    assert len(clf.loss_curve_) == 5 and np.isfinite(clf.loss_curve_).all()
    assert np.isfinite(clf.coefs_[0]).all()
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    # zero-weight rows change nothing: same as training on the other rows,
    # here with every class still present among them
    w2 = np.ones(len(y_train))
    w2[:50] = 0
    a = quiet_fit(NumpyMLPClassifier(**params), X_train, y_train, sample_weight=w2)
    b = quiet_fit(NumpyMLPClassifier(**params), X_train[50:], y_train[50:])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-8, atol=1e-12)


def test_all_zero_sample_weights_raise(small):
    X, y = small
    with pytest.raises(ValueError, match="(?i)non-zero|zero weight"):
        NumpyMLPClassifier(max_iter=2).fit(X, y, sample_weight=np.zeros(len(y)))


# ---------------------------------------------------------------- divergence


@pytest.fixture(scope="module")
def raw_pixels():
    """Digits as unscaled 0..255 pixels, as the notebooks fed them."""
    X, y = load_digits(return_X_y=True)
    X = np.minimum(X * 16, 255).astype(np.uint8)
    return train_test_split(X, y, random_state=0)


def test_pixel_scaler_pipeline_trains_on_raw_pixels(raw_pixels, quiet_fit):
    X_train, X_test, y_train, y_test = raw_pixels
    model = make_pipeline(
        PixelScaler(),
        NumpyMLPClassifier((64,), learning_rate_init=0.01, random_state=0),
    )
    quiet_fit(model, X_train, y_train)
    assert model.score(X_test, y_test) >= 0.95


@pytest.mark.parametrize(
    "solver, learning_rate_init", [("sgd", 1e6), ("adam", 1e6), ("sgd", 0.1)]
)
def test_divergent_fit_raises_actionable_error(
    solver, learning_rate_init, raw_pixels, quiet_fit
):
    """A high learning rate on unscaled pixels: say what to change.

    On 0-255 pixels, sgd with lr 0.1 ends at a loss ~1e4 (log(10) = 2.3 is a
    uniform guess) and chance accuracy: that is a divergence too.
    """
    X_train, _, y_train, _ = raw_pixels
    clf = NumpyMLPClassifier(
        (64,), solver=solver, learning_rate_init=learning_rate_init
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="Lower learning_rate_init") as info:
            quiet_fit(clf.set_params(random_state=0), X_train, y_train)
    assert "scale the inputs" in str(info.value)


# ---------------------------------------------------------------- dropout, seeds


def manual_proba(clf, X):
    """softmax(relu(...)) forward pass from coefs_/intercepts_, no dropout."""
    A = X
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        A = np.maximum(A @ W + b, 0)
    Z = A @ clf.coefs_[-1] + clf.intercepts_[-1]
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def test_dropout_is_not_applied_at_predict_time(digits, quiet_fit):
    X_train, X_test, y_train, y_test = digits
    clf = NumpyMLPClassifier((64, 32), dropout=0.5, random_state=0, max_iter=30)
    quiet_fit(clf.set_params(learning_rate_init=0.01), X_train, y_train)
    first, second = clf.predict_proba(X_test), clf.predict_proba(X_test)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, manual_proba(clf, X_test), rtol=1e-9, atol=1e-12)
    assert clf.score(X_test, y_test) > 0.9


def test_dropout_changes_training(digits, quiet_fit):
    X_train, _, y_train, _ = digits
    params = dict(hidden_layer_sizes=(32,), random_state=0, max_iter=3)
    plain = quiet_fit(NumpyMLPClassifier(**params), X_train, y_train)
    dropped = quiet_fit(NumpyMLPClassifier(dropout=0.3, **params), X_train, y_train)
    assert dropped.loss_curve_[-1] > plain.loss_curve_[-1]


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_random_state_gives_identical_fits(solver, small, quiet_fit):
    X, y = small
    params = dict(hidden_layer_sizes=(8, 4), solver=solver, max_iter=15)
    if solver != "lbfgs":
        params.update(dropout=0.2, early_stopping=True)
    a = quiet_fit(NumpyMLPClassifier(random_state=3, **params), X, y)
    b = quiet_fit(NumpyMLPClassifier(random_state=3, **params), X, y)
    c = quiet_fit(NumpyMLPClassifier(random_state=4, **params), X, y)
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(Wa, Wb)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


# ---------------------------------------------------------------- callback


@pytest.mark.parametrize("early_stopping", [False, True])
def test_callback_is_called_once_per_epoch(early_stopping, small, quiet_fit):
    X, y = small
    calls = []
    clf = NumpyMLPClassifier(
        (8,),
        max_iter=7,
        early_stopping=early_stopping,
        random_state=0,
        callback=calls.append,
    )
    quiet_fit(clf, X, y)
    assert len(calls) == clf.n_iter_ == 7
    for epoch, info in enumerate(calls, start=1):
        assert set(info) == CALLBACK_KEYS
        assert info["epoch"] == epoch and info["max_iter"] == 7
        assert info["loss"] == clf.loss_curve_[epoch - 1]
        assert info["seconds"] >= 0
        if early_stopping:
            assert info["validation_score"] == clf.validation_scores_[epoch - 1]
            assert info["validation_loss"] == clf.validation_loss_curve_[epoch - 1]
        else:
            assert info["validation_score"] is None
            assert info["validation_loss"] is None


def test_callback_exception_propagates(small):
    X, y = small

    def stop(info):
        raise RuntimeError(f"stop at {info['epoch']}")

    with pytest.raises(RuntimeError, match="stop at 1"):
        NumpyMLPClassifier((4,), callback=stop).fit(X, y)


# ---------------------------------------------------------------- sklearn plumbing


def test_pipeline_grid_search_and_cross_val_score(small, quiet_fit):
    X, y = small
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", NumpyMLPClassifier(max_iter=50, learning_rate_init=0.01)),
        ]
    )
    grid = GridSearchCV(
        pipe,
        {"mlp__hidden_layer_sizes": [(4,), (16,)], "mlp__dropout": [0.0, 0.2]},
        cv=3,
    )
    quiet_fit(grid, X, y)
    assert set(grid.best_params_) == {"mlp__hidden_layer_sizes", "mlp__dropout"}
    assert grid.score(X, y) > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.4).all()


def test_joblib_round_trip(tmp_path, small, quiet_fit):
    X, y = small
    clf = quiet_fit(NumpyMLPClassifier((8,), max_iter=10, random_state=0), X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.partial_fit(X, y)  # the optimizer state came along
    assert loaded.n_iter_ == 1


# ---------------------------------------------------------------- learning digits

SOLVER_PARAMS = {
    # lbfgs with the default alpha=1e-4 stops at 0.9467 on this split.
    "lbfgs": dict(alpha=1e-2),
    "sgd": dict(learning_rate_init=0.1),
    "adam": dict(learning_rate_init=0.01),
}


@pytest.mark.parametrize("solver", sorted(SOLVER_PARAMS))
def test_each_solver_learns_digits(solver, digits, quiet_fit):
    X_train, X_test, y_train, y_test = digits
    clf = NumpyMLPClassifier((64,), solver=solver, random_state=0)
    quiet_fit(clf.set_params(**SOLVER_PARAMS[solver]), X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_each_activation_learns_digits(activation, digits, quiet_fit):
    X_train, X_test, y_train, y_test = digits
    clf = NumpyMLPClassifier((64,), activation=activation, random_state=0)
    quiet_fit(clf.set_params(learning_rate_init=0.01), X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


# ------------------------------------------- scikit-learn's own MLP tests, unchanged
# Snippets from sklearn/neural_network/tests/test_mlp.py with MLPClassifier
# replaced by NumpyMLPClassifier; none relies on sklearn's exact initial weights.

X_digits_multi = MinMaxScaler().fit_transform(load_digits(n_class=3).data[:200])
y_digits_multi = load_digits(n_class=3).target[:200]
X_digits_binary = MinMaxScaler().fit_transform(load_digits(n_class=2).data[:200])
y_digits_binary = load_digits(n_class=2).target[:200]
X_iris, y_iris = load_iris(return_X_y=True)


def test_sklearn_lbfgs_classification(quiet_fit):
    for X, y in [(X_digits_multi, y_digits_multi), (X_digits_binary, y_digits_binary)]:
        X_train, y_train, X_test = X[:150], y[:150], X[150:]
        expected_shape_dtype = (X_test.shape[0], y_train.dtype.kind)
        for activation in ["identity", "logistic", "tanh", "relu"]:
            mlp = NumpyMLPClassifier(
                solver="lbfgs",
                hidden_layer_sizes=50,
                max_iter=150,
                shuffle=True,
                random_state=1,
                activation=activation,
            )
            quiet_fit(mlp, X_train, y_train)
            y_predict = mlp.predict(X_test)
            assert mlp.score(X_train, y_train) > 0.95
            assert (y_predict.shape[0], y_predict.dtype.kind) == expected_shape_dtype


def test_sklearn_partial_fit_classification(quiet_fit):
    for X, y in [(X_digits_multi, y_digits_multi), (X_digits_binary, y_digits_binary)]:
        mlp = NumpyMLPClassifier(
            solver="sgd",
            max_iter=100,
            random_state=1,
            tol=0,
            alpha=1e-5,
            learning_rate_init=0.2,
        )
        quiet_fit(mlp, X, y)
        pred1 = mlp.predict(X)
        mlp = NumpyMLPClassifier(
            solver="sgd", random_state=1, alpha=1e-5, learning_rate_init=0.2
        )
        for i in range(100):
            mlp.partial_fit(X, y, classes=np.unique(y))
        pred2 = mlp.predict(X)
        np.testing.assert_array_equal(pred1, pred2)
        assert mlp.score(X, y) > 0.95


def test_sklearn_partial_fit_unseen_classes_and_errors():
    clf = NumpyMLPClassifier(random_state=0)
    clf.partial_fit([[1], [2], [3]], ["a", "b", "c"], classes=["a", "b", "c", "d"])
    clf.partial_fit([[4]], ["d"])
    assert clf.score([[1], [2], [3], [4]], ["a", "b", "c", "d"]) > 0

    clf = NumpyMLPClassifier(solver="sgd")
    clf.partial_fit([[3, 2]], [0], classes=[0, 1])
    with pytest.raises(ValueError):
        clf.partial_fit([[3, 2]], [0], classes=[1, 2])
    with pytest.raises(ValueError):
        NumpyMLPClassifier(solver="sgd").partial_fit(
            [[3, 2], [1, 6]], [1, 0], classes=[2]
        )


def test_sklearn_predict_proba_binary(quiet_fit):
    X, y = X_digits_binary[:50], y_digits_binary[:50]
    clf = NumpyMLPClassifier(hidden_layer_sizes=5, activation="logistic")
    quiet_fit(clf.set_params(random_state=1), X, y)
    y_proba = clf.predict_proba(X)
    y_log_proba = clf.predict_log_proba(X)
    assert y_proba.shape == (50, 2)
    np.testing.assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    np.testing.assert_allclose(y_log_proba, np.log(y_proba))
    assert roc_auc_score(y, y_proba[:, 1]) == 1.0


def test_sklearn_predict_proba_multilabel(quiet_fit):
    X, Y = make_multilabel_classification(
        n_samples=50, random_state=0, return_indicator=True
    )
    clf = NumpyMLPClassifier(solver="lbfgs", hidden_layer_sizes=30, random_state=0)
    quiet_fit(clf, X, Y)
    y_proba = clf.predict_proba(X)
    assert y_proba.shape == Y.shape
    np.testing.assert_array_equal(y_proba > 0.5, Y)
    y_log_proba = clf.predict_log_proba(X)
    assert (y_proba.sum(1) - 1).dot(y_proba.sum(1) - 1) > 1e-10
    # as in sklearn: predict_log_proba is log(predict_proba), to the bit
    np.testing.assert_array_equal(y_log_proba, np.log(y_proba))


def test_sklearn_multilabel_classification(quiet_fit):
    X, y = make_multilabel_classification(
        n_samples=50, random_state=0, return_indicator=True
    )
    mlp = NumpyMLPClassifier(
        solver="lbfgs",
        hidden_layer_sizes=50,
        alpha=1e-5,
        max_iter=150,
        random_state=0,
        activation="logistic",
        learning_rate_init=0.2,
    )
    quiet_fit(mlp, X, y)
    assert mlp.score(X, y) > 0.97
    mlp = NumpyMLPClassifier(
        solver="sgd",
        hidden_layer_sizes=50,
        max_iter=150,
        random_state=0,
        activation="logistic",
        alpha=1e-5,
        learning_rate_init=0.2,
    )
    for i in range(100):
        mlp.partial_fit(X, y, classes=[0, 1, 2, 3, 4])
    assert mlp.score(X, y) > 0.9
    quiet_fit(NumpyMLPClassifier(early_stopping=True), X, y).predict(X)


def test_sklearn_tolerance_and_adaptive_learning_rate():
    X, y = [[3, 2], [1, 6]], [1, 0]
    clf = NumpyMLPClassifier(tol=0.5, max_iter=3000, solver="sgd").fit(X, y)
    assert clf.max_iter > clf.n_iter_
    clf = NumpyMLPClassifier(
        tol=0.5, max_iter=3000, solver="sgd", learning_rate="adaptive"
    ).fit(X, y)
    assert clf.max_iter > clf.n_iter_
    assert 1e-6 > clf._optimizer.learning_rate


def test_sklearn_learning_rate_warmstart():
    X, y = [[3, 2], [1, 6], [5, 6], [-2, -4]], [1, 1, 1, 0]
    for learning_rate in ["invscaling", "constant"]:
        mlp = NumpyMLPClassifier(
            solver="sgd",
            hidden_layer_sizes=4,
            learning_rate=learning_rate,
            max_iter=1,
            power_t=0.25,
            warm_start=True,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
            prev_eta = mlp._optimizer.learning_rate
            mlp.fit(X, y)
            post_eta = mlp._optimizer.learning_rate
        if learning_rate == "constant":
            assert prev_eta == post_eta
        else:
            assert mlp.learning_rate_init / pow(8 + 1, mlp.power_t) == post_eta


def test_sklearn_early_stopping():
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    tol = 0.2
    mlp = NumpyMLPClassifier(tol=tol, max_iter=3000, solver="sgd", early_stopping=True)
    mlp.fit(X, y)
    assert mlp.max_iter > mlp.n_iter_
    assert mlp.best_loss_ is None
    assert isinstance(mlp.validation_scores_, list)
    valid_scores = mlp.validation_scores_
    best_valid_score = mlp.best_validation_score_
    assert max(valid_scores) == best_valid_score
    assert best_valid_score + tol > valid_scores[-2]
    assert best_valid_score + tol > valid_scores[-1]
    mlp = NumpyMLPClassifier(tol=tol, max_iter=3000, solver="sgd").fit(X, y)
    assert mlp.validation_scores_ is None
    assert mlp.best_validation_score_ is None
    assert mlp.best_loss_ is not None


def test_sklearn_warm_start(quiet_fit):
    y_3classes = np.array([0] * 40 + [1] * 40 + [2] * 70)
    clf = NumpyMLPClassifier(
        hidden_layer_sizes=2, solver="lbfgs", warm_start=True, random_state=42, tol=1e-2
    )
    quiet_fit(clf, X_iris, y_iris)
    quiet_fit(clf, X_iris, y_iris)
    quiet_fit(clf, X_iris, y_3classes)
    for y_i in (
        np.array([0] * 75 + [1] * 75),
        np.array([0] * 50 + [1] * 50 + [3] * 50),
        np.array([0] * 37 + [1] * 37 + [2] * 38 + [3] * 38),
    ):
        clf = NumpyMLPClassifier(
            hidden_layer_sizes=2,
            solver="lbfgs",
            warm_start=True,
            random_state=42,
            tol=1e-2,
        )
        quiet_fit(clf, X_iris, y_iris)
        message = (
            "warm_start can only be used where `y` has the same "
            "classes as in the previous call to fit."
            " Previously got [0 1 2], `y` has %s" % np.unique(y_i)
        )
        with pytest.raises(ValueError, match=re.escape(message)):
            clf.fit(X_iris, y_i)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sklearn_warm_start_no_convergence(solver):
    model = NumpyMLPClassifier(
        solver=solver,
        warm_start=True,
        early_stopping=False,
        max_iter=10,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(X_iris, y_iris)
    assert model.n_iter_ == 10
    model.set_params(max_iter=20)
    with pytest.warns(ConvergenceWarning):
        model.fit(X_iris, y_iris)
    assert model.n_iter_ == 20


def test_sklearn_n_iter_no_change():
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    for n_iter_no_change in [2, 5, 10, 50, 100]:
        clf = NumpyMLPClassifier(
            tol=0.01, max_iter=3000, solver="sgd", n_iter_no_change=n_iter_no_change
        )
        clf.fit(X, y)
        assert clf._no_improvement_count == n_iter_no_change + 1
        assert 3000 > clf.n_iter_


@pytest.mark.skipif(
    tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 8),
    reason="train_test_split names the too-small classes from scikit-learn 1.8",
)
def test_sklearn_early_stopping_stratified_and_string_labels(quiet_fit):
    # as in sklearn: a binary target is split stratified, and train_test_split
    # raises its own error for a class with one member
    mlp = NumpyMLPClassifier(early_stopping=True)
    with pytest.raises(
        ValueError,
        match=r"The least populated classes in y have only 1 member.*Classes with "
        r"too few members are: \['True'\]",
    ):
        mlp.fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])
    X, y = make_classification(
        n_samples=200, n_features=10, n_classes=3, n_informative=5, random_state=42
    )
    y = np.array(["class_a", "class_b", "class_c"], dtype=object)[y]
    mlp = NumpyMLPClassifier(early_stopping=True, max_iter=50, random_state=42)
    quiet_fit(mlp, X, y)
    assert len(mlp.validation_scores_) == mlp.n_iter_
    assert np.isfinite(mlp.validation_scores_).all()


def test_sklearn_dtypes_casting_and_param_dtypes(quiet_fit):
    X, y = load_digits(n_class=2, return_X_y=True)
    params = dict(alpha=1e-5, hidden_layer_sizes=(5, 3), random_state=1)
    params.update(max_iter=100, tol=1e-1)
    mlp_64 = quiet_fit(NumpyMLPClassifier(**params), X[:300], y[:300])
    mlp_32 = NumpyMLPClassifier(**params)
    quiet_fit(mlp_32, X[:300].astype(np.float32), y[:300])
    np.testing.assert_array_equal(
        mlp_64.predict(X[300:]), mlp_32.predict(X[300:].astype(np.float32))
    )
    np.testing.assert_allclose(
        mlp_64.predict_proba(X[300:]),
        mlp_32.predict_proba(X[300:].astype(np.float32)),
        rtol=1e-2,
    )
    assert all(c.dtype == np.float32 for c in mlp_32.coefs_ + mlp_32.intercepts_)
    assert all(c.dtype == np.float64 for c in mlp_64.coefs_ + mlp_64.intercepts_)


def test_sklearn_preserve_feature_names_and_partial_fit_after_fit(quiet_fit):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(data=rng.randn(10, 2), columns=["colname_a", "colname_b"])
    y = pd.Series(data=np.full(10, 1), name="colname_y")
    y.iloc[::2] = 0
    model = NumpyMLPClassifier(early_stopping=True, validation_fraction=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        quiet_fit(model, X, y)
    mlp = NumpyMLPClassifier(early_stopping=True, random_state=0)
    quiet_fit(mlp, X_iris, y_iris)
    with pytest.raises(ValueError, match="partial_fit does not support early_stop"):
        mlp.partial_fit(X_iris, y_iris)


def test_sklearn_warm_start_with_early_stopping(quiet_fit):
    mlp = NumpyMLPClassifier(
        max_iter=10, random_state=0, warm_start=True, early_stopping=True
    )
    quiet_fit(mlp, X_iris, y_iris)
    n_validation_scores = len(mlp.validation_scores_)
    mlp.set_params(max_iter=20)
    quiet_fit(mlp, X_iris, y_iris)
    assert len(mlp.validation_scores_) > n_validation_scores


def _blas_threads():
    from threadpoolctl import threadpool_info

    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_fit_in_a_thread_of_its_own_uses_one_blas_thread():
    """Parallel fits (joblib's threading backend) must not oversubscribe the cores."""
    import threading

    X, y = load_digits(return_X_y=True)
    seen = {}

    def record(where):
        return lambda info: seen.setdefault(where, _blas_threads())

    default = _blas_threads()
    NumpyMLPClassifier((8,), max_iter=1, callback=record("main")).fit(X / 16, y)
    fit = NumpyMLPClassifier((8,), max_iter=1, callback=record("thread")).fit
    thread = threading.Thread(target=fit, args=(X / 16, y))
    thread.start()
    thread.join()
    assert seen == {"main": default, "thread": 1}
    assert _blas_threads() == default  # restored after the fit


# --------------------------------------------------- augment and cosine schedule
class _RecordingAugmenter:
    """Adds seeded noise to each batch and records how many rows it saw."""

    def __init__(self):
        self.rows = 0

    def __call__(self, X, rng):
        self.rows += X.shape[0]
        return X + rng.normal(0, 0.05, X.shape).astype(X.dtype)


def _digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def test_augment_sees_only_training_batches_never_validation_or_predict(quiet_fit):
    X, y = _digits()
    aug = _RecordingAugmenter()
    clf = NumpyMLPClassifier(
        (16,),
        augment=aug,
        early_stopping=True,
        validation_fraction=0.25,
        max_iter=3,
        n_iter_no_change=50,
        random_state=0,
    )
    quiet_fit(clf, X, y)
    n_val = int(np.ceil(0.25 * len(X)))
    assert aug.rows == 3 * (len(X) - n_val)
    seen = aug.rows
    clf.predict(X), clf.predict_proba(X), clf.score(X, y), clf.predict_log_proba(X)
    assert aug.rows == seen


def test_augment_changes_the_model_and_the_same_seed_gives_the_same_model(quiet_fit):
    X, y = _digits()

    def fit(augment, seed=0):
        clf = NumpyMLPClassifier((16,), augment=augment, max_iter=2, random_state=seed)
        return quiet_fit(clf, X, y).coefs_[0]

    a, b = fit(_RecordingAugmenter()), fit(_RecordingAugmenter())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fit(None))
    assert not np.array_equal(a, fit(_RecordingAugmenter(), seed=1))


def test_augment_is_used_by_partial_fit():
    X, y = _digits()
    aug = _RecordingAugmenter()
    clf = NumpyMLPClassifier((16,), augment=aug, random_state=0)
    clf.partial_fit(X, y, classes=np.unique(y))
    assert aug.rows == len(X)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"solver": "lbfgs"}, "augment needs a stochastic solver"),
        ({"sparse": True}, "augment works on dense images"),
    ],
)
def test_augment_errors_say_what_to_do(kwargs, match):
    X, y = _digits()
    if kwargs.pop("sparse", False):
        X = sp.csr_matrix(X)
    clf = NumpyMLPClassifier((8,), augment=_RecordingAugmenter(), **kwargs)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_cosine_schedule_anneals_over_max_iter_epochs_without_a_warning(solver):
    X, y = _digits()
    clf = NumpyMLPClassifier(
        (16,),
        solver=solver,
        learning_rate="cosine",
        learning_rate_init=0.1 if solver == "sgd" else 0.03,
        batch_size=200,
        max_iter=10,
        n_iter_no_change=50,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    steps = 10 * int(np.ceil(len(X) / 200))
    assert clf._optimizer.planned_steps == steps
    last = 0.5 * clf.learning_rate_init * (1 + np.cos(np.pi * (steps - 1) / steps))
    assert clf._optimizer.learning_rate == pytest.approx(last)
    assert clf.score(X, y) > 0.9


def test_callback_can_score_the_estimator_on_each_epochs_weights(quiet_fit):
    X, y = _digits()
    scores = []
    clf = NumpyMLPClassifier((16,), max_iter=3, random_state=0)
    clf.set_params(callback=lambda info: scores.append(clf.score(X, y)))
    quiet_fit(clf, X, y)
    assert len(scores) == 3 and len(set(scores)) == 3
    assert scores[-1] == clf.score(X, y)


def test_cosine_runs_its_whole_schedule_unless_validation_stops_it():
    X, y = _digits()
    common = dict(learning_rate="cosine", max_iter=12, n_iter_no_change=1, tol=10.0)
    clf = NumpyMLPClassifier((8,), random_state=0, **common).fit(X, y)
    assert clf.n_iter_ == 12  # tol=10: every epoch "stalls", yet the plan runs
    clf = NumpyMLPClassifier((8,), early_stopping=True, random_state=0, **common)
    assert clf.fit(X, y).n_iter_ < 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        constant = NumpyMLPClassifier(
            (8,), random_state=0, **common | {"learning_rate": "constant"}
        )
        assert constant.fit(X, y).n_iter_ < 12


# --- scikit-learn's callback API (scikit-learn >= 1.9) --------------------------

try:
    from sklearn.callback import ProgressBar, ScoringMonitor
except ImportError:  # scikit-learn < 1.9: the API is absent, and so are these tests
    ProgressBar = ScoringMonitor = None
needs_callback_api = pytest.mark.skipif(
    ProgressBar is None, reason="scikit-learn's callback API needs scikit-learn >= 1.9"
)


def test_set_callbacks_exists_exactly_when_scikit_learn_has_the_api():
    assert hasattr(NumpyMLPClassifier(), "set_callbacks") == (ProgressBar is not None)


@needs_callback_api
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_progress_bar_shows_the_fit(solver, capsys, quiet_fit):
    pytest.importorskip("rich")
    X, y = _digits()
    clf = NumpyMLPClassifier((16,), solver=solver, max_iter=4, random_state=0)
    quiet_fit(clf.set_callbacks(ProgressBar()), X, y)
    out = capsys.readouterr().out
    assert re.search(r"NumpyMLPClassifier - fit .* 100%", out), out


@needs_callback_api
@pytest.mark.filterwarnings("ignore:The estimator MinMaxScaler does not support")
def test_progress_bar_set_on_a_search_nests_the_classifiers_fits(capsys, quiet_fit):
    pytest.importorskip("rich")
    X, y = _digits()
    pipe = Pipeline(
        [("scale", MinMaxScaler()), ("mlp", NumpyMLPClassifier((8,), max_iter=3))]
    )
    search = GridSearchCV(pipe, {"mlp__alpha": [1e-4, 1e-2]}, cv=2)
    quiet_fit(search.set_callbacks(ProgressBar(max_propagation_depth=None)), X, y)
    out = capsys.readouterr().out
    nested = re.findall(
        r"Pipeline - fit-final-estimator \| NumpyMLPClassifier - fit", out
    )
    assert len(nested) == 2 * 2 + 1, out  # every fold of both candidates, the refit
    assert not re.search(r"\b[0-9]{1,2}%", out)  # every bar finished


@needs_callback_api
@pytest.mark.parametrize("early_stopping", [False, True])
def test_scoring_monitor_records_one_entry_per_epoch(early_stopping, quiet_fit):
    X, y = _digits()
    monitor = ScoringMonitor(scoring="accuracy")
    epochs = []
    clf = NumpyMLPClassifier(
        (16,),
        max_iter=6,
        early_stopping=early_stopping,
        random_state=0,
        callback=epochs.append,  # the project's callback keeps working beside it
    )
    quiet_fit(clf.set_callbacks(monitor), X, y)
    records = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert len(records) == clf.n_iter_ == len(epochs)
    assert [r["task_id"] for r in records] == list(range(clf.n_iter_))
    # each record scores that epoch's weights: the last one, the final model's
    if not early_stopping:
        assert records[-1]["accuracy"] == clf.score(X, y)


@needs_callback_api
def test_callbacks_change_no_bit_of_the_fit(quiet_fit):
    X, y = _digits()
    plain = quiet_fit(NumpyMLPClassifier((16,), max_iter=4, random_state=0), X, y)
    monitored = NumpyMLPClassifier((16,), max_iter=4, random_state=0)
    quiet_fit(monitored.set_callbacks(ScoringMonitor(scoring="accuracy")), X, y)
    assert np.array_equal(monitored.predict_proba(X), plain.predict_proba(X))
