"""The UPS SCU sub-commands: create, update, get, change-state, request-cancel, subscribe,
unsubscribe, suspend-global and find.

Options keep dcm4che ``upsscu``'s spelling (``-u``, ``-s``, ``-r``, ``-P/-C/-D``, ``-p``, ``-w``,
``-l``, ``-m``, ``--filtered-global``, ``--receiving-ae``, ``--reason``...) and dcm4che2
``dcmups``'s for find (``-q``, ``-r``, ``--state``).  Each ``run_*`` takes the parsed options,
so ``aioups-upsscu`` (:mod:`._upsscu`) drives the very same code.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from typing import Any, cast

import aioups
from aioups.dimse import Dataset, generate_uid
from aioups.errors import DIMSEFailure

from ._datasets import (
    DataSetInputError,
    default_create_template,
    find_identifier,
    format_data_set,
    parse_keys,
    parse_tags,
    read_data_set,
    to_json_dict,
)
from ._scu import add_scu_options, call, connect, report, status_text
from ._usage import EXIT_DIMSE, EXIT_OK, UsageError

# -- option groups (shared with aioups-upsscu) -------------------------------------------------


def add_uid(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("-u", "--upsiuid", required=required, metavar="UID",
                   help="the workitem's SOP Instance UID")


def add_data_set_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE",
                   help="data set: Native DICOM Model XML, DICOM JSON or a DICOM file")
    p.add_argument("-f", dest="file_option", metavar="FILE", help="the same as FILE (dcmups)")
    p.add_argument("-s", dest="set_keys", action="append", default=[],
                   metavar="[SEQ.]ATTR=VALUE",
                   help="set an attribute (keyword or hex tag; Seq[i].Attr for item i)")


def add_return_keys(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", dest="return_keys", action="append", default=[], metavar="ATTR",
                   help="return key (keyword or hex tag; repeatable)")


def add_context_choice(p: argparse.ArgumentParser, *choices: str) -> None:
    names = {"pull": ("-p", "--pull", aioups.UPS_PULL), "watch": ("-w", "--watch",
                                                                    aioups.UPS_WATCH),
             "push": ("--push", "--push", aioups.UPS_PUSH),
             "query": ("--query", "--query", aioups.UPS_QUERY)}
    g = p.add_mutually_exclusive_group()
    for choice in choices:
        short, long, uid = names[choice]
        flags = (short, long) if short != long else (long,)
        g.add_argument(*flags, dest="sop_class", action="store_const", const=uid,
                       help=f"use the UPS {choice.title()} SOP class")


def add_subscription_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--receiving-ae", metavar="AET",
                   help="the AE to receive the events (default: our calling AE title)")
    p.add_argument("-l", "--lock", action="store_true", help="ask for a deletion lock")
    p.add_argument("--filtered-global", action="store_true",
                   help="subscribe to the Filtered Global Subscription (with -m keys)")
    p.add_argument("-m", dest="matching_keys", action="append", default=[],
                   metavar="[SEQ.]ATTR=VALUE", help="matching key for --filtered-global")


def add_cancel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", help="Reason For Cancellation")
    p.add_argument("--reason-code", metavar='(VALUE, SCHEME, "MEANING")',
                   help="Procedure Step Discontinuation Reason Code")
    p.add_argument("--contact", metavar="NAME", help="Contact Display Name")
    p.add_argument("--contact-uri", metavar="URI", help="Contact URI")


def add_state_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-P", "--process", nargs="?", const="", metavar="TRANSACTION-UID",
                   help="change to IN PROGRESS (claim); without a UID a new one is made")
    g.add_argument("-C", "--complete", metavar="TRANSACTION-UID", help="change to COMPLETED")
    g.add_argument("-D", "--cancel", metavar="TRANSACTION-UID", help="change to CANCELED")
    g.add_argument("--state", choices=("IN PROGRESS", "COMPLETED", "CANCELED"),
                   type=str.upper, help="the new state (with --tuid; dcmups)")
    p.add_argument("--tuid", metavar="UID", help="Transaction UID (with --state; dcmups)")


# -- data sets from the options ----------------------------------------------------------------


def data_set_from(args: argparse.Namespace, default: Callable[[], Dataset] | None) -> Dataset:
    """The file (or ``default``), with ``-s`` keys applied on top."""
    path = getattr(args, "file_option", None) or args.file
    if path:
        data_set = read_data_set(path)
    elif default is not None:
        data_set = default()
    else:
        data_set = Dataset()
    return parse_keys(args.set_keys, into=data_set) if args.set_keys else data_set


def reason_code(text: str) -> Dataset:
    """``(CodeValue, CodingSchemeDesignator, "CodeMeaning")`` (upsscu ``--reason-code``)."""
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    fields = next(csv.reader([inner], skipinitialspace=True), [])
    if len(fields) != 3 or not all(f.strip() for f in fields):
        raise UsageError(f'--reason-code expects (VALUE, SCHEME, "MEANING"), got {text!r}')
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = (f.strip() for f in fields)
    return item


def _contexts(args: argparse.Namespace, *operations: str) -> dict[str, str] | None:
    chosen = getattr(args, "sop_class", None)
    return dict.fromkeys(operations, chosen) if chosen else None


# -- the operations ----------------------------------------------------------------------------


async def run_create(args: argparse.Namespace) -> int:
    data_set = data_set_from(args, default_create_template)
    async with connect(args) as client:
        return await call(args, "N-CREATE", client.create(data_set, args.upsiuid))


async def run_update(args: argparse.Namespace) -> int:
    data_set = data_set_from(args, None)
    if not len(data_set) and not args.tuid:
        raise UsageError("nothing to update: give a FILE or -s ATTR=VALUE")
    async with connect(args) as client:
        return await call(args, "N-SET", client.set(args.upsiuid, data_set, args.tuid))


async def run_get(args: argparse.Namespace) -> int:
    attributes = list(parse_tags(args.return_keys)) or None
    async with connect(args, contexts=_contexts(args, "get")) as client:
        return await call(args, "N-GET", client.get(args.upsiuid, attributes))


def _target_state(args: argparse.Namespace) -> tuple[str, str]:
    if args.process is not None:
        return "IN PROGRESS", args.process or generate_uid()
    if args.complete:
        return "COMPLETED", args.complete
    if args.cancel:
        return "CANCELED", args.cancel
    if args.state and args.tuid:
        return args.state, args.tuid
    if args.state == "IN PROGRESS":
        return args.state, generate_uid()
    raise UsageError("give -P [TRANSACTION-UID], -C TRANSACTION-UID or -D TRANSACTION-UID")


async def run_change_state(args: argparse.Namespace) -> int:
    state, tuid = _target_state(args)
    async with connect(args) as client:
        return await call(args, f"N-ACTION change state to {state}",
                          client.change_state(args.upsiuid, state, tuid),
                          extra={"transaction_uid": tuid})


async def run_request_cancel(args: argparse.Namespace) -> int:
    code = reason_code(args.reason_code) if args.reason_code else None
    async with connect(args, contexts=_contexts(args, "request_cancel")) as client:
        return await call(args, "N-ACTION request cancel", client.request_cancel(
            args.upsiuid, reason=args.reason, reason_code=code, contact_uri=args.contact_uri,
            contact_name=args.contact))


async def run_subscribe(args: argparse.Namespace) -> int:
    keys: Dataset | None = None
    if args.filtered_global or args.matching_keys:
        if args.upsiuid:
            raise UsageError("--filtered-global and -m subscribe globally: drop -u")
        if not args.filtered_global or not args.matching_keys:
            raise UsageError("--filtered-global needs -m keys, and -m needs --filtered-global")
        keys = parse_keys(args.matching_keys)
    async with connect(args) as client:
        return await call(args, "N-ACTION subscribe", client.subscribe(
            args.upsiuid, receiving_ae=args.receiving_ae, deletion_lock=args.lock,
            matching_keys=keys))


async def run_unsubscribe(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        return await call(args, "N-ACTION unsubscribe", client.unsubscribe(
            args.upsiuid, receiving_ae=args.receiving_ae))


async def run_suspend_global(args: argparse.Namespace) -> int:
    if getattr(args, "upsiuid", None):
        raise UsageError("suspend-global applies to the global subscription: drop -u")
    async with connect(args) as client:
        return await call(args, "N-ACTION suspend global",
                          client.suspend_global(receiving_ae=args.receiving_ae))


_PRIORITIES = {"LOW": 2, "MEDIUM": 0, "NORMAL": 0, "HIGH": 1}


async def run_find(args: argparse.Namespace) -> int:
    identifier = find_identifier(parse_keys(args.query_keys) if args.query_keys else None,
                                 args.return_keys, args.state, args.priority)
    count = 0
    async with connect(args, contexts=_contexts(args, "find")) as client:
        try:
            async with client.find(identifier, priority=_PRIORITIES[args.find_priority]) as res:
                async for match in res:
                    count += 1
                    _print_match(args, count, match.data_set or Dataset())
                final = res.final
        except DIMSEFailure as failure:
            return report(args, "C-FIND", cast(aioups.DIMSEResponse, failure.response))
    if not args.json:
        text = status_text(final.status) if final is not None else "no final response"
        print(f"C-FIND: {count} match(es), {text}")
    return EXIT_OK if final is None or final.category is not \
        aioups.StatusCategory.FAILURE else EXIT_DIMSE


def _print_match(args: argparse.Namespace, number: int, data_set: Dataset) -> None:
    if args.json:
        print(json.dumps(to_json_dict(data_set)), flush=True)
    else:
        print(f"match {number}:")
        print(format_data_set(data_set), flush=True)


# -- the parsers -------------------------------------------------------------------------------


_Adder = Callable[[argparse.ArgumentParser], object]
COMMANDS: dict[str, tuple[str, Any, tuple[_Adder, ...]]] = {
    "create": ("N-CREATE a workitem (default template unless FILE or -s)", run_create,
               (lambda p: add_uid(p, required=False), add_data_set_input)),
    "update": ("N-SET a workitem", run_update,
               (lambda p: add_uid(p, required=True), add_data_set_input,
                lambda p: p.add_argument("--tuid", metavar="UID",
                                         help="Transaction UID (for an IN PROGRESS workitem)"))),
    "get": ("N-GET a workitem", run_get,
            (lambda p: add_uid(p, required=True), add_return_keys,
             lambda p: add_context_choice(p, "pull", "watch"))),
    "change-state": ("N-ACTION Change UPS State", run_change_state,
                     (lambda p: add_uid(p, required=True), add_state_options)),
    "request-cancel": ("N-ACTION Request UPS Cancel", run_request_cancel,
                       (lambda p: add_uid(p, required=True), add_cancel_options,
                        lambda p: add_context_choice(p, "watch"))),
    "subscribe": ("N-ACTION Subscribe (one workitem with -u, else global)", run_subscribe,
                  (lambda p: add_uid(p, required=False), add_subscription_options)),
    "unsubscribe": ("N-ACTION Unsubscribe (one workitem with -u, else global)",
                    run_unsubscribe,
                    (lambda p: add_uid(p, required=False),
                     lambda p: p.add_argument("--receiving-ae", metavar="AET"))),
    "suspend-global": ("N-ACTION Suspend Global Subscription", run_suspend_global,
                       (lambda p: p.add_argument("--receiving-ae", metavar="AET"),)),
    "find": ("C-FIND workitems", run_find, (
        lambda p: p.add_argument("-q", dest="query_keys", action="append", default=[],
                                 metavar="[SEQ.]ATTR=VALUE", help="matching key"),
        add_return_keys,
        lambda p: p.add_argument("--state", type=str.upper,
                                 choices=("SCHEDULED", "IN PROGRESS", "COMPLETED", "CANCELED"),
                                 help="match this Procedure Step State"),
        lambda p: p.add_argument("--priority", type=str.upper, choices=("LOW", "MEDIUM", "HIGH"),
                                 help="match this Scheduled Procedure Step Priority"),
        lambda p: p.add_argument("--find-priority", "--findprior", type=str.upper,
                                 default="MEDIUM", choices=tuple(_PRIORITIES),
                                 help="priority of the C-FIND request (default MEDIUM)"),
        lambda p: add_context_choice(p, "pull", "watch", "query"))),
}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, (summary, runner, adders) in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary + ".")
        for add in adders:
            add(p)
        add_scu_options(p)
        p.set_defaults(run=guarded(runner))


def guarded(runner: Callable[[argparse.Namespace], Any]) -> Callable[..., Any]:
    """Bad data set input is a usage error (one line, exit 2)."""
    async def run(args: argparse.Namespace) -> int:
        try:
            return int(await runner(args))
        except DataSetInputError as exc:
            raise UsageError(str(exc)) from None
    return run
