"""Fingerprints: array and JSON digests, jsonable descriptions, differing parts."""

import json
import re

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skdigits._fingerprint import differing_parts, hash_arrays, hash_json, jsonable


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
    assert described["class"] == "Pipeline"
    steps = described["params"]["steps"]
    assert steps[1] == ["clf", jsonable(DummyClassifier())]
    assert jsonable(DummyClassifier())["params"]["strategy"] == "prior"


def test_jsonable_names_functions_and_classes_without_their_address():
    assert jsonable(_scorer) == {"class": "function", "name": f"{__name__}._scorer"}
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


# --- differing_parts ------------------------------------------------------------


def test_differing_parts_is_empty_for_equal_fingerprints():
    assert differing_parts({"a": "1", "b": "2"}, {"b": "2", "a": "1"}) == ()


def test_differing_parts_in_new_order_then_parts_only_old_has():
    old = {"gone": "0", "a": "1", "b": "2", "c": "3"}
    new = {"c": "x", "a": "1", "b": "y", "added": "4"}
    assert differing_parts(old, new) == ("c", "b", "added", "gone")
