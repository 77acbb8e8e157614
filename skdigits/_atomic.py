"""Writing a file so that a failure leaves the old one as it was."""

import contextlib
import os
from pathlib import Path


def _temp_path(path):
    """The temporary file beside ``path``: hidden, named after it and this process."""
    return path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


@contextlib.contextmanager
def atomic_output(path, binary=False, fsync=True):
    """Open a new temporary file beside ``path``; rename it to ``path`` on success.

    On any error the temporary file is removed and an existing ``path`` is left
    as it was. Every output file of skdigits (models, submissions, plots,
    training checkpoints) is written through here. A process killed while
    writing (SIGKILL, out of memory) cannot remove its temporary file:
    :func:`remove_stale_temps` does, the next time.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    binary : bool, default=False
        Open the temporary file in binary mode (text mode otherwise).
    fsync : bool, default=True
        Flush the file to the disk before the rename, so that ``path`` holds
        the new contents even after a power loss. Without it the rename is
        still atomic for every process (a kill loses nothing: the page cache
        outlives the process), but a power loss may leave the file empty.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(path) as file:
    ...     _ = file.write("ImageId,Label\\n")
    >>> path.read_text()
    'ImageId,Label\\n'
    """
    path = Path(path)
    temp = _temp_path(path)
    try:
        with open(temp, "xb") if binary else open(temp, "x", newline="") as file:
            yield file
            file.flush()
            if fsync:
                os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def remove_stale_temps(path):
    """Remove the temporary files of ``path`` left by writers that were killed.

    A temporary file is stale when the process that made it (its name holds
    the process id) no longer runs; a live writer's file is left alone.

    Parameters
    ----------
    path : str or path-like
        The file whose temporary files to remove.

    Returns
    -------
    removed : list of pathlib.Path
        The files removed.
    """
    path = Path(path)
    removed = []
    prefix = f".{path.name}."
    for temp in path.parent.iterdir():
        if not (temp.name.startswith(prefix) and temp.name.endswith(".tmp")):
            continue
        pid = temp.name[len(prefix) :].split(".")[0]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                temp.unlink()
                removed.append(temp)
    return removed


def _running(pid):
    """Whether process ``pid`` exists (a process of another user counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - e.g. Windows without such a pid
        return False
    return True
