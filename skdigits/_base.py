"""What the two estimators share: parameters, checks, the network, the fit.

:class:`BaseNumpyMLP` is to :class:`~skdigits.NumpyMLPClassifier` and
:class:`~skdigits.NumpyMLPRegressor` what scikit-learn's
``BaseMultilayerPerceptron`` is to ``MLPClassifier`` and ``MLPRegressor``.
It checks the parameters once at the top of ``fit``, validates ``X``, builds
the network and hands the training to :mod:`skdigits._training`. A subclass
says only what differs:

* ``_validate_input(X, y, incremental, reset)``: ``(X, Y, y)``, with ``Y``
  the targets as the output layer sees them (one-hot labels, or values);
* ``_output_activation()``: the key of ``OUTPUTS`` the output layer uses;
* ``_class_weights(sample_weight, X, y)``: per-row loss weights (the
  classifier's ``class_weight``);
* ``_stratified``: whether the early-stopping split is stratified;
* ``_classes``: the classes a checkpoint's data digest includes (None);
* ``predict`` and friends, ``score`` (the mixins) and ``__sklearn_tags__``.
"""

import contextlib
import inspect
import os
import threading
from collections import namedtuple
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from skdigits._activations import ACTIVATIONS
from skdigits._checkpoint import (
    TrainingCheckpoint,
    data_digest,
    fingerprint,
    fit_parameters,
)
from skdigits._network import Network, logits
from skdigits._optimizers import OPTIMIZERS, SCHEDULES, optimizer_params
from skdigits._progress import Progress, SklearnCallbacks
from skdigits._sklearn_compat import (
    Interval,
    Options,
    StrOptions,
    _check_sample_weight,
    _fit_context,
)
from skdigits._training import (
    FITTED,
    RowWeights,
    Settings,
    Training,
    fit_lbfgs,
    fit_stochastic,
)

try:  # scikit-learn >= 1.9: set_callbacks, ProgressBar, ScoringMonitor
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older scikit-learn: no callback API

    class CallbackSupportMixin:
        """Nothing: this scikit-learn has no callback API."""


__all__ = ["BaseNumpyMLP", "Layers"]

#: The hidden layers as the parameters give them, checked: sizes, activation
#: names and dropout rates, one per hidden layer.
Layers = namedtuple("Layers", ["sizes", "activations", "dropout"])


class BaseNumpyMLP(CallbackSupportMixin, BaseEstimator):
    """The parameters and the fit the two skdigits MLPs share.

    Not meant to be used directly: see :class:`~skdigits.NumpyMLPClassifier`
    and :class:`~skdigits.NumpyMLPRegressor`, whose docstrings describe the
    parameters.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS)), list, tuple],
        "solver": [StrOptions({"lbfgs", *OPTIMIZERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
        "callback": [callable, None],
        "augment": [callable, None],
        "checkpoint": [str, os.PathLike, None],
    }

    #: Whether the early-stopping split is stratified on the target.
    _stratified = False

    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        *,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
        dropout,
        callback,
        augment,
        checkpoint,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.callback = callback
        self.augment = augment
        self.checkpoint = checkpoint

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. float32 input is trained in float32 throughout.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets: class labels or a multilabel indicator matrix
            (classifier), values (regressor).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (multiplied by ``class_weight`` in the
            classifier).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in OPTIMIZERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                "%s is not stochastic." % self.solver
            )
        return True

    def _fit(self, X, y, sample_weight, incremental):
        layers = self._check_params(incremental)
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        X, Y, y = self._validate_input(X, y, incremental, reset=first_pass)
        weights = self._row_weights(sample_weight, X, y)
        layer_units = [X.shape[1], *layers.sizes, Y.shape[1]]
        net = self._network(layer_units, layers.activations, X.dtype, first_pass)
        callbacks = SklearnCallbacks(self, X, y, weights.sample_weight)
        data = (X, Y, weights)
        # Overflow shows up as a non-finite loss, which stops training with an
        # actionable error; numpy's own warnings would only be noise before it.
        with _blas_threads_per_job(), np.errstate(over="ignore", invalid="ignore"):
            if self.solver == "lbfgs":
                progress = Progress(self, callbacks)
                self.n_iter_, self.loss_ = fit_lbfgs(
                    net, data, Settings.of(self), progress
                )
            else:
                fresh = first_pass or self.checkpoint is None
                start = None if fresh else net.theta.copy()
                checkpoint = self._training_checkpoint(data, start, incremental)
                progress = Progress(self, callbacks, checkpoint)
                training = self._start_training(net, data, layers, incremental)
                fit_stochastic(training, progress)
                self._keep_training_state(training)
        if not np.isfinite(net.theta).all():
            raise ValueError(
                "Training produced non-finite weights. Lower learning_rate_init or "
                "scale the inputs."
            )
        self.coefs_, self.intercepts_ = net.views(net.theta)
        progress.end()
        return self

    # ------------------------------------------------------- validation
    def _check_params(self, incremental):
        """The checks ``_parameter_constraints`` cannot make, once per fit.

        Returns
        -------
        layers : Layers
            The hidden layers' sizes, activations and dropout rates.
        """
        sizes = self._hidden_sizes()
        activations = self._per_layer("activation", sizes, self._check_activation)
        rates = self._per_layer("dropout", sizes, self._check_rate)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.solver == "lbfgs":
            for name, used, off in (
                ("dropout", any(rates), "0"),
                ("augment", self.augment is not None, "None"),
                ("checkpoint", self.checkpoint is not None, "None"),
            ):
                if used:
                    raise ValueError(
                        f"{name} needs a stochastic solver: use solver='adam' or "
                        f"'sgd', or set {name}={off} with solver='lbfgs'."
                    )
        return Layers(sizes, activations, rates)

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(not isinstance(s, Integral) or s <= 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {sizes}."
            )
        return sizes

    def _per_layer(self, name, hidden, check):
        """Broadcast a scalar parameter to one value per hidden layer."""
        value = getattr(self, name)
        if isinstance(value, (list, tuple)):
            if len(value) != len(hidden):
                raise ValueError(
                    f"{name} has {len(value)} entries but hidden_layer_sizes has "
                    f"{len(hidden)} layers: give one {name} or one per hidden layer."
                )
            values = list(value)
        else:
            values = [value] * len(hidden)
        for v in values:
            check(v)
        return values

    @staticmethod
    def _check_activation(name):
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise ValueError(
                f"activation {name!r} is not one of {sorted(ACTIVATIONS)}."
            )

    @staticmethod
    def _check_rate(rate):
        if not isinstance(rate, Real) or not 0 <= rate < 1:
            raise ValueError(f"dropout must be in [0, 1), got {rate!r}.")

    def _validate_X_y(self, X, y, reset, y_numeric=False):
        """``validate_data`` as both estimators call it, X in CSR if sparse."""
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=y_numeric,
            dtype=(np.float64, np.float32),
            order="C",  # minibatches gather rows: one copy if X is Fortran-ordered
            reset=reset,
        )
        if sp.issparse(X):
            if self.augment is not None:
                raise ValueError(
                    "augment works on dense images: pass X as a dense array "
                    "(X.toarray()) or set augment=None."
                )
            X = X.tocsr()
        return X, y

    def _row_weights(self, sample_weight, X, y):
        """Per-row loss weights (sample_weight times class_weight) and normaliser."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
            if not sample_weight.any():  # scikit-learn < 1.9 lets it through
                raise ValueError(
                    "Sample weights must contain at least one non-zero number: "
                    "give some samples a positive sample_weight."
                )
        return RowWeights(self._class_weights(sample_weight, X, y), sample_weight)

    def _class_weights(self, sample_weight, X, y):
        """The per-row loss weights: ``sample_weight`` (None: all ones)."""
        return sample_weight

    # ------------------------------------------------------------ network
    def _network(self, layer_units, activations, dtype, first_pass):
        output = self._output_activation()
        net = Network(layer_units, activations, output, dtype)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            net.initialize(self._random_state)
            self._initialize_attributes(net, output)
            return net
        old_units = [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]]
        if old_units != list(layer_units):
            raise ValueError(
                f"The network has layers {old_units} but the parameters now ask for "
                f"{list(layer_units)}; set warm_start=False to start afresh."
            )
        net.set_params(self.coefs_, self.intercepts_)
        return net

    def _initialize_attributes(self, net, output):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = net.layer_units[-1]
        self.n_layers_ = net.n_layers
        self.out_activation_ = output
        if self.solver in OPTIMIZERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self.validation_loss_curve_ = [] if self.early_stopping else None
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
            self.best_loss_ = None if self.early_stopping else np.inf

    # -------------------------------------------------------- sgd / adam
    def _training_checkpoint(self, data, start, incremental):
        """The ``checkpoint`` file of this fit with its fingerprint, or None
        (no ``checkpoint``, or ``partial_fit``, which ignores it).

        ``start`` is the starting weights when ``warm_start`` continues a
        previous fit (the fingerprint's ``"start"`` part), else None.
        """
        if self.checkpoint is None or incremental:
            return None
        X, Y, weights = data
        parameters = fit_parameters(self)
        digest = data_digest(X, Y, self._classes, weights.sample_weight)
        return TrainingCheckpoint(
            self.checkpoint, fingerprint(parameters, digest, start), parameters
        )

    @property
    def _classes(self):
        """The classes the data digest of a checkpoint includes (None here)."""
        return None

    def _start_training(self, net, data, layers, incremental):
        """The state of a stochastic fit, before its first epoch."""
        fitted = {name: getattr(self, name, None) for name in FITTED}
        fitted["n_iter_"] = 0
        return Training.start(
            net,
            data,
            self._optimizer_for(net, incremental),
            Settings.of(self),
            random_state=self._random_state,
            dropout=layers.dropout,
            augment=self.augment,
            stratify=self._stratified and self.n_outputs_ == 1,
            fitted=fitted,
            incremental=incremental,
            own_random_state=not isinstance(self.random_state, np.random.RandomState),
        )

    def _keep_training_state(self, training):
        """The fitted attributes of a finished stochastic fit."""
        for name in FITTED:
            setattr(self, name, training.fitted[name])
        self._random_state = training.random_state

    def _optimizer_for(self, net, incremental):
        old = getattr(self, "_optimizer", None)
        if incremental and old is not None and old.matches(net.theta):
            return old
        params = {name: getattr(self, name) for name in optimizer_params(self.solver)}
        optimizer = OPTIMIZERS[self.solver](net.theta, **params)
        self._optimizer = optimizer
        return optimizer

    # ------------------------------------------------------------ predict
    def __setstate__(self, state):
        """Load a model saved before one of today's parameters existed (the
        bundled file predates ``checkpoint``): each missing parameter takes its
        default, which is what that older code did, so ``repr``,
        ``get_params`` and ``clone`` work on it."""
        for name, default in _parameter_defaults(type(self)).items():
            state.setdefault(name, default)
        super().__setstate__(state)

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        # the fitted arrays as they are (cast only if X's dtype is wider): a
        # prediction copies no weights
        dtype = np.result_type(X.dtype, self.coefs_[0].dtype)
        coefs = [W.astype(dtype, copy=False) for W in self.coefs_]
        intercepts = [b.astype(dtype, copy=False) for b in self.intercepts_]
        hidden = [W.shape[1] for W in coefs[:-1]]
        names = self._per_layer("activation", hidden, self._check_activation)
        activations = [ACTIVATIONS[name] for name in names]
        return logits(X, coefs, intercepts, activations)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _blas_threads_per_job():
    """Limit BLAS to one thread when fit runs in a thread of its own.

    Parallel fits must not oversubscribe the cores. joblib's default (loky)
    worker processes and Dask's workers already start with one BLAS thread
    each; fits run by joblib's threading backend, or by the user's own
    threads, share the process's BLAS pool, so it is limited here
    (threadpoolctl) for the duration of the fit.
    """
    if threading.current_thread() is threading.main_thread():
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _parameter_defaults(cls):
    """``{name: default}`` of the constructor's parameters that have one."""
    return {
        name: parameter.default
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.default is not parameter.empty
    }
