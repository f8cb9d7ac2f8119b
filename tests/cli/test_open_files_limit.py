"""`aioups serve`, `load` and `monitor` raise their open-files limit as far as the OS allows
(one descriptor per association; issue #6 asks for 10 000 in one process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")

LOW = 256


def _lower_soft_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW, hard))


def _hard() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@pytest.mark.skipif(_hard() <= LOW, reason="the hard limit leaves nothing to raise")
def test_raise_open_files_limit_goes_to_the_hard_limit() -> None:
    code = ("import resource; from aioups.cli._common import raise_open_files_limit; "
            "before = resource.getrlimit(resource.RLIMIT_NOFILE)[0]; "
            "now = raise_open_files_limit(); "
            "print(before, now, resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, preexec_fn=_lower_soft_limit, check=True)
    before, now, after = map(int, done.stdout.split())
    hard = _hard()
    expected = hard if hard != resource.RLIM_INFINITY else 1 << 20
    assert before == LOW
    assert now == after == expected


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="needs /proc")
@pytest.mark.skipif(_hard() <= LOW, reason="the hard limit leaves nothing to raise")
def test_serve_runs_with_the_raised_limit(tmp_path: Path) -> None:
    with subprocess.Popen(
            [sys.executable, "-m", "aioups", "serve", "--host", "127.0.0.1", "--port", "0",
             "--db", ":memory:"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            preexec_fn=_lower_soft_limit, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # "... listening on ...": the limit is set by then
            assert "listening on" in line, line
            limits = Path(f"/proc/{proc.pid}/limits").read_text().splitlines()
            soft = next(row for row in limits if row.startswith("Max open files")).split()[3]
            assert int(soft) > LOW
        finally:
            proc.terminate()
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
