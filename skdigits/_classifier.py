"""NumpyMLPClassifier: scikit-learn's MLPClassifier API on our own NumPy network."""

import contextlib
import math
import os
import threading
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from skdigits._activations import ACTIVATIONS
from skdigits._checkpoint import (
    TrainingCheckpoint,
    data_digest,
    fingerprint,
    fit_parameters,
)
from skdigits._dropout import DropoutMasks, row_keys
from skdigits._losses import OUTPUTS, mean_loss
from skdigits._network import Network, Workspace, logits
from skdigits._optimizers import OPTIMIZERS, SCHEDULES, optimizer_params
from skdigits._sklearn_compat import (
    Interval,
    Options,
    StrOptions,
    _check_partial_fit_first_call,
    _check_sample_weight,
    _fit_context,
)

# An epoch whose mean data loss exceeds this many times that of a uniform
# guess has diverged, even while the loss is still finite.
_DIVERGENCE_FACTOR = 100.0

try:  # scikit-learn >= 1.9: set_callbacks, ProgressBar, ScoringMonitor
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older scikit-learn: no callback API

    class CallbackSupportMixin:
        """Nothing: this scikit-learn has no callback API."""


_DIVERGED = (
    "The training loss became {value:.4g} at iteration {it}: training diverged. "
    "Lower learning_rate_init (it is {lr}) or scale the inputs (e.g. pixels to "
    "[0, 1] with skdigits.PixelScaler or StandardScaler)."
)


class NumpyMLPClassifier(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained by our own NumPy backprop.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: the same
    parameters, defaults, methods and fitted attributes, with every forward
    and backward step, loss and optimizer written here in NumPy. Its
    differences from ``MLPClassifier`` (the initial weights among them) and
    the parameters it adds are listed in the user guide, "Differences from
    scikit-learn".

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.

    activation : str or list of str, default='relu'
        Hidden-layer activation, one name for all layers or one per layer:
        'identity', 'logistic', 'tanh', 'relu', 'leaky_relu' (slope 0.01),
        'elu', 'softplus', 'gelu' (exact, with erf) or 'silu'.

    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'lbfgs' minimises the full-batch loss with scipy's L-BFGS-B driven by
        our loss and gradient; 'sgd' is minibatch SGD with momentum; 'adam'
        is Adam (Kingma & Ba, 2014).

    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the (weighted) sample count.

    batch_size : int or 'auto', default='auto'
        Minibatch size for 'sgd' and 'adam'; 'auto' is ``min(200, n_samples)``.

    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine'}, \
            default='constant'
        Learning-rate schedule. 'constant', 'invscaling' and 'adaptive' are
        scikit-learn's, for 'sgd' only (Adam ignores them). 'cosine', for
        'sgd' and 'adam', anneals from ``learning_rate_init`` towards 0 over
        ``max_iter`` epochs, step by step:
        :math:`\\eta_k = \\tfrac{\\eta_0}{2}(1 + \\cos(\\pi k / T))` for step
        :math:`k` of :math:`T` = ``max_iter`` times the batches per epoch.
        The schedule is then the plan: a stalled training loss does not stop
        it (only ``early_stopping``'s validation score can), and reaching
        ``max_iter`` raises no ConvergenceWarning.

    learning_rate_init : float, default=0.001
        Initial step size of 'sgd' and 'adam'.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    max_iter : int, default=200
        Epochs for 'sgd'/'adam'; iterations for 'lbfgs'.

    shuffle : bool, default=True
        Shuffle the samples every epoch ('sgd'/'adam').

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the early-stopping split and
        the dropout masks. An int gives reproducible fits.

    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement; for
        'lbfgs', the gradient tolerance.

    verbose : bool, default=False
        Print the loss after every iteration ("Iteration N, loss = ...").

    warm_start : bool, default=False
        Start ``fit`` from the previous solution.

    momentum : float, default=0.9
        Momentum of 'sgd', in [0, 1].

    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with 'sgd'.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and stop when
        its accuracy stops improving; the best weights are kept.

    validation_fraction : float, default=0.1
        Share of the training data held out with ``early_stopping``.

    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.

    epsilon : float, default=1e-8
        Adam's numerical-stability constant.

    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.

    max_fun : int, default=15000
        Maximum loss evaluations of 'lbfgs'.

    dropout : float or list of float, default=0.0
        Inverted-dropout probability, one value for every hidden layer or one
        per layer, in [0, 1). Applied while training with 'sgd'/'adam' only,
        never at predict time.

    class_weight : dict, 'balanced' or None, default=None
        Weights per class, multiplied into ``sample_weight`` as in
        scikit-learn's linear models. 'balanced' uses
        ``n_samples / (n_classes * np.bincount(y))`` (with sample weights
        counted); in ``partial_fit`` it is computed on each call's ``y``.
        Not applied to multilabel targets (a warning says so).

    callback : callable or None, default=None
        Called after every 'sgd'/'adam' epoch as ``callback(info)`` with a
        dict: ``epoch`` (1-based), ``max_iter``, ``loss``,
        ``validation_score`` and ``validation_loss`` (None without early
        stopping) and ``seconds`` (the epoch's wall time). The estimator's
        ``coefs_`` and ``intercepts_`` hold that epoch's weights during the
        call, so the callback may score the estimator (``predict``, ``score``)
        to follow held-out accuracy.

    augment : callable or None, default=None
        Training-time augmentation for 'sgd'/'adam', such as
        :class:`skdigits.augment.RandomAffine`: called as
        ``augment(X_batch, rng)`` on every training minibatch of ``fit`` and
        ``partial_fit`` (a new draw every epoch), with a
        :class:`numpy.random.Generator` seeded from ``random_state``. Never
        applied to the early-stopping validation split, nor in ``predict``,
        ``predict_proba`` or ``score``. None trains on the data as given.

    checkpoint : str, path-like or None, default=None
        A file that makes ``fit`` with 'sgd' or 'adam' survive being killed.
        After every epoch ``fit`` writes the whole state of the fit there
        (weights, optimizer moments and step count, early-stopping state,
        curves, and the state of every random generator: shuffles, dropout
        masks, augmentation), atomically: a kill during the write leaves the
        previous epoch's file as it was. When the file exists and belongs to
        this fit (same data, same parameters but ``callback``, ``verbose`` and
        ``checkpoint``, same starting weights), ``fit`` resumes from it, and
        the model it returns equals, bit for bit, the one an uninterrupted
        fit gives (with ``random_state=None`` too). A file of another fit is
        not used: a :class:`~skdigits.CheckpointWarning` names what
        differs and the fit starts afresh, overwriting it (a resumed fit says
        so with a :class:`~skdigits.ResumeWarning`). A file that
        is not a readable checkpoint raises
        :class:`~skdigits.CheckpointError` and is left as it was.
        One file per fit: a search that clones the estimator would make its
        fits overwrite each other's file, each starting afresh.
        The file is kept when the fit ends, so that running the same fit
        again returns the finished model at once, without training; delete
        it when the model is saved (``skdigits train`` does). With a
        checkpoint, Ctrl-C (KeyboardInterrupt) is not turned into a warning:
        it leaves the file at the last finished epoch and propagates, so that
        no half-trained model looks finished. 'lbfgs' cannot checkpoint (a
        ValueError says so); ``partial_fit`` ignores ``checkpoint``. See the
        Notes.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels.
    loss_ : float
        The loss at the end of training, L2 penalty included.
    best_loss_ : float or None
        Best training loss ('sgd'/'adam'); None with early stopping.
    loss_curve_ : list of float
        Training loss after each epoch ('sgd'/'adam').
    validation_scores_ : list of float or None
        Validation accuracy after each epoch, with early stopping.
    validation_loss_curve_ : list of float or None
        Validation log-loss (no L2 term) after each epoch, with early stopping.
    best_validation_score_ : float or None
        Best validation accuracy, with early stopping.
    t_ : int
        Training samples seen by the solver.
    coefs_ : list of ndarray
        Weight matrix of each layer, shape (fan_in, fan_out).
    intercepts_ : list of ndarray
        Bias vector of each layer.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X had string column names.
    n_iter_ : int
        Iterations (epochs) run by the solver.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        'softmax' for multiclass, 'logistic' for binary and multilabel.

    Notes
    -----
    ``checkpoint`` is a parameter rather than a callback: it works with every
    scikit-learn skdigits supports (a callback needs the callback API of
    scikit-learn >= 1.9), and resuming means restoring the estimator's
    private state (optimizer, generators, validation split) before the first
    epoch, which no callback can do. ``partial_fit`` ignores it: there the
    loop over the data is the caller's, so what comes next is not the
    estimator's to resume (save the model between calls instead).

    On scikit-learn >= 1.9 the estimator supports ``set_callbacks``:
    ``fit`` is a task with one subtask per epoch (per L-BFGS iteration with
    'lbfgs'), so ``sklearn.callback.ProgressBar`` shows the epochs, nested
    under ``GridSearchCV``, ``cross_validate`` or a ``Pipeline`` when set on
    them, and ``ScoringMonitor`` records a score per epoch.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skdigits import NumpyMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> model = make_pipeline(
    ...     MinMaxScaler(), NumpyMLPClassifier(hidden_layer_sizes=(64,), random_state=0)
    ... ).fit(X_train, y_train)
    >>> model.score(X_test, y_test) > 0.95
    True
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
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "callback": [callable, None],
        "augment": [callable, None],
        "checkpoint": [str, os.PathLike, None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        class_weight=None,
        callback=None,
        augment=None,
        checkpoint=None,
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
        self.class_weight = class_weight
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
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, multiplied by ``class_weight``.

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

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            All classes over every call; required on the first call.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _fit(self, X, y, sample_weight, incremental):
        hidden = self._hidden_sizes()
        activations = self._per_layer("activation", hidden, self._check_activation)
        rates = self._per_layer("dropout", hidden, self._check_rate)
        self._check_stochastic_options(rates, incremental)
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        X, Y, y = self._validate_input(X, y, incremental, reset=first_pass)
        labels = y if y.ndim == 1 else None
        if self.augment is not None and sp.issparse(X):
            raise ValueError(
                "augment works on dense images: pass X as a dense array "
                "(X.toarray()) or set augment=None."
            )
        weights = self._row_weights(sample_weight, X, labels)
        layer_units = [X.shape[1], *hidden, Y.shape[1]]
        net = self._network(layer_units, activations, X.dtype, first_pass)
        callbacks = _Callbacks(self, X, y, weights.sample_weight)
        # Overflow shows up as a non-finite loss, which stops training with an
        # actionable error; numpy's own warnings would only be noise before it.
        with _blas_threads_per_job(), np.errstate(over="ignore", invalid="ignore"):
            if self.solver == "lbfgs":
                self._fit_lbfgs(net, X, Y, weights, callbacks)
            else:
                fresh = first_pass or self.checkpoint is None
                start = None if fresh else net.theta.copy()
                checkpoint = self._training_checkpoint(
                    X, Y, weights, start, incremental
                )
                run = self._start_run(net, X, Y, weights, rates, incremental)
                self._fit_stochastic(run, checkpoint, callbacks)
        if not np.isfinite(net.theta).all():
            raise ValueError(
                "Training produced non-finite weights. Lower learning_rate_init or "
                "scale the inputs."
            )
        self.coefs_, self.intercepts_ = net.views(net.theta)
        callbacks.end()
        return self

    def _check_stochastic_options(self, rates, incremental):
        """The options that only minibatches ('sgd', 'adam') or ``fit`` have."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.solver != "lbfgs":
            return
        for name, used, off in (
            ("dropout", any(rates), "0"),
            ("augment", self.augment is not None, "None"),
            ("checkpoint", self.checkpoint is not None, "None"),
        ):
            if used:
                raise ValueError(
                    f"{name} needs a stochastic solver: use solver='adam' or 'sgd', "
                    f"or set {name}={off} with solver='lbfgs'."
                )

    def _training_checkpoint(self, X, Y, weights, start, incremental):
        """The ``checkpoint`` file of this fit with its fingerprint, or None
        (no ``checkpoint``, or ``partial_fit``, which ignores it).

        ``start`` is the starting weights when ``warm_start`` continues a
        previous fit (the fingerprint's ``"start"`` part), else None.
        """
        if self.checkpoint is None or incremental:
            return None
        parameters = fit_parameters(self)
        data = data_digest(X, Y, self.classes_, weights.sample_weight)
        return TrainingCheckpoint(
            self.checkpoint, fingerprint(parameters, data, start), parameters
        )

    # ------------------------------------------------------- validation
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

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            order="C",  # minibatches gather rows: one copy if X is Fortran-ordered
            reset=reset,
        )
        if sp.issparse(X):
            X = X.tocsr()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_known_classes(y)
        Y = self._label_binarizer.transform(y).astype(X.dtype)
        return X, Y, y

    def _check_known_classes(self, y):
        classes = unique_labels(y)
        if self.warm_start:
            if set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as "
                    f"in the previous call to fit. Previously got {self.classes_}, "
                    f"`y` has {classes}"
                )
        elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has "
                f"{self.classes_}. 'y' has {classes}."
            )

    def _row_weights(self, sample_weight, X, labels):
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
        return _RowWeights(self._class_weights(sample_weight, X, labels), sample_weight)

    def _class_weights(self, sample_weight, X, labels):
        """sample_weight times class_weight per row, or None when all ones."""
        if self.class_weight is None:
            return sample_weight
        if labels is None:
            warnings.warn(
                "class_weight is not applied to multilabel targets; use "
                "sample_weight instead.",
                UserWarning,
            )
            return sample_weight
        classes = np.asarray(self.classes_)
        if self.class_weight == "balanced":
            per_class = _balanced_weights(classes, labels, sample_weight)
        else:
            per_class = compute_class_weight(
                self.class_weight, classes=classes, y=labels
            )
        weights = per_class[np.searchsorted(classes, labels)].astype(X.dtype)
        return weights if sample_weight is None else weights * sample_weight

    # ------------------------------------------------------------ network
    def _network(self, layer_units, activations, dtype, first_pass):
        output = (
            "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"
        )
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

    # ------------------------------------------------------------- lbfgs
    def _fit_lbfgs(self, net, X, Y, weights, callbacks):
        rows = weights.rows(X.shape[0])
        if rows.size < X.shape[0]:
            X, Y = X[rows], Y[rows]
        w, total = weights.take(rows), weights.total(rows)
        ws = Workspace(net, X.shape[0])

        def loss_grad(theta):
            net.theta[:] = theta
            loss = net.loss_grad(X, Y, w, total, self.alpha, ws)
            return loss, net.grad.astype(np.float64)

        def report(intermediate_result):
            iteration = next(counter)
            if self.verbose:
                print(
                    "Iteration %d, loss = %.8f" % (iteration, intermediate_result.fun)
                )
            task = callbacks.task_begin("iteration")
            callbacks.task_end(task, net, intermediate_result.x)

        counter = iter(range(1, self.max_iter + 1))
        callbacks.begin(self.max_iter)
        result = scipy.optimize.minimize(
            loss_grad,
            net.theta.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=report if self.verbose or callbacks.enabled else None,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
            },
        )
        if result.status != 0:
            warnings.warn(
                "lbfgs failed to converge after %d iterations (%s). Increase max_iter "
                "or scale the data." % (result.nit, result.message),
                ConvergenceWarning,
            )
        if not np.isfinite(result.fun):
            raise ValueError(
                _DIVERGED.format(
                    value=result.fun, it=result.nit, lr=self.learning_rate_init
                )
            )
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        net.theta[:] = result.x

    # -------------------------------------------------------- sgd / adam
    def _start_run(self, net, X, Y, weights, rates, incremental):
        """The loop state of a stochastic fit, before its first epoch.

        The random draws come in a fixed order (split, dropout seed,
        augmentation seed); a resumed fit makes them too, then overwrites
        their results from the checkpoint.
        """
        optimizer = self._optimizer_for(net, incremental)
        train_idx, val_idx = self._split(X, Y, weights)
        batch_size = self._batch_size(train_idx.size)
        masks = self._dropout_masks(X, rates, net.dtype)
        augment = self._augmenter()
        optimizer.plan(self.max_iter * math.ceil(train_idx.size / batch_size))
        self.n_iter_ = 0
        run = _Run(net, optimizer, masks, augment, (X, Y, weights), batch_size)
        run.ws = Workspace(net, batch_size, dropout=any(rates))
        run.best_theta = net.theta.copy() if self.early_stopping else None
        run.incremental = incremental
        run.use_rows(train_idx, val_idx)
        return run

    def _fit_stochastic(self, run, checkpoint, callbacks):
        """Epochs until the run is finished, each one saved to ``checkpoint``."""
        if checkpoint is not None:
            checkpoint.resume(self, run)
        epochs = 0 if run.finished else 1 if run.incremental else None
        callbacks.begin(self.max_iter - self.n_iter_ if epochs is None else epochs)
        interrupted = False
        try:
            while not run.finished:
                run.at_boundary = False
                self._epoch(run, callbacks)
                run.at_boundary = True
                if checkpoint is not None:
                    checkpoint.save(self, run)
        except KeyboardInterrupt:
            if checkpoint is not None:
                # the state is that of a finished epoch the file may not hold yet
                if run.at_boundary and checkpoint.saved_epoch != self.n_iter_:
                    checkpoint.save(self, run)
                raise
            warnings.warn("Training interrupted by user.")
            interrupted = True
        self._end_run(run, interrupted)

    def _epoch(self, run, callbacks):
        """One epoch and its bookkeeping; decides whether the run is finished."""
        start = time.perf_counter()
        task = callbacks.task_begin("epoch")
        order = self._random_state.permutation(run.n_train) if self.shuffle else None
        self.loss_ = self._run_epoch(run, order)
        self.n_iter_ += 1
        self.t_ += run.n_train
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        improved = self._track_progress(run.net, run.val)
        if improved and run.best_theta is not None:
            run.best_theta[:] = run.net.theta
        self._report(run.net, time.perf_counter() - start)
        run.optimizer.iteration_ends(self.t_)
        run.optimizer.flush_negligible(run.net.theta)
        run.stopped = self._should_stop(run.optimizer) or run.incremental
        if callbacks.task_end(task, run.net):
            run.stopped = True
        run.finished = run.stopped or self.n_iter_ >= self.max_iter

    def _end_run(self, run, interrupted):
        """After the last epoch: the convergence warning, the best weights."""
        done = interrupted or run.stopped or run.optimizer.schedule.is_plan
        if not done and self.n_iter_ == self.max_iter:
            warnings.warn(
                "Stochastic Optimizer: Maximum iterations (%d) reached and "
                "the optimization hasn't converged yet." % self.max_iter,
                ConvergenceWarning,
            )
        if run.best_theta is not None:
            run.net.theta[:] = run.best_theta

    def _optimizer_for(self, net, incremental):
        old = getattr(self, "_optimizer", None)
        if incremental and old is not None and old.matches(net.theta):
            return old
        params = {name: getattr(self, name) for name in optimizer_params(self.solver)}
        optimizer = OPTIMIZERS[self.solver](net.theta, **params)
        self._optimizer = optimizer
        return optimizer

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going "
                "to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _split(self, X, Y, weights):
        """Training row indices, and those of the validation set (or None).

        Rows of zero weight are left out of training: they change nothing but
        would use up random draws.
        """
        rows = weights.rows(X.shape[0])
        if not self.early_stopping:
            return rows, None
        # scikit-learn's rule, to the letter: stratify when there is one output
        # unit (a binary target), on the binarized column, and let
        # train_test_split raise its own error for a class of one member.
        # Multiclass (softmax) and multilabel targets are split unstratified.
        stratify = Y[rows].astype(bool) if self.n_outputs_ == 1 else None
        train, val = train_test_split(
            rows,
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if val.size < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        return np.sort(train), val

    def _dropout_masks(self, X, rates, dtype):
        if not any(rates):
            return None
        seed = self._random_state.randint(np.iinfo(np.int32).max)
        return DropoutMasks(rates, row_keys(X), np.random.default_rng(seed), dtype)

    def _augmenter(self):
        """``augment`` bound to its own generator, or None.

        The generator's seed is drawn from ``random_state`` only when there is
        an augmenter, so fits without one keep their random stream.
        """
        if self.augment is None:
            return None
        rng = np.random.default_rng(self._random_state.randint(np.iinfo(np.int32).max))
        return _BoundAugment(self.augment, rng)

    def _run_epoch(self, run, order):
        """One pass over the training rows; returns the mean training loss."""
        net, optimizer, batches, ws = run.net, run.optimizer, run.batches, run.ws
        masks, augment = run.masks, run.augment
        accumulated = data_loss = 0.0
        widths = net.layer_units[1:-1]
        for idx, Xb, Yb in batches(order):
            if augment is not None:
                Xb = augment(Xb)
            drop = None if masks is None else masks.draw(idx, widths)
            wb, total = batches.weights.take(idx), batches.weights.total(idx)
            loss = net.loss_grad(Xb, Yb, wb, total, self.alpha, ws, drop, False)
            if not math.isfinite(loss):
                raise self._diverged(loss)
            # the L2 gradient term is added inside the step, which reads theta anyway
            decay = self.alpha / total if total else 0.0
            optimizer.step(net.theta, net.grad, ws.work, decay, net.n_coef)
            accumulated += loss * Xb.shape[0]
            data_loss += net.data_loss * Xb.shape[0]
        uniform = net.uniform_loss * batches.class_scale
        if data_loss / batches.n_rows > _DIVERGENCE_FACTOR * uniform:
            raise self._diverged(data_loss / batches.n_rows)
        return accumulated / batches.n_rows

    def _diverged(self, loss):
        """The actionable error for a non-finite (or huge) training loss."""
        return ValueError(
            _DIVERGED.format(
                value=loss, it=self.n_iter_ + 1, lr=self.learning_rate_init
            )
        )

    def _track_progress(self, net, val):
        """Update the no-improvement count; True when these weights are the best."""
        if val is None:
            last = self.loss_curve_[-1]
            stalled = last > self.best_loss_ - self.tol
            self._no_improvement_count = (
                self._no_improvement_count + 1 if stalled else 0
            )
            self.best_loss_ = min(self.best_loss_, last)
            return False
        score, loss = self._validation_score(net, *val)
        self.validation_scores_.append(score)
        self.validation_loss_curve_.append(loss)
        if self.verbose:
            print("Validation score: %f" % score)
        stalled = score < self.best_validation_score_ + self.tol
        self._no_improvement_count = self._no_improvement_count + 1 if stalled else 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _validation_score(self, net, X_val, Y_val, w_val):
        Z = net.logits(X_val)
        losses = net.output.loss_and_proba(Z, Y_val)
        y_pred, y_true = self._labels(Z), self._label_binarizer.inverse_transform(Y_val)
        return accuracy_score(y_true, y_pred, sample_weight=w_val), mean_loss(
            losses, w_val
        )

    def _report(self, net, seconds):
        """Call ``callback`` with the epoch's figures.

        The fitted weights are set first, so the callback can score the
        estimator itself (``predict``, ``score``) on the epoch's weights.
        """
        if self.callback is None:
            return
        self.coefs_, self.intercepts_ = net.views(net.theta)
        scores, losses = self.validation_scores_, self.validation_loss_curve_
        self.callback(
            {
                "epoch": self.n_iter_,
                "max_iter": self.max_iter,
                "loss": self.loss_,
                "validation_score": scores[-1] if scores else None,
                "validation_loss": losses[-1] if losses else None,
                "seconds": seconds,
            }
        )

    def _should_stop(self, optimizer):
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        if optimizer.schedule.is_plan and not self.early_stopping:
            return False  # the schedule is the plan: only validation cuts it short
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
            what,
            self.tol,
            self.n_iter_no_change,
        )
        if optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        return False

    # ------------------------------------------------------------ predict
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

    def _output_proba(self, X):
        """The output layer's probabilities (one column for binary targets)."""
        Z = self._logits(X)  # checks that the estimator is fitted
        return OUTPUTS[self.out_activation_].proba(Z)

    def _labels(self, proba):
        """Class labels from output-layer probabilities."""
        return self._label_binarizer.inverse_transform(_squeeze(proba, self.n_outputs_))

    def predict(self, X):
        """Predict the class labels of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        return self._labels(self._output_proba(X))

    def predict_proba(self, X):
        """Probability of each class for the samples in X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        proba = self._output_proba(X)
        if self._label_binarizer.y_type_ == "binary":
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Log of the probability of each class, ``np.log(predict_proba(X))``.

        Computed as scikit-learn's ``MLPClassifier`` computes it, so the two
        agree to the last bit of the logarithm; a probability that underflows
        to 0 gives ``-inf``. (A log-domain log-softmax, finite for any logits,
        is ``Output.log_proba`` in ``skdigits._losses``.)

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
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


def _balanced_weights(classes, labels, sample_weight):
    """``n_samples / (n_classes * bincount(y))`` over the classes present.

    Counts are weighted by ``sample_weight``, so a weight of ``k`` counts like
    ``k`` copies; a class with no (weighted) sample gets weight 0 instead of
    ``inf``.
    """
    counts = np.bincount(
        np.searchsorted(classes, labels), weights=sample_weight, minlength=classes.size
    )
    present = counts > 0
    per_class = np.zeros(classes.size)
    per_class[present] = counts.sum() / (present.sum() * counts[present])
    return per_class


def _squeeze(Z, n_outputs):
    """The logits as LabelBinarizer.inverse_transform expects them."""
    return Z.ravel() if n_outputs == 1 else Z


class _Run:
    """The loop state of a stochastic fit, besides the estimator's attributes.

    What :class:`skdigits._checkpoint.TrainingCheckpoint` saves and restores
    with the fitted attributes: the network's ``theta``, the ``optimizer``,
    ``best_theta`` (early stopping), the training and validation rows, the
    dropout ``masks`` and the ``augment``-er (each with its generator), and
    whether the run has ``stopped``/``finished``.
    """

    def __init__(self, net, optimizer, masks, augment, data, batch_size):
        self.net, self.optimizer = net, optimizer
        self.masks, self.augment = masks, augment
        self.data, self.batch_size = data, batch_size
        self.ws = self.best_theta = None
        self.train_idx = self.val_idx = self.batches = self.val = None
        self.incremental = self.stopped = self.finished = False
        self.at_boundary = True

    @property
    def n_train(self):
        return self.train_idx.size

    def use_rows(self, train_idx, val_idx):
        """Train on rows ``train_idx``; validate on rows ``val_idx`` (or None)."""
        X, Y, weights = self.data
        if self.train_idx is not None:  # restoring: the same sizes, valid rows
            for new, old in ((train_idx, self.train_idx), (val_idx, self.val_idx)):
                _check_rows(new, old, X.shape[0])
        self.train_idx, self.val_idx = train_idx, val_idx
        self.batches = _Batches(X, Y, weights, train_idx, self.batch_size)
        if val_idx is None:
            self.val = None
            return
        w = weights.sample_weight
        self.val = (X[val_idx], Y[val_idx], None if w is None else w[val_idx])


def _check_rows(new, old, n_samples):
    """Row indices restored from a checkpoint: as many as this fit's, in range."""
    if (new is None) != (old is None):
        raise ValueError("training or validation rows missing or unexpected")
    if new is None:
        return
    if new.shape != old.shape or new.dtype.kind not in "iu":
        raise ValueError(f"{new.size} rows of dtype {new.dtype}, not {old.size}")
    if new.size and (new.min() < 0 or new.max() >= n_samples):
        raise ValueError("row indices out of range")


class _BoundAugment:
    """``augment`` bound to its own generator ``rng`` (a checkpoint saves it)."""

    def __init__(self, augment, rng):
        self.augment, self.rng = augment, rng

    def __call__(self, Xb):
        return self.augment(Xb, self.rng)


class _Callbacks:
    """scikit-learn's callbacks (``set_callbacks``, scikit-learn >= 1.9).

    ``fit`` is a task with a subtask per epoch ('sgd'/'adam') or per
    iteration ('lbfgs'). With an older scikit-learn every method does nothing.
    """

    def __init__(self, estimator, X, y, sample_weight):
        self.estimator = estimator
        self.enabled = hasattr(estimator, "_init_callback_context")
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self.kwargs = {"X": X, "y": y, "metadata": metadata}
        self.context = None

    def begin(self, max_subtasks):
        """Start the fit's task, with at most ``max_subtasks`` subtasks."""
        if not self.enabled:
            return
        self.context = self.estimator._init_callback_context(max_subtasks=max_subtasks)
        self.context.call_on_fit_task_begin(estimator=self.estimator, **self.kwargs)

    def task_begin(self, name):
        """Start a subtask (an epoch); None without callbacks."""
        if self.context is None:
            return None
        task = self.context.subcontext(task_name=name)
        task.call_on_fit_task_begin(estimator=self.estimator, **self.kwargs)
        return task

    def task_end(self, task, net, theta=None):
        """End a subtask at weights ``theta`` (default: the network's); True
        when a callback asks to stop."""
        if task is None:
            return False

        def fitted():  # only when a callback asks for the fitted estimator
            flat = net.theta.copy() if theta is None else theta.astype(net.dtype)
            coefs, intercepts = net.views(flat)
            return {"coefs_": coefs, "intercepts_": intercepts}

        return task.call_on_fit_task_end(
            estimator=self.estimator, reconstruction_attributes=fitted, **self.kwargs
        )

    def end(self):
        """End the fit's task, once the estimator is fitted."""
        if self.context is not None:
            self.context.call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes={}, **self.kwargs
            )


class _Batches:
    """Minibatches gathered by index into buffers reused across the fit."""

    def __init__(self, X, Y, weights, rows, batch_size):
        self.X, self.Y, self.weights, self.rows = X, Y, weights, rows
        self.batch_size, self.n_rows = batch_size, rows.size
        self.contiguous = rows.size == X.shape[0]
        self.class_scale = weights.class_scale(rows)  # constant over the fit
        dense = not sp.issparse(X)
        self.Xbuf = np.empty((batch_size, X.shape[1]), X.dtype) if dense else None
        self.Ybuf = np.empty((batch_size, Y.shape[1]), Y.dtype)

    def __call__(self, order):
        # the epoch's row order, once; each batch's indices are then a view
        if order is not None:
            rows = order if self.contiguous else self.rows[order]
        elif not self.contiguous:
            rows = self.rows
        else:
            rows = None
        for start in range(0, self.n_rows, self.batch_size):
            stop = min(start + self.batch_size, self.n_rows)
            if rows is None:
                idx = slice(start, stop)
                yield idx, self.X[idx], self.Y[idx]
                continue
            idx = rows[start:stop]
            yield (
                idx,
                self._gather(idx),
                self.Y.take(idx, axis=0, out=self.Ybuf[: idx.size], mode="clip"),
            )

    def _gather(self, idx):
        if self.Xbuf is None:
            return self.X[idx]
        # mode="clip": with the default mode="raise" numpy buffers ``out``,
        # which costs a copy of the whole of X per batch.
        return self.X.take(idx, axis=0, out=self.Xbuf[: idx.size], mode="clip")


class _RowWeights:
    """Per-row loss weights and the weights that normalise the loss.

    The loss of a batch is ``sum(loss * l) / sum(sample_weight)``: sample
    weights are normalised away (a weight of ``k`` is ``k`` copies), class
    weights are not (a class weight of 2 makes that class's errors cost twice
    as much, as in scikit-learn's linear models).
    """

    def __init__(self, loss, sample_weight):
        self.loss, self.sample_weight = loss, sample_weight

    def rows(self, n_samples):
        """Rows that take part in training: those of non-zero sample weight."""
        if self.sample_weight is None:
            return np.arange(n_samples)
        return np.flatnonzero(self.sample_weight)

    def take(self, idx):
        return None if self.loss is None else self.loss[idx]

    def class_scale(self, rows):
        """How much class weights scale the loss of ``rows`` on average."""
        if self.loss is None:
            return 1.0
        return float(self.loss[rows].sum()) / max(self.total(rows), 1e-300)

    def total(self, idx):
        if self.sample_weight is None:
            return float(idx.stop - idx.start if isinstance(idx, slice) else idx.size)
        return float(self.sample_weight[idx].sum())
