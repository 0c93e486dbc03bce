"""Periodic samples of a target's memory and GC activity, kept in a bounded history."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

GcKind = Literal["minor", "major", "incremental", "weakcb"]
GC_KINDS: tuple[GcKind, ...] = ("minor", "major", "incremental", "weakcb")


@dataclass(frozen=True)
class GcCounters:
    """Collections by kind, cumulative since attach."""

    minor: int = 0
    major: int = 0
    incremental: int = 0
    weakcb: int = 0

    def __add__(self, other: GcCounters) -> GcCounters:
        """The counts of both, kind by kind."""
        return GcCounters(*(getattr(self, kind) + getattr(other, kind) for kind in GC_KINDS))


@dataclass(frozen=True)
class HeapSpace:
    """One V8 heap space (new_space, old_space, ...)."""

    name: str
    size: int
    used: int
    available: int


@dataclass(frozen=True)
class HeapAfterGc:
    """The heap used right after a major (mark-sweep) GC, without the young generation, and
    when that GC ended (epoch s; for one the probe's observer did not see, when the probe
    learned of it, within one event-loop turn)."""

    t: float
    heap_used: int


@dataclass(frozen=True)
class Sample:
    """One reading of the target: bytes as integers, GC counts and pause time since attach.

    `heap_after_gc` holds the major GCs since the previous sample, oldest first (the probe
    keeps the latest 64). `gc_estimated` names the kinds whose count grew by an estimate since
    the previous sample, `gc_pause_estimated` says the same of the pause time (the probe
    observes every collection only while there are at most 15 a second). `eld_p99_ms` and
    `eld_max_ms` are how late the event loop ran a 10 ms timer, over the delays that ended
    since the previous sample (None when none did: the loop was blocked throughout).
    """

    t: float
    pid: int
    rss: int
    heap_total: int
    heap_used: int
    external: int
    array_buffers: int
    heap_limit: int
    gc: GcCounters
    gc_pause_ms: float
    elu: float | None
    cpu_percent: float | None
    heap_spaces: tuple[HeapSpace, ...] = field(default=(), compare=False)
    heap_after_gc: tuple[HeapAfterGc, ...] = ()
    gc_estimated: frozenset[GcKind] = frozenset()
    gc_pause_estimated: bool = False
    eld_p99_ms: float | None = None
    eld_max_ms: float | None = None

    def record(self) -> dict[str, Any]:
        """The `record --format jsonl` object: the contract's keys, without heap spaces."""
        return {
            "t": self.t, "pid": self.pid, "rss": self.rss, "heap_total": self.heap_total,
            "heap_used": self.heap_used, "external": self.external,
            "array_buffers": self.array_buffers, "heap_limit": self.heap_limit,
            "heap_after_gc": [asdict(point) for point in self.heap_after_gc],
            "gc": asdict(self.gc),
            "gc_estimated": {kind: kind in self.gc_estimated for kind in GC_KINDS},
            "gc_pause_ms": round(self.gc_pause_ms, 3),
            "gc_pause_estimated": self.gc_pause_estimated,
            "elu": self.elu,
            "eld_p99_ms": _rounded(self.eld_p99_ms),
            "eld_max_ms": _rounded(self.eld_max_ms),
            "cpu_percent": self.cpu_percent,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class History:
    """The most recent samples and post-GC heap baselines, each bounded to `maxlen` so memory
    does not grow with run time."""

    def __init__(self, maxlen: int = 86_400):
        self._samples: deque[Sample] = deque(maxlen=maxlen)
        self._heap_after_gc: deque[HeapAfterGc] = deque(maxlen=maxlen)

    def append(self, sample: Sample) -> None:
        self._samples.append(sample)
        self._heap_after_gc.extend(sample.heap_after_gc)

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    @property
    def latest(self) -> Sample | None:
        return self._samples[-1] if self._samples else None

    def since(self, t: float) -> list[Sample]:
        """Samples taken at or after time `t`."""
        return [s for s in self._samples if s.t >= t]

    def heap_after_gc(self, since: float = float("-inf")) -> list[HeapAfterGc]:
        """The post-GC baseline: the heap used after each major GC that ended at or after
        `since`, oldest first."""
        return [point for point in self._heap_after_gc if point.t >= since]
