"""upsscu/dcmups keys (``-s``, ``-m``, ``-q``, ``-r``) and the text-to-value rules that
:mod:`._datasets` shares for XML: attributes by keyword or tag, values converted by VR.

Values are not checked against their VR beyond what encoding needs (numbers): the command line
sends what it is given and the SCP judges it, as upsscu and findscu do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from aioups.dimse import (
    DataElement,
    Dataset,
    Sequence,
    dictionary_VR,
    keyword_for_tag,
    tag_for_keyword,
)

__all__ = [
    "BINARY_VRS",
    "VRS",
    "DataSetInputError",
    "apply_keys",
    "attribute_tag",
    "dictionary_vr",
    "element_value",
    "name_of",
    "new_element",
    "parse_keys",
    "value_from_text",
]


class DataSetInputError(ValueError):
    """A key, file or document cannot be turned into a data set; the message names where."""


#: pydicom.config.IGNORE: elements are built without pydicom's VR validation (see above).
_NO_VALIDATION: Final = 0
#: Single-valued text VRs: a backslash in them is data, not a value separator (PS3.5 6.2).
_TEXT_VRS: Final = frozenset({"LT", "ST", "UT", "UR"})
BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: Every VR of PS3.5 Table 6.2-1.
VRS: Final = frozenset({
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "PN", "SH", "SL",
    "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UR", "US", "UT", "UV", *BINARY_VRS,
})
_INT_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "US": (0, 0xFFFF), "SS": (-0x8000, 0x7FFF), "UL": (0, 0xFFFFFFFF),
    "SL": (-0x80000000, 0x7FFFFFFF), "UV": (0, 2**64 - 1), "SV": (-(2**63), 2**63 - 1),
}
_NUMBER_VRS: Final = frozenset({*_INT_RANGES, "FL", "FD"})
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TAG: Final = re.compile(r"\((?P<g1>[0-9A-Fa-f]{4}),(?P<e1>[0-9A-Fa-f]{4})\)"
                         r"|(?P<g2>[0-9A-Fa-f]{4}),?(?P<e2>[0-9A-Fa-f]{4})")
_KEY_PART: Final = re.compile(r"(?P<name>[^\[\]]+)(?:\[(?P<index>[^\]]*)\])?")


# --- attributes and values ---------------------------------------------------------------


def tag_from_text(text: str) -> int | None:
    """``00100010``, ``0010,0010`` or ``(0010,0010)`` as an int; ``None`` if it is not one."""
    match = _TAG.fullmatch(text.strip())
    if match is None:
        return None
    return (int(match["g1"] or match["g2"], 16) << 16) | int(match["e1"] or match["e2"], 16)


def attribute_tag(text: str) -> int:
    """A keyword or a hex tag, as a tag."""
    tag = tag_from_text(text)
    if tag is not None:
        return tag
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", text) is None:
        raise DataSetInputError(f"{text!r} is neither an attribute keyword nor a tag "
                                "(00100010, 0010,0010 or (0010,0010))")
    found = tag_for_keyword(text)
    if found is None:
        raise DataSetInputError(f"unknown attribute keyword {text!r}")
    return int(found)


def name_of(tag: int) -> str:
    """``Keyword`` or, for attributes outside the dictionary, ``(gggg,eeee)``."""
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def dictionary_vr(tag: int) -> str:
    """The VR of ``tag`` in the data dictionary; the first one when it lists several."""
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        raise DataSetInputError(f"attribute {name_of(tag)} is not in the DICOM dictionary, so its "
                                "VR is unknown") from None
    return vr.split(" or ")[0]  # "US or SS", "OB or OW": the first is the usual one


def value_from_text(vr: str, text: str, tag: int) -> object:
    """One value given as text, as pydicom wants it for ``vr``."""
    def bad(expected: str) -> DataSetInputError:
        return DataSetInputError(f"invalid value {text!r} for {name_of(tag)} ({vr}): "
                                 f"expected {expected}")

    if vr in BINARY_VRS:
        raise DataSetInputError(f"{name_of(tag)} ({vr}) holds binary data, not text")
    number = text.strip()  # numbers may be padded; other text is kept as it is
    if not (number if vr in _NUMBER_VRS or vr in {"IS", "DS", "AT"} else text):
        return element_value(vr, [])
    if vr in _INT_RANGES:
        low, high = _INT_RANGES[vr]
        if _INTEGER.fullmatch(number) is None or not low <= int(number) <= high:
            raise bad(f"an integer from {low} to {high}")
        return int(number)
    if vr in _NUMBER_VRS:  # FL, FD
        try:
            return float(number.replace("_", "?"))  # float() would accept "1_000"
        except ValueError:
            raise bad("a number") from None
    if ((vr == "IS" and _INTEGER.fullmatch(number) is None)
            or (vr == "DS" and _DECIMAL.fullmatch(number) is None)):
        raise bad("an integer" if vr == "IS" else "a decimal number")
    if vr == "AT":
        if (tag_value := tag_from_text(number)) is None:
            raise bad("a tag in hex (00100010)")
        return tag_value
    return number if vr in {"IS", "DS"} else text


def element_value(vr: str, values: list[object]) -> object:
    """An element value from its values: empty (as pydicom's readers make it) for none, the
    value itself for one, the list for several."""
    if not values:
        return None if vr in _NUMBER_VRS or vr == "AT" else ""
    return values[0] if len(values) == 1 else values


def new_element(tag: int, vr: str, value: object) -> DataElement:
    return DataElement(tag, vr, value, validation_mode=_NO_VALIDATION)


# --- keys: -s / -m / -q / -r ---------------------------------------------------------------


def _key_steps(key: str) -> list[tuple[int, str, int | None]]:
    """``Seq[1].Attr`` (upsscu) or ``Seq/Attr`` (dcmups) as (tag, VR, item index) steps."""
    if not key.strip():
        raise DataSetInputError("empty attribute")
    steps: list[tuple[int, str, int | None]] = []
    for part in re.split(r"[./]", key.strip()):
        match = _KEY_PART.fullmatch(part)
        if match is None:
            raise DataSetInputError(f"invalid attribute {part!r}")
        tag, index = attribute_tag(match["name"]), match["index"]
        if index is not None and not index.isdigit():
            raise DataSetInputError(f"invalid item index [{index}] after {name_of(tag)}: "
                                    "expected a number from 0 (the first item)")
        steps.append((tag, dictionary_vr(tag), None if index is None else int(index)))
    return steps


def _sequence(holder: Dataset, tag: int) -> Sequence:
    """The sequence ``tag`` of ``holder``, created empty when absent."""
    if tag not in holder:
        holder.add(new_element(tag, "SQ", Sequence()))
    element = holder[tag]
    if element.VR != "SQ":
        raise DataSetInputError(f"{name_of(tag)} is already set as {element.VR}, not a sequence")
    if element.value is None:
        element.value = Sequence()
    sequence: Sequence = element.value
    return sequence


def _item(holder: Dataset, tag: int, index: int) -> Dataset:
    """Item ``index`` (0-based) of sequence ``tag``, adding empty items up to it."""
    sequence = _sequence(holder, tag)
    while len(sequence) <= index:
        sequence.append(Dataset())
    item: Dataset = sequence[index]
    return item


def _apply_key(data_set: Dataset, spec: str, *, keep_existing: bool) -> None:
    key, _, text = spec.partition("=")
    *parents, (tag, vr, index) = _key_steps(key)
    holder = data_set
    for parent, parent_vr, parent_index in parents:
        if parent_vr != "SQ":
            raise DataSetInputError(f"{name_of(parent)} is not a sequence, so nothing can be "
                                    "nested in it")
        holder = _item(holder, parent, parent_index or 0)
    if vr == "SQ":
        if text:
            raise DataSetInputError(f"{name_of(tag)} is a sequence: give the attributes of its "
                                    f"items instead ({name_of(tag)}.CodeValue=...)")
        if index is None:
            _sequence(holder, tag)
        else:
            _item(holder, tag, index)
    elif index is not None:
        raise DataSetInputError(f"{name_of(tag)} is not a sequence; it takes no item index")
    elif not (keep_existing and tag in holder):
        parts = [text] if vr in _TEXT_VRS else text.split("\\")
        values = [value_from_text(vr, part, tag) for part in parts]
        holder.add(new_element(tag, vr, element_value(vr, values)))


def apply_keys(data_set: Dataset, specs: Iterable[str], *, keep_existing: bool) -> Dataset:
    """:func:`parse_keys` into ``data_set``; with ``keep_existing``, attributes already there
    stay as they are (return keys must not clear matching keys)."""
    for spec in specs:
        try:
            _apply_key(data_set, spec, keep_existing=keep_existing)
        except DataSetInputError as exc:
            raise DataSetInputError(f"key {spec!r}: {exc}") from None
    return data_set


def parse_keys(specs: Iterable[str], into: Dataset | None = None) -> Dataset:
    """Build a data set from upsscu/dcmups keys (``-s``, ``-m``, ``-q``, ``-r``).

    Each spec is ``KEY=VALUE``, or ``KEY`` alone for an empty value (a return key, universal
    matching).  ``KEY`` is a keyword (``PatientName``) or a tag (``00100010``, ``0010,0010``,
    ``(0010,0010)``); attributes inside sequences follow their sequence after ``.`` (upsscu)
    or ``/`` (dcmups): ``ScheduledWorkitemCodeSequence.CodeValue=110001``.  A sequence may
    carry a **0-based** item index, as in DCMTK findscu ``-k``: ``Seq[1].CodeValue=X`` sets
    the second item, ``Seq.CodeValue`` means ``Seq[0]``, and missing items before the index
    are added empty.  A sequence alone (``Seq`` or ``Seq=``) is an empty sequence (universal
    sequence matching); items it already has are kept.

    ``VALUE`` is one value or several separated by backslashes (not in LT, ST, UT and UR,
    where a backslash is data).  Numeric VRs need numbers and AT a tag.  Later keys win.

    Args:
        specs: the keys, in command-line order.
        into: a data set to change in place (a template); a new one when ``None``.

    Raises:
        DataSetInputError: unknown keyword, malformed tag or index, invalid number, a value for
            a sequence, nesting into an attribute that is not a sequence.
    """
    return apply_keys(Dataset() if into is None else into, specs, keep_existing=False)
