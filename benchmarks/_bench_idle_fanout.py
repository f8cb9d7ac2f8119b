"""``bench_all.py``: the ``idle`` (idle associations held by one server) and ``fanout``
(event fan-out) sections."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _bench_common import (
    PEERS,
    Config,
    Peer,
    PeerError,
    cpu_seconds,
    log,
    peers,
    sockets_of,
    status_of,
)

HOLDER_SIZE = 2500  # associations per holder process


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
