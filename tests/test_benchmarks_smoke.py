"""The benchmark entry point still runs: ``benchmarks/bench_all.py --quick --only echo`` on
asyncio (10-15 s: six servers and six clients, each its own process), with pynetdicom as
shipped and with TCP_NODELAY.  The numbers are not checked, only that both libraries and both
pynetdicom baselines were measured and the table came out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pynetdicom")
pytestmark = pytest.mark.interop

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_all.py"


def test_bench_all_quick_echo(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--only", "echo", "--backends", "asyncio",
         "--no-processes", "--markdown", "--json", str(out)],
        capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| C-ECHO 1x200 |" in done.stdout and "| C-ECHO 4x25 |" in done.stdout
    assert "vs pynetdicom as shipped" in done.stdout
    assert "vs pynetdicom + TCP_NODELAY" in done.stdout
    result = json.loads(out.read_text())
    assert result["quick"] and result["pynetdicom_baselines"] == ["shipped", "nodelay"]
    for row in result["results"]["echo"]:
        assert row["pynetdicom_shipped"]["rate"] > 0  # as shipped
        assert row["pynetdicom"]["rate"] > 0  # + TCP_NODELAY
        assert row["aioups"]["asyncio"]["rate"] > 0
        assert row["aioups"]["asyncio"]["failed"] == 0
