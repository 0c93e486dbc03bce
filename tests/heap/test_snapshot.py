"""The streaming parser: columns equal to a plain JSON parse, layouts from meta, clear errors."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from memtui.errors import EXIT_USAGE, UsageError
from memtui.heap import load_snapshot
from memtui.heap import snapshot as snapshot_module
from tests.heap.conftest import SnapshotBuilder


def reference_columns(path):
    data = json.loads(path.read_text())
    meta = data["snapshot"]["meta"]
    nodes = np.array(data["nodes"], dtype=np.int64).reshape(-1, len(meta["node_fields"]))
    edges = np.array(data["edges"], dtype=np.int64).reshape(-1, len(meta["edge_fields"]))
    return data, meta, nodes, edges


class TestRealSnapshots:
    """Snapshots written by Node 20 and 24 parse to exactly what a full JSON parse gives."""

    def test_columns_equal_a_full_json_parse(self, contents_snapshot):
        data, meta, nodes, edges = reference_columns(contents_snapshot.path)
        snap = contents_snapshot.snapshot
        fields = meta["node_fields"]
        assert snap.meta.node_fields == tuple(fields)
        assert snap.meta.node_types == tuple(meta["node_types"][0])
        assert snap.node_count == data["snapshot"]["node_count"] == len(nodes)
        assert snap.edge_count == data["snapshot"]["edge_count"] == len(edges)
        for column, field in ((snap.node_type, "type"), (snap.node_name, "name"),
                              (snap.node_id, "id"), (snap.node_self_size, "self_size"),
                              (snap.node_edge_count, "edge_count"),
                              (snap.node_detachedness, "detachedness")):
            np.testing.assert_array_equal(column, nodes[:, fields.index(field)])
        np.testing.assert_array_equal(snap.edge_type, edges[:, 0])
        np.testing.assert_array_equal(snap.edge_name, edges[:, 1])
        np.testing.assert_array_equal(snap.edge_to, edges[:, 2] // len(fields))
        np.testing.assert_array_equal(snap.first_edge[1:], np.cumsum(snap.node_edge_count))
        assert snap.strings == data["strings"]
        located = np.array(data["locations"]).reshape(-1, 4)
        assert len(snap.locations) == len(located)
        first = located[0]
        assert snap.locations.of(int(first[0]) // len(fields)) == tuple(int(v) for v in first[1:])

    def test_layout_differs_between_majors_and_comes_from_meta(self, contents_snapshot):
        snap = contents_snapshot.snapshot
        with_trace = "trace_node_id" in snap.meta.node_fields
        assert len(snap.meta.node_fields) == (7 if with_trace else 6)
        assert (snap.type_code("wasm object") >= 0) == ("wasm object" in snap.meta.node_types)
        assert snap.type_code("no such type") == -1
        assert snap.node_type_name(snap.root) == "synthetic"

    def test_numbers_split_across_chunks(self, contents_snapshot, monkeypatch):
        monkeypatch.setattr(snapshot_module, "CHUNK_SIZE", 4093)
        small_chunks = load_snapshot(contents_snapshot.path)
        snap = contents_snapshot.snapshot
        for name in ("node_type", "node_name", "node_id", "node_self_size", "node_edge_count",
                     "edge_type", "edge_name", "edge_to"):
            np.testing.assert_array_equal(getattr(small_chunks, name), getattr(snap, name))
        assert small_chunks.strings == snap.strings

    def test_locations_before_nodes_and_out_of_node_order(self, contents_snapshot, tmp_path):
        """A real snapshot rewritten with `locations` first (before `snapshot.meta` and
        `nodes`) and its records reversed gives every node the same location."""
        data, meta, _, _ = reference_columns(contents_snapshot.path)
        width = len(meta["location_fields"])
        records = np.array(data["locations"]).reshape(-1, width)
        assert len(records) > 100
        data["locations"] = records[::-1].ravel().tolist()
        reordered = {"locations": data["locations"],
                     **{key: value for key, value in data.items() if key != "locations"}}
        path = tmp_path / "locations-first.heapsnapshot"
        path.write_text(json.dumps(reordered))
        snap = load_snapshot(path)
        locations = snap.locations
        assert len(locations) == len(records)
        assert (np.diff(locations.node.astype(np.int64)) >= 0).all()
        node_width = len(meta["node_fields"])
        for node_index, script_id, line, column in records.tolist():
            assert locations.of(node_index // node_width) == (script_id, line, column)
        in_file_order = contents_snapshot.snapshot.locations
        for field in ("node", "script_id", "line", "column"):
            np.testing.assert_array_equal(getattr(locations, field),
                                          getattr(in_file_order, field))
        unlocated = np.setdiff1d(np.arange(snap.node_count), records[:, 0] // node_width)
        assert locations.of(int(unlocated[0])) is None

    def test_reports_progress_up_to_done(self, contents_snapshot, monkeypatch):
        monkeypatch.setattr(snapshot_module, "CHUNK_SIZE", 1 << 20)
        progress: list[float] = []
        load_snapshot(contents_snapshot.path, on_progress=progress.append)
        assert len(progress) > 2
        assert progress == sorted(progress)
        assert progress[-1] == 1.0


class TestLayouts:
    """Hand-built files: any section order, any field order, optional sections."""

    def test_sections_in_any_order(self, builder, tmp_path):
        obj = builder.node("object", "Thing", 32)
        builder.edge(0, "shortcut", "thing", obj)
        builder.locate(obj, 7, 1, 2)
        sections = builder.sections()
        reordered = {key: sections[key] for key in
                     ("strings", "edges", "locations", "nodes", "samples", "snapshot")}
        path = tmp_path / "reordered.heapsnapshot"
        path.write_text(json.dumps(reordered))
        snap = load_snapshot(path)
        assert snap.node_count == 3
        assert snap.node_name_str(obj) == "Thing"
        assert snap.edge_to.tolist() == [1, obj]
        assert snap.locations.of(obj) == (7, 1, 2)

    def test_field_order_and_missing_optional_fields(self, tmp_path):
        builder = SnapshotBuilder(node_fields=["name", "edge_count", "self_size", "id", "type"],
                                  node_types=["synthetic", "object", "hidden", "array", "string"])
        builder.edge(builder.node("synthetic", "", 0), "element", 1,
                     builder.node("synthetic", "(GC roots)", 0))
        obj = builder.node("object", "Thing", 48)
        builder.edge(obj, "property", "label", builder.node("string", "hello", 20))
        sections = builder.sections()
        del sections["locations"]
        path = tmp_path / "chrome.heapsnapshot"
        path.write_text(json.dumps(sections))
        snap = load_snapshot(path)
        assert snap.node_detachedness is None
        assert len(snap.locations) == 0
        assert snap.node_type_name(obj) == "object"
        assert snap.node_self_size.tolist() == [0, 0, 48, 20]
        assert snap.edge_name_str(1) == "label"
        assert snap.type_code("closure") == -1


def one_line_usage_error(path, pattern: str) -> UsageError:
    with pytest.raises(UsageError, match=pattern) as caught:
        load_snapshot(path)
    error = caught.value
    assert error.exit_code == EXIT_USAGE
    assert "\n" not in str(error)
    assert error.hint
    return error


@pytest.fixture
def valid_text(builder) -> str:
    obj = builder.node("object", "Thing", 32)
    builder.edge(0, "shortcut", "thing", obj)
    builder.edge(obj, "property", "label", builder.node("string", "hello world", 24))
    builder.edge(obj, "element", 3, builder.node("number", "heap number", 16))
    return builder.text()


class TestBadFiles:
    """A broken file is one UsageError naming what is wrong, never a traceback."""

    @pytest.mark.parametrize(("section", "marker"), [
        ("snapshot", '"node_types"'),
        ("nodes", '"nodes":[9,0,1,'),
        ("edges", '"edges":[1,1,'),
        ("strings", '"hello'),
    ])
    def test_truncated(self, tmp_path, valid_text, section, marker):
        cut = valid_text.index(marker) + len(marker) + 1
        path = tmp_path / "cut.heapsnapshot"
        path.write_text(valid_text[:cut])
        error = one_line_usage_error(path, f'cut.heapsnapshot is truncated inside "{section}"')
        assert "not written completely" in error.hint

    def test_truncated_just_before_the_end(self, tmp_path, valid_text):
        path = tmp_path / "cut.heapsnapshot"
        path.write_text(valid_text.rstrip()[:-1])
        one_line_usage_error(path, "truncated")

    @pytest.mark.parametrize(("content", "pattern"), [
        ("", "x.heapsnapshot is empty"),
        ("hello, world", "not a heap snapshot"),
        ("[1, 2, 3]", "not a heap snapshot"),
        ('{"name": "package", "version": "1.0.0"}', 'no "snapshot" section'),
        ('{"snapshot": {"node_count": 0}}', '"snapshot.meta" is missing'),
        ('{"snapshot": 7}', '"snapshot.meta" is missing'),
    ])
    def test_not_a_snapshot(self, tmp_path, content, pattern):
        path = tmp_path / "x.heapsnapshot"
        path.write_text(content)
        one_line_usage_error(path, pattern)

    def test_missing_file(self, tmp_path):
        one_line_usage_error(tmp_path / "absent.heapsnapshot", "cannot read")

    @pytest.mark.parametrize(("edit", "pattern"), [
        (lambda d: d["snapshot"]["meta"].pop("node_fields"), '"node_fields" is missing'),
        (lambda d: d["snapshot"]["meta"]["edge_fields"].remove("to_node"), 'lacks "to_node"'),
        (lambda d: d["snapshot"]["meta"].update(node_types=[]), '"node_types" does not list'),
        (lambda d: d["snapshot"].pop("edge_count"), '"edge_count" is missing'),
        (lambda d: d["snapshot"].update(node_count=6),
         r'"nodes" holds 30 values, but its snapshot.meta declares 6 records of 6 fields'),
        (lambda d: d["snapshot"].update(node_count=4), r'"nodes" holds more than values'),
        (lambda d: d["nodes"].append(0), r'"nodes" holds more than values.* \(30 values\)'),
        (lambda d: d["edges"].extend([2, 1, 6]), r'"edges" holds more than .* \(12 values\)'),
        (lambda d: d["nodes"].__setitem__(4, 3),
         "edge counts add up to 5, but snapshot.edge_count is 4"),
        (lambda d: d["edges"].__setitem__(5, 7), r"edge 1 has to_node 7, which is not a node"),
        (lambda d: d["edges"].__setitem__(8, 30), r"edge 2 has to_node 30, which is not a node"),
        (lambda d: d["nodes"].__setitem__(13, 99), r"node 2 names string 99, but there are only"),
        (lambda d: d["edges"].__setitem__(4, 99), r"edge 1 names string 99, but there are only"),
        (lambda d: d["nodes"].__setitem__(6, 40), "has a node type 40 but the meta lists 15"),
        (lambda d: d["nodes"].__setitem__(7, -1), "negative number"),
        (lambda d: d["edges"].__setitem__(0, "x"), "not a non-negative integer"),
        (lambda d: d.update(strings=["", 5]), "not a string"),
        (lambda d: d["snapshot"].update(root_index=500), "root_index 500 is not one of its"),
        (lambda d: d.update(nodes=[], edges=[]) or d["snapshot"].update(node_count=0,
                                                                       edge_count=0),
         "root_index 0 is not one of its 0 nodes"),
    ])
    def test_inconsistent_contents(self, tmp_path, valid_text, edit, pattern):
        data = json.loads(valid_text)
        edit(data)
        path = tmp_path / "bad.heapsnapshot"
        path.write_text(json.dumps(data))
        one_line_usage_error(path, pattern)

    def test_a_bad_value_deep_in_a_section_is_reported_in_file_order(
            self, contents_snapshot, tmp_path, monkeypatch):
        """Chunks are parsed on worker threads: the first bad chunk in the file is the
        error, even with later chunks (and a truncation) already read ahead."""
        monkeypatch.setattr(snapshot_module, "CHUNK_SIZE", 4093)
        text = contents_snapshot.path.read_bytes()
        edges = text.index(b'"edges":[')
        bad = text.index(b",", edges + 40_000)
        cut = text.index(b",", bad + 6000)
        path = tmp_path / "bad-deep.heapsnapshot"
        path.write_bytes(text[:bad] + b",x" + text[bad + 1:cut])
        one_line_usage_error(path, 'not a non-negative integer in "edges"')
        path.write_bytes(text[:cut])
        one_line_usage_error(path, 'truncated inside "edges"')

    def test_parse_threads_end_with_the_parse(self, contents_snapshot, tmp_path, valid_text):
        def parse_threads():
            return [t for t in threading.enumerate() if t.name.startswith("memtui-heap-parse")]

        load_snapshot(contents_snapshot.path)
        assert not parse_threads()
        path = tmp_path / "bad.heapsnapshot"
        path.write_text(valid_text.replace('"edges":[', '"edges":[x', 1))
        one_line_usage_error(path, "not a non-negative integer")
        assert not parse_threads()

        class Cancelled(Exception):
            pass

        def cancel_midway(fraction: float) -> None:
            if 0.2 < fraction < 1.0:
                raise Cancelled

        with pytest.raises(Cancelled):
            load_snapshot(contents_snapshot.path, on_progress=cancel_midway)
        assert not parse_threads()

    def test_element_edges_name_indexes_not_strings(self, tmp_path, valid_text):
        data = json.loads(valid_text)
        data["edges"][10] = 10_000
        path = tmp_path / "elements.heapsnapshot"
        path.write_text(json.dumps(data))
        assert load_snapshot(path).edge_name_str(3) == "10000"
