"""Read your own handwritten digit: a photo or scan through ``image_to_mnist``.

MNIST digits are white on black, 20x20 pixels inside a 28x28 frame, centred by
their centre of mass.  ``image_to_mnist`` turns any picture of a digit (a path,
a PIL image or an array; dark ink on light paper is fine) into that form, so the
model sees what it was trained on.  Without an image the script draws a "7"
with Pillow to show the idea.  It prints the digit, the model's probability for
each class and, with --show, an ASCII view of the 28x28 input.

Run it (needs Pillow: pip install skdigits[images]; about 10 seconds)::

    python examples/predict_your_digit.py               # a drawn 7
    python examples/predict_your_digit.py my_digit.jpg  # your own

Add ``--data /path/to/mnist`` (a directory holding mnist_train.csv.gz) to train
on all 60,000 images instead of the bundled sample.
"""

import argparse
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from skdigits import NumpyMLPClassifier, PixelScaler
from skdigits.datasets import load_mnist
from skdigits.preprocessing import image_to_mnist

# A fixed, small epoch budget is the plan here, not a failure to converge.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def draw_seven():
    """A '7' as a phone photo might show it: dark ink on light paper, off-centre."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (300, 400), color=(235, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.line([(70, 90), (230, 90), (130, 330)], fill=(30, 30, 40), width=22)
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", help="image file (default: a drawn 7)")
    parser.add_argument("--data", metavar="DIR", help="directory of the full files")
    parser.add_argument("--show", action="store_true", help="print the 28x28 input")
    args = parser.parse_args()

    x = image_to_mnist(args.image if args.image else draw_seven())
    if args.show:
        for row in x.reshape(28, 28):
            print("".join(" .:-=+*#%@"[int(value) * 10 // 256] for value in row))

    X, y = load_mnist("train", args.data)
    model = make_pipeline(
        PixelScaler(),
        NumpyMLPClassifier(hidden_layer_sizes=(128,), max_iter=8, random_state=0),
    )
    model.fit(X, y)
    proba = model.predict_proba(x.reshape(1, -1))[0]
    best = int(np.argmax(proba))
    print(
        f"{args.image or 'the drawn 7'}: {model.classes_[best]} "
        f"(probability {proba[best]:.3f})"
    )
    for digit, p in zip(model.classes_, proba):
        print(f"  {digit}: {p:6.3f} {'#' * int(round(p * 40))}")


if __name__ == "__main__":
    main()
