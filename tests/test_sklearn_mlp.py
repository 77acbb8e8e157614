"""scikit-learn's own ``test_mlp.py``, as installed, run on ``NumpyMLPClassifier``.

The module ``sklearn/neural_network/tests/test_mlp.py`` of the installed
scikit-learn is read, its one line ``from sklearn.neural_network import
MLPClassifier, MLPRegressor`` is changed to import ``NumpyMLPClassifier`` under
the name ``MLPClassifier`` (``MLPRegressor`` stays scikit-learn's), and the
result is executed as a module whose test functions are collected here. Nothing
else in the file is changed: every public-API classifier test runs as
scikit-learn's maintainers wrote it.

Left out, each with its reason in ``DESELECTED``: tests that read private
attributes of scikit-learn's implementation, and tests of the regressor only.
Of the tests parametrized over both estimators, the ``MLPRegressor`` case is
left out (skdigits has no regressor; it would only test scikit-learn).

The module runs in about 15 s on 2 cores; ``test_partial_fit_classification``
(200 fits and partial fits) takes most of it and is marked ``slow``. Its asserts
are plain Python ones (pytest does not rewrite exec'd code), so a failure shows
scikit-learn's line without pytest's introspection of the values.
"""

import inspect
import os
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor

from skdigits import NumpyMLPClassifier

SOURCE = Path(
    os.path.dirname(sklearn.__file__), "neural_network", "tests", "test_mlp.py"
)
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
SWAPPED = (
    "from sklearn.neural_network import MLPRegressor\n"
    "from skdigits import NumpyMLPClassifier as MLPClassifier\n"
)

#: Tests marked ``slow`` (deselected by ``-m "not slow"``), all of them kept.
SLOW = {"test_partial_fit_classification"}

#: Test functions of the installed module that are not collected, and why.
DESELECTED = {
    "test_gradient": "calls MLPClassifier._loss_grad_lbfgs, a private method",
    "test_lbfgs_regression": "regressor only",
    "test_lbfgs_regression_maxfun": "regressor only",
    "test_multioutput_regression": "regressor only",
    "test_partial_fit_regression": "regressor only",
    "test_nonfinite_params": "regressor only",
    "test_shuffle": "regressor only",
    "test_mlp_regressor_dtypes_casting": "regressor only",
    "test_mlp_loading_from_joblib_partial_fit": "regressor only",
    "test_mlp_diverging_loss": "regressor only",
    "test_mlp_sample_weight_with_early_stopping": "regressor only",
    "test_mlp_vs_poisson_glm_equivalent": "regressor only (Poisson loss)",
    "test_minimum_input_sample_size": "regressor only",
}


def _load_swapped():
    """The installed test module with ``MLPClassifier`` swapped for ours."""
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


def _without_regressor(function):
    """``function`` with the ``MLPRegressor`` case dropped from its parametrize."""
    marks = []
    for mark in getattr(function, "pytestmark", []):
        if mark.name == "parametrize":
            names, values = mark.args[0], list(mark.args[1])
            kept = [v for v in values if v is not MLPRegressor]
            if len(kept) < len(values):
                mark = pytest.mark.parametrize(names, kept, **mark.kwargs).mark
        marks.append(mark)
    if marks:
        function.pytestmark = marks
    return function


def _sklearn_tests(module):
    """``{name: function}`` of the module's tests, deselected ones left out."""
    tests = {
        name: _without_regressor(function)
        for name, function in vars(module).items()
        if name.startswith("test_")
        and inspect.isfunction(function)
        and name not in DESELECTED
    }
    for name in SLOW & set(tests):
        tests[name] = pytest.mark.slow(tests[name])
    return tests


_SKLEARN = _load_swapped()
globals().update(_sklearn_tests(_SKLEARN))


# ------------------------------------------------- checks of the harness


def test_the_swapped_module_uses_ours_and_sklearns_regressor():
    assert _SKLEARN.MLPClassifier is NumpyMLPClassifier
    assert _SKLEARN.MLPRegressor is MLPRegressor


@pytest.mark.skipif(
    tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 9),
    reason="DESELECTED names the tests of scikit-learn 1.9's test_mlp.py",
)
def test_every_deselected_test_exists_in_the_installed_module():
    # a renamed or removed test must not leave a stale entry behind
    names = {n for n in vars(_SKLEARN) if n.startswith("test_")}
    assert set(DESELECTED) | SLOW <= names


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
