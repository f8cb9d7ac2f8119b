"""Data sets and workitems for the UPS rule tests (test_state, test_workitem, test_events).

The N-CREATE attribute lists here are transcribed from the digest (§4.6, UPS-42) on their own,
not imported from ``aioups.ups._requirements``, so the tests check the tables.
"""

from __future__ import annotations

from datetime import datetime

from aioups.dimse import DataElement, Dataset, dictionary_VR, tag_for_keyword
from aioups.ups._actions import change_state
from aioups.ups._state import UPSState
from aioups.ups._workitem import Workitem, apply_n_set, create_workitem

NOW = datetime(2024, 5, 6, 7, 8, 9, 123456)
LATER = datetime(2024, 5, 6, 9, 0, 0)
NOW_DT = "20240506070809.123456"
UPS_UID = "1.2.826.0.1.3680043.2.1125.1"
TUID = "1.2.826.0.1.3680043.2.1125.99"
OTHER_TUID = "1.2.826.0.1.3680043.2.1125.98"

#: UPS-42 Type 1 attributes and a valid value for each.
TYPE_1 = {
    "ScheduledProcedureStepPriority": "MEDIUM",
    "ProcedureStepLabel": "Label",
    "ScheduledProcedureStepStartDateTime": "20240506120000",
    "InputReadinessState": "READY",
    "ProcedureStepState": "SCHEDULED",
}
#: UPS-42 Type 2 attributes (top level).
TYPE_2 = (
    "TransactionUID", "WorklistLabel", "ScheduledProcessingParametersSequence",
    "ScheduledStationNameCodeSequence", "ScheduledStationClassCodeSequence",
    "ScheduledStationGeographicLocationCodeSequence", "ScheduledWorkitemCodeSequence",
    "CommentsOnTheScheduledProcedureStep", "InputInformationSequence", "PatientName",
    "PatientBirthDate", "PatientSex", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "OtherPatientIDsSequence", "AdmissionID", "IssuerOfAdmissionIDSequence",
    "AdmittingDiagnosesDescription", "AdmittingDiagnosesCodeSequence",
    "ReferencedRequestSequence", "ProcedureStepProgressInformationSequence",
    "UnifiedProcedureStepPerformedProcedureSequence",
)


def empty_element(keyword: str) -> DataElement:
    """A zero-length element (an empty sequence for SQ)."""
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    vr = dictionary_VR(tag)
    return DataElement(tag, vr, [] if vr == "SQ" else "")


def lenient(keyword: str, value: object) -> DataElement:
    """An element pydicom does not validate: for invalid values, as a peer could send them."""
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    return DataElement(tag, dictionary_VR(tag), value, validation_mode=0)


def code(value: str, scheme: str = "DCM", meaning: str = "meaning") -> Dataset:
    """A code sequence item."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def create_request(**values: object) -> Dataset:
    """A valid N-CREATE data set; keyword arguments set (or, with ``None``, remove) attributes."""
    data_set = Dataset()
    for keyword in TYPE_2:
        data_set[keyword] = empty_element(keyword)
    for keyword, text in TYPE_1.items():
        setattr(data_set, keyword, text)
    for keyword, value in values.items():
        if value is None:
            delattr(data_set, keyword)
        else:
            data_set.add(lenient(keyword, value))
    return data_set


def created(**values: object) -> Workitem:
    """A SCHEDULED workitem made by create_workitem."""
    outcome = create_workitem(UPS_UID, create_request(**values), now=NOW)
    assert outcome.workitem is not None, outcome
    return outcome.workitem


def action(state: str | None, transaction_uid: str | None = None) -> Dataset:
    """Change UPS State action information."""
    information = Dataset()
    if state is not None:
        information.add(lenient("ProcedureStepState", state))
    if transaction_uid is not None:
        information.add(lenient("TransactionUID", transaction_uid))
    return information


def claimed(workitem: Workitem | None = None, transaction_uid: str = TUID) -> Workitem:
    """The workitem claimed (IN PROGRESS) with ``transaction_uid``."""
    outcome = change_state(workitem or created(), action("IN PROGRESS", transaction_uid),
                           now=NOW)
    assert outcome.workitem is not None, outcome
    assert outcome.workitem.state is UPSState.IN_PROGRESS
    return outcome.workitem


def performed_sequence() -> Dataset:
    """A Performed Procedure item meeting every P requirement (UPS-48)."""
    item = Dataset()
    item.PerformedStationNameCodeSequence = [code("STATION")]
    item.PerformedProcedureStepStartDateTime = "20240506080000"
    item.PerformedWorkitemCodeSequence = [code("WORK")]
    item.PerformedProcedureStepEndDateTime = "20240506083000"
    item.OutputInformationSequence = []
    return item


def ready_to_complete(transaction_uid: str = TUID) -> Workitem:
    """A claimed workitem whose Performed Procedure Sequence meets the P requirements."""
    modifications = Dataset()
    modifications.TransactionUID = transaction_uid
    modifications.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
    outcome = apply_n_set(claimed(transaction_uid=transaction_uid), modifications, now=LATER)
    assert outcome.workitem is not None, outcome
    return outcome.workitem
