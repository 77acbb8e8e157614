"""The frameworks the benchmarks compare, and the one way a grid search is timed.

Each framework is an adapter with ``fit(X, y, epochs, seed) -> model`` and
``predict_proba(model, X)``: scikit-learn's ``MLPClassifier``, PyTorch (optional:
its adapter reports itself unavailable when torch is not installed) and
skdigits' ``NumpyMLPClassifier`` with numpy or numba optimizer steps. They all
train the benchmark network with the benchmark settings (`SETTINGS`), which a
benchmark may override per fit (hidden layers, batch size). `REGRESSORS` holds
the same four for regression (``MLPRegressor``, ``NumpyMLPRegressor``, PyTorch
with the squared error), whose adapters have ``predict(model, X)``.

`time_grid_search` is the single timer of ``GridSearchCV`` runs: every
benchmark that times a search builds its `GridRun` list and calls it.
"""

import os
import time
import warnings
from typing import NamedTuple

import numpy as np

from ._common import log

#: the benchmark network: 784-256-128-10
HIDDEN = (256, 128)
SETTINGS = dict(
    hidden_layer_sizes=HIDDEN,
    activation="relu",
    solver="adam",
    learning_rate_init=1e-3,
    batch_size=128,
    alpha=1e-4,
)
#: rows of the untimed search that starts the worker pool
WARM_UP_ROWS = 500


def blas_thread_count():
    """Number of threads numpy's BLAS uses (torch gets the same number)."""
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return max(counts, default=os.cpu_count() or 1)


def use_kernels(backend):
    """Make skdigits' optimizer steps ``backend`` ('numpy' or 'numba') from now on.

    Compiles them (numba) on a tiny step, so no timed fit pays for it. Returns the
    backend in force, which is 'numpy' when numba is missing.
    """
    from skdigits import _kernels, _optimizers

    os.environ["SKDIGITS_KERNELS"] = backend
    _kernels.kernels.cache_clear()
    theta = np.zeros(8, np.float32)
    _optimizers.Adam(theta).step(theta, theta.copy(), theta.copy())
    return _kernels.backend_name()


def fit_quietly(model, X, y):
    """``model.fit(X, y)`` with sklearn's ConvergenceWarning silenced."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


# --------------------------------------------------------------------------
# Frameworks: each has fit(X, y, epochs, seed) -> model and predict_proba.
# --------------------------------------------------------------------------


class SklearnMLP:
    """scikit-learn's MLPClassifier with the benchmark settings."""

    name = "sklearn"
    label = "sklearn MLPClassifier"
    #: timed by bench_training's GridSearchCV column
    parallel = True

    def estimator_class(self):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier

    def unavailable_reason(self):
        return None

    def estimator(self, epochs, seed, **overrides):
        params = dict(
            SETTINGS,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=10**6,
            shuffle=True,
            early_stopping=False,
            random_state=seed,
        )
        return self.estimator_class()(**{**params, **overrides})

    def fit(self, X, y, epochs, seed):
        model = fit_quietly(self.estimator(epochs, seed), X, y)
        if model.n_iter_ != epochs:
            log(f"  warning: {self.name} stopped after {model.n_iter_} epochs")
        return model

    def predict_proba(self, model, X):
        return model.predict_proba(X)

    def warm_up(self, X, y):
        """Fit a tiny network once: loads code pages and thread pools only."""
        fit_quietly(self.estimator(1, 0, hidden_layer_sizes=(8,), batch_size=16), X, y)


class OursMLP(SklearnMLP):
    """skdigits.NumpyMLPClassifier with the same settings and numpy optimizer steps."""

    name = "ours"
    label = "skdigits NumpyMLPClassifier (numpy steps)"
    backend = "numpy"
    class_name = "NumpyMLPClassifier"

    def estimator_class(self):
        import skdigits

        return getattr(skdigits, self.class_name, None)

    def unavailable_reason(self):
        try:
            cls = self.estimator_class()
        except Exception as exc:  # a half-written package must not stop the rest
            return f"skdigits cannot be imported ({exc})"
        if cls is None:
            return f"skdigits has no {self.class_name}"
        if use_kernels(self.backend) != self.backend:
            return f"{self.backend} kernels unavailable (pip install numba)"
        return None

    def fit(self, X, y, epochs, seed):
        use_kernels(self.backend)
        return super().fit(X, y, epochs, seed)

    def warm_up(self, X, y):
        use_kernels(self.backend)
        super().warm_up(X, y)


class OursFastMLP(OursMLP):
    """The same with the ``fast`` extra: numba optimizer steps, same results."""

    name = "ours-fast"
    label = "skdigits NumpyMLPClassifier (numba steps)"
    backend = "numba"
    parallel = False  # GridSearchCV is timed once for skdigits, with numpy steps


class TorchMLP:
    """The same network in PyTorch (CPU, as many threads as numpy's BLAS).

    sklearn adds ``alpha / (2 * batch_size) * sum ||W||^2`` to each batch's mean
    loss, so the weights' gradient gets ``alpha * W / batch_size``; torch's Adam
    ``weight_decay`` adds ``weight_decay * W`` to the gradient (coupled L2, not
    AdamW), hence ``weight_decay = alpha / batch_size`` on the weights only (not
    the biases). Weights and biases are initialised like sklearn's relu layers:
    uniform in ``+-sqrt(6 / (fan_in + fan_out))``. New layers take torch's
    default dtype (float32 unless a benchmark sets it), and float64 when ``X``
    is float64.
    """

    name = "torch"
    label = "PyTorch"
    parallel = False

    def unavailable_reason(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            return "torch is not installed"
        return None

    def _network(self, sizes):
        import torch
        from torch import nn

        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            linear = nn.Linear(fan_in, fan_out)
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            with torch.no_grad():
                linear.weight.uniform_(-bound, bound)
                linear.bias.uniform_(-bound, bound)
            layers += [linear, nn.ReLU()]
        return nn.Sequential(*layers[:-1])

    def fit(self, X, y, epochs, seed, hidden=HIDDEN, batch_size=None):
        import torch

        torch.set_num_threads(blas_thread_count())
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = self._network((X.shape[1], *hidden, self._n_outputs(y)))
        if X.dtype == np.float64:
            model = model.double()
        weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
        biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
        batch_size = batch_size or SETTINGS["batch_size"]
        decay = SETTINGS["alpha"] / batch_size
        optimizer = torch.optim.Adam(
            [{"params": weights, "weight_decay": decay}, {"params": biases}],
            lr=SETTINGS["learning_rate_init"],
        )
        loss_fn = self._loss()
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        for _ in range(epochs):
            order = torch.randperm(len(X_t), generator=generator)
            for start in range(0, len(X_t), batch_size):
                batch = order[start : start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(X_t[batch]), y_t[batch]).backward()
                optimizer.step()
        return model

    def _n_outputs(self, y):
        return int(y.max()) + 1

    def _loss(self):
        import torch

        return torch.nn.CrossEntropyLoss()

    def predict_proba(self, model, X):
        import torch

        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()

    def warm_up(self, X, y):
        """Fit a tiny network once: loads code pages and thread pools only."""
        self.fit(X, y, 1, 0, hidden=(8,), batch_size=16)


FRAMEWORKS = {f.name: f for f in (SklearnMLP(), TorchMLP(), OursMLP(), OursFastMLP())}
OURS = ("ours", "ours-fast")


# --------------------------------------------------------------------------
# The same frameworks for regression: each has predict(model, X).
# --------------------------------------------------------------------------


class SklearnRegressor(SklearnMLP):
    """scikit-learn's MLPRegressor with the benchmark settings."""

    label = "sklearn MLPRegressor"
    parallel = False

    def estimator_class(self):
        from sklearn.neural_network import MLPRegressor

        return MLPRegressor

    def predict(self, model, X):
        return model.predict(X)


class OursRegressor(OursMLP):
    """skdigits.NumpyMLPRegressor with the same settings and numpy optimizer steps."""

    label = "skdigits NumpyMLPRegressor (numpy steps)"
    class_name = "NumpyMLPRegressor"
    parallel = False

    def predict(self, model, X):
        return model.predict(X)


class OursFastRegressor(OursRegressor):
    """The same with the ``fast`` extra's numba optimizer steps."""

    name = "ours-fast"
    label = "skdigits NumpyMLPRegressor (numba steps)"
    backend = "numba"


class TorchRegressor(TorchMLP):
    """The regression network in PyTorch: identity output, squared error.

    sklearn's squared error is ``0.5 * mean((y - p) ** 2)`` over rows *and*
    outputs, but its gradient (``p - y`` divided by the rows only) is that of
    ``0.5 * sum((y - p) ** 2) / n_rows``: that is the loss torch minimises
    here, so that both take the same steps. The L2 term is the classifier's.
    """

    def _n_outputs(self, y):
        return y.shape[1]

    def _loss(self):
        def half_squared_error(output, target):
            return 0.5 * (output - target).square().sum(dim=1).mean()

        return half_squared_error

    def predict(self, model, X):
        import torch

        with torch.inference_mode():
            return model(torch.from_numpy(X)).numpy()


REGRESSORS = {
    f.name: f
    for f in (
        SklearnRegressor(),
        TorchRegressor(),
        OursRegressor(),
        OursFastRegressor(),
    )
}


def available_frameworks(names, registry=None):
    """``(frameworks, skipped)``: the adapters of `registry` (default FRAMEWORKS)
    among ``names`` that can run, in the registry's order, and ``(name, reason)``
    for those that cannot (logged)."""
    registry = FRAMEWORKS if registry is None else registry
    wanted = [registry[name] for name in registry if name in names]
    skipped = [(f.name, f.unavailable_reason()) for f in wanted]
    skipped = [(name, why) for name, why in skipped if why]
    for name, why in skipped:
        log(f"skipping {name}: {why}")
    return [f for f in wanted if f.name not in dict(skipped)], skipped


# --------------------------------------------------------------------------
# The grid-search timer
# --------------------------------------------------------------------------


class GridRun(NamedTuple):
    """One timed ``GridSearchCV``: a table's ``name``, its ``n_jobs``, the
    (unfitted) ``estimator`` searched, and skdigits' optimizer steps in this
    process (``kernels``). Worker processes keep the steps they started with,
    numpy's (`time_grid_search` starts them so): give ``n_jobs`` > 1 only with
    ``kernels="numpy"``."""

    name: str
    n_jobs: int
    estimator: object
    kernels: str = "numpy"


def grid_search_seconds(run, param_grid, X, y, *, cv, refit):
    """Wall time of ``GridSearchCV(run.estimator, param_grid, ...).fit(X, y)``."""
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(
        run.estimator, param_grid, cv=cv, n_jobs=run.n_jobs, refit=refit
    )
    use_kernels(run.kernels)
    start = time.perf_counter()
    fit_quietly(search, X, y)
    return time.perf_counter() - start


def time_grid_search(runs, param_grid, X, y, *, cv, refit, repeats):
    """Time every `GridRun` ``repeats`` times, interleaved.

    Each run first searches the first `WARM_UP_ROWS` rows, untimed: that starts
    the worker pool and imports (and compiles) the code in every process, so no
    timed search pays for it.

    Returns
    -------
    times : dict
        ``{(name, n_jobs): [seconds, ...]}`` in the order of ``runs``.
    """
    # before the worker pool starts: workers keep the environment they began with
    use_kernels("numpy")
    few = slice(None, WARM_UP_ROWS)
    for run in runs:
        grid_search_seconds(run, param_grid, X[few], y[few], cv=cv, refit=refit)
    times = {(run.name, run.n_jobs): [] for run in runs}
    for repeat in range(repeats):
        for run in runs:
            seconds = grid_search_seconds(run, param_grid, X, y, cv=cv, refit=refit)
            times[run.name, run.n_jobs].append(seconds)
            log(
                f"  repeat {repeat + 1}/{repeats} grid {run.name:9s} "
                f"n_jobs={run.n_jobs} {seconds:6.2f} s"
            )
    use_kernels("numpy")
    return times
