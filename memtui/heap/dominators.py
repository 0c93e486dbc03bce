"""Dominator tree, retained sizes and per-class retained sizes, as Chrome DevTools computes them.

DevTools (HeapSnapshot.ts) builds the dominator tree from the root over the "essential"
edges only: no weak edges, no self edges, no shortcut edges except those leaving the root, no
WeakMap table -> value edges (the key -> value edge is kept), and no edge from an object
outside the user's heap (not reachable from the root's user roots) into it. Nodes with no
essential retainer hang from the root. Retained sizes sum the DevTools shallow sizes over
each dominator subtree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from memtui.heap import kernels
from memtui.heap.snapshot import HeapSnapshot

WEAKMAP_EDGE_NAME = re.compile(
    r"^\d+ / part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap \(table @(\d+)\)$"
)
DOM_TREES_ROOT = "(Document DOM trees)"


def weakmap_tables_by_name(snapshot: HeapSnapshot) -> np.ndarray:
    """Per string index, the WeakMap table id an internal edge of that name leaves (the
    table -> value edge DevTools drops), or -1."""
    tables = np.full(len(snapshot.strings), -1, dtype=np.int64)
    internal = kernels.names_of_edges(snapshot.edge_type, snapshot.edge_name,
                                      snapshot.edge_type_code("internal"), len(snapshot.strings))
    for index in np.flatnonzero(internal).tolist():
        match = WEAKMAP_EDGE_NAME.match(snapshot.strings[index])
        if match:
            tables[index] = int(match.group(1))
    return tables


def page_owned_nodes(snapshot: HeapSnapshot) -> np.ndarray:
    """DevTools' "page object" flag: reachable over non-weak edges from the root's user roots.

    The user roots are the targets of the root's shortcut edges (the global objects) and any
    `(Document DOM trees)` node the root holds by an element edge.
    """
    root_edges = snapshot.edges_of(np.array([snapshot.root]))
    root_types = snapshot.edge_type[root_edges]
    root_targets = snapshot.edge_to[root_edges]
    seeds = root_targets[root_types == snapshot.edge_type_code("shortcut")]
    elements = root_targets[root_types == snapshot.edge_type_code("element")]
    dom_roots = [t for t in elements.tolist() if snapshot.node_type_name(t) == "synthetic"
                 and snapshot.node_name_str(t) == DOM_TREES_ROOT]
    seeds = np.concatenate([seeds, np.asarray(dom_roots, dtype=seeds.dtype)])
    if not seeds.size:
        return np.zeros(snapshot.node_count, dtype=bool)
    not_weak = snapshot.edge_type != snapshot.edge_type_code("weak")
    return kernels.reachable(snapshot.first_edge, snapshot.edge_to, not_weak, seeds,
                             snapshot.node_count)


def essential_edge_bits(snapshot: HeapSnapshot) -> np.ndarray:
    """The edges DevTools builds the dominator tree from, as a little-endian bit array (a
    bit per edge: `np.unpackbits(bits, bitorder="little")` gives a mask)."""
    owned = page_owned_nodes(snapshot)
    if not owned.any():
        owned = owned[:0]
    return kernels.essential_edges(
        snapshot.first_edge, snapshot.edge_to, snapshot.edge_type, snapshot.edge_name,
        snapshot.node_id, snapshot.root, snapshot.edge_type_code("weak"),
        snapshot.edge_type_code("shortcut"), snapshot.edge_type_code("internal"),
        weakmap_tables_by_name(snapshot), owned)


@dataclass(frozen=True)
class DominatorTree:
    """The dominator tree of a snapshot over its essential edges."""

    idom: np.ndarray  # int32[n]; idom[root] == root
    order: np.ndarray  # int32[n]; the nodes in the DFS order of the search, root first

    @classmethod
    def build(cls, snapshot: HeapSnapshot) -> DominatorTree:
        keep = essential_edge_bits(snapshot)
        idom, order = kernels.dominator_tree(snapshot.first_edge, snapshot.edge_to, keep,
                                             snapshot.root)
        return cls(idom=idom, order=order)

    def subtree_sums(self, values: np.ndarray) -> np.ndarray:
        """Per node, the sum of `values` over the node and everything it dominates (with
        DevTools' shallow sizes: the retained sizes)."""
        return kernels.subtree_sums(self.idom, self.order, values)

    def class_retained_sizes(self, node_class: np.ndarray, retained: np.ndarray,
                             class_count: int) -> np.ndarray:
        """Retained size per class as DevTools' Summary shows it: the retained sizes of the
        class's counted objects (class index >= 0) that no other object of the class
        dominates."""
        root = int(self.order[0])
        first_child, children = kernels.dominated_nodes(self.idom, root)
        return kernels.class_retained_sizes(first_child, children, root, node_class, retained,
                                            class_count)
