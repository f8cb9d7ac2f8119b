"""Every benchmark of issue #6 in one run: aioups against pynetdicom, side by side, with ratios.

    python benchmarks/bench_all.py [--quick] [--only echo,create,nget,idle,fanout]
                                   [--backends asyncio,uvloop,trio] [--markdown] [--json FILE]
                                   [--charts DIR | --no-charts] [--no-processes]
                                   [--pynetdicom-baselines shipped,nodelay] [--profile DIR]

Sections (``--only`` takes their names, comma-separated):

* ``echo``: C-ECHO, 1x2000, 10x200, 50x200 and 100x50 (associations x echoes each), pynetdicom
  and aioups on every backend (asyncio, uvloop, trio: the "same scenario on each event loop").
* ``create``: N-CREATE of a UPS workitem (~530 bytes, a new UID each time), 1x1000 and 20x100,
  against a UPS SCP: aioups' ``UPSService`` with ``MemoryStore`` and ``SQLiteStore``
  (synchronous FULL and NORMAL; a file in a temporary directory) against a small pynetdicom UPS
  SCP keeping the data set in a dict or in SQLite (``_peers_pynetdicom.PynetdicomUPS`` says
  what it does).  Plus one row with a UTF-8 (ISO_IR 192) workitem.  SQLite rows run on the
  first backend only.
* ``nget``: N-GET over one association with 1 and 64 requests outstanding (the raw handler
  server of ``bench_dimse.py``); pynetdicom can only have 1.
* ``idle``: idle associations held by one server process (1 000, 5 000, 10 000 for aioups;
  1 000 for pynetdicom, within ``--idle-limit``): server RSS before and after, KB per
  association, sockets, threads and CPU of the server while idle, and a fresh association +
  C-ECHO while they are held; then all released, and (aioups) the top level held once more.
  The holders are the same for both servers: aioups clients in processes of at most 2 500
  associations each.
* ``fanout``: event fan-out to 10 / 100 / 1 000 subscribers: a UPS SCP whose AE directory maps
  N Receiving AE titles to one receiver process (one aioups ``EventReceiver``), N global
  subscriptions, then N-CREATE (cold: the SCP opens the N associations) and claim (warm: aioups
  keeps them open for ``idle_timeout``; pynetdicom opens new ones).  Time from the client's
  receipt of the response to the receipt of the last of the N events (``time.monotonic``, one
  clock for every process of the machine).  The workitem has no scheduled station, so each
  change makes exactly one event per subscriber on both SCPs.  aioups runs 3 times (the run
  with the median cold time is shown), pynetdicom once (its time is N sequential associations).

Every server and every client runs in its own process (``peers.py``), over 127.0.0.1.  aioups
sets TCP_NODELAY; pynetdicom never does, so a message it writes in two sends (command, then
data set) waits for the peer's delayed ACK.  pynetdicom is therefore measured as two baselines
(``--pynetdicom-baselines``, comma-separated, both by default):

* ``shipped``: pynetdicom as installed ("pynetdicom as shipped");
* ``nodelay``: TCP_NODELAY set on every socket it creates or accepts
  (``_peers_pynetdicom.pynetdicom_setup``; "pynetdicom + TCP_NODELAY"), a stricter baseline.

``echo``, ``create`` and ``nget`` measure pynetdicom once per baseline and show the ratios
against each; the targets table says for each ratio target whether it is met against each
baseline.  ``fanout`` and ``idle`` measure pynetdicom once, with one baseline: ``nodelay`` if
selected, else ``shipped`` (their headings name it).  ``--pynetdicom-as-shipped`` is the same
as ``--pynetdicom-baselines shipped``.

pynetdicom runs with raised limits (20 000 associations, a listen backlog of 4 096, no network
timeout) and one thread per association, as its documentation suggests.  Its threads race each
other inside one process (a response taken by the wrong thread, then a 30 s DIMSE timeout), so
the multi-association scenarios up to 50 associations also run pynetdicom with one client
process per association, and every ratio divides by the better of that baseline's two figures.
Each client is the same library as its server: pynetdicom client against pynetdicom server,
aioups client against aioups server.  Rates count successful operations only.

``--json`` keeps every measurement: in the throughput rows ``pynetdicom`` and
``pynetdicom_processes`` are the + TCP_NODELAY baseline (as in files written before there were
two), ``pynetdicom_shipped`` and ``pynetdicom_shipped_processes`` the one as shipped;
``pynetdicom_baselines`` lists the baselines measured.  ``--from-json`` also reads older files
(``pynetdicom_tcp_nodelay``); a figure a file lacks shows as "—".
"""


import argparse
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _bench_charts import charts
from _bench_common import BASELINES, HERE, Config, baseline_key, make_config
from _bench_idle_fanout import run_fanout, run_idle
from _bench_report import machine, report, targets
from _bench_throughput import run_create, run_echo, run_nget

SECTIONS = ("echo", "create", "nget", "fanout", "idle")  # idle last: pynetdicom's threads


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts (smoke test)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"sections, comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--backends", default="asyncio,uvloop,trio")
    parser.add_argument("--idle-backend", default="asyncio")
    parser.add_argument("--fanout-backend", default="asyncio")
    parser.add_argument("--idle-limit", type=float, default=180.0,
                        help="seconds to open each level of idle associations")
    parser.add_argument("--fanout-limit", type=float, default=300.0,
                        help="seconds to wait for all events of one fan-out")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", metavar="FILE", help="write every measurement as JSON")
    parser.add_argument("--from-json", metavar="FILE",
                        help="measure nothing: print the tables (and charts) of a --json file")
    parser.add_argument("--charts", metavar="DIR",
                        help="write PNG charts there (default: benchmarks/, not with --quick)")
    parser.add_argument("--no-charts", action="store_true")
    parser.add_argument("--no-processes", action="store_true",
                        help="skip pynetdicom with one client process per association")
    parser.add_argument("--pynetdicom-baselines", metavar="LIST", default=",".join(BASELINES),
                        help="pynetdicom baselines, comma-separated: shipped (as installed), "
                             "nodelay (TCP_NODELAY patched in); default: both")
    parser.add_argument("--pynetdicom-as-shipped", dest="pynetdicom_baselines",
                        action="store_const", const="shipped",
                        help="the same as --pynetdicom-baselines shipped")
    parser.add_argument("--profile", metavar="DIR",
                        help="run every peer under cProfile, stats into DIR")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    names = {b.strip() for b in args.pynetdicom_baselines.split(",") if b.strip()}
    if not names or names - set(BASELINES):
        parser.error(f"--pynetdicom-baselines takes {', '.join(BASELINES)} (comma-separated), "
                     f"not {args.pynetdicom_baselines!r}")
    args.baselines = [b for b in BASELINES if b in names]
    if not args.from_json and importlib.util.find_spec("pynetdicom") is None:
        parser.error("pynetdicom is not installed (pip install pynetdicom)")
    return args


RUNNERS: dict[str, Callable[[Config, Path], Any]] = {
    "echo": lambda cfg, tmp: run_echo(cfg),
    "create": run_create,
    "nget": lambda cfg, tmp: run_nget(cfg),
    "fanout": lambda cfg, tmp: run_fanout(cfg),
    "idle": lambda cfg, tmp: run_idle(cfg),
}


def run_sections(cfg: Config, sections: list[str]) -> dict[str, Any]:
    """Run the sections in their order; the 1-minute load average around each."""
    loads: dict[str, list[float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="aioups-bench-"))
    try:
        for section in SECTIONS:
            if section in sections:
                load_start = os.getloadavg()[0]
                cfg.results[section] = RUNNERS[section](cfg, tmp)
                loads[section] = [round(load_start, 2), round(os.getloadavg()[0], 2)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return loads


def read_document(path: Path) -> dict[str, Any]:
    """A ``--json`` file; one written before ``pynetdicom_baselines`` is read as one baseline
    (``pynetdicom_tcp_nodelay``), its figures moved to that baseline's keys."""
    document: dict[str, Any] = json.loads(path.read_text())
    if "pynetdicom_baselines" not in document:
        nodelay = document.get("pynetdicom_tcp_nodelay", True)
        document["pynetdicom_baselines"] = ["nodelay" if nodelay else "shipped"]
        for section in () if nodelay else ("echo", "create", "nget"):
            for row in document["results"].get(section, []):
                for processes in (False, True):
                    old = baseline_key("nodelay", processes)
                    if old in row:
                        row[baseline_key("shipped", processes)] = row.pop(old)
    return document


def from_json(args: argparse.Namespace) -> Config:
    """Print the tables of a ``--json`` file."""
    document = read_document(Path(args.from_json))
    args.quick, args.backends = document["quick"], ",".join(document["backends"])
    args.baselines = document["pynetdicom_baselines"]
    cfg = make_config(args)
    cfg.results = document["results"]
    cfg.machine_summary = f"{document['machine']['summary']}; measured {document['started']}"
    report(cfg, args.markdown, sys.stdout)
    return cfg


def measure(args: argparse.Namespace) -> Config:
    """Run the sections, print the tables, write the ``--json`` file."""
    cfg = make_config(args)
    started, load_before = time.time(), os.getloadavg()[0]
    loads = run_sections(cfg, args.sections)
    report(cfg, args.markdown, sys.stdout)
    print(f"load average (1 min) at start {load_before:.2f}, at end "
          f"{os.getloadavg()[0]:.2f}; by section (start, end): "
          + ", ".join(f"{k} {v[0]}-{v[1]}" for k, v in loads.items())
          + f"; {time.time() - started:.0f} s in all")
    document = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": machine(), "started": time.strftime(
                    "%Y-%m-%d %H:%M:%S", time.localtime(started)),
                "duration_s": round(time.time() - started, 1),
                "load_average_1min": {"start": load_before, "end": os.getloadavg()[0],
                                      "sections": loads},
                "quick": cfg.quick, "backends": cfg.backends,
                "pynetdicom_baselines": cfg.baselines,
                "pynetdicom_baseline_fanout_idle": cfg.single_baseline,
                "results": cfg.results,
                "targets": [{"target": t, "measured": m, "met": met}
                            for t, m, met in targets(cfg)]}
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2, default=_nan_safe) + "\n")
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = from_json(args) if args.from_json else measure(args)
    if not args.no_charts and (args.charts or not args.quick):
        charts(cfg, Path(args.charts) if args.charts else HERE)
    return 0


def _nan_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    sys.exit(main())
