"""How accurate is the MLP, and how much does that vary? 5-fold cross-validation.

``cross_val_score`` fits a fresh clone of the pipeline on four fifths of the
training images and scores it on the remaining fifth, five times.  The spread of
the five scores shows how much a single train/test split can be trusted.

Run it on the bundled 5,000-image sample (well under a minute)::

    python examples/cross_validation.py

or on the full training file (a directory holding mnist_train.csv.gz)::

    python examples/cross_validation.py --data /path/to/mnist
"""

import argparse
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist

# A fixed, small epoch budget is the plan here, not a failure to converge.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", metavar="DIR", help="directory of the full files")
    args = parser.parse_args()
    X, y = load_mnist("train", args.data)

    model = make_pipeline(
        PixelScaler(),
        NumpyMLPClassifier(hidden_layer_sizes=(64,), max_iter=5, random_state=0),
    )
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(model, X, y, cv=cv)
    for fold, score in enumerate(scores, start=1):
        print(f"fold {fold}: accuracy {score:.4f}")
    print(
        f"mean accuracy {scores.mean():.4f} +/- {scores.std():.4f} over {len(y)} images"
    )


if __name__ == "__main__":
    main()
