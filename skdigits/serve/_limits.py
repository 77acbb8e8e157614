"""What ``skdigits serve`` grants a client: time, a connection, and a name.

Three small pieces the server's handler is built on, kept apart from HTTP:

- :class:`DeadlineReader` reads a connection under one deadline for the whole
  request, headers and body together (a socket's own timeout bounds each
  ``recv`` only, so a client sending a byte every few seconds would never be
  cut off);
- :class:`Connections` counts the open connections, at most a limit, and when
  the server is full closes the one that has waited longest for its request to
  make room, so idle and slow clients cannot lock the next one out;
- :class:`HostPolicy` decides which ``Host`` and ``Origin`` headers the server
  answers, against DNS rebinding (as Jupyter's server does).
"""

import io
import ipaddress
import math
import re
import socket
import threading
import time
from urllib.parse import urlsplit

#: Seconds a client has to send a whole request, headers and body together,
#: counted from when the server starts waiting for it (the connection opened,
#: or the previous answer was sent); then it is cut off (408 if it sent part
#: of a request, silently if it sent nothing).
REQUEST_TIMEOUT = 15
#: Connections open at once, at most (nginx's default ``worker_connections``);
#: each has a thread. When all are taken, the one that has waited longest for
#: its request is closed to make room; when all are being answered, a new one
#: gets a 503.
MAX_CONNECTIONS = 512

_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", re.IGNORECASE)


class DeadlineReader(io.RawIOBase):
    """The reading side of ``sock``, bounded by a deadline set per request.

    Wrapped in :class:`io.BufferedReader`, it is the handler's ``rfile``.
    Each ``recv`` waits at most until the deadline (and at most ``idle``
    seconds, if set); once it has passed, reading raises ``TimeoutError`` and
    :attr:`expired` is True.
    """

    def __init__(self, sock):
        self._sock = sock
        self.start(math.inf)

    def start(self, seconds, idle=None):
        """Allow ``seconds`` from now (each wait at most ``idle``)."""
        self.deadline = time.monotonic() + seconds
        self.idle = idle
        self.expired = False
        self.received = 0  # bytes read since start

    def readable(self):
        return True

    def readinto(self, buffer):
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.expired = True
            raise TimeoutError("the request's deadline has passed")
        self._sock.settimeout(left if self.idle is None else min(left, self.idle))
        try:
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            self.expired = time.monotonic() >= self.deadline
            raise
        self.received += count
        return count


class Writer(io.RawIOBase):
    """The writing side of ``sock``: each write done within ``seconds``."""

    def __init__(self, sock, seconds):
        self._sock = sock
        self.seconds = seconds

    def writable(self):
        return True

    def write(self, data):
        self._sock.settimeout(self.seconds)
        self._sock.sendall(data)
        return len(data)


def hang_up(sock):
    """End ``sock``'s connection now: a thread blocked reading it wakes up."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the client
        pass


class Connections:
    """The open connections, at most ``limit``: each waits for its request
    (idle, or still sending it) or is being answered.

    Parameters
    ----------
    limit : int
        The most connections open at once, at least 1.
    """

    def __init__(self, limit):
        if limit < 1:
            raise ValueError(f"max_connections must be at least 1, got {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._waiting = {}  # socket -> None, the longest-waiting first
        self._busy = set()

    def __len__(self):
        with self._lock:
            return len(self._waiting) + len(self._busy)

    def admit(self, sock):
        """Take ``sock`` in; False when all ``limit`` are being answered.

        When the server is full, the connection that has waited longest for
        its request is closed (:func:`hang_up`) to make room.
        """
        with self._lock:
            if len(self._waiting) + len(self._busy) >= self.limit:
                if not self._waiting:
                    return False
                oldest = next(iter(self._waiting))
                del self._waiting[oldest]
                hang_up(oldest)
            self._waiting[sock] = None
            return True

    def wait(self, sock):
        """``sock`` waits for a request (its first, since :meth:`admit`, or
        the next once answered); False if it was closed for room."""
        with self._lock:
            if sock in self._waiting:
                return True  # since it was admitted
            if sock not in self._busy:
                return False
            self._busy.remove(sock)
            self._waiting[sock] = None  # the newest wait, the last to close
            return True

    def busy(self, sock):
        """``sock``'s request is in: it is not closed for room until answered.

        False if it was closed for room already.
        """
        with self._lock:
            if self._waiting.pop(sock, False) is False:
                return sock in self._busy
            self._busy.add(sock)
            return True

    def leave(self, sock):
        """``sock`` is closed."""
        with self._lock:
            self._waiting.pop(sock, None)
            self._busy.discard(sock)


def host_name(authority):
    """The name in a ``Host`` header or an origin's authority, lower case,
    without its port, the brackets of an IPv6 address or a final dot."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    if authority.count(":") == 1:
        authority = authority.partition(":")[0]
    return authority.removesuffix(".")


def check_host_name(text):
    """``text`` if it is a host name or an IP address; ValueError otherwise."""
    name = text.strip("[]")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        if not _HOST_NAME.fullmatch(name):
            raise ValueError(
                f"expected a host name such as mybox.local or an IP address, "
                f"without http:// or a port, got {text!r}"
            ) from None
    return name.lower()


class HostPolicy:
    """Which ``Host`` headers, and which ``Origin`` of a POST, are answered.

    A page on another site can reach a server on this machine through DNS
    rebinding: its own name, made to resolve to 127.0.0.1, is then in the
    ``Host`` header. So only these names are answered: ``localhost``, loopback
    addresses, the address the server listens on, the names in
    ``allow_hosts``, and, when it listens on every address (``0.0.0.0`` or
    ``::``), any IP address (a browser sends one only when it was told to
    connect to it; rebinding needs a name). A request with an ``Origin``
    header (browsers add it to a POST) is answered only when it comes from the
    server's own page: its origin is the ``Host`` the request was sent to.

    Parameters
    ----------
    listen : str
        The address the server listens on.

    allow_hosts : iterable of str, default=()
        More names to answer to (checked with :func:`check_host_name`).
    """

    def __init__(self, listen, allow_hosts=()):
        listen = listen.strip("[]").lower()
        self.names = {"localhost", listen, *map(check_host_name, allow_hosts)}
        try:
            self.any_address = ipaddress.ip_address(listen).is_unspecified
        except ValueError:
            self.any_address = False

    def allows(self, name):
        """True when the server answers to the host ``name``."""
        if name in self.names:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or self.any_address

    def refusal(self, hosts, origin):
        """Why a request with these ``Host`` headers and ``Origin`` is refused,
        as ``(status, message)``; None if it is answered."""
        if len(hosts) != 1:
            return 400, (
                "send one Host header naming this server, such as Host: 127.0.0.1:8000"
            )
        name = host_name(hosts[0])
        if not self.allows(name):
            return 403, self._not_this_host(name)
        if origin is not None and urlsplit(origin).netloc.lower() != (
            hosts[0].strip().lower()
        ):
            return 403, (
                f"this request comes from a page of another site (Origin: "
                f"{origin[:100]!r}): the API answers its own page, and clients "
                "that send no Origin header, only"
            )
        return None

    def _not_this_host(self, name):
        shown = name if _HOST_NAME.fullmatch(name) else "NAME"
        return (
            f"this server does not answer to the name {name[:100]!r} in the Host "
            "header, only to localhost, loopback addresses and the names it was "
            "started with (a protection against DNS rebinding, by which a page of "
            f"another site can reach it); to use it under that name, start it "
            f"with: skdigits serve --allow-host {shown[:100]}"
        )
