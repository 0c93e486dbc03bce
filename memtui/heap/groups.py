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

from memtui.heap.classes import ClassSummary, ClassTable, string_indexes
from memtui.heap.diff import ClassDiff, HeapDiff
from memtui.heap.dominators import csr_neighbours
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


def class_members(table: ClassTable, label: str, location: str | None) -> np.ndarray:
    """Node ordinals of the class (label, location), in node order."""
    classes = [i for i, key in enumerate(zip(table.names, table.locations, strict=True))
               if key == (label, location)]
    if len(classes) == 1:
        return np.flatnonzero(table.node_class == classes[0])
    return np.flatnonzero(np.isin(table.node_class, classes))


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


def in_group(snapshot: HeapSnapshot, label: str, nodes: np.ndarray, group: GroupKey,
             ) -> np.ndarray:
    """Mask over `nodes` (members of the class `label`) of those in `group`."""
    keys, index = group_nodes(snapshot, label, nodes)
    if group not in keys:
        return np.zeros(len(nodes), dtype=bool)
    return index == keys.index(group)


def diff_groups(diff: HeapDiff, label: str, location: str | None) -> list[ClassDiff]:
    """The Comparison view's numbers of each sub-group of a class, as rows labelled with the
    sub-group's name and location; like `diff_snapshots`, only the sub-groups with new or
    deleted objects (with comparable ids) or a changed count or size (without)."""
    after_nodes = class_members(diff.after_classes, label, location)
    before_nodes = class_members(diff.before_classes, label, location)
    after_keys, after_group = group_nodes(diff.after, label, after_nodes)
    before_keys, before_group = group_nodes(diff.before, label, before_nodes)
    keys = sorted(set(after_keys) | set(before_keys),
                  key=lambda key: (key.name, key.location or ""))
    index = {key: i for i, key in enumerate(keys)}
    in_after = _joint(after_keys, index)[after_group]
    in_before = _joint(before_keys, index)[before_group]
    size_after = diff.after_classes.node_self_size[after_nodes]
    size_before = diff.before_classes.node_self_size[before_nodes]
    count = len(keys)
    if diff.ids_comparable:
        after_ids, before_ids = diff.after.node_id[after_nodes], diff.before.node_id[before_nodes]
        added = ~_present(after_ids, before_ids)
        removed = ~_present(before_ids, after_ids)
        # An object kept from BEFORE is one object: it counts in the sub-group it has now,
        # so that # Delta stays # New - # Deleted in every sub-group, as in its class.
        by_id = np.argsort(after_ids)
        kept = np.flatnonzero(~removed)
        in_before[kept] = in_after[by_id[np.searchsorted(after_ids[by_id], before_ids[kept])]]

    def tally(group: np.ndarray, weights: np.ndarray | None = None) -> list[int]:
        return np.bincount(group, weights=weights, minlength=count).astype(np.int64).tolist()

    counts_after, counts_before = tally(in_after), tally(in_before)
    bytes_after, bytes_before = tally(in_after, size_after), tally(in_before, size_before)
    if diff.ids_comparable:
        new, deleted = tally(in_after[added]), tally(in_before[removed])
        alloc = tally(in_after[added], size_after[added])
        freed = tally(in_before[removed], size_before[removed])
    rows = []
    for i, key in enumerate(keys):
        comparable = diff.ids_comparable
        if comparable and not (new[i] or deleted[i]):
            continue
        if not comparable and (counts_after[i], bytes_after[i]) == (counts_before[i],
                                                                    bytes_before[i]):
            continue
        rows.append(ClassDiff(
            label=key.name, location=key.location,
            count_before=counts_before[i], count_after=counts_after[i],
            size_before=bytes_before[i], size_after=bytes_after[i],
            new=new[i] if comparable else None, deleted=deleted[i] if comparable else None,
            alloc_size=alloc[i] if comparable else None,
            freed_size=freed[i] if comparable else None))
    return rows


def summary_groups(snapshot: HeapSnapshot, table: ClassTable, label: str,
                   location: str | None) -> list[ClassSummary]:
    """Count and shallow size of each sub-group of a class, largest first."""
    nodes = class_members(table, label, location)
    keys, group = group_nodes(snapshot, label, nodes)
    counts = np.bincount(group, minlength=len(keys)).tolist()
    sizes = np.bincount(group, weights=table.node_self_size[nodes],
                        minlength=len(keys)).astype(np.int64).tolist()
    rows = [ClassSummary(label=key.name, location=key.location, count=counts[i],
                         self_size=sizes[i]) for i, key in enumerate(keys)]
    rows.sort(key=lambda row: (-row.self_size, -row.count, row.label, row.location or ""))
    return rows


def _present(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Mask of the `values` found in `pool` (`np.isin` through one sort of the pool)."""
    ordered = np.sort(pool)
    if not ordered.size:
        return np.zeros(len(values), dtype=bool)
    position = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return ordered[position] == values


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
    edges = csr_neighbours(snapshot.first_edge, nodes)
    owner = np.repeat(np.arange(len(nodes), dtype=np.int64),
                      snapshot.first_edge[nodes + 1] - snapshot.first_edge[nodes])
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
