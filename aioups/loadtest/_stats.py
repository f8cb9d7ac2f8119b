"""Counting a load run: latencies, errors by status and by exception, progress snapshots."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, final


def percentile(ordered: array[float] | list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (``nan`` when empty)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@final
class Recorder:
    """Latencies (seconds) of completed operations and what went wrong with the others."""

    def __init__(self) -> None:
        self.latencies: array[float] = array("d")
        self.statuses: Counter[str] = Counter()
        self.exceptions: Counter[str] = Counter()
        self.requests = 0
        self.completed = 0
        self.failed = 0

    def success(self, latency: float, requests: int = 1) -> None:
        self.latencies.append(latency)
        self.completed += 1
        self.requests += requests

    def failure_status(self, status: int, requests: int = 1) -> None:
        self.statuses[f"{status:04X}"] += 1
        self.failed += 1
        self.requests += requests

    def failure_exception(self, exc: BaseException) -> None:
        self.exceptions[type(exc).__name__] += 1
        self.failed += 1

    @property
    def done(self) -> int:
        return self.completed + self.failed


@final
@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Percentiles in milliseconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, latencies: array[float] | list[float]) -> LatencySummary:
        ordered = sorted(latencies)
        mean = sum(ordered) / len(ordered) if ordered else math.nan
        return cls(count=len(ordered), p50=percentile(ordered, 0.5) * 1000,
                   p90=percentile(ordered, 0.9) * 1000, p99=percentile(ordered, 0.99) * 1000,
                   max=(ordered[-1] if ordered else math.nan) * 1000, mean=mean * 1000)


@final
@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load run measured."""

    scenario: str
    associations: int
    elapsed: float
    operations: int
    failed: int
    requests: int
    latency: LatencySummary
    statuses: dict[str, int] = field(default_factory=dict)
    exceptions: dict[str, int] = field(default_factory=dict)
    #: operations per second offered (open loop), ``None`` for a closed loop
    target_rate: float | None = None
    #: subscribe-storm: events received, expected, and their latency
    events: int | None = None
    events_expected: int | None = None
    event_latency: LatencySummary | None = None

    @property
    def rate(self) -> float:
        """Completed operations per second."""
        return (self.operations - self.failed) / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``aioups load --json``)."""
        out: dict[str, Any] = {
            "scenario": self.scenario, "associations": self.associations,
            "elapsed_s": round(self.elapsed, 4), "operations": self.operations,
            "succeeded": self.operations - self.failed, "failed": self.failed,
            "requests": self.requests, "ops_per_s": round(self.rate, 1),
            "requests_per_s": round(self.requests / self.elapsed, 1) if self.elapsed else 0,
            "target_rate": self.target_rate,
            "latency_ms": _rounded(self.latency),
            "errors": {"by_status": self.statuses, "by_exception": self.exceptions},
        }
        if self.events is not None:
            out["events"] = {"received": self.events, "expected": self.events_expected,
                             "latency_ms": _rounded(self.event_latency)}
        return out


def _rounded(summary: LatencySummary | None) -> dict[str, float | int | None] | None:
    if summary is None:
        return None

    def r(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 3)

    return {"count": summary.count, "p50": r(summary.p50), "p90": r(summary.p90),
            "p99": r(summary.p99), "max": r(summary.max), "mean": r(summary.mean)}
