"""C-ECHO throughput: aioups (client and server) against pynetdicom (client and server).

    python benchmarks/bench_echo.py [--echoes 2000] [--associations 50] [--per-association 200]
                                    [--backends asyncio,uvloop,trio] [--markdown]

Each server runs in its own process (``benchmarks/peers.py``); the clients run in this process.
Associations are opened first and the clock runs only over the echoes.  pynetdicom's client uses
one thread per association, as its documentation recommends.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aioups

HERE = Path(__file__).resolve().parent


@contextlib.contextmanager
def server(*args: str) -> Iterator[int]:
    """Run ``peers.py ARGS`` and yield its port; kill it by PID afterwards."""
    proc = subprocess.Popen([sys.executable, str(HERE / "peers.py"), *args],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"server {args} did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.kill()
        proc.wait()


def rate(impl: str, associations: int, per: int, backend: str = "asyncio") -> tuple[float, int]:
    """Echoes per second and failed echoes: server and client each in their own process."""
    with server("server", impl, backend) as port:
        out = subprocess.run([sys.executable, str(HERE / "peers.py"), "echo", impl, str(port),
                              str(associations), str(per), backend],
                             capture_output=True, text=True, timeout=900)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RATE ")), None)
    if line is None:
        raise RuntimeError(f"{impl} {backend} client failed:\n{out.stderr[-2000:]}")
    fields = line.split()
    return float(fields[1]), int(fields[3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--echoes", type=int, default=2000)
    parser.add_argument("--associations", type=int, default=50)
    parser.add_argument("--per-association", type=int, default=200)
    parser.add_argument("--backends", default="asyncio,uvloop,trio")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",")
                if b != "uvloop" or importlib.util.find_spec("uvloop")]
    scenarios = [("1 association", 1, args.echoes),
                 (f"{args.associations} associations", args.associations,
                  args.per_association)]
    rows = []
    for label, n, per in scenarios:
        theirs, lost = rate("pynetdicom", n, per)
        if lost:
            print(f"note: pynetdicom failed {lost} of {n * per} C-ECHOs in '{label}'",
                  file=sys.stderr)
        ours = {b: rate("aioups", n, per, b)[0] for b in backends}
        rows.append((f"C-ECHO, {label} x {per}", theirs, ours))
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, aioups {aioups.__version__}")
    header = ["scenario", "pynetdicom /s"] + [f"aioups {b} /s" for b in backends] + [
        f"ratio ({b})" for b in backends]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    for label, theirs, ours in rows:
        cells = [label, f"{theirs:.0f}"] + [f"{ours[b]:.0f}" for b in backends] + [
            f"{ours[b] / theirs:.1f}x" for b in backends]
        print(("| " + " | ".join(cells) + " |") if args.markdown else "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
