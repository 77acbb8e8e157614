"""The training loops: minibatch epochs ('sgd', 'adam') and full-batch L-BFGS.

Nothing here is an estimator. The estimators (:mod:`skdigits._base`) check
their parameters and data, build the :class:`~skdigits._network.Network`, and
hand the rest to this module:

* :class:`Training` holds the whole state of a stochastic fit (the network's
  weights, the optimizer and its schedule, the minibatches and row weights,
  the early-stopping split and best weights, the random generators of the
  shuffles, dropout masks and augmentation, and the fitted counters and
  curves). It saves and restores itself (:meth:`Training.state_dict`,
  :meth:`Training.load_state_dict`), so a checkpoint only writes files.
* :func:`fit_stochastic` runs its epochs; each reads as a few named steps
  (:meth:`Training.epoch`) and ends in one report to ``progress``, the single
  place that feeds ``verbose``, ``callback=``, scikit-learn's callbacks and the
  checkpoint (:class:`skdigits._progress.Progress`).
* :func:`fit_lbfgs` minimises the full-batch loss with scipy's L-BFGS-B.
"""

import math
import warnings
from dataclasses import dataclass, fields

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skdigits._dropout import DropoutMasks, row_keys
from skdigits._losses import mean_loss
from skdigits._network import Workspace

__all__ = ["FITTED", "Settings", "Training", "fit_lbfgs", "fit_stochastic"]

# An epoch whose mean data loss exceeds this many times that of a uniform
# guess has diverged, even while the loss is still finite.
_DIVERGENCE_FACTOR = 100.0

_DIVERGED = (
    "The {what} loss became {value:.4g} at iteration {it}: training diverged. "
    "Lower learning_rate_init (it is {lr}) or scale the inputs (e.g. pixels to "
    "[0, 1] with skdigits.PixelScaler or StandardScaler)."
)

#: The fitted attributes a stochastic fit changes every epoch, named as the
#: estimator names them (and as a checkpoint's header stores them).
FITTED = (
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "best_validation_score_",
    "_no_improvement_count",
    "loss_curve_",
    "validation_scores_",
    "validation_loss_curve_",
)


def diverged(loss, iteration, learning_rate_init, what="training"):
    """The actionable error for a non-finite (or huge) ``what`` loss."""
    return ValueError(
        _DIVERGED.format(what=what, value=loss, it=iteration, lr=learning_rate_init)
    )


@dataclass(frozen=True)
class Settings:
    """The estimator parameters the loops read, under the estimator's names."""

    alpha: float
    batch_size: object
    max_iter: int
    shuffle: bool
    tol: float
    n_iter_no_change: float
    early_stopping: bool
    validation_fraction: float
    learning_rate_init: float
    max_fun: int

    @classmethod
    def of(cls, estimator):
        """The settings of ``estimator`` (its parameters of the same names)."""
        return cls(**{f.name: getattr(estimator, f.name) for f in fields(cls)})


# --- the rows a fit trains on ---------------------------------------------------


class RowWeights:
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


def split_rows(rows, stratify, random_state, validation_fraction):
    """Training rows and validation rows of an early-stopping fit.

    scikit-learn's rule, to the letter: ``train_test_split`` of ``rows``,
    stratified on ``stratify`` (None: unstratified), which raises its own
    error for a class of one member; the training rows sorted.
    """
    train, val = train_test_split(
        rows,
        random_state=random_state,
        test_size=validation_fraction,
        stratify=stratify,
    )
    if val.size < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' "
            "or the size of your dataset."
        )
    return np.sort(train), val


def batch_size_for(batch_size, n_samples):
    """The minibatch size: ``'auto'`` is ``min(200, n_samples)``; clipped."""
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going "
            "to be clipped"
        )
    return int(np.clip(batch_size, 1, n_samples))


def _seed(random_state):
    """A seed for a Generator of its own, drawn from ``random_state``."""
    return random_state.randint(np.iinfo(np.int32).max)


class Batches:
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


class BoundAugment:
    """``augment`` bound to its own generator ``rng`` (a checkpoint saves it)."""

    def __init__(self, augment, rng):
        self.augment, self.rng = augment, rng

    def __call__(self, Xb):
        return self.augment(Xb, self.rng)


# --- the state of a stochastic fit --------------------------------------------------

# The parts that draw from a Generator of their own (``.rng``): the dropout
# masks and the bound augmenter.
_GENERATORS = ("masks", "augment")


class Training:
    """The whole state of a stochastic ('sgd'/'adam') fit, and its epochs.

    Parameters
    ----------
    net : Network
        The network, holding the weights ``theta``.
    optimizer : object
        One of ``OPTIMIZERS``, planned over the fit.
    data : tuple
        ``(X, Y, weights)``: the inputs, the encoded targets and the
        :class:`RowWeights`.
    rows : tuple
        ``(train_idx, val_idx)``; ``val_idx`` is None without early stopping.
    batch_size : int
    masks : DropoutMasks or None
    augment : BoundAugment or None
    random_state : numpy.random.RandomState
        The generator of the epochs' shuffles.
    fitted : dict
        The :data:`FITTED` values the fit starts from (those of a previous
        fit with ``warm_start`` or ``partial_fit``), ``n_iter_`` 0.
    settings : Settings
    incremental : bool
        ``partial_fit``: one epoch.
    own_random_state : bool
        Whether ``random_state`` may be replaced when restored (it is not the
        user's ``RandomState`` instance, which is restored in place).
    """

    def __init__(
        self,
        net,
        optimizer,
        data,
        rows,
        batch_size,
        *,
        masks,
        augment,
        random_state,
        fitted,
        settings,
        incremental=False,
        own_random_state=True,
    ):
        self.net, self.optimizer, self.data = net, optimizer, data
        self.batch_size, self.masks, self.augment = batch_size, masks, augment
        self.random_state, self.own_random_state = random_state, own_random_state
        self.fitted, self.settings = fitted, settings
        self.incremental = incremental
        self.ws = Workspace(net, batch_size, dropout=masks is not None)
        self.best_theta = net.theta.copy() if settings.early_stopping else None
        self.train_idx = self.val_idx = self.batches = self.val = None
        self.stopped, self.at_boundary = False, True
        self.use_rows(*rows)

    @property
    def n_iter(self):
        return self.fitted["n_iter_"]

    @property
    def max_iter(self):
        return self.settings.max_iter

    @property
    def finished(self):
        return self.stopped or self.n_iter >= self.max_iter

    def use_rows(self, train_idx, val_idx):
        """Train on rows ``train_idx``; validate on rows ``val_idx`` (or None)."""
        X, Y, weights = self.data
        if self.train_idx is not None:  # restoring: the same sizes, valid rows
            for new, old in ((train_idx, self.train_idx), (val_idx, self.val_idx)):
                _check_rows(new, old, X.shape[0])
        self.train_idx, self.val_idx = train_idx, val_idx
        self.batches = Batches(X, Y, weights, train_idx, self.batch_size)
        if val_idx is None:
            self.val = None
            return
        w = weights.sample_weight
        self.val = (X[val_idx], Y[val_idx], None if w is None else w[val_idx])

    @classmethod
    def start(
        cls,
        net,
        data,
        optimizer,
        settings,
        *,
        random_state,
        dropout,
        augment,
        stratify,
        fitted,
        incremental=False,
        own_random_state=True,
    ):
        """The state of a fit before its first epoch.

        The random draws come in a fixed order (the early-stopping split,
        the dropout seed, the augmentation seed); a resumed fit makes them
        too, then overwrites their results from the checkpoint. Rows of zero
        weight are left out of training: they change nothing but would use
        up random draws.

        Parameters
        ----------
        dropout : list of float
            One rate per hidden layer; masks are drawn only if one is not 0.
        augment : callable or None
            The estimator's ``augment``, bound here to a Generator of its own
            (seeded only when there is one, so other fits keep their stream).
        stratify : bool
            Stratify the early-stopping split on the (binary) target.

        The other parameters are those of :class:`Training`.
        """
        X, Y, weights = data
        rows = weights.rows(X.shape[0])
        val_idx = None
        if settings.early_stopping:
            labels = Y[rows].astype(bool) if stratify else None
            rows, val_idx = split_rows(
                rows, labels, random_state, settings.validation_fraction
            )
        batch_size = batch_size_for(settings.batch_size, rows.size)
        masks = None
        if any(dropout):
            rng = np.random.default_rng(_seed(random_state))
            masks = DropoutMasks(dropout, row_keys(X), rng, net.dtype)
        if augment is not None:
            augment = BoundAugment(augment, np.random.default_rng(_seed(random_state)))
        optimizer.plan(settings.max_iter * math.ceil(rows.size / batch_size))
        return cls(
            net,
            optimizer,
            data,
            (rows, val_idx),
            batch_size,
            masks=masks,
            augment=augment,
            random_state=random_state,
            fitted=fitted,
            settings=settings,
            incremental=incremental,
            own_random_state=own_random_state,
        )

    # --- one epoch, in named steps -------------------------------------------------

    def epoch(self):
        """One epoch: shuffle, train, count, validate, track, schedule, decide.

        Returns
        -------
        record : dict
            What the epoch's report says: ``loss``, ``validation_score``
            and ``validation_loss`` (None without early stopping), and
            ``stall`` (the text of a stall, or None).
        """
        loss = self.train_pass(self.shuffled_order())
        self.count(loss)
        validation = self.validate()
        self.track_progress(validation)
        self.optimizer.iteration_ends(self.fitted["t_"])
        self.optimizer.flush_negligible(self.net.theta)
        stall = self.decide_stop()
        score, val_loss = validation or (None, None)
        return {
            "loss": loss,
            "validation_score": score,
            "validation_loss": val_loss,
            "stall": stall,
        }

    def shuffled_order(self):
        """This epoch's permutation of the training rows (None: no shuffle)."""
        if not self.settings.shuffle:
            return None
        return self.random_state.permutation(self.train_idx.size)

    def train_pass(self, order):
        """One pass over the training rows; returns the mean training loss."""
        net, optimizer, batches, ws = self.net, self.optimizer, self.batches, self.ws
        masks, augment, alpha = self.masks, self.augment, self.settings.alpha
        accumulated = data_loss = 0.0
        widths = net.layer_units[1:-1]
        for idx, Xb, Yb in batches(order):
            if augment is not None:
                Xb = augment(Xb)
            drop = None if masks is None else masks.draw(idx, widths)
            wb, total = batches.weights.take(idx), batches.weights.total(idx)
            loss = net.loss_grad(Xb, Yb, wb, total, alpha, ws, drop, False)
            if not math.isfinite(loss):
                raise self._diverged(loss)
            # the L2 gradient term is added inside the step, which reads theta anyway
            decay = alpha / total if total else 0.0
            optimizer.step(net.theta, net.grad, ws.work, decay, net.n_coef)
            accumulated += loss * Xb.shape[0]
            data_loss += net.data_loss * Xb.shape[0]
        uniform = net.uniform_loss
        if uniform is not None:
            uniform *= batches.class_scale
            if data_loss / batches.n_rows > _DIVERGENCE_FACTOR * uniform:
                raise self._diverged(data_loss / batches.n_rows)
        return accumulated / batches.n_rows

    def _diverged(self, loss):
        return diverged(loss, self.n_iter + 1, self.settings.learning_rate_init)

    def count(self, loss):
        """The epoch's counters and its point of the loss curve."""
        fitted = self.fitted
        fitted["loss_"] = loss
        fitted["n_iter_"] += 1
        fitted["t_"] += self.train_idx.size
        fitted["loss_curve_"].append(loss)

    def validate(self):
        """``(score, loss)`` on the validation rows, or None without them.

        The loss is the mean data loss (no L2 term); the score is the output's
        (:class:`skdigits._losses.Output`): accuracy or :math:`R^2`.
        """
        if self.val is None:
            return None
        X_val, Y_val, w_val = self.val
        Z = self.net.logits(X_val)
        losses = self.net.output.loss_and_proba(Z, Y_val)
        loss = mean_loss(losses, w_val)
        if not math.isfinite(loss):  # the last step overflowed: no score to give
            raise diverged(
                loss, self.n_iter, self.settings.learning_rate_init, "validation"
            )
        return self.net.output.score(Z, Y_val, w_val), loss

    def track_progress(self, validation):
        """Update the no-improvement count; keep the best weights."""
        fitted, tol = self.fitted, self.settings.tol
        if validation is None:
            last = fitted["loss_curve_"][-1]
            stalled = last > fitted["best_loss_"] - tol
            fitted["best_loss_"] = min(fitted["best_loss_"], last)
        else:
            score, loss = validation
            fitted["validation_scores_"].append(score)
            fitted["validation_loss_curve_"].append(loss)
            stalled = score < fitted["best_validation_score_"] + tol
            if score > fitted["best_validation_score_"]:
                fitted["best_validation_score_"] = score
                self.best_theta[:] = self.net.theta
        count = fitted["_no_improvement_count"]
        fitted["_no_improvement_count"] = count + 1 if stalled else 0

    def decide_stop(self):
        """Stop after ``n_iter_no_change`` stalled epochs (or ``partial_fit``'s
        one); returns the stall's text, or None."""
        settings, fitted = self.settings, self.fitted
        self.stopped = self.incremental
        if fitted["_no_improvement_count"] <= settings.n_iter_no_change:
            return None
        if self.optimizer.schedule.is_plan and not settings.early_stopping:
            return None  # the schedule is the plan: only validation cuts it short
        what = "Validation score" if settings.early_stopping else "Training loss"
        msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
            what,
            settings.tol,
            settings.n_iter_no_change,
        )
        stop, text = self.optimizer.on_stall(msg)
        if stop:
            self.stopped = True
        else:
            fitted["_no_improvement_count"] = 0
        return text

    def finish(self, interrupted):
        """After the last epoch: the convergence warning, the best weights."""
        schedule = self.optimizer.schedule
        done = interrupted or self.stopped or schedule.is_plan
        if not done and self.n_iter == self.max_iter:
            warnings.warn(
                "Stochastic Optimizer: Maximum iterations (%d) reached and "
                "the optimization hasn't converged yet." % self.max_iter,
                ConvergenceWarning,
            )
        if self.best_theta is not None:
            self.net.theta[:] = self.best_theta

    # --- saving and restoring ------------------------------------------------------

    def state_dict(self):
        """The state at an epoch boundary: what decides the rest of the fit.

        Returns
        -------
        state : dict
            ``"scalars"`` (JSON-able: the epoch, the :data:`FITTED` values,
            the optimizer's scalars and every generator's state) and
            ``"arrays"`` (the weights, the best weights, the optimizer's
            vectors, the training and validation rows, the shuffling
            generator's key). The arrays are the fit's own, not copies.
        """
        optimizer = self.optimizer.state_dict()
        random_state, key = random_state_to_json(self.random_state)
        scalars = {
            "epoch": self.n_iter,
            "max_iter": self.max_iter,
            "finished": self.finished,
            "stopped": self.stopped,
            "fitted": dict(self.fitted),
            "optimizer": {
                "class": type(self.optimizer).__name__,
                **optimizer["scalars"],
            },
            "random_state": random_state,
            **{name: _generator_state(getattr(self, name)) for name in _GENERATORS},
        }
        arrays = {"theta": self.net.theta, "random_state_key": key}
        arrays.update({f"optimizer_{k}": v for k, v in optimizer["arrays"].items()})
        optional = {
            "best_theta": self.best_theta,
            "train_idx": self.train_idx,
            "val_idx": self.val_idx,
        }
        arrays.update({k: v for k, v in optional.items() if v is not None})
        return {"scalars": scalars, "arrays": arrays}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned, copying into this fit.

        Raises
        ------
        KeyError, TypeError, ValueError
            If the state does not fit this fit (another network, optimizer,
            data size, or generators).
        """
        scalars, arrays = state["scalars"], state["arrays"]
        _copy_into(self.net.theta, arrays["theta"], "theta")
        if self.best_theta is not None:
            _copy_into(self.best_theta, arrays["best_theta"], "best_theta")
        optimizer = dict(scalars["optimizer"])
        if optimizer.pop("class") != type(self.optimizer).__name__:
            raise ValueError("another optimizer")
        prefix = "optimizer_"
        vectors = {
            k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)
        }
        self.optimizer.load_state_dict({"scalars": optimizer, "arrays": vectors})
        self.use_rows(arrays.get("train_idx"), arrays.get("val_idx"))
        for name in _GENERATORS:
            holder, saved = getattr(self, name), scalars[name]
            if (holder is None) != (saved is None):
                raise ValueError(f"{name} state missing or unexpected")
            if saved is not None:
                holder.rng.bit_generator.state = saved
        if self.own_random_state:
            self.random_state = np.random.RandomState()  # never the global one
        self.random_state.set_state(
            random_state_from_json(scalars["random_state"], arrays["random_state_key"])
        )
        self.fitted = {name: scalars["fitted"][name] for name in FITTED}
        self.stopped = bool(scalars["stopped"])


def _generator_state(holder):
    """The state of ``holder.rng``, JSON-able, or None without ``holder``."""
    return None if holder is None else holder.rng.bit_generator.state


def _copy_into(target, source, name):
    if source.shape != target.shape or source.dtype != target.dtype:
        raise ValueError(
            f"{name} has shape {source.shape} and dtype {source.dtype}, not "
            f"{target.shape} and {target.dtype}"
        )
    target[...] = source


def random_state_to_json(random_state):
    """A ``RandomState``'s state: JSON scalars, and its key as an array."""
    name, key, pos, has_gauss, cached = random_state.get_state()
    scalars = {
        "bit_generator": name,
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }
    return scalars, np.asarray(key, dtype=np.uint32)


def random_state_from_json(scalars, key):
    """The ``get_state()`` tuple of :func:`random_state_to_json`'s output."""
    return (
        scalars["bit_generator"],
        np.asarray(key, dtype=np.uint32),
        int(scalars["pos"]),
        int(scalars["has_gauss"]),
        float(scalars["cached_gaussian"]),
    )


# --- the loops ----------------------------------------------------------------------


def fit_stochastic(training, progress):
    """Epochs until ``training`` is finished, each reported to ``progress``.

    ``progress`` (:class:`skdigits._progress.Progress`) resumes the fit from
    its checkpoint first, and reports every epoch (``epoch_begin``,
    ``epoch_end``). Ctrl-C ends the fit with a warning, or, with a
    checkpoint, propagates once the last finished epoch is saved.
    """
    progress.resume(training)
    epochs = 0 if training.finished else 1 if training.incremental else None
    progress.begin(training.max_iter - training.n_iter if epochs is None else epochs)
    interrupted = False
    try:
        while not training.finished:
            training.at_boundary = False
            progress.epoch_begin()
            record = training.epoch()
            progress.epoch_end(training, record)
    except KeyboardInterrupt:
        if not progress.interrupted(training):
            raise
        warnings.warn("Training interrupted by user.")
        interrupted = True
    training.finish(interrupted)


def fit_lbfgs(net, data, settings, progress):
    """Minimise the full-batch loss with L-BFGS-B; returns ``(n_iter, loss)``.

    ``data`` is ``(X, Y, weights)``; rows of zero weight are left out. Each
    iteration is reported to ``progress`` (``lbfgs_callback``),
    with its loss as ``loss_`` reports it.
    """
    X, Y, weights = data
    rows = weights.rows(X.shape[0])
    if rows.size < X.shape[0]:
        X, Y = X[rows], Y[rows]
    w, total = weights.take(rows), weights.total(rows)
    ws = Workspace(net, X.shape[0])
    factor = net.output.objective_factor(net.layer_units[-1])

    def loss_grad(theta):
        net.theta[:] = theta
        loss = net.loss_grad(X, Y, w, total, settings.alpha, ws)
        if factor != 1:  # the loss whose gradient this is
            loss += (factor - 1) * net.data_loss
        return loss, net.grad.astype(np.float64)

    def reported(theta, objective):
        """The loss at ``theta`` as the estimator reports it (``loss_``)."""
        if factor == 1:
            return float(objective)
        net.theta[:] = theta
        return float(net.loss_grad(X, Y, w, total, settings.alpha, ws))

    iterations = iter(range(1, settings.max_iter + 1))
    progress.begin(settings.max_iter)
    result = scipy.optimize.minimize(
        loss_grad,
        net.theta.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=progress.lbfgs_callback(net, iterations, reported),
        options={
            "maxfun": settings.max_fun,
            "maxiter": settings.max_iter,
            "gtol": settings.tol,
        },
    )
    if result.status != 0:
        warnings.warn(
            "lbfgs failed to converge after %d iterations (%s). Increase max_iter "
            "or scale the data." % (result.nit, result.message),
            ConvergenceWarning,
        )
    if not np.isfinite(result.fun):
        raise diverged(result.fun, result.nit, settings.learning_rate_init)
    loss = reported(result.x, result.fun)
    net.theta[:] = result.x
    return min(result.nit, settings.max_iter), loss
