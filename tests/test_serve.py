"""``skdigits serve``: the JSON API, its refusals, the command, and the page itself
driven in headless Chromium."""

import builtins
import http.client
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from _pngs import encode, png_declaring
from _serving import running
from PIL import Image

from skdigits import load_bundled_model
from skdigits.cli import main
from skdigits.datasets import load_mnist_sample, sample_path
from skdigits.preprocessing import predict_digit
from skdigits.serve import (
    MAX_BODY_BYTES,
    DigitServer,
    _server,
    default_workers,
    require_pillow,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage "
    "--disable-background-networking --disable-component-update --disable-sync "
    "--no-first-run"
).split()
SIDE = 280  # the page's canvas is 2 * SIDE wide, SIDE high


# --- images -----------------------------------------------------------------


def paper_digit(pixels):
    """An MNIST digit as a 280x280 scan: dark ink on white, like the canvas."""
    ink = Image.fromarray(255 - pixels.reshape(28, 28))
    return ink.resize((SIDE, SIDE), Image.Resampling.BILINEAR)


@pytest.fixture(scope="module")
def scans():
    """The first 12 digits of the test sample as paper scans: ``[(label, png)]``.

    Not conftest's ``digits`` (sklearn's 8x8 digits): MNIST images as PNG bytes.
    """
    X, y = load_mnist_sample("test")
    return [(int(label), encode(paper_digit(x))) for x, label in zip(X[:12], y)]


# --- the server -------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return load_bundled_model()


@pytest.fixture(scope="module")
def server(model):
    with running(DigitServer(model, port=0, model_name="the bundled model")) as server:
        yield server


def call(server, method, path, body=None, headers=None):
    """``(status, headers, body)``; a JSON body decoded."""
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=20)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.getheader("Content-Type") == "application/json":
        data = json.loads(data)
    return response.status, response, data


def predict(server, body, content_type="image/png"):
    return call(server, "POST", "/api/predict", body, {"Content-Type": content_type})


def raw_exchange(server, request, timeout=10):
    """Send raw bytes, return what the server answers before it closes."""
    with socket.create_connection(server.server_address[:2], timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def assert_still_serves(server, scans):
    label, png = scans[0]
    status, _, answer = predict(server, png)
    assert status == 200 and answer["digit"] == label


def test_health(server):
    status, response, answer = call(server, "GET", "/api/health")
    assert status == 200
    assert answer["status"] == "ok"
    assert answer["classes"] == list(range(10))
    assert answer["max_body_bytes"] == MAX_BODY_BYTES
    assert response.getheader("Cache-Control") == "no-store"


def test_page_is_self_contained(server):
    status, response, page = call(server, "GET", "/")
    assert status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    policy = response.getheader("Content-Security-Policy")
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    html = page.decode()
    for needle in ['id="canvas"', 'id="prediction"', 'id="digits"', 'id="boxes"']:
        assert needle in html
    assert re.search(r'<button id="clear"', html)
    assert 'type="file"' in html
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', html):
        asset_status, _, body = call(server, "GET", asset)
        assert asset_status == 200, asset
        assert not re.search(rb"https?://", body), f"{asset} loads something remote"
    assert not re.search(r"https?://", html)


def test_predict_answers_digit_probabilities_and_image(server, model, scans):
    for label, png in scans[:3]:
        status, _, answer = predict(server, png)
        assert status == 200
        expected = predict_digit(model, Image.open(io.BytesIO(png)))
        assert answer["digit"] == expected.label == label
        assert len(answer["probabilities"]) == 10
        assert sum(answer["probabilities"]) == pytest.approx(1, abs=1e-5)
        assert np.allclose(answer["probabilities"], expected.probabilities)
        assert answer["digit"] == int(np.argmax(answer["probabilities"]))
        image = np.array(answer["image28"])
        assert image.shape == (28, 28) and image.min() >= 0 and image.max() == 255
        assert np.array_equal(image.ravel(), expected.pixels)


def test_the_bundled_model_reads_scanned_mnist_digits(server, scans):
    read = [predict(server, png)[2]["digit"] for _, png in scans]
    assert np.mean(np.equal(read, [label for label, _ in scans])) >= 11 / 12


def _truncated_png(scans):
    png = scans[0][1]
    return png[: len(png) // 2]


def _blank_png(_):
    return encode(Image.new("L", (SIDE, SIDE), 255))


BAD_BODIES = {
    # case: (body, status, words the error must contain)
    "empty body": (lambda d: b"", 400, "empty"),
    "not an image": (lambda d: b"label,pixel0\n5,0\n" * 20, 400, "not a PNG or JPEG"),
    "GIF, not PNG/JPEG": (
        lambda d: encode(Image.new("L", (40, 40)), "GIF"),
        400,
        "not a PNG or JPEG",
    ),
    "truncated PNG": (_truncated_png, 400, "truncated"),
    # Pillow's own bomb check, and ours below it; both before any decoding:
    # these bodies hold no valid pixel data, so decoding would give a 400.
    "30000x30000 PNG": (lambda d: png_declaring(30000, 30000), 413, "too large"),
    "5000x5000 PNG": (lambda d: png_declaring(5000, 5000), 413, "5000x5000"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_body_is_refused_and_the_server_keeps_serving(server, scans, case):
    make, expected_status, words = BAD_BODIES[case]
    status, response, answer = predict(server, make(scans))
    assert status == expected_status
    assert response.getheader("Content-Type") == "application/json"
    assert words in answer["error"] and "\n" not in answer["error"]
    assert_still_serves(server, scans)


BAD_HEADERS = {
    "Content-Length not a number": (b"Content-Length: 12abc\r\n\r\n", 400),
    "no Content-Length": (b"\r\n", 411),
    "chunked": (b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
    "two Content-Lengths": (b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
}


@pytest.mark.parametrize("case", BAD_HEADERS)
def test_bad_headers_are_refused_and_the_server_keeps_serving(server, scans, case):
    rest, expected_status = BAD_HEADERS[case]
    answer = raw_exchange(server, b"POST /api/predict HTTP/1.1\r\nHost: x\r\n" + rest)
    assert answer.startswith(f"HTTP/1.1 {expected_status} ".encode())
    assert b'{"error":' in answer
    assert_still_serves(server, scans)


def _predict_head(length):
    return (
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def read_answer(sock):
    """``(status, headers, JSON body)`` of the HTTP answer waiting on ``sock``."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response, json.loads(response.read())


def wait_closed(sock):
    """Read ``sock`` until the server closes it (or resets it)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass


def urlopen_post(url, body):
    """urllib's POST, which writes the whole body before reading the answer."""
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err, json.loads(err.read())


# A client that writes its whole body before reading gets the refusal: the
# server reads and drops a refused body (up to DRAIN_MAX_BYTES), then closes.
REFUSED_BODIES = {
    # case: (path, body length, status, words the error must contain)
    "6 MB image": ("api/predict", 6_000_000, 413, "over the limit of 5 MB"),
    "4 MB to an unknown page": ("nowhere", 4_000_000, 404, "no such page"),
}


@pytest.mark.parametrize("case", REFUSED_BODIES)
def test_urllib_sending_a_refused_body_gets_the_refusal(server, scans, case):
    path, length, expected_status, words = REFUSED_BODIES[case]
    status, response, answer = urlopen_post(server.url + path, b"\0" * length)
    assert status == expected_status and words in answer["error"]
    assert response.headers["Connection"] == "close"
    assert_still_serves(server, scans)


def test_requests_sending_6_mb_gets_the_413(server, scans):
    requests = pytest.importorskip("requests")
    response = requests.post(server.url + "api/predict", data=b"\0" * 6_000_000)
    assert response.status_code == 413
    assert "over the limit of 5 MB" in response.json()["error"]
    assert_still_serves(server, scans)


def test_a_socket_sending_6_mb_before_reading_gets_the_413(server, scans):
    with socket.create_connection(server.server_address[:2], timeout=30) as sock:
        sock.sendall(_predict_head(6_000_000) + b"\0" * 6_000_000)
        status, response, answer = read_answer(sock)
        assert status == 413 and "6,000,000 bytes" in answer["error"]
        assert response.getheader("Connection") == "close"
        wait_closed(sock)
    assert_still_serves(server, scans)


def test_the_413_is_sent_before_the_body_is_read(server, scans):
    # Only the headers and 1 kB are sent: the answer comes at once, without the
    # server waiting for the 6 MB it was promised; it then waits for the rest
    # at most DRAIN_IDLE_SECONDS of silence before closing.
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(_predict_head(6_000_000) + b"\0" * 1000)
        status, _, answer = read_answer(sock)
        assert status == 413 and "over the limit of 5 MB" in answer["error"]
        start = time.monotonic()
        wait_closed(sock)
    assert time.monotonic() - start < _server.DRAIN_IDLE_SECONDS + 5
    assert_still_serves(server, scans)


def test_a_body_over_the_drain_cap_is_not_read(server, scans):
    # 2 x DRAIN_MAX_BYTES (40 MB) declared and sent: the server answers and
    # closes without reading it, so sending fails; this client still reads
    # the 413 that arrived first (as requests does after a broken pipe).
    length = 2 * _server.DRAIN_MAX_BYTES
    start = time.monotonic()
    with socket.create_connection(server.server_address[:2], timeout=30) as sock:
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            sock.sendall(_predict_head(length) + b"\0" * length)
        status, _, answer = read_answer(sock)
    assert status == 413 and f"{length:,} bytes" in answer["error"]
    assert time.monotonic() - start < 10
    assert_still_serves(server, scans)


def test_a_body_trickling_in_is_dropped_after_drain_seconds(server, scans, monkeypatch):
    # 1 kB every 0.2 s is never DRAIN_IDLE_SECONDS of silence: only the total
    # bound, DRAIN_SECONDS (1 s here, 10 s in use), ends the wait.
    monkeypatch.setattr(_server, "DRAIN_SECONDS", 1)
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(_predict_head(6_000_000))
        assert read_answer(sock)[0] == 413
        start = time.monotonic()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            while time.monotonic() - start < 30:
                sock.sendall(b"\0" * 1000)
                time.sleep(0.2)
    assert 1 <= time.monotonic() - start < 1 + 10
    assert_still_serves(server, scans)


def test_body_of_exactly_5_mb_is_read(server, scans):
    status, _, answer = predict(server, b"\0" * MAX_BODY_BYTES)
    assert status == 400 and "not a PNG" in answer["error"]
    assert_still_serves(server, scans)


def test_expect_100_continue_is_refused_before_the_body(server, scans):
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        f"Content-Length: {6 * MAX_BODY_BYTES}\r\n\r\n"
    )
    assert raw_exchange(server, head.encode(), timeout=5).startswith(b"HTTP/1.1 413 ")
    assert_still_serves(server, scans)


TRAVERSALS = [
    "/../pyproject.toml",
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/..%2f..%2fetc%2fpasswd",
    "/..%5c..%5cetc%5cpasswd",
    "/static/index.html",
    "/static/../_server.py",
    "/_server.py",
    "/__init__.py",
    "//etc/passwd",
    "/index.html/../../_server.py",
    "/page.js%00.html",
    "/%252e%252e/etc/passwd",
    "/.%2e/.%2e/etc/passwd",
]


def test_no_request_path_reaches_the_file_system(server, scans, monkeypatch):
    opened = []

    def spy(original):
        def wrapper(*args, **kwargs):
            opened.append(args[:1])
            return original(*args, **kwargs)

        return wrapper

    with monkeypatch.context() as patch:
        for module, name in [(builtins, "open"), (io, "open"), (os, "open")]:
            patch.setattr(module, name, spy(getattr(module, name)))
        for name in ["stat", "lstat", "scandir", "listdir"]:
            patch.setattr(os, name, spy(getattr(os, name)))
        answers = [call(server, "GET", path) for path in TRAVERSALS]
        answers.append(call(server, "POST", "/../pyproject.toml", b"x"))
        page = call(server, "GET", "/")
    assert opened == [], "a request touched the file system"
    for path, (status, response, body) in zip(TRAVERSALS, answers):
        assert status == 404, path
        assert "no such page" in body["error"]
    assert page[0] == 200  # served from memory
    assert raw_exchange(server, b"GET http://example.org/../x HTTP/1.1\r\n\r\n")[
        :13
    ] in (b"HTTP/1.1 404 ", b"HTTP/1.1 400 ")
    assert_still_serves(server, scans)


def test_wrong_method_is_405_with_allow(server, scans):
    status, response, answer = call(server, "GET", "/api/predict")
    assert status == 405 and response.getheader("Allow") == "POST"
    status, response, answer = call(server, "DELETE", "/")
    assert status == 405 and response.getheader("Allow") == "GET"
    assert_still_serves(server, scans)


def test_concurrent_clients_get_their_own_answers(server, model, scans):
    """The load test, small and untimed: 6 clients, 36 requests, keep-alive."""
    expected = {png: predict(server, png)[2]["digit"] for _, png in scans}

    def client(offset):
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
        answers = []
        for i in range(6):
            png = scans[(offset + i) % len(scans)][1]
            connection.request(
                "POST", "/api/predict", png, {"Content-Type": "image/png"}
            )
            response = connection.getresponse()
            answers.append((png, response.status, json.loads(response.read())))
        connection.close()
        return answers

    with ThreadPoolExecutor(6) as pool:
        results = [a for answers in pool.map(client, range(6)) for a in answers]
    assert len(results) == 36
    for png, status, answer in results:
        assert status == 200 and answer["digit"] == expected[png]


# --- worker processes ------------------------------------------------------------


@pytest.fixture(scope="module")
def pooled(model):
    """The server with the model's work in 2 worker processes, as ``serve`` runs."""
    with running(DigitServer(model, port=0, workers=2)) as server:
        yield server


def test_workers_answer_exactly_as_the_server_thread_does(server, pooled, scans):
    assert call(pooled, "GET", "/api/health")[2]["workers"] == 2
    for _, png in scans:
        here, there = predict(server, png), predict(pooled, png)
        assert here[0] == there[0] == 200
        assert here[2] == there[2]


@pytest.mark.parametrize(
    "body",
    [b"not an image", png_declaring(30000, 30000), b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
    ids=["not-an-image", "declares-30000x30000", "truncated"],
)
def test_refusals_from_a_worker_are_the_same_refusals(server, pooled, scans, body):
    here, there = predict(server, body), predict(pooled, body)
    assert here[0] == there[0] and here[0] in (400, 413)
    assert here[2] == there[2]
    blank = encode(Image.new("L", (140, 140), 255))
    assert predict(server, blank)[2] == predict(pooled, blank)[2]
    assert_still_serves(pooled, scans)


def test_concurrent_clients_through_workers(pooled, scans):
    expected = {png: predict(pooled, png)[2]["digit"] for _, png in scans}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda d: predict(pooled, d[1]), scans * 4))
    assert [a[2]["digit"] for a in answers] == [expected[p] for _, p in scans * 4]


def test_a_killed_worker_costs_no_request(pooled, scans):
    os.kill(pooled.pool.pids()[0], signal.SIGKILL)
    assert_still_serves(pooled, scans)
    assert len(pooled.pool.pids()) == 2


# --- predict-image and the server agree -------------------------------------


def _photo_like(pixels, seed):
    """A digit on gray, unevenly lit, noisy paper: what a phone photo looks like."""
    rng = np.random.default_rng(seed)
    scan = np.asarray(paper_digit(pixels).resize((420, 380)), dtype=float)
    light = np.linspace(0.75, 0.95, scan.shape[1])[None, :]
    photo = scan * light + rng.normal(0, 4, scan.shape)
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).convert("RGB")


def test_predict_image_and_the_server_agree_digit_for_digit(server, tmp_path, capsys):
    X, _ = load_mnist_sample("test")
    images = {}
    for i, x in enumerate(X[20:40]):
        image = _photo_like(x, i) if i % 2 else paper_digit(x)
        fmt = "JPEG" if i % 3 == 0 else "PNG"
        images[tmp_path / f"digit{i}.{fmt.lower().replace('jpeg', 'jpg')}"] = encode(
            image, fmt
        )
    for path, data in images.items():
        path.write_bytes(data)
    assert main(["predict-image", "--json", *map(str, images)]) == 0  # bundled
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["image"] for line in lines] == list(map(str, images))
    for line, (path, data) in zip(lines, images.items()):
        status, _, answer = predict(server, data, "image/jpeg")
        assert status == 200
        assert answer["text"] == line["text"], path.name
        keys = ("label", "probability", "box")  # the same numbers, to the bit
        assert [{k: d[k] for k in keys} for d in answer["digits"]] == line["digits"]
    # most of these MNIST digits, scanned or photographed, read as one digit
    assert sum(len(line["text"]) == 1 for line in lines) >= 16


# --- the bundled model as every command's default -----------------------------


def test_evaluate_and_predict_default_to_the_bundled_model(tmp_path, capsys):
    assert main(["evaluate", "--data", str(sample_path("test"))]) == 0
    accuracy = float(re.search(r"accuracy: (\d\.\d+)", capsys.readouterr().out)[1])
    assert accuracy > 0.95
    output = tmp_path / "submission.csv"
    assert (
        main(["predict", "--data", str(sample_path("test")), "--output", str(output)])
        == 0
    )
    assert output.read_text().count("\n") == 1001


# --- the command ----------------------------------------------------------------


def _start(*options):
    return subprocess.Popen(
        [sys.executable, "-m", "skdigits", "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid):
    """The process ids whose parent is ``pid`` (Linux)."""
    children = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rpartition(")")[2].split()[1]) == pid:
                    children.append(int(entry))
        except (OSError, ValueError):
            pass
    return children


def _wait_gone(pids, seconds=20):
    """Wait until none of ``pids`` runs; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while running := [pid for pid in pids if os.path.exists(f"/proc/{pid}")]:
        states = [open(f"/proc/{pid}/stat").read().split()[2] for pid in running]
        if set(states) <= {"Z"}:  # exited, not yet reaped: gone
            return
        assert time.monotonic() < deadline, f"processes {running} outlived the server"
        time.sleep(0.2)


def _health(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/health")
    answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer


@pytest.mark.parametrize("workers", [None, "0", "2"])
def test_serve_prints_the_url_and_stops_cleanly_on_ctrl_c(workers):
    process = _start(*(["--workers", workers] if workers else []))
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        health = _health(int(match[1]))
        assert health["status"] == "ok"
        assert health["workers"] == (int(workers) if workers else default_workers())
        workers_running = _children(process.pid)
        # the workers (and, with any, multiprocessing's resource tracker)
        assert len(workers_running) >= health["workers"]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    _wait_gone(workers_running)
    with pytest.raises(OSError):  # the port is closed
        socket.create_connection(("127.0.0.1", int(match[1])), timeout=2).close()


def test_workers_stop_when_the_server_is_killed():
    process = _start("--workers", "2")
    try:
        assert "http://" in process.stdout.readline()
        workers = _children(process.pid)
        assert len(workers) >= 2
    finally:
        process.kill()
        process.communicate(timeout=20)
    _wait_gone(workers)


def test_serve_refuses_a_negative_number_of_workers(capsys):
    assert main(["serve", "--workers", "-1"]) == 2
    assert "expected a number of worker processes, 0 or more, got -1" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_serve_warns_when_anyone_on_the_network_can_use_it(host, monkeypatch, capsys):
    def ctrl_c(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(DigitServer, "serve_forever", ctrl_c)
    assert main(["serve", "--host", host, "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"http://127\.0\.0\.1:\d+/", out) and "stopped" in out
    warned = "warning" in err and "anyone" in err and "network" in err
    assert warned == (host == "0.0.0.0")


def test_serve_refuses_a_port_in_use_in_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "--port" in err


def test_serve_without_pillow_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r'pip install "skdigits\[serve\]"'):
        require_pillow()
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "skdigits[serve]"' in err


# --- the page in a real browser ------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium")
    if missing:
        message = f"browser tests need {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, and in CI they must run (.ci/run installs them)")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="skdigits-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=880,760")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, server):
    browser.get(server.url)
    return browser


def _element(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _wait_for(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def _read(driver, state="ready"):
    """#prediction's text once the page's answer is for what it shows."""
    _wait_for(
        driver, lambda d: _element(d, "prediction").get_attribute("data-state") == state
    )
    return _element(driver, "prediction").text


def _segment(start, end, n=10):
    return [
        (start[0] + (end[0] - start[0]) * t / n, start[1] + (end[1] - start[1]) * t / n)
        for t in range(n + 1)
    ]


def _arc(cx, cy, rx, ry, start_deg, end_deg, n=24):
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return [(cx + rx * math.sin(a), cy - ry * math.cos(a)) for a in angles]


# Digits as strokes in a SIDE x SIDE cell of the canvas, and the pointer drawing them.
DRAWINGS = {
    1: ("mouse", [_segment((150, 45), (130, 235))]),
    7: ("touch", [_segment((75, 60), (205, 60)) + _segment((205, 60), (120, 235))[1:]]),
    0: ("pen", [_arc(140, 140, 62, 92, 0, 365, 36)]),
    4: (
        "mouse",
        [
            _segment((150, 45), (70, 170)) + _segment((70, 170), (210, 170))[1:],
            _segment((170, 100), (170, 240)),
        ],
    ),
}


def _draw(driver, kind, strokes, left=SIDE / 2):
    """Draw ``strokes`` (in a cell's pixels) in the cell ``left`` pixels from
    the canvas's left edge; the middle of the canvas by default."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    canvas = _element(driver, "canvas")
    kinds = {
        "mouse": interaction.POINTER_MOUSE,
        "touch": interaction.POINTER_TOUCH,
        "pen": interaction.POINTER_PEN,
    }
    for points in strokes:
        builder = ActionBuilder(
            driver, mouse=PointerInput(kinds[kind], kind), duration=5
        )
        pointer = builder.pointer_action
        # offsets are from the canvas's centre
        offsets = [(round(x + left - SIDE), round(y - SIDE / 2)) for x, y in points]
        pointer.move_to(canvas, *offsets[0]).pointer_down()
        for offset in offsets[1:]:
            pointer.move_to(canvas, *offset)
        pointer.pointer_up()
        builder.perform()


def _seen_brightness(driver):
    """The summed brightness of the 28x28 images the page shows, one per digit."""
    return driver.execute_script(
        "let s = 0; for (const c of document.querySelectorAll('#digits .seen')) {"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "for (let i = 0; i < d.length; i += 4) s += d[i]; } return s;"
    )


def _cards(driver):
    """``[(label, probability text, [bar labels], best bar)]`` of #digits."""
    found = []
    for card in driver.find_elements("css selector", "#digits .digit"):
        rows = card.find_elements("css selector", ".bar-row")
        found.append(
            (
                card.find_element("css selector", "figcaption .label").text,
                card.find_element("css selector", "figcaption .p").text,
                [row.find_element("css selector", ".label").text for row in rows],
                card.find_element("css selector", ".best .label").text,
            )
        )
    return found


def _boxes(driver):
    """The digit boxes drawn over the canvas: ``[(tag, left, top, right, bottom)]``
    in canvas pixels as displayed."""
    return driver.execute_script(
        "const c = document.getElementById('canvas').getBoundingClientRect();"
        "return [...document.querySelectorAll('#boxes .box')].map(b => {"
        "const r = b.getBoundingClientRect(); return [b.textContent,"
        "r.left - c.left, r.top - c.top, r.right - c.left, r.bottom - c.top]; });"
    )


def test_page_reads_digits_drawn_with_mouse_touch_and_pen(page, tmp_path):
    status = _element(page, "status")
    assert "Write a number" in status.text and _element(page, "prediction").text == ""
    assert _seen_brightness(page) == 0 and _cards(page) == [] == _boxes(page)
    for digit, (kind, strokes) in DRAWINGS.items():
        _element(page, "clear").click()
        assert _read(page, "empty") == ""
        _draw(page, kind, strokes)
        assert _read(page) == str(digit), f"drew {digit}"
        assert _element(page, "canvas").get_attribute("data-pointer-type") == kind
        [(label, probability, bars, best)] = _cards(page)
        assert label == best == str(digit)
        assert bars == [str(i) for i in range(10)]
        assert f"probability {probability}" in _element(page, "status").text
        assert _seen_brightness(page) > 0
        [(tag, *box)] = _boxes(page)
        assert tag == str(digit)
        xs, ys = zip(*(point for stroke in strokes for point in stroke))
        # the box holds the strokes (drawn SIDE / 2 from the left, 22 px wide)
        assert box[0] < min(xs) + SIDE / 2 and box[2] > max(xs) + SIDE / 2
        assert box[1] < min(ys) and box[3] > max(ys)


def test_page_reads_a_number_with_a_box_and_a_card_per_digit(page):
    _draw(page, *DRAWINGS[4], left=0)  # the canvas's left half
    _draw(page, *DRAWINGS[7], left=SIDE)  # its right half
    assert _read(page) == "47"
    assert [card[0] for card in _cards(page)] == ["4", "7"]
    assert [card[3] for card in _cards(page)] == ["4", "7"]  # the best bar
    (four, *box4), (seven, *box7) = _boxes(page)
    assert (four, seven) == ("4", "7")
    assert box4[2] <= SIDE <= box7[0]  # each box on its own half
    assert "2 digits" in _element(page, "status").text
    size = page.get_window_size()
    page.set_window_size(size["width"], 900)  # the whole page, digits' cards too
    try:
        shot = page.get_screenshot_as_png()
    finally:
        page.set_window_size(size["width"], size["height"])
    assert shot.startswith(b"\x89PNG") and Image.open(io.BytesIO(shot)).size[0] >= 600
    target = os.environ.get("SKDIGITS_SCREENSHOT")
    if target:
        Path(target).write_bytes(shot)


# A letter, in the same cell as DRAWINGS: an "A" (two slants and a bar).
LETTER_A = (
    "mouse",
    [
        _segment((70, 235), (140, 45)) + _segment((140, 45), (210, 235))[1:],
        _segment((100, 160), (180, 160)),
    ],
)


def test_page_says_no_digit_for_a_drawn_letter(page):
    _draw(page, *LETTER_A)
    read = _read(page)
    status = _element(page, "status").text
    assert read == "no digit", f"the letter A was read as {read!r} ({status})"
    assert _cards(page) == [] == _boxes(page)


def test_page_reads_drawings_through_worker_processes(browser, pooled):
    # what `skdigits serve` runs by default: the page's requests answered by workers
    browser.get(pooled.url)
    for digit, (kind, strokes) in list(DRAWINGS.items())[:2]:
        _element(browser, "clear").click()
        assert _read(browser, "empty") == ""
        _draw(browser, kind, strokes)
        assert _read(browser) == str(digit), f"drew {digit}"


def test_page_clears_from_the_keyboard_and_says_what_to_do(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _draw(page, *DRAWINGS[1])
    assert _read(page) == "1"
    ActionChains(page).send_keys(Keys.ESCAPE).perform()
    assert _read(page, "empty") == ""
    assert "Write a number" in _element(page, "status").text
    _draw(page, *DRAWINGS[1])
    assert _read(page) == "1"
    ActionChains(page).send_keys(Keys.TAB).perform()  # Tab reaches Clear
    assert page.execute_script("return document.activeElement.id") == "clear"
    ActionChains(page).send_keys(Keys.ENTER).perform()
    assert _read(page, "empty") == ""
    ActionChains(page).send_keys(Keys.TAB).perform()  # then the file input
    assert page.execute_script("return document.activeElement.id") == "file"


def test_page_reads_a_photo_through_the_same_path_as_predict_image(
    page, server, scans, tmp_path
):
    label, png = scans[1]
    photo = tmp_path / "photo.png"
    photo.write_bytes(png)
    _element(page, "file").send_keys(str(photo))
    assert _read(page) == predict(server, png)[2]["text"] == str(label)
    assert "photo.png" in _element(page, "status").text
    assert len(_boxes(page)) == 1
    blank = tmp_path / "blank.png"
    blank.write_bytes(_blank_png(None))
    _element(page, "file").send_keys(str(blank))
    assert _read(page) == "no digit"
    assert "blank.png" in _element(page, "status").text
    assert _cards(page) == [] == _boxes(page)


def test_page_reads_a_sideways_phone_photo_upright(page, tmp_path):
    from _pngs import sideways, upright_seven

    photo = tmp_path / "sideways.jpg"
    photo.write_bytes(sideways(upright_seven(), 6, "JPEG"))  # stored on its side
    _element(page, "file").send_keys(str(photo))
    assert _read(page) == "7"
    [(tag, left, top, right, bottom)] = _boxes(page)
    # the photo is shown upright, 112x144 fitted to the canvas's height, centred:
    # the box lies within it
    width = SIDE * 112 / 144
    assert SIDE - width / 2 - 1 <= left < right <= SIDE + width / 2 + 1
    assert 0 <= top < bottom <= SIDE
