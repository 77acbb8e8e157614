"""Tests for skdigits.augment: warps against their formulas and scipy; the contract."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skdigits import (
    NumpyMLPClassifier,
    PixelScaler,
    load_bundled_model,
    load_model,
    save_model,
)
from skdigits._persistence import TRUSTED_TYPES
from skdigits.augment import (
    Chain,
    ElasticDistortion,
    RandomAffine,
    gaussian_matrix,
    make_chain,
)
from skdigits.datasets import load_mnist_sample

DATA = Path(__file__).resolve().parent / "data"

IDENTITY = {"rotation": 0, "scale": (1, 1), "shear": 0, "shift": 0}


def affine_params(n, angle=0.0, scale=1.0, shear=0.0, shift=(0.0, 0.0)):
    """Fixed RandomAffine parameters, the same for ``n`` images."""
    return {
        "angle": np.full(n, angle),
        "scale": np.full(n, scale),
        "shear": np.full(n, shear),
        "shift": np.tile(np.asarray(shift, dtype=float), (n, 1)),
    }


def every_augmenter(shape=(28, 28)):
    return [
        RandomAffine(
            rotation=20, scale=(0.8, 1.2), shear=15, shift=3, image_shape=shape
        ),
        ElasticDistortion(alpha=34, sigma=4, image_shape=shape),
        make_chain(
            RandomAffine(image_shape=shape), ElasticDistortion(image_shape=shape)
        ),
        make_chain(
            RandomAffine(image_shape=shape),
            ElasticDistortion(image_shape=shape),
            compose=False,
        ),
    ]


@pytest.fixture(scope="module")
def mnist_images():
    """200 real MNIST digits scaled to [0, 1], float32."""
    X, _ = load_mnist_sample("test")
    return PixelScaler().fit_transform(X[:200])


def centre_of_mass(X, shape):
    """Each image's ink centre (x, y) = (column, row)."""
    images = X.reshape(-1, *shape)
    rows, cols = np.indices(shape)
    mass = images.sum(axis=(1, 2))
    return np.stack(
        [
            (images * cols).sum(axis=(1, 2)) / mass,
            (images * rows).sum(axis=(1, 2)) / mass,
        ],
        axis=1,
    )


# --- the warps: identity, shift, rotation, against scipy -------------------------


@pytest.mark.parametrize(
    "augmenter",
    [
        RandomAffine(**IDENTITY),
        ElasticDistortion(alpha=0),
        make_chain(RandomAffine(**IDENTITY), ElasticDistortion(alpha=0)),
        Chain([("off", "passthrough")]),
    ],
)
def test_identity_parameters_return_an_exact_copy(mnist_images, augmenter):
    out = augmenter(mnist_images, np.random.default_rng(0))
    assert out is not mnist_images
    assert out.dtype == mnist_images.dtype
    assert np.array_equal(out, mnist_images)


def test_identity_warp_through_the_interpolation_is_exact(mnist_images):
    """Zero angle/shear, unit scale, no shift: bilinear weights 0 and 1, exactly."""
    affine = RandomAffine()
    assert np.array_equal(
        affine.warp(mnist_images, affine_params(len(mnist_images))), mnist_images
    )
    elastic = ElasticDistortion()
    still = {"displacement": np.zeros((len(mnist_images), 2, 28, 28), np.float32)}
    assert np.array_equal(elastic.warp(mnist_images, still), mnist_images)


@pytest.mark.parametrize("shift", [(3.0, -2.0), (1.25, 0.5), (-2.7, 3.9)])
def test_a_pure_shift_moves_the_centre_of_mass_by_that_shift(mnist_images, shift):
    X = np.zeros((len(mnist_images), 36, 36), np.float32)  # room around the digits
    X[:, 4:32, 4:32] = mnist_images.reshape(-1, 28, 28)
    X = X.reshape(len(X), -1)
    affine = RandomAffine(**IDENTITY, image_shape=(36, 36))
    out = affine.warp(X, affine_params(len(X), shift=shift))
    moved = centre_of_mass(out, (36, 36)) - centre_of_mass(X, (36, 36))
    np.testing.assert_allclose(moved, np.tile(shift, (len(X), 1)), atol=1e-4)


def test_random_shifts_move_each_centre_of_mass_by_its_drawn_shift(mnist_images):
    X = np.zeros((len(mnist_images), 36, 36), np.float32)
    X[:, 4:32, 4:32] = mnist_images.reshape(-1, 28, 28)
    X = X.reshape(len(X), -1)
    affine = RandomAffine(rotation=0, scale=(1, 1), shift=(4, 2), image_shape=(36, 36))
    out = affine(X, np.random.default_rng(3))
    drawn = affine.draw(len(X), np.random.default_rng(3))["shift"]
    assert np.abs(drawn[:, 0]).max() > 2 and np.abs(drawn[:, 1]).max() <= 2
    moved = centre_of_mass(out, (36, 36)) - centre_of_mass(X, (36, 36))
    np.testing.assert_allclose(moved, drawn, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotation_by_90_degrees_is_np_rot90(dtype):
    """Positive angles turn counter-clockwise as displayed, as np.rot90."""
    images = np.random.default_rng(0).random((5, 9, 9)).astype(dtype)
    affine = RandomAffine(rotation=(90, 90), scale=(1, 1), shift=0, image_shape=(9, 9))
    out = affine(images.reshape(5, -1), np.random.default_rng(0)).reshape(5, 9, 9)
    np.testing.assert_allclose(out, np.rot90(images, axes=(1, 2)), atol=1e-6)
    assert out.dtype == dtype


def test_affine_warp_follows_its_documented_formula(mnist_images):
    """q = c + M^-1 (p - c - t), M = s R(theta) S(phi), sampled by scipy."""
    angle, scale, shear, shift = 23.0, 1.15, -12.0, (1.5, -2.25)
    out = RandomAffine().warp(
        mnist_images[:5], affine_params(5, angle, scale, shear, shift)
    )
    theta, phi = np.radians(angle), np.radians(shear)
    R = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    S = np.array([[1, np.tan(phi)], [0, 1]])
    M_inv = np.linalg.inv(scale * R @ S)
    rows, cols = np.indices((28, 28)).reshape(2, -1).astype(float)
    c = np.array([[13.5], [13.5]])
    q = c + M_inv @ (np.stack([cols, rows]) - c - np.array(shift)[:, None])
    for image, warped in zip(mnist_images[:5].reshape(-1, 28, 28), out):
        ref = ndi.map_coordinates(image, [q[1], q[0]], order=1, mode="grid-constant")
        np.testing.assert_allclose(warped, ref, atol=1e-5)


def test_affine_rotation_matches_scipy_rotate(mnist_images):
    affine = RandomAffine(rotation=(30, 30), scale=(1, 1), shift=0)
    out = affine(mnist_images[:5], np.random.default_rng(0)).reshape(-1, 28, 28)
    for image, warped in zip(mnist_images[:5].reshape(-1, 28, 28), out):
        ref = ndi.rotate(image, 30, reshape=False, order=1, mode="grid-constant")
        np.testing.assert_allclose(warped, ref, atol=1e-5)


def test_gaussian_matrix_is_scipy_gaussian_filter_with_zero_padding():
    F = np.random.default_rng(0).random((20, 28))
    for sigma in [0.5, 4.0, 6.0]:
        G_h, G_w = gaussian_matrix(20, sigma), gaussian_matrix(28, sigma)
        ref = ndi.gaussian_filter(F, sigma, mode="constant")
        np.testing.assert_allclose(G_h @ F @ G_w.T, ref, atol=1e-6)


def test_elastic_draw_is_simards_smoothed_uniform_noise():
    """displacement = alpha * gaussian_filter(U[-1, 1] noise, sigma), per field."""
    elastic = ElasticDistortion(alpha=34, sigma=4, image_shape=(20, 24))
    D = elastic.draw(6, np.random.default_rng(5))["displacement"]
    noise = np.random.default_rng(5).random((6, 2, 20, 24), dtype=np.float32) * 2 - 1
    for d, u in zip(D.reshape(-1, 20, 24), noise.reshape(-1, 20, 24)):
        ref = 34 * ndi.gaussian_filter(u.astype(float), 4, mode="constant")
        np.testing.assert_allclose(d, ref, rtol=1e-5, atol=1e-5)
    assert 0.5 < np.abs(D).max() < 10  # pixels: a visible but bounded warp


def test_elastic_warp_reads_each_pixel_at_its_displaced_position(mnist_images):
    elastic = ElasticDistortion()
    params = elastic.draw(4, np.random.default_rng(1))
    out = elastic.warp(mnist_images[:4], params)
    rows, cols = np.indices((28, 28))
    for image, d, warped in zip(
        mnist_images[:4].reshape(-1, 28, 28), params["displacement"], out
    ):
        where = [rows + d[1], cols + d[0]]
        ref = ndi.map_coordinates(image, where, order=1, mode="grid-constant")
        np.testing.assert_allclose(warped.reshape(28, 28), ref, atol=1e-5)


# --- Chain: one interpolation for geometric steps -------------------------------------


def test_composed_chain_interpolates_once():
    """Two 45-degree turns composed are np.rot90; warped in turn they blur."""
    images = np.random.default_rng(0).random((4, 9, 9)).astype(np.float32)
    turn = RandomAffine(rotation=(45, 45), scale=(1, 1), shift=0, image_shape=(9, 9))
    twice = make_chain(turn, clone(turn))
    out = twice(images.reshape(4, -1), np.random.default_rng(0)).reshape(4, 9, 9)
    np.testing.assert_allclose(out, np.rot90(images, axes=(1, 2)), atol=1e-5)
    twice.set_params(compose=False)
    blurred = twice(images.reshape(4, -1), np.random.default_rng(0)).reshape(4, 9, 9)
    assert np.abs(blurred - np.rot90(images, axes=(1, 2))).max() > 0.05


def test_composed_and_stepwise_chains_draw_alike(mnist_images):
    """Same generator: the same draws; composing changes only the interpolation."""
    chain = make_chain(RandomAffine(), ElasticDistortion())
    composed = chain(mnist_images, np.random.default_rng(7))
    params = chain.draw(len(mnist_images), np.random.default_rng(7))
    assert np.array_equal(chain.warp(mnist_images, params), composed)
    stepwise = chain.set_params(compose=False)(mnist_images, np.random.default_rng(7))
    affine, elastic = (step for _, step in chain.steps)
    by_hand = elastic.warp(affine.warp(mnist_images, params[0]), params[1])
    np.testing.assert_allclose(stepwise, by_hand, atol=1e-6)
    assert 0 < np.abs(composed - stepwise).mean() < 0.05


@pytest.mark.parametrize("augmenter", every_augmenter()[:2], ids=repr)
def test_call_is_warp_of_draw(mnist_images, augmenter):
    out = augmenter(mnist_images, np.random.default_rng(3))
    params = augmenter.draw(len(mnist_images), np.random.default_rng(3))
    assert np.array_equal(augmenter.warp(mnist_images, params), out)


def test_elastic_before_a_shift_composes_like_warping_in_turn():
    """An elastic step that is not the last one reads its field off the grid."""
    X = np.zeros((3, 40, 40), np.float32)
    X[:, 12:28, 12:28] = np.random.default_rng(0).random((3, 16, 16))
    X = X.reshape(3, -1)
    chain = Chain(
        [
            ("elastic", ElasticDistortion(alpha=20, sigma=4, image_shape=(40, 40))),
            ("shift", RandomAffine(**IDENTITY, image_shape=(40, 40))),
        ]
    )
    params = chain.draw(3, np.random.default_rng(2))
    params[1] = affine_params(3, shift=(2.0, -3.0))
    composed = chain.warp(X, params)
    stepwise = chain.set_params(compose=False).warp(X, params)
    np.testing.assert_allclose(composed, stepwise, atol=1e-5)


class AddNoise:
    """A non-geometric augmenter: the chain must apply it step by step."""

    def __call__(self, X, rng):
        return X + rng.random(X.shape, dtype=X.dtype) * X.dtype.type(0.01)


def test_chain_of_any_callables_and_passthrough(mnist_images):
    chain = Chain(
        [("affine", RandomAffine()), ("off", "passthrough"), ("noise", AddNoise())]
    )
    out = chain(mnist_images, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    assert np.array_equal(out, AddNoise()(RandomAffine()(mnist_images, rng), rng))


# --- the contract ----------------------------------------------------------------


@pytest.mark.parametrize("augmenter", every_augmenter(), ids=repr)
def test_each_image_stays_within_its_own_values_and_the_fill(mnist_images, augmenter):
    """Each output pixel mixes its own image's pixels and the fill (0), so it
    lies between them, to within the ulp a bilinear step may round by: the
    batch-wide clip of the warp cannot make this hold for a faint digit."""
    for X in [mnist_images, mnist_images * 1.6 - 0.8, mnist_images * 0.5 + 0.25]:
        before = X.copy()
        out = augmenter(X, np.random.default_rng(0))
        assert np.array_equal(X, before)
        assert out.shape == X.shape and out.dtype == X.dtype
        low = np.minimum(X.min(axis=1, keepdims=True), 0)
        high = np.maximum(X.max(axis=1, keepdims=True), 0)
        ulps = 4 * np.finfo(X.dtype).eps
        assert (out >= low - ulps).all() and (out <= high + ulps).all()
        assert not np.array_equal(out, X)


def _with_fill(augmenter, fill):
    """A copy of ``augmenter`` whose geometric steps read ``fill`` outside."""
    augmenter = clone(augmenter)
    if isinstance(augmenter, Chain):
        names = [name for name, _ in augmenter.steps]
        return augmenter.set_params(**{f"{name}__fill": fill for name in names})
    return augmenter.set_params(fill=fill)


@pytest.mark.parametrize("fill", [0.0, -1.0, 2.0])
@pytest.mark.parametrize("augmenter", every_augmenter(), ids=repr)
def test_the_fill_is_read_outside_the_image_whatever_the_input_range(
    mnist_images, augmenter, fill
):
    X = mnist_images * np.float32(0.5) + np.float32(0.25)  # in [0.25, 0.75]
    out = _with_fill(augmenter, fill)(X, np.random.default_rng(0))
    if fill < X.min():
        assert out.min() < X.min() and out.min() >= fill
    else:
        assert out.max() > X.max() and out.max() <= fill
    if isinstance(augmenter, RandomAffine):  # shifted 3 pixels: the frame alone
        assert np.float32(fill) in out


@pytest.mark.parametrize("augmenter", every_augmenter(), ids=repr)
def test_same_seed_same_output_other_seed_other_output(mnist_images, augmenter):
    first = augmenter(mnist_images, np.random.default_rng(1))
    assert np.array_equal(first, augmenter(mnist_images, np.random.default_rng(1)))
    assert not np.array_equal(first, augmenter(mnist_images, np.random.default_rng(2)))


@pytest.mark.parametrize("augmenter", every_augmenter(), ids=repr)
def test_float64_stays_float64_and_agrees_with_float32(mnist_images, augmenter):
    out32 = augmenter(mnist_images, np.random.default_rng(0))
    out64 = augmenter(mnist_images.astype(np.float64), np.random.default_rng(0))
    assert out32.dtype == np.float32 and out64.dtype == np.float64
    np.testing.assert_allclose(out64, out32, atol=1e-4)


@pytest.mark.parametrize("augmenter", every_augmenter(), ids=repr)
def test_bad_row_length_names_the_augmenter_and_the_image_shape(
    mnist_images, augmenter
):
    with pytest.raises(ValueError) as error:
        augmenter(mnist_images[:, :64], np.random.default_rng(0))
    message = str(error.value)
    assert "rows have 64 values but image_shape=(28, 28) needs 784" in message
    assert "image_shape=(8, 8)" in message
    name = "RandomAffine" if isinstance(augmenter, (RandomAffine, Chain)) else "Elastic"
    assert message.startswith(name)


@pytest.mark.parametrize(
    "X, expected",
    [
        (np.zeros(784, np.float32), r"2-D float array .* shape \(784,\)"),
        (np.zeros((2, 784), np.uint8), "dtype uint8; scale the pixels first"),
    ],
)
def test_not_a_batch_of_float_images_is_a_clear_error(X, expected):
    with pytest.raises(ValueError, match=expected):
        RandomAffine()(X, np.random.default_rng(0))


@pytest.mark.parametrize(
    "augmenter, expected",
    [
        (RandomAffine(rotation=-5), "'rotation' parameter of RandomAffine"),
        (RandomAffine(scale=(1.2, 0.8)), "scale must have low <= high"),
        (RandomAffine(scale=(0, 1)), "scale must be .* 0 < low <= high"),
        (RandomAffine(shear=(-95, 10)), r"shear must lie inside \(-90, 90\)"),
        (RandomAffine(shear=(0, 90)), r"shear must lie inside \(-90, 90\)"),
        (RandomAffine(shift=(1, -1)), "shift must be"),
        (RandomAffine(rotation=(5, 1)), "rotation must have low <= high"),
        (ElasticDistortion(sigma=0), "'sigma' parameter of ElasticDistortion"),
        (ElasticDistortion(image_shape=(0, 28)), "image_shape must be"),
        (Chain([RandomAffine()]), "steps must be a list of .name, augmenter."),
        (Chain([("a", 3)]), "step 'a' is not an augmenter"),
        (Chain([("a", RandomAffine()), ("a", RandomAffine())]), "not unique"),
    ],
)
def test_bad_parameters_are_clear_errors(mnist_images, augmenter, expected):
    with pytest.raises(ValueError, match=expected):
        augmenter(mnist_images, np.random.default_rng(0))


def test_empty_batch(mnist_images):
    for augmenter in every_augmenter():
        out = augmenter(mnist_images[:0], np.random.default_rng(0))
        assert out.shape == (0, 784) and out.dtype == np.float32


def test_get_set_params_and_clone_reach_nested_chain_steps():
    chain = Chain([("affine", RandomAffine()), ("elastic", ElasticDistortion())])
    params = chain.get_params()
    assert params["affine__rotation"] == 10.0 and params["elastic__sigma"] == 4.0
    assert set(chain.get_params(deep=False)) == {"steps", "compose"}
    chain.set_params(affine__rotation=15, elastic__alpha=30, compose=False)
    copy = clone(chain)
    assert copy.steps[0][1] is not chain.steps[0][1]
    assert copy.get_params()["affine__rotation"] == 15
    assert copy.get_params()["elastic__alpha"] == 30 and copy.compose is False
    chain.set_params(elastic="passthrough")
    assert [step for _, step in chain.steps][1] == "passthrough"
    assert clone(RandomAffine(shift=(1, 3))).get_params()["shift"] == (1, 3)


def test_make_chain_names_steps_after_their_classes():
    chain = make_chain(RandomAffine(), RandomAffine(), ElasticDistortion())
    names = [name for name, _ in chain.steps]
    assert names == ["randomaffine-1", "randomaffine-2", "elasticdistortion"]
    assert chain.get_params()["randomaffine-2__rotation"] == 10.0


@pytest.mark.parametrize("augmenter", every_augmenter(), ids=repr)
def test_pickled_augmenter_draws_the_same(mnist_images, augmenter):
    loaded = pickle.loads(pickle.dumps(augmenter))
    rng = np.random.default_rng(4)
    assert np.array_equal(
        loaded(mnist_images, rng), augmenter(mnist_images, np.random.default_rng(4))
    )


# --- with the classifier: grid search, .skops files ----------------------------------


def test_grid_search_tunes_an_augmenter_parameter(quiet_fit):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    mlp = NumpyMLPClassifier(
        (32,), max_iter=5, random_state=0, augment=RandomAffine(image_shape=(8, 8))
    )
    pipe = Pipeline([("mlp", mlp)])
    grid = {"mlp__augment__rotation": [0.0, 45.0], "mlp__augment__shift": [0.0, 1.0]}
    search = quiet_fit(GridSearchCV(pipe, grid, cv=2), X[:600], y[:600])
    scores = search.cv_results_["mean_test_score"]
    assert len(set(np.round(scores, 6))) == 4  # each augmenter trains differently
    best = search.best_estimator_[-1].augment
    assert best.rotation == search.best_params_["mlp__augment__rotation"]
    assert best.shift == search.best_params_["mlp__augment__shift"]


def test_skops_round_trip_keeps_the_augmenter(tmp_path, mnist_images, quiet_fit):
    pytest.importorskip("skops.io")
    X, y = load_mnist_sample("test")
    chain = make_chain(RandomAffine(shear=5), ElasticDistortion(alpha=30))
    mlp = NumpyMLPClassifier((16,), max_iter=2, random_state=0, augment=chain)
    model = quiet_fit(
        Pipeline([("scale", PixelScaler()), ("mlp", mlp)]), X[:300], y[:300]
    )
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    augment = loaded[-1].augment
    assert type(augment) is Chain
    assert augment.get_params(deep=False)["compose"] is True
    assert {k: v for k, v in augment.get_params().items() if "__" in k} == {
        k: v for k, v in chain.get_params().items() if "__" in k
    }
    out = augment(mnist_images, np.random.default_rng(0))
    assert np.array_equal(out, chain(mnist_images, np.random.default_rng(0)))
    assert np.array_equal(loaded.predict_proba(X[:50]), model.predict_proba(X[:50]))


def test_augmenter_types_are_trusted_for_skops_files():
    sio = pytest.importorskip("skops.io")
    chain = make_chain(RandomAffine(), ElasticDistortion())
    untrusted = set(sio.get_untrusted_types(data=sio.dumps(chain)))
    assert untrusted == {
        "skdigits.augment.Chain",
        "skdigits.augment.ElasticDistortion",
        "skdigits.augment.RandomAffine",
    }
    assert untrusted <= set(TRUSTED_TYPES)


# --- files saved by earlier versions (tests/data/make_fixtures.py) ------------------


def legacy_augmenter():
    """The augmenter of tests/data/augment_model_v0_1.*, built afresh."""
    return make_chain(
        RandomAffine(rotation=10, shear=5, shift=1, image_shape=(8, 8)),
        ElasticDistortion(alpha=2, sigma=1, image_shape=(8, 8)),
    )


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_a_model_saved_by_skdigits_0_1_loads_predicts_and_augments_alike(suffix):
    """Saved files name skdigits.augment.Chain etc.: those paths must keep loading."""
    if suffix == ".skops":
        pytest.importorskip("skops.io")
    elif int(np.__version__.split(".")[0]) < 2:
        pytest.skip("the .joblib fixture pickles NumPy 2 generators, unreadable by 1.x")
    model = load_model(DATA / f"augment_model_v0_1{suffix}")
    saved = np.load(DATA / "augment_model_v0_1.npz")
    X = (load_digits().data * 15).astype(np.uint8)
    np.testing.assert_allclose(model.predict_proba(X[:200]), saved["proba"], atol=1e-6)
    augment, fresh = model[-1].augment, legacy_augmenter()
    assert [type(step) for _, step in augment.steps] == [
        RandomAffine,
        ElasticDistortion,
    ]
    nested = lambda chain: {k: v for k, v in chain.get_params().items() if "__" in k}  # noqa: E731
    assert nested(augment) == nested(fresh)
    scaled = model[0].transform(X[:20])
    out = augment(scaled, np.random.default_rng(0))
    assert np.array_equal(out, fresh(scaled, np.random.default_rng(0)))
    np.testing.assert_allclose(out, saved["augmented"], atol=1e-6)


def test_the_bundled_model_loads_and_predicts_as_when_it_was_built():
    """mnist_default.skops holds a RandomAffine (skdigits.augment.RandomAffine)."""
    pytest.importorskip("skops.io")
    model = load_bundled_model()
    assert type(model[-1].augment) is RandomAffine
    X, _ = load_mnist_sample("test")
    expected = np.load(DATA / "bundled_model_proba.npy")
    np.testing.assert_allclose(model.predict_proba(X), expected, atol=1e-6)


# --- evaluate --plots shows the augmenter ---------------------------------------------


def _fitted_pipeline(augment, quiet_fit):
    X, y = load_mnist_sample("test")
    mlp = NumpyMLPClassifier((16,), max_iter=2, random_state=0, augment=augment)
    return quiet_fit(
        Pipeline([("scale", PixelScaler()), ("mlp", mlp)]), X[:300], y[:300]
    )


@pytest.mark.parametrize(
    "augment", [None, make_chain(RandomAffine(), ElasticDistortion())]
)
def test_evaluate_plots_show_the_augmenter_when_there_is_one(
    tmp_path, augment, quiet_fit
):
    pytest.importorskip("matplotlib")
    from skdigits.cli import main
    from skdigits.datasets import sample_path

    save_model(_fitted_pipeline(augment, quiet_fit), tmp_path / "model.joblib")
    plots = tmp_path / "plots"
    argv = ["evaluate", "--model", str(tmp_path / "model.joblib")]
    assert main([*argv, "--data", str(sample_path("test")), "--plots", str(plots)]) == 0
    path = plots / "augmented.png"
    assert path.exists() == (augment is not None)
    if augment is not None:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
