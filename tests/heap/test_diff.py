"""The Comparison view and the ids-comparable judgement, on snapshots of real Node programs."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from memtui.heap.capture_record import read_capture_record, record_path
from memtui.heap.diff import (
    diff_snapshots,
    ids_comparable,
    new_objects,
    shared_object_ids,
)
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.snapshot import HeapSnapshot, load_snapshot
from tests.nodeproc import node_binary, node_majors, start_node


@dataclass
class Snapshots:
    before_path: Path
    after_path: Path
    other_process_path: Path
    before: HeapSnapshot
    after: HeapSnapshot
    other_process: HeapSnapshot

    def __post_init__(self) -> None:
        self.analyses = {name: HeapAnalysis(getattr(self, name))
                         for name in ("before", "after", "other_process")}

    def diff(self, before: str, after: str, comparable: bool, **options):
        return diff_snapshots(self.analyses[before], self.analyses[after], comparable,
                              **options)


def write_snapshots(node: str, out: Path, steps: str) -> None:
    out.mkdir()
    process = start_node(node, "heap_diff_kept.js",
                         env={"MEMTUI_OUT": str(out), "MEMTUI_STEPS": steps})
    process.kill()


@pytest.fixture(scope="module", params=node_majors(), ids=lambda m: f"node{m}")
def snapshots(request, tmp_path_factory) -> Snapshots:
    """before/after from one process (500 Kept added, 200 freed), and an `after` written by a
    second run of the same program."""
    node = node_binary(request.param)
    root = tmp_path_factory.mktemp(f"diff-node{request.param}")
    write_snapshots(node, root / "one", "diff")
    write_snapshots(node, root / "two", "diff")
    paths = (root / "one" / "before.heapsnapshot", root / "one" / "after.heapsnapshot",
             root / "two" / "after.heapsnapshot")
    return Snapshots(*paths, *(load_snapshot(p) for p in paths))


def kept_size(snapshot: HeapSnapshot) -> int:
    """The shallow size of one Kept object (all have the same shape)."""
    table = HeapAnalysis(snapshot).classes
    (kept,) = [i for i, name in enumerate(table.names) if name == "Kept"]
    sizes = np.unique(table.node_self_size[table.node_class == kept])
    assert sizes.size == 1
    return int(sizes[0])


def row_of(diff, label):
    (row,) = [r for r in diff.rows if r.label == label]
    return row


def write_sidecar(snapshot: Path, pid: int, session: str) -> None:
    record_path(snapshot).write_text(json.dumps(
        {"pid": pid, "session": session, "taken_at": 1.0, "node_version": "v20.0.0"}))


def test_kept_objects_new_deleted_and_sizes(snapshots):
    size = kept_size(snapshots.after)
    diff = snapshots.diff("before", "after", comparable=True)
    kept = row_of(diff, "Kept")
    assert (kept.new, kept.deleted, kept.count_delta) == (500, 200, 300)
    assert (kept.count_before, kept.count_after) == (1000, 1300)
    assert (kept.alloc_size, kept.freed_size, kept.size_delta) == (500 * size, 200 * size,
                                                                   300 * size)
    assert (kept.size_before, kept.size_after) == (1000 * size, 1300 * size)
    assert kept.location is not None


def test_classes_without_new_or_deleted_objects_are_not_listed(snapshots):
    diff = snapshots.diff("before", "after", comparable=True)
    assert all(row.new or row.deleted for row in diff.rows)
    assert not [row for row in diff.rows if row.label in ("Holder", "Link")]


def test_ids_from_one_process_are_judged_comparable_by_contents(snapshots):
    comparable, reason = ids_comparable(snapshots.before, snapshots.after,
                                        snapshots.before_path, snapshots.after_path, None)
    assert comparable, reason
    assert "same objects" in reason


def test_shared_ids_pair_equal_ids_in_id_order_and_give_the_same_answers(snapshots):
    before, after = snapshots.before, snapshots.after
    in_before, in_after = shared_object_ids(before, after)
    ids = before.node_id[in_before]
    np.testing.assert_array_equal(ids, after.node_id[in_after])
    assert (np.diff(ids.astype(np.int64)) > 0).all()
    assert ids.size == np.intersect1d(before.node_id, after.node_id).size
    shared = (in_before, in_after)
    paths = (snapshots.before_path, snapshots.after_path)
    assert (ids_comparable(before, after, *paths, shared_ids=shared)
            == ids_comparable(before, after, *paths))
    given = snapshots.diff("before", "after", True, shared_ids=shared)
    assert given.rows == snapshots.diff("before", "after", True).rows


def test_base_is_labelled_with_after_interfaces_whether_classified_before_or_not(snapshots):
    """BEFORE's classes under AFTER's interface definitions are the same whether BEFORE was
    first classified with its own definitions (the UI's summary) or not."""
    fresh = diff_snapshots(HeapAnalysis(snapshots.before), snapshots.analyses["after"], True)
    own_first = HeapAnalysis(snapshots.before)
    assert own_first.classes.names
    assert diff_snapshots(own_first, snapshots.analyses["after"], True).rows == fresh.rows

    def labels(table):
        return [table.names[c] if c >= 0 else None for c in table.node_class.tolist()]

    before_labels = labels(fresh.before_classes)
    assert sum(label.startswith("{") for label in before_labels if label) > 10
    comparable, _ = ids_comparable(snapshots.before, snapshots.other_process,
                                   snapshots.before_path, snapshots.other_process_path)
    assert not comparable


def test_ids_from_two_processes_are_judged_not_comparable_by_contents(snapshots):
    comparable, reason = ids_comparable(snapshots.before, snapshots.other_process,
                                        snapshots.before_path, snapshots.other_process_path,
                                        None)
    assert not comparable
    assert "reset" in reason


def test_override_wins_over_the_contents(snapshots):
    assert ids_comparable(snapshots.before, snapshots.other_process, snapshots.before_path,
                          snapshots.other_process_path, True) == (True, "--ids-comparable given")
    comparable, reason = ids_comparable(snapshots.before, snapshots.after, snapshots.before_path,
                                        snapshots.after_path, False)
    assert (comparable, reason) == (False, "--ids-not-comparable given")


def test_sidecars_decide_by_pid_and_session(snapshots, tmp_path):
    before, after = tmp_path / "a.heapsnapshot", tmp_path / "b.heapsnapshot"
    write_sidecar(before, 10, "session-1")
    write_sidecar(after, 10, "session-1")
    assert ids_comparable(snapshots.before, snapshots.other_process, before, after)[0]
    write_sidecar(after, 10, "session-2")
    comparable, reason = ids_comparable(snapshots.before, snapshots.after, before, after)
    assert not comparable
    assert "different inspector sessions" in reason
    write_sidecar(after, 11, "session-1")
    comparable, reason = ids_comparable(snapshots.before, snapshots.after, before, after)
    assert not comparable
    assert "pid 10 and 11" in reason


def test_unreadable_sidecar_falls_back_to_contents(snapshots, tmp_path):
    before, after = tmp_path / "a.heapsnapshot", tmp_path / "b.heapsnapshot"
    write_sidecar(before, 10, "session-1")
    record_path(after).write_text("{not json")
    assert read_capture_record(after) is None
    comparable, _ = ids_comparable(snapshots.before, snapshots.other_process, before, after)
    assert not comparable


def test_without_comparable_ids_rows_hold_count_and_size_changes(snapshots):
    size = kept_size(snapshots.other_process)
    diff = snapshots.diff("before", "other_process", comparable=False)
    kept = row_of(diff, "Kept")
    assert (kept.new, kept.deleted, kept.alloc_size, kept.freed_size) == (None,) * 4
    assert (kept.count_before, kept.count_after, kept.count_delta) == (1000, 1300, 300)
    assert kept.size_delta == 300 * size
    assert all(row.count_delta or row.size_delta for row in diff.rows)
    assert new_objects(diff, "Kept", kept.location) == []


def test_new_objects_lists_the_added_kept(snapshots):
    diff = snapshots.diff("before", "after", comparable=True)
    kept = row_of(diff, "Kept")
    added = new_objects(diff, "Kept", kept.location)
    assert len(added) == 500
    before_ids = set(snapshots.before.node_id.tolist())
    assert not before_ids & {o.node_id for o in added}
    assert {snapshots.after.node_name_str(o.node) for o in added} == {"Kept"}
    retained = [o.retained_size for o in added]
    assert retained == sorted(retained, reverse=True)
    assert all(o.retained_size >= o.self_size for o in added)
    assert sum(o.self_size for o in added) == kept.alloc_size
    tree_retained = snapshots.analyses["after"].retained_sizes
    assert all(tree_retained[o.node] == o.retained_size for o in added)


def test_ids_are_stable_across_write_heap_snapshot_calls_in_one_process(snapshots):
    def holder_id(snapshot: HeapSnapshot) -> int:
        (holder,) = [i for i in range(snapshot.node_count)
                     if snapshot.node_name_str(i) == "Holder"
                     and snapshot.node_type_name(i) == "object"]
        return int(snapshot.node_id[holder])

    assert holder_id(snapshots.before) == holder_id(snapshots.after)


def test_before_is_labelled_with_the_after_interfaces(snapshots):
    """Plain objects of one shape get one `{...}` label in both snapshots, even when the
    property order that each process saw first differs (as DevTools does it)."""
    diff = snapshots.diff("before", "other_process", comparable=False)
    definitions = snapshots.analyses["other_process"].interface_definitions
    plain = snapshots.analyses["before"].plain_objects.nodes
    table = diff.before_classes
    plain_labels = {table.names[c] for c in table.node_class[plain].tolist() if c >= 0}
    assert plain_labels - {"Object"} <= {d.label for d in definitions}
    assert len(plain_labels) > 10


@pytest.mark.parametrize(("sessions", "expected"), [("one", True), ("two", False)])
def test_inspector_session_reset_is_detected_from_contents(node, spawn, tmp_path, sessions,
                                                           expected):
    """Disconnecting the inspector session that took a snapshot resets the object ids."""
    spawn("heap_diff_reset.js", node=node,
          env={"MEMTUI_OUT": str(tmp_path), "MEMTUI_SESSIONS": sessions}).kill()
    first, second = tmp_path / "first.heapsnapshot", tmp_path / "second.heapsnapshot"
    before, after = load_snapshot(first), load_snapshot(second)
    comparable, reason = ids_comparable(before, after, first, second)
    assert comparable is expected, reason
    kept = row_of(diff_snapshots(HeapAnalysis(before), HeapAnalysis(after), comparable), "Kept")
    assert kept.count_delta == 200
    assert kept.new == (200 if expected else None)
