"""skdigits.serve._predict: from a request body to the API's answer, no HTTP."""

import io
import json
import pickle

import numpy as np
import pytest
from _pngs import (
    encode,
    number_image,
    png_declaring,
    sideways,
    upright_seven,
    with_broken_chunk,
)
from PIL import Image, ImageDraw, ImageFile

from skdigits import load_bundled_model, read_digits
from skdigits.datasets import load_mnist_sample
from skdigits.preprocessing import predict_digit
from skdigits.serve._predict import (
    MAX_PIXELS,
    RequestError,
    check_image,
    predict_payload,
    reader_for,
)
from skdigits.serve._workers import WorkerPool


@pytest.fixture(scope="module")
def model():
    return load_bundled_model()


@pytest.fixture(scope="module")
def scan():
    """``(label, png)``: the first test-sample digit, dark on white, 140x140."""
    X, y = load_mnist_sample("test")
    ink = Image.fromarray(255 - X[0].reshape(28, 28).astype(np.uint8))
    return int(y[0]), encode(ink.resize((140, 140), Image.Resampling.BILINEAR))


def test_one_digit_is_answered_as_read_digits_and_predict_digit_read_it(model, scan):
    label, png = scan
    answer = predict_payload(model, png)
    reading = read_digits(Image.open(io.BytesIO(png)))  # the bundled default
    expected = predict_digit(model, Image.open(io.BytesIO(png)))
    assert answer["text"] == reading.text == str(label)
    assert answer["digits"] == [
        {
            **reading.digits[0].to_json(),
            "score": reading.digits[0].score,
            "probabilities": reading.digits[0].probabilities.tolist(),
            "image28": reading.digits[0].image28.tolist(),
        }
    ]
    assert answer["digit"] == expected.label == label
    assert type(answer["digit"]) is int
    assert answer["classes"] == list(range(10))
    np.testing.assert_allclose(answer["probabilities"], expected.probabilities)
    assert np.array_equal(np.ravel(answer["image28"]), expected.pixels)
    assert json.loads(json.dumps(answer)) == answer  # JSON as it is


def test_a_number_is_answered_digit_by_digit(model):
    number, boxes = number_image("42")
    answer = predict_payload(model, encode(Image.fromarray(number)))
    assert answer["text"] == "42"
    assert [d["label"] for d in answer["digits"]] == [4, 2]
    assert [d["box"] for d in answer["digits"]] == [list(box) for box in boxes]
    for digit in answer["digits"]:
        assert digit["probability"] == max(digit["probabilities"])
        assert np.shape(digit["image28"]) == (28, 28)
    # the single digit's fields hold no digit of a number: see "digits"
    assert answer["digit"] is answer["probabilities"] is answer["image28"] is None


def test_the_bundled_model_is_read_with_its_detector_wherever_it_is_served(
    model, tmp_path
):
    from sklearn.dummy import DummyClassifier

    from skdigits import load_model, save_model
    from skdigits._scores import DetectorScorer
    from skdigits.serve._server import _SerialModel

    detector = reader_for(model)
    assert isinstance(detector, DetectorScorer)
    assert reader_for(_SerialModel(model)) is detector  # the threads' lock
    save_model(model, tmp_path / "copy.skops")  # a copy named with --model
    assert reader_for(load_model(tmp_path / "copy.skops")) is detector
    X, y = load_mnist_sample("train")
    other = DummyClassifier().fit(X, y)
    assert reader_for(other) is other  # read by its own top probability
    letter = Image.new("L", (140, 140), 255)
    ImageDraw.Draw(letter).line([(35, 118), (70, 22), (105, 118)], fill=0, width=11)
    ImageDraw.Draw(letter).line([(50, 80), (90, 80)], fill=0, width=11)
    answer = predict_payload(model, encode(letter))
    default = read_digits(letter)  # the bundled model and its detector
    assert answer["text"] == default.text
    assert [d["score"] for d in answer["digits"]] == [d.score for d in default.digits]
    seven = Image.fromarray(
        255 - load_mnist_sample("test")[0][0].reshape(28, 28)  # a 7, dark on white
    )
    served = predict_payload(model, encode(seven))["digits"]
    top = read_digits(seven, model).digits  # read by the top probability
    assert len(served) == len(top) == 1 and served[0]["label"] == top[0].label
    assert served[0]["score"] != top[0].score  # the detector's log-odds, not that


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_no_digit_is_an_answer_not_an_error(model, kind):
    rng = np.random.default_rng(0)
    page = np.full((140, 140), 255, np.uint8)
    if kind == "noise":
        page = rng.integers(0, 256, (140, 140), np.uint8)
    answer = predict_payload(model, encode(Image.fromarray(page)))
    assert answer["text"] == "" and answer["digits"] == []
    assert answer["digit"] is answer["probabilities"] is answer["image28"] is None


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"label,pixel0\n5,0\n", 400, "not a PNG or JPEG"),
        (encode(Image.new("L", (20, 20))).replace(b"PNG", b"GIF", 1), 400, "not a PNG"),
        (png_declaring(40, 40), 400, "the PNG image: cannot read it as an image"),
    ],
    ids=["csv", "damaged-signature", "no-pixel-data"],
)
def test_a_bad_body_is_one_line_request_error(model, body, status, words):
    with pytest.raises(RequestError) as caught:
        predict_payload(model, body)
    assert caught.value.status == status
    message = str(caught.value)
    assert words in message and "\n" not in message


@pytest.mark.parametrize("orientation", range(2, 9))
def test_a_sideways_photo_is_answered_as_the_upright_one(model, orientation):
    upright = upright_seven()
    answer = predict_payload(model, sideways(upright, orientation))
    assert answer == predict_payload(model, sideways(upright, 1))
    assert answer["digit"] == 7


def test_a_damaged_chunk_is_a_400_not_an_exception(model):
    body = with_broken_chunk(encode(Image.fromarray(upright_seven())))
    with pytest.raises(RequestError, match=r"^the PNG image: .*broken PNG") as caught:
        predict_payload(model, body)
    assert caught.value.status == 400


@pytest.mark.parametrize("size", [(4097, 4096), (30000, 30000)])
def test_too_many_pixels_is_413_before_decoding(monkeypatch, size):
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(1))
    with pytest.raises(RequestError, match="too large to decode") as caught:
        check_image(png_declaring(*size))
    assert caught.value.status == 413 and f"{MAX_PIXELS:,} pixels" in str(caught.value)
    assert decoded == []


def test_the_pixel_limit_is_inclusive(model):
    side = int(MAX_PIXELS**0.5)
    assert check_image(png_declaring(side, side)) == "PNG"
    # the 4096x4096 declaration passes the check; it then fails to decode (400)
    with pytest.raises(RequestError, match="damaged or cut short") as caught:
        predict_payload(model, png_declaring(side, side))
    assert caught.value.status == 400


def test_request_error_pickles_with_its_status_and_headers():
    error = RequestError(405, "answers GET requests only", {"Allow": "GET"})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RequestError
    assert (copy.status, str(copy), copy.headers) == (405, str(error), {"Allow": "GET"})


def test_request_error_from_a_worker_process_reaches_the_server(model):
    pool = WorkerPool(model, 1)
    try:
        with pytest.raises(RequestError, match="5000x5000") as caught:
            pool.run(predict_payload, png_declaring(5000, 5000))
    finally:
        pool.close()
    assert caught.value.status == 413
