"""Model selection that survives interruptions: a resumable grid search.

:class:`ResumableGridSearchCV` is scikit-learn's ``GridSearchCV`` (same
parameters where they apply, same ``cv_results_``) that journals each
finished fit so that a rerun resumes, and that can run its fits on a Dask
cluster losing workers. It reports progress as events (the dataclasses below)
to an ``on_event`` callable instead of printing.
"""

from skdigits.model_selection._events import (
    ClusterLost,
    ClusterLostError,
    FitDone,
    FitResubmitted,
    JournalOpened,
    SearchDone,
    SearchStarted,
    WorkerLost,
)
from skdigits.model_selection._search import ResumableGridSearchCV

__all__ = [
    "ClusterLost",
    "ClusterLostError",
    "FitDone",
    "FitResubmitted",
    "JournalOpened",
    "ResumableGridSearchCV",
    "SearchDone",
    "SearchStarted",
    "WorkerLost",
]
