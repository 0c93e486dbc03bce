"""DevTools' Summary: labels, class keys, counted nodes and shallow sizes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from memtui.heap import HeapAnalysis, load_snapshot
from memtui.heap.classes import dom_states, shallow_sizes

SCRIPTS = Path(__file__).parent.parent / "node"


def constructor_line(script: str, marker: str) -> int:
    """0-based line of `marker` in a test script (V8 locations are 0-based)."""
    lines = (SCRIPTS / script).read_text().splitlines()
    return next(i for i, line in enumerate(lines) if marker in line)


class TestRealHeap:
    """Counts and labels of tests/node/heap_contents.js's objects, on Node 20 and 24."""

    def test_class_instances_counted_at_their_constructor(self, contents_snapshot):
        (widgets,) = contents_snapshot.rows_labelled("LeakyWidget")
        assert widgets.count == 1234
        assert widgets.self_size % 1234 == 0
        line = int(widgets.location.split(":")[1])
        assert line == constructor_line("heap_contents.js", "constructor(i)")

    def test_plain_objects_named_by_their_properties(self, contents_snapshot):
        (items,) = contents_snapshot.rows_labelled("{sku, qty}")
        assert items.count == 2000

    def test_same_class_name_from_two_scripts_is_two_rows(self, contents_snapshot):
        rows = contents_snapshot.rows_labelled("Customer")
        assert sorted(row.count for row in rows) == [10, 20]
        by_count = {row.count: row.location.split(":") for row in rows}
        assert by_count[10][0] != by_count[20][0]
        assert int(by_count[10][1]) == constructor_line("heap_customer_a.js", "constructor(")
        assert int(by_count[20][1]) == constructor_line("heap_customer_b.js", "constructor(")

    def test_closures_are_functions(self, contents_snapshot):
        snap, classes = contents_snapshot.snapshot, contents_snapshot.classes
        closures = np.flatnonzero((snap.node_type == snap.type_code("closure"))
                                  & (snap.node_name == snap.strings.index("leakyClosure")))
        assert len(closures) == 300
        assert {classes.names[c] for c in classes.node_class[closures]} == {"Function"}
        (functions,) = contents_snapshot.rows_labelled("Function")
        assert functions.location is None
        assert functions.count > 300

    @pytest.mark.parametrize(("label", "at_least"), [
        ("(concatenated string)", 50), ("(sliced string)", 50), ("(string)", 100),
        ("Map", 7), ("RegExp", 1), ("(bigint)", 5), ("(symbol)", 4), ("(array)", 1),
        ("(compiled code)", 1), ("(system)", 1), ("(object shape)", 1), ("Array", 13),
    ])
    def test_type_labels(self, contents_snapshot, label, at_least):
        (row,) = contents_snapshot.rows_labelled(label)
        assert row.count >= at_least
        assert row.location is None

    def test_buffers_are_native_backing_stores(self, contents_snapshot):
        (stores,) = contents_snapshot.rows_labelled("system / JSArrayBufferData")
        assert stores.self_size >= 300_000

    def test_every_node_of_a_plain_type_has_that_types_label(self, contents_snapshot):
        snap, classes = contents_snapshot.snapshot, contents_snapshot.classes
        expected = {"string": "(string)", "concatenated string": "(concatenated string)",
                    "sliced string": "(sliced string)", "hidden": "(system)",
                    "code": "(compiled code)", "closure": "Function", "regexp": "RegExp",
                    "array": "(array)", "object shape": "(object shape)"}
        names = np.array([*classes.names, None], dtype=object)
        for type_name, label in expected.items():
            of_type = snap.node_type == snap.type_code(type_name)
            counted = of_type & (classes.node_class >= 0)
            assert set(names[classes.node_class[counted]]) <= {label}, type_name

    def test_totals_keep_every_byte(self, contents_snapshot):
        snap, classes, rows = (contents_snapshot.snapshot, contents_snapshot.classes,
                               contents_snapshot.rows)
        assert sum(row.self_size for row in rows) == int(snap.node_self_size.sum())
        assert sum(row.count for row in rows) == int((classes.node_self_size != 0).sum())
        assert [row.retained_size for row in rows] == sorted(
            (r.retained_size for r in rows), reverse=True)
        assert len({(row.label, row.location) for row in rows}) == len(rows)


def summary_of(builder, tmp_path) -> dict[tuple[str, str | None], tuple[int, int]]:
    snap = load_snapshot(builder.write(tmp_path / "built.heapsnapshot"))
    rows = HeapAnalysis(snap).class_rows()
    return {(row.label, row.location): (row.count, row.self_size) for row in rows}


@pytest.fixture
def user_root(builder) -> int:
    """A global object under the root, as V8 writes it: the snapshot has user roots."""
    global_object = builder.node("object", "global", 40)
    builder.edge(0, "shortcut", "global", global_object)
    return global_object


class TestLabels:
    """calculateObjectNames: which label each node type gets."""

    def test_labels_by_type(self, builder, user_root, tmp_path):
        for type_name, name in [("hidden", "system / Foo"), ("code", "foo"),
                                ("closure", "foo"), ("regexp", "/a/"), ("string", "text"),
                                ("number", "heap number"), ("symbol", "sym"),
                                ("native", '<div id="x" class="y">'),
                                ("native", "Detached <span class=z>"),
                                ("object", "Widget"), ("synthetic", "(Internalized strings)")]:
            node = builder.node(type_name, name, 8)
            builder.edge(user_root, "internal", "x", node)
            builder.edge(1, "element", node, node)
        rows = summary_of(builder, tmp_path)
        assert rows == {("global", None): (1, 40), ("(system)", None): (1, 8),
                        ("(compiled code)", None): (1, 8), ("Function", None): (1, 8),
                        ("RegExp", None): (1, 8), ("(string)", None): (1, 8),
                        ("(number)", None): (1, 8), ("(symbol)", None): (1, 8),
                        ("<div>", None): (1, 8), ("Detached <span>", None): (1, 8),
                        ("Widget", None): (1, 8), ("(synthetic)", None): (1, 8)}

    def test_objects_keyed_by_constructor_location_but_closures_not(self, builder, user_root,
                                                                     tmp_path):
        for script_id, line in ((11, 3), (11, 3), (12, 3)):
            customer = builder.node("object", "Customer", 16)
            builder.locate(customer, script_id, line, 14)
            closure = builder.node("closure", "Customer", 32)
            builder.locate(closure, script_id, line, 14)
            builder.edge(user_root, "property", f"c{customer}", customer)
        rows = summary_of(builder, tmp_path)
        assert rows[("Customer", "11:3:14")] == (2, 32)
        assert rows[("Customer", "12:3:14")] == (1, 16)
        assert rows[("Function", None)] == (3, 96)

    def test_zero_size_nodes_are_not_counted(self, builder, user_root, tmp_path):
        builder.edge(user_root, "property", "a", builder.node("object", "Empty", 0))
        assert ("Empty", None) not in summary_of(builder, tmp_path)


class TestPlainObjectNames:
    """inferInterfaceDefinitions/applyInterfaceDefinitions: popular property lists name
    plain objects; rare ones stay `Object`."""

    def add_plain(self, builder, parent, *properties: str) -> int:
        obj = builder.node("object", "Object", 24)
        builder.edge(parent, "property", f"p{obj}", obj)
        for prop in properties:
            builder.edge(obj, "property", prop, builder.node("string", prop, 0))
        builder.edge(obj, "property", "__proto__", parent)
        return obj

    def test_popular_property_lists_name_objects(self, builder, user_root, tmp_path):
        for _ in range(3):
            self.add_plain(builder, user_root, "sku", "qty")
        for _ in range(2):
            self.add_plain(builder, user_root, "a,b", "c")
        self.add_plain(builder, user_root, "sku", "qty", "rare")
        self.add_plain(builder, user_root, "lonely")
        self.add_plain(builder, user_root)
        rows = summary_of(builder, tmp_path)
        assert rows[("{sku, qty}", None)] == (4, 96)
        assert rows[('{"a,b", c}', None)] == (2, 48)
        assert rows[("Object", None)] == (2, 48)

    def test_the_definition_with_most_properties_wins(self, builder, user_root, tmp_path):
        for _ in range(3):
            self.add_plain(builder, user_root, "x", "y")
        for _ in range(2):
            self.add_plain(builder, user_root, "y", "x", "z")
        for _ in range(2):
            self.add_plain(builder, user_root, "x")
        rows = summary_of(builder, tmp_path)
        assert rows[("{x, y}", None)] == (3, 72)
        assert rows[("{y, x, z}", None)] == (2, 48)
        assert rows[("{x}", None)] == (2, 48)

    def test_names_stop_near_120_characters(self, builder, user_root, tmp_path):
        long_names = [f"{letter * 30}" for letter in "abcdef"]
        for _ in range(2):
            self.add_plain(builder, user_root, *long_names)
        (label,) = [label for label, _ in summary_of(builder, tmp_path) if label.startswith("{")]
        assert label == "{" + ", ".join(long_names[:3]) + "}"

    def test_rare_lists_need_one_in_a_thousand(self, builder, user_root, tmp_path):
        for _ in range(2):
            self.add_plain(builder, user_root, "rare")
        for _ in range(2998):
            self.add_plain(builder, user_root)
        rows = summary_of(builder, tmp_path)
        assert ("{rare}", None) not in rows
        assert rows[("Object", None)] == (3000, 3000 * 24)


class TestShallowSizes:
    """calculateShallowSizes: arrays and internal nodes owned by one object add to it."""

    def test_owned_arrays_move_to_their_owner(self, builder, user_root, tmp_path):
        owner = builder.node("object", "Owner", 32)
        builder.edge(user_root, "property", "owner", owner)
        elements = builder.node("array", "", 100)
        builder.edge(owner, "internal", "elements", elements)
        nested = builder.node("hidden", "system / Foo", 10)
        builder.edge(elements, "element", 0, nested)
        external = builder.node("native", "system / ExternalStringData", 7)
        builder.edge(owner, "internal", "data", external)
        rows = summary_of(builder, tmp_path)
        assert rows[("Owner", None)] == (1, 149)
        assert ("(array)", None) not in rows
        assert ("(system)", None) not in rows

    def test_shared_weak_and_root_owned_arrays_stay(self, builder, user_root, tmp_path):
        first = builder.node("object", "A", 32)
        second = builder.node("object", "B", 32)
        shared = builder.node("array", "", 100)
        behind_shared = builder.node("array", "", 50)
        only_weak = builder.node("array", "", 20)
        from_root = builder.node("array", "", 5)
        for obj in (first, second):
            builder.edge(user_root, "property", f"o{obj}", obj)
            builder.edge(obj, "internal", "shared", shared)
        builder.edge(shared, "element", 0, behind_shared)
        builder.edge(first, "weak", "w", only_weak)
        builder.edge(0, "element", 9, from_root)
        snap = load_snapshot(builder.write(tmp_path / "shared.heapsnapshot"))
        sizes = shallow_sizes(snap)
        assert sizes[[first, second, shared, behind_shared, only_weak, from_root]].tolist() == [
            32, 32, 100, 50, 20, 5]

    def test_no_user_roots_means_no_transfer(self, builder, tmp_path):
        obj = builder.node("object", "A", 32)
        builder.edge(1, "element", 1, obj)
        elements = builder.node("array", "", 100)
        builder.edge(obj, "internal", "elements", elements)
        snap = load_snapshot(builder.write(tmp_path / "internals.heapsnapshot"))
        assert shallow_sizes(snap)[[obj, elements]].tolist() == [32, 100]


class TestDetachedNodes:
    """propagateDOMState: embedder nodes inherit attached/detached state, attached first."""

    def test_detached_state_flows_through_native_nodes_only(self, builder, user_root, tmp_path):
        attached = builder.node("native", "Node / Attached", 8, detachedness=1)
        detached = builder.node("native", "Node / Widget", 8, detachedness=2)
        via_detached = builder.node("native", "Node / Child", 8)
        via_both = builder.node("native", "Node / Shared", 8)
        behind_js = builder.node("native", "Node / Hidden", 8)
        js = builder.node("object", "Holder", 8)
        for node in (attached, detached):
            builder.edge(user_root, "internal", f"n{node}", node)
        builder.edge(detached, "internal", "child", via_detached)
        builder.edge(detached, "internal", "shared", via_both)
        builder.edge(attached, "internal", "shared", via_both)
        builder.edge(detached, "internal", "js", js)
        builder.edge(js, "internal", "native", behind_js)
        snap = load_snapshot(builder.write(tmp_path / "dom.heapsnapshot"))
        assert dom_states(snap)[[attached, detached, via_detached, via_both, behind_js,
                                 js]].tolist() == [1, 2, 2, 1, 0, 0]
        labels = {row.label for row in HeapAnalysis(snap).class_rows()}
        assert {"Node / Attached", "Detached Node / Widget", "Detached Node / Child",
                "Node / Shared", "Node / Hidden", "Holder"} <= labels


def test_class_table_matches_summary(contents_snapshot):
    classes = HeapAnalysis(contents_snapshot.snapshot).classes
    assert classes.names == contents_snapshot.classes.names
    assert len(classes.names) == len(classes.locations) == len(contents_snapshot.rows)
    assert all(re.fullmatch(r"\d+:\d+:\d+", loc) for loc in classes.locations if loc)
