"""Held-out sets for the reader: numbers, single digits and things that are not digits.

Everything is made here, deterministically from seeds, out of MNIST **test**
digits and glyphs drawn by code (Pillow's bundled font, ``ImageFont.load_default``,
and strokes computed here), so any machine with the MNIST CSVs builds the same
images. Two splits that share nothing:

- ``tune``: MNIST test rows 0-4999, seed 1, one half of the letters, symbols and
  shapes. Scores and thresholds are chosen on it only.
- ``report``: MNIST test rows 5000-9999, seed 2, the other half of the letters,
  symbols and shapes (other glyph families). The figures are given on it.

A third split, ``fit``, draws MNIST *training* digits (seed 3, the tune
split's glyph families): the examples the bundled model's digit detector is
fitted on (``benchmarks.make_digit_detector``).

Each split has three parts: ``digits`` (one MNIST digit per image),
``non_digits`` (one thing that is not a digit per image, by family) and
``numbers`` (2 to 6 MNIST digits side by side, gaps from touching to wide,
sizes and baselines varied). Every image is drawn in one of three styles:
dark ink on a white canvas, white ink on a black canvas (the draw page), or
ink on paper (grey, unevenly lit, noisy, slightly blurred).
"""

import dataclasses

import numpy as np
from scipy import ndimage

SPLITS = {
    "fit": {  # the digit detector's examples: MNIST *training* digits
        "source": "train",
        "rows": (0, 60000),
        "seed": 3,
        "chars": "acehknruwyAEFKMPUX+#%*<~{",
        "shapes": ("triangle", "star", "zigzag", "cross", "wave"),
        "more_families": ("blob", "polygon", "pseudo_letter"),
    },
    "tune": {
        "source": "test",
        "rows": (0, 5000),
        "seed": 1,
        "chars": "acehknruwyAEFKMPUX+#%*<~{",
        "shapes": ("triangle", "star", "zigzag", "cross", "wave"),
    },
    "report": {
        "source": "test",
        "rows": (5000, 10000),
        "seed": 2,
        "chars": "dfmptvxCHLNRVWY=@&?$>^}",
        "shapes": ("spiral", "arrow", "hash", "check", "heart", "square"),
    },
}
STYLES = ("canvas", "draw_page", "paper")
# Letters left out of both splits: they are drawn as digits are
# (O o Q D as 0, I l i j as 1, Z z as 2, S s as 5, B as 8, g q as 9, b G as 6).


@dataclasses.dataclass(frozen=True)
class Sample:
    """One image of a set: what it shows and how it was drawn."""

    image: np.ndarray = dataclasses.field(repr=False)
    truth: str  # the digits shown ("" for a non-digit)
    family: str  # "digit", "number", or the non-digit's family
    style: str


@dataclasses.dataclass(frozen=True)
class ReadingSet:
    """The three parts of one split."""

    name: str
    digits: list
    non_digits: list
    numbers: list

    def describe(self):
        """One line per part: how many images, of what."""
        families = sorted({s.family for s in self.non_digits})
        lengths = sorted({len(s.truth) for s in self.numbers})
        rows = SPLITS[self.name]["rows"]
        return [
            f"{self.name}: {len(self.digits)} single digits (MNIST "
            f"{SPLITS[self.name]['source']} rows "
            f"{rows[0]}-{rows[1] - 1}), {len(self.non_digits)} non-digits "
            f"({', '.join(families)}), {len(self.numbers)} numbers of "
            f"{lengths[0]}-{lengths[-1]} digits; seed {SPLITS[self.name]['seed']}",
            f"  letters and symbols: {SPLITS[self.name]['chars']}; shapes: "
            f"{', '.join(SPLITS[self.name]['shapes'])}",
        ]


def build_split(name, X_test, y_test, n_digits=1000, n_non_digits=1000, n_numbers=300):
    """Make the ``name`` split from the MNIST set of its ``source``.

    Parameters
    ----------
    name : {"tune", "report", "fit"}
    X_test : ndarray of shape (n, 784)
        MNIST pixels, 0-255: the test set (the training set for "fit").
    y_test : ndarray of shape (n,)
    n_digits, n_non_digits, n_numbers : int
        Images in each part.

    Returns
    -------
    reading_set : ReadingSet
    """
    spec = SPLITS[name]
    start, stop = spec["rows"]
    X = np.asarray(X_test[start:stop]).reshape(-1, 28, 28) / 255.0
    y = np.asarray(y_test[start:stop])
    rng = np.random.default_rng(spec["seed"])
    pool = DigitPool(X, y, rng)
    digits = [_single_digit(pool, rng) for _ in range(n_digits)]
    families = list(NON_DIGITS) + list(spec.get("more_families", ()))
    non_digits = [
        _non_digit(families[i % len(families)], pool, spec, rng)
        for i in range(n_non_digits)
    ]
    numbers = [make_number(pool, rng) for _ in range(n_numbers)]
    return ReadingSet(name, digits, non_digits, numbers)


class DigitPool:
    """MNIST digits of a split, drawn in turn from a shuffled order."""

    def __init__(self, X, y, rng):
        self.X, self.y = X, y
        self.order = rng.permutation(len(y))
        self.next = 0

    def take(self):
        index = self.order[self.next % len(self.order)]
        self.next += 1
        return _tight(self.X[index]), str(self.y[index])


# --- drawing ------------------------------------------------------------------


def _tight(ink, level=0.05):
    """``ink`` cropped to the box of its pixels above ``level``."""
    rows = np.flatnonzero((ink > level).any(axis=1))
    cols = np.flatnonzero((ink > level).any(axis=0))
    if len(rows) == 0:
        return ink
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _resize(ink, height, width=None):
    from PIL import Image

    if width is None:
        width = ink.shape[1] * height / ink.shape[0]
    size = (max(1, round(width)), max(1, round(height)))
    image = Image.fromarray(ink.astype(np.float32)).resize(size, Image.BILINEAR)
    return np.clip(np.asarray(image, dtype=float), 0, 1)


def _render(ink, style, rng):
    """Ink (bright on 0, in [0, 1]) drawn as an image of ``style``, uint8."""
    if style == "draw_page":
        return np.round(255 * ink).astype(np.uint8)
    if style == "canvas":
        return np.round(255 * (1 - ink)).astype(np.uint8)
    rows, cols = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]]
    slope = rng.uniform(-0.3, 0.3, 2) / np.array(ink.shape)
    paper = rng.uniform(160, 235) * (1 + slope[0] * rows + slope[1] * cols)
    pen = rng.uniform(10, 90)
    image = paper - ink * (paper - pen)
    image = ndimage.gaussian_filter(image, rng.uniform(0.3, 1.2))
    image += rng.normal(0, rng.uniform(2, 9), image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _place(glyphs, rng, margin):
    """Glyph inks ``[(ink, top), ...]`` side by side with gaps; one canvas."""
    height = max(top + ink.shape[0] for ink, top, _ in glyphs)
    width = sum(ink.shape[1] + gap for ink, _, gap in glyphs)
    canvas = np.zeros((height + 2 * margin, max(width, 1) + 2 * margin))
    left = margin
    for ink, top, gap in glyphs:
        rows = slice(margin + top, margin + top + ink.shape[0])
        cols = slice(left, left + ink.shape[1])
        canvas[rows, cols] = np.maximum(canvas[rows, cols], ink)
        left += ink.shape[1] + gap
    return canvas


def _alone(ink, style, rng):
    """One glyph on its own image, a margin around it."""
    margin = int(rng.integers(8, 40))
    return _render(_place([(ink, 0, 0)], rng, margin), style, rng)


def _single_digit(pool, rng):
    ink, label = pool.take()
    style = STYLES[rng.integers(len(STYLES))]
    ink = _resize(ink, rng.uniform(20, 120))
    return Sample(_alone(ink, style, rng), label, "digit", style)


def make_number(pool, rng):
    n = int(rng.integers(2, 7))
    height = rng.uniform(24, 90)
    style = STYLES[rng.integers(len(STYLES))]
    tight = rng.random() < 0.4  # a share of the numbers written tight
    glyphs, truth = [], ""
    for _ in range(n):
        ink, label = pool.take()
        h = height * rng.uniform(0.85, 1.15)
        ink = _resize(ink, h)
        top = int(round(rng.uniform(0, 0.15) * height + (height * 1.15 - h) / 2))
        gap_share = rng.uniform(-0.03, 0.1) if tight else rng.uniform(0.1, 0.6)
        glyphs.append((ink, top, int(round(gap_share * height))))
        truth += label
    margin = int(rng.integers(8, 40))
    image = _render(_place(glyphs, rng, margin), style, rng)
    return Sample(image, truth, "number", style)


# --- things that are not digits -------------------------------------------------


def _non_digit(family, pool, spec, rng):
    style = STYLES[rng.integers(len(STYLES))]
    ink = {**NON_DIGITS, **FIT_ONLY}[family](rng, pool=pool, spec=spec)
    ink = _resize(_tight(ink), rng.uniform(20, 120)) if family != "texture" else ink
    return Sample(_alone(ink, style, rng), "", family, style)


def _character(rng, spec, **_):
    """A letter or symbol of Pillow's bundled font, distorted like handwriting."""
    from PIL import Image, ImageDraw, ImageFont

    char = spec["chars"][rng.integers(len(spec["chars"]))]
    font = ImageFont.load_default(size=int(rng.integers(40, 72)))
    image = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(image).text(
        (30, 20),
        char,
        fill=255,
        font=font,
        stroke_width=int(rng.integers(0, 4)),
        stroke_fill=255,
    )
    return _handwritten(np.asarray(image, dtype=float) / 255, rng)


def _handwritten(ink, rng):
    """A random shear, rotation and squeeze, and a smooth wobble of the strokes."""
    angle = np.deg2rad(rng.uniform(-15, 15))
    shear, squeeze = rng.uniform(-0.3, 0.3), rng.uniform(0.8, 1.25)
    matrix = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    ) @ np.array([[squeeze, 0], [shear, 1 / squeeze]])
    centre = np.array(ink.shape) / 2
    offset = centre - matrix @ centre
    ink = ndimage.affine_transform(ink, matrix, offset=offset, order=1)
    displacement = [
        ndimage.gaussian_filter(rng.normal(0, 1, ink.shape), 8) * 60 for _ in range(2)
    ]
    rows, cols = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]].astype(float)
    coords = [rows + displacement[0], cols + displacement[1]]
    return np.clip(ndimage.map_coordinates(ink, coords, order=1), 0, 1)


def _polyline_ink(points, width, size=160):
    """Lines through ``points`` (in [0, 1]^2), ``width`` pixels wide."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), 0)
    xy = [(float(x) * (size - 40) + 20, float(y) * (size - 40) + 20) for x, y in points]
    ImageDraw.Draw(image).line(xy, fill=255, width=int(width), joint="curve")
    return np.asarray(image, dtype=float) / 255


def _shape_points(name, rng):
    """The outline of a shape of the split's family, as a list of strokes."""
    t = np.linspace(0, 1, 60)
    if name == "triangle":
        return [[(0.5, 0), (1, 0.9), (0, 0.9), (0.5, 0)]]
    if name == "star":
        angles = np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        return [list(zip(0.5 + 0.5 * np.cos(angles), 0.5 - 0.5 * np.sin(angles)))]
    if name == "zigzag":
        n = int(rng.integers(3, 6))
        return [[(i / n, float(i % 2)) for i in range(n + 1)]]
    if name == "cross":
        return [[(0, 0), (1, 1)], [(1, 0), (0, 1)]]
    if name == "wave":
        return [list(zip(t, 0.5 + 0.3 * np.sin(t * rng.uniform(3, 5) * np.pi)))]
    if name == "spiral":
        r = 0.5 * t
        a = t * rng.uniform(3, 5) * np.pi
        return [list(zip(0.5 + r * np.cos(a), 0.5 + r * np.sin(a)))]
    if name == "arrow":
        return [[(0, 0.5), (1, 0.5)], [(0.7, 0.2), (1, 0.5), (0.7, 0.8)]]
    if name == "hash":
        return [
            [(0.3, 0), (0.3, 1)],
            [(0.7, 0), (0.7, 1)],
            [(0, 0.3), (1, 0.3)],
            [(0, 0.7), (1, 0.7)],
        ]
    if name == "check":
        return [[(0, 0.6), (0.35, 1), (1, 0)]]
    if name == "heart":
        a = 2 * np.pi * t
        x = 16 * np.sin(a) ** 3
        y = 13 * np.cos(a) - 5 * np.cos(2 * a) - 2 * np.cos(3 * a) - np.cos(4 * a)
        return [list(zip(0.5 + x / 34, 0.45 - y / 34))]
    if name == "square":
        return [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]]
    raise ValueError(name)


def _strokes_to_ink(strokes, rng):
    width = rng.integers(6, 16)
    ink = sum(_polyline_ink(stroke, width) for stroke in strokes)
    return _handwritten(np.clip(ink, 0, 1), rng)


def _shape(rng, spec, **_):
    name = spec["shapes"][rng.integers(len(spec["shapes"]))]
    return _strokes_to_ink(_shape_points(name, rng), rng)


def _scribble(rng, **_):
    """A smooth random curve through a few points, often looping."""
    n = int(rng.integers(4, 9))
    points = rng.uniform(0, 1, (n, 2))
    t = np.linspace(0, n - 1, 40 * n)
    curve = np.column_stack([np.interp(t, np.arange(n), points[:, i]) for i in (0, 1)])
    curve = ndimage.gaussian_filter1d(curve, 6, axis=0)
    return _strokes_to_ink([list(map(tuple, curve))], rng)


def _strokes(rng, **_):
    """Two to four straight strokes crossing near the middle (an asterisk, an
    x): strokes apart could make a 1, a 4 or a 7."""
    strokes = []
    for _ in range(int(rng.integers(2, 5))):
        centre = rng.uniform(0.4, 0.6, 2)
        angle = rng.uniform(0, np.pi)
        half = rng.uniform(0.3, 0.5) * np.array([np.cos(angle), np.sin(angle)])
        strokes.append([tuple(centre - half), tuple(centre + half)])
    return _strokes_to_ink(strokes, rng)


def _cut_digit(rng, pool, **_):
    """A digit with its top or bottom 40-60 % cut off (not a 1 or a 7, whose
    stem alone is still a 1)."""
    ink, label = pool.take()
    while label in "17":
        ink, label = pool.take()
    keep = round(rng.uniform(0.4, 0.6) * ink.shape[0])
    return ink[:keep] if rng.random() < 0.5 else ink[-keep:]


def _overlapped_digits(rng, pool, **_):
    """Two digits drawn one over the other, a little apart."""
    a, _ = pool.take()
    b, _ = pool.take()
    a, b = _resize(a, 28), _resize(b, 28)
    shift = int(rng.integers(4, 12))
    width = max(a.shape[1], b.shape[1] + shift)
    ink = np.zeros((28, width))
    ink[:, : a.shape[1]] = a
    ink[:, shift : shift + b.shape[1]] = np.maximum(
        ink[:, shift : shift + b.shape[1]], b
    )
    return ink


def _texture(rng, **_):
    """A patch of texture: blobs, stripes or a grid, 60-200 pixels."""
    size = tuple(int(v) for v in rng.integers(60, 200, 2))
    kind = rng.integers(3)
    if kind == 0:
        noise = ndimage.gaussian_filter(rng.normal(0, 1, size), rng.uniform(1.5, 5))
        return (noise > rng.uniform(0.8, 1.8) * noise.std()).astype(float)
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 20)
    wave = np.sin(2 * np.pi * (rows * np.cos(angle) + cols * np.sin(angle)) / period)
    if kind == 1:
        return (wave > 0.3).astype(float)
    other = np.sin(2 * np.pi * (rows * np.sin(angle) - cols * np.cos(angle)) / period)
    return ((wave > 0.7) | (other > 0.7)).astype(float)


#: Every family of non-digits, one maker each: ``maker(rng, pool=, spec=)`` -> ink.
NON_DIGITS = {
    "character": _character,
    "shape": _shape,
    "scribble": _scribble,
    "strokes": _strokes,
    "cut_digit": _cut_digit,
    "overlapped_digits": _overlapped_digits,
    "texture": _texture,
}


def read_all(samples, scorer):
    """Every glyph the reader finds in each sample, whatever its score.

    Returns
    -------
    glyphs : list of ndarray of shape (n_i, 784)
        The normalised glyphs of each sample (what the model sees).
    """
    from skdigits._reader import find_and_score

    return [find_and_score(s.image, scorer).images for s in samples]


def image_scores(glyphs, scorer):
    """Each sample's score: the highest of its glyphs' (-inf with no glyph).

    A sample reads as "no digit" when this is below the threshold, so it is
    the score that the ROC curve of digits against non-digits is drawn from.
    """
    stacked = np.vstack([g for g in glyphs if len(g)] or [np.zeros((0, 784))])
    _, scores = scorer.evaluate(stacked.astype(np.uint8))
    out, start = np.full(len(glyphs), -np.inf), 0
    for i, g in enumerate(glyphs):
        if len(g):
            out[i] = scores[start : start + len(g)].max()
        start += len(g)
    return out


def _blob(rng, **_):
    """One blob of smoothed noise, the kind a stained page is covered with."""
    for _ in range(100):
        noise = ndimage.gaussian_filter(rng.normal(0, 1, (60, 60)), rng.uniform(2, 5))
        labels, n = ndimage.label(noise > rng.uniform(1.0, 2.2) * noise.std())
        if n:
            sizes = np.bincount(labels.ravel())[1:]
            return (labels == 1 + np.argmax(sizes)).astype(float)
    return np.ones((10, 10))


def _polygon(rng, **_):
    """The outline of a random polygon of 3 to 7 corners."""
    n = int(rng.integers(3, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.25, 0.5, n)
    points = list(zip(0.5 + radii * np.cos(angles), 0.5 + radii * np.sin(angles)))
    return _strokes_to_ink([[*points, points[0]]], rng)


def _pseudo_letter(rng, **_):
    """Two or three short curved strokes joined anyhow: a letter of no alphabet."""
    strokes = []
    for _ in range(int(rng.integers(2, 4))):
        ends = rng.uniform(0, 1, (3, 2))
        t = np.linspace(0, 1, 30)[:, None]
        curve = (1 - t) ** 2 * ends[0] + 2 * t * (1 - t) * ends[1] + t**2 * ends[2]
        strokes.append(list(map(tuple, curve)))
    return _strokes_to_ink(strokes, rng)


#: Families only the fit set draws (the detector's examples), so that the
#: report set's families are new to it.
FIT_ONLY = {"blob": _blob, "polygon": _polygon, "pseudo_letter": _pseudo_letter}
