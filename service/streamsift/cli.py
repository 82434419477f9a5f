"""The ``streamsift`` command line.

Each subcommand lives in its own module under :mod:`streamsift.commands` and exposes
``register(subparsers)``; modules are imported lazily so ``streamsift --help`` stays fast
and a command's heavy imports (faust, matplotlib) load only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streamsift import __version__
from streamsift.errors import StreamsiftError

__all__ = ["main"]

#: Subcommand modules, in help order.
COMMANDS: tuple[str, ...] = (
    "worker",
    "produce_synthetic",
    "label_sim",
    "simulate",
    "compare",
    "cost_model",
    "quality_report",
    "bench",
    "demo",
    "schemas",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="streamsift",
        description="Continuous production sampling: choose which inference events to label next.",
    )
    parser.add_argument("--version", action="version", version=f"streamsift {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"streamsift.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"streamsift.commands.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamsift`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except StreamsiftError as err:
        print(f"streamsift {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"streamsift {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
