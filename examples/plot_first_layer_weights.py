"""
==========================================
The first layer's weights as 28x28 images
==========================================

``coefs_[0]`` has shape ``(784, n_hidden)``: column ``j`` holds the weight of
every input pixel into hidden unit ``j``. Reshaped to 28x28, each column is a
picture of what makes that unit fire (red pixels push it up, blue ones down).
This example trains a 784-64-10 network on the bundled sample, with a weak and
a strong L2 penalty, and shows the units' weights.
"""

# %%
# Train two small networks
# ------------------------
# The same 784-64-10 network twice: with the default L2 penalty
# (``alpha=1e-4``) and with a strong one (``alpha=1.0``; the penalty is
# divided by the number of samples, so it stays mild on 5,000 images).
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist_sample

warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_mnist_sample("train")
X_test, y_test = load_mnist_sample("test")
weights = {}
for alpha in (1e-4, 1.0):
    model = make_pipeline(
        PixelScaler(),
        NumpyMLPClassifier(
            hidden_layer_sizes=(64,), alpha=alpha, max_iter=20, random_state=0
        ),
    )
    model.fit(X, y)
    weights[alpha] = model[-1].coefs_[0]
    print(
        f"alpha={alpha:g}: coefs_[0] of shape {weights[alpha].shape}, "
        f"test accuracy {model.score(X_test, y_test):.3f}"
    )

# %%
# Show each hidden unit's weights
# -------------------------------
# With the default penalty (left) the weights stay close to their random
# start, with faint strokes in the middle. With the strong one (right) every
# weight that the data does not hold up decays, and what is left reads as
# detectors of pieces of digits: bars, arcs and their negatives. The outer
# frame, where MNIST's centred digits never have ink, gets no gradient from
# the data, so only the penalty moves it: towards 0. So does a whole unit that
# no image switches on (a "dead" ReLU): it fades to blank.
fig = plt.figure(figsize=(10, 3.4), layout="constrained")
for subfig, (alpha, W) in zip(fig.subfigures(1, 2), weights.items()):
    vmax = np.abs(W).max()
    for j, ax in enumerate(subfig.subplots(4, 8).ravel()):
        ax.imshow(W[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_axis_off()
    subfig.suptitle(f"alpha={alpha:g}: the first 32 hidden units")
plt.show()
