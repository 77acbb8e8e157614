"""
===========================================
Time to accuracy against scikit-learn's MLP
===========================================

How fast does ``NumpyMLPClassifier`` reach a given test accuracy, compared
with scikit-learn's ``MLPClassifier`` training the same network with the same
optimizer? This example trains both on the bundled 5,000-image sample, scores
the 1,000 test images after every epoch, and plots accuracy against training
seconds (scoring excluded).

It is a small-sample illustration: on 5,000 images an epoch takes a fraction
of a second, so fixed costs and whatever else the machine is running weigh
more than they do in a real run, and the figure changes from build to build.
The measurement on the full 60,000 training images, with its command, host and
versions, is on the benchmarks page.
"""

# %%
# The same network, the same optimizer
# ------------------------------------
# 784-128-64 relu, Adam at a constant learning rate of 1e-3, minibatches of
# 128, L2 penalty 1e-4, 10 epochs, no dropout or augmentation: parameters
# both estimators take with the same names and meanings.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist_sample

X_raw, y = load_mnist_sample("train")
X_test_raw, y_test = load_mnist_sample("test")
scaler = PixelScaler().fit(X_raw)
X, X_test = scaler.transform(X_raw), scaler.transform(X_test_raw)  # float32
params = dict(
    hidden_layer_sizes=(128, 64),
    solver="adam",
    learning_rate_init=1e-3,
    batch_size=128,
    alpha=1e-4,
    random_state=0,
)
epochs = 10
# A fixed number of epochs is the plan here, not a failure to converge.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Follow each one epoch by epoch
# ------------------------------
# ``NumpyMLPClassifier`` calls ``callback(info)`` after every epoch while
# ``coefs_`` hold that epoch's weights; ``info["seconds"]`` is the epoch's
# training time, so the scoring done in the callback is not counted.
# ``MLPClassifier`` has no callback: one ``partial_fit`` call is one epoch
# (Adam's state carries over between calls), timed around the call.


def follow_ours():
    seconds, accuracy = [], []

    def after_epoch(info):
        seconds.append(info["seconds"])
        accuracy.append(model.score(X_test, y_test))

    model = NumpyMLPClassifier(**params, max_iter=epochs, callback=after_epoch)
    model.fit(X, y)
    return np.cumsum(seconds), accuracy


def follow_sklearn():
    seconds, accuracy = [], []
    model = MLPClassifier(**params)
    for _ in range(epochs):
        start = time.perf_counter()
        model.partial_fit(X, y, classes=np.arange(10))
        seconds.append(time.perf_counter() - start)
        accuracy.append(model.score(X_test, y_test))
    return np.cumsum(seconds), accuracy


curves = {
    "skdigits NumpyMLPClassifier": follow_ours(),
    "scikit-learn MLPClassifier": follow_sklearn(),
}
for name, (seconds, accuracy) in curves.items():
    print(
        f"{name}: {seconds[-1]:.1f} s for {epochs} epochs "
        f"({seconds[-1] / epochs:.2f} s/epoch), best test accuracy "
        f"{max(accuracy):.3f}, final {accuracy[-1]:.3f}"
    )

# %%
# Accuracy against training time
# ------------------------------
# Each marker is one epoch. The two are not the same model even with the same
# ``random_state``: the initial weights differ (He-uniform in skdigits' relu
# layers, Glorot-uniform in scikit-learn's) and so do the random streams, so
# the curves differ by more than speed. A first epoch also carries one-time
# costs (setting up, loading compiled code), which an epoch of 5,000 images
# is too short to hide. The x axis is what this comparison is about; the
# benchmarks page has it for the full data.
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
for name, (seconds, accuracy) in curves.items():
    ax.plot(seconds, accuracy, "o-", markersize=3, label=name)
ax.set(xlabel="training seconds (scoring excluded)", ylabel="test accuracy")
ax.set_title(f"784-128-64, Adam, batch 128: {epochs} epochs on 5,000 images")
ax.legend(loc="lower right")
plt.show()
