"""DevTools' Statistics view, duplicated strings and the largest objects."""

from __future__ import annotations

import pytest

from memtui.heap import HeapAnalysis, load_snapshot


@pytest.fixture
def user_root(builder) -> int:
    global_object = builder.node("object", "global", 40)
    builder.edge(0, "shortcut", "global", global_object)
    return global_object


def analyse(builder, tmp_path) -> HeapAnalysis:
    return HeapAnalysis(load_snapshot(builder.write(tmp_path / "built.heapsnapshot")))


class TestStatistics:
    """calculateStatistics over shallow sizes, calculateArraySize for JS arrays."""

    def test_categories(self, builder, user_root, tmp_path):
        def held(type_name: str, name: str, size: int, holder: int = user_root) -> int:
            node = builder.node(type_name, name, size)
            builder.edge(holder, "property", f"p{node}", node)
            return node

        code = held("code", "f", 100)
        held("string", "text", 24)
        held("concatenated string", "text and more", 32)
        system = held("hidden", "system / Foo", 16)
        builder.edge(code, "internal", "shared", system)
        held("native", "system / JSArrayBufferData", 4096)
        held("native", "other native", 64)
        array = held("object", "Array", 16)
        elements = builder.node("array", "", 80)
        builder.edge(array, "internal", "elements", elements)
        shared_array = held("object", "Array", 16)
        shared_elements = held("array", "", 48)
        builder.edge(shared_array, "internal", "elements", shared_elements)
        stats = analyse(builder, tmp_path).statistics
        assert (stats.code, stats.strings, stats.system) == (100, 56, 16)
        assert (stats.native, stats.typed_arrays) == (4160, 4096)
        # The owned elements moved into the array's shallow size; the shared ones did not,
        # and a store with two retainers is not added.
        assert stats.js_arrays == 16 + 80 + 16
        assert stats.total == 40 + 100 + 56 + 16 + 4160 + 16 + 80 + 16 + 48
        assert stats.v8_heap == stats.total - stats.native
        assert sum(size for _, size in stats.rows()) == stats.total
        assert stats.other_js_objects == 40 + 48

    def test_extra_native_bytes_count_as_native(self, builder, user_root, tmp_path):
        path = builder.write(tmp_path / "extra.heapsnapshot")
        path.write_text(path.read_text().replace('"node_count":', '"extra_native_bytes":1000,'
                                                                  '"node_count":', 1))
        stats = HeapAnalysis(load_snapshot(path)).statistics
        assert (stats.total, stats.native, stats.v8_heap) == (1040, 1000, 40)

    def test_real_heap_adds_up(self, contents_snapshot):
        analysis = HeapAnalysis(contents_snapshot.snapshot)
        stats = analysis.statistics
        assert stats.total == int(analysis.retained_sizes[analysis.snapshot.root])
        assert sum(size for _, size in stats.rows()) == stats.total
        assert stats.typed_arrays >= 300_000
        assert min(size for _, size in stats.rows()) >= 0
        assert stats.strings > 0 and stats.code > 0 and stats.js_arrays > 0


class TestDuplicateStrings:
    def test_grouped_by_value_as_devtools_filters_them(self, builder, user_root, tmp_path):
        def held(type_name: str, name: str, size: int) -> int:
            node = builder.node(type_name, name, size)
            builder.edge(user_root, "property", f"p{node}", node)
            return node

        for _ in range(3):
            held("string", "repeated", 32)
        held("string", "once", 32)
        held("sliced string", "repeated", 20)
        held("string", "repeated", 0)
        flat = held("concatenated string", "repeated", 32)
        empty = builder.node("string", "", 16)
        builder.edge(flat, "internal", "first", empty)
        for _ in range(2):
            held("concatenated string", "(concatenated string)", 32)
        kept_cons = held("concatenated string", "pair", 32)
        held("string", "pair", 24)
        part = builder.node("string", "pa", 16)
        builder.edge(kept_cons, "internal", "first", part)
        found = {d.value: d for d in analyse(builder, tmp_path).duplicate_strings}
        assert set(found) == {"repeated", "pair"}
        assert (found["repeated"].count, found["repeated"].self_size) == (3, 96)
        assert found["repeated"].wasted_size == 64
        assert found["pair"].count == 2
        assert found["pair"].retained_size == 32 + 16 + 24
        assert found["pair"].wasted_size == (32 + 16 + 24) // 2

    def test_most_wasted_first_on_a_real_heap(self, contents_snapshot):
        duplicates = HeapAnalysis(contents_snapshot.snapshot).duplicate_strings
        assert duplicates and all(d.count >= 2 for d in duplicates)
        wasted = [d.wasted_size for d in duplicates]
        assert wasted == sorted(wasted, reverse=True)


def test_largest_objects_by_retained_size(contents_snapshot):
    analysis = HeapAnalysis(contents_snapshot.snapshot)
    largest = analysis.largest_objects(10)
    assert len(largest) == 10
    sizes = [o.retained_size for o in largest]
    assert sizes == sorted(sizes, reverse=True)
    retained = analysis.retained_sizes
    counted = analysis.classes.node_class >= 0
    assert sizes[0] == int(retained[counted].max())
    assert all(o.label.endswith(f"@{o.node_id}") for o in largest)
    assert all(o.retained_size >= o.self_size for o in largest)
