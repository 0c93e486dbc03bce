"""Which processes an overview watches (memtui.selection); nothing is attached to here."""

import subprocess

from memtui.selection import Selection, attachable_node_pids, node_family


def test_every_node_process_of_this_user_and_no_other_process(spawn):
    target = spawn("idle.js")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        found = attachable_node_pids()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert target.pid in found
    assert sleeper.pid not in found


def test_a_cluster_primary_and_its_workers(spawn):
    primary = spawn("cluster.js", args=("2",))
    family = node_family(primary.pid)
    assert family[0] == primary.pid and len(family) == 3
    assert Selection(children_of=primary.pid).find() == [str(pid) for pid in family]


def test_targets_given_one_by_one_are_found_as_given():
    selection = Selection(targets=("4242", "127.0.0.1:9229"))
    assert selection.find() == ["4242", "127.0.0.1:9229"] and not selection.grows
