"""When automatic captures start, and what becomes of them: on a stand-in monitor (the
condition, the cooldown, the most a run takes, a capture under way, the memory check), then
through `memtui record` on real leaking Node programs."""

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from memtui.auto_capture import AutoCapture
from memtui.capture_conditions import parse_condition
from memtui.errors import TargetGone, UsageError
from memtui.events import SnapshotRisk
from memtui.verdict import leak_verdict
from tests.cli_helpers import jsonl, run_memtui, start_memtui
from tests.nodeproc import NodeProcess
from tests.test_oom import memory_cgroup
from tests.test_verdict import series
from tests.ui.fake_monitor import INFO, MIB, FakeMonitor, make_sample


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def monitor_at(heap_used: int) -> FakeMonitor:
    monitor = FakeMonitor()
    monitor.info = INFO
    monitor.history.append(replace(make_sample(0), heap_used=heap_used))
    return monitor


def auto(monitor: FakeMonitor, *conditions: str, cooldown: float = 10.0, most: int = 3,
         clock: Clock | None = None) -> AutoCapture:
    return AutoCapture(monitor, [parse_condition(c) for c in conditions], cooldown, most,
                       clock or Clock())


def test_nothing_is_due_until_a_condition_holds():
    monitor = monitor_at(40 * MIB)
    captures = auto(monitor, "heap_used>50MiB", "rss>1GiB")
    assert captures.due() is None
    monitor.history.append(replace(make_sample(1), heap_used=60 * MIB))
    trigger = captures.due()
    assert trigger is not None
    assert (trigger.condition, trigger.evidence, trigger.pid) == (
        "heap_used>50MiB", "heap used 60.0 MiB > 50.0 MiB", INFO.pid)
    assert trigger.at == monitor.history.latest.t


def test_a_capture_under_way_and_the_cooldown_delay_the_next_and_at_most_k_are_saved():
    async def scenario():
        monitor, clock = monitor_at(60 * MIB), Clock()
        captures = auto(monitor, "heap_used>50MiB", cooldown=10, most=2, clock=clock)
        monitor.snapshot_release = asyncio.Event()
        trigger = captures.due()
        capturing = asyncio.create_task(captures.capture(trigger))
        await asyncio.sleep(0)
        assert captures.due() is None  # under way
        clock.now = 100
        monitor.snapshot_release.set()
        result = await capturing
        assert (result.outcome, result.saved) == ("saved", monitor.snapshots[0])
        clock.now = 109.9
        assert captures.due() is None  # cooling down from the end of the capture
        clock.now = 110
        assert (await captures.capture(captures.due())).outcome == "saved"
        clock.now = 1000
        assert captures.due() is None  # two saved: the most this run takes
        assert monitor.snapshot_calls == 2

    asyncio.run(scenario())


def test_a_risky_capture_is_refused_without_asking_and_counts_for_the_cooldown_only():
    async def scenario():
        monitor, clock = monitor_at(60 * MIB), Clock()
        monitor.risk = SnapshotRisk(400 * MIB, 100 * MIB, True,
                                    "the snapshot may need up to 400 MiB more: may run out")
        captures = auto(monitor, "heap_used>50MiB", cooldown=5, most=1, clock=clock)
        result = await captures.capture(captures.due())
        assert (result.outcome, result.saved, result.reason) == (
            "refused", None, "the snapshot may need up to 400 MiB more: may run out")
        assert result.describe() == ("automatic snapshot (heap_used>50MiB) refused: the "
                                     "snapshot may need up to 400 MiB more: may run out")
        assert result.record()["outcome"] == "refused"
        assert result.record()["path"] is None
        assert monitor.snapshot_calls == 0
        assert captures.due() is None
        clock.now = 5
        monitor.risk = replace(monitor.risk, risky=False)
        assert (await captures.capture(captures.due())).outcome == "saved"

    asyncio.run(scenario())


def test_a_capture_that_fails_says_why():
    async def scenario():
        monitor = monitor_at(60 * MIB)
        monitor.snapshot_error = TargetGone("pid 4242 exited with code 1 during the snapshot")
        captures = auto(monitor, "heap_used>50MiB")
        result = await captures.capture(captures.due())
        assert (result.outcome, result.reason) == (
            "failed", "pid 4242 exited with code 1 during the snapshot")
        assert not captures.capturing

    asyncio.run(scenario())


def test_leak_judges_the_verdict_window_of_the_history():
    monitor = FakeMonitor()
    monitor.info = INFO
    flat = series([50 * MIB] * 1200, pid=INFO.pid)  # an hour
    captures = auto(monitor, "leak")
    for sample in flat:
        monitor.history.append(sample)
    assert captures.due() is None
    leak = series([50 * MIB + i * MIB for i in range(1, 101)], pid=INFO.pid)  # 5 minutes
    for sample in leak:
        monitor.history.append(replace(sample, t=sample.t + 3600, heap_after_gc=tuple(
            replace(point, t=point.t + 3600) for point in sample.heap_after_gc)))
    trigger = captures.due()
    assert trigger is not None and trigger.condition == "leak"
    assert trigger.evidence.startswith("heap leak: heap after GC +")
    # Over the whole hour, the last five minutes would not stand out.
    assert not leak_verdict(list(monitor.history)).is_leak


def test_a_share_of_the_rss_limit_needs_a_container_limit():
    monitor = monitor_at(60 * MIB)
    captures = auto(monitor, "heap_used>90%limit", "rss>90%limit")
    captures.check_limits(INFO)
    with pytest.raises(UsageError, match="'rss>90%limit': pid 4242 has no container memory"):
        captures.check_limits(replace(INFO, container_limit=None))


@contextlib.contextmanager
def leaking(target: NodeProcess) -> Iterator[None]:
    """Make leak_class.js leak steadily, about 1 MiB/s (500 objects a line, 20 lines a
    second)."""
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.05):
            target.send("x\n")

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield
    finally:
        stop.set()
        feeder.join()


def record(target: NodeProcess, *options: str, leak: bool = False
           ) -> tuple[list[dict], list[dict], str]:
    """`memtui record` on a target (with `leak`, one that starts leaking after the first
    sample): its samples, its automatic-capture lines and its stderr."""
    memtui = start_memtui("record", str(target.pid), "--interval", "0.25", *options)
    first = memtui.stdout.readline()
    with leaking(target) if leak else contextlib.nullcontext():
        rest = memtui.stdout.read()  # not communicate(): it would miss what readline buffered
        err = memtui.stderr.read()
    assert memtui.wait(timeout=10) == 0, err
    lines = jsonl(first + rest)
    return ([line for line in lines if "event" not in line],
            [line for line in lines if "event" in line], err)


THRESHOLD = 6 * MIB


def test_record_captures_once_a_leak_crosses_the_threshold_then_respects_cooldown_and_most(
        spawn, tmp_path):
    once_dir, twice_dir = tmp_path / "once", tmp_path / "twice"
    once_dir.mkdir()
    twice_dir.mkdir()
    leaky, idle = spawn("leak_class.js", "--inspect=127.0.0.1:0"), spawn("idle.js")
    with ThreadPoolExecutor(2) as pool:
        once = pool.submit(record, leaky, "--duration", "6", "--snapshot-on",
                           "heap_used>6MiB", "--snapshot-dir", str(once_dir), leak=True)
        twice = pool.submit(record, idle, "--duration", "6", "--snapshot-on",
                            "heap_total>1MiB", "--snapshot-cooldown", "0.5",
                            "--snapshot-max", "2", "--snapshot-dir", str(twice_dir))
        samples, [capture], err = once.result()
        idle_samples, captures, idle_err = twice.result()

    assert samples[0]["heap_used"] < THRESHOLD  # it fired on the crossing, not at once
    crossing = next(s for s in samples if s["heap_used"] > THRESHOLD)
    assert capture["t"] == crossing["t"]
    assert capture["evidence"].startswith("heap used ")
    assert capture["evidence"].endswith(" > 6.0 MiB")
    assert (capture["event"], capture["pid"], capture["condition"], capture["outcome"],
            capture["reason"]) == ("auto_snapshot", leaky.pid, "heap_used>6MiB", "saved", None)
    path = Path(capture["path"])
    assert path.parent == once_dir
    assert path.name.startswith(f"memtui-{leaky.pid}-")
    assert sorted(p.name for p in once_dir.iterdir()) == [path.name,
                                                          path.name + ".memtui.json"]
    assert path.stat().st_size == capture["size"] and path.stat().st_mode & 0o777 == 0o600
    assert capture["rss_before"] <= capture["rss_peak"]
    capture_end = capture["t"] + capture["duration_s"]
    # Sampling went on, the leak held the condition, and the cooldown kept a second away.
    assert any(s["t"] > capture_end and s["heap_used"] > THRESHOLD for s in samples)
    assert f"memtui: heap_used>6MiB holds ({capture['evidence']}): capturing a heap " \
           "snapshot\n" in err
    assert f"memtui: automatic snapshot (heap_used>6MiB) saved: {path} (file " in err

    assert [c["outcome"] for c in captures] == ["saved", "saved"]
    first, second = captures
    assert second["t"] >= first["t"] + first["duration_s"] + 0.5 - 0.1
    assert len(list(twice_dir.glob("*.heapsnapshot"))) == 2
    assert idle_samples[-1]["t"] > second["t"] + second["duration_s"] + 0.5  # no third
    assert idle_err.count("saved: ") == 2
    assert leaky.alive() and idle.alive()


def test_a_capture_that_would_not_fit_under_the_container_limit_is_refused(spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    rss = psutil.Process(target.pid).memory_info().rss
    limit = rss + (40 << 20)  # a snapshot needs at least 64 MiB more (analysis.SNAPSHOT_FLOOR)
    with memory_cgroup(limit) as cgroup:
        (cgroup / "cgroup.procs").write_text(str(target.pid))
        samples, captures, err = record(target, "--duration", "2", "--snapshot-on",
                                        "rss>1%limit", "--snapshot-dir", str(tmp_path))
        assert target.alive()
    assert len(captures) == 1, (captures, err)
    [capture] = captures
    assert (capture["outcome"], capture["path"], capture["size"]) == ("refused", None, None)
    assert capture["evidence"].endswith(" (1% of the limit)")
    reason = capture["reason"]
    assert reason.startswith("the snapshot may need up to ")
    assert f" left under the container limit of {limit / 2**20:,.0f} MiB: may run out of " \
           "memory" in reason
    assert f"memtui: automatic snapshot (rss>1%limit) refused: {reason}\n" in err
    assert list(tmp_path.iterdir()) == []
    assert len(samples) >= 5


def test_a_share_of_the_rss_limit_without_a_container_limit_is_a_usage_error(spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    result = run_memtui("record", str(target.pid), "--snapshot-on", "rss>90%limit",
                        "--snapshot-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"memtui: error: --snapshot-on 'rss>90%limit': pid {target.pid} has no container "
        "memory limit (give a size, such as rss>1.5GiB)")
    assert result.stdout == ""
    assert target.alive()


def test_a_bad_condition_is_a_one_line_usage_error_before_attaching():
    result = run_memtui("record", "1", "--snapshot-on", "heap_used>1.5TB")
    assert result.returncode == 2
    assert result.stderr.startswith("memtui: error: argument --snapshot-on: not a size or "
                                    "share of the limit: '1.5TB' in 'heap_used>1.5TB' "
                                    "(accepted: ")
    assert result.stderr.count("\n") == 1


def test_a_snapshot_dir_that_cannot_take_snapshots_is_refused_before_attaching(tmp_path):
    missing = tmp_path / "missing"
    for command in (("record", "1"), ("1",), ("demo",)):
        result = run_memtui(*command, "--snapshot-on", "leak", "--snapshot-dir", str(missing))
        assert result.returncode == 2, command
        assert result.stderr == (f"memtui: error: cannot write a snapshot in {missing}: it "
                                 "does not exist (choose another directory with "
                                 "--snapshot-dir)\n")
