"""
==========================
Loss and validation curves
==========================

With ``early_stopping=True`` the classifier holds out ``validation_fraction``
of the training images (10% by default) and records, after every epoch, the
accuracy (``validation_scores_``) and the log-loss (``validation_loss_curve_``)
on them, next to the training loss (``loss_curve_``). Training stops once the
validation accuracy has not improved by ``tol`` for ``n_iter_no_change``
epochs, and the estimator keeps the weights of its best epoch.
``validation_loss_curve_`` is one of skdigits' additions: scikit-learn's
``MLPClassifier`` records only the validation accuracy.
"""

# %%
# Train with early stopping
# -------------------------
# A 256-unit layer on 4,500 of the 5,000 sample images (the other 500 are the
# validation split), for at most 60 epochs.
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
        hidden_layer_sizes=(256,),
        max_iter=60,
        early_stopping=True,
        n_iter_no_change=8,
        random_state=0,
    ),
)
model.fit(X, y)
mlp = model[-1]
best = int(np.argmax(mlp.validation_scores_)) + 1
print(f"stopped after {mlp.n_iter_} epochs; best epoch {best}")
print(f"best validation accuracy {mlp.best_validation_score_:.3f}")
print(f"test accuracy of the kept weights {model.score(X_test, y_test):.3f}")

# %%
# Read the curves
# ---------------
# The training loss keeps falling. The validation loss levels off within a
# few epochs and then creeps up, while the validation accuracy barely moves:
# the network grows more confident on the images it trains on, and on its
# mistakes elsewhere. The widening gap between the two losses is
# overfitting. The dotted line marks the epoch whose weights were kept.
epochs = np.arange(1, mlp.n_iter_ + 1)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
left.plot(epochs, mlp.loss_curve_, label="training loss (with L2)")
left.plot(epochs, mlp.validation_loss_curve_, label="validation loss")
left.set(xlabel="epoch", ylabel="log-loss", yscale="log", title="Loss")
left.legend()
right.plot(epochs, mlp.validation_scores_, color="C2")
right.set(xlabel="epoch", ylabel="accuracy", title="Validation accuracy")
for ax in (left, right):
    ax.axvline(best, color="0.5", linestyle=":")
plt.show()
