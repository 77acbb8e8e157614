"""The gallery's scripts follow sphinx-gallery's conventions and the docs' names.

Executing every script is the docs build's job (``sphinx-build`` runs the whole
gallery in CI, and a script that fails fails the build); running them here as
well would add the gallery's minutes to the tests a second time. So each script
is checked statically (its file name, title, cells, figure, public imports),
and the scripts that train nothing are also run, to check that they draw.
"""

import ast
import re
import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# The names docs/ links to (``sphx_glr_auto_examples_<path>``): renaming one
# breaks a link, so it must be renamed there too.
GALLERY = {
    "plot_reading_numbers.py",
    "plot_augmented_digits.py",
    "plot_confusion_matrix.py",
    "plot_first_layer_weights.py",
    "plot_grid_search_heatmap.py",
    "plot_time_to_accuracy.py",
    "plot_training_curves.py",
    "plot_your_own_image.py",
    "tutorials/plot_coming_from_mlpclassifier.py",
    "tutorials/plot_from_numpy_notebook.py",
    "tutorials/plot_kaggle_end_to_end.py",
}
SCRIPTS = sorted(GALLERY)
# Scripts that load data and the bundled model but train nothing: seconds.
QUICK = [
    "plot_reading_numbers.py",
    "plot_augmented_digits.py",
    "plot_confusion_matrix.py",
    "plot_your_own_image.py",
]


def source(name):
    return (EXAMPLES / name).read_text(encoding="utf-8")


def test_every_script_is_in_the_gallery():
    # sphinx-gallery runs only files matching /plot_: anything else in
    # examples/ would be neither executed nor shown.
    found = {path.relative_to(EXAMPLES).as_posix() for path in EXAMPLES.rglob("*.py")}
    assert found == GALLERY


@pytest.mark.parametrize("folder", ["", "tutorials"])
def test_each_gallery_folder_has_a_titled_readme(folder):
    lines = (EXAMPLES / folder / "README.rst").read_text(encoding="utf-8").splitlines()
    assert lines[1] and set(lines[1]) <= set("=-") and len(lines[1]) >= len(lines[0])


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_has_a_title_underlined_with_equals(name):
    docstring = ast.get_docstring(ast.parse(source(name)), clean=False)
    assert docstring is not None, f"{name}: no module docstring"
    lines = docstring.strip("\n").splitlines()
    overline = lines.pop(0) if set(lines[0]) == {"="} else None
    title, underline = lines[0], lines[1]
    assert title.strip() and set(underline) == {"="}, f"{name}: no ==== title"
    assert len(underline) >= len(title.rstrip()), f"{name}: the underline is short"
    assert overline in (None, underline), f"{name}: overline and underline differ"


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_is_a_story_in_cells_that_draws(name):
    text = source(name)
    assert len(re.findall(r"^# %%$", text, re.M)) >= 2, f"{name}: no # %% cells"
    assert re.search(r"plt\.(subplots|figure)\(", text), f"{name}: no figure"
    assert "plt.show()" in text, f"{name}: no plt.show()"
    for habit in ("argparse", "__main__", "matplotlib.use("):
        assert habit not in text, f"{name}: {habit} has no place in the gallery"


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_uses_the_public_api_only(name):
    for node in ast.walk(ast.parse(source(name))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "skdigits"
        ):
            modules, names = [node.module], [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [alias.name for alias in node.names], []
        else:
            continue
        for module in modules:
            assert not any(part.startswith("_") for part in module.split(".")), (
                f"{name} imports the private {module}"
            )
        assert not [n for n in names if n.startswith("_")], f"{name}: {names}"


@pytest.mark.parametrize("name", QUICK)
def test_quick_script_runs_and_draws(name, tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    pytest.importorskip("PIL")
    pytest.importorskip("skops")
    monkeypatch.chdir(tmp_path)
    plt.close("all")
    with warnings.catch_warnings():  # the scripts set their own filters
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    try:
        assert plt.get_fignums(), f"{name} left no figure for the gallery"
    finally:
        plt.close("all")
