"""scikit-learn's own ``test_mlp.py``, as installed, run on skdigits' two estimators.

The module ``sklearn/neural_network/tests/test_mlp.py`` of the installed
scikit-learn is read, its one line ``from sklearn.neural_network import
MLPClassifier, MLPRegressor`` is changed to import ``NumpyMLPClassifier`` and
``NumpyMLPRegressor`` under those two names, and the result is executed as a
module whose test functions are collected here. Nothing else in the file is
changed: both halves, classifier and regressor, run as scikit-learn's
maintainers wrote them, every parametrized case included.

What does not run as written is named, with its reason:

* `DESELECTED`: left out, because it calls or reads a private attribute of
  scikit-learn's implementation that skdigits does not have;
* `DIFFERS`: where skdigits deliberately behaves otherwise. scikit-learn's test
  still runs, wrapped in a test that requires it to fail the way the entry
  says, and a test of skdigits' own behaviour stands beside it.

`PRIVATE_KEPT` lists the tests that set or read private attributes and still
run unchanged, because skdigits keeps those names. `COUNTS` says how many test
functions the installed module has and what became of them, `CASES` how many
cases they expand to (one per parameter set) and how many of them run as
written.

``test_partial_fit_classification`` (200 fits and partial fits) is marked
``slow``. The exec'd asserts are plain Python ones (pytest does not rewrite
exec'd code), so a failure shows scikit-learn's line without pytest's
introspection of the values.
"""

import inspect
import os
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor

from skdigits import NumpyMLPClassifier, NumpyMLPRegressor

SOURCE = Path(
    os.path.dirname(sklearn.__file__), "neural_network", "tests", "test_mlp.py"
)
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
SWAPPED = (
    "from skdigits import NumpyMLPClassifier as MLPClassifier\n"
    "from skdigits import NumpyMLPRegressor as MLPRegressor\n"
)

#: Tests marked ``slow`` (deselected by ``-m "not slow"``), all of them kept.
SLOW = {"test_partial_fit_classification"}

#: Test functions of the installed module that are not collected, and why.
DESELECTED = {
    "test_gradient": (
        "calls MLPClassifier._loss_grad_lbfgs, scikit-learn's private loss-and-"
        "gradient function of the flattened weights (skdigits checks its own "
        "gradients against finite differences in tests/test_network.py)"
    ),
}

#: Tests where skdigits deliberately differs: ``{name: (exception, match, why)}``.
#: scikit-learn's test must fail with that exception, its message matching.
DIFFERS = {
    "test_mlp_diverging_loss": (
        ValueError,
        "training diverged",
        "an SGD run with learning_rate_init=1 overflows; scikit-learn keeps "
        "going and records NaN validation scores, skdigits stops with its "
        "divergence error, which names learning_rate_init and the input scaling",
    ),
    "test_nonfinite_params": (
        AssertionError,  # from its pytest.raises(ValueError, match=...)
        "(?s)did not match.*training diverged",
        "inputs near float64's largest value overflow the first step; both "
        "raise ValueError, scikit-learn's 'Solver produced non-finite parameter "
        "weights', skdigits its divergence error",
    ),
    "test_lbfgs_regression_maxfun": (
        pytest.fail.Exception,
        "DID NOT WARN",
        "its identity case is linear least squares, which L-BFGS solves from "
        "skdigits' starting weights (its own draws, biases at 0) in 10 evaluations: it "
        "converges within max_fun=10 and rightly gives no ConvergenceWarning; "
        "from scikit-learn's starting weights it needs 11 and warns, as does "
        "skdigits started there (test_lbfgs_maxfun_counts_from_the_start)",
    ),
}

#: Tests that set or read private attributes and run unchanged: skdigits keeps
#: scikit-learn's names for these.
PRIVATE_KEPT = {
    "test_fit": "sets coefs_, intercepts_ and the private _coef_velocity, "
    "_intercept_velocity, _no_improvement_count, then calls partial_fit",
    "test_learning_rate_warmstart": "reads _optimizer.learning_rate",
    "test_adaptive_learning_rate": "reads _optimizer.learning_rate",
    "test_n_iter_no_change": "reads _no_improvement_count",
    "test_n_iter_no_change_inf": "reads _no_improvement_count",
}


def _load_swapped():
    """The installed test module with both estimators swapped for ours."""
    source = SOURCE.read_text()
    if source.count(IMPORT) != 1:
        raise RuntimeError(
            f"{SOURCE} no longer has the line {IMPORT.strip()!r} exactly once: "
            "update IMPORT in tests/test_sklearn_mlp.py for this scikit-learn "
            f"({sklearn.__version__})."
        )
    module = types.ModuleType("sklearn_test_mlp_on_skdigits")
    module.__file__ = str(SOURCE)
    code = compile(source.replace(IMPORT, SWAPPED), str(SOURCE), "exec")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its module-level data loading
        exec(code, module.__dict__)
    return module


def _test_functions(module):
    """``{name: function}`` of every test function of the module."""
    return {
        name: function
        for name, function in vars(module).items()
        if name.startswith("test_") and inspect.isfunction(function)
    }


def _sklearn_tests(module):
    """The module's tests to collect: `DESELECTED` and `DIFFERS` left out."""
    tests = {
        name: function
        for name, function in _test_functions(module).items()
        if name not in DESELECTED and name not in DIFFERS
    }
    for name in SLOW & set(tests):
        tests[name] = pytest.mark.slow(tests[name])
    return tests


def _cases(function):
    """The keyword arguments of each case of ``function``'s parametrize marks."""
    cases = [{}]
    for mark in getattr(function, "pytestmark", []):
        if mark.name == "parametrize":
            names = [n.strip() for n in mark.args[0].split(",")]
            values = [v if len(names) > 1 else (v,) for v in mark.args[1]]
            cases = [{**c, **dict(zip(names, v))} for c in cases for v in values]
    return cases


_SKLEARN = _load_swapped()
_RUN = _sklearn_tests(_SKLEARN)
globals().update(_RUN)

#: What became of the installed module's test functions.
COUNTS = {
    "functions": len(_test_functions(_SKLEARN)),
    "run as written": len(_RUN),
    "run, required to fail as DIFFERS says": len(DIFFERS),
    "left out (DESELECTED)": len(DESELECTED),
}
#: The same in cases, each parametrized function counted once per case.
CASES = {
    "cases": sum(len(_cases(f)) for f in _test_functions(_SKLEARN).values()),
    "run as written": sum(len(_cases(f)) for f in _RUN.values()),
}


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture (its conftest is not loaded here), at its default."""
    return 42


# ------------------------------------------------- checks of the harness


def test_the_swapped_module_uses_ours():
    assert _SKLEARN.MLPClassifier is NumpyMLPClassifier
    assert _SKLEARN.MLPRegressor is NumpyMLPRegressor


def test_every_test_function_is_run_or_named():
    names = set(_test_functions(_SKLEARN))
    assert set(_RUN) | set(DIFFERS) | set(DESELECTED) == names
    assert COUNTS["functions"] == sum(list(COUNTS.values())[1:])


@pytest.mark.skipif(
    tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 9),
    reason="the names are those of scikit-learn 1.9's test_mlp.py",
)
def test_every_named_test_exists_in_the_installed_module():
    # a renamed or removed test must not leave a stale entry behind
    names = set(_test_functions(_SKLEARN))
    assert set(DESELECTED) | set(DIFFERS) | set(PRIVATE_KEPT) | SLOW <= names


def test_private_kept_tests_do_touch_private_names():
    # PRIVATE_KEPT is a claim about scikit-learn's code: check it still holds
    for name in PRIVATE_KEPT:
        source = inspect.getsource(getattr(_SKLEARN, name))
        assert "._" in source, f"{name} touches no private attribute any more"


# ------------------------------------ where skdigits deliberately differs


@pytest.mark.parametrize("name", sorted(DIFFERS))
def test_sklearn_test_fails_as_documented(name):
    exception, match, _ = DIFFERS[name]
    function = getattr(_SKLEARN, name)
    for kwargs in _cases(function):
        with pytest.raises(exception, match=match):
            function(**kwargs)


def _divergence_message(mlp, X, y):
    """The one-line error of ``mlp.fit(X, y)``, which must raise ValueError."""
    with pytest.raises(ValueError) as error:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("early_stopping", [False, True])
def test_diverging_sgd_stops_with_an_error_naming_the_fix(early_stopping):
    # scikit-learn's test_mlp_diverging_loss: the same fit
    mlp = NumpyMLPRegressor(
        hidden_layer_sizes=100,
        activation="identity",
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=1,
        max_iter=20,
        early_stopping=early_stopping,
        n_iter_no_change=10,
        random_state=0,
    )
    message = _divergence_message(mlp, _SKLEARN.X_iris, _SKLEARN.y_iris)
    assert "training diverged" in message
    assert "Lower learning_rate_init (it is 1) or scale the inputs" in message


def test_huge_inputs_stop_with_the_divergence_error():
    # scikit-learn's test_nonfinite_params: the same data
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    message = _divergence_message(NumpyMLPRegressor(), X, y)
    assert "training diverged" in message and "scale the inputs" in message


def _lbfgs_identity(max_fun, start=None):
    """scikit-learn's identity case of test_lbfgs_regression_maxfun.

    ``start``: a fitted scikit-learn regressor whose ``coefs_`` and
    ``intercepts_`` are the starting weights (through ``warm_start``).
    Returns the fitted regressor and whether it warned of non-convergence.
    """
    mlp = NumpyMLPRegressor(
        solver="lbfgs",
        hidden_layer_sizes=50,
        tol=0.0,
        max_iter=150,
        max_fun=max_fun,
        random_state=1,
        activation="identity",
        warm_start=start is not None,
    )
    if start is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.set_params(max_iter=1).fit(_SKLEARN.X_reg, _SKLEARN.y_reg)
        mlp.set_params(max_iter=150)
        mlp.coefs_ = [W.copy() for W in start.coefs_]
        mlp.intercepts_ = [b.copy() for b in start.intercepts_]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        mlp.fit(_SKLEARN.X_reg, _SKLEARN.y_reg)
    return mlp, any(issubclass(w.category, ConvergenceWarning) for w in caught)


def test_lbfgs_maxfun_counts_from_the_start():
    X, y = _SKLEARN.X_reg, _SKLEARN.y_reg
    least_squares = LinearRegression().fit(X, y)
    best = 0.5 * np.mean((least_squares.predict(X) - y) ** 2)
    # from its own start, 10 evaluations reach the least-squares fit
    mlp, warned = _lbfgs_identity(max_fun=10)
    assert not warned and mlp.n_iter_ <= 10
    np.testing.assert_allclose(mlp.loss_, best, rtol=1e-4)  # + a tiny L2 term
    # fewer stop it early, with the warning
    mlp, warned = _lbfgs_identity(max_fun=5)
    assert warned and mlp.n_iter_ <= 5
    # from scikit-learn's start it needs more than 10, and warns as sklearn does
    sklearn_start = SklearnMLPRegressor(
        hidden_layer_sizes=50,
        activation="identity",
        solver="sgd",
        learning_rate_init=1e-300,  # one step too small to move the weights
        momentum=0,
        alpha=0,
        max_iter=1,
        random_state=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sklearn_start.fit(X, y)
    mlp, warned = _lbfgs_identity(max_fun=10, start=sklearn_start)
    assert warned and mlp.n_iter_ == 10


def _starting_weights(estimator_class, y, n_features=64, n_hidden=32):
    """``coefs_`` and ``intercepts_`` after one SGD epoch too small to move them."""
    X = np.random.RandomState(0).rand(len(y), n_features)
    mlp = estimator_class(
        hidden_layer_sizes=(n_hidden,),
        solver="sgd",
        learning_rate_init=1e-300,  # each step is far below float64's resolution
        momentum=0,
        alpha=0,
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    return mlp.coefs_, mlp.intercepts_


@pytest.mark.parametrize(
    "ours, theirs, y",
    [
        (NumpyMLPClassifier, SklearnMLPClassifier, np.arange(21) % 3),
        (NumpyMLPRegressor, SklearnMLPRegressor, np.random.RandomState(1).rand(21, 3)),
    ],
    ids=["classifier", "regressor"],
)
def test_relu_layers_start_he_uniform_where_sklearn_starts_glorot_uniform(
    ours, theirs, y
):
    # The documented difference (the user guide's estimator page): a relu layer
    # draws from +-sqrt(6 / fan_in), scikit-learn from +-sqrt(6 / (fan_in +
    # fan_out)); the output layer uses Glorot's bound in both; skdigits' biases
    # start at 0. Of 2,048 draws the largest lies within 1% of the bound.
    he, glorot, output = np.sqrt(6 / 64), np.sqrt(6 / (64 + 32)), np.sqrt(6 / 35)
    coefs, intercepts = _starting_weights(ours, y)
    assert 0.99 * he < np.abs(coefs[0]).max() <= he
    assert 0.9 * output < np.abs(coefs[1]).max() <= output  # 96 draws
    assert not any(b.any() for b in intercepts)
    coefs, intercepts = _starting_weights(theirs, y)
    assert 0.99 * glorot < np.abs(coefs[0]).max() <= glorot
    assert np.abs(coefs[1]).max() <= output
    assert all(b.all() for b in intercepts)


# ---------------------------------------- parity the module leaves implicit


def test_predict_log_proba_is_log_of_predict_proba_bit_for_bit():
    X = _SKLEARN.X_digits_multi[:60]
    y = _SKLEARN.y_digits_multi[:60]
    for target in (y, y == 1):  # multiclass and binary
        clf = NumpyMLPClassifier((5,), max_iter=5, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, target)
        np.testing.assert_array_equal(
            clf.predict_log_proba(X), np.log(clf.predict_proba(X))
        )


def test_early_stopping_splits_multiclass_unstratified_as_sklearn_does():
    # scikit-learn stratifies only when n_outputs_ == 1 (a binary target):
    # a multiclass target with a one-member class still fits, for both
    X = np.random.RandomState(0).rand(30, 3)
    y = np.array([0] * 15 + [1] * 14 + [2])
    with pytest.raises(ValueError, match="least populated class"):
        train_test_split(X, y, test_size=0.1, stratify=y)
    for cls in (SklearnMLPClassifier, NumpyMLPClassifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # must not raise (a stratified split would, as shown above)
            cls((4,), early_stopping=True, max_iter=3, random_state=0).fit(X, y)
