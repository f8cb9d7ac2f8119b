"""What every UPS SCU sub-command shares: upsscu's association options, opening a
:class:`aioups.UPSClient`, and printing a response (readable, or DICOM JSON with ``--json``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioups
import aioups.dimse
from aioups.errors import DIMSEFailure
from aioups.pdu import UserIdentityRQ, UserIdentityType

from ._common import (
    Address,
    UsageError,
    add_connection_options,
    parse_address,
    socket_options_from,
    ssl_context_from,
    timeouts_from,
)
from ._datasets import format_data_set, to_json_dict
from ._usage import EXIT_DIMSE, EXIT_OK

#: --explicit-vr / --big-endian / --implicit-vr -> proposed transfer syntaxes (upsscu order)
TRANSFER_SYNTAXES = {
    None: (aioups.IMPLICIT_VR_LITTLE_ENDIAN, aioups.EXPLICIT_VR_LITTLE_ENDIAN,
           aioups.EXPLICIT_VR_BIG_ENDIAN),
    "explicit": (aioups.EXPLICIT_VR_LITTLE_ENDIAN, aioups.IMPLICIT_VR_LITTLE_ENDIAN,
                 aioups.EXPLICIT_VR_BIG_ENDIAN),
    "big": (aioups.EXPLICIT_VR_BIG_ENDIAN, aioups.EXPLICIT_VR_LITTLE_ENDIAN,
            aioups.IMPLICIT_VR_LITTLE_ENDIAN),
    "implicit": (aioups.IMPLICIT_VR_LITTLE_ENDIAN,),
}


def add_scu_options(parser: argparse.ArgumentParser, *, connect_required: bool = True) -> None:
    """``-c``/``-b``, transfer syntaxes, operations window, user identity, proxy, output, and
    the connection options."""
    parser.add_argument("-c", "--connect", required=connect_required, metavar="AET@HOST:PORT",
                        help="called AE title and address of the UPS SCP")
    parser.add_argument("-b", "--bind", default="AIOUPS", metavar="AET[@IP][:PORT]",
                        help="our AE title, local address and (receive) listening port; "
                        "default AIOUPS")
    parser.add_argument("--json", action="store_true",
                        help="print DICOM JSON (one object per response, match or event)")
    g = parser.add_argument_group("association")
    ts = g.add_mutually_exclusive_group()
    ts.add_argument("--explicit-vr", dest="transfer_syntax", action="store_const",
                    const="explicit", help="propose all uncompressed TS, explicit VR LE first")
    ts.add_argument("--big-endian", dest="transfer_syntax", action="store_const",
                    const="big", help="propose all uncompressed TS, explicit VR BE first")
    ts.add_argument("--implicit-vr", dest="transfer_syntax", action="store_const",
                    const="implicit", help="propose only implicit VR little endian")
    g.add_argument("--max-ops-invoked", type=int, default=1, metavar="N",
                   help="operations we may invoke asynchronously (default 1; 0 = unlimited)")
    g.add_argument("--max-ops-performed", type=int, default=1, metavar="N",
                   help="operations we may perform asynchronously (default 1; 0 = unlimited)")
    g.add_argument("--not-async", action="store_true",
                   help="do not negotiate asynchronous operations (both windows 1)")
    g.add_argument("--not-pack-pdv", action="store_true",
                   help="send only one PDV per P-DATA-TF PDU")
    g.add_argument("--proxy", metavar="[USER:PASSWORD@]HOST:PORT",
                   help="tunnel through this HTTP proxy (CONNECT)")
    u = parser.add_argument_group("user identity")
    u.add_argument("--user", metavar="NAME", help="negotiate user identity with this name")
    u.add_argument("--user-pass", metavar="PASSWORD", help="... and this password")
    u.add_argument("--user-jwt", metavar="TOKEN", help="negotiate with a JSON Web Token")
    u.add_argument("--user-saml", metavar="ASSERTION", help="negotiate with a SAML assertion")
    u.add_argument("--user-rsp", action="store_true",
                   help="ask for a positive user identity response")
    add_connection_options(parser)


def user_identity_from(args: argparse.Namespace) -> UserIdentityRQ | None:
    """The 58H sub-item the user identity options ask for."""
    given = [name for name in ("user", "user_jwt", "user_saml") if getattr(args, name)]
    if len(given) > 1:
        raise UsageError("give only one of --user, --user-jwt, --user-saml")
    if args.user_pass and not args.user:
        raise UsageError("--user-pass needs --user")
    if not given:
        if args.user_rsp:
            raise UsageError("--user-rsp needs --user, --user-jwt or --user-saml")
        return None
    if args.user:
        kind = UserIdentityType.USERNAME_AND_PASSCODE if args.user_pass \
            else UserIdentityType.USERNAME
        return UserIdentityRQ(identity_type=kind, positive_response_requested=args.user_rsp,
                              primary=args.user.encode(),
                              secondary=(args.user_pass or "").encode())
    kind = UserIdentityType.JWT if args.user_jwt else UserIdentityType.SAML
    return UserIdentityRQ(identity_type=kind, positive_response_requested=args.user_rsp,
                          primary=(args.user_jwt or args.user_saml).encode())


def addresses(args: argparse.Namespace) -> tuple[Address, Address]:
    """(remote ``-c``, local ``-b``)."""
    remote = parse_address(args.connect, need_host=True)
    return remote, parse_address(args.bind, need_host=False)


def _window(value: int) -> int:
    if value < 0:
        raise UsageError("--max-ops-invoked/--max-ops-performed must not be negative")
    return value


@asynccontextmanager
async def connect(args: argparse.Namespace, *, contexts: dict[str, str] | None = None,
                  events: aioups.EventReceiver | None = None) -> AsyncIterator[aioups.UPSClient]:
    """A UPSClient on an association the options describe."""
    remote, local = addresses(args)
    assert remote.host is not None and remote.port is not None
    invoked = 1 if args.not_async else _window(args.max_ops_invoked)
    performed = 1 if args.not_async else _window(args.max_ops_performed)
    async with aioups.UPSClient.connect(
            remote.host, remote.port, called_ae_title=remote.ae_title,
            calling_ae_title=local.ae_title, local_host=local.host, events=events,
            transfer_syntaxes=TRANSFER_SYNTAXES[args.transfer_syntax], contexts=contexts,
            max_operations_invoked=invoked, max_operations_performed=performed,
            max_pdu_length=args.max_pdulen_rcv, max_send_pdu_length=args.max_pdulen_snd,
            pack_pdv=not args.not_pack_pdv, user_identity=user_identity_from(args),
            ssl_context=ssl_context_from(args, server=False), timeouts=timeouts_from(args),
            socket_options=socket_options_from(args), proxy=args.proxy) as client:
        yield client


# -- output ------------------------------------------------------------------------------------


def status_text(status: int) -> str:
    """``"C302H UPS_ALREADY_IN_PROGRESS (failure)"``: hex, then the status in words."""
    try:
        name = aioups.Status(status).name
    except ValueError:
        name = "status"
    return f"{status:04X}H {name} ({aioups.dimse.status_category(status).value})"


def report(args: argparse.Namespace, operation: str, response: aioups.DIMSEResponse,
           *, extra: dict[str, Any] | None = None) -> int:
    """Print one response; the exit code its status means (failure: 5)."""
    failed = response.category is aioups.StatusCategory.FAILURE
    data_set = response.data_set if response.data_set_bytes else None
    if args.json:
        out: dict[str, Any] = {"operation": operation, "status": f"{response.status:04X}",
                               "status_text": status_text(response.status),
                               "sop_instance_uid": response.affected_sop_instance_uid}
        if response.error_comment:
            out["error_comment"] = response.error_comment
        out.update(extra or {})
        if data_set is not None:
            out["data_set"] = to_json_dict(data_set)
        print(json.dumps(out), flush=True)
    else:
        line = f"{operation} {response.affected_sop_instance_uid or ''}".rstrip()
        print(f"{line}: {status_text(response.status)}", flush=True)
        if response.error_comment:
            print(f"  error comment: {response.error_comment}")
        for key, value in (extra or {}).items():
            print(f"  {key.replace('_', ' ')}: {value}")
        if data_set is not None:
            print(format_data_set(data_set))
    if failed:
        print(f"{getattr(args, 'prog', 'aioups')}: {operation} failed: "
              f"{status_text(response.status)}",
              file=sys.stderr)
    return EXIT_DIMSE if failed else EXIT_OK


async def call(args: argparse.Namespace, operation: str, coroutine: Any,
               *, extra: dict[str, Any] | None = None) -> int:
    """Await a UPSClient call and report its response, failure statuses included."""
    try:
        response = await coroutine
    except DIMSEFailure as failure:
        response = failure.response
    return report(args, operation, response, extra=extra)

