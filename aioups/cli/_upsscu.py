"""``aioups-upsscu``: dcm4che ``upsscu``'s own command line, run by aioups.

``upsscu [options] -c <aet>@<host>:<port> [--] [<xml-file>]`` with ``-O <operation>``
(create, update, get, changeState, requestCancel, subscribe, unsubscribe, suspendGlobal,
receive; create when no ``-O`` is given), so existing scripts work by changing the program
name.  The operations are the ``aioups`` sub-commands' (:mod:`._ups_ops`, :mod:`._receive`);
unlike upsscu, a failure status gives a non-zero exit code.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence

import aioups

from . import _receive, _ups_ops
from ._common import configure_logging, execute
from ._scu import add_scu_options
from ._usage import UsageError

Runner = Callable[[argparse.Namespace], Awaitable[int]]

#: upsscu's operation names -> what runs them
OPERATIONS: dict[str, Runner] = {
    "create": _ups_ops.run_create,
    "update": _ups_ops.run_update,
    "get": _ups_ops.run_get,
    "changeState": _ups_ops.run_change_state,
    "requestCancel": _ups_ops.run_request_cancel,
    "subscribe": _ups_ops.run_subscribe,
    "unsubscribe": _ups_ops.run_unsubscribe,
    "suspendGlobal": _ups_ops.run_suspend_global,
    "receive": _receive.run,
}
_NEED_UID = ("update", "get", "changeState", "requestCancel")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aioups-upsscu",
        usage="aioups-upsscu [options] -c <aet>@<host>:<port> [--] [<xml-file>]",
        description="UPS SCU with dcm4che upsscu's options (see upsscu --help); XML, DICOM "
        "JSON or DICOM files are accepted as <xml-file>.")
    p.add_argument("-O", "--operation", choices=tuple(OPERATIONS), default="create",
                   help="create (default), update, get, changeState, requestCancel, "
                   "subscribe, unsubscribe, suspendGlobal or receive")
    p.add_argument("-V", "--version", action="version",
                   version=f"aioups-upsscu {aioups.__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="-v: progress; -vv: every PDU and DIMSE message")
    p.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio",
                   help="event loop to run on (default asyncio)")
    _ups_ops.add_uid(p, required=False)
    _ups_ops.add_data_set_input(p)
    _ups_ops.add_return_keys(p)
    _ups_ops.add_context_choice(p, "pull", "watch")
    _ups_ops.add_subscription_options(p)
    _ups_ops.add_cancel_options(p)
    _ups_ops.add_state_options(p)
    p.add_argument("--status", default="0000", metavar="CODE",
                   help="status of returned N-EVENT-REPORT-RSPs for -O receive (default 0000)")
    p.add_argument("--count", type=int, metavar="N", help="-O receive: stop after N events")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="-O receive: stop after this long")
    add_scu_options(p)
    # upsscu's defaults: calling AE UPSSCU, key store password 'secret'
    p.set_defaults(subscribe=False, file_option=None, bind="UPSSCU", key_store_pass="secret",
                   trust_store_pass="secret", prog="aioups-upsscu")
    return p


def _check(args: argparse.Namespace) -> None:
    operation = args.operation
    if operation in _NEED_UID and not args.upsiuid:
        raise UsageError(f"-O {operation} needs -u <uid>")
    if operation == "changeState" and args.process is None and not (
            args.complete or args.cancel or args.state):
        raise UsageError("-O changeState needs -P, -C or -D <transaction-uid>")
    if operation == "suspendGlobal" and args.upsiuid:
        raise UsageError("-O suspendGlobal: do not give -u")


async def _run(args: argparse.Namespace) -> int:
    _check(args)
    return await OPERATIONS[args.operation](args)


def run_upsscu(argv: Sequence[str] | None = None) -> int:
    """Run ``aioups-upsscu``; returns the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    args.set_keys = list(args.set_keys)
    return execute(_ups_ops.guarded(_run), args, backend=args.backend, name="aioups-upsscu")
