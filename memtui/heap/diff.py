"""DevTools' Comparison view: per class, which objects are new, which were deleted, by object id.

Classes are matched between the two snapshots by their class key (label, plus the
constructor location for objects), and objects within a class by heap object id, as in
DevTools' `calculateDiffForClass`. Ids mean the same object only within one inspector
session; when they do not, the diff falls back to count and size differences per class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memtui.heap.capture_record import read_capture_record
from memtui.heap.classes import ClassTable, classify, of_types, string_indexes
from memtui.heap.dominators import csr_neighbours
from memtui.heap.snapshot import HeapSnapshot

PLAIN_OBJECT = "Object"
ID_CHECK_TYPES = ("object", "closure", "string", "regexp")
ID_CHECK_SAMPLE = 20000
ID_CHECK_MIN_SHARED = 100
ID_MISMATCH_TOLERANCE = 0.01


def shared_object_ids(before: HeapSnapshot, after: HeapSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """Node ordinals (in BEFORE, in AFTER) of every object id present in both snapshots, in
    increasing id order: what `ids_comparable` and `diff_snapshots` both work from, so a
    caller that needs both computes it once and passes it to each."""
    return _shared_id_pairs(before.node_id, after.node_id)


def ids_comparable(before: HeapSnapshot, after: HeapSnapshot, before_path: Path | str,
                   after_path: Path | str, override: bool | None = None, *,
                   shared_ids: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[bool, str]:
    """Whether object ids name the same objects in both snapshots, and why memtui thinks so.

    `override` (the --ids-comparable / --ids-not-comparable flags) wins; then the capture records
    memtui writes (same pid and same inspector session); otherwise the contents: objects
    present in both files under one id must agree in type and name. `shared_ids` is
    `shared_object_ids(before, after)` if the caller has it.
    """
    if override is not None:
        flag = "--ids-comparable" if override else "--ids-not-comparable"
        return override, f"{flag} given"
    first, second = read_capture_record(before_path), read_capture_record(after_path)
    if first and second:
        if first.pid != second.pid:
            return False, f"taken from different processes (pid {first.pid} and {second.pid})"
        if first.session != second.session:
            return False, (f"taken in different inspector sessions of pid {first.pid}, "
                           "which reset object ids")
        return True, f"taken by memtui in one inspector session of pid {first.pid}"
    return _judge_ids_by_contents(before, after,
                                  shared_ids or shared_object_ids(before, after))


def _judge_ids_by_contents(before: HeapSnapshot, after: HeapSnapshot,
                           shared_ids: tuple[np.ndarray, np.ndarray]) -> tuple[bool, str]:
    in_before, in_after = shared_ids
    checked = of_types(before, ID_CHECK_TYPES)[in_before]
    checked &= of_types(after, ID_CHECK_TYPES)[in_after]
    in_before, in_after = in_before[checked], in_after[checked]
    shared = in_before.size
    if shared < ID_CHECK_MIN_SHARED:
        return False, f"the files share only {shared} object ids: ids were reset between them"
    step = max(1, shared // ID_CHECK_SAMPLE)
    pairs = list(zip(in_before[::step].tolist(), in_after[::step].tolist(), strict=True))
    differing = sum(not _same_object(before, a, after, b) for a, b in pairs)
    sampled = len(pairs)
    if differing > ID_MISMATCH_TOLERANCE * sampled:
        return False, (f"{differing} of {sampled} ids present in both files name different "
                       "objects: ids were reset between them")
    return True, (f"{sampled - differing} of {sampled} ids present in both files name the same "
                  "objects")


def _shared_id_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j) with first[i] == second[j], in increasing id order; each array holds
    distinct ids, as V8 assigns them. One stable sort of both arrays together: heap object
    ids come nearly sorted, and Timsort then runs in about linear time."""
    joined = np.concatenate([first, second])
    order = np.argsort(joined, kind="stable")
    joined = joined[order]
    pair_start = np.flatnonzero(joined[1:] == joined[:-1])
    del joined
    in_first, in_second = order[pair_start], order[pair_start + 1]
    del order
    crossing = (in_first < first.size) & (in_second >= first.size)
    return in_first[crossing], in_second[crossing] - first.size


def _same_object(before: HeapSnapshot, a: int, after: HeapSnapshot, b: int) -> bool:
    """Whether node `a` of BEFORE and node `b` of AFTER look like one object: the same type
    and name, and for strings (immutable) the same size."""
    type_name = before.node_type_name(a)
    return (type_name == after.node_type_name(b)
            and before.node_name_str(a) == after.node_name_str(b)
            and (type_name != "string" or before.node_self_size[a] == after.node_self_size[b]))


@dataclass(frozen=True)
class ClassDiff:
    """One row of the Comparison view. new/deleted/alloc/freed are None without comparable ids."""

    label: str
    location: str | None
    count_before: int
    count_after: int
    size_before: int
    size_after: int
    new: int | None
    deleted: int | None
    alloc_size: int | None
    freed_size: int | None

    @property
    def count_delta(self) -> int:
        return self.count_after - self.count_before

    @property
    def size_delta(self) -> int:
        """DevTools' Size Delta: allocated minus freed; the size change without ids."""
        if self.alloc_size is None or self.freed_size is None:
            return self.size_after - self.size_before
        return self.alloc_size - self.freed_size


@dataclass(frozen=True)
class HeapDiff:
    """The comparison of two snapshots, with what is needed to list a class's new objects."""

    rows: list[ClassDiff]
    ids_comparable: bool
    reason: str
    before: HeapSnapshot
    after: HeapSnapshot
    before_classes: ClassTable
    after_classes: ClassTable


def diff_snapshots(before: HeapSnapshot, after: HeapSnapshot, comparable: bool,
                   reason: str = "", before_classes: ClassTable | None = None,
                   after_classes: ClassTable | None = None, *,
                   shared_ids: tuple[np.ndarray, np.ndarray] | None = None) -> HeapDiff:
    """Per class, the Comparison view of `after` against the base `before`.

    As in DevTools, BEFORE's plain objects are labelled with AFTER's interface definitions
    (`{a, b}` classes), so one shape has one label in both. With comparable ids the rows are
    the classes with new or deleted objects (as DevTools lists them); otherwise the classes
    whose count or size changed. `shared_ids` is `shared_object_ids(before, after)` if the
    caller has it.
    """
    after_classes = after_classes or classify(after)
    definitions = interface_definitions(after_classes)
    before_classes = (apply_interfaces(before, before_classes, definitions) if before_classes
                      else classify(before, definitions))
    keys = sorted(set(_class_keys(before_classes)) | set(_class_keys(after_classes)),
                  key=lambda key: (key[0], key[1] or ""))
    index = {key: i for i, key in enumerate(keys)}
    key_count = len(keys)
    nodes_b, key_b = _counted(before_classes, index)
    nodes_a, key_a = _counted(after_classes, index)
    size_b = before_classes.node_self_size[nodes_b]
    size_a = after_classes.node_self_size[nodes_a]
    count_before = np.bincount(key_b, minlength=key_count)
    count_after = np.bincount(key_a, minlength=key_count)
    bytes_before = _sum_by(key_b, size_b, key_count)
    bytes_after = _sum_by(key_a, size_a, key_count)
    if comparable:
        removed, added = _unmatched(before_classes, after_classes, nodes_b, key_b, nodes_a,
                                    key_a, shared_ids or shared_object_ids(before, after))
        new = np.bincount(key_a[added], minlength=key_count)
        deleted = np.bincount(key_b[removed], minlength=key_count)
        alloc = _sum_by(key_a[added], size_a[added], key_count)
        freed = _sum_by(key_b[removed], size_b[removed], key_count)
        listed = np.flatnonzero((new > 0) | (deleted > 0))
    else:
        listed = np.flatnonzero((count_before != count_after) | (bytes_before != bytes_after))
    rows = []
    for k in listed.tolist():
        label, location = keys[k]
        rows.append(ClassDiff(
            label=label, location=location,
            count_before=int(count_before[k]), count_after=int(count_after[k]),
            size_before=int(bytes_before[k]), size_after=int(bytes_after[k]),
            new=int(new[k]) if comparable else None,
            deleted=int(deleted[k]) if comparable else None,
            alloc_size=int(alloc[k]) if comparable else None,
            freed_size=int(freed[k]) if comparable else None,
        ))
    return HeapDiff(rows=rows, ids_comparable=comparable, reason=reason, before=before,
                    after=after, before_classes=before_classes, after_classes=after_classes)


def new_objects(diff: HeapDiff, label: str, location: str | None = None,
                ) -> list[tuple[int, int, int]]:
    """(node ordinal in AFTER, id, shallow size) of the class's objects whose id is not in
    BEFORE's class of the same key, largest first; empty when ids are not comparable."""
    if not diff.ids_comparable:
        return []
    key = (label, location)
    after_nodes = _nodes_of_class(diff.after_classes, key)
    before_nodes = _nodes_of_class(diff.before_classes, key)
    ids = diff.after.node_id[after_nodes]
    fresh = after_nodes[~np.isin(ids, diff.before.node_id[before_nodes])]
    sizes = diff.after_classes.node_self_size[fresh]
    order = np.lexsort((diff.after.node_id[fresh], -sizes))
    fresh = fresh[order]
    return list(zip(fresh.tolist(), diff.after.node_id[fresh].tolist(),
                    diff.after_classes.node_self_size[fresh].tolist(), strict=True))


def interface_definitions(table: ClassTable) -> list[tuple[str, frozenset[str]]]:
    """The interface definitions behind a snapshot's `{a, b}` labels, most used first:
    (label, property names)."""
    counts = np.bincount(table.node_class[table.node_class >= 0], minlength=len(table.names))
    definitions = []
    for i in np.argsort(-counts, kind="stable").tolist():
        label = table.names[i]
        if table.locations[i] is None and label.startswith("{") and label.endswith("}"):
            definitions.append((label, frozenset(interface_properties(label[1:-1]))))
    return definitions


def interface_properties(listing: str) -> list[str]:
    """The property names in an interface label's inner text: `a, "b, c", d` as DevTools
    formats them (quoted when needed)."""
    names, position = [], 0
    decoder = json.JSONDecoder()
    while position < len(listing):
        if listing[position] == '"':
            name, position = decoder.raw_decode(listing, position)
        else:
            end = listing.find(", ", position)
            end = len(listing) if end < 0 else end
            name, position = listing[position:end], end
        names.append(name)
        position += 2
    return names


def apply_interfaces(snapshot: HeapSnapshot, table: ClassTable,
                     definitions: list[tuple[str, frozenset[str]]]) -> ClassTable:
    """Relabel the snapshot's plain objects with `definitions` (DevTools'
    `applyInterfaceDefinitions`): the definition with the most properties, all present on
    the object, wins (the earlier one on ties); objects matching none are `Object`."""
    plain_names = string_indexes(snapshot.strings, PLAIN_OBJECT)
    plain = np.flatnonzero((snapshot.node_type == snapshot.type_code("object"))
                           & np.isin(snapshot.node_name, plain_names)
                           & (table.node_class >= 0))
    if not plain.size:
        return table
    group, property_sets = _property_set_groups(snapshot, plain)
    labels = [_best_interface(snapshot, names, definitions) for names in property_sets]
    names, locations = list(table.names), list(table.locations)
    index = {key: i for i, key in enumerate(zip(names, locations, strict=True))}
    pair_span = len(names)
    relabelled, pair_of_node = _distinct_values(group * pair_span + table.node_class[plain])
    class_of_pair = []
    for pair in relabelled.tolist():
        old_class = pair % pair_span
        key = (labels[pair // pair_span], locations[old_class])
        if key not in index:
            index[key] = len(names)
            names.append(key[0])
            locations.append(key[1])
        class_of_pair.append(index[key])
    node_class = table.node_class.copy()
    node_class[plain] = np.asarray(class_of_pair, dtype=node_class.dtype)[pair_of_node]
    return ClassTable(names=names, locations=locations, node_class=node_class,
                      node_self_size=table.node_self_size)


def _property_set_groups(snapshot: HeapSnapshot, objects: np.ndarray,
                         ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Objects grouped by the set of their property names: the group of each object, and
    each group's property names (string indexes, sorted).

    Groups are refined one position of the sorted name lists at a time, starting from the
    number of names, so equal lists end in one group.
    """
    edges = csr_neighbours(snapshot.first_edge, objects)
    owner = np.repeat(np.arange(objects.size, dtype=np.int64),
                      snapshot.first_edge[objects + 1] - snapshot.first_edge[objects])
    is_property = snapshot.edge_type[edges] == snapshot.edge_type_code("property")
    name_span = len(snapshot.strings)
    pairs = owner[is_property] * name_span + snapshot.edge_name[edges[is_property]]
    del edges, owner, is_property
    pairs = np.sort(pairs, kind="stable")
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
    pair_owner, pair_name = np.divmod(pairs, name_span)
    counts = np.bincount(pair_owner, minlength=objects.size)
    starts = np.cumsum(counts) - counts
    longest_first = np.argsort(-counts, kind="stable")
    descending_counts = -counts[longest_first]
    _, group = _distinct_values(counts)
    next_group = int(group.max(initial=-1)) + 1
    for position in range(int(counts.max(initial=0))):
        longer = longest_first[:np.searchsorted(descending_counts, -position)]
        _, refined = _distinct_values(group[longer] * name_span
                                     + pair_name[starts[longer] + position])
        group[longer] = refined + next_group
        next_group += int(refined.max()) + 1
    _, group = _distinct_values(group)
    example = np.zeros(int(group.max(initial=-1)) + 1, dtype=np.int64)
    example[group[::-1]] = np.arange(objects.size - 1, -1, -1)
    property_sets = [pair_name[starts[i]:starts[i] + counts[i]] for i in example.tolist()]
    return group, property_sets


def _distinct_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of an integer array and each element's index among them
    (`np.unique(values, return_inverse=True)` through a stable sort, fast on nearly sorted
    input)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]] if ordered.size else np.empty(0, bool)
    rank = np.empty(values.size, dtype=np.int64)
    rank[order] = np.cumsum(first) - 1
    return ordered[first], rank


def _best_interface(snapshot: HeapSnapshot, property_names: np.ndarray,
                    definitions: list[tuple[str, frozenset[str]]]) -> str:
    present = {snapshot.strings[i] for i in property_names.tolist()}
    label, size = PLAIN_OBJECT, 0
    for name, properties in definitions:
        if len(properties) > size and properties <= present:
            label, size = name, len(properties)
    return label


def _class_keys(table: ClassTable) -> list[tuple[str, str | None]]:
    return list(zip(table.names, table.locations, strict=True))


def _counted(table: ClassTable, index: dict) -> tuple[np.ndarray, np.ndarray]:
    """Counted node ordinals and their joint class key index."""
    nodes = np.flatnonzero(table.node_class >= 0)
    joint = np.array([index[key] for key in _class_keys(table)], dtype=np.int64)
    return nodes, joint[table.node_class[nodes]]


def _unmatched(before_classes: ClassTable, after_classes: ClassTable, nodes_b: np.ndarray,
               key_b: np.ndarray, nodes_a: np.ndarray, key_a: np.ndarray,
               shared_ids: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Masks over the counted nodes of BEFORE (`nodes_b`, class keys `key_b`) and of AFTER:
    those whose id is absent from the other file's class of the same key."""
    in_before, in_after = shared_ids
    joint_b = np.full(len(before_classes.node_class), -1, dtype=np.int32)
    joint_b[nodes_b] = key_b
    joint_a = np.full(len(after_classes.node_class), -1, dtype=np.int32)
    joint_a[nodes_a] = key_a
    key_pairs = joint_b[in_before]
    same = key_pairs == joint_a[in_after]
    same &= key_pairs >= 0
    del key_pairs
    kept_b = np.zeros(joint_b.size, dtype=bool)
    kept_b[in_before[same]] = True
    kept_a = np.zeros(joint_a.size, dtype=bool)
    kept_a[in_after[same]] = True
    return ~kept_b[nodes_b], ~kept_a[nodes_a]


def _sum_by(keys: np.ndarray, values: np.ndarray, length: int) -> np.ndarray:
    sums = np.zeros(length, dtype=np.int64)
    np.add.at(sums, keys, values)
    return sums


def _nodes_of_class(table: ClassTable, key: tuple[str, str | None]) -> np.ndarray:
    classes = [i for i, k in enumerate(_class_keys(table)) if k == key]
    return np.flatnonzero(np.isin(table.node_class, classes))
