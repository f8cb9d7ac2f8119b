"""Reading raw elements without converting them: the answers must be pydicom's own."""

from __future__ import annotations

import struct

import pytest

from aioups.dimse import (
    Dataset,
    copy_data_set,
    decode_data_set,
    element_copy,
    encode_data_set,
    has_element,
    has_value,
    keyword_tag,
    peek_text,
    put_element,
)

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"

# (tag, VR, raw value bytes): padding, multi-values, binary, non-ASCII text, unknown tags
CASES = [
    (0x00741000, "CS", b"SCHEDULED "),
    (0x00741000, "CS", b"  "),
    (0x00741000, "CS", b" X"),
    (0x00741000, "CS", b"A\\B "),
    (0x00741000, "CS", b"\\ "),
    (0x00081195, "UI", b"1.2.3\0"),
    (0x00081195, "UI", b"\0\0"),
    (0x00404005, "DT", b"20261122090000"),
    (0x00100010, "PN", b"Doe^John"),
    (0x00100010, "PN", b"  "),
    (0x00741204, "LO", b"caf\xe9"),
    (0x00280010, "US", b"\x00\x00"),
    (0x00080005, "CS", b"ISO_IR 100"),
    (0x00091010, "LO", b"private "),
]


def _raw(tag: int, vr: str, value: bytes, implicit: bool) -> bytes:
    value = value + (b" " if len(value) % 2 else b"")
    group, element = tag >> 16, tag & 0xFFFF
    if implicit:
        return struct.pack("<HHI", group, element, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value


@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize(("tag", "vr", "value"), CASES)
def test_has_value_and_peek_text_agree_with_pydicom(tag: int, vr: str, value: bytes,
                                                    implicit: bool) -> None:
    data = _raw(tag, vr, value, implicit)
    syntax = IMPLICIT if implicit else EXPLICIT
    peeked = decode_data_set(data, syntax)
    converted = decode_data_set(data, syntax)
    element = converted[tag]  # converts it
    assert has_element(peeked, tag)
    assert has_value(peeked, tag) == (not element.is_empty)
    if vr != "US":
        expected = None if element.is_empty else str(element.value)
        assert peek_text(peeked, tag) == expected
    if not element.is_empty:  # (a raw padding-only value is written back as received)
        assert encode_data_set(peeked, syntax) == encode_data_set(converted, syntax)


def test_absent_and_sequences() -> None:
    ds = Dataset()
    ds.ScheduledWorkitemCodeSequence = []
    item = Dataset()
    item.CodeValue = "1"
    ds.ScheduledStationNameCodeSequence = [item]
    for syntax in (EXPLICIT, IMPLICIT):
        decoded = decode_data_set(encode_data_set(ds, syntax), syntax)
        assert not has_element(decoded, 0x00100010)
        assert not has_value(decoded, 0x00100010)
        assert peek_text(decoded, 0x00100010) is None
        assert has_element(decoded, 0x00404018) and not has_value(decoded, 0x00404018)
        assert has_value(decoded, 0x00404025)


def test_raw_sequences_are_written_as_received_in_the_same_encoding() -> None:
    ds = Dataset()
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "WS1", "L", "WS 1"
    ds.ScheduledStationNameCodeSequence = [item]
    ds.PatientID = "X"
    for source in (EXPLICIT, IMPLICIT):
        for target in (EXPLICIT, IMPLICIT):
            decoded = decode_data_set(encode_data_set(ds, source), source)
            assert encode_data_set(decoded, target) == encode_data_set(ds, target)


def test_element_copy_is_independent() -> None:
    ds = Dataset()
    item = Dataset()
    item.CodeValue = "1"
    ds.ScheduledStationNameCodeSequence = [item]
    ds.OtherPatientIDs = ["A", "B"]
    target = Dataset()
    for keyword in ("ScheduledStationNameCodeSequence", "OtherPatientIDs"):
        put_element(target, element_copy(ds, keyword_tag(keyword)))
    target.ScheduledStationNameCodeSequence[0].CodeValue = "2"
    target.OtherPatientIDs.append("C")
    assert ds.ScheduledStationNameCodeSequence[0].CodeValue == "1"
    assert list(ds.OtherPatientIDs) == ["A", "B"]
    assert copy_data_set(target) == target


def test_keyword_tag() -> None:
    assert keyword_tag("PatientName") == 0x00100010
    with pytest.raises(KeyError):
        keyword_tag("NoSuchKeyword")
