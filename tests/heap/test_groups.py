"""Sub-groups of the classes whose one label covers many things: they add up to the class."""

import pytest

from memtui.heap.diff import HeapDiff, diff_groups, diff_snapshots
from memtui.heap.groups import GROUPED_LABELS, GroupKey, group_nodes, has_groups
from memtui.heap.report import compare_files
from memtui.heap.scripts import SourceFiles
from tests.leaks import capture_leak
from tests.nodeproc import SCRIPTS, node_binary, node_majors

SHOWN = ("new", "deleted", "alloc_size", "freed_size", "count_delta", "size_delta")
"""The Comparison view's columns: the listed sub-groups of a class add up to it in each."""


@pytest.fixture(scope="module", params=node_majors(), ids=lambda m: f"node{m}")
def major(request) -> str:
    return request.param


def leak_diff(kind: str, major: str, tmp_path_factory) -> HeapDiff:
    pair = capture_leak(node_binary(major), kind, tmp_path_factory.mktemp(f"{kind}-{major}"))
    return compare_files(pair.before.path, pair.after.path)


@pytest.fixture(scope="module")
def listener(major, tmp_path_factory) -> HeapDiff:
    return leak_diff("listener", major, tmp_path_factory)


@pytest.fixture(scope="module")
def closure(major, tmp_path_factory) -> HeapDiff:
    return leak_diff("closure", major, tmp_path_factory)


def test_leaking_listeners_are_their_functions_sub_group(listener):
    (function,) = [row for row in listener.rows if row.label == "Function"]
    groups = diff_groups(listener, "Function", None)
    heaviest = max(groups, key=lambda group: group.size_delta)
    assert (heaviest.label, heaviest.new, heaviest.deleted) == ("LeakFunc()", 500, 0)
    files = SourceFiles.of(listener.after.script_names, cwd=str(SCRIPTS))
    assert files.describe(heaviest.location) == "leak_listener.js:8:41"
    assert function.new >= 500


@pytest.mark.parametrize("kind", ["listener", "closure"])
def test_sub_groups_add_up_to_their_class_exactly(kind, listener, closure):
    diff = {"listener": listener, "closure": closure}[kind]
    without_ids = diff_snapshots(diff.before, diff.after, False, "")
    for compared, fields in ((diff, SHOWN), (without_ids, ("count_delta", "size_delta"))):
        grouped = [row for row in compared.rows if has_groups(row.label)]
        assert {row.label for row in grouped} >= {"Function", "(compiled code)"}
        for row in grouped:
            groups = diff_groups(compared, row.label, row.location)
            for field in fields:
                assert sum(getattr(group, field) for group in groups) == getattr(row, field), (
                    row.label, field)


def test_contexts_by_variables_and_closures_by_name(closure):
    contexts = {group.label: group for group in diff_groups(closure, "system / Context", None)}
    assert contexts["vars originalThing, unused"].new == 1000
    functions = {group.label for group in diff_groups(closure, "Function", None)}
    assert {"someMethod()", "unused()"} <= functions


def test_summary_groups_partition_the_class(closure):
    after = closure.after
    rows = {row.label: row for row in after.class_rows()}
    for label in GROUPED_LABELS & set(rows):
        groups = after.group_rows(label, None)
        assert sum(group.count for group in groups) == rows[label].count
        assert sum(group.self_size for group in groups) == rows[label].self_size
        sizes = [group.self_size for group in groups]
        assert sizes == sorted(sizes, reverse=True)


def test_sub_groups_retain_as_classes_do(closure):
    """A sub-group's retained size counts its members that no member of the same sub-group
    dominates: at least their own sizes, and together at least the class's."""
    after = closure.after
    rows = {row.label: row for row in after.class_rows()}
    retained = after.retained_sizes
    for label in GROUPED_LABELS & set(rows):
        groups = after.group_rows(label, None)
        assert all(group.retained_size >= group.self_size for group in groups)
        assert sum(group.retained_size for group in groups) >= rows[label].retained_size
        found = after.sub_groups(label, None)
        for key, size in zip(found.keys, after.group_retained_sizes(label, None).tolist(),
                             strict=True):
            members = found.members(key)
            if members.size == 1:
                assert size == retained[members[0]]
    compared = {row.label: row for row in diff_groups(closure, "system / Context", None,
                                                      retained=True)}
    found = after.sub_groups("system / Context", None)
    sizes = dict(zip(found.keys, after.group_retained_sizes("system / Context", None).tolist(),
                     strict=True))
    assert compared["vars originalThing, unused"].retained_after == sizes[
        GroupKey("vars originalThing, unused")] > 1000 * 200
    assert all(row.retained_after is None
               for row in diff_groups(closure, "system / Context", None))


def test_plain_objects_by_their_first_property_names(closure):
    nodes = closure.after_classes.members("Object", None)
    keys, index = group_nodes(closure.after.snapshot, "Object", nodes)
    assert len(index) == len(nodes) and len(set(keys)) == len(keys)
    assert all(key.name.startswith("{") and key.name.endswith("}") for key in keys)
    assert all(key.name.count(", ") <= 3 for key in keys)


def test_membership_of_one_sub_group(listener):
    found = listener.after.sub_groups("Function", None)
    leak = GroupKey("LeakFunc()", next(g.location for g in diff_groups(listener, "Function", None)
                                       if g.label == "LeakFunc()"))
    members = found.members(leak)
    assert members.size >= 1000
    names = {listener.after.snapshot.node_name_str(node) for node in members.tolist()}
    assert names == {"LeakFunc"}
    assert found.members(GroupKey("nothing()")).size == 0
    assert listener.after.sub_groups("Function", None) is found
