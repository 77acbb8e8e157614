"""Fingerprints: digests that tell whether a saved result belongs to a run.

A run that saves something to resume from later (a journal of finished fits,
a training checkpoint) writes a *fingerprint* beside it: a dict mapping each
input the result depends on (a *part*: ``"data"``, ``"params"``, ...) to a
SHA-256 hex digest. A later run computes its own fingerprint the same way and
reuses the saved result only when no part differs; :func:`differing_parts`
names the parts that do, so the user can be told why.

>>> import numpy as np
>>> X = np.arange(6, dtype=np.float32).reshape(3, 2)
>>> old = {"data": hash_arrays([X]), "params": hash_json({"alpha": 1e-4})}
>>> new = {"data": hash_arrays([X.copy()]), "params": hash_json({"alpha": 1e-2})}
>>> differing_parts(old, new)
('params',)
>>> hash_arrays([X]) == hash_arrays([X.astype(np.float64)])  # the dtype counts
False
"""

import hashlib
import json

import numpy as np
import scipy.sparse as sp

__all__ = ["differing_parts", "hash_arrays", "hash_json", "jsonable"]


def hash_arrays(arrays):
    """SHA-256 hex digest of a sequence of arrays: values, dtype and shape.

    Parameters
    ----------
    arrays : iterable of array-like or sparse matrix
        Hashed in order; each one's dtype and shape are hashed before its
        values, so ``[a, b]`` and ``[b, a]``, a reshaped copy or a cast copy
        all give different digests. An object array (or None) is hashed
        through :func:`jsonable` of its items; a sparse matrix through its
        CSR arrays.

    Returns
    -------
    digest : str
        64 hex digits.
    """
    digest = hashlib.sha256()
    for array in arrays:
        _update(digest, array)
    return digest.hexdigest()


def _update(digest, array):
    if sp.issparse(array):  # its values, not its repr: the CSR arrays
        csr = sp.csr_array(array)
        csr.sum_duplicates()
        digest.update(f"sparse{csr.shape}".encode())
        for part in (csr.data, csr.indices, csr.indptr):
            _update(digest, part)
        return
    array = np.asarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    if array.dtype.hasobject:  # the objects' values, not their addresses
        text = json.dumps(jsonable(array.tolist()), sort_keys=True, allow_nan=True)
        digest.update(text.encode())
    else:
        digest.update(np.ascontiguousarray(array).data)


def hash_json(value):
    """SHA-256 hex digest of ``jsonable(value)`` as canonical JSON.

    Parameters
    ----------
    value : object
        Anything :func:`jsonable` describes; dict keys are sorted, so the
        order of a dict's items does not count, while the order of a list's
        does.

    Returns
    -------
    digest : str
        64 hex digits.
    """
    text = json.dumps(jsonable(value), sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def jsonable(value):
    """``value`` as plain JSON types, to save or to hash.

    Dicts, lists, tuples (as lists), numbers, strings, booleans and None keep
    their value. An object with ``get_params`` (an estimator) becomes its class
    name and its ``get_params(deep=False)``; a function or a class its
    ``module.qualname``; an ndarray its dtype, shape and :func:`hash_arrays`
    digest; anything else its class name and ``repr``.

    Parameters
    ----------
    value : object

    Returns
    -------
    value : dict, list, str, int, float, bool or None

    Examples
    --------
    >>> jsonable({"mlp__hidden_layer_sizes": (64, 32), "mlp__alpha": 1e-4})
    {'mlp__hidden_layer_sizes': [64, 32], 'mlp__alpha': 0.0001}
    >>> from sklearn.dummy import DummyClassifier
    >>> jsonable(DummyClassifier(strategy="prior"))["class"]
    'DummyClassifier'
    """
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return {
            "class": "ndarray",
            "dtype": value.dtype.str,
            "shape": list(value.shape),
            "sha256": hash_arrays([value]),
        }
    if isinstance(value, type) or _is_function(value):
        name = f"{value.__module__}.{value.__qualname__}"
        return {"class": type(value).__qualname__, "name": name}
    if hasattr(value, "get_params"):
        params = value.get_params(deep=False)
        return {"class": type(value).__qualname__, "params": jsonable(params)}
    return {"class": type(value).__qualname__, "repr": repr(value)}


def _is_function(value):
    """A named function (its repr would hold its address, different every run)."""
    return (
        callable(value)
        and hasattr(value, "__qualname__")
        and hasattr(value, "__module__")
        and not hasattr(value, "get_params")
    )


def differing_parts(old, new):
    """The parts whose digests differ between two fingerprints.

    Parameters
    ----------
    old, new : dict of str to str
        Fingerprints: a digest per part.

    Returns
    -------
    parts : tuple of str
        The parts of ``new`` whose digest is missing from ``old`` or is not
        the same, in ``new``'s order, then the parts only ``old`` has. Empty
        when the two fingerprints match.

    Examples
    --------
    >>> differing_parts({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
    ('b', 'c')
    """
    changed = [part for part in new if old.get(part) != new[part]]
    return tuple(changed + [part for part in old if part not in new])
