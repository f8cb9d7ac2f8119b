"""Where a UPS SCP keeps its workitems and subscriptions: the store interface and two stores.

* :class:`MemoryStore` — nothing survives a restart (tests, embedding, load tests).
* :class:`SQLiteStore` — the embedded default of ``aioups serve``: one SQLite file in WAL mode.
  Every write is committed (and, with ``synchronous="FULL"``, synced) before the call returns,
  so a response is only sent for what is durable.  Reads are served from memory: the store
  loads every row once when it opens and writes through afterwards.

Workitems are stored as data-set bytes (Explicit VR Little Endian, without the Transaction UID)
plus the columns the SCP needs without decoding: state, Transaction UID, final-state time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, final

import anyio
import anyio.to_thread

from ..errors import StoreError


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class StoredWorkitem:
    """One workitem as stored."""

    sop_instance_uid: str
    state: str
    #: the lock (kept after a final state, UPS-12); never sent to a peer
    transaction_uid: str | None
    #: Explicit VR Little Endian, without Transaction UID
    data_set: bytes
    #: wall-clock time (seconds) when it became COMPLETED or CANCELED
    final_since: float | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSubscription:
    """One subscription: a Receiving AE and a UPS UID or a well-known global UID."""

    receiving_ae: str
    target: str
    #: ``"WITH_LOCK"``, ``"WITHOUT_LOCK"`` or ``"NOT_SUBSCRIBED"`` (an instance a global
    #: subscriber unsubscribed from)
    state: str
    #: matching keys (Explicit VR LE) of a filtered global subscription
    filter: bytes | None = None


class UPSStore(Protocol):
    """What the UPS SCP needs from a store.  Calls may run concurrently (the SCP serialises
    the ones that touch one workitem)."""

    async def open(self) -> bool:
        """Open; True when earlier contents were kept (a warm start)."""

    async def close(self) -> None:
        """Release resources."""

    def get(self, uid: str) -> StoredWorkitem | None:
        """The workitem with this UID (from memory)."""

    def workitems(self) -> Iterable[StoredWorkitem]:
        """Every workitem (from memory)."""

    async def put(self, item: StoredWorkitem) -> None:
        """Insert or replace a workitem, durably."""

    async def delete(self, uids: Iterable[str]) -> None:
        """Remove workitems (purge), durably."""

    def subscriptions(self) -> list[StoredSubscription]:
        """Every subscription (from memory)."""

    def subscriptions_of(self, receiving_ae: str) -> Mapping[str, StoredSubscription]:
        """One Receiving AE's subscriptions by target (from memory)."""

    async def update_subscriptions(self, receiving_ae: str, put: Iterable[StoredSubscription],
                                   remove: Iterable[str]) -> None:
        """Insert or replace ``put`` and delete the subscriptions of ``receiving_ae`` to the
        targets in ``remove``, durably and together."""


class _CachedStore:
    """Workitems and subscriptions held in dicts: a whole store, or a durable store's cache."""

    def __init__(self) -> None:
        self._items: dict[str, StoredWorkitem] = {}
        self._subs: dict[str, dict[str, StoredSubscription]] = {}

    async def open(self) -> bool:
        return False

    async def close(self) -> None:
        return None

    def get(self, uid: str) -> StoredWorkitem | None:
        return self._items.get(uid)

    def workitems(self) -> Iterable[StoredWorkitem]:
        return list(self._items.values())

    async def put(self, item: StoredWorkitem) -> None:
        self._items[item.sop_instance_uid] = item

    async def delete(self, uids: Iterable[str]) -> None:
        for uid in uids:
            self._items.pop(uid, None)

    def subscriptions(self) -> list[StoredSubscription]:
        return [record for records in self._subs.values() for record in records.values()]

    def subscriptions_of(self, receiving_ae: str) -> Mapping[str, StoredSubscription]:
        return self._subs.get(receiving_ae, {})

    async def update_subscriptions(self, receiving_ae: str, put: Iterable[StoredSubscription],
                                   remove: Iterable[str]) -> None:
        mine = self._subs.setdefault(receiving_ae, {})
        for target in remove:
            mine.pop(target, None)
        for record in put:
            mine[record.target] = record
        if not mine:
            del self._subs[receiving_ae]

    async def set_subscriptions(self, receiving_ae: str,
                                records: Iterable[StoredSubscription]) -> None:
        """Make ``records`` all of ``receiving_ae``'s subscriptions (writes what changed)."""
        before = self.subscriptions_of(receiving_ae)
        after = {r.target: r for r in records}
        await self.update_subscriptions(
            receiving_ae, [r for t, r in after.items() if before.get(t) != r],
            [t for t in before if t not in after])


@final
class MemoryStore(_CachedStore):
    """A store in memory only: nothing survives the process."""


class _PendingWrite:
    """One caller's statements, waiting for the commit that includes them."""

    __slots__ = ("done", "error", "statements")

    def __init__(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        self.statements = statements
        self.done = anyio.Event()
        self.error: sqlite3.Error | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS workitem (
    uid TEXT PRIMARY KEY, state TEXT NOT NULL, transaction_uid TEXT,
    data_set BLOB NOT NULL, final_since REAL);
CREATE TABLE IF NOT EXISTS subscription (
    receiving_ae TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL,
    filter BLOB, PRIMARY KEY (receiving_ae, target));
"""


@final
class SQLiteStore(_CachedStore):
    """A SQLite file (WAL) that survives restarts; ``path=":memory:"`` keeps nothing.

    Args:
        path: the database file (created if missing).
        synchronous: SQLite's ``PRAGMA synchronous``: ``"FULL"`` (default) syncs every commit,
            so an acknowledged request survives a power loss; ``"NORMAL"`` survives a crash of
            the process only, and is faster.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        super().__init__()
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous={synchronous!r}")
        self.path = str(path)
        self._synchronous = synchronous.upper()
        self._db: sqlite3.Connection | None = None
        self._queue: list[_PendingWrite] = []
        self._writing = False
        self._written = anyio.Event()

    async def open(self) -> bool:
        try:
            await anyio.to_thread.run_sync(self._open)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        return bool(self._items or self._subs)

    def _open(self) -> None:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.executescript(_SCHEMA)
        for uid, state, tuid, data, final_since in db.execute(
                "SELECT uid, state, transaction_uid, data_set, final_since FROM workitem"):
            self._items[uid] = StoredWorkitem(sop_instance_uid=uid, state=state,
                                              transaction_uid=tuid, data_set=bytes(data),
                                              final_since=final_since)
        for ae, target, state, filt in db.execute(
                "SELECT receiving_ae, target, state, filter FROM subscription"):
            self._subs.setdefault(ae, {})[target] = StoredSubscription(
                receiving_ae=ae, target=target, state=state,
                filter=None if filt is None else bytes(filt))
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            if self._writing:  # let the commits in progress finish
                await self._written.wait()
            db, self._db = self._db, None
            await anyio.to_thread.run_sync(db.close)

    async def _write(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        """Run ``statements`` as one unit; returns once committed.

        Group commit: writes that arrive while a commit is running wait for the next one and
        share it (one transaction and one sync for all of them, each in a savepoint of its
        own, so one failing write does not fail the others).
        """
        if self._db is None:
            raise StoreError("the store is not open")
        write = _PendingWrite(statements)
        self._queue.append(write)
        if not self._writing:
            self._writing = True
            self._written = anyio.Event()
            try:
                with anyio.CancelScope(shield=True):  # others are waiting for these commits
                    while self._queue:
                        batch, self._queue = self._queue, []
                        await self._commit(batch)
            finally:
                self._writing = False
                self._written.set()
        await write.done.wait()
        if write.error is not None:
            raise StoreError(f"{self.path}: {write.error}") from write.error

    async def _commit(self, batch: list[_PendingWrite]) -> None:
        db = self._db

        def run() -> None:
            assert db is not None
            db.execute("BEGIN IMMEDIATE")
            for write in batch:
                db.execute("SAVEPOINT one")
                try:
                    for sql, params in write.statements:
                        db.execute(sql, params)
                except sqlite3.Error as exc:
                    db.execute("ROLLBACK TO one")
                    write.error = exc
                db.execute("RELEASE one")
            db.execute("COMMIT")

        try:
            if db is None:
                raise sqlite3.ProgrammingError("the store is closed")
            await anyio.to_thread.run_sync(run, abandon_on_cancel=False)
        except sqlite3.Error as exc:
            for write in batch:
                write.error = write.error or exc
            if db is not None and db.in_transaction:
                db.execute("ROLLBACK")
        finally:
            for write in batch:
                write.done.set()

    async def put(self, item: StoredWorkitem) -> None:
        await self._write([(
            "INSERT OR REPLACE INTO workitem (uid, state, transaction_uid, data_set, final_since)"
            " VALUES (?, ?, ?, ?, ?)",
            (item.sop_instance_uid, item.state, item.transaction_uid, item.data_set,
             item.final_since))])
        await super().put(item)

    async def delete(self, uids: Iterable[str]) -> None:
        uids = list(uids)
        await self._write([("DELETE FROM workitem WHERE uid = ?", (uid,)) for uid in uids])
        await super().delete(uids)

    async def update_subscriptions(self, receiving_ae: str, put: Iterable[StoredSubscription],
                                   remove: Iterable[str]) -> None:
        put, remove = list(put), list(remove)
        statements: list[tuple[str, tuple[object, ...]]] = [
            ("DELETE FROM subscription WHERE receiving_ae = ? AND target = ?",
             (receiving_ae, target)) for target in remove]
        statements += [(
            "INSERT OR REPLACE INTO subscription (receiving_ae, target, state, filter)"
            " VALUES (?, ?, ?, ?)", (r.receiving_ae, r.target, r.state, r.filter)) for r in put]
        if statements:
            await self._write(statements)
        await super().update_subscriptions(receiving_ae, put, remove)
