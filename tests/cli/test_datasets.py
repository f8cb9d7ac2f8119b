"""Data-set input and output of the command line (``aioups/cli/_datasets.py``, ``_keys.py``):
upsscu/dcmups keys, PS3.19 XML (including hostile documents), PS3.18 JSON, Part-10 files, the
default N-CREATE template, C-FIND identifiers, and the two output forms.

Expected data sets are built with pydicom directly, so a test does not check the reader
against itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pydicom.config
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID
from pydicom.valuerep import PersonName

from aioups.cli import _keys
from aioups.cli._datasets import (
    DEFAULT_CREATE_TEMPLATE_XML,
    DEFAULT_FIND_RETURN_KEYS,
    DataSetInputError,
    default_create_template,
    find_identifier,
    format_data_set,
    parse_keys,
    parse_tags,
    read_data_set,
    read_json,
    read_part10,
    read_xml,
    to_json_dict,
    to_json_text,
)
from aioups.dimse import generate_uid
from aioups.dimse import read_part10 as dimse_read_part10
from aioups.errors import DataSetError
from aioups.ups import check_identifier, create_workitem, matches, response_identifier

NOW = datetime(2024, 5, 6, 7, 8, 9)
CODE_SEQ = "ScheduledWorkitemCodeSequence"


def test_elements_are_built_without_pydicom_validation() -> None:
    assert pydicom.config.IGNORE == _keys._NO_VALIDATION


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["PatientName", "00100010", "0010,0010", "(0010,0010)",
                                 "(0010,0010)", "0010,0010"])
def test_key_by_keyword_or_tag(key: str) -> None:
    data_set = parse_keys([f"{key}=Doe^John"])
    assert list(data_set.keys()) == [0x00100010]
    assert data_set.PatientName == "Doe^John"
    assert data_set["PatientName"].VR == "PN"


def test_key_without_value_is_an_empty_element() -> None:
    data_set = parse_keys(["PatientName", "PatientID=", "Rows", "SelectorATValue"])
    assert data_set["PatientName"].is_empty and data_set["PatientID"].is_empty
    assert data_set["Rows"].value is None and data_set["SelectorATValue"].value is None


def test_nested_keys_upsscu_dot_and_dcmups_slash() -> None:
    dotted = parse_keys([f"{CODE_SEQ}.CodeValue=110001", "00404018.00080102=DCM"])
    slashed = parse_keys([f"{CODE_SEQ}/CodeValue=110001", "00404018/00080102=DCM"])
    expected = Dataset()
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator = "110001", "DCM"
    expected.ScheduledWorkitemCodeSequence = Sequence([item])
    assert dotted == expected
    assert slashed == expected


def test_item_index_is_zero_based_and_fills_gaps() -> None:
    data_set = parse_keys([f"{CODE_SEQ}[2].CodeValue=C", f"{CODE_SEQ}.CodeValue=A",
                           f"{CODE_SEQ}[0].CodeMeaning=first"])
    items = data_set.ScheduledWorkitemCodeSequence
    assert len(items) == 3
    assert items[0].CodeValue == "A" and items[0].CodeMeaning == "first"
    assert len(items[1]) == 0
    assert items[2].CodeValue == "C"


def test_deeply_nested_key() -> None:
    data_set = parse_keys(["ReferencedRequestSequence[1].IssuerOfAccessionNumberSequence"
                           ".LocalNamespaceEntityID=HOSP"])
    request = data_set.ReferencedRequestSequence
    assert len(request) == 2 and len(request[0]) == 0
    assert request[1].IssuerOfAccessionNumberSequence[0].LocalNamespaceEntityID == "HOSP"


@pytest.mark.parametrize("spec", [CODE_SEQ, f"{CODE_SEQ}=", "00404018"])
def test_bare_sequence_is_an_empty_sequence(spec: str) -> None:
    element = parse_keys([spec])[CODE_SEQ]
    assert element.VR == "SQ"
    assert list(element.value) == []


def test_bare_sequence_keeps_existing_items_and_index_adds_empty_ones() -> None:
    data_set = parse_keys([f"{CODE_SEQ}.CodeValue=X", CODE_SEQ])
    assert data_set.ScheduledWorkitemCodeSequence[0].CodeValue == "X"
    assert len(parse_keys([f"{CODE_SEQ}[1]"]).ScheduledWorkitemCodeSequence) == 2


def test_backslash_separates_values_except_in_text_vrs() -> None:
    data_set = parse_keys([r"OtherPatientIDs=A\B\C", r"CommentsOnTheScheduledProcedureStep=a\b",
                           r"ImageType=ORIGINAL\\PRIMARY"])
    assert isinstance(data_set.OtherPatientIDs, MultiValue)
    assert list(data_set.OtherPatientIDs) == ["A", "B", "C"]
    assert data_set.CommentsOnTheScheduledProcedureStep == r"a\b"  # LT: one value
    assert list(data_set.ImageType) == ["ORIGINAL", "", "PRIMARY"]


def test_numbers_are_converted_by_vr() -> None:
    data_set = parse_keys(["Rows=512", "NumberOfFrames=+12", "SliceThickness=2.50",
                           r"ImagePositionPatient=-1\0.5\1e3", "ReferencePixelX0=-7",
                           "SimpleFrameList=1\\4294967295", "RealWorldValueLastValueMapped=3",
                           "PatientWeight=70.5", r"SelectorATValue=00100010\(0010,0020)"])
    assert data_set.Rows == 512 and data_set["Rows"].VR == "US"
    assert data_set.NumberOfFrames == 12
    assert data_set.SliceThickness == pytest.approx(2.5)
    assert [float(v) for v in data_set.ImagePositionPatient] == [-1.0, 0.5, 1000.0]
    assert data_set.ReferencePixelX0 == -7
    assert list(data_set.SimpleFrameList) == [1, 0xFFFFFFFF]
    assert list(data_set.SelectorATValue) == [0x00100010, 0x00100020]


def test_float_vr() -> None:
    data_set = parse_keys(["RecommendedDisplayFrameRateInFloat=29.97"])
    assert data_set["RecommendedDisplayFrameRateInFloat"].VR == "FL"
    assert data_set.RecommendedDisplayFrameRateInFloat == pytest.approx(29.97)


def test_later_keys_win_and_into_changes_the_template_in_place() -> None:
    template = default_create_template(now=NOW)
    result = parse_keys(["ProcedureStepLabel=first", "ProcedureStepLabel=second",
                         "PatientName=Doe^Jane"], into=template)
    assert result is template
    assert template.ProcedureStepLabel == "second"
    assert template.PatientName == "Doe^Jane"
    assert template.InputReadinessState == "READY"


def test_values_are_not_validated_beyond_numbers() -> None:
    # Wildcards, ranges and over-long values go to the SCP as given (as findscu -k does).
    data_set = parse_keys(["ScheduledProcedureStepStartDateTime=20240101-20240131",
                           "PatientName=Doe*", "PatientID=" + "x" * 80,
                           "ScheduledProcedureStepPriority=high"])
    assert data_set.ScheduledProcedureStepStartDateTime == "20240101-20240131"
    assert data_set.PatientID == "x" * 80


@pytest.mark.parametrize(("spec", "message"), [
    ("Foo=1", "unknown attribute keyword 'Foo'"),
    ("PatientNam=x", "unknown attribute keyword 'PatientNam'"),
    ("0010001=x", "'0010001' is neither an attribute keyword nor a tag"),
    ("(0010,0010=x", "is neither an attribute keyword nor a tag"),
    ("0010-0010=x", "is neither an attribute keyword nor a tag"),
    ("=x", "empty attribute"),
    (f"{CODE_SEQ}..CodeValue=x", "invalid attribute ''"),
    (f"{CODE_SEQ}[x].CodeValue=1", "invalid item index [x] after ScheduledWorkitemCodeSequence"),
    (f"{CODE_SEQ}[-1].CodeValue=1", "invalid item index [-1]"),
    (f"{CODE_SEQ}[].CodeValue=1", "invalid item index []"),
    (f"{CODE_SEQ}[1.CodeValue=1", "invalid attribute"),
    ("PatientName[0]=x", "PatientName is not a sequence; it takes no item index"),
    ("PatientName.CodeValue=x", "PatientName is not a sequence, so nothing can be nested"),
    (f"{CODE_SEQ}=x", "ScheduledWorkitemCodeSequence is a sequence: give the attributes"),
    ("NumberOfFrames=abc", "invalid value 'abc' for NumberOfFrames (IS): expected an integer"),
    ("NumberOfFrames=1.5", "expected an integer"),
    ("NumberOfFrames=1_000", "expected an integer"),
    ("SliceThickness=thin", "invalid value 'thin' for SliceThickness (DS)"),
    ("SliceThickness=nan", "expected a decimal number"),
    ("Rows=70000", "expected an integer from 0 to 65535"),
    ("Rows=-1", "expected an integer from 0 to 65535"),
    ("ReferencePixelX0=3000000000", "SL"),
    ("RecommendedDisplayFrameRateInFloat=fast", "(FL): expected a number"),
    ("RecommendedDisplayFrameRateInFloat=1_0", "(FL): expected a number"),
    ("SelectorATValue=PatientName", "(AT): expected a tag in hex"),
    ("PixelData=00", "PixelData (OB) holds binary data"),
    ("00091001=x", "attribute (0009,1001) is not in the DICOM dictionary"),
])
def test_bad_keys(spec: str, message: str) -> None:
    with pytest.raises(DataSetInputError) as caught:
        parse_keys(["PatientID=ok", spec])
    assert str(caught.value).startswith(f"key {spec!r}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


_STRING_KEYWORDS = ["PatientID", "ProcedureStepLabel", "WorklistLabel", "AccessionNumber",
                    "CodeMeaning", "StudyDescription"]
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"),
                              exclude_characters="\\"), min_size=1, max_size=30)


@given(keyword=st.sampled_from(_STRING_KEYWORDS), values=st.lists(_TEXT, min_size=1,
                                                                   max_size=3))
def test_keys_round_trip(keyword: str, values: list[str]) -> None:
    # KEY=VALUE -> data set -> DICOM JSON -> data set, with the keyword and with the tag.
    spec_value = "\\".join(values)
    by_keyword = parse_keys([f"{keyword}={spec_value}"])
    tag = by_keyword[keyword].tag
    by_tag = parse_keys([f"{tag.group:04X}{tag.element:04X}={spec_value}"])
    assert by_keyword == by_tag
    got = by_keyword[keyword].value
    assert (list(got) if len(values) > 1 else [got]) == values
    assert read_json(to_json_text(by_keyword)) == by_keyword


@given(value=st.integers(0, 0xFFFF), nested_index=st.integers(0, 4))
def test_numeric_and_nested_keys_round_trip(value: int, nested_index: int) -> None:
    data_set = parse_keys([f"Rows={value}",
                           f"ReferencedRequestSequence[{nested_index}].AccessionNumber=A{value}"])
    assert data_set.Rows == value
    assert data_set.ReferencedRequestSequence[nested_index].AccessionNumber == f"A{value}"
    assert read_json(to_json_text(data_set)) == data_set


# --- PS3.19 XML ----------------------------------------------------------------------------

RICH_XML = """<?xml version="1.0" encoding="UTF-8"?>
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM" xml:space="preserve">
  <DicomAttribute tag="00100010" vr="PN" keyword="PatientName">
    <PersonName number="1">
      <Alphabetic><FamilyName>Yamada</FamilyName><GivenName>Tarou</GivenName></Alphabetic>
      <Ideographic><FamilyName>山田</FamilyName><GivenName>太郎</GivenName></Ideographic>
      <Phonetic><FamilyName>やまだ</FamilyName><GivenName>たろう</GivenName></Phonetic>
    </PersonName>
    <PersonName number="2">
      <Alphabetic><FamilyName>Doe</FamilyName><NamePrefix>Dr</NamePrefix></Alphabetic>
    </PersonName>
  </DicomAttribute>
  <DicomAttribute tag="00101000" vr="LO" keyword="OtherPatientIDs">
    <Value number="2">B</Value>
    <Value number="1">A</Value>
    <Value number="3"/>
  </DicomAttribute>
  <DicomAttribute tag="00280010" vr="US" keyword="Rows">
    <Value number="1">512</Value></DicomAttribute>
  <DicomAttribute tag="00180050" vr="DS" keyword="SliceThickness">
    <Value number="1">2.5</Value></DicomAttribute>
  <DicomAttribute tag="00720060" vr="AT" keyword="SelectorATValue">
    <Value number="1">00100020</Value></DicomAttribute>
  <DicomAttribute tag="00420011" vr="OB" keyword="EncapsulatedDocument">
    <InlineBinary>AAEC/w==</InlineBinary></DicomAttribute>
  <DicomAttribute tag="00081195" vr="UI" keyword="TransactionUID"/>
  <DicomAttribute tag="0040A370" vr="SQ" keyword="ReferencedRequestSequence">
    <Item number="2">
      <DicomAttribute tag="00080050" vr="SH" keyword="AccessionNumber">
        <Value number="1">ACC2</Value></DicomAttribute>
    </Item>
    <Item number="1">
      <DicomAttribute tag="00080050" vr="SH" keyword="AccessionNumber">
        <Value number="1">ACC1</Value></DicomAttribute>
      <DicomAttribute tag="00080051" vr="SQ" keyword="IssuerOfAccessionNumberSequence">
        <Item number="1">
          <DicomAttribute tag="00400031" vr="UT" keyword="LocalNamespaceEntityID">
            <Value number="1">a\\b &amp; c</Value></DicomAttribute>
        </Item>
      </DicomAttribute>
    </Item>
    <Item number="3"/>
  </DicomAttribute>
</NativeDicomModel>
"""


def _rich_expected() -> Dataset:
    expected = Dataset()
    expected.PatientName = ["Yamada^Tarou=山田^太郎=やまだ^たろう", "Doe^^^Dr"]
    expected.OtherPatientIDs = ["A", "B", ""]
    expected.Rows = 512
    expected.SliceThickness = "2.5"
    expected.add(DataElement(0x00720060, "AT", 0x00100020))
    expected.EncapsulatedDocument = b"\x00\x01\x02\xff"
    expected.TransactionUID = ""
    issuer = Dataset()
    issuer.LocalNamespaceEntityID = "a\\b & c"
    first, second = Dataset(), Dataset()
    first.AccessionNumber = "ACC1"
    first.IssuerOfAccessionNumberSequence = Sequence([issuer])
    second.AccessionNumber = "ACC2"
    expected.ReferencedRequestSequence = Sequence([first, second, Dataset()])
    return expected


@pytest.mark.parametrize("form", ["str", "bytes", "path"])
def test_xml_reads_every_kind_of_content(form: str, tmp_path: Path) -> None:
    path = tmp_path / "rich.xml"
    path.write_text(RICH_XML, encoding="utf-8")
    sources: dict[str, bytes | str | Path] = {"str": RICH_XML, "bytes": RICH_XML.encode(),
                                              "path": path}
    source = sources[form]
    data_set = read_xml(source)
    assert data_set == _rich_expected()
    assert data_set.PatientName[0].ideographic == "山田^太郎"
    assert data_set["EncapsulatedDocument"].VR == "OB"


def test_xml_round_trips_through_json() -> None:
    data_set = read_xml(RICH_XML)
    again = read_json(to_json_text(data_set))
    assert again == data_set
    assert str(again.PatientName[0]) == "Yamada^Tarou=山田^太郎=やまだ^たろう"


def test_xml_namespace_prefix_keyword_only_and_dictionary_vr() -> None:
    document = """<d:NativeDicomModel xmlns:d="http://dicom.nema.org/PS3.19/models/NativeDICOM">
      <d:DicomAttribute keyword="PatientID"><d:Value number="1">P1</d:Value></d:DicomAttribute>
      <d:DicomAttribute tag="00280011"><d:Value number="1">64</d:Value></d:DicomAttribute>
      <d:DicomAttribute tag="00404018"/>
    </d:NativeDicomModel>"""
    data_set = read_xml(document)
    assert data_set.PatientID == "P1"
    assert data_set.Columns == 64 and data_set["Columns"].VR == "US"
    assert data_set["ScheduledWorkitemCodeSequence"].VR == "SQ"
    assert list(data_set.ScheduledWorkitemCodeSequence) == []


def test_xml_private_element_goes_into_its_creators_block() -> None:
    data_set = read_xml("""<NativeDicomModel>
      <DicomAttribute tag="00090010" vr="LO"><Value number="1">OTHER</Value></DicomAttribute>
      <DicomAttribute tag="00090012" vr="LO" privateCreator="ACME 1.0">
        <Value number="1">secret</Value></DicomAttribute>
    </NativeDicomModel>""")
    assert data_set[0x00090011].value == "ACME 1.0"  # the next free block after OTHER
    assert data_set[0x00091112].value == "secret"
    assert data_set.private_block(0x0009, "ACME 1.0")[0x12].value == "secret"


@pytest.mark.parametrize(("document", "message"), [
    ("<NativeDicomModel>\n<DicomAttribute tag='00100010'>\n</NativeDicomModel>",
     "line 3: malformed XML: mismatched tag"),
    ("<NativeDicomModel>\n\n", "line 3: malformed XML: no element found"),
    ("", "line 1: malformed XML: no element found"),
    ("<a/><b/>", "line 1: malformed XML: junk after document element"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100010' tag='x'/></NativeDicomModel>",
     "line 2: malformed XML: duplicate attribute"),
    ("<Foo/>", "line 1: root element is <Foo>, expected <NativeDicomModel>"),
    ("<NativeDicomModel>\n<Value/></NativeDicomModel>",
     "line 2: unexpected element <Value> in <NativeDicomModel>"),
    ("<NativeDicomModel>\n<DicomAttribute vr='LO'/></NativeDicomModel>",
     "line 2: <DicomAttribute> has neither tag nor keyword"),
    ("<NativeDicomModel>\n<DicomAttribute tag='0010001G'/></NativeDicomModel>",
     "line 2: invalid tag '0010001G': expected 8 hex digits"),
    ("<NativeDicomModel>\n<DicomAttribute keyword='Nope'/></NativeDicomModel>",
     "line 2: unknown attribute keyword 'Nope'"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100010' keyword='PatientID'/>"
     "</NativeDicomModel>", "line 2: keyword PatientID does not match tag 00100010"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00091001'/></NativeDicomModel>",
     "line 2: attribute (0009,1001) is not in the DICOM dictionary"),
    ("<NativeDicomModel><DicomAttribute tag='00280010' vr='US'>\n<Value number='1'>-1</Value>"
     "</DicomAttribute></NativeDicomModel>",
     "line 2: invalid value '-1' for Rows (US): expected an integer from 0 to 65535"),
    ("<NativeDicomModel><DicomAttribute tag='00280010' vr='US'>\n<Value number='one'>1</Value>"
     "</DicomAttribute></NativeDicomModel>", "line 2: <Value> has an invalid number='one'"),
    ("<NativeDicomModel>\n<DicomAttribute tag='7FE00010' vr='OB'><BulkData uri='file:///x'/>"
     "</DicomAttribute></NativeDicomModel>", "line 2: PixelData: BulkData not supported"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100020' vr='LO'><InlineBinary>AA==</InlineBinary>"
     "</DicomAttribute></NativeDicomModel>", "line 2: PatientID (LO) cannot hold <InlineBinary>"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00420011' vr='OB'><InlineBinary>@@</InlineBinary>"
     "</DicomAttribute></NativeDicomModel>", "line 2: EncapsulatedDocument: invalid base64"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100020' vr='LO'><Value number='1'>a</Value>"
     "<Item number='1'/></DicomAttribute></NativeDicomModel>",
     "line 2: PatientID (LO) cannot hold <Item>, <Value>"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100020' vr='LO'><Foo/></DicomAttribute>"
     "</NativeDicomModel>", "line 2: PatientID (LO) cannot hold <Foo>"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100020' vr='LO'><Item number='1'/>"
     "</DicomAttribute></NativeDicomModel>", "line 2: PatientID (LO) cannot hold <Item>"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00404018' vr='SQ'><Value number='1'>x</Value>"
     "</DicomAttribute></NativeDicomModel>",
     "line 2: ScheduledWorkitemCodeSequence (SQ) cannot hold <Value>"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00420011' vr='OB'><Value number='1'>x</Value>"
     "</DicomAttribute></NativeDicomModel>", "line 2: EncapsulatedDocument (OB) cannot hold"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100020' vr='XX'/></NativeDicomModel>",
     "line 2: unknown VR 'XX'"),
    ("<NativeDicomModel>\n<DicomAttribute tag='00100020'/>\n<DicomAttribute tag='00100020'/>"
     "</NativeDicomModel>", "line 3: PatientID appears twice"),
    ("<NativeDicomModel><DicomAttribute tag='00404018' vr='SQ'><Item number='1'>\n"
     "<DicomAttribute keyword='Bad'/></Item></DicomAttribute></NativeDicomModel>",
     "line 2: unknown attribute keyword 'Bad'"),
])
def test_bad_xml(document: str, message: str) -> None:
    with pytest.raises(DataSetInputError) as caught:
        read_xml(document)
    assert str(caught.value).startswith(message)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<NativeDicomModel><DicomAttribute tag="00100020" vr="LO"><Value number="1">&lol9;</Value>
</DicomAttribute></NativeDicomModel>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE NativeDicomModel [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<NativeDicomModel><DicomAttribute tag="00100020" vr="LO"><Value number="1">&xxe;</Value>
</DicomAttribute></NativeDicomModel>
"""
PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE NativeDicomModel [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>
<NativeDicomModel/>
"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE NativeDicomModel SYSTEM "file:///etc/passwd">
<NativeDicomModel/>
"""
PLAIN_DOCTYPE = "<!DOCTYPE NativeDicomModel>\n<NativeDicomModel/>"


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY,
                                      EXTERNAL_DTD, PLAIN_DOCTYPE],
                         ids=["billion-laughs", "external-entity", "parameter-entity",
                              "external-dtd", "doctype"])
def test_xml_refuses_any_dtd(document: str) -> None:
    with pytest.raises(DataSetInputError) as caught:
        read_xml(document.encode())
    message = str(caught.value)
    assert "DOCTYPE and ENTITY declarations are not allowed" in message
    assert message.startswith(("line 1:", "line 2:"))
    assert "root:" not in message


def test_xml_undeclared_entity_is_malformed_not_resolved() -> None:
    document = ('<NativeDicomModel><DicomAttribute tag="00100020" vr="LO">'
                '<Value number="1">&xxe;</Value></DicomAttribute></NativeDicomModel>')
    with pytest.raises(DataSetInputError, match="line 1: malformed XML: undefined entity"):
        read_xml(document)


def test_xml_character_references_are_fine() -> None:
    document = ('<NativeDicomModel><DicomAttribute tag="00100020" vr="LO">'
                '<Value number="1">&#65;&lt;&#x42;</Value></DicomAttribute></NativeDicomModel>')
    assert read_xml(document).PatientID == "A<B"


def test_xml_from_a_missing_path() -> None:
    with pytest.raises(DataSetInputError, match=r"nowhere\.xml: cannot read"):
        read_xml(Path("/nonexistent/nowhere.xml"))


# --- PS3.18 JSON ---------------------------------------------------------------------------

JSON_DOC = {
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John", "Ideographic": "ド^ジョン"}]},
    "00280010": {"vr": "US", "Value": [256]},
    "00081195": {"vr": "UI"},
    "00404018": {"vr": "SQ", "Value": [{"00080100": {"vr": "SH", "Value": ["110001"]}}, {}]},
}


def _json_expected() -> Dataset:
    expected = Dataset()
    expected.PatientName = "Doe^John=ド^ジョン"
    expected.Rows = 256
    expected.TransactionUID = ""
    item = Dataset()
    item.CodeValue = "110001"
    expected.ScheduledWorkitemCodeSequence = Sequence([item, Dataset()])
    return expected


@pytest.mark.parametrize("form", ["object", "array", "bytes", "bom-bytes", "bom-str", "path"])
def test_json_reads(form: str, tmp_path: Path) -> None:
    text = json.dumps(JSON_DOC, indent=2, ensure_ascii=False)
    path = tmp_path / "ds.json"
    path.write_text(text, encoding="utf-8")
    sources: dict[str, bytes | str | Path] = {
        "object": text, "array": json.dumps([JSON_DOC]), "bytes": text.encode(),
        "bom-bytes": b"\xef\xbb\xbf" + text.encode(), "bom-str": "\ufeff" + text,
        "path": path}
    assert read_json(sources[form]) == _json_expected()


@pytest.mark.parametrize(("document", "message"), [
    ('{\n  "00100010": ', "line 2: malformed JSON: Expecting value"),
    ("[]", "the array holds 0 data sets, expected 1"),
    ("[{}, {}]", "the array holds 2 data sets, expected 1"),
    ('"PatientName"', "the document: expected a JSON object"),
    ('{"PatientName": {"vr": "PN"}}', "PatientName: expected a tag of 8 hex digits"),
    ('{"00100010": {"Value": ["a"]}}', '00100010: expected an object with a "vr"'),
    ('{"00100010": "Doe"}', '00100010: expected an object with a "vr"'),
    ('{"7FE00010": {"vr": "OB", "BulkDataURI": "https://example.com/pixels"}}',
     "7FE00010: BulkDataURI not supported"),
    ('{"00404018": {"vr": "SQ", "Value": [{"00420011": {"vr": "OB", "BulkDataURI": "u"}}]}}',
     "00404018[1].00420011: BulkDataURI not supported"),
    ('{"00404018": {"vr": "SQ", "Value": {}}}', "00404018: expected an array of items"),
    ('{"00404018": {"vr": "SQ", "Value": [1]}}', "00404018[1].: expected a JSON object"),
    ('{"00280010": {"vr": "US", "Value": ["many"]}}', "invalid DICOM JSON"),
])
def test_bad_json(document: str, message: str) -> None:
    with pytest.raises(DataSetInputError) as caught:
        read_json(document)
    assert str(caught.value).startswith(message)


def test_json_not_utf8() -> None:
    with pytest.raises(DataSetInputError, match="not UTF-8 text: invalid start byte"):
        read_json(b'{"00100010": {"vr": "PN", "Value": ["\xff"]}}')


# --- Part-10 files and format detection ----------------------------------------------------


def _write_part10(path: Path, data_set: Dataset, preamble: bytes = b"\0" * 128,
                  transfer_syntax: str = "1.2.840.10008.1.2.1") -> None:
    data_set.file_meta = FileMetaDataset()
    data_set.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.34.6.1")
    data_set.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    data_set.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    data_set.preamble = preamble
    data_set.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize("transfer_syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.2",
                                             "1.2.840.10008.1.2.1.99"])
def test_part10_in_other_transfer_syntaxes(tmp_path: Path, transfer_syntax: str) -> None:
    path = tmp_path / "ups.dcm"
    written = default_create_template(now=NOW)
    _write_part10(path, written, transfer_syntax=transfer_syntax)
    del written.file_meta
    assert read_part10(path) == written


def test_part10_unsupported_transfer_syntax(tmp_path: Path) -> None:
    path = tmp_path / "jpeg.dcm"
    _write_part10(path, parse_keys(["PatientID=P"]), transfer_syntax="1.2.840.10008.1.2.4.50")
    with pytest.raises(DataSetInputError, match=r"jpeg\.dcm: not a valid DICOM Part-10 file: "
                                                 "transfer syntax 1.2.840.10008.1.2.4.50 is not"):
        read_part10(path)


def test_part10_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ups.dcm"
    written = default_create_template(now=NOW)
    _write_part10(path, written)
    del written.file_meta
    for reader in (read_part10, dimse_read_part10, read_data_set):
        got = reader(path)
        assert type(got) is Dataset
        assert not hasattr(got, "file_meta")
        assert got == written


def test_part10_invalid(tmp_path: Path) -> None:
    path = tmp_path / "junk.dcm"
    path.write_bytes(b"\0" * 128 + b"NOPE")
    with pytest.raises(DataSetError, match="not a DICOM Part-10 file"):
        dimse_read_part10(path)
    with pytest.raises(DataSetInputError, match=r"junk\.dcm: not a DICOM Part-10 file"):
        read_part10(path)
    with pytest.raises(FileNotFoundError):
        dimse_read_part10(tmp_path / "missing.dcm")
    with pytest.raises(DataSetInputError, match=r"missing\.dcm: cannot read"):
        read_part10(tmp_path / "missing.dcm")


def test_part10_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.dcm"
    _write_part10(path, default_create_template(now=NOW))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataSetInputError, match=r"cut\.dcm: not a valid DICOM Part-10 file: "
                                                 "truncated element header"):
        read_data_set(path)
    with pytest.raises(DataSetError, match="truncated"):
        dimse_read_part10(path)


@pytest.mark.parametrize(("name", "content", "xml"), [
    ("a.xml", RICH_XML.encode(), True),
    ("a.txt", b"\xef\xbb\xbf" + RICH_XML.encode(), True),
    ("b.xml", b"\n  \t" + RICH_XML.split("\n", 1)[1].encode(), True),  # no XML declaration
    ("a.json", json.dumps(JSON_DOC).encode(), False),
    ("b.json", b"\xef\xbb\xbf \r\n" + json.dumps([JSON_DOC]).encode(), False),
])
def test_read_data_set_detects_the_format(tmp_path: Path, name: str, content: bytes,
                                          xml: bool) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    expected = _rich_expected() if xml else _json_expected()
    assert read_data_set(path) == expected
    assert read_data_set(str(path)) == expected


def test_read_data_set_part10_whose_preamble_looks_like_xml(tmp_path: Path) -> None:
    path = tmp_path / "tricky.dcm"
    written = parse_keys(["PatientID=P"])
    _write_part10(path, written, preamble=b"<" * 64 + b"{" * 64)
    assert read_data_set(path).PatientID == "P"


@pytest.mark.parametrize(("content", "message"), [
    (b"<NativeDicomModel>\n<DicomAttribute tag='00100010'>\n</NativeDicomModel>",
     "bad.x: line 3: malformed XML: mismatched tag"),
    (b'{\n"00100010": {"vr": "PN", "BulkDataURI": "u"}}', "bad.x: 00100010: BulkDataURI"),
    (b"hello", "bad.x: not a DICOM Part-10 file"),
    (b"", "bad.x: not a DICOM Part-10 file"),
])
def test_read_data_set_errors_name_the_file(tmp_path: Path, content: bytes,
                                            message: str) -> None:
    path = tmp_path / "bad.x"
    path.write_bytes(content)
    with pytest.raises(DataSetInputError) as caught:
        read_data_set(path)
    assert str(caught.value).startswith(f"{path.parent}/{message}")


def test_read_data_set_missing_file_or_directory(tmp_path: Path) -> None:
    with pytest.raises(DataSetInputError, match=r"nope\.xml: cannot read: No such file"):
        read_data_set(tmp_path / "nope.xml")
    with pytest.raises(DataSetInputError, match="cannot read"):
        read_data_set(tmp_path)


# --- default N-CREATE template -------------------------------------------------------------


def test_default_template_is_a_valid_n_create() -> None:
    template = default_create_template(now=NOW)
    outcome = create_workitem(generate_uid(), template, now=NOW)
    assert outcome.status == 0x0000, outcome.error_comment
    assert outcome.workitem is not None
    stored = outcome.workitem.data_set
    assert stored.ProcedureStepState == "SCHEDULED"
    assert stored.WorklistLabel == "AIOUPS"  # left empty for the SCP to fill (UPS-43)
    assert stored.ScheduledProcedureStepStartDateTime == "20240506070809"


def test_default_template_contents() -> None:
    template = default_create_template(now=NOW)
    assert "TransactionUID" in template and template["TransactionUID"].is_empty  # UPS-30
    assert template.ProcedureStepState == "SCHEDULED"
    assert template.ScheduledProcedureStepPriority == "MEDIUM"
    assert template.InputReadinessState == "READY"
    assert template.ProcedureStepLabel
    assert "SOPClassUID" not in template and "SOPInstanceUID" not in template  # UPS-40
    assert list(template.ProcedureStepProgressInformationSequence) == []
    assert list(template.UnifiedProcedureStepPerformedProcedureSequence) == []
    code = template.ScheduledWorkitemCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("110001", "DCM")


def test_default_template_start_is_now_and_copies_are_independent() -> None:
    before = datetime.now().strftime("%Y%m%d%H%M%S")
    first = default_create_template()
    after = datetime.now().strftime("%Y%m%d%H%M%S")
    assert before <= first.ScheduledProcedureStepStartDateTime <= after
    first.ScheduledWorkitemCodeSequence[0].CodeValue = "changed"
    assert default_create_template().ScheduledWorkitemCodeSequence[0].CodeValue == "110001"


def test_default_template_with_keys_is_still_valid() -> None:
    template = parse_keys(["PatientName=Doe^John", "PatientID=P1",
                           "ScheduledProcedureStepPriority=HIGH",
                           f"{CODE_SEQ}.CodeMeaning=Other"], into=default_create_template())
    assert create_workitem(generate_uid(), template, now=NOW).status == 0x0000


def test_template_xml_is_the_example_it_claims_to_be() -> None:
    assert DEFAULT_CREATE_TEMPLATE_XML.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert read_xml(DEFAULT_CREATE_TEMPLATE_XML).ScheduledProcedureStepStartDateTime \
        == "20000101000000"


# --- C-FIND identifiers --------------------------------------------------------------------


def test_find_identifier_defaults() -> None:
    identifier = find_identifier(None, [], None, None)
    assert sorted(e.keyword for e in identifier) == sorted(DEFAULT_FIND_RETURN_KEYS)
    assert all(element.is_empty for element in identifier)
    assert check_identifier(identifier) is None


def test_find_identifier_combines_keys_state_priority_and_return_keys() -> None:
    keys = parse_keys(["PatientName=Doe*", f"{CODE_SEQ}.CodeValue=110001"])
    identifier = find_identifier(keys, ["PatientName", CODE_SEQ, f"{CODE_SEQ}.CodeMeaning",
                                        "00741204"], "in-progress", "high")
    assert identifier.PatientName == "Doe*"  # a return key never clears a matching key
    assert identifier.ScheduledWorkitemCodeSequence[0].CodeValue == "110001"
    assert identifier.ScheduledWorkitemCodeSequence[0]["CodeMeaning"].is_empty
    assert identifier.ProcedureStepState == "IN PROGRESS"
    assert identifier.ScheduledProcedureStepPriority == "HIGH"
    assert identifier["ProcedureStepLabel"].is_empty
    assert identifier["SOPInstanceUID"].is_empty  # always, to tell matches apart
    assert "WorklistLabel" not in identifier  # explicit return keys replace the defaults
    assert "CodeMeaning" not in keys.ScheduledWorkitemCodeSequence[0]  # keys untouched
    assert check_identifier(identifier) is None


def test_find_identifier_matches_a_created_workitem() -> None:
    template = parse_keys(["PatientName=Doe^John"], into=default_create_template(now=NOW))
    workitem = create_workitem("1.2.3.4", template, now=NOW).workitem
    assert workitem is not None
    hit = find_identifier(parse_keys(["PatientName=Doe*"]), [], "scheduled", "Medium")
    miss = find_identifier(None, [], "COMPLETED", None)
    assert matches(hit, workitem.data_set)
    assert not matches(miss, workitem.data_set)
    response = response_identifier(hit, workitem.data_set)
    assert response.SOPInstanceUID == "1.2.3.4"
    assert response.ProcedureStepState == "SCHEDULED"


@pytest.mark.parametrize(("args", "message"), [
    ((None, [], "DONE", None), "invalid state 'DONE': expected one of SCHEDULED, IN PROGRESS"),
    ((None, [], None, "urgent"), "invalid priority 'urgent': expected one of HIGH, MEDIUM, LOW"),
    ((None, ["PatientName=Doe"], None, None), "return key 'PatientName=Doe' has a value"),
    ((None, ["Nope"], None, None), "key 'Nope': unknown attribute keyword 'Nope'"),
])
def test_find_identifier_errors(args: tuple[Dataset | None, list[str], str | None, str | None],
                                message: str) -> None:
    with pytest.raises(DataSetInputError) as caught:
        find_identifier(*args)
    assert str(caught.value).startswith(message)


def test_parse_tags_for_n_get() -> None:
    assert parse_tags(["WorklistLabel", "00741000", "(0074,1000)", CODE_SEQ, "00091001"]) == (
        0x00741202, 0x00741000, 0x00404018, 0x00091001)
    assert parse_tags([]) == ()


@pytest.mark.parametrize(("spec", "message"), [
    ("WorklistLabel=x", "return key 'WorklistLabel=x': N-GET asks for top-level attributes"),
    (f"{CODE_SEQ}.CodeValue", "top-level attributes only"),
    (f"{CODE_SEQ}[0]", "top-level attributes only"),
    ("Nope", "return key 'Nope': unknown attribute keyword 'Nope'"),
])
def test_parse_tags_errors(spec: str, message: str) -> None:
    with pytest.raises(DataSetInputError) as caught:
        parse_tags([spec])
    assert str(caught.value).startswith(f"return key {spec!r}: ")
    assert message in str(caught.value)


# --- output --------------------------------------------------------------------------------


def test_format_data_set() -> None:
    data_set = parse_keys(["PatientName=Doe^John", r"OtherPatientIDs=A\B", "Rows=512",
                           "SelectorATValue=00100020", f"{CODE_SEQ}[1].CodeValue=X",
                           "InputInformationSequence", "PatientID"])
    data_set.EncapsulatedDocument = b"\0" * 10
    data_set.CommentsOnTheScheduledProcedureStep = "line one\r\nline two " + "z" * 80
    data_set.add(DataElement(0x00091001, "LO", "private value"))
    assert format_data_set(data_set).splitlines() == [
        "(0009,1001) LO (private)  private value",
        "(0010,0010) PN PatientName  Doe^John",
        "(0010,0020) LO PatientID",
        "(0010,1000) LO OtherPatientIDs  A\\B",
        "(0028,0010) US Rows  512",
        "(0040,0400) LT CommentsOnTheScheduledProcedureStep  line one line two "
        + "z" * 45 + "…",
        "(0040,4018) SQ ScheduledWorkitemCodeSequence  2 items",
        "  item 1",
        "  item 2",
        "    (0008,0100) SH CodeValue  X",
        "(0040,4021) SQ InputInformationSequence  0 items",
        "(0042,0011) OB EncapsulatedDocument  <10 bytes>",
        "(0072,0060) AT SelectorATValue  (0010,0020)",
    ]


def test_format_data_set_width_and_single_item() -> None:
    data_set = parse_keys([f"{CODE_SEQ}.CodeMeaning=abcdefghij"])
    assert format_data_set(data_set, width=5).splitlines() == [
        "(0040,4018) SQ ScheduledWorkitemCodeSequence  1 item",
        "  item 1",
        "    (0008,0104) LO CodeMeaning  abcd…",
    ]
    assert format_data_set(Dataset()) == ""


def test_json_output_is_one_line_in_tag_order() -> None:
    data_set = Dataset()
    item = Dataset()
    item.CodeMeaning = "M"
    item.CodeValue = "V"  # inserted after CodeMeaning: pydicom would keep this order
    data_set.ScheduledWorkitemCodeSequence = Sequence([item])
    data_set.PatientName = PersonName("Doe^John")
    data_set.Rows = 1
    text = to_json_text(data_set)
    assert "\n" not in text
    as_dict = to_json_dict(data_set)
    assert json.loads(text) == as_dict
    assert list(as_dict) == ["00100010", "00280010", "00404018"]
    assert list(as_dict["00404018"]["Value"][0]) == ["00080100", "00080104"]
    assert as_dict["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]}
    assert read_json(text) == data_set


def test_json_output_of_the_template_round_trips() -> None:
    template = default_create_template(now=NOW)
    assert read_json(to_json_text(template)) == template
