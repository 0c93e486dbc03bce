"""The live monitor engine: one attached target, its samples, and the actions on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from memtui.events import (
    GcResult,
    MonitorEvent,
    SnapshotProgress,
    SnapshotRisk,
    SnapshotSaved,
    TargetInfo,
)
from memtui.sampler import History


class Monitor:
    """Attach to TARGET, sample it every `interval` seconds, force GCs and take snapshots."""

    def __init__(self, target: str, *, interval: float = 1.0, keep_inspector: bool = False,
                 snapshot_dir: Path | None = None, history_size: int = 86_400):
        self.target = target
        self.interval = interval
        self.keep_inspector = keep_inspector
        self.snapshot_dir = snapshot_dir or Path.cwd()
        self.history = History(history_size)
        self.info: TargetInfo | None = None
        self.snapshots: list[SnapshotSaved] = []

    async def start(self) -> TargetInfo:
        """Attach, connect and install the probe. Raises MemtuiError on failure."""
        raise NotImplementedError

    def events(self) -> AsyncIterator[MonitorEvent]:
        """Sample until the target exits; yields samples and state changes."""
        raise NotImplementedError

    async def collect_garbage(self) -> GcResult:
        raise NotImplementedError

    async def snapshot_risk(self) -> SnapshotRisk:
        raise NotImplementedError

    async def take_snapshot(self, on_progress: Callable[[SnapshotProgress], None] | None = None,
                            path: Path | None = None) -> SnapshotSaved:
        raise NotImplementedError

    async def close(self) -> None:
        """Remove the probe and close an inspector memtui opened (unless keep_inspector)."""
        raise NotImplementedError
