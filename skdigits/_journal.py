"""A journal of a grid search's finished fits: one JSON line per fit, append-only.

A long grid search that dies (a lost cluster, Ctrl-C, a reboot) keeps every fit
it had finished: each one is appended to the journal and flushed to disk as it
ends, so a kill leaves only complete lines (a torn last line is ignored on
read). The first line is a header holding a :func:`fingerprint` of the search
(the data, every candidate, the cv splits, the base estimator and the scoring);
a journal is reused only by a search with the same fingerprint.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "best.skops.fits.jsonl"
>>> marks = {"data": "d1", "grid": "g1", "cv": "c1", "estimator": "e1"}
>>> journal, status = FitJournal.open(path, marks, n_candidates=2, n_splits=3)
>>> journal.append({"candidate": 1, "fold": 0, "params": {"mlp__alpha": 0.1},
...                 "test_score": 0.93, "fit_time": 2.5, "score_time": 0.1})
>>> journal.close()
>>> journal, status = FitJournal.open(path, marks, n_candidates=2, n_splits=3)
>>> status.reused, sorted(journal.fits)
(1, [(1, 0)])
>>> journal.close()
"""

import contextlib
import json
import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from skdigits._atomic import atomic_output
from skdigits._fingerprint import (
    describe_parameters,
    differing_parts,
    hash_arrays,
    hash_json,
    jsonable,
)

FORMAT = "skdigits grid-search fits"
VERSION = 1
_RECORD_KEYS = {"candidate", "fold", "params", "test_score", "fit_time", "score_time"}


# --- the fingerprint ----------------------------------------------------------


def fingerprint(X, y, candidates, splits, estimator_params, scoring=None):
    """Digests of everything a fit's result depends on.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training data; every value, its dtype and shape are hashed.
    y : ndarray of shape (n_samples,)
        The labels, hashed the same way.
    candidates : list of dict
        The parameter settings in search order (``list(ParameterGrid(grid))``).
    splits : list of (ndarray, ndarray)
        The ``(train, test)`` indices of every cv fold.
    estimator_params : dict
        ``get_params()`` of the base estimator; estimators inside it are
        described by their class and ``get_params()``, functions by their
        code and captured values (see :func:`~skdigits._fingerprint.jsonable`).
    scoring : object, default=None
        What scores a fit (a scorer name, a scorer, or None for the
        estimator's ``score``); described by :func:`jsonable`.

    Returns
    -------
    marks : dict of str to str
        A SHA-256 hex digest for each of ``"data"``, ``"grid"``, ``"cv"``,
        ``"estimator"`` and ``"scoring"``, in the order a mismatch is reported.

    Raises
    ------
    FingerprintError
        A ``ValueError`` in one line naming the parameter, for a value that
        cannot be fingerprinted faithfully (a journal of another search could
        otherwise be taken for this one's).
    """
    folds = (np.asarray(i, dtype=np.int64) for pair in splits for i in pair)
    grid = [_described(candidate, "param_grid's ") for candidate in candidates]
    return {
        "data": hash_arrays([X, y]),
        "grid": hash_json(grid),
        "cv": hash_arrays(folds),
        "estimator": hash_json(_described(estimator_params, "the estimator's ")),
        "scoring": hash_json(_described({"scoring": scoring}, "the search's ")),
    }


def _described(params, owner):
    """:func:`describe_parameters` for the journal; every generator by its
    state, since each fit starts from a clone's copy of it."""
    return describe_parameters(
        params,
        "the journal",
        owner=owner,
        restored=("*",),
        what_to_do="a journal could not tell this search from another: give "
        "it plain values, estimators or functions, or set journal=None",
    )


# --- reading ------------------------------------------------------------------


def read_journal(path):
    """The header and the well-formed fit records of the journal at ``path``.

    Parameters
    ----------
    path : str or Path
        A journal written by :class:`FitJournal`.

    Returns
    -------
    header : dict or None
        None when the file is missing or its first line is not a journal header.
    records : list of dict
        Every complete, well-formed fit line after the header; a torn line (a
        kill in the middle of a write) and any line that does not parse are
        skipped.
    """
    try:
        with open(path, "rb") as file:
            lines = file.read().split(b"\n")
    except FileNotFoundError:
        return None, []
    # The last element is what follows the final newline: empty, or torn.
    header = _parse_line(lines[0]) if len(lines) > 1 else None
    if not (
        isinstance(header, dict)
        and header.get("format") == FORMAT
        and header.get("version") == VERSION
        and isinstance(header.get("fingerprint"), dict)
    ):
        return None, []
    records = [_parse_line(line) for line in lines[1:-1]]
    return header, [record for record in records if _is_record(record, header)]


def _parse_line(line):
    try:
        return json.loads(line)
    except ValueError:  # a torn line, or bytes that are not UTF-8 JSON
        return None


def _is_record(record, header):
    if not isinstance(record, dict) or not _RECORD_KEYS <= set(record):
        return False
    indices = {"candidate": header.get("n_candidates"), "fold": header.get("n_splits")}
    for key, limit in indices.items():
        value = record[key]
        if not (isinstance(value, int) and isinstance(limit, int)):
            return False
        if not 0 <= value < limit:
            return False
    times = [record[key] for key in ("test_score", "fit_time", "score_time")]
    return all(isinstance(t, (int, float)) and math.isfinite(t) for t in times)


# --- writing ------------------------------------------------------------------


class JournalStatus(NamedTuple):
    """What :meth:`FitJournal.open` found at the journal's path.

    Attributes
    ----------
    found : int
        Well-formed fit lines in an existing journal (0 when there was none).
    reused : int
        Those of them the new search reuses (distinct candidate and fold).
    mismatch : tuple of str
        The parts of the fingerprint that differ, in the order of the new
        fingerprint's parts (see :func:`~skdigits._fingerprint.differing_parts`);
        empty when the journal matches or there was none.
    fresh : bool
        True when an existing journal was ignored on request.
    """

    found: int
    reused: int
    mismatch: tuple
    fresh: bool


class FitJournal:
    """The journal of one grid search: reused fits, and the file new ones go to.

    Use :meth:`open`. The file is created, or replaced when it held another
    search, only when the first new fit is appended, so a search that fails
    before finishing any fit leaves no new file and an old journal as it was.

    Parameters
    ----------
    path : str or Path
        Where the journal lives (``skdigits grid-search`` uses
        ``<--model>.fits.jsonl``).
    header : dict
        The first line of the journal.
    fits : dict of (int, int) to dict
        The records to reuse, by ``(candidate, fold)``.
    append_to_existing : bool
        True to append to the journal at ``path``; False to replace it.

    Attributes
    ----------
    fits : dict of (int, int) to dict
        Every fit known so far, reused or appended, by ``(candidate, fold)``.
    """

    def __init__(self, path, header, fits, append_to_existing):
        self.path = Path(path)
        self.header = header
        self.fits = dict(fits)
        self._append_to_existing = append_to_existing
        self._file = None

    @classmethod
    def open(cls, path, marks, *, n_candidates, n_splits, fresh=False):
        """The journal at ``path`` for a search with fingerprint ``marks``.

        Parameters
        ----------
        path : str or Path
            The journal's file; it need not exist.
        marks : dict of str to str
            The search's :func:`fingerprint`.
        n_candidates, n_splits : int
            The search's numbers of candidates and cv folds.
        fresh : bool, default=False
            Ignore an existing journal (it is replaced by the first new fit).

        Returns
        -------
        journal : FitJournal
        status : JournalStatus
        """
        header = {
            "format": FORMAT,
            "version": VERSION,
            "fingerprint": dict(marks),
            "n_candidates": n_candidates,
            "n_splits": n_splits,
        }
        old_header, records = read_journal(path)
        if old_header is None:
            return cls(path, header, {}, False), JournalStatus(0, 0, (), False)
        mismatch = differing_parts(old_header["fingerprint"], marks)
        if fresh or mismatch:
            status = JournalStatus(len(records), 0, mismatch, fresh)
            return cls(path, header, {}, False), status
        fits = {}
        for record in records:
            fits.setdefault((record["candidate"], record["fold"]), record)
        status = JournalStatus(len(records), len(fits), (), False)
        return cls(path, header, fits, True), status

    def append(self, record):
        """Add a finished fit; it is on disk (flushed and synced) on return.

        Parameters
        ----------
        record : dict
            ``candidate``, ``fold``, ``params``, ``test_score``, ``fit_time``,
            ``score_time`` and anything else JSON can hold.
        """
        record = jsonable(record)
        line = json.dumps(record, allow_nan=False, sort_keys=True) + "\n"
        if self._file is None:
            self._start(line)
        else:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
        self.fits[(record["candidate"], record["fold"])] = record

    def _start(self, first_line):
        """Open the file for appending, writing ``first_line`` as the first fit."""
        if self._append_to_existing and self.path.exists():
            self._file = open(self.path, "a", encoding="utf-8")
            if not _ends_with_newline(self.path):
                first_line = "\n" + first_line  # end a torn line; it stays ignored
            self._file.write(first_line)
            self._file.flush()
            os.fsync(self._file.fileno())
            return
        # A new journal (or one replacing another search's) appears whole:
        # header and first fit, renamed into place.
        with atomic_output(self.path) as file:
            file.write(json.dumps(self.header, sort_keys=True) + "\n" + first_line)
        self._file = open(self.path, "a", encoding="utf-8")

    def close(self):
        """Close the file (the journal itself stays, for the next run)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _ends_with_newline(path):
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        if file.tell() == 0:
            return True
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"
