"""A DigitServer serving from a thread of the test process, for the server's
test files (imported as ``from _serving import running``: pytest puts tests/
on sys.path)."""

import contextlib
import threading


@contextlib.contextmanager
def running(server):
    """``server`` serving from a thread of this process, closed afterwards."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
