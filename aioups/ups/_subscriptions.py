"""The subscription state of a UPS SCP (PS3.4 CC.2.3; digest UPS-25, UPS-51..UPS-55, UPS-62).

Pure and in-memory: the async store persists it through :meth:`SubscriptionRegistry.records`
and :meth:`SubscriptionRegistry.from_records`.  What the registry cannot know by itself, the
managed workitems, comes in as a ``Mapping`` from SOP Instance UID to data set, which may be lazy.

The model is Table CC.2.3-2 (UPS-52): each (Receiving AE, UPS) pair is *not subscribed*,
*subscribed with lock* or *subscribed without lock*, and each AE has a global state (none, with
lock, without lock).  A global subscription gives the AE an instance subscription to every
existing and every future UPS; suspending it keeps the instance subscriptions it gave; a
filtered global subscription (UPS-53) gives instance subscriptions only to the UPSs whose data
set matches its keys, with the C-FIND matcher, when it is made and when a UPS is created.

To scale with many global subscribers, the instance subscriptions an active *unfiltered* global
subscription gives are not stored one by one: while an AE's global subscription is active, a
UPS with no entry for that AE is subscribed with the global lock type, and only the exceptions
are stored.  When the global subscription ends (suspend, a change of lock type, or a switch to
a filter), the implied subscriptions are written out for the workitems that exist then.  So
:meth:`~SubscriptionRegistry.recipients` costs O(entries of that UPS + global subscribers) and
never scans filters or workitems.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final, NamedTuple, Self, final

from .._uids import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
)
from ..dimse import Dataset, Status, decode_data_set, encode_data_set
from ..errors import DataSetError
from ._matching import Query, check_identifier, compile_query

__all__ = [
    "GlobalSubscriptionRecord", "InstanceSubscriptionRecord", "SubscriptionPolicy",
    "SubscriptionRecord", "SubscriptionRegistry", "SubscriptionResult", "SubscriptionState",
    "SubscriptionStatistics",
]

RECEIVING_AE: Final = 0x00741234
DELETION_LOCK: Final = 0x00741230
_GLOBAL_UIDS: Final = frozenset({UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
                                 UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE})


class SubscriptionState(Enum):
    """The subscription states of PS3.4 Table CC.2.3-2 (UPS-51), for a UPS or globally."""

    #: "Not Subscribed" (for a UPS) or "None" (globally).
    NOT_SUBSCRIBED = "not subscribed"
    #: "Subscribed with Lock" / "Global Subscription with Lock".
    WITH_LOCK = "with lock"
    #: "Subscribed w/o Lock" / "Global Subscription w/o Lock".
    WITHOUT_LOCK = "without lock"

    @classmethod
    def subscribed(cls, deletion_lock: bool) -> SubscriptionState:
        """The subscribed state with or without a deletion lock."""
        return cls.WITH_LOCK if deletion_lock else cls.WITHOUT_LOCK


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionPolicy:
    """What this SCP supports (UPS-25, UPS-53, UPS-54).

    Attributes:
        deletion_locks: grant deletion locks; if ``False`` every lock is refused with the
            warning B301 and the subscription is made without a lock.
        filtered_global: support Filtered Global Subscriptions; if ``False`` they get C307.
        known_aes: Receiving AE titles the SCP can deliver events to (it needs their network
            details); others get C308.  ``None`` accepts any AE title.
    """

    deletion_locks: bool = True
    filtered_global: bool = True
    known_aes: Container[str] | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionResult:
    """The outcome of a subscribe, unsubscribe or suspend request (UPS-25, UPS-62).

    Attributes:
        status: 0000, B301 (subscribed without the lock asked for) or a failure; a failure
            changed nothing.
        initial_reports: the UPSs for which the SCP now sends an initial UPS State Report to
            the Receiving AE, in the order the workitems were given.
    """

    status: Status
    initial_reports: tuple[str, ...] = ()


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalSubscriptionRecord:
    """A persisted active global subscription of one Receiving AE (UPS-51, UPS-53).

    Attributes:
        matching_keys: for a Filtered Global Subscription, its keys encoded in Explicit VR
            Little Endian; ``None`` for an unfiltered one.
    """

    receiving_ae: str
    deletion_lock: bool
    matching_keys: bytes | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSubscriptionRecord:
    """A persisted instance subscription state (UPS-51).

    ``NOT_SUBSCRIBED`` records only appear for an AE with an active unfiltered global
    subscription: they are the UPSs it unsubscribed from one by one.
    """

    receiving_ae: str
    workitem_uid: str
    state: SubscriptionState


SubscriptionRecord = GlobalSubscriptionRecord | InstanceSubscriptionRecord


class SubscriptionStatistics(NamedTuple):
    """Sizes of the registry, for monitoring."""

    global_subscribers: int
    filtered_subscribers: int
    stored_instance_entries: int
    workitems_with_entries: int


@dataclass(frozen=True, slots=True)
class _Filter:
    deletion_lock: bool
    query: Query
    encoded_keys: bytes


def _clean_ae(receiving_ae: str) -> str | None:
    """The AE title without padding, or ``None`` if it is not a valid AE title (UL-03)."""
    title = receiving_ae.strip(" ")
    if not 0 < len(title) <= 16 or "\\" in title or not title.isprintable():
        return None
    return title


def _filter_keys(matching_keys: Dataset) -> Dataset:
    """The matching keys of a filtered subscription, without the Action Information."""
    keys = Dataset()
    for element in matching_keys:
        if int(element.tag) not in (RECEIVING_AE, DELETION_LOCK):
            keys.add(element)
    return keys


@final
class SubscriptionRegistry:
    """Subscriptions and deletion locks of a UPS SCP (UPS-51..UPS-55), with no I/O.

    Every request method returns a :class:`SubscriptionResult`; failures change nothing
    (UPS-25).  Event routing uses :meth:`recipients`, purging uses :meth:`has_deletion_lock`.
    """

    def __init__(self, policy: SubscriptionPolicy | None = None) -> None:
        self.policy = policy or SubscriptionPolicy()
        #: AE -> lock type of its active unfiltered global subscription (the implied default).
        self._global: dict[str, bool] = {}
        #: AE -> its active filtered global subscription.
        self._filtered: dict[str, _Filter] = {}
        #: UPS -> AE -> stored instance state (exceptions to ``_global``, see the module doc).
        self._by_item: dict[str, dict[str, SubscriptionState]] = {}
        #: AE -> UPSs with a stored entry for it.
        self._by_ae: dict[str, set[str]] = {}

    # --- requests (N-ACTION types 3, 4, 5) ----------------------------------------------------

    def subscribe(self, receiving_ae: str, instance_uid: str, *, deletion_lock: bool,
                  workitems: Mapping[str, Dataset],
                  matching_keys: Dataset | None = None) -> SubscriptionResult:
        """Subscribe to Receive UPS Event Reports (N-ACTION type 3; UPS-20, UPS-52, UPS-53).

        Args:
            receiving_ae: the Receiving AE (0074,1234) of the Action Information, which is
                the subscriber (UPS-51), not the calling AE title.
            instance_uid: a UPS, the global (``…34.5``) or the filtered global (``…34.5.1``)
                well-known instance.
            deletion_lock: DeletionLock (0074,1230) was ``TRUE``.
            workitems: every UPS the SCP manages, by SOP Instance UID.
            matching_keys: the keys of a filtered global subscription (the Action
                Information; Receiving AE and Deletion Lock are not keys).

        Returns:
            0000 or B301 (lock refused, subscribed without it) with the UPSs that need an
            initial State Report (UPS-62): the one UPS of an instance subscription, every
            UPS for a global subscription with lock (every matching one for a filtered one),
            none without lock.  Failures: 0115 invalid AE title or filter keys, C307 unknown
            UPS or filtered subscriptions unsupported, C308 Receiving AE unknown.
        """
        title = _clean_ae(receiving_ae)
        if title is None:
            return SubscriptionResult(status=Status.INVALID_ARGUMENT_VALUE)
        known = self.policy.known_aes
        if known is not None and title not in known:
            return SubscriptionResult(status=Status.UPS_RECEIVING_AE_UNKNOWN)
        granted = deletion_lock and self.policy.deletion_locks
        status = (Status.UPS_DELETION_LOCK_NOT_GRANTED if deletion_lock and not granted
                  else Status.SUCCESS)
        if instance_uid == UPS_GLOBAL_SUBSCRIPTION_INSTANCE:
            reports = self._subscribe_global(title, granted, workitems)
        elif instance_uid == UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE:
            if not self.policy.filtered_global:
                return SubscriptionResult(status=Status.UPS_DOES_NOT_EXIST)
            made = self._make_filter(granted, matching_keys)
            if made is None:
                return SubscriptionResult(status=Status.INVALID_ARGUMENT_VALUE)
            reports = self._subscribe_filtered(title, made, workitems)
        elif instance_uid in workitems:
            self._put(title, instance_uid, SubscriptionState.subscribed(granted))
            reports = (instance_uid,)
        else:
            return SubscriptionResult(status=Status.UPS_DOES_NOT_EXIST)
        return SubscriptionResult(status=status, initial_reports=reports)

    def unsubscribe(self, receiving_ae: str, instance_uid: str, *,
                    workitems: Mapping[str, Dataset]) -> SubscriptionResult:
        """Unsubscribe from Receiving UPS Event Reports (N-ACTION type 4; UPS-52).

        On a UPS, only that instance subscription (and its lock) goes.  On either well-known
        instance (dcm4chee's choice for ``…34.5.1``, UNCONFIRMED in the standard) it removes
        the global subscription **and every instance subscription and lock** of the AE
        (edge case 24).  Failures: 0115 invalid AE title, C307 unknown UPS.
        """
        title = _clean_ae(receiving_ae)
        if title is None:
            return SubscriptionResult(status=Status.INVALID_ARGUMENT_VALUE)
        if instance_uid in _GLOBAL_UIDS:
            self._global.pop(title, None)
            self._filtered.pop(title, None)
            for uid in tuple(self._by_ae.get(title, ())):
                self._drop(title, uid)
        elif instance_uid in workitems:
            self._put(title, instance_uid, SubscriptionState.NOT_SUBSCRIBED)
        else:
            return SubscriptionResult(status=Status.UPS_DOES_NOT_EXIST)
        return SubscriptionResult(status=Status.SUCCESS)

    def suspend(self, receiving_ae: str, instance_uid: str, *,
                workitems: Mapping[str, Dataset]) -> SubscriptionResult:
        """Suspend Global Subscription (N-ACTION type 5; UPS-52, edge case 24).

        The AE's global state becomes none: no subscription to future UPSs, while every
        instance subscription it has now, including those its global subscription gave, is
        kept.  Failures: 0115 invalid AE title, C307 unknown UPS, C314 a UPS instead of a
        well-known global instance.
        """
        title = _clean_ae(receiving_ae)
        if title is None:
            return SubscriptionResult(status=Status.INVALID_ARGUMENT_VALUE)
        if instance_uid not in _GLOBAL_UIDS:
            status = (Status.UPS_ACTION_NOT_APPROPRIATE if instance_uid in workitems
                      else Status.UPS_DOES_NOT_EXIST)
            return SubscriptionResult(status=status)
        self._end_global(title, workitems)
        self._filtered.pop(title, None)
        return SubscriptionResult(status=Status.SUCCESS)

    # --- workitem life cycle ------------------------------------------------------------------

    def workitem_created(self, workitem_uid: str, data_set: Dataset) -> frozenset[str]:
        """Apply global subscriptions to a new UPS (UPS-55); the AEs now subscribed to it.

        Each of them gets the initial State Report (SCHEDULED plus InputReadinessState,
        UPS-44, UPS-62): every AE with an active global subscription, and every AE with an
        active filtered one whose keys match ``data_set``.
        """
        for title in tuple(self._by_item.get(workitem_uid, ())):
            self._drop(title, workitem_uid)  # leftovers of an earlier UPS with this UID
        matched = set(self._global)
        for title, subscription in self._filtered.items():
            if subscription.query.matches(data_set):
                self._put(title, workitem_uid,
                          SubscriptionState.subscribed(subscription.deletion_lock))
                matched.add(title)
        return frozenset(matched)

    def workitem_purged(self, workitem_uid: str) -> None:
        """Forget every instance subscription of a UPS the SCP no longer manages (UPS-14).

        The SCP purges a COMPLETED or CANCELED UPS only once :meth:`has_deletion_lock` is
        false; the subscriptions without lock simply end with it.
        """
        for title in tuple(self._by_item.get(workitem_uid, ())):
            self._drop(title, workitem_uid)

    # --- queries ------------------------------------------------------------------------------

    def has_global_subscribers(self) -> bool:
        """Whether a new UPS would have any subscriber (a global or filtered global one)."""
        return bool(self._global or self._filtered)

    def recipients(self, workitem_uid: str) -> frozenset[str]:
        """The Receiving AEs subscribed to a UPS, with or without lock (UPS-62).

        Costs O(entries of that UPS + active global subscribers); filters are not re-run: a
        filtered subscription subscribed its AE to the UPS when it was made or created.
        """
        entries = self._by_item.get(workitem_uid, {})
        found = {title for title, state in entries.items()
                 if state is not SubscriptionState.NOT_SUBSCRIBED}
        found.update(title for title in self._global if title not in entries)
        return frozenset(found)

    def has_deletion_lock(self, workitem_uid: str) -> bool:
        """Whether any AE holds a deletion lock on the UPS, which must then be kept (UPS-14)."""
        entries = self._by_item.get(workitem_uid, {})
        if SubscriptionState.WITH_LOCK in entries.values():
            return True
        return any(lock and title not in entries for title, lock in self._global.items())

    def instance_state(self, receiving_ae: str, workitem_uid: str) -> SubscriptionState:
        """The (AE, UPS) state of Table CC.2.3-2 (UPS-51)."""
        title = receiving_ae.strip(" ")
        state = self._by_item.get(workitem_uid, {}).get(title)
        if state is not None:
            return state
        if title in self._global:
            return SubscriptionState.subscribed(self._global[title])
        return SubscriptionState.NOT_SUBSCRIBED

    def global_state(self, receiving_ae: str) -> SubscriptionState:
        """The AE's global state (UPS-51), filtered or not."""
        title = receiving_ae.strip(" ")
        if title in self._global:
            return SubscriptionState.subscribed(self._global[title])
        if title in self._filtered:
            return SubscriptionState.subscribed(self._filtered[title].deletion_lock)
        return SubscriptionState.NOT_SUBSCRIBED

    def filter_of(self, receiving_ae: str) -> Query | None:
        """The compiled keys of the AE's active filtered global subscription, if any."""
        subscription = self._filtered.get(receiving_ae.strip(" "))
        return None if subscription is None else subscription.query

    def subscribers(self) -> frozenset[str]:
        """Every AE with a global subscription or at least one instance subscription.

        These get the SCP Status Change event (type 4) with the fallback list (UPS-62).
        """
        return frozenset(self._global.keys() | self._filtered.keys() | self._by_ae.keys())

    def statistics(self) -> SubscriptionStatistics:
        """Counts for monitoring."""
        return SubscriptionStatistics(
            global_subscribers=len(self._global), filtered_subscribers=len(self._filtered),
            stored_instance_entries=sum(len(entries) for entries in self._by_item.values()),
            workitems_with_entries=len(self._by_item))

    # --- persistence --------------------------------------------------------------------------

    def records(self) -> tuple[SubscriptionRecord, ...]:
        """The whole state as plain frozen records, in a stable order."""
        globals_: list[SubscriptionRecord] = [
            GlobalSubscriptionRecord(receiving_ae=title, deletion_lock=lock)
            for title, lock in sorted(self._global.items())]
        globals_.extend(
            GlobalSubscriptionRecord(receiving_ae=title, deletion_lock=made.deletion_lock,
                                     matching_keys=made.encoded_keys)
            for title, made in sorted(self._filtered.items()))
        instances = [InstanceSubscriptionRecord(receiving_ae=title, workitem_uid=uid, state=state)
                     for uid, entries in self._by_item.items()
                     for title, state in entries.items()]
        instances.sort(key=lambda r: (r.receiving_ae, r.workitem_uid))
        return (*globals_, *instances)

    def records_of(self, receiving_ae: str) -> tuple[SubscriptionRecord, ...]:
        """The records of one Receiving AE (what :meth:`records` holds for it), found through
        the per-AE index, so persisting one AE's change costs its own records only."""
        title = receiving_ae
        out: list[SubscriptionRecord] = []
        if title in self._global:
            out.append(GlobalSubscriptionRecord(receiving_ae=title,
                                                deletion_lock=self._global[title]))
        made = self._filtered.get(title)
        if made is not None:
            out.append(GlobalSubscriptionRecord(receiving_ae=title,
                                                deletion_lock=made.deletion_lock,
                                                matching_keys=made.encoded_keys))
        out.extend(InstanceSubscriptionRecord(receiving_ae=title, workitem_uid=uid,
                                              state=self._by_item[uid][title])
                   for uid in sorted(self._by_ae.get(title, ())))
        return tuple(out)

    @classmethod
    def from_records(cls, records: Iterable[SubscriptionRecord], *,
                     policy: SubscriptionPolicy | None = None) -> Self:
        """Rebuild a registry from :meth:`records` (after a restart, UPS-62 WARM START).

        Raises:
            ValueError: two global records for one AE, or filter keys that do not decode.
        """
        registry = cls(policy)
        instances: list[InstanceSubscriptionRecord] = []
        for record in records:
            if isinstance(record, InstanceSubscriptionRecord):
                instances.append(record)
                continue
            title = record.receiving_ae
            if title in registry._global or title in registry._filtered:
                raise ValueError(f"two global subscriptions for {title!r}")
            if record.matching_keys is None:
                registry._global[title] = record.deletion_lock
            else:
                registry._filtered[title] = _decode_filter(title, record.deletion_lock,
                                                           record.matching_keys)
        for instance in instances:
            registry._put(instance.receiving_ae, instance.workitem_uid, instance.state)
        return registry

    # --- internals ----------------------------------------------------------------------------

    def _subscribe_global(self, title: str, lock: bool,
                          workitems: Mapping[str, Dataset]) -> tuple[str, ...]:
        if title in self._global and self._global[title] != lock:
            self._end_global(title, workitems)  # existing subscriptions keep their old lock
        self._filtered.pop(title, None)
        self._global[title] = lock
        for uid, state in tuple(self._entries_of(title)):
            if state is SubscriptionState.NOT_SUBSCRIBED:
                self._drop(title, uid)  # Not Subscribed -> subscribed with the global lock
            else:
                self._put(title, uid, state)  # unchanged; stored only if not implied
        # UPS-62 / edge case 24: with lock, an initial report for every UPS; without, none.
        return tuple(workitems) if lock else ()

    def _make_filter(self, lock: bool, matching_keys: Dataset | None) -> _Filter | None:
        if matching_keys is None:
            return None
        keys = _filter_keys(matching_keys)
        if len(keys) == 0 or check_identifier(keys) is not None:
            return None
        try:
            encoded = encode_data_set(keys, EXPLICIT_VR_LITTLE_ENDIAN)
        except DataSetError:
            return None
        return _Filter(lock, compile_query(keys), encoded)

    def _subscribe_filtered(self, title: str, made: _Filter,
                            workitems: Mapping[str, Dataset]) -> tuple[str, ...]:
        self._end_global(title, workitems)
        self._filtered[title] = made
        state = SubscriptionState.subscribed(made.deletion_lock)
        reports: list[str] = []
        for uid, data_set in workitems.items():
            if made.query.matches(data_set):
                if self.instance_state(title, uid) is SubscriptionState.NOT_SUBSCRIBED:
                    self._put(title, uid, state)
                reports.append(uid)
        return tuple(reports) if made.deletion_lock else ()

    def _end_global(self, title: str, workitems: Mapping[str, Dataset]) -> None:
        """End an unfiltered global subscription, writing out what it implied (UPS-52)."""
        lock = self._global.pop(title, None)
        if lock is None:
            return
        implied = SubscriptionState.subscribed(lock)
        for uid in workitems:
            state = self._by_item.get(uid, {}).get(title)
            if state is None:
                self._put(title, uid, implied)
        for uid, state in tuple(self._entries_of(title)):
            if state is SubscriptionState.NOT_SUBSCRIBED:
                self._drop(title, uid)

    def _entries_of(self, title: str) -> Iterable[tuple[str, SubscriptionState]]:
        return ((uid, self._by_item[uid][title]) for uid in self._by_ae.get(title, ()))

    def _put(self, title: str, uid: str, state: SubscriptionState) -> None:
        """Store a state, keeping only what the AE's global subscription does not imply."""
        lock = self._global.get(title)
        implied = (SubscriptionState.NOT_SUBSCRIBED if lock is None
                   else SubscriptionState.subscribed(lock))
        if state is implied:
            self._drop(title, uid)
            return
        self._by_item.setdefault(uid, {})[title] = state
        self._by_ae.setdefault(title, set()).add(uid)

    def _drop(self, title: str, uid: str) -> None:
        entries = self._by_item.get(uid)
        if entries is None or entries.pop(title, None) is None:
            return
        if not entries:
            del self._by_item[uid]
        uids = self._by_ae[title]
        uids.discard(uid)
        if not uids:
            del self._by_ae[title]


def _decode_filter(title: str, lock: bool, encoded: bytes) -> _Filter:
    try:
        keys = decode_data_set(encoded, EXPLICIT_VR_LITTLE_ENDIAN)
    except DataSetError as exc:
        raise ValueError(f"the filter of {title!r} does not decode: {exc}") from exc
    return _Filter(lock, compile_query(keys), encoded)
