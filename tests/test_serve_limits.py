"""``skdigits serve`` against hostile clients: idle, trickling, crowding, lying
about their length or their host, and a model that never answers.

Apart from tests/test_serve.py, which holds the API's behaviour for good
clients and the Selenium tests of the page: these tests open hundreds of
sockets, wait out deadlines and stall the model, and they need a server of
their own (small limits, short deadlines) that a page test must not share.
Every address is a loopback one.
"""

import contextlib
import http.client
import io
import json
import re
import resource
import select
import socket
import threading
import time

import joblib
import numpy as np
import pytest
from _pngs import encode
from _serving import running as serving
from PIL import Image
from sklearn.dummy import DummyClassifier

from skdigits import load_bundled_model
from skdigits.cli import main
from skdigits.datasets import load_mnist_sample
from skdigits.serve import DigitServer
from skdigits.serve._limits import REQUEST_TIMEOUT, HostPolicy

IDLE_CONNECTIONS = 400


# --- helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def digit():
    """``(label, PNG bytes)``: an MNIST test digit as dark ink on white."""
    X, y = load_mnist_sample("test")
    ink = Image.fromarray((255 - X[0]).reshape(28, 28).astype(np.uint8))
    return int(y[0]), encode(ink.resize((140, 140), Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def model():
    return load_bundled_model()


def running(model, **options):
    """A DigitServer on 127.0.0.1 serving from a thread, its log in ``.log``."""
    return serving(DigitServer(model, port=0, log=io.StringIO(), **options))


@pytest.fixture(scope="module")
def server(model):
    with running(model, request_timeout=2) as server:
        yield server


def address(server):
    return server.server_address[:2]


def post(port, body, headers=None, timeout=10):
    """``(status, JSON answer)`` of ``POST /api/predict`` to 127.0.0.1:port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/api/predict", body, headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def answers_a_digit(server, digit):
    label, png = digit
    status, answer = post(server.server_address[1], png)
    return status == 200 and answer["digit"] == label


def receive(sock, seconds):
    """``(bytes, closed)``: what ``sock`` receives within ``seconds``, and
    whether the server closed it."""
    received = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def until_closed(sock, seconds):
    """What ``sock`` receives until the server closes it, within ``seconds``;
    None if it is still open then."""
    received, closed = receive(sock, seconds)
    return received if closed else None


def is_open(sock):
    """True while the server has not closed ``sock`` (nothing to read on it)."""
    if not select.select([sock], [], [], 0)[0]:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except ConnectionResetError:
        return False


def status_of(answer):
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", answer or b"")
    return int(match[1]) if match else None


def body_of(answer):
    return json.loads(answer.partition(b"\r\n\r\n")[2])


def _wait_for(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def sockets():
    """Client sockets, all closed after the test; raises the file limit if low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * IDLE_CONNECTIONS + 200
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"{IDLE_CONNECTIONS} sockets need ulimit -n >= {needed}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    opened = []
    yield opened
    for sock in opened:
        sock.close()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connect(port, sockets):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sockets.append(sock)
    return sock


HEAD = "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"


class Trickler(threading.Thread):
    """A client that sends ``at_once``, then ``trickle`` one byte every
    ``every`` seconds, for ``seconds`` at most; records when the server cut it
    off (:attr:`after`, seconds from its connection) and what it answered."""

    def __init__(self, port, sockets, at_once, trickle, every=1.0, seconds=30):
        super().__init__(daemon=True)
        self.sock = connect(port, sockets)
        self.start_time = time.monotonic()
        self.sock.sendall(at_once)
        self.trickle, self.every, self.seconds = trickle, every, seconds
        self.answer = self.after = None

    def run(self):
        answer = b""
        for i in range(int(self.seconds / self.every)):
            received, closed = receive(self.sock, self.every)
            answer += received
            if closed:
                self.answer, self.after = answer, time.monotonic() - self.start_time
                return
            try:
                self.sock.send(self.trickle[i % len(self.trickle) :][:1])
            except OSError:
                pass


# --- the done-when test: crowded by idle and trickling clients -----------------


@pytest.mark.slow
def test_a_good_request_is_answered_at_once_among_idle_and_trickling_clients(
    model, digit, sockets
):
    """400 idle connections and a client sending a byte a second, on a server
    with the defaults of ``skdigits serve``: the next good request is answered
    within a second, and the trickler is cut off (408) about REQUEST_TIMEOUT
    seconds after it connected."""
    with running(model) as server:
        port = server.server_address[1]
        trickler = Trickler(port, sockets, HEAD.encode(), b"X-Slow: " + b"z" * 60)
        trickler.start()
        idle = [connect(port, sockets) for _ in range(IDLE_CONNECTIONS)]
        _wait_for(lambda: len(server.connections) == IDLE_CONNECTIONS + 1)
        start = time.monotonic()
        status, answer = post(port, digit[1])
        assert time.monotonic() - start < 1
        assert status == 200 and answer["digit"] == digit[0]
        assert all(map(is_open, idle)), "the server closed idle connections"
        trickler.join(timeout=REQUEST_TIMEOUT + 10)
        assert trickler.after is not None, "the trickling client was never cut off"
        assert REQUEST_TIMEOUT - 1 <= trickler.after <= REQUEST_TIMEOUT + 3
        assert status_of(trickler.answer) == 408
        assert "within 15 s" in body_of(trickler.answer)["error"]
        assert post(port, digit[1])[0] == 200
        assert "Traceback" not in server.log.getvalue()


# --- the whole-request deadline ---------------------------------------------


TRICKLES = {
    # case: (what the client sends at once, then a byte at a time)
    "headers": (HEAD.encode(), b"X-Slow: " + b"z" * 60),
    "body": ((HEAD + "Content-Length: 1000\r\n\r\n").encode(), b"\0" * 1000),
}


@pytest.mark.parametrize("case", TRICKLES)
def test_a_trickling_request_is_cut_off_at_the_deadline(server, digit, case, sockets):
    # 2 s for the whole request (REQUEST_TIMEOUT in use); a byte every 0.25 s
    # would keep a per-recv timeout from ever expiring.
    port = server.server_address[1]
    trickler = Trickler(port, sockets, *TRICKLES[case], every=0.25, seconds=10)
    trickler.start()
    assert answers_a_digit(server, digit)  # while it trickles
    trickler.join(timeout=15)
    assert trickler.after is not None and 1.5 <= trickler.after < 5
    assert status_of(trickler.answer) == 408
    assert "did not arrive whole within 2 s" in body_of(trickler.answer)["error"]
    assert answers_a_digit(server, digit)


def test_an_idle_connection_is_closed_without_an_answer(server, sockets):
    fresh, kept_alive = (connect(server.server_address[1], sockets) for _ in "ab")
    kept_alive.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status_of(until_closed(kept_alive, 6)) == 200  # then idle, closed
    assert until_closed(fresh, 1) == b""  # closed, nothing sent: no 408


# --- the connection cap -----------------------------------------------------


def test_a_full_server_closes_its_longest_idle_connection(model, digit, sockets):
    with running(model, max_connections=4) as server:
        port = server.server_address[1]
        baseline = threading.active_count()
        idle = []
        for _ in range(20):
            idle.append(connect(port, sockets))
            _wait_for(lambda: len(server.connections) == min(len(idle), 4))
        # a thread each, no more: those of the closed ones end
        _wait_for(lambda: threading.active_count() - baseline <= 4)
        assert answers_a_digit(server, digit)
        # the oldest were closed to make room; the newest 3 stay (the request
        # above took the 4th place, and gave it back)
        assert [is_open(sock) for sock in idle] == [False] * 17 + [True] * 3
        assert status_of(until_closed(idle[0], 1)) is None  # closed, no answer


class _Gate(DummyClassifier):
    """A model whose ``predict_proba`` waits until its ``gate`` is set."""

    def predict_proba(self, X):
        self.gate.wait(timeout=30)
        return super().predict_proba(X)


def _gated(gate):
    model = _Gate().fit(np.zeros((10, 784)), np.arange(10))
    model.gate = gate
    return model


def test_a_server_whose_connections_all_wait_for_answers_sends_503(digit, sockets):
    gate = threading.Event()
    with running(_gated(gate), max_connections=2) as server:
        port = server.server_address[1]
        with contextlib.ExitStack() as stack:
            stack.callback(gate.set)
            waiting = [
                threading.Thread(target=post, args=(port, digit[1])) for _ in "ab"
            ]
            for thread in waiting:
                thread.start()
            _wait_for(lambda: len(server.connections._busy) == 2)
            sock = connect(port, sockets)
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = until_closed(sock, 2)
            assert status_of(answer) == 503 and b"Connection: close" in answer
            assert "try again" in body_of(answer)["error"]
            _wait_for(lambda: "503: all 2 connections" in server.log.getvalue())
            gate.set()
            for thread in waiting:
                thread.join(timeout=10)
        assert post(port, digit[1])[0] == 200


# --- a model that does not answer --------------------------------------------


class _Stuck(DummyClassifier):
    """A model that hangs while the file ``flag`` exists (in any process)."""

    def predict_proba(self, X):
        from pathlib import Path

        while Path(self.flag).exists():
            time.sleep(0.05)
        return super().predict_proba(X)


def test_a_stuck_worker_gets_a_503_and_the_server_answers_on(digit, tmp_path):
    flag = tmp_path / "stuck"
    flag.touch()
    stuck = _Stuck().fit(np.zeros((10, 784)), np.arange(10))
    stuck.flag = str(flag)
    with running(stuck, workers=1, worker_timeout=3) as server:
        port = server.server_address[1]
        before = server.pool.pids()
        try:
            status, answer = post(port, digit[1], timeout=20)
        finally:
            flag.unlink()  # else closing the server would wait for the worker
        assert status == 503
        assert "did not answer within 3 s" in answer["error"]
        assert "restarted" in answer["error"]
        assert post(port, digit[1], timeout=20)[0] == 200
        assert server.pool.pids() != before  # the stuck worker was replaced


def test_a_stuck_model_in_the_server_process_does_not_hold_the_rest(digit):
    gate = threading.Event()  # never set before the end: predict_proba hangs
    with running(_gated(gate), worker_timeout=0.5) as server:
        port = server.server_address[1]
        try:
            first = threading.Thread(target=post, args=(port, digit[1], None, 30))
            first.start()
            _wait_for(lambda: len(server.connections._busy) == 1)
            status, answer = post(port, digit[1])
            assert status == 503 and "busy" in answer["error"]
            assert get(port, "/api/health")[0] == 200
        finally:
            gate.set()
        first.join(timeout=10)


# --- Content-Length ---------------------------------------------------------


BAD_LENGTHS = {
    # case: the Content-Length header line(s)
    "5,000 digits": "Content-Length: " + "9" * 5000,
    "16 digits": "Content-Length: 1" + "0" * 15,
    "negative": "Content-Length: -5",
    "not a number": "Content-Length: twelve",
    "hexadecimal": "Content-Length: 0x10",
    "two that differ": "Content-Length: 5\r\nContent-Length: 6",
}


@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-100"])
@pytest.mark.parametrize("method", ["POST /api/predict", "GET /api/health"])
@pytest.mark.parametrize("case", BAD_LENGTHS)
def test_a_bad_content_length_is_a_400(server, digit, case, method, expect, capsys):
    head = f"{method} HTTP/1.1\r\nHost: 127.0.0.1\r\n{BAD_LENGTHS[case]}\r\n"
    if expect:
        head += "Expect: 100-continue\r\n"
    logged = len(server.log.getvalue())
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")
        answer = until_closed(sock, 5)
    assert status_of(answer) == 400
    error = body_of(answer)["error"]
    assert "Content-Length" in error and "\n" not in error
    log = server.log.getvalue()[logged:] + capsys.readouterr().err
    assert "Traceback" not in log and "400" in log
    assert answers_a_digit(server, digit)


# --- Host and Origin ---------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "localhost:{port}", "LocalHost", "[::1]:{port}", "127.0.0.2"],
)
def test_loopback_names_are_answered(server, host):
    port = server.server_address[1]
    assert get(port, "/api/health", {"Host": host.format(port=port)})[0] == 200


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "attacker.example:{port}",
        "127.0.0.1.attacker.example",
        "localhost.attacker.example:{port}",
        "192.168.1.5:{port}",
    ],
)
def test_other_hosts_are_refused_with_how_to_allow_them(server, digit, host):
    # DNS rebinding: a page of attacker.example, its name pointed at 127.0.0.1
    port = server.server_address[1]
    header = {"Host": host.format(port=port)}
    name = header["Host"].rpartition(":")[0] if "{port}" in host else host
    for status, answer in [
        get(port, "/api/health", header),
        get(port, "/", header),
        post(port, digit[1], {**header, "Content-Type": "image/png"}),
    ]:
        assert status == 403
        assert "DNS rebinding" in answer["error"]
        assert f"skdigits serve --allow-host {name}" in answer["error"]
    assert answers_a_digit(server, digit)


@pytest.mark.parametrize(
    "hosts, status",
    [([], 400), (["127.0.0.1", "attacker.example"], 400), (["127.0.0.1"] * 2, 400)],
    ids=["none", "two that differ", "two the same"],
)
def test_a_request_without_one_host_is_a_400(server, hosts, status):
    lines = "".join(f"Host: {host}\r\n" for host in hosts)
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\n{lines}\r\n".encode())
        assert status_of(until_closed(sock, 5)) == status


def test_allowed_hosts_are_answered(model):
    with running(model, allow_hosts=["mybox.local", "10.0.0.7"]) as server:
        port = server.server_address[1]
        for host in ["mybox.local", "MyBox.Local:80", "10.0.0.7:1", "localhost"]:
            assert get(port, "/api/health", {"Host": host})[0] == 200, host
        assert get(port, "/api/health", {"Host": "other.local"})[0] == 403


def test_a_server_on_every_address_answers_ip_addresses_but_not_names():
    # the policy alone: no test listens beyond loopback
    policy = HostPolicy("0.0.0.0", ["mybox.local"])
    assert policy.allows("192.168.1.5") and policy.allows("fe80::1")
    assert policy.allows("mybox.local") and not policy.allows("attacker.example")
    assert not HostPolicy("127.0.0.1").allows("192.168.1.5")
    assert HostPolicy("192.168.1.5").allows("192.168.1.5")


@pytest.mark.parametrize(
    "origin, status",
    [
        (None, 200),  # curl, scripts
        ("http://127.0.0.1:{port}", 200),  # the page itself
        ("http://attacker.example", 403),
        ("null", 403),  # a sandboxed frame, a file:// page
        ("http://localhost:{port}", 403),  # another origin than the Host
        ("http://127.0.0.1:1", 403),  # another server on this machine
    ],
)
def test_a_post_from_another_sites_page_is_refused(server, digit, origin, status):
    port = server.server_address[1]
    headers = {"Content-Type": "image/png", "Host": f"127.0.0.1:{port}"}
    if origin is not None:
        headers["Origin"] = origin.format(port=port)
    got, answer = post(port, digit[1], headers)
    assert got == status
    if status == 403:
        assert "another site" in answer["error"]


# --- the command's options -----------------------------------------------------


def _the_command_server(monkeypatch, argv):
    """The DigitServer that ``skdigits serve ARGV`` makes, stopped at once."""
    made = []

    def stop_at_once(self, poll_interval=0.5):
        made.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(DigitServer, "serve_forever", stop_at_once)
    assert main(["serve", "--port", "0", "--workers", "0", *argv]) == 0
    return made[0]


def test_health_names_the_model_file_without_its_directory(tmp_path, monkeypatch):
    directory = tmp_path / "private" / "models"
    directory.mkdir(parents=True)
    path = directory / "mine.joblib"
    joblib.dump(DummyClassifier().fit(np.zeros((10, 784)), np.arange(10)), path)
    health = _the_command_server(monkeypatch, ["--model", str(path)]).health()
    assert health["model"] == "mine.joblib"
    assert "private" not in json.dumps(health)


def test_allow_host_reaches_the_server(monkeypatch):
    argv = ["--allow-host", "mybox.local", "--allow-host", "[fe80::1]"]
    server = _the_command_server(monkeypatch, argv)
    assert {"mybox.local", "fe80::1", "localhost"} <= server.hosts.names


@pytest.mark.parametrize("bad", ["http://mybox.local", "mybox.local:8000", "a/b", ""])
def test_allow_host_refuses_what_is_not_a_name(bad, capsys):
    assert main(["serve", "--allow-host", bad]) == 2
    err = capsys.readouterr().err
    assert "expected a host name" in err and "without http:// or a port" in err
