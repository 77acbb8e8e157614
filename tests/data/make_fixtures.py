"""Write the model files and references that tests/test_augment.py loads.

python tests/data/make_fixtures.py --legacy | --bundled

- ``--legacy``: ``augment_model_v0_1.skops`` and ``.joblib``, a small fitted
  ``Pipeline(PixelScaler(), NumpyMLPClassifier(augment=Chain))`` on
  scikit-learn's 8x8 digits, saved by ``save_model`` with the code of git
  5c5877f (skdigits 0.1.0, before the warp code left ``skdigits.augment``),
  and ``augment_model_v0_1.npz``: that model's ``predict_proba`` on the first
  200 rows of ``legacy_X()`` and its augmenter's output on the first 20 rows
  (scaled) with ``default_rng(0)``, computed when the files were written.
  Their purpose is to show that files saved by older code still load:
  regenerating them with newer code defeats it, so keep them.
- ``--bundled``: ``bundled_model_proba.npy``, ``load_bundled_model()
  .predict_proba`` on ``load_mnist_sample("test")``. Regenerate it only when
  ``skdigits/data/mnist_default.skops`` is rebuilt on purpose.
"""

import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LEGACY = "augment_model_v0_1"


def legacy_X():
    """The inputs of the legacy model: 8x8 digits as raw 0-240 pixels, uint8."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X * 15).astype(np.uint8), y


def legacy_augmenter():
    """The augmenter the legacy model was trained with."""
    from skdigits.augment import ElasticDistortion, RandomAffine, make_chain

    return make_chain(
        RandomAffine(rotation=10, shear=5, shift=1, image_shape=(8, 8)),
        ElasticDistortion(alpha=2, sigma=1, image_shape=(8, 8)),
    )


def write_legacy_model():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import Pipeline

    from skdigits import NumpyMLPClassifier, PixelScaler, save_model

    X, y = legacy_X()
    mlp = NumpyMLPClassifier(
        (8,), max_iter=3, random_state=0, augment=legacy_augmenter()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Pipeline([("scale", PixelScaler()), ("mlp", mlp)]).fit(X, y)
    for suffix in (".skops", ".joblib"):
        save_model(model, HERE / f"{LEGACY}{suffix}")
    scaled = model[0].transform(X[:20])
    np.savez_compressed(
        HERE / f"{LEGACY}.npz",
        proba=model.predict_proba(X[:200]),
        augmented=model[-1].augment(scaled, np.random.default_rng(0)),
    )


def write_bundled_reference():
    from skdigits import load_bundled_model
    from skdigits.datasets import load_mnist_sample

    X, _ = load_mnist_sample("test")
    np.save(HERE / "bundled_model_proba.npy", load_bundled_model().predict_proba(X))


if __name__ == "__main__":
    args = set(sys.argv[1:])
    if not args or args - {"--legacy", "--bundled"}:
        sys.exit(f"usage: python {sys.argv[0]} --legacy | --bundled")
    if "--legacy" in args:
        write_legacy_model()
    if "--bundled" in args:
        write_bundled_reference()
