r"""Hidden-layer activations: each function sits beside its derivative.

``ACTIVATIONS`` is the single source of truth: the names the estimator accepts
are ``set(ACTIVATIONS)``. Every entry has

* ``forward(Z, out)``: writes :math:`f(Z)` into ``out`` (``out`` may be ``Z``);
* ``derivative(Z, A, delta)``: multiplies ``delta`` in place by :math:`f'(Z)`,
  reading the output ``A = f(Z)`` where that is enough (``Z`` is then ``None``);
* ``needs_z``: whether ``derivative`` needs the pre-activation ``Z`` (only the
  activations whose derivative cannot be recovered from their output);
* ``init_bound(fan_in, fan_out)``: the half-width of a layer's uniform initial
  weights: He-uniform :math:`\sqrt{6 / n_{in}}` for the rectifier family,
  Glorot-uniform :math:`\sqrt{6 / (n_{in} + n_{out})}` for identity and tanh,
  and Glorot and Bengio's 4x larger bound for logistic. (scikit-learn's
  MLPClassifier uses :math:`\sqrt{6 / (n_{in} + n_{out})}` for every
  activation, relu too, and :math:`\sqrt{2 / (n_{in} + n_{out})}` for
  logistic, so the same ``random_state`` does not give its initial weights.)

All functions keep the dtype of their input (float32 stays float32) and never
warn about overflow, whatever the magnitude of ``Z``.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import erf, expit

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0
_SQRT_HALF = np.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def he_uniform_bound(fan_in, fan_out):
    """He-uniform half-width, for activations that cut or damp negatives."""
    return np.sqrt(6.0 / fan_in)


def glorot_uniform_bound(fan_in, fan_out):
    """Glorot-uniform half-width, for activations symmetric around 0."""
    return np.sqrt(6.0 / (fan_in + fan_out))


def logistic_bound(fan_in, fan_out):
    """Glorot's bound times 4: the logistic's slope at 0 is 1/4."""
    return 4.0 * glorot_uniform_bound(fan_in, fan_out)


@dataclass(frozen=True)
class Activation:
    """An activation function, its derivative and its initial weights' scale."""

    forward: Callable
    derivative: Callable
    init_bound: Callable = he_uniform_bound
    needs_z: bool = False


def _identity(Z, out):
    if out is not Z:
        np.copyto(out, Z)
    return out


def _identity_derivative(Z, A, delta):
    return delta


def _logistic(Z, out):
    r""":math:`\sigma(z) = 1 / (1 + e^{-z})`, stable for any ``z``."""
    return expit(Z, out=out)


def _logistic_derivative(Z, A, delta):
    r""":math:`\sigma'(z) = a (1 - a)`."""
    delta *= A
    delta *= 1 - A
    return delta


def _tanh(Z, out):
    return np.tanh(Z, out=out)


def _tanh_derivative(Z, A, delta):
    r""":math:`\tanh'(z) = 1 - a^2`."""
    delta *= 1 - A * A
    return delta


def _relu(Z, out):
    # The scalar 0: with numpy >= 2 its loop is the fastest form (1.2-1.6x
    # faster than against a row of zeros on 128x256 and 128x100 batches).
    return np.maximum(Z, Z.dtype.type(0), out=out)


def _relu_derivative(Z, A, delta):
    delta *= A > 0
    return delta


def _leaky_relu(Z, out):
    r""":math:`f(z) = z` for :math:`z > 0`, else :math:`0.01 z`."""
    return np.multiply(Z, np.where(Z > 0, 1, LEAKY_RELU_SLOPE).astype(Z.dtype), out=out)


def _leaky_relu_derivative(Z, A, delta):
    delta[A <= 0] *= LEAKY_RELU_SLOPE
    return delta


def _elu(Z, out):
    r""":math:`f(z) = z` for :math:`z > 0`, else :math:`\alpha (e^z - 1)`."""
    negative = ELU_ALPHA * np.expm1(np.minimum(Z, 0))
    np.copyto(out, np.where(Z > 0, Z, negative))
    return out


def _elu_derivative(Z, A, delta):
    r""":math:`f'(z) = 1` for :math:`z > 0`, else :math:`a + \alpha`."""
    negative = A <= 0
    delta[negative] *= A[negative] + ELU_ALPHA
    return delta


def _softplus(Z, out):
    r""":math:`f(z) = \log(1 + e^z)`, through ``logaddexp`` so it never overflows."""
    return np.logaddexp(0, Z, out=out)


def _softplus_derivative(Z, A, delta):
    r""":math:`f'(z) = \sigma(z) = 1 - e^{-a}`."""
    delta *= -np.expm1(-A)
    return delta


def _gelu(Z, out):
    r"""Exact GELU, :math:`f(z) = z \Phi(z) = z (1 + \mathrm{erf}(z/\sqrt2)) / 2`.

    Uses the error function, not the tanh approximation.
    """
    cdf = erf(Z * Z.dtype.type(_SQRT_HALF))
    cdf += 1
    cdf *= 0.5
    return np.multiply(Z, cdf, out=out)


def _gelu_derivative(Z, A, delta):
    r""":math:`f'(z) = \Phi(z) + z \varphi(z)`."""
    pdf = np.exp(-0.5 * np.minimum(Z * Z, 1e4)) * Z.dtype.type(_INV_SQRT_2PI)
    cdf = 0.5 * (1 + erf(Z * Z.dtype.type(_SQRT_HALF)))
    delta *= cdf + Z * pdf
    return delta


def _silu(Z, out):
    r"""SiLU (swish): :math:`f(z) = z \sigma(z)`."""
    return np.multiply(Z, expit(Z), out=out)


def _silu_derivative(Z, A, delta):
    r""":math:`f'(z) = \sigma(z) (1 + z (1 - \sigma(z)))`."""
    sig = expit(Z)
    delta *= sig * (1 + Z * (1 - sig))
    return delta


ACTIVATIONS = {
    "identity": Activation(_identity, _identity_derivative, glorot_uniform_bound),
    "logistic": Activation(_logistic, _logistic_derivative, logistic_bound),
    "tanh": Activation(_tanh, _tanh_derivative, glorot_uniform_bound),
    "relu": Activation(_relu, _relu_derivative),
    "leaky_relu": Activation(_leaky_relu, _leaky_relu_derivative),
    "elu": Activation(_elu, _elu_derivative),
    "softplus": Activation(_softplus, _softplus_derivative),
    "gelu": Activation(_gelu, _gelu_derivative, needs_z=True),
    "silu": Activation(_silu, _silu_derivative, needs_z=True),
}
