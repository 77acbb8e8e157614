"""The HTTP server of ``skdigits serve``: the drawing page and its JSON API.

A thin layer over the model. The page's files are read from package data once,
when the server starts, and served from memory: no request path ever reaches
the file system. ``POST /api/predict`` checks the body's declared size, reads
it, and hands the bytes to :func:`~skdigits.serve._predict.predict_payload`
(in a worker process, or in the connection's thread), which opens and
classifies the image as ``skdigits predict-image`` does. A refused request is
answered with its status and ``{"error": ...}``, then the connection closes.

What a client is granted is bounded (``_limits``): a connection among at most
``max_connections``, each with its thread; ``request_timeout`` seconds to send
a whole request; a ``Host`` header naming this server. The model's answer is
awaited ``worker_timeout`` seconds at most. A request's framing (its
``Content-Length``) is checked first, then its ``Host`` and ``Origin``, then
its path.
"""

import io
import ipaddress
import json
import math
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

from skdigits.serve._limits import (
    MAX_CONNECTIONS,
    REQUEST_TIMEOUT,
    Connections,
    DeadlineReader,
    HostPolicy,
    Writer,
)
from skdigits.serve._predict import (
    MAX_PIXELS,
    RequestError,
    plain,
    predict_payload,
    require_pillow,
)
from skdigits.serve._workers import WorkerBusyError, WorkerPool, WorkerTimeoutError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Largest request body accepted, in bytes (5 MB); a longer one is refused
#: with 413 before any of it is read.
MAX_BODY_BYTES = 5_000_000
#: Seconds the model's answer to one request is awaited: at most this long
#: for a free worker, then at most this long for the worker's answer; a worker
#: slower than that is killed and replaced. The request gets a 503.
WORKER_TIMEOUT = 30
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
# A Content-Length of more digits than this (a petabyte) is not a length.
_DIGITS = re.compile(r"[0-9]{1,15}")
_BUSY_BODY = json.dumps(
    {"error": "the server is answering as many requests as it can; try again"}
).encode()
#: The quick answer to a connection over the limit, sent without a thread.
_BUSY = (
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    f"Content-Length: {len(_BUSY_BODY)}\r\nRetry-After: 1\r\n"
    "Connection: close\r\n\r\n"
).encode() + _BUSY_BODY


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
    runs in parallel. A thread waits at most ``timeout`` seconds for its turn
    (then RequestError 503): a stuck call in this process cannot be stopped,
    but it does not hold every other connection's thread with it.
    """

    def __init__(self, model, timeout=None):
        self._model = model
        self._lock = threading.Lock()
        self._timeout = -1 if timeout is None else timeout
        self.classes_ = model.classes_

    def predict_proba(self, X):
        if not self._lock.acquire(timeout=self._timeout):
            raise RequestError(
                503,
                f"the model has been busy for {self._timeout} s; try again "
                "(a model that never answers needs the server restarted)",
                {"Retry-After": "1"},
            )
        try:
            return self._model.predict_proba(X)
        finally:
            self._lock.release()


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

    allow_hosts : iterable of str, default=()
        Host names answered besides ``localhost``, loopback addresses and
        ``host`` (see :class:`~skdigits.serve._limits.HostPolicy`); any other
        ``Host`` header gets a 403.

    max_connections : int, default=512
        Connections open at once, each with its thread. When all are taken,
        the one waiting longest for its request is closed; when all are being
        answered, a new one gets a quick 503.

    request_timeout : float, default=15
        Seconds a client has to send a whole request, headers and body.

    worker_timeout : float, default=30
        Seconds the model's answer is awaited (503 after that).
    """

    daemon_threads = True  # an idle browser connection does not delay Ctrl-C
    request_queue_size = 128

    def __init__(
        self,
        model,
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        *,
        model_name="",
        log=None,
        workers=0,
        allow_hosts=(),
        max_connections=MAX_CONNECTIONS,
        request_timeout=REQUEST_TIMEOUT,
        worker_timeout=WORKER_TIMEOUT,
    ):
        require_pillow()
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.model = _SerialModel(model, worker_timeout)
        self.model_name = model_name
        self.assets = page_assets()
        self.log = log
        self.hosts = HostPolicy(host, allow_hosts)
        self.connections = Connections(max_connections)
        self.request_timeout = request_timeout
        self.worker_timeout = worker_timeout
        self.pool = None
        self._busy_logged = -math.inf
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

    def process_request(self, request, client_address):
        """A thread for the new connection, if there is room; else a 503."""
        if self.connections.admit(request):
            super().process_request(request, client_address)
        else:
            self._turn_away(request)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.leave(request)

    def _turn_away(self, sock):
        """Answer 503 and close, from the accepting thread: never blocks."""
        sock.setblocking(False)
        for step in (lambda: sock.recv(65536), lambda: sock.send(_BUSY)):
            try:  # read the request if it is in, so that closing sends no reset
                step()
            except OSError:
                pass
        self.shutdown_request(sock)
        if time.monotonic() - self._busy_logged > 10:  # not once per connection
            self._busy_logged = time.monotonic()
            self.report(
                f"503: all {self.connections.limit} connections are being "
                "answered; new ones are turned away until one is done"
            )

    def report(self, text):
        """Write ``skdigits serve: text`` to the log, if there is one."""
        if self.log is not None:
            print(f"skdigits serve: {text.rstrip()}", file=self.log, flush=True)

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
        if self.pool is None:
            return predict_payload(self.model, body)
        seconds = self.worker_timeout
        try:
            return self.pool.run(predict_payload, body, timeout=seconds)
        except WorkerBusyError:
            message = f"no worker was free within {seconds} s: the server is busy"
        except WorkerTimeoutError:
            message = (
                f"the model did not answer within {seconds} s, and its worker "
                "processes were restarted"
            )
        raise RequestError(503, f"{message}; try again", {"Retry-After": "1"})


class _Handler(BaseHTTPRequestHandler):
    """Routes: ``GET`` the page's files and ``/api/health``, ``POST /api/predict``."""

    protocol_version = "HTTP/1.1"  # keep-alive: the page sends many requests
    server_version = "skdigits-serve"
    sys_version = ""
    _body_unread = False  # True while a request's body may be unread
    _responded = False  # True once this request's answer has begun

    def setup(self):
        self.connection = self.request
        # The headers and the body go out in two writes; with Nagle's algorithm
        # the second waits for the client's delayed ACK of the first (40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)
        self.wfile = Writer(self.connection, self.server.request_timeout)

    def handle_one_request(self):
        """One request, which must arrive whole within ``request_timeout``."""
        self.close_connection = True
        if not self.server.connections.wait(self.connection):
            return  # closed to make room for a new connection
        self._reader.start(self.server.request_timeout)
        self._responded = False
        # what a 408 needs if the deadline passes before the request line is in
        self.command, self.path, self.request_version = None, "", "HTTP/1.1"
        try:
            super().handle_one_request()
            reader = self._reader
            if reader.expired and reader.received and not self._responded:
                self._send_error_json(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"the request did not arrive whole within "
                    f"{self.server.request_timeout} s; send it at once",
                )
        except OSError:  # the client went away, or it was closed to make room
            self.close_connection = True

    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def do_HEAD(self):
        self._answer(self._not_allowed)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD

    def _get(self, path):
        self._request_in()
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
        body = self._read_body()
        self._request_in()
        self._send_json(HTTPStatus.OK, self.server.predict(body))

    def _request_in(self):
        """The whole request is read: it is answered, not closed for room."""
        if not self.server.connections.busy(self.connection):
            raise ConnectionAbortedError("closed to make room")

    def _check_request(self):
        """RequestError unless the request's framing, Host and Origin are good.

        The framing first: its refusals (411, 400, 413) tell nothing about the
        server, and a browser cannot send a bad one.
        """
        if self.command == "POST" and self._path() == "/api/predict":
            self._content_length()
        elif self.headers.get_all("Content-Length") or self._chunked():
            if self._declared_length() is None and not self._chunked():
                raise RequestError(400, self._bad_length())
            self.close_connection = True  # a body this server does not read
        hosts = self.headers.get_all("Host") or []
        if not hosts and self.request_version < "HTTP/1.1":
            hosts = ["localhost"]  # HTTP/1.0 may omit it; browsers never do
        origin = self.headers.get("Origin") if self.command == "POST" else None
        refusal = self.server.hosts.refusal(hosts, origin)
        if refusal is not None:
            raise RequestError(*refusal)

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
            raise RequestError(400, self._bad_length())
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

    def _bad_length(self):
        values = ", ".join(self.headers.get_all("Content-Length") or [])
        return (
            "the Content-Length header must be one number of bytes, at most 15 "
            f"digits, not {values[:40]!r}"
        )

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
        self._reader.start(DRAIN_SECONDS, idle=DRAIN_IDLE_SECONDS)
        try:
            while length > 0 and (chunk := self.rfile.read1(min(length, 1 << 16))):
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
            self._check_request()
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
        self._responded = True
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
            self._check_request()
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
        self.server.report(text)


def serve(
    model,
    host=DEFAULT_HOST,
    port=DEFAULT_PORT,
    *,
    model_name="",
    file=None,
    workers=0,
    allow_hosts=(),
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

    allow_hosts : iterable of str, default=()
        Host names the server answers to besides ``localhost``, loopback
        addresses and ``host`` (see :class:`DigitServer`).
    """
    out = file or sys.stdout
    server = DigitServer(
        model,
        host,
        port,
        model_name=model_name,
        log=sys.stderr,
        workers=workers,
        allow_hosts=allow_hosts,
    )
    if not is_loopback(host):
        print(
            f"skdigits serve: warning: listening on {host}: anyone who can reach "
            "this machine on the network can use the page; use --host 127.0.0.1 "
            "to keep it on this machine (the page answers under this machine's IP "
            "addresses; a name needs --allow-host NAME)",
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
