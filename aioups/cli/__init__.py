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


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(anyio.run(args.run, args, backend=args.backend))
    except BaseException as exc:  # every outcome becomes one line and an exit code
        leaves = _leaves(exc)  # trio wraps errors raised inside task groups
        if all(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            return 130
        if len(leaves) != 1:
            raise
        error = leaves[0]
        if isinstance(error, UsageError):
            print(f"aioups {args.command}: {error}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(error, AioupsError):
            print(f"aioups {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
            return exit_code_for(error)
        raise
