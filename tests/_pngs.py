"""Image bytes for the serve tests (a module, not a fixture: parametrize lists
use it at import time). Imported as ``from _pngs import ...``: pytest puts
tests/ on sys.path."""

import io
import struct
import zlib


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
