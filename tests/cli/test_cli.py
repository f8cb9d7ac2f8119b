"""The ``aioups`` command line: ``main(argv)`` in-process (capsys), plus two subprocess tests.

The SCP the ``echo`` tests talk to is an in-process :class:`aioups.Server` running on its own
event loop in a background thread (an anyio blocking portal), so ``main()`` can run its own
``anyio.run`` in the test's thread, exactly as it does from a shell.
"""

from __future__ import annotations

import logging
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import anyio.from_thread
import pytest

import aioups
from aioups.cli import main
from aioups.dimse import CEchoRQ, Response
from aioups.net import ServiceRequest, echo_handler

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("asyncio", "trio")
OTHER_BACKEND = {"asyncio": "trio", "trio": "asyncio"}
ECHO_OK = re.compile(r"^C-ECHO AIOUPS@127\.0\.0\.1:\d+: 0x0000 SUCCESS\b.*, (\d+) echo\(s\) in ",
                     re.MULTILINE)


# --- helpers ---------------------------------------------------------------------------------


@contextmanager
def _bare_root_logger() -> Iterator[None]:
    """Give ``main()`` a root logger without handlers, as in a fresh interpreter.

    pytest's logging plugin keeps handlers on the root logger while a test runs, which makes
    the CLI's ``logging.basicConfig`` a no-op.  Take them off for the duration of the call, then
    drop whatever ``basicConfig`` installed and put pytest's handlers and level back.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    for handler in saved_handlers:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


def run_cli(*argv: str) -> int:
    """``aioups.cli.main(argv)`` with the logging set-up a shell user would get."""
    with _bare_root_logger():
        return main(list(argv))


@contextmanager
def serving(config: aioups.ServerConfig | None = None,
            backend: str = "asyncio") -> Iterator[int]:
    """Run an aioups Server on 127.0.0.1 in a background thread; yields its port."""
    server = aioups.Server(config)
    with anyio.from_thread.start_blocking_portal(backend) as portal:
        future, port = portal.start_task(server.serve, "127.0.0.1", 0)
        try:
            yield int(port)
        finally:
            future.cancel()  # cancels serve(); leaving the portal waits for it to finish


@pytest.fixture
def port() -> Iterator[int]:
    """A default (Verification, AE title AIOUPS) SCP on asyncio."""
    with serving() as bound:
        yield bound


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def assert_one_line_error(err: str, command: str = "echo") -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"aioups {command}: "), err


# --- demo ------------------------------------------------------------------------------------


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("demo", "--workflows", "20", "--concurrency", "3") == 0
    out, err = capsys.readouterr()
    for step in ("N-ACTION subscribe DEMO_WATCHER globally", "N-CREATE (SCP assigns the UID)",
                 "N-SET progress 50%", "N-ACTION COMPLETED"):
        assert re.search(rf"{re.escape(step)} +-> 0000H SUCCESS \(success\)", out), out
    received = re.findall(r"\[DEMO_WATCHER received\] (.+?) {2,}", out)
    assert received == ["SCP Status Change", "UPS State Report", "UPS State Report",
                        "UPS Progress Report", "UPS Progress Report", "UPS State Report"], out
    assert "C-FIND state COMPLETED" in out and "-> 1 match(es)" in out
    assert "20 workflows (5 requests each) over 3 associations" in out
    assert "DEMO_WATCHER received 100 events" in out
    assert err == ""


# --- echo: success -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_echo_succeeds(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The client runs on `backend`, the server on the other one: both pairings are covered.
    with serving(backend=OTHER_BACKEND[backend]) as bound:
        code = run_cli("--backend", backend, "echo", "-c", f"AIOUPS@127.0.0.1:{bound}")
    out, err = capsys.readouterr()
    assert code == 0, err
    match = ECHO_OK.search(out)
    assert match is not None, out
    assert match.group(1) == "1"
    assert err == ""


def test_echo_repeat(capsys: pytest.CaptureFixture[str]) -> None:
    received: list[object] = []

    async def counting_echo(
            request: ServiceRequest) -> Response | tuple[Response, bytes | None]:
        received.append(request.message)
        return await echo_handler(request)

    config = aioups.ServerConfig(handlers={(aioups.VERIFICATION, CEchoRQ): counting_echo})
    with serving(config) as bound:
        code = run_cli("echo", "-c", f"AIOUPS@127.0.0.1:{bound}", "--repeat", "5")
    out, err = capsys.readouterr()
    assert code == 0, err
    match = ECHO_OK.search(out)
    assert match is not None, out
    assert match.group(1) == "5"
    assert len(received) == 5
    assert all(isinstance(message, CEchoRQ) for message in received)


def test_echo_with_calling_ae_and_timeouts(port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli("echo", "-c", f"AIOUPS@127.0.0.1:{port}", "-b", "MY_SCU",
                   "--connect-timeout", "5000", "--response-timeout", "5000",
                   "--max-pdulen-rcv", "0", "--tcp-delay")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert ECHO_OK.search(out) is not None, out


# --- echo: failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_echo_closed_port_exits_3(backend: str, closed_port: int,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli("--backend", backend, "echo", "-c", f"AIOUPS@127.0.0.1:{closed_port}")
    out, err = capsys.readouterr()
    assert code == 3
    assert out == ""
    assert_one_line_error(err)
    assert "ConnectError" in err


@pytest.mark.parametrize("address", [
    "BADADDRESS",
    "AET@127.0.0.1",           # no port
    "AET@127.0.0.1:99999",     # port out of range
    "AET@127.0.0.1:port",      # port not a number
    "@127.0.0.1:104",          # empty AE title
    "SEVENTEEN_CHARS_X@127.0.0.1:104",  # AE title longer than 16
])
def test_echo_bad_address_exits_2(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli("echo", "-c", address)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert_one_line_error(err)


def test_echo_bad_bind_exits_2(port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli("echo", "-c", f"AIOUPS@127.0.0.1:{port}", "-b", "X:notaport")
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert_one_line_error(err)


@pytest.mark.parametrize("backend", BACKENDS)
def test_echo_rejected_called_ae_exits_4(backend: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = aioups.ServerConfig(ae_title="AIOUPS", require_called_ae_title=True)
    with serving(config) as bound:
        code = run_cli("--backend", backend, "echo", "-c", f"SOMEONE_ELSE@127.0.0.1:{bound}")
    out, err = capsys.readouterr()
    assert code == 4
    assert out == ""
    assert_one_line_error(err)
    assert "AssociationRejected" in err


# --- argparse ----------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["echo", "-c", "AIOUPS@127.0.0.1:104", "--frobnicate"],
    ["--frobnicate", "demo"],
    ["--backend", "curio", "demo"],
    ["demo", "--workflows", "many"],
    ["echo"],  # -c is required
    [],        # a command is required
    ["nosuchcommand"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(*argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usage: aioups" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [[], ["echo"], ["serve"], ["demo"]])
def test_help_exits_0(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(*command, "--help")
    assert info.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith(" ".join(["usage: aioups", *command]))
    assert err == ""


def test_serve_bad_port_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli("serve", "--host", "127.0.0.1", "--port", "70000")
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert_one_line_error(err, "serve")


# --- logging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_vv_logs_dimse_messages_to_stderr(where: str, port: int,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    echo = ["echo", "-c", f"AIOUPS@127.0.0.1:{port}"]
    argv = ["-vv", *echo] if where == "before" else [*echo, "-vv"]
    code = run_cli(*argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert ECHO_OK.search(out) is not None, out
    debug = [line for line in err.splitlines() if " DEBUG " in line]
    assert any(">> CEchoRQ" in line for line in debug), err  # what the client sent
    assert "CEchoRQ" not in out  # logs go to stderr only


def test_default_verbosity_is_quiet(port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("echo", "-c", f"AIOUPS@127.0.0.1:{port}") == 0
    _, err = capsys.readouterr()
    assert err == ""


def test_logging_state_restored_between_tests() -> None:
    # The -vv test above must not leave a DEBUG root logger or a stderr handler behind.
    root = logging.getLogger()
    assert root.level == logging.WARNING
    assert not any(type(handler) is logging.StreamHandler for handler in root.handlers)


# --- subprocesses ------------------------------------------------------------------------------


def test_python_m_aioups_demo_smoke() -> None:
    proc = subprocess.run([sys.executable, "-m", "aioups", "demo", "--workflows", "10"],
                          capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "N-ACTION COMPLETED" in proc.stdout
    assert "10 workflows (5 requests each)" in proc.stdout
    assert proc.stderr == ""


@contextmanager
def _serve_subprocess(*extra: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``python -m aioups [extra] serve --port 0``; yields the process and its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aioups", *extra, "serve", "--port", "0", "--host", "127.0.0.1",
         "--db", ":memory:"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        with ThreadPoolExecutor(1) as pool:  # readline() with a deadline
            line = pool.submit(proc.stdout.readline)
            try:
                first = line.result(timeout=30)
            finally:
                if not line.done():
                    proc.kill()  # unblocks readline()
        match = re.match(r"AIOUPS listening on 127\.0\.0\.1:(\d+) \(UPS SCP", first)
        assert match is not None, repr(first)
        yield proc, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None and not proc.stdout.closed:
            proc.communicate(timeout=30)  # reap it and close the pipes


def test_serve_subprocess_answers_echo(capsys: pytest.CaptureFixture[str]) -> None:
    with _serve_subprocess() as (proc, bound):
        code = run_cli("echo", "-c", f"AIOUPS@127.0.0.1:{bound}", "--repeat", "3")
        out, err = capsys.readouterr()
        assert code == 0, err
        match = ECHO_OK.search(out)
        assert match is not None, out
        assert match.group(1) == "3"
        assert proc.poll() is None  # still serving after the association
        proc.kill()  # by PID (SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_signal_shuts_down_in_order(backend: str, signum: signal.Signals) -> None:
    with _serve_subprocess("--backend", backend) as (proc, _):
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    assert err == f"{signum.name}: shutting down\n", err
    assert proc.returncode == 0
