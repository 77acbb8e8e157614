"""The pure part of a grid search: candidates x folds, one fit, the results.

Nothing here knows where a fit runs or prints anything. A search is the table
of ``(candidate, fold)`` fits; :func:`missing` lists those not known yet,
:class:`FitTask` runs one of them wherever a runner sends it, and
:func:`cv_results` computes from the finished table what
:class:`~sklearn.model_selection.GridSearchCV` computes, the same way.
"""

import contextlib
import math
import numbers
import os
import pickle
import sys
import time
import warnings
from collections import defaultdict
from traceback import format_exc

import numpy as np
from numpy.ma import MaskedArray
from scipy.stats import rankdata
from sklearn.base import clone

from skdigits._sklearn_compat import _safe_split

_TABLE = ("test_score", "fit_time", "score_time")


def missing(n_candidates, n_splits, fits):
    """``(candidate, fold)`` pairs not in ``fits``, in GridSearchCV's order.

    Parameters
    ----------
    n_candidates, n_splits : int
        The size of the table.
    fits : dict or set of (int, int)
        The fits known already.

    Returns
    -------
    todo : list of (int, int)
        Candidate-major, as GridSearchCV runs them.
    """
    return [
        (candidate, fold)
        for candidate in range(n_candidates)
        for fold in range(n_splits)
        if (candidate, fold) not in fits
    ]


def is_kept(record):
    """True when a record can be journalled: a fit that did not fail."""
    score = record["test_score"]
    return "error" not in record and isinstance(score, float) and math.isfinite(score)


class FitTask:
    """One fit and its score; sent to a local process or a Dask worker.

    Parameters
    ----------
    estimator : estimator
        The base estimator, cloned for every fit.
    scorer : callable
        ``scorer(estimator, X, y)``, from ``check_scoring``.
    error_score : "raise" or float
        The score of a fit that fails, as in GridSearchCV.
    warning_filters : list, default=()
        ``warnings.filters`` of the caller: its simple filters (action and
        category) are applied around the fit, so a warning silenced by the
        caller stays silent on a Dask worker too.
    """

    def __init__(self, estimator, scorer, error_score, warning_filters=()):
        self.estimator = estimator
        self.scorer = scorer
        self.error_score = error_score
        self.warning_filters = _simple_filters(warning_filters)

    def __call__(self, data, candidate, fold, params):
        """The record of fitting ``params`` on ``fold`` of ``data``.

        Parameters
        ----------
        data : tuple
            ``(X, y, splits)``: the data and every fold's ``(train, test)``.
        candidate, fold : int
            Which fit, returned in the record.
        params : dict
            The candidate's parameters.

        Returns
        -------
        record : dict
            ``candidate``, ``fold``, ``params``, ``test_score``, ``fit_time``,
            ``score_time`` (seconds, measured as GridSearchCV measures them)
            and ``where``; ``error`` (a traceback) when the fit failed.
        """
        with warnings.catch_warnings():
            for action, category in reversed(self.warning_filters):
                warnings.simplefilter(action, category)
            record = self._fit_and_score(data, fold, params)
        return {
            "candidate": candidate,
            "fold": fold,
            "params": params,
            **record,
            "where": where(),
        }

    def _fit_and_score(self, data, fold, params):
        X, y, splits = data
        train, test = splits[fold]
        model = clone(self.estimator).set_params(**clone(params, safe=False))
        start = time.time()
        X_train, y_train = _safe_split(model, X, y, train)
        X_test, y_test = _safe_split(model, X, y, test, train)
        try:
            model.fit(X_train) if y_train is None else model.fit(X_train, y_train)
        except Exception:
            if self.error_score == "raise":
                raise
            fit_time = time.time() - start
            return {
                "test_score": float(self.error_score),
                "fit_time": fit_time,
                "score_time": 0.0,
                "error": format_exc(),
            }
        fit_time = time.time() - start
        score = self._score(model, X_test, y_test)
        score_time = time.time() - start - fit_time
        return {"test_score": score, "fit_time": fit_time, "score_time": score_time}

    def _score(self, model, X, y):
        try:
            score = self.scorer(model, X) if y is None else self.scorer(model, X, y)
        except Exception:
            if self.error_score == "raise":
                raise
            warnings.warn(
                "Scoring failed. The score on this train-test partition for these "
                f"parameters will be set to {self.error_score}. Details: \n"
                f"{format_exc()}",
                UserWarning,
            )
            return float(self.error_score)
        if hasattr(score, "item"):
            with contextlib.suppress(ValueError):
                score = score.item()
        if not isinstance(score, numbers.Number):
            raise ValueError(
                f"scoring must return a number, got {score!r} ({type(score)}) "
                f"instead. (scorer={self.scorer})"
            )
        return float(score)


def _simple_filters(filters):
    """``(action, category)`` of the filters without message, module or line."""
    simple = []
    for action, message, category, module, lineno in filters:
        if message is None and module is None and not lineno:
            with contextlib.suppress(Exception):  # a category Dask cannot ship
                pickle.dumps(category)
                simple.append((action, category))
    return simple


def where():
    """The Dask worker's address when run by one, else ``process <pid>``."""
    distributed = sys.modules.get("distributed")  # a worker has imported it
    if distributed is not None:
        with contextlib.suppress(ValueError):
            return distributed.get_worker().address
    return f"process {os.getpid()}"


# --- the results ----------------------------------------------------------------


def cv_results(candidates, n_splits, fits):
    """GridSearchCV's ``cv_results_``, computed as it computes them.

    Parameters
    ----------
    candidates : list of dict
        The parameter settings in search order.
    n_splits : int
        The number of cv folds.
    fits : dict of (int, int) to dict
        The record of every ``(candidate, fold)``.

    Returns
    -------
    results : dict
        ``mean_/std_fit_time``, ``mean_/std_score_time``, ``param_<name>``
        (masked arrays), ``params``, ``split<k>_test_score``,
        ``mean_/std_test_score`` and ``rank_test_score``, in GridSearchCV's
        order.
    """
    shape = (len(candidates), n_splits)
    table = {
        name: np.array(
            [fits[pair][name] for pair in np.ndindex(shape)], dtype=np.float64
        ).reshape(shape)
        for name in _TABLE
    }
    results = {}
    for name in ("fit_time", "score_time"):
        results.update(_mean_std(name, table[name]))
    results.update(_param_columns(candidates))
    results["params"] = candidates
    for k, column in enumerate(table["test_score"].T):
        results[f"split{k}_test_score"] = column
    results.update(_mean_std("test_score", table["test_score"]))
    results["rank_test_score"] = _rank(results["mean_test_score"])
    return results


def _mean_std(name, array):
    mean = np.average(array, axis=1)
    if name == "test_score" and not np.isfinite(mean).all():
        warnings.warn(
            f"One or more of the test scores are non-finite: {mean}", UserWarning
        )
    std = np.sqrt(np.average((array - mean[:, np.newaxis]) ** 2, axis=1))
    return {f"mean_{name}": mean, f"std_{name}": std}


def _rank(means):
    """Ranks from 1 (best); failed (NaN) candidates tie with the worst."""
    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    means = np.nan_to_num(means, nan=np.nanmin(means) - 1)
    return rankdata(-means, method="min").astype(np.int32, copy=False)


def _param_columns(candidates):
    """``param_<name>``: a masked array per parameter, masked where absent."""
    columns = defaultdict(dict)
    for index, params in enumerate(candidates):
        for name, value in params.items():
            columns[f"param_{name}"][index] = value
    results = {}
    for key, column in columns.items():
        try:
            array = np.array(list(column.values()))
        except ValueError:  # sequences of different lengths
            dtype = np.dtype(object)
        else:
            dtype = (
                array.dtype if array.dtype.kind != "U" and array.ndim == 1 else object
            )
        masked = MaskedArray(np.empty(len(candidates), dtype=dtype), mask=True)
        for index, value in column.items():
            masked[index] = value
        results[key] = masked
    return results


def best_index(results):
    """Index of the first candidate ranked 1, as GridSearchCV chooses."""
    return int(results["rank_test_score"].argmin())
