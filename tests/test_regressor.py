"""Tests for NumpyMLPRegressor (skdigits/_regressor.py).

MLPRegressor's contract as a user relies on it (parameters, attributes,
shapes, dtypes, the loss as scikit-learn reports it, sample weights,
partial_fit and warm_start), and where skdigits differs on purpose.
"""

import inspect
import warnings

import numpy as np
import pytest
import scipy
from sklearn.base import clone, is_regressor
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor

from skdigits import NumpyMLPClassifier, NumpyMLPRegressor

#: skdigits' parameters that MLPRegressor does not have
EXTRAS = {"dropout", "callback", "augment", "checkpoint"}


@pytest.fixture(scope="module")
def completion(digits):
    """Digit completion on 8x8 digits: the top half predicts the bottom half."""
    X_train, X_test, _, _ = digits
    return X_train[:, :32], X_train[:, 32:], X_test[:, :32], X_test[:, 32:]


@pytest.fixture(scope="module")
def smooth():
    """A smooth function of 3 inputs, 2 outputs: every solver can learn it."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 3))
    Y = np.column_stack([np.sin(2 * X[:, 0]) + X[:, 1], X[:, 2] ** 2 - X[:, 0]])
    return X, Y


def _quiet(est, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **fit_params)


# --- MLPRegressor's API, name for name ------------------------------------------------


def test_parameters_and_defaults_are_mlpregressors_plus_the_extras():
    ours = inspect.signature(NumpyMLPRegressor).parameters
    theirs = inspect.signature(MLPRegressor).parameters
    # MLPRegressor has had `loss` since scikit-learn 1.7; before it, ours is extra
    assert set(ours) - set(theirs) == EXTRAS | ({"loss"} - set(theirs))
    assert set(theirs) <= set(ours)
    for name, param in theirs.items():
        assert ours[name].default == param.default, name
        assert ours[name].kind == param.kind, name
    assert list(ours)[:3] == ["loss", "hidden_layer_sizes", "activation"]


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_fitted_attributes_are_mlpregressors(solver, smooth):
    X, Y = smooth
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=0)
    ours = _quiet(NumpyMLPRegressor(**params), X, Y)
    theirs = _quiet(MLPRegressor(**params), X, Y)
    fitted = {name for name in vars(theirs) if name.endswith("_")}
    fitted.discard("_no_improvement_count")
    assert fitted <= set(vars(ours))
    assert ours.out_activation_ == theirs.out_activation_ == "identity"
    assert ours.n_outputs_ == 2 and ours.n_layers_ == 3 and is_regressor(ours)
    assert [W.shape for W in ours.coefs_] == [W.shape for W in theirs.coefs_]


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_every_solver_learns_a_smooth_multi_output_function(solver, smooth):
    X, Y = smooth
    params = {"sgd": {"learning_rate_init": 0.05}, "adam": {"learning_rate_init": 0.01}}
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(32,),
        solver=solver,
        max_iter=500,
        random_state=0,
        **params.get(solver, {}),
    )
    _quiet(reg, X[:300], Y[:300])
    assert reg.predict(X[300:]).shape == (100, 2)
    assert reg.score(X[300:], Y[300:]) > 0.9


def _r2(reg, X, Y):
    """R2 weighted by the variance of each output: the border pixels, constant
    in the training rows, would make the plain average meaningless."""
    return r2_score(Y, reg.predict(X), multioutput="variance_weighted")


def test_digit_completion_scores_like_mlpregressor(completion):
    top, bottom, top_test, bottom_test = completion
    params = dict(hidden_layer_sizes=(64,), max_iter=100, random_state=0)
    ours = _quiet(NumpyMLPRegressor(**params), top, bottom)
    theirs = _quiet(MLPRegressor(**params), top, bottom)
    assert ours.score(top_test, bottom_test) == r2_score(
        bottom_test, ours.predict(top_test)
    )
    ours_r2, theirs_r2 = (
        _r2(ours, top_test, bottom_test),
        _r2(theirs, top_test, bottom_test),
    )
    assert ours_r2 > 0.3 and ours_r2 > theirs_r2 - 0.05


def test_one_output_predicts_a_vector_and_a_column_y_warns(smooth):
    X, Y = smooth
    reg = _quiet(
        NumpyMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0),
        X,
        Y[:, 0],
    )
    assert reg.predict(X).shape == (400,) and reg.n_outputs_ == 1
    with pytest.warns(DataConversionWarning):
        _quiet(clone(reg), X, Y[:, :1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_is_trained_and_predicted_in_float32(dtype, smooth):
    X, Y = (a.astype(dtype) for a in smooth)
    reg = _quiet(
        NumpyMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0), X, Y
    )
    assert all(W.dtype == dtype for W in reg.coefs_ + reg.intercepts_)
    assert reg.predict(X).dtype == dtype
    assert reg.predict(X.astype(np.float64)).dtype == np.float64


def test_loss_is_reported_as_mlpregressor_reports_it(smooth):
    """Half the squared error averaged over samples and outputs, plus L2."""
    X, Y = smooth
    alpha = 0.01
    reg = _quiet(
        NumpyMLPRegressor(
            hidden_layer_sizes=(8,), solver="lbfgs", alpha=alpha, max_iter=50
        ),
        X,
        Y,
    )
    squares = sum(float((W**2).sum()) for W in reg.coefs_)
    expected = 0.5 * ((reg.predict(X) - Y) ** 2).mean() + 0.5 * alpha * squares / 400
    assert reg.loss_ == pytest.approx(expected, rel=1e-9)


@pytest.mark.skipif(
    tuple(int(p) for p in scipy.__version__.split(".")[:2]) < (1, 15),
    reason="SciPy < 1.15 (the Fortran L-BFGS-B, before its C translation) "
    "reaches max_iter on this problem: seen on 1.11.1, the declared minimum",
)
def test_lbfgs_converges_on_many_outputs(completion):
    """L-BFGS is given the loss whose gradient it gets (the sum over outputs)."""
    top, bottom, *_ = completion
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(16,), solver="lbfgs", max_iter=2000, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(top[:300], bottom[:300])
    assert reg.n_iter_ < 2000


# --- poisson --------------------------------------------------------------------------


def test_poisson_predicts_positive_means_of_counts():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, size=(500, 2))
    y = rng.poisson(np.exp(1.0 + X[:, 0] - X[:, 1])).astype(float)
    reg = _quiet(
        NumpyMLPRegressor(loss="poisson", hidden_layer_sizes=(8,), random_state=0),
        X,
        y,
    )
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    assert abs(reg.predict(X).mean() - y.mean()) < 0.2 * y.mean()


def test_poisson_refuses_negative_targets_in_one_line(smooth):
    X, Y = smooth
    with pytest.raises(ValueError, match=r"loss='poisson' needs non-negative"):
        NumpyMLPRegressor(loss="poisson").fit(X, Y)


# --- sample weights, partial_fit, warm_start, early stopping --------------------------


def test_a_weight_of_two_is_two_copies_and_zero_is_none(smooth):
    X, Y = smooth
    X, Y = X[:60], Y[:60, 0]
    w = np.ones(60)
    w[:10], w[10:20] = 2, 0
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=30, random_state=0)
    weighted = _quiet(NumpyMLPRegressor(**params), X, Y, sample_weight=w)
    copies = np.r_[np.arange(10), np.arange(60)[w > 0]]
    copied = _quiet(NumpyMLPRegressor(**params), X[copies], Y[copies])
    np.testing.assert_allclose(weighted.predict(X), copied.predict(X), rtol=1e-6)


def test_partial_fit_is_one_epoch_of_fit(smooth):
    X, Y = smooth
    params = dict(hidden_layer_sizes=(8,), solver="sgd", shuffle=False, random_state=0)
    once = NumpyMLPRegressor(**params).partial_fit(X, Y)
    fitted = _quiet(NumpyMLPRegressor(**params, max_iter=1), X, Y)
    assert np.array_equal(once.predict(X), fitted.predict(X))
    again = NumpyMLPRegressor(**params).partial_fit(X, Y).partial_fit(X, Y)
    assert again.t_ == 800 and len(again.loss_curve_) == 2
    assert not hasattr(NumpyMLPRegressor(solver="lbfgs"), "partial_fit")


def test_warm_start_continues_from_the_previous_weights(smooth):
    X, Y = smooth
    params = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    warm = _quiet(NumpyMLPRegressor(**params, warm_start=True), X, Y)
    _quiet(warm, X, Y)
    cold = _quiet(NumpyMLPRegressor(**params), X, Y)
    assert len(warm.loss_curve_) == 6
    assert warm.loss_curve_[:3] == cold.loss_curve_
    assert warm.loss_curve_[3] < cold.loss_curve_[0]


def test_early_stopping_scores_r2_and_keeps_the_best_weights(completion):
    top, bottom, *_ = completion
    reg = _quiet(
        NumpyMLPRegressor(
            hidden_layer_sizes=(16,),
            early_stopping=True,
            n_iter_no_change=3,
            max_iter=300,
            learning_rate_init=0.01,
            random_state=0,
        ),
        top,
        bottom,
    )
    scores = reg.validation_scores_
    assert len(scores) == len(reg.validation_loss_curve_) == reg.n_iter_ < 300
    assert reg.best_validation_score_ == max(scores) and reg.best_loss_ is None
    best_epoch = int(np.argmax(scores)) + 1
    assert best_epoch >= reg.n_iter_ - 4  # 3 epochs without change, then a 4th
    stopped = _quiet(clone(reg).set_params(max_iter=best_epoch), top, bottom)
    assert stopped.validation_scores_ == scores[:best_epoch]
    assert np.array_equal(stopped.predict(top), reg.predict(top))  # the best kept


# --- skdigits' own --------------------------------------------------------------------


def test_callback_sees_each_epoch_with_the_estimator_at_its_weights(smooth):
    X, Y = smooth
    seen = []

    def callback(info):
        seen.append((info["epoch"], info["loss"], reg.score(X, Y)))

    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=4, random_state=0, callback=callback
    )
    _quiet(reg, X, Y)
    assert [epoch for epoch, _, _ in seen] == [1, 2, 3, 4]
    assert [loss for _, loss, _ in seen] == reg.loss_curve_
    assert seen[-1][2] == reg.score(X, Y)


def test_dropout_and_per_layer_activations_train(completion):
    top, bottom, top_test, bottom_test = completion
    reg = _quiet(
        NumpyMLPRegressor(
            hidden_layer_sizes=(64, 32),
            activation=["gelu", "tanh"],
            dropout=[0.1, 0.0],
            learning_rate="cosine",
            learning_rate_init=0.01,
            max_iter=60,
            random_state=0,
        ),
        top,
        bottom,
    )
    assert _r2(reg, top_test, bottom_test) > 0.3


def test_augment_is_refused_naming_the_parameter(smooth):
    X, Y = smooth
    with pytest.raises(ValueError, match="augment is not supported.*augment=None"):
        NumpyMLPRegressor(augment=lambda X, rng: X).fit(X, Y)


def test_a_diverging_fit_raises_instead_of_recording_nan():
    """scikit-learn's test_mlp_diverging_loss setup: MLPRegressor goes on and
    records NaN validation scores; skdigits stops with an actionable error."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=100,
        activation="identity",
        solver="sgd",
        learning_rate_init=1,
        max_iter=20,
        early_stopping=True,
        random_state=0,
    )
    with pytest.raises(ValueError, match="training diverged. Lower learning_rate_init"):
        reg.fit(X, y)


def test_the_two_estimators_share_every_parameter_but_their_own():
    clf = set(inspect.signature(NumpyMLPClassifier).parameters)
    reg = set(inspect.signature(NumpyMLPRegressor).parameters)
    assert clf - reg == {"class_weight"} and reg - clf == {"loss"}


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_verbose_prints_the_loss_as_loss_reports_it(solver, smooth, capsys):
    X, Y = smooth
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(8,), solver=solver, max_iter=5, verbose=True
    )
    _quiet(reg, X, Y)
    lines = capsys.readouterr().out.splitlines()
    printed = [float(line.split("loss = ")[1]) for line in lines]
    assert len(printed) == reg.n_iter_
    assert printed[-1] == pytest.approx(reg.loss_, abs=1e-8)


try:
    from sklearn.callback import ScoringMonitor
except ImportError:  # scikit-learn < 1.9: no callback API
    ScoringMonitor = None


@pytest.mark.skipif(ScoringMonitor is None, reason="needs scikit-learn >= 1.9")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_scoring_monitor_scores_every_epoch_of_the_regressor(solver, smooth):
    X, Y = smooth
    monitor = ScoringMonitor(scoring="r2")
    reg = NumpyMLPRegressor(hidden_layer_sizes=(8,), solver=solver, max_iter=4)
    _quiet(reg.set_callbacks(monitor), X, Y)
    task = "epoch" if solver == "adam" else "iteration"
    records = [r for r in monitor.get_logs().data if r["task_name"] == task]
    assert len(records) == reg.n_iter_
    assert records[-1]["r2"] == pytest.approx(reg.score(X, Y))
