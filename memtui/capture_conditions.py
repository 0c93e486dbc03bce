"""The conditions of `--snapshot-on`: parsed once, then checked against each sample.

A condition is `METRIC>SIZE`, `METRIC>=SIZE` or `METRIC>N%limit` (also with `>=`): METRIC is
a figure of the sample, SIZE a number with a unit (`1.5GiB`), `N%limit` a share of the
metric's limit (the V8 heap limit for the heap figures, the container's memory limit for
RSS). Or `leak`: the leak verdict (memtui.verdict) is a leak, on the heap or off it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from memtui.sampler import Sample
from memtui.units import format_bytes
from memtui.verdict import LeakVerdict

MetricName = Literal["heap_used", "heap_total", "rss", "external", "array_buffers",
                     "heap_after_gc"]
METRIC_NAMES: tuple[MetricName, ...] = ("heap_used", "heap_total", "rss", "external",
                                        "array_buffers", "heap_after_gc")
Comparator = Literal[">", ">="]
LABELS: dict[MetricName, str] = {
    "heap_used": "heap used", "heap_total": "heap total", "rss": "RSS", "external": "external",
    "array_buffers": "array buffers", "heap_after_gc": "heap after GC",
}
LimitKind = Literal["heap", "container"]
LIMIT_OF: dict[MetricName, LimitKind] = {
    "heap_used": "heap", "heap_total": "heap", "heap_after_gc": "heap", "rss": "container",
}
UNIT_BYTES = {"b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
              "kb": 10**3, "mb": 10**6, "gb": 10**9}
ACCEPTED = ("accepted: METRIC>SIZE, METRIC>=SIZE or METRIC>N%limit, METRIC one of "
            + ", ".join(METRIC_NAMES) + "; SIZE a number with B, KiB, MiB, GiB, KB, MB or GB; "
            "limit: the V8 heap limit for heap_*, the container memory limit for rss; or "
            "leak")

_CONDITION = re.compile(r"\s*([A-Za-z_]+)\s*(>=|>|<=|<|=)?\s*(.*?)\s*")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)")
_SHARE = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*limit", re.IGNORECASE)


class ConditionError(ValueError):
    """A `--snapshot-on` text that is not a condition; the message says what is accepted."""


@dataclass(frozen=True)
class Reading:
    """What a condition is checked against: the latest sample, the heap after the latest
    major GC known (None before the first), the container's memory limit (None: none), and
    the leak verdict, for `leak` (None: not judged)."""

    sample: Sample
    heap_after_gc: int | None
    container_limit: int | None
    leak: LeakVerdict | None = None


@dataclass(frozen=True)
class MetricCondition:
    """`metric comparator threshold`, the threshold in bytes or as a share of the limit."""

    text: str
    metric: MetricName
    comparator: Comparator
    size: int | None = None
    share_of_limit: float | None = None

    @property
    def needs_container_limit(self) -> bool:
        return self.share_of_limit is not None and LIMIT_OF[self.metric] == "container"

    def evidence(self, reading: Reading) -> str | None:
        """`heap used 1.6 GiB > 1.5 GiB` when the condition holds for `reading`, else None."""
        value = (reading.heap_after_gc if self.metric == "heap_after_gc"
                 else getattr(reading.sample, self.metric))
        threshold = self._threshold(reading)
        if value is None or threshold is None:
            return None
        holds = value > threshold if self.comparator == ">" else value >= threshold
        if not holds:
            return None
        of_limit = ("" if self.share_of_limit is None
                    else f" ({self.share_of_limit:g}% of the limit)")
        return (f"{LABELS[self.metric]} {format_bytes(value)} {self.comparator} "
                f"{format_bytes(threshold)}{of_limit}")

    def _threshold(self, reading: Reading) -> float | None:
        if self.share_of_limit is None:
            return self.size
        limit = (reading.sample.heap_limit if LIMIT_OF[self.metric] == "heap"
                 else reading.container_limit)
        return None if limit is None else limit * self.share_of_limit / 100


@dataclass(frozen=True)
class LeakCondition:
    """`leak`: the reading's leak verdict is a leak."""

    text: str = "leak"
    needs_container_limit: bool = False

    def evidence(self, reading: Reading) -> str | None:
        """The verdict in words (`heap leak: heap after GC +12.0 MiB/min (...)`) when it is a
        leak, else None."""
        verdict = reading.leak
        return verdict.describe() if verdict is not None and verdict.is_leak else None


Condition = MetricCondition | LeakCondition


def parse_condition(text: str) -> Condition:
    """The condition `text` says; ConditionError, saying what is accepted, when it is none."""
    if text.strip() == "leak":
        return LeakCondition()
    whole = _CONDITION.fullmatch(text)
    if whole is None or not text.strip():
        raise ConditionError(f"not a condition: {text!r} ({ACCEPTED})")
    name, comparator, threshold = whole.groups()
    if name not in METRIC_NAMES:
        raise ConditionError(f"unknown metric {name!r} in {text!r} ({ACCEPTED})")
    metric = cast(MetricName, name)
    if comparator not in (">", ">="):
        found = f"comparator {comparator!r}" if comparator else "no comparator"
        raise ConditionError(f"{found} in {text!r}: only > and >= ({ACCEPTED})")
    comparator = cast(Comparator, comparator)
    share = _SHARE.fullmatch(threshold)
    if share is not None:
        if metric not in LIMIT_OF:
            raise ConditionError(f"{metric} has no limit, in {text!r}: give a size ({ACCEPTED})")
        percent = float(share.group(1))
        if not 0 < percent <= 100:
            raise ConditionError(f"the share of the limit must be above 0 and at most 100%, "
                                 f"in {text!r} ({ACCEPTED})")
        return MetricCondition(_normal(metric, comparator, f"{percent:g}%limit"), metric,
                               comparator, share_of_limit=percent)
    size = _SIZE.fullmatch(threshold)
    if size is None or size.group(2).lower() not in UNIT_BYTES:
        raise ConditionError(f"not a size or share of the limit: {threshold!r} in {text!r} "
                             f"({ACCEPTED})")
    number, unit = size.groups()
    return MetricCondition(_normal(metric, comparator, number + unit), metric, comparator,
                           size=round(float(number) * UNIT_BYTES[unit.lower()]))


def _normal(metric: str, comparator: str, threshold: str) -> str:
    return f"{metric}{comparator}{threshold}"
