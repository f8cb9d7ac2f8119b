"""The fast little-endian encoder writes exactly what pydicom's writer writes, or defers."""

from __future__ import annotations

import pytest
from ups.factories import code, create_request, performed_sequence

from aioups.dimse import DataElement, Dataset, decode_data_set
from aioups.dimse._dataset import _fast_encode, _pydicom_encode

EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


def _mixed() -> Dataset:
    ds = Dataset()
    ds.PatientName = "Doe^John"
    ds.ImageType = ["A", "B", "CC"]
    ds.Rows = 512
    ds.PixelSpacing = [0.5, "0.25"]
    ds.InstanceNumber = "12"
    ds.SliceThickness = 1.23456789012345
    ds.ReferencedFrameNumber = [1, 2, 3]
    ds.OtherPatientIDsSequence = [Dataset(), code("X")]
    ds.SOPInstanceUID = "1.2.3"
    ds.add(DataElement(0x7FE00010, "OB", b"\x01\x02\x03"))
    ds.ProcedureStepLabel = ""
    return ds


def _complete() -> Dataset:
    ds = create_request()
    ds.UnifiedProcedureStepPerformedProcedureSequence = [performed_sequence()]
    return ds


def _cases() -> list[Dataset]:
    built = [_complete(), _mixed()]
    decoded = [decode_data_set(_pydicom_encode(ds, implicit, True),
                               IMPLICIT if implicit else EXPLICIT)
               for ds in built for implicit in (False, True)]
    return built + decoded


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("index", range(6))
def test_fast_encoder_matches_pydicom(index: int, implicit: bool) -> None:
    ds = _cases()[index]
    fast = _fast_encode(ds, implicit)
    assert fast is not None
    assert fast == _pydicom_encode(ds, implicit, True)


@pytest.mark.parametrize("element", [
    DataElement(0x00080005, "CS", "ISO_IR 192"),     # a character set: pydicom encodes text
    DataElement(0x00209165, "AT", [0x00100010]),      # AT
    DataElement(0x00100010, "PN", "Müller"),          # not ASCII
])
def test_fast_encoder_defers_to_pydicom(element: DataElement) -> None:
    ds = Dataset()
    ds.add(element)
    assert _fast_encode(ds, False) is None
