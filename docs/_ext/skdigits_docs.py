"""Pages generated from the code, so the docs cannot drift from it.

* The command-line reference: one page per ``skdigits`` command, rendered from
  the argparse parser that :func:`skdigits.cli.build_parser` builds (usage,
  description, every option with its help and default), written to
  ``cli/generated/`` with the ``skdigits-command`` directive.
* The API reference: one autosummary page per public module, listing every name
  of the module's ``__all__``, written to ``api/generated/``. A module that
  cannot be imported, or a name of ``__all__`` that is missing, stops the build
  with an error naming it.

The pages are written at ``config-inited``, before Sphinx looks for source
files, and only when their text changes. No network, no dependency beyond
Sphinx and docutils.
"""

import argparse
import importlib
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx.errors import ExtensionError

USAGE_WIDTH = 88


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _title(text, char):
    return f"{text}\n{char * len(text)}\n"


# --- the command line ----------------------------------------------------------


def _subparsers():
    """``{name: (subparser, one-line help)}`` in the order of ``skdigits --help``."""
    from skdigits.cli import build_parser

    parser = build_parser()
    (action,) = [
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ]
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    return parser, {
        name: (sub, helps.get(name, "")) for name, sub in action.choices.items()
    }


def _formatter(parser):
    return argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)


def _usage(parser):
    formatter = _formatter(parser)
    formatter.add_usage(
        parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix=""
    )
    return formatter.format_help().strip()


def _invocation(action, formatter):
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = formatter._format_args(action, action.dest.upper())
    return ", ".join(f"{option} {metavar}" for option in action.option_strings)


def _option_list(actions, parser):
    formatter = _formatter(parser)
    items = nodes.definition_list()
    for action in actions:
        if action.help == argparse.SUPPRESS:
            continue
        help_text = formatter._expand_help(action) if action.help else ""
        if action.required:
            help_text += " (required)"
        term = nodes.term("", "", nodes.literal(text=_invocation(action, formatter)))
        body = nodes.definition("", nodes.paragraph(text=" ".join(help_text.split())))
        items += nodes.definition_list_item("", term, body)
    return items


class CommandDirective(Directive):
    """``.. skdigits-command:: NAME``: usage and options of one command
    (``skdigits`` for the top-level parser)."""

    required_arguments = 1
    has_content = False
    option_spec = {"summary": directives.flag}

    def run(self):
        name = self.arguments[0]
        top, subs = _subparsers()
        if name == "skdigits":
            parser, summary = top, top.description
        elif name in subs:
            parser, summary = subs[name]
        else:
            raise self.error(
                f"skdigits has no command {name!r}; the commands are " + ", ".join(subs)
            )
        result = []
        if summary:
            result.append(nodes.paragraph(text=summary[0].upper() + summary[1:] + "."))
        result.append(nodes.literal_block(text=_usage(parser), language="text"))
        if parser.description and parser.description != summary:
            result.append(nodes.paragraph(text=parser.description))
        for group in parser._action_groups:
            actions = [a for a in group._group_actions if a.help != argparse.SUPPRESS]
            if name == "skdigits":
                actions = [
                    a for a in actions if not isinstance(a, argparse._SubParsersAction)
                ]
            if not actions:
                continue
            result.append(nodes.rubric(text=group.title.capitalize()))
            if group.description:
                result.append(nodes.paragraph(text=group.description))
            result.append(_option_list(actions, parser))
        return result


def write_cli_pages(srcdir):
    """``cli/generated/<command>.rst`` for every command, and the toctree of them."""
    _, subs = _subparsers()
    out = Path(srcdir) / "cli" / "generated"
    toctree = [".. toctree::", "   :maxdepth: 1", ""]
    for name in subs:
        _write(
            out / f"{name}.rst",
            f".. _cli-{name}:\n\n"
            + _title(f"skdigits {name}", "=")
            + f"\n.. skdigits-command:: {name}\n",
        )
        toctree.append(f"   generated/{name}")
    _write(out / "toctree.inc", "\n".join(toctree) + "\n")


# --- the API reference -----------------------------------------------------------


def _public_names(module_name):
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExtensionError(
            f"api_modules lists {module_name}, which cannot be imported ({exc}); "
            "remove it from api_modules in docs/conf.py or fix the import"
        ) from exc
    names = getattr(module, "__all__", None)
    if not names:
        raise ExtensionError(f"{module_name} has no __all__: list its public names")
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        raise ExtensionError(
            f"{module_name}.__all__ lists {', '.join(missing)}, which the module "
            "does not define"
        )
    return [name for name in names if not name.startswith("__")], module


def write_api_pages(srcdir, modules):
    """``api/generated/<module>.rst``: the module's docstring summary and an
    autosummary of every name in its ``__all__``."""
    out = Path(srcdir) / "api" / "generated"
    toctree = [".. toctree::", "   :maxdepth: 2", ""]
    for module_name in modules:
        names, module = _public_names(module_name)
        lines = [
            _title(module_name, "="),
            f".. automodule:: {module_name}",
            "   :no-members:",
            "   :no-index:",
            "",
            f".. currentmodule:: {module_name}",
            "",
        ]
        for kind, title in (("function", "Functions"), ("class", "Classes")):
            chosen = [n for n in names if _kind(getattr(module, n)) == kind]
            if chosen:
                lines += [
                    _title(title, "-"),
                    ".. autosummary::",
                    "   :toctree: objects/",
                    f"   :template: {kind}.rst",
                    "",
                ]
                lines += [f"   {name}" for name in chosen] + [""]
        data = [n for n in names if _kind(getattr(module, n)) == "data"]
        if data:
            lines += [_title("Constants", "-")]
            for name in data:
                value = getattr(module, name)
                shown = repr(value)
                if isinstance(value, dict):
                    shown = "a dict with the keys " + ", ".join(map(repr, value))
                lines += [f".. py:data:: {name}", f"   :value: {shown}", ""]
        _write(out / f"{module_name}.rst", "\n".join(lines))
        toctree.append(f"   generated/{module_name}")
    _write(out / "toctree.inc", "\n".join(toctree) + "\n")


def _kind(obj):
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _skip_sklearn_member(app, what, name, obj, skip, options):
    """Leave out the members a class inherits from scikit-learn's mixins
    (``set_fit_request``, ``get_metadata_routing``, ...): they are
    scikit-learn's, documented there, and their docstrings point into its docs."""
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] == "sklearn":
        return True
    return skip


def _offline_term(app, env, node, contnode):
    """A ``:term:`` of scikit-learn's glossary (``fit``, ...) in a docstring is shown
    as plain text: the build fetches no other project's inventory."""
    if node.get("refdomain") == "std" and node.get("reftype") == "term":
        return contnode
    return None


def _on_config_inited(app, config):
    write_cli_pages(app.srcdir)
    write_api_pages(app.srcdir, config.api_modules)


def setup(app):
    app.add_config_value("api_modules", [], "env")
    app.add_directive("skdigits-command", CommandDirective)
    app.connect("config-inited", _on_config_inited)
    app.connect("autodoc-skip-member", _skip_sklearn_member)
    app.connect("missing-reference", _offline_term)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
