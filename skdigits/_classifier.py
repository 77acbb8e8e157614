"""NumpyMLPClassifier: scikit-learn's MLPClassifier API on our own NumPy network."""

import warnings

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels

from skdigits._base import BaseNumpyMLP
from skdigits._losses import OUTPUTS
from skdigits._sklearn_compat import (
    StrOptions,
    _check_partial_fit_first_call,
    _fit_context,
)


class NumpyMLPClassifier(ClassifierMixin, BaseNumpyMLP):
    """Multi-layer perceptron classifier trained by our own NumPy backprop.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: the same
    parameters, defaults, methods and fitted attributes, with every forward
    and backward step, loss and optimizer written here in NumPy. It adds what
    scikit-learn declined: an activation per hidden layer and five more
    activations, dropout, ``class_weight``, the validation loss curve, and
    training that survives a minibatch whose sample weights are all zero.

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
        **BaseNumpyMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    # scikit-learn's rule, to the letter: stratify when there is one output
    # unit (a binary target), on the binarized column, and let
    # train_test_split raise its own error for a class of one member.
    # Multiclass (softmax) and multilabel targets are split unstratified.
    _stratified = True

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
        self.class_weight = class_weight

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

    # ------------------------------------------------------------ targets
    def _validate_input(self, X, y, incremental, reset):
        X, y = self._validate_X_y(X, y, reset)
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

    def _class_weights(self, sample_weight, X, y):
        """sample_weight times class_weight per row, or None when all ones."""
        if self.class_weight is None:
            return sample_weight
        labels = y if y.ndim == 1 else None
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

    def _output_activation(self):
        """Softmax for multiclass targets, logistic for binary and multilabel."""
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    @property
    def _classes(self):
        return self.classes_

    # ------------------------------------------------------------ predict
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
        tags.classifier_tags.multi_label = True
        return tags


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
