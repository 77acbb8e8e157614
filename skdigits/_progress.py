"""Where a fit reports: one place that feeds every listener of an epoch.

:class:`Progress` is the only thing the training loops
(:mod:`skdigits._training`) tell about an epoch. At its end it feeds, in this
order, ``verbose`` (the lines scikit-learn prints), ``callback=`` (a dict per
epoch, the estimator holding that epoch's weights), scikit-learn's callbacks
(``set_callbacks``, scikit-learn >= 1.9, which may ask to stop) and the
checkpoint, which saves the epoch once the others have seen it: a Ctrl-C in a
callback leaves the file at the epoch before, whose rerun is the same epoch.
"""

import time

from skdigits._training import FITTED

__all__ = ["Progress", "SklearnCallbacks"]


class SklearnCallbacks:
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


class Progress:
    """The listeners of one fit, fed from one place.

    Parameters
    ----------
    estimator : estimator
        The estimator being fitted: its ``verbose`` and ``callback``, and the
        attributes a callback reads (set before each call).
    callbacks : SklearnCallbacks
    checkpoint : TrainingCheckpoint or None
        Resumed from before the first epoch, saved after every epoch.
    """

    def __init__(self, estimator, callbacks, checkpoint=None):
        self.estimator = estimator
        self.verbose, self.callback = estimator.verbose, estimator.callback
        self.callbacks, self.checkpoint = callbacks, checkpoint
        self._start, self._task = None, None

    def resume(self, training):
        """Restore ``training`` from the checkpoint, when it holds this fit."""
        if self.checkpoint is not None:
            self.checkpoint.resume(training)

    def begin(self, max_subtasks):
        self.callbacks.begin(max_subtasks)

    def epoch_begin(self):
        self._start = time.perf_counter()
        self._task = self.callbacks.task_begin("epoch")

    def epoch_end(self, training, record):
        """Feed the epoch to every listener, the checkpoint last."""
        seconds = time.perf_counter() - self._start
        if self.verbose:
            _print_epoch(training.n_iter, record)
        if self.callback is not None:
            self._publish(training)
            self.callback(
                {
                    "epoch": training.n_iter,
                    "max_iter": training.max_iter,
                    "loss": record["loss"],
                    "validation_score": record["validation_score"],
                    "validation_loss": record["validation_loss"],
                    "seconds": seconds,
                }
            )
        if self.callbacks.task_end(self._task, training.net):
            training.stopped = True
        training.at_boundary = True
        if self.checkpoint is not None:
            self.checkpoint.save(training)

    def _publish(self, training):
        """The estimator's fitted attributes as they stand at this epoch."""
        estimator, net = self.estimator, training.net
        estimator.coefs_, estimator.intercepts_ = net.views(net.theta)
        for name in FITTED:
            setattr(estimator, name, training.fitted[name])

    def interrupted(self, training):
        """Ctrl-C: whether the fit ends with a warning (no checkpoint), or
        propagates (after saving the last finished epoch the file lacks)."""
        checkpoint = self.checkpoint
        if checkpoint is None:
            return True
        if training.at_boundary and checkpoint.saved_epoch != training.n_iter:
            checkpoint.save(training)
        return False

    def lbfgs_callback(self, net, iterations, reported):
        """scipy's per-iteration callback for L-BFGS, or None when no one listens.

        ``reported(x, fun)`` is the loss at ``x`` as ``loss_`` reports it
        (``fun`` is the objective L-BFGS minimises).
        """
        if not (self.verbose or self.callbacks.enabled):
            return None

        def report(intermediate_result):
            iteration = next(iterations)
            if self.verbose:
                loss = reported(intermediate_result.x, intermediate_result.fun)
                print("Iteration %d, loss = %.8f" % (iteration, loss))
            task = self.callbacks.task_begin("iteration")
            self.callbacks.task_end(task, net, intermediate_result.x)

        return report

    def end(self):
        """The fit is over and the estimator fitted."""
        self.callbacks.end()


def _print_epoch(epoch, record):
    """The lines scikit-learn's MLP prints with ``verbose``."""
    print("Iteration %d, loss = %.8f" % (epoch, record["loss"]))
    if record["validation_score"] is not None:
        print("Validation score: %f" % record["validation_score"])
    if record["stall"] is not None:
        print(record["stall"])
