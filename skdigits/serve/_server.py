"""The HTTP server of ``skdigits serve``: the drawing page and its JSON API.

A thin layer over the model. The page's files are read from package data once,
when the server starts, and served from memory: no request path ever reaches
the file system. ``POST /api/predict`` checks the body's declared size, reads
it, and hands the bytes to :func:`~skdigits.serve._predict.predict_payload`
(in a worker process, or in the connection's thread), which opens and
classifies the image as ``skdigits predict-image`` does. A refused request is
answered with its status and ``{"error": ...}``, then the connection closes.
"""

import ipaddress
import json
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from skdigits.serve._predict import (
    MAX_PIXELS,
    RequestError,
    plain,
    predict_payload,
    require_pillow,
)
from skdigits.serve._workers import WorkerPool

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Largest request body accepted, in bytes (5 MB); a longer one is refused
#: with 413 before any of it is read.
MAX_BODY_BYTES = 5_000_000
#: Seconds a client may take to send a request, or stay idle between two.
REQUEST_TIMEOUT = 15
#: The body of a refused request is read and dropped after the refusal is
#: sent, up to this many bytes (20 MB), so that the client can finish sending
#: it and read the refusal; a body declared longer is not read at all.
DRAIN_MAX_BYTES = 4 * MAX_BODY_BYTES
#: Seconds spent at most reading and dropping a refused body ...
DRAIN_SECONDS = 10
#: ... and seconds of silence from the client after which it stops.
DRAIN_IDLE_SECONDS = 2

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The page may load only its own files and talk only to this server.
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_DIGITS = re.compile(r"[0-9]+")


def page_assets():
    """The page's files from package data: ``{url path: (content type, bytes)}``.

    Only the files in ``skdigits/serve/static`` whose type the server knows
    are listed; ``/`` is ``index.html``.
    """
    assets = {}
    for item in (resources.files("skdigits.serve") / "static").iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in _CONTENT_TYPES:
            assets["/" + item.name] = (_CONTENT_TYPES[suffix], item.read_bytes())
    assets["/"] = assets["/index.html"]
    return assets


def is_loopback(host):
    """True when ``host`` is reachable from this machine only."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


class _SerialModel:
    """``model`` whose ``predict_proba`` runs in one thread at a time.

    Any estimator may be served, and not all of them are safe to call from
    several threads at once; the image preprocessing, the slow part, still
    runs in parallel.
    """

    def __init__(self, model):
        self._model = model
        self._lock = threading.Lock()
        self.classes_ = model.classes_

    def predict_proba(self, X):
        with self._lock:
            return self._model.predict_proba(X)


class DigitServer(ThreadingHTTPServer):
    """The page and its JSON API over one model, a thread per connection.

    With ``workers`` > 0, images are read and classified in that many worker
    processes (:class:`~skdigits.serve._workers.WorkerPool`), so concurrent
    requests use several cores; with 0, in the connection's own thread, one
    ``predict_proba`` at a time.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_`` taking raw
        0-255 pixels, such as :func:`skdigits.load_bundled_model`.

    host : str, default="127.0.0.1"
        The address to listen on; the default is reachable from this machine
        only.

    port : int, default=8000
        The port; 0 picks a free one (see :attr:`url`).

    model_name : str, default=""
        What ``GET /api/health`` says the model is.

    log : file or None, default=None
        Where refused requests and server errors are reported.

    workers : int, default=0
        Worker processes for the model's work; 0 runs it in this process.
    """

    daemon_threads = True  # an idle browser connection does not delay Ctrl-C
    request_queue_size = 64

    def __init__(
        self,
        model,
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        *,
        model_name="",
        log=None,
        workers=0,
    ):
        require_pillow()
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.model = _SerialModel(model)
        self.model_name = model_name
        self.assets = page_assets()
        self.log = log
        self.pool = None
        try:
            super().__init__((host.strip("[]"), port), _Handler)
        except OSError as err:
            raise OSError(
                f"cannot listen on {host}:{port}: {err.strerror or err}; "
                "choose another --port (or --host)"
            ) from None
        if workers:  # once the port is ours
            try:
                self.pool = WorkerPool(model, workers)
            except BaseException:
                super().server_close()
                raise

    def server_close(self):
        """Close the socket and stop the worker processes."""
        super().server_close()
        if self.pool is not None:
            self.pool.close()

    def server_bind(self):
        # HTTPServer.server_bind looks the host name up (socket.getfqdn), which
        # can hang for seconds without DNS; the name is not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def url(self):
        """The page's address, ``http://127.0.0.1:PORT/`` by default."""
        host, port = self.server_address[:2]
        if ipaddress.ip_address(host).is_unspecified:  # 0.0.0.0 or ::
            host = "127.0.0.1" if self.address_family == socket.AF_INET else "::1"
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def health(self):
        """The body of ``GET /api/health``."""
        return {
            "status": "ok",
            "model": self.model_name,
            "classes": [plain(label) for label in self.model.classes_],
            "max_body_bytes": MAX_BODY_BYTES,
            "max_pixels": MAX_PIXELS,
            "workers": self.pool.workers if self.pool else 0,
        }

    def predict(self, body):
        """The body of a successful ``POST /api/predict``; RequestError if bad."""
        if self.pool is not None:
            return self.pool.run(predict_payload, body)
        return predict_payload(self.model, body)


class _Handler(BaseHTTPRequestHandler):
    """Routes: ``GET`` the page's files and ``/api/health``, ``POST /api/predict``."""

    protocol_version = "HTTP/1.1"  # keep-alive: the page sends many requests
    # The headers and the body go out in two writes; with Nagle's algorithm the
    # second waits for the client's delayed ACK of the first, 40 ms on Linux.
    disable_nagle_algorithm = True
    server_version = "skdigits-serve"
    sys_version = ""
    timeout = REQUEST_TIMEOUT
    _body_unread = False  # True while a request's body may be unread

    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def do_HEAD(self):
        self._answer(self._not_allowed)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD

    def _get(self, path):
        if path == "/api/health":
            return self._send_json(HTTPStatus.OK, self.server.health())
        if path == "/api/predict":
            self._not_allowed(path)
        content_type, body = self._asset(path)
        headers = {"Cache-Control": "no-cache"}
        if content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = _PAGE_POLICY
        self._send(HTTPStatus.OK, content_type, body, headers)

    def _post(self, path):
        if path != "/api/predict":
            self._not_allowed(path)
        self._send_json(HTTPStatus.OK, self.server.predict(self._read_body()))

    def _asset(self, path):
        # Only exact names from the page's own files: nothing built from the
        # request path ever reaches the file system.
        try:
            return self.server.assets[path]
        except KeyError:
            raise RequestError(
                404,
                f"no such page: {path[:100]!r}; the page is at /, the API at "
                "/api/predict and /api/health",
            ) from None

    def _not_allowed(self, path):
        allowed = {"/api/predict": "POST"}.get(path, "GET")
        if allowed == "GET" and path != "/api/health":
            self._asset(path)  # 404 for an unknown path
        raise RequestError(
            405, f"{path} answers {allowed} requests only", {"Allow": allowed}
        )

    def _read_body(self):
        """The request body, refusing (413) one over MAX_BODY_BYTES before
        reading any of it."""
        length = self._content_length()
        self._body_unread = False  # read now, or the client sent less
        body = self.rfile.read(length)
        if len(body) < length:
            raise RequestError(
                400,
                f"the body ended after {len(body)} of the {length} bytes its "
                "Content-Length announced",
            )
        return body

    def _content_length(self):
        """The body's length from the headers: RequestError 411, 400 or 413
        unless it is one number from 1 to MAX_BODY_BYTES."""
        if self._chunked():
            raise RequestError(
                411, "send the image with a Content-Length header, not chunked"
            )
        if not self.headers.get_all("Content-Length"):
            raise RequestError(411, "send the image with a Content-Length header")
        length = self._declared_length()
        if length is None:
            raise RequestError(400, "the Content-Length header is not one number")
        if length == 0:
            raise RequestError(
                400,
                "the request body is empty: POST the bytes of a PNG or JPEG "
                "image of one digit",
            )
        if length > MAX_BODY_BYTES:
            raise RequestError(
                413,
                f"the body is {length:,} bytes, over the limit of 5 MB "
                f"({MAX_BODY_BYTES:,} bytes): send a smaller image",
            )
        return length

    def _chunked(self):
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def _declared_length(self):
        """The Content-Length as an int; None unless it is one number (a
        repeated header counts once if it repeats the same number) and the
        body is not chunked."""
        lengths = set(self.headers.get_all("Content-Length") or [])
        if len(lengths) != 1 or self._chunked():
            return None
        text = lengths.pop().strip()
        return int(text) if _DIGITS.fullmatch(text) else None

    def _discard_body(self):
        """Read and drop a refused request's body: its refusal is already sent.

        Closing the connection while the body is still arriving resets it, and
        a client that writes its whole body before reading the answer (urllib,
        requests) then gets "Broken pipe" or "Connection reset" instead of the
        refusal. So the body the headers declare is read, up to
        DRAIN_MAX_BYTES, for at most DRAIN_SECONDS and DRAIN_IDLE_SECONDS of
        silence; then the connection closes. A body declared longer than
        DRAIN_MAX_BYTES is not read at all, and one that is not all in when the
        time is up is left unread: the connection is reset, and the client has
        the refusal only if it reads while it sends (browsers, curl, and
        requests, which reads the answer after a broken pipe); urllib's
        ``urlopen`` raises URLError. The server is not held up more than
        DRAIN_SECONDS in either case.
        """
        length = self._declared_length()
        if not length or length > DRAIN_MAX_BYTES:
            return
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            while length > 0 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(min(DRAIN_IDLE_SECONDS, left))
                chunk = self.rfile.read1(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:  # timed out, or the client went away
            pass

    def _path(self):
        path = getattr(self, "path", "")  # unset when the request line is bad
        return path.partition("?")[0].partition("#")[0]

    def _answer(self, route):
        self._body_unread = True  # until _read_body reads it
        try:
            self._route(route)
        except (ConnectionError, TimeoutError):  # the client went away
            self.close_connection = True
        finally:
            self._body_unread = False

    def _route(self, route):
        try:
            route(self._path())
        except RequestError as err:
            self._send_error_json(err.status, str(err), err.headers)
        except (ConnectionError, TimeoutError):
            raise
        except Exception:
            self._log(traceback.format_exc())
            self._send_error_json(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                "the server failed on this request (its console shows why); "
                "it keeps serving",
            )

    def send_error(self, code, message=None, explain=None):
        """Errors found by http.server itself (a malformed request) as JSON."""
        self._send_error_json(HTTPStatus(code), message or HTTPStatus(code).phrase)

    def _send_error_json(self, status, message, headers=None):
        # The body may be unread: close the connection after answering, once
        # the body (if its length is known and not huge) is read and dropped.
        self.close_connection = True
        headers = {"Connection": "close", **(headers or {})}
        self._send_json(status, {"error": message}, headers)
        if status >= 400:
            request = f"{self.command or '-'} {self._path()[:100]}"
            self._log(f"{status.value} {request}: {message}")
        if self._body_unread:
            self._discard_body()

    def _send_json(self, status, payload, headers=None):
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Cache-Control": "no-store", **(headers or {})}
        self._send(status, "application/json", body, headers)

    def _send(self, status, content_type, body, headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_expect_100(self):
        # Refuse a too-large (or unannounced) body before the client sends it.
        try:
            if self.command == "POST":
                self._content_length()
        except RequestError as err:
            self._send_error_json(err.status, str(err))
            return False
        return super().handle_expect_100()

    def log_request(self, code="-", size="-"):
        pass  # successful requests are not logged; refusals are, by _log

    def log_message(self, format, *args):
        if not format.startswith("Request timed out"):  # an idle keep-alive
            self._log(format % args)

    def _log(self, text):
        log = self.server.log
        if log is not None:
            print(f"skdigits serve: {text.rstrip()}", file=log, flush=True)


def serve(
    model,
    host=DEFAULT_HOST,
    port=DEFAULT_PORT,
    *,
    model_name="",
    file=None,
    workers=0,
):
    """Serve the drawing page until Ctrl-C, then shut down cleanly.

    Parameters
    ----------
    model : estimator
        The classifier, as for :class:`DigitServer`.

    host : str, default="127.0.0.1"
        The address to listen on. Any address other than a loopback one (such
        as ``0.0.0.0``) prints a warning: anyone on the network can then use
        the page.

    port : int, default=8000
        The port; 0 picks a free one.

    model_name : str, default=""
        What ``GET /api/health`` says the model is.

    file : file or None, default=None
        Where the URL and messages go (default: standard output; warnings and
        refused requests go to standard error).

    workers : int, default=0
        Worker processes that read and classify the images (see
        :class:`DigitServer`); 0 does it in this process.
    """
    out = file or sys.stdout
    server = DigitServer(
        model, host, port, model_name=model_name, log=sys.stderr, workers=workers
    )
    if not is_loopback(host):
        print(
            f"skdigits serve: warning: listening on {host}: anyone who can reach "
            "this machine on the network can use the page; use --host 127.0.0.1 "
            "to keep it on this machine",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"serving the digit page at {server.url} (Ctrl-C stops)", file=out, flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("stopped", file=out, flush=True)
