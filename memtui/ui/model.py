"""What the monitor screen shows, computed from samples by pure functions (no Textual here)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memtui.events import WorkerState
from memtui.sampler import GC_KINDS, GcKind, History, Sample
from memtui.units import format_duration
from memtui.verdict import Trend, TrendDirection, direction, theil_sen


@dataclass(frozen=True)
class TimeWindow:
    """How much history the sparklines, deltas and chart cover (`seconds` None: all of it)."""

    label: str
    seconds: float | None


WINDOWS = (
    TimeWindow("1 min", 60.0),
    TimeWindow("5 min", 300.0),
    TimeWindow("15 min", 900.0),
    TimeWindow("all", None),
)


@dataclass(frozen=True)
class Metric:
    """One memory figure of a Sample: the attribute that holds it and the label shown."""

    field: str
    label: str

    def of(self, sample: Sample) -> int:
        return getattr(sample, self.field)


RSS = Metric("rss", "RSS")
HEAP_TOTAL = Metric("heap_total", "heap total")
HEAP_USED = Metric("heap_used", "heap used")
EXTERNAL = Metric("external", "external")
ARRAY_BUFFERS = Metric("array_buffers", "array buffers")
METRICS = (RSS, HEAP_TOTAL, HEAP_USED, EXTERNAL, ARRAY_BUFFERS)

CHART_METRIC_SETS: tuple[tuple[Metric, ...], ...] = (
    (HEAP_USED, HEAP_TOTAL, RSS),
    (HEAP_USED,),
    (HEAP_TOTAL,),
    (RSS,),
    (EXTERNAL, ARRAY_BUFFERS),
)
"""What `c` cycles through; the first, the default, also draws off-heap memory that grows most
(see `chart_metrics`)."""
OFF_HEAP_METRICS = (EXTERNAL, ARRAY_BUFFERS)
OFF_HEAP_NOTICEABLE = 1024 * 1024
"""Growth over the window below which off-heap memory is not added to the default chart."""

GC_RATE_SPAN = 10.0


@dataclass(frozen=True)
class MetricSummary:
    """A metric's latest value, its trend over the window (the Theil-Sen slope, robust to a
    warm-up at the start or a spike at the end, unlike last minus first; None with fewer than
    two samples) and whether that trend stands out of the noise, and its sparkline points."""

    metric: Metric
    current: int
    trend: Trend | None
    direction: TrendDirection
    points: tuple[float, ...]

    @property
    def extent(self) -> float:
        """What the sparkline's full height stands for: its highest minus its lowest point."""
        return max(self.points) - min(self.points) if self.points else 0.0


@dataclass(frozen=True)
class GcActivity:
    """Collections per second by kind, share of wall time paused in GC (with the figures that
    include an estimate), ELU, event-loop delay (the highest per-sample p99 and max) and CPU."""

    per_second: dict[GcKind, float]
    pause_share: float
    elu: float | None
    cpu_percent: float | None
    estimated: frozenset[GcKind] = frozenset()
    pause_estimated: bool = False
    loop_delay_p99_ms: float | None = None
    loop_delay_max_ms: float | None = None


@dataclass(frozen=True)
class Marker:
    """A labelled instant drawn as a vertical line on the chart; `user` if dropped with `m`."""

    t: float
    label: str
    user: bool = False


def visible_samples(history: History, window: TimeWindow, end: float | None) -> list[Sample]:
    """Samples in the window ending at `end` (None: the latest sample)."""
    latest = history.latest
    if latest is None:
        return []
    end = latest.t if end is None else end
    start = float("-inf") if window.seconds is None else end - window.seconds
    return [s for s in history.since(start) if s.t <= end]


def covered_label(samples: Sequence[Sample], window: TimeWindow, oldest: float) -> str:
    """What the deltas and sparklines of `samples` cover: the window's name once the history
    (whose first sample was taken at `oldest`) fills the window, else the time the samples
    span (`45s`), so a young history is not read as a whole window."""
    if not samples:
        return window.label
    span = samples[-1].t - samples[0].t
    if window.seconds is not None and (oldest < samples[0].t or span >= window.seconds):
        return window.label
    return format_duration(span)


def downsample(samples: Sequence[Sample], max_points: int) -> list[Sample]:
    """At most `max_points` samples, evenly spread, always keeping the first and the last."""
    count = len(samples)
    if count <= max_points or max_points < 2:
        return list(samples)
    step = (count - 1) / (max_points - 1)
    return [samples[round(i * step)] for i in range(max_points)]


def summarize(samples: Sequence[Sample], max_points: int = 240) -> tuple[MetricSummary, ...]:
    """One summary per metric of METRICS; empty when there are no samples."""
    if not samples:
        return ()
    points = downsample(samples, max_points)
    summaries = []
    for metric in METRICS:
        trend = theil_sen([(s.t, float(metric.of(s))) for s in points])
        summaries.append(MetricSummary(
            metric=metric,
            current=metric.of(samples[-1]),
            trend=trend,
            direction="flat" if trend is None else direction(trend),
            points=tuple(float(metric.of(s)) for s in points),
        ))
    return tuple(summaries)


def gc_activity(samples: Sequence[Sample], span: float = GC_RATE_SPAN) -> GcActivity | None:
    """GC rates over the last `span` seconds of samples; None until two samples exist. The
    estimates and loop delays are those the samples after the span's first one carry."""
    if len(samples) < 2:
        return None
    last = samples[-1]
    start = next((i for i in range(len(samples) - 2, -1, -1) if last.t - samples[i].t >= span),
                 0)
    first = samples[start]
    elapsed = last.t - first.t
    if elapsed <= 0:
        return None
    per_second = {
        kind: (getattr(last.gc, kind) - getattr(first.gc, kind)) / elapsed for kind in GC_KINDS
    }
    pause_share = max(0.0, (last.gc_pause_ms - first.gc_pause_ms) / 1000.0 / elapsed)
    span_samples = samples[start + 1:]
    return GcActivity(
        per_second, min(pause_share, 1.0), last.elu, last.cpu_percent,
        estimated=frozenset().union(*(s.gc_estimated for s in span_samples)),
        pause_estimated=any(s.gc_pause_estimated for s in span_samples),
        loop_delay_p99_ms=_highest(s.eld_p99_ms for s in span_samples),
        loop_delay_max_ms=_highest(s.eld_max_ms for s in span_samples),
    )


def _highest(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def chart_metrics(set_index: int, samples: Sequence[Sample]) -> tuple[Metric, ...]:
    """The metrics the chart draws for CHART_METRIC_SETS[set_index] over `samples`.

    The default set adds the off-heap figure (external or array buffers) that grew most over
    the samples, when it grew by OFF_HEAP_NOTICEABLE or more and more than each heap figure:
    in an off-heap leak the heap lines lie flat while RSS climbs, and this line shows why.
    """
    chosen = CHART_METRIC_SETS[set_index]
    if set_index != 0 or len(samples) < 2:
        return chosen
    first, last = samples[0], samples[-1]

    def growth(metric: Metric) -> int:
        return metric.of(last) - metric.of(first)

    off_heap = max(OFF_HEAP_METRICS, key=growth)
    grown = growth(off_heap)
    if grown >= OFF_HEAP_NOTICEABLE and all(grown > growth(m) for m in (HEAP_USED, HEAP_TOTAL)):
        return (*chosen, off_heap)
    return chosen


Severity = Literal["info", "good", "warning", "error"]
MessageKind = Literal["state", "reply", "result"]
"""How a status message is shown. `state`: the target's state changed (attached, responsive
again); it waits while a result is held. `reply`: answers a key the user pressed; shown at
once. `result`: an outcome the user must read (a saved snapshot's path, what a GC freed, a
failure); shown at once and held against state messages for a while."""


@dataclass(frozen=True)
class StatusMessage:
    """One message of the status line and the message log, said at wall time `at`; `path`
    is shown after `text`, shortened to fit from its middle or start, never its end."""

    at: float
    text: str
    severity: Severity = "info"
    kind: MessageKind = "reply"
    path: str | None = None

    @property
    def full_text(self) -> str:
        return self.text + (self.path or "")


def clock_time(t: float) -> str:
    """`t` as the local time of day, `18:58:12`."""
    return time.strftime("%H:%M:%S", time.localtime(t))


def display_path(path: Path) -> str:
    """`path` relative to the current directory when it lies below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def shorten_path(path: str, width: int) -> str:
    """`path` in at most `width` characters, keeping its end (the part of a snapshot's name
    that tells it from the others): whole when it fits, else with the directories nearest
    the file replaced by `…`, else `…` followed by its last characters."""
    if len(path) <= width:
        return path
    if width < 1:
        return ""
    head, slash, name = path.rpartition("/")
    if slash:
        directories = head.split("/")
        for kept in range(len(directories) - 1, 0, -1):
            shortened = "/".join(directories[:kept]) + "/…/" + name
            if len(shortened) <= width:
                return shortened
        if len(name) + 2 <= width:
            return "…/" + name
    return "…" + path[len(path) - width + 1:]


ThreadId = str | None
"""A thread of the target: a worker thread's threadId, None for the main thread."""


@dataclass(frozen=True)
class ThreadRow:
    """One row of the threads panel: a thread's heap (its own isolate's) and GC activity."""

    thread: ThreadId
    name: str
    state: WorkerState
    heap_used: int | None
    heap_total: int | None
    heap_limit: int | None
    heap_change: int | None
    """Heap used now minus at the window's start (None with fewer than two samples)."""
    gc: GcActivity | None


def thread_row(thread: ThreadId, name: str, state: WorkerState,
               samples: Sequence[Sample]) -> ThreadRow:
    """The row of a thread from its samples in the window, oldest first."""
    if not samples:
        return ThreadRow(thread, name, state, None, None, None, None, None)
    last = samples[-1]
    return ThreadRow(
        thread, name, state, last.heap_used, last.heap_total, last.heap_limit,
        heap_change=last.heap_used - samples[0].heap_used if len(samples) >= 2 else None,
        gc=gc_activity(samples),
    )
