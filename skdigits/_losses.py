"""Output activations, each paired with the log-loss it is trained with.

``OUTPUTS`` maps the estimator's ``out_activation_`` to an :class:`Output`:

* ``"softmax"`` with the categorical cross-entropy, for multiclass targets;
* ``"logistic"`` with the binary cross-entropy per output, for binary and
  multilabel-indicator targets.

Both are canonical pairs, so the gradient of the loss with respect to the
output pre-activation ``Z`` is simply ``P - Y``. Losses are computed from ``Z``
through log-sum-exp, never from clipped probabilities, so they stay finite and
exact for any logits:

.. math::

    \\ell_{\\text{softmax}}(z, y) = \\log \\sum_k e^{z_k} - \\sum_k y_k z_k, \\qquad
    \\ell_{\\text{logistic}}(z, y) = \\sum_k \\log(1 + e^{z_k}) - y_k z_k .
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class Output:
    """An output activation and its loss.

    ``loss_and_proba(Z, Y)`` returns the per-sample losses (a vector)
    and overwrites ``Z`` with the probabilities; ``proba(Z)`` does the latter only;
    ``log_proba(Z)`` returns the log-probabilities, computed in the log domain
    (finite where a probability underflows to 0). The estimator's
    ``predict_log_proba`` does not use it: like scikit-learn's, it returns
    ``np.log(predict_proba(X))``, so a drop-in user gets the same numbers.
    """

    loss_and_proba: Callable
    proba: Callable
    log_proba: Callable


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


OUTPUTS = {
    "softmax": Output(_softmax_loss_and_proba, _softmax_proba, _softmax_log_proba),
    "logistic": Output(_logistic_loss_and_proba, _logistic_proba, _logistic_log_proba),
}


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
