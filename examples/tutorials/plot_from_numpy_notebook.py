"""
==========================
From your NumPy notebook
==========================

Many people learn how a neural network works by writing one in NumPy: ``W1``,
``b1``, ``W2``, ``b2``, ``forward_prop``, ``backward_prop`` and a
``gradient_descent(X, Y, alpha, iterations)`` loop over MNIST. This tutorial
maps each piece of such a notebook onto :class:`skdigits.NumpyMLPClassifier`,
trains the notebook's network with the estimator, checks that both give the
same numbers, looks at the learned weights, and then adds, one at a time, what
the estimator's defaults bring.

Everything here runs on the 5,000 training and 1,000 test images bundled with
skdigits, in about a minute on two cores, so the accuracies are those of a
small sample and a few passes over it. The full-data figures (99.26% for the
default recipe on the 10,000 MNIST test images) are on the benchmarks page.
"""

# %%
# The data: a row is an image
# ---------------------------
# A notebook typically reads ``train.csv`` with pandas, calls ``np.array``,
# shuffles, and *transposes*, so that ``X`` has shape ``(784, m)``: a column is
# an example. scikit-learn, and so skdigits, keeps the file's layout: ``X`` has
# shape ``(m, 784)``, a row is an example, and ``y`` holds the digits
# themselves, not one-hot columns.
#
# The pixels are 0-255. Divide them by 255 (the notebooks that forgot found
# it the hardest bug to track down); in a pipeline,
# :class:`skdigits.PixelScaler` does it.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skdigits import NumpyMLPClassifier
from skdigits.augment import RandomAffine
from skdigits.datasets import load_mnist_sample

# Every fit below runs a fixed number of epochs on purpose.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X_raw, y = load_mnist_sample("train")  # uint8 (5000, 784), int64 (5000,)
X_test_raw, y_test = load_mnist_sample("test")  # 1,000 images never trained on
X, X_test = X_raw / 255.0, X_test_raw / 255.0
print(f"X: {X.shape}, y: {y.shape}, first labels {y[:8]}")

# %%
# The notebook, in twenty lines
# -----------------------------
# Here is the core of a typical notebook, written compactly for this page: a
# 784-100-10 network, ReLU then softmax, trained by full-batch gradient
# descent. Its conventions are the notebooks' own: ``X`` transposed to
# ``(784, m)``, ``W1`` of shape ``(100, 784)`` multiplying from the left, ``b1``
# a ``(100, 1)`` column, ``Y`` one-hot of shape ``(10, m)``, and ``alpha`` the
# learning rate.


def one_hot(y):
    Y = np.zeros((10, y.size))
    Y[y, np.arange(y.size)] = 1
    return Y


def forward_prop(W1, b1, W2, b2, X):
    Z1 = W1 @ X + b1
    A1 = np.maximum(Z1, 0)  # ReLU
    Z2 = W2 @ A1 + b2
    E = np.exp(Z2 - Z2.max(axis=0))  # without the max, exp overflows to inf
    return Z1, A1, E / E.sum(axis=0)


def backward_prop(Z1, A1, A2, W2, X, Y):
    m = X.shape[1]
    dZ2 = A2 - Y
    dW2, db2 = dZ2 @ A1.T / m, dZ2.sum(axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    dW1, db1 = dZ1 @ X.T / m, dZ1.sum(axis=1, keepdims=True) / m
    return dW1, db1, dW2, db2


def gradient_descent(X, y, alpha, iterations, W1, b1, W2, b2):
    Y, losses = one_hot(y), []
    for _ in range(iterations):
        Z1, A1, A2 = forward_prop(W1, b1, W2, b2, X)
        losses.append(-np.sum(Y * np.log(A2)) / X.shape[1])
        dW1, db1, dW2, db2 = backward_prop(Z1, A1, A2, W2, X, Y)
        W1, b1 = W1 - alpha * dW1, b1 - alpha * db1
        W2, b2 = W2 - alpha * dW2, b2 - alpha * db2
    return W1, b1, W2, b2, losses


# %%
# The same network as an estimator
# --------------------------------
# Each piece has a parameter or an attribute:
#
# ===================================  =========================================
# the notebook                         NumpyMLPClassifier
# ===================================  =========================================
# ``W1 (100, 784)``, ``W2 (10, 100)``  ``coefs_[0] (784, 100)``,
#                                      ``coefs_[1] (100, 10)``: the transposes
# ``b1 (100, 1)``, ``b2 (10, 1)``      ``intercepts_[0] (100,)``,
#                                      ``intercepts_[1] (10,)``
# 784-100-10, ReLU                     ``hidden_layer_sizes=(100,)``,
#                                      ``activation="relu"``
# ``one_hot(Y)``                       done inside ``fit``; pass the digits
# ``forward_prop``                     ``predict_proba``
# ``backward_prop`` + the update       ``fit`` (``solver="sgd"``)
# full batch                           ``batch_size=n_samples``
# plain update, no momentum            ``momentum=0``
# ``alpha=0.1`` (the learning rate!)   ``learning_rate_init=0.1``
# no regularisation                    ``alpha=0`` (here ``alpha`` is the L2
#                                      penalty, default 1e-4)
# ``iterations``                       ``max_iter``: epochs, passes over the
#                                      data; with a full batch, one update each
# ``get_accuracy(predictions, Y)``     ``score(X_test, y_test)``
# ===================================  =========================================
#
# To check that the map is right, start both from the same weights. The
# estimator draws its own (He-uniform for ReLU layers, see below), so let it
# make one full-batch step, copy its weights into the notebook's shapes, and
# then run 50 more iterations on each side. ``warm_start=True`` makes the
# second ``fit`` go on from where the first stopped. Shuffling a single batch
# would only change the order of a sum, so ``shuffle=False`` keeps the two
# bit-for-bit comparable.
notebook = NumpyMLPClassifier(
    hidden_layer_sizes=(100,),
    activation="relu",
    solver="sgd",
    batch_size=len(X),
    momentum=0.0,
    learning_rate_init=0.1,
    alpha=0.0,
    max_iter=1,
    shuffle=False,
    warm_start=True,
    random_state=0,
).fit(X, y)
W1, b1 = notebook.coefs_[0].T.copy(), notebook.intercepts_[0][:, None].copy()
W2, b2 = notebook.coefs_[1].T.copy(), notebook.intercepts_[1][:, None].copy()
W_start = notebook.coefs_[0].copy()  # to see later what training changed
print(f"W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}")

iterations = 50
start = time.perf_counter()
W1, b1, W2, b2, losses = gradient_descent(X.T, y, 0.1, iterations, W1, b1, W2, b2)
notebook_seconds = time.perf_counter() - start

start = time.perf_counter()
notebook.set_params(max_iter=iterations).fit(X, y)
estimator_seconds = time.perf_counter() - start

notebook_accuracy = np.mean(
    forward_prop(W1, b1, W2, b2, X_test.T)[2].argmax(axis=0) == y_test
)
difference = np.max(np.abs(notebook.coefs_[0] - W1.T))
print(
    f"NumPy notebook: test accuracy {notebook_accuracy:.3f} ({notebook_seconds:.1f} s)"
)
print(
    f"NumpyMLPClassifier: test accuracy {notebook.score(X_test, y_test):.3f} "
    f"({estimator_seconds:.1f} s)"
)
print(f"largest difference between the two W1: {difference:.1e}")

# %%
# ``loss_curve_`` holds the training loss after each epoch (the first entry is
# the step taken before copying the weights). The two curves lie on top of
# each other.
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
epochs = np.arange(2, iterations + 2)
ax.plot(epochs, losses, lw=4, alpha=0.4, label="the NumPy notebook")
ax.plot(epochs, notebook.loss_curve_[1:], "k--", label="NumpyMLPClassifier")
ax.set(xlabel="iteration (= epoch, with a full batch)", ylabel="cross-entropy loss")
ax.set_title("Full-batch gradient descent, learning rate 0.1")
ax.legend()
plt.show()

# %%
# The first layer's weights
# -------------------------
# Column ``j`` of ``coefs_[0]`` (row ``j`` of the notebook's ``W1``) holds the
# 784 weights of hidden unit ``j``: reshaped to 28x28, it shows which pixels
# push that unit up (red) or down (blue). After 50 small full-batch steps the
# weights (top row) are still mostly the random values they started from;
# what training has added to them so far (bottom row) already shows strokes
# and blobs where digits have ink. The frame of pixels that no digit ever
# touches gets no gradient at all.
W = notebook.coefs_[0]
fig, axes = plt.subplots(2, 10, figsize=(9, 2.2), layout="constrained")
for row, (images, label) in zip(axes, [(W, "weights"), (W - W_start, "change")]):
    vmax = np.abs(images[:, :10]).max()
    for j, ax in enumerate(row):
        ax.imshow(images[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(label, fontsize=9)
fig.suptitle("The first 10 hidden units: coefs_[0][:, j] as 28x28 images")
plt.show()

# %%
# What the notebooks got wrong, and what the estimator does
# ----------------------------------------------------------
# * **Unscaled pixels.** With 0-255 inputs, the first step is 255 times too
#   large. The estimator stops and says what to do instead of printing ``nan``:
try:
    NumpyMLPClassifier(**notebook.get_params() | {"warm_start": False}).fit(X_raw, y)
except ValueError as err:
    print(err)

# %%
# * **Positive-only weights.** ``np.random.rand`` draws in [0, 1): every
#   hidden unit starts as the same kind of positive sum of the pixels, and the
#   units differ little. The estimator draws symmetric weights: uniform in
#   :math:`\pm\sqrt{6 / \text{fan\_in}}` for ReLU-like layers (He-uniform),
#   Glorot's :math:`\pm\sqrt{6 / (\text{fan\_in} + \text{fan\_out})}` for
#   tanh and the output layer.
# * **A loss stuck at 2.301.** Two stacked sigmoid layers with
#   ``randn * 0.01`` weights learn almost nothing, and a network that answers
#   1/10 for every digit has a loss of exactly :math:`\ln 10`:
print(f"ln(10) = {np.log(10):.4f}")

# %%
# * **Softmax without the max subtracted** overflows as soon as a logit passes
#   about 710 (``np.exp(710.0)`` is ``inf``); ``forward_prop`` above subtracts
#   it, and so does the estimator.
# * **"Test" accuracy on the training set.** The accuracies on this page are
#   on ``load_mnist_sample("test")``: 1,000 images from MNIST's test set, which
#   none of these fits has seen.
#
# What the defaults bring, one step at a time
# -------------------------------------------
# Now keep the 784-100-10 network and the same budget of passes over the
# data, and change one thing at a time towards the estimator's defaults and
# skdigits' ``default`` recipe:
#
# 1. **minibatches** of 200 (``batch_size="auto"``): the same pass over the
#    data makes 25 updates instead of one;
# 2. **Adam** (``solver="adam"``, ``learning_rate_init=1e-3``, the L2 penalty
#    ``alpha=1e-4``): scikit-learn's defaults;
# 3. **dropout** of 20% of the hidden units while training;
# 4. **augmentation**: each training minibatch is turned, scaled and shifted
#    afresh every epoch (the ``default`` recipe's ``RandomAffine``);
# 5. the **cosine schedule**: the step size falls smoothly to 0 over the run.
passes = 15
steps = [
    ("full batch", {}),
    ("+ minibatches", {"batch_size": "auto"}),
    ("+ Adam", {"solver": "adam", "learning_rate_init": 1e-3, "alpha": 1e-4}),
    ("+ dropout", {"dropout": 0.2}),
    (
        "+ augmentation",
        {"augment": RandomAffine(rotation=10.0, scale=(0.9, 1.1), shift=2.0)},
    ),
    ("+ cosine", {"learning_rate": "cosine"}),
]
params = notebook.get_params() | {
    "max_iter": passes,
    "warm_start": False,
    "shuffle": True,
}
results = []
for name, change in steps:
    params |= change
    model = NumpyMLPClassifier(**params).fit(X, y)
    results.append((name, model.score(X_test, y_test)))

print(f"{'step':<16} test accuracy ({passes} passes over 5,000 images)")
for name, accuracy in results:
    print(f"{name:<16} {accuracy:.3f}")

# %%
# Each bar is one fit, one seed, scored on 1,000 images, so a difference of a
# point or less is within the noise. Minibatches and Adam are the big steps
# at this budget. Dropout, augmentation and the schedule are there for long
# runs on all 60,000 images, where they take the default recipe from 98.48%
# (``plain``) to 99.26% on the MNIST test set; with 15 passes over 5,000
# images they have little to work with. The cosine schedule, for one, spends
# the second half of a run at small steps: that polishes the end of a long
# run, but on a short one it mostly takes away large steps. (The benchmarks
# page has the full-data measurements.)
fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
names = [name for name, _ in results]
accuracies = [accuracy for _, accuracy in results]
bars = ax.bar(names, accuracies, color=["0.6"] + ["C0"] * (len(results) - 1))
ax.bar_label(bars, fmt="%.3f")
ax.tick_params(axis="x", labelsize=9)
ax.set(ylabel="test accuracy", ylim=(min(accuracies) - 0.05, 1.0))
ax.set_title(f"784-100-10, {passes} passes over the 5,000-image sample")
plt.show()

# %%
# From here
# ---------
# The estimator's defaults are ``NumpyMLPClassifier()``; skdigits' recipes are
# plain dicts of parameters: ``NumpyMLPClassifier(**skdigits.get_recipe(
# "default"))`` is what ``skdigits train`` fits (784-512-256, Adam on a cosine
# schedule, dropout 0.2, random affine augmentation, 30 epochs). Because it is
# a scikit-learn estimator, it goes into a ``Pipeline`` with
# :class:`skdigits.PixelScaler`, a ``GridSearchCV`` or ``cross_val_score``
# unchanged.
