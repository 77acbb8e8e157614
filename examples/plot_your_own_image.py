"""
==================================
Your own image, step by step
==================================

A photo of a digit on paper is not an MNIST image: MNIST's digits are bright
ink on black, their longer side scaled to 20 pixels inside a 28x28 frame, and
centred by their centre of mass. :func:`skdigits.preprocessing.image_to_mnist`
makes any picture of one digit into that form. This example makes a photo-like
picture in the script (a digit drawn with Pillow, uneven light, sensor noise),
shows each stage, compares a notebook's naive preprocessing with
``image_to_mnist``, and lets the bundled model read both. ``skdigits
predict-image my_digit.jpg`` and the page of ``skdigits serve`` take the same
path.
"""

# %%
# Make a photo of a digit
# -----------------------
# Dark ink on light paper, drawn off-centre on a 600x800 canvas, then lit
# unevenly (brighter on the left, as near a window) and noisy, as a phone
# camera would give it. Needs Pillow (``pip install "skdigits[images]"``).
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw

from skdigits import load_bundled_model
from skdigits.preprocessing import image_to_mnist, predict_digit

canvas = Image.new("L", (600, 800), color=225)
pen = ImageDraw.Draw(canvas)
pen.line([(330, 180), (190, 470), (430, 460)], fill=40, width=30, joint="curve")
pen.line([(360, 300), (350, 650)], fill=40, width=30)
drawn = np.asarray(canvas, dtype=float)

rows, cols = np.mgrid[0:800, 0:600]
light = 1.1 - 0.5 * cols / 600 - 0.15 * rows / 800  # a lighting gradient
lit = drawn * light
rng = np.random.default_rng(0)
photo = np.clip(lit + rng.normal(0, 8, lit.shape), 0, 255).astype(np.uint8)
print(
    f"the photo: {photo.shape[1]}x{photo.shape[0]} pixels, gray levels "
    f"{photo.min()}-{photo.max()}"
)

# %%
# From the photo to 28x28, two ways
# ---------------------------------
# The notebooks' way: resize the whole photo to 28x28, invert it and scale
# it. The paper's uneven light becomes a gray background, and the digit
# keeps its place and size in the photo, far from MNIST's 20-pixel,
# mass-centred digits.
#
# ``image_to_mnist(photo)`` instead fits a plane to the photo's border to
# model the paper's light and takes it out, makes the ink bright on black,
# crops to the ink (ignoring specks), widens strokes much thinner than
# MNIST's, scales the digit so its longer side is 20 pixels, and places its
# centre of mass on the centre of a 28x28 frame. It returns the 784 pixels,
# uint8; the stages in between are not exposed, so this example shows its
# input and its output.
naive = 255 - np.asarray(Image.fromarray(photo).resize((28, 28), Image.BILINEAR))
pixels = image_to_mnist(photo)  # shape (784,), uint8 0-255, as in the CSVs

stages = [
    ("drawn", drawn),
    ("+ uneven light", lit),
    ("+ noise: the photo", photo),
    ("resized, inverted\n(a notebook's way)", naive),
    ("image_to_mnist", pixels.reshape(28, 28)),
]
fig, axes = plt.subplots(1, len(stages), figsize=(11, 3), layout="constrained")
for ax, (title, image) in zip(axes, stages):
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
# MNIST's conventions on the result: a central 20x20 square (the digit's longer
# side is 20 pixels; centring by mass may shift it a little) and the centre of
# mass, at the frame's centre.
digit = pixels.reshape(28, 28).astype(float)
weights = digit / digit.sum()
centre = (weights.sum(axis=1) @ np.arange(28), weights.sum(axis=0) @ np.arange(28))
axes[-1].add_patch(plt.Rectangle((3.5, 3.5), 20, 20, fill=False, ec="C1", ls="--"))
axes[-1].plot(centre[1], centre[0], "+", color="C1", markersize=12)
plt.show()

# %%
# What the model reads
# --------------------
# The bundled model (trained on MNIST with the default recipe; it needs the
# ``skops`` extra) takes raw 0-255 pixels. :func:`~skdigits.preprocessing.predict_digit`
# is ``image_to_mnist`` followed by ``predict_proba``: the one path from a
# photo to a digit.
model = load_bundled_model()
reading = predict_digit(model, photo)
naive_proba = model.predict_proba(naive.reshape(1, -1))[0]
print(
    f"image_to_mnist: reads {reading.label} "
    f"(probability {reading.probabilities.max():.3f})"
)
print(
    f"resized and inverted: reads {model.classes_[naive_proba.argmax()]} "
    f"(probability {naive_proba.max():.3f})"
)

fig, ax = plt.subplots(figsize=(6.5, 3), layout="constrained")
x = np.arange(len(model.classes_))
ax.bar(x - 0.2, naive_proba, width=0.4, color="0.6", label="resized, inverted")
ax.bar(x + 0.2, reading.probabilities, width=0.4, label="image_to_mnist")
ax.set_xticks(x, model.classes_)
ax.set(xlabel="digit", ylabel="probability", ylim=(0, 1))
ax.set_title("The bundled model's probabilities for the photo")
ax.legend()
plt.show()

# %%
# With your own picture
# ---------------------
# ``image_to_mnist`` takes a file name, a Pillow image or an array. From the
# command line, ``skdigits predict-image my_digit.jpg`` prints the digit and
# its ten probabilities; ``skdigits serve`` opens a page to draw on. Both go
# through ``predict_digit``, so they read a picture the same way. One digit
# on plain, evenly lit paper works best.
