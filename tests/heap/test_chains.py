"""Retainer chains read from the object to the root, with repeated runs folded."""

import pytest

from memtui.heap.chains import Reference, chain_lines, fold_runs, object_line
from memtui.heap.pipeline import HeapAnalysis
from tests.leaks import capture_leak
from tests.nodeproc import node_binary, node_majors


def reference(kind: str, holder: int) -> Reference:
    edge, name = kind.split(" in ")
    return Reference(edge=edge, holder=holder, holder_name=name, holder_id=2 * holder + 1,
                     kind=(edge, name))


def references(*kinds: str) -> list[Reference]:
    return [reference(kind, holder) for holder, kind in enumerate(kinds)]


def test_a_run_of_one_step_folds_into_one_line():
    lines = fold_runs(references("[] in Array", *["next in Node"] * 5, "list in Context"))
    assert [line.describe() for line in lines] == [
        "[] in Array @1", "5 times: next in Node", "list in Context @13"]
    assert lines[1].repeats == 5 and len(lines[1].unfolded()) == 5
    assert [line.describe() for line in lines[1].unfolded()][:2] == ["next in Node @3",
                                                                      "next in Node @5"]


def test_a_repeated_pattern_folds_and_short_runs_stay():
    cycle = ["a in Context", "context in f()", "f in Thing"]
    lines = fold_runs(references(*cycle * 4, "x in Y", "y in Z", "x in Y", "y in Z"))
    assert lines[0].describe() == ("4 times: a in Context → context in f() → f in Thing")
    assert [line.describe() for line in lines[1:]] == ["x in Y @25", "y in Z @27",
                                                       "x in Y @29", "y in Z @31"]
    assert sum(len(line.references) for line in lines) == 16


@pytest.fixture(scope="module", params=node_majors(), ids=lambda m: f"node{m}")
def closure_snapshot(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"chains-node{request.param}")
    return HeapAnalysis.of_file(capture_leak(node_binary(request.param), "closure",
                                             directory).after.path)


def test_a_closure_leak_folds_to_a_few_lines_ending_at_the_root(closure_snapshot):
    index = closure_snapshot.retainers
    things = closure_snapshot.classes.members("{longStr, someMethod}", None)
    oldest = int(max(things.tolist(), key=lambda node: index.distance[node]))
    chain = index.chain(oldest)
    lines = chain_lines(closure_snapshot, chain)
    assert object_line(closure_snapshot, oldest).startswith("{longStr, someMethod} @")
    assert lines[0].folded and lines[0].repeats >= 1500
    assert lines[0].describe().endswith(
        " times: originalThing in system / Context → {context} in someMethod() → "
        "someMethod in {longStr, someMethod}")
    assert lines[1].describe().startswith("theThing in system / Context @")
    assert lines[-1].describe().endswith(" in (root) @1")
    assert sum(len(line.references) for line in lines) == len(chain.steps)
    assert len(lines) < 20
