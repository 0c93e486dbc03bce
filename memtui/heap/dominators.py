"""Dominator tree, retained sizes and per-class retained sizes, as Chrome DevTools computes them.

DevTools (HeapSnapshot.ts) builds the dominator tree from the root (node 0) over the
"essential" edges only: no weak edges, no self edges, no shortcut edges except those leaving
the root, no WeakMap table -> value edges (the key -> value edge is kept), and no edge from an
object outside the user's heap (not reachable from the root's shortcut edges) into it. Nodes
with no essential retainer hang from the root. Retained sizes sum the DevTools shallow sizes
(`node_self_size`) over each dominator subtree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from memtui.heap.classes import shallow_sizes
from memtui.heap.snapshot import HeapSnapshot

WEAKMAP_EDGE_NAME = re.compile(
    r"^\d+ / part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap \(table @(\d+)\)$"
)


def csr_neighbours(starts: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Edge positions of all edges leaving `nodes`, given CSR row starts (vectorised ranges)."""
    begins = starts[nodes]
    lengths = starts[nodes + 1] - begins
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(begins - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total, dtype=np.int64)


def _reachable(snapshot: HeapSnapshot, seeds: np.ndarray, followed: np.ndarray) -> np.ndarray:
    """Nodes reachable from `seeds` over the edges where `followed` is true."""
    seen = np.zeros(snapshot.node_count, dtype=bool)
    seen[seeds] = True
    frontier = np.unique(seeds)
    edge_to = snapshot.edge_to
    slot = np.zeros(snapshot.node_count, dtype=np.int64)
    while frontier.size:
        edges = csr_neighbours(snapshot.first_edge, frontier)
        targets = edge_to[edges[followed[edges]]].astype(np.int64)
        targets = targets[~seen[targets]]
        positions = np.arange(targets.size)
        slot[targets] = positions
        frontier = targets[slot[targets] == positions]
        seen[frontier] = True
    return seen


def page_owned_nodes(snapshot: HeapSnapshot) -> np.ndarray:
    """DevTools' "page object" flag: reachable over non-weak edges from the root's user roots.

    The user roots are the targets of the root's shortcut edges (the global objects) and any
    `(Document DOM trees)` node the root holds by an element edge.
    """
    root = snapshot.root
    root_edges = np.arange(snapshot.first_edge[root], snapshot.first_edge[root + 1])
    root_types = snapshot.edge_type[root_edges]
    root_targets = snapshot.edge_to[root_edges].astype(np.int64)
    seeds = root_targets[root_types == snapshot.edge_type_code("shortcut")]
    element_targets = root_targets[root_types == snapshot.edge_type_code("element")]
    dom_roots = [
        t for t in element_targets.tolist()
        if snapshot.node_type_name(t) == "synthetic"
        and snapshot.node_name_str(t) == "(Document DOM trees)"
    ]
    seeds = np.concatenate([seeds, np.asarray(dom_roots, dtype=np.int64)])
    if not seeds.size:
        return np.zeros(snapshot.node_count, dtype=bool)
    not_weak = snapshot.edge_type != snapshot.edge_type_code("weak")
    return _reachable(snapshot, seeds, not_weak)


def weakmap_table_edges(snapshot: HeapSnapshot, sources: np.ndarray) -> np.ndarray:
    """Edges from a WeakMap's table to a value (the key -> value edge is the one DevTools keeps)."""
    internal = snapshot.edge_type == snapshot.edge_type_code("internal")
    names = np.unique(snapshot.edge_name[internal])
    table_of_name = {}
    for index in names.tolist():
        match = WEAKMAP_EDGE_NAME.match(snapshot.strings[index])
        if match:
            table_of_name[index] = int(match.group(1))
    result = np.zeros(snapshot.edge_count, dtype=bool)
    if not table_of_name:
        return result
    candidates = np.flatnonzero(internal & np.isin(snapshot.edge_name, list(table_of_name)))
    table_ids = np.array([table_of_name[i] for i in snapshot.edge_name[candidates].tolist()])
    from_ids = np.asarray(snapshot.node_id)[sources[candidates]]
    result[candidates[from_ids == table_ids]] = True
    return result


def essential_edges(snapshot: HeapSnapshot) -> np.ndarray:
    """Boolean mask over edges: the edges DevTools uses to build the dominator tree."""
    sources = snapshot.edge_source().astype(np.int64)
    targets = snapshot.edge_to.astype(np.int64)
    edge_type = snapshot.edge_type
    keep = edge_type != snapshot.edge_type_code("weak")
    keep &= sources != targets
    keep &= ~weakmap_table_edges(snapshot, sources)
    not_root = sources != snapshot.root
    keep &= ~(not_root & (edge_type == snapshot.edge_type_code("shortcut")))
    owned = page_owned_nodes(snapshot)
    if owned.any():
        keep &= ~(not_root & owned[targets] & ~owned[sources])
    return keep


def _peel_leaves(n: int, root: int, sources: np.ndarray, targets: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Nodes that dominate nothing and have at most one retainer, found from the leaves up,
    and each node's single retainer (the root for nodes without any)."""
    in_degree = np.bincount(targets, minlength=n)
    out_degree = np.bincount(sources, minlength=n)
    holder = np.full(n, root, dtype=np.int64)
    single = in_degree[targets] == 1
    holder[targets[single]] = sources[single]
    peelable = in_degree <= 1
    peelable[root] = False
    peeled = np.zeros(n, dtype=bool)
    leaves = np.flatnonzero(peelable & (out_degree == 0))
    while leaves.size:
        peeled[leaves] = True
        lost = np.bincount(holder[leaves[in_degree[leaves] == 1]], minlength=n)
        out_degree -= lost
        leaves = np.flatnonzero((lost > 0) & peelable & (out_degree == 0) & ~peeled)
    return peeled, holder


def _immediate_dominators(n: int, root: int, sources: np.ndarray,
                          targets: np.ndarray) -> np.ndarray:
    """Immediate dominators over the given edges. Leaves with at most one retainer are taken
    out first (their retainer dominates them) and Lengauer-Tarjan runs on the rest; if some
    of the rest is unreachable even from the orphans, it runs on the whole graph instead, so
    that DevTools' numbering of those nodes decides."""
    peeled, holder = _peel_leaves(n, root, sources, targets)
    kept = np.flatnonzero(~peeled)
    compact = np.full(n, -1, dtype=np.int64)
    compact[kept] = np.arange(kept.size)
    inner = ~peeled[targets]
    dom = _graph_dominators(kept.size, int(compact[root]), compact[sources[inner]],
                            compact[targets[inner]], number_unreached=False)
    if dom is None:
        return _graph_dominators(n, root, sources, targets, number_unreached=True)
    holder[kept] = kept[dom]
    return holder


def _graph_dominators(n: int, root: int, sources: np.ndarray, targets: np.ndarray,
                      number_unreached: bool) -> np.ndarray | None:
    succ_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sources, minlength=n), out=succ_start[1:])
    succ = targets[np.argsort(sources, kind="stable")].tolist()
    pred_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(targets, minlength=n), out=pred_start[1:])
    pred = sources[np.argsort(targets, kind="stable")].tolist()
    dom = _lengauer_tarjan(n, root, succ_start.tolist(), succ, pred_start.tolist(), pred,
                           number_unreached)
    return None if dom is None else np.asarray(dom, dtype=np.int64)


def _lengauer_tarjan(n: int, root: int, succ_start: list, succ: list, pred_start: list,
                     pred: list, number_unreached: bool) -> list | None:
    """Immediate dominators (simple Lengauer-Tarjan, iterative), with DevTools' orphan handling.

    Nodes unreachable from the root but without any retainer are searched from as if the root
    held them; nodes still unreached (cycles held only by each other) are numbered one by
    one as children of the root, or, without `number_unreached`, the answer is None.
    """
    semi = [0] * n
    vertex = [0] * (n + 1)
    parent = [root] * n
    label = list(range(n))
    ancestor = [-1] * n
    next_edge = succ_start[:n]
    count = 0

    def search(start: int) -> None:
        nonlocal count
        count += 1
        semi[start] = count
        vertex[count] = start
        stack = [start]
        while stack:
            v = stack[-1]
            end = succ_start[v + 1]
            e = next_edge[v]
            while e < end:
                w = succ[e]
                e += 1
                if semi[w] == 0:
                    next_edge[v] = e
                    parent[w] = v
                    count += 1
                    semi[w] = count
                    vertex[count] = w
                    stack.append(w)
                    break
            else:
                next_edge[v] = e
                stack.pop()

    search(root)
    if count < n:
        for v in range(n):
            if semi[v] == 0 and pred_start[v] == pred_start[v + 1]:
                search(v)
    if count < n:
        if not number_unreached:
            return None
        for v in range(n):
            if semi[v] == 0:
                count += 1
                semi[v] = count
                vertex[count] = v

    def evaluate(v: int) -> int:
        if ancestor[v] < 0:
            return v
        path = []
        while ancestor[ancestor[v]] >= 0:
            path.append(v)
            v = ancestor[v]
        for w in reversed(path):
            a = ancestor[w]
            if semi[label[a]] < semi[label[w]]:
                label[w] = label[a]
            ancestor[w] = ancestor[a]
        return label[path[0]] if path else label[v]

    bucket_head = [-1] * n
    bucket_next = [-1] * n
    dom = [root] * n
    for i in range(n, 1, -1):
        w = vertex[i]
        best = semi[w]
        begin, end = pred_start[w], pred_start[w + 1]
        if begin == end:
            best = 1
        for k in range(begin, end):
            v = pred[k]
            a = ancestor[v]
            if a < 0:
                u = v
            elif ancestor[a] < 0:
                u = label[v]
            else:
                u = evaluate(v)
            if semi[u] < best:
                best = semi[u]
        semi[w] = best
        holder = vertex[best]
        bucket_next[w] = bucket_head[holder]
        bucket_head[holder] = w
        p = parent[w]
        ancestor[w] = p
        v = bucket_head[p]
        bucket_head[p] = -1
        while v >= 0:
            u = label[v] if ancestor[ancestor[v]] < 0 else evaluate(v)
            dom[v] = u if semi[u] < semi[v] else p
            v = bucket_next[v]
    for i in range(2, n + 1):
        w = vertex[i]
        if dom[w] != vertex[semi[w]]:
            dom[w] = dom[dom[w]]
    dom[root] = root
    return dom


def dominators(snapshot: HeapSnapshot) -> np.ndarray:
    """The immediate dominator (node ordinal) of every node; the root dominates itself."""
    return DominatorTree.build(snapshot).idom


def retained_sizes(snapshot: HeapSnapshot) -> np.ndarray:
    """Retained size of every node: its shallow size plus that of every node it dominates."""
    return DominatorTree.build(snapshot).retained


def _depths(idom: np.ndarray, root: int) -> np.ndarray:
    """Depth of every node in the tree given by `idom` (pointer jumping, O(n log depth))."""
    depth = (np.arange(idom.size) != root).astype(np.int64)
    jump = idom.copy()
    while True:
        moving = jump != jump[jump]
        if not moving.any():
            break
        depth = depth + np.where(moving, depth[jump], 0)
        jump = jump[jump]
    return depth


def _levels(depth: np.ndarray) -> tuple[np.ndarray, ...]:
    """Node ordinals grouped by depth, root level first."""
    by_depth = np.argsort(depth, kind="stable")
    ends = np.searchsorted(depth[by_depth], np.arange(int(depth.max()) + 2))
    return tuple(by_depth[ends[d]:ends[d + 1]] for d in range(len(ends) - 1))


def _subtree_sums(idom: np.ndarray, levels: tuple[np.ndarray, ...],
                  values: np.ndarray) -> np.ndarray:
    sums = np.asarray(values, dtype=np.int64).copy()
    for nodes in reversed(levels[1:]):
        np.add.at(sums, idom[nodes], sums[nodes])
    return sums


@dataclass(frozen=True)
class DominatorTree:
    """The dominator tree of a snapshot, with each node's retained size."""

    idom: np.ndarray  # int64[n]; idom[root] == root
    levels: tuple[np.ndarray, ...]  # node ordinals by depth; levels[0] holds the root
    retained: np.ndarray  # int64[n]

    @classmethod
    def build(cls, snapshot: HeapSnapshot, self_size: np.ndarray | None = None) -> DominatorTree:
        """Compute the tree of `snapshot`; `self_size` defaults to DevTools' shallow sizes."""
        n = snapshot.node_count
        keep = essential_edges(snapshot)
        sources = snapshot.edge_source()[keep].astype(np.int64)
        targets = snapshot.edge_to[keep].astype(np.int64)
        del keep
        idom = _immediate_dominators(n, snapshot.root, sources, targets)
        del sources, targets
        levels = _levels(_depths(idom, snapshot.root))
        sizes = shallow_sizes(snapshot) if self_size is None else self_size
        return cls(idom=idom, levels=levels, retained=_subtree_sums(idom, levels, sizes))

    def subtree_sums(self, values: np.ndarray) -> np.ndarray:
        """Per node, the sum of `values` over the node and everything it dominates."""
        return _subtree_sums(self.idom, self.levels, values)

    @cached_property
    def preorder(self) -> tuple[np.ndarray, np.ndarray]:
        """(entry, exit) of each node in a preorder walk of the tree:
        u dominates v iff entry[u] <= entry[v] < exit[u]."""
        size = self.subtree_sums(np.ones(self.idom.size, dtype=np.int64))
        entry = np.zeros(self.idom.size, dtype=np.int64)
        for nodes in self.levels[1:]:
            nodes = nodes[np.argsort(self.idom[nodes], kind="stable")]
            parents = self.idom[nodes]
            before = np.cumsum(size[nodes]) - size[nodes]
            group_start = np.r_[True, parents[1:] != parents[:-1]]
            group_base = np.maximum.accumulate(np.where(group_start, before, 0))
            entry[nodes] = entry[parents] + 1 + before - group_base
        return entry, entry + size


def class_retained_sizes(tree: DominatorTree, node_class: np.ndarray, self_size: np.ndarray,
                         class_count: int) -> np.ndarray:
    """Retained size per class as DevTools' Summary shows it.

    A class's retained size sums the retained sizes of its counted objects (class index >= 0,
    non-zero self size) that no other counted object of the same class dominates.
    """
    counted = np.flatnonzero((node_class >= 0) & (np.asarray(self_size) > 0))
    result = np.zeros(class_count, dtype=np.int64)
    if not counted.size:
        return result
    entry, exit_ = tree.preorder
    classes = node_class[counted].astype(np.int64)
    order = np.lexsort((entry[counted], classes))
    nodes, classes = counted[order], classes[order]
    span = int(exit_.max()) + 1
    keyed_exit = classes * span + exit_[nodes]
    covered_until = np.maximum.accumulate(keyed_exit)
    previous = np.r_[-1, covered_until[:-1]]
    outermost = classes * span + entry[nodes] >= previous
    np.add.at(result, classes[outermost], tree.retained[nodes[outermost]])
    return result
