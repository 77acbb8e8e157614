"""
=======================================
Confusion matrix and the worst mistakes
=======================================

Which digits does a model confuse, and which of its mistakes are the most
confident? This example scores skdigits' bundled model on the bundled test
sample (1,000 images from MNIST's test set, which the model never saw), draws
the confusion matrix, and shows the misread digits to which the model gave the
lowest probability of their true class. ``skdigits evaluate --plots DIR``
writes the same two pictures for any model and labelled CSV.
"""

# %%
# Score the bundled model
# -----------------------
# :func:`skdigits.load_bundled_model` loads the model ``skdigits train`` makes
# with its defaults, trained on MNIST's 60,000 training images. It is a
# ``Pipeline(PixelScaler(), NumpyMLPClassifier(...))`` stored as a ``.skops``
# file, so it needs the ``skops`` extra (``pip install "skdigits[skops]"``);
# it takes raw 0-255 pixels.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay

from skdigits import load_bundled_model
from skdigits.datasets import load_mnist_sample

model = load_bundled_model()
X_test, y_test = load_mnist_sample("test")
proba = model.predict_proba(X_test)
y_pred = model.classes_[proba.argmax(axis=1)]
wrong = np.flatnonzero(y_pred != y_test)
print(f"test accuracy {np.mean(y_pred == y_test):.3f}: {len(wrong)} of {len(y_test)}")

# %%
# The confusion matrix
# --------------------
# Row ``i``, column ``j`` counts the images of digit ``i`` read as ``j``; the
# diagonal holds the correct answers. With so few mistakes, the colours
# saturate on the diagonal, so the counts are printed in every non-zero cell.
fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
ConfusionMatrixDisplay.from_predictions(
    y_test, y_pred, ax=ax, colorbar=False, cmap="Blues"
)
for text in ax.texts:  # hide the zeros
    text.set_visible(text.get_text() != "0")
ax.set_title("The bundled model on the 1,000-image test sample")
plt.show()

# %%
# The worst mistakes
# ------------------
# For each misread image, the probability the model gave its true class
# (``proba[i, true_class]``); the lowest come first. Some would make a
# person hesitate too; others are plain mistakes, where more training data or
# augmentation can help.
true_index = np.searchsorted(model.classes_, y_test)
p_true = proba[np.arange(len(y_test)), true_index]
worst = wrong[np.argsort(p_true[wrong])]
for i in worst:
    print(
        f"image {i:>3}: a {y_test[i]} read as {y_pred[i]} "
        f"(p={proba[i].max():.2f}; p of the true class {p_true[i]:.3f})"
    )

n = min(len(worst), 10)
fig, axes = plt.subplots(
    1, max(n, 1), figsize=(1.3 * max(n, 1), 2.1), squeeze=False, layout="constrained"
)
for ax, i in zip(axes[0], worst[:n]):
    ax.imshow(X_test[i].reshape(28, 28), cmap="gray_r")
    ax.set_title(
        f"{y_test[i]} read as {y_pred[i]}\np(true)={p_true[i]:.2f}", fontsize=8
    )
    ax.set_axis_off()
fig.suptitle("The misread digits with the lowest probability of their true class")
plt.show()
