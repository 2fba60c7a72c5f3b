"""The `seqfm` command line: one verb per module in ``seqfm.commands``.

Each command module defines ``HELP`` (one line), ``ORDER`` (its place in
``seqfm --help``), ``add_arguments(parser)`` and ``run(args)``. Command modules
import the library lazily inside ``run`` so that ``seqfm --help`` stays fast.

Bad input (``InputError``), and a path the file system refuses (an ``OSError`` naming
it), is printed as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from . import __version__, commands
from .errors import InputError
from .numba_cache import use_numba_cache


def _command_modules():
    mods = [importlib.import_module(f"seqfm.commands.{m.name}")
            for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    return sorted(mods, key=lambda m: (m.ORDER, m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqfm",
        description="CNN motif discovery for DNA and protein: prepare and encode sequences with "
                    "conservation, train 1D CNN motif detectors, call binding sites, extract and "
                    "annotate motifs, scan genomes and write a motif report.",
    )
    parser.add_argument("--version", action="version", version=f"seqfm {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for mod in _command_modules():
        verb = mod.__name__.rsplit(".", 1)[1].replace("_", "-")
        p = sub.add_parser(verb, help=mod.HELP, description=mod.__doc__,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--log", metavar="FILE", help="also write the log to FILE")
        p.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _setup_logging(args) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if getattr(args, "log", None):
        handlers.append(logging.FileHandler(args.log, mode="a"))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s seqfm %(levelname)s %(message)s",
                        datefmt="%H:%M:%S", handlers=handlers, force=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args)
    use_numba_cache()  # every command's compiled kernels in one persistent place
    try:
        args._run(args)
    except InputError as err:
        msg = f"seqfm {args.verb}: error: {err}"
        logging.getLogger("seqfm").debug(msg)
        print(msg, file=sys.stderr)
        return 2
    except OSError as err:
        if err.filename is None:
            raise
        # the file system refused (no space, no permission, a folder where a file was
        # expected): one line naming the path, as for bad input
        msg = f"seqfm {args.verb}: error: {err.filename}: {err.strerror or err}"
        print(msg, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seqfm {args.verb}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
