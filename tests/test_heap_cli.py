"""`memtui snapshot`, `summary` and `diff` together, as a user runs them on a leak."""

import json
import subprocess
import sys

from tests.cli_helpers import run_memtui
from tests.nodeproc import SCRIPTS

ROOT = SCRIPTS.parents[1]


def test_two_snapshots_of_a_leak_diff_to_the_leaking_class(node, spawn, tmp_path):
    target = spawn("diff_orders.js", "--inspect=127.0.0.1:0", node=node)
    before, after = tmp_path / "before.heapsnapshot", tmp_path / "after.heapsnapshot"
    assert run_memtui("snapshot", str(target.pid), "-o", str(before)).returncode == 0
    target.send("more\n")
    target.wait_for_line("grown 1000")
    assert run_memtui("snapshot", str(target.pid), "-o", str(after)).returncode == 0

    summary = json.loads(run_memtui("summary", str(after), "--json", "--top", "500",
                                    cwd=ROOT).stdout)
    orders = [c for c in summary["classes"] if c["class"] == "Order"]
    assert len(orders) == 1 and orders[0]["count"] == 1000
    assert orders[0]["location"].count(":") == 2
    assert (orders[0]["file"], orders[0]["line"], orders[0]["column"]) == (
        "tests/node/diff_orders.js", 4, 14)
    table = run_memtui("summary", str(after), "--top", "500", cwd=ROOT).stdout
    assert next(line for line in table.splitlines() if line.startswith("Order ")).endswith(
        "  tests/node/diff_orders.js:4:14")

    result = run_memtui("diff", str(before), str(after), "--json", "--sort", "count_delta",
                        cwd=ROOT)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ids_comparable"] is False  # two memtui sessions: ids were reset between
    row = next(r for r in document["rows"] if r["class"] == "Order")
    assert (row["count_before"], row["count_after"], row["count_delta"]) == (500, 1000, 500)
    assert row["new"] is None and row["deleted"] is None
    assert (row["file"], row["line"]) == ("tests/node/diff_orders.js", 4)

    forced = json.loads(run_memtui("diff", str(before), str(after), "--json",
                                   "--ids-comparable").stdout)
    assert forced["ids_comparable"] is True

    table = run_memtui("diff", str(before), str(after), "--top", "5")
    assert table.returncode == 0 and "Order" in table.stdout

    sections = run_memtui("summary", str(after), "--statistics", "--strings", "--largest", "3")
    assert sections.returncode == 0, sections.stderr
    for heading in ("Statistics", "Duplicated string", "Largest object"):
        assert heading in sections.stdout
    bad = run_memtui("summary", str(after), "--strings", "0")
    assert bad.returncode == 2 and bad.stderr.startswith("memtui: error: --strings")


def test_bad_snapshot_files_are_one_line_errors_with_exit_2(tmp_path):
    cases = {"empty": b"", "not-json": b"hello", "other-shape": b'{"a": 1}'}
    for name, content in cases.items():
        path = tmp_path / f"{name}.heapsnapshot"
        path.write_bytes(content)
        for args in (("summary", str(path)), ("diff", str(path), str(path))):
            result = run_memtui(*args)
            assert result.returncode == 2, (name, args, result.stderr)
            assert result.stderr.startswith("memtui: error: ") and result.stderr.count("\n") == 1


def test_a_full_disk_under_the_output_is_a_one_line_error(spawn, tmp_path):
    target = spawn("idle.js", "--inspect-port=0")
    path = tmp_path / "idle.heapsnapshot"
    assert run_memtui("snapshot", str(target.pid), "-o", str(path)).returncode == 0
    with open("/dev/full", "w") as full:
        for args in (("summary", str(path)), ("summary", "--json", str(path)),
                     ("diff", str(path), str(path))):
            result = subprocess.run([sys.executable, "-m", "memtui", *args], stdout=full,
                                    stderr=subprocess.PIPE, text=True, timeout=60)
            assert result.returncode == 1, args
            assert result.stderr == ("memtui: error: cannot write the output: No space left "
                                     "on device (free disk space, or write it elsewhere)\n")
