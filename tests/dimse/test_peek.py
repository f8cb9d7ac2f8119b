"""Reading raw elements without converting them: the answers must be pydicom's own."""

from __future__ import annotations

import struct
import warnings

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


# -- every VR against pydicom's conversion ---------------------------------------------------
#
# One dictionary tag per VR (its dictionary VR), each value sent in Explicit VR with that VR
# and in Implicit VR.  ``has_value`` must say what ``not ds[tag].is_empty`` says and
# ``peek_text`` what ``str(ds[tag].value)`` says (None when empty), on a fresh decode each.

_VR_TAGS = {
    "AE": 0x00400001, "AS": 0x00101010, "AT": 0x00140202, "CS": 0x00100022, "DA": 0x00100030,
    "DS": 0x00101020, "DT": 0x00160077, "FD": 0x00120052, "FL": 0x00109431, "IS": 0x00140206,
    "LO": 0x00100020, "LT": 0x00102155, "OB": 0x00142210, "OD": 0x003A032E, "OF": 0x00181638,
    "OL": 0x00660040, "OV": 0x00720081, "OW": 0x00281201, "PN": 0x00100010, "SH": 0x00102154,
    "SL": 0x00186020, "SS": 0x00189219, "ST": 0x00120051, "SV": 0x00720082, "TM": 0x00100032,
    "UC": 0x00100212, "UI": 0x00181002, "UL": 0x0018106E, "UN": 0x0072006D, "UR": 0x00287FE0,
    "US": 0x00100028, "UT": 0x00100218, "UV": 0x00720083,
}
_TEXT_VALUES = (
    b"", b"  ", b"\0\0", b" \0", b"\0 ", b"AB", b" A", b"A ", b"A\\", b"\\ ", b"\\\\", b"1 ",
    b" 1", b"+1", b"01", b"1.50", b"-0", b"1\\2 ", b"^^", b"=^", b"^ ", b"a^b=c^d", b"\xe9 ",
    b"\x1b-A\xe9", b"20240506", b"120000.5", b"http://x/y z ", b"A\0B\0",
)
_BINARY_VALUES = (b"", b"\0" * 8, b"\x01\x00\x02\x00\x03\x00\x04\x00", b"\xff" * 16)
_LONG_HEADER = ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")
_BINARY = ("AT", "FD", "FL", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SS", "SV", "UL", "UN",
           "US", "UV")

#: Inputs where reading raw bytes could differ from pydicom's answer (each checked below).
_WHITESPACE = (b"\t\t", b"\r\n", b"\n ", b" \t", b"\x0b\x0c")
_KNOWN_PEEK = {  # pydicom strips leading spaces / reformats; peek_text returns the bytes
    "AE": {b" A", b" 1", b"A\0B\0"}, "UI": {b" A", b" 1"}, "DS": {b" 1"}, "IS": {b" 1", b"1.50"},
    "UR": {b"A\0B\0"},
}
_NUL_ONLY = {b"\0\0", b" \0", b"\0 "}  # a value to pydicom in AE and UR


def _element(tag: int, vr: str, value: bytes, implicit: bool) -> bytes:
    group, element = tag >> 16, tag & 0xFFFF
    if implicit:
        return struct.pack("<HHI", group, element, len(value)) + value
    if vr in _LONG_HEADER:
        return struct.pack("<HH2s2xI", group, element, vr.encode(), len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value


def _pydicom_answers(data: bytes, syntax: str, tag: int) -> tuple[object, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            element = decode_data_set(data, syntax)[tag]
        except Exception as exc:  # compared by type
            return ("raised", type(exc).__name__), ("raised", type(exc).__name__)
        return (not element.is_empty), (None if element.is_empty else str(element.value))


def _raw_answers(data: bytes, syntax: str, tag: int) -> tuple[object, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return has_value(decode_data_set(data, syntax), tag), \
                peek_text(decode_data_set(data, syntax), tag)
        except Exception as exc:  # compared by type
            return ("raised", type(exc).__name__), ("raised", type(exc).__name__)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("vr", sorted(_VR_TAGS))
def test_every_vr_agrees_with_pydicom(vr: str, implicit: bool) -> None:
    tag = _VR_TAGS[vr]
    syntax = IMPLICIT if implicit else EXPLICIT
    values = _BINARY_VALUES if vr in _BINARY else _TEXT_VALUES
    mismatches = []
    for value in values:
        data = _element(tag, vr, value, implicit)
        expected_has, expected_text = _pydicom_answers(data, syntax, tag)
        got_has, got_text = _raw_answers(data, syntax, tag)
        if got_has != expected_has:
            mismatches.append(("has_value", value, got_has, expected_has))
        if vr not in _BINARY and got_text != expected_text:
            mismatches.append(("peek_text", value, got_text, expected_text))
    assert mismatches == []


def _agrees(tag: int, vr: str, value: bytes, implicit: bool = False) -> None:
    data = _element(tag, vr, value, implicit)
    syntax = IMPLICIT if implicit else EXPLICIT
    assert _raw_answers(data, syntax, tag) == _pydicom_answers(data, syntax, tag)


@pytest.mark.parametrize("vr", ["UI", "AE", "DS", "UR"])
@pytest.mark.parametrize("value", _WHITESPACE)
def test_whitespace_only_values(vr: str, value: bytes) -> None:
    _agrees(_VR_TAGS[vr], vr, value)


@pytest.mark.parametrize("vr", ["AE", "UR"])
@pytest.mark.parametrize("value", sorted(_NUL_ONLY))
def test_nul_only_ae_and_ur(vr: str, value: bytes) -> None:
    _agrees(_VR_TAGS[vr], vr, value)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_pn_of_empty_groups(implicit: bool) -> None:
    _agrees(0x00404037, "PN", b"==", implicit)  # HumanPerformerName, Type 1 in N-CREATE


@pytest.mark.parametrize("tag", [0x00741204, 0x00741200, 0x00404005, 0x00081195],
                         ids=["ProcedureStepLabel", "Priority", "StartDateTime", "TransactionUID"])
def test_un_for_a_known_tag(tag: int) -> None:
    _agrees(tag, "UN", b"  ")


def test_short_at() -> None:
    _agrees(_VR_TAGS["AT"], "AT", b"\x10\x00")


@pytest.mark.parametrize(("vr", "value"), [
    (vr, value) for vr, values in sorted(_KNOWN_PEEK.items()) for value in sorted(values)])
def test_peek_text_normalisation(vr: str, value: bytes) -> None:
    _agrees(_VR_TAGS[vr], vr, value)
