"""A minimal association on the wire, shared by the sans-IO Upper Layer tests."""

from __future__ import annotations

from aioups.pdu import (
    AAssociateAC,
    AAssociateRQ,
    ContextResult,
    PresentationContextACItem,
    PresentationContextRQItem,
    UserInformation,
)

TS = "1.2.840.10008.1.2.1"
UI = UserInformation(maximum_length=16384, implementation_class_uid="1.2.826.0.1.3680043.9.1")
RQ = AAssociateRQ(called_ae_title="SCP", calling_ae_title="SCU", user_information=UI,
                  presentation_contexts=(PresentationContextRQItem(
                      context_id=1, abstract_syntax="1.2.840.10008.1.1", transfer_syntaxes=(TS,)),))
AC = AAssociateAC(called_ae_title="SCP", calling_ae_title="SCU", user_information=UI,
                  presentation_contexts=(PresentationContextACItem(
                      context_id=1, result=ContextResult.ACCEPTANCE, transfer_syntax=TS),))
