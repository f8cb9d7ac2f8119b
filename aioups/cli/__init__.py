"""The ``aioups`` command line.  Uses the public API only (``aioups``, ``aioups.errors``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import _demo, _echo, _load, _monitor, _receive, _serve, _ups_ops, _upsscu
from ._common import configure_logging, execute

__all__ = ["main", "upsscu_main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="aioups", description="Async DICOM UPS toolkit.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: progress; -vv: every PDU and DIMSE message")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio",
                        help="event loop to run on (default asyncio)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _ups_ops.add_parsers(sub)
    for module in (_receive, _load, _monitor, _echo, _serve, _demo):
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
    return execute(args.run, args, backend=args.backend, name=f"aioups {args.command}")


def upsscu_main(argv: Sequence[str] | None = None) -> int:
    """``aioups-upsscu``: dcm4che upsscu's command line, run by aioups."""
    return _upsscu.run_upsscu(argv)
