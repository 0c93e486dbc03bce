"""The bench scripts start, and their helpers read what the Node workloads really print."""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import benchlib  # noqa: E402
import heap_parse  # noqa: E402
import snapshot_memory  # noqa: E402
import watch_overhead  # noqa: E402


@pytest.mark.parametrize("script", ["watch_overhead.py", "monitor_cost.py", "heap_parse.py",
                                    "snapshot_memory.py", "snapshot_interrupt.py"])
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
    assert all(w.ops > 0 and w.cpu_s > 0 and w.elapsed > 0 for w in windows)
    assert json.loads(lines[-1])["done"] is True


def test_parse_windows_skips_other_lines():
    lines = ["ready", 'Debugger listening on ws://127.0.0.1:1/x', "{not json",
             '{"window": 0, "start": 9.5, "t": 10.0, "ops": 5, "ops_per_s": 5.0, "cpu_s": 0.5}',
             '{"done": true}']
    assert watch_overhead.parse_windows(lines) == [watch_overhead.Window(9.5, 10.0, 5, 0.5)]


def test_windows_inside_keeps_only_windows_wholly_in_the_span():
    windows = [watch_overhead.Window(t - 1, t, 1, 1.0) for t in (1.0, 2.0, 3.0, 4.0)]
    assert [w.end for w in watch_overhead.windows_inside(windows, 1.0, 3.5)] == [2.0, 3.0]


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


def test_run_measured_stops_a_child_past_its_limits():
    grow = ("import time\nblocks = []\nwhile True:\n"
            "    blocks.append(bytearray(8 * 1024 * 1024)); blocks[-1][::4096] = b'x' * 2048\n"
            "    time.sleep(0.01)")
    grown = benchlib.run_measured([sys.executable, "-c", grow], rss_limit=150 * benchlib.MB,
                                  timeout_s=60)
    assert grown.stopped is not None and grown.stopped.startswith("killed at")
    assert grown.returncode != 0
    slow = benchlib.run_measured([sys.executable, "-c", "import time; time.sleep(30)"],
                                 timeout_s=0.5)
    assert slow.stopped is not None and slow.stopped.startswith("killed after")
    assert slow.wall_s < 10


def test_print_table_aligns_columns(capsys):
    benchlib.print_table(["name", "value"], [["a", "1.5"], ["long name", "12.25"]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "name       value"
    assert lines[2] == "a            1.5"
    assert lines[3] == "long name  12.25"


def _phase_windows(start, rates):
    return [watch_overhead.Window(start + i, start + i + 1, r, 1.0) for i, r in enumerate(rates)]


def test_measure_rate_is_total_ops_over_total_time_not_a_mean_of_rates():
    windows = [watch_overhead.Window(0.0, 1.0, 100, 0.5), watch_overhead.Window(1.0, 4.0, 200, 1.5)]
    wall, per_cpu = watch_overhead.MEASURES
    assert wall.rate(windows) == pytest.approx(75.0)
    assert per_cpu.rate(windows) == pytest.approx(150.0)


def test_pair_slowdowns_pair_adjacent_phases_whatever_their_order():
    windows = (_phase_windows(0, [100, 100, 100]) + _phase_windows(3, [99, 99, 99])
               + _phase_windows(6, [196, 196, 196]) + _phase_windows(9, [200, 200, 200]))
    phases = [watch_overhead.Phase(watch_overhead.WITHOUT, 0, 3),
              watch_overhead.Phase(watch_overhead.WITH, 3, 6),
              watch_overhead.Phase(watch_overhead.WITH, 6, 9),
              watch_overhead.Phase(watch_overhead.WITHOUT, 9, 12)]
    pairs = watch_overhead.pair_phases(phases, windows)
    wall = watch_overhead.MEASURES[0]
    assert watch_overhead.pair_slowdowns(pairs, wall) == pytest.approx([0.01, 0.02])


def test_pair_phases_refuses_a_phase_without_whole_windows():
    phases = [watch_overhead.Phase(watch_overhead.WITHOUT, 0, 3),
              watch_overhead.Phase(watch_overhead.WITH, 3, 6)]
    with pytest.raises(ValueError, match="no whole window"):
        watch_overhead.pair_phases(phases, _phase_windows(0, [100, 100, 100]))


def test_pair_phases_refuses_two_phases_of_one_variant():
    phases = [watch_overhead.Phase(watch_overhead.WITH, 0, 1),
              watch_overhead.Phase(watch_overhead.WITH, 1, 2)]
    with pytest.raises(ValueError, match="do not pair"):
        watch_overhead.pair_phases(phases, [])


@pytest.mark.parametrize(("df", "exact"), [(3, 3.1824), (9, 2.2622), (13, 2.1604),
                                          (30, 2.0423)])
def test_student_t_quantile_matches_the_tables(df, exact):
    assert watch_overhead.student_t_975(df) == pytest.approx(exact, abs=0.005)


def test_mean_interval_is_the_mean_plus_minus_t_standard_errors():
    interval = watch_overhead.mean_interval([0.01, 0.03, -0.01, 0.01])
    half_width = 3.1824 * statistics.stdev([0.01, 0.03, -0.01, 0.01]) / 2
    assert interval.estimate == pytest.approx(0.01)
    assert interval.low == pytest.approx(0.01 - half_width, abs=1e-4)
    assert interval.high == pytest.approx(0.01 + half_width, abs=1e-4)


def test_mean_interval_of_too_few_pairs_is_unbounded():
    interval = watch_overhead.mean_interval([0.002, 0.003, 0.001])
    assert interval.low == float("-inf") and interval.high == float("inf")


@pytest.mark.parametrize(("low", "high", "expected"), [
    (-0.003, 0.007, "PASS"), (0.015, 0.025, "FAIL"), (-0.02, 0.02, "INCONCLUSIVE"),
    (-0.5, -0.1, "PASS"), (0.0, float("inf"), "INCONCLUSIVE"), (0.01, 0.03, "FAIL"),
])
def test_judge_needs_the_whole_interval_on_one_side_of_the_target(low, high, expected):
    assert watch_overhead.judge(watch_overhead.Interval((low + high) / 2, low, high)) == expected


def test_probe_cost_mode_reports_sample_cost_and_counting_pairs(system_node):
    done = subprocess.run([system_node, str(BENCH / "alloc_workload.js"), "probe-cost",
                           str(watch_overhead.PROBE), "2", "100"],
                          capture_output=True, text=True, timeout=60)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["sample_us"] > 0
    assert len(result["counting_pairs"]) == 2
    assert all(p["with"] > 0 and p["without"] > 0 and p["gc_per_s"] > 0
               for p in result["counting_pairs"])
    assert len(result["counting_us_per_gc"]) == 2


def test_pin_process_pins_every_thread_of_the_process(system_node):
    workload = watch_overhead.NodeProcess([system_node, str(BENCH / "alloc_workload.js"), "30"])
    try:
        workload.wait_for_line("^ready$")
        watch_overhead.pin_process(workload.pid, 0)
        tasks = list(Path(f"/proc/{workload.pid}/task").iterdir())
        assert len(tasks) > 1
        assert all(os.sched_getaffinity(int(t.name)) == {0} for t in tasks)
    finally:
        workload.kill()


def test_watched_phases_attach_and_detach_the_same_workload_twice(system_node):
    workload = watch_overhead.WatchedWorkload(system_node, 60, 200, 0.5, pin=False)
    try:
        phases = [workload.watched_phase(2.0), workload.idle_phase(0.5),
                  workload.watched_phase(2.0)]
        listening = [line for line in workload.process.lines if "Debugger listening" in line]
        assert len(listening) == 2
        assert all(p.samples_recorded >= 3 for p in phases if p.variant == watch_overhead.WITH)
        assert watch_overhead.windows_inside(workload.windows(), phases[1].start, phases[1].end)
    finally:
        workload.close()


def test_median_run_picks_the_middle_wall_time():
    runs = [benchlib.Measured(wall, 1, 0, "", "") for wall in (3.0, 1.0, 2.0, 9.0)]
    assert heap_parse.median_run(runs).wall_s == 2.0
    assert heap_parse.median_run(runs[:3]).wall_s == 2.0


PERF_SCRIPT = """\
 100 10.000100:
\t    7f1a JS:*runBatch /work/bench/alloc_workload.js:44:18
\t    14ac uv_run

 100 10.000200:
\t    55aa node::performance::MarkGarbageCollectionEnd
\t    66bb v8::internal::Heap::CollectGarbage

 100 10.000300:
\t    7f2b JS:^harvest :46:37
\t    7f3c JS:^reading :80:30
\t    8888 node::inspector::MainThreadInterface::DispatchMessages

 101 10.000400:
\t    9999 node::inspector::InspectorIo::ThreadMain

 100 10.000500:
\t    7f4d JS:~processImmediate node:internal/timers:438:28
"""


def test_parse_perf_script_marks_memtuis_frames_per_sample():
    samples = watch_overhead.parse_perf_script(PERF_SCRIPT)
    assert [(s.tid, s.memtui) for s in samples] == [
        (100, None), (100, "GC observer"), (100, "probe JavaScript"),
        (101, "inspector"), (100, None)]
    assert samples[0].time == pytest.approx(10.0001)


def test_attributed_share_is_memtuis_share_of_the_main_thread_by_time_blocks():
    samples = [watch_overhead.StackSample(i / 1000, 7, "inspector" if i % 50 == 0 else None)
               for i in range(10_000)]
    samples += [watch_overhead.StackSample(i / 1000, 8, "inspector") for i in range(500)]
    share, main_count = watch_overhead.attributed_share(samples, 7)
    assert main_count == 10_000
    assert share.estimate == pytest.approx(0.02, abs=1e-4)
    assert share.low < 0.02 < share.high or share.low == share.high == pytest.approx(0.02)


@pytest.mark.parametrize(("throughput", "attributed", "expected"), [
    (["INCONCLUSIVE", "INCONCLUSIVE"], ["PASS"], "PASS"),
    (["FAIL", "INCONCLUSIVE"], ["PASS"], "FAIL"),
    (["INCONCLUSIVE", "PASS"], ["INCONCLUSIVE"], "INCONCLUSIVE"),
    (["PASS", "PASS"], [], "PASS"),
    (["PASS", "INCONCLUSIVE"], [], "INCONCLUSIVE"),
    (["PASS", "PASS"], ["FAIL"], "FAIL"),
])
def test_overall_verdict_rests_on_the_attribution_unless_a_measure_fails(
        throughput, attributed, expected):
    assert watch_overhead.overall_verdict(throughput, attributed) == expected


def test_snapshot_workload_reaches_its_size_and_measures_its_pauses(system_node):
    process = snapshot_memory.start_workload(system_node, "objects", 8, "--inspect-port=0")
    try:
        ready = snapshot_memory.json_line(process, "ready", 1)
        assert ready["stats"]["memory"]["heapUsed"] >= 8 << 20
        assert ready["stats"]["spaces"]["old_space"]["used"] > 0
        assert snapshot_memory.ask(process, "mark", "marked", 10) == {"marked": True}
        report = snapshot_memory.ask(process, "report", "max_gap_ms", 10)
        assert 0 <= report["max_gap_ms"] < 5000
        assert snapshot_memory.reset_peak(process.pid)
    finally:
        process.kill()


def test_expected_peak_scales_the_largest_size_measured_of_the_shape():
    def measured(shape, size_mib, rss_before, peak):
        return snapshot_memory.Measurement(
            major="20", node_version="v20", shape=shape, size_mib=size_mib, client="memtui",
            heap_used=size_mib << 20, spaces={}, external=0, array_buffers=0, native_contexts=1,
            rss_before=rss_before, peak_hwm=peak, peak_sampled=0, rss_after=0, pause_ms=0,
            main_cpu_s=0, capture_s=0, nodes=0, edges=0, file_size=0, estimate=0,
            load_before=0, load_after=0)

    done = [measured("objects", 20, 100, 300), measured("objects", 50, 200, 800),
            measured("arrays", 100, 100, 100)]
    assert snapshot_memory.expected_peak(done, "objects", 100) == int(400 + 600 * 2 * 1.15)
    assert snapshot_memory.expected_peak(done, "maps", 100) is None


def test_the_attach_and_verdict_lines_on_the_recorders_stderr_are_no_unclean_detach():
    attached = "memtui: attached to pid 7 (node v22.1.0) through its inspector at 127.0.0.1:9\n"
    failed = "memtui: error: the probe failed in pid 7: boom\n"
    verdict = "memtui: verdict: no leak: heap after GC 8.0 MiB, +0 B/min (9 major GCs over 30s)\n"
    assert watch_overhead._unexpected_stderr(attached + failed) == failed
    assert watch_overhead._unexpected_stderr(attached + verdict) == ""


def test_v8s_own_finalization_registry_check_after_each_gc_is_not_memtuis():
    post = "7f v8::internal::Heap::PostFinalizationRegistryCleanupTaskIfNeeded"
    task = "7f v8::internal::FinalizationRegistryCleanupTask::RunInternal"
    assert watch_overhead.memtui_kind([post]) == (None, "")
    assert watch_overhead.memtui_kind([task])[0] == "weak-ref cleanup"
