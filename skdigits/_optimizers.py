r"""Stochastic optimizers that update one flat parameter vector in place.

The network keeps every weight and bias in a single contiguous vector
``theta`` and its gradient in a vector ``grad`` of the same layout, so a step
is one kernel call over a few vectors, whatever the number of layers: in-place
numpy ufuncs, or one compiled loop when numba is installed (:mod:`._kernels`;
the same bits either way). (Not scipy's BLAS ``axpy``: scipy ships its own
OpenBLAS, whose threads would fight numpy's for the cores.) The formulas and
defaults are those of scikit-learn's ``MLPClassifier``.

The ``'cosine'`` schedule is ours and works for both solvers: the step size of
step :math:`k` (0-based) of a budget of :math:`T` steps is

.. math::

    \eta_k = \frac{\eta_0}{2} \left(1 + \cos\frac{\pi \min(k, T)}{T}\right),

so it falls from ``learning_rate_init`` towards 0 over the planned steps
(:meth:`_FlatOptimizer.plan`). scikit-learn's ``'constant'``, ``'invscaling'``
and ``'adaptive'`` keep their sgd-only meaning: Adam ignores them.

``OPTIMIZERS`` maps the ``solver`` name to its class.
"""

import math

import numpy as np

from skdigits._kernels import kernels
from skdigits._network import flush_negligible


class _FlatOptimizer:
    """Shared learning-rate handling; subclasses implement :meth:`step`."""

    def __init__(self, theta, learning_rate_init, learning_rate="constant"):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = learning_rate
        self.n_params, self.dtype = theta.size, theta.dtype
        self.n_steps, self.planned_steps = 0, None

    def plan(self, n_steps):
        """Set the number of steps the ``'cosine'`` schedule anneals over."""
        self.planned_steps = max(int(n_steps), 1)

    def _next_rate(self):
        """The step size of the coming step (``'cosine'`` moves it every step)."""
        if self.lr_schedule == "cosine":
            budget = self.planned_steps or 1
            done = min(self.n_steps, budget) / budget
            self.learning_rate = (
                0.5 * self.learning_rate_init * (1.0 + math.cos(math.pi * done))
            )
        self.n_steps += 1
        return self.learning_rate

    def matches(self, theta):
        """Whether this optimizer's state fits the parameter vector ``theta``."""
        return theta.size == self.n_params and theta.dtype == self.dtype

    def _scalars(self, *values):
        """The step's scalars in the parameters' dtype, as both kernels use them."""
        return tuple(self.dtype.type(value) for value in values)

    def _decay(self, decay, n_decay):
        """``(decay, n_decay)`` for the kernels: no entries when there is no decay."""
        return self.dtype.type(decay), int(n_decay) if decay else 0

    def iteration_ends(self, time_step):
        """Called after each epoch with the number of samples seen so far."""

    def _state(self):
        """The optimizer's state vectors, laid out like ``theta``."""
        return ()

    def flush_negligible(self, theta):
        """Zero the negligible entries of ``theta`` and of the optimizer's state.

        Called once an epoch: see :func:`skdigits._network.flush_negligible`.
        """
        for values in (theta, *self._state()):
            flush_negligible(values)

    def trigger_stopping(self, msg, verbose):
        """Whether to stop when the loss stalls; adaptive schedules decay instead."""
        if verbose:
            print(msg + " Stopping.")
        return True


class SGD(_FlatOptimizer):
    r"""Stochastic gradient descent with momentum, optionally Nesterov's.

    .. math::

        v \leftarrow \mu v - \eta g, \qquad
        \theta \leftarrow \theta + v \quad\text{or, with Nesterov,}\quad
        \theta \leftarrow \theta + \mu v - \eta g

    ``learning_rate`` is the schedule: ``'constant'``, ``'invscaling'``
    (:math:`\eta_t = \eta_0 / (t + 1)^{p}` with ``t`` the samples seen),
    ``'adaptive'`` (divided by 5 each time the loss stalls) or ``'cosine'``
    (see the module docstring).
    """

    def __init__(
        self,
        theta,
        learning_rate_init=0.1,
        learning_rate="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(theta, learning_rate_init, learning_rate)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self.velocity = np.zeros_like(theta)

    def _state(self):
        return (self.velocity,)

    def step(self, theta, grad, work=None, decay=0.0, n_decay=0):
        """Update ``theta`` in place from ``grad``; ``work`` is scratch space.

        ``decay`` adds ``decay * theta`` to the gradient of the first
        ``n_decay`` entries (the L2 term, see :mod:`._kernels`).
        """
        work = np.empty_like(theta) if work is None else work
        lr, mu = self._scalars(self._next_rate(), self.momentum)
        decay, n_decay = self._decay(decay, n_decay)
        kernels()["sgd"](
            lr, mu, self.nesterov, decay, n_decay, theta, grad, work, self.velocity
        )

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                self.learning_rate_init / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class Adam(_FlatOptimizer):
    r"""Adam (Kingma & Ba, 2014), bias correction folded into the step size.

    .. math::

        m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
        \theta \leftarrow \theta - \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
        \frac{m}{\sqrt{v} + \epsilon}

    To save two passes over the parameters per step, the moments are stored
    as :math:`\tilde m = m / (1 - \beta_1)` and :math:`\tilde v = v / (1 - \beta_2)`,
    so :math:`\tilde m \leftarrow \beta_1 \tilde m + g` and
    :math:`\tilde v \leftarrow \beta_2 \tilde v + g^2`; the step is the same.
    """

    def __init__(
        self,
        theta,
        learning_rate_init=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        learning_rate="constant",
    ):
        super().__init__(theta, learning_rate_init, learning_rate)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self.m = np.zeros_like(theta)
        self.v = np.zeros_like(theta)

    def _state(self):
        return (self.m, self.v)

    def step(self, theta, grad, work, decay=0.0, n_decay=0):
        """Update ``theta`` in place from ``grad``; ``work`` is scratch space.

        ``decay`` adds ``decay * theta`` to the gradient of the first
        ``n_decay`` entries (the L2 term, see :mod:`._kernels`).
        """
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        root = np.sqrt(1.0 - b2)
        lr = self._next_rate() * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        eps, lr = self.epsilon / root, lr * (1.0 - b1) / root
        b1, b2, eps, lr = self._scalars(b1, b2, eps, lr)
        decay, n_decay = self._decay(decay, n_decay)
        kernels()["adam"](
            b1, b2, eps, lr, decay, n_decay, theta, grad, work, self.m, self.v
        )


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
