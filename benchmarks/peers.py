"""Processes for the benchmarks, one role each, so no two peers share a GIL.

    python benchmarks/peers.py server aioups|pynetdicom [BACKEND]
        prints ``PORT <n>`` once it listens on 127.0.0.1, then serves until killed: C-ECHO,
        and N-CREATE / N-GET of UPS workitems kept as received (``bench_dimse.py``).
    python benchmarks/peers.py echo aioups|pynetdicom PORT ASSOCIATIONS PER_ASSOCIATION [BACKEND]
        opens the associations, then times the C-ECHOs; prints ``RATE <echoes/s> FAILED <n>``.
    python benchmarks/peers.py n-create|n-get aioups|pynetdicom PORT OPERATIONS OUTSTANDING
                                                                                    [BACKEND]
        one association, OUTSTANDING requests in flight; prints ``RATE <ops/s> FAILED <n>``.

Roles added for ``bench_all.py`` (issue #6):

    python benchmarks/peers.py ups-server aioups|pynetdicom STORE [BACKEND] [RX_PORT SUBSCRIBERS]
        a UPS SCP: aioups ``UPSService`` or the small pynetdicom UPS SCP (``PynetdicomUPS`` in
        ``_peers_pynetdicom.py``).  STORE is ``memory`` or ``sqlite:FULL|NORMAL:PATH``.  With
        RX_PORT, the AE titles SUB00001 ... SUB<SUBSCRIBERS> are known and all reached at
        127.0.0.1:RX_PORT (event fan-out).
    python benchmarks/peers.py ups-create aioups|pynetdicom PORT ASSOCIATIONS PER [BACKEND]
        N-CREATE of UPS workitems (new UID each), one outstanding per association.
    python benchmarks/peers.py hold PORT COUNT [CONCURRENCY]
        opens COUNT idle associations (aioups client, uvloop if installed; ``PROGRESS <ok>
        <failed>`` every second), prints ``HELD <ok> <failed> <s>``, holds them until stdin
        closes, then releases them and prints ``RELEASED <s>``.
    python benchmarks/peers.py probe PORT
        a fresh association and one C-ECHO: ``PROBE <ok> <associate ms> <echo ms>``.
    python benchmarks/peers.py receiver BACKEND EXPECT
        one aioups ``EventReceiver`` listener (any called AE title); prints ``DONE <uid> <state>
        <first> <last>`` (time.monotonic) once EXPECT state reports of one workitem and state
        arrived.
    python benchmarks/peers.py fanout-client aioups|pynetdicom PORT SUBSCRIBERS [BACKEND]
        subscribes SUB00001 ... globally, prints ``READY``; then on each line of stdin:
        N-CREATE, then claim; prints ``RSP <uid> <state> <time.monotonic of the response>``.

With PEERS_WAIT_GO=1 the pynetdicom ``echo`` and ``ups-create`` clients print ``READY`` once
their associations are open, start on a line of stdin and print ``SPAN <start> <end>``, so that
``bench_all.py`` can run one process per association and add them up.

Every process raises RLIMIT_NOFILE to its hard limit.  TCP_NODELAY is on in aioups by
default; pynetdicom never sets it, so with ``PEERS_PYNETDICOM_NODELAY=1`` (``bench_all.py``'s
"pynetdicom + TCP_NODELAY" baseline) its client and server sockets get it too.  With
``PEERS_PROFILE=DIR`` a role runs under cProfile and writes ``DIR/<role>-<impl>-<pid>.prof``
when it ends or gets SIGTERM.

The roles live in ``_peers_aioups.py`` and ``_peers_pynetdicom.py``, what they share in
``_peers_common.py``; this file dispatches.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from _peers_aioups import (
    dimse_aioups,
    echo_aioups,
    fanout_client_aioups,
    hold,
    probe,
    receiver,
    serve_aioups,
    serve_ups_aioups,
    ups_create_aioups,
)
from _peers_common import raise_nofile
from _peers_pynetdicom import (
    dimse_pynetdicom,
    echo_pynetdicom,
    fanout_client_pynetdicom,
    serve_pynetdicom,
    serve_ups_pynetdicom,
    ups_create_pynetdicom,
)


def _profiled(argv: list[str]) -> None:
    """Run the role under cProfile; dump the stats on exit or SIGTERM."""
    import cProfile
    import signal

    directory = os.environ["PEERS_PROFILE"]
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, f"{argv[0]}-{argv[1]}-{os.getpid()}.prof")
    profiler = cProfile.Profile()

    def dump(*_: Any) -> None:
        profiler.disable()
        profiler.dump_stats(target)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    profiler.enable()
    try:
        run(argv)
    finally:
        dump()


def main(argv: list[str]) -> None:
    raise_nofile()
    if os.environ.get("PEERS_PROFILE"):
        _profiled(argv)
    else:
        run(argv)


def _serve(argv: list[str]) -> None:
    if argv[1] == "aioups":
        serve_aioups(argv[2])
    else:
        serve_pynetdicom()


def _ups_server(argv: list[str]) -> None:
    if argv[1] == "aioups":
        serve_ups_aioups(argv[2], argv[3], *([int(a) for a in argv[4:6]] or [0, 0]))
    else:
        serve_ups_pynetdicom(argv[2], *([int(a) for a in argv[3:5]] or [0, 0]))


def _fanout_client(argv: list[str]) -> None:
    if argv[1] == "aioups":
        fanout_client_aioups(int(argv[2]), int(argv[3]), argv[4])
    else:
        fanout_client_pynetdicom(int(argv[2]), int(argv[3]))


def _dimse(argv: list[str]) -> None:
    role, impl, port, operations, outstanding = argv[0], argv[1], *map(int, argv[2:5])
    if impl == "aioups":
        rate, failed = dimse_aioups(role, port, operations, outstanding, argv[5])
    else:
        rate, failed = dimse_pynetdicom(role, port, operations)
    print(f"RATE {rate:.1f} FAILED {failed}", flush=True)


def _many(argv: list[str]) -> None:
    """echo and ups-create: ASSOCIATIONS x PER."""
    role, impl, port, associations, per = argv[0], argv[1], *map(int, argv[2:5])
    if role == "ups-create":
        rate, failed = (ups_create_aioups(port, associations, per, argv[5]) if impl == "aioups"
                        else ups_create_pynetdicom(port, associations, per))
    elif impl == "aioups":
        rate, failed = echo_aioups(port, associations, per, argv[5])
    else:
        rate, failed = echo_pynetdicom(port, associations, per)
    print(f"RATE {rate:.1f} FAILED {failed}", flush=True)


ROLES: dict[str, Any] = {
    "server": _serve,
    "ups-server": _ups_server,
    "fanout-client": _fanout_client,
    "n-create": _dimse,
    "n-get": _dimse,
    "echo": _many,
    "ups-create": _many,
    "hold": lambda argv: hold(int(argv[1]), int(argv[2]),
                              int(argv[3]) if len(argv) > 3 else 64),
    "probe": lambda argv: probe(int(argv[1])),
    "receiver": lambda argv: receiver(argv[1], int(argv[2])),
}


def run(argv: list[str]) -> None:
    ROLES[argv[0]](argv)


if __name__ == "__main__":
    main(sys.argv[1:])
