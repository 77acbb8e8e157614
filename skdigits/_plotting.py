"""Figures of skdigits objects, drawn with matplotlib (an optional dependency).

:func:`plot_augmented` is public as :func:`skdigits.augment.plot_augmented`.
"""

import math

import numpy as np

__all__ = ["plot_augmented"]


def plot_augmented(augmenter, X, path=None, *, n_images=8, n_copies=7, random_state=0):
    """Draw digits beside augmented copies of them, as a matplotlib figure.

    Row :math:`i` shows image ``X[i]`` and then ``n_copies`` independent
    draws of the augmenter on it, so one can see what the augmenter does
    before training with it. Needs matplotlib (``pip install
    skdigits[plots]``).

    Parameters
    ----------
    augmenter : augmenter
        Called once, as ``augmenter(X_repeated, rng)``.
    X : array-like of shape (n_samples, height * width)
        Images as the augmenter sees them in training (for a skdigits
        pipeline, after :class:`~skdigits.PixelScaler`); integer pixels are
        converted to float32. The first ``n_images`` rows are shown.
    path : str or path-like, default=None
        Also write the figure there as a PNG (atomically: a failed write
        leaves an existing file as it was).
    n_images : int, default=8
        How many images (rows of the grid).
    n_copies : int, default=7
        How many augmented copies of each.
    random_state : int, default=0
        Seed of the generator given to the augmenter.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    X = np.asarray(X)[:n_images]
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    X_aug = augmenter(
        np.repeat(X, n_copies, axis=0), np.random.default_rng(random_state)
    )
    shape = _display_shape(augmenter, X.shape[1])
    figure = _grid_figure(X, X_aug.reshape(len(X), n_copies, -1), shape)
    if path is not None:
        from skdigits._atomic import atomic_output

        with atomic_output(path, binary=True) as file:
            figure.savefig(file, format="png", dpi=100)
    return figure


def _display_shape(augmenter, n_pixels):
    """The augmenter's image_shape (a Chain's: its first step's), else square."""
    candidates = [augmenter, *(step for _, step in getattr(augmenter, "steps", []))]
    for candidate in candidates:
        shape = getattr(candidate, "image_shape", None)
        if shape is not None:
            return tuple(shape)
    side = math.isqrt(n_pixels)
    return side, n_pixels // side


def _grid_figure(X, X_aug, shape):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plot_augmented needs matplotlib: pip install skdigits[plots]"
        ) from None
    n, n_copies = X_aug.shape[:2]
    figure = Figure(figsize=(1.1 * (n_copies + 1), 1.1 * n + 0.5), layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle("Digits and augmented copies (a new draw in each column)")
    vmin, vmax = (float(X.min()), float(X.max())) if X.size else (0.0, 1.0)
    axes = figure.subplots(max(n, 1), n_copies + 1, squeeze=False)
    for i, row in enumerate(axes):
        for j, ax in enumerate(row):
            ax.set_axis_off()
            if i < n:
                image = X[i] if j == 0 else X_aug[i, j - 1]
                ax.imshow(image.reshape(shape), cmap="gray_r", vmin=vmin, vmax=vmax)
            if i == 0 and j < 2:
                ax.set_title("original" if j == 0 else "augmented", fontsize=8)
    return figure
