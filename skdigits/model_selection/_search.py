"""ResumableGridSearchCV: GridSearchCV that keeps its fits and survives Dask."""

import contextlib
import os
import time
import warnings
from collections import Counter
from copy import deepcopy
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import get_tags, indexable
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skdigits._journal import FitJournal, fingerprint
from skdigits._sklearn_compat import HasMethods, Interval, StrOptions, validate_params
from skdigits.model_selection import _engine, _runners
from skdigits.model_selection._events import (
    ClusterLost,
    ClusterLostError,
    FitDone,
    JournalOpened,
    SearchDone,
    SearchStarted,
)


def _best_has(attr):
    """``available_if`` check: refit is on and the (best) estimator has ``attr``."""

    def check(self):
        if not self.refit:
            raise AttributeError(
                f"This {type(self).__name__} instance was initialized with "
                f"refit=False. {attr} is available only after refitting on the "
                "best parameters."
            )
        getattr(getattr(self, "best_estimator_", self.estimator), attr)
        return True

    return check


class ResumableGridSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Exhaustive grid search over cv folds that keeps every finished fit.

    The same search as :class:`~sklearn.model_selection.GridSearchCV`, with
    the same results, for any scikit-learn estimator; in addition each finished
    fit can be appended to a journal file, so that a search stopped by Ctrl-C,
    a reboot or a lost cluster resumes where it was, and the fits can run on a
    Dask cluster that loses workers on the way.

    Parameters
    ----------
    estimator : estimator object
        The base estimator, cloned for every fit.
    param_grid : dict or list of dict
        Parameter names mapped to lists of values, as in GridSearchCV.
    scoring : str, callable or None, default=None
        A scorer name (``sklearn.metrics.get_scorer_names()``), a scorer
        ``scoring(estimator, X, y)``, or None for the estimator's ``score``.
    n_jobs : int, default=None
        Fits at a time: local processes (None means 1, -1 all cores) or, on
        Dask, tasks submitted at once (None or -1: all).
    refit : bool, default=True
        Refit the best candidate on all the data as ``best_estimator_``.
    cv : int, cv splitter or iterable, default=None
        As in GridSearchCV (:func:`~sklearn.model_selection.check_cv`;
        stratified folds for a classifier). A journal is reused only with
        the same folds, so give a shuffling splitter a ``random_state``.
    error_score : "raise" or float, default=np.nan
        The score of a fit that fails; "raise" raises the error. Failed fits
        are not journalled (a resumed search tries them again).
    journal : str or path-like, default=None
        A file that gets one line per finished fit. A later search with the
        same fingerprint (data, grid, cv folds, estimator parameters and
        scoring) reuses those fits; a different search starts a new journal
        there. None keeps nothing.
    fresh : bool, default=False
        Ignore an existing journal (replaced by the first new fit).
    dask : distributed.Client, str or None, default=None
        Run the fits on this Dask cluster (a client, or a scheduler address
        such as ``"tcp://host:8786"``) with the data as a task, so a lost
        worker's fits and data are recomputed elsewhere. Needs
        ``pip install skdigits[dask]``.
    worker_timeout : float, default=30.0
        On Dask, seconds to wait for a worker when none is left before
        raising :class:`ClusterLostError`.
    on_event : callable, default=None
        Called with each event of :mod:`~skdigits.model_selection` (e.g.
        :class:`SearchStarted`, :class:`FitDone`) as the search runs.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        The same keys and values as GridSearchCV's: ``mean_fit_time``,
        ``std_fit_time``, ``mean_score_time``, ``std_score_time``,
        ``param_<name>``, ``params``, ``split<k>_test_score``,
        ``mean_test_score``, ``std_test_score`` and ``rank_test_score``.
    best_estimator_ : estimator
        The best candidate refit on all the data (with ``refit=True``).
    best_score_ : float
        Mean cv score of the best candidate.
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    scorer_ : callable
        The scorer used.
    n_splits_ : int
        Number of cv folds.
    refit_time_ : float
        Seconds spent refitting the best candidate (with ``refit=True``).
    n_reused_ : int
        Fits taken from the journal rather than run.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The same search, in memory only.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skdigits.model_selection import ResumableGridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = ResumableGridSearchCV(
    ...     DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]}, cv=3
    ... ).fit(X, y)
    >>> search.best_params_, search.cv_results_["rank_test_score"].tolist()
    ({'max_depth': 3}, [2, 1])
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "param_grid": [dict, list],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "n_jobs": [Integral, None],
        "refit": ["boolean"],
        "cv": ["cv_object"],
        "error_score": [StrOptions({"raise"}), Real],
        "journal": [str, os.PathLike, None],
        "fresh": ["boolean"],
        "dask": [str, HasMethods(["submit", "nthreads"]), None],
        "worker_timeout": [Interval(Real, 0, None, closed="neither")],
        "on_event": [callable, None],
    }

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        error_score=np.nan,
        journal=None,
        fresh=False,
        dask=None,
        worker_timeout=_runners.NO_WORKERS_TIMEOUT,
        on_event=None,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.error_score = error_score
        self.journal = journal
        self.fresh = fresh
        self.dask = dask
        self.worker_timeout = worker_timeout
        self.on_event = on_event

    def __sklearn_clone__(self):
        """A clone that shares ``dask`` and ``on_event`` with this search.

        A ``distributed.Client`` cannot be copied, and a copy of ``on_event``
        would send the clone's events elsewhere; every other parameter is
        cloned as :func:`~sklearn.base.clone` clones it.
        """
        params = self.get_params(deep=False)
        return type(self)(
            **{
                name: value
                if name in ("dask", "on_event")
                else clone(value, safe=False)
                for name, value in params.items()
            }
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = deepcopy(sub.classifier_tags)
        tags.regressor_tags = deepcopy(sub.regressor_tags)
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        return tags

    # --- fit ------------------------------------------------------------------

    def fit(self, X, y=None, *, groups=None):
        """Fit every candidate on every fold (reusing journalled fits); refit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or None, default=None
            Targets; None for unsupervised estimators.
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group cv splitter.

        Returns
        -------
        self : object
            The fitted search.

        Raises
        ------
        ClusterLostError
            The Dask cluster went away; the finished fits are in the journal.
        """
        validate_params(self)
        X, y, groups = indexable(X, y, groups)
        self.scorer_ = check_scoring(self.estimator, scoring=self.scoring)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        self.n_splits_ = cv.get_n_splits(X, y, groups)
        if len(splits) != self.n_splits_:
            raise ValueError(
                "cv.split and cv.get_n_splits return inconsistent results. "
                f"Expected {self.n_splits_} splits, got {len(splits)}"
            )
        candidates = list(ParameterGrid(self.param_grid))
        if not candidates or not splits:
            raise ValueError("No fits to run: the grid or the cv splits are empty.")
        with self._open_journal(X, y, candidates, splits) as journal:
            fits, ran_on = self._run_fits(journal, (X, y, splits), candidates)
        self._set_results(candidates, fits, ran_on)
        if self.refit:
            self._refit(X, y)
        return self

    def _emit(self, event):
        if self.on_event is not None:
            self.on_event(event)

    @contextlib.contextmanager
    def _open_journal(self, X, y, candidates, splits):
        """The FitJournal of this search, or None without ``journal``."""
        if self.journal is None:
            yield None
            return
        marks = fingerprint(
            X,
            y,
            candidates,
            splits,
            self.estimator.get_params(deep=False),
            self.scoring,
        )
        journal, status = FitJournal.open(
            self.journal,
            marks,
            n_candidates=len(candidates),
            n_splits=len(splits),
            fresh=self.fresh,
        )
        n_fits = len(candidates) * len(splits)
        self._emit(JournalOpened(journal.path, *status, n_fits=n_fits))
        with journal:
            yield journal

    def _run_fits(self, journal, data, candidates):
        """Every fit's record by ``(candidate, fold)``; where this call's ran."""
        fits = dict(journal.fits) if journal is not None else {}
        n_splits, n_fits = len(data[2]), len(candidates) * len(data[2])
        self.n_reused_ = len(fits)
        todo = _engine.missing(len(candidates), n_splits, fits)
        ran_on = Counter()
        if not todo:
            self._emit(SearchStarted(len(candidates), n_splits, len(fits), None, None))
            return fits, ran_on
        task = _engine.FitTask(
            self.estimator, self.scorer_, self.error_score, warnings.filters
        )
        try:
            with self._runner() as runner:
                started = SearchStarted(
                    len(candidates), n_splits, len(fits), runner.where, runner.backend
                )
                self._emit(started)
                for record in runner.run(task, data, todo, candidates, self._emit):
                    if journal is not None and _engine.is_kept(record):
                        journal.append(record)
                    fits[record["candidate"], record["fold"]] = record
                    ran_on[record["where"]] += 1
                    self._emit(FitDone(record, len(fits), n_fits, record["where"]))
        except _runners.ClusterGone as exc:
            kept = len(journal.fits) if journal is not None else len(fits)
            path = journal.path if journal is not None else None
            lost = (str(exc), kept, n_fits, path)
            self._emit(ClusterLost(*lost))
            raise ClusterLostError(*lost) from None
        return fits, ran_on

    def _runner(self):
        if self.dask is None:
            return contextlib.nullcontext(_runners.LocalRunner(self.n_jobs))
        _runners.import_distributed(f"dask={self.dask!r}")
        return _runners.dask_runner(self.dask, self.n_jobs, self.worker_timeout)

    def _set_results(self, candidates, fits, ran_on):
        _check_failures(fits, self.error_score)
        self.cv_results_ = _engine.cv_results(candidates, self.n_splits_, fits)
        self.best_index_ = _engine.best_index(self.cv_results_)
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = self.cv_results_["mean_test_score"][self.best_index_]
        self._emit(
            SearchDone(
                n_ran=sum(ran_on.values()),
                ran_on=tuple(sorted(ran_on.items())),
                best_index=self.best_index_,
                best_params=self.best_params_,
                best_score=float(self.best_score_),
            )
        )

    def _refit(self, X, y):
        best = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        start = time.time()
        best.fit(X) if y is None else best.fit(X, y)
        self.refit_time_ = time.time() - start
        self.best_estimator_ = best
        if hasattr(best, "feature_names_in_"):
            self.feature_names_in_ = best.feature_names_in_

    # --- the best estimator's methods -----------------------------------------

    def score(self, X, y=None):
        """``scorer_`` of the best estimator on ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        _best_has("score")(self)  # refit=False: a clear AttributeError
        check_is_fitted(self)
        return self.scorer_(self.best_estimator_, X, y)

    @available_if(_best_has("predict"))
    def predict(self, X):
        """``predict`` of the best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_best_has("predict_proba"))
    def predict_proba(self, X):
        """``predict_proba`` of the best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_best_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """``predict_log_proba`` of the best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_best_has("decision_function"))
    def decision_function(self, X):
        """``decision_function`` of the best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @available_if(_best_has("transform"))
    def transform(self, X):
        """``transform`` of the best estimator."""
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    @property
    def classes_(self):
        """Class labels of the best estimator (a classifier, with refit)."""
        _best_has("classes_")(self)
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features seen by the best estimator (with refit)."""
        check_is_fitted(self)  # NotFittedError is an AttributeError
        return self.best_estimator_.n_features_in_

    def __sklearn_is_fitted__(self):
        return hasattr(self, "cv_results_")


def _check_failures(fits, error_score):
    """GridSearchCV's rule: all fits failed is an error, some a warning."""
    errors = Counter(r["error"] for r in fits.values() if "error" in r)
    if not errors:
        return
    n_failed, n_fits = sum(errors.values()), len(fits)
    details = "\n".join(
        f"{'-' * 80}\n{n} fits failed with the following error:\n{error}"
        for error, n in errors.items()
    )
    if n_failed == n_fits:
        raise ValueError(
            f"\nAll the {n_fits} fits failed.\nIt is very likely that your model "
            "is misconfigured.\nYou can try to debug the error by setting "
            f"error_score='raise'.\n\nBelow are more details about the "
            f"failures:\n{details}"
        )
    warnings.warn(
        f"\n{n_failed} fits failed out of a total of {n_fits}.\nThe score on these "
        f"train-test partitions for these parameters will be set to {error_score}."
        "\nIf these failures are not expected, you can try to debug them by "
        "setting error_score='raise'.\n\nBelow are more details about the "
        f"failures:\n{details}",
        FitFailedWarning,
    )
