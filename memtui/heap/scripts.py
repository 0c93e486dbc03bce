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
from collections.abc import Mapping
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
    """Name of every script id that a located closure of the snapshot belongs to (the first
    of its closures, up to CLOSURES_TRIED_PER_SCRIPT, that leads to a named script)."""
    locations = snapshot.locations
    closures = snapshot.node_type[locations.node] == snapshot.type_code("closure")
    nodes = locations.node[closures].astype(np.int64)
    script_ids = locations.script_id[closures].astype(np.int64)
    if not nodes.size:
        return {}
    order = np.argsort(script_ids, kind="stable")
    nodes, script_ids = nodes[order], script_ids[order]
    starts = np.flatnonzero(np.r_[True, script_ids[1:] != script_ids[:-1]])
    position = np.arange(nodes.size) - np.repeat(starts, np.diff(np.r_[starts, nodes.size]))
    tried = position < CLOSURES_TRIED_PER_SCRIPT
    nodes, script_ids = nodes[tried], script_ids[tried]
    scripts = _targets(snapshot, _targets(snapshot, nodes, (SHARED_EDGE,)), SCRIPT_EDGES)
    name_nodes = _targets(snapshot, scripts, (NAME_EDGE,))
    string_type = snapshot.type_code("string")
    names: dict[int, str] = {}
    for script_id, script, name in zip(script_ids.tolist(), scripts.tolist(),
                                       name_nodes.tolist(), strict=True):
        if script < 0 or script_id in names:
            continue
        named = name >= 0 and snapshot.node_type[name] == string_type
        text = snapshot.node_name_str(name if named else script)
        if text:
            names[script_id] = text
    return names


def _targets(snapshot: HeapSnapshot, nodes: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Per node (-1: none), what its first internal edge named one of `names` points at, or
    -1."""
    targets = np.full(nodes.size, -1, dtype=np.int64)
    present = np.flatnonzero(nodes >= 0)
    edges = snapshot.edges_of(nodes[present])
    owner = np.repeat(present, snapshot.edge_counts_of(nodes[present]))
    internal = snapshot.edge_type[edges] == snapshot.edge_type_code("internal")
    edges, owner = edges[internal], owner[internal]
    if not edges.size:
        return targets
    distinct, inverse = np.unique(snapshot.edge_name[edges], return_inverse=True)
    wanted = np.array([snapshot.strings[i] in names for i in distinct.tolist()], dtype=bool)
    named = wanted[inverse.reshape(-1)]
    edges, owner = edges[named], owner[named]
    first = np.r_[True, owner[1:] != owner[:-1]] if owner.size else owner.astype(bool)
    targets[owner[first]] = snapshot.edge_to[edges[first]]
    return targets


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

    def __init__(self, names: Mapping[int, str], cwd: str | None = None):
        self.names = names
        self.cwd = cwd

    @classmethod
    def of(cls, *names: Mapping[int, str], cwd: str | None = None) -> SourceFiles:
        """The script names of several snapshots (`script_names` of each), the first one's
        winning for a shared script id."""
        merged: dict[int, str] = {}
        for each in reversed(names):
            merged.update(each)
        return cls(merged, cwd)

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


def source_files(path: Path | str, *names: Mapping[int, str]) -> SourceFiles:
    """The scripts named in `names` (`script_names` of one or more snapshots, the first
    winning), shown relative to the working directory of the target recorded next to the
    snapshot at `path` (when memtui took it)."""
    record = read_capture_record(path)
    return SourceFiles.of(*names, cwd=record.cwd if record else None)
