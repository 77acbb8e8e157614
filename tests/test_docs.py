"""The documentation lists every public module, name and command (docs/_ext).

The Sphinx build itself (``sphinx-build -W -b html docs docs/_build/html``) runs in
CI; these tests check, without Sphinx, that the pages it generates cover the code.
"""

import importlib
import inspect
import pkgutil
import re
import runpy
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import sklearn

import skdigits
from skdigits.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Public modules documented elsewhere than in the API reference.
DOCUMENTED_ELSEWHERE = {"skdigits.cli": "the command-line pages (docs/cli)"}


@pytest.fixture(scope="module")
def ext():
    pytest.importorskip("docutils")
    pytest.importorskip("sphinx")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        yield importlib.import_module("skdigits_docs")
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def _api_modules():
    config = runpy.run_path(str(DOCS / "conf.py"))
    return config["api_modules"]


def test_every_public_module_is_in_the_api_reference():
    public = {"skdigits"} | {
        f"skdigits.{info.name}"
        for info in pkgutil.iter_modules(skdigits.__path__)
        if not info.name.startswith("_")
    }
    listed = set(_api_modules())
    assert public - listed - set(DOCUMENTED_ELSEWHERE) == set()
    assert listed <= public


def test_every_name_of_all_gets_an_api_page(ext, tmp_path):
    modules = _api_modules()
    ext.write_api_pages(tmp_path, modules)
    for module_name in modules:
        page = (tmp_path / "api" / "generated" / f"{module_name}.rst").read_text()
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name.startswith("__"):
                continue
            assert f"   {name}\n" in page or f".. py:data:: {name}\n" in page, (
                module_name,
                name,
            )


def test_a_missing_module_or_name_stops_the_build(ext, tmp_path, monkeypatch):
    from sphinx.errors import ExtensionError

    with pytest.raises(ExtensionError, match="skdigits.nope"):
        ext.write_api_pages(tmp_path, ["skdigits.nope"])
    monkeypatch.setattr(skdigits, "__all__", [*skdigits.__all__, "Missing"])
    with pytest.raises(ExtensionError, match="Missing"):
        ext.write_api_pages(tmp_path, ["skdigits"])


def test_every_command_gets_a_page_from_its_parser(ext, tmp_path):
    ext.write_cli_pages(tmp_path)
    out = tmp_path / "cli" / "generated"
    toctree = (out / "toctree.inc").read_text()
    for command in COMMANDS:
        page = (out / f"{command.NAME}.rst").read_text()
        assert f".. skdigits-command:: {command.NAME}\n" in page
        assert f"   generated/{command.NAME}\n" in toctree
    _, subparsers = ext._subparsers()
    assert list(subparsers) == [command.NAME for command in COMMANDS]


def test_the_command_pages_show_every_option_and_its_default(ext):
    from docutils import nodes

    _, subparsers = ext._subparsers()
    parser, _ = subparsers["train"]
    text = ext._option_list(parser._actions, parser).astext()
    for action in parser._actions:
        for option in action.option_strings:
            assert option in text
    assert "(default: 30)" in text and "%(" not in text  # %(default)s expanded
    assert isinstance(ext._option_list([], parser), nodes.definition_list)


# --- the pages' Python examples run as written ---------------------------------

_PYTHON_BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", re.M)


def _python_blocks(page):
    """The page's ``.. code-block:: python`` blocks, dedented, in order."""
    text = page.read_text()
    return [textwrap.dedent(block) for block in _PYTHON_BLOCK.findall(text)]


_PAGES = sorted(
    page.relative_to(DOCS).as_posix()
    for page in DOCS.rglob("*.rst")
    if "_build" not in page.parts and _python_blocks(page)
)


# A print whose line ends in a comment states what it prints: the printed
# line, or its first words, then optionally ": why" (``print(ok)  # True``,
# ``print(n, "fits reused")  # 6: only the refit ran``).
_PRINT_WITH_OUTPUT = re.compile(r"^\s*print\(.*\)\s*#\s*(?P<expected>.+?)\s*$")


def _stated_outputs(block):
    """``{line number: expected words}`` of the block's commented prints."""
    stated = {}
    for number, line in enumerate(block.splitlines(), start=1):
        match = _PRINT_WITH_OUTPUT.match(line)
        if match:
            stated[number] = match["expected"].split(": ")[0].split()
    return stated


def test_the_python_examples_of_the_docs_are_found():
    assert {"getting_started.rst", "user_guide/checkpoints.rst"} <= set(_PAGES)
    stated = {
        page: [
            words
            for b in _python_blocks(DOCS / page)
            for words in _stated_outputs(b).values()
        ]
        for page in _PAGES
    }
    assert stated["user_guide/checkpoints.rst"] == [["True"]]
    assert stated["user_guide/grid_search.rst"] == [["6"]]


def _recording_print(printed):
    """A ``print`` that also records ``(file, line, text)`` of each call."""

    def recording(*args, sep=" ", end="\n", file=None, flush=False):
        caller = sys._getframe(1)
        text = sep.join(str(arg) for arg in args)
        printed.append((caller.f_code.co_filename, caller.f_lineno, text))
        print(*args, sep=sep, end=end, file=file, flush=flush)

    return recording


@pytest.mark.slow
@pytest.mark.parametrize("page", _PAGES)
def test_the_python_examples_of_a_page_run_as_written(page, tmp_path, monkeypatch):
    """Each page's blocks run in order in one namespace, as a reader would,
    and each commented print prints what its comment says."""
    monkeypatch.chdir(tmp_path)
    printed = []
    namespace = {"__name__": "__docs__", "print": _recording_print(printed)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, block in enumerate(_python_blocks(DOCS / page)):
            filename = f"docs/{page}, block {index + 1}"
            exec(compile(block, filename, "exec"), namespace)
            for number, expected in _stated_outputs(block).items():
                texts = [t for f, n, t in printed if (f, n) == (filename, number)]
                assert texts, f"{filename}, line {number} printed nothing"
                assert texts[-1].split()[: len(expected)] == expected, (
                    f"{filename}, line {number}: printed {texts[-1]!r}, and its "
                    f"comment says {' '.join(expected)!r}"
                )


# --- what part of scikit-learn's test_mlp.py runs ---------------------------

#: Pages that say how much of scikit-learn's test_mlp.py runs against ours.
TEST_MLP_PAGES = [
    "README.md",
    "docs/faq.rst",
    "docs/user_guide/classifier.rst",
    "docs/development.md",
]
_TEST_MLP_CLAIM = re.compile(
    r"(\d+) of its (\d+) test functions \(scikit-learn ([\d.]+)\) run"
    r".{0,60}?(\d+) as written and (\d+)"
    r".{0,700}?\b[Tt]he (\d+) left out"
)


@pytest.mark.parametrize("page", TEST_MLP_PAGES)
def test_a_page_counts_sklearns_test_mlp_as_deselected_does(page):
    """'N of its M test functions (scikit-learn V) run, A as written and D ...
    the K left out' holds: K is tests/test_sklearn_mlp.py's DESELECTED, D its
    DIFFERS, A the rest, and M the installed module's count when scikit-learn V
    is installed."""
    import test_sklearn_mlp as harness  # the installed test_mlp.py, swapped

    installed = [
        name
        for name, function in vars(harness._SKLEARN).items()
        if name.startswith("test_") and inspect.isfunction(function)
    ]
    claims = _TEST_MLP_CLAIM.findall(" ".join((ROOT / page).read_text().split()))
    assert claims, f"{page} no longer says how much of test_mlp.py runs"
    for run, total, version, as_written, differ, left_out in claims:
        said = (
            f"{page} says {run} of {total} run ({as_written} as written, {differ} "
            f"differing), {left_out} left out"
        )
        deselected, differs = len(harness.DESELECTED), len(harness.DIFFERS)
        assert int(left_out) == deselected == int(total) - int(run), (
            f"{said}; DESELECTED in tests/test_sklearn_mlp.py leaves out {deselected}"
        )
        assert int(differ) == differs == int(run) - int(as_written), (
            f"{said}; DIFFERS in tests/test_sklearn_mlp.py names {differs}"
        )
        if version == sklearn.__version__:
            assert int(total) == len(installed), (
                f"{said}; scikit-learn {version}'s test_mlp.py has {len(installed)}"
            )
