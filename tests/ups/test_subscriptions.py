"""The subscription registry (PS3.4 Table CC.2.3-2; digest UPS-25, UPS-51..UPS-55, UPS-62, edge 24).

The expected transitions are transcribed from the digest's table here, not imported; a
hypothesis state machine then checks the registry against a literal, materialised model of the
same table (one state per AE and UPS), which the registry's compact representation must agree
with after any sequence of requests.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aioups._uids import (
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE as FILTERED,
)
from aioups._uids import (
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE as GLOBAL,
)
from aioups.dimse import Dataset, Status
from aioups.ups._matching import matches
from aioups.ups._subscriptions import (
    GlobalSubscriptionRecord,
    InstanceSubscriptionRecord,
    SubscriptionPolicy,
    SubscriptionRegistry,
    SubscriptionResult,
    SubscriptionState,
)

NOT = SubscriptionState.NOT_SUBSCRIBED
WITH = SubscriptionState.WITH_LOCK
WITHOUT = SubscriptionState.WITHOUT_LOCK

AE = "WATCHER"
OTHER_AE = "OTHER"
UPS_A = "1.2.826.0.1.3680043.2.1.1"
UPS_B = "1.2.826.0.1.3680043.2.1.2"
UNKNOWN = "1.2.826.0.1.3680043.2.1.99"
OK = Status.SUCCESS


def ups(label: str = "A") -> Dataset:
    data_set = Dataset()
    data_set.ProcedureStepState = "SCHEDULED"
    data_set.ProcedureStepLabel = label
    return data_set


def keys(label: str, *, action_information: bool = False) -> Dataset:
    data_set = Dataset()
    data_set.ProcedureStepLabel = label
    if action_information:
        data_set.ReceivingAE = AE
        data_set.DeletionLock = "TRUE"
    return data_set


def managed(**labels: str) -> dict[str, Dataset]:
    """Workitems by UID; ``a``/``b`` name UPS_A/UPS_B."""
    uids = {"a": UPS_A, "b": UPS_B}
    return {uids[name]: ups(label) for name, label in labels.items()}


WORKITEMS = managed(a="A", b="B")


def result(status: Status = OK, *reports: str) -> SubscriptionResult:
    return SubscriptionResult(status=status, initial_reports=reports)


# --- Table CC.2.3-2, one (AE, UPS) pair at a time ---------------------------------------------

#: How the (AE, UPS_A) pair reaches each column of the table: by an instance subscription, or
#: implied by a global subscription (so both of the registry's representations are covered).
Setup = Callable[[SubscriptionRegistry], None]


def _via_instance(state: SubscriptionState) -> Setup:
    def setup(registry: SubscriptionRegistry) -> None:
        if state is not NOT:
            registry.subscribe(AE, UPS_A, deletion_lock=state is WITH, workitems=WORKITEMS)
    return setup


def _via_global(state: SubscriptionState, *, lock: bool = False) -> Setup:
    def setup(registry: SubscriptionRegistry) -> None:
        registry.subscribe(AE, GLOBAL, deletion_lock=state is WITH or lock, workitems=WORKITEMS)
        if state is NOT:
            registry.unsubscribe(AE, UPS_A, workitems=WORKITEMS)
    return setup


SETUPS = {
    "not-subscribed": (NOT, _via_instance(NOT)),
    "with-lock": (WITH, _via_instance(WITH)),
    "without-lock": (WITHOUT, _via_instance(WITHOUT)),
    "not-subscribed-under-global": (NOT, _via_global(NOT)),
    "not-subscribed-under-global-with-lock": (NOT, _via_global(NOT, lock=True)),
    "with-lock-from-global": (WITH, _via_global(WITH)),
    "without-lock-from-global": (WITHOUT, _via_global(WITHOUT)),
}

Event = Callable[[SubscriptionRegistry], SubscriptionResult]

#: event -> (its request, {column: (state afterwards, initial State Report for UPS_A)},
#: global state afterwards, or None for "unchanged")
TABLE: dict[str, tuple[Event, dict[SubscriptionState, tuple[SubscriptionState, bool]],
                       SubscriptionState | None]] = {
    "subscribe-global-with-lock": (
        lambda r: r.subscribe(AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS),
        # every managed UPS gets an initial report after a global subscribe with lock (UPS-62)
        {NOT: (WITH, True), WITH: (WITH, True), WITHOUT: (WITHOUT, True)}, WITH),
    "subscribe-global-without-lock": (
        lambda r: r.subscribe(AE, GLOBAL, deletion_lock=False, workitems=WORKITEMS),
        {NOT: (WITHOUT, False), WITH: (WITH, False), WITHOUT: (WITHOUT, False)}, WITHOUT),
    "subscribe-instance-with-lock": (
        lambda r: r.subscribe(AE, UPS_A, deletion_lock=True, workitems=WORKITEMS),
        {NOT: (WITH, True), WITH: (WITH, True), WITHOUT: (WITH, True)}, None),
    "subscribe-instance-without-lock": (
        lambda r: r.subscribe(AE, UPS_A, deletion_lock=False, workitems=WORKITEMS),
        {NOT: (WITHOUT, True), WITH: (WITHOUT, True), WITHOUT: (WITHOUT, True)}, None),
    "unsubscribe-instance": (
        lambda r: r.unsubscribe(AE, UPS_A, workitems=WORKITEMS),
        {NOT: (NOT, False), WITH: (NOT, False), WITHOUT: (NOT, False)}, None),
    "unsubscribe-global": (
        lambda r: r.unsubscribe(AE, GLOBAL, workitems=WORKITEMS),
        {NOT: (NOT, False), WITH: (NOT, False), WITHOUT: (NOT, False)}, NOT),
    "suspend-global": (
        lambda r: r.suspend(AE, GLOBAL, workitems=WORKITEMS),
        {NOT: (NOT, False), WITH: (WITH, False), WITHOUT: (WITHOUT, False)}, NOT),
}


@pytest.mark.parametrize("setup_name", SETUPS)
@pytest.mark.parametrize("event_name", TABLE)
def test_table_cc_2_3_2(event_name: str, setup_name: str) -> None:
    column, setup = SETUPS[setup_name]
    event, cells, global_after = TABLE[event_name]
    registry = SubscriptionRegistry()
    setup(registry)
    assert registry.instance_state(AE, UPS_A) is column
    global_before = registry.global_state(AE)

    outcome = event(registry)

    state, initial_report = cells[column]
    assert outcome.status == OK
    assert registry.instance_state(AE, UPS_A) is state
    assert (UPS_A in outcome.initial_reports) is initial_report
    assert registry.global_state(AE) is (global_before if global_after is None else global_after)
    assert (AE in registry.recipients(UPS_A)) is (state is not NOT)
    assert registry.has_deletion_lock(UPS_A) is (state is WITH)


@pytest.mark.parametrize(("global_request", "state"), [
    (None, NOT), (True, WITH), (False, WITHOUT)], ids=["none", "with-lock", "without-lock"])
def test_table_ups_created(global_request: bool | None, state: SubscriptionState) -> None:
    registry = SubscriptionRegistry()
    if global_request is not None:
        registry.subscribe(AE, GLOBAL, deletion_lock=global_request, workitems={})
    subscribed = registry.workitem_created(UPS_A, ups())
    assert registry.instance_state(AE, UPS_A) is state
    # "→ with Lock + init", "→ w/o Lock + init" (UPS-52, UPS-62)
    assert (AE in subscribed) is (state is not NOT)


# --- edge case 24 and the rules around it -----------------------------------------------------


def test_global_subscribe_with_lock_reports_every_existing_ups() -> None:
    registry = SubscriptionRegistry()
    assert registry.subscribe(AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS) == result(
        OK, UPS_A, UPS_B)
    assert registry.has_deletion_lock(UPS_A)
    assert registry.has_deletion_lock(UPS_B)


def test_global_subscribe_without_lock_reports_none() -> None:
    registry = SubscriptionRegistry()
    assert registry.subscribe(AE, GLOBAL, deletion_lock=False,
                              workitems=WORKITEMS) == result(OK)
    assert registry.recipients(UPS_A) == {AE}
    assert not registry.has_deletion_lock(UPS_A)


def test_unsubscribe_global_removes_instance_subscriptions_and_locks() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, UPS_A, deletion_lock=True, workitems=WORKITEMS)
    registry.subscribe(AE, GLOBAL, deletion_lock=False, workitems=WORKITEMS)
    registry.subscribe(OTHER_AE, UPS_A, deletion_lock=False, workitems=WORKITEMS)
    assert registry.unsubscribe(AE, GLOBAL, workitems=WORKITEMS) == result(OK)
    assert registry.recipients(UPS_A) == {OTHER_AE}
    assert registry.recipients(UPS_B) == frozenset()
    assert not registry.has_deletion_lock(UPS_A)
    assert registry.workitem_created(UPS_B, ups()) == frozenset()


def test_unsubscribe_global_of_a_filtered_subscription() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, FILTERED, deletion_lock=True, workitems=WORKITEMS,
                       matching_keys=keys("A"))
    assert registry.unsubscribe(AE, FILTERED, workitems=WORKITEMS) == result(OK)
    assert registry.global_state(AE) is NOT
    assert registry.recipients(UPS_A) == frozenset()


def test_suspend_keeps_instance_subscriptions_but_not_future_upss() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS)
    registry.unsubscribe(AE, UPS_B, workitems=WORKITEMS)
    assert registry.suspend(AE, GLOBAL, workitems=WORKITEMS) == result(OK)
    assert registry.global_state(AE) is NOT
    assert registry.instance_state(AE, UPS_A) is WITH
    assert registry.instance_state(AE, UPS_B) is NOT
    assert registry.workitem_created(UNKNOWN, ups()) == frozenset()
    assert registry.recipients(UNKNOWN) == frozenset()
    assert registry.recipients(UPS_A) == {AE}


def test_suspend_then_global_again_subscribes_the_upss_created_meanwhile() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, GLOBAL, deletion_lock=False, workitems=managed(a="A"))
    registry.suspend(AE, GLOBAL, workitems=managed(a="A"))
    registry.workitem_created(UPS_B, ups())
    assert registry.instance_state(AE, UPS_B) is NOT
    registry.subscribe(AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS)
    assert registry.instance_state(AE, UPS_A) is WITHOUT  # subscribed: no change
    assert registry.instance_state(AE, UPS_B) is WITH  # not subscribed -> with lock


def test_suspend_filtered_global() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, FILTERED, deletion_lock=False, workitems=WORKITEMS,
                       matching_keys=keys("A"))
    assert registry.suspend(AE, FILTERED, workitems=WORKITEMS) == result(OK)
    assert registry.recipients(UPS_A) == {AE}
    assert registry.workitem_created(UNKNOWN, ups("A")) == frozenset()


def test_suspend_without_global_subscription_is_a_no_op() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, UPS_A, deletion_lock=True, workitems=WORKITEMS)
    assert registry.suspend(AE, GLOBAL, workitems=WORKITEMS) == result(OK)
    assert registry.instance_state(AE, UPS_A) is WITH


def test_global_lock_change_keeps_existing_instance_locks() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, GLOBAL, deletion_lock=True, workitems=managed(a="A"))
    registry.subscribe(AE, GLOBAL, deletion_lock=False, workitems=managed(a="A"))
    assert registry.instance_state(AE, UPS_A) is WITH  # "global := w/o Lock; no change"
    registry.workitem_created(UPS_B, ups())
    assert registry.instance_state(AE, UPS_B) is WITHOUT


def test_events_go_to_the_receiving_ae_without_padding() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(" WATCHER  ", UPS_A, deletion_lock=False, workitems=WORKITEMS)
    assert registry.recipients(UPS_A) == {AE}
    assert registry.instance_state("WATCHER ", UPS_A) is WITHOUT
    registry.unsubscribe("WATCHER", UPS_A, workitems=WORKITEMS)
    assert registry.recipients(UPS_A) == frozenset()


# --- filtered global subscriptions (UPS-53) ---------------------------------------------------


def test_filtered_subscribes_to_matching_existing_and_future_upss() -> None:
    registry = SubscriptionRegistry()
    outcome = registry.subscribe(AE, FILTERED, deletion_lock=True, workitems=WORKITEMS,
                                 matching_keys=keys("A", action_information=True))
    assert outcome == result(OK, UPS_A)
    assert registry.recipients(UPS_A) == {AE}
    assert registry.recipients(UPS_B) == frozenset()
    assert registry.workitem_created("1.9.1", ups("A")) == {AE}
    assert registry.workitem_created("1.9.2", ups("B")) == frozenset()
    assert registry.has_deletion_lock("1.9.1")
    assert registry.global_state(AE) is WITH


def test_filtered_without_lock_sends_no_initial_reports() -> None:
    registry = SubscriptionRegistry()
    outcome = registry.subscribe(AE, FILTERED, deletion_lock=False, workitems=WORKITEMS,
                                 matching_keys=keys("A"))
    assert outcome == result(OK)
    assert registry.instance_state(AE, UPS_A) is WITHOUT


def test_filtered_keys_exclude_the_action_information() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, FILTERED, deletion_lock=False, workitems={},
                       matching_keys=keys("A*", action_information=True))
    query = registry.filter_of(AE)
    assert query is not None
    assert len(query.keys) == 1
    assert query.matches(ups("Alpha"))


def test_filtered_subscription_is_kept_when_the_ups_stops_matching() -> None:
    # The filter makes instance subscriptions; later changes of the UPS do not undo them.
    registry = SubscriptionRegistry()
    registry.subscribe(AE, FILTERED, deletion_lock=False, workitems={},
                       matching_keys=keys("A"))
    registry.workitem_created(UPS_A, ups("A"))
    assert registry.recipients(UPS_A) == {AE}


def test_filtered_replaces_global_and_global_replaces_filtered() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, GLOBAL, deletion_lock=False, workitems=managed(a="A"))
    registry.subscribe(AE, FILTERED, deletion_lock=False, workitems=managed(a="A"),
                       matching_keys=keys("B"))
    assert registry.instance_state(AE, UPS_A) is WITHOUT  # kept
    assert registry.workitem_created(UPS_B, ups("C")) == frozenset()
    registry.subscribe(AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS)
    assert registry.filter_of(AE) is None
    assert registry.instance_state(AE, UPS_B) is WITH


# --- statuses (UPS-25): a failure changes nothing ---------------------------------------------

FAILURES: list[tuple[str, SubscriptionPolicy, Event, Status]] = [
    ("unknown-ups", SubscriptionPolicy(),
     lambda r: r.subscribe(AE, UNKNOWN, deletion_lock=True, workitems=WORKITEMS),
     Status.UPS_DOES_NOT_EXIST),
    ("unsubscribe-unknown-ups", SubscriptionPolicy(),
     lambda r: r.unsubscribe(AE, UNKNOWN, workitems=WORKITEMS), Status.UPS_DOES_NOT_EXIST),
    ("suspend-unknown-ups", SubscriptionPolicy(),
     lambda r: r.suspend(AE, UNKNOWN, workitems=WORKITEMS), Status.UPS_DOES_NOT_EXIST),
    ("suspend-a-ups", SubscriptionPolicy(),
     lambda r: r.suspend(AE, UPS_A, workitems=WORKITEMS), Status.UPS_ACTION_NOT_APPROPRIATE),
    ("filtered-unsupported", SubscriptionPolicy(filtered_global=False),
     lambda r: r.subscribe(AE, FILTERED, deletion_lock=False, workitems=WORKITEMS,
                           matching_keys=keys("A")), Status.UPS_DOES_NOT_EXIST),
    ("filtered-without-keys", SubscriptionPolicy(),
     lambda r: r.subscribe(AE, FILTERED, deletion_lock=False, workitems=WORKITEMS),
     Status.INVALID_ARGUMENT_VALUE),
    ("filtered-only-action-information", SubscriptionPolicy(),
     lambda r: r.subscribe(AE, FILTERED, deletion_lock=False, workitems=WORKITEMS,
                           matching_keys=_action_information_only()),
     Status.INVALID_ARGUMENT_VALUE),
    ("filtered-invalid-keys", SubscriptionPolicy(),
     lambda r: r.subscribe(AE, FILTERED, deletion_lock=False, workitems=WORKITEMS,
                           matching_keys=_two_item_keys()), Status.INVALID_ARGUMENT_VALUE),
    ("unknown-receiving-ae", SubscriptionPolicy(known_aes={OTHER_AE}),
     lambda r: r.subscribe(AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS),
     Status.UPS_RECEIVING_AE_UNKNOWN),
    ("empty-receiving-ae", SubscriptionPolicy(),
     lambda r: r.subscribe("   ", GLOBAL, deletion_lock=True, workitems=WORKITEMS),
     Status.INVALID_ARGUMENT_VALUE),
    ("long-receiving-ae", SubscriptionPolicy(),
     lambda r: r.subscribe("A" * 17, UPS_A, deletion_lock=True, workitems=WORKITEMS),
     Status.INVALID_ARGUMENT_VALUE),
    ("unsubscribe-bad-ae", SubscriptionPolicy(),
     lambda r: r.unsubscribe("A\\B", GLOBAL, workitems=WORKITEMS),
     Status.INVALID_ARGUMENT_VALUE),
    ("suspend-bad-ae", SubscriptionPolicy(),
     lambda r: r.suspend("", GLOBAL, workitems=WORKITEMS), Status.INVALID_ARGUMENT_VALUE),
]


def _action_information_only() -> Dataset:
    data_set = Dataset()
    data_set.ReceivingAE = AE
    data_set.DeletionLock = "FALSE"
    return data_set


def _two_item_keys() -> Dataset:
    data_set = Dataset()
    first, second = Dataset(), Dataset()
    first.CodeValue, second.CodeValue = "A", "B"
    data_set.ScheduledStationNameCodeSequence = [first, second]
    return data_set


def _populated(policy: SubscriptionPolicy) -> SubscriptionRegistry:
    registry = SubscriptionRegistry(policy)
    registry.subscribe(OTHER_AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS)
    registry.unsubscribe(OTHER_AE, UPS_B, workitems=WORKITEMS)
    registry.subscribe(AE, UPS_A, deletion_lock=False, workitems=WORKITEMS)
    return registry


@pytest.mark.parametrize(("policy", "event", "status"),
                         [pytest.param(*case[1:], id=case[0]) for case in FAILURES])
def test_failure_status_changes_nothing(policy: SubscriptionPolicy, event: Event,
                                        status: Status) -> None:
    registry = _populated(policy)
    before = registry.records()
    assert event(registry) == result(status)
    assert registry.records() == before


@pytest.mark.parametrize("target", [UPS_A, GLOBAL])
def test_deletion_lock_refused_is_b301_and_subscribes_without_lock(target: str) -> None:
    registry = SubscriptionRegistry(SubscriptionPolicy(deletion_locks=False))
    outcome = registry.subscribe(AE, target, deletion_lock=True, workitems=WORKITEMS)
    assert outcome.status == Status.UPS_DELETION_LOCK_NOT_GRANTED
    assert registry.instance_state(AE, UPS_A) is WITHOUT
    assert not registry.has_deletion_lock(UPS_A)
    # instance subscriptions still get their initial report; a global one without lock none
    assert outcome.initial_reports == ((UPS_A,) if target == UPS_A else ())


def test_deletion_lock_refused_only_matters_when_asked_for() -> None:
    registry = SubscriptionRegistry(SubscriptionPolicy(deletion_locks=False))
    assert registry.subscribe(AE, UPS_A, deletion_lock=False,
                              workitems=WORKITEMS) == result(OK, UPS_A)


def test_unsubscribe_a_ups_never_subscribed_is_success() -> None:
    assert SubscriptionRegistry().unsubscribe(AE, UPS_A, workitems=WORKITEMS) == result(OK)


def test_known_aes_accepts_listed_titles() -> None:
    registry = SubscriptionRegistry(SubscriptionPolicy(known_aes={AE}))
    assert registry.subscribe(f" {AE}", UPS_A, deletion_lock=False,
                              workitems=WORKITEMS).status == OK


# --- purge, locks, queries --------------------------------------------------------------------


def test_purge_forgets_the_ups_subscriptions() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, UPS_A, deletion_lock=True, workitems=WORKITEMS)
    registry.subscribe(OTHER_AE, GLOBAL, deletion_lock=False, workitems=WORKITEMS)
    registry.unsubscribe(OTHER_AE, UPS_A, workitems=WORKITEMS)
    assert registry.has_deletion_lock(UPS_A)
    registry.unsubscribe(AE, UPS_A, workitems=WORKITEMS)
    assert not registry.has_deletion_lock(UPS_A)
    registry.workitem_purged(UPS_A)
    assert registry.statistics().stored_instance_entries == 0
    # a new UPS that reuses the UID starts afresh
    assert registry.workitem_created(UPS_A, ups()) == {OTHER_AE}


def test_workitem_created_clears_leftovers_of_a_reused_uid() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe(AE, UPS_A, deletion_lock=True, workitems=WORKITEMS)
    assert registry.workitem_created(UPS_A, ups()) == frozenset()
    assert registry.recipients(UPS_A) == frozenset()


def test_has_deletion_lock_counts_every_source() -> None:
    registry = SubscriptionRegistry()
    assert not registry.has_deletion_lock(UPS_A)
    registry.subscribe(AE, GLOBAL, deletion_lock=True, workitems=WORKITEMS)
    assert registry.has_deletion_lock(UPS_A)
    registry.subscribe(AE, UPS_A, deletion_lock=False, workitems=WORKITEMS)
    assert not registry.has_deletion_lock(UPS_A)  # re-subscribing without lock releases it
    assert registry.has_deletion_lock(UPS_B)


def test_subscribers_lists_global_filtered_and_instance_subscribers() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe("G", GLOBAL, deletion_lock=False, workitems=WORKITEMS)
    registry.subscribe("F", FILTERED, deletion_lock=False, workitems={},
                       matching_keys=keys("Z"))
    registry.subscribe("I", UPS_A, deletion_lock=False, workitems=WORKITEMS)
    assert registry.subscribers() == {"G", "F", "I"}
    assert registry.statistics() == (1, 1, 1, 1)


# --- persistence ------------------------------------------------------------------------------


def test_records_round_trip() -> None:
    registry = SubscriptionRegistry()
    registry.subscribe("G", GLOBAL, deletion_lock=True, workitems=WORKITEMS)
    registry.unsubscribe("G", UPS_B, workitems=WORKITEMS)
    registry.subscribe("F", FILTERED, deletion_lock=False, workitems=WORKITEMS,
                       matching_keys=keys("A"))
    registry.subscribe("I", UPS_B, deletion_lock=True, workitems=WORKITEMS)
    records = registry.records()
    assert records == (
        GlobalSubscriptionRecord(receiving_ae="G", deletion_lock=True),
        GlobalSubscriptionRecord(receiving_ae="F", deletion_lock=False,
                                 matching_keys=records[1].matching_keys),  # type: ignore[union-attr]
        InstanceSubscriptionRecord(receiving_ae="F", workitem_uid=UPS_A, state=WITHOUT),
        InstanceSubscriptionRecord(receiving_ae="G", workitem_uid=UPS_B, state=NOT),
        InstanceSubscriptionRecord(receiving_ae="I", workitem_uid=UPS_B, state=WITH),
    )
    restored = SubscriptionRegistry.from_records(records)
    assert restored.records() == records
    assert hash(records) == hash(restored.records())
    assert restored.workitem_created("1.9", ups("A")) == {"G", "F"}


def test_from_records_normalises_and_checks() -> None:
    redundant = (InstanceSubscriptionRecord(receiving_ae=AE, workitem_uid=UPS_A, state=NOT),
                 InstanceSubscriptionRecord(receiving_ae=AE, workitem_uid=UPS_B, state=WITH))
    assert SubscriptionRegistry.from_records(redundant).records() == redundant[1:]
    twice = (GlobalSubscriptionRecord(receiving_ae=AE, deletion_lock=True),
             GlobalSubscriptionRecord(receiving_ae=AE, deletion_lock=False))
    with pytest.raises(ValueError, match="two global"):
        SubscriptionRegistry.from_records(twice)
    garbage = (GlobalSubscriptionRecord(receiving_ae=AE, deletion_lock=True,
                                        matching_keys=b"\x10\x00\x10\x00PN\xff\x00"),)
    with pytest.raises(ValueError, match="does not decode"):
        SubscriptionRegistry.from_records(garbage)


def test_from_records_keeps_the_policy() -> None:
    policy = SubscriptionPolicy(deletion_locks=False)
    assert SubscriptionRegistry.from_records((), policy=policy).policy is policy


# --- scale: the global subscription is implied, not stored per UPS ----------------------------


def test_scale_many_global_subscribers_store_nothing_per_ups() -> None:
    workitems = {f"1.2.3.{n}": ups() for n in range(2000)}
    registry = SubscriptionRegistry()
    titles = [f"AE{n}" for n in range(1000)]
    for title in titles:
        registry.subscribe(title, GLOBAL, deletion_lock=False, workitems=workitems)
    assert registry.statistics().stored_instance_entries == 0
    assert registry.recipients("1.2.3.7") == frozenset(titles)
    assert registry.workitem_created("1.2.4", ups()) == frozenset(titles)
    registry.unsubscribe("AE5", "1.2.3.7", workitems=workitems)
    assert registry.statistics().stored_instance_entries == 1
    assert len(registry.recipients("1.2.3.7")) == 999
    # suspending writes out what that one AE's global subscription implied
    registry.suspend("AE6", GLOBAL, workitems=workitems)
    assert registry.statistics().stored_instance_entries == 1 + 2000


def test_scale_many_instance_subscribers_of_one_ups() -> None:
    registry = SubscriptionRegistry()
    titles = {f"AE{n}" for n in range(1000)}
    for title in titles:
        registry.subscribe(title, UPS_A, deletion_lock=False, workitems=WORKITEMS)
    assert registry.recipients(UPS_A) == titles
    assert registry.recipients(UPS_B) == frozenset()
    registry.workitem_purged(UPS_A)
    assert registry.statistics() == (0, 0, 0, 0)


# --- the registry against a literal model of Table CC.2.3-2 -----------------------------------


class TableModel:
    """One explicit state per (AE, UPS), exactly as the digest's table reads."""

    def __init__(self) -> None:
        self.workitems: dict[str, Dataset] = {}
        self.states: dict[tuple[str, str], SubscriptionState] = {}
        self.globals: dict[str, tuple[bool, Dataset | None]] = {}

    def state(self, title: str, uid: str) -> SubscriptionState:
        return self.states.get((title, uid), NOT)

    def create(self, uid: str, data_set: Dataset) -> frozenset[str]:
        self.workitems[uid] = data_set
        subscribed = set()
        for title, (lock, keys_) in self.globals.items():
            if keys_ is None or matches(keys_, data_set):
                self.states[(title, uid)] = WITH if lock else WITHOUT
                subscribed.add(title)
        return frozenset(subscribed)

    def purge(self, uid: str) -> None:
        del self.workitems[uid]
        self.states = {pair: state for pair, state in self.states.items() if pair[1] != uid}

    def subscribe(self, title: str, target: str, lock: bool,
                  keys_: Dataset) -> SubscriptionResult:
        state = WITH if lock else WITHOUT
        if target in (GLOBAL, FILTERED):
            self.globals[title] = (lock, None if target == GLOBAL else keys_)
            chosen = [uid for uid, data_set in self.workitems.items()
                      if target == GLOBAL or matches(keys_, data_set)]
            for uid in chosen:
                if self.state(title, uid) is NOT:
                    self.states[(title, uid)] = state
            return result(OK, *chosen) if lock else result(OK)
        if target not in self.workitems:
            return result(Status.UPS_DOES_NOT_EXIST)
        self.states[(title, target)] = state
        return result(OK, target)

    def unsubscribe(self, title: str, target: str) -> SubscriptionResult:
        if target in (GLOBAL, FILTERED):
            self.globals.pop(title, None)
            self.states = {pair: s for pair, s in self.states.items() if pair[0] != title}
        elif target in self.workitems:
            self.states.pop((title, target), None)
        else:
            return result(Status.UPS_DOES_NOT_EXIST)
        return result(OK)

    def suspend(self, title: str, target: str) -> SubscriptionResult:
        if target in (GLOBAL, FILTERED):
            self.globals.pop(title, None)
            return result(OK)
        if target in self.workitems:
            return result(Status.UPS_ACTION_NOT_APPROPRIATE)
        return result(Status.UPS_DOES_NOT_EXIST)


# Small pools, so that requests keep colliding on the same AE and UPS.
_TITLES = st.sampled_from(["AE1", "AE2"])
_UIDS = st.sampled_from(["1.1", "1.2"])
_TARGETS = st.one_of(st.sampled_from(["1.1", "1.2", "9.9"]), st.just(GLOBAL), st.just(FILTERED))
_LABELS = st.sampled_from(["A", "B"])
_FILTERS = st.sampled_from(["A", "B", "*", "?"])


class RegistryAgainstTable(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.registry = SubscriptionRegistry()
        self.model = TableModel()

    @rule(uid=_UIDS, label=_LABELS)
    def create(self, uid: str, label: str) -> None:
        if uid in self.model.workitems:
            return
        assert self.registry.workitem_created(uid, ups(label)) == self.model.create(
            uid, ups(label))

    @rule(uid=_UIDS)
    def purge(self, uid: str) -> None:
        if uid in self.model.workitems:
            self.model.purge(uid)
            self.registry.workitem_purged(uid)

    @rule(title=_TITLES, instance=_TARGETS, lock=st.booleans(), label=_FILTERS)
    def subscribe(self, title: str, instance: str, lock: bool, label: str) -> None:
        got = self.registry.subscribe(title, instance, deletion_lock=lock,
                                      workitems=self.model.workitems,
                                      matching_keys=keys(label))
        assert got == self.model.subscribe(title, instance, lock, keys(label))

    # The global requests and instance unsubscribes again, so that they interleave more often.
    @rule(title=_TITLES, lock=st.booleans())
    def subscribe_globally(self, title: str, lock: bool) -> None:
        self.subscribe(title, GLOBAL, lock, "*")

    @rule(title=_TITLES, uid=_UIDS)
    def unsubscribe_from_one(self, title: str, uid: str) -> None:
        self.unsubscribe(title, uid)

    @rule(title=_TITLES, instance=_TARGETS)
    def unsubscribe(self, title: str, instance: str) -> None:
        got = self.registry.unsubscribe(title, instance, workitems=self.model.workitems)
        assert got == self.model.unsubscribe(title, instance)

    @rule(title=_TITLES, instance=_TARGETS)
    def suspend(self, title: str, instance: str) -> None:
        got = self.registry.suspend(title, instance, workitems=self.model.workitems)
        assert got == self.model.suspend(title, instance)

    @rule()
    def restart(self) -> None:
        self.registry = SubscriptionRegistry.from_records(self.registry.records())

    @invariant()
    def agrees_with_the_table(self) -> None:
        for uid in self.model.workitems:
            expected = {t for (t, u), s in self.model.states.items() if u == uid and s is not NOT}
            assert self.registry.recipients(uid) == expected
            assert self.registry.has_deletion_lock(uid) is any(
                s is WITH for (_, u), s in self.model.states.items() if u == uid)
            for title in ("AE1", "AE2"):
                assert self.registry.instance_state(title, uid) is self.model.state(title, uid)
        for title in ("AE1", "AE2"):
            lock, _ = self.model.globals.get(title, (None, None))
            expected_global = NOT if lock is None else WITH if lock else WITHOUT
            assert self.registry.global_state(title) is expected_global


RegistryAgainstTable.TestCase.settings = settings(max_examples=300, stateful_step_count=30,
                                                  deadline=None)
test_registry_against_table = RegistryAgainstTable.TestCase
