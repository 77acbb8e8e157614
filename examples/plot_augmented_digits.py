"""
=================
Augmented digits
=================

``NumpyMLPClassifier(augment=...)`` deforms every training minibatch with a new
random draw, every epoch, inside the training loop; the validation split and
anything passed to ``predict`` or ``score`` are never touched. Before training
with an augmenter, look at what it does to real digits. This example shows
eight sample digits through each of :mod:`skdigits.augment`'s deformations and
through the augmenters of skdigits' recipes.
"""

# %%
# The augmenters
# --------------
# An augmenter is called as ``augmenter(X, rng)`` on images scaled to [0, 1]
# (what the network sees after :class:`skdigits.PixelScaler`) and returns
# deformed copies. :class:`~skdigits.augment.RandomAffine` takes ranges as
# torchvision does: ``rotation=10`` turns by up to 10 degrees either way,
# ``shift=2`` moves by up to 2 pixels. :class:`~skdigits.augment.ElasticDistortion`
# is Simard et al.'s (2003) random displacement field smoothed by a Gaussian.
# A recipe is a dict of parameters, so its augmenter is ``get_recipe(name)["augment"]``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn import config_context

from skdigits import get_recipe
from skdigits.augment import ElasticDistortion, RandomAffine
from skdigits.datasets import load_mnist_sample

X, y = load_mnist_sample("test")
digits = np.stack([X[np.flatnonzero(y == d)[0]] for d in (0, 1, 2, 3, 4, 5, 7, 9)])
digits = digits.astype(np.float32) / 255

augmenters = {
    "rotation=20": RandomAffine(rotation=20),
    "scale=(0.8, 1.2)": RandomAffine(scale=(0.8, 1.2)),
    "shear=15": RandomAffine(shear=15),
    "shift=3": RandomAffine(shift=3),
    "ElasticDistortion\n(alpha=34, sigma=5)": ElasticDistortion(alpha=34, sigma=5),
    "recipe 'default'": get_recipe("default")["augment"],
    "recipe 'best'": get_recipe("best")["augment"],
}
with config_context(print_changed_only=False):  # show every parameter
    for name in ("default", "best"):
        print(f"recipe {name!r}: {augmenters[f'recipe {name!r}']}")

# %%
# One row per augmenter
# ---------------------
# The first row holds the digits as they are; every other row is one draw of
# an augmenter on the same digits (``rng`` seeded, so the figure is the same
# at every build). The recipes' deformations keep every digit readable: an
# augmenter that turns a 6 into a 9 or pushes strokes off the frame would
# teach the network wrong labels.
rng = np.random.default_rng(0)
rows = {"original": digits}
rows |= {name: augmenter(digits, rng) for name, augmenter in augmenters.items()}

fig, axes = plt.subplots(
    len(rows), len(digits), figsize=(7, 1.0 * len(rows)), layout="constrained"
)
for ax_row, (name, images) in zip(axes, rows.items()):
    for ax, image in zip(ax_row, images):
        ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    ax_row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
fig.suptitle("Sample digits and one random draw of each augmenter")
plt.show()

# %%
# Outside this gallery
# --------------------
# :func:`skdigits.augment.plot_augmented` draws digits beside several
# augmented copies of each and can write the figure to a PNG::
#
#     from skdigits.augment import plot_augmented
#
#     plot_augmented(get_recipe("best")["augment"], digits, "augmented.png")
#
# ``skdigits evaluate --plots DIR`` writes the same picture, ``augmented.png``,
# for a model that was trained with an augmenter.
