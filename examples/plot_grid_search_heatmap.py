"""
==========================
A grid search as a heatmap
==========================

``NumpyMLPClassifier`` is a scikit-learn estimator, so it is tuned as any
other: in a ``Pipeline`` with :class:`skdigits.PixelScaler`, by a grid search
over its parameters. This example searches two parameters, draws the mean
cross-validated accuracy of each pair as a heatmap, and shows what
:class:`skdigits.model_selection.ResumableGridSearchCV` adds to scikit-learn's
``GridSearchCV``: a journal of finished fits, from which a search that is run
again (after Ctrl-C, a reboot or a lost Dask cluster) takes every fit it
already has.
"""

# %%
# The search
# ----------
# Three layer widths times three learning rates, each fitted on two thirds of
# the 5,000 sample images and scored on the other third, three times: 27 short
# fits of 5 epochs. ``ResumableGridSearchCV`` takes ``GridSearchCV``'s
# parameters and gives its ``cv_results_``; ``journal=`` names the file that
# keeps one line per finished fit.
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist_sample
from skdigits.model_selection import ResumableGridSearchCV

warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_mnist_sample("train")
X_test, y_test = load_mnist_sample("test")
pipeline = Pipeline(
    [("scale", PixelScaler()), ("mlp", NumpyMLPClassifier(max_iter=5, random_state=0))]
)
grid = {
    "mlp__hidden_layer_sizes": [(16,), (32,), (64,)],
    "mlp__learning_rate_init": [1e-4, 1e-3, 1e-2],
}
workdir = tempfile.TemporaryDirectory()  # removed when the script ends
folder = Path(workdir.name)


def make_search():
    """The search: 3 shuffled stratified folds, each fit logged in a journal."""
    return ResumableGridSearchCV(
        pipeline,
        grid,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
        journal=folder / "search.fits.jsonl",
    )


search = make_search()
start = time.perf_counter()
search.fit(X, y)
seconds = time.perf_counter() - start
n_fits = len(search.cv_results_["params"]) * search.n_splits_
print(f"{n_fits} fits and the refit of the best in {seconds:.1f} s")
print(f"best: {search.best_params_}, cv accuracy {search.best_score_:.3f}")
print(f"test accuracy of the refit best model {search.score(X_test, y_test):.3f}")

# %%
# The same search again
# ---------------------
# A new search object with the same data, grid, folds and estimator finds
# the journal, takes all 27 fits from it and only refits the best candidate.
# A search that was stopped half-way would run only the missing fits; a
# journal written by a different search is never mixed in.
again = make_search()
start = time.perf_counter()
again.fit(X, y)
print(f"reused {again.n_reused_} fits; {time.perf_counter() - start:.1f} s")
same = np.array_equal(
    again.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
)
print(f"same mean test scores: {same}")

# %%
# The heatmap
# -----------
# ``cv_results_["params"]`` and ``cv_results_["mean_test_score"]`` list the
# candidates side by side; each score goes into its cell of a widths x
# learning rates table. At 5 epochs the smallest learning rate has barely
# started: a short budget rewards large steps and, here, wider layers.
results = search.cv_results_
widths = grid["mlp__hidden_layer_sizes"]
rates = grid["mlp__learning_rate_init"]
scores = np.empty((len(widths), len(rates)))
for params, score in zip(results["params"], results["mean_test_score"]):
    i = widths.index(params["mlp__hidden_layer_sizes"])
    j = rates.index(params["mlp__learning_rate_init"])
    scores[i, j] = score

fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
image = ax.imshow(scores, cmap="viridis")
for (i, j), score in np.ndenumerate(scores):
    color = "k" if score > scores.mean() else "w"
    ax.text(j, i, f"{score:.3f}", ha="center", va="center", color=color)
ax.set_xticks(range(len(rates)), [f"{rate:g}" for rate in rates])
ax.set_yticks(range(len(widths)), [str(width) for width in widths])
ax.set(xlabel="learning_rate_init", ylabel="hidden_layer_sizes")
ax.set_title("Mean 3-fold cv accuracy, 5 epochs")
fig.colorbar(image, ax=ax, shrink=0.8)
plt.show()

# %%
# From the command line
# ---------------------
# ``skdigits grid-search`` runs the same search on a CSV and saves the best
# model; run it again and it resumes from ``<model>.fits.jsonl``::
#
#     skdigits grid-search --train mnist_train.csv --cv 3 --model best.skops \
#         --grid '{"hidden_layer_sizes": [[16], [32], [64]],
#                  "learning_rate_init": [0.0001, 0.001, 0.01]}'
