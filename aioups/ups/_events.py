"""UPS event reports: what the SCP sends in N-EVENT-REPORT (PS3.4 CC.2.4; digest UPS-60 … UPS-62).

:class:`UPSEvent` is the value the SCP dispatches: event type, the UPS instance it is about,
and the Event Information data set.  The builders put in exactly the attributes of
PS3.4 Table CC.2.4-1 (UPS-60), plus Specific Character Set when the source data set has one
(PS3.5 §6.1.2.5: text values cannot be read without it).  None of them ever copies the
Transaction UID (UPS-32).

:func:`events_for_change` decides which events a change of a UPS instance produces (UPS-62);
who receives them is the subscription registry's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final, final

from ..dimse import Dataset, copy_data_set, element_copy, has_element, keyword_tag, put_element
from ._requirements import has_value, items, text_value

_PROGRESS: Final = "ProcedureStepProgressInformationSequence"
_STATION: Final = "ScheduledStationNameCodeSequence"
_PERFORMERS: Final = "ScheduledHumanPerformersSequence"


class EventTypeID(IntEnum):
    """Event Type ID (0000,1002) of the UPS Event SOP Class (UPS-60)."""

    UPS_STATE_REPORT = 1
    UPS_CANCEL_REQUESTED = 2
    UPS_PROGRESS_REPORT = 3
    SCP_STATUS_CHANGE = 4
    UPS_ASSIGNED = 5


class SCPStatus(StrEnum):
    """SCP Status (0074,1242) (UPS-60)."""

    RESTARTED = "RESTARTED"
    GOING_DOWN = "GOING DOWN"


class ListStatus(StrEnum):
    """Subscription List Status (0074,1244) and Unified Procedure Step List Status (0074,1246).

    The standard's prose also spells the cold start ``COLD STARTED``; which spelling is right is
    UNCONFIRMED (digest UPS-60, §8), so aioups sends ``COLD START`` and ``ListStatus(...)``
    accepts either spelling (and ``WARM STARTED``) on receipt.
    """

    WARM_START = "WARM START"
    COLD_START = "COLD START"

    @classmethod
    def _missing_(cls, value: object) -> ListStatus | None:
        if isinstance(value, str):
            spelled = value.strip().upper()
            if spelled.endswith("STARTED"):
                spelled = spelled[: -len("ED")]
            for member in cls:
                if member.value == spelled:
                    return member
        return None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UPSEvent:
    """One N-EVENT-REPORT to send (UPS-61).

    The request carries Affected SOP Class UID = UPS Push, Affected SOP Instance UID =
    ``sop_instance_uid``, ``event_type_id``, and ``event_information`` as its data set.
    Treat ``event_information`` as read-only.
    """

    event_type_id: EventTypeID
    sop_instance_uid: str
    event_information: Dataset


def _copy_into(target: Dataset, source: Dataset, keyword: str) -> None:
    tag = keyword_tag(keyword)
    if has_element(source, tag):
        put_element(target, element_copy(source, tag))


def _new_information(source: Dataset) -> Dataset:
    """An empty Event Information, with the source's Specific Character Set if it has one."""
    information = Dataset()
    if has_value(source, "SpecificCharacterSet"):
        _copy_into(information, source, "SpecificCharacterSet")
    return information


def state_report(sop_instance_uid: str, data_set: Dataset) -> UPSEvent:
    """UPS State Report (type 1) for the instance whose attributes are ``data_set`` (UPS-60).

    Procedure Step State and Input Readiness State (type 1); for a CANCELED UPS also Reason For
    Cancellation and Procedure Step Discontinuation Reason Code Sequence (type 3), taken from
    the Progress Information item where the UPS keeps them, when they have a value.
    """
    information = _new_information(data_set)
    _copy_into(information, data_set, "ProcedureStepState")
    _copy_into(information, data_set, "InputReadinessState")
    if text_value(data_set, "ProcedureStepState") == "CANCELED":
        for item in items(data_set, _PROGRESS)[:1]:
            for keyword in ("ReasonForCancellation",
                            "ProcedureStepDiscontinuationReasonCodeSequence"):
                if has_value(item, keyword):
                    _copy_into(information, item, keyword)
    return UPSEvent(event_type_id=EventTypeID.UPS_STATE_REPORT, sop_instance_uid=sop_instance_uid,
                    event_information=information)


#: Attributes of a Request Cancel copied into "UPS Cancel Requested" when present (UPS-60, 1C).
_CANCEL_REQUEST_ATTRIBUTES: Final = ("ReasonForCancellation",
                                     "ProcedureStepDiscontinuationReasonCodeSequence",
                                     "ContactURI", "ContactDisplayName")


def cancel_requested(sop_instance_uid: str, requesting_ae: str,
                     action_information: Dataset) -> UPSEvent:
    """UPS Cancel Requested (type 2): the requesting AE title plus what the N-ACTION carried."""
    information = _new_information(action_information)
    information.RequestingAE = requesting_ae.strip()
    for keyword in _CANCEL_REQUEST_ATTRIBUTES:
        _copy_into(information, action_information, keyword)
    return UPSEvent(event_type_id=EventTypeID.UPS_CANCEL_REQUESTED,
                    sop_instance_uid=sop_instance_uid, event_information=information)


#: Progress Information item attributes a Progress Report carries (UPS-60).
_PROGRESS_REPORT_ATTRIBUTES: Final = ("ProcedureStepProgress", "ProcedureStepProgressDescription",
                                      "ProcedureStepProgressParametersSequence",
                                      "ProcedureStepCommunicationsURISequence")
#: Communications URI item attributes a Progress Report carries (UPS-60).
_COMMUNICATION_ATTRIBUTES: Final = ("ContactURI", "ContactDisplayName")
#: What a change of triggers a Progress Report (UPS-62).
_PROGRESS_TRIGGERS: Final = ("ProcedureStepProgress", "ProcedureStepProgressDescription",
                             "ProcedureStepCommunicationsURISequence")


def _progress_item(item: Dataset) -> Dataset:
    reported = Dataset()
    for keyword in _PROGRESS_REPORT_ATTRIBUTES:
        _copy_into(reported, item, keyword)
    if "ProcedureStepCommunicationsURISequence" in reported:
        uris = []
        for uri in reported.ProcedureStepCommunicationsURISequence:
            kept = Dataset()
            for keyword in _COMMUNICATION_ATTRIBUTES:
                _copy_into(kept, uri, keyword)
            uris.append(kept)
        reported.ProcedureStepCommunicationsURISequence = uris
    return reported


def progress_report(sop_instance_uid: str, data_set: Dataset) -> UPSEvent:
    """UPS Progress Report (type 3): the current Progress Information Sequence (UPS-60, UPS-62).

    Each item keeps only the attributes Table CC.2.4-1 lists (progress, description,
    parameters, communications URIs); the cancellation attributes go in the State Report.
    """
    information = _new_information(data_set)
    information.ProcedureStepProgressInformationSequence = [
        _progress_item(item) for item in items(data_set, _PROGRESS)]
    return UPSEvent(event_type_id=EventTypeID.UPS_PROGRESS_REPORT,
                    sop_instance_uid=sop_instance_uid, event_information=information)


def scp_status_change(sop_instance_uid: str, *, scp_status: SCPStatus,
                      subscription_list_status: ListStatus,
                      ups_list_status: ListStatus) -> UPSEvent:
    """SCP Status Change (type 4) (UPS-60, UPS-62).

    Which Affected SOP Instance UID a type-4 report carries is UNCONFIRMED (UPS-61): the caller
    chooses (dcm4chee sends one per subscribed UPS, and the well-known global subscription UID
    to global subscribers).
    """
    information = Dataset()
    information.SCPStatus = scp_status.value
    information.SubscriptionListStatus = subscription_list_status.value
    information.UnifiedProcedureStepListStatus = ups_list_status.value
    return UPSEvent(event_type_id=EventTypeID.SCP_STATUS_CHANGE,
                    sop_instance_uid=sop_instance_uid, event_information=information)


def assigned(sop_instance_uid: str, data_set: Dataset) -> UPSEvent:
    """UPS Assigned (type 5): station and human performers, each if populated (UPS-60).

    Table CC.2.4-1 puts Human Performer Code Sequence and Human Performer's Organization at the
    top level, while the UPS holds them per item of the Scheduled Human Performers Sequence.
    With several performers (a choice the standard leaves open): the codes of all of them, in
    order, and the first organization that has a value.
    """
    information = _new_information(data_set)
    if has_value(data_set, _STATION):
        _copy_into(information, data_set, _STATION)
    performers = items(data_set, _PERFORMERS)
    codes = [copy_data_set(code) for performer in performers
             for code in items(performer, "HumanPerformerCodeSequence")]
    if codes:
        information.HumanPerformerCodeSequence = codes
    for performer in performers:
        if has_value(performer, "HumanPerformerOrganization"):
            _copy_into(information, performer, "HumanPerformerOrganization")
            break
    return UPSEvent(event_type_id=EventTypeID.UPS_ASSIGNED, sop_instance_uid=sop_instance_uid,
                    event_information=information)


def is_assigned(data_set: Dataset) -> bool:
    """Whether the station name or the human performers are populated (UPS-44)."""
    return has_value(data_set, _STATION) or has_value(data_set, _PERFORMERS)


def _value(data_set: Dataset, keyword: str) -> object:
    return data_set[keyword].value if keyword in data_set else None


def _progress_triggers(data_set: Dataset) -> list[list[object]]:
    """The triggering values per item; an item without any of them does not count."""
    values = [[_value(item, keyword) for keyword in _PROGRESS_TRIGGERS]
              for item in items(data_set, _PROGRESS)]
    return [row for row in values if any(value is not None for value in row)]


def _changed(old: Dataset, new: Dataset, keywords: Sequence[str]) -> bool:
    return any(_value(old, keyword) != _value(new, keyword) for keyword in keywords)


def events_for_change(sop_instance_uid: str, old: Dataset | None,
                      new: Dataset) -> tuple[UPSEvent, ...]:
    """The events a change of a UPS instance from ``old`` to ``new`` produces (UPS-44, UPS-62).

    - creation (``old`` is None): a State Report, and UPS Assigned if the station name or the
      human performers are populated;
    - Procedure Step State or Input Readiness State changed: a State Report;
    - Procedure Step Progress, Progress Description or Communications URI Sequence changed
      (in the Progress Information Sequence): a Progress Report;
    - Scheduled Station Name Code Sequence or Scheduled Human Performers Sequence changed:
      UPS Assigned.

    "Changed" compares values, so an N-SET that rewrites a value with itself reports nothing.
    A Request Cancel on a SCHEDULED UPS (two State Reports) is not a single change: the caller
    builds those with :func:`state_report`.
    """
    if old is None:
        created = [state_report(sop_instance_uid, new)]
        if is_assigned(new):
            created.append(assigned(sop_instance_uid, new))
        return tuple(created)
    events: list[UPSEvent] = []
    if _changed(old, new, ("ProcedureStepState", "InputReadinessState")):
        events.append(state_report(sop_instance_uid, new))
    if _progress_triggers(old) != _progress_triggers(new):
        events.append(progress_report(sop_instance_uid, new))
    if _changed(old, new, (_STATION, _PERFORMERS)):
        events.append(assigned(sop_instance_uid, new))
    return tuple(events)
