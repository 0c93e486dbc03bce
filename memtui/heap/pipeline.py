"""One analysis per snapshot: the passes of DevTools' `HeapSnapshot.initialize()` (parse,
shallow sizes, DOM state, names and classes with interface definitions kept as data and
applied in one place, dominators and retained sizes, statistics), each computed the first
time something asks for it, once, and kept.

After DevTools' passes come memtui's own: the names of the scripts (for `file:line:column`),
the sub-groups of the classes whose one label covers many things (`groups.group_nodes`) and
their retained sizes, and the retainer search.

`summary`, `diff`, retainers, retainer chains and the UI all read from a `HeapAnalysis`, so
no caller sequences passes itself and no pass runs twice. A pass asks for the passes it
needs; the dominator tree needs only the graph, and is built before the shallow sizes and
classes when retained sizes are wanted, so that its search's memory and theirs never add up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

import numpy as np

from memtui.heap import classes, groups, kernels, scripts, statistics
from memtui.heap.classes import ClassTable, InterfaceDefinitions, PlainObjects
from memtui.heap.dominators import DominatorTree
from memtui.heap.groups import SubGroups
from memtui.heap.retainers import RetainerIndex
from memtui.heap.snapshot import HeapSnapshot, load_snapshot
from memtui.heap.statistics import DuplicateString, HeapStatistics, LargeObject

T = TypeVar("T")


@dataclass(frozen=True)
class ClassRow:
    """One row of the Summary view: a class (or one of its sub-groups) with its count,
    shallow and retained sizes."""

    label: str
    location: str | None
    count: int
    self_size: int
    retained_size: int


class HeapAnalysis:
    """The analysis passes of one snapshot. Thread-safe: a pass asked for by two threads
    runs once."""

    def __init__(self, snapshot: HeapSnapshot):
        self.snapshot = snapshot
        self._results: dict[object, object] = {}
        self._lock = threading.RLock()
        self._listener = threading.local()

    @classmethod
    def of_file(cls, path: Path | str,
                on_progress: Callable[[float], None] | None = None) -> HeapAnalysis:
        """Parse the file (UsageError for a bad one) and analyse it on demand."""
        return cls(load_snapshot(path, on_progress=on_progress))

    @contextmanager
    def steps_reported_to(self, on_step: Callable[[str], None]) -> Iterator[None]:
        """Within the block, `on_step` is told the name of each pass this thread starts
        (for progress; it may raise to stop the work before that pass)."""
        previous = getattr(self._listener, "on_step", None)
        self._listener.on_step = on_step
        try:
            yield
        finally:
            self._listener.on_step = previous

    def _pass(self, key: object, step: str, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._results:
                # Each key is only ever stored by the one `compute` that returns its type.
                return cast(T, self._results[key])
            on_step = getattr(self._listener, "on_step", None)
            if on_step is not None:
                on_step(step)
            result = compute()
            self._results[key] = result
            return result

    @property
    def shallow_sizes(self) -> np.ndarray:
        """DevTools' shallow size of every node (int64)."""
        return self._pass("shallow", "calculating shallow sizes",
                          lambda: classes.shallow_sizes(self.snapshot))

    @property
    def dom_states(self) -> np.ndarray:
        """DOM link state of every node (0 unknown, 1 attached, 2 detached)."""
        return self._pass("dom", "propagating DOM state",
                          lambda: classes.dom_states(self.snapshot))

    @property
    def plain_objects(self) -> PlainObjects:
        return self._pass("plain", "collecting object properties",
                          lambda: classes.plain_objects(self.snapshot))

    @property
    def interface_definitions(self) -> InterfaceDefinitions:
        """This snapshot's inferred interface definitions, most used first."""
        return self._pass("interfaces", "inferring interface definitions",
                          lambda: classes.infer_interface_definitions(self.snapshot,
                                                                      self.plain_objects))

    @property
    def classes(self) -> ClassTable:
        """Every node's class, plain objects labelled by this snapshot's own interfaces."""
        return self.classes_with(self.interface_definitions)

    def classes_with(self, definitions: InterfaceDefinitions) -> ClassTable:
        """Every node's class, plain objects labelled by `definitions` (DevTools' Comparison
        view labels its base snapshot with the other snapshot's definitions)."""
        return self._pass(("classes", definitions), "calculating object names",
                          lambda: classes.class_table(self.snapshot, self.plain_objects,
                                                      definitions, self.shallow_sizes,
                                                      self.dom_states))

    @property
    def dominator_tree(self) -> DominatorTree:
        """The dominator tree over DevTools' essential edges."""
        return self._pass("dominators", "calculating dominators",
                          lambda: DominatorTree.build(self.snapshot))

    @property
    def retained_sizes(self) -> np.ndarray:
        """Retained size of every node (int64). The dominator tree is built before the
        shallow sizes and classes exist, so that their memory and that of its search never
        add up."""
        tree = self.dominator_tree
        return self._pass("retained", "calculating retained sizes",
                          lambda: tree.subtree_sums(self.shallow_sizes))

    @property
    def class_retained_sizes(self) -> np.ndarray:
        """Retained size of every class of `classes`, as DevTools' Summary shows it."""
        retained = self.retained_sizes
        table = self.classes
        return self._pass("class retained", "calculating class retained sizes",
                          lambda: self.dominator_tree.class_retained_sizes(
                              table.node_class, retained, len(table.names)))

    def class_rows(self) -> list[ClassRow]:
        """The Summary view: every class with count, shallow and retained size, largest
        retained size first."""
        retained = self.class_retained_sizes
        table = self.classes
        total = len(table.names)
        counts, sizes = (a.tolist() for a in kernels.class_totals(
            table.node_class, table.node_self_size, total))
        rows = [ClassRow(label=table.names[i], location=table.locations[i],
                         count=counts[i], self_size=sizes[i], retained_size=int(retained[i]))
                for i in range(total)]
        rows.sort(key=lambda r: (-r.retained_size, -r.self_size, r.label, r.location or ""))
        return rows

    def sub_groups(self, label: str, location: str | None,
                   definitions: InterfaceDefinitions | None = None) -> SubGroups:
        """The class's members split into sub-groups (`groups.group_nodes`); with
        `definitions`, the class as `classes_with(definitions)` labels it."""
        table = self.classes if definitions is None else self.classes_with(definitions)
        key = ("groups", definitions, label, location)
        return self._pass(key, "grouping " + label,
                          lambda: groups.sub_groups(self.snapshot, label,
                                                    table.members(label, location)))

    def group_retained_sizes(self, label: str, location: str | None) -> np.ndarray:
        """Retained size of each sub-group of the class, in `sub_groups(...).keys` order, as
        for classes: the members that no other member of their sub-group dominates."""
        found = self.sub_groups(label, location)
        retained = self.retained_sizes

        def compute() -> np.ndarray:
            node_group = np.full(self.snapshot.node_count, -1, dtype=np.int32)
            node_group[found.nodes] = found.group
            return self.dominator_tree.class_retained_sizes(node_group, retained,
                                                            len(found.keys))

        return self._pass(("group retained", label, location),
                          "calculating retained sizes of " + label, compute)

    def group_rows(self, label: str, location: str | None) -> list[ClassRow]:
        """The Summary view of the class's sub-groups, largest shallow size first."""
        found = self.sub_groups(label, location)
        retained = self.group_retained_sizes(label, location).tolist()
        count = len(found.keys)
        counts = np.bincount(found.group, minlength=count).tolist()
        sizes = np.bincount(found.group, weights=self.classes.node_self_size[found.nodes],
                            minlength=count).astype(np.int64).tolist()
        rows = [ClassRow(label=key.name, location=key.location, count=counts[i],
                         self_size=sizes[i], retained_size=retained[i])
                for i, key in enumerate(found.keys)]
        rows.sort(key=lambda r: (-r.self_size, -r.count, r.label, r.location or ""))
        return rows

    @property
    def script_names(self) -> dict[int, str]:
        """The name of each script id a located closure belongs to."""
        return self._pass("scripts", "naming scripts",
                          lambda: scripts.script_names(self.snapshot))

    @property
    def statistics(self) -> HeapStatistics:
        """DevTools' Statistics view: code, strings, JS arrays, typed arrays, system."""
        return self._pass("statistics", "calculating statistics",
                          lambda: statistics.heap_statistics(self.snapshot, self.shallow_sizes,
                                                             self.retained_sizes))

    @property
    def duplicate_strings(self) -> list[DuplicateString]:
        """Strings held more than once, most wasted bytes first."""
        return self._pass("duplicates", "finding duplicated strings",
                          lambda: statistics.duplicate_strings(self.snapshot,
                                                               self.shallow_sizes,
                                                               self.retained_sizes))

    def largest_objects(self, count: int) -> list[LargeObject]:
        """The `count` objects with the largest retained sizes."""
        table = self.classes
        return statistics.largest_objects(self.snapshot, table, self.retained_sizes, count)

    @property
    def retainers(self) -> RetainerIndex:
        """Shortest retaining paths of every node."""
        return self._pass("retainers", "searching retainers",
                          lambda: RetainerIndex(self.snapshot))
