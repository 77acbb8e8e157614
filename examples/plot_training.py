"""Watch the MLP learn: the training loss and the validation curves, as a PNG.

With ``early_stopping=True`` the classifier holds out ``validation_fraction``
of the training images and, after every epoch, records the accuracy
(``validation_scores_``) and the loss (``validation_loss_curve_``) on them,
next to the training loss (``loss_curve_``).  Training stops once the
validation accuracy has not improved for ``n_iter_no_change`` epochs and keeps
the best weights.  A training loss that keeps falling while the validation loss
turns up is overfitting.

Run it on the bundled sample (needs matplotlib: pip install skdigits[plots];
well under a minute)::

    python examples/plot_training.py --output training.png

or on the full training file (a directory holding mnist_train.csv.gz)::

    python examples/plot_training.py --data /path/to/mnist
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skdigits import NumpyMLPClassifier, PixelScaler  # noqa: E402
from skdigits.datasets import load_mnist  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", metavar="DIR", help="directory of the full files")
    parser.add_argument("--output", default="training.png", help="%(default)s")
    args = parser.parse_args()
    X, y = load_mnist("train", args.data)

    model = make_pipeline(
        PixelScaler(),
        NumpyMLPClassifier(
            hidden_layer_sizes=(64,),
            max_iter=15,
            early_stopping=True,
            n_iter_no_change=5,
            random_state=0,
        ),
    )
    model.fit(X, y)
    mlp = model[-1]
    print(
        f"stopped after {mlp.n_iter_} epochs; best validation accuracy "
        f"{max(mlp.validation_scores_):.4f}"
    )

    epochs = range(1, mlp.n_iter_ + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    left.plot(epochs, mlp.loss_curve_, label="training loss")
    left.plot(epochs, mlp.validation_loss_curve_, label="validation loss")
    left.set(xlabel="epoch", ylabel="log loss", title="Loss")
    left.legend()
    right.plot(epochs, mlp.validation_scores_, color="C2")
    right.set(xlabel="epoch", ylabel="accuracy", title="Validation accuracy")
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
