"""Load test of ``skdigits serve``: concurrent ``POST /api/predict`` on loopback.

Starts ``python -m skdigits serve --port 0`` (the bundled model, or ``--model``;
its default worker processes, or ``--workers``) in its own process, then 8
client threads send 400 requests in all, each over
one keep-alive connection as a browser does. The bodies are what the page
sends: 140x140 PNGs of digits, dark on white (MNIST test digits, enlarged;
``--side 280`` for full-size drawings).
Prints the number of errors, the latency percentiles, and the CPU time the
server and its workers spent per request.

    python -m benchmarks.bench_serve [--requests 400] [--clients 8] [--workers N]
    python -m benchmarks.bench_serve --steps [--side 280]   # one request's steps

``--steps`` starts no server: it times, in this process, the steps of one
request (decoding, ``image_to_mnist``, ``predict_proba``, the JSON answer) on
the same PNGs, median milliseconds over 10 rounds of the 40 images.
"""

import argparse
import http.client
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
from PIL import Image

from skdigits.datasets import load_mnist_sample

from ._common import machine_lines, markdown_table, run_main, run_state


def page_like_pngs(side, n=40):
    """``n`` digits as the page sends them: ``side`` x ``side`` RGBA PNGs, dark
    ink on white."""
    X, _ = load_mnist_sample("test")
    bodies = []
    for x in X[:n]:
        image = Image.fromarray(255 - x.reshape(28, 28)).resize((side, side))
        image = image.convert("RGBA")  # a canvas's PNG is RGBA
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        bodies.append(buffer.getvalue())
    return bodies


def start_server(model, workers=None):
    """The ``skdigits serve`` process and its port, once it prints its URL."""
    command = [sys.executable, "-m", "skdigits", "serve", "--port", "0"]
    if model:
        command += ["--model", model]
    if workers is not None:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        process.kill()
        raise SystemExit(f"skdigits serve did not print its URL: {line!r}")
    return process, int(match[1])


def _stat(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()


def cpu_seconds(pid):
    """User + system CPU seconds so far of process ``pid`` and of its children
    (the worker processes), on Linux; NaN elsewhere."""
    total = 0.0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            fields = _stat(entry) if entry.isdigit() else None
        except OSError:  # ended meanwhile
            continue
        if fields and (int(entry) == pid or int(fields[1]) == pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total if total else float("nan")


def health(port):
    """``GET /api/health`` of the server."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/api/health")
    answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer


def client(port, bodies, n_requests, latencies, errors):
    """Send ``n_requests`` over one connection, recording seconds and errors."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(n_requests):
        body = bodies[i % len(bodies)]
        start = time.perf_counter()
        try:
            connection.request(
                "POST", "/api/predict", body, {"Content-Type": "image/png"}
            )
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors.append(i)
    connection.close()


def run_load(port, bodies, n_requests, n_clients):
    """``(latencies in seconds, error count, wall seconds)`` of the load."""
    latencies, errors = [], []
    shares = [
        n_requests // n_clients + (i < n_requests % n_clients) for i in range(n_clients)
    ]
    threads = [
        threading.Thread(
            target=client, args=(port, bodies[i:] + bodies[:i], n, latencies, errors)
        )
        for i, n in enumerate(shares)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return np.array(latencies), len(errors), time.perf_counter() - start


def time_steps(bodies, model_path, rounds=10):
    """Median ms per image of each step of a request, in this process."""
    from skdigits.cli._common import _load_model
    from skdigits.preprocessing import image_to_mnist
    from skdigits.serve._predict import open_image, predict_payload

    model = _load_model(model_path, proba=True)
    images = [open_image(body) for body in bodies]
    pixels = [image_to_mnist(image)[None, :] for image in images]
    steps = {
        "open_image (decode)": lambda i: open_image(bodies[i]),
        "image_to_mnist": lambda i: image_to_mnist(images[i]),
        "predict_proba": lambda i: model.predict_proba(pixels[i]),
        "whole answer (predict_payload + JSON)": lambda i: json.dumps(
            predict_payload(model, bodies[i])
        ),
    }
    times = {}
    for name, step in steps.items():
        step(0)  # warm-up
        rounds_ms = []
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(len(bodies)):
                step(i)
            rounds_ms.append(1000 * (time.perf_counter() - start) / len(bodies))
        times[name] = statistics.median(rounds_ms)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--side",
        type=int,
        default=140,
        help="image side in pixels (default: 140, what the page sends)",
    )
    parser.add_argument("--model", help="model file (default: the bundled model)")
    parser.add_argument(
        "--workers",
        type=int,
        help="serve's --workers (default: serve's own default, one per core)",
    )
    parser.add_argument(
        "--steps",
        action="store_true",
        help="time one request's steps in this process instead (no server)",
    )
    args = parser.parse_args(argv)
    state = run_state()
    bodies = page_like_pngs(args.side)
    if args.steps:
        times = time_steps(bodies, args.model)
        print(f"# One request's steps, {args.side}x{args.side} PNGs, in one process\n")
        print("\n".join(machine_lines(state)) + "\n")
        rows = [[name, f"{ms:.2f}"] for name, ms in times.items()]
        print(markdown_table(["step", "median ms per image"], rows))
        return 0
    process, port = start_server(args.model, args.workers)
    try:
        workers = health(port)["workers"]
        run_load(port, bodies, 2 * args.clients, args.clients)  # warm-up, untimed
        cpu_before = cpu_seconds(process.pid)
        latencies, n_errors, wall = run_load(port, bodies, args.requests, args.clients)
        server_cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    ms = latencies * 1000
    print(
        f"# skdigits serve: {args.requests} POST /api/predict of "
        f"{args.side}x{args.side} PNGs, {args.clients} clients, "
        f"{workers} worker processes\n"
    )
    print("\n".join(machine_lines(state)) + "\n")
    print(
        markdown_table(
            [
                "requests",
                "errors",
                "p50 ms",
                "p95 ms",
                "max ms",
                "mean ms",
                "req/s",
                "server + workers CPU ms/req",
            ],
            [
                [
                    len(ms),
                    n_errors,
                    f"{np.percentile(ms, 50):.1f}",
                    f"{np.percentile(ms, 95):.1f}",
                    f"{ms.max():.1f}",
                    f"{statistics.fmean(ms):.1f}",
                    f"{len(ms) / wall:.0f}",
                    f"{1000 * server_cpu / len(ms):.1f}",
                ]
            ],
        )
    )
    return 1 if n_errors else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
