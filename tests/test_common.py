"""scikit-learn's estimator checks, with no expected failure.

Two configurations: the defaults, and one that uses what skdigits adds
(per-layer activations, dropout, class_weight) with the 'sgd' solver.
"""

import warnings
from collections import Counter

import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from skdigits import NumpyMLPClassifier


def estimators():
    return [
        NumpyMLPClassifier(),
        NumpyMLPClassifier(
            hidden_layer_sizes=(16, 8),
            activation=["relu", "tanh"],
            dropout=0.1,
            class_weight="balanced",
            solver="sgd",
        ),
    ]


@parametrize_with_checks(estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", estimators(), ids=["default", "configured"])
def test_check_estimator_reports_no_failure(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None, on_skip=None)
    status = Counter(result["status"] for result in results)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert status["failed"] == 0, failed
    assert status["xfail"] == 0
    assert status["passed"] >= 65, status
