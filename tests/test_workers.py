"""Worker threads: watched through NodeWorker, sampled, snapshotted and left clean."""

import asyncio
import gc
import json
import re
import signal
import time
from pathlib import Path

import pytest

from memtui import cli
from memtui.errors import MemtuiError, TargetGone
from memtui.events import ConnectionLost, Reconnected, WorkerAppeared, WorkerLeft, WorkersSampled
from memtui.heap import report
from memtui.heap.capture_record import CaptureRecord, write_capture_record
from memtui.heap.diff import thread_mismatch
from memtui.inspector import ProtocolError
from memtui.monitor import METHOD_NOT_FOUND, Monitor
from memtui.node_worker import WorkerInfo
from memtui.worker_threads import WorkerThreads
from tests.cli_helpers import run_memtui, start_memtui, wait_until_inspector_closed

MiB = 2**20


def start_worker(target, kind: str) -> str:
    """Start a worker of that kind in tests/node/workers.js; its threadId."""
    target.send(f"{kind}\n")
    return target.wait_for_line(rf"started {kind} (\d+)").group(1)


def probe_absent(target, worker: str, deadline_s: float) -> bool:
    """Whether the worker reports no probe or keeper of memtui's in it, asking until then."""
    end = time.monotonic() + deadline_s
    asked = 0
    while time.monotonic() < end:
        asked += 1
        target.send(f"probe {worker}\n")
        answer = target.wait_for_line(rf"probe {worker} (present|absent)", 5)
        if answer.group(1) == "absent":
            return True
        target.lines.remove(answer.group(0))
        time.sleep(0.2)
    return False


async def sampled(monitor: Monitor, rounds: int, each=None) -> list[WorkersSampled]:
    """The next `rounds` WorkersSampled events in which every worker had been sampled
    (calling `each(event)` on every event)."""
    seen: list[WorkersSampled] = []
    async for event in monitor.events():
        if each is not None:
            await each(event)
        if isinstance(event, WorkersSampled) and all(v.latest for v in event.workers):
            seen.append(event)
            if len(seen) == rounds:
                return seen
    raise AssertionError("the monitor stopped")


def heap_of(event: WorkersSampled, worker: str) -> int:
    view = next(v for v in event.workers if v.info.worker_id == worker)
    assert view.latest is not None, view
    return view.latest.heap_used


async def test_a_leaking_worker_grows_alone_and_its_diff_names_the_class(node, spawn, tmp_path):
    """The acceptance scenario, per Node major: NodeWorker and HeapProfiler (snapshot and
    collectGarbage) are served in a worker's session."""
    target = spawn("workers.js", "--inspect=127.0.0.1:0", node=node)
    leaker = start_worker(target, "leak")
    monitor = Monitor(str(target.pid), interval=0.2, workers=True, snapshot_dir=tmp_path)
    await monitor.start()
    try:
        assert monitor.workers_problem is None
        main_before = (await monitor.collect_garbage()).heap_used_after
        worker_before = (await monitor.collect_garbage(leaker)).heap_used_after
        first = (await sampled(monitor, 1))[0]
        before = await monitor.take_snapshot(worker=leaker)
        grown = 0

        async def grow(event):
            nonlocal grown
            if isinstance(event, WorkersSampled) and grown < 6:
                grown += 1
                target.send(f"grow {leaker}\n")

        last = (await sampled(monitor, 8, grow))[-1]
        target.wait_for_line(rf"grown {leaker} 60000")
        after = await monitor.take_snapshot(worker=leaker)
        main_after = (await monitor.collect_garbage()).heap_used_after
        worker_after = (await monitor.collect_garbage(leaker)).heap_used_after
        with pytest.raises(ProtocolError) as unserved:
            await monitor.worker(leaker).channel.send("HeapProfiler.noSuchMethod")
        assert unserved.value.code == METHOD_NOT_FOUND
    finally:
        await monitor.close()
    # 60,000 WorkerLeak objects: about 5.6 MiB after a GC. The main thread's heap after a GC
    # moved by up to 0.9 MiB meanwhile in runs on a loaded machine.
    assert heap_of(last, leaker) - heap_of(first, leaker) > 4 * MiB
    assert worker_after - worker_before > 4 * MiB
    assert abs(main_after - main_before) < MiB, (main_before, main_after)
    assert before.worker == after.worker == leaker
    assert re.fullmatch(rf"memtui-{target.pid}-worker{leaker}-\d{{8}}T\d{{6}}\.heapsnapshot",
                        after.path.name)
    diff = report.compare_files(before.path, after.path)
    assert diff.ids_comparable, diff.reason
    rows = report.diff_json(before.path, after.path, diff, top=3)["rows"]
    assert rows[0]["class"] == "WorkerLeak" and rows[0]["new"] == 60000, rows
    assert probe_absent(target, leaker, 2)


async def test_workers_come_and_go_and_one_leaving_mid_snapshot_breaks_nothing(
        spawn, tmp_path, capsys):
    target = spawn("workers.js", "--inspect=127.0.0.1:0")
    busy = start_worker(target, "busy")
    monitor = Monitor(str(target.pid), interval=0.2, workers=True, snapshot_dir=tmp_path)
    await monitor.start()
    appeared: list[str] = []
    left: list[str] = []

    async def note(event):
        if isinstance(event, WorkerAppeared):
            appeared.append(event.worker.worker_id)
        elif isinstance(event, WorkerLeft):
            left.append(event.worker.worker_id)

    try:
        rounds = await sampled(monitor, 2, note)
        assert [v.state for v in rounds[-1].workers] == ["live"], rounds[-1]
        big = start_worker(target, "big")
        idle = start_worker(target, "idle")
        await sampled(monitor, 2, note)
        assert appeared == [busy, big, idle]

        def kill_when_building(progress) -> None:
            if progress.done and "kill" not in sent:
                sent.add("kill")
                target.send(f"kill {big}\n")

        sent: set[str] = set()
        # V8 builds a snapshot in one go on the worker's thread, which terminate() cannot cut
        # short: the snapshot is whole, or (the worker left first) none is written.
        try:
            saved = await monitor.take_snapshot(kill_when_building, worker=big)
            assert json.loads(saved.path.read_text())["snapshot"]["node_count"] > 50_000
        except TargetGone as gone:
            assert str(gone) == (f"worker {big} of pid {target.pid} exited during the "
                                 "snapshot; no snapshot was written")
            assert list(tmp_path.iterdir()) == []
        assert not list(tmp_path.glob("*.part"))
        target.wait_for_line(rf"exited {big}")
        main = await monitor.take_snapshot()
        target.send(f"exit {busy}\n")
        target.wait_for_line(rf"exited {busy}")
        rounds = await sampled(monitor, 3, note)
        assert sorted(left) == sorted([big, busy])
        assert [v.info.worker_id for v in rounds[-1].workers] == [idle]
        with pytest.raises(MemtuiError, match=rf"no worker thread {busy} \(its worker "
                                              rf"threads: {idle}\)"):
            await monitor.take_snapshot(worker=busy)
        of_idle = await monitor.take_snapshot(worker=idle)
    finally:
        await monitor.close()
    assert target.alive()
    assert probe_absent(target, idle, 2)
    assert thread_mismatch(main.path, of_idle.path) == (
        f"BEFORE is the heap of the main thread, AFTER of worker {idle} of pid {target.pid}: "
        "every thread has its own heap")
    assert cli.main(["diff", str(main.path), str(of_idle.path), "--top", "1"]) == 0
    out, err = capsys.readouterr()
    assert "the diff compares two unrelated heaps" in err
    assert out.startswith(f"ids not comparable: taken from different threads of pid "
                          f"{target.pid} (the main thread and worker {idle})")


async def test_workers_come_back_after_a_reconnection(spawn):
    """The connection drops (the target closes its inspector, then opens it again): the
    workers of the old connection leave, come back on the new one, and are sampled."""
    target = spawn("workers.js", "--inspect=127.0.0.1:0")
    idle = start_worker(target, "idle")
    monitor = Monitor(str(target.pid), interval=0.25, workers=True)
    await monitor.start()
    kinds: list[type] = []

    async def cycle_once(event) -> None:
        kinds.append(type(event))
        if isinstance(event, WorkersSampled) and "closed" not in target.lines:
            target.send("cycle\n")

    try:
        await sampled(monitor, 1)
        seen: list[WorkersSampled] = []
        async with asyncio.timeout(60):
            async for event in monitor.events():
                await cycle_once(event)
                if (isinstance(event, WorkersSampled) and Reconnected in kinds
                        and [v.info.worker_id for v in event.workers if v.latest] == [idle]):
                    seen.append(event)
                    break
        assert "reopened" in target.lines
        assert kinds.index(ConnectionLost) < kinds.index(Reconnected)
        assert WorkerLeft in kinds[kinds.index(ConnectionLost):]
        assert WorkerAppeared in kinds[kinds.index(Reconnected):]
        assert seen and heap_of(seen[0], idle) > 0
    finally:
        await monitor.close()
    assert probe_absent(target, idle, 10)


async def test_a_worker_blocked_in_native_code_holds_up_nothing(spawn):
    """A worker waiting 3 s for a child process cannot answer: it is unresponsive while the
    main thread is sampled on time, detaching does not wait for it, and its probe is gone
    once it runs JavaScript again."""
    target = spawn("workers.js", "--inspect=127.0.0.1:0")
    worker = start_worker(target, "idle")
    monitor = Monitor(str(target.pid), interval=0.2, workers=True)
    await monitor.start()
    try:
        await sampled(monitor, 1)
        target.send(f"block {worker}\n")
        states = []
        started = time.monotonic()
        async for event in monitor.events():
            if isinstance(event, WorkersSampled):
                states.append(event.workers[0].state)
                if states[-3:] == ["unresponsive"] * 3:
                    break
        assert time.monotonic() - started < 2.5
        leaving = time.monotonic()
    finally:
        await monitor.close()
    assert time.monotonic() - leaving < 2.5
    target.wait_for_line(rf"unblocked {worker}")
    assert probe_absent(target, worker, 5)


def test_a_killed_memtui_leaves_no_probe_in_its_workers(spawn, tmp_path):
    """memtui opened the inspector (SIGUSR1) and recorded a busy worker when it was killed:
    the worker's probe goes once no connection is left, and the inspector closes."""
    target = spawn("workers.js")
    busy = start_worker(target, "busy")
    idle = start_worker(target, "idle")
    unknown = run_memtui("gc", str(target.pid), "--worker", "99")
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines()[-1] == (
        f"memtui: error: pid {target.pid} has no worker thread 99 (its worker threads: "
        f"{busy}, {idle})")
    memtui = start_memtui("record", str(target.pid), "--worker", busy, "--interval", "0.2")
    try:
        line = json.loads(memtui.stdout.readline())
    finally:
        memtui.send_signal(signal.SIGKILL)
        memtui.wait(10)
    assert line["worker"] == busy and line["pid"] == target.pid
    assert probe_absent(target, idle, 10)
    assert wait_until_inspector_closed(target.pid)
    target.send(f"exit {busy}\n")
    target.wait_for_line(rf"exited {busy}")
    assert probe_absent(target, idle, 1)


def test_a_workers_id_is_its_thread_id_from_its_title():
    info = WorkerInfo.of({"sessionId": "1", "workerInfo": {
        "workerId": "1", "type": "worker", "title": "[worker 2] resizer", "url": ""}})
    assert (info.worker_id, info.name) == ("2", "resizer")
    untitled = WorkerInfo.of({"sessionId": "3", "workerInfo": {"workerId": "4", "title": "x"}})
    assert (untitled.worker_id, untitled.name) == ("4", "x")


def test_snapshots_of_one_thread_are_no_mismatch(tmp_path: Path):
    files = [tmp_path / f"{n}.heapsnapshot" for n in "ab"]
    for path in files:
        write_capture_record(path, CaptureRecord(pid=1, session="s", taken_at=None,
                                                 node_version=None, thread="3"))
    assert thread_mismatch(*files) is None



class TerminatedChannel:
    """A worker's channel whose worker is terminated under memtui: an evaluate fails once
    `terminated` is set."""

    info = WorkerInfo("session-1", "1", "[worker 1] worker", "file:///worker.js")
    is_gone = False

    def __init__(self) -> None:
        self.evaluating = asyncio.Event()
        self.terminated = asyncio.Event()

    async def evaluate(self, expression: str, **options) -> dict:
        self.evaluating.set()
        await self.terminated.wait()
        raise ProtocolError("Runtime.evaluate", {"message": "Execution was terminated"})


async def test_the_read_of_a_worker_that_left_is_not_reported_at_exit():
    """A worker that leaves while its read is under way (terminated as memtui samples it):
    the read's failure is not left for asyncio to print, traceback and all, as "Task
    exception was never retrieved" (seen on the terminal after q)."""
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    threads = WorkerThreads(pid=1, interval=1.0)
    channel = TerminatedChannel()
    threads._attached(channel)
    sampling = asyncio.ensure_future(threads.sample(5.0))
    await channel.evaluating.wait()
    threads._left(channel)
    channel.terminated.set()
    await sampling
    del sampling, threads, channel
    gc.collect()
    assert not reported, reported
