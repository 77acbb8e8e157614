"""NumpyMLPRegressor: scikit-learn's MLPRegressor API on our own NumPy network."""

from sklearn.base import RegressorMixin
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if

from skdigits._base import BaseNumpyMLP
from skdigits._losses import OUTPUTS, REGRESSION_LOSSES
from skdigits._sklearn_compat import StrOptions, _fit_context


class NumpyMLPRegressor(RegressorMixin, BaseNumpyMLP):
    """Multi-layer perceptron regressor trained by our own NumPy backprop.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`: the same
    parameters, defaults, methods and fitted attributes (multi-output ``y``,
    ``loss='poisson'``, ``partial_fit``, ``warm_start``, 'lbfgs',
    ``sample_weight``, float32 trained and predicted in float32), on the
    network, losses and optimizers of :class:`~skdigits.NumpyMLPClassifier`.
    It adds what the classifier adds: an activation per hidden layer and five
    more activations, dropout, the 'cosine' schedule, the validation loss
    curve, ``callback``, scikit-learn's callbacks and ``checkpoint`` with a
    bit-identical resume. ``augment`` is refused (see below).

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The loss and the output activation it pairs with, as in
        scikit-learn: 'squared_error' is half the squared error, averaged
        over the outputs, with an identity output; 'poisson' is half the
        Poisson deviance, summed over the outputs, with an ``exp`` output
        (the predictions are then positive), for non-negative targets.

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
        its :math:`R^2` stops improving; the best weights are kept.

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

    callback : callable or None, default=None
        Called after every 'sgd'/'adam' epoch as ``callback(info)`` with a
        dict: ``epoch`` (1-based), ``max_iter``, ``loss``,
        ``validation_score`` and ``validation_loss`` (None without early
        stopping) and ``seconds`` (the epoch's wall time). The estimator's
        ``coefs_`` and ``intercepts_`` hold that epoch's weights during the
        call, so the callback may score the estimator (``predict``, ``score``)
        to follow held-out accuracy.

    augment : None, default=None
        Refused: a value other than None raises a ValueError at ``fit``. The
        classifier's augmenters warp the input images only; a regressor's
        target is often an image of its own (the bottom half of a digit, a
        clean digit) that would have to be warped with its input, and for a
        target that is not an image, whether a warp keeps it true is the
        user's to decide. Kept as a parameter so that the two estimators take
        the same parameters (augment the data before ``fit`` instead).

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
    loss_ : float
        The loss at the end of training, L2 penalty included.
    best_loss_ : float or None
        Best training loss ('sgd'/'adam'); None with early stopping.
    loss_curve_ : list of float
        Training loss after each epoch ('sgd'/'adam').
    validation_scores_ : list of float or None
        Validation :math:`R^2` after each epoch, with early stopping.
    validation_loss_curve_ : list of float or None
        Validation loss (no L2 term) after each epoch, with early stopping.
    best_validation_score_ : float or None
        Best validation :math:`R^2`, with early stopping.
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
        Number of outputs.
    out_activation_ : str
        'identity' ('squared_error') or 'exp' ('poisson').

    Notes
    -----
    Where it differs from scikit-learn's ``MLPRegressor``, on purpose: the
    starting weights of a relu-family layer are He-uniform (scikit-learn's
    are Glorot-uniform for every activation), so the same ``random_state``
    does not give scikit-learn's weights; and a training loss that becomes
    infinite or NaN stops ``fit`` with a ValueError that says what to lower,
    where scikit-learn goes on and records NaN scores. The squared error's
    gradient is that of its sum over the outputs, as in scikit-learn (whose
    reported loss is its mean); 'lbfgs' is given that sum, whose gradient it
    is, and ``loss_`` is reported as scikit-learn reports it.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdigits import NumpyMLPRegressor
    >>> X, _ = load_digits(return_X_y=True)
    >>> top, ink = X[:, :32] / 16, X[:, 32:].sum(axis=1) / 16
    >>> model = NumpyMLPRegressor(hidden_layer_sizes=(64,), random_state=0)
    >>> model.fit(top[:1500], ink[:1500]).score(top[1500:], ink[1500:]) > 0.3
    True
    """

    _parameter_constraints: dict = {
        **BaseNumpyMLP._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
    }

    def __init__(
        self,
        loss="squared_error",
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
        callback=None,
        augment=None,
        checkpoint=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            callback=callback,
            augment=augment,
            checkpoint=checkpoint,
        )
        self.loss = loss

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _check_params(self, incremental):
        if self.augment is not None:
            raise ValueError(
                "augment is not supported by NumpyMLPRegressor (it would warp "
                "the inputs but not the targets): set augment=None, and "
                "augment the training data before fit if its targets allow it."
            )
        return super()._check_params(incremental)

    # ------------------------------------------------------------ targets
    def _validate_input(self, X, y, incremental, reset):
        X, y = self._validate_X_y(X, y, reset, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(
                f"loss='poisson' needs non-negative targets, and y has values "
                f"down to {y.min():g}: use loss='squared_error' or shift y."
            )
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, Y.astype(X.dtype, copy=False), y

    def _output_activation(self):
        return REGRESSION_LOSSES[self.loss]

    # ------------------------------------------------------------ predict
    def predict(self, X):
        """Predict the targets of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values, in the dtype of the fitted weights (float32
            for a model fitted on float32) unless X's is wider.
        """
        Z = self._logits(X)  # checks that the estimator is fitted
        y_pred = OUTPUTS[self.out_activation_].proba(Z)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred
