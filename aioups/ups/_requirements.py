"""Attribute requirements of the UPS IOD: PS3.4 Table CC.2.5-3 as the digest lists it (§4.6-4.8).

One table per column of the standard's table that the SCP enforces:

- :data:`N_CREATE_REQUIREMENTS` — the N-CREATE column, SCU side (UPS-42);
- :data:`N_CREATE_NOT_ALLOWED`, :data:`N_CREATE_EMPTY` — what an N-CREATE may not carry (UPS-40,
  UPS-42);
- :data:`SCP_MANAGED` — what the SCP sets itself (UPS-03, UPS-43);
- :data:`N_SET_NOT_ALLOWED` — the N-SET column's "Not allowed" rows (UPS-45);
- :data:`FINAL_STATE_REQUIREMENTS` — the Final State column (UPS-48);
- :data:`ENUMERATED_VALUES` — the enumerated values the digest names.

Attributes are named by keyword paths: ``("ReferencedRequestSequence", "StudyInstanceUID")`` is
the Study Instance UID inside each item of the Referenced Request Sequence.  Reported paths are
joined with ``>`` as in the standard (``"ReferencedRequestSequence>StudyInstanceUID"``).

The functions here read data sets and never modify their arguments.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Final

from ..dimse import (
    Dataset,
    Sequence,
    copy_data_set,
    has_element,
    keyword_tag,
    peek_text,
    tag_for_keyword,
)
from ..dimse import has_value as _has_value
from ._state import UPSState

Path = tuple[str, ...]

_PROGRESS: Final = "ProcedureStepProgressInformationSequence"
_PERFORMED: Final = "UnifiedProcedureStepPerformedProcedureSequence"
_PERFORMERS: Final = "ScheduledHumanPerformersSequence"
_REQUEST: Final = "ReferencedRequestSequence"


class RequirementType(StrEnum):
    """Requirement types of the N-CREATE column (SCU side)."""

    #: Present with a value.
    TYPE_1 = "1"
    #: Present; may be empty.
    TYPE_2 = "2"


_1, _2 = RequirementType.TYPE_1, RequirementType.TYPE_2

#: PS3.4 Table CC.2.5-3, N-CREATE column, SCU side (UPS-42).  A nested path applies to every
#: item of its parent sequence; a parent without items asks nothing of its children (that is
#: how the 2C Scheduled Human Performers Sequence is written: its items, if any, need all three).
#: The 1C attributes whose condition the SCP cannot evaluate (Patient ID, Study Instance UID,
#: Replaced Procedure Step Sequence, Specific Character Set) are not listed.
N_CREATE_REQUIREMENTS: Final[Mapping[Path, RequirementType]] = {
    ("ScheduledProcedureStepPriority",): _1,
    ("ProcedureStepLabel",): _1,
    ("ScheduledProcedureStepStartDateTime",): _1,
    ("InputReadinessState",): _1,
    ("ProcedureStepState",): _1,
    ("TransactionUID",): _2,
    ("WorklistLabel",): _2,
    ("ScheduledProcessingParametersSequence",): _2,
    ("ScheduledStationNameCodeSequence",): _2,
    ("ScheduledStationClassCodeSequence",): _2,
    ("ScheduledStationGeographicLocationCodeSequence",): _2,
    ("ScheduledWorkitemCodeSequence",): _2,
    ("CommentsOnTheScheduledProcedureStep",): _2,
    ("InputInformationSequence",): _2,
    ("PatientName",): _2,
    ("PatientBirthDate",): _2,
    ("PatientSex",): _2,
    ("IssuerOfPatientID",): _2,
    ("IssuerOfPatientIDQualifiersSequence",): _2,
    ("OtherPatientIDsSequence",): _2,
    ("AdmissionID",): _2,
    ("IssuerOfAdmissionIDSequence",): _2,
    ("AdmittingDiagnosesDescription",): _2,
    ("AdmittingDiagnosesCodeSequence",): _2,
    (_REQUEST,): _2,
    (_REQUEST, "StudyInstanceUID"): _1,
    (_REQUEST, "AccessionNumber"): _2,
    (_REQUEST, "IssuerOfAccessionNumberSequence"): _2,
    (_REQUEST, "RequestedProcedureID"): _2,
    (_REQUEST, "RequestedProcedureDescription"): _2,
    (_REQUEST, "RequestedProcedureCodeSequence"): _2,
    (_REQUEST, "OrderPlacerIdentifierSequence"): _2,
    (_REQUEST, "OrderFillerIdentifierSequence"): _2,
    (_PROGRESS,): _2,
    (_PERFORMED,): _2,
    (_PERFORMERS, "HumanPerformerCodeSequence"): _1,
    (_PERFORMERS, "HumanPerformerName"): _1,
    (_PERFORMERS, "HumanPerformerOrganization"): _1,
}

#: Type 2 attributes an N-CREATE may leave out because the SCP supplies them: the Transaction
#: UID is tolerated when absent (UPS-30, IMPL) and the Worklist Label is filled in (UPS-43).
N_CREATE_SCP_SUPPLIED: Final = frozenset({"TransactionUID", "WorklistLabel"})

#: Not allowed in the N-CREATE data set: the UIDs travel in the command (UPS-40).
N_CREATE_NOT_ALLOWED: Final = ("SOPClassUID", "SOPInstanceUID")

#: Created empty: nothing nested in them is allowed at N-CREATE (UPS-42).
N_CREATE_EMPTY: Final = (_PROGRESS, _PERFORMED)

#: Set by the SCP whatever the SCU sent: SOP Class UID = Push (UPS-03), the SOP Instance UID
#: from the command (UPS-40), and the modification date-time at N-CREATE and every N-SET (UPS-43).
SCP_MANAGED: Final = ("SOPClassUID", "SOPInstanceUID", "ScheduledProcedureStepModificationDateTime")

#: PS3.4 Table CC.2.5-3, N-SET column, "Not allowed" rows (UPS-45).
N_SET_NOT_ALLOWED: Final = (
    "PatientName", "PatientID", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "PatientBirthDate", "PatientSex", "AdmissionID", "IssuerOfAdmissionIDSequence",
    "AdmittingDiagnosesDescription", "AdmittingDiagnosesCodeSequence", _REQUEST,
    "ReplacedProcedureStepSequence", "ProcedureStepState", "SOPClassUID", "SOPInstanceUID",
)

#: Enumerated values (UPS-42).
ENUMERATED_VALUES: Final[Mapping[str, tuple[str, ...]]] = {
    "ScheduledProcedureStepPriority": ("HIGH", "MEDIUM", "LOW"),
    "InputReadinessState": ("READY", "UNAVAILABLE", "INCOMPLETE"),
}


class FinalStateCode(StrEnum):
    """Final State codes of Table CC.2.5-3 (UPS-48)."""

    #: Must have a value before COMPLETED or CANCELED.
    R = "R"
    #: Must have a value if the condition holds.
    RC = "RC"
    #: Must have a value before COMPLETED; may be empty for CANCELED.
    P = "P"
    #: Must have a value before CANCELED; may be empty for COMPLETED.
    X = "X"
    #: No requirement.
    O = "O"  # noqa: E741 -- the standard's letter


_R, _RC, _P, _X = FinalStateCode.R, FinalStateCode.RC, FinalStateCode.P, FinalStateCode.X

#: PS3.4 Table CC.2.5-3, Final State column, as UPS-48 lists it.
FINAL_STATE_REQUIREMENTS: Final[Mapping[Path, FinalStateCode]] = {
    ("ProcedureStepState",): _R,
    ("SOPClassUID",): _R,
    ("SOPInstanceUID",): _R,
    ("ScheduledProcedureStepPriority",): _R,
    ("ScheduledProcedureStepModificationDateTime",): _R,
    ("ScheduledProcedureStepStartDateTime",): _R,
    ("InputReadinessState",): _R,
    ("SpecificCharacterSet",): _RC,
    (_PERFORMED, "ActualHumanPerformersSequence"): _RC,
    (_PERFORMED, "ActualHumanPerformersSequence", "HumanPerformerCodeSequence"): _RC,
    (_PERFORMED, "ActualHumanPerformersSequence", "HumanPerformerName"): _RC,
    (_PERFORMED,): _P,
    (_PERFORMED, "PerformedStationNameCodeSequence"): _P,
    (_PERFORMED, "PerformedProcedureStepStartDateTime"): _P,
    (_PERFORMED, "PerformedWorkitemCodeSequence"): _P,
    (_PERFORMED, "PerformedProcedureStepEndDateTime"): _P,
    (_PERFORMED, "OutputInformationSequence"): _P,
    (_PROGRESS,): _X,
    (_PROGRESS, "ProcedureStepCancellationDateTime"): _X,
    (_PROGRESS, "ProcedureStepDiscontinuationReasonCodeSequence"): _X,
}

#: "May have no items" (UPS-48): present but empty satisfies the P requirement.
_PRESENT_SUFFICES: Final = frozenset({(_PERFORMED, "OutputInformationSequence")})

#: The codes that bind for each final state.  RC conditions ("if an extended character set is
#: used", "if known") cannot be evaluated by the SCP, so RC never blocks a state change.
_BINDING: Final[Mapping[UPSState, frozenset[FinalStateCode]]] = {
    UPSState.COMPLETED: frozenset({_R, _P}),
    UPSState.CANCELED: frozenset({_R, _X}),
}

#: The reason the SCP records when it cancels and nobody gave one (UPS-49, as dcm4chee does).
DEFAULT_DISCONTINUATION_REASON: Final = ("110513", "DCM", "Discontinued for unspecified reason")

_UID: Final = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_DT: Final = re.compile(r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?")


def join(path: Path) -> str:
    """``("A", "B")`` -> ``"A>B"``, the standard's nesting notation."""
    return ">".join(path)


def top_level_tags(paths: Iterable[str]) -> tuple[int, ...]:
    """The distinct top-level tags of joined keyword paths, in order (for Offending Element)."""
    tags: dict[int, None] = {}
    for path in paths:
        tag = tag_for_keyword(path.split(">")[0])
        if tag is not None:
            tags[int(tag)] = None
    return tuple(tags)


def is_valid_uid(uid: str) -> bool:
    """PS3.5 §9.1: digits and dots, no leading zeros, at most 64 characters."""
    return 0 < len(uid) <= 64 and _UID.fullmatch(uid) is not None


def is_valid_dt(value: str) -> bool:
    """A DT value (PS3.5 Table 6.2-1), without range or wildcard."""
    return _DT.fullmatch(value) is not None


def format_dt(now: datetime) -> str:
    """``now`` as a DT value; with its UTC offset if ``now`` is aware."""
    text = now.strftime("%Y%m%d%H%M%S.%f%z")
    return text[:26]  # (the offset's seconds, if any, do not fit a DT)


def present(data_set: Dataset, keyword: str) -> bool:
    """Whether ``keyword`` is present, empty or not."""
    return has_element(data_set, keyword_tag(keyword))


def has_value(data_set: Dataset, keyword: str) -> bool:
    """Whether ``keyword`` is present with a non-empty value (a sequence: at least one item)."""
    return _has_value(data_set, keyword_tag(keyword))


def text_value(data_set: Dataset, keyword: str) -> str | None:
    """A single-valued string attribute, stripped; ``None`` when absent or empty."""
    text = peek_text(data_set, keyword_tag(keyword))
    return None if text is None else text.strip() or None


def items(data_set: Dataset, keyword: str) -> tuple[Dataset, ...]:
    """The items of a sequence attribute (none when absent or empty)."""
    tag = keyword_tag(keyword)
    if not _has_value(data_set, tag):
        return ()
    value = data_set[tag].value
    return tuple(value) if isinstance(value, Sequence) else ()


def _holders(data_set: Dataset, parents: Path) -> Iterator[Dataset]:
    """Every data set reached by descending ``parents`` through all items."""
    if not parents:
        yield data_set
        return
    for item in items(data_set, parents[0]):
        yield from _holders(item, parents[1:])


def create_gaps(data_set: Dataset) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """N-CREATE requirements not met (UPS-42): ``(absent, present but empty)``, as joined paths.

    ``absent`` lists Type 1 and Type 2 attributes that are missing (0120); ``empty`` lists
    Type 1 attributes without a value (0121).  The SCP-supplied ones are not reported.
    """
    absent: list[str] = []
    empty: list[str] = []
    for path, kind in N_CREATE_REQUIREMENTS.items():
        if len(path) == 1 and path[0] in N_CREATE_SCP_SUPPLIED:
            continue
        for holder in _holders(data_set, path[:-1]):
            if not present(holder, path[-1]):
                absent.append(join(path))
                break
            if kind is _1 and not has_value(holder, path[-1]):
                empty.append(join(path))
                break
    return tuple(absent), tuple(empty)


def final_state_requirements(data_set: Dataset, target: UPSState) -> tuple[str, ...]:
    """The final-state requirements ``data_set`` does not meet for ``target`` (UPS-48).

    Returns joined keyword paths, empty when the state change may go ahead (C304 otherwise).
    A nested requirement must hold in every item of its parent; when the parent itself is
    missing only the parent is reported.  Nothing binds for a non-final ``target``.
    """
    binding = _BINDING.get(target, frozenset())
    unmet: list[str] = []
    for path, code in FINAL_STATE_REQUIREMENTS.items():
        # Parents come before their children in the table; a child of an unmet parent has no
        # item to be checked in, so only the parent is reported.
        if code not in binding or any(join(path).startswith(u + ">") for u in unmet):
            continue
        for holder in _holders(data_set, path[:-1]):
            if path in _PRESENT_SUFFICES:
                met = present(holder, path[-1])
            else:
                met = has_value(holder, path[-1])
            if not met:
                unmet.append(join(path))
                break
    return tuple(unmet)


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item (Code Value, Coding Scheme Designator, Code Meaning)."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def fill_cancellation(data_set: Dataset, *, now: datetime,
                      reason: str | None = None,
                      reason_codes: tuple[Dataset, ...] = (),
                      default_reason: bool = True) -> Dataset:
    """A copy of ``data_set`` with the X attributes the SCP fills in on CANCELED (UPS-48, UPS-49).

    In the (first) Progress Information item, created if needed:

    - Procedure Step Cancellation DateTime := ``now`` if empty (UPS-48, a "shall");
    - Reason For Cancellation := ``reason`` if given and the item has none;
    - Discontinuation Reason Code Sequence := ``reason_codes`` if given and the item has none,
      else the default code (110513, DCM) when ``default_reason`` is true (UPS-49, IMPL: it is
      what makes the standard's "cancel with two N-ACTIONs and no N-SET" note possible).
    """
    result = copy_data_set(data_set)
    progress = items(result, _PROGRESS)
    item = progress[0] if progress else Dataset()
    if not progress:
        result.ProcedureStepProgressInformationSequence = [item]
    if not has_value(item, "ProcedureStepCancellationDateTime"):
        item.ProcedureStepCancellationDateTime = format_dt(now)
    if reason and not has_value(item, "ReasonForCancellation"):
        item.ReasonForCancellation = reason
    if not has_value(item, "ProcedureStepDiscontinuationReasonCodeSequence"):
        if reason_codes:
            item.ProcedureStepDiscontinuationReasonCodeSequence = [
                copy.deepcopy(code) for code in reason_codes]
        elif default_reason:
            item.ProcedureStepDiscontinuationReasonCodeSequence = [
                code_item(*DEFAULT_DISCONTINUATION_REASON)]
    return result
