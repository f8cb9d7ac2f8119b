"""``aioups serve`` from the command line: stores, AE directory, AE title checks, limits, usage.

A running server is a real subprocess (``python -m aioups --backend B serve --host 127.0.0.1
--port 0 ...``, B = the test's own backend, so the SCP runs on asyncio and on trio); the test
reads the port from its ``listening`` line.  Usage errors that stop ``serve`` before it listens
run in-process through ``aioups.cli.main``; the ones that would not stop it (library bugs, see
the xfail marks) run as subprocesses that are killed as soon as they listen.

Every wait is bounded; every process started here is killed by its PID in a ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from helpers.peers import dcmtk_tool, describe, run_dcmtk_echoscu
from ups.factories import create_request

import aioups
from aioups.cli import main
from aioups.errors import AssociationRejected, DIMSEFailure

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SCP_AET = "UPSSCP"
STARTUP_TIMEOUT = 20.0
LISTENING = re.compile(r"(\S+) listening on 127\.0\.0\.1:(\d+) \(UPS SCP, store (.*), "
                       r"(\d+) workitems\)\n")


# --- helpers -----------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    """The subprocess imports this checkout's aioups, whatever its working directory."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


def _argv(*args: str, backend: str = "asyncio") -> list[str]:
    return [sys.executable, "-m", "aioups", "--backend", backend, "serve", "--host", HOST,
            "--port", "0", *args]


@dataclass
class Serving:
    """A running ``aioups serve``: its process, port and what its first line said."""

    process: Process
    port: int
    store: str
    workitems: int
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def terminate(self) -> int:
        """SIGTERM (by PID); the exit code, which must come within 15 s."""
        os.kill(self.process.pid, signal.SIGTERM)
        with anyio.fail_after(15):
            return await self.process.wait()


@asynccontextmanager
async def serving(tmp_path: Path, backend: str, *args: str, cwd: Path | None = None,
                  aet: str = SCP_AET) -> AsyncIterator[Serving]:
    """Run ``aioups serve --aet aet args`` until the block ends; SIGKILL (by PID) if it is still
    running then."""
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    stderr_path = logs / f"serve-{len(list(logs.iterdir()))}.stderr"
    with stderr_path.open("wb") as stderr:  # a file: a chatty process never blocks on a pipe
        process = await anyio.open_process(_argv("--aet", aet, *args, backend=backend),
                                           stdin=subprocess.DEVNULL, stderr=stderr,
                                           cwd=cwd or tmp_path, env=_env())
    try:
        assert process.stdout is not None
        try:
            with anyio.fail_after(STARTUP_TIMEOUT):
                line = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 4096)
        except (anyio.IncompleteRead, anyio.EndOfStream, TimeoutError):
            pytest.fail(f"no listening line:\n{stderr_path.read_text(errors='replace')}")
        match = LISTENING.fullmatch(line.decode() + "\n")
        assert match is not None, line
        assert match.group(1) == aet
        yield Serving(process, int(match.group(2)), match.group(3), int(match.group(4)),
                      stderr_path)
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)  # only the process started here
            with anyio.move_on_after(10):
                await process.aclose()


def connect(port: int, *, calling: str = "TESTSCU", called: str = SCP_AET) -> Any:
    return aioups.UPSClient.connect(HOST, port, called_ae_title=called, calling_ae_title=calling,
                                    timeout=10.0)


@asynccontextmanager
async def event_receivers(*titles: str) -> AsyncIterator[dict[str, aioups.EventReceiver]]:
    """One listening EventReceiver per AE title, closed afterwards."""
    receivers = {title: aioups.EventReceiver(title) for title in titles}
    try:
        async with anyio.create_task_group() as tg:
            for rx in receivers.values():
                await tg.start(rx.serve, HOST, 0)
            yield receivers
            tg.cancel_scope.cancel()
    finally:
        for rx in receivers.values():
            rx.close()


async def next_event(rx: aioups.EventReceiver, timeout: float = 10.0) -> aioups.ReceivedEvent:
    with anyio.fail_after(timeout):
        return await rx.receive()


async def rejection(port: int, **names: str) -> AssociationRejected:
    """Open an association that must be rejected; the rejection."""
    with pytest.raises(AssociationRejected) as caught:
        async with connect(port, **names):
            pass
    return caught.value


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aioups serve: "), err


def assert_clean_exit(server: Serving, code: int) -> None:
    assert code == 0, server.stderr()
    assert "Traceback" not in server.stderr(), server.stderr()


# --- stores ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_memory_db_keeps_nothing(tmp_path: Path, anyio_backend: str) -> None:
    """``--db :memory:`` serves (also any Called AE title by default), writes no file and
    forgets everything on restart."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    uid = aioups.dimse.generate_uid()
    with anyio.fail_after(30):
        async with serving(tmp_path, anyio_backend, "--db", ":memory:", cwd=cwd) as server:
            assert (server.store, server.workitems) == (":memory:", 0)
            async with connect(server.port, called="ANY-SCP") as client:
                assert (await client.echo()).status == aioups.Status.SUCCESS
                await client.create(create_request(), uid)
                got = await client.get(uid, ["ProcedureStepState"])
                assert got.data_set is not None
                assert got.data_set.ProcedureStepState == "SCHEDULED"
            assert_clean_exit(server, await server.terminate())
        assert list(cwd.iterdir()) == []
        async with serving(tmp_path, anyio_backend, "--db", ":memory:", cwd=cwd) as server:
            assert server.workitems == 0
            async with connect(server.port) as client:
                with pytest.raises(DIMSEFailure) as caught:
                    await client.get(uid)
                assert caught.value.status == 0xC307


@pytest.mark.anyio
async def test_default_db_is_created_in_the_working_directory(tmp_path: Path,
                                                              anyio_backend: str) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    uid = aioups.dimse.generate_uid()
    with anyio.fail_after(30):
        async with serving(tmp_path, anyio_backend, cwd=cwd) as server:
            assert (server.store, server.workitems) == ("aioups-ups.sqlite", 0)
            assert (cwd / "aioups-ups.sqlite").is_file()
            async with connect(server.port) as client:
                await client.create(create_request(ProcedureStepLabel="kept"), uid)
            assert_clean_exit(server, await server.terminate())
        async with serving(tmp_path, anyio_backend, cwd=cwd) as server:
            assert (server.store, server.workitems) == ("aioups-ups.sqlite", 1)
            async with connect(server.port) as client:
                got = await client.get(uid, ["ProcedureStepLabel"])
                assert got.data_set is not None and got.data_set.ProcedureStepLabel == "kept"
            assert_clean_exit(server, await server.terminate())


# --- AE directory and --ae ---------------------------------------------------------------------


def write_directory(tmp_path: Path, fmt: str, port: int) -> Path:
    """MONITOR -> 127.0.0.1:port, as "host:port" (JSON) or as a table (TOML)."""
    if fmt == "json":
        path = tmp_path / "aes.json"
        path.write_text(json.dumps({"MONITOR": f"{HOST}:{port}"}))
    else:
        path = tmp_path / "aes.toml"
        path.write_text(f'[MONITOR]\nhost = "{HOST}"\nport = {port}\n')
    return path


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", ["json", "toml"])
async def test_ae_directory_and_ae_option_deliver_events(tmp_path: Path, anyio_backend: str,
                                                         fmt: str) -> None:
    """MONITOR comes from the --ae-directory file, WATCHER from --ae: both can subscribe and
    both get the events at those addresses; an AE in neither gets C308.  With
    --no-deletion-locks a lock is refused with B301 (the subscription is kept)."""
    with anyio.fail_after(30):
        async with event_receivers("MONITOR", "WATCHER") as receivers:
            directory = write_directory(tmp_path, fmt, int(receivers["MONITOR"].port or 0))
            watcher = f"WATCHER={HOST}:{receivers['WATCHER'].port}"
            async with serving(tmp_path, anyio_backend, "--db", ":memory:", "--ae-directory",
                               str(directory), "--ae", watcher, "--no-deletion-locks",
                               ) as server, connect(server.port) as client:
                refused = await client.subscribe(receiving_ae="MONITOR", deletion_lock=True)
                assert refused.status == 0xB301
                accepted = await client.subscribe(receiving_ae="WATCHER")
                assert accepted.status == aioups.Status.SUCCESS
                with pytest.raises(DIMSEFailure) as caught:
                    await client.subscribe(receiving_ae="STRANGER")
                assert caught.value.status == 0xC308
                created = await client.create(create_request())
                for rx in receivers.values():
                    event = await next_event(rx)
                    assert (event.event_type_id, event.state) == (1, "SCHEDULED")
                    assert event.sop_instance_uid == created.affected_sop_instance_uid
                    assert event.calling_ae_title == SCP_AET


# --- AE title checks and limits ----------------------------------------------------------------


@pytest.mark.anyio
async def test_calling_and_called_ae_title_checks(tmp_path: Path, anyio_backend: str) -> None:
    with anyio.fail_after(30):
        async with serving(tmp_path, anyio_backend, "--db", ":memory:", "--require-called-aet",
                           "--accept-calling-aet", "ALLOWED",
                           "--accept-calling-aet", "ALSO_OK") as server:
            for calling in ("ALLOWED", "ALSO_OK"):
                async with connect(server.port, calling=calling) as client:
                    assert (await client.echo()).status == aioups.Status.SUCCESS
            intruder = await rejection(server.port, calling="INTRUDER")
            assert (intruder.result, intruder.source, intruder.reason) == (1, 1, 3)
            wrong_called = await rejection(server.port, calling="ALLOWED", called="OTHERSCP")
            assert (wrong_called.result, wrong_called.source, wrong_called.reason) == (1, 1, 7)
            assert_clean_exit(server, await server.terminate())


@pytest.mark.anyio
async def test_max_associations_1(tmp_path: Path, anyio_backend: str) -> None:
    with anyio.fail_after(30):
        async with serving(tmp_path, anyio_backend, "--db", ":memory:",
                           "--max-associations", "1") as server:
            async with connect(server.port, calling="FIRST") as first:
                assert (await first.echo()).status == aioups.Status.SUCCESS
                second = await rejection(server.port, calling="SECOND")
                assert (second.result, second.source, second.reason) == (2, 3, 2)
                assert (await first.echo()).status == aioups.Status.SUCCESS
            while True:  # the slot is free once the server has seen the release
                with contextlib.suppress(AssociationRejected):
                    async with connect(server.port, calling="THIRD") as third:
                        assert (await third.echo()).status == aioups.Status.SUCCESS
                        break
                await anyio.sleep(0.05)
            assert_clean_exit(server, await server.terminate())


# --- C-ECHO ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_echo_from_dcmtk_echoscu(tmp_path: Path, anyio_backend: str) -> None:
    """DCMTK's echoscu (TCP_NODELAY=1) gets 0000 from serve; our own C-ECHO is in
    test_memory_db_keeps_nothing."""
    dcmtk_tool("echoscu")  # skips when DCMTK is not installed
    with anyio.fail_after(45):
        async with serving(tmp_path, anyio_backend, "--db", ":memory:") as server:
            result = await anyio.to_thread.run_sync(
                lambda: run_dcmtk_echoscu(server.port, called_ae_title=SCP_AET))
            assert result.returncode == 0, describe(result)
            assert_clean_exit(server, await server.terminate())


# --- usage errors: in-process ------------------------------------------------------------------


def _bad_json(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    return path


def _bad_entry(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('MONITOR = "no-port-here"\n')
    return path


def _bad_title(tmp_path: Path) -> Path:
    path = tmp_path / "bad-title.json"
    path.write_text(json.dumps({"SEVENTEEN_CHARS_X": f"{HOST}:104"}))
    return path


@pytest.mark.parametrize("args", [
    ["--port", "70000"],
    ["--port", "-1"],
    ["--ae", "MONITOR"],
    ["--ae", "MONITOR=127.0.0.1"],
    ["--ae", "MONITOR=127.0.0.1:"],
    ["--ae", "=127.0.0.1:104"],
    ["--ae", "MONITOR=:104"],
    ["--ae", "MONITOR=127.0.0.1:port"],
    ["--ae-directory", "{tmp}/missing.json"],
    ["--ae-directory", "{bad_json}"],
    ["--ae-directory", "{bad_entry}"],
    ["--ae-directory", "{bad_title}"],
    ["--max-associations", "0"],
    ["--max-ops-performed", "-1"],
], ids=lambda args: " ".join(args))
def test_usage_error_exits_2_with_one_line(args: list[str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    files = {"tmp": tmp_path, "bad_json": _bad_json(tmp_path),
             "bad_entry": _bad_entry(tmp_path), "bad_title": _bad_title(tmp_path)}
    argv = [arg.format(**files) for arg in args]
    code = main(["serve", "--host", HOST, "--port", "0", "--db", ":memory:", *argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert_one_line_error(err)


@pytest.mark.parametrize("args", [
    ["--port", "abc"],
    ["--synchronous", "OFF"],
    ["--purge-after", "soon"],
    ["--max-associations", "many"],
    ["--no-such-option"],
])
def test_argparse_error_exits_2_with_usage(args: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--host", HOST, "--db", ":memory:", *args])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: aioups"), err
    assert "Traceback" not in err


# --- usage errors: subprocesses ----------------------------------------------------------------


@contextlib.contextmanager
def started(cwd: Path, *args: str, timeout: float = STARTUP_TIMEOUT,
            ) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``aioups serve args``; yields the process and its first stdout line (empty if it
    exited without one).  Killed by PID and reaped afterwards."""
    process = subprocess.Popen(_argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env())
    try:
        assert process.stdout is not None
        pool = ThreadPoolExecutor(1)  # readline() with a deadline
        first = pool.submit(process.stdout.readline)
        try:
            line = first.result(timeout=timeout)
        finally:
            if not first.done():
                process.kill()  # unblocks readline()
            pool.shutdown()
        yield process, line
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def serve_once(cwd: Path, *args: str) -> tuple[int | None, str, str]:
    """Run ``aioups serve args`` until it exits or listens.  Returns (exit code, stdout,
    stderr); the exit code is None when it started listening (it is then killed)."""
    with started(cwd, *args) as (process, line):
        listening = "listening on" in line
        if listening:
            process.kill()
        out, err = process.communicate(timeout=30)
    return (None if listening else process.returncode), line + out, err


@contextlib.contextmanager
def port_in_use() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("db", ["dir", "missing/ups.sqlite", "garbage.sqlite"])
def test_unusable_db_exits_non_zero_with_one_line(db: str, tmp_path: Path) -> None:
    """A directory, a file in a missing directory, a file that is not a database: one line on
    stderr and exit code 2 (a configuration problem, like bad usage)."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "garbage.sqlite").write_bytes(b"this is not a SQLite database" * 100)
    code, out, err = serve_once(tmp_path, "--db", db)
    assert code is not None, "serve started on an unusable database"
    assert code == 2, (code, err)
    assert out == ""
    assert_one_line_error(err)
    assert "StoreError" in err and db.split("/")[0] in err


def test_port_in_use_exits_with_one_line(tmp_path: Path) -> None:
    with port_in_use() as port:
        code, _, err = serve_once(tmp_path, "--db", ":memory:", "--port", str(port))
    assert code not in (None, 0, 1), (code, err)
    assert_one_line_error(err)


def test_host_not_ours_exits_with_one_line(tmp_path: Path) -> None:
    code, _, err = serve_once(tmp_path, "--db", ":memory:", "--host", "192.0.2.1")
    assert code not in (None, 0, 1), (code, err)
    assert_one_line_error(err)


def test_too_long_aet_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = serve_once(tmp_path, "--db", ":memory:", "--aet", "SEVENTEEN_CHARS_X")
    assert code == 2, (code, err)
    assert_one_line_error(err)


def test_ae_option_with_too_long_title_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = serve_once(tmp_path, "--db", ":memory:", "--ae", f"SEVENTEEN_CHARS_X={HOST}:104")
    assert code == 2, (code, err)
    assert_one_line_error(err)


@pytest.mark.anyio
async def test_ae_option_with_bad_port_is_refused_or_harmless(tmp_path: Path,
                                                              anyio_backend: str) -> None:
    """Either a usage error at start-up or, at least, an SCP that survives the failed
    delivery."""
    argv = ("--db", ":memory:", "--ae", f"MONITOR={HOST}:99999")
    code, _, err = await anyio.to_thread.run_sync(lambda: serve_once(tmp_path, *argv))
    if code is not None:
        assert code == 2, (code, err)
        assert_one_line_error(err)
        return
    with anyio.fail_after(30):
        async with serving(tmp_path, anyio_backend, *argv) as server:
            async with connect(server.port) as client:
                await client.subscribe(receiving_ae="MONITOR")
                await client.create(create_request())  # its event goes to port 99999
                await anyio.sleep(0.5)
                assert (await client.echo()).status == aioups.Status.SUCCESS
            assert_clean_exit(server, await server.terminate())


# --- purging ---------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_purge_after_0_does_not_spin(tmp_path: Path) -> None:
    with started(tmp_path, "--db", ":memory:", "--purge-after", "0") as (process, line):
        assert "listening on" in line
        before = _cpu_seconds(process.pid)
        time.sleep(1.5)  # idle: no association, nothing to purge
        used = _cpu_seconds(process.pid) - before
    assert used < 0.1, f"{used:.2f} s of CPU in 1.5 s idle"
