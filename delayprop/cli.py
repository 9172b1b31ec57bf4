"""Command-line interface: ``delayprop <command> ...``.

Each subpackage that offers commands has a private ``_cli.py`` with a
``register(subparsers)`` function; this module discovers them, so adding a command never
means editing this file. Handlers are thin calls into the library. Failures exit non-zero
with the message; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import delayprop
from delayprop.errors import DelaypropError

__all__ = ["main", "build_parser"]


def _command_modules():
    """Yield the ``_cli`` modules of delayprop's subpackages, in a stable order."""
    for info in sorted(pkgutil.iter_modules(delayprop.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        name = f"delayprop.{info.name}._cli"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:      # the _cli module exists but an import inside it failed
                raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="delayprop",
        description="Train spiking networks with learnable delays and sparse structure.")
    parser.add_argument("--version", action="version", version=delayprop.__version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on error")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in _command_modules():
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)   # recorded by runs
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = args.handler(args)
    except (DelaypropError, OSError) as err:
        if args.debug:
            raise
        if isinstance(err, OSError) and not isinstance(err, DelaypropError):
            # one that no handler turned into a StorageError: name the file and the cause
            from delayprop.storage import describe_os_error
            where = f" {err.filename}" if err.filename else ""
            err = f"cannot access{where}: {describe_os_error(err)}"
        print(f"delayprop {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"delayprop {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
