"""What a search reports while it runs: small frozen dataclasses.

:class:`~skdigits.model_selection.ResumableGridSearchCV` passes each event to
its ``on_event`` callable, in this order: :class:`JournalOpened` (only with a
``journal``), :class:`SearchStarted`, then a :class:`FitDone` per fit that
runs (with :class:`WorkerLost` and :class:`FitResubmitted` in between on Dask),
and :class:`SearchDone`; or :class:`ClusterLost` just before a
:class:`ClusterLostError` is raised. Nothing in the search prints; a front end
(such as ``skdigits grid-search``) turns events into text.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class JournalOpened:
    """The journal was read: what is reused from it, or why nothing is.

    Attributes
    ----------
    path : pathlib.Path
        The journal file.
    found : int
        Well-formed fit records in the file (0 when there was none).
    reused : int
        Those of them this search reuses.
    mismatch : tuple of str
        The parts of the fingerprint that differ (``"data"``, ``"grid"``,
        ``"cv"``, ``"estimator"``, ``"scoring"``); empty when it matched.
    fresh : bool
        True when an existing journal was ignored because ``fresh=True``.
    n_fits : int
        Every fit of the search (``n_candidates * n_splits``).
    """

    path: object
    found: int
    reused: int
    mismatch: tuple
    fresh: bool
    n_fits: int


@dataclass(frozen=True)
class SearchStarted:
    """The fits are about to run (or all were reused).

    Attributes
    ----------
    n_candidates, n_splits : int
        The grid's candidates and the cv folds; ``n_candidates * n_splits``
        fits in all.
    n_reused : int
        Fits taken from the journal, not run again.
    where : str or None
        Where the fits run, for people (``"in 2 jobs"``, ``"on the Dask
        cluster at tcp://... (2 workers)"``); None when nothing is left to run.
    backend : {"local", "dask"} or None
        The runner; None when nothing is left to run.
    """

    n_candidates: int
    n_splits: int
    n_reused: int
    where: object
    backend: object

    @property
    def n_fits(self):
        """Every fit of the search, reused or not."""
        return self.n_candidates * self.n_splits


@dataclass(frozen=True)
class FitDone:
    """A fit finished (it is already in the journal, when there is one).

    Attributes
    ----------
    record : dict
        ``candidate``, ``fold``, ``params``, ``test_score``, ``fit_time``,
        ``score_time`` (seconds) and ``where``; ``error`` holds the traceback
        of a fit that failed (its ``test_score`` is then ``error_score``).
    done, total : int
        Fits finished so far (reused ones included) and in all.
    where : str
        Where it ran: a Dask worker's address or ``"process <pid>"``.
    """

    record: dict
    done: int
    total: int
    where: str


@dataclass(frozen=True)
class WorkerLost:
    """A Dask worker left the cluster; Dask reschedules its work.

    Attributes
    ----------
    worker : str
        Its address.
    n_rescheduled : int
        This search's fits it was running or had finished in memory.
    data_lost : bool
        True when it held the data task, which Dask recomputes.
    """

    worker: str
    n_rescheduled: int
    data_lost: bool


@dataclass(frozen=True)
class FitResubmitted:
    """Dask cancelled a fit while the scheduler was still there; sent again.

    Attributes
    ----------
    candidate, fold : int
        Which fit.
    attempt : int
        1 for the first resubmission.
    """

    candidate: int
    fold: int
    attempt: int


@dataclass(frozen=True)
class ClusterLost:
    """The Dask cluster is gone; :class:`ClusterLostError` follows.

    Attributes
    ----------
    reason : str
        What happened, in one line.
    n_kept, n_fits : int
        Fits kept in the journal (or in memory without one) and in all.
    journal : pathlib.Path or None
        Where the kept fits are.
    """

    reason: str
    n_kept: int
    n_fits: int
    journal: object


@dataclass(frozen=True)
class SearchDone:
    """Every fit is known; the best candidate is chosen (the refit follows).

    Attributes
    ----------
    n_ran : int
        Fits run by this call (the others were reused).
    ran_on : tuple of (str, int)
        Where the fits of this call ran and how many on each, sorted.
    best_index : int
        Index of the best candidate in ``cv_results_``.
    best_params : dict
        Its parameters.
    best_score : float
        Its mean cv score.
    """

    n_ran: int
    ran_on: tuple
    best_index: int
    best_params: dict
    best_score: float


class ClusterLostError(RuntimeError):
    """The Dask cluster went away mid-search; fit again to resume.

    Attributes
    ----------
    reason : str
        What happened, in one line.
    n_kept, n_fits : int
        Fits kept in the journal and in all.
    journal : pathlib.Path or None
        The journal holding the kept fits; None when the search had none (the
        fits are then lost).
    """

    def __init__(self, reason, n_kept, n_fits, journal):
        self.reason, self.n_kept, self.n_fits = reason, n_kept, n_fits
        self.journal = journal
        if journal is None:
            what = "had finished, and are lost: give a journal to keep them"
        else:
            what = f"are kept in {journal}: fit again with it to resume"
        super().__init__(f"{reason}; {n_kept} of {n_fits} fits {what}")
