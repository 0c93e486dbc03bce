"""Verdicts on a target from its samples: is it leaking, how fast, when it reaches its limits,
whether GC or a blocked event loop is what hurts. Pure functions over sample series, no I/O.

A heap leak is judged from the post-GC baseline (the heap used right after each major GC), not
from the heap used at each sample, which saws up and down with garbage: over the window, the
baseline's Theil-Sen slope (the median of the slopes between every two points, which a few
outliers do not move) must add up to a rise that stands out of the baseline's own noise, and
the baseline must still be rising in the later half of the window (or memwatch's rule hold:
the last N baselines each rose), so that a program that grew once and levelled off is not
called a leak. Memory outside the V8 heap is judged the same way from the samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from statistics import fmean, median
from typing import Any, Literal, TypeVar

import numpy as np

from memtui.sampler import HeapAfterGc, Sample
from memtui.units import format_bytes, format_duration

MIB = 1 << 20
T = TypeVar("T")
MAX_TREND_POINTS = 120
"""A trend is fitted to at most this many points, evenly spread, so its cost is bounded."""
VERDICT_WINDOW_S = 300.0
"""What `record` judges: the last 5 minutes, the live view's default window."""
RECENT_S = 60.0
"""GC pressure and the event loop are judged over the last minute."""
GC_PRESSURE_SHARE = 0.10
GC_HEAVY_SHARE = 0.30
LOOP_DELAYED_MS = 100.0
LOOP_BLOCKED_MS = 1000.0
LOOP_BUSY_ELU = 0.9
BLOCKED_ELU = 0.99


@dataclass(frozen=True)
class LeakRule:
    """What it takes to call a leak (`--leak-rises` sets `rises_in_a_row`).

    A verdict needs `min_majors` major GCs spanning `min_span_s`; a rise must reach
    `min_rise` bytes, `min_rise_share` of the level and `noise_factor` times the noise; the
    later half must rise at `keeps_rising_share` of the trend's pace, unless the last
    `rises_in_a_row` baselines each rose (memwatch's rule, which had N=5)."""

    min_majors: int = 6
    min_span_s: float = 20.0
    rises_in_a_row: int = 5
    min_rise: int = MIB
    min_rise_share: float = 0.02
    noise_factor: float = 4.0
    min_z: float = 2.5
    """A rise must also be sure by Mann-Kendall's test: z of 2.5 or more (one chance in 160
    for noise; six major GCs, each above the one before, give 2.6)."""
    keeps_rising_share: float = 0.5
    keeps_rising_z: float = 1.0
    """The later half's own rise must reach this z (one chance in 6 for noise alone; the
    whole window must already rise surely). Below it, at the trend's pace, the verdict
    waits for more major GCs rather than say the growth stopped."""
    min_samples: int = 10
    """Samples an off-heap trend needs (off-heap memory is read at each sample)."""
    heap_flat_share: float = 0.25
    """Without a heap verdict, the heap counts as flat next to off-heap growth while its
    samples' trend is below this share of that growth."""
    native_min_rise: int = 8 * MIB
    native_min_rise_share: float = 0.10
    """RSS outside the heap creeps up as a process warms up (code, stacks, allocator
    arenas), so native growth must rise this much, and by this share of the RSS."""


DEFAULT_RULE = LeakRule()


@dataclass(frozen=True)
class Trend:
    """The Theil-Sen line through a series: `slope` in bytes per second and the fitted value
    at `end` (the last point's time), backed by `points` points over `span_s` seconds, which
    lie around the line with a spread of `noise` bytes (1.4826 x the median absolute
    residual, the standard deviation for normal noise)."""

    slope: float
    at_end: float
    end: float
    points: int
    span_s: float
    noise: float
    z: float = 0.0
    """The Mann-Kendall statistic: how many standard deviations the count of rising pairs
    minus falling pairs lies from what noise without a trend gives."""

    @property
    def rise(self) -> float:
        """What the line rises over its span, in bytes."""
        return self.slope * self.span_s

    @property
    def per_minute(self) -> float:
        return self.slope * 60.0


def evenly(items: Sequence[T], count: int) -> list[T]:
    """At most `count` of `items`, evenly spread, always keeping the first and the last."""
    if len(items) <= count or count < 2:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def theil_sen(points: Sequence[tuple[float, float]]) -> Trend | None:
    """The Theil-Sen trend of (time, value) points, oldest first; None without two points at
    different times. Fitted to at most MAX_TREND_POINTS of them."""
    chosen = evenly(points, MAX_TREND_POINTS)
    count = len(chosen)
    if count < 2:
        return None
    t = np.array([p[0] for p in chosen], dtype=np.float64)
    y = np.array([p[1] for p in chosen], dtype=np.float64)
    first, second = _pairs(count)
    dt, dy = t[second] - t[first], y[second] - y[first]
    apart = dt != 0
    if not apart.any():
        return None
    rising = int(np.sign(dy).sum())
    spread = math.sqrt(count * (count - 1) * (2 * count + 5) / 18)
    z = (rising - (rising > 0) + (rising < 0)) / spread
    slope = float(np.median(dy[apart] / dt[apart]))
    end = float(t[-1])
    at_end = float(np.median(y - slope * (t - end)))
    residuals = y - at_end - slope * (t - end)
    noise = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
    return Trend(slope, at_end, end, len(points), end - float(t[0]), noise, z)


@cache
def _pairs(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The indices (i, j) of every pair i < j of `count` points."""
    return np.triu_indices(count, 1)


def rises_in_a_row(values: Sequence[float]) -> int:
    """How many of the latest values each rose above the one before (memwatch's count)."""
    count = 0
    for before, after in zip(reversed(values[:-1]), reversed(values), strict=False):
        if after <= before:
            break
        count += 1
    return count


def _needed_rise(trend: Trend, rule: LeakRule, floor: float = 0.0) -> float:
    """The rise, in bytes, that stands out: `min_rise` (and `floor`), against the level, and
    against the noise."""
    return max(rule.min_rise, floor, rule.min_rise_share * abs(trend.at_end),
               rule.noise_factor * trend.noise)


def _significant(trend: Trend, rule: LeakRule, floor: float = 0.0) -> bool:
    """Whether the trend's rise stands out (see _needed_rise) and is sure by Mann-Kendall."""
    return trend.rise >= _needed_rise(trend, rule, floor) and trend.z >= rule.min_z


TrendDirection = Literal["rising", "flat", "falling"]


def direction(trend: Trend, rule: LeakRule = DEFAULT_RULE) -> TrendDirection:
    """Whether the trend rises or falls by as much as a leak must, or neither."""
    if _significant(trend, rule):
        return "rising"
    if _significant(Trend(-trend.slope, trend.at_end, trend.end, trend.points, trend.span_s,
                          trend.noise), rule):
        return "falling"
    return "flat"


LaterHalf = Literal["rising", "levelled", "unsure"]


def _later_half(points: Sequence[tuple[float, float]], trend: Trend,
                rule: LeakRule) -> LaterHalf:
    """What the later half of the points does: rises at `keeps_rising_share` of the trend's
    pace or more (its own Theil-Sen slope) and surely (`keeps_rising_z`), as a leak does;
    levelled off below that pace, as a heap that grew once does; or neither for sure."""
    later = theil_sen(points[len(points) // 2:])
    if later is None or later.slope < rule.keeps_rising_share * trend.slope:
        return "levelled"
    return "rising" if later.z >= rule.keeps_rising_z else "unsure"


def _grew(points: Sequence[tuple[float, float]], trend: Trend, rule: LeakRule) -> bool:
    """Whether the last third of the points stands significantly above the first third
    (their medians), against the spread of the last third (a plateau's own noise), whatever
    the trend over all of them."""
    third = len(points) // 3
    if third < 1:
        return False
    last = [y for _, y in points[-third:]]
    level = median(last)
    noise = 1.4826 * median(abs(y - level) for y in last)
    step = level - median(y for _, y in points[:third])
    return step >= max(rule.min_rise, rule.min_rise_share * abs(trend.at_end),
                       rule.noise_factor * noise)


class LeakKind(Enum):
    """What the memory trend says."""

    TOO_EARLY = "too_early"
    """Too few major GCs, or over too short a time, to say."""
    NONE = "none"
    """The post-GC baseline is flat or falling, and so is memory outside the heap."""
    PLATEAU = "plateau"
    """The baseline rose, then levelled off: grown once (a cache filled, warm-up), no leak."""
    HEAP = "heap"
    """The post-GC baseline keeps rising: objects in the JavaScript heap leak."""
    OFF_HEAP = "off_heap"
    """Memory outside the V8 heap keeps rising while the heap stays flat."""


class OffHeapSeries(Enum):
    """Where memory outside the V8 heap shows growth, the most specific first."""

    ARRAY_BUFFERS = "array_buffers"
    EXTERNAL = "external"
    NATIVE = "rss_minus_heap"

    @property
    def label(self) -> str:
        return OFF_HEAP_LABELS[self]

    def of(self, sample: Sample) -> int:
        if self is OffHeapSeries.ARRAY_BUFFERS:
            return sample.array_buffers
        if self is OffHeapSeries.EXTERNAL:
            return sample.external
        return sample.rss - sample.heap_total


OFF_HEAP_LABELS = {
    OffHeapSeries.ARRAY_BUFFERS: "array buffers (Buffers, typed arrays)",
    OffHeapSeries.EXTERNAL: "external memory (Buffers, external strings, addons)",
    OffHeapSeries.NATIVE: "native memory (RSS outside the JS heap)",
}


OFF_HEAP_SHORT_LABELS = {
    OffHeapSeries.ARRAY_BUFFERS: "array buffers",
    OffHeapSeries.EXTERNAL: "external",
    OffHeapSeries.NATIVE: "RSS outside the heap",
}


@dataclass(frozen=True)
class OffHeapGrowth:
    """Memory outside the V8 heap that keeps rising: which figure, and its trend."""

    series: OffHeapSeries
    trend: Trend


@dataclass(frozen=True)
class LeakVerdict:
    """The memory verdict over a window, with its evidence: the major GCs in the window
    (`majors`, each a point of the baseline), the baseline's trend, memwatch's count of rises
    in a row, any off-heap growth, and for TOO_EARLY what the verdict waits for."""

    kind: LeakKind
    majors: int
    baseline: Trend | None
    rises_in_a_row: int
    rule: LeakRule
    off_heap: OffHeapGrowth | None = None
    waiting_for: str | None = None

    @property
    def is_leak(self) -> bool:
        return self.kind in (LeakKind.HEAP, LeakKind.OFF_HEAP)

    @property
    def memwatch(self) -> bool:
        """Whether memwatch's rule holds: the last N baselines each rose."""
        return self.rises_in_a_row >= self.rule.rises_in_a_row

    def describe(self) -> str:
        """The verdict in words with its numbers, one line."""
        baseline = self.baseline
        evidence = self._evidence()
        if self.kind is LeakKind.TOO_EARLY:
            text = f"too early to say: {_count(self.majors, 'major GC')} so far"
            if baseline is not None and self.majors >= 2:
                text += f", heap after GC {_rate(baseline.slope)}"
            if self.memwatch:
                text += f", {self.rises_in_a_row} rises in a row"
            return f"{text}; waiting for {self.waiting_for}"
        if self.kind is LeakKind.HEAP and baseline is not None:
            return f"heap leak: heap after GC {_rate(baseline.slope)} ({evidence})"
        if self.kind is LeakKind.OFF_HEAP and self.off_heap is not None:
            return (f"off-heap growth: {self.off_heap.series.label}"
                    f" {_rate(self.off_heap.trend.slope)} over"
                    f" {format_duration(self.off_heap.trend.span_s)}, heap after GC flat")
        if self.kind is LeakKind.PLATEAU and baseline is not None:
            return (f"no leak: the heap grew, then levelled off at"
                    f" {format_bytes(baseline.at_end)} after GC ({evidence})")
        if baseline is None:
            return "no leak: the heap is flat"
        return (f"no leak: heap after GC {format_bytes(baseline.at_end)},"
                f" {_rate(baseline.slope)} ({evidence})")

    def short(self) -> str:
        """The verdict in a few words, for a one-line panel."""
        baseline = self.baseline
        if self.kind is LeakKind.TOO_EARLY:
            if self.majors < self.rule.min_majors:
                return f"too early to say: {self.majors}/{self.rule.min_majors} major GCs"
            return f"too early to say: {self.majors} major GCs, waiting for {self.waiting_for}"
        if self.kind is LeakKind.HEAP and baseline is not None:
            return f"heap leak {_rate(baseline.slope)} after GC ({self.majors} GCs)"
        if self.kind is LeakKind.OFF_HEAP and self.off_heap is not None:
            return (f"off-heap leak: {OFF_HEAP_SHORT_LABELS[self.off_heap.series]}"
                    f" {_rate(self.off_heap.trend.slope)}, heap flat")
        if baseline is None:
            return "no leak"
        if self.kind is LeakKind.PLATEAU:
            return f"no leak: grew, then levelled off at {format_bytes(baseline.at_end)}"
        return (f"no leak: heap after GC {format_bytes(baseline.at_end)}"
                f" ({_rate(baseline.slope)})")

    def _evidence(self) -> str:
        baseline = self.baseline
        if baseline is None:
            return _count(self.majors, "major GC")
        text = f"{_count(self.majors, 'major GC')} over {format_duration(baseline.span_s)}"
        if self.memwatch:
            text += f", {self.rises_in_a_row} rises in a row"
        return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _rate(bytes_per_s: float) -> str:
    """`+12.0 MiB/min`."""
    per_minute = bytes_per_s * 60
    sign = "+" if per_minute >= 0 else "-"
    return f"{sign}{format_bytes(abs(per_minute))}/min"


def baseline_of(samples: Iterable[Sample]) -> list[HeapAfterGc]:
    """The post-GC baseline points the samples carry, oldest first."""
    return [point for sample in samples for point in sample.heap_after_gc]


def leak_verdict(samples: Sequence[Sample], rule: LeakRule = DEFAULT_RULE) -> LeakVerdict:
    """The memory verdict over `samples`, one process's, oldest first: its post-GC baseline
    and, outside the heap, its external memory, array buffers and RSS."""
    points = [(p.t, float(p.heap_used)) for p in baseline_of(samples)]
    trend = theil_sen(points)
    rises = rises_in_a_row([y for _, y in points])
    span = points[-1][0] - points[0][0] if points else 0.0
    thinned = evenly(samples, MAX_TREND_POINTS)
    off_heap = off_heap_growth(thinned, rule)
    if len(points) < rule.min_majors or span < rule.min_span_s:
        if off_heap is not None and _heap_samples_flat(thinned, off_heap, rule):
            return LeakVerdict(LeakKind.OFF_HEAP, len(points), trend, rises, rule, off_heap)
        return LeakVerdict(LeakKind.TOO_EARLY, len(points), trend, rises, rule, off_heap,
                           _waiting_for(len(points), span, rule))
    assert trend is not None
    significant = _significant(trend, rule)
    later = _later_half(points, trend, rule) if significant else "levelled"
    if significant and (later == "rising" or rises >= rule.rises_in_a_row):
        return LeakVerdict(LeakKind.HEAP, len(points), trend, rises, rule, off_heap)
    if later == "unsure" and off_heap is None:
        return LeakVerdict(LeakKind.TOO_EARLY, len(points), trend, rises, rule, off_heap,
                           "more major GCs, to tell a leak from growth that stops")
    if not significant and off_heap is None and _rising_short_of(points, trend, rises, rule):
        return LeakVerdict(LeakKind.TOO_EARLY, len(points), trend, rises, rule, off_heap,
                           f"the rise to reach {format_bytes(_needed_rise(trend, rule))}"
                           f" ({format_bytes(trend.rise)} so far)")
    kind = LeakKind.PLATEAU if significant or _grew(points, trend, rule) else LeakKind.NONE
    if off_heap is not None:
        kind = LeakKind.OFF_HEAP
    return LeakVerdict(kind, len(points), trend, rises, rule, off_heap)


def _rising_short_of(points: Sequence[tuple[float, float]], trend: Trend, rises: int,
                     rule: LeakRule) -> bool:
    """Whether the baseline rises, surely and still in its later half, or by memwatch's
    rule, but by less than a leak must: by half of that or more, so that at this pace it
    gets there within as long again as it has been watched. A slower rise is judged no
    leak, again at each sample, until it reaches half."""
    if trend.rise < _needed_rise(trend, rule) / 2:
        return False
    if rises >= rule.rises_in_a_row:
        return True
    return trend.z >= rule.min_z and _later_half(points, trend, rule) == "rising"


def _waiting_for(majors: int, span: float, rule: LeakRule) -> str:
    """`3 more major GCs`, `major GCs over 12s more`, or both."""
    more = rule.min_majors - majors
    missing_span = math.ceil(rule.min_span_s - span)
    if more > 0 and missing_span > 0:
        return f"{_count(more, 'more major GC')} over {missing_span}s more"
    if more > 0:
        return _count(more, "more major GC")
    return f"major GCs over {missing_span}s more"


def off_heap_growth(samples: Sequence[Sample],
                    rule: LeakRule = DEFAULT_RULE) -> OffHeapGrowth | None:
    """The most specific memory outside the V8 heap that keeps rising over `samples`."""
    if len(samples) < rule.min_samples or samples[-1].t - samples[0].t < rule.min_span_s:
        return None
    native_floor = max(rule.native_min_rise, rule.native_min_rise_share * samples[-1].rss)
    for series in OffHeapSeries:
        points = [(s.t, float(series.of(s))) for s in samples]
        trend = theil_sen(points)
        floor = native_floor if series is OffHeapSeries.NATIVE else 0.0
        if (trend is not None and _significant(trend, rule, floor)
                and _later_half(evenly(points, MAX_TREND_POINTS), trend, rule) == "rising"):
            return OffHeapGrowth(series, trend)
    return None


def _heap_samples_flat(samples: Sequence[Sample], growth: OffHeapGrowth, rule: LeakRule) -> bool:
    """Whether the heap used at each sample rises at less than `heap_flat_share` of the
    off-heap growth (the verdict without enough major GCs to judge the baseline)."""
    trend = theil_sen([(s.t, float(s.heap_used)) for s in samples])
    return trend is None or trend.slope < rule.heap_flat_share * growth.trend.slope


@dataclass(frozen=True)
class TimeToLimits:
    """Seconds until the V8 heap limit (the post-GC baseline's trend) and the container's
    memory limit (RSS's trend) are reached, if the trend holds; None when not leaking, not
    rising or without a limit."""

    heap_limit_s: float | None
    container_limit_s: float | None

    def describe(self) -> str | None:
        parts = []
        if self.heap_limit_s is not None:
            parts.append(f"heap limit in about {format_duration(self.heap_limit_s)}")
        if self.container_limit_s is not None:
            parts.append(f"container limit in about {format_duration(self.container_limit_s)}")
        return ", ".join(parts) or None

    def short(self) -> str | None:
        """The limit reached first: `container limit in ~25m`."""
        limits = [(s, name) for s, name in ((self.heap_limit_s, "heap"),
                                            (self.container_limit_s, "container"))
                  if s is not None]
        if not limits:
            return None
        seconds, name = min(limits)
        return f"{name} limit in ~{format_duration(seconds)}"


def time_to_limits(leak: LeakVerdict, samples: Sequence[Sample],
                   container_limit: int | None) -> TimeToLimits:
    """When the leak's trend reaches the heap limit (a heap leak) and the RSS trend the
    container's memory limit (any leak)."""
    if not leak.is_leak or not samples:
        return TimeToLimits(None, None)
    latest = samples[-1]
    heap_s = None
    if leak.kind is LeakKind.HEAP and leak.baseline is not None and leak.baseline.slope > 0:
        level = leak.baseline.at_end + leak.baseline.slope * (latest.t - leak.baseline.end)
        heap_s = max(0.0, (latest.heap_limit - level) / leak.baseline.slope)
    container_s = None
    if container_limit is not None:
        rss = theil_sen([(s.t, float(s.rss)) for s in evenly(samples, MAX_TREND_POINTS)])
        if rss is not None and rss.slope > 0:
            container_s = max(0.0, (container_limit - latest.rss) / rss.slope)
    return TimeToLimits(heap_s, container_s)


def recent(samples: Sequence[Sample], seconds: float = RECENT_S) -> list[Sample]:
    """The samples of the last `seconds` before the latest one."""
    if not samples:
        return []
    start = len(samples) - 1
    while start > 0 and samples[start - 1].t >= samples[-1].t - seconds:
        start -= 1
    return list(samples[start:])


@dataclass(frozen=True)
class GcLoad:
    """GC over the last minute: the share of wall time paused in it, scavenges (minor GCs)
    and major GCs per second; `pressure` when the share reaches GC_PRESSURE_SHARE."""

    pause_share: float
    scavenges_per_s: float
    majors_per_s: float
    span_s: float

    @property
    def pressure(self) -> bool:
        return self.pause_share >= GC_PRESSURE_SHARE

    def describe(self) -> str:
        share = f"{self.pause_share * 100:.0f}% of the time in GC"
        rates = f"{self.scavenges_per_s:.1f} scavenges/s, {self.majors_per_s:.2f} major GCs/s"
        if self.pressure:
            return f"GC pressure: {share}, {rates} (garbage churn, not a leak by itself)"
        return f"GC: {share}, {rates}"

    def short(self) -> str:
        return f"{'GC pressure' if self.pressure else 'GC'} {self.pause_share * 100:.0f}%"


def gc_load(samples: Sequence[Sample]) -> GcLoad | None:
    """GC over the last minute of `samples`; None until two samples exist."""
    span = recent(samples)
    if len(span) < 2 or span[-1].t <= span[0].t:
        return None
    first, last = span[0], span[-1]
    elapsed = last.t - first.t
    return GcLoad(
        pause_share=min(1.0, max(0.0, (last.gc_pause_ms - first.gc_pause_ms) / 1000 / elapsed)),
        scavenges_per_s=max(0, last.gc.minor - first.gc.minor) / elapsed,
        majors_per_s=max(0, last.gc.major - first.gc.major) / elapsed,
        span_s=elapsed,
    )


class LoopState(Enum):
    """What the event loop's delay and utilisation say, worst first."""

    BLOCKED = "blocked"
    """Timers ran a second or more late: something held the loop that long at a time."""
    DELAYED = "delayed"
    """Timers ran 100 ms or more late (p99): requests wait that long."""
    BUSY = "busy"
    """Running most of the time but turning often: short delays, high utilisation."""
    OK = "ok"


@dataclass(frozen=True)
class LoopVerdict:
    """The event loop over the last minute: the highest per-sample delay p99 and max, the
    mean utilisation, and for a block still running how long it has lasted."""

    state: LoopState
    p99_ms: float | None
    max_ms: float | None
    elu: float | None
    blocked_for_s: float | None = None

    def describe(self) -> str:
        if self.state is LoopState.BLOCKED:
            if self.blocked_for_s is not None:
                return (f"event loop blocked for {format_duration(self.blocked_for_s)}"
                        " so far (no timer has run)")
            return f"event loop blocked up to {_delay(self.max_ms)} at a time"
        if self.state is LoopState.DELAYED:
            return f"event loop delayed: p99 {_delay(self.p99_ms)}, max {_delay(self.max_ms)}"
        busy = "" if self.elu is None else f"{self.elu * 100:.0f}% busy, "
        if self.state is LoopState.BUSY:
            return f"event loop busy: {busy}delays short (max {_delay(self.max_ms)})"
        return f"event loop ok: {busy}max delay {_delay(self.max_ms)}"

    def short(self) -> str:
        if self.state is LoopState.BLOCKED:
            if self.blocked_for_s is not None:
                return f"loop blocked for {format_duration(self.blocked_for_s)}"
            return f"loop blocked up to {_delay(self.max_ms)}"
        if self.state is LoopState.DELAYED:
            return f"loop delayed, p99 {_delay(self.p99_ms)}"
        if self.state is LoopState.BUSY and self.elu is not None:
            return f"loop busy {self.elu * 100:.0f}%"
        return "loop ok"


def _delay(ms: float | None) -> str:
    """`8ms`, `250ms`, `3.0s`; `—` when unknown."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return format_duration(ms / 1000) if ms >= 60_000 else f"{ms / 1000:.1f}s"


def loop_verdict(samples: Sequence[Sample]) -> LoopVerdict | None:
    """The event loop over the last minute of `samples`; None without a sample.

    A loop blocked right now shows no delay (none ended), only full utilisation: the
    samples since the last one with a delay, all fully busy, tell how long it has lasted."""
    span = recent(samples)
    if not span:
        return None
    p99 = _highest(s.eld_p99_ms for s in span)
    worst = _highest(s.eld_max_ms for s in span)
    elus = [s.elu for s in span if s.elu is not None]
    elu = fmean(elus) if elus else None
    blocked_since = None
    for before, sample in zip(reversed(span[:-1]), reversed(span), strict=False):
        if sample.eld_max_ms is not None or sample.elu is None or sample.elu < BLOCKED_ELU:
            break
        blocked_since = before.t
    if blocked_since is not None and len(span) >= 3 and span[-1].t - blocked_since >= 2.0:
        return LoopVerdict(LoopState.BLOCKED, p99, worst, elu, span[-1].t - blocked_since)
    if worst is not None and worst >= LOOP_BLOCKED_MS:
        state = LoopState.BLOCKED
    elif p99 is not None and p99 >= LOOP_DELAYED_MS:
        state = LoopState.DELAYED
    elif elu is not None and elu >= LOOP_BUSY_ELU:
        state = LoopState.BUSY
    else:
        state = LoopState.OK
    return LoopVerdict(state, p99, worst, elu)


def _highest(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@dataclass(frozen=True)
class Verdicts:
    """Every verdict over one window of one process."""

    leak: LeakVerdict
    limits: TimeToLimits
    gc: GcLoad | None
    loop: LoopVerdict | None

    def lines(self) -> list[str]:
        """Each verdict in words: memory, limits (when leaking), GC, event loop."""
        lines = [self.leak.describe()]
        limits = self.limits.describe()
        if limits is not None:
            lines.append(limits)
        if self.gc is not None:
            lines.append(self.gc.describe())
        if self.loop is not None:
            lines.append(self.loop.describe())
        return lines


    def record(self) -> dict[str, Any]:
        """The `verdict` object of a `record` sample: kinds as their names, rates in bytes
        per second (integers), times in seconds, and the verdicts in words."""
        leak, baseline, off_heap = self.leak, self.leak.baseline, self.leak.off_heap
        return {
            "leak": leak.kind.value,
            "majors": leak.majors,
            "heap_after_gc_per_s": None if baseline is None else round(baseline.slope),
            "heap_after_gc_span_s": None if baseline is None else round(baseline.span_s, 3),
            "rises_in_a_row": leak.rises_in_a_row,
            "waiting_for": leak.waiting_for,
            "off_heap": None if off_heap is None else off_heap.series.value,
            "off_heap_per_s": None if off_heap is None else round(off_heap.trend.slope),
            "heap_limit_in_s": _rounded(self.limits.heap_limit_s),
            "container_limit_in_s": _rounded(self.limits.container_limit_s),
            "gc_pressure": None if self.gc is None else self.gc.pressure,
            "gc_pause_share": None if self.gc is None else round(self.gc.pause_share, 4),
            "scavenges_per_s": None if self.gc is None else round(self.gc.scavenges_per_s, 3),
            "event_loop": None if self.loop is None else self.loop.state.value,
            "summary": "; ".join(self.lines()),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def current_run(samples: Sequence[Sample]) -> list[Sample]:
    """The samples of the latest process (a followed service has several, one after the
    other)."""
    if not samples:
        return []
    pid = samples[-1].pid
    start = len(samples)
    while start > 0 and samples[start - 1].pid == pid:
        start -= 1
    return list(samples[start:])


def assess(samples: Sequence[Sample], container_limit: int | None,
           rule: LeakRule = DEFAULT_RULE) -> Verdicts:
    """Every verdict over `samples` (a window, oldest first); only the latest process's
    samples count."""
    run = current_run(samples)
    leak = leak_verdict(run, rule)
    return Verdicts(leak, time_to_limits(leak, run, container_limit), gc_load(run),
                    loop_verdict(run))
