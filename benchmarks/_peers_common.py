"""What every ``peers.py`` role shares: event loops, the UPS workitems, the AE titles of the
fan-out benchmark, and the handshake with ``bench_all.py`` (``READY``, ``SPAN``)."""

from __future__ import annotations

import os
import resource
import sys
import time
from typing import Any

BACKENDS: dict[str, dict[str, Any]] = {
    "asyncio": {"backend": "asyncio"},
    "uvloop": {"backend": "asyncio", "backend_options": {"use_uvloop": True}},
    "trio": {"backend": "trio"},
}


def workitem() -> Any:
    """A UPS as an SCU would create it (about 500 bytes encoded)."""
    from pydicom import Dataset

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Doe^John"
    ds.PatientID = "PID-123"
    ds.IssuerOfPatientID = "HOSP"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "M"
    ds.ProcedureStepLabel = "CT head review"
    ds.WorklistLabel = "RADIOLOGY"
    ds.ScheduledProcedureStepPriority = "MEDIUM"
    ds.ProcedureStepState = "SCHEDULED"
    ds.ScheduledProcedureStepStartDateTime = "20261122090000"
    ds.ExpectedCompletionDateTime = "20261122100000"
    ds.InputReadinessState = "READY"
    ds.TransactionUID = ""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121006", "DCM", "Review"
    ds.ScheduledWorkitemCodeSequence = [code]
    station = Dataset()
    station.CodeValue, station.CodingSchemeDesignator, station.CodeMeaning = "WS1", "L", "WS 1"
    ds.ScheduledStationNameCodeSequence = [station]
    for keyword in ("ScheduledProcessingParametersSequence", "ScheduledHumanPerformersSequence",
                    "InputInformationSequence", "ReferencedRequestSequence",
                    "OtherPatientIDsSequence", "ReplacedProcedureStepSequence"):
        setattr(ds, keyword, [])
    ds.CommentsOnTheScheduledProcedureStep = "benchmark"
    return ds


def ups_workitem(*, assigned: bool = True) -> Any:
    """:func:`workitem` with every Type 2 attribute an N-CREATE must carry (PS3.4 Table
    CC.2.5-3), so a real UPS SCP accepts it (about 530 bytes encoded).  Its Specific Character
    Set is PEERS_UPS_CHARSET: none (the default repertoire) unless set, e.g. to ISO_IR 192.
    ``assigned=False`` leaves the Scheduled Station Name Code Sequence empty."""
    ds = workitem()
    if not assigned:  # no UPS Assigned event at creation (UPS-44): one event per subscriber
        ds.ScheduledStationNameCodeSequence = []
    charset = os.environ.get("PEERS_UPS_CHARSET", "")
    if charset:
        ds.SpecificCharacterSet = charset
    else:
        del ds.SpecificCharacterSet
    for keyword in ("AdmissionID", "AdmittingDiagnosesDescription"):
        setattr(ds, keyword, "")
    for keyword in ("ScheduledStationClassCodeSequence",
                    "ScheduledStationGeographicLocationCodeSequence",
                    "IssuerOfPatientIDQualifiersSequence", "IssuerOfAdmissionIDSequence",
                    "AdmittingDiagnosesCodeSequence", "ProcedureStepProgressInformationSequence",
                    "UnifiedProcedureStepPerformedProcedureSequence"):
        setattr(ds, keyword, [])
    return ds


UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
UPS_WATCH = "1.2.840.10008.5.1.4.34.6.2"
UPS_PULL = "1.2.840.10008.5.1.4.34.6.3"
UPS_EVENT = "1.2.840.10008.5.1.4.34.6.4"
UPS_GLOBAL = "1.2.840.10008.5.1.4.34.5"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
HOST = "127.0.0.1"


def subscriber_titles(count: int) -> list[str]:
    """The Receiving AE titles of the fan-out benchmark."""
    return [f"SUB{i:05d}" for i in range(1, count + 1)]


def raise_nofile() -> int:
    """RLIMIT_NOFILE up to the hard limit (one descriptor per association); the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def wait_for_go() -> None:
    """With PEERS_WAIT_GO=1 (several client processes started together): say ``READY`` once
    the associations are open, and start the clock on the next line of stdin."""
    if os.environ.get("PEERS_WAIT_GO") == "1":
        print("READY", flush=True)
        sys.stdin.readline()


def report_span(start: float) -> None:
    """With PEERS_WAIT_GO=1: ``SPAN <start> <end>`` (time.monotonic) of the timed part."""
    if os.environ.get("PEERS_WAIT_GO") == "1":
        print(f"SPAN {start:.6f} {time.monotonic():.6f}", flush=True)


def parse_store_spec(spec: str) -> tuple[str, str, str]:
    """``memory`` or ``sqlite:FULL|NORMAL:PATH`` -> (kind, synchronous, path)."""
    if spec == "memory":
        return "memory", "", ""
    kind, synchronous, path = spec.split(":", 2)
    if kind != "sqlite" or synchronous.upper() not in ("FULL", "NORMAL", "OFF"):
        raise SystemExit(f"bad store {spec!r}")
    return kind, synchronous.upper(), path
