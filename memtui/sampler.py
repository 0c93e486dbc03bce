"""Periodic samples of a target's memory and GC activity, kept in a bounded history."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

GC_KINDS = ("minor", "major", "incremental", "weakcb")


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
class Sample:
    """One reading of the target: bytes as integers, GC counts and pause time since attach."""

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

    def record(self) -> dict:
        """The `record --format jsonl` object: the contract's keys, without heap spaces."""
        data = asdict(self)
        del data["heap_spaces"]
        data["gc_pause_ms"] = round(self.gc_pause_ms, 3)
        return data


class History:
    """The most recent samples, bounded so memory does not grow with run time."""

    def __init__(self, maxlen: int = 86_400):
        self._samples: deque[Sample] = deque(maxlen=maxlen)

    def append(self, sample: Sample) -> None:
        self._samples.append(sample)

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
