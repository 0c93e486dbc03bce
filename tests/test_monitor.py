"""The Monitor engine's event stream against real Node processes."""

import asyncio

from memtui.events import (
    ConnectionLost,
    InspectorState,
    Reconnected,
    SampleTaken,
    TargetExited,
)
from memtui.monitor import Monitor
from tests.cli_helpers import wait_until_inspector_closed


async def collect_until(monitor: Monitor, stop, limit: float = 30.0) -> list:
    events = []

    async def run():
        async for event in monitor.events():
            events.append(event)
            if stop(event, events):
                return

    await asyncio.wait_for(run(), limit)
    return events


async def kinds_until_sampling_again(monitor: Monitor, disturb) -> list[type]:
    """After a first sample, `disturb()` the target; the kinds of the events up to the first
    sample after a reconnection."""
    await collect_until(monitor, lambda e, _: isinstance(e, SampleTaken))
    disturb()
    events = await collect_until(
        monitor, lambda e, seen: isinstance(e, SampleTaken)
        and any(isinstance(x, Reconnected) for x in seen))
    return [type(e) for e in events]


async def test_a_dropped_connection_is_reported_and_reconnected(spawn):
    target = spawn("reopen_inspector.js")
    monitor = Monitor(str(target.pid), interval=0.2)
    info = await monitor.start()
    assert info.pid == target.pid and info.inspector is InspectorState.ALREADY_OPEN
    try:
        kinds = await kinds_until_sampling_again(monitor, lambda: target.send("cycle\n"))
        assert ConnectionLost in kinds and Reconnected in kinds, kinds
        assert kinds.index(ConnectionLost) < kinds.index(Reconnected)
        assert "reopened" in target.lines
    finally:
        await monitor.close()


async def test_an_inspector_closed_under_memtui_is_opened_again_and_closed_at_exit(spawn):
    target = spawn("close_inspector.js", "--inspect-port=0")
    monitor = Monitor(str(target.pid), interval=0.2)
    info = await monitor.start()
    assert info.inspector is InspectorState.OPENED_BY_MEMTUI
    try:
        kinds = await kinds_until_sampling_again(monitor, lambda: target.send("close\n"))
        assert ConnectionLost in kinds
        assert "closed" in target.lines
    finally:
        await monitor.close()
    assert target.alive()
    assert wait_until_inspector_closed(target.pid)


async def test_the_first_sample_is_the_attachs_and_the_next_an_interval_later(spawn):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    monitor = Monitor(str(target.pid), interval=0.5)
    await monitor.start()
    try:
        attached = monitor.history.latest
        events = await collect_until(
            monitor, lambda _, seen: sum(isinstance(e, SampleTaken) for e in seen) == 2)
        first, second = (e.sample for e in events if isinstance(e, SampleTaken))
        assert first is attached
        assert second.t - first.t >= 0.45
        assert len(monitor.history) == 2
    finally:
        await monitor.close()


async def test_an_exit_ends_the_stream_and_keeps_the_history(spawn):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    monitor = Monitor(str(target.pid), interval=0.2)
    await monitor.start()
    try:
        await collect_until(monitor, lambda _, seen: len(seen) == 3)
        target.kill()
        events = await collect_until(monitor, lambda e, _: isinstance(e, TargetExited))
        assert isinstance(events[-1], TargetExited)
        assert len(monitor.history) >= 3
    finally:
        await monitor.close()


async def test_info_describes_the_target(node, spawn):
    target = spawn("idle.js", "--inspect-port=0", node=node)
    monitor = Monitor(str(target.pid))
    try:
        info = await monitor.start()
        assert info.inspector is InspectorState.OPENED_BY_MEMTUI
        assert info.node_version.startswith("v")
        assert "idle.js" in info.command
        assert info.heap_limit > 100 << 20
    finally:
        await monitor.close()


async def test_an_attach_cancelled_midway_is_undone_by_close(spawn):
    """A view that quits while it attaches cancels `start`: `close` waits for that attach
    and closes the inspector its SIGUSR1 opened."""
    target = spawn("idle.js", "--inspect-port=0")
    monitor = Monitor(str(target.pid), interval=0.2)
    starting = asyncio.ensure_future(monitor.start())
    await asyncio.sleep(0.05)
    starting.cancel()
    assert monitor.attached
    await monitor.close()
    assert any("Debugger listening" in line for line in target.lines)
    assert wait_until_inspector_closed(target.pid)
    assert not monitor.attached



async def test_a_target_that_ends_itself_is_not_held_up(spawn, node):
    """Node waits, at its exit, for every inspector client to leave ("Waiting for the
    debugger to disconnect..."): memtui lets go when Node says it waits."""
    target = spawn("exit_on_input.js", "--inspect-port=0", node=node)
    monitor = Monitor(str(target.pid), interval=0.2)
    await monitor.start()
    try:
        await collect_until(monitor, lambda e, _: isinstance(e, SampleTaken))
        target.send("exit\n")
        events = await collect_until(monitor, lambda e, _: isinstance(e, TargetExited), 10)
        assert events[-1].reason.code in (3, None)
        assert target.proc.wait(5) == 3
    finally:
        await monitor.close()


async def test_close_waits_for_a_capture_that_has_not_yet_sent_its_request(spawn, tmp_path):
    """Ctrl+C in the live view right as `s` starts a capture: the snapshot is saved, and the
    connection is dropped only after it (never while the target streams it)."""
    target = spawn("big_heap.js", "--inspect-port=0", args=("300000",))
    monitor = Monitor(str(target.pid), snapshot_dir=tmp_path)
    await monitor.start()
    capture = asyncio.create_task(monitor.take_snapshot())
    await asyncio.sleep(0)  # the capture begins: it asks for HeapProfiler.enable
    await monitor.streams_ended()
    await monitor.close()
    saved = await capture
    assert saved.path.exists() and saved.size > 0
    assert target.alive()
    assert wait_until_inspector_closed(target.pid)
