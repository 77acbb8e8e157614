"""PNG plots for ``skdigits evaluate --plots``; matplotlib is an optional extra.

Figures are drawn with matplotlib's object API on the Agg canvas, so no GUI
backend is needed and the caller's pyplot state is left alone.  Each PNG is
written to a temporary file in the target directory and renamed into place.
"""

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix

# How many misclassified digits the gallery shows at most (a 5 x 5 grid).
GALLERY_SIZE = 25


def require_matplotlib():
    """Import matplotlib's Agg canvas, or raise an ImportError saying what to do."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise ImportError(
            "--plots needs matplotlib: pip install skdigits[plots]"
        ) from None


def write_plots(model, X, y, out_dir):
    """Write the loss curve, confusion matrix and worst-errors gallery as PNGs.

    When the classifier trains with an augmenter (its ``augment`` parameter),
    also ``augmented.png``: a digit of each class beside copies drawn by it.

    Parameters
    ----------
    model : fitted classifier or Pipeline ending in one
        Its last step's ``loss_curve_`` (and ``validation_scores_`` when present)
        make the loss curve.
    X : ndarray of shape (n_samples, 784)
        MNIST pixels, 0-255.
    y : ndarray of shape (n_samples,)
        The true digits.
    out_dir : str or path-like
        Created when missing.

    Returns
    -------
    paths : list of pathlib.Path
        The files written.
    """
    require_matplotlib()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    proba = model.predict_proba(X)
    y_pred = model.classes_[np.argmax(proba, axis=1)]
    figures = {
        "loss_curve.png": _loss_curve(_final_step(model)),
        "confusion_matrix.png": _confusion(y, y_pred),
        "misclassified.png": _gallery(X, y, y_pred, proba.max(axis=1)),
    }
    if getattr(_final_step(model), "augment", None) is not None:
        figures["augmented.png"] = _augmented(model, X, y)
    paths = []
    for name, figure in figures.items():
        paths.append(_save(figure, out_dir / name))
    return paths


def _final_step(model):
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _augmented(model, X, y):
    """The first digit of each class beside copies drawn by the augmenter.

    The digits go through the pipeline's steps before the classifier first
    (PixelScaler), so the augmenter sees them as it does in training.
    """
    from skdigits.augment import plot_augmented

    first = np.unique(y, return_index=True)[1][:10]
    X_seen = model[:-1].transform(X[first]) if hasattr(model, "steps") else X[first]
    return plot_augmented(_final_step(model).augment, X_seen, n_images=len(first))


def _figure(**kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def _loss_curve(classifier):
    figure = _figure(figsize=(6, 4), layout="constrained")
    ax = figure.add_subplot()
    losses = getattr(classifier, "loss_curve_", None)
    if losses is None:
        ax.text(0.5, 0.5, "no loss curve (trained with lbfgs?)", ha="center")
        return figure
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, marker=".", label="training loss")
    ax.set(xlabel="epoch", ylabel="loss", title="Training loss")
    ax.xaxis.get_major_locator().set_params(integer=True)
    scores = getattr(classifier, "validation_scores_", None)
    if scores:
        ax.set_title("Training loss and validation accuracy")
        right = ax.twinx()
        right.plot(epochs[: len(scores)], scores, color="C1", marker=".")
        right.set_ylabel("validation accuracy", color="C1")
    ax.legend(loc="upper center")
    return figure


def _confusion(y, y_pred):
    labels = np.unique(np.concatenate([y, y_pred]))
    matrix = confusion_matrix(y, y_pred, labels=labels)
    figure = _figure(figsize=(6, 5.5), layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax)
    ticks = np.arange(len(labels))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels)
    ax.set(xlabel="predicted digit", ylabel="true digit", title="Confusion matrix")
    threshold = matrix.max() / 2
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > threshold else "black"
        ax.text(j, i, count, ha="center", va="center", color=color, fontsize=7)
    return figure


def _gallery(X, y, y_pred, confidence):
    """The most confident mistakes, worst first."""
    wrong = np.flatnonzero(y != y_pred)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:GALLERY_SIZE]
    figure = _figure(figsize=(7.5, 8), layout="constrained")
    figure.suptitle(f"Most confident mistakes ({len(wrong)} shown)")
    if len(wrong) == 0:
        figure.text(0.5, 0.5, "no misclassified digits", ha="center")
    for k, i in enumerate(wrong):
        ax = figure.add_subplot(5, 5, k + 1)
        ax.imshow(X[i].reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"{y[i]} as {y_pred[i]} ({confidence[i]:.2f})", fontsize=8)
        ax.set_axis_off()
    return figure


def _save(figure, path):
    from skdigits._atomic import atomic_output

    with atomic_output(path, binary=True) as file:
        figure.savefig(file, format="png", dpi=100)
    return path
