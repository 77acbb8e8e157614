"""Sphinx configuration of the skdigits documentation.

Build (offline, warnings as errors), from the repository root:

    pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html

``-D plot_gallery=0`` skips running the gallery's examples (quicker, no figures).
"""

import os
import sys
from pathlib import Path

import skdigits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "skdigits"
author = "the skdigits developers"
copyright = f"2026, {author}"
release = skdigits.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "skdigits_docs",
]

# Every public module: its __all__ becomes the API reference (docs/_ext). A module
# listed here that cannot be imported stops the build.
api_modules = [
    "skdigits",
    "skdigits.datasets",
    "skdigits.preprocessing",
    "skdigits.augment",
    "skdigits.serve",
    "skdigits.model_selection",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**/toctree.inc",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
    "auto_examples/**/*.ipynb",
    "auto_examples/**/*.py",
    "auto_examples/**/*.zip",
    "auto_examples/**/*.md5",
    "auto_examples/**/*.codeobj.json",
]
default_role = "literal"
# "--train" stays two hyphens (no smart dashes in command lines)
smartquotes = False
nitpicky = False

# autodoc / autosummary / numpydoc
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

# sphinx-gallery: the examples are executed, their figures shown.
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": "/plot_",
    # only the plot_*.py stories belong to the gallery (matched on the file name)
    "ignore_pattern": r"^(?!plot_).*\.py$",
    "subsection_order": ["../examples/tutorials"],
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "api/generated/backreferences",
    "doc_module": ("skdigits",),
    "reference_url": {"skdigits": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
}

# No network: nothing is fetched while building (no intersphinx, no remote images).
html_theme = "pydata_sphinx_theme"
html_title = f"skdigits {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
# Pages without sub-pages need no left column: their wide tables get the room.
html_sidebars = {
    page: []
    for page in (
        "index",
        "getting_started",
        "tutorials",
        "benchmarks",
        "faq",
        "changelog",
        "development",
    )
}

myst_heading_anchors = 3
suppress_warnings = ["myst.header"]
