"""Model files: ``.skops`` (safe to share) and ``.joblib`` (your own files only).

A ``.skops`` file is read with :mod:`skops.io`, which rebuilds objects from a
JSON description and never unpickles. :func:`load_model` trusts the types
skops trusts by default (Python and NumPy/SciPy containers, scikit-learn's
estimators) plus only the skdigits types listed in :data:`TRUSTED_TYPES`; a
file that names anything else (``os.system``, ``builtins.eval``, a function,
a class from another package) is refused before any object is built.

A ``.joblib`` file is a pickle: loading one can run any code its author put
in it. Load only ``.joblib`` files you wrote yourself.
"""

from pathlib import Path

from sklearn.base import BaseEstimator

from skdigits._atomic import atomic_output

__all__ = [
    "TRUSTED_TYPES",
    "bundled_model_path",
    "load_bundled_model",
    "load_model",
    "save_model",
]

#: The pretrained model shipped in ``skdigits/data`` (see its README.md).
BUNDLED_MODEL = "mnist_default.skops"

#: Types beyond skops' defaults that a skdigits pipeline is made of. Found by
#: dumping a fitted ``Pipeline([PixelScaler(), NumpyMLPClassifier()])`` and a
#: fitted ``NumpyMLPRegressor`` and calling :func:`skops.io.get_untrusted_types`
#: (see tests/test_persistence.py).
TRUSTED_TYPES = (
    "numpy.dtype",  # the optimizers' dtype; skops rebuilds it from an empty .npy
    "skdigits._classifier.NumpyMLPClassifier",
    "skdigits._regressor.NumpyMLPRegressor",
    "skdigits._optimizers.Adam",
    "skdigits._optimizers.SGD",
    "skdigits.augment.Chain",  # training-time augmenters (NumpyMLPClassifier.augment)
    "skdigits.augment.ElasticDistortion",
    "skdigits.augment.RandomAffine",
    "skdigits.preprocessing.PixelScaler",
)

SUFFIXES = (".skops", ".joblib")


def save_model(model, path):
    """Write a fitted model to ``path``, atomically.

    Parameters
    ----------
    model : estimator
        A scikit-learn estimator or pipeline with ``predict``, such as a fitted
        :class:`~skdigits.NumpyMLPClassifier`.

    path : str or path-like
        The file to write. Its suffix chooses the format: ``.skops`` (safe to
        share, needs ``pip install skdigits[skops]``) or ``.joblib`` (a pickle:
        for your own use only).

    Raises
    ------
    ValueError
        If the suffix is neither, ``model`` is not a model, the directory does
        not exist, or ``model`` holds something :func:`load_model` would refuse
        (a function, a type from outside skdigits/scikit-learn). An existing
        file at ``path`` is then left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.dummy import DummyClassifier
    >>> from skdigits import load_model, save_model
    >>> model = DummyClassifier().fit([[0], [1]], [0, 1])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.skops"
    >>> save_model(model, path)
    >>> load_model(path).predict([[5]]).tolist()
    [0]
    """
    path = check_save_path(path)
    _check_model(model, path, "cannot save")
    if path.suffix.lower() == ".skops":
        data = _skops_bytes(model, path)
        _write_atomically(path, lambda file: file.write(data))
    else:
        import joblib

        _write_atomically(path, lambda file: joblib.dump(model, file))


def load_model(path):
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        A ``.skops`` file (checked: only skdigits and scikit-learn types are
        loaded, nothing is unpickled) or a ``.joblib`` file (a pickle, which
        can run any code when loaded: only open your own).

    Returns
    -------
    model : estimator
        The model, ready for ``predict``.

    Raises
    ------
    ValueError
        If the file is missing, unreadable, not a ``.skops``/``.joblib`` file,
        names a type that is not trusted, or holds something other than a
        model. The message is one line and names the file.
    """
    path = _checked_path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() == ".skops":
        model = _load_skops(path)
    else:
        model = _load_joblib(path)
    _check_model(model, path, "not a model")
    return model


def bundled_model_path():
    """Path of the pretrained model that ships with skdigits.

    A ``Pipeline(PixelScaler(), NumpyMLPClassifier())`` trained by
    ``benchmarks/make_bundled_model.py`` with the defaults of ``skdigits
    train`` on the full MNIST training set; ``skdigits/data/README.md`` and
    ``mnist_default.json`` beside it say how it was made and what it scores.

    Returns
    -------
    path : pathlib.Path
        The ``.skops`` file (it may be missing from a source checkout in which
        it was never built).

    Examples
    --------
    >>> from skdigits._persistence import bundled_model_path
    >>> bundled_model_path().name
    'mnist_default.skops'
    """
    return Path(__file__).resolve().parent / "data" / BUNDLED_MODEL


def load_bundled_model():
    """Load the pretrained MNIST model that ships with skdigits.

    What every ``skdigits`` command that needs a model uses when ``--model``
    is not given. It is read by :func:`load_model`, checked like any other
    ``.skops`` file, so it needs ``pip install skdigits[skops]``.

    Returns
    -------
    model : Pipeline
        ``PixelScaler`` then ``NumpyMLPClassifier``, taking raw 0-255 pixels
        (784 per image) and predicting the digits 0-9.

    Raises
    ------
    ValueError
        If the file is missing from this installation, or skops is not
        installed.

    Examples
    --------
    >>> from skdigits import load_bundled_model
    >>> from skdigits.datasets import load_mnist_sample
    >>> X, y = load_mnist_sample("test")
    >>> float(load_bundled_model().score(X, y)) > 0.95
    True
    """
    path = bundled_model_path()
    if not path.is_file():
        raise ValueError(
            f"{path}: the bundled model is missing from this installation; "
            "pass a model file with --model (or model=...), or build it with "
            "python -m benchmarks.make_bundled_model --data DIR (from a checkout)"
        )
    return load_model(path)


def check_save_path(path):
    """``path`` as a Path if a model can be saved there, else a ValueError.

    The suffix must be ``.skops`` or ``.joblib`` and the directory must exist;
    the command line calls this before a long fit, ``save_model`` before writing.
    """
    path = _checked_path(path)
    if not path.parent.is_dir():
        raise ValueError(f"{path}: cannot save: directory {path.parent} does not exist")
    return path


def _checked_path(path):
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(
            f"{path}: unknown model file type {path.suffix or '(no suffix)'!r}; "
            "use .skops (safe to share) or .joblib (only for your own files)"
        )
    return path


def _check_model(model, path, what):
    if not (isinstance(model, BaseEstimator) and hasattr(model, "predict")):
        raise ValueError(
            f"{path}: {what}: expected a scikit-learn estimator with predict, "
            f"found {type(model).__module__}.{type(model).__qualname__}"
        )


def _import_skops(path):
    try:
        import skops.io
    except ImportError:
        raise ValueError(
            f"{path}: .skops files need skops: pip install skdigits[skops] "
            "(or use a .joblib file for your own use)"
        ) from None
    return skops.io


def _skops_bytes(model, path):
    """The .skops bytes of ``model``, after checking load_model would take them."""
    sio = _import_skops(path)
    try:
        data = sio.dumps(model)
    except Exception as err:
        raise ValueError(f"{path}: cannot save as .skops: {_one_line(err)}") from None
    refused = _refused_types(sio.get_untrusted_types(data=data))
    if refused:
        raise ValueError(
            f"{path}: cannot save as .skops: the model holds types load_model "
            f"would refuse: {', '.join(refused)}; set callback=None and remove "
            "other functions or foreign objects first, or save as .joblib"
        )
    return data


def _load_skops(path):
    sio = _import_skops(path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:
        raise ValueError(
            f"{path}: not a valid .skops file ({_one_line(err)})"
        ) from None
    refused = _refused_types(untrusted)
    if refused:
        raise ValueError(
            f"{path}: refusing to load untrusted types: {', '.join(refused)}; "
            "only share .skops files made by skdigits"
        )
    try:
        return sio.load(path, trusted=list(untrusted))
    except Exception as err:
        raise ValueError(f"{path}: cannot load: {_one_line(err)}") from None


def _refused_types(untrusted):
    return [name for name in untrusted if name not in TRUSTED_TYPES]


def _load_joblib(path):
    import joblib

    try:
        return joblib.load(path)
    except Exception as err:
        raise ValueError(f"{path}: cannot load as .joblib: {_one_line(err)}") from None


def _one_line(err):
    text = " ".join(str(err).split()) or "no details"
    return f"{type(err).__name__}: {text}"


def _write_atomically(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it.

    On any failure the temporary file is removed and ``path`` is untouched.
    """
    try:
        with atomic_output(path, binary=True) as file:
            write(file)
    except Exception as err:
        raise ValueError(f"{path}: cannot save: {_one_line(err)}") from None
