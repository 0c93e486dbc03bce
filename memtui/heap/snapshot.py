"""Streaming, numpy-backed reader for V8 `.heapsnapshot` files.

The file is read in chunks; the large integer sections (`nodes`, `edges`) go straight into
preallocated column arrays, so memory stays close to the size of those columns and no Python
object is built per node or edge. The layout comes from the file's own `snapshot.meta`.
The integer text is parsed by a compiled loop on two worker threads, a chunk at a time, while
the calling thread reads ahead and fills the columns in file order.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memtui.errors import UsageError
from memtui.heap import kernels

CHUNK_SIZE = 1 << 20
PARSE_THREADS = 2
MAX_CHUNKS_IN_FLIGHT = 2 * PARSE_THREADS
CHECK_BLOCK = 1 << 20
MAX_RECORDS = 2**31 - 1  # node ordinals and edge positions are int32
NUMBER_SEPARATOR = b","
WHITESPACE = b" \t\r\n"
REQUIRED_NODE_FIELDS = ("type", "name", "id", "self_size", "edge_count")
REQUIRED_EDGE_FIELDS = ("type", "name_or_index", "to_node")
LOCATION_FIELDS = ("object_index", "script_id", "line", "column")
EDGE_TYPES_NAMED_BY_INDEX = ("element", "hidden")
NUMBER_SECTIONS = ("trace_function_infos", "trace_tree", "samples", "scopes", "scope_context_vars",
                   "scope_uses")
RETAKE_HINT = "the file was not written completely; take the snapshot again"
NOT_A_SNAPSHOT_HINT = "give a .heapsnapshot file written by memtui, Node or Chrome DevTools"


@dataclass(frozen=True)
class SnapshotMeta:
    """Field layout of a snapshot, as declared by its `snapshot.meta`."""

    node_fields: tuple[str, ...]
    node_types: tuple[str, ...]
    edge_fields: tuple[str, ...]
    edge_types: tuple[str, ...]
    location_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeLocations:
    """Source locations of nodes, sorted by node ordinal (one row per located node)."""

    node: np.ndarray
    script_id: np.ndarray
    line: np.ndarray
    column: np.ndarray

    def __len__(self) -> int:
        return len(self.node)

    def rows_for(self, ordinals: np.ndarray) -> np.ndarray:
        """Row index of each ordinal's location, or -1 where the node has none."""
        ordinals = np.asarray(ordinals)
        if not len(self.node):
            return np.full(ordinals.shape, -1, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.node, ordinals), len(self.node) - 1)
        return np.where(self.node[rows] == ordinals, rows, -1)

    def of(self, ordinal: int) -> tuple[int, int, int] | None:
        """(script_id, line, column) of one node, or None."""
        row = int(self.rows_for(np.array([ordinal]))[0])
        if row < 0:
            return None
        return int(self.script_id[row]), int(self.line[row]), int(self.column[row])


class HeapSnapshot:
    """Columnar, numpy-backed view of a .heapsnapshot; never one Python object per node."""

    def __init__(self, *, path: Path | None, meta: SnapshotMeta, nodes: dict[str, np.ndarray],
                 edges: dict[str, np.ndarray], strings: list[str], locations: NodeLocations,
                 root_index: int = 0, extra_native_bytes: int = 0):
        self.path = path
        self.meta = meta
        self.node_type: np.ndarray = nodes["type"]
        self.node_name: np.ndarray = nodes["name"]
        self.node_id: np.ndarray = nodes["id"]
        self.node_self_size: np.ndarray = nodes["self_size"]
        self.node_detachedness: np.ndarray | None = nodes.get("detachedness")
        self.node_count = len(self.node_type)
        self.first_edge = np.zeros(self.node_count + 1, dtype=np.int32)
        self.first_edge[1:] = nodes["edge_count"]
        np.cumsum(self.first_edge, out=self.first_edge)
        self.edge_type: np.ndarray = edges["type"]
        self.edge_name: np.ndarray = edges["name_or_index"]
        self.edge_to: np.ndarray = edges["to_node"]
        self.edge_count = len(self.edge_type)
        self.strings = strings
        self.locations = locations
        self.root = root_index
        self.extra_native_bytes = extra_native_bytes

    @property
    def node_edge_count(self) -> np.ndarray:
        """Number of edges of every node (derived from `first_edge`, so not kept twice)."""
        return np.diff(self.first_edge).astype(np.uint32)

    def node_type_name(self, ordinal: int) -> str:
        """Name of the node's type, e.g. 'object' or 'closure'."""
        return self.meta.node_types[self.node_type[ordinal]]

    def node_name_str(self, ordinal: int) -> str:
        """The node's raw name from the strings table."""
        return self.strings[self.node_name[ordinal]]

    def type_code(self, name: str) -> int:
        """Code of a node type in this snapshot, or -1 if it has no such type."""
        return self.meta.node_types.index(name) if name in self.meta.node_types else -1

    def edge_type_code(self, name: str) -> int:
        """Code of an edge type in this snapshot, or -1 if it has no such type."""
        return self.meta.edge_types.index(name) if name in self.meta.edge_types else -1

    def edge_source(self) -> np.ndarray:
        """Source node ordinal of every edge (built on demand: 4 bytes per edge)."""
        return np.repeat(np.arange(self.node_count, dtype=np.uint32), np.diff(self.first_edge))

    def edge_counts_of(self, nodes: np.ndarray) -> np.ndarray:
        """Number of edges of each node in `nodes`."""
        return self.first_edge[nodes + 1] - self.first_edge[nodes]

    def edges_of(self, nodes: np.ndarray) -> np.ndarray:
        """The edge positions of `nodes`, node after node, each node's edges in order."""
        index_type = np.int32 if self.edge_count < 2**31 else np.int64
        starts = self.first_edge[nodes].astype(index_type)
        lengths = self.first_edge[nodes + 1].astype(index_type) - starts
        total = int(lengths.sum(dtype=np.int64))
        if not total:
            return np.empty(0, dtype=index_type)
        starts -= np.cumsum(lengths, dtype=index_type) - lengths
        ranges = np.repeat(starts, lengths)
        ranges += np.arange(total, dtype=index_type)
        return ranges

    def edge_name_str(self, edge: int) -> str:
        """The edge's name; element and hidden edges are named by their index."""
        if self.meta.edge_types[self.edge_type[edge]] in EDGE_TYPES_NAMED_BY_INDEX:
            return str(int(self.edge_name[edge]))
        return self.strings[self.edge_name[edge]]


def load_snapshot(path, *, on_progress: Callable[[float], None] | None = None) -> HeapSnapshot:
    """Parse a .heapsnapshot file; raise UsageError naming what is wrong with a bad file."""
    path = Path(path)
    try:
        file = open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}",
                         "check the file name and its permissions") from None
    with file:
        size = path.stat().st_size
        if size == 0:
            raise UsageError(f"{path.name} is empty", NOT_A_SNAPSHOT_HINT)
        reader = _Reader(file, path.name, size, on_progress)
        with ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="memtui-heap-parse") as pool:
            return _SnapshotParser(reader, path, pool).parse()


class _Reader:
    """A byte buffer over the file that refills in chunks; `pos` indexes into `buf`."""

    def __init__(self, file, name: str, size: int, on_progress):
        self.file = file
        self.name = name
        self.size = size
        self.on_progress = on_progress
        self.buf = b""
        self.pos = 0
        self.consumed = 0
        self.eof = False
        self.section = "the top-level object"

    def fill(self, want: int = 1) -> bool:
        """Ensure `want` unread bytes are buffered; False if the file ends first."""
        while len(self.buf) - self.pos < want and not self.eof:
            self.consumed += self.pos
            data = self.file.read(max(CHUNK_SIZE, want))
            self.buf = self.buf[self.pos:] + data
            self.pos = 0
            self.eof = not data
            if self.on_progress and data:
                self.on_progress(min(1.0, (self.consumed + len(self.buf)) / self.size))
        return len(self.buf) - self.pos >= want

    def truncated(self) -> UsageError:
        return UsageError(f'{self.name} is truncated inside "{self.section}"', RETAKE_HINT)

    def malformed(self, what: str) -> UsageError:
        return UsageError(f'{self.name} is not a valid heap snapshot: {what} in "{self.section}"',
                          NOT_A_SNAPSHOT_HINT)

    def skip_whitespace(self) -> None:
        while self.fill():
            if self.buf[self.pos] not in WHITESPACE:
                return
            self.pos += 1

    def next_byte(self) -> bytes:
        self.skip_whitespace()
        if not self.fill():
            raise self.truncated()
        return self.buf[self.pos:self.pos + 1]

    def expect(self, char: bytes, what: str) -> None:
        if self.next_byte() != char:
            raise self.malformed(f"expected {what}")
        self.pos += 1

    def json_value(self, *, large: bool = False):
        """Decode one JSON value, growing the buffer until it is complete. A `large` value
        (the strings table) is read with the rest of the file in one go, and the buffer's
        bytes are released while the decoded text is parsed."""
        decoder = json.JSONDecoder()
        self.skip_whitespace()
        want = self.size - self.consumed - self.pos + 1 if large else 1 << 16
        while True:
            self.fill(want)
            window = self.buf[self.pos:self.pos + want]
            text = window.decode("utf-8", "surrogateescape")
            window_size = len(window)
            del window
            rest = self.buf[self.pos + want:]
            self.consumed += self.pos
            self.buf, self.pos = b"", 0
            try:
                value, end = decoder.raw_decode(text)
            except json.JSONDecodeError as error:
                self.buf = text.encode("utf-8", "surrogateescape") + rest
                if rest:
                    want *= 4
                    continue
                if not self.eof:
                    want = max(want * 4, len(self.buf) + CHUNK_SIZE)
                    continue
                if error.msg.startswith("Unterminated string") or (
                        error.pos >= len(text.rstrip())):
                    raise self.truncated() from None
                raise self.malformed(f"invalid JSON ({error.msg})") from None
            tail = text[end:].encode("utf-8", "surrogateescape")
            self.consumed += window_size - len(tail)
            self.buf = tail + rest
            return value

    def integers(self, sink: Callable[[np.ndarray], None], pool: Executor) -> None:
        """Parse a flat JSON array of non-negative integers, feeding values to `sink` by chunk,
        in order. Chunks are parsed on `pool` (numpy's text parser releases the GIL), with
        at most `MAX_CHUNKS_IN_FLIGHT` read ahead."""
        self.expect(b"[", "an array")
        in_flight: deque[Future] = deque()
        try:
            while True:
                self.fill(CHUNK_SIZE)
                if self.pos >= len(self.buf):
                    raise self._truncated_after(in_flight, sink)
                close = self.buf.find(b"]", self.pos)
                if close >= 0:
                    self._submit(self.buf[self.pos:close], pool, in_flight)
                    self.pos = close + 1
                    break
                cut = self.buf.rfind(NUMBER_SEPARATOR, self.pos)
                if cut < 0:
                    if self.eof:
                        raise self._truncated_after(in_flight, sink)
                    self.fill(len(self.buf) - self.pos + CHUNK_SIZE)
                    continue
                self._submit(self.buf[self.pos:cut], pool, in_flight)
                self.pos = cut + 1
                if self.eof and self.pos >= len(self.buf):
                    raise self._truncated_after(in_flight, sink)
                while len(in_flight) > MAX_CHUNKS_IN_FLIGHT:
                    sink(self._parsed(in_flight.popleft()))
            while in_flight:
                sink(self._parsed(in_flight.popleft()))
        finally:
            for future in in_flight:
                future.cancel()

    @staticmethod
    def _submit(text: bytes, pool: Executor, in_flight: deque[Future]) -> None:
        if text and not text.isspace():
            in_flight.append(pool.submit(_parse_numbers, text))

    def _truncated_after(self, in_flight: deque[Future], sink) -> UsageError:
        """The truncation error, once the chunks before it are through `sink` (an error in
        them is reported first, in file order)."""
        while in_flight:
            sink(self._parsed(in_flight.popleft()))
        return self.truncated()

    def _parsed(self, future: Future) -> np.ndarray:
        try:
            return future.result()
        except _MalformedNumbers as error:
            raise self.malformed(str(error)) from None

    def skip_number_arrays(self) -> None:
        """Skip a (possibly nested) array that holds only numbers, like `trace_tree`."""
        self.expect(b"[", "an array")
        depth = 1
        while True:
            if not self.fill():
                raise self.truncated()
            end = self.buf.find(b"]", self.pos)
            if end >= 0 and self.buf.count(b"[", self.pos, end) == 0 and depth == 1:
                self.pos = end + 1
                return
            window = np.frombuffer(self.buf, dtype=np.uint8, offset=self.pos)
            step = (window == ord("[")).astype(np.int8) - (window == ord("]"))
            closed = np.flatnonzero(np.cumsum(step, dtype=np.int64) == -depth)
            if closed.size:
                self.pos += int(closed[0]) + 1
                return
            depth += int(step.sum(dtype=np.int64))
            self.pos = len(self.buf)


class _MalformedNumbers(ValueError):
    """A number section holds something other than non-negative integers."""


def _parse_numbers(text: bytes) -> np.ndarray:
    """The comma-separated integers in `text`. Every number in these sections is an unsigned
    32-bit value (DevTools holds them in Uint32Arrays)."""
    values = np.empty(len(text) // 2 + 1, dtype=np.uint32)
    count = kernels.parse_numbers(np.frombuffer(text, dtype=np.uint8), values)
    if count == kernels.NEGATIVE_NUMBER:
        raise _MalformedNumbers("a negative number")
    if count < 0:
        raise _MalformedNumbers("a value that is not a non-negative integer")
    return values[:count]


@dataclass(frozen=True)
class _FieldCheck:
    """A column's values must be below `limit`; with a `divisor`, multiples of it, stored
    divided (to_node: a node index times the node field count). `error(row, value)` is the
    error for the first value that is not."""

    limit: int
    divisor: int
    error: Callable[[int, int], UsageError]


class _ColumnSink:
    """Scatters a stream of integers, `width` per record, into per-field column arrays."""

    def __init__(self, reader: _Reader, fields: tuple[str, ...], count: int,
                 dtypes: dict[str, type[np.generic]],
                 checks: dict[str, _FieldCheck] | None = None):
        self.reader = reader
        self.fields = fields
        self.width = len(fields)
        self.count = count
        self.columns: dict[str, np.ndarray] = {field: np.empty(count, dtype=dtype)
                                               for field, dtype in dtypes.items()}
        self.checks = checks or {}
        self.received = 0

    def __call__(self, values: np.ndarray) -> None:
        if self.received + len(values) > self.count * self.width:
            raise self.mismatch("more than")
        for position, field in enumerate(self.fields):
            column = self.columns.get(field)
            if column is None:
                continue
            start = (position - self.received) % self.width
            row = (self.received + start) // self.width
            check = self.checks.get(field)
            limit, divisor = (check.limit, check.divisor) if check else (0, 0)
            bad = kernels.scatter_field(values, start, self.width, column, row, limit, divisor)
            if bad >= 0 and check is not None:
                raise check.error(row + bad, int(values[start + bad * self.width]))
        self.received += len(values)

    def finish(self) -> dict[str, np.ndarray]:
        if self.received != self.count * self.width:
            raise self.mismatch(str(self.received))
        return self.columns

    def mismatch(self, held: str) -> UsageError:
        reader = self.reader
        return UsageError(
            f'{reader.name} is inconsistent: "{reader.section}" holds {held} values, but its '
            f"snapshot.meta declares {self.count} records of {self.width} fields "
            f"({self.count * self.width} values)", NOT_A_SNAPSHOT_HINT)


class _BufferSink:
    """Keeps integer chunks for a section met before `snapshot.meta`, to replay later."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def __call__(self, values: np.ndarray) -> None:
        self.parts.append(values)

    def replay(self, sink: Callable[[np.ndarray], None]) -> None:
        for part in self.parts:
            sink(part)
        self.parts.clear()


class _SnapshotParser:
    def __init__(self, reader: _Reader, path: Path, pool: Executor):
        self.reader = reader
        self.path = path
        self.pool = pool
        self.header: dict | None = None
        self.meta: SnapshotMeta | None = None
        self.node_columns: dict[str, np.ndarray] | None = None
        self.edge_columns: dict[str, np.ndarray] | None = None
        self.pending: dict[str, _BufferSink] = {}
        self.location_values: list[np.ndarray] = []
        self.strings: list[str] | None = None

    def parse(self) -> HeapSnapshot:
        reader = self.reader
        reader.skip_whitespace()
        if reader.next_byte() != b"{":
            raise UsageError(f"{reader.name} is not a heap snapshot (it is not a JSON object)",
                             NOT_A_SNAPSHOT_HINT)
        reader.pos += 1
        if reader.next_byte() != b"}":
            while True:
                reader.section = "the top-level object"
                key = reader.json_value()
                if not isinstance(key, str):
                    raise reader.malformed("a key that is not a string")
                reader.expect(b":", "':' after a key")
                reader.section = key
                self.section(key)
                reader.section = "the top-level object"
                separator = reader.next_byte()
                reader.pos += 1
                if separator == b"}":
                    break
                if separator != b",":
                    raise reader.malformed("expected ',' or '}'")
        else:
            reader.pos += 1
        return self.build()

    def section(self, key: str) -> None:
        reader = self.reader
        if key == "snapshot":
            self.header = reader.json_value()
            self.meta = self.read_meta(self.header)
            for name, buffered in self.pending.items():
                reader.section = name
                sink = self.sink_for(name)
                buffered.replay(sink)
                self.finish_sink(name, sink)
            self.pending.clear()
        elif key in ("nodes", "edges"):
            if self.meta is None:
                self.pending[key] = _BufferSink()
                reader.integers(self.pending[key], self.pool)
            else:
                sink = self.sink_for(key)
                reader.integers(sink, self.pool)
                self.finish_sink(key, sink)
        elif key == "locations":
            reader.integers(self.location_values.append, self.pool)
        elif key == "strings":
            strings = reader.json_value(large=True)
            if not isinstance(strings, list) or set(map(type, strings)) - {str}:
                raise reader.malformed("an entry that is not a string")
            self.strings = strings
        elif key in NUMBER_SECTIONS:
            reader.skip_number_arrays()
        else:
            reader.json_value()

    def read_meta(self, header) -> SnapshotMeta:
        name = self.reader.name
        if not isinstance(header, dict) or not isinstance(header.get("meta"), dict):
            raise UsageError(f'{name} is not a heap snapshot: "snapshot.meta" is missing',
                             NOT_A_SNAPSHOT_HINT)
        meta = header["meta"]

        def fields(key: str, required: tuple[str, ...]) -> tuple[str, ...]:
            value = meta.get(key)
            if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
                raise UsageError(f'{name} has an invalid snapshot.meta: "{key}" is missing',
                                 NOT_A_SNAPSHOT_HINT)
            missing = [f for f in required if f not in value]
            if missing:
                raise UsageError(f'{name} has an invalid snapshot.meta: "{key}" lacks '
                                 + ", ".join(f'"{f}"' for f in missing), NOT_A_SNAPSHOT_HINT)
            return tuple(value)

        def type_names(key: str, field_list: tuple[str, ...]) -> tuple[str, ...]:
            value = meta.get(key)
            position = field_list.index("type")
            if (not isinstance(value, list) or len(value) <= position
                    or not isinstance(value[position], list)
                    or not all(isinstance(t, str) for t in value[position])):
                raise UsageError(f'{name} has an invalid snapshot.meta: "{key}" does not list '
                                 "the type names", NOT_A_SNAPSHOT_HINT)
            return tuple(value[position])

        node_fields = fields("node_fields", REQUIRED_NODE_FIELDS)
        edge_fields = fields("edge_fields", REQUIRED_EDGE_FIELDS)
        location_fields = tuple(meta.get("location_fields") or ())
        for key in ("node_count", "edge_count"):
            if not isinstance(header.get(key), int) or header[key] < 0:
                raise UsageError(f'{name} has an invalid "snapshot": "{key}" is missing',
                                 NOT_A_SNAPSHOT_HINT)
            if header[key] > MAX_RECORDS:
                raise UsageError(f"{name} holds {header[key]:,} {key[:4]}s, more than memtui "
                                 f"can analyse ({MAX_RECORDS:,})",
                                 "DevTools cannot open it either")
        return SnapshotMeta(node_fields=node_fields,
                            node_types=type_names("node_types", node_fields),
                            edge_fields=edge_fields,
                            edge_types=type_names("edge_types", edge_fields),
                            location_fields=location_fields)

    def layout(self) -> tuple[dict, SnapshotMeta]:
        """The header and its meta, once the `snapshot` section has been read."""
        if self.header is None or self.meta is None:
            raise UsageError(f'{self.reader.name} is not a heap snapshot (no "snapshot" '
                             "section)", NOT_A_SNAPSHOT_HINT)
        return self.header, self.meta

    def sink_for(self, key: str) -> _ColumnSink:
        header, meta = self.layout()
        dtypes: dict[str, type[np.generic]]
        if key == "nodes":
            dtypes = {"type": np.uint8, "name": np.uint32, "id": np.uint32,
                      "self_size": np.uint32, "edge_count": np.uint32}
            if "detachedness" in meta.node_fields:
                dtypes["detachedness"] = np.uint8
            checks = {"type": self.check_below(len(meta.node_types), "a node type")}
            return _ColumnSink(self.reader, meta.node_fields, header["node_count"], dtypes,
                               checks)
        node_field_count = len(meta.node_fields)
        dtypes = {"type": np.uint8, "name_or_index": np.uint32, "to_node": np.uint32}
        checks = {"type": self.check_below(len(meta.edge_types), "an edge type"),
                  "to_node": self.check_to_node(node_field_count, header["node_count"])}
        return _ColumnSink(self.reader, meta.edge_fields, header["edge_count"], dtypes, checks)

    def check_below(self, limit: int, what: str) -> _FieldCheck:
        def error(row: int, value: int) -> UsageError:
            return self.corrupt(f"record {row} has {what} {value} but the meta lists {limit}")
        return _FieldCheck(limit, 0, error)

    def check_to_node(self, node_field_count: int, node_count: int) -> _FieldCheck:
        def error(row: int, value: int) -> UsageError:
            return self.corrupt(
                f"edge {row} has to_node {value}, which is not a node (a multiple of "
                f"{node_field_count} below {node_count * node_field_count})")
        return _FieldCheck(node_count, node_field_count, error)

    def corrupt(self, what: str) -> UsageError:
        return UsageError(f"{self.reader.name} is corrupt: {what}", NOT_A_SNAPSHOT_HINT)

    def finish_sink(self, key: str, sink: _ColumnSink) -> None:
        columns = sink.finish()
        if key == "nodes":
            self.node_columns = columns
        else:
            self.edge_columns = columns

    def build(self) -> HeapSnapshot:
        header, meta = self.layout()
        nodes, edges, strings = self.node_columns, self.edge_columns, self.strings
        if nodes is None:
            raise self.missing("nodes")
        if edges is None:
            raise self.missing("edges")
        if strings is None:
            raise self.missing("strings")
        declared_edges = header["edge_count"]
        edge_sum = int(nodes["edge_count"].sum(dtype=np.int64))
        if edge_sum != declared_edges:
            raise self.corrupt(f"the nodes' edge counts add up to {edge_sum}, "
                               f"but snapshot.edge_count is {declared_edges}")
        self.check_string_indexes(meta, nodes, edges, len(strings))
        root_index = header.get("root_index", 0)
        width = len(meta.node_fields)
        node_count = len(nodes["type"])
        if (not isinstance(root_index, int) or root_index < 0 or root_index % width
                or root_index // width >= node_count):
            raise self.corrupt(f"its root_index {root_index!r} is not one of its "
                               f"{node_count} nodes")
        root = root_index // width
        extra_native = header.get("extra_native_bytes", 0)
        if not isinstance(extra_native, int):
            extra_native = 0
        return HeapSnapshot(path=self.path, meta=meta, nodes=nodes, edges=edges,
                            strings=strings, locations=self.build_locations(meta),
                            root_index=root, extra_native_bytes=extra_native)

    def missing(self, key: str) -> UsageError:
        return UsageError(f'{self.reader.name} is not a heap snapshot (no "{key}" section)',
                          NOT_A_SNAPSHOT_HINT)

    def check_string_indexes(self, meta: SnapshotMeta, nodes: dict[str, np.ndarray],
                             edges: dict[str, np.ndarray], string_count: int) -> None:
        names = nodes["name"]
        if names.size and int(names.max()) >= string_count:
            node = int(np.argmax(names >= string_count))
            raise self.corrupt(f"node {node} names string {int(names[node])}, "
                               f"but there are only {string_count} strings")
        names = edges["name_or_index"]
        if not names.size or int(names.max()) < string_count:
            return
        named_by_string = np.ones(len(meta.edge_types), dtype=np.bool_)
        named_by_string[[meta.edge_types.index(t) for t in EDGE_TYPES_NAMED_BY_INDEX
                         if t in meta.edge_types]] = False
        for start in range(0, len(names), CHECK_BLOCK):
            block = slice(start, start + CHECK_BLOCK)
            out_of_range = names[block] >= string_count
            out_of_range &= named_by_string[edges["type"][block]]
            if out_of_range.any():
                edge = start + int(np.argmax(out_of_range))
                raise self.corrupt(f"edge {edge} names string {int(names[edge])}, "
                                   f"but there are only {string_count} strings")

    def build_locations(self, meta: SnapshotMeta) -> NodeLocations:
        fields = meta.location_fields
        values = (np.concatenate(self.location_values) if self.location_values
                  else np.empty(0, dtype=np.uint32))
        self.location_values.clear()
        if not values.size or any(f not in fields for f in LOCATION_FIELDS):
            empty = np.empty(0, dtype=np.int32)
            return NodeLocations(empty.astype(np.uint32), empty, empty, empty)
        width = len(fields)
        if values.size % width:
            raise self.corrupt(f'"locations" holds {values.size} values, '
                               f"not a multiple of its {width} fields")
        table = values.reshape(-1, width)
        del values
        ordinals = table[:, fields.index("object_index")] // len(meta.node_fields)
        columns = [table[:, fields.index(f)] for f in ("script_id", "line", "column")]
        if ordinals.size > 1 and (ordinals[1:] < ordinals[:-1]).any():
            order = np.argsort(ordinals, kind="stable")
            ordinals = ordinals[order]
            columns = [column[order] for column in columns]
        script_id, line, column = (c.astype(np.int32) for c in columns)
        return NodeLocations(node=ordinals.astype(np.uint32, copy=False), script_id=script_id,
                             line=line, column=column)
