"""Sub-groups of the classes whose one label covers many different things.

DevTools counts every closure as `Function`, plain objects of rare shapes as `Object`, and
V8's internals under a few labels. memtui splits such a class by what tells its members
apart: a closure by its name and source location, a plain object by its first property
names, a context by its variables, anything else by its node name. The sub-groups partition
the class's nodes, so their counts and sizes add up to the class's own (DevTools' numbers are
expanded, never relabelled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from memtui.heap.classes import string_indexes
from memtui.heap.snapshot import HeapSnapshot

FUNCTION = "Function"
PLAIN_OBJECT = "Object"
CONTEXT = "system / Context"
GROUPED_LABELS = frozenset({FUNCTION, PLAIN_OBJECT, CONTEXT, "(array)", "(system)",
                            "(compiled code)"})
SHOWN_NAMES = 3
ANONYMOUS = "(anonymous)"
UNNAMED = "(no name)"
PROTO_PROPERTY = "__proto__"


@dataclass(frozen=True)
class GroupKey:
    """A sub-group: its name (`LeakFunc()`, `{id, user, …}`, `vars originalThing`) and, for
    closures, the `script_id:line:col` where the function is defined."""

    name: str
    location: str | None = None


def has_groups(label: str) -> bool:
    """Whether rows of this class label can be expanded into sub-groups."""
    return label in GROUPED_LABELS


@dataclass(frozen=True)
class SubGroups:
    """A class split into sub-groups: the class's members (`nodes`, in node order) and, per
    member, the index in `keys` of its sub-group."""

    keys: list[GroupKey]
    nodes: np.ndarray
    group: np.ndarray

    def members(self, key: GroupKey) -> np.ndarray:
        """The members of the sub-group `key` (none if the class has no such sub-group)."""
        if key not in self.keys:
            return self.nodes[:0]
        return self.nodes[self.group == self.keys.index(key)]


def sub_groups(snapshot: HeapSnapshot, label: str, nodes: np.ndarray) -> SubGroups:
    """The sub-groups of `nodes`, the members of the class `label`."""
    keys, group = group_nodes(snapshot, label, nodes)
    return SubGroups(keys, np.asarray(nodes).astype(np.int32),
                     group.astype(np.int32 if len(keys) < 2**31 else np.int64))


def group_nodes(snapshot: HeapSnapshot, label: str, nodes: np.ndarray,
                ) -> tuple[list[GroupKey], np.ndarray]:
    """The distinct sub-groups of `nodes` (members of the class `label`) and the index of
    each node's sub-group among them."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if not nodes.size:
        return [], np.empty(0, dtype=np.int64)
    if label == PLAIN_OBJECT:
        return _by_edge_names(snapshot, nodes, "property",
                              lambda names: "{" + ", ".join(names) + "}")
    if label == CONTEXT:
        return _by_edge_names(snapshot, nodes, "context",
                              lambda names: "vars " + ", ".join(names) if names else "no vars")
    if label == FUNCTION:
        return _by_function(snapshot, nodes)
    unique, inverse = np.unique(snapshot.node_name[nodes], return_inverse=True)
    keys = [GroupKey(snapshot.strings[i] or UNNAMED) for i in unique.tolist()]
    return _merged(keys, inverse.reshape(-1))


def _joint(keys: list[GroupKey], index: dict[GroupKey, int]) -> np.ndarray:
    return np.array([index[key] for key in keys], dtype=np.int64)


def _merged(keys: list[GroupKey], index: np.ndarray) -> tuple[list[GroupKey], np.ndarray]:
    """Distinct keys and the index per node, merging keys that came out equal."""
    distinct = sorted(set(keys), key=lambda key: (key.name, key.location or ""))
    position = {key: i for i, key in enumerate(distinct)}
    return distinct, _joint(keys, position)[index] if len(keys) else index


def _by_function(snapshot: HeapSnapshot, nodes: np.ndarray,
                 ) -> tuple[list[GroupKey], np.ndarray]:
    """Closures by name and definition location; other members by name alone."""
    rows = snapshot.locations.rows_for(nodes)
    closure = snapshot.node_type[nodes] == snapshot.type_code("closure")
    rows[~closure] = -1
    located = rows >= 0
    script = np.full(len(nodes), -1, dtype=np.int64)
    line = np.full(len(nodes), -1, dtype=np.int64)
    column = np.full(len(nodes), -1, dtype=np.int64)
    script[located] = snapshot.locations.script_id[rows[located]]
    line[located] = snapshot.locations.line[rows[located]]
    column[located] = snapshot.locations.column[rows[located]]
    table = np.stack([snapshot.node_name[nodes].astype(np.int64), closure.astype(np.int64),
                      script, line, column], axis=1)
    unique, inverse = _distinct_rows(table)
    keys = []
    for name, is_closure, script_id, at_line, at_column in unique.tolist():
        text = snapshot.strings[name]
        if not is_closure:
            keys.append(GroupKey(text or PLAIN_OBJECT))
            continue
        where = f"{script_id}:{at_line}:{at_column}" if script_id >= 0 else None
        keys.append(GroupKey(f"{text or ANONYMOUS}()", where))
    return _merged(keys, inverse)


def _by_edge_names(snapshot: HeapSnapshot, nodes: np.ndarray, edge_type: str,
                   describe: Callable[[list[str]], str]) -> tuple[list[GroupKey], np.ndarray]:
    """Members by the names of their first SHOWN_NAMES edges of `edge_type` (`…` when they
    have more), e.g. `{id, user, agent, …}`."""
    edges = snapshot.edges_of(nodes)
    owner = np.repeat(np.arange(len(nodes), dtype=np.int64), snapshot.edge_counts_of(nodes))
    keep = snapshot.edge_type[edges] == snapshot.edge_type_code(edge_type)
    keep &= ~np.isin(snapshot.edge_name[edges], string_indexes(snapshot.strings,
                                                               PROTO_PROPERTY))
    edges, owner = edges[keep], owner[keep]
    if owner.size:
        run_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        position = np.arange(len(owner)) - np.repeat(run_start, np.diff(np.r_[run_start,
                                                                              len(owner)]))
    else:
        position = owner
    table = np.full((len(nodes), SHOWN_NAMES + 1), -1, dtype=np.int64)
    shown = position < SHOWN_NAMES
    table[owner[shown], position[shown]] = snapshot.edge_name[edges[shown]]
    table[:, SHOWN_NAMES] = 0
    table[owner[position == SHOWN_NAMES], SHOWN_NAMES] = 1
    unique, inverse = _distinct_rows(table)
    keys = []
    for *names, more in unique.tolist():
        listed = [snapshot.strings[i] for i in names if i >= 0] + (["…"] if more else [])
        keys.append(GroupKey(describe(listed)))
    return _merged(keys, inverse)


def _distinct_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an integer table and each row's index among them: the columns
    are packed into one integer key while they fit, so one 1-D unique does the work
    (`np.unique(axis=0)` sorts rows as records, 10x slower)."""
    key = np.zeros(len(table), dtype=np.int64)
    span = 1
    for column in table.T:
        low = int(column.min(initial=0))
        width = int(column.max(initial=0)) - low + 1
        if span * width >= 2**62:
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1).astype(np.int64)
            span = int(key.max(initial=0)) + 1
        key = key * width + (column - low)
        span *= width
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return table[first], inverse.reshape(-1)
