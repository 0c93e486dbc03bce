"""DevTools' Comparison view: per class, which objects are new, which were deleted, by object id.

Classes are matched between the two snapshots by their class key (label, plus the
constructor location for objects), and objects within a class by heap object id, as in
DevTools' `calculateDiffForClass`. Ids mean the same object only within one inspector
session; when they do not, the diff falls back to count and size differences per class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memtui.heap.capture_record import read_capture_record
from memtui.heap.classes import ClassTable, of_types
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.snapshot import HeapSnapshot

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
        if first.thread != second.thread:
            return False, f"taken from different threads of pid {first.pid} " \
                          f"({thread_name(first.thread)} and {thread_name(second.thread)})"
        if first.session != second.session:
            return False, (f"taken in different inspector sessions of pid {first.pid}, "
                           "which reset object ids")
        return True, f"taken by memtui in one inspector session of pid {first.pid}"
    return _judge_ids_by_contents(before, after,
                                  shared_ids or shared_object_ids(before, after))


def thread_name(thread: str | None) -> str:
    return "the main thread" if thread is None else f"worker {thread}"


def thread_mismatch(before_path: Path | str, after_path: Path | str) -> str | None:
    """Why two snapshots memtui captured hold two different heaps (a worker thread's and
    another thread's of one process), or None: a diff between them compares unrelated
    objects."""
    first, second = read_capture_record(before_path), read_capture_record(after_path)
    if first is None or second is None or first.thread == second.thread:
        return None
    if first.pid != second.pid:
        return None
    return (f"BEFORE is the heap of {thread_name(first.thread)}, AFTER of "
            f"{thread_name(second.thread)} of pid {first.pid}: every thread has its own heap")


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
    retained_after: int | None = None  # the class's retained size in AFTER, when asked for

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
    """The comparison of two snapshots, with what is needed to list a class's new objects.
    `before_classes` are BEFORE's classes under AFTER's interface definitions."""

    rows: list[ClassDiff]
    ids_comparable: bool
    reason: str
    before: HeapAnalysis
    after: HeapAnalysis
    before_classes: ClassTable

    @property
    def after_classes(self) -> ClassTable:
        return self.after.classes


@dataclass(frozen=True)
class NewObject:
    """An object of AFTER whose id is not in BEFORE's class of the same key."""

    node: int
    node_id: int
    self_size: int
    retained_size: int


def diff_snapshots(before: HeapAnalysis, after: HeapAnalysis, comparable: bool,
                   reason: str = "", *,
                   shared_ids: tuple[np.ndarray, np.ndarray] | None = None,
                   retained: bool = False) -> HeapDiff:
    """Per class, the Comparison view of `after` against the base `before`.

    As in DevTools, BEFORE's plain objects are labelled with AFTER's interface definitions
    (`{a, b}` classes), so one shape has one label in both. With comparable ids the rows are
    the classes with new or deleted objects (as DevTools lists them); otherwise the classes
    whose count or size changed. `shared_ids` is `shared_object_ids(...)` of the two
    snapshots if the caller has it. With `retained`, each row also holds the class's
    retained size in AFTER (which builds AFTER's dominator tree).
    """
    after_classes = after.classes
    before_classes = before.classes_with(after.interface_definitions)
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
        shared_ids = shared_ids or shared_object_ids(before.snapshot, after.snapshot)
        removed, added = _unmatched(before_classes, after_classes, nodes_b, key_b, nodes_a,
                                    key_a, shared_ids)
        new = np.bincount(key_a[added], minlength=key_count)
        deleted = np.bincount(key_b[removed], minlength=key_count)
        alloc = _sum_by(key_a[added], size_a[added], key_count)
        freed = _sum_by(key_b[removed], size_b[removed], key_count)
        listed = np.flatnonzero((new > 0) | (deleted > 0))
    else:
        listed = np.flatnonzero((count_before != count_after) | (bytes_before != bytes_after))
    retained_of = ({(r.label, r.location): r.retained_size for r in after.class_rows()}
                   if retained else {})
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
            retained_after=retained_of.get(keys[k], 0) if retained else None,
        ))
    return HeapDiff(rows=rows, ids_comparable=comparable, reason=reason, before=before,
                    after=after, before_classes=before_classes)


def new_objects(diff: HeapDiff, label: str, location: str | None = None) -> list[NewObject]:
    """The class's objects in AFTER whose id is not in BEFORE's class of the same key,
    largest retained size first; empty when ids are not comparable. Computes AFTER's
    dominator tree on first use."""
    if not diff.ids_comparable:
        return []
    after, before = diff.after.snapshot, diff.before.snapshot
    after_nodes = diff.after_classes.members(label, location)
    before_nodes = diff.before_classes.members(label, location)
    fresh = after_nodes[~np.isin(after.node_id[after_nodes], before.node_id[before_nodes])]
    retained = diff.after.retained_sizes[fresh]
    sizes = diff.after_classes.node_self_size[fresh]
    order = np.lexsort((after.node_id[fresh], -sizes, -retained))
    fresh = fresh[order]
    return [NewObject(node=n, node_id=i, self_size=s, retained_size=r) for n, i, s, r in zip(
        fresh.tolist(), after.node_id[fresh].tolist(), sizes[order].tolist(),
        retained[order].tolist(), strict=True)]


def diff_groups(diff: HeapDiff, label: str, location: str | None, *,
                retained: bool = False) -> list[ClassDiff]:
    """The Comparison view's numbers of each sub-group of a class (`groups.group_nodes`), as
    rows labelled with the sub-group's name and location; like `diff_snapshots`, only the
    sub-groups with new or deleted objects (with comparable ids) or a changed count or size
    (without). With `retained`, each row also holds the sub-group's retained size in AFTER."""
    after = diff.after.sub_groups(label, location)
    before = diff.before.sub_groups(label, location, diff.after.interface_definitions)
    keys = sorted(set(after.keys) | set(before.keys),
                  key=lambda key: (key.name, key.location or ""))
    index = {key: i for i, key in enumerate(keys)}
    in_after = np.array([index[key] for key in after.keys], dtype=np.int64)[after.group]
    in_before = np.array([index[key] for key in before.keys], dtype=np.int64)[before.group]
    size_after = diff.after_classes.node_self_size[after.nodes]
    size_before = diff.before_classes.node_self_size[before.nodes]
    count = len(keys)
    if diff.ids_comparable:
        after_ids = diff.after.snapshot.node_id[after.nodes]
        before_ids = diff.before.snapshot.node_id[before.nodes]
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
    retained_of = (dict(zip(after.keys, diff.after.group_retained_sizes(label, location)
                            .tolist(), strict=True)) if retained else {})
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
            freed_size=freed[i] if comparable else None,
            retained_after=retained_of.get(key, 0) if retained else None))
    return rows


def _present(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Mask of the `values` found in `pool` (`np.isin` through one sort of the pool)."""
    ordered = np.sort(pool)
    if not ordered.size:
        return np.zeros(len(values), dtype=bool)
    position = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return ordered[position] == values


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
    """Per key, the sum of its values (exact: byte counts stay far below 2**53)."""
    return np.bincount(keys, weights=values, minlength=length).astype(np.int64)
