"""The summary and diff documents and their tables, from snapshots of a real Node program."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from memtui.errors import UsageError
from memtui.heap.capture_record import record_path
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.report import (
    DIFF_COLUMNS,
    SOURCE_FIELDS,
    compare_files,
    diff_json,
    diff_table,
    human_bytes,
    render_table,
    summary_json,
    summary_table,
)
from tests.cli_helpers import run_memtui
from tests.nodeproc import node_binary, node_majors, start_node

SUMMARY_KEYS = {"class", "count", "self_size", "retained_size", "location", "file", "line",
                "column"}


@dataclass
class Files:
    before: Path
    after: Path
    other_process: Path


def write_snapshots(node: str, out: Path) -> None:
    out.mkdir()
    process = start_node(node, "heap_diff_kept.js",
                         env={"MEMTUI_OUT": str(out), "MEMTUI_STEPS": "diff"})
    process.kill()


@pytest.fixture(scope="module", params=node_majors(), ids=lambda m: f"node{m}")
def files(request, tmp_path_factory) -> Files:
    node = node_binary(request.param)
    root = tmp_path_factory.mktemp(f"report-node{request.param}")
    write_snapshots(node, root / "one")
    write_snapshots(node, root / "two")
    return Files(root / "one" / "before.heapsnapshot", root / "one" / "after.heapsnapshot",
                 root / "two" / "after.heapsnapshot")


@pytest.fixture(scope="module")
def comparable_diff(files):
    return compare_files(files.before, files.after)


def kept_row(rows):
    (row,) = [r for r in rows if r["class"] == "Kept"]
    return row


def test_summary_json_follows_the_contract(files):
    analysis = HeapAnalysis.of_file(files.before)
    snapshot = analysis.snapshot
    summary = summary_json(files.before, analysis, top=None)
    assert set(summary) == {"file", "nodes", "edges", "self_size", "classes"}
    assert summary["file"] == str(files.before)
    assert (summary["nodes"], summary["edges"]) == (snapshot.node_count, snapshot.edge_count)
    assert summary["self_size"] == int(snapshot.node_self_size.sum())
    assert sum(c["self_size"] for c in summary["classes"]) == summary["self_size"]
    assert all(set(c) == SUMMARY_KEYS for c in summary["classes"])
    retained = [c["retained_size"] for c in summary["classes"]]
    assert retained == sorted(retained, reverse=True)
    json.dumps(summary)


def test_summary_rows_for_known_classes(files):
    summary = summary_json(files.before, HeapAnalysis.of_file(files.before), top=None)
    kept = kept_row(summary["classes"])
    assert kept["count"] == 1000
    assert kept["retained_size"] == kept["self_size"]
    assert kept["location"].count(":") == 2
    (holder,) = [c for c in summary["classes"] if c["class"] == "Holder"]
    assert holder["retained_size"] > 1 << 20


def test_located_classes_name_their_file_line_and_column(files, monkeypatch):
    """Relative to memtui's directory without a capture record, to the target's with one."""
    script = Path(__file__).parents[1] / "node" / "heap_diff_kept.js"
    monkeypatch.chdir(script.parents[2])
    kept = kept_row(summary_json(files.before, HeapAnalysis.of_file(files.before))["classes"])
    assert (kept["file"], kept["line"]) == ("tests/node/heap_diff_kept.js", 10)
    assert kept["column"] > 1
    sidecar = record_path(files.before)
    sidecar.write_text(json.dumps({"pid": 1, "session": "s", "cwd": str(script.parent)}))
    try:
        summary = summary_json(files.before, HeapAnalysis.of_file(files.before))
    finally:
        sidecar.unlink()
    kept = kept_row(summary["classes"])
    assert kept["file"] == "heap_diff_kept.js"
    assert f"heap_diff_kept.js:10:{kept['column']}" in summary_table(summary)
    unlocated = next(c for c in summary["classes"] if c["location"] is None)
    assert (unlocated["file"], unlocated["line"], unlocated["column"]) == (None, None, None)


def test_summary_top_keeps_the_largest(files):
    snapshot = HeapAnalysis.of_file(files.before)
    everything = summary_json(files.before, snapshot)["classes"]
    assert summary_json(files.before, snapshot, top=3)["classes"] == everything[:3]
    with pytest.raises(UsageError, match="--top"):
        summary_json(files.before, snapshot, top=0)


def test_summary_table_is_aligned(files):
    summary = summary_json(files.before, HeapAnalysis.of_file(files.before), top=5)
    lines = summary_table(summary).splitlines()
    assert lines[0].startswith(f"{files.before}: ")
    header, *rows = lines[2:]
    assert header.split()[:2] == ["Class", "Count"]
    assert len(rows) == 5
    column_end = header.index("Retained Size") + len("Retained Size")
    assert all(row[column_end - 1] == "B" for row in rows)


def test_summary_sections_beyond_classes(files):
    analysis = HeapAnalysis.of_file(files.before)
    plain = summary_json(files.before, analysis, top=3)
    document = summary_json(files.before, analysis, top=3, statistics=True, strings=4,
                            largest=5)
    assert set(document) - set(plain) == {"statistics", "duplicate_strings", "largest_objects"}
    stats = document["statistics"]
    assert stats["total"] == sum(stats[k] for k in ("code", "strings", "js_arrays",
                                                    "typed_arrays", "system",
                                                    "other_js_objects", "other_native"))
    assert len(document["duplicate_strings"]) == 4
    assert set(document["duplicate_strings"][0]) == {"value", "count", "self_size",
                                                     "retained_size", "wasted_size"}
    largest = document["largest_objects"]
    assert len(largest) == 5
    assert [o["retained_size"] for o in largest] == sorted(
        (o["retained_size"] for o in largest), reverse=True)
    json.dumps(document)
    text = summary_table(document)
    for heading in ("Statistics", "Duplicated string", "Largest object", "Typed arrays"):
        assert heading in text
    for flag, options in (("--strings", {"strings": 0}), ("--largest", {"largest": -1})):
        with pytest.raises(UsageError, match=flag):
            summary_json(files.before, analysis, **options)


def test_summary_without_a_usable_compile_cache_still_answers(files, tmp_path):
    """A cache directory that cannot be created: memtui compiles in the process, says so
    on one line, and prints the same document."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {**os.environ, "XDG_CACHE_HOME": str(blocker)}
    env.pop("NUMBA_CACHE_DIR", None)
    uncached = run_memtui("summary", "--json", str(files.before), env=env, timeout=120)
    assert uncached.returncode == 0, uncached.stderr
    assert uncached.stderr.startswith("memtui: compiled heap code is not cached (cannot "
                                      f"create {blocker}")
    assert uncached.stderr.count("\n") == 1
    cached = run_memtui("summary", "--json", str(files.before))
    assert cached.stderr == ""
    assert json.loads(uncached.stdout) == json.loads(cached.stdout)


def test_diff_json_follows_the_contract(files, comparable_diff):
    document = diff_json(files.before, files.after, comparable_diff)
    assert document["ids_comparable"] is True
    assert document["before"]["file"] == str(files.before)
    assert document["after"]["nodes"] == comparable_diff.after.snapshot.node_count
    assert document["before"]["taken_at"] is None
    assert all(tuple(row) == DIFF_COLUMNS + SOURCE_FIELDS for row in document["rows"])
    kept = kept_row(document["rows"])
    assert (kept["new"], kept["deleted"], kept["count_delta"]) == (500, 200, 300)
    assert kept["size_delta"] == kept["alloc_size"] - kept["freed_size"] > 0
    allocated = [row["alloc_size"] for row in document["rows"]]
    assert allocated == sorted(allocated, reverse=True), "DevTools sorts by Alloc. Size"
    assert document["rows"][0]["class"] == "Kept"
    json.dumps(document)


def test_diff_json_reports_taken_at_from_the_sidecar(files, comparable_diff, tmp_path):
    sidecar = record_path(files.after)
    sidecar.write_text(json.dumps({"pid": 1, "session": "s", "taken_at": 1763721234.5,
                                   "node_version": "v24.0.0"}))
    try:
        document = diff_json(files.before, files.after, comparable_diff)
    finally:
        sidecar.unlink()
    assert document["after"]["taken_at"] == 1763721234.5


def test_diff_sort_and_top(files, comparable_diff):
    by_new = diff_json(files.before, files.after, comparable_diff, top=2, sort="new")["rows"]
    assert len(by_new) == 2
    assert by_new[0]["class"] == "Kept"
    assert by_new[0]["new"] >= by_new[1]["new"]
    by_class = diff_json(files.before, files.after, comparable_diff, sort="class")["rows"]
    assert [r["class"] for r in by_class] == sorted(r["class"] for r in by_class)
    with pytest.raises(UsageError, match="cannot sort by 'bogus'"):
        diff_json(files.before, files.after, comparable_diff, sort="bogus")


def test_diff_without_comparable_ids(files):
    diff = compare_files(files.before, files.other_process)
    document = diff_json(files.before, files.other_process, diff)
    assert document["ids_comparable"] is False
    deltas = [row["size_delta"] for row in document["rows"]]
    assert deltas == sorted(deltas, reverse=True)
    kept = kept_row(document["rows"])
    assert (kept["new"], kept["deleted"], kept["alloc_size"], kept["freed_size"]) == (None,) * 4
    assert (kept["count_before"], kept["count_after"], kept["count_delta"]) == (1000, 1300, 300)
    table = diff_table(document)
    assert table.splitlines()[0].startswith("ids not comparable: ")
    assert "Count Before" in table
    assert "# New" not in table


def test_override_makes_ids_comparable(files):
    diff = compare_files(files.before, files.other_process, ids_override=True)
    document = diff_json(files.before, files.other_process, diff)
    assert document["ids_comparable"] is True
    assert document["ids_comparable_reason"] == "--ids-comparable given"


def test_diff_table_says_ids_were_compared(files, comparable_diff):
    table = diff_table(diff_json(files.before, files.after, comparable_diff, top=3))
    lines = table.splitlines()
    assert lines[0].startswith("ids comparable: ")
    kept = next(line for line in lines if line.startswith("Kept "))
    assert kept.split()[1:4] == ["500", "200", "+300"]
    assert kept.endswith("heap_diff_kept.js:10:" + str(kept_row(
        diff_json(files.before, files.after, comparable_diff)["rows"])["column"]))


def test_human_bytes_and_alignment():
    assert [human_bytes(v) for v in (0, 812, 40_000, 1_500_000)] == [
        "0 B", "812 B", "39.1 KiB", "1.4 MiB"]
    assert human_bytes(12_000, signed=True) == "+11.7 KiB"
    assert human_bytes(-96, signed=True) == "-96 B"
    assert human_bytes(None) == "-"
    table = render_table(["Class", "Size", "Location"], [["A", "1 B", "1:2:3"],
                                                         ["Longer", "10.0 kB", ""]])
    assert table.splitlines() == ["Class      Size  Location",
                                  "A           1 B  1:2:3",
                                  "Longer  10.0 kB"]


def test_diff_table_names_the_heap_and_the_file_size(files, comparable_diff):
    """The heap (every object's size) and the file on disk are two sizes, both labelled."""
    document = diff_json(files.before, files.after, comparable_diff)
    assert document["before"]["file_size"] == files.before.stat().st_size
    lines = diff_table(document).splitlines()
    for line, path, facts in ((lines[1], files.before, document["before"]),
                              (lines[2], files.after, document["after"])):
        assert line.endswith(f"{path} (heap {human_bytes(facts['self_size'])},"
                             f" file {human_bytes(path.stat().st_size)})")


def test_summary_table_names_its_size_the_heap(files):
    summary = summary_json(files.before, HeapAnalysis.of_file(files.before))
    assert summary_table(summary).splitlines()[0].endswith(
        f" edges, heap {human_bytes(summary['self_size'])}")
