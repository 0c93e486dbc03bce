"""What a live monitor reports, as small frozen dataclasses (consumed by the CLI and the UI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memtui.container import Container
from memtui.node_worker import WorkerInfo
from memtui.sampler import Sample
from memtui.target_exit import ExitReason
from memtui.units import format_bytes

InspectorState = Literal["opened by memtui", "kept open", "already open"]
"""Who opened the inspector memtui reaches the target through, and what happens on exit."""


@dataclass(frozen=True)
class TargetInfo:
    """Static facts about the monitored process, shown in the header."""

    pid: int
    command: str
    node_version: str
    started_at: float
    heap_limit: int
    container_limit: int | None
    inspector: InspectorState
    address: str
    """Where the inspector listens, HOST:PORT (its bound address: 0.0.0.0 for all)."""
    loopback_only: bool
    container: Container | None = None
    moved_from: int | None = None
    """The port memtui's SIGUSR1 opened the inspector on before moving it (to free it)."""
    netns_inode: int | None = None
    """Its network namespace's inode, when not memtui's."""


@dataclass(frozen=True)
class SampleTaken:
    sample: Sample


@dataclass(frozen=True)
class Unresponsive:
    """The target stopped answering (event loop blocked) since time `since`."""

    since: float


@dataclass(frozen=True)
class Responsive:
    """The target answers again after being unresponsive."""

    at: float


@dataclass(frozen=True)
class TargetExited:
    at: float
    reason: ExitReason


@dataclass(frozen=True)
class ConnectionLost:
    at: float
    reason: str


@dataclass(frozen=True)
class StillReconnecting:
    """The target lives but memtui could not connect again since `since`; repeated every
    few seconds while that lasts."""

    since: float
    reason: str


@dataclass(frozen=True)
class Reconnected:
    at: float


@dataclass(frozen=True)
class Restarted:
    """The target exited and memtui attached to its successor (`--follow`)."""

    at: float
    old_pid: int
    new_pid: int
    reason: ExitReason
    """How the old process ended."""

    def describe(self) -> str:
        """`restarted: pid 1234 -> 1301 (exited with code 1)`"""
        return f"restarted: pid {self.old_pid} -> {self.new_pid} ({self.reason.short()})"


WorkerState = Literal["attaching", "live", "unresponsive"]
"""A worker thread's: its probe not answered yet, sampled, or not answering (blocked)."""


@dataclass(frozen=True)
class WorkerView:
    """What is known of one worker thread: its two latest samples (heap figures of its own
    isolate, `rss` the whole process's), and the probe's last failure there."""

    info: WorkerInfo
    state: WorkerState
    latest: Sample | None
    previous: Sample | None
    error: str | None


@dataclass(frozen=True)
class WorkerAppeared:
    """A worker thread started, or was running when memtui attached."""

    at: float
    worker: WorkerInfo


@dataclass(frozen=True)
class WorkerLeft:
    """A worker thread exited (or its session ended)."""

    at: float
    worker: WorkerInfo


@dataclass(frozen=True)
class WorkersSampled:
    """Every worker thread after one round of sampling, in thread id order."""

    at: float
    workers: tuple[WorkerView, ...]


MonitorEvent = (SampleTaken | Unresponsive | Responsive | TargetExited | ConnectionLost
                | StillReconnecting | Reconnected | Restarted | WorkerAppeared | WorkerLeft
                | WorkersSampled)


@dataclass(frozen=True)
class GcResult:
    """A forced full GC: heap used before and after, and how long the call took."""

    heap_used_before: int
    heap_used_after: int
    duration_s: float

    @property
    def freed(self) -> int:
        return self.heap_used_before - self.heap_used_after


@dataclass(frozen=True)
class SnapshotProgress:
    done: int
    total: int
    bytes_written: int


@dataclass(frozen=True)
class SnapshotRisk:
    """Estimate of the extra memory a capture needs, against what is available."""

    estimated_extra: int
    available: int | None
    risky: bool
    reason: str


@dataclass(frozen=True)
class SnapshotSaved:
    """A captured snapshot, and what it cost the target: the pause (from the request to the
    last chunk: V8 builds and serialises on the target's main thread) and its RSS before,
    at its highest during the capture, and after (it often stays up)."""

    path: Path
    size: int
    taken_at: float
    duration_s: float
    rss_before: int | None = None
    rss_peak: int | None = None
    rss_after: int | None = None
    worker: str | None = None
    """The worker thread's id; None for the main thread."""

    def cost(self) -> str:
        """`paused the target 2.1s; its RSS 200.0 MiB -> 1.3 GiB at the peak, 900.0 MiB after`"""
        paused = "the target" if self.worker is None else f"worker {self.worker}"
        text = f"paused {paused} {self.duration_s:.1f}s"
        if self.rss_before is not None and self.rss_peak is not None:
            text += (f"; its RSS {format_bytes(self.rss_before)} -> "
                     f"{format_bytes(self.rss_peak)} at the peak")
            if self.rss_after is not None:
                text += f", {format_bytes(self.rss_after)} after"
        return text
