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

Two registries are the single source of truth: ``SCHEDULES`` maps the
``learning_rate`` name to its :class:`Schedule`, and ``OPTIMIZERS`` maps the
``solver`` name to its class, whose constructor's keyword arguments are the
estimator parameters it takes (:func:`optimizer_params`).
"""

import inspect
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from skdigits._kernels import kernels
from skdigits._network import flush_negligible


def _cosine_rate(rate_init, n_steps, planned_steps):
    """Step ``n_steps`` (0-based) of a cosine annealing over ``planned_steps``."""
    done = min(n_steps, planned_steps) / planned_steps
    return 0.5 * rate_init * (1.0 + math.cos(math.pi * done))


def _invscaling_rate(rate_init, samples_seen, power_t):
    """scikit-learn's ``'invscaling'``: :math:`\\eta_0 / (t + 1)^{p}`."""
    return rate_init / (samples_seen + 1) ** power_t


def _adaptive_rate(rate):
    """scikit-learn's ``'adaptive'`` on a stall: divide by 5, or None to stop."""
    return None if rate <= 1e-6 else rate / 5.0


@dataclass(frozen=True)
class Schedule:
    """How a ``learning_rate`` schedule moves the step size.

    Attributes
    ----------
    step_rate : callable or None
        ``step_rate(rate_init, n_steps, planned_steps)``: the rate of every step.
    epoch_rate : callable or None
        ``epoch_rate(rate_init, samples_seen, power_t)``: the rate after each
        epoch.
    on_stall : callable or None
        ``on_stall(rate)`` when the loss stalls: the new rate, or None to stop.
        Without it a stall stops training.
    is_plan : bool
        The schedule is the plan: it runs to ``max_iter`` (only early
        stopping's validation score cuts it short) and reaching ``max_iter``
        is no convergence failure.
    sgd_only : bool
        scikit-learn's meaning: Adam ignores the schedule (steps at a constant
        ``learning_rate_init``).
    """

    step_rate: Optional[Callable] = None
    epoch_rate: Optional[Callable] = None
    on_stall: Optional[Callable] = None
    is_plan: bool = False
    sgd_only: bool = False


SCHEDULES = {
    "constant": Schedule(),
    "invscaling": Schedule(epoch_rate=_invscaling_rate, sgd_only=True),
    "adaptive": Schedule(on_stall=_adaptive_rate, sgd_only=True),
    "cosine": Schedule(step_rate=_cosine_rate, is_plan=True),
}


class _FlatOptimizer:
    """Shared learning-rate handling; subclasses implement :meth:`step`."""

    # whether scikit-learn's sgd-only schedules apply to this optimizer
    takes_sgd_schedules = False

    def __init__(
        self, theta, learning_rate_init, learning_rate="constant", power_t=0.5
    ):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        # the name, not the Schedule: a model file holds no functions
        self.lr_schedule = learning_rate
        self.power_t = float(power_t)
        self.n_params, self.dtype = theta.size, theta.dtype
        self.n_steps, self.planned_steps = 0, None

    def __setstate__(self, state):
        # a model pickled while the optimizer held its Schedule (not its name)
        if "schedule" in state and "lr_schedule" not in state:
            schedule = state.pop("schedule")
            state["lr_schedule"] = next(
                name for name, known in SCHEDULES.items() if known == schedule
            )
        self.__dict__.update(state)

    @property
    def schedule(self):
        """The :class:`Schedule` this optimizer follows (Adam: only its own)."""
        schedule = SCHEDULES[self.lr_schedule]
        if schedule.sgd_only and not self.takes_sgd_schedules:
            return SCHEDULES["constant"]
        return schedule

    def plan(self, n_steps):
        """Set the number of steps a per-step schedule (``'cosine'``) spans."""
        self.planned_steps = max(int(n_steps), 1)

    def _next_rate(self):
        """The step size of the coming step (a per-step schedule moves it)."""
        if self.schedule.step_rate is not None:
            self.learning_rate = self.schedule.step_rate(
                self.learning_rate_init, self.n_steps, self.planned_steps or 1
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
        if self.schedule.epoch_rate is not None:
            self.learning_rate = self.schedule.epoch_rate(
                self.learning_rate_init, time_step, self.power_t
            )

    # names of the state vectors, laid out like ``theta`` (see ``_state``)
    _state_names = ()
    # names of the scalars that change while training
    _scalar_names = ("learning_rate", "n_steps", "planned_steps")

    def _state(self):
        """The optimizer's state vectors, laid out like ``theta``."""
        return tuple(getattr(self, name) for name in self._state_names)

    def state_dict(self):
        """What changes while training: a step resumed from it is the same step.

        Returns
        -------
        state : dict
            ``"scalars"``, a dict of JSON-able numbers (the current
            ``learning_rate``, ``n_steps``, ``planned_steps``, and Adam's ``t``),
            and ``"arrays"``, a dict of the state vectors (SGD's ``velocity``,
            Adam's ``m`` and ``v``), which are the optimizer's own arrays, not
            copies.
        """
        return {
            "scalars": {name: getattr(self, name) for name in self._scalar_names},
            "arrays": dict(zip(self._state_names, self._state())),
        }

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned, copying into this optimizer.

        Parameters
        ----------
        state : dict
            ``{"scalars": ..., "arrays": ...}`` as :meth:`state_dict` gives it.

        Raises
        ------
        ValueError
            If a scalar or an array is missing, or an array's shape or dtype
            is not this optimizer's.
        """
        scalars, arrays = state["scalars"], state["arrays"]
        missing = [n for n in self._scalar_names if n not in scalars] + [
            n for n in self._state_names if n not in arrays
        ]
        if missing:
            raise ValueError(f"the optimizer state lacks {', '.join(missing)}")
        for name, target in zip(self._state_names, self._state()):
            source = np.asarray(arrays[name])
            if source.shape != target.shape or source.dtype != target.dtype:
                raise ValueError(
                    f"the optimizer's {name} has shape {source.shape} and dtype "
                    f"{source.dtype}, not {target.shape} and {target.dtype}"
                )
        for name, target in zip(self._state_names, self._state()):
            target[...] = arrays[name]
        self.learning_rate = float(scalars["learning_rate"])
        self.n_steps = int(scalars["n_steps"])
        planned = scalars["planned_steps"]
        self.planned_steps = None if planned is None else int(planned)
        self._load_scalars(scalars)

    def _load_scalars(self, scalars):
        """Restore the scalars a subclass adds to ``_scalar_names``."""

    def flush_negligible(self, theta):
        """Zero the negligible entries of ``theta`` and of the optimizer's state.

        Called once an epoch: see :func:`skdigits._network.flush_negligible`.
        """
        for values in (theta, *self._state()):
            flush_negligible(values)

    def on_stall(self, msg):
        """What a stalled loss does: ``(stop, text)``.

        Without an ``on_stall`` schedule, or when the adaptive rate is too
        small, training stops; otherwise the rate decays and training goes on.
        ``text`` is ``msg`` with what was done, as ``verbose`` prints it.
        """
        if self.schedule.on_stall is None:
            return True, msg + " Stopping."
        rate = self.schedule.on_stall(self.learning_rate)
        if rate is None:
            return True, msg + " Learning rate too small. Stopping."
        self.learning_rate = rate
        return False, msg + " Setting learning rate to %f" % self.learning_rate

    def trigger_stopping(self, msg, verbose):
        """Whether to stop when the loss stalls; adaptive schedules decay instead.

        :meth:`on_stall`, printing its text when ``verbose``.
        """
        stop, text = self.on_stall(msg)
        if verbose:
            print(text)
        return stop


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

    takes_sgd_schedules = True

    def __init__(
        self,
        theta,
        learning_rate_init=0.1,
        learning_rate="constant",
        momentum=0.9,
        nesterovs_momentum=True,
        power_t=0.5,
    ):
        super().__init__(theta, learning_rate_init, learning_rate, power_t)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterovs_momentum)
        self.velocity = np.zeros_like(theta)

    _state_names = ("velocity",)

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

    _state_names = ("m", "v")
    _scalar_names = (*_FlatOptimizer._scalar_names, "t")

    def _load_scalars(self, scalars):
        self.t = int(scalars["t"])

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


def optimizer_params(solver):
    """The estimator parameters ``OPTIMIZERS[solver]`` takes, in its order.

    They are its constructor's arguments after ``theta``, named as the
    estimator's parameters.

    >>> optimizer_params("adam")
    ('learning_rate_init', 'beta_1', 'beta_2', 'epsilon', 'learning_rate')
    """
    names = tuple(inspect.signature(OPTIMIZERS[solver]).parameters)
    return names[1:]
