"""Heap snapshots: parse, classify by DevTools class, and (elsewhere) diff and dominators."""

from memtui.heap.classes import (
    ClassSummary,
    ClassTable,
    classify,
    dom_states,
    shallow_sizes,
    summarize,
)
from memtui.heap.snapshot import HeapSnapshot, NodeLocations, SnapshotMeta, load_snapshot

__all__ = [
    "ClassSummary",
    "ClassTable",
    "HeapSnapshot",
    "NodeLocations",
    "SnapshotMeta",
    "classify",
    "dom_states",
    "load_snapshot",
    "shallow_sizes",
    "summarize",
]
