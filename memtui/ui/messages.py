"""Messages posted to the monitor screen, as small dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from memtui.events import MonitorEvent, SnapshotProgress
from memtui.heap.chains import ChainLine
from memtui.heap.diff import HeapDiff
from memtui.heap.leaks import LeakReport
from memtui.heap.scripts import SourceFiles
from memtui.heap.statistics import DuplicateString, HeapStatistics, LargeObject
from memtui.ui.diff_view import ClassData, ListedObject


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
    """The comparison of the two picked snapshots is ready, with its rows' sub-groups."""

    diff: HeapDiff
    data: ClassData


@dataclass
class SummaryReady(Message):
    """The class summary of the only snapshot is ready, with its rows' sub-groups and its
    heap size (every object's size)."""

    path: Path
    data: ClassData
    heap_size: int


@dataclass
class ObjectsReady(Message):
    """A class's (or sub-group's) listed objects, in order, under `title`."""

    title: str
    objects: list[ListedObject]


@dataclass
class RetainersReady(Message):
    """What keeps an object alive, nearest holder first; `lines` is None when nothing
    reaches it from the GC roots."""

    object_line: str
    lines: list[ChainLine] | None


@dataclass
class StatisticsReady(Message):
    """A snapshot's Statistics view, its most wasteful duplicated strings and its largest
    objects."""

    statistics: HeapStatistics
    strings: list[DuplicateString]
    largest: list[LargeObject]


@dataclass
class LeaksReady(Message):
    """The leak finder's report, with the retainer chain of each listed class's
    representative object (None when nothing reaches it) and the script names."""

    report: LeakReport
    chains: list[tuple[str, list[ChainLine] | None]]
    files: SourceFiles
