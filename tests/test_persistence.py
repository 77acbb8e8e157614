"""Tests for skdigits.save_model / load_model (skdigits/_persistence.py)."""

import importlib
import io
import json
import pickle
import sys
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from skdigits import (
    RECIPES,
    NumpyMLPClassifier,
    NumpyMLPRegressor,
    PixelScaler,
    get_recipe,
    load_model,
    save_model,
)
from skdigits._optimizers import OPTIMIZERS, SCHEDULES
from skdigits._persistence import TRUSTED_TYPES
from skdigits.datasets import load_mnist_sample

sio = pytest.importorskip("skops.io")


def fitted_pipeline(solver="adam", **params):
    """A small real skdigits pipeline (3 epochs: it has not converged)."""
    X, y = load_mnist_sample("test")
    mlp = NumpyMLPClassifier((16,), solver=solver, max_iter=3, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Pipeline([("scale", PixelScaler()), ("mlp", mlp)]).fit(X[:300], y[:300])


def fitted_regressor(solver="adam", **params):
    """A small regressor completing digits: top half in, bottom half out."""
    X, _ = load_mnist_sample("test")
    X = X[:300].astype(np.float32) / 255
    reg = NumpyMLPRegressor(
        hidden_layer_sizes=(16,), solver=solver, max_iter=3, random_state=0, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(X[:, :392], X[:, 392:])


@pytest.fixture(scope="module")
def model():
    return fitted_pipeline()


@pytest.fixture(scope="module")
def X():
    return load_mnist_sample("test")[0][:50]


# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_round_trip_gives_identical_probabilities(tmp_path, X, solver, suffix):
    model = fitted_pipeline(solver)
    path = tmp_path / f"model{suffix}"
    save_model(model, path)
    loaded = load_model(path)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert type(loaded[-1]) is NumpyMLPClassifier


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_regressor_round_trip_as_skops_gives_identical_predictions(
    tmp_path, X, solver, loss
):
    model = fitted_regressor(solver, loss=loss, early_stopping=solver != "lbfgs")
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    top = X[:, :392].astype(np.float32) / 255
    assert type(loaded) is NumpyMLPRegressor
    assert loaded.predict(top).dtype == np.float32
    assert np.array_equal(loaded.predict(top), model.predict(top))


@pytest.mark.parametrize("learning_rate", sorted(SCHEDULES))
@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_every_schedule_and_recipe_saves_as_skops(tmp_path, X, solver, learning_rate):
    """A fitted optimizer holds its schedule by name: nothing load_model refuses."""
    model = fitted_pipeline(solver, learning_rate=learning_rate)
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_saves_as_skops(tmp_path, X, recipe):
    params = {**get_recipe(recipe), "hidden_layer_sizes": (8,), "max_iter": 1}
    X_train, y_train = load_mnist_sample("test")
    model = Pipeline([("scale", PixelScaler()), ("mlp", NumpyMLPClassifier(**params))])
    model.fit(X_train[:300], y_train[:300])
    save_model(model, tmp_path / "model.skops")
    assert np.array_equal(
        load_model(tmp_path / "model.skops").predict_proba(X), model.predict_proba(X)
    )


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_loaded_skops_model_keeps_training_where_it_stopped(tmp_path, solver):
    """The optimizer state is saved too: warm-started training goes on alike."""
    X, y = load_mnist_sample("test")
    original = fitted_pipeline(solver)
    save_model(original, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    for model in (original, loaded):
        model.set_params(mlp__warm_start=True, mlp__max_iter=1)
        with pytest.warns(ConvergenceWarning):
            model.fit(X[:300], y[:300])
    assert len(loaded[-1].loss_curve_) == 4
    for W_loaded, W_original in zip(loaded[-1].coefs_, original[-1].coefs_):
        assert np.array_equal(W_loaded, W_original)


def test_allow_list_is_exactly_what_skdigits_pipelines_need():
    from skdigits.augment import ElasticDistortion, RandomAffine, make_chain

    needed = set()
    for solver in ["adam", "sgd", "lbfgs"]:
        data = sio.dumps(fitted_pipeline(solver, early_stopping=solver != "lbfgs"))
        needed |= set(sio.get_untrusted_types(data=data))
    augment = make_chain(RandomAffine(), ElasticDistortion())  # what the recipes use
    data = sio.dumps(fitted_pipeline("adam", augment=augment))
    needed |= set(sio.get_untrusted_types(data=data))
    for solver in ["sgd", "lbfgs"]:
        data = sio.dumps(fitted_regressor(solver))
        needed |= set(sio.get_untrusted_types(data=data))
    assert needed == set(TRUSTED_TYPES)


# --- refusing crafted files, without running them ----------------------------------


class _OpensMarker:
    """Unpickling this creates the file ``path``: a stand-in for any payload."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_disguised_as_skops_is_refused_without_running(tmp_path):
    payload = pickle.dumps(_OpensMarker(tmp_path / "MARKER"))
    pickle.loads(pickle.dumps(_OpensMarker(tmp_path / "LIVE"))).close()
    assert (tmp_path / "LIVE").exists()  # the payload does run when unpickled
    path = tmp_path / "model.skops"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=r"model\.skops: not a valid \.skops file"):
        load_model(path)
    assert not (tmp_path / "MARKER").exists()


def _str_node(text):
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(text),
        "is_json": True,
    }


def _call_node(module, name, *args):
    """A skops node that, when built, calls ``module.name(*args)``."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [_str_node(arg) for arg in args],
        },
    }


def _replace_scaler(schema, node):
    """Swap the PixelScaler step of a dumped pipeline for ``node``."""
    steps = schema["content"]["content"]["steps"]["content"]
    assert steps[0]["content"][1]["__class__"] == "PixelScaler"
    steps[0]["content"][1] = node


def _set_callback(schema, node):
    """Make the classifier's ``callback`` attribute ``node``."""
    mlp = schema["content"]["content"]["steps"]["content"][1]["content"][1]
    mlp["content"]["content"]["callback"] = node


def _crafted_skops(model, tmp_path, name, edit):
    """A real .skops file of ``model`` with its schema.json edited by ``edit``."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    schema = json.loads(members["schema.json"])
    edit(schema)
    members["schema.json"] = json.dumps(schema).encode()
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as target:
        for member, data in members.items():
            target.writestr(member, data)
    return path


ATTACKS = {
    "os.system": lambda marker: (
        _replace_scaler,
        _call_node("os", "system", f"touch '{marker}'"),
    ),
    "builtins.eval": lambda marker: (
        _replace_scaler,
        _call_node("builtins", "eval", f"open({str(marker)!r}, 'w')"),
    ),
    "builtins.exec": lambda marker: (
        _set_callback,
        _call_node("builtins", "exec", f"open({str(marker)!r}, 'w')"),
    ),
}


@pytest.mark.skipif(
    not hasattr(
        importlib.import_module("skops.io._general"), "ConstructorFromReduceNode"
    ),
    reason="the attack files are written in the node format of skops >= 0.12",
)
@pytest.mark.parametrize("attack", ATTACKS)
def test_skops_file_naming_a_callable_is_refused_without_running(
    tmp_path, model, attack
):
    live_edit, live_node = ATTACKS[attack](tmp_path / "LIVE")
    live = _crafted_skops(
        model, tmp_path, "live.skops", lambda s: live_edit(s, live_node)
    )
    sio.load(live, trusted=sio.get_untrusted_types(file=live))
    assert (tmp_path / "LIVE").exists()  # the crafted file does run if trusted

    edit, node = ATTACKS[attack](tmp_path / "MARKER")
    path = _crafted_skops(model, tmp_path, "model.skops", lambda s: edit(s, node))
    with pytest.raises(ValueError) as error:
        load_model(path)
    message = str(error.value)
    assert message.startswith(f"{path}: refusing to load untrusted types: {attack}")
    assert "only share .skops files made by skdigits" in message
    assert "\n" not in message
    assert not (tmp_path / "MARKER").exists()


def test_skops_file_with_a_foreign_class_is_refused(tmp_path, model):
    foreign = {
        "__class__": "Popen",
        "__module__": "subprocess",
        "__loader__": "ObjectNode",
    }
    path = _crafted_skops(
        model, tmp_path, "model.skops", lambda s: _replace_scaler(s, foreign)
    )
    with pytest.raises(ValueError, match=r"untrusted types: subprocess\.Popen"):
        load_model(path)


def test_corrupt_skops_file_is_refused(tmp_path, model):
    save_model(model, tmp_path / "model.skops")
    data = (tmp_path / "model.skops").read_bytes()
    (tmp_path / "model.skops").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"model\.skops: not a valid \.skops file"):
        load_model(tmp_path / "model.skops")


# --- other errors --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_missing_file_is_named(tmp_path, suffix):
    with pytest.raises(ValueError, match=rf"nowhere{suffix}: no such file"):
        load_model(tmp_path / f"nowhere{suffix}")


@pytest.mark.parametrize("name", ["model.pkl", "model"])
def test_unknown_suffix_lists_the_allowed_ones(tmp_path, model, name):
    match = r"unknown model file type.*\.skops.*\.joblib"
    with pytest.raises(ValueError, match=match):
        save_model(model, tmp_path / name)
    with pytest.raises(ValueError, match=match):
        load_model(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_file_holding_something_else_is_not_a_model(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    if suffix == ".skops":
        sio.dump({"coefs": [1, 2]}, path)
    else:
        joblib.dump({"coefs": [1, 2]}, path)
    with pytest.raises(
        ValueError, match=rf"model{suffix}: not a model.*builtins\.dict"
    ):
        load_model(path)


def test_saving_something_else_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected a scikit-learn estimator"):
        save_model({"coefs": [1, 2]}, tmp_path / "model.skops")


def test_saving_into_a_missing_directory_is_refused(tmp_path, model):
    with pytest.raises(ValueError, match="does not exist"):
        save_model(model, tmp_path / "no" / "model.joblib")


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_failed_save_leaves_the_old_file_as_it_was(tmp_path, model, suffix):
    path = tmp_path / f"model{suffix}"
    save_model(model, path)
    before = path.read_bytes()
    broken = fitted_pipeline()
    broken.set_params(mlp__callback=lambda info: None)  # neither skops nor pickle
    with pytest.raises(ValueError, match=rf"model{suffix}: cannot save"):
        save_model(broken, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_skops_refusal_on_save_suggests_removing_the_callback(tmp_path, model):
    broken = fitted_pipeline()
    broken.set_params(mlp__callback=print)
    with pytest.raises(ValueError, match=r"builtins\.print; set callback=None"):
        save_model(broken, tmp_path / "model.skops")


def test_without_skops_the_error_says_what_to_install(tmp_path, model, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ValueError, match=r"pip install skdigits\[skops\]"):
        save_model(model, tmp_path / "model.skops")
    save_model(model, tmp_path / "model.joblib")  # joblib needs no extra


def test_a_model_saved_before_a_parameter_existed_loads_with_its_default():
    """The bundled file predates ``checkpoint``: repr, get_params and clone of it
    raised AttributeError until missing parameters took their defaults."""
    from sklearn.base import clone

    from skdigits import load_bundled_model

    pytest.importorskip("skops")
    mlp = load_bundled_model()[-1]
    assert mlp.get_params()["checkpoint"] is None
    assert "NumpyMLPClassifier(" in repr(mlp)
    assert repr(clone(mlp)) == repr(mlp)
