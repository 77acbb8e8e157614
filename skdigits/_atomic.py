"""Writing a file so that a failure leaves the old one as it was."""

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path, binary=False):
    """Open a new temporary file beside ``path``; rename it to ``path`` on success.

    On any error the temporary file is removed and an existing ``path`` is left
    as it was. Every output file of skdigits (models, submissions, plots) is
    written through here.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(path) as file:
    ...     _ = file.write("ImageId,Label\\n")
    >>> path.read_text()
    'ImageId,Label\\n'
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temp, "xb") if binary else open(temp, "x", newline="") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
