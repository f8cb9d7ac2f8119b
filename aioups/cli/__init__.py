"""The ``aioups`` command line.  Uses the public API only (``aioups``, ``aioups.errors``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from aioups.errors import AioupsError

from . import _demo, _echo, _serve
from ._common import EXIT_USAGE, UsageError, configure_logging, exit_code_for

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="aioups", description="Async DICOM UPS toolkit.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: progress; -vv: every PDU and DIMSE message")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio",
                        help="event loop to run on (default asyncio)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (_echo, _serve, _demo):
        module.add_parser(sub)
    for sub_parser in sub.choices.values():  # -v also after the sub-command
        sub_parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                help="-v: progress; -vv: every PDU and DIMSE message")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(anyio.run(args.run, args, backend=args.backend))
    except UsageError as exc:
        print(f"aioups {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AioupsError as exc:
        print(f"aioups {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        return 130
