"""Output activations, each paired with the loss it is trained with and its score.

``OUTPUTS`` maps the estimator's ``out_activation_`` to an :class:`Output`:

* ``"softmax"`` with the categorical cross-entropy, for multiclass targets;
* ``"logistic"`` with the binary cross-entropy per output, for binary and
  multilabel-indicator targets;
* ``"identity"`` with the squared error, for regression (``loss="squared_error"``);
* ``"exp"`` with the Poisson deviance, for counts (``loss="poisson"``).

All four are canonical pairs, so the gradient of the loss with respect to the
output pre-activation ``Z`` is simply ``P - Y``. Losses are computed from ``Z``
(through log-sum-exp for the classifiers), never from clipped probabilities,
so they stay finite and exact for any logits:

.. math::

    \\ell_{\\text{softmax}}(z, y) = \\log \\sum_k e^{z_k} - \\sum_k y_k z_k, \\qquad
    \\ell_{\\text{logistic}}(z, y) = \\sum_k \\log(1 + e^{z_k}) - y_k z_k,

.. math::

    \\ell_{\\text{identity}}(z, y) = \\frac{1}{2K} \\sum_k (z_k - y_k)^2, \\qquad
    \\ell_{\\text{exp}}(z, y) = \\sum_k y_k \\log y_k - y_k z_k - y_k + e^{z_k}.

The squared error is averaged over the :math:`K` outputs, as scikit-learn's
``MLPRegressor`` reports it, while its gradient is, as there, ``P - Y``: the
gradient of :math:`K \\ell`. ``objective_factor`` is that :math:`K`, for a
solver (L-BFGS) that needs the loss whose gradient it is given.
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from scipy.special import expit, xlogy
from sklearn.metrics import accuracy_score, r2_score


@dataclass(frozen=True)
class Output:
    """An output activation, its loss and its score.

    ``loss_and_proba(Z, Y)`` returns the per-sample losses (a vector)
    and overwrites ``Z`` with the output (probabilities, or predictions);
    ``proba(Z)`` does the latter only; ``log_proba(Z)`` returns the
    log-probabilities, computed in the log domain (finite where a probability
    underflows to 0), None for a regression output. The estimator's
    ``predict_log_proba`` does not use it: like scikit-learn's, it returns
    ``np.log(predict_proba(X))``, so a drop-in user gets the same numbers.

    ``score(P, Y, sample_weight)`` is the early-stopping score of outputs
    ``P`` against the encoded targets ``Y``: accuracy for the classifiers' outputs
    (subset accuracy for multilabel targets), :math:`R^2` for the regressors'.
    ``uniform_loss(n_outputs)`` is the data loss of all-zero logits (a
    uniform guess), against which a huge loss counts as divergence; None where
    no such reference exists (regression: the loss of 0 depends on ``y``'s
    scale). ``objective_factor(n_outputs)`` turns the loss into the one whose
    gradient ``P - Y`` is (see the module docstring).
    """

    loss_and_proba: Callable
    proba: Callable
    log_proba: Optional[Callable]
    score: Callable
    uniform_loss: Optional[Callable] = None
    objective_factor: Callable = lambda n_outputs: 1


def _softmax_inplace(Z):
    """Softmax over rows in place; returns ``log(sum(exp(Z - max)))`` per row."""
    Z -= Z.max(axis=1, keepdims=True)
    return _exp_normalise(Z)


def _exp_normalise(Z):
    """Exponentiate max-shifted logits and normalise rows, in place.

    Returns the log of each row's sum before normalising.
    """
    np.exp(Z, out=Z)
    total = _row_sums(Z)
    Z /= total[:, None]
    return np.log(total)


def _row_sums(Z):
    """``Z.sum(axis=1)`` as a BLAS matrix-vector product (3x faster on few columns)."""
    return Z @ np.ones(Z.shape[1], Z.dtype)


def _softmax_loss_and_proba(Z, Y):
    """Cross-entropy from logits: ``logsumexp(z) - z[y]``; ``Z`` becomes softmax.

    ``z[y]`` is read after the row max is subtracted, so the max cancels.
    """
    Z -= Z.max(axis=1, keepdims=True)
    shifted_true = np.einsum("ij,ij->i", Z, Y)
    return _exp_normalise(Z) - shifted_true


def _softmax_proba(Z):
    _softmax_inplace(Z)
    return Z


def _softmax_log_proba(Z):
    """``log softmax(Z)`` computed in the log domain (no ``log(0)``)."""
    Z = Z - Z.max(axis=1, keepdims=True)
    Z -= np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return Z


def _logistic_loss_and_proba(Z, Y):
    """Binary cross-entropy from logits: ``log(1 + e^z) - y z``, summed over outputs."""
    losses = np.logaddexp(0, Z)
    losses -= Z * Y
    expit(Z, out=Z)
    return _row_sums(losses)


def _logistic_proba(Z):
    return expit(Z, out=Z)


def _logistic_log_proba(Z):
    """``log sigmoid(Z) = -log(1 + e^{-z})``, exact for any ``z``."""
    return -np.logaddexp(0, -Z)


def _squared_loss_and_proba(Z, Y):
    """Half the squared error, averaged over the outputs; ``Z`` is kept."""
    diff = Z - Y
    diff *= diff
    return _row_sums(diff) * (0.5 / Z.shape[1])


def _identity_proba(Z):
    return Z


def _poisson_loss_and_proba(Z, Y):
    """Poisson deviance from log-means ``Z``; ``Z`` becomes the means ``exp(Z)``."""
    losses = xlogy(Y, Y)
    losses -= Y * Z
    losses -= Y
    np.exp(Z, out=Z)
    losses += Z
    return _row_sums(losses)


def _exp_proba(Z):
    return np.exp(Z, out=Z)


def _argmax_accuracy(P, Y, sample_weight=None):
    """Accuracy of the most probable class (multiclass outputs)."""
    return accuracy_score(
        Y.argmax(axis=1), P.argmax(axis=1), sample_weight=sample_weight
    )


def _thresholded_accuracy(P, Y, sample_weight=None):
    """Accuracy of the outputs above 0.5: binary, or multilabel subset accuracy."""
    predicted, true = (P > 0.5).astype(int), (Y > 0.5).astype(int)
    if P.shape[1] == 1:
        predicted, true = predicted.ravel(), true.ravel()
    return accuracy_score(true, predicted, sample_weight=sample_weight)


def _r2(P, Y, sample_weight=None):
    """:math:`R^2` averaged over the outputs, as ``RegressorMixin.score``."""
    return r2_score(Y, P, sample_weight=sample_weight)


OUTPUTS = {
    "softmax": Output(
        _softmax_loss_and_proba,
        _softmax_proba,
        _softmax_log_proba,
        _argmax_accuracy,
        uniform_loss=lambda n_outputs: float(np.log(n_outputs)),
    ),
    "logistic": Output(
        _logistic_loss_and_proba,
        _logistic_proba,
        _logistic_log_proba,
        _thresholded_accuracy,
        uniform_loss=lambda n_outputs: float(n_outputs * np.log(2.0)),
    ),
    "identity": Output(
        _squared_loss_and_proba,
        _identity_proba,
        None,
        _r2,
        objective_factor=lambda n_outputs: n_outputs,
    ),
    "exp": Output(_poisson_loss_and_proba, _exp_proba, None, _r2),
}

#: The regressor's ``loss`` names and the output activation each is trained with.
REGRESSION_LOSSES = {"squared_error": "identity", "poisson": "exp"}


def mean_loss(sample_losses, weights=None):
    """Mean of per-sample losses, weighted when ``weights`` is given.

    Returns 0.0 when every weight is zero instead of dividing by zero: such a
    minibatch carries no information and must not stop training.
    """
    if weights is None:
        return float(sample_losses.mean())
    total = float(weights.sum())
    if total == 0.0:
        return 0.0
    return float(np.dot(sample_losses, weights) / total)
