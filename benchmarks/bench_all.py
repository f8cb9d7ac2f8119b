"""Every benchmark of issue #6 in one run: aioups against pynetdicom, side by side, with ratios.

    python benchmarks/bench_all.py [--quick] [--only echo,create,nget,idle,fanout]
                                   [--backends asyncio,uvloop,trio] [--markdown] [--json FILE]
                                   [--charts DIR | --no-charts] [--no-processes]
                                   [--pynetdicom-as-shipped] [--profile DIR]

Sections (``--only`` takes their names, comma-separated):

* ``echo``: C-ECHO, 1x2000, 10x200, 50x200 and 100x50 (associations x echoes each), pynetdicom
  and aioups on every backend (asyncio, uvloop, trio: the "same scenario on each event loop").
* ``create``: N-CREATE of a UPS workitem (~530 bytes, a new UID each time), 1x1000 and 20x100,
  against a UPS SCP: aioups' ``UPSService`` with ``MemoryStore`` and ``SQLiteStore``
  (synchronous FULL and NORMAL; a file in a temporary directory) against a small pynetdicom UPS
  SCP keeping the data set in a dict or in SQLite (``peers.PynetdicomUPS`` says what it does).
  Plus one row with a UTF-8 (ISO_IR 192) workitem.  SQLite rows run on the first backend only.
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

Every server and every client runs in its own process (``peers.py``), over 127.0.0.1, with
TCP_NODELAY on for both libraries (pynetdicom never sets it; ``peers.pynetdicom_setup`` does,
unless ``--pynetdicom-as-shipped``).  pynetdicom runs with raised limits (20 000 associations, a
listen backlog of 4 096, no network timeout) and one thread per association, as its
documentation suggests.  Its threads race each other inside one process (a response taken by
the wrong thread, then a 30 s DIMSE timeout), so the multi-association scenarios up to 50
associations also run pynetdicom with one client process per association, and every ratio
divides by the better of the two pynetdicom figures.  Each client is the same library as its
server: pynetdicom client against pynetdicom server, aioups client against aioups server.
Rates count successful operations only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"
SECTIONS = ("echo", "create", "nget", "fanout", "idle")  # idle last: pynetdicom's threads
HOLDER_SIZE = 2500  # associations per holder process


# --- processes -------------------------------------------------------------------------------


class PeerError(RuntimeError):
    """A peer process failed or did not answer in time."""


class Peer:
    """One ``peers.py`` process; its stdout lines are read by a thread into a queue."""

    def __init__(self, *args: object, env: dict[str, str], stdin: bool = False) -> None:
        self.args = [str(a) for a in args]
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, str(PEERS), *self.args], stdout=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stderr=self._stderr,
            text=True, env=env)
        self.pid = self.proc.pid
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float,
               seen: Callable[[str], None] | None = None) -> list[str]:
        """The fields of the next line starting with ``prefix`` (other lines go to ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PeerError(f"{' '.join(self.args)}: no {prefix} within {timeout:.0f} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise PeerError(f"{' '.join(self.args)} ended without {prefix}:\n"
                                f"{self.stderr_tail()}")
            if line.startswith(prefix + " ") or line == prefix:
                return line.split()[1:]
            if seen is not None:
                seen(line)

    def send(self, line: str = "") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM (a profiled peer writes its profile), then SIGKILL; this PID only."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(10) is None:
                self.proc.kill()
                self.proc.wait(10)
        self.close_stdin()

    def stderr_tail(self, size: int = 2000) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()[-size:]


@contextlib.contextmanager
def peers() -> Iterator[Callable[..., Peer]]:
    """Start peers with the returned function; every one is stopped at the end."""
    started: list[Peer] = []

    def start(*args: object, env: dict[str, str], stdin: bool = False) -> Peer:
        peer = Peer(*args, env=env, stdin=stdin)
        started.append(peer)
        return peer

    try:
        yield start
    finally:
        for peer in reversed(started):
            peer.stop()


def status_of(pid: int) -> dict[str, int]:
    """VmRSS (KB) and Threads of a process, from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = int(value.split()[0])
    return out


def sockets_of(pid: int) -> int:
    """How many sockets a process has open (its listener, associations, ...)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return count


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- configuration ---------------------------------------------------------------------------


@dataclass
class Config:
    quick: bool
    backends: list[str]
    idle_backend: str
    fanout_backend: str
    env: dict[str, str]
    echo: list[tuple[int, int]]
    create: list[tuple[int, int]]
    nget_ops: int
    nget_pynetdicom_ops: int
    idle_levels: list[int]
    idle_pynetdicom_levels: list[int]
    idle_limit: float
    fanout: list[int]
    fanout_limit: float
    max_processes: int = 50
    fanout_repeat: int = 3
    pynetdicom_attempts: int = 3
    machine_summary: str | None = None
    results: dict[str, Any] = field(default_factory=dict)

    def peer_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}


def make_config(args: argparse.Namespace) -> Config:
    backends = [b for b in args.backends.split(",")
                if b != "uvloop" or importlib.util.find_spec("uvloop")]
    env = dict(os.environ)
    env["PEERS_PYNETDICOM_NODELAY"] = "0" if args.pynetdicom_as_shipped else "1"
    for name in ("PEERS_UPS_CHARSET", "PEERS_PROFILE", "PEERS_WAIT_GO",
                 "PEERS_PYNETDICOM_DIMSE_TIMEOUT"):
        env.pop(name, None)
    if args.profile:
        env["PEERS_PROFILE"] = str(Path(args.profile).resolve())
    max_processes = 0 if args.no_processes else 50
    if args.quick:  # a lost pynetdicom response costs 3 s, and is not measured again
        env["PEERS_PYNETDICOM_DIMSE_TIMEOUT"] = "3"
        return Config(quick=True, backends=backends, idle_backend=args.idle_backend,
                      fanout_backend=args.fanout_backend, env=env,
                      echo=[(1, 200), (4, 25)], create=[(1, 50), (4, 10)], nget_ops=200,
                      nget_pynetdicom_ops=50, idle_levels=[100, 300],
                      idle_pynetdicom_levels=[50], idle_limit=30.0, fanout=[10],
                      fanout_limit=60.0, max_processes=min(max_processes, 4),
                      fanout_repeat=1, pynetdicom_attempts=1)
    return Config(quick=False, backends=backends, idle_backend=args.idle_backend,
                  fanout_backend=args.fanout_backend, env=env,
                  echo=[(1, 2000), (10, 200), (50, 200), (100, 50)],
                  create=[(1, 1000), (20, 100)], nget_ops=2000, nget_pynetdicom_ops=200,
                  idle_levels=[1000, 5000, 10000], idle_pynetdicom_levels=[1000],
                  idle_limit=args.idle_limit, fanout=[10, 100, 1000],
                  fanout_limit=args.fanout_limit, max_processes=max_processes)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}] {message}",
          file=sys.stderr, flush=True)


# --- throughput: one server process, one client process --------------------------------------


def measure_rate(cfg: Config, server: list[object], client: list[object], total: int,
                 env: dict[str, str] | None = None, timeout: float = 900) -> dict[str, Any]:
    """Start ``server``, run ``client PORT...`` to completion; successful operations per second.

    ``client`` holds ``"{port}"`` where the port goes.
    """
    env = env or cfg.env
    with peers() as start:
        srv = start(*server, env=env)
        port = srv.expect("PORT", 60)[0]
        argv = [str(a).replace("{port}", port) for a in client]
        try:
            out = subprocess.run([sys.executable, str(PEERS), *argv], capture_output=True,
                                 text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"rate": 0.0, "failed": total, "error": f"timed out after {timeout:.0f} s"}
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RATE ")), None)
    if line is None:
        return {"rate": 0.0, "failed": total, "error": out.stderr.strip()[-300:]}
    fields = line.split()
    rate, failed = float(fields[1]), int(fields[3])
    return {"rate": rate * (total - failed) / total if total else rate, "failed": failed}


def measure_processes(cfg: Config, server: list[object], client: list[object],
                      processes: int, total: int, env: dict[str, str] | None = None,
                      timeout: float = 900) -> dict[str, Any]:
    """Like :func:`measure_rate`, with ``processes`` client processes of one association each,
    started together (pynetdicom without its threads racing each other in one process)."""
    env = env or cfg.env
    with peers() as start:
        srv = start(*server, env=env)
        port = srv.expect("PORT", 60)[0]
        argv = [str(a).replace("{port}", port) for a in client]
        clients = [start(*argv, env={**env, "PEERS_WAIT_GO": "1"}, stdin=True)
                   for _ in range(processes)]
        try:
            for peer in clients:
                peer.expect("READY", 300)
            for peer in clients:
                peer.send()
            spans, failed = [], 0
            for peer in clients:
                spans.append(tuple(map(float, peer.expect("SPAN", timeout))))
                failed += int(peer.expect("RATE", 60)[2])
        except PeerError as exc:
            return {"rate": 0.0, "failed": total, "error": str(exc)[-300:]}
    elapsed = max(end for _, end in spans) - min(begin for begin, _ in spans)
    return {"rate": (total - failed) / elapsed, "failed": failed}


def best_of(cfg: Config, measure: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """pynetdicom: measure again (up to ``cfg.pynetdicom_attempts`` runs in all) while requests
    fail, and keep the best run.  A request its threads lose costs a 30 s DIMSE timeout and then
    the whole association, so one unlucky run says little; retrying only favours pynetdicom."""
    runs = [measure(cfg, *args)]
    while runs[-1].get("failed") and len(runs) < cfg.pynetdicom_attempts:
        log(f"  pynetdicom failed {runs[-1]['failed']} requests: measuring again")
        runs.append(measure(cfg, *args))
    best = dict(max(runs, key=lambda r: r.get("rate") or 0.0))
    if len(runs) > 1:
        best["attempts"] = [{k: r.get(k) for k in ("rate", "failed")} for r in runs]
    return best


def pynetdicom_processes(cfg: Config, associations: int) -> bool:
    """Also run pynetdicom as one process per association?"""
    return 1 < associations <= cfg.max_processes


def run_echo(cfg: Config) -> list[dict[str, Any]]:
    rows = []
    for associations, per in cfg.echo:
        total = associations * per
        log(f"C-ECHO {associations}x{per}: pynetdicom")
        row: dict[str, Any] = {
            "scenario": f"C-ECHO {associations}x{per}", "associations": associations,
            "per": per,
            "pynetdicom": best_of(cfg, measure_rate, ["server", "pynetdicom"],
                                  ["echo", "pynetdicom", "{port}", associations, per], total),
            "aioups": {}}
        if pynetdicom_processes(cfg, associations):
            log(f"C-ECHO {associations}x{per}: pynetdicom, {associations} processes")
            row["pynetdicom_processes"] = best_of(
                cfg, measure_processes, ["server", "pynetdicom"],
                ["echo", "pynetdicom", "{port}", 1, per], associations, total)
        for backend in cfg.backends:
            log(f"C-ECHO {associations}x{per}: aioups {backend}")
            row["aioups"][backend] = measure_rate(
                cfg, ["server", "aioups", backend],
                ["echo", "aioups", "{port}", associations, per, backend], total)
        rows.append(row)
    return rows


def run_create(cfg: Config, tmp: Path) -> list[dict[str, Any]]:
    stores = [("memory", "in memory (dict)", cfg.backends),
              ("sqlite:FULL", "SQLite, synchronous FULL", cfg.backends[:1]),
              ("sqlite:NORMAL", "SQLite, synchronous NORMAL", cfg.backends[:1])]
    runs = [(spec, label, backends, a, p, "") for spec, label, backends in stores
            for a, p in cfg.create]
    a, p = cfg.create[-1]
    runs.append(("memory", "in memory (dict), UTF-8 workitem", cfg.backends[:1], a, p,
                 "ISO_IR 192"))
    rows = []
    for n, (spec, label, backends, associations, per, charset) in enumerate(runs):
        env = cfg.peer_env(PEERS_UPS_CHARSET=charset) if charset else cfg.env
        total = associations * per

        def fresh(tag: str, spec: str = spec, n: int = n) -> str:
            """The store argument: a new SQLite file for every server."""
            if spec == "memory":
                return spec
            return f"{spec}:{tempfile.mkdtemp(dir=tmp)}/{n}-{tag}.sqlite"

        log(f"N-CREATE {label} {associations}x{per}: pynetdicom")
        row: dict[str, Any] = {
            "scenario": f"N-CREATE {associations}x{per}, {label}", "store": spec,
            "charset": charset or None, "associations": associations, "per": per,
            "pynetdicom": best_of(
                cfg, measure_rate, ["ups-server", "pynetdicom", fresh("pynetdicom")],
                ["ups-create", "pynetdicom", "{port}", associations, per], total, env),
            "aioups": {}}
        if pynetdicom_processes(cfg, associations):
            log(f"N-CREATE {label} {associations}x{per}: pynetdicom, {associations} processes")
            row["pynetdicom_processes"] = best_of(
                cfg, measure_processes,
                ["ups-server", "pynetdicom", fresh("pynetdicom-processes")],
                ["ups-create", "pynetdicom", "{port}", 1, per], associations, total, env)
        for backend in backends:
            log(f"N-CREATE {label} {associations}x{per}: aioups {backend}")
            row["aioups"][backend] = measure_rate(
                cfg, ["ups-server", "aioups", fresh(f"aioups-{backend}"), backend],
                ["ups-create", "aioups", "{port}", associations, per, backend], total, env)
        rows.append(row)
    return rows


def run_nget(cfg: Config) -> list[dict[str, Any]]:
    log("N-GET: pynetdicom")
    theirs = best_of(cfg, measure_rate, ["server", "pynetdicom"],
                     ["n-get", "pynetdicom", "{port}", cfg.nget_pynetdicom_ops, 1],
                     cfg.nget_pynetdicom_ops)
    rows = []
    for outstanding in (1, 64):
        row: dict[str, Any] = {"scenario": f"N-GET, {outstanding} outstanding",
                               "outstanding": outstanding, "pynetdicom": theirs, "aioups": {}}
        for backend in cfg.backends:
            log(f"N-GET {outstanding} outstanding: aioups {backend}")
            row["aioups"][backend] = measure_rate(
                cfg, ["server", "aioups", backend],
                ["n-get", "aioups", "{port}", cfg.nget_ops, outstanding, backend],
                cfg.nget_ops)
        rows.append(row)
    return rows


# --- idle associations -----------------------------------------------------------------------


def probe(cfg: Config, port: str) -> dict[str, Any]:
    """A fresh association and one C-ECHO (its own process)."""
    try:
        out = subprocess.run([sys.executable, str(PEERS), "probe", port], capture_output=True,
                             text=True, timeout=90, env=cfg.env)
        fields = next(ln for ln in out.stdout.splitlines() if ln.startswith("PROBE ")).split()
    except (subprocess.TimeoutExpired, StopIteration):
        return {"ok": False, "associate_ms": None, "echo_ms": None}
    return {"ok": fields[1] == "1", "associate_ms": float(fields[2]),
            "echo_ms": float(fields[3])}


def idle_cpu(pid: int, seconds: float = 3.0) -> float:
    """The server's CPU use (percent of one core) while nothing is sent."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - before) / seconds


@dataclass
class Opened:
    """What the holder processes of one level reported."""

    held: int = 0
    failed: int = 0
    timed_out: bool = False
    seconds: float = 0.0
    holders: list[Peer] = field(default_factory=list)


def open_idle(start: Callable[..., Peer], cfg: Config, port: str, count: int,
              limit: float) -> Opened:
    """``count`` more idle associations, from holder processes of at most HOLDER_SIZE."""
    opened = Opened()
    started = time.monotonic()
    while count > 0:
        share = min(HOLDER_SIZE, count)
        opened.holders.append(start("hold", port, share, 64, env=cfg.env, stdin=True))
        count -= share
    for holder in opened.holders:
        progress = {"held": 0, "failed": 0}

        def seen(line: str, progress: dict[str, int] = progress) -> None:
            if line.startswith("PROGRESS "):
                progress["held"], progress["failed"] = map(int, line.split()[1:3])

        try:
            fields = holder.expect("HELD", max(1.0, limit - (time.monotonic() - started)), seen)
            opened.held += int(fields[0])
            opened.failed += int(fields[1])
        except PeerError:
            opened.timed_out = True
            opened.held += progress["held"]
            opened.failed += progress["failed"]
    opened.seconds = round(time.monotonic() - started, 2)
    return opened


def release_idle(holders: list[Peer]) -> float:
    """Close the holders' stdin (they release their associations); seconds it took."""
    released = time.monotonic()
    for holder in holders:
        holder.close_stdin()
    for holder in holders:
        with contextlib.suppress(PeerError):
            holder.expect("RELEASED", max(5.0, 60 - (time.monotonic() - released)))
    return round(time.monotonic() - released, 2)


def measure_idle(cfg: Config, pid: int, port: str, base: dict[str, int], base_sockets: int,
                 target: int, held: int, failed: int, opened: Opened) -> dict[str, Any]:
    """Server RSS, threads, sockets and idle CPU now, and a fresh association."""
    time.sleep(2.0)
    now = status_of(pid)
    sockets = sockets_of(pid) - base_sockets
    cpu = idle_cpu(pid)
    check = probe(cfg, port)
    rss = now["VmRSS"]
    level = {"target": target, "held": held, "failed": failed, "timed_out": opened.timed_out,
             "server_sockets": sockets, "open_s": opened.seconds, "rss_kb": rss,
             "threads": now["Threads"],
             "kb_per_association": round((rss - base["VmRSS"]) / held, 1) if held else None,
             "cpu_idle_pct": round(cpu, 1), "probe": check}
    log(f"  held {held} (failed {failed}{', time limit' if opened.timed_out else ''}; server "
        f"has {sockets} more sockets) in {opened.seconds:.1f} s, RSS {rss / 1024:.1f} MB, "
        f"{level['kb_per_association']} KB/association, idle CPU {cpu:.0f} %, fresh "
        f"association {'ok' if check['ok'] else 'FAILED'}")
    return level


def run_idle_one(cfg: Config, impl: str, levels: list[int], limit: float) -> dict[str, Any]:
    """Hold ``levels`` associations in turn on one server process; RSS, CPU, probe at each.
    aioups: then release them all and hold the top level once more (is memory reused?)."""
    server = ["server", impl] + ([cfg.idle_backend] if impl == "aioups" else [])
    out: dict[str, Any] = {"impl": impl, "backend": cfg.idle_backend if impl == "aioups"
                           else "threads", "levels": []}
    with peers() as start:
        srv = start(*server, env=cfg.env)
        port = srv.expect("PORT", 60)[0]
        probe(cfg, port)  # warm: code paths loaded
        time.sleep(1.0)
        base = status_of(srv.pid)
        base_sockets = sockets_of(srv.pid)
        out.update(rss_before_kb=base["VmRSS"], threads_before=base["Threads"],
                   cpu_idle_before_pct=idle_cpu(srv.pid, 2.0))
        holders: list[Peer] = []
        held = failed = 0
        for level in levels:
            log(f"idle associations: {impl}, {level}")
            opened = open_idle(start, cfg, port, level - held, limit)
            holders += opened.holders
            held, failed = held + opened.held, failed + opened.failed
            out["levels"].append(measure_idle(cfg, srv.pid, port, base, base_sockets, level,
                                              held, failed, opened))
            if opened.timed_out or opened.failed:
                break
        out["release_s"] = release_idle(holders)
        time.sleep(2.0)
        if srv.proc.poll() is None:
            after = status_of(srv.pid)
            out.update(rss_after_release_kb=after["VmRSS"], threads_after=after["Threads"],
                       probe_after_release=probe(cfg, port))
        if impl == "aioups" and out["levels"] and not out["levels"][-1]["failed"]:
            top = levels[-1]
            log(f"idle associations: {impl}, {top} again")
            opened = open_idle(start, cfg, port, top, limit)
            out["second_round"] = measure_idle(cfg, srv.pid, port, base, base_sockets, top,
                                               opened.held, opened.failed, opened)
            release_idle(opened.holders)
    return out


def run_idle(cfg: Config) -> dict[str, Any]:
    return {"aioups": run_idle_one(cfg, "aioups", cfg.idle_levels, cfg.idle_limit),
            "pynetdicom": run_idle_one(cfg, "pynetdicom", cfg.idle_pynetdicom_levels,
                                       cfg.idle_limit)}


# --- event fan-out ---------------------------------------------------------------------------


def run_fanout_one(cfg: Config, impl: str, subscribers: int) -> dict[str, Any]:
    backend = cfg.fanout_backend
    out: dict[str, Any] = {"impl": impl, "subscribers": subscribers}
    with peers() as start:
        rx = start("receiver", "asyncio", subscribers, env=cfg.env)
        rx_port = rx.expect("PORT", 60)[0]
        scp_args: list[object] = ["ups-server", impl, "memory"]
        scp_args += [backend] if impl == "aioups" else []
        scp = start(*scp_args, rx_port, subscribers, env=cfg.env)
        port = scp.expect("PORT", 60)[0]
        client_args: list[object] = ["fanout-client", impl, port, subscribers]
        client_args += [backend] if impl == "aioups" else []
        client = start(*client_args, env=cfg.env, stdin=True)
        client.expect("READY", 300)
        for phase, state in (("cold", "SCHEDULED"), ("warm", "IN_PROGRESS")):
            cpu_before = cpu_seconds(scp.pid), cpu_seconds(rx.pid)
            client.send()
            _, rsp_state, responded = client.expect("RSP", 60)
            assert rsp_state == state
            try:
                _, done_state, first, last = rx.expect("DONE", cfg.fanout_limit)
            except PeerError:
                out[phase] = {"last_s": None, "first_s": None,
                              "error": f"not all {subscribers} events within "
                                       f"{cfg.fanout_limit:.0f} s"}
                break
            assert done_state == state
            time.sleep(0.2)  # CPU of the phase: until the last event was answered
            out[phase] = {"last_s": round(float(last) - float(responded), 4),
                          "first_s": round(float(first) - float(responded), 4),
                          "scp_cpu_s": round(cpu_seconds(scp.pid) - cpu_before[0], 3),
                          "receiver_cpu_s": round(cpu_seconds(rx.pid) - cpu_before[1], 3)}
            log(f"fan-out {impl} {subscribers} {phase}: last event "
                f"{out[phase]['last_s']:.3f} s after the response (first "
                f"{out[phase]['first_s']:.3f} s); CPU: SCP {out[phase]['scp_cpu_s']:.2f} s, "
                f"receiver {out[phase]['receiver_cpu_s']:.2f} s")
        client.send()
        client.wait(10)
    return out


def run_fanout(cfg: Config) -> list[dict[str, Any]]:
    """pynetdicom once per size (its time is N sequential associations); aioups
    ``cfg.fanout_repeat`` times, each phase reported as the run with the median cold time."""
    rows = []
    for subscribers in cfg.fanout:
        row: dict[str, Any] = {"subscribers": subscribers}
        for impl in ("pynetdicom", "aioups"):
            runs = []
            for n in range(cfg.fanout_repeat if impl == "aioups" else 1):
                log(f"fan-out to {subscribers}: {impl}" + (f", run {n + 1}" if n else ""))
                try:
                    runs.append(run_fanout_one(cfg, impl, subscribers))
                except (PeerError, AssertionError) as exc:
                    runs.append({"error": str(exc)[-300:]})
            done = [r for r in runs if (r.get("cold") or {}).get("last_s") is not None]
            done.sort(key=lambda r: r["cold"]["last_s"])
            row[impl] = dict(done[(len(done) - 1) // 2]) if done else runs[-1]
            if len(runs) > 1:
                row[impl]["runs"] = runs
        rows.append(row)
    return rows


# --- report ----------------------------------------------------------------------------------


def fmt_rate(result: dict[str, Any] | None) -> str:
    if not result:
        return "—"
    if result.get("error") and not result.get("rate"):
        return "failed"
    return f"{result['rate']:.0f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "—"
    value = ours / theirs
    return f"{value:.1f}x" if value < 100 else f"{value:.0f}x"


class Table:
    def __init__(self, header: list[str], markdown: bool) -> None:
        self.header = header
        self.rows: list[list[str]] = []
        self.markdown = markdown

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self, out: TextIO) -> None:
        if self.markdown:
            print("| " + " | ".join(self.header) + " |", file=out)
            print("|" + "---|" * len(self.header), file=out)
            for row in self.rows:
                print("| " + " | ".join(row) + " |", file=out)
        else:
            widths = [max(len(r[i]) for r in [self.header, *self.rows])
                      for i in range(len(self.header))]
            for row in [self.header, *self.rows]:
                print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)),
                      file=out)
        print(file=out)


def best_pynetdicom(row: dict[str, Any]) -> float | None:
    """The better of pynetdicom's two figures (threads, processes): what ratios divide by."""
    rates = [r.get("rate") for r in (row["pynetdicom"], row.get("pynetdicom_processes")) if r]
    return max((r for r in rates if r), default=None)


def _failures(result: dict[str, Any] | None) -> str:
    if not result:
        return "—"
    text = str(result.get("failed", 0))
    if result.get("attempts"):
        tries = result["attempts"]
        text += (f" (best of {len(tries)} runs; failed "
                 + ", ".join(str(t["failed"]) for t in tries) + ")")
    return text + (f" ({result['error']})" if result.get("error") else "")


def throughput_table(rows: list[dict[str, Any]], backends: list[str], markdown: bool,
                     unit: str) -> Table:
    processes = any("pynetdicom_processes" in row for row in rows)
    header = ["scenario", f"pynetdicom {unit}"]
    header += [f"pynetdicom, process per association {unit}"] if processes else []
    header += [f"aioups {b} {unit}" for b in backends] + [f"ratio ({b})" for b in backends]
    header += ["pynetdicom failures"] + (["… with processes"] if processes else [])
    table = Table(header, markdown)
    for row in rows:
        theirs = best_pynetdicom(row)
        ours = [row["aioups"].get(b) for b in backends]
        cells = [row["scenario"], fmt_rate(row["pynetdicom"])]
        cells += [fmt_rate(row.get("pynetdicom_processes"))] if processes else []
        cells += [fmt_rate(o) for o in ours]
        cells += [ratio(o["rate"] if o else None, theirs) for o in ours]
        cells += [_failures(row["pynetdicom"])]
        cells += [_failures(row.get("pynetdicom_processes"))] if processes else []
        table.add(*cells)
    return table


def report(cfg: Config, markdown: bool, out: TextIO) -> None:
    res = cfg.results
    head = "###" if markdown else "=="
    print(f"# {cfg.machine_summary or machine()['summary']}", file=out)
    print(file=out)
    if "echo" in res:
        print(f"{head} C-ECHO (associations x echoes each; echoes/s)", file=out)
        throughput_table(res["echo"], cfg.backends, markdown, "/s").render(out)
    if "create" in res:
        print(f"{head} N-CREATE against a UPS SCP (workitems/s)", file=out)
        throughput_table(res["create"], cfg.backends, markdown, "/s").render(out)
    if "nget" in res:
        print(f"{head} N-GET over one association (pynetdicom: 1 outstanding; /s)", file=out)
        throughput_table(res["nget"], cfg.backends, markdown, "/s").render(out)
    if "idle" in res:
        print(f"{head} Idle associations held by one server process", file=out)
        idle_table(res["idle"], markdown).render(out)
    if "fanout" in res:
        print(f"{head} Event fan-out (seconds from the response to the last subscriber's "
              "event)", file=out)
        fanout_table(res["fanout"], markdown).render(out)
    print(f"{head} Done-when targets (issue #6)", file=out)
    targets_table(cfg, markdown).render(out)


def _idle_row(table: Table, name: str, level: dict[str, Any], label: str,
              per_association: bool = True) -> None:
    check = level["probe"]
    table.add(name, label, level["server_sockets"], level["open_s"],
              f"{level['rss_kb'] / 1024:.1f}",
              (level["kb_per_association"] or "—") if per_association else "—",
              level["threads"], f"{level['cpu_idle_pct']:.0f}",
              f"ok, {check['associate_ms']:.0f} + {check['echo_ms']:.0f} ms" if check["ok"]
              else "FAILED")


def idle_table(idle: dict[str, Any], markdown: bool) -> Table:
    table = Table(["server", "associations held", "server sockets", "open time s",
                   "server RSS MB", "KB / association", "threads", "idle CPU %",
                   "fresh association + C-ECHO (connect+associate, echo)"], markdown)
    for impl in ("aioups", "pynetdicom"):
        data = idle.get(impl)
        if not data:
            continue
        name = f"{impl} ({data['backend']})"
        table.add(name, 0, "—", "—", f"{data['rss_before_kb'] / 1024:.1f}", "—",
                  data["threads_before"], f"{data['cpu_idle_before_pct']:.0f}", "—")
        for level in data["levels"]:
            label = f"{level['held']} of {level['target']}"
            if level["failed"]:
                label += f" ({level['failed']} failed)"
            if level["timed_out"]:
                label += " (time limit)"
            _idle_row(table, name, level, label)
        if "rss_after_release_kb" in data:
            check = data["probe_after_release"]
            table.add(name, "0 (all released)", "—", data["release_s"],
                      f"{data['rss_after_release_kb'] / 1024:.1f}", "—",
                      data["threads_after"], "—", "ok" if check["ok"] else "FAILED")
        if "second_round" in data and data["levels"]:
            level = data["second_round"]
            growth = (level["rss_kb"] - data["levels"][-1]["rss_kb"]) / 1024
            _idle_row(table, name, level, f"{level['held']} again (RSS {growth:+.1f} MB vs the "
                      "first time)", per_association=False)
    return table


def _seconds(phase: dict[str, Any] | None) -> str:
    if not phase:
        return "—"
    if phase.get("last_s") is None:
        return phase.get("error", "failed")
    return f"{phase['last_s']:.3f}"


def fanout_table(rows: list[dict[str, Any]], markdown: bool) -> Table:
    table = Table(["subscribers", "pynetdicom cold", "pynetdicom warm", "aioups cold",
                   "aioups warm", "ratio cold", "ratio warm"], markdown)
    for row in rows:
        theirs, ours = row.get("pynetdicom", {}), row.get("aioups", {})
        ratios = []
        for phase in ("cold", "warm"):
            t = (theirs.get(phase) or {}).get("last_s")
            o = (ours.get(phase) or {}).get("last_s")
            ratios.append(ratio(t, max(o, 1e-4)) if t and o is not None else "—")
        table.add(row["subscribers"], _seconds(theirs.get("cold")),
                  _seconds(theirs.get("warm")), _seconds(ours.get("cold")),
                  _seconds(ours.get("warm")), *ratios)
    return table


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def targets(cfg: Config) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each Done-when target that this run measured."""
    res = cfg.results
    out: list[tuple[str, str, bool | None]] = []

    def rate_target(name: str, row: dict[str, Any] | None) -> None:
        if row is None:
            return
        theirs = best_pynetdicom(row)
        values = {b: r["rate"] / theirs for b, r in row["aioups"].items()
                  if theirs and r.get("rate")}
        if not values:
            out.append((name, "not measured", None))
            return
        text = ", ".join(f"{b} {v:.1f}x" for b, v in values.items())
        out.append((name, text, values.get(cfg.backends[0], 0) >= 20))

    if "echo" in res and not cfg.quick:
        rate_target("C-ECHO 1x2000 >= 20x", _find(res["echo"], associations=1, per=2000))
        rate_target("C-ECHO 50x200 >= 20x", _find(res["echo"], associations=50, per=200))
    if "create" in res and not cfg.quick:
        rate_target("N-CREATE 20x100 in memory >= 20x",
                    _find(res["create"], associations=20, per=100, store="memory", charset=None))
    if "fanout" in res:
        row = _find(res["fanout"], subscribers=max(cfg.fanout))
        ours = (row or {}).get("aioups", {})
        cold, warm = (ours.get(p, {}).get("last_s") for p in ("cold", "warm"))
        if cold is not None and max(cfg.fanout) >= 1000:
            out.append((f"fan-out to {max(cfg.fanout)} < 1 s",
                        f"cold {cold:.3f} s, warm {warm if warm is None else f'{warm:.3f}'} s",
                        cold < 1.0))
    if "idle" in res:
        levels = res["idle"]["aioups"]["levels"]
        if levels:
            top = levels[-1]
            out.append((f"{max(cfg.idle_levels)} idle associations, new ones served",
                        f"{top['held']} held, fresh association "
                        f"{'ok' if top['probe']['ok'] else 'FAILED'}",
                        top["held"] >= max(cfg.idle_levels) and top["probe"]["ok"]))
            per = top["kb_per_association"]
            out.append(("RSS per association < 30 KB", f"{per} KB",
                        per is not None and per < 30))
    return out


def targets_table(cfg: Config, markdown: bool) -> Table:
    table = Table(["target", "measured", "met"], markdown)
    for name, measured, met in targets(cfg):
        table.add(name, measured, "—" if met is None else ("yes" if met else "NO"))
    return table


# --- charts ----------------------------------------------------------------------------------


def charts(cfg: Config, directory: Path) -> list[Path]:
    """PNG charts (matplotlib, if installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no charts")
        return []
    written = []
    res = cfg.results
    if "echo" in res:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        xs = [r["associations"] for r in res["echo"]]
        ax.plot(xs, [r["pynetdicom"]["rate"] for r in res["echo"]], "o-",
                label="pynetdicom (thread per association)")
        pts = [(r["associations"], r["pynetdicom_processes"]["rate"]) for r in res["echo"]
               if r.get("pynetdicom_processes")]
        if pts:
            ax.plot(*zip(*pts, strict=True), "s:", color="tab:blue",
                    label="pynetdicom (process per association)")
        for b in cfg.backends:
            ax.plot(xs, [r["aioups"][b]["rate"] for r in res["echo"]], "o-", label=f"aioups {b}")
        ax.set(xscale="log", yscale="log", xlabel="concurrent associations",
               ylabel="successful C-ECHO / s", title="C-ECHO throughput vs associations")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        written.append(_save(fig, directory / "chart_echo_throughput.png"))
    if "fanout" in res:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        xs = [r["subscribers"] for r in res["fanout"]]
        for impl, style in (("pynetdicom", "s"), ("aioups", "o")):
            for phase, line in (("cold", "-"), ("warm", "--")):
                ys = [((r.get(impl) or {}).get(phase) or {}).get("last_s") for r in res["fanout"]]
                pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style + line, label=f"{impl} {phase}")
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log", xlabel="subscribers",
               ylabel="seconds to the last event", title="Event fan-out time vs subscribers")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        written.append(_save(fig, directory / "chart_fanout.png"))
    if "idle" in res:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for impl in ("aioups", "pynetdicom"):
            data = res["idle"].get(impl)
            if not data:
                continue
            pts = [(0, data["rss_before_kb"] / 1024)] + [
                (lv["held"], lv["rss_kb"] / 1024) for lv in data["levels"]]
            ax.plot(*zip(*pts, strict=True), "o-", label=impl)
        ax.set(xlabel="idle associations held", ylabel="server RSS (MB)",
               title="Server memory vs idle associations")
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(_save(fig, directory / "chart_idle_rss.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    log(f"wrote {path}")
    return path


# --- main ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                   cpu)
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for name in ("aioups", "pynetdicom", "pydicom", "anyio", "uvloop", "trio"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    summary = (f"{platform.python_implementation()} {platform.python_version()}, "
               f"{platform.machine()} {platform.system()} {platform.release()}, {cpu}, "
               f"{os.cpu_count()} CPUs, {mem_gib:.0f} GiB; "
               + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return {"summary": summary, "cpu": cpu, "cpus": os.cpu_count(), "mem_gib": round(mem_gib, 1),
            "python": platform.python_version(), "versions": versions}


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
    parser.add_argument("--pynetdicom-as-shipped", action="store_true",
                        help="leave TCP_NODELAY off in pynetdicom (its default)")
    parser.add_argument("--profile", metavar="DIR",
                        help="run every peer under cProfile, stats into DIR")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        document = json.loads(Path(args.from_json).read_text())
        args.quick, args.backends = document["quick"], ",".join(document["backends"])
        cfg = make_config(args)
        cfg.results = document["results"]
        cfg.machine_summary = f"{document['machine']['summary']}; measured {document['started']}"
        report(cfg, args.markdown, sys.stdout)
    else:
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
                    "pynetdicom_tcp_nodelay": not args.pynetdicom_as_shipped,
                    "results": cfg.results,
                    "targets": [{"target": t, "measured": m, "met": ok}
                                for t, m, ok in targets(cfg)]}
        if args.json:
            Path(args.json).write_text(json.dumps(document, indent=2, default=_nan_safe) + "\n")
    if not args.no_charts and (args.charts or not args.quick):
        charts(cfg, Path(args.charts) if args.charts else HERE)
    return 0


def _nan_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    sys.exit(main())
