"""C-FIND matching of a query Identifier against stored workitems (PS3.4 C.2.2.2).

One matcher serves both C-FIND (UPS-70..UPS-74) and Filtered Global Subscriptions (UPS-53:
"the same matching code as C-FIND").  An Identifier is first compiled into a :class:`Query`
(ranges and wildcards parsed once), then tested against any number of candidates.

Matching types (UPS-73), chosen per key from its VR and value:

* universal: a zero-length value, or ``*`` alone in a wildcard VR, matches everything;
* single value: exact and case-sensitive, except PN (case-insensitive by default, an
  implementation choice the digest allows); DA/TM/DT compare by meaning ("2230" == "223000");
* wildcard: ``*`` and ``?`` in AE, CS, LO, LT, PN, SH, ST, UC, UR, UT;
* range: ``a-b``, ``-b``, ``a-`` in DA, TM, DT; a DT offset is honoured when both sides have
  one; optionally a DA/TM pair is matched as one DT (combined date-time matching);
* list of UID: backslash-separated UIDs, any one may match;
* sequence: the key's single item must match **some** item of the candidate's sequence (every
  item is tried, not only the first);
* empty value: the value ``""`` (two quotation marks) matches an absent or empty attribute
  (newer editions of C.2.2.2; UNCONFIRMED in the digest, harmless since ``""`` is otherwise
  never a real value);
* several values in a non-UID key: an entity matches if any value matches (newer "multiple
  value" matching, digest §8).

Never matched and never returned: Transaction UID (UPS-32), Specific Character Set and
Timezone Offset From UTC (qualifiers, UPS-70), command and file-meta groups, group lengths and
private elements.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final, Protocol, final

from .._uids import UPS_PUSH
from ..dimse import (
    BaseTag,
    DataElement,
    Dataset,
    MultiValue,
    Sequence,
    Status,
    keyword_for_tag,
    tag_for_keyword,
)
from ._temporal import TimeRange, bounds, combined_range, parse_offset, parse_range

__all__ = [
    "UNABLE_TO_PROCESS", "IdentifierProblem", "MatchOptions", "Query", "check_identifier",
    "compile_query", "matches", "response_identifier",
]

SPECIFIC_CHARACTER_SET: Final = 0x00080005
SOP_CLASS_UID: Final = 0x00080016
TIMEZONE_OFFSET_FROM_UTC: Final = 0x00080201
TRANSACTION_UID: Final = 0x00081195

#: C000-CFFF "unable to process" (UPS-74); the Status enum names no member in that range.
UNABLE_TO_PROCESS: Final = Status(0xC000)

#: Keys that are never matched nor echoed as keys (UPS-32, UPS-70).
_NOT_KEYS: Final = frozenset({SPECIFIC_CHARACTER_SET, TIMEZONE_OFFSET_FROM_UTC, TRANSACTION_UID})
#: Groups that have no place in an Identifier: command set and file meta information.
_FOREIGN_GROUPS: Final = frozenset({0x0000, 0x0002})
_TEMPORAL_VRS: Final = frozenset({"DA", "TM", "DT"})
_EMPTY_VALUE: Final = '""'


class _Trim(Enum):
    """Which padding spaces of a value are insignificant (PS3.5 §6.2)."""

    BOTH = "both"
    RIGHT = "right"


#: The VRs in which wildcards are allowed (UPS-73), with the spaces to ignore.
_TEXT_VRS: Final = {
    "AE": _Trim.BOTH, "CS": _Trim.BOTH, "LO": _Trim.BOTH, "PN": _Trim.BOTH, "SH": _Trim.BOTH,
    "UC": _Trim.BOTH, "UR": _Trim.BOTH, "LT": _Trim.RIGHT, "ST": _Trim.RIGHT, "UT": _Trim.RIGHT,
}



@final
@dataclass(frozen=True, slots=True, kw_only=True)
class MatchOptions:
    """Implementation choices of the matcher (UPS-73).

    Attributes:
        person_name_case_insensitive: match PN values ignoring case (the digest lets the SCP
            choose and document it; aioups ignores case by default, as most archives do).
        combined_date_time: match a DA key and its TM sibling (``StudyDate``/``StudyTime``) as
            one DT range; only when the SCU negotiated combined date-time matching.
    """

    person_name_case_insensitive: bool = True
    combined_date_time: bool = False


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class IdentifierProblem:
    """Why a C-FIND Identifier cannot be processed (UPS-74).

    Attributes:
        status: ``0xA900`` (identifier does not match the SOP class) or ``0xC000`` (unable to
            process).
        comment: for Error Comment (0000,0902).
        offending_elements: for Offending Element (0000,0901).
    """

    status: Status
    comment: str
    offending_elements: tuple[int, ...] = ()


class _InvalidKeyError(ValueError):
    def __init__(self, status: Status, tag: int, comment: str) -> None:
        super().__init__(comment)
        self.status = status
        self.tag = tag
        self.comment = comment


def _data_set_offset(data_set: Dataset) -> int | None:
    element = data_set.get(TIMEZONE_OFFSET_FROM_UTC)
    if element is None or element.is_empty:
        return None
    return parse_offset(str(element.value).strip())


# --- values -----------------------------------------------------------------------------------


def _values(element: DataElement | None) -> tuple[object, ...]:
    if element is None or element.is_empty:
        return ()
    value = element.value
    if isinstance(value, MultiValue | list | tuple):
        return tuple(value)
    return (value,)


def _normalise(text: str, vr: str, fold: bool) -> str:
    text = text.strip() if _TEXT_VRS.get(vr) is _Trim.BOTH else text.rstrip()
    if vr == "PN":
        # Trailing empty components and groups carry no meaning: "Doe^John^^" == "Doe^John".
        text = "=".join(group.rstrip("^") for group in text.split("=")).rstrip("=")
        if fold:
            text = text.casefold()
    return text


def _texts(element: DataElement | None, vr: str, fold: bool) -> list[str]:
    texts = (_normalise(str(value), vr, fold) for value in _values(element))
    return [text for text in texts if text]


def _is_empty(element: DataElement | None) -> bool:
    if element is None or element.is_empty:
        return True
    return element.VR in _TEXT_VRS and not _texts(element, element.VR, False)


def _wildcard(pattern: str, fold: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if fold else 0))


# --- compiled keys ----------------------------------------------------------------------------


class _Key(Protocol):
    def matches(self, candidate: Dataset, offset: int | None) -> bool: ...


@dataclass(frozen=True, slots=True)
class _TextKey:
    tag: int
    vr: str
    fold: bool
    exact: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        for text in _texts(candidate.get(self.tag), self.vr, self.fold):
            if text in self.exact or any(p.fullmatch(text) for p in self.patterns):
                return True
        return False


@dataclass(frozen=True, slots=True)
class _UIDKey:
    tag: int
    uids: frozenset[str]

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        return any(str(uid).strip(" \0") in self.uids
                   for uid in _values(candidate.get(self.tag)))


@dataclass(frozen=True, slots=True)
class _ValueKey:
    tag: int
    values: tuple[object, ...]

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        return any(value in self.values for value in _values(candidate.get(self.tag)))


@dataclass(frozen=True, slots=True)
class _EmptyKey:
    tag: int

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        return _is_empty(candidate.get(self.tag))


@dataclass(frozen=True, slots=True)
class _NeverKey:
    tag: int

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class _TemporalKey:
    tag: int
    vr: str
    ranges: tuple[TimeRange, ...]

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        for value in _values(candidate.get(self.tag)):
            try:
                instant = bounds(str(value).strip(), self.vr, offset)[0]
            except ValueError:
                continue  # a malformed stored value matches nothing
            if any(r.contains(instant) for r in self.ranges):
                return True
        return False


@dataclass(frozen=True, slots=True)
class _CombinedKey:
    date_tag: int
    time_tag: int
    range: TimeRange

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        dates, times = _values(candidate.get(self.date_tag)), _values(candidate.get(self.time_tag))
        if not dates:
            return False
        text = str(dates[0]).strip() + (str(times[0]).strip() if times else "")
        try:
            return self.range.contains(bounds(text, "DT", offset)[0])
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class _SequenceKey:
    tag: int
    query: Query

    def matches(self, candidate: Dataset, offset: int | None) -> bool:
        element = candidate.get(self.tag)
        if element is None or element.VR != "SQ":
            return False
        return any(self.query.matches_item(item, offset) for item in element.value)


@final
@dataclass(frozen=True, slots=True)
class Query:
    """A compiled Identifier: its non-universal matching keys (UPS-73).

    Build it with :func:`compile_query`; it is immutable and can be reused for every candidate,
    which is what C-FIND over a worklist and Filtered Global Subscriptions (UPS-53) do.
    """

    keys: tuple[_Key, ...]

    @property
    def is_universal(self) -> bool:
        """Whether every workitem matches (no key constrains anything)."""
        return not self.keys

    def matches(self, candidate: Dataset) -> bool:
        """Whether the stored workitem ``candidate`` matches every key."""
        try:
            offset = _data_set_offset(candidate)
        except ValueError:
            offset = None
        return self.matches_item(candidate, offset)

    def matches_item(self, item: Dataset, offset: int | None) -> bool:
        """Match a data set (or a sequence item) whose DT values default to ``offset``."""
        return all(key.matches(item, offset) for key in self.keys)


# --- compiling --------------------------------------------------------------------------------


def _key_elements(identifier: Dataset) -> Iterator[DataElement]:
    for element in identifier:
        tag = BaseTag(element.tag)
        if tag.is_private or tag.element == 0 or int(tag) in _NOT_KEYS:
            continue
        yield element


def _text_key(element: DataElement, options: MatchOptions) -> _Key | None:
    vr, tag = element.VR, int(element.tag)
    fold = vr == "PN" and options.person_name_case_insensitive
    texts = _texts(element, vr, fold)
    if not texts or any(set(text) == {"*"} for text in texts):
        return None  # universal matching
    if texts == [_EMPTY_VALUE]:
        return _EmptyKey(tag)
    exact = frozenset(text for text in texts if "*" not in text and "?" not in text)
    patterns = tuple(_wildcard(text, fold) for text in texts if text not in exact)
    return _TextKey(tag, vr, fold, exact, patterns)


def _temporal_key(element: DataElement, default_offset: int | None) -> _Key | None:
    tag = int(element.tag)
    texts = [str(value).strip() for value in _values(element)]
    texts = [text for text in texts if text]
    if not texts:
        return None
    if texts == [_EMPTY_VALUE]:
        return _EmptyKey(tag)
    try:
        ranges = tuple(parse_range(text, element.VR, default_offset) for text in texts)
    except ValueError as exc:
        raise _InvalidKeyError(UNABLE_TO_PROCESS, tag, str(exc)) from None
    return _TemporalKey(tag, element.VR, ranges)


def _sequence_key(element: DataElement, options: MatchOptions, strict: bool,
                  default_offset: int | None) -> _Key | None:
    items = element.value
    if len(items) > 1:
        raise _InvalidKeyError(Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, int(element.tag),
                               "a sequence matching key must have exactly one item")
    if not items:
        return None
    query = _compile(items[0], options, strict, default_offset)
    # An item whose keys are all universal only asks for the sequence to be returned.
    return None if query.is_universal else _SequenceKey(int(element.tag), query)


def _other_key(element: DataElement) -> _Key | None:
    tag = int(element.tag)
    if element.VR == "UI":
        uids = frozenset(str(uid).strip(" \0") for uid in _values(element)) - {""}
        return None if not uids or uids == {"*"} else _UIDKey(tag, uids)
    values = _values(element)
    return _ValueKey(tag, values) if values else None


def _combined_sibling(element: DataElement, identifier: Dataset,
                      options: MatchOptions) -> DataElement | None:
    """The non-empty TM key paired with a non-empty DA key, for combined matching."""
    if not options.combined_date_time or element.VR != "DA" or element.is_empty:
        return None
    keyword = keyword_for_tag(element.tag)
    if not keyword.endswith("Date"):
        return None
    time_tag = tag_for_keyword(keyword[:-4] + "Time")
    sibling = identifier.get(time_tag) if time_tag is not None else None
    if sibling is None or sibling.VR != "TM" or sibling.is_empty or sibling.VM != 1:
        return None
    if element.VM != 1 or _EMPTY_VALUE in (str(element.value), str(sibling.value)):
        return None
    return sibling


def _compile_key(element: DataElement, identifier: Dataset, options: MatchOptions,
                 strict: bool, default_offset: int | None) -> tuple[_Key | None, int | None]:
    """The key for one element, and the tag of a sibling it consumed (combined DA+TM)."""
    tag, vr = int(element.tag), element.VR
    if BaseTag(tag).group in _FOREIGN_GROUPS:
        raise _InvalidKeyError(Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, tag,
                               "command or file meta element in the identifier")
    sibling = _combined_sibling(element, identifier, options)
    if sibling is not None:
        try:
            joined = combined_range(str(element.value).strip(), str(sibling.value).strip(),
                                     default_offset)
        except ValueError as exc:
            raise _InvalidKeyError(UNABLE_TO_PROCESS, tag, str(exc)) from None
        return _CombinedKey(tag, int(sibling.tag), joined), int(sibling.tag)
    if vr == "SQ":
        return _sequence_key(element, options, strict, default_offset), None
    if vr in _TEMPORAL_VRS:
        return _temporal_key(element, default_offset), None
    if vr in _TEXT_VRS:
        return _text_key(element, options), None
    return _other_key(element), None


def _compile(identifier: Dataset, options: MatchOptions, strict: bool,
             default_offset: int | None) -> Query:
    keys: list[_Key] = []
    consumed: set[int] = set()
    for element in _key_elements(identifier):
        if int(element.tag) in consumed:
            continue
        try:
            key, sibling = _compile_key(element, identifier, options, strict, default_offset)
        except _InvalidKeyError:
            if strict:
                raise
            key, sibling = _NeverKey(int(element.tag)), None  # an invalid key matches nothing
        if sibling is not None:
            consumed.add(sibling)
        if key is not None:
            keys.append(key)
    return Query(tuple(keys))


def compile_query(identifier: Dataset, *, options: MatchOptions | None = None) -> Query:
    """Compile a C-FIND Identifier or filtered-subscription keys (UPS-53, UPS-73).

    Never fails: a key that cannot be interpreted matches nothing.  Call
    :func:`check_identifier` first to answer such a query with a failure status instead.
    """
    try:
        offset = _data_set_offset(identifier)
    except ValueError:
        offset = None
    return _compile(identifier, options or MatchOptions(), False, offset)


def matches(identifier: Dataset, candidate: Dataset, *,
            options: MatchOptions | None = None) -> bool:
    """Whether the stored workitem ``candidate`` matches the query ``identifier`` (UPS-73).

    Compiles the identifier on every call: use :func:`compile_query` for many candidates.
    """
    return compile_query(identifier, options=options).matches(candidate)


def check_identifier(identifier: Dataset, *,
                     options: MatchOptions | None = None) -> IdentifierProblem | None:
    """Why ``identifier`` cannot be processed, or ``None`` if it can (UPS-74).

    * ``0xA900`` (identifier does not match SOP class): a sequence key with more than one item,
      or a command (0000,xxxx) or file meta (0002,xxxx) element.
    * ``0xC000`` (unable to process): a DA/TM/DT key that is not a valid value or range (a TM
      range may not cross midnight), or a malformed Timezone Offset From UTC.

    Transaction UID is not an error: it "cannot be queried" (UPS-32), so it is ignored.
    """
    try:
        offset = _data_set_offset(identifier)
    except ValueError as exc:
        return IdentifierProblem(status=UNABLE_TO_PROCESS, comment=str(exc),
                                 offending_elements=(TIMEZONE_OFFSET_FROM_UTC,))
    try:
        _compile(identifier, options or MatchOptions(), True, offset)
    except _InvalidKeyError as exc:
        return IdentifierProblem(status=exc.status, comment=exc.comment,
                                 offending_elements=(exc.tag,))
    return None


# --- responses --------------------------------------------------------------------------------


def _returned(key: DataElement, found: DataElement | None) -> DataElement:
    tag = int(key.tag)
    if key.VR != "SQ":
        if found is None:
            return DataElement(tag, key.VR, None)
        return DataElement(tag, found.VR, copy.deepcopy(found.value))
    if found is None or found.VR != "SQ" or not found.value:
        return DataElement(tag, "SQ", Sequence())
    if not key.value or len(key.value[0]) == 0:
        # A zero-length sequence key (or an empty item) asks for the whole sequence.
        return DataElement(tag, "SQ", copy.deepcopy(found.value))
    item_keys = key.value[0]
    return DataElement(tag, "SQ", Sequence([_project(item_keys, item) for item in found.value]))


def _project(keys: Dataset, source: Dataset) -> Dataset:
    projected = Dataset()
    for key in _key_elements(keys):
        if BaseTag(key.tag).group not in _FOREIGN_GROUPS:
            projected.add(_returned(key, source.get(key.tag)))
    return projected


def response_identifier(identifier: Dataset, candidate: Dataset) -> Dataset:
    """The Identifier of a Pending C-FIND response for a matching workitem (UPS-70).

    It holds every requested key, with the workitem's value or empty, and nothing that was not
    requested, except Specific Character Set (when the workitem has one) and Timezone Offset
    From UTC (when the workitem has one and a date or time is returned).  A requested SOP Class
    UID is always UPS Push (UPS-03, UPS-06).  Transaction UID is never returned (UPS-32).
    Sequence keys return every item of the stored sequence, each reduced to the item's keys;
    a zero-length sequence key returns the whole sequence.
    """
    response = _project(identifier, candidate)
    if SOP_CLASS_UID in response:
        response.add(DataElement(SOP_CLASS_UID, "UI", UPS_PUSH))
    charset = candidate.get(SPECIFIC_CHARACTER_SET)
    if charset is not None and not charset.is_empty:
        response.add(DataElement(SPECIFIC_CHARACTER_SET, charset.VR, copy.deepcopy(charset.value)))
    offset = candidate.get(TIMEZONE_OFFSET_FROM_UTC)
    if (offset is not None and not offset.is_empty
            and any(element.VR in _TEMPORAL_VRS for element in response)):
        response.add(DataElement(TIMEZONE_OFFSET_FROM_UTC, offset.VR, offset.value))
    return response
