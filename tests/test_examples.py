"""Every script in examples/ runs, on the bundled sample, and says what it did."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args, cwd):
    """Run ``examples/<name>`` as a user would; return its stdout."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _accuracies(label, out):
    return [float(value) for value in re.findall(rf"{label} (\d\.\d+)", out)]


def test_every_example_is_tested_and_documented():
    scripts = sorted(path.name for path in EXAMPLES.glob("*.py"))
    tested = sorted(name for name, _ in CASES)
    assert scripts == tested
    for name in scripts:
        text = (EXAMPLES / name).read_text()
        assert text.startswith('"""'), f"{name} has no module docstring"
        assert f"python examples/{name}" in text, f"{name}: how to run it?"


@pytest.mark.slow
def test_pipeline_grid_search(tmp_path):
    out = run_example("pipeline_grid_search.py", cwd=tmp_path)
    assert "best parameters: {" in out
    assert len(re.findall(r"^\d\. cv accuracy", out, re.M)) == 4
    assert _accuracies("refit best model:", out)[0] > 0.7


@pytest.mark.slow
def test_cross_validation(tmp_path):
    out = run_example("cross_validation.py", cwd=tmp_path)
    folds = _accuracies("accuracy", out)[:5]
    assert len(re.findall(r"^fold \d: accuracy", out, re.M)) == 5
    assert min(folds) > 0.7


@pytest.mark.slow
def test_persistence(tmp_path):
    out = run_example("persistence.py", cwd=tmp_path)
    assert out.count("identical predictions: True") == 2


@pytest.mark.slow
def test_kaggle_submission(tmp_path):
    output = tmp_path / "submission.csv"
    run_example("kaggle_submission.py", "--output", output, cwd=tmp_path)
    lines = output.read_text().splitlines()
    assert lines[0] == "ImageId,Label"
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, len(lines)))
    assert {line.split(",")[1] for line in lines[1:]} <= set("0123456789")


@pytest.mark.slow
def test_predict_your_digit_draws_a_seven(tmp_path):
    pytest.importorskip("PIL")
    out = run_example("predict_your_digit.py", "--show", cwd=tmp_path)
    assert re.search(r"^the drawn 7: \d \(probability", out, re.M)
    assert len(re.findall(r"^  \d: ", out, re.M)) == 10


@pytest.mark.slow
def test_predict_your_digit_reads_an_image_file(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from PIL import ImageDraw

    path = tmp_path / "zero.png"
    image = Image.new("L", (60, 80), color=255)
    ImageDraw.Draw(image).ellipse([15, 15, 45, 65], outline=0, width=6)
    image.save(path)
    out = run_example("predict_your_digit.py", path, cwd=tmp_path)
    assert re.search(rf"^{re.escape(str(path))}: \d \(probability", out, re.M)


@pytest.mark.slow
def test_plot_training_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    output = tmp_path / "training.png"
    out = run_example("plot_training.py", "--output", output, cwd=tmp_path)
    assert output.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "best validation accuracy" in out


CASES = [
    ("cross_validation.py", test_cross_validation),
    ("kaggle_submission.py", test_kaggle_submission),
    ("persistence.py", test_persistence),
    ("pipeline_grid_search.py", test_pipeline_grid_search),
    ("plot_training.py", test_plot_training_writes_a_png),
    ("predict_your_digit.py", test_predict_your_digit_draws_a_seven),
]
