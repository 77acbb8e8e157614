"""``skdigits serve``: the page that reads the digit you draw, until Ctrl-C."""

import argparse
import importlib.util
from pathlib import Path

from skdigits.cli._common import _int, _load_model, add_model_argument

NAME = "serve"
BUNDLED = "the bundled model (mnist_default.skops)"


def _port(text):
    return _int(text, 0, "a port number 0-65535 (0: any free port)", 65535)


def _workers(text):
    return _int(text, 0, "a number of worker processes, 0 or more")


def _host_name(text):
    from skdigits.serve._limits import check_host_name

    try:
        return check_host_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(subparsers):
    """Add ``serve`` and its options to ``subparsers``; return its parser."""
    from skdigits.serve import DEFAULT_HOST, DEFAULT_PORT, MAX_DEFAULT_WORKERS

    cmd = subparsers.add_parser(
        NAME,
        help="a local page that reads the digit you draw "
        '(needs Pillow and skops: pip install "skdigits[serve]")',
    )
    add_model_argument(cmd)
    cmd.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: %(default)s, this machine only; "
        "0.0.0.0 lets anyone on the network use the page)",
    )
    cmd.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help="port (default: %(default)s; 0 picks a free one)",
    )
    cmd.add_argument(
        "--allow-host",
        dest="allow_hosts",
        action="append",
        type=_host_name,
        default=[],
        metavar="NAME",
        help="a host name the page may be opened under, besides localhost, "
        "loopback addresses and --host (repeat for more); requests naming any "
        "other host get a 403, against DNS rebinding",
    )
    cmd.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="processes that read and classify the images, so that concurrent "
        "requests use several cores (default: one per core, at most "
        f"{MAX_DEFAULT_WORKERS}; 0: all in the server's process)",
    )
    cmd.set_defaults(run=run)
    return cmd


def _require_serve_extra(model_path):
    """ImportError naming the ``serve`` extra when Pillow, or skops for a
    ``.skops`` model (the bundled one included), is missing."""
    needed = ["PIL"]
    if model_path is None or str(model_path).endswith(".skops"):
        needed.append("skops")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        names = " and ".join("Pillow" if name == "PIL" else name for name in missing)
        raise ImportError(
            f'skdigits serve needs {names}: pip install "skdigits[serve]"'
        )


def run(args):
    """``skdigits serve``: load the model once, serve the page until Ctrl-C."""
    from skdigits.serve import default_workers, serve

    _require_serve_extra(args.model)  # before loading the model, not after
    model = _load_model(args.model, proba=True)
    workers = default_workers() if args.workers is None else args.workers
    serve(
        model,
        args.host,
        args.port,
        # the file's name: a client has no use for the server's directories
        model_name=Path(args.model).name if args.model else BUNDLED,
        workers=workers,
        allow_hosts=args.allow_hosts,
    )
