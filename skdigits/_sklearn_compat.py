"""Every private scikit-learn name skdigits uses, imported in this one place.

scikit-learn makes no promise about names that start with ``_`` or live in a
``_private`` module: any release may move or drop them. skdigits imports them
from here only, so a scikit-learn upgrade that breaks one breaks this module
(and tests/test_sklearn_compat.py), not every module that uses it. For each
name: where skdigits uses it, and what replaces it if scikit-learn removes it.
Where that replacement is short it is written below as ``_local_*`` and used
when the import fails; the tests check each local version against
scikit-learn's on what skdigits does with it.

``Interval``, ``Options``, ``StrOptions``, ``HasMethods``
    From ``sklearn.utils._param_validation``: the constraints in
    ``_parameter_constraints`` of ``NumpyMLPClassifier``, the augmenters and
    ``skdigits.model_selection``'s search. No fallback: they are one piece
    with the checking machinery of that module. If it goes, vendor the module
    (BSD-3) or write the checks out in each ``fit``/``__call__`` (as
    scikit-learn did before 1.2), with the same messages.
:func:`validate_params` (for the method ``BaseEstimator._validate_params``)
    Checks an object's parameters against its ``_parameter_constraints``: the
    augmenters, which have no ``fit``, call it, and so can any estimator that
    checks its parameters outside a ``_fit_context`` method (instead of
    calling the private method itself). Written here with
    ``validate_parameter_constraints`` (same private module as above), exactly
    what the method does.
``_fit_context`` (``sklearn.base``)
    Decorates ``NumpyMLPClassifier.fit``/``partial_fit``: parameters checked
    once per ``fit`` (not again on every ``partial_fit`` of a fitted model),
    nested checks skipped inside, and in scikit-learn >= 1.9 its callbacks
    set up. Fallback :func:`_local_fit_context`: the first two, with the
    public ``get_config``/``config_context`` (no callbacks: a scikit-learn
    without ``_fit_context`` has none).
``_check_partial_fit_first_call`` (``sklearn.utils.multiclass``)
    ``NumpyMLPClassifier.partial_fit``'s ``classes`` logic. Fallback
    :func:`_local_check_partial_fit_first_call`, with the public
    ``unique_labels``.
``_check_sample_weight`` (``sklearn.utils.validation``)
    ``sample_weight`` of ``NumpyMLPClassifier.fit``. Fallback
    :func:`_local_check_sample_weight`, with the public ``check_array`` and
    ``check_non_negative`` (NumPy, not the array API; the keywords skdigits
    passes).
``_BaseComposition`` (``sklearn.utils.metaestimators``)
    The base of :class:`skdigits.augment.Chain`: nested ``get_params``/
    ``set_params`` over named steps (``_get_params``, ``_set_params``) and
    ``_validate_names``. Fallback :class:`_LocalBaseComposition`, those three
    on the public ``BaseEstimator``.
``_safe_split`` (``sklearn.utils.metaestimators``)
    The train/test rows of one fold in ``skdigits.model_selection`` (a
    precomputed kernel's columns too, as ``GridSearchCV``). Fallback
    :func:`_local_safe_split`, with the public ``get_tags`` and NumPy/pandas
    indexing.

Every private scikit-learn name in skdigits should come from here:
``grep -rn -A6 "from sklearn" skdigits`` shows an import that does not.
"""

import functools
import numbers
from contextlib import suppress

import numpy as np
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_array, check_is_fitted, check_non_negative

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_BaseComposition",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "_safe_split",
    "validate_params",
]


def validate_params(estimator):
    """Check ``estimator``'s parameters against its ``_parameter_constraints``.

    What ``BaseEstimator._validate_params`` does: an
    ``InvalidParameterError`` (a ``ValueError``) names the parameter, the
    class and what is allowed.
    """
    validate_parameter_constraints(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        caller_name=type(estimator).__name__,
    )


def _local_fit_context(*, prefer_skip_nested_validation):
    """``sklearn.base._fit_context`` without its callbacks (scikit-learn 1.3-1.8)."""

    def decorator(fit_method):
        @functools.wraps(fit_method)
        def wrapper(estimator, *args, **kwargs):
            skip = get_config()["skip_parameter_validation"]
            refit = fit_method.__name__ == "partial_fit" and _is_fitted(estimator)
            if not (skip or refit):
                validate_params(estimator)
            nested = prefer_skip_nested_validation or skip
            with config_context(skip_parameter_validation=nested):
                return fit_method(estimator, *args, **kwargs)

        return wrapper

    return decorator


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _local_check_partial_fit_first_call(clf, classes=None):
    """Whether this is ``clf``'s first ``partial_fit``; then set ``classes_``.

    ``classes`` is required on the first call and, when given later, must be
    the same set as then.
    """
    if getattr(clf, "classes_", None) is None and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is None:
        return False
    if getattr(clf, "classes_", None) is None:
        clf.classes_ = unique_labels(classes)
        return True
    if not np.array_equal(clf.classes_, unique_labels(classes)):
        raise ValueError(
            f"`classes={classes!r}` is not the same as on last call to "
            f"partial_fit, was: {clf.classes_!r}"
        )
    return False


def _local_check_sample_weight(
    sample_weight, X, *, dtype=None, ensure_non_negative=False
):
    """``sample_weight`` as a C-contiguous float vector of ``len(X)``, checked.

    None gives ones and a number repeats; ``dtype`` float32 or float64 (else
    float64; None keeps a float input's). All zeros are refused, and with
    ``ensure_non_negative`` any negative weight.
    """
    n_samples = X.shape[0]
    if dtype is not None and dtype not in (np.float32, np.float64):
        dtype = np.float64
    if sample_weight is None:
        sample_weight = np.ones(n_samples, dtype=dtype)
    elif isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        sample_weight = check_array(
            sample_weight,
            ensure_2d=False,
            dtype=[np.float64, np.float32] if dtype is None else dtype,
            order="C",
            input_name="sample_weight",
        )
        if sample_weight.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got "
                f"{sample_weight.ndim}D array. Expected either a scalar value "
                f"or a 1D array of length {n_samples}."
            )
        if sample_weight.shape != (n_samples,):
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, "
                f"expected {(n_samples,)}!"
            )
    if np.all(sample_weight == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if ensure_non_negative:
        check_non_negative(sample_weight, "`sample_weight`")
    return sample_weight


class _LocalBaseComposition(BaseEstimator):
    """Parameters of an estimator made of named steps, as ``_BaseComposition``.

    ``attr`` names the attribute holding the ``(name, step)`` list; a step's
    parameter is ``name__param``, and ``name`` alone replaces the step.
    """

    def _get_params(self, attr, deep=True):
        out = super().get_params(deep=deep)
        if not deep:
            return out
        steps = getattr(self, attr)
        try:
            out.update(steps)
        except (TypeError, ValueError):  # not (name, step) pairs: set_params fixes
            return out
        for name, step in steps:
            if hasattr(step, "get_params"):
                for key, value in step.get_params(deep=True).items():
                    out[f"{name}__{key}"] = value
        return out

    def _set_params(self, attr, **params):
        if attr in params:  # the whole list first, then steps by name, then the rest
            setattr(self, attr, params.pop(attr))
        steps = getattr(self, attr)
        if isinstance(steps, list) and steps:
            with suppress(TypeError):  # zip: not (name, step) pairs
                names, _ = zip(*steps)
                for name in [k for k in params if "__" not in k and k in names]:
                    self._replace_step(attr, name, params.pop(name))
        super().set_params(**params)
        return self

    def _replace_step(self, attr, name, step):
        steps = [(n, step if n == name else s) for n, s in getattr(self, attr)]
        setattr(self, attr, steps)

    def _validate_names(self, names):
        if len(set(names)) != len(names):
            raise ValueError(f"Names provided are not unique: {list(names)!r}")
        clashes = set(names).intersection(self.get_params(deep=False))
        if clashes:
            raise ValueError(
                "Estimator names conflict with constructor arguments: "
                f"{sorted(clashes)!r}"
            )
        dunder = [name for name in names if "__" in name]
        if dunder:
            raise ValueError(f"Estimator names must not contain __: got {dunder!r}")


def _local_safe_split(estimator, X, y, indices, train_indices=None):
    """The rows ``indices`` of ``X`` and ``y`` (``y`` may be None).

    For an estimator with the ``pairwise`` tag ``X`` is a square kernel: the
    columns are ``train_indices`` (the test fold against the training rows)
    or, without them, ``indices`` too.
    """
    if get_tags(estimator).input_tags.pairwise:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] != X.shape[1]:
            raise ValueError("X should be a square kernel matrix")
        columns = indices if train_indices is None else train_indices
        X_subset = X[np.ix_(indices, columns)]
    else:
        X_subset = _take_rows(X, indices)
    return X_subset, None if y is None else _take_rows(y, indices)


def _take_rows(data, indices):
    if hasattr(data, "iloc"):
        return data.iloc[indices]
    if hasattr(data, "shape"):
        return data[indices]
    return [data[i] for i in indices]


try:
    from sklearn.base import _fit_context
except ImportError:  # pragma: no cover - scikit-learn dropped it
    _fit_context = _local_fit_context

try:
    from sklearn.utils.multiclass import _check_partial_fit_first_call
except ImportError:  # pragma: no cover
    _check_partial_fit_first_call = _local_check_partial_fit_first_call

try:
    from sklearn.utils.validation import _check_sample_weight
except ImportError:  # pragma: no cover
    _check_sample_weight = _local_check_sample_weight

try:
    from sklearn.utils.metaestimators import _BaseComposition
except ImportError:  # pragma: no cover
    _BaseComposition = _LocalBaseComposition

try:
    from sklearn.utils.metaestimators import _safe_split
except ImportError:  # pragma: no cover
    _safe_split = _local_safe_split
