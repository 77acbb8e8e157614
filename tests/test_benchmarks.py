"""The benchmarks package: every benchmark runs as ``python -m benchmarks.<name>``.

Fast and in-process: nothing here times or trains anything real (the benchmarks
are measurements, never asserted on).
"""

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO_ROOT / "benchmarks"
#: every runnable module: bench_*.py and the make_*.py scripts
MODULES = sorted(
    path.stem for path in BENCHMARKS.glob("*.py") if not path.stem.startswith("_")
)


@pytest.fixture
def package(monkeypatch):
    """Import from ``benchmarks`` as ``python -m`` from the repository root does."""
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    return lambda name: importlib.import_module(f"benchmarks.{name}")


@pytest.fixture
def kernels_restored(monkeypatch):
    """Let a test call ``use_kernels``: the environment and the backend come back."""
    from skdigits import _kernels

    monkeypatch.delenv("SKDIGITS_KERNELS", raising=False)
    yield
    _kernels.kernels.cache_clear()  # the backend is read again from the environment


def test_every_benchmark_is_found():
    assert {"bench_training", "bench_matrix", "make_bundled_model"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_imports_as_a_module_and_shows_its_help(name, package, capsys):
    module = package(name)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_no_benchmark_edits_sys_path():
    offenders = [
        path.name for path in BENCHMARKS.rglob("*.py") if "sys.path" in path.read_text()
    ]
    assert offenders == []


def test_readme_commands_name_modules_that_exist():
    text = (BENCHMARKS / "README.md").read_text()
    assert "python benchmarks/" not in text, "use python -m benchmarks.<name>"
    named = set(re.findall(r"python -m benchmarks\.(\w+)", text))
    assert named, "the README gives no command"
    assert named <= set(MODULES)
    assert {m for m in MODULES if m.startswith("bench_")} <= named


def test_torch_adapter_skips_cleanly_without_torch(package, monkeypatch):
    frameworks = package("_frameworks")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    found, skipped = frameworks.available_frameworks(["sklearn", "torch"])
    assert [f.name for f in found] == ["sklearn"]
    assert skipped == [("torch", "torch is not installed")]


def test_grid_search_timer_times_every_run(package, kernels_restored, digits):
    from sklearn.neural_network import MLPClassifier

    frameworks = package("_frameworks")
    X, _, y, _ = digits
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    runs = [frameworks.GridRun("b", 1, mlp), frameworks.GridRun("a", 1, mlp)]
    times = frameworks.time_grid_search(
        runs, {"alpha": [1e-4, 1e-2]}, X, y, cv=2, refit=False, repeats=2
    )
    assert list(times) == [("b", 1), ("a", 1)]  # the runs' order, for the tables
    assert all(len(seconds) == 2 and min(seconds) > 0 for seconds in times.values())


def test_formatters_mark_missing_values(package):
    common = package("_common")
    assert common.fmt(None, ".2f") == "n/a"
    assert common.fmt(0.1234, ".2f") == "0.12"
    assert common.fmt_ratio(0.5) == "0.50x"
    assert common.fmt_ratio(None) == "n/a"
    assert common.fmt_list([1.0, 2.5], ".1f", " / ") == "1.0 / 2.5"


def test_share_verdict_meets_a_target_up_to_and_including_it(package):
    common = package("_common")
    assert common.share_verdict("X", "its calls", 0.25, 0.2, 0.25, ".1%") == (
        "X takes **25.0%** of the recipe's epoch (time inside its calls / epoch "
        "wall time; the two epochs' difference gives 20.0%): meets the issue's "
        "target of <= 25%."
    )
    line = common.share_verdict("X", "the writes", 0.0251, 0.02, 0.02, ".2%", "; y")
    assert "**2.51%**" in line and "gives 2.00%; y):" in line
    assert line.endswith("misses the issue's target of <= 2%.")


def test_report_gives_the_command_as_typed(package, monkeypatch):
    common = package("_common")
    spec = importlib.util.find_spec("benchmarks.bench_matrix")
    main = type(sys)("__main__")
    main.__spec__ = spec
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [spec.origin, "--rows", "500", "--skip-grid"])
    assert (
        common._command() == "python -m benchmarks.bench_matrix --rows 500 --skip-grid"
    )


def test_openblas_pinning_restarts_the_same_command_without_it(package, monkeypatch):
    common = package("_common")
    spec = importlib.util.find_spec("benchmarks.bench_regression")
    main = type(sys)("__main__")
    main.__spec__ = spec
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [spec.origin, "--quick"])
    calls = []
    monkeypatch.setattr(common.os, "execve", lambda *args: calls.append(args))
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    common.restart_without_openblas_pinning()
    assert calls == []  # nothing pinned: the run goes on in this process
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "1048576")
    common.restart_without_openblas_pinning()
    [(program, argv, env)] = calls
    assert argv == [sys.executable, "-m", "benchmarks.bench_regression", "--quick"]
    assert program == sys.executable
    assert not {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} & set(env)
    assert env["PATH"] == common.os.environ["PATH"]  # the rest is kept


def test_digit_completion_splits_each_image_into_its_top_and_bottom_rows(package):
    bench = package("bench_regression")
    rows = np.repeat(np.arange(28), 28)  # each pixel holds its row's index
    top, bottom = bench.split_halves(np.stack([rows, rows + 100]))
    assert top.shape == bottom.shape == (2, 392)
    assert set(top[0]) == set(range(14)) and set(bottom[0]) == set(range(14, 28))
    assert top.flags.c_contiguous and bottom.flags.c_contiguous


def test_torch_regression_loss_has_sklearns_gradient(package):
    # sklearn's output delta is (p - y) / n_rows, whatever the number of outputs
    torch = pytest.importorskip("torch")
    frameworks = package("_frameworks")
    rng = np.random.default_rng(0)
    output = torch.tensor(rng.random((5, 3)), requires_grad=True)
    target = torch.tensor(rng.random((5, 3)))
    frameworks.REGRESSORS["torch"]._loss()(output, target).backward()
    expected = (output - target).detach().numpy() / 5
    np.testing.assert_allclose(output.grad.numpy(), expected, rtol=1e-12)
