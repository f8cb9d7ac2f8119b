"""``bench_all.py``: its peer processes (``peers.py``), what /proc says about them, and the
run's configuration."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"


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

#: The pynetdicom baselines (``--pynetdicom-baselines``), in the order they are measured and shown:
#: pynetdicom as installed, and pynetdicom with TCP_NODELAY set on its sockets
#: (``PEERS_PYNETDICOM_NODELAY=1``, see ``_peers_pynetdicom.pynetdicom_setup``).
BASELINES = ("shipped", "nodelay")
BASELINE_LABELS = {"shipped": "pynetdicom as shipped", "nodelay": "pynetdicom + TCP_NODELAY"}
BASELINE_SHORT = {"shipped": "as shipped", "nodelay": "+TCP_NODELAY"}


def baseline_key(baseline: str, processes: bool = False) -> str:
    """The key of a throughput row's figure for ``baseline``: ``pynetdicom`` for + TCP_NODELAY
    (the only baseline of older files), ``pynetdicom_shipped`` for as shipped; with
    ``_processes`` for one client process per association."""
    key = "pynetdicom" if baseline == "nodelay" else "pynetdicom_shipped"
    return f"{key}_processes" if processes else key


def single_baseline(baselines: list[str]) -> str:
    """The one baseline of the ``fanout`` and ``idle`` sections: + TCP_NODELAY if measured."""
    return "nodelay" if "nodelay" in baselines else "shipped"


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
    baselines: list[str]
    max_processes: int = 50
    fanout_repeat: int = 3
    pynetdicom_attempts: int = 3
    machine_summary: str | None = None
    results: dict[str, Any] = field(default_factory=dict)

    def peer_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}

    @property
    def single_baseline(self) -> str:
        """The pynetdicom baseline of the ``fanout`` and ``idle`` sections."""
        return single_baseline(self.baselines)

    def baseline_env(self, baseline: str, env: dict[str, str] | None = None) -> dict[str, str]:
        """``env`` (default: the run's) for the pynetdicom peers of ``baseline``."""
        return {**(env or self.env),
                "PEERS_PYNETDICOM_NODELAY": "1" if baseline == "nodelay" else "0"}


def make_config(args: argparse.Namespace) -> Config:
    backends = [b for b in args.backends.split(",")
                if b != "uvloop" or importlib.util.find_spec("uvloop")]
    env = dict(os.environ)
    env["PEERS_PYNETDICOM_NODELAY"] = "1" if single_baseline(args.baselines) == "nodelay" else "0"
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
                      fanout_repeat=1, pynetdicom_attempts=1, baselines=args.baselines)
    return Config(quick=False, backends=backends, idle_backend=args.idle_backend,
                  fanout_backend=args.fanout_backend, env=env,
                  echo=[(1, 2000), (10, 200), (50, 200), (100, 50)],
                  create=[(1, 1000), (20, 100)], nget_ops=2000, nget_pynetdicom_ops=200,
                  idle_levels=[1000, 5000, 10000], idle_pynetdicom_levels=[1000],
                  idle_limit=args.idle_limit, fanout=[10, 100, 1000],
                  fanout_limit=args.fanout_limit, max_processes=max_processes,
                  baselines=args.baselines)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}] {message}",
          file=sys.stderr, flush=True)
