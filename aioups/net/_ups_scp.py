"""The UPS SCP service (PS3.4 Annex CC): the pure rules of :mod:`aioups.ups` with a store,
per-workitem serialisation and event delivery.

:class:`UPSService` provides the handlers for a :class:`aioups.Server` (UPS Push, Pull, Watch,
Query and Verification) and runs the background work (event delivery, purging).  A request's
change is stored durably before its response is sent, and its events are queued, never awaited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, final

import anyio
from anyio.abc import TaskStatus

from .._uids import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    UPS_EVENT,
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PULL,
    UPS_PUSH,
    UPS_QUERY,
    UPS_WATCH,
    VERIFICATION,
)
from ..dimse import (
    CEchoRQ,
    CFindRQ,
    Dataset,
    NActionRQ,
    NActionRSP,
    NCreateRQ,
    NCreateRSP,
    NGetRQ,
    NGetRSP,
    NSetRQ,
    NSetRSP,
    Status,
    StatusCategory,
    decode_data_set,
    encode_data_set,
    generate_uid,
)
from ..errors import DIMSEStatusError
from ..ul import SupportedSyntax
from ..ups import (
    GlobalSubscriptionRecord,
    InstanceSubscriptionRecord,
    ListStatus,
    Outcome,
    PerformerResponse,
    SCPStatus,
    SubscriptionPolicy,
    SubscriptionRecord,
    SubscriptionRegistry,
    SubscriptionState,
    UPSEvent,
    Workitem,
    apply_n_set,
    change_state,
    check_identifier,
    compile_query,
    create_workitem,
    n_get_attributes,
    request_cancel,
    response_identifier,
    scp_status_change,
    state_report,
)
from ._delivery import EventDelivery, OutgoingEvent
from ._directory import AEAddress
from ._dispatch import FindMatch, Handler, ServiceRequest, echo_handler
from ._server import Server, ServerConfig
from ._store import MemoryStore, StoredSubscription, StoredWorkitem, UPSStore

logger = logging.getLogger("aioups.ups")

#: Called after a workitem change is stored: (the new workitem, the events it produced).
ChangeHook = Callable[[Workitem, tuple[UPSEvent, ...]], Awaitable[None]]
_FINAL = ("COMPLETED", "CANCELED")
_SUBSCRIPTION_ACTIONS = (3, 4, 5)


def _raise_for(outcome: Outcome) -> None:
    if outcome.status.category not in (StatusCategory.SUCCESS, StatusCategory.WARNING):
        raise DIMSEStatusError(outcome.status, outcome.error_comment,
                               offending_elements=outcome.offending_elements,
                               attribute_identifiers=outcome.attribute_identifiers)


@final
class UPSService:
    """A complete UPS SCP, to be served by :class:`aioups.Server` (see :meth:`handlers`).

    Args:
        store: where workitems and subscriptions live (default: memory only).
        directory: Receiving AE title -> address, for event delivery (UPS-63); subscribing an
            AE that is not in it gets C308.
        ae_title: our AE title, used as Calling AE title when delivering events.
        purge_after: seconds a COMPLETED or CANCELED workitem without deletion lock stays
            available; ``None`` keeps them forever.
        on_change: awaited after each stored change (embedding hook).
        fallback_aes: also receive the SCP Status Change events (UPS-62).
        deletion_locks: grant deletion locks (else subscribers get B301).
        event_queue_size: events queued per Receiving AE; beyond it the oldest is dropped.
    """

    def __init__(self, store: UPSStore | None = None, *,
                 directory: Mapping[str, AEAddress] | None = None, ae_title: str = "AIOUPS",
                 purge_after: float | None = 3600.0, on_change: ChangeHook | None = None,
                 fallback_aes: tuple[str, ...] = (), deletion_locks: bool = True,
                 event_queue_size: int = 10_000) -> None:
        self.store: UPSStore = store if store is not None else MemoryStore()
        self.directory = dict(directory or {})
        self.ae_title = ae_title
        self.purge_after = purge_after
        self.on_change = on_change
        self.fallback_aes = fallback_aes
        self.delivery = EventDelivery(self.directory, calling_ae_title=ae_title,
                                      queue_size=event_queue_size)
        self._policy = SubscriptionPolicy(deletion_locks=deletion_locks,
                                          known_aes=self.directory.keys())
        self.subscriptions = SubscriptionRegistry(self._policy)
        self.workitems: dict[str, Workitem] = {}
        self._final_since: dict[str, float] = {}
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}
        self._subscription_lock = anyio.Lock()
        self.ready = anyio.Event()
        #: seconds an orderly shutdown waits for queued events (GOING DOWN included)
        self.shutdown_grace = 2.0

    # -- set-up -------------------------------------------------------------------------------

    def handlers(self) -> dict[tuple[str, type], Handler]:
        """The handlers for :class:`aioups.ServerConfig`: N-services on every UPS context
        (their command names Push whatever the context, UPS-05), C-FIND on Pull, Watch and
        Query, C-ECHO on Verification."""
        out: dict[tuple[str, type], Handler] = {(VERIFICATION, CEchoRQ): echo_handler}
        for context in (UPS_PUSH, UPS_PULL, UPS_WATCH):
            out[(context, NCreateRQ)] = self._n_create
            out[(context, NSetRQ)] = self._n_set
            out[(context, NGetRQ)] = self._n_get
            out[(context, NActionRQ)] = self._n_action
        for context in (UPS_PULL, UPS_WATCH, UPS_QUERY):
            out[(context, CFindRQ)] = self._c_find
        return out

    def server_config(self, **options: Any) -> ServerConfig:
        """A :class:`ServerConfig` serving this service: UPS Push, Pull, Watch, Query, Event
        (accepted so SCUs may propose it) and Verification.  ``options`` go to ServerConfig
        (limits, TLS, AE title checks, the operations window...)."""
        supported = {syntax: SupportedSyntax() for syntax, _ in self.handlers()}
        supported[UPS_EVENT] = SupportedSyntax()
        options.setdefault("ae_title", self.ae_title)
        options.setdefault("max_operations_performed", 16)
        return ServerConfig(handlers=self.handlers(), supported=supported, **options)

    async def serve(self, host: str = "0.0.0.0", port: int = 11112, *,
                    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
                    **options: Any) -> None:
        """Run the service and a :class:`Server` for it until cancelled:
        ``port = await task_group.start(service.serve, host, 0)``.  ``options`` go to
        :meth:`server_config`."""
        server = Server(self.server_config(**options))
        async with anyio.create_task_group() as tg:
            await tg.start(self.run)
            task_status.started(await tg.start(server.serve, host, port))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the store, announce the restart, deliver events and purge, until cancelled;
        then announce GOING DOWN (best effort) and close the store."""
        warm = await self.store.open()
        self._load()
        delivery_scope = anyio.CancelScope(shield=True)  # outlives our own cancellation

        async def deliver(*, task_status: TaskStatus[None]) -> None:
            with delivery_scope:
                await self.delivery.run(task_status=task_status)

        async with anyio.create_task_group() as delivery_group:
            await delivery_group.start(deliver)
            try:
                async with anyio.create_task_group() as tg:
                    self._announce(SCPStatus.RESTARTED, warm)
                    if self.purge_after is not None:
                        tg.start_soon(self._purge_loop)
                    self.ready.set()
                    task_status.started()
                    await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    self._announce(SCPStatus.GOING_DOWN, True)
                    with anyio.move_on_after(self.shutdown_grace):
                        await self.delivery.wait_idle()
                    delivery_scope.cancel()
                    await self.store.close()

    def _load(self) -> None:
        for stored in self.store.workitems():
            data_set = decode_data_set(stored.data_set, EXPLICIT_VR_LITTLE_ENDIAN)
            self.workitems[stored.sop_instance_uid] = Workitem(
                sop_instance_uid=stored.sop_instance_uid, data_set=data_set,
                transaction_uid=stored.transaction_uid)
            if stored.final_since is not None:
                self._final_since[stored.sop_instance_uid] = stored.final_since
        records: list[SubscriptionRecord] = []
        for sub in self.store.subscriptions():
            if sub.target in (UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
                              UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE):
                records.append(GlobalSubscriptionRecord(
                    receiving_ae=sub.receiving_ae, deletion_lock=sub.state == "WITH_LOCK",
                    matching_keys=sub.filter))
            else:
                records.append(InstanceSubscriptionRecord(
                    receiving_ae=sub.receiving_ae, workitem_uid=sub.target,
                    state=SubscriptionState[sub.state]))
        self.subscriptions = SubscriptionRegistry.from_records(records, policy=self._policy)

    def _announce(self, status: SCPStatus, warm: bool) -> None:
        """SCP Status Change (type 4) to fallback AEs and every subscriber (UPS-62)."""
        list_status = ListStatus.WARM_START if warm else ListStatus.COLD_START
        event = scp_status_change(UPS_GLOBAL_SUBSCRIPTION_INSTANCE, scp_status=status,
                                  subscription_list_status=list_status,
                                  ups_list_status=list_status)
        for title in sorted({*self.fallback_aes, *self.subscriptions.subscribers()}):
            self._submit(title, event)

    # -- helpers ------------------------------------------------------------------------------

    @contextmanager
    def _serialised(self, uid: str) -> Iterator[anyio.Lock]:
        lock, users = self._locks.get(uid) or (anyio.Lock(fast_acquire=True), 0)
        self._locks[uid] = (lock, users + 1)
        try:
            yield lock
        finally:
            lock, users = self._locks[uid]
            if users == 1:
                del self._locks[uid]
            else:
                self._locks[uid] = (lock, users - 1)

    def _submit(self, title: str, event: UPSEvent) -> None:
        self.delivery.submit(title, OutgoingEvent(int(event.event_type_id),
                                                  event.sop_instance_uid,
                                                  event.event_information))

    def _emit(self, uid: str, events: tuple[UPSEvent, ...],
              recipients: frozenset[str] | None = None) -> None:
        targets = self.subscriptions.recipients(uid) if recipients is None else recipients
        for event in events:
            for title in sorted(targets):
                self._submit(title, event)

    async def _store(self, item: Workitem, events: tuple[UPSEvent, ...]) -> None:
        """Persist ``item`` (durable before the caller answers), then run the hook."""
        uid = item.sop_instance_uid
        final = item.state.value in _FINAL
        since = self._final_since.get(uid, time.time()) if final else None
        await self.store.put(StoredWorkitem(
            sop_instance_uid=uid, state=item.state.value, transaction_uid=item.transaction_uid,
            data_set=encode_data_set(item.data_set, EXPLICIT_VR_LITTLE_ENDIAN),
            final_since=since))
        self.workitems[uid] = item
        if since is not None:
            self._final_since[uid] = since
        if self.on_change is not None:
            await self.on_change(item, events)

    async def _save_subscriptions(self, titles: set[str]) -> None:
        for title in sorted(titles):  # write what changed: one subscription, one record
            before = self.store.subscriptions_of(title)
            after = {r.target: r for r in map(_stored, self.subscriptions.records_of(title))}
            await self.store.update_subscriptions(
                title, [r for t, r in after.items() if before.get(t) != r],
                [t for t in before if t not in after])

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC).astimezone()

    # -- N-CREATE, N-SET, N-GET ---------------------------------------------------------------

    async def _n_create(self, request: ServiceRequest) -> NCreateRSP:
        message = request.message
        assert isinstance(message, NCreateRQ)
        uid = message.affected_sop_instance_uid or generate_uid()
        data_set = request.data_set if request.data_set is not None else Dataset()
        with self._serialised(uid) as lock:
            async with lock:
                outcome = create_workitem(
                    uid, data_set, now=self._now(), existing=self.workitems.get(uid),
                    worklist_label=self.ae_title, with_events=self.on_change is not None
                    or self.subscriptions.has_global_subscribers())
                _raise_for(outcome)
                assert outcome.workitem is not None
                await self._store(outcome.workitem, outcome.events)
                recipients = self.subscriptions.workitem_created(uid,
                                                                 outcome.workitem.data_set)
                filtered = {t for t in recipients if self.subscriptions.filter_of(t)}
                if filtered:
                    await self._save_subscriptions(filtered)
                self._emit(uid, outcome.events, recipients)
        return NCreateRSP(message_id_being_responded_to=message.message_id,
                          affected_sop_class_uid=message.affected_sop_class_uid,
                          affected_sop_instance_uid=uid, status=outcome.status,
                          error_comment=outcome.error_comment)

    async def _n_set(self, request: ServiceRequest) -> NSetRSP:
        message = request.message
        assert isinstance(message, NSetRQ)
        uid = message.requested_sop_instance_uid
        modifications = request.data_set if request.data_set is not None else Dataset()
        with self._serialised(uid) as lock:
            async with lock:
                outcome = apply_n_set(self.workitems.get(uid), modifications, now=self._now())
                _raise_for(outcome)
                if outcome.workitem is not None:
                    await self._store(outcome.workitem, outcome.events)
                    self._emit(uid, outcome.events)
        return NSetRSP(message_id_being_responded_to=message.message_id,
                       affected_sop_class_uid=message.requested_sop_class_uid,
                       affected_sop_instance_uid=uid, status=outcome.status,
                       error_comment=outcome.error_comment,
                       attribute_identifier_list=outcome.attribute_identifiers or None)

    async def _n_get(self, request: ServiceRequest) -> tuple[NGetRSP, Dataset | None]:
        message = request.message
        assert isinstance(message, NGetRQ)
        uid = message.requested_sop_instance_uid
        outcome = n_get_attributes(self.workitems.get(uid), message.attribute_identifier_list)
        _raise_for(outcome)
        return NGetRSP(message_id_being_responded_to=message.message_id,
                       affected_sop_class_uid=message.requested_sop_class_uid,
                       affected_sop_instance_uid=uid, status=outcome.status,
                       error_comment=outcome.error_comment,
                       attribute_identifier_list=outcome.attribute_identifiers or None,
                       ), outcome.data_set

    # -- N-ACTION -----------------------------------------------------------------------------

    async def _n_action(self, request: ServiceRequest) -> NActionRSP:
        message = request.message
        assert isinstance(message, NActionRQ)
        information = request.data_set if request.data_set is not None else Dataset()
        if message.action_type_id in _SUBSCRIPTION_ACTIONS:
            status = await self._subscription_action(message, information)
        elif message.action_type_id in (1, 2):
            status = await self._state_action(request, message, information)
        else:
            raise DIMSEStatusError(Status.NO_SUCH_ACTION,
                                   f"no action type {message.action_type_id}")
        return NActionRSP(message_id_being_responded_to=message.message_id,
                          affected_sop_class_uid=message.requested_sop_class_uid,
                          affected_sop_instance_uid=message.requested_sop_instance_uid,
                          action_type_id=message.action_type_id, status=status)

    async def _state_action(self, request: ServiceRequest, message: NActionRQ,
                            information: Dataset) -> Status:
        uid = message.requested_sop_instance_uid
        with self._serialised(uid) as lock:
            async with lock:
                current = self.workitems.get(uid)
                if message.action_type_id == 1:
                    outcome = change_state(current, information, now=self._now())
                else:
                    negotiated = request.association.negotiated
                    performer = (PerformerResponse.NOTIFY if self.subscriptions.recipients(uid)
                                 else PerformerResponse.UNREACHABLE)
                    outcome = request_cancel(
                        current, information, now=self._now(), performer=performer,
                        requesting_ae=negotiated.peer_ae_title if negotiated else "")
                _raise_for(outcome)
                if outcome.workitem is not None:
                    await self._store(outcome.workitem, outcome.events)
                self._emit(uid, outcome.events)
        return outcome.status

    async def _subscription_action(self, message: NActionRQ, information: Dataset) -> Status:
        registry = self.subscriptions
        title = str(information.get("ReceivingAE", "") or "").strip()
        lock = str(information.get("DeletionLock", "") or "").strip().upper() == "TRUE"
        uid = message.requested_sop_instance_uid
        if not title:
            raise DIMSEStatusError(Status.NO_SUCH_ARGUMENT, "Receiving AE missing")
        async with self._subscription_lock:
            items = _DataSets(self.workitems)
            if message.action_type_id == 3:
                keys = Dataset()
                for element in information:
                    if element.keyword not in ("ReceivingAE", "DeletionLock"):
                        keys.add(element)
                result = registry.subscribe(title, uid, deletion_lock=lock, workitems=items,
                                            matching_keys=keys)
            elif message.action_type_id == 4:
                result = registry.unsubscribe(title, uid, workitems=items)
            else:
                result = registry.suspend(title, uid, workitems=items)
            if result.status.category is StatusCategory.FAILURE:
                raise DIMSEStatusError(result.status)
            await self._save_subscriptions({title})
        for report_uid in result.initial_reports:
            self._submit(title, state_report(report_uid, self.workitems[report_uid].data_set))
        return result.status

    # -- C-FIND -------------------------------------------------------------------------------

    def _c_find(self, request: ServiceRequest) -> AsyncIterator[FindMatch]:
        identifier = request.data_set if request.data_set is not None else Dataset()
        problem = check_identifier(identifier)
        if problem is not None:
            raise DIMSEStatusError(problem.status, problem.comment,
                                   offending_elements=problem.offending_elements)
        query = compile_query(identifier)
        return self._matches(identifier, query)

    async def _matches(self, identifier: Dataset, query: Any) -> AsyncIterator[FindMatch]:
        for item in list(self.workitems.values()):
            if query.matches(item.data_set):
                yield response_identifier(identifier, item.data_set)

    # -- purging ------------------------------------------------------------------------------

    async def _purge_loop(self) -> None:
        assert self.purge_after is not None
        while True:
            await anyio.sleep(min(max(self.purge_after, 0.1), 60.0))
            await self.purge()

    async def purge(self, now: float | None = None) -> list[str]:
        """Remove final workitems older than ``purge_after`` without a deletion lock."""
        if self.purge_after is None:
            return []
        limit = (time.time() if now is None else now) - self.purge_after
        due = [uid for uid, since in self._final_since.items()
               if since <= limit and not self.subscriptions.has_deletion_lock(uid)]
        if due:
            await self.store.delete(due)
            for uid in due:
                self.workitems.pop(uid, None)
                self._final_since.pop(uid, None)
                self.subscriptions.workitem_purged(uid)
            logger.info("purged %d final workitems", len(due))
        return due


class _DataSets(Mapping[str, Dataset]):
    """The workitems' data sets by UID, as the subscription registry reads them: a view, so a
    subscription does not copy the whole worklist."""

    def __init__(self, workitems: Mapping[str, Workitem]) -> None:
        self._workitems = workitems

    def __getitem__(self, uid: str) -> Dataset:
        return self._workitems[uid].data_set

    def __iter__(self) -> Iterator[str]:
        return iter(self._workitems)

    def __len__(self) -> int:
        return len(self._workitems)


def _stored(record: SubscriptionRecord) -> StoredSubscription:
    if isinstance(record, GlobalSubscriptionRecord):
        target = (UPS_GLOBAL_SUBSCRIPTION_INSTANCE if record.matching_keys is None
                  else UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE)
        return StoredSubscription(receiving_ae=record.receiving_ae, target=target,
                                  state="WITH_LOCK" if record.deletion_lock else "WITHOUT_LOCK",
                                  filter=record.matching_keys)
    return StoredSubscription(receiving_ae=record.receiving_ae, target=record.workitem_uid,
                              state=record.state.name)
