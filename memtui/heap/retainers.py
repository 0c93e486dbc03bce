"""The shortest chain of references from the GC roots that keeps an object alive.

A breadth-first search over non-weak edges, in the order DevTools computes distances: first
from the user roots (the root's non-synthetic children, such as the global object), then
from the root for whatever those do not reach. The search skips the edges DevTools skips
(`sloppy_function_map` of a NativeContext, descriptor links of `(map descriptors)`, and a
WeakMap's table -> value edge, leaving the key -> value one), and the global properties of
memtui's probe (`Symbol.for('memtui.*')`): they hold nothing of the program's, but the
keeper's timer is linked into Node's list of timers, and through it a search would name
memtui as what keeps a leak alive. It runs once per snapshot,
level by level with numpy, and keeps the edge that first reached each node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtui.heap import kernels
from memtui.heap.dominators import weakmap_tables_by_name
from memtui.heap.snapshot import HeapSnapshot

SYSTEM_DISTANCE = 100_000_000
STRING_TYPES = ("string", "concatenated string", "sliced string")
MAX_LABEL_TEXT = 40


@dataclass(frozen=True)
class RetainerStep:
    """One reference in a chain: `edge` of `holder` points at the next step's holder."""

    holder: int
    holder_label: str
    edge: str
    edge_type: str

    def describe(self) -> str:
        """DevTools' retainer line, e.g. `cache in system / Context @1234`."""
        return f"{self.edge} in {self.holder_label}"


@dataclass(frozen=True)
class RetainerChain:
    """References from the root to `target`, root side first."""

    target: int
    target_label: str
    steps: tuple[RetainerStep, ...]

    def lines(self) -> list[str]:
        """The chain as DevTools' Retainers view reads it: the object, then who holds it."""
        return [self.target_label, *(step.describe() for step in reversed(self.steps))]


class RetainerIndex:
    """Shortest retaining paths of every node of a snapshot (built once, then queried)."""

    def __init__(self, snapshot: HeapSnapshot):
        self.snapshot = snapshot
        self.distance, self.parent_edge = _search(snapshot)

    def chain(self, node: int) -> RetainerChain | None:
        """The shortest chain keeping `node` alive, or None if nothing reaches it."""
        snapshot = self.snapshot
        if node != snapshot.root and self.parent_edge[node] < 0:
            return None
        sources = snapshot.first_edge
        steps = []
        current = node
        while current != snapshot.root:
            edge = int(self.parent_edge[current])
            holder = int(np.searchsorted(sources, edge, side="right")) - 1
            steps.append(RetainerStep(holder=holder, holder_label=node_label(snapshot, holder),
                                      edge=edge_label(snapshot, edge),
                                      edge_type=snapshot.meta.edge_types[snapshot.edge_type[edge]]))
            current = holder
        return RetainerChain(target=node, target_label=node_label(snapshot, node),
                             steps=tuple(reversed(steps)))


def retainer_chain(snapshot: HeapSnapshot, node: int) -> RetainerChain | None:
    """The shortest chain of references from the GC roots to `node` (None if unreachable)."""
    return RetainerIndex(snapshot).chain(node)


def node_label(snapshot: HeapSnapshot, node: int) -> str:
    """A node as DevTools names it in the retainers view: `name @id`, strings quoted."""
    type_name = snapshot.node_type_name(node)
    name = snapshot.node_name_str(node)
    if node == snapshot.root:
        name = "(root)"
    elif type_name in STRING_TYPES:
        shown = name if len(name) <= MAX_LABEL_TEXT else name[:MAX_LABEL_TEXT] + "…"
        name = f'"{shown}"'
    elif not name:
        name = f"({type_name})"
    return f"{name} @{int(snapshot.node_id[node])}"


def edge_label(snapshot: HeapSnapshot, edge: int) -> str:
    """An edge as DevTools shows it: `name`, `[index]` for elements, `{name}` for internal
    and hidden edges, `[[name]]` for weak ones."""
    edge_type = snapshot.meta.edge_types[snapshot.edge_type[edge]]
    name = snapshot.edge_name_str(edge)
    if edge_type == "element":
        return f"[{name}]"
    if edge_type in ("internal", "hidden", "invisible"):
        return f"{{{name}}}"
    if edge_type == "weak":
        return f"[[{name}]]"
    return name


MEMTUI_SYMBOLS = "<symbol memtui."
"""How the snapshot names the edges of the probe's global symbols."""


def followed_edges(snapshot: HeapSnapshot) -> np.ndarray:
    """Mask of the edges the retainer search follows."""
    sources = snapshot.edge_source()
    follow = snapshot.edge_type != snapshot.edge_type_code("weak")
    internal = np.flatnonzero(snapshot.edge_type == snapshot.edge_type_code("internal"))
    table_of_edge = weakmap_tables_by_name(snapshot)[snapshot.edge_name[internal]]
    follow[internal[table_of_edge == snapshot.node_id[sources[internal]]]] = False
    del internal, table_of_edge
    string_index = {s: i for i, s in enumerate(snapshot.strings)
                    if s in ("system / NativeContext", "sloppy_function_map",
                             "(map descriptors)")}
    named_by_index = np.isin(snapshot.edge_type, [snapshot.edge_type_code("element"),
                                                  snapshot.edge_type_code("hidden")])
    if "system / NativeContext" in string_index and "sloppy_function_map" in string_index:
        native_context = ((snapshot.node_type == snapshot.type_code("hidden"))
                          & (snapshot.node_name == string_index["system / NativeContext"]))
        follow &= ~(native_context[sources] & ~named_by_index
                    & (snapshot.edge_name == string_index["sloppy_function_map"]))
    memtuis = [i for i, s in enumerate(snapshot.strings) if s.startswith(MEMTUI_SYMBOLS)]
    if memtuis:
        follow &= ~np.isin(snapshot.edge_name, memtuis) | named_by_index
    if "(map descriptors)" in string_index:
        descriptors = ((snapshot.node_type == snapshot.type_code("array"))
                       & (snapshot.node_name == string_index["(map descriptors)"]))
        candidates = np.flatnonzero(descriptors[sources])
        index = np.full(candidates.size, -1, dtype=np.int64)
        by_index = named_by_index[candidates]
        index[by_index] = snapshot.edge_name[candidates[by_index]]
        for k in np.flatnonzero(~by_index).tolist():
            text = snapshot.strings[snapshot.edge_name[candidates[k]]]
            index[k] = int(text) if text.isdigit() else -1
        skipped = (index >= 2) & (index % 3 == 1)
        follow[candidates[skipped]] = False
    return follow


def _search(snapshot: HeapSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """BFS distances (DevTools': 1 for user roots, 100000000 for the root when there are
    user roots) and the edge that first reached each node (-1: none)."""
    follow = followed_edges(snapshot)
    root = snapshot.root
    root_edges = snapshot.edges_of(np.array([root]))
    user_roots = snapshot.edge_to[root_edges]
    is_user_root = snapshot.node_type[user_roots] != snapshot.type_code("synthetic")
    return kernels.retainer_search(snapshot.first_edge, snapshot.edge_to, follow,
                                   user_roots[is_user_root], root_edges[is_user_root], root,
                                   SYSTEM_DISTANCE)
