"""Data sets in and out of the command line: upsscu/dcmups keys, XML, JSON and Part-10 files.

In: :func:`parse_keys` (``-s``/``-m``/``-q``/``-r``; it lives in :mod:`._keys`),
:func:`read_xml` (PS3.19 Native DICOM Model), :func:`read_json` (PS3.18 DICOM JSON),
:func:`read_part10`, and :func:`read_data_set`, which tells the three file formats apart.
Out: :func:`format_data_set` (for people), :func:`to_json_text` and :func:`to_json_dict` (for
programs).  For ``aioups create`` and ``find``: :func:`default_create_template` and
:func:`find_identifier`.

Values are not checked against their VR beyond what encoding needs (numbers): the command line
sends what it is given and the SCP judges it, as upsscu and findscu do.  Every problem with the
input is a :class:`DataSetInputError` whose message fits on one line.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NoReturn
from xml.parsers import expat

# aioups.dimse is the public doorway to the data-set types (STYLE B.9).
from aioups.dimse import DataElement, Dataset, Sequence, keyword_for_tag
from aioups.dimse import read_part10 as _dimse_read_part10
from aioups.errors import DataSetError

from ._keys import (
    BINARY_VRS,
    VRS,
    DataSetInputError,
    apply_keys,
    attribute_tag,
    dictionary_vr,
    element_value,
    name_of,
    new_element,
    parse_keys,
    value_from_text,
)

__all__ = [
    "DEFAULT_CREATE_TEMPLATE_XML", "DEFAULT_FIND_RETURN_KEYS", "DataSetInputError",
    "default_create_template", "find_identifier", "format_data_set", "parse_keys", "parse_tags",
    "read_data_set", "read_json", "read_part10", "read_xml", "to_json_dict", "to_json_text",
]


# --- PS3.19 Native DICOM Model (XML) -------------------------------------------------------


@dataclass(slots=True)
class _Node:
    """One XML element: local name, attributes, the line it starts on, content."""

    name: str
    attrs: dict[str, str]
    line: int
    children: list[_Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def _xml_tree(document: bytes | str) -> _Node:
    """Parse with expat, refusing any DTD: without a DOCTYPE no entity (internal or external)
    can be declared, and a reference to an undeclared one is a well-formedness error."""
    parser = expat.ParserCreate(namespace_separator=" ")  # names become "uri local"
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    roots: list[_Node] = []
    stack: list[_Node] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        node = _Node(name.rpartition(" ")[2], attrs, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    def refuse(*_: object) -> NoReturn:
        raise DataSetInputError(f"line {parser.CurrentLineNumber}: DOCTYPE and ENTITY "
                                "declarations are not allowed")

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(document, True)
    except expat.ExpatError as exc:
        raise DataSetInputError(f"line {exc.lineno}: malformed XML: "
                                f"{expat.ErrorString(exc.code)}") from None
    if roots[0].name != "NativeDicomModel":
        raise DataSetInputError(f"line {roots[0].line}: root element is <{roots[0].name}>, "
                                "expected <NativeDicomModel>")
    return roots[0]


def _xml_error(node: _Node, message: object) -> DataSetInputError:
    return DataSetInputError(f"line {node.line}: {message}")


def _xml_numbered(node: _Node, name: str) -> list[_Node]:
    """The ``name`` children in ``number`` order (document order when unnumbered)."""
    def number(child: _Node) -> int:
        text = child.attrs.get("number", "")
        if text and not text.isdigit():
            raise _xml_error(child, f"<{name}> has an invalid number={text!r}")
        return int(text) if text else 0

    return sorted((c for c in node.children if c.name == name), key=number)


def _xml_tag_and_vr(node: _Node) -> tuple[int, str]:
    """The ``tag`` (or else ``keyword``) and ``vr`` (or else the dictionary's) of an element."""
    tag_text, keyword = node.attrs.get("tag"), node.attrs.get("keyword")
    if tag_text is None:
        if keyword is None:
            raise DataSetInputError("<DicomAttribute> has neither tag nor keyword")
        tag = attribute_tag(keyword)
    elif re.fullmatch(r"[0-9A-Fa-f]{8}", tag_text) is None:
        raise DataSetInputError(f"invalid tag {tag_text!r}: expected 8 hex digits")
    else:
        tag, known = int(tag_text, 16), keyword_for_tag(int(tag_text, 16))
        if keyword and known and keyword != known:
            raise DataSetInputError(f"keyword {keyword} does not match tag {tag_text} "
                                    f"({known})")
    vr = node.attrs.get("vr") or dictionary_vr(tag)
    if vr not in VRS:
        raise DataSetInputError(f"unknown VR {vr!r}")
    return tag, vr


_PN_GROUPS: Final = ("Alphabetic", "Ideographic", "Phonetic")
_PN_COMPONENTS: Final = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")


def _xml_person_name(node: _Node) -> str:
    """``<PersonName>`` as ``Family^Given^Middle^Prefix^Suffix=ideographic=phonetic``."""
    groups = []
    for group_name in _PN_GROUPS:
        group = next((c for c in node.children if c.name == group_name), None)
        parts = [next(("".join(c.text) for c in group.children if c.name == part), "")
                 for part in _PN_COMPONENTS] if group else []
        groups.append("^".join(parts).rstrip("^"))
    return "=".join(groups).rstrip("=")


def _xml_value(node: _Node, tag: int, vr: str) -> object:
    kinds = {child.name for child in node.children}
    if "BulkData" in kinds:
        raise _xml_error(node, f"{name_of(tag)}: BulkData not supported")
    # What each VR may contain (XML-03); PN also takes plain Values, as some writers use them.
    allowed = {"SQ": {"Item"}, "PN": {"PersonName", "Value"}}.get(
        vr, {"InlineBinary"} if vr in BINARY_VRS else {"Value"})
    if len(kinds) > 1 or kinds - allowed:
        raise _xml_error(node, f"{name_of(tag)} ({vr}) cannot hold "
                               f"<{'>, <'.join(sorted(kinds))}>")
    if vr == "SQ":
        return Sequence([_xml_data_set(item) for item in _xml_numbered(node, "Item")])
    if "InlineBinary" in kinds:
        try:
            return base64.b64decode("".join(node.children[0].text), validate=True)
        except binascii.Error:
            raise _xml_error(node, f"{name_of(tag)}: invalid base64 in InlineBinary") from None
    if "PersonName" in kinds:
        return element_value(vr, [_xml_person_name(c) for c in _xml_numbered(node, "PersonName")])
    values = []
    for child in _xml_numbered(node, "Value"):
        try:
            values.append(value_from_text(vr, "".join(child.text), tag))
        except DataSetInputError as exc:
            raise _xml_error(child, exc) from None
    return element_value(vr, values)


def _xml_data_set(node: _Node) -> Dataset:
    data_set = Dataset()
    for child in node.children:
        if child.name != "DicomAttribute":
            raise _xml_error(child, f"unexpected element <{child.name}> in <{node.name}>")
        try:
            tag, vr = _xml_tag_and_vr(child)
        except DataSetInputError as exc:
            raise _xml_error(child, exc) from None
        value = _xml_value(child, tag, vr)
        creator = child.attrs.get("privateCreator")
        if creator and tag >> 16 & 1:  # gggg00ee: the block is the creator's (XML-02)
            tag = int(data_set.private_block(tag >> 16, creator, create=True).get_tag(tag & 0xFF))
        if tag in data_set:
            raise _xml_error(child, f"{name_of(tag)} appears twice")
        data_set.add(new_element(tag, vr, value))
    return data_set


def _document(source: bytes | str | Path) -> tuple[bytes | str, str]:
    """The document and a prefix naming the file it came from, if any."""
    if not isinstance(source, Path):
        return source, ""
    try:
        return source.read_bytes(), f"{source}: "
    except OSError as exc:
        raise DataSetInputError(f"{source}: cannot read: {exc.strerror}") from None


def read_xml(source: bytes | str | Path) -> Dataset:
    """Read a PS3.19 Native DICOM Model document (``<NativeDicomModel>``, namespace optional).

    ``source`` is the document (``bytes`` or ``str``) or a :class:`~pathlib.Path` to read.
    ``Value``, ``PersonName``, ``Item`` and ``InlineBinary`` are read, ``BulkData`` refused.
    No DTD is ever read: a ``DOCTYPE`` or ``ENTITY`` declaration is refused, so there is no
    entity expansion and no external entity.

    Raises:
        DataSetInputError: malformed XML or content, with the line number.
    """
    document, where = _document(source)
    try:
        return _xml_data_set(_xml_tree(document))
    except DataSetInputError as exc:
        raise DataSetInputError(f"{where}{exc}") from None


# --- PS3.18 DICOM JSON ---------------------------------------------------------------------


def _check_json(data_set: object, path: str = "") -> None:
    """The structure pydicom's reader assumes, checked so that messages name the attribute."""
    if not isinstance(data_set, dict):
        raise DataSetInputError(f"{path or 'the document'}: expected a JSON object (a data set)")
    for key, attribute in data_set.items():
        where = f"{path}{key}"
        if re.fullmatch(r"[0-9A-Fa-f]{8}", key) is None:
            raise DataSetInputError(f"{where}: expected a tag of 8 hex digits as key")
        if not isinstance(attribute, dict) or not isinstance(attribute.get("vr"), str):
            raise DataSetInputError(f"{where}: expected an object with a \"vr\"")
        if "BulkDataURI" in attribute:
            raise DataSetInputError(f"{where}: BulkDataURI not supported")
        items = attribute.get("Value", [])
        if attribute["vr"] == "SQ" and not isinstance(items, list):
            raise DataSetInputError(f"{where}: expected an array of items as \"Value\"")
        for number, item in enumerate(items if attribute["vr"] == "SQ" else [], start=1):
            _check_json(item, f"{where}[{number}].")


def read_json(source: bytes | str | Path) -> Dataset:
    """Read PS3.18 DICOM JSON: one data set object, or an array holding exactly one.

    ``source`` is the document (``bytes`` or ``str``) or a :class:`~pathlib.Path` to read.

    Raises:
        DataSetInputError: malformed JSON (with the line number), not exactly one data set,
            a BulkDataURI, or content pydicom cannot read.
    """
    document, where = _document(source)
    try:
        parsed = json.loads(document.removeprefix("\ufeff") if isinstance(document, str)
                            else document)
        if isinstance(parsed, list):
            if len(parsed) != 1:
                raise DataSetInputError(f"the array holds {len(parsed)} data sets, expected 1")
            parsed = parsed[0]
        _check_json(parsed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # values are not validated (module docstring)
            return Dataset.from_json(parsed)
    except json.JSONDecodeError as exc:
        raise DataSetInputError(f"{where}line {exc.lineno}: malformed JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise DataSetInputError(f"{where}not UTF-8 text: {exc.reason}") from None
    except DataSetInputError as exc:
        raise DataSetInputError(f"{where}{exc}") from None
    except Exception as exc:  # pydicom raises many types for values it cannot read
        raise DataSetInputError(f"{where}invalid DICOM JSON: {exc}") from exc


# --- files ---------------------------------------------------------------------------------


def read_part10(path: str | Path) -> Dataset:
    """Read a DICOM Part-10 file (dcmups ``-f``): its data set, without the File Meta.

    Raises:
        DataSetInputError: the file cannot be read or is not a valid Part-10 file.
    """
    try:
        return _dimse_read_part10(path)
    except OSError as exc:
        raise DataSetInputError(f"{path}: cannot read: {exc.strerror}") from None
    except DataSetError as exc:
        raise DataSetInputError(f"{path}: {exc}") from None


def read_data_set(path: str | Path) -> Dataset:
    """Read a data set file in any of the three formats.

    A Part-10 file has ``DICM`` at byte 128; otherwise the first character after any UTF-8
    byte-order mark and white space decides: ``<`` is XML, ``{`` or ``[`` is JSON.

    Raises:
        DataSetInputError: naming the file, and the line where it can.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise DataSetInputError(f"{path}: cannot read: {exc.strerror}") from None
    start = content.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if content[128:132] != b"DICM" and start in {b"<", b"{", b"["}:
        try:
            return read_xml(content) if start == b"<" else read_json(content)
        except DataSetInputError as exc:
            raise DataSetInputError(f"{path}: {exc}") from None
    return read_part10(path)


# --- the default N-CREATE data set ---------------------------------------------------------

#: What ``aioups create`` sends when given no file: every Type 1 and Type 2 attribute of the
#: N-CREATE (digest UPS-42), Type 2 ones empty (Worklist Label too: the SCP fills it in,
#: UPS-43), Transaction UID present and empty (UPS-30).  The start date-time is replaced by
#: the current time.  It is also an example of the format :func:`read_xml` reads.
DEFAULT_CREATE_TEMPLATE_XML: Final = """\
<?xml version="1.0" encoding="UTF-8"?>
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM" xml:space="preserve">
  <DicomAttribute tag="00081080" vr="LO" keyword="AdmittingDiagnosesDescription"/>
  <DicomAttribute tag="00081084" vr="SQ" keyword="AdmittingDiagnosesCodeSequence"/>
  <DicomAttribute tag="00081195" vr="UI" keyword="TransactionUID"/>
  <DicomAttribute tag="00100010" vr="PN" keyword="PatientName"/>
  <DicomAttribute tag="00100020" vr="LO" keyword="PatientID"/>
  <DicomAttribute tag="00100021" vr="LO" keyword="IssuerOfPatientID"/>
  <DicomAttribute tag="00100024" vr="SQ" keyword="IssuerOfPatientIDQualifiersSequence"/>
  <DicomAttribute tag="00100030" vr="DA" keyword="PatientBirthDate"/>
  <DicomAttribute tag="00100040" vr="CS" keyword="PatientSex"/>
  <DicomAttribute tag="00101002" vr="SQ" keyword="OtherPatientIDsSequence"/>
  <DicomAttribute tag="0020000D" vr="UI" keyword="StudyInstanceUID"/>
  <DicomAttribute tag="00380010" vr="LO" keyword="AdmissionID"/>
  <DicomAttribute tag="00380014" vr="SQ" keyword="IssuerOfAdmissionIDSequence"/>
  <DicomAttribute tag="00400400" vr="LT" keyword="CommentsOnTheScheduledProcedureStep"/>
  <DicomAttribute tag="00404005" vr="DT" keyword="ScheduledProcedureStepStartDateTime">
    <Value number="1">20000101000000</Value>
  </DicomAttribute>
  <DicomAttribute tag="00404018" vr="SQ" keyword="ScheduledWorkitemCodeSequence">
    <Item number="1">
      <DicomAttribute tag="00080100" vr="SH" keyword="CodeValue">
        <Value number="1">110001</Value>
      </DicomAttribute>
      <DicomAttribute tag="00080102" vr="SH" keyword="CodingSchemeDesignator">
        <Value number="1">DCM</Value>
      </DicomAttribute>
      <DicomAttribute tag="00080104" vr="LO" keyword="CodeMeaning">
        <Value number="1">Image Processing</Value>
      </DicomAttribute>
    </Item>
  </DicomAttribute>
  <DicomAttribute tag="00404021" vr="SQ" keyword="InputInformationSequence"/>
  <DicomAttribute tag="00404025" vr="SQ" keyword="ScheduledStationNameCodeSequence"/>
  <DicomAttribute tag="00404026" vr="SQ" keyword="ScheduledStationClassCodeSequence"/>
  <DicomAttribute tag="00404027" vr="SQ" keyword="ScheduledStationGeographicLocationCodeSequence"/>
  <DicomAttribute tag="00404041" vr="CS" keyword="InputReadinessState">
    <Value number="1">READY</Value>
  </DicomAttribute>
  <DicomAttribute tag="0040A370" vr="SQ" keyword="ReferencedRequestSequence"/>
  <DicomAttribute tag="00741000" vr="CS" keyword="ProcedureStepState">
    <Value number="1">SCHEDULED</Value>
  </DicomAttribute>
  <DicomAttribute tag="00741002" vr="SQ" keyword="ProcedureStepProgressInformationSequence"/>
  <DicomAttribute tag="00741200" vr="CS" keyword="ScheduledProcedureStepPriority">
    <Value number="1">MEDIUM</Value>
  </DicomAttribute>
  <DicomAttribute tag="00741202" vr="LO" keyword="WorklistLabel"/>
  <DicomAttribute tag="00741204" vr="LO" keyword="ProcedureStepLabel">
    <Value number="1">aioups workitem</Value>
  </DicomAttribute>
  <DicomAttribute tag="00741210" vr="SQ" keyword="ScheduledProcessingParametersSequence"/>
  <DicomAttribute tag="00741216" vr="SQ" keyword="UnifiedProcedureStepPerformedProcedureSequence"/>
</NativeDicomModel>
"""


def default_create_template(*, now: datetime | None = None) -> Dataset:
    """A new copy of the built-in N-CREATE data set (:data:`DEFAULT_CREATE_TEMPLATE_XML`),
    starting at ``now`` (the local time by default).  Change it with :func:`parse_keys`."""
    data_set = read_xml(DEFAULT_CREATE_TEMPLATE_XML)
    start = now if now is not None else datetime.now()
    data_set.ScheduledProcedureStepStartDateTime = start.strftime("%Y%m%d%H%M%S")
    return data_set


# --- C-FIND identifiers --------------------------------------------------------------------

#: Return keys of ``find`` when none are given: identity, state, schedule and patient (R or U
#: keys of the UPS C-FIND, digest UPS-71).
DEFAULT_FIND_RETURN_KEYS: Final = (
    "SOPInstanceUID", "ProcedureStepState", "InputReadinessState",
    "ScheduledProcedureStepPriority", "ProcedureStepLabel", "WorklistLabel",
    "ScheduledProcedureStepStartDateTime", "ExpectedCompletionDateTime",
    "ScheduledWorkitemCodeSequence", "ScheduledStationNameCodeSequence",
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
)
_STATES: Final = ("SCHEDULED", "IN PROGRESS", "CANCELED", "COMPLETED")
_PRIORITIES: Final = ("HIGH", "MEDIUM", "LOW")


def _enumerated(text: str, allowed: tuple[str, ...], what: str) -> str:
    value = text.strip().upper().replace("_", " ").replace("-", " ")
    if value not in allowed:
        raise DataSetInputError(f"invalid {what} {text!r}: expected one of {', '.join(allowed)}")
    return value


def find_identifier(keys: Dataset | None, return_keys: Iterable[str], state: str | None,
                    priority: str | None) -> Dataset:
    """The C-FIND Identifier of ``find``: dcmups ``-q``, ``-r`` and ``-state`` together.

    Args:
        keys: matching keys (from :func:`parse_keys`); not modified.
        return_keys: attributes to return (``KEY`` specs without ``=``), added empty unless
            already a matching key; :data:`DEFAULT_FIND_RETURN_KEYS` when there are none.
            SOP Instance UID is always returned, to tell the matches apart.
        state: ProcedureStepState to match (``SCHEDULED``, ``in-progress``, ...).
        priority: ScheduledProcedureStepPriority to match (HIGH, MEDIUM or LOW), the UPS's
            priority rather than the C-FIND request's.

    Raises:
        DataSetInputError: an invalid state, priority or return key.
    """
    identifier = copy.deepcopy(keys) if keys is not None else Dataset()
    if state is not None:
        identifier.add(new_element(0x00741000, "CS", _enumerated(state, _STATES, "state")))
    if priority is not None:
        identifier.add(new_element(0x00741200, "CS", _enumerated(priority, _PRIORITIES,
                                                              "priority")))
    specs = list(return_keys) or list(DEFAULT_FIND_RETURN_KEYS)
    if valued := [spec for spec in specs if "=" in spec]:
        raise DataSetInputError(f"return key {valued[0]!r} has a value: matching keys go "
                                "with -q")
    return apply_keys(identifier, [*specs, "SOPInstanceUID"], keep_existing=True)


def parse_tags(specs: Iterable[str]) -> tuple[int, ...]:
    """The Attribute Identifier List of ``get`` (upsscu ``-r``): keywords or tags, each once.

    N-GET names top-level attributes only and asks for a sequence as a whole (UPS-50), so
    values, nesting and item indexes are refused.  Tags outside the dictionary are allowed.

    Raises:
        DataSetInputError: naming the key.
    """
    tags: dict[int, None] = {}
    for spec in specs:
        try:
            if re.search(r"[=./\[]", spec):
                raise DataSetInputError("N-GET asks for top-level attributes only, without "
                                        "values")
            tags[attribute_tag(spec)] = None
        except DataSetInputError as exc:
            raise DataSetInputError(f"return key {spec!r}: {exc}") from None
    return tuple(tags)


# --- output --------------------------------------------------------------------------------


def _value_text(element: DataElement) -> str:
    value = element.value
    if element.VR in BINARY_VRS and isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return "\\".join("" if v is None else f"({v >> 16:04X},{v & 0xFFFF:04X})"
                     if element.VR == "AT" else str(v)
                     for v in (value if element.VM > 1 else [value]))


def _format_lines(data_set: Dataset, depth: int, width: int) -> Iterator[str]:
    indent = "  " * depth
    for element in data_set:
        keyword = element.keyword or ("(private)" if element.tag.is_private else "(unknown)")
        head = f"{indent}({element.tag.group:04X},{element.tag.element:04X}) {element.VR} {keyword}"
        if element.VR == "SQ":
            items = element.value or []
            yield f"{head}  {len(items)} item{'' if len(items) == 1 else 's'}"
            for number, item in enumerate(items, start=1):
                yield f"{indent}  item {number}"
                yield from _format_lines(item, depth + 2, width)
            continue
        text = " ".join(_value_text(element).splitlines())
        yield f"{head}  {text if len(text) <= width else text[:width - 1] + '…'}".rstrip()


def format_data_set(data_set: Dataset, *, width: int = 64) -> str:
    """A data set for people: ``(gggg,eeee) VR Keyword  value``, one element per line, items
    of sequences indented under them, values longer than ``width`` characters cut."""
    return "\n".join(_format_lines(data_set, 0, width))


def to_json_dict(data_set: Dataset) -> dict[str, Any]:
    """A data set as a PS3.18 DICOM JSON object (binary values inline, in base64).

    Raises:
        DataSetError: a value cannot be written as JSON.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result: dict[str, Any] = data_set.to_json_dict()
    except Exception as exc:  # pydicom raises many types for values it cannot convert
        raise DataSetError(f"cannot write the data set as JSON: {exc}") from exc
    return _in_tag_order(result)


def _in_tag_order(data_set: dict[str, Any]) -> dict[str, Any]:
    """Keys in ascending order, in items too (JSON-01); pydicom keeps insertion order."""
    for attribute in data_set.values():
        if attribute["vr"] == "SQ" and "Value" in attribute:
            attribute["Value"] = [_in_tag_order(item) for item in attribute["Value"]]
    return dict(sorted(data_set.items()))


def to_json_text(data_set: Dataset) -> str:
    """A data set as DICOM JSON on one line."""
    return json.dumps(to_json_dict(data_set), ensure_ascii=False, separators=(",", ":"))
