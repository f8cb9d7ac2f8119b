"""DIMSE status codes and their categories (PS3.7 Annex C; UPS codes from PS3.4 CC.2).

Any 16-bit value decodes: codes the table does not name become ``UNKNOWN_xxxx`` pseudo-members,
classified by :func:`status_category` from their range (DIMSE-20).
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Self


class StatusCategory(Enum):
    """Status classes of PS3.7 C.1."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    CANCEL = "cancel"
    PENDING = "pending"


class Status(IntEnum):
    """Status codes used by aioups (general ones and the UPS C3xx/B30x family)."""

    SUCCESS = 0x0000
    WARNING_REQUESTED_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED = 0x0001
    NO_SUCH_ATTRIBUTE = 0x0105
    INVALID_ATTRIBUTE_VALUE = 0x0106
    ATTRIBUTE_LIST_ERROR = 0x0107
    PROCESSING_FAILURE = 0x0110
    DUPLICATE_SOP_INSTANCE = 0x0111
    NO_SUCH_SOP_INSTANCE = 0x0112
    NO_SUCH_EVENT_TYPE = 0x0113
    NO_SUCH_ARGUMENT = 0x0114
    INVALID_ARGUMENT_VALUE = 0x0115
    ATTRIBUTE_VALUE_OUT_OF_RANGE = 0x0116
    INVALID_OBJECT_INSTANCE = 0x0117
    NO_SUCH_SOP_CLASS = 0x0118
    CLASS_INSTANCE_CONFLICT = 0x0119
    MISSING_ATTRIBUTE = 0x0120
    MISSING_ATTRIBUTE_VALUE = 0x0121
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    NO_SUCH_ACTION = 0x0123
    NOT_AUTHORIZED = 0x0124
    DUPLICATE_INVOCATION = 0x0210
    UNRECOGNIZED_OPERATION = 0x0211
    MISTYPED_ARGUMENT = 0x0212
    RESOURCE_LIMITATION = 0x0213
    OUT_OF_RESOURCES = 0xA700
    IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    UPS_CREATED_WITH_MODIFICATIONS = 0xB300
    UPS_DELETION_LOCK_NOT_GRANTED = 0xB301
    UPS_ALREADY_CANCELED = 0xB304
    UPS_COERCED_INVALID_VALUES = 0xB305
    UPS_ALREADY_COMPLETED = 0xB306
    UNABLE_TO_PROCESS = 0xC000
    UPS_MAY_NO_LONGER_BE_UPDATED = 0xC300
    UPS_TRANSACTION_UID_NOT_CORRECT = 0xC301
    UPS_ALREADY_IN_PROGRESS = 0xC302
    UPS_MAY_ONLY_BECOME_SCHEDULED_VIA_N_CREATE = 0xC303
    UPS_FINAL_STATE_REQUIREMENTS_NOT_MET = 0xC304
    UPS_DOES_NOT_EXIST = 0xC307
    UPS_RECEIVING_AE_UNKNOWN = 0xC308
    UPS_NOT_SCHEDULED = 0xC309
    UPS_NOT_IN_PROGRESS = 0xC310
    UPS_ALREADY_COMPLETED_CANNOT_CANCEL = 0xC311
    UPS_PERFORMER_CANNOT_BE_CONTACTED = 0xC312
    UPS_PERFORMER_CHOOSES_NOT_TO_CANCEL = 0xC313
    UPS_ACTION_NOT_APPROPRIATE = 0xC314
    UPS_EVENT_REPORTS_NOT_SUPPORTED = 0xC315
    CANCEL = 0xFE00
    PENDING = 0xFF00
    PENDING_WARNING = 0xFF01

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, int) and 0 <= value <= 0xFFFF:
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value:04X}"
            member._value_ = value
            return member
        return None

    @property
    def category(self) -> StatusCategory:
        """This code's class (DIMSE-20)."""
        return status_category(self)

    def describe(self) -> str:
        """``"0xC302 UPS_ALREADY_IN_PROGRESS (failure)"`` — for logs and CLI output."""
        return f"0x{int(self):04X} {self.name} ({self.category.value})"


def status_category(code: int) -> StatusCategory:
    """Classify any status code by the ranges of PS3.7 C.1 (DIMSE-20)."""
    if code == 0x0000:
        return StatusCategory.SUCCESS
    if code in (0xFF00, 0xFF01):
        return StatusCategory.PENDING
    if code == 0xFE00:
        return StatusCategory.CANCEL
    if code in (0x0001, 0x0107, 0x0116) or 0xB000 <= code <= 0xBFFF:
        return StatusCategory.WARNING
    return StatusCategory.FAILURE
