"""The bench scripts start, and their helpers read what the Node workloads really print."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import benchlib  # noqa: E402
import heap_parse  # noqa: E402
import watch_overhead  # noqa: E402


@pytest.mark.parametrize("script", ["watch_overhead.py", "monitor_cost.py", "heap_parse.py",
                                    "memtui_heap_job.py"])
def test_script_help_exits_cleanly(script):
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def test_alloc_workload_windows_parse(system_node):
    done = subprocess.run([system_node, str(BENCH / "alloc_workload.js"), "1", "200"],
                          capture_output=True, text=True, timeout=30)
    lines = done.stdout.splitlines()
    windows = watch_overhead.parse_windows(lines)
    assert lines[0] == "ready"
    assert 3 <= len(windows) <= 5
    assert all(w.ops_per_s > 0 and w.ops_per_cpu_s > 0 for w in windows)
    assert json.loads(lines[-1])["done"] is True


def test_parse_windows_skips_other_lines():
    lines = ["ready", 'Debugger listening on ws://127.0.0.1:1/x', "{not json",
             '{"window": 0, "t": 10.0, "ops": 5, "ops_per_s": 5.0, "cpu_s": 0.5}',
             '{"done": true}']
    assert watch_overhead.parse_windows(lines) == [watch_overhead.Window(10.0, 5.0, 10.0)]


def test_measured_windows_keeps_those_ending_inside_the_span():
    windows = [watch_overhead.Window(t, 1.0, 1.0) for t in (1.0, 2.0, 3.0, 4.0)]
    assert [w.t for w in watch_overhead.measured_windows(windows, 2.0, 3.5)] == [2.0, 3.0]


def test_slowdown_is_the_fraction_of_throughput_lost():
    assert watch_overhead.slowdown(200.0, 198.0) == pytest.approx(0.01)
    assert watch_overhead.slowdown(200.0, 202.0) == pytest.approx(-0.01)


def test_count_samples_counts_jsonl_records_in_the_span(tmp_path):
    record = tmp_path / "r.jsonl"
    record.write_text('{"t": 1.0}\n{"t": 2.5}\n{"t": 9.0}\npartial{\n')
    assert watch_overhead.count_samples(record, 2.0, 9.0) == 2


def test_big_snapshot_script_writes_two_snapshots_with_counts(system_node, tmp_path):
    first, second = tmp_path / "a.heapsnapshot", tmp_path / "b.heapsnapshot"
    subprocess.run([system_node, str(BENCH / "make_big_snapshot.js"), str(first), str(second),
                    "200"], check=True, capture_output=True, timeout=60)
    first_nodes, first_edges = heap_parse.snapshot_counts(first)
    second_nodes, _ = heap_parse.snapshot_counts(second)
    snapshot = json.loads(first.read_text())["snapshot"]
    assert (first_nodes, first_edges) == (snapshot["node_count"], snapshot["edge_count"])
    assert second_nodes > first_nodes


def test_header_int_is_minus_one_when_the_key_is_missing():
    assert heap_parse._header_int('{"snapshot":{"meta":{}}}', "node_count") == -1


def test_measured_result_is_the_last_json_line_even_after_progress_text():
    measured = benchlib.Measured(1.0, 10, 0, 'parsing x ...\n\x1b[K{"classes": 3}\n', "")
    assert measured.result() == {"classes": 3}
    assert benchlib.Measured(1.0, 10, 1, "no result\n", "").result() == {}


def test_run_measured_reports_the_childs_own_peak_rss():
    allocate = "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
    hold = "import time; time.sleep(0.3)"
    big = benchlib.run_measured([sys.executable, "-c", f"{allocate}; {hold}"])
    small = benchlib.run_measured([sys.executable, "-c", hold])
    assert big.returncode == 0 and small.returncode == 0
    assert 200 * benchlib.MB < big.peak_rss < 300 * benchlib.MB
    assert 0 < small.peak_rss < 50 * benchlib.MB


def test_print_table_aligns_columns(capsys):
    benchlib.print_table(["name", "value"], [["a", "1.5"], ["long name", "12.25"]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "name       value"
    assert lines[2] == "a            1.5"
    assert lines[3] == "long name  12.25"


def test_round_slowdowns_pair_runs_whatever_their_order():
    def run(variant, rate):
        return watch_overhead.RunResult(variant, [watch_overhead.Window(0.0, rate, rate)], None)

    runs = [run(watch_overhead.WITHOUT, 100.0), run(watch_overhead.WITH, 99.0),
            run(watch_overhead.WITH, 196.0), run(watch_overhead.WITHOUT, 200.0)]
    wall = watch_overhead.MEASURES[0]
    assert watch_overhead.round_slowdowns(runs, wall) == pytest.approx([0.01, 0.02])


@pytest.mark.parametrize(("lost", "margin", "expected"), [
    (0.002, 0.005, "PASS"), (0.02, 0.005, "FAIL"), (0.002, 0.02, "INCONCLUSIVE"),
    (-0.3, 0.2, "PASS"), (0.005, float("inf"), "INCONCLUSIVE"),
])
def test_judge_needs_the_noise_margin_clear_of_the_target(lost, margin, expected):
    assert watch_overhead.judge(lost, margin) == expected


def test_median_run_picks_the_middle_wall_time():
    runs = [benchlib.Measured(wall, 1, 0, "", "") for wall in (3.0, 1.0, 2.0, 9.0)]
    assert heap_parse.median_run(runs).wall_s == 2.0
    assert heap_parse.median_run(runs[:3]).wall_s == 2.0
