"""Tune an MLP on MNIST with a scikit-learn Pipeline and GridSearchCV.

``NumpyMLPClassifier`` is a drop-in for scikit-learn's ``MLPClassifier``, so it
slots into the usual model-selection tools.  The pipeline scales the 0-255
pixels to [0, 1] with ``PixelScaler``; ``GridSearchCV`` then tries a few
hidden-layer sizes and L2 penalties with 2-fold cross-validation, refits the best
on all the training images and scores it on the held-out test images.

Run it on the bundled 5,000-image sample (about half a minute)::

    python examples/pipeline_grid_search.py

or on the full MNIST files (a directory holding mnist_train.csv.gz and
mnist_test.csv.gz; this takes a while)::

    python examples/pipeline_grid_search.py --data /path/to/mnist
"""

import argparse
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist

# A fixed, small epoch budget is the plan here, not a failure to converge.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", metavar="DIR", help="directory of the full files")
    args = parser.parse_args()
    X_train, y_train = load_mnist("train", args.data)
    X_test, y_test = load_mnist("test", args.data)

    pipeline = Pipeline(
        [
            ("scale", PixelScaler()),
            ("mlp", NumpyMLPClassifier(max_iter=5, random_state=0)),
        ]
    )
    grid = {
        "mlp__hidden_layer_sizes": [(32,), (64,)],
        "mlp__alpha": [1e-4, 1e-2],
    }
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    search = GridSearchCV(pipeline, grid, cv=cv, n_jobs=1)
    search.fit(X_train, y_train)

    results = search.cv_results_
    for rank, params, score in sorted(
        zip(results["rank_test_score"], results["params"], results["mean_test_score"]),
        key=lambda row: row[0],
    ):
        print(f"{rank}. cv accuracy {score:.4f}  {params}")
    print(f"best parameters: {search.best_params_}")
    print(f"test accuracy of the refit best model: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
