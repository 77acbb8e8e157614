"""Save a trained model and load it back: ``.joblib`` for you, ``.skops`` to share.

``save_model`` picks the format from the file name.  A ``.joblib`` file is a
pickle: quick, but loading one can run code, so only load your own.  A
``.skops`` file is rebuilt from a JSON description and ``load_model`` accepts
only the types a skdigits pipeline is made of, so it is the one to share.
Both round trips give byte-identical predictions.

Run it on the bundled sample (a few seconds)::

    python examples/persistence.py

or on the full MNIST files (a directory holding mnist_train.csv.gz and
mnist_test.csv.gz)::

    python examples/persistence.py --data /path/to/mnist
"""

import argparse
import tempfile
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from skdigits import NumpyMLPClassifier, PixelScaler, load_model, save_model
from skdigits.datasets import load_mnist

# A fixed, small epoch budget is the plan here, not a failure to converge.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", metavar="DIR", help="directory of the full files")
    args = parser.parse_args()
    X_train, y_train = load_mnist("train", args.data)
    X_test, y_test = load_mnist("test", args.data)

    model = make_pipeline(
        PixelScaler(),
        NumpyMLPClassifier(hidden_layer_sizes=(64,), max_iter=5, random_state=0),
    )
    model.fit(X_train, y_train)
    expected = model.predict_proba(X_test)
    print(f"trained: test accuracy {model.score(X_test, y_test):.4f}")

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("model.joblib", "model.skops"):
            path = Path(tmp) / name
            save_model(model, path)
            loaded = load_model(path)
            same = loaded.predict_proba(X_test).tobytes() == expected.tobytes()
            print(
                f"{name}: {path.stat().st_size / 1e6:.1f} MB, test accuracy "
                f"{loaded.score(X_test, y_test):.4f}, identical predictions: {same}"
            )
            if not same:
                raise SystemExit(f"{name}: the loaded model predicts differently")


if __name__ == "__main__":
    main()
