"""The reader: every digit of a handwritten number, or "no digit".

The stages are pure functions of arrays, as in the classic pipelines for
handwritten numbers, so each can be tested on made-up input:

1. load the image's gray levels (the loading path of
   :func:`~skdigits.preprocessing.image_to_mnist`) and separate ink from paper;
2. find the ink's pieces (connected components, :func:`scipy.ndimage.label`);
3. group pieces of one digit (a 5's flag, a 4 in two strokes, a broken scan):
   pieces that share most of their columns;
4. drop specks, and split a group that is wider than one digit where its
   column profile of ink is thinnest, choosing the number of digits with the
   model;
5. order the glyphs left to right and normalise each as MNIST did;
6. classify them and decide, from a score and a threshold, which are digits.
"""

import dataclasses
import math
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from skdigits import preprocessing as _pre
from skdigits._scores import check_scorer

__all__ = ["ReadDigit", "Reading", "no_digit_threshold", "read_digits"]

#: Pieces sharing at least this share of the narrower one's columns, and apart
#: by at most MERGE_GAP times the taller one's height, are one digit.
MERGE_OVERLAP = 0.5
MERGE_GAP = 0.5
#: Glyphs shorter than this share of the tallest one are dropped (dots, dashes).
MIN_HEIGHT_SHARE = 0.4
#: Glyphs shorter than this many working pixels are specks.
MIN_HEIGHT_PX = 6
#: The reader reads one line: a glyph whose middle row is further than this
#: many times the digits' median height from their median middle row is off it.
LINE_TOLERANCE = 0.6
#: An image holding more than this many glyphs that are not digits for each
#: one that is (and at least three) is noise, not a number: no digit.
NOISE_RATIO = 2
#: A glyph this many times the digits' median height (low, high) may be a
#: digit by its context (:func:`in_context`).
CONTEXT_HEIGHTS = (0.7, 1.4)
#: A glyph wider than this times its height may be several touching digits.
SPLIT_ASPECT = 1.0
#: A digit is at least this times as wide as it is tall (MNIST's 5th percentile
#: is 0.35); it bounds how many digits a wide glyph is tried as.
MIN_DIGIT_ASPECT = 0.35
#: A cut is searched within this share of a part's width either side of its
#: even position.
CUT_WINDOW = 0.4
#: Most digits a wide glyph is tried as.
MAX_SPLIT = 6
#: The prior on a digit's width over its height (MNIST's median, 0.77), and its
#: weight against the model's log probabilities when choosing a split.
DIGIT_ASPECT = 0.77
ASPECT_WEIGHT = 1.0


@dataclasses.dataclass(frozen=True)
class ReadDigit:
    """One glyph the reader found, digit or not.

    Attributes
    ----------
    label : int or None
        The digit read, or None when the glyph is not a digit (its score is
        below the threshold).
    probability : float
        The model's top class probability for the glyph.
    box : tuple of int
        ``(x0, y0, x1, y1)`` in the input image's own pixels; ``x1`` and ``y1``
        exclusive.
    probabilities : ndarray of shape (10,)
        ``predict_proba`` of the glyph, digits 0 to 9.
    image28 : ndarray of shape (28, 28), dtype uint8
        The glyph as the model saw it, normalised as MNIST's digits.
    score : float
        The "no digit" score: higher means more like a digit; the glyph is a
        digit when it is at least the threshold.
    """

    label: object
    probability: float
    box: tuple
    probabilities: np.ndarray = dataclasses.field(repr=False)
    image28: np.ndarray = dataclasses.field(repr=False)
    score: float = 0.0

    def to_json(self):
        """``{"label": int or None, "probability": float, "box": [x0, y0, x1, y1]}``."""
        return {
            "label": self.label,
            "probability": float(self.probability),
            "box": [int(v) for v in self.box],
        }


@dataclasses.dataclass(frozen=True)
class Reading:
    """What :func:`read_digits` read in an image.

    Attributes
    ----------
    text : str
        The digits read, left to right; ``""`` when there is none.
    digits : tuple of ReadDigit
        Every glyph, left to right (those that are not digits with label
        None); empty when none of them is a digit.
    """

    text: str
    digits: tuple

    def to_json(self):
        """``{"text": str, "digits": [ReadDigit.to_json(), ...]}``."""
        return {"text": self.text, "digits": [d.to_json() for d in self.digits]}


def read_digits(image, model=None, *, threshold=None):
    """Read the handwritten number in ``image``: every digit, left to right.

    The ink is separated from the paper as by
    :func:`~skdigits.preprocessing.image_to_mnist`, cut into glyphs
    (connected pieces of ink, pieces of one digit grouped, touching digits
    split where the ink is thinnest), and each glyph is normalised as MNIST's
    digits were and read by ``model``. A glyph whose "no digit" score is
    below ``threshold`` is not a digit. One digit alone reads exactly as
    :func:`~skdigits.preprocessing.predict_digit` reads it.

    Parameters
    ----------
    image : str, path-like, PIL.Image.Image or array-like
        Anything :func:`~skdigits.preprocessing.image_to_mnist` takes: a file,
        a Pillow image, or a 2-D array of gray levels (dark ink on light paper
        or light on dark). One line of writing.
    model : estimator or scorer, default=None
        None reads with the bundled model, scored by its digit detector (a
        small network on the classifier's hidden layers, shipped beside
        it). Else a fitted classifier of the ten digits (``classes_`` 0 to 9)
        that takes raw 0-255 pixels, such as the pipelines ``skdigits train``
        saves, scored by its top probability; or a scorer made for such a
        model by ``skdigits._scores.fit_detector``.
    threshold : float, default=None
        The score below which a glyph is "not a digit"; None uses the
        scorer's own, measured on the tune set of
        ``python -m benchmarks.bench_reading``. The score is the detector's
        log-odds of "digit", or the top probability (higher is more like a
        digit either way).

    Returns
    -------
    reading : Reading
        ``text`` (``""`` when no digit) and one :class:`ReadDigit` per glyph.

    Raises
    ------
    ValueError
        If the image cannot be read or ``model`` is not a classifier of the
        ten digits.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits import read_digits
    >>> page = np.full((100, 300), 255, dtype=np.uint8)  # white paper
    >>> read_digits(page).text  # blank: no digit
    ''
    """
    found = find_and_score(image, model)
    margin = scorer_for(model).context_margin
    return assemble(found, found.scores, _threshold(model, threshold), margin)


class Found(NamedTuple):
    """Every glyph of an image, normalised, read and scored (working pixels)."""

    glyphs: list
    images: np.ndarray  # (n, 784) uint8
    proba: np.ndarray  # (n, 10), digits 0..9
    scores: np.ndarray  # (n,)
    scale: tuple  # the image's pixels per working pixel, (rows, columns)
    shape: tuple  # the image's own (height, width)


def find_and_score(image, model=None):
    """Stages 1 to 6 but the threshold: the glyphs of ``image`` and their scores."""
    Image = _pre._import_pillow()
    name = _pre._image_name(image)
    scorer = scorer_for(model)
    gray, shape = _pre._load_gray(image, name, Image)
    found = _pre._find_ink(gray)
    ink = found.ink / found.ink.max() if not found.blank else np.zeros_like(gray)
    glyphs = find_glyphs(ink)
    glyphs = split_glyphs(
        ink,
        glyphs,
        lambda crops: scorer.unlikely(*scorer.evaluate(_norm(crops, Image))),
    )
    images = _norm([glyph_crop(ink, g, glyphs) for g in glyphs], Image)
    proba, scores = scorer.evaluate(images)
    scale = (shape[0] / gray.shape[0], shape[1] / gray.shape[1])
    return Found(glyphs, images, proba, np.asarray(scores, float), scale, shape)


def _threshold(model, threshold):
    if threshold is None:
        return no_digit_threshold(model)
    if isinstance(threshold, bool) or not isinstance(threshold, Real):
        raise ValueError(
            f"threshold: expected a number (a score) or None, got {threshold!r}"
        )
    if math.isnan(threshold):
        raise ValueError("threshold: expected a number (a score) or None, got nan")
    return float(threshold)


def no_digit_threshold(model=None):
    """The score under which :func:`read_digits` says "not a digit" by default.

    Parameters
    ----------
    model : estimator or scorer, default=None
        As for :func:`read_digits`: None for the bundled model, whose score is
        its detector's log-odds of "digit"; a model of your own is scored by
        its top probability.

    Returns
    -------
    threshold : float
        Measured on the tune set of ``python -m benchmarks.bench_reading``:
        the score that keeps 97.5 % of its digits.

    Examples
    --------
    >>> from skdigits import no_digit_threshold
    >>> isinstance(no_digit_threshold(), float)
    True
    """
    return float(scorer_for(model).threshold)


def scorer_for(model):
    """The scorer that reads with ``model``: the bundled model and its detector
    for None, ``model`` itself when it is a scorer (a fitted detector), else
    ``model``'s top probability."""
    if model is None:
        if "scorer" not in _BUNDLED:
            _BUNDLED["scorer"] = _bundled_scorer()
        return _BUNDLED["scorer"]
    return check_scorer(model)


_BUNDLED = {}


def _bundled_scorer():
    from skdigits._persistence import load_bundled_model
    from skdigits._scores import MaxProbaScorer, load_bundled_detector

    model = load_bundled_model()
    return load_bundled_detector(model) or MaxProbaScorer(model)


def _norm(crops, Image):
    """The 784 MNIST pixels of each crop, as an (n, 784) uint8 array."""
    if not crops:
        return np.zeros((0, 784), dtype=np.uint8)
    return np.stack([_pre._normalise(crop, Image) for crop in crops])


# --- glyphs -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Glyph:
    """A candidate digit: its box in working pixels and the ink it owns.

    ``mask`` is True on the glyph's own ink pixels inside the box
    ``(r0, r1, c0, c1)`` (end exclusive).
    """

    r0: int
    r1: int
    c0: int
    c1: int
    mask: np.ndarray = dataclasses.field(repr=False, compare=False)

    @property
    def height(self):
        return self.r1 - self.r0

    @property
    def width(self):
        return self.c1 - self.c0

    @property
    def slices(self):
        return slice(self.r0, self.r1), slice(self.c0, self.c1)


def find_pieces(ink):
    """The connected pieces of ink above INK_THRESHOLD, specks left out.

    Parameters
    ----------
    ink : ndarray of shape (height, width)
        Bright ink in [0, 1] on 0.

    Returns
    -------
    pieces : list of Glyph
        One per 8-connected piece at least ``MIN_PART`` of the largest one's
        area (the rule of ``image_to_mnist``'s crop).
    """
    labels, n = ndimage.label(ink > _pre.INK_THRESHOLD, structure=np.ones((3, 3)))
    if n == 0:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    pieces = []
    for index, box in enumerate(ndimage.find_objects(labels)):
        if sizes[index] < _pre.MIN_PART * sizes.max():
            continue
        rows, cols = box
        mask = labels[box] == index + 1
        pieces.append(Glyph(rows.start, rows.stop, cols.start, cols.stop, mask))
    return pieces


def merge(a, b):
    """One glyph of two: their union box, owning both glyphs' ink."""
    r0, r1 = min(a.r0, b.r0), max(a.r1, b.r1)
    c0, c1 = min(a.c0, b.c0), max(a.c1, b.c1)
    mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    for g in (a, b):
        mask[g.r0 - r0 : g.r1 - r0, g.c0 - c0 : g.c1 - c0] |= g.mask
    return Glyph(r0, r1, c0, c1, mask)


def column_overlap(a, b):
    """The columns ``a`` and ``b`` share, as a share of the narrower one's."""
    shared = min(a.c1, b.c1) - max(a.c0, b.c0)
    return max(shared, 0) / min(a.width, b.width)


def row_gap(a, b):
    """The rows between ``a`` and ``b`` (0 when their rows overlap)."""
    return max(a.r0 - b.r1, b.r0 - a.r1, 0)


def belong_together(a, b):
    """Whether ``a`` and ``b`` look like pieces of one digit: one above the
    other (most columns shared) and close."""
    close = row_gap(a, b) <= MERGE_GAP * max(a.height, b.height)
    return close and column_overlap(a, b) >= MERGE_OVERLAP


def group_pieces(pieces):
    """Merge the pieces that belong together (:func:`belong_together`).

    A digit drawn in two strokes, a 5's flag or a scan broken across a stroke
    gives close pieces one above the other; neighbouring digits sit side by
    side, and specks scattered down a page are far apart.
    """
    groups = list(pieces)
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if belong_together(groups[i], groups[j]):
                    groups[i] = merge(groups[i], groups.pop(j))
                    merged = True
                    break
            if merged:
                break
    return groups


def drop_small(groups):
    """Leave out glyphs too short to be digits: specks, dots and dashes."""
    if not groups:
        return []
    tallest = max(g.height for g in groups)
    low = max(MIN_HEIGHT_PX, MIN_HEIGHT_SHARE * tallest)
    return [g for g in groups if g.height >= low]


def find_glyphs(ink):
    """Candidate digits of ``ink``, left to right, before any split."""
    groups = drop_small(group_pieces(find_pieces(ink)))
    return sorted(groups, key=lambda g: (g.c0 + g.c1) / 2)


def cut_columns(profile, n_parts):
    """Where to cut a glyph of this column ``profile`` into ``n_parts`` digits.

    Each cut is the column of least ink within CUT_WINDOW of a part's width
    around its even position (``i * width / n_parts``); of equal columns, the
    one nearest that position.

    Returns
    -------
    cuts : list of int
        ``n_parts - 1`` increasing column indices, each the first column of
        the next part.
    """
    width = len(profile)
    smooth = ndimage.uniform_filter1d(profile.astype(float), size=3)
    step = width / n_parts
    cuts = []
    for i in range(1, n_parts):
        lo = max(math.ceil((i - CUT_WINDOW) * step), (cuts[-1] + 1) if cuts else 1)
        hi = min(math.floor((i + CUT_WINDOW) * step) + 1, width - 1)
        if hi <= lo:
            cuts.append(min(max(round(i * step), lo), width - 1))
            continue
        columns = np.arange(lo, hi)
        nearest = np.abs(columns - i * step) / width * 1e-6 * (smooth.max() + 1)
        cuts.append(int(columns[np.argmin(smooth[lo:hi] + nearest)]))
    return cuts


def cut(glyph, cuts):
    """The parts of ``glyph`` between the columns ``cuts``, each box made tight."""
    parts = []
    for start, stop in zip([0, *cuts], [*cuts, glyph.width]):
        mask = np.zeros_like(glyph.mask)
        mask[:, start:stop] = glyph.mask[:, start:stop]
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if len(rows) == 0:
            continue
        box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
        parts.append(
            Glyph(
                glyph.r0 + rows[0],
                glyph.r0 + rows[-1] + 1,
                glyph.c0 + cols[0],
                glyph.c0 + cols[-1] + 1,
                mask[box],
            )
        )
    return parts


def split_options(glyph):
    """Every way of cutting ``glyph`` tried: into 1, 2, ... MAX_SPLIT parts."""
    aspect = glyph.width / glyph.height
    if aspect <= SPLIT_ASPECT:
        return [[glyph]]
    most = min(MAX_SPLIT, max(2, math.floor(aspect / MIN_DIGIT_ASPECT)))
    profile = glyph.mask.sum(axis=0)
    return [[glyph]] + [cut(glyph, cut_columns(profile, k)) for k in range(2, most + 1)]


def option_cost(parts, unlikely):
    """How unlikely a split is: its parts' ``unlikely`` (how little each looks
    like a digit, from the scorer) plus how far each part's aspect ratio is
    from a typical digit's."""
    aspects = np.array([p.width / p.height for p in parts])
    prior = np.abs(np.log(aspects / DIGIT_ASPECT)).sum()
    return float(np.sum(unlikely) + ASPECT_WEIGHT * prior)


def split_glyphs(ink, glyphs, unlikely_of):
    """Split glyphs wider than one digit where they read best as digits.

    Parameters
    ----------
    ink : ndarray of shape (height, width)
        Bright ink in [0, 1] on 0.
    glyphs : list of Glyph
        Left to right.
    unlikely_of : callable
        ``unlikely_of(list of crops) -> ndarray (n,)``: how little each crop
        of ``ink`` looks like a digit (a negative log-likelihood).

    Returns
    -------
    glyphs : list of Glyph
        Left to right, each wide glyph replaced by its best split.
    """
    out = []
    for glyph in glyphs:
        options = split_options(glyph)
        if len(options) == 1:
            out.append(glyph)
            continue
        crops = [own_crop(ink, part) for parts in options for part in parts]
        unlikely = unlikely_of(crops)
        costs, start = [], 0
        for parts in options:
            costs.append(option_cost(parts, unlikely[start : start + len(parts)]))
            start += len(parts)
        out.extend(options[int(np.argmin(costs))])
    return sorted(out, key=lambda g: (g.c0 + g.c1) / 2)


def own_crop(ink, glyph):
    """The ink inside ``glyph``'s box that belongs to it (its pixels only)."""
    return np.where(glyph.mask, ink[glyph.slices], 0.0)


def glyph_crop(ink, glyph, glyphs):
    """The ink inside ``glyph``'s box, the other glyphs' ink taken out.

    Faint ink below the threshold and dropped specks stay, as in the crop of
    ``image_to_mnist``: one digit alone gives exactly its crop.
    """
    crop = ink[glyph.slices].copy()
    for other in glyphs:
        if other is glyph:
            continue
        r0, r1 = max(glyph.r0, other.r0), min(glyph.r1, other.r1)
        c0, c1 = max(glyph.c0, other.c0), min(glyph.c1, other.c1)
        if r0 >= r1 or c0 >= c1:
            continue
        theirs = other.mask[_within(other, r0, r1, c0, c1)]
        mine = _within(glyph, r0, r1, c0, c1)
        crop[mine][theirs & ~glyph.mask[mine]] = 0
    return crop


def _within(glyph, r0, r1, c0, c1):
    """Slices of ``glyph``'s box for the rows r0:r1 and columns c0:c1 of the ink."""
    return slice(r0 - glyph.r0, r1 - glyph.r0), slice(c0 - glyph.c0, c1 - glyph.c0)


# --- the answer ---------------------------------------------------------------


def image_box(glyph, scale, shape):
    """``glyph``'s box in the input image's pixels: ``(x0, y0, x1, y1)``."""
    sy, sx = scale
    return (
        max(0, math.floor(glyph.c0 * sx)),
        max(0, math.floor(glyph.r0 * sy)),
        min(shape[1], math.ceil(glyph.c1 * sx)),
        min(shape[0], math.ceil(glyph.r1 * sy)),
    )


def on_the_line(glyphs, is_digit):
    """Which glyphs lie on the line of the digits (``is_digit``, a mask).

    The line is the digits' median middle row; a glyph is on it when its
    middle row is within LINE_TOLERANCE of the digits' median height of it.
    Digits scattered over a page (noise) are mostly off any one line.
    """
    middles = np.array([(g.r0 + g.r1) / 2 for g in glyphs])
    heights = np.array([g.height for g in glyphs])
    if not np.any(is_digit):
        return np.zeros(len(glyphs), dtype=bool)
    line = np.median(middles[is_digit])
    return np.abs(middles - line) <= LINE_TOLERANCE * np.median(heights[is_digit])


def assemble(found, scores, threshold, margin=0.0):
    """The Reading of ``found`` with these ``scores``: the glyphs on the digits'
    line, each a digit where its score reaches ``threshold`` (or, beside
    digits, ``threshold - margin``: :func:`in_context`), else None; no digit
    when the glyphs that are not digits outnumber the digits (noise)."""
    scores = np.asarray(scores, dtype=np.float64)  # float32 would round threshold
    is_digit = scores >= threshold
    if is_noise(np.count_nonzero(is_digit), np.count_nonzero(~is_digit)):
        return Reading("", ())
    keep = on_the_line(found.glyphs, is_digit)
    is_digit |= keep & in_context(found.glyphs, scores, is_digit, threshold - margin)
    digits = tuple(
        read_digit(found, i, float(scores[i]), is_digit[i])
        for i in np.flatnonzero(keep)
    )
    text = "".join(str(d.label) for d in digits if d.label is not None)
    if not text:
        return Reading("", ())
    return Reading(text, digits)


def is_noise(n_digits, n_others):
    """Whether an image of ``n_digits`` digits among ``n_others`` glyphs that
    are not digits is noise (a page of blobs, a texture) rather than a number."""
    return n_others >= 3 and n_others > NOISE_RATIO * n_digits


def in_context(glyphs, scores, is_digit, low):
    """Glyphs that are digits by their context: scored at least ``low``, and
    of the height of the digits (within CONTEXT_HEIGHTS of their median).

    A glyph between digits of its size is more likely a digit than one
    alone; the margin under the threshold is the scorer's ``context_margin``,
    measured on the tune set's numbers.
    """
    if not np.any(is_digit):
        return np.zeros(len(glyphs), dtype=bool)
    heights = np.array([g.height for g in glyphs], dtype=float)
    ratio = heights / np.median(heights[is_digit])
    lo, hi = CONTEXT_HEIGHTS
    return (scores >= low) & (ratio >= lo) & (ratio <= hi)


def read_digit(found, i, score, is_digit):
    """The ReadDigit of ``found``'s glyph ``i``."""
    p = found.proba[i]
    top = int(np.argmax(p))
    return ReadDigit(
        label=top if is_digit else None,
        probability=float(p[top]),
        box=image_box(found.glyphs[i], found.scale, found.shape),
        probabilities=p,
        image28=found.images[i].reshape(28, 28),
        score=score,
    )
