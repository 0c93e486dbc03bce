"""Heap snapshots: parse, then analyse once per snapshot (`HeapAnalysis`): classes as
DevTools shows them, dominators and retained sizes, statistics, script names, sub-groups,
diff and retainers.

The names below are imported on first use: the analysis loads numba, which takes a second
or more, and the commands that only sample (`record`, the live view until `d`) need none
of it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memtui.heap.classes import ClassTable, InterfaceDefinition
    from memtui.heap.pipeline import ClassRow, HeapAnalysis
    from memtui.heap.snapshot import HeapSnapshot, NodeLocations, SnapshotMeta, load_snapshot

_MODULE_OF = {
    "ClassRow": "pipeline",
    "ClassTable": "classes",
    "HeapAnalysis": "pipeline",
    "HeapSnapshot": "snapshot",
    "InterfaceDefinition": "classes",
    "NodeLocations": "snapshot",
    "SnapshotMeta": "snapshot",
    "load_snapshot": "snapshot",
}

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


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'memtui.heap' has no attribute {name!r}")
    return getattr(importlib.import_module(f"memtui.heap.{module}"), name)
