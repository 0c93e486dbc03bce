"""Heap snapshots: parse, then analyse once per snapshot (`HeapAnalysis`): classes as
DevTools shows them, dominators and retained sizes, statistics, script names, sub-groups,
diff and retainers."""

from memtui.heap.classes import ClassTable, InterfaceDefinition
from memtui.heap.pipeline import ClassRow, HeapAnalysis
from memtui.heap.snapshot import HeapSnapshot, NodeLocations, SnapshotMeta, load_snapshot

__all__ = [
    "ClassRow",
    "ClassTable",
    "HeapAnalysis",
    "HeapSnapshot",
    "InterfaceDefinition",
    "NodeLocations",
    "SnapshotMeta",
    "load_snapshot",
]
