"""The README's code blocks run as written, in a folder holding the files they name.

Every ```python block is run in a fresh interpreter. Every ```bash block is run
command by command: ``skdigits ...`` through the installed console script, ``unzip``
and ``head`` as themselves; the install lines (``pip install ...``), the test suite
(``python -m pytest``) and the docs build (``sphinx-build``) are what CI runs on
its own, so they are left out here. A command this file does not know fails the
test, so a new README command cannot go unchecked.

The folder holds the files the commands name: ``mnist_train.csv`` and
``mnist_test.csv`` (1,000 and 1,000 rows of the bundled sample under the full
files' names, so a command finishes in seconds), ``my_seven.png`` (a drawn 7), and
``digit-recognizer.zip`` made from Kaggle's files in
``$SKDIGITS_DATA_DIR/digit-recognizer`` (the block that needs it is skipped when
they are absent, and marked slow: it trains on 42,000 images).
"""

import gzip
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from skdigits.datasets import load_mnist_sample

README = Path(__file__).resolve().parents[1] / "README.md"
TIMEOUT = 900  # seconds for one command; the Kaggle training is the long one
SKIPPED = ("pip install", "python -m pytest", "sphinx-build")


def _blocks(language):
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def _commands(block):
    """The block's commands: continuation lines joined, comments dropped, each
    ``a && b`` split in two."""
    joined = block.replace("\\\n", " ")
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        while words:
            end = words.index("&&") if "&&" in words else len(words)
            yield words[:end]
            words = words[end + 1 :]


def _needs_kaggle(block):
    return "digit-recognizer.zip" in block


def _bash_params():
    params = []
    for i, block in enumerate(_blocks("bash")):
        first = next(_commands(block), ["empty"])
        name = f"bash{i}-{'-'.join(first[:2])}"
        marks = [pytest.mark.slow, pytest.mark.fulldata] if _needs_kaggle(block) else []
        params.append(pytest.param(block, id=name, marks=marks))
    return params


def _env():
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    return env


def _skdigits():
    script = Path(sys.executable).with_name("skdigits")
    return [str(script)] if script.exists() else [sys.executable, "-m", "skdigits"]


def _draw_seven(path):
    from PIL import Image, ImageDraw

    image = Image.new("L", (140, 180), color=255)
    ImageDraw.Draw(image).line(
        [(25, 30), (115, 30), (60, 160)], fill=0, width=14, joint="curve"
    )
    image.save(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, write_mnist_csv):
    """A folder with the files the README's commands name (the sample's rows)."""
    path = tmp_path_factory.mktemp("readme")
    X_train, y_train = load_mnist_sample("train")
    X_test, y_test = load_mnist_sample("test")
    write_mnist_csv(path / "mnist_train.csv", X_train[:1000], y_train[:1000])
    write_mnist_csv(path / "mnist_test.csv", X_test, y_test)
    _draw_seven(path / "my_seven.png")
    return path


def _kaggle_zip(folder):
    """``digit-recognizer.zip`` as Kaggle ships it, from the copies in the data dir."""
    source = Path(os.environ.get("SKDIGITS_DATA_DIR", "../shared/data"))
    source = source / "digit-recognizer"
    if not (source / "train.csv.gz").is_file():
        pytest.skip(f"Kaggle's digit-recognizer files not found in {source}")
    with zipfile.ZipFile(folder / "digit-recognizer.zip", "w") as archive:
        for name in ("train", "test"):
            with gzip.open(source / f"{name}.csv.gz", "rb") as csv:
                archive.writestr(f"{name}.csv", csv.read())
        archive.writestr("sample_submission.csv", "ImageId,Label\n1,0\n")


def _run(words, cwd):
    if words[0] == "skdigits":
        words = _skdigits() + words[1:]
    elif words[0] not in ("unzip", "head"):
        pytest.fail(f"the README runs {shlex.join(words)!r}: teach test_readme.py it")
    result = subprocess.run(
        words, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, f"{shlex.join(words)}:\n{result.stderr}"
    return result.stdout


def _serve(words, cwd):
    """``skdigits serve`` prints its URL, answers, and Ctrl-C stops it (status 0).

    Run as written; only when port 8000 is taken (by another program) is it run
    again with ``--port 0``.
    """
    url, stderr = _serve_once(words, cwd)
    if url is None and "8000" in stderr:
        url, stderr = _serve_once([*words, "--port", "0"], cwd)
    assert url, f"{shlex.join(words)} printed no URL: {stderr}"


def _serve_once(words, cwd):
    """The URL the server printed (None if it printed none) and its stderr."""
    import urllib.request

    process = subprocess.Popen(
        _skdigits() + words[1:],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 300)
        line = process.stdout.readline() if ready else ""
        match = re.search(r"serving the digit page at (http://\S+)/ ", line)
        if match:
            health = match.group(1) + "/api/health"
            with urllib.request.urlopen(health, timeout=120) as answer:
                assert answer.status == 200
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            rc = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    stderr = process.stderr.read()
    if not match:
        return None, stderr
    assert rc == 0, stderr
    return match.group(1), stderr


@pytest.mark.parametrize("block", _bash_params())
def test_readme_bash_block_runs_as_written(block, folder, tmp_path):
    cwd = tmp_path
    for entry in folder.iterdir():
        shutil.copy(entry, cwd / entry.name)
    if _needs_kaggle(block):
        _kaggle_zip(cwd)
    for words in _commands(block):
        line = shlex.join(words)
        if line.startswith(SKIPPED):
            continue
        if words[:2] == ["skdigits", "serve"]:
            _serve(words, cwd)
            continue
        out = _run(words, cwd)
        if words[:2] == ["skdigits", "train"]:
            assert "saved model to" in out, out
        if words[0] == "head" and "submission.csv" in words:
            assert out.startswith("ImageId,Label\n1,"), out


@pytest.mark.parametrize(
    "code",
    [pytest.param(code, id=f"python{i}") for i, code in enumerate(_blocks("python"))],
)
def test_readme_python_block_runs_as_written(code, folder, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr


def test_the_readme_is_a_landing_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert 'pip install ".[test]" && python -m pytest' in text  # .ci/run's line
    assert not re.search(r"\bgit [0-9a-f]{7}\b|load average", text)
    assert _blocks("bash") and _blocks("python")
