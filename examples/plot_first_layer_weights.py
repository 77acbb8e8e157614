"""
==========================================
The first layer's weights as 28x28 images
==========================================

``coefs_[0]`` has shape ``(784, n_hidden)``: column ``j`` holds the weight of
every input pixel into hidden unit ``j``. Reshaped to 28x28, each column is a
picture of what makes that unit fire (red pixels push it up, blue ones down).
This example trains a 784-64-10 network on the bundled sample and shows all 64.
"""

# %%
# Train a small network
# ---------------------
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
model = make_pipeline(
    PixelScaler(),
    NumpyMLPClassifier(
        hidden_layer_sizes=(64,), alpha=1e-3, max_iter=20, random_state=0
    ),
)
model.fit(X, y)
W = model[-1].coefs_[0]
print(f"coefs_[0] has shape {W.shape}; test accuracy {model.score(X_test, y_test):.3f}")

# %%
# Show each hidden unit's weights
# -------------------------------
# Most units look like blurred strokes and their negatives: detectors of a
# piece of a digit. The outer frame of pixels, where MNIST's centred digits
# never have ink, gets no gradient from the data; only the small L2 penalty
# (``alpha``) shrinks the random values it started from.
vmax = np.abs(W).max()
fig, axes = plt.subplots(8, 8, figsize=(7, 7.4), layout="constrained")
for j, ax in enumerate(axes.ravel()):
    ax.imshow(W[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_axis_off()
fig.suptitle("Weights of the 64 hidden units (coefs_[0] columns)")
plt.show()
