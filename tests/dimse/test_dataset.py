"""Data sets (``aioups/dimse/_dataset.py``): encode/decode in the four uncompressed transfer
syntaxes, byte-level layout, malformed input, and a cross-check against pydicom's own writer.

``decode_data_set`` promises that a data set whose element structure is broken raises
:class:`DataSetError` at once (values themselves are parsed lazily); every malformed case below
checks that, never a pydicom exception type.
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_file_meta_info
from pydicom.sequence import Sequence
from pydicom.uid import UID

from aioups._uids import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    UNCOMPRESSED_TRANSFER_SYNTAXES,
)
from aioups.dimse import _dataset, decode_data_set, encode_data_set, is_supported_transfer_syntax
from aioups.errors import DataSetError

ALL_TS = [
    pytest.param(IMPLICIT_VR_LITTLE_ENDIAN, id="implicit-le"),
    pytest.param(EXPLICIT_VR_LITTLE_ENDIAN, id="explicit-le"),
    pytest.param(EXPLICIT_VR_BIG_ENDIAN, id="explicit-be"),
    pytest.param(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, id="deflated"),
]
#: the transfer syntaxes whose bytes are an element stream directly (not deflated)
PLAIN_TS = ALL_TS[:3]
TS_VALUES = [p.values[0] for p in ALL_TS]
HYPOTHESIS = settings(deadline=None, max_examples=60,
                      suppress_health_check=[HealthCheck.too_slow])


# -- helpers -------------------------------------------------------------------------------------


def sample() -> Dataset:
    """A data set with nested sequences, empty values, multi-valued and binary elements."""
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.840.10008.9.7"  # UI, odd length: padded with NUL
    ds.PatientName = "Doe^John"
    ds.PatientID = ""  # empty value
    ds.Rows = 512
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]  # multi-valued CS
    ds.PixelSpacing = [0.5, 0.25]  # multi-valued DS
    ds.add_new(0x00101030, "DS", None)  # empty DS (PatientWeight)
    ds.add_new(0x00540081, "US", None)  # empty US (NumberOfSlices)
    ds.add_new(0x0018605A, "FL", [1.5, -2.5])  # multi-valued FL
    ds.add_new(0x00209165, "AT", [0x00100010, 0x00100020])  # multi-valued AT
    ds.add_new(0x00420011, "OB", b"\x01\x02\x03\x04")  # long VR (EncapsulatedDocument)
    deeper = Dataset()
    deeper.TextValue = "deep"
    inner = Dataset()
    inner.CodeValue = "110"
    inner.CodeMeaning = "meaning"
    inner.ContentSequence = Sequence([deeper])  # three levels deep
    ds.ScheduledWorkitemCodeSequence = Sequence([inner, Dataset()])  # an empty item
    ds.ReferencedStudySequence = Sequence([])  # an empty sequence
    return ds


def with_undefined_lengths(ds: Dataset) -> Dataset:
    """Mark every sequence and item of ``ds`` (recursively) as undefined length."""
    for elem in ds:
        if elem.VR == "SQ":
            elem.is_undefined_length = True
            for item in elem.value:
                item.is_undefined_length_sequence_item = True
                with_undefined_lengths(item)
    return ds


def one(keyword: str, value: object) -> Dataset:
    ds = Dataset()
    setattr(ds, keyword, value)
    return ds


def deflate(raw: bytes) -> bytes:
    """Raw deflate (RFC 1951, no zlib header), as PS3.5 A.5 requires."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(raw) + compressor.flush()


def le_element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    """One Explicit VR Little Endian element (long header for SQ/OB/UN/UT)."""
    if vr in (b"SQ", b"OB", b"UN", b"UT"):
        return struct.pack("<HH2sHL", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def le_item(body: bytes, tag: int = 0xFFFEE000, length: int | None = None) -> bytes:
    """An item (or any FFFE-group marker) with ``body``; ``length`` defaults to len(body)."""
    size = len(body) if length is None else length
    return struct.pack("<HHL", tag >> 16, tag & 0xFFFF, size) + body


UNDEFINED = 0xFFFFFFFF
ITEM_END = le_item(b"", 0xFFFEE00D)
SEQUENCE_END = le_item(b"", 0xFFFEE0DD)
PATIENT_ID = le_element(0x0010, 0x0020, b"LO", b"12")
STUDY_DESCRIPTION = le_element(0x0008, 0x1030, b"LO", b"SD")


def undefined_sq(body: bytes, group: int = 0x0008, elem: int = 0x1111) -> bytes:
    """An undefined-length SQ header followed by ``body`` (items and delimiters)."""
    return struct.pack("<HH2sHL", group, elem, b"SQ", 0, UNDEFINED) + body


def part10(data_set_bytes: bytes, transfer_syntax: str) -> bytes:
    """A Part-10 file around data-set bytes: preamble, DICM, file meta, then the bytes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.34.6.1")
    meta.MediaStorageSOPInstanceUID = UID("1.2.3.4")
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = UID("1.2.3.4.5")
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    fp.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(fp, meta)
    return bytes(fp.getvalue()) + data_set_bytes


def pydicom_encoding(ds: Dataset, transfer_syntax: str) -> bytes:
    """What pydicom's own ``dcmwrite`` puts after the file meta for ``ds``."""
    ds = Dataset(ds)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.34.6.1")
    ds.file_meta.MediaStorageSOPInstanceUID = UID("1.2.3.4")
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    out = BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    written = out.getvalue()
    # preamble (128) + b"DICM" + (0002,0000) UL: tag, VR, length, then the group length
    assert written[128:136] == b"DICM\x02\x00\x00\x00"
    (group_length,) = struct.unpack_from("<L", written, 140)
    return written[144 + group_length:]


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ts", ALL_TS)
def test_round_trip_nested_empty_and_multi_valued(ts: str) -> None:
    back = decode_data_set(encode_data_set(sample(), ts), ts)
    assert back == sample()
    assert back.ImageType == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert back.ScheduledWorkitemCodeSequence[0].ContentSequence[0].TextValue == "deep"
    assert len(back.ScheduledWorkitemCodeSequence[1]) == 0
    assert back.ReferencedStudySequence == []
    assert back.PatientID == ""
    assert back[0x00540081].value is None
    assert back.SOPInstanceUID == "1.2.840.10008.9.7"  # the NUL padding is stripped


@pytest.mark.parametrize("ts", ALL_TS)
def test_round_trip_undefined_length_sequences_and_items(ts: str) -> None:
    encoded = encode_data_set(with_undefined_lengths(sample()), ts)
    plain = encoded if ts != DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN else zlib.decompress(
        encoded, -zlib.MAX_WBITS)
    order = ">" if ts == EXPLICIT_VR_BIG_ENDIAN else "<"
    assert struct.pack(f"{order}HHL", 0xFFFE, 0xE0DD, 0) in plain  # sequence delimiter
    assert struct.pack(f"{order}HHL", 0xFFFE, 0xE00D, 0) in plain  # item delimiter
    assert decode_data_set(encoded, ts) == sample()


@pytest.mark.parametrize("ts", ALL_TS)
def test_empty_data_set_round_trips(ts: str) -> None:
    encoded = encode_data_set(Dataset(), ts)
    assert len(decode_data_set(encoded, ts)) == 0


@pytest.mark.parametrize("ts", PLAIN_TS)
def test_empty_bytes_decode_to_an_empty_data_set(ts: str) -> None:
    assert encode_data_set(Dataset(), ts) == b""
    assert len(decode_data_set(b"", ts)) == 0


@pytest.mark.parametrize("source", ALL_TS)
@pytest.mark.parametrize("target", ALL_TS)
def test_decoded_data_set_re_encodes_in_another_transfer_syntax(source: str, target: str) -> None:
    decoded = decode_data_set(encode_data_set(sample(), source), source)
    assert decode_data_set(encode_data_set(decoded, target), target) == sample()


@pytest.mark.parametrize("ts", ALL_TS)
def test_encoding_is_even_and_does_not_change_the_data_set(ts: str) -> None:
    ds = sample()
    encoded = encode_data_set(ds, ts)
    assert ds == sample()
    if ts != DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        assert len(encoded) % 2 == 0  # every value has even length (DIMSE-03)


_text = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _", max_size=16).map(str.strip)
_leaf = st.fixed_dictionaries({}, optional={
    "PatientID": _text, "PatientName": _text, "CodeValue": _text,
    "Rows": st.integers(0, 0xFFFF),
    # two values at least: pydicom reads a single value back as a str, not a list
    "ImageType": st.lists(_text.filter(bool), min_size=2, max_size=3),
    "PixelSpacing": st.lists(st.sampled_from(["0.5", "1", "2.25", "-3"]), min_size=2,
                             max_size=3),
})


def _build(fields: dict[str, object], children: list[dict[str, object]] | None = None,
           ) -> Dataset:
    ds = Dataset()
    for keyword, value in fields.items():
        setattr(ds, keyword, value)
    if children is not None:
        ds.ContentSequence = Sequence([_build(child) for child in children])
    return ds


_data_sets = st.builds(_build, _leaf, st.none() | st.lists(_leaf, max_size=3))


@HYPOTHESIS
@given(ds=_data_sets, ts=st.sampled_from(TS_VALUES), undefined=st.booleans())
def test_generated_data_sets_round_trip(ds: Dataset, ts: str, undefined: bool) -> None:
    expected = Dataset(ds)
    if undefined:
        with_undefined_lengths(ds)
    assert decode_data_set(encode_data_set(ds, ts), ts) == expected


# -- byte-level layout ---------------------------------------------------------------------------


def test_implicit_vr_header_is_tag_and_32_bit_length() -> None:
    encoded = encode_data_set(one("PatientID", "12"), IMPLICIT_VR_LITTLE_ENDIAN)
    assert encoded == b"\x10\x00\x20\x00" + b"\x02\x00\x00\x00" + b"12"


def test_explicit_le_header_has_vr_and_16_bit_length() -> None:
    encoded = encode_data_set(one("PatientID", "12"), EXPLICIT_VR_LITTLE_ENDIAN)
    assert encoded == b"\x10\x00\x20\x00" + b"LO" + b"\x02\x00" + b"12"


def test_explicit_be_swaps_group_element_and_length_bytes() -> None:
    encoded = encode_data_set(one("PatientID", "12"), EXPLICIT_VR_BIG_ENDIAN)
    assert encoded == b"\x00\x10\x00\x20" + b"LO" + b"\x00\x02" + b"12"


@pytest.mark.parametrize(("ts", "expected"), [
    (IMPLICIT_VR_LITTLE_ENDIAN, b"\x28\x00\x10\x00\x02\x00\x00\x00\x00\x02"),
    (EXPLICIT_VR_LITTLE_ENDIAN, b"\x28\x00\x10\x00US\x02\x00\x00\x02"),
    (EXPLICIT_VR_BIG_ENDIAN, b"\x00\x28\x00\x10US\x00\x02\x02\x00"),
], ids=["implicit-le", "explicit-le", "explicit-be"])
def test_binary_value_byte_order(ts: str, expected: bytes) -> None:
    assert encode_data_set(one("Rows", 512), ts) == expected


@pytest.mark.parametrize(("ts", "expected"), [
    (EXPLICIT_VR_LITTLE_ENDIAN, b"\x42\x00\x11\x00OB\x00\x00\x02\x00\x00\x00\x01\x02"),
    (EXPLICIT_VR_BIG_ENDIAN, b"\x00\x42\x00\x11OB\x00\x00\x00\x00\x00\x02\x01\x02"),
], ids=["explicit-le", "explicit-be"])
def test_explicit_long_vr_has_reserved_bytes_and_32_bit_length(ts: str, expected: bytes) -> None:
    ds = Dataset()
    ds.add_new(0x00420011, "OB", b"\x01\x02")
    assert encode_data_set(ds, ts) == expected


def test_ui_padded_with_nul_and_text_with_space() -> None:
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.3"
    ds.PatientID = "ABC"
    encoded = encode_data_set(ds, EXPLICIT_VR_LITTLE_ENDIAN)
    assert b"UI\x06\x001.2.3\x00" in encoded
    assert b"LO\x04\x00ABC " in encoded


def test_deflated_is_raw_deflate_of_explicit_le() -> None:
    deflated = encode_data_set(sample(), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
    explicit = encode_data_set(sample(), EXPLICIT_VR_LITTLE_ENDIAN)
    assert zlib.decompress(deflated, -zlib.MAX_WBITS) == explicit
    with pytest.raises(zlib.error):  # no zlib (RFC 1950) header: raw deflate only
        zlib.decompress(deflated)
    assert len(deflated) < len(explicit)


def test_deflated_decodes_a_foreign_raw_deflate_stream() -> None:
    explicit = encode_data_set(sample(), EXPLICIT_VR_LITTLE_ENDIAN)
    foreign = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = foreign.compress(explicit) + foreign.flush()
    assert decode_data_set(data, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) == sample()


def test_deflated_with_trailing_nul_pad_decodes() -> None:
    """An odd deflate stream is padded with one NUL to even length (as pydicom and pynetdicom
    send it); the receiver must accept the pad."""
    data = deflate(encode_data_set(one("PatientID", "12"), EXPLICIT_VR_LITTLE_ENDIAN))
    assert decode_data_set(data + b"\0", DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN).PatientID == "12"


#: a data set whose deflated encoding has an odd length (found by search, checked below)
ODD_DEFLATE = one("PatientID", "X" * 36)


def test_deflated_encoding_has_even_length() -> None:
    raw = deflate(encode_data_set(ODD_DEFLATE, EXPLICIT_VR_LITTLE_ENDIAN))
    assert len(raw) % 2 == 1  # precondition: the bare stream is odd
    assert len(encode_data_set(ODD_DEFLATE, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)) % 2 == 0


# -- pydicom cross-checks ------------------------------------------------------------------------


@pytest.mark.parametrize("ts", ALL_TS)
def test_pydicom_reads_our_encoding_in_a_part10_wrapper(ts: str) -> None:
    read = dcmread(BytesIO(part10(encode_data_set(sample(), ts), ts)))
    assert read.file_meta.TransferSyntaxUID == ts
    assert Dataset(read) == sample()


@pytest.mark.parametrize("ts", PLAIN_TS)
def test_our_encoding_equals_pydicoms_dcmwrite(ts: str) -> None:
    assert encode_data_set(sample(), ts) == pydicom_encoding(sample(), ts)


@pytest.mark.parametrize("ts", ALL_TS)
def test_we_decode_what_pydicoms_dcmwrite_wrote(ts: str) -> None:
    assert decode_data_set(pydicom_encoding(sample(), ts), ts) == sample()


# -- unsupported transfer syntaxes ---------------------------------------------------------------


UNSUPPORTED = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5", "1.2.3.4", ""]


@pytest.mark.parametrize("ts", UNSUPPORTED)
def test_unsupported_transfer_syntax_raises_on_encode_and_decode(ts: str) -> None:
    assert not is_supported_transfer_syntax(ts)
    with pytest.raises(DataSetError, match="not supported"):
        encode_data_set(one("PatientID", "12"), ts)
    with pytest.raises(DataSetError, match="not supported"):
        decode_data_set(PATIENT_ID, ts)


def test_every_uncompressed_transfer_syntax_is_supported() -> None:
    assert all(is_supported_transfer_syntax(ts) for ts in UNCOMPRESSED_TRANSFER_SYNTAXES)
    assert set(UNCOMPRESSED_TRANSFER_SYNTAXES) == set(TS_VALUES)


def test_unencodable_value_raises_data_set_error() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00280010, "US", 70000, validation_mode=0))  # > 0xFFFF
    with pytest.raises(DataSetError, match="cannot encode"):
        encode_data_set(ds, EXPLICIT_VR_LITTLE_ENDIAN)


# -- malformed bytes -----------------------------------------------------------------------------


MALFORMED_EXPLICIT_LE = {
    "header-shorter-than-8": PATIENT_ID + b"\x10\x00\x10\x00PN",
    "long-vr-header-shorter-than-12": PATIENT_ID + b"\x42\x00\x11\x00OB\x00\x00\x10\x00",
    "value-longer-than-data": PATIENT_ID + struct.pack("<HH2sH", 0x10, 0x30, b"DA", 8) + b"2024",
    "long-value-longer-than-data": struct.pack("<HH2sHL", 0x42, 0x11, b"OB", 0, 100) + b"xx",
    "sequence-without-delimiter": undefined_sq(le_item(PATIENT_ID)),
    "sequence-truncated-in-item-header": undefined_sq(b"\xfe\xff\x00\xe0\x04"),
    "item-without-delimiter": undefined_sq(le_item(PATIENT_ID, length=UNDEFINED)),
    "item-with-bad-tag": undefined_sq(le_item(PATIENT_ID, tag=0xFFFEE001) + SEQUENCE_END),
    "element-where-item-expected": undefined_sq(PATIENT_ID + SEQUENCE_END),
    "item-longer-than-data": undefined_sq(le_item(PATIENT_ID, length=100) + SEQUENCE_END),
    "truncated-element-inside-item": undefined_sq(
        le_item(PATIENT_ID[:-1]) + SEQUENCE_END),
    "truncated-element-inside-undefined-item": undefined_sq(
        le_item(struct.pack("<HH2sH", 0x10, 0x20, b"LO", 40) + b"12" + ITEM_END,
                length=UNDEFINED) + SEQUENCE_END),
    "nested-sequence-without-delimiter": undefined_sq(
        le_item(undefined_sq(le_item(PATIENT_ID), 0x0040, 0xA730) + ITEM_END,
                length=UNDEFINED) + SEQUENCE_END),
    "odd-garbage": b"\x01",
    "seven-bytes": b"\x10\x00\x20\x00LO\x02",
}


@pytest.mark.parametrize("data", list(MALFORMED_EXPLICIT_LE.values()),
                         ids=list(MALFORMED_EXPLICIT_LE))
def test_malformed_explicit_le_raises_data_set_error(data: bytes) -> None:
    with pytest.raises(DataSetError):
        decode_data_set(data, EXPLICIT_VR_LITTLE_ENDIAN)


@pytest.mark.parametrize("data", list(MALFORMED_EXPLICIT_LE.values()),
                         ids=list(MALFORMED_EXPLICIT_LE))
def test_malformed_deflated_raises_data_set_error(data: bytes) -> None:
    with pytest.raises(DataSetError):
        decode_data_set(deflate(data), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)


def test_well_formed_hand_built_sequence_decodes() -> None:
    """Positive control for the hand-built malformed cases above."""
    data = undefined_sq(le_item(PATIENT_ID) + le_item(STUDY_DESCRIPTION + ITEM_END,
                                                      length=UNDEFINED) + SEQUENCE_END)
    items = decode_data_set(data, EXPLICIT_VR_LITTLE_ENDIAN)[0x00081111].value
    assert [item.PatientID if "PatientID" in item else item.StudyDescription
            for item in items] == ["12", "SD"]


@pytest.mark.parametrize("ts", PLAIN_TS)
def test_every_truncation_of_a_nested_data_set_raises(ts: str) -> None:
    """The only element is an undefined-length sequence: any cut loses a delimiter or more."""
    ds = Dataset()
    ds.ScheduledWorkitemCodeSequence = sample().ScheduledWorkitemCodeSequence
    encoded = encode_data_set(with_undefined_lengths(ds), ts)
    for cut in range(1, len(encoded)):
        with pytest.raises(DataSetError):
            decode_data_set(encoded[:cut], ts)


@pytest.mark.parametrize("ts", PLAIN_TS)
def test_every_truncation_of_a_defined_length_sequence_raises(ts: str) -> None:
    ds = Dataset()
    ds.ScheduledWorkitemCodeSequence = sample().ScheduledWorkitemCodeSequence
    encoded = encode_data_set(ds, ts)
    for cut in range(1, len(encoded)):
        with pytest.raises(DataSetError):
            decode_data_set(encoded[:cut], ts)


@pytest.mark.parametrize("ts", PLAIN_TS)
def test_truncation_inside_an_element_raises(ts: str) -> None:
    encoded = encode_data_set(one("PatientName", "Doe^John"), ts)
    for cut in range(1, len(encoded)):
        with pytest.raises(DataSetError):
            decode_data_set(encoded[:cut], ts)


def test_big_endian_item_tags_are_checked_in_big_endian() -> None:
    """A little-endian item tag inside a big-endian sequence is not an item tag."""
    ds = Dataset()
    ds.ScheduledWorkitemCodeSequence = Sequence([one("CodeValue", "1")])
    good = encode_data_set(with_undefined_lengths(ds), EXPLICIT_VR_BIG_ENDIAN)
    assert b"\xff\xfe\xe0\x00" in good
    bad = good.replace(b"\xff\xfe\xe0\x00", b"\xfe\xff\x00\xe0", 1)
    with pytest.raises(DataSetError):
        decode_data_set(bad, EXPLICIT_VR_BIG_ENDIAN)


def test_implicit_undefined_length_item_without_delimiter_raises() -> None:
    item = struct.pack("<HHL", 0x0010, 0x0020, 2) + b"12"
    data = (struct.pack("<HHL", 0x0008, 0x1111, UNDEFINED)
            + struct.pack("<HHL", 0xFFFE, 0xE000, UNDEFINED) + item + SEQUENCE_END)
    with pytest.raises(DataSetError):
        decode_data_set(data, IMPLICIT_VR_LITTLE_ENDIAN)


@HYPOTHESIS
@given(data=st.binary(max_size=200), ts=st.sampled_from(TS_VALUES))
@example(data=b"\xfe\xff\x00\xe0\xff\xff\xff\xff", ts=EXPLICIT_VR_LITTLE_ENDIAN)
@example(data=b"\x08\x00\x11\x11SQ\x00\x00\xff\xff\xff\xff", ts=EXPLICIT_VR_LITTLE_ENDIAN)
def test_arbitrary_bytes_decode_or_raise_data_set_error(data: bytes, ts: str) -> None:
    try:
        decode_data_set(data, ts)
    except DataSetError:
        pass


@HYPOTHESIS
@given(ds=_data_sets, ts=st.sampled_from(TS_VALUES[:3]), data=st.data())
def test_value_length_past_the_end_raises(ds: Dataset, ts: str, data: st.DataObject) -> None:
    """Appending an element whose length runs past the data is always detected."""
    encoded = encode_data_set(ds, ts)
    order = ">" if ts == EXPLICIT_VR_BIG_ENDIAN else "<"
    claimed = data.draw(st.integers(3, 0xFFFE), label="claimed")
    if ts == IMPLICIT_VR_LITTLE_ENDIAN:
        tail = struct.pack(f"{order}HHL", 0x0040, 0xA160, claimed) + b"AB"
    else:
        tail = struct.pack(f"{order}HH2sH", 0x0040, 0xA160, b"LT", claimed) + b"AB"
    with pytest.raises(DataSetError):
        decode_data_set(encoded + tail, ts)


# Found while writing these tests: the structure check skips the contents of defined-length
# sequences, and pydicom then silently accepts what is inside.

DEFINED_SQ_BAD_CONTENT = {
    "truncated-element-in-item": le_element(0x0008, 0x1111, b"SQ", le_item(
        struct.pack("<HH2sH", 0x10, 0x10, b"PN", 10) + b"AB")),
    "item-delimiter-as-item-tag": le_element(0x0008, 0x1111, b"SQ", le_item(
        PATIENT_ID, tag=0xFFFEE00D)),
    "element-instead-of-item": le_element(0x0008, 0x1111, b"SQ", PATIENT_ID),
    "item-longer-than-sequence": le_element(0x0008, 0x1111, b"SQ", le_item(
        PATIENT_ID, length=100)),
}


@pytest.mark.parametrize("data", list(DEFINED_SQ_BAD_CONTENT.values()),
                         ids=list(DEFINED_SQ_BAD_CONTENT))
def test_defined_length_sequence_with_bad_items_raises(data: bytes) -> None:
    with pytest.raises(DataSetError):
        decode_data_set(PATIENT_ID + data, EXPLICIT_VR_LITTLE_ENDIAN)


def test_item_delimiter_at_top_level_raises() -> None:
    data = PATIENT_ID + ITEM_END + STUDY_DESCRIPTION
    with pytest.raises(DataSetError):
        decoded = decode_data_set(data, EXPLICIT_VR_LITTLE_ENDIAN)
        assert "StudyDescription" not in decoded  # what happens today: silently lost


@pytest.mark.parametrize("marker", [0xFFFEE000, 0xFFFEE0DD], ids=["item", "sequence-delimiter"])
def test_item_tags_at_top_level_raise(marker: int) -> None:
    with pytest.raises(DataSetError):
        decode_data_set(PATIENT_ID + le_item(b"", marker) + STUDY_DESCRIPTION,
                        EXPLICIT_VR_LITTLE_ENDIAN)


# -- deflate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\xff" * 16, b"not deflate at all", b"\x78\x9c" + b"\x00" * 8],
                         ids=["ff-bytes", "text", "zlib-header-then-zeros"])
def test_garbage_deflate_raises_data_set_error(data: bytes) -> None:
    with pytest.raises(DataSetError):
        decode_data_set(data, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)


def test_deflate_bomb_beyond_the_limit_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_dataset, "MAX_INFLATED_SIZE", 4096)
    ds = Dataset()
    ds.add_new(0x00420011, "OB", b"\0" * 8192)  # inflates to ~8 KB from a few bytes
    bomb = encode_data_set(ds, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
    assert len(bomb) < 100
    with pytest.raises(DataSetError, match="4096"):
        decode_data_set(bomb, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)


def test_deflate_within_the_limit_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = encode_data_set(sample(), EXPLICIT_VR_LITTLE_ENDIAN)
    monkeypatch.setattr(_dataset, "MAX_INFLATED_SIZE", len(explicit))
    assert decode_data_set(deflate(explicit), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) == sample()


def _bomb_consumed_whole() -> tuple[bytes, int]:
    """A deflated data set of two elements whose second element is one back-reference at the
    very end of the stream, and the size of its first element (the limit to set)."""
    second = one("PatientID", "77")
    second_bytes = encode_data_set(second, EXPLICIT_VR_LITTLE_ENDIAN)
    ds = Dataset()
    ds.add_new(0x00091001, "OB", second_bytes * 3 + b"\0" * 24)
    ds.PatientID = "77"
    explicit = encode_data_set(ds, EXPLICIT_VR_LITTLE_ENDIAN)
    return deflate(explicit), len(explicit) - len(second_bytes)


def test_deflate_over_the_limit_never_truncates_silently(
        monkeypatch: pytest.MonkeyPatch) -> None:
    bomb, limit = _bomb_consumed_whole()
    monkeypatch.setattr(_dataset, "MAX_INFLATED_SIZE", limit)
    with pytest.raises(DataSetError):
        decoded = decode_data_set(bomb, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
        assert "PatientID" not in decoded  # what happens today: the last element is lost


def test_truncated_deflate_stream_raises() -> None:
    stream = encode_data_set(sample(), DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
    accepted = []
    for cut in range(1, len(stream)):
        try:
            decoded = decode_data_set(stream[:cut], DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
        except DataSetError:
            continue
        accepted.append((cut, len(decoded)))
    # today e.g. (1, 0): one byte of the stream is an empty data set; and cuts in the middle
    # decode as the first few elements only
    assert accepted == []
