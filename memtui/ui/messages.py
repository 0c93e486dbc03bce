"""Messages posted to the monitor screen, as small dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from memtui.events import MonitorEvent, SnapshotProgress
from memtui.heap.diff import HeapDiff, NewObject
from memtui.heap.pipeline import ClassRow, HeapAnalysis
from memtui.heap.retainers import RetainerChain
from memtui.heap.statistics import DuplicateString, HeapStatistics, LargeObject


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


@dataclass
class AnalysisProgressed(Message):
    """The heap analysis began `step`; `fraction` is its progress when known."""

    step: str
    fraction: float | None


@dataclass
class AnalysisFailed(Message):
    """The heap analysis stopped on an error the user can act on."""

    error: str


@dataclass
class DiffReady(Message):
    """The comparison of the two picked snapshots is ready."""

    diff: HeapDiff


@dataclass
class SummaryReady(Message):
    """The class summary of the only snapshot is ready."""

    name: str
    rows: list[ClassRow]
    analysis: HeapAnalysis


@dataclass
class NewObjectsReady(Message):
    """A class's new objects, largest retained size first."""

    label: str
    location: str | None
    objects: list[NewObject]


@dataclass
class RetainersReady(Message):
    """The shortest retainer chain of an object, None when nothing reaches it."""

    object_label: str
    chain: RetainerChain | None


@dataclass
class StatisticsReady(Message):
    """A snapshot's Statistics view, its most wasteful duplicated strings and its largest
    objects."""

    statistics: HeapStatistics
    strings: list[DuplicateString]
    largest: list[LargeObject]
