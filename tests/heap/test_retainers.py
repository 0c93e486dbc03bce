"""Retainer chains on snapshots of a real Node program with a known holder of each object."""

import numpy as np
import pytest

from memtui.demo import start_demo, stop_demo
from memtui.heap.retainers import RetainerIndex, edge_label, node_label, retainer_chain
from memtui.heap.snapshot import HeapSnapshot, load_snapshot
from memtui.monitor import Monitor
from tests.nodeproc import node_binary, node_majors, start_node


@pytest.fixture(scope="module", params=node_majors(), ids=lambda m: f"node{m}")
def snapshot(request, tmp_path_factory) -> HeapSnapshot:
    """heap_diff_kept.js: Kept objects in a module-level `const cache = []`, a WeakValue held
    by a WeakMap entry whose key `weakKey` is live."""
    out = tmp_path_factory.mktemp(f"retainers-node{request.param}")
    process = start_node(node_binary(request.param), "heap_diff_kept.js",
                         env={"MEMTUI_OUT": str(out), "MEMTUI_STEPS": "base"})
    process.kill()
    return load_snapshot(out / "before.heapsnapshot")


@pytest.fixture(scope="module")
def index(snapshot) -> RetainerIndex:
    return RetainerIndex(snapshot)


def objects_named(snapshot: HeapSnapshot, name: str) -> list[int]:
    names = np.array([snapshot.strings.index(name)])
    return np.flatnonzero(np.isin(snapshot.node_name, names)
                          & (snapshot.node_type == snapshot.type_code("object"))).tolist()


def edge_between(snapshot: HeapSnapshot, holder: int, target: int, label: str) -> bool:
    edges = range(snapshot.first_edge[holder], snapshot.first_edge[holder + 1])
    return any(snapshot.edge_to[e] == target and edge_label(snapshot, e) == label for e in edges)


def test_chain_to_a_kept_object_names_the_cache_variable(snapshot, index):
    kept = objects_named(snapshot, "Kept")[0]
    chain = index.chain(kept)
    context_step = [s for s in chain.steps if s.edge == "cache"]
    assert len(context_step) == 1
    assert context_step[0].edge_type == "context"
    assert context_step[0].holder_label.startswith("system / Context @")
    last = chain.steps[-1]
    assert last.edge_type == "element"
    assert snapshot.node_name_str(last.holder) == "Array"
    assert chain.lines()[:3] == [
        node_label(snapshot, kept), f"{last.edge} in {last.holder_label}",
        f"cache in {context_step[0].holder_label}"]


def test_chain_is_a_real_path_from_the_root(snapshot, index):
    kept = objects_named(snapshot, "Kept")[-1]
    chain = index.chain(kept)
    assert chain.steps[0].holder == snapshot.root
    assert chain.steps[0].holder_label == "(root) @" + str(int(snapshot.node_id[snapshot.root]))
    targets = [s.holder for s in chain.steps[1:]] + [kept]
    for step, target in zip(chain.steps, targets, strict=True):
        assert edge_between(snapshot, step.holder, target, step.edge)
    assert len(chain.steps) == index.distance[kept]


def test_weakmap_value_is_held_through_its_key_not_the_table(snapshot, index):
    (value,) = objects_named(snapshot, "WeakValue")
    chain = index.chain(value)
    assert all(step.edge_type != "weak" for step in chain.steps)
    last = chain.steps[-1]
    assert last.edge_type == "internal"
    assert "pair in WeakMap" in last.edge
    assert snapshot.node_name_str(last.holder) == "Object"
    key_properties = [edge_label(snapshot, e) for e in range(
        snapshot.first_edge[last.holder], snapshot.first_edge[last.holder + 1])]
    assert "role" in key_properties


def test_no_chain_uses_a_weak_edge(snapshot, index):
    reached = np.flatnonzero(index.parent_edge >= 0)
    used = snapshot.edge_type[index.parent_edge[reached]]
    assert snapshot.edge_type_code("weak") not in set(used.tolist())


def test_retainer_chain_matches_the_index(snapshot, index):
    kept = objects_named(snapshot, "Kept")[0]
    assert retainer_chain(snapshot, kept) == index.chain(kept)


def test_element_indexes_beyond_the_strings_table_are_followed(builder, tmp_path):
    """An element edge is named by its index, which can exceed the number of strings (an
    array of 30,000 listeners in a small heap): the search reads it as no WeakMap edge."""
    holder = builder.node("object", "Holder", 32)
    builder.edge(0, "shortcut", "global", holder)
    array = builder.node("array", "", 16)
    builder.edge(holder, "internal", "elements", array)
    item = builder.node("object", "Item", 24)
    builder.edge(array, "element", 30_000, item)
    snapshot = load_snapshot(builder.write(tmp_path / "wide.heapsnapshot"))
    assert len(snapshot.strings) < 30_000
    chain = RetainerIndex(snapshot).chain(item)
    assert chain is not None
    assert [step.edge for step in chain.steps] == ["global", "{elements}", "[30000]"]


async def test_memtuis_own_objects_are_on_no_chain(tmp_path, system_node):
    """The probe's keeper holds a timer, and Node links timers into one list: a search through
    it named `<symbol memtui.keeper> in global` as what keeps the demo's leak alive."""
    process = start_demo(system_node)
    try:
        monitor = Monitor(str(process.pid), interval=5, snapshot_dir=tmp_path)
        await monitor.start()
        saved = await monitor.take_snapshot()
        await monitor.close()
    finally:
        stop_demo(process)
    snapshot = load_snapshot(saved.path)
    index = RetainerIndex(snapshot)
    records = objects_named(snapshot, "SessionRecord")
    assert records
    for record in records[:20]:
        lines = index.chain(record).lines()
        assert not [line for line in lines if "memtui" in line], lines
        assert any(line.startswith("sessionCache in ") for line in lines), lines
