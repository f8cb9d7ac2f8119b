"""DA, TM and DT values as instants and ranges, for C-FIND matching (PS3.4 C.2.2.2.5; UPS-73).

A value stands for the whole period its precision names: ``2024`` is the year 2024, ``2230`` is
22:30:00.000000 to 22:30:59.999999.  A single value matches a stored value whose first instant
falls in that period, so "2230" and "223000" match each other; a range ``a-b`` runs from the
first instant of ``a`` to the last instant of ``b``, either end may be open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

__all__ = [
    "Instant", "TimeRange", "bounds", "combined_range", "parse_offset", "parse_range",
    "split_range",
]

_MICROS_PER: Final = {"day": 86_400_000_000, "hour": 3_600_000_000, "minute": 60_000_000,
                      "second": 1_000_000}
_DA_RE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TM_RE: Final = re.compile(r"(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?")
_DT_RE: Final = re.compile(r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})"
                           r"(?:\.(\d{1,6}))?)?)?)?)?)?([+-]\d{4})?")
_OFFSET_RE: Final = re.compile(r"([+-])(\d{2})(\d{2})")


@dataclass(frozen=True, slots=True)
class Instant:
    """A DA/TM/DT value as microseconds (since 0001-01-01, or since midnight for TM)."""

    micros: int
    offset: int | None = None  # minutes east of UTC, DT only


def _le(a: Instant, b: Instant) -> bool:
    # "DT uses the offset when one is present" (UPS-73): only both offsets make UTC comparable;
    # otherwise the two wall clocks are compared.
    if a.offset is not None and b.offset is not None:
        return a.micros - a.offset * 60_000_000 <= b.micros - b.offset * 60_000_000
    return a.micros <= b.micros


@dataclass(frozen=True, slots=True)
class TimeRange:
    """An inclusive range of instants; ``None`` is an open end (UPS-73 ``-b`` and ``a-``)."""

    lower: Instant | None
    upper: Instant | None

    def contains(self, value: Instant) -> bool:
        """Whether ``value`` lies in the range."""
        return ((self.lower is None or _le(self.lower, value))
                and (self.upper is None or _le(value, self.upper)))


def parse_offset(text: str) -> int:
    """Minutes east of UTC of a ``&ZZXX`` suffix or a Timezone Offset From UTC value."""
    match = _OFFSET_RE.fullmatch(text)
    if match is None or int(match[2]) > 14 or int(match[3]) > 59:
        raise ValueError(f"invalid UTC offset {text!r}")
    minutes = int(match[2]) * 60 + int(match[3])
    return -minutes if match[1] == "-" else minutes


def _day_start(year: int, month: int = 1, day: int = 1) -> int:
    if year > date.max.year:
        return date.max.toordinal() * _MICROS_PER["day"]
    return (date(year, month, day).toordinal() - 1) * _MICROS_PER["day"]


def _clock(hour: str | None, minute: str | None, second: str | None,
           fraction: str | None) -> tuple[int, int]:
    """Microseconds since midnight and the size of the value's last unit."""
    h, m, s = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or m > 59 or s > 59:
        raise ValueError("time out of range")
    micros = ((h * 60 + m) * 60 + s) * 1_000_000 + int((fraction or "").ljust(6, "0"))
    if fraction:
        return micros, 10 ** (6 - len(fraction))
    unit = ("second" if second else "minute" if minute else "hour" if hour else "day")
    return micros, _MICROS_PER[unit]


def _dt_bounds(text: str, default_offset: int | None) -> tuple[Instant, Instant]:
    match = _DT_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid DT {text!r}")
    year, month, day, hour, minute, second, fraction, offset_text = match.groups()
    offset = parse_offset(offset_text) if offset_text else default_offset
    start = _day_start(int(year), int(month or 1), int(day or 1))
    clock, unit = _clock(hour, minute, second, fraction)
    lower = start + clock
    if month is None:
        upper = _day_start(int(year) + 1) - 1
    elif day is None:
        upper = (_day_start(int(year) + 1) if month == "12"
                 else _day_start(int(year), int(month) + 1)) - 1
    else:
        upper = lower + unit - 1
    return Instant(lower, offset), Instant(upper, offset)


def bounds(text: str, vr: str, default_offset: int | None) -> tuple[Instant, Instant]:
    """The first and last microsecond a DA/TM/DT value stands for (its precision)."""
    if vr == "DT":
        return _dt_bounds(text, default_offset)
    if vr == "DA":
        match = _DA_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"invalid DA {text!r}")
        start = _day_start(int(match[1]), int(match[2]), int(match[3]))
        return Instant(start), Instant(start + _MICROS_PER["day"] - 1)
    match = _TM_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid TM {text!r}")
    clock, unit = _clock(*match.groups())
    return Instant(clock), Instant(clock + unit - 1)


def split_range(text: str, vr: str) -> tuple[str, str] | None:
    """``(a, b)`` for a range ``a-b``/``-b``/``a-``; ``None`` for a single value."""
    if "-" not in text:
        return None
    if vr != "DT":
        lower, _, upper = text.partition("-")
        return lower, upper
    # A DT offset is written with "-" too: a value that parses whole is a single value, else
    # the first split whose sides both parse is the range.
    try:
        _dt_bounds(text, None)
    except ValueError:
        pass
    else:
        return None
    for index in (i for i, char in enumerate(text) if char == "-"):
        lower, upper = text[:index], text[index + 1:]
        if all(not side or _parses(side) for side in (lower, upper)):
            return lower, upper
    raise ValueError(f"invalid DT range {text!r}")


def _parses(text: str) -> bool:
    try:
        _dt_bounds(text, None)
    except ValueError:
        return False
    return True


def parse_range(text: str, vr: str, default_offset: int | None) -> TimeRange:
    """A DA/TM/DT key value as a range; a single value is the range of its precision.

    Raises:
        ValueError: not a valid value or range, or a TM range that crosses midnight.
    """
    split = split_range(text, vr)
    if split is None:
        return TimeRange(*bounds(text, vr, default_offset))
    lower, upper = split
    if not lower and not upper:
        raise ValueError("a range needs at least one end")
    low = bounds(lower, vr, default_offset)[0] if lower else None
    high = bounds(upper, vr, default_offset)[1] if upper else None
    if vr == "TM" and low is not None and high is not None and high.micros < low.micros:
        raise ValueError(f"TM range {text!r} crosses midnight")
    return TimeRange(low, high)


def combined_range(date_text: str, time_text: str, default_offset: int | None) -> TimeRange:
    """A DA key and its TM sibling as one DT range (combined date-time matching, UPS-73)."""
    parse_range(date_text, "DA", None)  # validate each part before joining them
    dates = split_range(date_text, "DA") or (date_text, date_text)
    times = split_range(time_text, "TM") or (time_text, time_text)
    if not any(times):
        raise ValueError("a range needs at least one end")
    for text in times:  # here a time range may cross midnight: the dates order the ends
        if text:
            bounds(text, "TM", None)
    low = bounds(dates[0] + times[0], "DT", default_offset)[0] if dates[0] else None
    high = bounds(dates[1] + times[1], "DT", default_offset)[1] if dates[1] else None
    return TimeRange(low, high)
