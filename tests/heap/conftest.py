"""Heap snapshot fixtures: real snapshots written by Node, and small hand-built ones."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from memtui.heap import ClassTable, HeapAnalysis, HeapSnapshot, load_snapshot
from tests.nodeproc import node_binary, node_majors, start_node

NODE_TYPES = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number",
              "native", "synthetic", "concatenated string", "sliced string", "symbol", "bigint",
              "object shape"]
EDGE_TYPES = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"]


@dataclass
class WrittenSnapshot:
    """A snapshot written by a real Node program, parsed once for the session."""

    path: Path
    snapshot: HeapSnapshot
    classes: ClassTable
    rows: list

    def rows_labelled(self, label: str) -> list:
        return [row for row in self.rows if row.label == label]


@pytest.fixture(scope="session", params=node_majors(), ids=lambda m: f"node{m}")
def contents_snapshot(request, tmp_path_factory) -> WrittenSnapshot:
    """tests/node/heap_contents.js's heap, written by each supported Node major."""
    path = tmp_path_factory.mktemp(f"heap-node{request.param}") / "contents.heapsnapshot"
    process = start_node(node_binary(request.param), "heap_contents.js",
                         env={"HEAP_SNAPSHOT_PATH": str(path)}, ready=r"\.heapsnapshot$")
    process.kill()
    snapshot = load_snapshot(path)
    analysis = HeapAnalysis(snapshot)
    return WrittenSnapshot(path, snapshot, analysis.classes, analysis.class_rows())


@dataclass
class SnapshotBuilder:
    """Builds a small .heapsnapshot by hand, in V8's layout (Node 24's meta by default)."""

    node_fields: list[str] = field(
        default_factory=lambda: ["type", "name", "id", "self_size", "edge_count", "detachedness"])
    node_types: list[str] = field(default_factory=lambda: list(NODE_TYPES))
    nodes: list[dict] = field(default_factory=list)
    edges: dict[int, list[tuple[str, str | int, int]]] = field(default_factory=dict)
    strings: list[str] = field(default_factory=lambda: [""])
    locations: list[tuple[int, int, int, int]] = field(default_factory=list)

    def string(self, text: str) -> int:
        if text not in self.strings:
            self.strings.append(text)
        return self.strings.index(text)

    def node(self, type_name: str, name: str, size: int, detachedness: int = 0) -> int:
        """Add a node; returns its ordinal."""
        ordinal = len(self.nodes)
        self.nodes.append({"type": self.node_types.index(type_name), "name": self.string(name),
                           "id": 2 * ordinal + 1, "self_size": size,
                           "detachedness": detachedness, "trace_node_id": 0})
        self.edges[ordinal] = []
        return ordinal

    def edge(self, source: int, type_name: str, name: str | int, target: int) -> None:
        self.edges[source].append((type_name, name, target))

    def locate(self, ordinal: int, script_id: int, line: int, column: int) -> None:
        self.locations.append((ordinal, script_id, line, column))

    def sections(self) -> dict:
        width = len(self.node_fields)
        nodes, edges = [], []
        for ordinal, node in enumerate(self.nodes):
            values = {**node, "edge_count": len(self.edges[ordinal])}
            nodes.extend(values[f] for f in self.node_fields)
            for type_name, name, target in self.edges[ordinal]:
                by_index = type_name in ("element", "hidden")
                edges.extend([EDGE_TYPES.index(type_name),
                              name if by_index else self.string(name), target * width])
        locations = [v for o, s, line, c in self.locations for v in (o * width, s, line, c)]
        node_types: list = ["number"] * width
        node_types[self.node_fields.index("type")] = self.node_types
        meta = {
            "node_fields": self.node_fields,
            "node_types": node_types,
            "edge_fields": ["type", "name_or_index", "to_node"],
            "edge_types": [EDGE_TYPES, "string_or_number", "node"],
            "location_fields": ["object_index", "script_id", "line", "column"],
        }
        return {
            "snapshot": {"meta": meta, "node_count": len(self.nodes),
                         "edge_count": len(edges) // 3, "trace_function_count": 0},
            "nodes": nodes, "edges": edges, "trace_function_infos": [], "trace_tree": [],
            "samples": [], "locations": locations, "strings": self.strings,
        }

    def text(self) -> str:
        """The file's text, laid out like V8 writes it (a record per line)."""
        sections = self.sections()
        width = len(self.node_fields)

        def records(values: list[int], size: int) -> str:
            rows = [",".join(map(str, values[i:i + size])) for i in range(0, len(values), size)]
            return "[" + "\n,".join(rows) + "]"

        parts = [f'"snapshot":{json.dumps(sections["snapshot"], separators=(",", ":"))}',
                 f'"nodes":{records(sections["nodes"], width)}',
                 f'"edges":{records(sections["edges"], 3)}',
                 '"trace_function_infos":[]', '"trace_tree":[]', '"samples":[]',
                 f'"locations":{records(sections["locations"], 4)}',
                 '"strings":[' + "\n,".join(json.dumps(s) for s in self.strings) + "]"]
        return "{" + ",\n".join(parts) + "}\n"

    def write(self, path: Path) -> Path:
        path.write_text(self.text())
        return path


@pytest.fixture
def builder() -> SnapshotBuilder:
    """A builder holding V8's usual frame: a synthetic root, (GC roots) and a user root."""
    built = SnapshotBuilder()
    root = built.node("synthetic", "", 0)
    gc_roots = built.node("synthetic", "(GC roots)", 0)
    built.edge(root, "element", 1, gc_roots)
    return built
