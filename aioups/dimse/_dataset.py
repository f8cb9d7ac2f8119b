"""Data sets: the one module of aioups that imports pydicom.

Data sets travel through aioups as bytes in the transfer syntax of their presentation context;
they become a :class:`pydicom.Dataset` only when someone asks (:func:`decode_data_set`).  The
four uncompressed transfer syntaxes are supported: Implicit VR LE, Explicit VR LE, Explicit VR BE
and Deflated Explicit VR LE (raw deflate, RFC 1951, of the Explicit VR LE encoding).

Other aioups modules never import pydicom themselves: they use the names re-exported here.
"""

from __future__ import annotations

import copy
import os
import struct
import warnings
import zlib
from typing import BinaryIO, Final, Literal, cast

from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset, read_file_meta_info
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import generate_uid

from .._uids import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)
from ..errors import DataSetError

__all__ = [
    "BaseTag",
    "DataElement",
    "Dataset",
    "MultiValue",
    "Sequence",
    "Tag",
    "as_bytes",
    "decode_data_set",
    "dictionary_VR",
    "element_copy",
    "encode_data_set",
    "generate_uid",
    "has_element",
    "has_value",
    "is_supported_transfer_syntax",
    "keyword_for_tag",
    "keyword_tag",
    "peek_text",
    "put_element",
    "put_text",
    "read_part10",
    "tag_for_keyword",
]

#: transfer syntax -> (implicit VR, little endian, deflated)
_ENCODINGS: Final = {
    IMPLICIT_VR_LITTLE_ENDIAN: (True, True, False),
    EXPLICIT_VR_LITTLE_ENDIAN: (False, True, False),
    EXPLICIT_VR_BIG_ENDIAN: (False, False, False),
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: (False, True, True),
}

#: A decoded data set may not inflate beyond this (a deflate bomb guard).
MAX_INFLATED_SIZE: Final = 256 * 1024 * 1024


def is_supported_transfer_syntax(transfer_syntax: str) -> bool:
    """Whether aioups can encode and decode data sets in ``transfer_syntax``."""
    return transfer_syntax in _ENCODINGS


def _encoding(transfer_syntax: str) -> tuple[bool, bool, bool]:
    try:
        return _ENCODINGS[transfer_syntax]
    except KeyError:
        raise DataSetError(f"transfer syntax {transfer_syntax} is not supported "
                           "(only the uncompressed ones are)") from None


def encode_data_set(data_set: Dataset, transfer_syntax: str) -> bytes:
    """Encode ``data_set`` (no preamble, no file meta) in ``transfer_syntax``.

    Raises:
        DataSetError: the transfer syntax is not supported or an element cannot be encoded.
    """
    implicit, little, deflated = _encoding(transfer_syntax)
    raw = _fast_encode(data_set, implicit) if little else None
    if raw is None:
        raw = _pydicom_encode(data_set, implicit, little)
    if deflated:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        raw = compressor.compress(raw) + compressor.flush()
        if len(raw) % 2:
            raw += b"\0"  # PDV fragments are even (UL-33); the inflater ignores the pad byte
    return raw


def _pydicom_encode(data_set: Dataset, implicit: bool, little: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_implicit_VR = implicit
    fp.is_little_endian = little
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about the data set's own encoding
            write_dataset(fp, data_set)
    except Exception as exc:  # pydicom raises many types for unencodable values
        raise DataSetError(f"cannot encode the data set: {exc}") from exc
    return fp.getvalue()


# -- a fast path for the common case --------------------------------------------------------
#
# pydicom's writer costs about 1 µs per element plus much per-call overhead (0.5 ms for a
# 300-byte UPS data set).  The plain cases -- little endian, default character repertoire,
# text, numbers, bytes, sequences, elements still raw from decoding -- are written here; for
# anything else (a Specific Character Set, ambiguous VRs, values that need validation or
# conversion) ``_fast_encode`` returns None and pydicom writes the data set.

_TEXT_VRS: Final = frozenset(("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN",
                              "SH", "ST", "TM", "UC", "UI", "UR", "UT"))
_FAST_LONG_VRS: Final = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN",
                                   "UR", "UT", "UV"))
_NUMBER_FORMATS: Final = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d",
                          "UV": "Q", "SV": "q"}
_ITEM_TAG: Final = struct.pack("<HH", 0xFFFE, 0xE000)


class _Fallback(Exception):
    """This data set needs pydicom's writer."""


def _fast_encode(data_set: Dataset, implicit: bool) -> bytes | None:
    try:
        return b"".join(_fast_elements(data_set, implicit))
    except (_Fallback, UnicodeEncodeError, struct.error, TypeError, ValueError, KeyError):
        return None


def _fast_elements(data_set: Dataset, implicit: bool) -> list[bytes]:
    if 0x00080005 in data_set._dict:
        raise _Fallback  # a character set: text needs pydicom's encoders
    out: list[bytes] = []
    for tag in sorted(data_set._dict, key=int):  # (BaseTag's own __lt__ is Python code)
        element = data_set._dict[tag]
        if isinstance(element, DataElement):
            vr, value = element.VR, _fast_value(element, implicit)
        else:  # a RawDataElement, as decoded: its value bytes are reused when they fit
            vr = element.VR or dictionary_VR(tag)
            if (element.is_implicit_VR and element.VR is None and " or " in vr) or \
                    not element.is_little_endian or element.value is None or \
                    (vr == "SQ" and element.is_implicit_VR != implicit):
                # (a sequence's bytes are its items, as received: reusable in the same VR
                # encoding, where they were checked by _walk on decoding)
                data_element = data_set[tag]  # let pydicom convert it, then write that
                vr, value = data_element.VR, _fast_value(data_element, implicit)
            else:
                value = element.value
        out.append(_header(int(tag), vr, len(value), implicit))
        out.append(value)
    return out


def _header(tag: int, vr: str, length: int, implicit: bool) -> bytes:
    if implicit:
        return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, length)
    if vr in _FAST_LONG_VRS:
        return struct.pack("<HH2s2xI", tag >> 16, tag & 0xFFFF, vr.encode(), length)
    if length > 0xFFFF:
        raise _Fallback
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), length)


def _fast_value(element: DataElement, implicit: bool) -> bytes:
    vr, value = element.VR, element.value
    if value is None or (value == "" and vr != "SQ"):
        return b""
    if vr == "SQ":
        parts = []
        for item in value:
            body = b"".join(_fast_elements(item, implicit))
            parts.append(_ITEM_TAG + struct.pack("<I", len(body)) + body)
        return b"".join(parts)
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    if vr in _TEXT_VRS:
        text = "\\".join("" if v is None else str(v) for v in values).encode("ascii")
        if len(text) % 2:
            text += b"\0" if vr == "UI" else b" "
        return text
    fmt = _NUMBER_FORMATS.get(vr)
    if fmt is not None:
        return struct.pack(f"<{len(values)}{fmt}", *values)
    if vr in ("OB", "OW", "UN", "OD", "OF", "OL", "OV") and isinstance(value, bytes):
        return value + b"\0" if len(value) % 2 else value
    raise _Fallback  # AT, ambiguous VRs, anything unusual


def as_bytes(data_set: Dataset | bytes | None, transfer_syntax: str) -> bytes | None:
    """A data set given as a ``Dataset`` or as encoded bytes, as bytes in ``transfer_syntax``
    (bytes pass through unchanged)."""
    if data_set is None or isinstance(data_set, bytes):
        return data_set
    return encode_data_set(data_set, transfer_syntax)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(data, MAX_INFLATED_SIZE)
    except zlib.error as exc:
        raise DataSetError(f"cannot inflate the deflated data set: {exc}") from exc
    if not inflater.eof:
        if len(raw) >= MAX_INFLATED_SIZE:
            raise DataSetError(f"the deflated data set inflates beyond {MAX_INFLATED_SIZE} "
                               "bytes")
        raise DataSetError("the deflated data set is truncated")
    return raw


_Found = tuple[int, bytes, int, int]
_LONG_VRS: Final = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"))
_UNDEFINED: Final = 0xFFFFFFFF
_UPPER: Final = range(0x41, 0x5B)
_KNOWN_VRS: Final = frozenset((
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV"))
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


_TAG_LE, _TAG_BE = struct.Struct("<HH"), struct.Struct(">HH")
_U16 = {"little": struct.Struct("<H"), "big": struct.Struct(">H")}
_U32 = {"little": struct.Struct("<I"), "big": struct.Struct(">I")}


def _read_tag(data: bytes, pos: int, order: Literal["little", "big"]) -> int:
    group, element = (_TAG_LE if order == "little" else _TAG_BE).unpack_from(data, pos)
    return int(group << 16 | element)


def _is_sequence(tag: int, vr: bytes, implicit: bool) -> bool:
    if not implicit:
        return vr == b"SQ"
    try:
        return bool(dictionary_VR(tag) == "SQ")
    except KeyError:  # private or unknown: cannot tell, left to pydicom
        return False


def _length(data: bytes, pos: int, end: int, vr: bytes, implicit: bool,
            order: Literal["little", "big"]) -> tuple[int, int]:
    """The length of the element whose header starts at ``pos``, and where its value starts."""
    if implicit:
        return int(_U32[order].unpack_from(data, pos + 4)[0]), pos + 8
    if vr in _LONG_VRS:
        if end - pos < 12:
            raise DataSetError(f"truncated element header at byte {pos}")
        return int(_U32[order].unpack_from(data, pos + 8)[0]), pos + 12
    return int(_U16[order].unpack_from(data, pos + 6)[0]), pos + 8


def _walk(data: bytes, pos: int, end: int, implicit: bool, little: bool, *,
          until_item_end: bool = False, found: list[_Found] | None = None) -> int:
    """Check the element structure of a data set from ``pos``; returns where it ends.

    pydicom silently truncates a value whose length runs past the data, and takes item tags
    for elements; this check does not.  ``found`` collects (tag, VR bytes, length, where the
    value starts) of each element at this level.
    """
    order: Literal["little", "big"] = "little" if little else "big"
    while pos < end:
        if end - pos < 8:
            raise DataSetError(f"truncated element header at byte {pos}")
        tag = _read_tag(data, pos, order)
        if tag >> 16 == 0xFFFE:
            if tag == _ITEM_END and until_item_end:
                return pos + 8
            raise DataSetError(f"item tag ({tag >> 16:04X},{tag & 0xFFFF:04X}) outside a "
                               f"sequence at byte {pos}")
        vr = data[pos + 4:pos + 6]
        length, pos = _length(data, pos, end, vr, implicit, order)
        if found is not None:
            found.append((tag, vr, length, pos))
        if length == _UNDEFINED:
            pos = _walk_items(data, pos, end, implicit, little)
        elif pos + length > end:
            raise DataSetError(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) claims "
                               f"{length} bytes but only {end - pos} remain")
        else:
            if _is_sequence(tag, vr, implicit):
                _walk_items(data, pos, pos + length, implicit, little, defined=True)
            pos += length
    if until_item_end:
        raise DataSetError("item without its Item Delimitation Item")
    return pos


def _walk_items(data: bytes, pos: int, end: int, implicit: bool, little: bool, *,
                defined: bool = False) -> int:
    """Check the items of a sequence: up to its Sequence Delimitation Item, or (``defined``)
    filling exactly ``pos`` to ``end``."""
    order: Literal["little", "big"] = "little" if little else "big"
    while pos + 8 <= end:
        tag = _read_tag(data, pos, order)
        length = int(_U32[order].unpack_from(data, pos + 4)[0])
        pos += 8
        if tag == _SEQUENCE_END and not defined:
            return pos
        if tag != _ITEM:
            raise DataSetError(f"expected an item tag at byte {pos - 8}")
        if length == _UNDEFINED:
            pos = _walk(data, pos, end, implicit, little, until_item_end=True)
        elif pos + length > end:
            raise DataSetError(f"item at byte {pos - 8} runs past the end of its sequence")
        else:
            _walk(data, pos, pos + length, implicit, little)
            pos += length
    if defined and pos == end:
        return pos
    raise DataSetError("sequence without its Sequence Delimitation Item" if not defined
                       else f"sequence items do not fill the sequence at byte {pos}")


def decode_data_set(data: bytes, transfer_syntax: str) -> Dataset:
    """Decode data-set bytes received in ``transfer_syntax``.

    Values are parsed when first accessed (pydicom's raw elements), but the element structure is
    checked here: a truncated or malformed data set raises at once.

    Raises:
        DataSetError: the bytes are not a data set in this transfer syntax.
    """
    implicit, little, deflated = _encoding(transfer_syntax)
    if deflated:
        data = _inflate(data)
    found: list[_Found] = []
    _walk(data, 0, len(data), implicit, little, found=found)
    elements = _raw_elements(data, found, implicit) if little else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if elements is None:
                data_set = read_dataset(cast(BinaryIO, DicomBytesIO(data)), implicit, little)
            else:
                data_set = Dataset(elements)
                data_set.set_original_encoding(implicit, little, convert_encodings(
                    data_set[0x00080005].value) if 0x00080005 in elements
                    else default_encoding)  # as read_dataset records it
    except Exception as exc:  # pydicom raises many types for malformed input
        raise DataSetError(f"cannot decode the data set: {exc}") from exc
    data_set.set_original_encoding(implicit, little)
    return data_set


def _raw_elements(data: bytes, found: list[_Found],
                  implicit: bool) -> dict[BaseTag, DataElement | RawDataElement] | None:
    """The top-level elements as pydicom's reader makes them, from what ``_walk`` found; ``None``
    when pydicom must read them itself (an undefined length, whose sequence it parses at once;
    a VR it does not know; Implicit VR data that looks explicit, which it reads as explicit)."""
    if found and (found[0][1][0] in _UPPER and found[0][1][1] in _UPPER) is implicit:
        return None
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    new = tuple.__new__  # RawDataElement's own __new__ is a Python function: 2x slower
    for tag, vr_bytes, length, start in found:
        if length == _UNDEFINED or not (implicit or vr_bytes in _KNOWN_VRS):
            return None
        vr = None if implicit else vr_bytes.decode()
        value = data[start:start + length] if length else cast(
            "bytes | None", empty_value_for_VR(vr, raw=True))
        key = _shared_tag(tag)
        elements[key] = new(RawDataElement,
                            (key, vr, length, value, start, implicit, True, True, False))
    return elements


#: One ``BaseTag`` per tag value, shared by every data set decoded here (bounded).  A
#: ``BaseTag`` is an ``int`` with a ``__dict__``: each is an object for the garbage collector
#: to track, 33 for a typical UPS; shared, the workitems a server holds cost it far less.
_SHARED_TAGS: dict[int, BaseTag] = {}
_MAX_SHARED_TAGS: Final = 16384


def _shared_tag(tag: int) -> BaseTag:
    shared = _SHARED_TAGS.get(tag)
    if shared is None:
        shared = BaseTag(tag)
        if len(_SHARED_TAGS) < _MAX_SHARED_TAGS:
            _SHARED_TAGS[tag] = shared
    return shared


def _file_meta_end(raw: bytes) -> int:
    """Where the data set of a Part-10 file starts: after the group 0002 elements, which are
    always Explicit VR Little Endian (PS3.10 §7.1)."""
    pos = 132
    while pos + 8 <= len(raw) and raw[pos:pos + 2] == b"\x02\x00":
        if raw[pos + 4:pos + 6] in _LONG_VRS:
            pos += 12 + int.from_bytes(raw[pos + 8:pos + 12], "little")
        else:
            pos += 8 + int.from_bytes(raw[pos + 6:pos + 8], "little")
    return pos


def read_part10(path: str | os.PathLike[str]) -> Dataset:
    """Read a DICOM Part-10 file (PS3.10 §7: preamble, ``DICM``, File Meta Information).

    Returns the data set alone, without the File Meta Information.  It is decoded like a
    received one (:func:`decode_data_set`: the structure is checked, so a truncated file
    raises), and every value is parsed here, so a damaged value raises now rather than later.

    Raises:
        OSError: the file cannot be read.
        DataSetError: not a Part-10 file, a transfer syntax aioups does not decode, or a
            malformed data set.
    """
    with open(path, "rb") as file:
        raw = file.read()
    if raw[128:132] != b"DICM":
        raise DataSetError("not a DICOM Part-10 file (no 'DICM' after the 128-byte preamble)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about recoverable oddities
            transfer_syntax = str(read_file_meta_info(path).TransferSyntaxUID)
    except Exception as exc:  # pydicom raises many types for malformed input
        raise DataSetError(f"invalid File Meta Information: {exc}") from exc
    try:
        data_set = decode_data_set(raw[_file_meta_end(raw):], transfer_syntax)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in data_set.iterall():  # parses every value, nested ones included
                pass
    except Exception as exc:  # DataSetError, or any of pydicom's for a malformed value
        raise DataSetError(f"not a valid DICOM Part-10 file: {exc}") from exc
    return data_set


def copy_data_set(data_set: Dataset) -> Dataset:
    """An independent copy of ``data_set``, about ten times cheaper than ``copy.deepcopy``.

    Element values that cannot change in place (text, numbers, bytes, raw elements not yet
    decoded) are shared; sequences, items and multi-values are copied, so changing the copy
    never changes the original.
    """
    result: Dataset = object.__new__(Dataset)  # no __init__: its attributes are copied here
    result.__dict__.update({key: dict(value) if isinstance(value, dict) else value
                            for key, value in data_set.__dict__.items() if key != "_dict"})
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    result.__dict__["_dict"] = elements
    for tag in data_set._dict:
        elements[tag] = element_copy(data_set, tag)
    return result


# -- reading without converting ------------------------------------------------------------
#
# ``Dataset.__getitem__`` converts a raw element to a DataElement (about 10 µs each, plus the
# keyword lookup).  The UPS rules ask mostly "is it there, is it empty, what is this UID", which
# the raw bytes answer; these helpers do, and leave every element as it was decoded.

_KEYWORD_TAGS: dict[str, int] = {}
#: VRs whose raw value :func:`peek_text` reads itself: ASCII whatever the Specific Character
#: Set (PS3.5 §6.1.2.3), and converted by pydicom by removing trailing padding only.  (UI, AE,
#: DS, IS and UR are normalised further by pydicom, so they are left to it.)
_PEEK_VRS: Final = frozenset(("AS", "CS", "DA", "DT", "TM"))
#: VRs whose emptiness only conversion tells: UN (pydicom gives a known tag its dictionary
#: VR), PN (``==`` is three empty component groups), AT, and unknown or ambiguous VRs.
_CONVERTED_VRS: Final = frozenset((None, "UN", "PN", "AT"))


def keyword_tag(keyword: str) -> int:
    """The tag of a dictionary keyword, cached (``KeyError`` for an unknown keyword)."""
    tag = _KEYWORD_TAGS.get(keyword)
    if tag is None:
        found = tag_for_keyword(keyword)
        if found is None:
            raise KeyError(keyword)
        tag = _KEYWORD_TAGS[keyword] = _shared_tag(int(found))
    return tag


def has_element(data_set: Dataset, tag: int) -> bool:
    """Whether ``tag`` is present (empty or not)."""
    return tag in data_set._dict


def _elements(data_set: Dataset) -> dict[int, DataElement | RawDataElement]:
    """The data set's elements by tag (a ``BaseTag`` is an ``int``: plain ints find them)."""
    return cast("dict[int, DataElement | RawDataElement]", data_set._dict)


def _raw_vr(element: RawDataElement) -> str | None:
    if element.VR is not None:
        return str(element.VR)
    try:
        vr = str(dictionary_VR(element.tag))
    except KeyError:
        return None
    return None if " or " in vr else vr


def has_value(data_set: Dataset, tag: int) -> bool:
    """Whether ``tag`` is present with a value: what ``not data_set[tag].is_empty`` says, without
    converting a raw element (a sequence with at least one item counts)."""
    element = _elements(data_set).get(tag)
    if element is None:
        return False
    if isinstance(element, RawDataElement):
        if element.length == 0:
            return False
        vr = _raw_vr(element)
        if element.value is None or vr in _CONVERTED_VRS:
            return not data_set[tag].is_empty
        if vr in _TEXT_VRS:
            stripped = element.value.strip(b" \0")
            if stripped.strip():  # more than padding and whitespace: a value in any text VR
                return True
            if not stripped and vr not in ("AE", "UR"):  # padding only converts to ""
                return False
            return not data_set[tag].is_empty  # whitespace or NULs: VR rules differ
        return True  # a defined-length sequence with bytes has an item; numbers, bytes
    return not element.is_empty


def peek_text(data_set: Dataset, tag: int) -> str | None:
    """``str(data_set[tag].value)``, or ``None`` when absent or empty.

    Raw single values of some ASCII-only VRs (CS, DT, DA, TM, AS) are read from their bytes,
    trailing padding removed as pydicom does; anything else is converted by pydicom.
    """
    element = _elements(data_set).get(tag)
    if element is None:
        return None
    if isinstance(element, RawDataElement) and element.value is not None \
            and b"\\" not in element.value and _raw_vr(element) in _PEEK_VRS:
        try:
            return element.value.rstrip(b" \0").decode("ascii") or None
        except UnicodeDecodeError:
            pass
    converted = data_set[tag]
    return None if converted.is_empty else str(converted.value)


def element_copy(data_set: Dataset, tag: int) -> DataElement | RawDataElement:
    """An independent copy of one element (raw elements are immutable and shared)."""
    element = _elements(data_set)[tag]
    if not isinstance(element, DataElement):
        return element
    copied: DataElement = object.__new__(DataElement)
    copied.__dict__.update(element.__dict__)
    value = element._value
    if element.VR == "SQ" and value is not None:
        copied._value = Sequence([copy_data_set(item) for item in value])
    elif isinstance(value, MultiValue):
        copied._value = copy.deepcopy(value)  # its items are immutable
    elif isinstance(value, list):
        copied._value = list(value)
    return copied


def put_text(data_set: Dataset, tag: int, vr: str, value: str) -> None:
    """Set a single-valued text attribute.  An ASCII value is stored as the raw element it
    would be decoded from (no validation or conversion until someone reads it)."""
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        data_set[tag] = DataElement(tag, vr, value)
        return
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    key = _shared_tag(tag)
    _elements(data_set)[key] = tuple.__new__(
        RawDataElement, (key, vr, len(raw), raw, 0, False, True, True, False))


def put_element(data_set: Dataset, element: DataElement | RawDataElement) -> None:
    """Add ``element`` (from :func:`element_copy`) to ``data_set``, replacing any with its tag."""
    data_set._dict[BaseTag(element.tag)] = element
