"""UPS workitems and the N-CREATE, N-SET and N-GET rules (PS3.4 CC.2.5-CC.2.7; digest §4.5-4.9).

Every function is pure: it takes the stored :class:`Workitem` (or ``None`` when the store has
no instance with that UID), the request's data set and ``now``, and returns an
:class:`Outcome` — the status to answer with, the workitem to store (if anything changed) and
the events to send.  Arguments are never modified; data sets in results are fresh copies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, final

from .._uids import (
    UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
    UPS_PUSH,
)
from ..dimse import (
    Dataset,
    Status,
    copy_data_set,
    dictionary_VR,
    generate_uid,
    has_element,
    keyword_for_tag,
    keyword_tag,
    peek_text,
    put_text,
)
from ._events import UPSEvent, events_for_change
from ._requirements import (
    ENUMERATED_VALUES,
    N_CREATE_EMPTY,
    N_CREATE_NOT_ALLOWED,
    N_SET_NOT_ALLOWED,
    SCP_MANAGED,
    create_gaps,
    format_dt,
    has_value,
    is_valid_dt,
    is_valid_uid,
    present,
    text_value,
    top_level_tags,
)
from ._state import UPSState, decide_create

TRANSACTION_UID: Final = 0x00081195
_SOP_CLASS_UID: Final = 0x00080016
_SOP_INSTANCE_UID: Final = 0x00080018
_MODIFICATION_DATE_TIME: Final = 0x00404010
_WORKLIST_LABEL: Final = 0x00741202
_SPECIFIC_CHARACTER_SET: Final = 0x00080005
#: The Specific Character Set that can hold any text (PS3.3 C.12.1.1.2): used when an N-SET
#: brings text in a character set other than the stored one (UPS-46).
_UTF8: Final = "ISO_IR 192"
_DEFAULT_REPERTOIRE: Final = "ISO_IR 6"
_SCP_MANAGED_TAGS: Final = top_level_tags(SCP_MANAGED)
#: ErrorComment (0000,0902) is an LO: 64 characters at most.
_MAX_COMMENT: Final = 64


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Workitem:
    """A UPS instance as the SCP stores it (PS3.3 C.30, PS3.4 CC.1.1).

    ``data_set`` holds the attributes, including SOP Class/Instance UID and Procedure Step
    State, but never the Transaction UID: the lock is kept apart in ``transaction_uid`` so that
    no N-GET, C-FIND or event report can leak it (UPS-32).  The SCP keeps it after a final state
    (UPS-12).  Treat ``data_set`` as read-only: the functions of this package return new
    workitems instead of modifying one.
    """

    sop_instance_uid: str
    data_set: Dataset
    transaction_uid: str | None = None

    def __post_init__(self) -> None:
        if TRANSACTION_UID in self.data_set:
            raise ValueError("a Workitem's data set never holds the Transaction UID (UPS-32)")
        state = text_value(self.data_set, "ProcedureStepState")
        if state not in tuple(UPSState):
            raise ValueError(f"invalid Procedure Step State {state!r}")

    @property
    def state(self) -> UPSState:
        """Procedure Step State (0074,1000)."""
        return UPSState(text_value(self.data_set, "ProcedureStepState") or "")


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the SCP answers to one UPS request, and what it stores and sends.

    ``workitem`` is the workitem to store, or ``None`` when nothing is to be stored (failures,
    warnings that change nothing, N-GET).  ``events`` are to be sent, in order, to the AEs
    subscribed to the instance (after applying global subscriptions for a new one, UPS-55).
    ``offending_elements`` are top-level tags for Offending Element (0000,0901);
    ``attribute_identifiers`` are for Attribute Identifier List (0000,1005) (N-GET warnings).
    ``data_set`` is the response data set (N-GET), if any.
    """

    status: Status
    workitem: Workitem | None = None
    events: tuple[UPSEvent, ...] = ()
    error_comment: str | None = None
    offending_elements: tuple[int, ...] = ()
    attribute_identifiers: tuple[int, ...] = ()
    data_set: Dataset | None = None


def comment(text: str) -> str:
    """An Error Comment that fits its LO (64 characters)."""
    return text if len(text) <= _MAX_COMMENT else text[: _MAX_COMMENT - 3] + "..."


def failure(status: Status, text: str, tags: Iterable[int] = ()) -> Outcome:
    """An outcome that changes nothing."""
    return Outcome(status=status, error_comment=comment(text), offending_elements=tuple(tags))


def _tags(keywords: Iterable[str]) -> tuple[int, ...]:
    return top_level_tags(tuple(keywords))


def strip_transaction_uid(data_set: Dataset) -> Dataset:
    """A copy of ``data_set`` without a top-level Transaction UID (UPS-32)."""
    result = copy_data_set(data_set)
    if TRANSACTION_UID in result:
        del result[TRANSACTION_UID]
    return result


def _decoded(data_set: Dataset) -> Dataset:
    """A copy whose text values are ``str`` (so it no longer depends on its character set)."""
    result = copy_data_set(data_set)
    _decode_text(result)
    return result


def _decode_text(data_set: Dataset) -> None:
    """Turn text values into ``str`` in place when a Specific Character Set says how; in the
    default repertoire pydicom already reads them as ``str`` (and decoding costs ~1 ms)."""
    if has_element(data_set, _SPECIFIC_CHARACTER_SET):
        data_set.decode()


# --- N-CREATE ----------------------------------------------------------------------------


def _check_instance_uid(instance_uid: str, existing: Workitem | None) -> Outcome | None:
    """Duplicates and well-known UIDs get 0111 (UPS-11, UPS-41); malformed ones 0117."""
    decision = decide_create(existing.state if existing is not None else None)
    if decision.status is not Status.SUCCESS:
        return failure(decision.status, "a UPS with this SOP Instance UID already exists")
    if instance_uid in (UPS_GLOBAL_SUBSCRIPTION_INSTANCE,
                        UPS_FILTERED_GLOBAL_SUBSCRIPTION_INSTANCE):
        return failure(Status.DUPLICATE_SOP_INSTANCE, "a well-known UID is not a UPS instance")
    if not is_valid_uid(instance_uid):
        return failure(Status.INVALID_OBJECT_INSTANCE, f"invalid SOP Instance UID {instance_uid!r}")
    return None


def _check_create_state(data_set: Dataset) -> Outcome | None:
    """Procedure Step State must be SCHEDULED (UPS-41): C309, or 0120/0121 when missing."""
    keyword = "ProcedureStepState"
    if not present(data_set, keyword):
        return failure(Status.MISSING_ATTRIBUTE, "Procedure Step State missing", _tags([keyword]))
    state = text_value(data_set, keyword)
    if state is None:
        return failure(Status.MISSING_ATTRIBUTE_VALUE, "Procedure Step State empty",
                       _tags([keyword]))
    if state != UPSState.SCHEDULED:
        return failure(Status.UPS_NOT_SCHEDULED, f"Procedure Step State is {state}, "
                       "not SCHEDULED", _tags([keyword]))
    return None


def _check_create_values(instance_uid: str, data_set: Dataset) -> Outcome | None:
    """0106 for a non-empty Transaction UID (UPS-30) and for SOP Class/Instance UIDs in the data
    set that contradict the SCP's (UPS-40; equal ones are harmless and simply replaced)."""
    if has_value(data_set, "TransactionUID"):
        return failure(Status.INVALID_ATTRIBUTE_VALUE, "Transaction UID must be empty at "
                       "N-CREATE", _tags(["TransactionUID"]))
    expected = {"SOPClassUID": UPS_PUSH, "SOPInstanceUID": instance_uid}
    wrong = [keyword for keyword in N_CREATE_NOT_ALLOWED
             if has_value(data_set, keyword) and text_value(data_set, keyword) != expected[keyword]]
    if wrong:
        return failure(Status.INVALID_ATTRIBUTE_VALUE, f"not allowed in N-CREATE: "
                       f"{', '.join(wrong)}", _tags(wrong))
    return None


def _check_create_attributes(data_set: Dataset) -> Outcome | None:
    """Type 1/2 attributes (0120/0121) and valid values (0106) (UPS-42)."""
    absent, empty = create_gaps(data_set)
    if absent:
        return failure(Status.MISSING_ATTRIBUTE, f"missing: {', '.join(absent)}", _tags(absent))
    if empty:
        return failure(Status.MISSING_ATTRIBUTE_VALUE, f"no value: {', '.join(empty)}",
                       _tags(empty))
    start = text_value(data_set, "ScheduledProcedureStepStartDateTime")
    if start is not None and not is_valid_dt(start):
        return failure(Status.INVALID_ATTRIBUTE_VALUE, f"invalid start date-time {start!r}",
                       _tags(["ScheduledProcedureStepStartDateTime"]))
    return None


def _coerce_enumerated(data_set: Dataset) -> tuple[list[str], list[str]]:
    """Normalise enumerated values in place: ``(coerced, invalid)`` keywords.

    A value that differs from a defined one only by case or padding is coerced (PS3.4 CC.2.5.3
    lets the SCP correct invalid values; B300/B305 tell the SCU); anything else is invalid.
    """
    coerced: list[str] = []
    invalid: list[str] = []
    for keyword, allowed in ENUMERATED_VALUES.items():
        if peek_text(data_set, keyword_tag(keyword)) in allowed:  # the common case, unconverted
            continue
        if not has_value(data_set, keyword):
            continue
        raw = data_set[keyword].value
        if not isinstance(raw, str):  # multi-valued
            invalid.append(keyword)
        elif raw not in allowed:
            if raw.strip().upper() in allowed:
                data_set[keyword].value = raw.strip().upper()
                coerced.append(keyword)
            else:
                invalid.append(keyword)
    return coerced, invalid


def create_workitem(instance_uid: str | None, data_set: Dataset, *, now: datetime,
                    existing: Workitem | None = None, worklist_label: str = "AIOUPS",
                    new_uid: Callable[[], str] = generate_uid, with_events: bool = True) -> Outcome:
    """Create a UPS from an N-CREATE (UPS-40 … UPS-44; Table CC.1.1-2, first row).

    Args:
        instance_uid: Affected SOP Instance UID of the request.  UPS requires the SCU to choose
            it (UPS-40); when it is absent the SCP assigns one with ``new_uid`` (PS3.7 allows
            that), and the caller must return it in the response.
        data_set: the request's data set.
        now: the creation time, stored as Scheduled Procedure Step Modification DateTime.
        existing: what the store holds under ``instance_uid``; anything means 0111.
        worklist_label: what the SCP puts in an empty or absent Worklist Label (UPS-43).
        new_uid: UID generator.
        with_events: ``False`` leaves the events out (nobody would receive them).

    Returns:
        0000, or B300 when the SCP coerced values (items in the Progress Information or
        Performed Procedure sequences dropped, enumerated values normalised; the comment says
        which), with the new workitem and its events (State Report, and UPS Assigned if a
        station or performer is set, UPS-44).  Failures: 0111 duplicate or well-known UID,
        0117 malformed UID, C309 state not SCHEDULED, 0106 non-empty Transaction UID or
        contradicting SOP UIDs or invalid values, 0120/0121 missing attributes/values.
        Filling Worklist Label, SOP Class/Instance UID and the modification date-time is what
        the SCP always does (UPS-43) and is not reported as a modification.
    """
    uid = instance_uid if instance_uid is not None else new_uid()
    refused = (_check_instance_uid(uid, existing) or _check_create_state(data_set)
               or _check_create_values(uid, data_set) or _check_create_attributes(data_set))
    if refused is not None:
        return refused
    stored = strip_transaction_uid(data_set)
    _decode_text(stored)
    coerced, invalid = _coerce_enumerated(stored)
    if invalid:
        return failure(Status.INVALID_ATTRIBUTE_VALUE, f"invalid value: {', '.join(invalid)}",
                       _tags(invalid))
    for keyword in N_CREATE_EMPTY:
        if has_value(stored, keyword):
            stored[keyword].value = []
            coerced.append(keyword)
    put_text(stored, _SOP_CLASS_UID, "UI", UPS_PUSH)
    put_text(stored, _SOP_INSTANCE_UID, "UI", uid)
    put_text(stored, _MODIFICATION_DATE_TIME, "DT", format_dt(now))
    if not has_value(stored, "WorklistLabel"):
        put_text(stored, _WORKLIST_LABEL, "LO", worklist_label)
    workitem = Workitem(sop_instance_uid=uid, data_set=stored)
    return Outcome(status=Status.UPS_CREATED_WITH_MODIFICATIONS if coerced else Status.SUCCESS,
                   workitem=workitem,
                   events=events_for_change(uid, None, stored) if with_events else (),
                   error_comment=comment(f"coerced: {', '.join(coerced)}") if coerced else None,
                   offending_elements=_tags(coerced))


# --- N-SET -------------------------------------------------------------------------------


def _check_set_lock(workitem: Workitem, modifications: Dataset) -> Outcome | None:
    """C300 on a final UPS; C310 for a Transaction UID on a SCHEDULED one; C301 for a missing
    or wrong one on an IN PROGRESS one (UPS-31).  "Present" includes present but empty."""
    state = workitem.state
    if state.is_final:
        return failure(Status.UPS_MAY_NO_LONGER_BE_UPDATED, f"UPS is {state}")
    supplied = text_value(modifications, "TransactionUID")
    if state is UPSState.SCHEDULED:
        if TRANSACTION_UID in modifications:
            return failure(Status.UPS_NOT_IN_PROGRESS, "no Transaction UID on a SCHEDULED UPS",
                           [TRANSACTION_UID])
        return None
    if supplied is None or supplied != workitem.transaction_uid:
        return failure(Status.UPS_TRANSACTION_UID_NOT_CORRECT, "correct Transaction UID not "
                       "provided", [TRANSACTION_UID])
    return None


def _check_set_attributes(workitem: Workitem, modifications: Dataset, *,
                          allow_new_attributes: bool) -> Outcome | None:
    """Procedure Step State (C303/0106), "Not allowed" attributes (0106), attributes the
    instance does not have (0105), Type 1 attributes emptied (0121) (UPS-45, UPS-46)."""
    if "ProcedureStepState" in modifications:
        value = text_value(modifications, "ProcedureStepState")
        status = (Status.UPS_MAY_ONLY_BECOME_SCHEDULED_VIA_N_CREATE
                  if value == UPSState.SCHEDULED else Status.INVALID_ATTRIBUTE_VALUE)
        return failure(status, "N-SET may not set Procedure Step State",
                       _tags(["ProcedureStepState"]))
    stored = workitem.data_set
    changed = [keyword for keyword in N_SET_NOT_ALLOWED if keyword in modifications and (
        keyword not in stored or modifications[keyword].value != stored[keyword].value)]
    if changed:
        return failure(Status.INVALID_ATTRIBUTE_VALUE, f"not allowed in N-SET: "
                       f"{', '.join(changed)}", _tags(changed))
    managed = {*_SCP_MANAGED_TAGS, TRANSACTION_UID, _SPECIFIC_CHARACTER_SET}
    new = [int(tag) for tag in modifications.keys() if tag not in stored and tag not in managed]
    if new and not allow_new_attributes:
        names = ", ".join(keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
                          for tag in new)
        return failure(Status.NO_SUCH_ATTRIBUTE, f"not in the UPS: {names}", new)
    emptied = [keyword for keyword in ("ScheduledProcedureStepPriority", "ProcedureStepLabel",
                                       "ScheduledProcedureStepStartDateTime",
                                       "InputReadinessState")
               if keyword in modifications and not has_value(modifications, keyword)]
    if emptied:
        return failure(Status.MISSING_ATTRIBUTE_VALUE, f"no value: {', '.join(emptied)}",
                       _tags(emptied))
    return None


def _merged_character_set(stored: Dataset, modifications: Dataset) -> object:
    """The Specific Character Set that covers both data sets (UPS-46, PS3.4 CC.2.6.3)."""
    ours = stored.get("SpecificCharacterSet") or None
    theirs = modifications.get("SpecificCharacterSet") or None
    if theirs in (None, _DEFAULT_REPERTOIRE) or theirs == ours:
        return ours
    if ours in (None, _DEFAULT_REPERTOIRE):
        return theirs
    return _UTF8


def apply_n_set(workitem: Workitem | None, modifications: Dataset, *, now: datetime,
                allow_new_attributes: bool = False) -> Outcome:
    """Apply an N-SET to a workitem (UPS-31, UPS-45 … UPS-47; PS3.4 CC.2.6.3).

    Each attribute of ``modifications`` replaces the stored one; a sequence replaces the whole
    sequence (UPS-46).  The SCP re-sets Scheduled Procedure Step Modification DateTime to
    ``now`` (UPS-43) and keeps text readable across character sets: when the request's Specific
    Character Set differs from the stored one, the result uses ISO_IR 192 (UTF-8) unless one
    side is the default repertoire.

    Choices where the digest leaves it open: "Not allowed" attributes are refused with 0106 only
    when they would change (sending back an unchanged value is accepted); attributes the
    instance does not have get 0105 (UPS-46: "an N-SET may only touch attributes the N-CREATE
    created") unless ``allow_new_attributes``; ProcedureStepState is always refused (C303 for
    SCHEDULED, else 0106); a Transaction UID on a SCHEDULED UPS is C310 even when empty.

    Returns:
        0000, or B305 when enumerated values were coerced; the new workitem and its events
        (State Report if Input Readiness State changed, Progress Report, UPS Assigned, UPS-47).
        Failures: C307, C300, C310, C301, C303, 0105, 0106, 0121.
    """
    if workitem is None:
        return failure(Status.UPS_DOES_NOT_EXIST, "no such UPS")
    refused = (_check_set_lock(workitem, modifications)
               or _check_set_attributes(workitem, modifications,
                                        allow_new_attributes=allow_new_attributes))
    if refused is not None:
        return refused
    changes = strip_transaction_uid(modifications)
    _decode_text(changes)
    coerced, invalid = _coerce_enumerated(changes)
    if invalid:
        return failure(Status.INVALID_ATTRIBUTE_VALUE, f"invalid value: {', '.join(invalid)}",
                       _tags(invalid))
    stored = _decoded(workitem.data_set)
    character_set = _merged_character_set(stored, changes)
    for element in changes:
        if element.tag != _SPECIFIC_CHARACTER_SET and element.tag not in _SCP_MANAGED_TAGS:
            stored[element.tag] = element
    if character_set is not None:
        stored.SpecificCharacterSet = character_set
    stored.ScheduledProcedureStepModificationDateTime = format_dt(now)
    new = Workitem(sop_instance_uid=workitem.sop_instance_uid, data_set=stored,
                   transaction_uid=workitem.transaction_uid)
    return Outcome(status=Status.UPS_COERCED_INVALID_VALUES if coerced else Status.SUCCESS,
                   workitem=new, events=events_for_change(new.sop_instance_uid,
                                                          workitem.data_set, stored),
                   error_comment=comment(f"coerced: {', '.join(coerced)}") if coerced else None,
                   offending_elements=_tags(coerced))


# --- N-GET -------------------------------------------------------------------------------


def _recognised(tag: int) -> bool:
    """A public data-set tag the DICOM dictionary knows (not command, not file meta)."""
    if tag >> 16 <= 0x0002 or (tag >> 16) % 2:
        return False
    try:
        dictionary_VR(tag)
    except KeyError:
        return False
    return True


def n_get_attributes(workitem: Workitem | None,
                     attribute_identifier_list: Iterable[int] | None = None) -> Outcome:
    """The N-GET response data set (UPS-32, UPS-50; PS3.4 CC.2.7.3).

    With no list (or an empty one) every attribute is returned; otherwise the listed top-level
    attributes the instance has.  The Transaction UID is never returned (the stored data set
    does not hold it).  Specific Character Set is added whenever the instance has one, since
    the text cannot be read without it.

    Requested attributes that are not returned make the response a warning, never a failure,
    so the SCU still gets the rest (UPS-50 "shall function properly regardless"): 0107
    (Attribute list error) if any of them is not a public attribute the dictionary knows, else
    0001 (optional attributes not supported, which covers the Transaction UID and attributes
    this instance does not have).  Their tags go in ``attribute_identifiers``.  0105 is never
    used: the digest names no N-GET failure besides C307.
    """
    if workitem is None:
        return failure(Status.UPS_DOES_NOT_EXIST, "no such UPS")
    stored = workitem.data_set
    requested = [int(tag) for tag in attribute_identifier_list or ()]
    if not requested:
        return Outcome(status=Status.SUCCESS, data_set=copy_data_set(stored))
    result = Dataset()
    missing: list[int] = []
    for tag in dict.fromkeys(requested):
        if tag in stored:
            result[tag] = copy.deepcopy(stored[tag])
        else:
            missing.append(tag)
    if _SPECIFIC_CHARACTER_SET in stored and _SPECIFIC_CHARACTER_SET not in result:
        result[_SPECIFIC_CHARACTER_SET] = copy.deepcopy(stored[_SPECIFIC_CHARACTER_SET])
    if not missing:
        return Outcome(status=Status.SUCCESS, data_set=result)
    status = (Status.WARNING_REQUESTED_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED
              if all(_recognised(tag) for tag in missing) else Status.ATTRIBUTE_LIST_ERROR)
    return Outcome(status=status, data_set=result, attribute_identifiers=tuple(missing),
                   error_comment=comment(f"{len(missing)} attribute(s) not returned"))
