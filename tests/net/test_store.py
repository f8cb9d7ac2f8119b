"""The UPS stores: memory and SQLite (write-through, survives reopening), and the AE directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aioups.errors import ConfigurationError, StoreError
from aioups.net._directory import AEAddress, load_ae_directory, parse_address
from aioups.net._store import MemoryStore, SQLiteStore, StoredSubscription, StoredWorkitem

pytestmark = pytest.mark.anyio


def item(uid: str, state: str = "SCHEDULED", tuid: str | None = None) -> StoredWorkitem:
    return StoredWorkitem(sop_instance_uid=uid, state=state, transaction_uid=tuid,
                          data_set=b"\x10\x00\x10\x00PN\x04\x00Doe^", final_since=None)


async def test_memory_store_round_trip() -> None:
    store = MemoryStore()
    assert await store.open() is False
    await store.put(item("1.2.3"))
    await store.put(item("1.2.3", "IN PROGRESS", "9.9"))
    assert store.get("1.2.3") == item("1.2.3", "IN PROGRESS", "9.9")
    assert store.get("4.5") is None
    await store.delete(["1.2.3", "4.5"])
    assert list(store.workitems()) == []


async def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ups.sqlite"
    store = SQLiteStore(path)
    assert await store.open() is False  # a new file: cold start
    await store.put(item("1.1"))
    await store.put(item("1.2", "COMPLETED", "7.7"))
    await store.delete(["1.1"])
    subs = [StoredSubscription(receiving_ae="MON", target="1.2", state="WITH_LOCK"),
            StoredSubscription(receiving_ae="MON", target="1.2.840.10008.5.1.4.34.5.1",
                               state="WITHOUT_LOCK", filter=b"\x01\x02")]
    await store.set_subscriptions("MON", subs)
    await store.set_subscriptions("OTHER", [StoredSubscription(
        receiving_ae="OTHER", target="1.2", state="NOT_SUBSCRIBED")])
    await store.set_subscriptions("OTHER", [])
    await store.close()

    again = SQLiteStore(path)
    assert await again.open() is True  # warm start
    assert [i.sop_instance_uid for i in again.workitems()] == ["1.2"]
    assert again.get("1.2") == item("1.2", "COMPLETED", "7.7")
    assert sorted(again.subscriptions(), key=lambda s: s.target) == sorted(
        subs, key=lambda s: s.target)
    await again.close()


async def test_sqlite_store_in_memory_and_errors(tmp_path: Path) -> None:
    store = SQLiteStore(":memory:", synchronous="NORMAL")
    assert await store.open() is False
    await store.put(item("1"))
    assert store.get("1") is not None
    await store.close()
    with pytest.raises(StoreError):
        await store.put(item("2"))  # closed
    with pytest.raises(StoreError):
        await SQLiteStore(tmp_path / "missing" / "dir" / "x.sqlite").open()
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(":memory:", synchronous="SOMETIMES")


def test_ae_directory_json_and_toml(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(json.dumps({
        "MON ": "127.0.0.1:11115", "WS": {"host": "::1", "port": 104, "tls": True,
                                         "ca_file": "ca.pem"}}))
    directory = load_ae_directory(tmp_path / "d.json")
    assert directory["MON"] == AEAddress(host="127.0.0.1", port=11115)
    assert directory["WS"].tls and directory["WS"].ca_file == str(tmp_path / "ca.pem")
    (tmp_path / "d.toml").write_text('A = "h:1"\n[B]\nhost = "h"\nport = 2\n')
    assert load_ae_directory(tmp_path / "d.toml") == {
        "A": AEAddress(host="h", port=1), "B": AEAddress(host="h", port=2)}


@pytest.mark.parametrize("content", [
    '{"A": "nohostport"}', '{"A": "h:0"}', '{"A": "h:70000"}', '{"A": 5}',
    '{"A": {"host": "h"}}', '{"A": {"host": "h", "port": true}}',
    '{"A": {"host": "h", "port": 1, "colour": "red"}}', '{"": "h:1"}',
    '{"ABCDEFGHIJKLMNOPQ": "h:1"}', '["A"]', "{not json",
])
def test_ae_directory_rejects_malformed(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError):
        load_ae_directory(path)


def test_ae_directory_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_ae_directory(tmp_path / "none.json")


def test_parse_address() -> None:
    assert parse_address("[::1]:104") == ("::1", 104)
    assert parse_address("host.example:11112") == ("host.example", 11112)
    with pytest.raises(ConfigurationError):
        parse_address(":104")
