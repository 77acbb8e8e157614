"""skdigits: a scikit-learn MLP classifier with its own NumPy backprop, for MNIST CSVs.

>>> from skdigits import NumpyMLPClassifier
>>> NumpyMLPClassifier(hidden_layer_sizes=(32,)).get_params()["hidden_layer_sizes"]
(32,)
"""

from skdigits._checkpoint import CheckpointError, CheckpointWarning, ResumeWarning
from skdigits._classifier import NumpyMLPClassifier
from skdigits._persistence import load_bundled_model, load_model, save_model
from skdigits._reader import ReadDigit, Reading, no_digit_threshold, read_digits
from skdigits._recipes import RECIPES, get_recipe
from skdigits._scores import load_digit_detector
from skdigits.preprocessing import PixelScaler

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CheckpointWarning",
    "NumpyMLPClassifier",
    "PixelScaler",
    "RECIPES",
    "ReadDigit",
    "Reading",
    "ResumeWarning",
    "get_recipe",
    "load_bundled_model",
    "load_digit_detector",
    "load_model",
    "no_digit_threshold",
    "read_digits",
    "save_model",
    "__version__",
]
