"""What a live monitor reports, as small frozen dataclasses (consumed by the CLI and the UI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memtui.container import Container
from memtui.sampler import Sample


@dataclass(frozen=True)
class TargetInfo:
    """Static facts about the monitored process, shown in the header."""

    pid: int
    command: str
    node_version: str
    started_at: float
    heap_limit: int
    container_limit: int | None
    inspector: str  # "opened by memtui", "already open", "given address"
    address: str  # host:port of the inspector
    container: Container | None = None
    netns_inode: int | None = None  # its network namespace, when not memtui's


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
    exit_code: int | None


@dataclass(frozen=True)
class ConnectionLost:
    at: float
    reason: str


@dataclass(frozen=True)
class Reconnected:
    at: float


MonitorEvent = SampleTaken | Unresponsive | Responsive | TargetExited | ConnectionLost | Reconnected


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
    path: Path
    size: int
    taken_at: float
    duration_s: float
