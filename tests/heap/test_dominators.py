"""Dominator tree and retained sizes, on snapshots of real Node programs and on tiny graphs."""

from pathlib import Path

import numpy as np
import pytest

from memtui.heap.dominators import essential_edge_bits
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.snapshot import HeapSnapshot, NodeLocations, SnapshotMeta, load_snapshot
from tests.nodeproc import node_binary, node_majors, start_node

ARRAY_BUFFER_BYTES = 1 << 20


@pytest.fixture(scope="module", params=node_majors(), ids=lambda m: f"node{m}")
def kept_snapshot(request, tmp_path_factory) -> HeapSnapshot:
    """heap_diff_kept.js's first snapshot: 1000 Kept, a Holder of 1 MiB, a chain of 10 Links."""
    out = tmp_path_factory.mktemp(f"dominators-node{request.param}")
    process = start_node(node_binary(request.param), "heap_diff_kept.js",
                         env={"MEMTUI_OUT": str(out), "MEMTUI_STEPS": "base"})
    process.kill()
    return load_snapshot(out / "before.heapsnapshot")


def dominators(snapshot: HeapSnapshot) -> np.ndarray:
    return HeapAnalysis(snapshot).dominator_tree.idom


def retained_sizes(snapshot: HeapSnapshot) -> np.ndarray:
    return HeapAnalysis(snapshot).retained_sizes


def objects_of(snapshot: HeapSnapshot, label: str) -> np.ndarray:
    table = HeapAnalysis(snapshot).classes
    wanted = [i for i, name in enumerate(table.names) if name == label]
    return np.flatnonzero(np.isin(table.node_class, wanted))


def reference_dominators(snapshot: HeapSnapshot) -> list[int]:
    """Cooper-Harvey-Kennedy's iterative algorithm over the same edges (an independent check).

    Nodes without any essential retainer hang from the root, as in DevTools.
    """
    keep = np.unpackbits(essential_edge_bits(snapshot), count=snapshot.edge_count,
                         bitorder="little").astype(bool)
    n, root = snapshot.node_count, snapshot.root
    successors: list[list[int]] = [[] for _ in range(n)]
    predecessors: list[list[int]] = [[] for _ in range(n)]
    for source, target in zip(snapshot.edge_source()[keep].tolist(),
                              snapshot.edge_to[keep].tolist(), strict=True):
        successors[source].append(target)
        predecessors[target].append(source)
    for orphan in range(n):
        if orphan != root and not predecessors[orphan]:
            successors[root].append(orphan)
            predecessors[orphan].append(root)
    postorder, seen, stack = [], {root}, [(root, iter(successors[root]))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if child not in seen:
                seen.add(child)
                stack.append((child, iter(successors[child])))
                break
        else:
            stack.pop()
            postorder.append(node)
    assert len(seen) == n, "every node of these snapshots is reachable"
    rank = {node: i for i, node in enumerate(postorder)}
    idom = {root: root}
    changed = True
    while changed:
        changed = False
        for node in reversed(postorder[:-1]):
            best = None
            for pred in predecessors[node]:
                if pred not in idom:
                    continue
                if best is None:
                    best = pred
                    continue
                a, b = pred, best
                while a != b:
                    while rank[a] < rank[b]:
                        a = idom[a]
                    while rank[b] < rank[a]:
                        b = idom[b]
                best = a
            if idom.get(node) != best:
                idom[node] = best
                changed = True
    return [idom[i] for i in range(n)]


def test_dominators_match_an_independent_algorithm(kept_snapshot):
    assert dominators(kept_snapshot).tolist() == reference_dominators(kept_snapshot)


def test_root_retains_the_whole_heap(kept_snapshot):
    table = HeapAnalysis(kept_snapshot).classes
    retained = retained_sizes(kept_snapshot)
    assert retained[kept_snapshot.root] == int(table.node_self_size.sum())
    assert (retained >= table.node_self_size).all()


def test_holder_retains_its_array_buffer(kept_snapshot):
    analysis = HeapAnalysis(kept_snapshot)
    tree, sizes, retained = analysis.dominator_tree, analysis.shallow_sizes, analysis.retained_sizes
    (holder,) = objects_of(kept_snapshot, "Holder")
    held = np.flatnonzero(tree.idom == holder)
    buffers = [b for b in held.tolist() if kept_snapshot.node_name_str(b) == "ArrayBuffer"]
    assert len(buffers) == 1
    buffer = buffers[0]
    assert retained[buffer] - sizes[buffer] == ARRAY_BUFFER_BYTES
    assert retained[holder] == sizes[holder] + retained[held].sum()
    assert retained[holder] > ARRAY_BUFFER_BYTES


def test_class_retained_size_counts_only_outermost_objects(kept_snapshot):
    analysis = HeapAnalysis(kept_snapshot)
    table, tree, by_class = analysis.classes, analysis.dominator_tree, analysis.class_retained_sizes
    retained = analysis.retained_sizes
    links = objects_of(kept_snapshot, "Link")
    assert len(links) == 10
    head = links[np.argmax(retained[links])]
    assert all(tree.idom[link] != link for link in links)
    assert by_class[table.node_class[head]] == retained[head]
    kept = objects_of(kept_snapshot, "Kept")
    assert by_class[table.node_class[kept[0]]] == retained[kept].sum()


def test_dfs_order_puts_every_node_after_its_dominator(kept_snapshot):
    tree = HeapAnalysis(kept_snapshot).dominator_tree
    assert np.unique(tree.order).size == kept_snapshot.node_count
    position = np.empty(kept_snapshot.node_count, dtype=np.int64)
    position[tree.order] = np.arange(kept_snapshot.node_count)
    children = np.flatnonzero(np.arange(kept_snapshot.node_count) != kept_snapshot.root)
    assert (position[tree.idom[children]] < position[children]).all()
    assert tree.order[0] == kept_snapshot.root


EDGE_TYPES = ("context", "element", "property", "internal", "hidden", "shortcut", "weak")


def tiny_snapshot(edges_of: list[list[tuple[str, int]]], self_size: list[int]) -> HeapSnapshot:
    """A snapshot of `len(self_size)` objects (node 0 the synthetic root) and the given edges."""
    meta = SnapshotMeta(
        node_fields=("type", "name", "id", "self_size", "edge_count"),
        node_types=("hidden", "object", "synthetic"),
        edge_fields=("type", "name_or_index", "to_node"),
        edge_types=EDGE_TYPES,
    )
    n = len(self_size)
    flat = [edge for edges in edges_of for edge in edges]
    nodes = {
        "type": np.array([2] + [1] * (n - 1), dtype=np.uint8),
        "name": np.zeros(n, dtype=np.uint32),
        "id": np.arange(1, 2 * n, 2, dtype=np.uint32),
        "self_size": np.array(self_size, dtype=np.int64),
        "edge_count": np.array([len(e) for e in edges_of], dtype=np.uint32),
    }
    edges = {
        "type": np.array([EDGE_TYPES.index(t) for t, _ in flat], dtype=np.uint8),
        "name_or_index": np.zeros(len(flat), dtype=np.uint32),
        "to_node": np.array([to for _, to in flat], dtype=np.uint32),
    }
    empty = np.empty(0, dtype=np.int64)
    return HeapSnapshot(path=Path("tiny"), meta=meta, nodes=nodes, edges=edges, strings=["x"],
                        locations=NodeLocations(empty.astype(np.uint32), empty, empty, empty))


def test_weak_and_inner_shortcut_edges_do_not_retain():
    snapshot = tiny_snapshot(
        [[("shortcut", 1)],                       # 0 root -> 1 (the user's global)
         [("property", 2), ("weak", 3), ("shortcut", 4)],
         [("property", 4)],
         [("property", 5)],                       # 3 only weakly held: hangs from the root
         [],
         []],
        self_size=[0, 10, 20, 30, 40, 50],
    )
    assert dominators(snapshot).tolist() == [0, 0, 1, 0, 2, 3]
    assert retained_sizes(snapshot).tolist() == [150, 70, 60, 80, 40, 50]


def test_two_paths_meet_at_their_common_dominator():
    snapshot = tiny_snapshot(
        [[("element", 1)],
         [("property", 2), ("property", 3)],
         [("property", 4)],
         [("property", 4), ("property", 3)],      # a self edge is ignored
         []],
        self_size=[0, 1, 2, 4, 8],
    )
    assert dominators(snapshot).tolist() == [0, 0, 1, 1, 1]
    assert retained_sizes(snapshot).tolist() == [15, 15, 2, 4, 8]


def test_leaf_of_an_unreachable_cycle_hangs_from_the_root_as_before():
    """A cycle no orphan reaches is numbered as children of the root, and so is the leaf it
    holds: taking single-retainer leaves out first must not change that."""
    snapshot = tiny_snapshot(
        [[("element", 1)],
         [("property", 5)],
         [("property", 3)],
         [("property", 2), ("property", 4)],      # 2 <-> 3 held only by each other
         [],
         [("property", 6)],
         []],
        self_size=[0, 1, 2, 4, 8, 16, 32],
    )
    assert dominators(snapshot).tolist() == [0, 0, 0, 0, 0, 1, 5]
    assert retained_sizes(snapshot).tolist() == [63, 49, 2, 4, 8, 48, 32]
