"""`memtui record` against real Node processes: one sample per interval, right contents."""

import csv
import io
import itertools
import os

from tests.cli_helpers import jsonl, run_memtui, start_memtui, wait_until_inspector_closed

KEYS = ["t", "pid", "rss", "heap_total", "heap_used", "external", "array_buffers", "heap_limit",
        "gc", "gc_pause_ms", "elu", "cpu_percent"]


def test_record_jsonl_follows_a_leak_with_monotonic_gc_counts(node, spawn):
    target = spawn("leaky.js", "--inspect=127.0.0.1:0", node=node)
    result = run_memtui("record", str(target.pid), "--interval", "0.5", "--duration", "5")
    assert result.returncode == 0, result.stderr
    samples = jsonl(result.stdout)
    assert 9 <= len(samples) <= 11
    assert list(samples[0]) == KEYS
    assert all(s["pid"] == target.pid for s in samples)
    assert samples[-1]["heap_used"] > samples[0]["heap_used"] + 5_000_000
    for before, after in itertools.pairwise(samples):
        assert 0.3 < after["t"] - before["t"] < 0.8
        for kind in ("minor", "major", "incremental", "weakcb"):
            assert after["gc"][kind] >= before["gc"][kind]
        assert after["gc_pause_ms"] >= before["gc_pause_ms"]
    assert samples[-1]["gc"]["minor"] > samples[0]["gc"]["minor"]
    assert all(isinstance(s["rss"], int) and s["rss"] > s["heap_used"] for s in samples)
    assert target.alive()


def test_record_csv_has_the_same_columns_with_gc_flattened(spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    out = tmp_path / "samples.csv"
    result = run_memtui("record", str(target.pid), "--interval", "0.5", "--duration", "1.2",
                        "--format", "csv", "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) >= 2
    assert list(rows[0]) == ["t", "pid", "rss", "heap_total", "heap_used", "external",
                             "array_buffers", "heap_limit", "gc_minor", "gc_major",
                             "gc_incremental", "gc_weakcb", "gc_pause_ms", "elu", "cpu_percent"]
    assert int(rows[0]["pid"]) == target.pid


def test_samples_keep_arriving_while_the_event_loop_is_busy(node, spawn):
    target = spawn("busy.js", "--inspect=127.0.0.1:0", node=node)
    result = run_memtui("record", str(target.pid), "--interval", "0.5", "--duration", "5")
    assert result.returncode == 0, result.stderr
    assert "blocking" in target.lines and "unblocked" in target.lines
    samples = jsonl(result.stdout)
    assert len(samples) >= 9
    assert max(b["t"] - a["t"] for a, b in itertools.pairwise(samples)) < 1.0
    assert any(s["elu"] > 0.9 for s in samples[1:])


def test_a_target_blocked_in_native_code_is_reported_unresponsive_not_crashed(spawn):
    target = spawn("blocking.js", "--inspect=127.0.0.1:0", args=("4",))
    memtui = start_memtui("record", str(target.pid), "--interval", "0.5", "--duration", "8")
    memtui.stdout.readline()
    target.send("go\n")
    target.wait_for_line("^blocking$")
    out, err = memtui.communicate(timeout=30)
    assert memtui.returncode == 0, err
    assert "is not answering" in err and "answers again" in err
    assert "unblocked" in target.lines
    assert len(jsonl(out)) >= 5
    assert target.alive()


def test_record_ends_with_a_note_when_the_target_exits(spawn):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    memtui = start_memtui("record", str(target.pid), "--interval", "0.2")
    memtui.stdout.readline()
    target.kill()
    _, err = memtui.communicate(timeout=20)
    assert memtui.returncode == 1
    assert f"memtui: error: pid {target.pid} exited" in err
    assert "Traceback" not in err


def test_a_full_disk_is_a_one_line_error(spawn):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    result = run_memtui("record", str(target.pid), "--duration", "2", "-o", "/dev/full")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "memtui: error: cannot write samples: No space " \
        "left on device (free disk space or choose another -o)"
    assert target.alive()


def test_a_reader_that_stops_early_ends_record_quietly_and_detached(spawn):
    target = spawn("idle.js", "--inspect-port=0")
    memtui = start_memtui("record", str(target.pid), "--interval", "0.1")
    assert memtui.stdout.readline().startswith("{")
    memtui.stdout.close()  # as `memtui record PID | head -1` does
    assert memtui.wait(timeout=20) == 0
    [attached] = memtui.stderr.read().splitlines()
    assert attached.startswith(f"memtui: attached to pid {target.pid} (node v")
    assert attached.endswith(f" through its inspector at 127.0.0.1:{target.inspector_port()} "
                             "(opened by memtui with SIGUSR1, closed again when memtui leaves)")
    assert target.alive()
    assert wait_until_inspector_closed(target.pid)


def test_the_first_sample_has_no_elu_or_cpu_figures_measured_over_no_time(spawn):
    target = spawn("idle.js", "--inspect-port=0")
    result = run_memtui("record", str(target.pid), "--interval", "0.5", "--duration", "2.2")
    assert result.returncode == 0, result.stderr
    samples = jsonl(result.stdout)
    assert samples[0]["elu"] is None and samples[0]["cpu_percent"] is None
    for sample in samples[1:]:
        assert 0 <= sample["elu"] <= 1
        assert 0 <= sample["cpu_percent"] <= 100 * (os.cpu_count() or 1) + 1
