"""Script names for V8's script ids, read from the snapshot itself, and locations as users name
them (`leaking-class.js:2:7`).

A snapshot's `locations` give a script id, a line and a column (both 0-based) per located
node. The name of each script is in the snapshot too: a closure's `shared` edge leads to its
SharedFunctionInfo, whose `script` edge (`script_or_debug_info` on Node 20) leads to the
Script, whose `name` edge holds the file path or URL. Closures are located by their script
id, so one closure per script id names that script.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import numpy as np

from memtui.heap.capture_record import read_capture_record
from memtui.heap.snapshot import HeapSnapshot

SHARED_EDGE = "shared"
SCRIPT_EDGES = ("script", "script_or_debug_info")
NAME_EDGE = "name"
CLOSURES_TRIED_PER_SCRIPT = 4
NODE_SCRIPT_PREFIX = "node:"


@dataclass(frozen=True)
class SourceLocation:
    """A position in a script as V8 records it: script id, 0-based line and column."""

    script_id: int
    line: int
    column: int

    @classmethod
    def parse(cls, key: str) -> SourceLocation | None:
        """The location of a class key's `script_id:line:col`, or None if it is not one."""
        parts = key.split(":")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            return None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]))


def script_names(snapshot: HeapSnapshot) -> dict[int, str]:
    """Name of every script id that a located closure of the snapshot belongs to."""
    locations = snapshot.locations
    if not len(locations):
        return {}
    closures = snapshot.node_type[locations.node] == snapshot.type_code("closure")
    nodes = locations.node[closures].astype(np.int64)
    script_ids = locations.script_id[closures].astype(np.int64)
    order = np.argsort(script_ids, kind="stable")
    nodes, script_ids = nodes[order], script_ids[order]
    starts = np.flatnonzero(np.r_[True, script_ids[1:] != script_ids[:-1]]) if len(nodes) else (
        np.empty(0, dtype=np.int64))
    ends = np.r_[starts[1:], len(nodes)].astype(np.int64)
    names: dict[int, str] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        for node in nodes[start:min(end, start + CLOSURES_TRIED_PER_SCRIPT)].tolist():
            name = _script_of_closure(snapshot, node)
            if name:
                names[int(script_ids[start])] = name
                break
    return names


def _script_of_closure(snapshot: HeapSnapshot, closure: int) -> str | None:
    shared = _edge_target(snapshot, closure, (SHARED_EDGE,))
    script = None if shared is None else _edge_target(snapshot, shared, SCRIPT_EDGES)
    if script is None:
        return None
    name = _edge_target(snapshot, script, (NAME_EDGE,))
    if name is not None and snapshot.node_type_name(name) == "string":
        return snapshot.node_name_str(name)
    return snapshot.node_name_str(script) or None


def _edge_target(snapshot: HeapSnapshot, node: int, names: tuple[str, ...]) -> int | None:
    """The node that `node`'s first internal edge named one of `names` points at."""
    internal = snapshot.edge_type_code("internal")
    for edge in range(int(snapshot.first_edge[node]), int(snapshot.first_edge[node + 1])):
        if snapshot.edge_type[edge] == internal and snapshot.edge_name_str(edge) in names:
            return int(snapshot.edge_to[edge])
    return None


def display_path(script: str, cwd: str | None) -> str:
    """A script name as the user knows the file: relative to the target's working directory
    `cwd` when the file lies below it; without a `cwd`, relative to memtui's current
    directory when below it; otherwise as it is. `file://` URLs become paths."""
    path = unquote(urlsplit(script).path) if script.startswith("file://") else script
    if not path.startswith("/"):
        return script
    base = cwd if cwd is not None else os.getcwd()
    try:
        return str(PurePosixPath(path).relative_to(base))
    except ValueError:
        return path


class SourceFiles:
    """The files behind a snapshot's script ids, named relative to the target's working
    directory (`cwd`, from the snapshot's capture record) when known."""

    def __init__(self, names: dict[int, str], cwd: str | None = None):
        self.names = names
        self.cwd = cwd

    @classmethod
    def of(cls, *snapshots: HeapSnapshot, cwd: str | None = None) -> SourceFiles:
        """The script names of `snapshots`, the first one's winning for a shared script id."""
        names: dict[int, str] = {}
        for snapshot in reversed(snapshots):
            names.update(script_names(snapshot))
        return cls(names, cwd)

    def script(self, key: str | None) -> str | None:
        """The full script name of a location key, or None."""
        location = SourceLocation.parse(key) if key else None
        return None if location is None else self.names.get(location.script_id)

    def file(self, key: str | None) -> str | None:
        """The file of a location key as shown to the user, or None when unknown."""
        script = self.script(key)
        return None if script is None else display_path(script, self.cwd)

    def describe(self, key: str | None) -> str:
        """`file:line:column` (1-based, as editors and DevTools count) for a location key,
        `script 81, 9:14` when the script has no name, `` without a location."""
        location = SourceLocation.parse(key) if key else None
        if location is None:
            return key or ""
        where = f"{location.line + 1}:{location.column + 1}"
        file = self.file(key)
        return f"{file}:{where}" if file else f"script {location.script_id}, {where}"

    def fields(self, key: str | None) -> dict[str, str | int | None]:
        """The `file`, `line` and `column` (1-based) of a location key for JSON documents."""
        location = SourceLocation.parse(key) if key else None
        if location is None:
            return {"file": None, "line": None, "column": None}
        return {"file": self.file(key), "line": location.line + 1,
                "column": location.column + 1}

    def is_program(self, key: str | None) -> bool:
        """Whether a location lies in the program's own scripts (its files and its
        dependencies), not in Node's built-in `node:` modules or unnamed evaluated code."""
        script = self.script(key)
        return script is not None and script != "" and not script.startswith(NODE_SCRIPT_PREFIX)


def source_files(path: Path | str, *snapshots: HeapSnapshot) -> SourceFiles:
    """The scripts of `snapshots`, named relative to the working directory of the target
    recorded next to the snapshot at `path` (when memtui took it)."""
    record = read_capture_record(path)
    return SourceFiles.of(*snapshots, cwd=record.cwd if record else None)
