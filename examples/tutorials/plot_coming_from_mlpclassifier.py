"""
===========================
Coming from MLPClassifier
===========================

:class:`skdigits.NumpyMLPClassifier` is written to replace scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier` name for name: code written for
one runs with the other. This tutorial checks what is identical, in code
rather than in prose; shows what differs, the initial weights first of all;
tries a few of skdigits' additions; and fits both on the bundled sample to
compare accuracy and time. Every difference and addition is listed in the user
guide's :ref:`differences-from-sklearn`.
"""

# %%
# What is identical
# -----------------
# The constructor's parameters: every ``MLPClassifier`` parameter exists with
# the same name and the same default. The extra names are skdigits'
# additions, described below.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist_sample

# Every fit below runs a fixed, small number of epochs on purpose.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

theirs, ours = MLPClassifier().get_params(), NumpyMLPClassifier().get_params()
shared = sorted(set(theirs) & set(ours))
different = [name for name in shared if repr(theirs[name]) != repr(ours[name])]
print(f"{len(shared)} shared parameters, defaults that differ: {different}")
print(f"only in MLPClassifier: {sorted(set(theirs) - set(ours))}")
print(f"only in NumpyMLPClassifier: {sorted(set(ours) - set(theirs))}")

# %%
# The public methods, and the fitted attributes (fitted here for one epoch on
# a few hundred images): ``coefs_`` and ``intercepts_`` have the same shapes,
# ``(fan_in, fan_out)`` per layer, and ``loss_curve_``, ``n_iter_``,
# ``classes_``... the same meaning.
X_raw, y = load_mnist_sample("train")
X_test_raw, y_test = load_mnist_sample("test")
scaler = PixelScaler().fit(X_raw)
X, X_test = scaler.transform(X_raw), scaler.transform(X_test_raw)


def public(names):
    return {name for name in names if not name.startswith("_")}


def fitted(model):
    return {name for name in vars(model) if name.endswith("_")} - {"_"}


small = dict(hidden_layer_sizes=(32,), max_iter=1, random_state=0)
sk = MLPClassifier(**small).fit(X[:500], y[:500])
np_ = NumpyMLPClassifier(**small).fit(X[:500], y[:500])
methods = public(dir(MLPClassifier)) - public(dir(NumpyMLPClassifier))
print(f"MLPClassifier methods missing here: {sorted(methods) or 'none'}")
print(f"fitted attributes missing here: {sorted(public(fitted(sk)) - fitted(np_))}")
print(f"fitted attributes added here: {sorted(public(fitted(np_)) - fitted(sk))}")
print("coefs_ shapes:", [W.shape for W in sk.coefs_], [W.shape for W in np_.coefs_])

# %%
# What differs: the initial weights
# ---------------------------------
# scikit-learn starts every layer from Glorot-uniform weights, uniform in
# :math:`\pm\sqrt{6 / (\text{fan\_in} + \text{fan\_out})}` (a bound of
# :math:`\sqrt{2 / (\ldots)}` for logistic layers). skdigits starts the layers
# that feed a ReLU-like activation (relu, leaky_relu, elu, gelu, silu,
# softplus) from He-uniform weights, uniform in
# :math:`\pm\sqrt{6 / \text{fan\_in}}`, which keeps the signal's scale through
# deep ReLU stacks; tanh, identity and the output layer keep Glorot's bound,
# and logistic layers get four times it. So **the same** ``random_state``
# **does not give scikit-learn's model**: the weights are drawn differently,
# and the random streams are not shared either. (This is the first of the
# differences listed in :ref:`differences-from-sklearn`.)
#
# To see the initial weights, fit with a learning rate of 1e-12: one epoch
# then moves no weight by more than about 1e-10.
untrained = dict(
    hidden_layer_sizes=(256, 128), learning_rate_init=1e-12, max_iter=1, random_state=0
)
sk0 = MLPClassifier(**untrained).fit(X[:500], y[:500])
np0 = NumpyMLPClassifier(**untrained).fit(X[:500], y[:500])
layers = [(784, 256, "He"), (256, 128, "He"), (128, 10, "Glorot")]  # ours
for layer, (fan_in, fan_out, rule) in enumerate(layers):
    glorot, he = np.sqrt(6 / (fan_in + fan_out)), np.sqrt(6 / fan_in)
    print(
        f"coefs_[{layer}] ({fan_in}->{fan_out}): largest |W| "
        f"MLPClassifier {np.abs(sk0.coefs_[layer]).max():.4f} "
        f"(Glorot bound {glorot:.4f}), NumpyMLPClassifier "
        f"{np.abs(np0.coefs_[layer]).max():.4f} "
        f"({rule} bound {he if rule == 'He' else glorot:.4f})"
    )

fig, axes = plt.subplots(1, 3, figsize=(10, 3), layout="constrained")
for layer, ax in enumerate(axes):
    for model, name in [(sk0, "MLPClassifier"), (np0, "NumpyMLPClassifier")]:
        ax.hist(model.coefs_[layer].ravel(), bins=60, histtype="step", label=name)
    ax.set_title(f"coefs_[{layer}], shape {np0.coefs_[layer].shape}", fontsize=9)
    ax.set_yticks([])
axes[0].legend(fontsize=8)
fig.suptitle("Initial weights with random_state=0 (relu hidden layers)")
plt.show()

# %%
# What skdigits adds
# ------------------
# The parameters ``MLPClassifier`` does not have are listed, with the other
# differences, in :ref:`differences-from-sklearn`. A few of them at once (an
# activation per layer, dropout, class weights, the cosine schedule), with a
# callback that prints each epoch and its validation loss:
extras = NumpyMLPClassifier(
    hidden_layer_sizes=(128, 64),
    activation=["relu", "gelu"],
    dropout=0.1,
    class_weight="balanced",
    learning_rate="cosine",
    early_stopping=True,
    max_iter=4,
    random_state=0,
    callback=lambda info: print(
        f"epoch {info['epoch']}: loss {info['loss']:.3f}, "
        f"validation accuracy {info['validation_score']:.3f}, "
        f"validation loss {info['validation_loss']:.3f}"
    ),
).fit(X, y)
print(f"test accuracy {extras.score(X_test, y_test):.3f}")

# %%
# Side by side on the sample
# --------------------------
# Both estimators go through scikit-learn's tools unchanged; here
# ``cross_validate`` fits each three times on two thirds of the 5,000 sample
# images (inside a ``Pipeline`` with :class:`~skdigits.PixelScaler`) and
# reports each fold's accuracy on the remaining third and the fit's time.
# Same parameters for both: 784-100-10 relu, Adam, 10 epochs. The spread of
# the three scores shows how much one split can be trusted; the times are
# those of this machine while the documentation was built, and the
# benchmarks page has the full-data measurement.
params = dict(hidden_layer_sizes=(100,), max_iter=10, random_state=0)
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
results = {}
for name, estimator in [
    ("MLPClassifier", MLPClassifier(**params)),
    ("NumpyMLPClassifier", NumpyMLPClassifier(**params)),
]:
    scores = cross_validate(make_pipeline(PixelScaler(), estimator), X_raw, y, cv=cv)
    results[name] = scores
    print(
        f"{name}: accuracy {scores['test_score'].mean():.3f} "
        f"+/- {scores['test_score'].std():.3f}, "
        f"{scores['fit_time'].mean():.2f} s per fit"
    )

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
for i, (name, scores) in enumerate(results.items()):
    folds = np.arange(1, 4) + 0.2 * (2 * i - 1)
    left.bar(folds, scores["test_score"], width=0.4, label=name)
    right.bar(folds, scores["fit_time"], width=0.4, label=name)
left.set(xlabel="fold", ylabel="accuracy", ylim=(0.8, 1.0), title="Accuracy per fold")
right.set(xlabel="fold", ylabel="seconds", title="Fit time per fold")
left.legend(loc="lower right", fontsize=8)
plt.show()

# %%
# Saving a model
# --------------
# A fitted ``NumpyMLPClassifier`` pickles and goes into ``joblib.dump`` as
# scikit-learn's does. :func:`skdigits.save_model` writes ``.joblib`` (a
# pickle: load only your own) or ``.skops``, a file rebuilt from a
# description in which :func:`skdigits.load_model` accepts only the types a
# skdigits pipeline is made of: the one to share. Both give back identical
# predictions.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from skdigits import load_model, save_model  # noqa: E402

extras.set_params(callback=None)  # a lambda is not a type .skops trusts
expected = extras.predict_proba(X_test)
workdir = tempfile.TemporaryDirectory()  # removed when the script ends
folder = Path(workdir.name)
for name in ("model.joblib", "model.skops"):
    start = time.perf_counter()
    save_model(extras, folder / name)
    loaded = load_model(folder / name)
    same = np.array_equal(loaded.predict_proba(X_test), expected)
    print(
        f"{name}: {(folder / name).stat().st_size / 1e3:.0f} kB, saved and loaded in "
        f"{time.perf_counter() - start:.2f} s, identical predictions: {same}"
    )
