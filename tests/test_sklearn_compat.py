"""Tests for skdigits/_sklearn_compat.py: each private scikit-learn name as used.

Each local fallback gets the same checks, so it works the day it is needed.
"""

import importlib
from numbers import Integral, Real

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, clone
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from skdigits import NumpyMLPClassifier, _sklearn_compat
from skdigits._sklearn_compat import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from skdigits.augment import Chain, ElasticDistortion, RandomAffine


def local(name):
    """The local fallback of ``name`` in _sklearn_compat (``_local_*``/``_Local*``)."""
    fallback = getattr(_sklearn_compat, f"_local{name}", None)
    return fallback or getattr(_sklearn_compat, f"_Local{name.lstrip('_')}")


def both(name):
    """Parametrize over scikit-learn's ``name`` (as re-exported) and the fallback."""
    return pytest.mark.parametrize(
        name.lstrip("_"),
        [getattr(_sklearn_compat, name), local(name)],
        ids=["sklearn", "local"],
    )


@pytest.mark.parametrize(
    "module, name",
    [
        ("sklearn.base", "_fit_context"),
        ("sklearn.utils.multiclass", "_check_partial_fit_first_call"),
        ("sklearn.utils.validation", "_check_sample_weight"),
        ("sklearn.utils.metaestimators", "_BaseComposition"),
        ("sklearn.utils.metaestimators", "_safe_split"),
    ],
)
def test_each_name_is_scikit_learns_or_else_the_fallback(module, name):
    theirs = getattr(importlib.import_module(module), name, None)
    assert getattr(_sklearn_compat, name) is (theirs or local(name))
    assert name in _sklearn_compat.__all__


def test_the_constraints_are_scikit_learns():
    from sklearn.utils import _param_validation

    for name in ["HasMethods", "Interval", "Options", "StrOptions"]:
        assert getattr(_sklearn_compat, name) is getattr(_param_validation, name)
    # the CLI turns a ValueError into one line: a bad parameter must be one
    assert issubclass(InvalidParameterError, ValueError)


# --- constraints: Interval, Options, StrOptions, validate_params --------------


class Constrained(BaseEstimator):
    """The kinds of constraint NumpyMLPClassifier declares."""

    _parameter_constraints = {
        "size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "rate": [Interval(Real, 0, None, closed="neither")],
        "fun": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "solver": [StrOptions({"adam", "sgd"})],
        "estimator": [HasMethods(["fit", "predict"]), None],
    }

    def __init__(
        self, size="auto", rate=0.1, fun=np.inf, solver="adam", estimator=None
    ):
        self.size = size
        self.rate = rate
        self.fun = fun
        self.solver = solver
        self.estimator = estimator

    def fit(self, X=None, y=None):
        self.fitted_ = True
        self.nested_skip_ = get_config()["skip_parameter_validation"]
        return self

    def partial_fit(self, X=None, y=None):
        return self.fit()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"size": 3},
        {"rate": 1e-9},
        {"fun": 15000},
        {"solver": "sgd"},
        {"estimator": SVC()},
    ],
)
def test_valid_parameters_pass(params):
    validate_params(Constrained(**params))


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"size": 0}, r"'size' parameter of Constrained must be an int in the range"),
        ({"size": "big"}, r"a str among \{'auto'\}"),
        ({"size": 1.5}, "'size' parameter"),
        ({"rate": 0}, r"'rate' .* a float in the range \(0.0, inf\)"),
        ({"fun": 2.5}, r"'fun' .* among \{inf\}"),
        (
            {"solver": "lbfgs"},
            "'solver' parameter of Constrained must be a str among",
        ),
        ({"estimator": "svc"}, "'estimator' .* an object implementing 'fit' and"),
    ],
)
def test_bad_parameters_name_the_parameter_class_and_what_is_allowed(params, expected):
    with pytest.raises(InvalidParameterError, match=expected):
        validate_params(Constrained(**params))


def test_validate_params_is_what_the_estimator_method_does():
    for bad in [RandomAffine(rotation=-5), ElasticDistortion(sigma=0)]:
        with pytest.raises(InvalidParameterError) as ours:
            validate_params(bad)
        with pytest.raises(InvalidParameterError) as theirs:
            bad._validate_params()
        assert str(ours.value) == str(theirs.value)


def test_the_classifiers_constraints_reject_bad_values_at_fit(digits):
    X, _, y, _ = digits
    for params, name in [({"solver": "newton"}, "solver"), ({"alpha": -1}, "alpha")]:
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            NumpyMLPClassifier(**params).fit(X[:20], y[:20])


# --- _fit_context -------------------------------------------------------------


@both("_fit_context")
def test_fit_context_checks_parameters_once_per_fit(fit_context):
    class Model(Constrained):
        fit = fit_context(prefer_skip_nested_validation=True)(Constrained.fit)
        partial_fit = fit_context(prefer_skip_nested_validation=True)(
            Constrained.partial_fit
        )

    assert Model.fit.__name__ == "fit"  # functools.wraps: partial_fit is recognised
    with pytest.raises(InvalidParameterError, match="'rate' parameter of Model"):
        Model(rate=-1).fit()
    model = Model().fit()
    assert model.nested_skip_ is True  # nested checks skipped inside fit
    assert get_config()["skip_parameter_validation"] is False  # and restored after
    with pytest.raises(InvalidParameterError):
        Model(rate=-1).partial_fit()  # first partial_fit: checked
    model.set_params(rate=-1).partial_fit()  # a fitted model's partial_fit: not again
    with pytest.raises(InvalidParameterError):
        model.fit()
    with config_context(skip_parameter_validation=True):
        Model(rate=-1).fit()  # the global switch turns the check off


@both("_fit_context")
def test_fit_context_without_skipping_nested_checks(fit_context):
    class Model(Constrained):
        fit = fit_context(prefer_skip_nested_validation=False)(Constrained.fit)

    assert Model().fit().nested_skip_ is False


# --- _check_partial_fit_first_call --------------------------------------------


class Clf:
    pass


@both("_check_partial_fit_first_call")
def test_partial_fit_classes_are_needed_first_and_fixed_after(
    check_partial_fit_first_call,
):
    clf = Clf()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        check_partial_fit_first_call(clf, None)
    assert check_partial_fit_first_call(clf, [2, 0, 1, 1]) is True
    assert clf.classes_.tolist() == [0, 1, 2]
    assert check_partial_fit_first_call(clf, None) is False
    assert check_partial_fit_first_call(clf, [0, 1, 2]) is False
    with pytest.raises(ValueError, match="is not the same as on last call"):
        check_partial_fit_first_call(clf, [0, 1, 3])


# --- _check_sample_weight -----------------------------------------------------


@both("_check_sample_weight")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_weight_as_fit_checks_it(check_sample_weight, dtype):
    X = np.zeros((4, 3), dtype=dtype)
    out = check_sample_weight([1, 2, 0, 3], X, dtype=X.dtype, ensure_non_negative=True)
    assert out.dtype == dtype and out.tolist() == [1, 2, 0, 3]
    assert out.flags.c_contiguous
    ones = check_sample_weight(None, X, dtype=X.dtype)
    assert ones.dtype == dtype and ones.tolist() == [1, 1, 1, 1]
    assert check_sample_weight(2.5, X, dtype=X.dtype).tolist() == [2.5] * 4
    assert check_sample_weight([1, 2, 3, 4], sp.csr_matrix(X)).dtype == np.float64


@both("_check_sample_weight")
@pytest.mark.parametrize(
    "weights, expected",
    [
        ([1, -2, 3, 4], "Negative values in data passed to `sample_weight`"),
        ([1, 2, 3], r"sample_weight.shape == \(3,\), expected \(4,\)"),
        ([[1, 2, 3, 4]], "Sample weights must be 1D array or scalar"),
        ([0, 0, 0, 0], "at least one non-zero"),
    ],
)
def test_bad_sample_weights_are_refused(check_sample_weight, weights, expected):
    if (
        expected == "at least one non-zero"
        and check_sample_weight is not local("_check_sample_weight")
        and tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 9)
    ):
        pytest.skip("scikit-learn refuses all-zero weights from 1.9 (fit does too)")
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match=expected):
        check_sample_weight(weights, X, dtype=X.dtype, ensure_non_negative=True)


def test_negative_sample_weight_is_refused_by_fit(digits):
    X, _, y, _ = digits
    weights = np.ones(40)
    weights[3] = -1
    with pytest.raises(ValueError, match="Negative values in data passed"):
        NumpyMLPClassifier(max_iter=1).fit(X[:40], y[:40], sample_weight=weights)


# --- _BaseComposition ---------------------------------------------------------


def composite(base):
    class Composite(base):
        def __init__(self, steps, *, compose=True):
            self.steps = steps
            self.compose = compose

        def get_params(self, deep=True):
            return self._get_params("steps", deep=deep)

        def set_params(self, **params):
            return self._set_params("steps", **params)

    return Composite


@both("_BaseComposition")
def test_named_steps_have_nested_parameters(BaseComposition):
    Composite = composite(BaseComposition)
    affine, elastic = RandomAffine(), ElasticDistortion()
    chain = Composite(
        [("affine", affine), ("elastic", elastic), ("off", "passthrough")]
    )
    params = chain.get_params()
    assert params["affine"] is affine and params["affine__rotation"] == 10.0
    assert params["elastic__sigma"] == 4.0 and params["off"] == "passthrough"
    assert set(chain.get_params(deep=False)) == {"steps", "compose"}
    chain.set_params(affine__rotation=15, elastic="passthrough", compose=False)
    assert affine.rotation == 15 and chain.compose is False
    assert [step for _, step in chain.steps] == [affine, "passthrough", "passthrough"]
    copy = clone(chain)
    assert (
        copy.steps[0][1] is not affine and copy.get_params()["affine__rotation"] == 15
    )
    chain.set_params(steps=[("only", elastic)], only__alpha=3.0)
    assert chain.steps == [("only", elastic)] and elastic.alpha == 3.0
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        chain.set_params(nope=1)


@both("_BaseComposition")
@pytest.mark.parametrize(
    "names, expected",
    [
        (["a", "a"], "Names provided are not unique"),
        (["a", "compose"], "conflict with constructor arguments: \\['compose'\\]"),
        (["a__b"], "must not contain __"),
    ],
)
def test_bad_step_names_are_refused(BaseComposition, names, expected):
    chain = composite(BaseComposition)([(name, RandomAffine()) for name in names])
    with pytest.raises(ValueError, match=expected):
        chain._validate_names(names)
    composite(BaseComposition)([])._validate_names(["a", "b"])  # good names pass


def test_chain_names_its_duplicate_steps():
    chain = Chain([("a", RandomAffine()), ("a", RandomAffine())])
    with pytest.raises(ValueError, match="Names provided are not unique"):
        chain(np.zeros((1, 784), np.float32), np.random.default_rng(0))


# --- _safe_split --------------------------------------------------------------


def as_kinds(X, y):
    yield "array", X, y
    yield "list", X.tolist(), y.tolist()
    yield "pandas", pd.DataFrame(X), pd.Series(y)
    yield "sparse", sp.csr_matrix(X), y


@both("_safe_split")
def test_fold_rows_of_every_kind_of_input(safe_split):
    X, y = np.arange(30.0).reshape(10, 3), np.arange(10) % 3
    rows = np.array([7, 2, 5])
    for kind, X_kind, y_kind in as_kinds(X, y):
        X_rows, y_rows = safe_split(SVC(), X_kind, y_kind, rows)
        if kind == "pandas":  # rows kept with their labels, not renumbered
            assert list(X_rows.index) == list(y_rows.index) == [7, 2, 5]
        X_rows = X_rows.toarray() if kind == "sparse" else np.asarray(X_rows)
        assert np.array_equal(X_rows, X[rows]), kind
        assert np.array_equal(np.asarray(y_rows), y[rows]), kind
    assert safe_split(SVC(), X, None, rows)[1] is None


@both("_safe_split")
def test_a_precomputed_kernel_gives_test_rows_against_training_columns(safe_split):
    K = np.arange(36.0).reshape(6, 6)
    y = np.arange(6)
    train, test = np.array([0, 2, 3, 5]), np.array([1, 4])
    pairwise = SVC(kernel="precomputed")
    K_train, _ = safe_split(pairwise, K, y, train)
    K_test, y_test = safe_split(pairwise, K, y, test, train)
    assert np.array_equal(K_train, K[np.ix_(train, train)])
    assert np.array_equal(K_test, K[np.ix_(test, train)])
    assert y_test.tolist() == [1, 4]
    with pytest.raises(ValueError, match="square kernel"):
        safe_split(pairwise, K[:, :4], y, train)
