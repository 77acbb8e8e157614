"""Training checkpoints: the state of a stochastic fit at an epoch boundary.

``NumpyMLPClassifier(checkpoint=path)`` (or ``NumpyMLPRegressor``) writes one
file after every 'sgd' or 'adam' epoch and resumes from it, so that a fit
killed at any moment and run again ends with the model an uninterrupted fit
would have given, bit for bit.
The file holds everything that decides the rest of the run: the weights, the
optimizer's moments and step count (hence the schedule's position), the
early-stopping state (best weights, counters, the validation split), the
fitted counters and curves, and the state of every random generator (the
``RandomState`` that shuffles, the dropout masks' and the augmenter's
``Generator``).

The state itself is :class:`skdigits._training.Training`'s ``state_dict()``;
this module only writes it, with the fingerprint, and reads it back.

The format is one uncompressed ``.npz`` archive (``numpy.savez``): the arrays,
plus one array ``header`` holding UTF-8 JSON (format name and version, the
fingerprint, the scalars, the curves, the generators' states). It is read with
``numpy.load(allow_pickle=False)``: nothing but arrays and JSON is read, the
same trusted-types rule as for ``.skops`` model files. It is written through
:func:`skdigits._atomic.atomic_output` (a temporary file beside it, then
``os.replace``), so a kill during the write leaves the previous checkpoint as
it was.

A *fingerprint* (:mod:`skdigits._fingerprint`, the rule the grid-search journal
follows) decides whether a file belongs to this fit; its parts are ``"data"``
(X, y and sample_weight as the estimator sees them), ``"parameters"``
(``get_params()`` without ``callback``, ``verbose`` and ``checkpoint``) and
``"start"`` (the starting weights when ``warm_start`` continues a previous
fit). A checkpoint of another fit is not used: :class:`CheckpointWarning` names
what differs and the fit starts afresh, overwriting it. A file that cannot be
read as a checkpoint raises :class:`CheckpointError` and is left as it was.
"""

import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from skdigits._atomic import atomic_output, remove_stale_temps
from skdigits._fingerprint import differing_parts, hash_arrays, hash_json, jsonable

__all__ = [
    "CheckpointError",
    "CheckpointWarning",
    "ResumeWarning",
    "checkpoint_path",
    "read_checkpoint",
    "read_header",
    "write_checkpoint",
]

FORMAT = "skdigits-checkpoint"
VERSION = 1

#: Flush every checkpoint to the disk before it replaces the previous one (see
#: :func:`skdigits._atomic.atomic_output`): the previous epoch survives a
#: power loss too, not only a killed process.
FSYNC = True

# Parameters that do not change the fitted model, left out of the fingerprint.
_NOT_FINGERPRINTED = ("callback", "checkpoint", "verbose")

_WHAT_TO_DO = "delete it (or run skdigits train with --fresh) to start the fit afresh"


class CheckpointError(ValueError):
    """A file that cannot be read as a training checkpoint.

    Raised, with a one-line message naming the file and what to do, when a
    checkpoint is truncated, is not an ``.npz`` archive, lacks the header or
    is of another format or format version. The file is left as it was.
    """


class CheckpointWarning(UserWarning):
    """What ``fit`` did with an existing checkpoint: did not use it because it
    belongs to another fit (the message says what differs), or, as the
    subclass :class:`ResumeWarning`, resumed from it."""


class ResumeWarning(CheckpointWarning):
    """``fit`` resumed from its checkpoint (the message says at which epoch),
    or returned the finished fit the checkpoint holds without training."""


def checkpoint_path(model_path):
    """The checkpoint ``skdigits train`` keeps beside ``model_path``.

    >>> str(checkpoint_path("best.skops"))
    'best.skops.ckpt'
    """
    path = Path(model_path)
    return path.with_name(path.name + ".ckpt")


# --- fingerprint --------------------------------------------------------------


def fit_parameters(estimator):
    """The parameters that decide a fit, as JSON (the ``"parameters"`` part).

    ``get_params(deep=False)`` without ``callback``, ``checkpoint`` and
    ``verbose``; nested estimators (``augment``) as :func:`jsonable` gives
    them. A ``RandomState`` instance counts as such, not by its address: its
    state is restored from the checkpoint.
    """
    params = estimator.get_params(deep=False)
    for name in _NOT_FINGERPRINTED:
        params.pop(name, None)
    if isinstance(params.get("random_state"), np.random.RandomState):
        params["random_state"] = {"class": "RandomState"}
    return jsonable(params)


def data_digest(X, Y, classes, sample_weight):
    """Digest of the training data as the estimator sees it.

    ``X`` (dense, or its CSR arrays), the binarized targets ``Y``, the
    ``classes`` and ``sample_weight`` (None: all ones).
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        parts = [X.data, X.indices, X.indptr, np.asarray(X.shape)]
    else:
        parts = [X]
    arrays = hash_arrays([*parts, Y])
    weights = None if sample_weight is None else hash_arrays([sample_weight])
    return hash_json([arrays, np.asarray(classes).tolist(), weights])


def fingerprint(parameters, data, start=None):
    """The fingerprint of a fit: a digest per part.

    Parameters
    ----------
    parameters : dict
        :func:`fit_parameters` of the estimator.
    data : str
        :func:`data_digest` of the training data.
    start : ndarray or None
        The starting weights when ``warm_start`` continues a previous fit.
    """
    return {
        "data": data,
        "parameters": hash_json(parameters),
        "start": hash_json(None) if start is None else hash_arrays([start]),
    }


def describe_difference(header, fingerprint, parameters):
    """What differs between a checkpoint's fit and this one, in words.

    >>> old = {"fingerprint": {"data": "1", "parameters": "2", "start": "3"},
    ...        "parameters": {"alpha": 0.1, "max_iter": 10}}
    >>> new = {"data": "9", "parameters": "8", "start": "3"}
    >>> describe_difference(old, new, {"alpha": 0.2, "max_iter": 10})
    'different data; different parameters: alpha'
    """
    words = []
    for part in differing_parts(header.get("fingerprint", {}), fingerprint):
        if part == "parameters":
            old = header.get("parameters") or {}
            names = sorted(
                name
                for name in set(old) | set(parameters)
                if old.get(name) != parameters.get(name)
            )
            words.append("different parameters" + (": " if names else ""))
            words[-1] += ", ".join(names)
        elif part == "start":
            words.append("different starting weights (warm_start)")
        else:
            words.append(f"different {part}")
    return "; ".join(words)


# --- reading and writing --------------------------------------------------------


def write_checkpoint(path, header, arrays):
    """Write ``header`` (JSON-able) and ``arrays`` to ``path``, atomically.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file; an existing one is replaced only once the new
        one is complete.
    header : dict
        JSON-able; ``format`` and ``version`` are added.
    arrays : dict of str to ndarray
        Saved as they are (numeric dtypes only).
    """
    header = {"format": FORMAT, "version": VERSION, **header}
    text = json.dumps(header, allow_nan=True)
    header_array = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with atomic_output(path, binary=True, fsync=FSYNC) as file:
        _write_npz(file, {"header": header_array, **arrays})


def _write_npz(file, arrays):
    """The one place the bytes are written (tests pause here to kill a writer)."""
    np.savez(file, **arrays)


def read_checkpoint(path):
    """Read a checkpoint: ``(header, arrays)``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    header : dict
    arrays : dict of str to ndarray

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not a checkpoint this version of skdigits reads. The
        message is one line naming the file and what to do.
    """
    path = Path(path)
    arrays = _load_npz(path, lambda npz: {name: npz[name] for name in npz.files})
    return _header(path, arrays.pop("header", None)), arrays


def read_header(path):
    """Only the header of the checkpoint ``path`` (see :func:`read_checkpoint`).

    Cheap: the arrays are not read. For a command that wants to say what it
    will resume from before it trains.
    """
    path = Path(path)
    header = _load_npz(path, lambda npz: npz["header"] if "header" in npz else None)
    return _header(path, header)


def _load_npz(path, read):
    """``read(npz)`` of the archive ``path``, read without pickle."""
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with npz:
            return read(npz)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise _error(path, _reason(exc)) from None


def _reason(exc):
    if isinstance(exc, (zipfile.BadZipFile, EOFError)):
        return "truncated or not an .npz archive"
    text = " ".join(str(exc).split())
    return text if isinstance(exc, ValueError) else f"unreadable ({text})"


def _header(path, array):
    """The JSON header, checked for the format name and version."""
    if array is None:
        raise _error(path, "no skdigits checkpoint header")
    try:
        if array.dtype != np.uint8 or array.ndim != 1:
            raise ValueError
        header = json.loads(array.tobytes().decode("utf-8"))
    except ValueError:
        raise _error(path, "its header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _error(path, "not a skdigits training checkpoint")
    if header.get("version") != VERSION:
        raise _error(
            path,
            f"checkpoint format version {header.get('version')!r}, and this "
            f"skdigits reads version {VERSION}",
        )
    return header


def _error(path, reason):
    return CheckpointError(f"{path}: {reason}; {_WHAT_TO_DO}")


# --- the checkpoint of one fit ------------------------------------------------------


class TrainingCheckpoint:
    """The checkpoint file of one fit: resuming from it, and saving it.

    The fit's state is a :class:`skdigits._training.Training`, which gives its
    ``state_dict()`` (JSON-able ``"scalars"`` and ``"arrays"``) and restores
    itself with ``load_state_dict``; this class writes that state with the
    fingerprint (the scalars in the header, the arrays beside it) and reads
    it back.

    Parameters
    ----------
    path : str or path-like
        The file.
    fingerprint : dict
        This fit's :func:`fingerprint`.
    parameters : dict
        This fit's :func:`fit_parameters` (saved, to name what differs).
    """

    def __init__(self, path, fingerprint, parameters):
        self.path = Path(os.fspath(path))
        self.fingerprint = fingerprint
        self.parameters = parameters
        self.saved_epoch = None

    def load(self):
        """The saved ``(header, arrays)`` to resume from, or None.

        None when there is no file, or when it belongs to another fit: then a
        :class:`CheckpointWarning` says what differs, and the file will be
        overwritten by this fit's first epoch. Stale temporary files of a
        writer that was killed are removed.

        Raises
        ------
        CheckpointError
            If the file exists but is not a readable checkpoint.
        ValueError
            If the file's directory does not exist (before any training).
        """
        if not self.path.parent.is_dir():
            raise ValueError(
                f"checkpoint={str(self.path)!r}: the directory {self.path.parent} "
                "does not exist; create it or choose another checkpoint path"
            )
        remove_stale_temps(self.path)
        try:
            header, arrays = read_checkpoint(self.path)
        except FileNotFoundError:
            return None
        if differing_parts(header.get("fingerprint", {}), self.fingerprint):
            what = describe_difference(header, self.fingerprint, self.parameters)
            warnings.warn(
                f"{self.path} is the checkpoint of another fit ({what}), so it "
                "is not resumed from: training afresh, overwriting it",
                CheckpointWarning,
                stacklevel=2,
            )
            return None
        return header, arrays

    def resume(self, training):
        """Restore ``training`` from the file if it is this fit's.

        Returns
        -------
        resumed : bool
            Whether the state was restored (a :class:`ResumeWarning` then
            says from which epoch).
        """
        saved = self.load()
        if saved is None:
            return False
        header, arrays = saved
        try:
            training.load_state_dict({"scalars": header, "arrays": arrays})
        except (KeyError, TypeError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise _error(self.path, f"its state does not fit this fit ({reason})")
        self.saved_epoch = training.n_iter
        if training.finished:
            message = (
                f"{self.path} holds this fit, finished after {training.n_iter} "
                "epochs: returning it without training"
            )
        else:
            message = (
                f"resuming at epoch {training.n_iter + 1} of {training.max_iter} "
                f"from {self.path}"
            )
        warnings.warn(message, ResumeWarning, stacklevel=2)
        return True

    def save(self, training):
        """Write ``training``'s state at the end of the epoch just finished."""
        state = training.state_dict()
        header = {
            "fingerprint": self.fingerprint,
            "parameters": self.parameters,
            **state["scalars"],
        }
        write_checkpoint(self.path, header, state["arrays"])
        self.saved_epoch = training.n_iter
