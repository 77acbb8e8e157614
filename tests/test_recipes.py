"""Tests for the named training recipes (skdigits/_recipes.py)."""

import numpy as np
import pytest
from sklearn.base import clone

from skdigits import RECIPES, NumpyMLPClassifier, get_recipe


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_is_a_valid_set_of_classifier_parameters(name):
    clf = NumpyMLPClassifier(**get_recipe(name))
    clf._validate_params()  # sklearn's own parameter validation
    clone(clf)  # scikit-learn's clone raises if a parameter does not round-trip


def test_the_recipes_the_issue_asks_for_exist():
    assert {"default", "best"} <= set(RECIPES)


def test_get_recipe_returns_a_copy():
    params = get_recipe("best")
    params["augment"].set_params(elasticdistortion__alpha=0.0)
    params["max_iter"] = 1
    again = get_recipe("best")
    assert again["max_iter"] == RECIPES["best"]["max_iter"] != 1
    assert again["augment"].get_params()["elasticdistortion__alpha"] > 0


def test_unknown_recipe_names_the_choices():
    with pytest.raises(ValueError, match="unknown recipe 'fast'.*best, default"):
        get_recipe("fast")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_train_on_any_mnist_layout_data_not_only_digits(name):
    """Fashion-MNIST / EMNIST-style data: 28x28 rows, any content, other labels."""
    rng = np.random.default_rng(0)
    X = rng.random((300, 784), dtype=np.float32)
    y = rng.integers(1, 27, 300)  # EMNIST letters use labels 1-26
    params = get_recipe(name) | {"max_iter": 1, "hidden_layer_sizes": (16,)}
    clf = NumpyMLPClassifier(**params, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (300, len(np.unique(y))) and np.isfinite(proba).all()
