"""Messages posted to the monitor screen, as small dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from memtui.events import MonitorEvent, SnapshotProgress


@dataclass
class MonitorEventArrived(Message):
    """The engine reported a sample or a change of the target's state."""

    event: MonitorEvent


@dataclass
class MonitorStopped(Message):
    """The engine's event stream ended; `error` says why when it failed."""

    error: str | None


@dataclass
class SnapshotProgressed(Message):
    """A heap snapshot capture advanced."""

    progress: SnapshotProgress
