"""Image bytes for the tests of images (a module, not a fixture: parametrize
lists use it at import time): encoded, damaged, sideways with an EXIF tag.
Imported as ``from _pngs import ...``: pytest puts tests/ on sys.path."""

import io
import struct
import zlib

import numpy as np


def encode(image, fmt="PNG"):
    """A PIL image as the bytes of a PNG (or a JPEG of quality 92) file."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _chunk(kind, data):
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_declaring(width, height):
    """A few hundred bytes claiming ``width x height`` gray pixels, not decodable."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + _chunk(b"IEND", b"")
    )


# EXIF orientation tag -> how the camera stored the upright picture (as NumPy
# sees it), from the EXIF specification: a viewer undoes this to show it upright.
STORED_AS = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.T,
    6: lambda a: np.rot90(a, 1),  # the viewer turns it a quarter clockwise
    7: lambda a: np.rot90(a, 2).T,
    8: lambda a: np.rot90(a, -1),
}


def sideways(upright, orientation, fmt="PNG"):
    """The bytes of ``upright`` (a 2-D uint8 array) stored as a phone stores it:
    turned as ``orientation`` says, with that EXIF orientation tag."""
    from PIL import Image

    stored = Image.fromarray(np.ascontiguousarray(STORED_AS[orientation](upright)))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    buffer = io.BytesIO()
    stored.save(buffer, fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def with_broken_chunk(png):
    """``png`` with its pixel data split in two chunks, the second's type
    damaged: Pillow raises SyntaxError while decoding it, not while opening."""
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        chunks.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    data = b"".join(body for kind, body in chunks if kind == b"IDAT")
    head = [_chunk(kind, body) for kind, body in chunks if kind == b"IHDR"]
    half = len(data) // 2
    return (
        png[:8]
        + b"".join(head)
        + _chunk(b"IDAT", data[:half])
        + _chunk(b"ID\0T", data[half:])
        + _chunk(b"IEND", b"")
    )


def upright_seven():
    """The bundled test sample's first 7, dark on white, 112x144 (taller than
    wide, so that a quarter turn shows)."""
    from PIL import Image

    from skdigits.datasets import load_mnist_sample

    X, y = load_mnist_sample("test")
    seven = X[np.flatnonzero(y == 7)[0]].reshape(28, 28)
    digit = np.full((36, 28), 255, dtype=np.uint8)
    digit[2:30] = 255 - seven
    return np.asarray(Image.fromarray(digit).resize((112, 144), Image.BILINEAR))


def number_image(text, gap=24, scale=4, margin=40):
    """A handwritten number on white paper, made of the bundled test sample's
    first digit of each character of ``text``, side by side; returns the 2-D
    uint8 array and each digit's ink box ``(x0, y0, x1, y1)``."""
    from skdigits.datasets import load_mnist_sample

    X, y = load_mnist_sample("test")
    side = 28 * scale
    width = 2 * margin + len(text) * side + (len(text) - 1) * gap
    paper = np.full((side + 2 * margin, width), 255, dtype=np.uint8)
    boxes = []
    for i, char in enumerate(text):
        digit = X[np.flatnonzero(y == int(char))[0]].reshape(28, 28)
        big = np.kron(digit, np.ones((scale, scale), dtype=np.uint8))
        x0 = margin + i * (side + gap)
        paper[margin : margin + side, x0 : x0 + side] = 255 - big
        rows, cols = np.nonzero(big > 50)
        box = (x0 + cols.min(), margin + rows.min(), x0 + cols.max() + 1)
        boxes.append(tuple(int(v) for v in (*box, margin + rows.max() + 1)))
    return paper, boxes
