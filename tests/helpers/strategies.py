"""Hypothesis strategies for every PDU, item and sub-item value of :mod:`aioups.pdu`.

Every strategy generates values that survive ``decode_pdu_bytes(encode_pdu(x)) == x``:

- UIDs are dotted ASCII digits (no leading zeros, no empty components, at most 64 characters)
  and carry no padding (UL-07).
- AE titles are 1-16 printable ASCII characters, no backslash, no leading/trailing spaces (UL-11).
- Presentation-context IDs are odd, 1..255 (UL-50).
- A rejected AC context carries ``transfer_syntax=""``: its sub-item is not significant and the
  decoder does not keep it (UL-52).
- Unknown user-information sub-items are listed in ascending type order, as the encoder sends
  them (UL-05); unknown PDU-level items never use a type of :class:`ItemType`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from aioups.pdu import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AbortReason,
    AbortSource,
    AReleaseRP,
    AReleaseRQ,
    AsyncOperationsWindow,
    ContextResult,
    ItemType,
    PDataTF,
    PDUType,
    PresentationContextACItem,
    PresentationContextRQItem,
    RejectResult,
    RejectSource,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownItem,
    UnknownPDU,
    UserIdentityAC,
    UserIdentityRQ,
    UserIdentityType,
    UserInformation,
)

#: Shared settings for the PDU suite: the example count comes from the loaded profile
#: (tests/conftest.py), without deadline or too_slow health check (shared CI machines vary).
PDU_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: For tests that draw a whole stream of PDUs per example: half as many examples.
STREAM_SETTINGS = settings(PDU_SETTINGS, max_examples=max(10, PDU_SETTINGS.max_examples // 2))

_SUB_ITEM_TYPES = frozenset(range(0x51, 0x5A))
_KNOWN_ITEM_TYPES = frozenset(int(t) for t in ItemType)

# ---------------------------------------------------------------------------------------------
# Scalars

_WELL_KNOWN_UIDS = (
    "1.2.840.10008.1.1",          # Verification SOP Class
    "1.2.840.10008.1.2",          # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",        # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",     # Deflated Explicit VR Little Endian
    "1.2.840.10008.3.1.1.1",      # DICOM application context
    "1.2.840.10008.5.1.4.34.6.1",  # UPS Push
)

# At most 8 components of at most 7 digits: 8 * 7 + 7 dots = 63 characters, always valid.
_uid_component = st.one_of(st.just("0"), st.integers(1, 9_999_999).map(str))

#: A valid, unpadded UID: dotted digits, no leading zeros, at most 64 characters.
uids = st.one_of(
    st.sampled_from(_WELL_KNOWN_UIDS),
    st.lists(_uid_component, min_size=2, max_size=8).map(".".join),
)

_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
_AE_ALPHABET = _PRINTABLE.replace("\\", "")

#: 1-16 printable ASCII characters, no backslash, no leading or trailing space.
ae_titles = st.text(_AE_ALPHABET, min_size=1, max_size=16).filter(lambda t: t == t.strip() != "")

#: Implementation Version Name (55H): 1-16 printable ASCII characters, no trailing space.
version_names = st.text(_PRINTABLE, min_size=1, max_size=16).filter(
    lambda t: t == t.rstrip(" \0") != "")

#: Odd presentation-context IDs 1..255 (UL-50).
context_ids = st.integers(0, 127).map(lambda n: 2 * n + 1)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
small_bytes = st.binary(max_size=24)

# ---------------------------------------------------------------------------------------------
# Enums: the defined members plus every other byte value (pseudo-members ``UNKNOWN_<n>``)


def open_enum(enum_cls: type[Any]) -> st.SearchStrategy[Any]:
    """A defined member most of the time, sometimes an undefined byte value's pseudo-member."""
    return st.one_of(st.sampled_from(list(enum_cls)), u8.map(enum_cls))


context_results = open_enum(ContextResult)
user_identity_types = open_enum(UserIdentityType)
reject_results = open_enum(RejectResult)
reject_sources = open_enum(RejectSource)
abort_sources = open_enum(AbortSource)
abort_reasons = open_enum(AbortReason)

# ---------------------------------------------------------------------------------------------
# Items and sub-items

presentation_context_rq_items = st.builds(
    PresentationContextRQItem,
    context_id=context_ids,
    abstract_syntax=uids,
    transfer_syntaxes=st.lists(uids, min_size=1, max_size=3).map(tuple),
)

_accepted_contexts = st.builds(
    PresentationContextACItem,
    context_id=context_ids,
    result=st.just(ContextResult.ACCEPTANCE),
    transfer_syntax=uids,
)
_rejected_contexts = st.builds(
    PresentationContextACItem,
    context_id=context_ids,
    result=context_results.filter(lambda r: r != ContextResult.ACCEPTANCE),
    transfer_syntax=st.just(""),
)
presentation_context_ac_items = st.one_of(_accepted_contexts, _rejected_contexts)

async_operations_windows = st.builds(
    AsyncOperationsWindow, max_operations_invoked=u16, max_operations_performed=u16)

role_selections = st.builds(
    RoleSelection, sop_class_uid=uids, scu_role=st.booleans(), scp_role=st.booleans())

sop_class_extended_negotiations = st.builds(
    SOPClassExtendedNegotiation, sop_class_uid=uids, application_information=small_bytes)

sop_class_common_extended_negotiations = st.builds(
    SOPClassCommonExtendedNegotiation,
    sop_class_uid=uids,
    service_class_uid=uids,
    related_general_sop_classes=st.lists(uids, max_size=2).map(tuple),
)

user_identity_rqs = st.builds(
    UserIdentityRQ,
    identity_type=user_identity_types,
    positive_response_requested=st.booleans(),
    primary=small_bytes,
    secondary=small_bytes,
)

user_identity_acs = st.builds(UserIdentityAC, server_response=small_bytes)

#: Unknown sub-items of the user-information item (anything but 51H-59H).
unknown_sub_items = st.builds(
    UnknownItem,
    item_type=u8.filter(lambda t: t not in _SUB_ITEM_TYPES),
    data=small_bytes,
)

#: Unknown variable items at PDU level (no type that :class:`ItemType` defines).
unknown_pdu_items = st.builds(
    UnknownItem,
    item_type=u8.filter(lambda t: t not in _KNOWN_ITEM_TYPES),
    data=small_bytes,
)


def _tuple(strategy: st.SearchStrategy[Any], max_size: int = 2) -> st.SearchStrategy[Any]:
    return st.lists(strategy, max_size=max_size).map(tuple)


user_informations = st.builds(
    UserInformation,
    maximum_length=st.one_of(st.sampled_from([0, 16382, 16384]), u32),
    implementation_class_uid=uids,
    implementation_version_name=st.none() | version_names,
    async_operations_window=st.none() | async_operations_windows,
    role_selections=_tuple(role_selections),
    extended_negotiations=_tuple(sop_class_extended_negotiations),
    common_extended_negotiations=_tuple(sop_class_common_extended_negotiations),
    user_identity_rq=st.none() | user_identity_rqs,
    user_identity_ac=st.none() | user_identity_acs,
    # The encoder sends sub-items in ascending type order (UL-05), so generate them that way.
    unknown=st.lists(unknown_sub_items, max_size=2).map(
        lambda items: tuple(sorted(items, key=lambda i: i.item_type))),
)

# ---------------------------------------------------------------------------------------------
# PDUs

_protocol_versions = st.one_of(st.just(1), u16)

a_associate_rqs = st.builds(
    AAssociateRQ,
    called_ae_title=ae_titles,
    calling_ae_title=ae_titles,
    presentation_contexts=st.lists(presentation_context_rq_items, max_size=3,
                                   unique_by=lambda pc: pc.context_id).map(tuple),
    user_information=user_informations,
    application_context_name=uids,
    protocol_version=_protocol_versions,
    unknown_items=_tuple(unknown_pdu_items, max_size=2),
)

a_associate_acs = st.builds(
    AAssociateAC,
    called_ae_title=ae_titles,
    calling_ae_title=ae_titles,
    presentation_contexts=st.lists(presentation_context_ac_items, max_size=3,
                                   unique_by=lambda pc: pc.context_id).map(tuple),
    user_information=user_informations,
    application_context_name=uids,
    protocol_version=_protocol_versions,
    unknown_items=_tuple(unknown_pdu_items, max_size=2),
)

a_associate_rjs = st.builds(
    AAssociateRJ, result=reject_results, source=reject_sources, reason=u8)

pdvs = st.builds(
    PDV, context_ids, st.booleans(), st.booleans(), st.binary(max_size=64))

p_data_tfs = st.builds(PDataTF, st.lists(pdvs, min_size=1, max_size=5).map(tuple))

a_release_rqs = st.just(AReleaseRQ())
a_release_rps = st.just(AReleaseRP())

a_aborts = st.builds(AAbort, source=abort_sources, reason=abort_reasons)

_DEFINED_PDU_TYPES = frozenset(int(t) for t in PDUType)

unknown_pdus = st.builds(
    UnknownPDU,
    pdu_type=u8.filter(lambda t: t not in _DEFINED_PDU_TYPES),
    data=small_bytes,
)

#: Any PDU value (the seven types and UnknownPDU).
pdus: st.SearchStrategy[PDU] = st.one_of(
    a_associate_rqs, a_associate_acs, a_associate_rjs, p_data_tfs,
    a_release_rqs, a_release_rps, a_aborts, unknown_pdus,
)
