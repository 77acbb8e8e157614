"""The "no digit" scores: how much a glyph looks like one of the ten digits.

A scorer wraps a fitted classifier of the ten digits and gives, for glyphs
normalised as MNIST's digits (784 raw pixels each), the classifier's
probabilities in digit order and a score: higher means more like a digit. The
reader calls a glyph a digit when its score is at least the threshold.
"""

import numpy as np

__all__ = ["DEFAULT_SCORE", "MaxProbaScorer", "check_scorer"]

DIGITS = tuple(range(10))


class MaxProbaScorer:
    """The top class probability as the score (Hendrycks and Gimpel, 2017).

    Parameters
    ----------
    model : estimator
        A fitted classifier of the ten digits with ``predict_proba``.
    """

    #: the score below which a glyph is "not a digit"
    threshold = 0.5

    def __init__(self, model):
        self.model = model
        self.order = digit_order(model)

    def proba(self, X):
        """``predict_proba`` of ``X`` with its columns in digit order 0..9."""
        if len(X) == 0:
            return np.zeros((0, 10))
        return np.asarray(self.model.predict_proba(X))[:, self.order]

    def evaluate(self, X):
        """``(probabilities, scores)`` of the glyphs ``X`` (n, 784)."""
        proba = self.proba(X)
        return proba, proba.max(axis=1) if len(X) else np.zeros(0)


DEFAULT_SCORE = MaxProbaScorer


def digit_order(model):
    """The column of each digit 0..9 in ``model.predict_proba``'s output.

    Raises ValueError unless ``model`` is a fitted classifier whose classes
    are the ten digits (as integers or their strings).
    """
    classes = getattr(model, "classes_", None)
    if classes is None or not hasattr(model, "predict_proba"):
        raise ValueError(
            f"model: expected a fitted classifier with predict_proba and classes_ "
            f"(such as a model saved by skdigits train), got {type(model).__name__}"
        )
    try:
        digits = [int(c) for c in classes]
    except (TypeError, ValueError):
        digits = None
    if digits is None or sorted(digits) != list(DIGITS):
        raise ValueError(
            f"model: its classes are {list(classes)[:12]}, not the ten digits 0-9; "
            "read_digits needs a model trained on the ten digits"
        )
    return np.array([digits.index(d) for d in DIGITS])


def check_scorer(model):
    """The scorer of ``model``: its own when it carries one, else the default."""
    if hasattr(model, "evaluate") and hasattr(model, "threshold"):
        return model
    return DEFAULT_SCORE(model)
