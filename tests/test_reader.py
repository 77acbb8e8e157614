"""Tests for skdigits._reader: every stage on made-up arrays, then whole readings."""

import json

import numpy as np
import pytest
from scipy import ndimage
from sklearn.dummy import DummyClassifier

from skdigits import (
    ReadDigit,
    Reading,
    load_bundled_model,
    load_digit_detector,
    no_digit_threshold,
    read_digits,
)
from skdigits import _reader as reader
from skdigits._scores import MAX_PROBA_THRESHOLD
from skdigits.datasets import load_mnist_sample
from skdigits.preprocessing import image_to_mnist, predict_digit

pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def model():
    return load_bundled_model()


@pytest.fixture(scope="module")
def sample():
    return load_mnist_sample("test")


def blank(shape=(60, 120)):
    return np.zeros(shape)


def glyph_at(ink, rows, cols):
    """Put a solid block of ink at ``rows`` x ``cols`` (slices)."""
    ink[rows, cols] = 1.0
    return ink


def mnist_number(X, indices, gap=8, scale=3, margin=30):
    """Dark digits on white, side by side, ``gap`` pixels between their ink."""
    parts = []
    for i in indices:
        tile = np.kron(255 - X[i].reshape(28, 28).astype(float), np.ones((scale,) * 2))
        cols = np.flatnonzero((tile < 128).any(axis=0))
        parts.append(tile[:, cols[0] : cols[-1] + 1])
    height = parts[0].shape[0]
    space = np.full((height, gap), 255.0)
    row = [np.full((height, margin), 255.0)]
    for part in parts:
        row += [part, space]
    row[-1] = np.full((height, margin), 255.0)
    return np.pad(np.hstack(row), margin // 2, constant_values=255).astype(np.uint8)


# --- stages -------------------------------------------------------------------


def test_pieces_are_the_connected_blobs_and_specks_are_left_out():
    ink = glyph_at(blank(), slice(10, 50), slice(10, 30))
    glyph_at(ink, slice(10, 50), slice(60, 80))
    ink[5, 100] = 1.0  # a speck, far under 5 % of the largest piece
    pieces = reader.find_pieces(ink)
    assert [(p.r0, p.r1, p.c0, p.c1) for p in pieces] == [
        (10, 50, 10, 30),
        (10, 50, 60, 80),
    ]
    assert all(p.mask.all() for p in pieces)


def test_a_fives_flag_joins_its_body_but_side_by_side_digits_stay_apart():
    ink = glyph_at(blank(), slice(10, 14), slice(20, 40))  # the flag
    glyph_at(ink, slice(16, 50), slice(18, 36))  # the body, 2 rows below
    glyph_at(ink, slice(10, 50), slice(60, 80))  # the next digit
    groups = reader.group_pieces(reader.find_pieces(ink))
    boxes = sorted((g.r0, g.r1, g.c0, g.c1) for g in groups)
    assert boxes == [(10, 50, 18, 40), (10, 50, 60, 80)]
    five = min(groups, key=lambda g: g.c0)
    assert five.mask.sum() == 4 * 20 + 34 * 18  # it owns both pieces' ink only


def test_pieces_far_apart_in_one_column_are_not_one_digit():
    ink = glyph_at(blank((200, 60)), slice(10, 30), slice(20, 40))
    glyph_at(ink, slice(150, 170), slice(20, 40))
    assert len(reader.group_pieces(reader.find_pieces(ink))) == 2


def test_dots_and_specks_are_dropped_beside_digits():
    ink = glyph_at(blank(), slice(10, 50), slice(10, 30))
    glyph_at(ink, slice(44, 50), slice(40, 46))  # a full stop
    glyphs = reader.find_glyphs(ink)
    assert [(g.c0, g.c1) for g in glyphs] == [(10, 30)]


def test_glyphs_come_left_to_right():
    ink = glyph_at(blank(), slice(10, 50), slice(80, 100))
    glyph_at(ink, slice(10, 50), slice(10, 30))
    glyph_at(ink, slice(10, 50), slice(45, 65))
    assert [g.c0 for g in reader.find_glyphs(ink)] == [10, 45, 80]


def test_cuts_fall_where_the_column_profile_is_thinnest():
    profile = np.full(40, 10.0)
    profile[16:19] = 0  # a thin bridge between two digits
    assert reader.cut_columns(profile, 2) == [17]
    assert reader.cut_columns(np.ones(30), 3) == [10, 20]


def test_touching_digits_are_split_where_the_model_reads_them_best():
    ink = glyph_at(blank((60, 100)), slice(10, 50), slice(10, 38))
    glyph_at(ink, slice(10, 50), slice(42, 70))
    ink[28:31, 38:42] = 1.0  # a bridge: one glyph, 60 wide and 40 tall
    (glyph,) = reader.find_glyphs(ink)

    def unlikely_of(crops):  # sure of a block about as wide as a digit, else not
        return np.array([0.1 if crop.shape[1] < 35 else 2.3 for crop in crops])

    left, right = reader.split_glyphs(ink, [glyph], unlikely_of)
    assert (left.c0, right.c1) == (10, 70)
    assert 38 <= left.c1 == right.c0 <= 42


def test_a_glyphs_crop_leaves_out_its_neighbours_ink_only():
    ink = glyph_at(blank(), slice(10, 50), slice(10, 30))
    glyph_at(ink, slice(10, 20), slice(32, 60))  # a neighbour
    ink[30, 5] = 0.1  # faint ink below the threshold beside the first glyph
    mine, theirs = reader.find_pieces(ink)
    # the first glyph's box reaches over the neighbour's first columns
    first = reader.Glyph(10, 50, 5, 35, np.pad(mine.mask, ((0, 0), (5, 5))))
    crop = reader.glyph_crop(ink, first, [first, theirs])
    assert crop[20, 0] == 0.1  # faint ink stays
    np.testing.assert_array_equal(crop[:, 5:25], 1.0)
    np.testing.assert_array_equal(crop[:, 27:], 0.0)


def test_glyphs_off_the_digits_line_are_left_out():
    boxes = [(10, 50), (12, 48), (11, 52), (200, 240)]  # rows of four glyphs
    glyphs = [
        reader.Glyph(r0, r1, 0, 10, np.ones((r1 - r0, 10), bool)) for r0, r1 in boxes
    ]
    is_digit = np.array([True, True, False, True])
    assert reader.on_the_line(glyphs, is_digit).tolist() == [True, True, True, False]
    assert not reader.on_the_line(glyphs, np.zeros(4, bool)).any()


def test_a_doubtful_glyph_between_digits_of_its_height_is_a_digit():
    heights = [40, 42, 41, 12]
    glyphs = [reader.Glyph(0, h, 0, 10, np.ones((h, 10), bool)) for h in heights]
    scores = np.array([3.0, -1.5, -5.0, -1.5])
    is_digit = scores >= 0
    context = reader.in_context(glyphs, scores, is_digit, low=-2.0)
    assert context.tolist() == [True, True, False, False]  # the last is too short
    assert not reader.in_context(glyphs, scores, np.zeros(4, bool), -2.0).any()


def test_many_non_digits_around_few_digits_are_noise():
    assert reader.is_noise(1, 3) and reader.is_noise(2, 5)
    assert not reader.is_noise(1, 2)  # a digit and two letters
    assert not reader.is_noise(6, 12)


def test_boxes_are_in_the_images_own_pixels():
    glyph = reader.Glyph(10, 50, 20, 30, np.ones((40, 10), bool))
    assert reader.image_box(glyph, (2.0, 2.5), (200, 300)) == (50, 20, 75, 100)


# --- readings -----------------------------------------------------------------


@pytest.mark.parametrize("index", range(8))
@pytest.mark.parametrize("scale", [1, 4])
def test_one_centred_digit_reads_as_predict_digit_reads_it(model, sample, index, scale):
    X, _ = sample
    image = np.kron(255 - X[index].reshape(28, 28), np.ones((scale, scale)))
    image = np.pad(image, 10 * scale, constant_values=255).astype(np.uint8)
    reading = read_digits(image, model, threshold=0)
    expected = predict_digit(model, image)
    (digit,) = reading.digits
    np.testing.assert_array_equal(digit.image28.ravel(), image_to_mnist(image))
    np.testing.assert_array_equal(digit.probabilities, expected.probabilities)
    assert digit.label == expected.label
    assert reading.text == str(expected.label)


def test_a_number_of_mnist_digits_reads_exactly(model, sample):
    X, y = sample
    indices = [0, 1, 5, 4, 7, 10]
    image = mnist_number(X, indices)
    reading = read_digits(image, model)
    assert reading.text == "".join(str(y[i]) for i in indices)
    assert [d.label for d in reading.digits] == [int(y[i]) for i in indices]
    lefts = [d.box[0] for d in reading.digits]
    assert lefts == sorted(lefts)


def test_boxes_hold_their_digits_in_a_large_image(model, sample):
    X, y = sample
    small = mnist_number(X, [0, 1, 5], gap=10)
    image = np.kron(small, np.ones((8, 8), dtype=np.uint8))  # over 1024 wide
    assert max(image.shape) > 1024
    reading = read_digits(image, model)
    assert reading.text == "".join(str(y[i]) for i in [0, 1, 5])
    small_reading = read_digits(small, model)
    for big, little in zip(reading.digits, small_reading.digits):
        np.testing.assert_allclose(np.array(big.box) / 8, little.box, atol=2)


def test_a_blank_image_holds_no_digit(model):
    assert read_digits(np.full((100, 200), 255, np.uint8), model) == Reading("", ())


@pytest.mark.parametrize("kind", ["uniform", "gaussian", "specks"])
def test_noise_only_holds_no_digit(model, kind):
    rng = np.random.default_rng(0)
    if kind == "uniform":
        image = rng.integers(0, 256, (200, 300))
    elif kind == "gaussian":
        image = np.clip(rng.normal(128, 30, (200, 300)), 0, 255)
    else:
        image = np.full((400, 600), 255)
        image.flat[rng.integers(0, image.size, 3000)] = 0
    reading = read_digits(image.astype(np.uint8), model)
    assert reading == Reading("", ())


def test_a_page_of_noise_is_not_fifty_digits(model):
    """Five pages of blobs, hundreds each: four read no digit, the fifth two."""
    texts = []
    for seed in range(1, 6):
        noise = np.random.default_rng(seed).normal(size=(600, 800))
        blobs = ndimage.gaussian_filter(noise, 3)
        page = np.where(blobs > 2.2 * blobs.std(), 0, 255).astype(np.uint8)
        assert ndimage.label(page == 0)[1] > 200
        texts.append(read_digits(page).text)  # the bundled model and its detector
    assert sum(text == "" for text in texts) >= 4, texts
    assert len("".join(texts)) <= 2, texts


def test_the_reading_as_json(model, sample):
    X, _ = sample
    reading = read_digits(mnist_number(X, [0, 1]), model)
    data = json.loads(json.dumps(reading.to_json()))
    assert data["text"] == reading.text
    assert [set(d) for d in data["digits"]] == [{"label", "probability", "box"}] * 2
    assert all(len(d["box"]) == 4 for d in data["digits"])
    assert isinstance(reading.digits[0], ReadDigit)


def test_a_glyph_under_the_threshold_is_not_a_digit(model, sample):
    X, y = sample
    image = mnist_number(X, [0, 1])
    everything = read_digits(image, model, threshold=float("inf"))
    assert everything == Reading("", ())
    low, high = sorted(d.score for d in read_digits(image, model).digits)
    assert low < high  # the two digits' scores differ
    reading = read_digits(image, model, threshold=high)
    kept = [d.label is not None for d in reading.digits]
    assert sorted(kept) == [False, True] and len(reading.text) == 1
    assert read_digits(image, model, threshold=low).text == "94"


def test_a_model_of_other_classes_is_refused():
    model = DummyClassifier().fit(np.zeros((2, 784)), ["cat", "dog"])
    with pytest.raises(ValueError, match="model: its classes are"):
        read_digits(np.full((50, 50), 255, np.uint8), model)


def test_a_model_with_string_digit_classes_reads_in_digit_order(sample):
    X, y = sample
    strings = np.array([str(d) for d in y])
    model = DummyClassifier(strategy="prior").fit(X, strings)
    reading = read_digits(mnist_number(X, [0]), model, threshold=0)
    assert reading.digits[0].label == int(np.bincount(y).argmax())


# --- scores -------------------------------------------------------------------


def small_network(sample):
    from sklearn.pipeline import make_pipeline

    from skdigits import NumpyMLPClassifier, PixelScaler

    X, y = sample
    mlp = NumpyMLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    with pytest.warns(Warning):  # 5 epochs: not converged
        return make_pipeline(PixelScaler(), mlp).fit(X, y)


def test_the_bundled_model_reads_with_its_detector():
    from skdigits._scores import DetectorScorer

    scorer = reader.scorer_for(None)
    assert isinstance(scorer, DetectorScorer)
    assert no_digit_threshold() == scorer.threshold
    assert no_digit_threshold(load_bundled_model()) == MAX_PROBA_THRESHOLD


@pytest.mark.parametrize("hidden", [None, 32], ids=["linear", "hidden layer"])
def test_a_detector_fitted_saved_and_loaded_scores_as_fitted(sample, tmp_path, hidden):
    from skdigits._scores import fit_detector, model_fingerprint

    X, _ = sample
    model = small_network(sample)
    rng = np.random.default_rng(0)
    noise = (rng.random((200, 784)) < 0.2) * 255
    detector = fit_detector(model, X[:200], noise, hidden=hidden)
    assert (detector.hidden is None) == (hidden is None)
    detector.threshold = -1.0
    path = tmp_path / "mine_detector.npz"
    np.savez(path, model_fingerprint=model_fingerprint(model), **detector.arrays())
    loaded = load_digit_detector(path, model)
    np.testing.assert_allclose(
        loaded.evaluate(X[200:260])[1], detector.evaluate(X[200:260])[1]
    )
    assert (
        np.mean(loaded.evaluate(X[200:260])[1] > loaded.evaluate(noise[:60])[1]) > 0.9
    )
    image = mnist_number(X, [0, 1])
    assert (
        read_digits(image, loaded).to_json() == read_digits(image, detector).to_json()
    )
    with pytest.raises(ValueError, match="fitted for another model"):
        load_digit_detector(path, load_bundled_model())


def test_a_missing_detector_file_is_one_clear_error(tmp_path, model):
    with pytest.raises(ValueError, match="not a digit detector"):
        load_digit_detector(tmp_path / "nope.npz", model)


def test_a_model_of_your_own_reads_by_its_top_probability(sample):
    X, _ = sample
    model = small_network(sample)
    reading = read_digits(mnist_number(X, [0, 1]), model, threshold=0)
    assert len(reading.digits) == 2
    for digit in reading.digits:
        assert digit.score == digit.probability
    assert model.predict_proba(X[:3]).shape == (3, 10)


@pytest.mark.parametrize("threshold", ["high", float("nan"), True])
def test_a_threshold_that_is_not_a_number_is_one_clear_error(model, threshold):
    with pytest.raises(ValueError, match="threshold: expected a number"):
        read_digits(np.full((50, 50), 255, np.uint8), model, threshold=threshold)
