"""Tests for skdigits.preprocessing: PixelScaler and image_to_mnist."""

import io
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _pngs import (
    encode,
    number_image,
    png_declaring,
    sideways,
    upright_seven,
    with_broken_chunk,
)
from scipy import ndimage
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdigits import preprocessing
from skdigits.preprocessing import PixelScaler, UnreadableImageError, image_to_mnist

Image = pytest.importorskip("PIL.Image")
ImageDraw = pytest.importorskip("PIL.ImageDraw")


# --- PixelScaler ---------------------------------------------------------------


@parametrize_with_checks([PixelScaler()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_scales_raw_pixels_to_unit_float32():
    X = np.random.default_rng(0).integers(0, 256, size=(5, 784), dtype=np.uint8)
    X_scaled = PixelScaler().fit_transform(X)
    assert X_scaled.dtype == np.float32
    np.testing.assert_array_equal(X_scaled, X.astype(np.float32) / 255)
    assert X_scaled.min() >= 0 and X_scaled.max() <= 1


def test_float64_input_gives_float32_and_is_left_alone():
    X = np.array([[0.0, 127.5, 255.0]])
    X_scaled = PixelScaler().transform(X)
    assert X_scaled.dtype == np.float32
    np.testing.assert_allclose(X_scaled, [[0, 0.5, 1]])
    np.testing.assert_array_equal(X, [[0.0, 127.5, 255.0]])


@pytest.mark.parametrize("format", ["csr", "csc", "coo"])
def test_sparse_input_stays_sparse(format):
    X = sp.random(20, 784, density=0.1, format=format, random_state=0) * 255
    X_scaled = PixelScaler().fit_transform(X)
    assert sp.issparse(X_scaled)
    assert X_scaled.dtype == np.float32
    np.testing.assert_allclose(X_scaled.toarray(), X.toarray() / 255, rtol=1e-6)


@pytest.mark.parametrize("method", ["fit", "transform"])
@pytest.mark.parametrize("value", [-1.0, 256.0])
def test_values_outside_0_255_are_refused(method, value):
    X = np.array([[0.0, value]])
    with pytest.raises(ValueError, match=r"PixelScaler.*raw pixel values in 0\.\.255"):
        getattr(PixelScaler(), method)(X)


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        PixelScaler().transform(np.array([[0.0, np.nan]]))


def test_feature_names_pass_through_a_pipeline():
    X = pd.DataFrame([[0, 255], [51, 0]], columns=["1x1", "1x2"])
    pipe = make_pipeline(
        PixelScaler(), FunctionTransformer(feature_names_out="one-to-one")
    )
    pipe.fit(X)
    assert list(pipe.get_feature_names_out()) == ["1x1", "1x2"]
    assert list(PixelScaler().fit(X).get_feature_names_out()) == ["1x1", "1x2"]


# --- image_to_mnist --------------------------------------------------------------


def draw_seven(size=(200, 300), ink=0, paper=255, width=24, mode="L"):
    """A thick "7" drawn with Pillow, scaled to ``size`` (width, height)."""
    image = Image.new(mode, size, paper)
    w, h = size
    draw = ImageDraw.Draw(image)
    top, left, right = 0.2 * h, 0.25 * w, 0.75 * w
    draw.line([(left, top), (right, top)], fill=ink, width=round(width * h / 300))
    draw.line(
        [(right, top), (0.45 * w, 0.8 * h)], fill=ink, width=round(width * h / 300)
    )
    return image


def as_image(pixels):
    assert pixels.shape == (784,) and pixels.dtype == np.uint8
    return pixels.reshape(28, 28).astype(float)


def correlation(a, b):
    return np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]


def test_dark_ink_on_white_comes_out_bright_on_black():
    digit = as_image(image_to_mnist(draw_seven()))
    assert digit.max() == 255
    assert digit[0].max() == digit[-1].max() == 0
    assert digit[:, 0].max() == digit[:, -1].max() == 0
    assert (digit > 0).mean() < 0.5


def test_digit_fits_20x20_and_is_centred_by_mass():
    digit = as_image(image_to_mnist(draw_seven()))
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert max(height, width) <= 20 + 1  # 20, plus a faint anti-aliased fringe
    assert max(height, width) >= 19
    centre = np.array(ndimage.center_of_mass(digit))
    np.testing.assert_allclose(centre, [14, 14], atol=1)


def test_aspect_ratio_is_kept():
    page = np.full((300, 200), 255, dtype=np.uint8)
    page[40:260, 85:129] = 0  # a bar 220 tall, 44 wide: 20 x 4 after scaling
    digit = as_image(image_to_mnist(page))
    cols = np.flatnonzero(digit.max(axis=0) > 128)
    rows = np.flatnonzero(digit.max(axis=1) > 128)
    assert len(rows) == 20
    assert 3 <= len(cols) <= 5


def test_dark_on_light_and_light_on_dark_agree():
    dark_on_light = image_to_mnist(draw_seven(ink=0, paper=255))
    light_on_dark = image_to_mnist(draw_seven(ink=255, paper=0))
    assert np.abs(dark_on_light.astype(int) - light_on_dark).max() <= 2


def test_grey_ink_on_grey_paper_with_noise():
    rng = np.random.default_rng(0)
    page = np.asarray(draw_seven(ink=70, paper=190), dtype=float)
    noisy = np.clip(page + rng.normal(0, 10, page.shape), 0, 255).astype(np.uint8)
    clean = image_to_mnist(draw_seven())
    assert correlation(image_to_mnist(noisy), clean) > 0.95


def test_uneven_light_across_a_photo_is_taken_out():
    page = np.asarray(draw_seven(ink=20, paper=255), dtype=float)
    rows, cols = np.ogrid[0 : page.shape[0], 0 : page.shape[1]]
    light = 0.55 + 0.45 * (cols / cols.max()) * (0.5 + rows / rows.max() / 2)
    shadowed = page * light  # paper from 140 (top left) to 255 (bottom right)
    assert correlation(image_to_mnist(shadowed), image_to_mnist(draw_seven())) > 0.98


def test_size_and_position_on_the_page_do_not_matter():
    small = image_to_mnist(draw_seven(size=(200, 300)))
    page = Image.new("L", (2400, 1800), 255)
    page.paste(draw_seven(size=(600, 900)), (1500, 100))
    assert correlation(image_to_mnist(page), small) > 0.97


def test_a_speck_of_dust_does_not_widen_the_crop():
    clean = image_to_mnist(draw_seven())
    dusty = np.asarray(draw_seven()).copy()
    dusty[280:284, 5:9] = 0
    assert correlation(image_to_mnist(dusty), clean) > 0.99


def test_thin_pen_strokes_are_widened_to_mnist_strokes():
    thick = image_to_mnist(draw_seven(width=24))
    thin = image_to_mnist(draw_seven(width=3))
    assert correlation(thin, thick) > 0.95
    assert abs(np.count_nonzero(thin > 128) - np.count_nonzero(thick > 128)) < 15


def test_file_pil_image_and_array_inputs_agree(tmp_path):
    image = draw_seven()
    path = tmp_path / "seven.png"
    image.save(path)
    from_array = image_to_mnist(np.asarray(image))
    np.testing.assert_array_equal(image_to_mnist(path), from_array)
    np.testing.assert_array_equal(image_to_mnist(str(path)), from_array)
    np.testing.assert_array_equal(image_to_mnist(image), from_array)
    unit_floats = np.asarray(image, dtype=float) / 255
    np.testing.assert_array_equal(image_to_mnist(unit_floats), from_array)


def test_colour_and_transparent_images(tmp_path):
    expected = image_to_mnist(draw_seven())
    blue_on_yellow = draw_seven(mode="RGB", ink=(20, 20, 160), paper=(250, 240, 150))
    assert correlation(image_to_mnist(blue_on_yellow), expected) > 0.99
    assert correlation(image_to_mnist(np.asarray(blue_on_yellow)), expected) > 0.99
    transparent = draw_seven(mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    transparent.save(tmp_path / "seven.png")
    assert correlation(image_to_mnist(tmp_path / "seven.png"), expected) > 0.99


def test_blank_image_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("L", (200, 300), 240).save(path)
    with pytest.raises(ValueError, match=r"blank\.png.*blank"):
        image_to_mnist(path)


def test_a_speck_lost_in_the_noise_is_refused_as_no_digit_not_a_numpy_error():
    # 2x2 paper with one black pixel: nothing survives the noise floor; this
    # once divided by a zero maximum and failed deep inside NumPy
    page = np.full((2, 2), 220, dtype=np.uint8)
    page[0, 0] = 0
    with pytest.raises(ValueError, match=r"<array>: no digit found: no ink stands"):
        image_to_mnist(page)


@pytest.mark.parametrize("shape", [(140, 140), (37, 211), (1, 50), (80, 30)])
def test_background_plane_is_the_least_squares_fit_to_the_border(shape):
    rng = np.random.default_rng(0)
    rows, cols = np.indices(shape)
    gray = 180 + 0.3 * rows - 0.2 * cols + rng.normal(0, 0.1, shape)
    gray[: shape[0] // 8, :1] = 0  # ink touching the border: left out of the fit
    plane, noise = preprocessing._background(gray)
    ring = max(1, min(shape) // 20)
    border = np.ones(shape, dtype=bool)
    border[ring:-ring, ring:-ring] = False
    keep = border & (gray > 50)
    design = np.column_stack([rows[keep], cols[keep], np.ones(keep.sum())])
    coef = np.linalg.lstsq(design, gray[keep], rcond=None)[0]
    expected = coef[0] * rows + coef[1] * cols + coef[2]
    np.testing.assert_allclose(plane, expected, atol=1e-9)
    assert 0.05 < noise < 0.2


def test_missing_file_and_non_image_are_refused_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"nowhere\.png: no such file"):
        image_to_mnist(tmp_path / "nowhere.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match=r"notes\.png: cannot read it as an image"):
        image_to_mnist(text)


# EXIF orientation: a phone's sideways photo reads as the upright picture


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photo_is_turned_upright_by_its_exif_tag(orientation, tmp_path):
    upright = upright_seven()
    expected = image_to_mnist(upright)
    data = sideways(upright, orientation)
    path = tmp_path / f"seven_{orientation}.png"
    path.write_bytes(data)
    np.testing.assert_array_equal(image_to_mnist(path), expected)
    np.testing.assert_array_equal(image_to_mnist(io.BytesIO(data)), expected)
    with Image.open(path) as opened:  # the caller's image is left as it is
        np.testing.assert_array_equal(image_to_mnist(opened), expected)
        assert opened.size == (
            upright.shape[::-1] if orientation < 5 else upright.shape
        )


def test_a_sideways_jpeg_reads_as_the_upright_jpeg(tmp_path):
    upright = upright_seven()
    expected = image_to_mnist(io.BytesIO(encode(Image.fromarray(upright), "JPEG")))
    turned = image_to_mnist(io.BytesIO(sideways(upright, 6, "JPEG")))
    assert correlation(turned, expected) > 0.98  # JPEG's loss, not the turn
    assert correlation(turned, image_to_mnist(np.rot90(upright, 1))) < 0.5


def test_the_upright_image_is_what_the_loader_measures(tmp_path):
    upright = upright_seven()
    for orientation in (1, 6):
        gray, shape = preprocessing._load_gray(
            io.BytesIO(sideways(upright, orientation)), "<file>", Image
        )
        assert shape == upright.shape
        np.testing.assert_array_equal(gray, upright)


@pytest.mark.parametrize("orientation", [1, 8])
def test_a_large_jpeg_is_decoded_small_and_measured_at_full_size(
    orientation, monkeypatch
):
    from PIL import JpegImagePlugin

    drafts = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        drafts.append(draft(self, mode, size))
        return drafts[-1]

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    number, _ = number_image("42", scale=40, gap=200, margin=300)  # 3040x1720
    data = sideways(number, orientation, "JPEG")
    gray, shape = preprocessing._load_gray(io.BytesIO(data), "<file>", Image)
    assert shape == number.shape  # the upright photo's own size, for the boxes
    assert gray.shape == (579, 1024)  # working size, as a full decode gives
    stored = number.shape[::-1] if orientation < 5 else number.shape  # (w, h)
    assert drafts[0][1][2:] == (stored[0] / 2, stored[1] / 2)  # decoded at 1/2
    full = preprocessing._shrink(number.astype(float), Image)
    assert np.abs(gray - full).mean() < 2  # the same picture


# Image files that cannot be read: one line naming the file, no Pillow error


def _broken_chunk():
    return with_broken_chunk(encode(Image.fromarray(upright_seven())))


def _truncated():
    png = encode(Image.fromarray(upright_seven()))
    return png[: len(png) // 2]


BAD_FILES = {
    # case: (bytes, words of the message)
    "damaged chunk": (_broken_chunk, "damaged or cut short (broken PNG file"),
    "truncated": (_truncated, "damaged or cut short (image file is truncated"),
    "not an image": (lambda: b"label,pixel0\n5,0\n", "not an image file Pillow"),
    "empty file": (lambda: b"", "not an image file Pillow"),
    "zero width": (lambda: png_declaring(0, 40), "not an image file Pillow"),
    "no pixel data": (lambda: png_declaring(40, 40), "damaged or cut short"),
    "decompression bomb": (lambda: png_declaring(30000, 30000), "too large to read"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_an_unreadable_file_is_one_line_naming_it(case, tmp_path):
    make, words = BAD_FILES[case]
    path = tmp_path / "photo.png"
    path.write_bytes(make())
    with pytest.raises(UnreadableImageError) as caught:
        image_to_mnist(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and words in message, message
    assert "\n" not in message and caught.value.__cause__ is None
    assert isinstance(caught.value, ValueError)  # what callers caught before


def test_a_damaged_image_opened_by_the_caller_is_one_line_too(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(_broken_chunk())
    with Image.open(path) as lazy:  # opened, not yet decoded
        with pytest.raises(UnreadableImageError, match=r"photo\.png: .*broken PNG"):
            image_to_mnist(lazy)


def test_a_directory_is_not_an_image(tmp_path):
    with pytest.raises(UnreadableImageError, match="is a directory"):
        image_to_mnist(tmp_path)


# Memory: a large photo is shrunk by Pillow before any float copy

PEAK_SCRIPT = textwrap.dedent(
    """
    import gc, resource, sys
    import numpy as np
    from PIL import Image, ImageDraw
    from skdigits.preprocessing import image_to_mnist

    small = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(small).line([(60, 40), (140, 40), (80, 170)], fill=0, width=20)
    image_to_mnist(small)  # imports and caches are not the image's cost
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    image_to_mnist(sys.argv[1])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) / 1024)  # ru_maxrss is in KiB on Linux
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_a_4096_pixel_png_costs_at_most_150_mb(mode, tmp_path):
    path = tmp_path / f"big_{mode}.png"
    white, black = (255, 0) if mode == "L" else ((255,) * 4, (0, 0, 0, 255))
    big = Image.new(mode, (4096, 4096), white)
    ImageDraw.Draw(big).line(
        [(1200, 800), (2900, 800), (1700, 3300)], fill=black, width=400
    )
    big.save(path)
    del big
    run = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    # decoded, an RGBA image alone is 64 MB; before shrinking in Pillow this
    # took 255 MB (L) and 383 MB (RGBA)
    assert float(run.stdout) <= 150, run.stdout


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 5)), np.array([[0, np.nan]]), "x"])
def test_bad_arrays_are_refused(bad):
    if isinstance(bad, str):
        bad = np.array([["a", "b"]])
    with pytest.raises(ValueError, match="<array>"):
        image_to_mnist(bad)


def test_without_pillow_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install skdigits\[images\]"):
        image_to_mnist(np.zeros((28, 28)))


def best_shifted_correlation(pixels, original):
    """Correlation, allowing a 1-pixel shift (rounding the centre of mass)."""
    a, b = pixels.reshape(28, 28), original.reshape(28, 28)
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(correlation(np.roll(a, shift, axis=(0, 1)), b) for shift in shifts)


@pytest.mark.fulldata
def test_mnist_digits_go_through_nearly_unchanged(data_dir):
    frame = pd.read_csv(data_dir / "mnist_test.csv.gz", nrows=200)
    X = frame.drop(columns="label").to_numpy(dtype=np.uint8)
    scores = [best_shifted_correlation(image_to_mnist(x.reshape(28, 28)), x) for x in X]
    assert np.median(scores) > 0.99
    assert np.min(scores) > 0.95
