"""Every program in ``examples/`` runs and does what its docstring says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: example -> (extra arguments, lines its output must contain)
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "echo_scp_and_scu.py": (("trio",), ("C-ECHO: 0x0000 SUCCESS",)),
    "custom_handler.py": ((), ("FRIEND 0x0000 SUCCESS", "UNWELCOME 0x0124")),
    "ups_scp_asyncio.py": ((), ("is SCHEDULED", "is IN PROGRESS", "is COMPLETED")),
    "ups_scp_trio.py": ((), ("WATCHER: UPS State Report SCHEDULED",
                             "WATCHER: UPS State Report COMPLETED",
                             "hook saw 4 stored changes: SCHEDULED, IN PROGRESS, IN PROGRESS, "
                             "COMPLETED")),
}


def test_every_example_is_checked() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    extra, expected = EXPECTED[name]
    proc = subprocess.run([sys.executable, name, *extra], cwd=EXAMPLES, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    for text in expected:
        assert text in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
