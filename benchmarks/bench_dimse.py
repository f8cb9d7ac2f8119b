"""N-CREATE and N-GET over one association: aioups against pynetdicom, in one run.

    python benchmarks/bench_dimse.py [--operations 2000] [--pynetdicom-operations 200]
                                     [--backends asyncio,uvloop,trio] [--markdown]

Each server runs in its own process (``benchmarks/peers.py``), and so does each client.  aioups
runs with 1 and with 64 requests outstanding on the association (asynchronous operations window
64/unlimited); pynetdicom cannot have more than one outstanding request, so it runs with 1.

What each request carries: N-CREATE sends a ~500-byte UPS workitem whose UID travels in the
command (the data set is the same each time: aioups encodes it once and sends the bytes, which
its API accepts; pynetdicom's API takes a Dataset and encodes it on every request).  N-GET asks
for 5 attributes and receives the whole stored workitem; both clients decode it and read one
attribute.  Both servers keep N-CREATE data sets as received and never decode them.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import subprocess
import sys

from bench_echo import HERE, server

import aioups


def rate(service: str, impl: str, operations: int, outstanding: int = 1,
         backend: str = "asyncio") -> tuple[float, int]:
    """Operations per second and failures, server and client in their own processes."""
    with server("server", impl, backend) as port:
        argv = [sys.executable, str(HERE / "peers.py"), service, impl, str(port),
                str(operations), str(outstanding)]
        if impl == "aioups":
            argv.append(backend)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RATE ")), None)
    if line is None:
        raise RuntimeError(f"{impl} {service} client failed:\n{out.stderr[-2000:]}")
    fields = line.split()
    return float(fields[1]), int(fields[3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--pynetdicom-operations", type=int, default=200,
                        help="fewer: pynetdicom manages about 20 of these per second here")
    parser.add_argument("--backends", default="asyncio,uvloop,trio")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",")
                if b != "uvloop" or importlib.util.find_spec("uvloop")]
    rows = []
    for service in ("n-create", "n-get"):
        theirs, lost = rate(service, "pynetdicom", args.pynetdicom_operations)
        if lost:
            print(f"note: pynetdicom failed {lost} {service} requests", file=sys.stderr)
        for outstanding in (1, 64):
            ours = {}
            for backend in backends:
                ours[backend], failed = rate(service, "aioups", args.operations, outstanding,
                                             backend)
                if failed:
                    print(f"note: aioups {backend} failed {failed} {service} requests",
                          file=sys.stderr)
            rows.append((service.upper(), outstanding, theirs, ours))
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, aioups {aioups.__version__}")
    header = (["operation", "outstanding", "pynetdicom /s (1 outstanding)"]
              + [f"aioups {b} /s" for b in backends] + [f"ratio ({b})" for b in backends])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    for label, outstanding, theirs, ours in rows:
        cells = ([label, str(outstanding), f"{theirs:.0f}"] + [f"{ours[b]:.0f}" for b in backends]
                 + [f"{ours[b] / theirs:.0f}x" for b in backends])
        print(("| " + " | ".join(cells) + " |") if args.markdown else "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
