"""Fingerprints: array and JSON digests, jsonable descriptions, differing parts."""

import functools
import json
import os
import re
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skdigits._fingerprint import (
    FingerprintError,
    describe_parameters,
    differing_parts,
    hash_arrays,
    hash_json,
    jsonable,
)


def _scorer(estimator, X, y):
    return 0.0


# --- hash_arrays ----------------------------------------------------------------


def test_hash_arrays_depends_on_values_only_not_on_memory_layout():
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert hash_arrays([X]) == hash_arrays([np.asfortranarray(X)])
    assert hash_arrays([X[:, ::2]]) == hash_arrays([X[:, ::2].copy()])
    assert hash_arrays([X.tolist()]) == hash_arrays([X.astype(np.float64)])


@pytest.mark.parametrize(
    "change",
    ["one value", "dtype", "shape", "order of arrays", "an array more"],
)
def test_hash_arrays_changes_with_every_input(change):
    X, y = np.arange(12, dtype=np.float32).reshape(3, 4), np.array([0, 1, 1])
    arrays = [X, y]
    if change == "one value":
        arrays = [X.copy(), y]
        arrays[0][2, 3] += 1
    elif change == "dtype":
        arrays = [X.astype(np.float64), y]
    elif change == "shape":
        arrays = [X.reshape(4, 3), y]
    elif change == "order of arrays":
        arrays = [y, X]
    else:
        arrays = [X, y, y]
    assert hash_arrays(arrays) != hash_arrays([X, y])


def test_hash_arrays_takes_a_generator_and_gives_sha256_hex():
    digest = hash_arrays(np.full(2, i) for i in range(3))
    assert digest == hash_arrays([np.full(2, i) for i in range(3)])
    assert re.fullmatch("[0-9a-f]{64}", digest)


def test_hash_arrays_of_objects_and_none_depend_on_values_not_addresses():
    labels = np.array(["cat", 3, None], dtype=object)
    assert hash_arrays([labels]) == hash_arrays([labels.copy()])
    assert hash_arrays([labels]) != hash_arrays([labels[::-1]])
    X = np.zeros((3, 2))
    assert hash_arrays([X, None]) != hash_arrays([X])  # y=None is hashed too


def test_hash_arrays_of_sparse_matrices_depend_on_values():
    from scipy.sparse import csc_matrix, csr_matrix

    X = np.eye(4)
    assert hash_arrays([csr_matrix(X)]) == hash_arrays([csc_matrix(X)])
    changed = X.copy()
    changed[0, 0] = 2
    assert hash_arrays([csr_matrix(X)]) != hash_arrays([csr_matrix(changed)])
    assert hash_arrays([csr_matrix(X)]) != hash_arrays([X])


# --- jsonable and hash_json -----------------------------------------------------


def test_jsonable_keeps_json_values_and_makes_tuples_lists():
    value = {"a": (1, (2.5, None)), "b": [True, "x"], 3: np.float32(0.5)}
    assert jsonable(value) == {"a": [1, [2.5, None]], "b": [True, "x"], "3": 0.5}
    assert json.loads(json.dumps(jsonable(value))) == jsonable(value)


def test_jsonable_describes_estimators_by_class_and_params():
    pipe = Pipeline([("scale", StandardScaler()), ("clf", DummyClassifier())])
    described = jsonable(pipe)
    assert described["class"] == "sklearn.pipeline.Pipeline"
    steps = described["params"]["steps"]
    assert steps[1] == ["clf", jsonable(DummyClassifier())]
    assert jsonable(DummyClassifier())["params"]["strategy"] == "prior"


def test_jsonable_names_functions_and_classes_without_their_address():
    assert jsonable(_scorer)["name"] == f"{__name__}._scorer"
    assert jsonable(DummyClassifier)["name"] == "sklearn.dummy.DummyClassifier"
    assert "0x" not in json.dumps(jsonable({"f": _scorer, "g": np.mean}))


def test_jsonable_describes_arrays_by_digest():
    a = np.arange(3)
    described = jsonable(a)
    assert described["sha256"] == hash_arrays([a])
    assert described["shape"] == [3]
    assert jsonable(a) != jsonable(a + 1)


def test_hash_json_ignores_dict_order_but_not_list_order():
    assert hash_json({"a": 1, "b": 2}) == hash_json({"b": 2, "a": 1})
    assert hash_json([1, 2]) != hash_json([2, 1])
    assert hash_json((1, 2)) == hash_json([1, 2])


def test_hash_json_changes_with_an_estimator_parameter():
    same = hash_json(DummyClassifier(strategy="prior"))
    assert same == hash_json(DummyClassifier())
    assert same != hash_json(DummyClassifier(strategy="uniform"))


def test_hash_json_accepts_nan():
    assert hash_json(float("nan")) == hash_json(np.nan)


# --- callables: what decides their behaviour -------------------------------------


def _shift(s):
    return lambda X, rng: X + s


def _clip(X, rng, low=0.0, *, high=1.0):
    return np.clip(X, low, high)


class _Noise:
    """A callable object: its attributes decide what it does."""

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, X, rng):
        return X + self.scale * rng.standard_normal(X.shape)

    def apply(self, X, rng):
        return self(X, rng)


OFFSET = 0.5


def _reads_a_global(X, rng):
    return X + OFFSET


def test_a_closure_is_fingerprinted_by_the_value_it_captures():
    assert hash_json(_shift(0)) == hash_json(_shift(0))
    assert hash_json(_shift(0)) != hash_json(_shift(3))
    assert hash_json(_shift(np.zeros(3))) != hash_json(_shift(np.ones(3)))


def test_a_function_is_fingerprinted_by_its_code_not_its_name():
    one, two = (lambda X, rng: X + 1), (lambda X, rng: X + 2)
    times = lambda X, rng: X * 1  # noqa: E731
    assert one.__qualname__ == two.__qualname__ == times.__qualname__
    assert len({hash_json(one), hash_json(two), hash_json(times)}) == 3

    def outer(k):
        def inner(X):
            return X + k

        return inner

    def outer_other(k):
        def inner(X):
            return X - k

        return inner

    outer_other.__qualname__ = outer.__qualname__
    assert hash_json(outer) != hash_json(outer_other)  # the nested code counts


def test_defaults_and_keyword_defaults_count():
    described = hash_json(_clip)
    _clip.__defaults__ = (0.5,)
    try:
        assert hash_json(_clip) != described
    finally:
        _clip.__defaults__ = (0.0,)
    _clip.__kwdefaults__ = {"high": 0.9}
    try:
        assert hash_json(_clip) != described
    finally:
        _clip.__kwdefaults__ = {"high": 1.0}
    assert hash_json(_clip) == described


def test_the_globals_a_function_reads_count(monkeypatch):
    described = hash_json(_reads_a_global)
    monkeypatch.setattr(sys.modules[__name__], "OFFSET", 0.25)
    assert hash_json(_reads_a_global) != described


def test_a_partial_is_its_function_arguments_and_keywords():
    base = functools.partial(_clip, low=0.1)
    assert hash_json(base) == hash_json(functools.partial(_clip, low=0.1))
    assert hash_json(base) != hash_json(functools.partial(_clip, low=0.2))
    assert hash_json(base) != hash_json(functools.partial(_clip, None, low=0.1))
    assert hash_json(base) != hash_json(functools.partial(_shift(0), low=0.1))
    assert "0x" not in json.dumps(jsonable(base))


def test_a_callable_object_is_its_class_and_attributes():
    assert hash_json(_Noise(0.1)) == hash_json(_Noise(0.1))
    assert hash_json(_Noise(0.1)) != hash_json(_Noise(0.2))
    assert jsonable(_Noise(0.1))["class"] == f"{__name__}._Noise"


def test_a_bound_method_counts_its_self():
    assert hash_json(_Noise(0.1).apply) == hash_json(_Noise(0.1).apply)
    assert hash_json(_Noise(0.1).apply) != hash_json(_Noise(0.2).apply)
    assert hash_json(_Noise(0.1).apply) != hash_json(_Noise(0.1).__call__)


def test_a_local_class_counts_its_methods_code():
    def make(k):
        class Scale:
            def __call__(self, X, rng):
                return X * k

        return Scale()

    assert hash_json(make(2)) == hash_json(make(2))
    assert hash_json(make(2)) != hash_json(make(3))


def test_random_generators_are_fingerprinted_by_their_state():
    rs = np.random.RandomState(0)
    assert hash_json(rs) == hash_json(np.random.RandomState(0))
    assert hash_json(rs) != hash_json(np.random.RandomState(1))
    rs.uniform()
    assert hash_json(rs) != hash_json(np.random.RandomState(0))
    rng = np.random.default_rng(0)
    assert hash_json(rng) == hash_json(np.random.default_rng(0))
    assert hash_json(rng) != hash_json(np.random.default_rng(1))
    rng.uniform()
    assert hash_json(rng) != hash_json(np.random.default_rng(0))


def test_library_callables_are_described_without_error_or_address():
    from scipy import ndimage

    for value in (np.mean, np.add, print, str.upper, ndimage.rotate, np.clip):
        assert "0x" not in json.dumps(jsonable(value))


def test_cycles_are_described_as_back_references():
    a = _Noise(0.1)
    a.me = a
    assert hash_json(a) == hash_json(a)

    def countdown(n):
        return n if n <= 0 else countdown(n - 1)

    assert hash_json(countdown) == hash_json(countdown)


# The same values built in a new process (and another string hash seed) give
# the same digests: nothing in a fingerprint is an address or a hash order.
_SCRIPT = """
import functools, json, sys
import numpy as np
from skdigits._fingerprint import hash_json

def shift(s):
    return lambda X, rng: X + s

class Noise:
    def __init__(self, scale):
        self.scale = scale
    def __call__(self, X, rng):
        return X + self.scale * rng.standard_normal(X.shape)

def clip(X, rng, low=0.0):
    return np.clip(X, low, 1.0)

values = {
    "closure": shift(3),
    "partial": functools.partial(clip, low={"a", "b", "c"}),
    "object": Noise(0.1),
    "method": Noise(0.2).__call__,
    "random_state": np.random.RandomState(5),
    "generator": np.random.default_rng(5),
    "library": [np.mean, np.add, print],
}
json.dump({name: hash_json(value) for name, value in values.items()}, sys.stdout)
"""


def test_the_same_callables_in_new_processes_give_the_same_digests(tmp_path):
    script = tmp_path / "fingerprints.py"
    script.write_text(textwrap.dedent(_SCRIPT))

    def digests(hash_seed):
        env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
        out = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
        return json.loads(out)

    first, second = digests(1), digests(2)
    assert first == second
    assert len(set(first.values())) == len(first)


# --- what cannot be fingerprinted is refused -----------------------------------


def _captures(value):
    return lambda X, rng: (value, X)[1]


@pytest.mark.parametrize(
    "value, what",
    [
        (_captures(threading.Lock()), "_thread.lock object"),
        (_captures(x for x in range(3)), "generator object"),
        (_captures(np.random.RandomState(0)), "RandomState inside a function"),
        (np.random.rand, "RandomState inside a function"),
        (np.random.default_rng(0).normal, "Generator inside a function"),
    ],
    ids=["lock", "generator", "captured-random-state", "global-rand", "bound-rng"],
)
def test_what_has_no_stable_state_is_refused(value, what):
    with pytest.raises(FingerprintError, match=what):
        hash_json(value)


def test_generators_are_refused_where_the_run_restores_none():
    with pytest.raises(FingerprintError, match="restores only the estimator's"):
        jsonable({"seed": np.random.RandomState(0)}, generators="refuse")
    assert jsonable(np.random.RandomState(0))["state"]  # the default: by state


def test_a_refusal_is_one_line_naming_the_parameter_and_what_to_do():
    params = {"alpha": 0.1, "augment": _captures(threading.Lock())}
    with pytest.raises(FingerprintError) as info:
        describe_parameters(params, "checkpoint", what_to_do="set checkpoint=None")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "checkpoint cannot fingerprint parameter 'augment', closure variable "
        "'value': a _thread.lock object"
    )
    assert message.endswith("; set checkpoint=None")
    assert isinstance(info.value, ValueError)


def test_describe_parameters_keeps_generators_only_where_restored():
    params = {"random_state": np.random.RandomState(0), "seed": 3}
    described = describe_parameters(
        params, "checkpoint", restored=("random_state",), what_to_do="..."
    )
    assert described["random_state"] == jsonable(np.random.RandomState(0))
    with pytest.raises(FingerprintError, match="parameter 'random_state'"):
        describe_parameters(params, "checkpoint", what_to_do="...")


# --- differing_parts ------------------------------------------------------------


def test_differing_parts_is_empty_for_equal_fingerprints():
    assert differing_parts({"a": "1", "b": "2"}, {"b": "2", "a": "1"}) == ()


def test_differing_parts_in_new_order_then_parts_only_old_has():
    old = {"gone": "0", "a": "1", "b": "2", "c": "3"}
    new = {"c": "x", "a": "1", "b": "y", "added": "4"}
    assert differing_parts(old, new) == ("c", "b", "added", "gone")
