"""Fingerprints: digests that tell whether a saved result belongs to a run.

A run that saves something to resume from later (a journal of finished fits,
a training checkpoint) writes a *fingerprint* beside it: a dict mapping each
input the result depends on (a *part*: ``"data"``, ``"params"``, ...) to a
SHA-256 hex digest. A later run computes its own fingerprint the same way and
reuses the saved result only when no part differs; :func:`differing_parts`
names the parts that do, so the user can be told why.

A parameter is described by what decides its behaviour, never by a ``repr``
or an address, so the same parameter gives the same digest in a new process:
a function by its code, the values it captures, its defaults and the globals
it reads; a ``functools.partial`` by its function and bound arguments; a bound
method by its function and ``self``; an estimator by its class and
``get_params``; any other object by its class and the state ``pickle`` would
save; a random generator by its state. What cannot be described so (a lock, a
file, an open generator...) raises :class:`FingerprintError`: a saved result
is then never reused on a guess.

>>> import numpy as np
>>> X = np.arange(6, dtype=np.float32).reshape(3, 2)
>>> old = {"data": hash_arrays([X]), "params": hash_json({"alpha": 1e-4})}
>>> new = {"data": hash_arrays([X.copy()]), "params": hash_json({"alpha": 1e-2})}
>>> differing_parts(old, new)
('params',)
>>> hash_arrays([X]) == hash_arrays([X.astype(np.float64)])  # the dtype counts
False
>>> def shift(s):
...     return lambda X, rng: X + s
>>> hash_json(shift(0)) == hash_json(shift(3))  # the captured value counts
False
"""

import functools
import hashlib
import json
import random
import sys
import types

import numpy as np
import scipy.sparse as sp

__all__ = [
    "FingerprintError",
    "describe_parameters",
    "differing_parts",
    "hash_arrays",
    "hash_json",
    "jsonable",
]

# Random generators: described by their state where a run restarts them from
# it, refused where their state moves unseen (see :func:`jsonable`).
_GENERATORS = (
    np.random.RandomState,
    np.random.Generator,
    np.random.BitGenerator,
    random.Random,
)
# A class's own attributes that say nothing about its behaviour.
_CLASS_NOISE = {"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"}


class FingerprintError(ValueError):
    """A value a fingerprint cannot describe faithfully.

    Raised by :func:`jsonable` (and so by :func:`hash_json`) for an object
    that has no state to record (a lock, a file, a running generator...), and
    for a random generator whose state moves during a run where the run cannot
    restore it. The message says where the value sits and what it is;
    :func:`describe_parameters` adds the parameter's name and what to do.

    Attributes
    ----------
    where : list of str
        The steps from the value described to the refused one: ``"[0]"``,
        ``"['key']"``, ``".param"`` (of an estimator) or words
        (``"closure variable 'lock'"``).
    reason : str
        What the refused value is, and why it is refused.
    """

    def __init__(self, message, where=(), reason=""):
        super().__init__(message)
        self.where = list(where)
        self.reason = reason or message


def _where(name, steps):
    """``steps`` as words: accessors joined to what they index, e.g.
    ``["'steps[0][1].func'", "closure variable 'lock'"]``."""
    parts = [name]
    for step in steps:
        if step.startswith(("[", ".")):
            parts[-1] += step
        else:
            parts.append(step)
    first = f"parameter {parts[0]!r}" if name != "the value" else parts[0]
    return [first, *parts[1:]]


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
        digest.update(_canonical(array.tolist()).encode())
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

    Raises
    ------
    FingerprintError
        If ``value`` holds something that cannot be described faithfully.
    """
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def _canonical(value, **options):
    return json.dumps(jsonable(value, **options), sort_keys=True, allow_nan=True)


def jsonable(value, *, generators="state"):
    """``value`` as plain JSON types, to save or to hash.

    Dicts, lists, tuples (as lists), numbers, strings, booleans and None keep
    their value; a set becomes its sorted items. An ndarray becomes its dtype,
    shape and :func:`hash_arrays` digest. An object with ``get_params`` (an
    estimator) becomes its class and its ``get_params(deep=False)``. A Python
    function becomes its name, a digest of its code (nested code included),
    its defaults, the values its closure captures and the globals it reads
    (functions among them described the same way, modules and classes by
    name); a ``functools.partial`` its function, arguments and keywords; a
    bound method its function and ``self``. A class, a C function and any
    other callable that is importable by ``module.qualname`` become that name
    (a class defined in ``__main__`` or in a function also its methods). Any
    other object becomes its class and the state ``pickle`` saves of it.

    Parameters
    ----------
    value : object
    generators : {"state", "refuse"}, default="state"
        A ``RandomState``, ``Generator`` (or ``random.Random``) reached
        through dicts, lists and ``get_params`` only: described by its state
        ("state"), or refused ("refuse", for a run that restores none of
        them). One reached through a function, a method or an object's
        attributes is always refused: its state moves as it is drawn from,
        and nothing restores it.

    Returns
    -------
    value : dict, list, str, int, float, bool or None

    Raises
    ------
    FingerprintError
        If ``value`` holds something with no state to record, or a generator
        where it is refused. The message says where it is.

    Examples
    --------
    >>> jsonable({"mlp__hidden_layer_sizes": (64, 32), "mlp__alpha": 1e-4})
    {'mlp__hidden_layer_sizes': [64, 32], 'mlp__alpha': 0.0001}
    >>> from sklearn.dummy import DummyClassifier
    >>> jsonable(DummyClassifier(strategy="prior"))["class"]
    'sklearn.dummy.DummyClassifier'
    """
    if generators not in ("state", "refuse"):
        raise ValueError(f"generators must be 'state' or 'refuse', got {generators!r}")
    return _Describer(generators == "state").describe(value)


def describe_parameters(params, user, *, owner="", restored=(), what_to_do):
    """:func:`jsonable` of a dict of parameters, with errors that name one.

    Parameters
    ----------
    params : dict of str to object
        The parameters, by name.
    user : str
        What needs the fingerprint, for the message (``"checkpoint"``).
    owner : str, default=""
        Whose parameters they are, for the message (``"the estimator's "``).
    restored : tuple of str, default=()
        The parameters whose random generators are described by their state
        (the run restarts them from it); generators anywhere else are refused.
        ``"*"`` for all of them.
    what_to_do : str
        The end of the message.

    Returns
    -------
    params : dict of str to JSON values

    Raises
    ------
    FingerprintError
        One line: the parameter, where in it the value sits, what it is, and
        ``what_to_do``.
    """
    described = {}
    for name, value in params.items():
        state = "*" in restored or name in restored
        try:
            described[str(name)] = jsonable(
                value, generators="state" if state else "refuse"
            )
        except FingerprintError as exc:
            where = ", ".join(_where(str(name), exc.where))
            raise FingerprintError(
                f"{user} cannot fingerprint {owner}{where}: {exc.reason}; {what_to_do}",
                exc.where,
                exc.reason,
            ) from None
    return described


class _Describer:
    """One :func:`jsonable` walk: the path to the value being described (for
    error messages) and the objects on it (a cycle becomes a back-reference)."""

    def __init__(self, generator_state):
        self.generator_state = generator_state
        self.where = []
        self.stack = []

    def describe(self, value, step=None, inside=False):
        """``value`` as JSON; ``inside``: reached through a callable or an
        object's state, where random generators are refused."""
        if step is not None:
            self.where.append(step)
        try:
            return self._describe(value, inside)
        finally:
            if step is not None:
                self.where.pop()

    def fail(self, reason):
        where = ", ".join(_where("the value", self.where))
        raise FingerprintError(f"{where}: {reason}", list(self.where), reason)

    def _describe(self, value, inside):
        plain = _plain(value)
        if plain is not _NOT_PLAIN:
            return plain
        if any(item is value for item in self.stack):
            depth = len(self.stack) - [id(v) for v in self.stack].index(id(value))
            return {"class": "cycle", "up": depth}
        self.stack.append(value)
        try:
            return self._describe_object(value, inside)
        finally:
            self.stack.pop()

    def _describe_object(self, value, inside):
        if isinstance(value, dict):
            return {
                _key(key): self.describe(item, f"[{_key(key)!r}]", inside)
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [
                self.describe(item, f"[{i}]", inside) for i, item in enumerate(value)
            ]
        if isinstance(value, (set, frozenset)):
            items = sorted(_canonical(item) for item in value)
            return {"class": type(value).__name__, "items": items}
        if isinstance(value, _GENERATORS):
            return self._generator(value, inside)
        for kind, describe in _DESCRIBERS:
            if isinstance(value, kind):
                return describe(self, value)
        if hasattr(value, "get_params") and not isinstance(value, type):
            params = {
                str(key): self.describe(item, f".{key}", inside)
                for key, item in value.get_params(deep=False).items()
            }
            return {"class": _name(type(value)), "params": params}
        if callable(value) and hasattr(value, "__wrapped__"):
            return self._named(value, _name(value))
        name = _importable_name(value)
        if name is not None:
            return self._named(value, name)
        return self._state(value)

    def _generator(self, value, inside):
        if inside:
            self.fail(
                f"a {_name(type(value))} inside a function or an object: its "
                "state moves as it is drawn from, and nothing saves or restores "
                "it (draw from the rng the fit passes, or make the generator "
                "inside the function)"
            )
        if not self.generator_state:
            self.fail(
                f"a {_name(type(value))}: its state moves as it is drawn from, "
                "and the run restores only the estimator's random_state"
            )
        if isinstance(value, np.random.RandomState):
            state = value.get_state(legacy=False)
        elif isinstance(value, random.Random):
            state = value.getstate()
        else:
            bit_generator = getattr(value, "bit_generator", value)
            state = bit_generator.state
        return {"class": _name(type(value)), "state": self.describe(state)}

    def _function(self, func):
        code = func.__code__
        cells = func.__closure__ or ()
        closure = {
            name: self.describe(
                _cell_contents(cell), f"closure variable {name!r}", True
            )
            for name, cell in zip(code.co_freevars, cells)
        }
        described = {
            "class": "function",
            "name": _name(func),
            "code": _code_digest(code),
            "defaults": self.describe(func.__defaults__, "its defaults", True),
            "kwdefaults": self.describe(func.__kwdefaults__, "its defaults", True),
            "closure": closure,
            "globals": self._globals(func),
        }
        if func.__dict__:
            described["dict"] = self.describe(func.__dict__, "its attributes", True)
        return described

    def _globals(self, func):
        """The module globals ``func``'s code names (builtins are left out)."""
        found = {}
        for name in sorted(_code_names(func.__code__)):
            if name not in func.__globals__:
                continue
            value = func.__globals__[name]
            if isinstance(value, types.ModuleType):
                found[name] = {"class": "module", "name": value.__name__}
            else:
                found[name] = self.describe(value, f"global {name!r}", True)
        return found

    def _partial(self, partial):
        described = {
            "class": _name(type(partial)),
            "func": self.describe(partial.func, "partial's function", True),
            "args": self.describe(partial.args, "partial's arguments", True),
            "keywords": self.describe(partial.keywords, "partial's keywords", True),
        }
        if getattr(partial, "__dict__", None):
            described["dict"] = self.describe(partial.__dict__, "its attributes", True)
        return described

    def _method(self, method):
        return {
            "class": "method",
            "function": self.describe(method.__func__, "method's function", True),
            "self": self.describe(method.__self__, "method's self", True),
        }

    def _builtin(self, func):
        owner = func.__self__
        described = {"class": "builtin", "name": _name(func)}
        if owner is not None and not isinstance(owner, types.ModuleType):
            described["self"] = self.describe(owner, "method's self", True)
        return described

    def _ufunc(self, ufunc):
        return {"class": "ufunc", "name": f"numpy.{ufunc.__name__}"}

    def _class(self, cls):
        described = {"class": "type", "name": _name(cls)}
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            attributes = {
                key: self.describe(_unwrap(item), f"class attribute {key!r}", True)
                for key, item in sorted(vars(cls).items())
                if key not in _CLASS_NOISE
            }
            bases = [self.describe(base, "base class", True) for base in cls.__bases__]
            described.update(attributes=attributes, bases=bases)
        return described

    def _named(self, value, name):
        """A C function, a method descriptor, a jitted or cached function..."""
        described = {"class": _name(type(value)), "name": name}
        wrapped = getattr(value, "__wrapped__", None)
        if wrapped is not None:
            described["wrapped"] = self.describe(wrapped, "wrapped function", True)
        return described

    def _state(self, value):
        """Any other object: its class and what ``pickle`` saves of it."""
        try:
            reduced = value.__reduce_ex__(4)
        except Exception as exc:  # what pickle refuses, a fingerprint cannot see
            reason = " ".join(str(exc).split())
            self.fail(
                f"a {_name(type(value))} object, which has no state a fingerprint "
                f"can record ({reason})"
            )
        if isinstance(reduced, str):  # a singleton, pickled by name
            return {"class": _name(type(value)), "global": reduced}
        rebuild, args, *rest = reduced
        state = rest[0] if rest else None
        items = [list(part) if part is not None else None for part in rest[1:3]]
        return {
            "class": _name(type(value)),
            "rebuild": _name(rebuild),
            "args": self.describe(args, "its arguments", True),
            "state": self.describe(state, "its state", True),
            "items": self.describe(items, "its items", True),
        }


_DESCRIBERS = (
    (np.ndarray, lambda self, value: _array(value)),
    (types.FunctionType, _Describer._function),
    (functools.partial, _Describer._partial),
    (types.MethodType, _Describer._method),
    (types.BuiltinFunctionType, _Describer._builtin),
    (np.ufunc, _Describer._ufunc),
    (type, _Describer._class),
)

_NOT_PLAIN = object()


def _plain(value):
    """``value`` if it is a JSON scalar (or a NumPy/bytes/complex one made so),
    else ``_NOT_PLAIN``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic) and not isinstance(value, np.void):
        return _plain(value.item())
    if isinstance(value, (bytes, bytearray)):
        return {"class": "bytes", "sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, complex):
        return {"class": "complex", "value": [value.real, value.imag]}
    if sp.issparse(value):
        return {"class": "sparse", "sha256": hash_arrays([value])}
    return _NOT_PLAIN


def _array(value):
    return {
        "class": "ndarray",
        "dtype": value.dtype.str,
        "shape": list(value.shape),
        "sha256": hash_arrays([value]),
    }


def _key(key):
    """A dict key as a JSON key: strings and numbers as such, else canonical JSON."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float, np.generic)):
        return str(_plain(key))
    return _canonical(key)


def _name(value):
    """``module.qualname`` of a function or class (no address)."""
    module = getattr(value, "__module__", None)
    if module is None:
        owner = getattr(value, "__objclass__", None) or getattr(value, "__self__", None)
        module = getattr(owner, "__module__", None) or type(owner).__module__
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", "?")
    return f"{module}.{qualname}"


def _importable_name(value):
    """``module.qualname`` when that name leads back to ``value``, else None."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not (isinstance(module, str) and isinstance(qualname, str)):
        return None
    found = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return f"{module}.{qualname}" if found is value else None


def _unwrap(attribute):
    """The functions inside a class's staticmethod, classmethod or property."""
    if isinstance(attribute, (staticmethod, classmethod)):
        return attribute.__func__
    if isinstance(attribute, property):
        return [attribute.fget, attribute.fset, attribute.fdel]
    return attribute


def _cell_contents(cell):
    try:
        return cell.cell_contents
    except ValueError:  # a variable not assigned yet
        return {"class": "empty cell"}


def _code_digest(code):
    """SHA-256 of what a code object does: its bytecode, constants (nested
    code too), names and argument layout; not its file or line numbers."""
    layout = (
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
    )
    digest = hashlib.sha256(repr(layout).encode())
    digest.update(code.co_code)
    digest.update(repr([_constant(c) for c in code.co_consts]).encode())
    return digest.hexdigest()


def _constant(value):
    """A code constant, with no address and no hash order in it."""
    if isinstance(value, types.CodeType):
        return ("code", _code_digest(value))
    if isinstance(value, tuple):
        return tuple(_constant(item) for item in value)
    if isinstance(value, frozenset):
        return ("frozenset", sorted(repr(_constant(item)) for item in value))
    return repr(value)


def _code_names(code):
    """Every name ``code`` and the code nested in it load (globals among them)."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _code_names(constant)
    return names


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
