"""DIMSE status codes: the class of every named code and of every range (DIMSE-20/21, UPS-26),
pseudo-members for codes the table does not name, and ``describe()``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioups.dimse import (
    CEchoRSP,
    NActionRSP,
    Status,
    StatusCategory,
    decode_command,
    encode_command,
    status_category,
)

S, W, F, C, P = (StatusCategory.SUCCESS, StatusCategory.WARNING, StatusCategory.FAILURE,
                 StatusCategory.CANCEL, StatusCategory.PENDING)

#: code -> class, as listed in DIMSE-20/21 and UPS-26 of the digest
SPEC_CLASSES = {
    0x0000: S, 0x0001: W,
    0x0105: F, 0x0106: F, 0x0107: W, 0x0110: F, 0x0111: F, 0x0112: F, 0x0113: F, 0x0114: F,
    0x0115: F, 0x0116: W, 0x0117: F, 0x0118: F, 0x0119: F, 0x0120: F, 0x0121: F, 0x0122: F,
    0x0123: F, 0x0124: F, 0x0210: F, 0x0211: F, 0x0212: F, 0x0213: F,
    0xA700: F, 0xA900: F, 0xC000: F,  # C000: C-FIND "unable to process" (UPS-74)
    0xB300: W, 0xB301: W, 0xB304: W, 0xB305: W, 0xB306: W,
    0xC300: F, 0xC301: F, 0xC302: F, 0xC303: F, 0xC304: F, 0xC307: F, 0xC308: F, 0xC309: F,
    0xC310: F, 0xC311: F, 0xC312: F, 0xC313: F, 0xC314: F, 0xC315: F,
    0xFE00: C, 0xFF00: P, 0xFF01: P,
}


@pytest.mark.parametrize(("code", "expected"), sorted(SPEC_CLASSES.items()),
                         ids=lambda v: f"{v:04X}" if isinstance(v, int) else v.value)
def test_status_category_named_code_matches_spec(code: int, expected: StatusCategory) -> None:
    assert status_category(code) is expected
    assert Status(code).category is expected


def test_status_every_member_is_in_the_spec_table() -> None:
    assert {int(member) for member in Status} <= set(SPEC_CLASSES)


@pytest.mark.parametrize(("member", "expected"), [
    (Status.SUCCESS, S),
    (Status.WARNING_REQUESTED_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED, W),
    (Status.ATTRIBUTE_LIST_ERROR, W),
    (Status.ATTRIBUTE_VALUE_OUT_OF_RANGE, W),
    (Status.PROCESSING_FAILURE, F),
    (Status.UNRECOGNIZED_OPERATION, F),
    (Status.UPS_ALREADY_IN_PROGRESS, F),
    (Status.UPS_ALREADY_CANCELED, W),
    (Status.CANCEL, C),
    (Status.PENDING, P),
    (Status.PENDING_WARNING, P),
])
def test_status_member_category_property(member: Status, expected: StatusCategory) -> None:
    assert member.category is expected
    assert status_category(member) is expected


@settings(max_examples=50)
@given(st.integers(0xA000, 0xAFFF) | st.integers(0xC000, 0xCFFF))
def test_status_category_axxx_cxxx_is_failure(code: int) -> None:
    assert status_category(code) is F
    assert Status(code).category is F


@settings(max_examples=50)
@given(st.integers(0xB000, 0xBFFF))
def test_status_category_bxxx_is_warning(code: int) -> None:
    assert status_category(code) is W
    assert Status(code).category is W


@settings(max_examples=50)
@given(st.integers(0x0100, 0x02FF).filter(lambda c: c not in (0x0107, 0x0116)))
def test_status_category_01xx_02xx_is_failure(code: int) -> None:
    assert status_category(code) is F


@pytest.mark.parametrize("code", [0x0001, 0x0107, 0x0116])
def test_status_category_standard_warnings_are_warning(code: int) -> None:
    assert status_category(code) is W


@pytest.mark.parametrize(("code", "expected"), [
    (0x0000, S), (0xFE00, C), (0xFF00, P), (0xFF01, P),
])
def test_status_category_singletons(code: int, expected: StatusCategory) -> None:
    assert status_category(code) is expected


@pytest.mark.parametrize("code", [0xFE01, 0xFF02, 0xFFFF, 0x0002, 0x00FF])
def test_status_category_neighbours_of_special_codes_are_not_special(code: int) -> None:
    assert status_category(code) not in (S, C, P)


@settings(max_examples=50)
@given(st.integers(0, 0xFFFF))
def test_status_any_16_bit_code_decodes(code: int) -> None:
    status = Status(code)
    assert int(status) == code
    assert status == code
    assert status.category is status_category(code)
    if code in Status._value2member_map_:
        assert not status.name.startswith("UNKNOWN_")
    else:
        assert status.name == f"UNKNOWN_{code:04X}"


@pytest.mark.parametrize(("code", "name", "expected"), [
    (0xC3FF, "UNKNOWN_C3FF", F),
    (0xC316, "UNKNOWN_C316", F),
    (0xB3AA, "UNKNOWN_B3AA", W),
    (0xA801, "UNKNOWN_A801", F),
    (0x0108, "UNKNOWN_0108", F),
    (0x02FF, "UNKNOWN_02FF", F),
])
def test_status_unknown_code_becomes_pseudo_member(code: int, name: str,
                                                   expected: StatusCategory) -> None:
    status = Status(code)
    assert isinstance(status, Status)
    assert status.name == name
    assert status.value == code
    assert status.category is expected


def test_status_unknown_code_is_not_added_to_members() -> None:
    before = list(Status)
    Status(0xC3FE)
    assert list(Status) == before


@pytest.mark.parametrize("value", [-1, 0x10000, "0000", 1.5, None])
def test_status_out_of_range_or_non_int_raises_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="is not a valid Status"):
        Status(value)


@pytest.mark.parametrize(("status", "text"), [
    (Status.UPS_ALREADY_IN_PROGRESS, "0xC302 UPS_ALREADY_IN_PROGRESS (failure)"),
    (Status.SUCCESS, "0x0000 SUCCESS (success)"),
    (Status.CANCEL, "0xFE00 CANCEL (cancel)"),
    (Status.PENDING_WARNING, "0xFF01 PENDING_WARNING (pending)"),
    (Status.UPS_CREATED_WITH_MODIFICATIONS, "0xB300 UPS_CREATED_WITH_MODIFICATIONS (warning)"),
    (Status(0xC3FF), "0xC3FF UNKNOWN_C3FF (failure)"),
    (Status(0xBABE), "0xBABE UNKNOWN_BABE (warning)"),
])
def test_status_describe_formats_code_name_and_class(status: Status, text: str) -> None:
    assert status.describe() == text


@settings(max_examples=50)
@given(st.integers(0, 0xFFFF))
def test_status_describe_any_code_starts_with_hex(code: int) -> None:
    text = Status(code).describe()
    assert text.startswith(f"0x{code:04X} ")
    assert text.endswith(f"({status_category(code).value})")


@settings(max_examples=50)
@given(st.integers(0, 0xFFFF))
def test_status_decoded_response_status_classifies(code: int) -> None:
    for message in (CEchoRSP(message_id_being_responded_to=1, status=code),
                    NActionRSP(message_id_being_responded_to=1, status=code)):
        decoded, _ = decode_command(encode_command(message, has_data_set=False))
        assert Status(decoded.status).category is status_category(code)
