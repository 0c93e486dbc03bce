"""Real leaks for tests: a leaking Node program grown between two snapshots of one session."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from memtui.events import SnapshotSaved
from memtui.monitor import Monitor
from tests.nodeproc import start_node

LEAKS = {
    "orders": "diff_orders.js",
    "class": "leak_class.js",
    "listener": "leak_listener.js",
    "closure": "leak_closure.js",
    "cache": "leak_cache.js",
    "timers": "leak_timers.js",
}


@dataclass(frozen=True)
class LeakSnapshots:
    """Two snapshots of one leaking program, taken in one inspector session."""

    before: SnapshotSaved
    after: SnapshotSaved
    script: Path
    cwd: Path


async def _capture(node: str, script: str, directory: Path) -> LeakSnapshots:
    target = start_node(node, script, "--inspect=127.0.0.1:0")
    monitor = Monitor(str(target.pid), interval=5, snapshot_dir=directory)
    try:
        await monitor.start()
        before = await monitor.take_snapshot(path=directory / "first.heapsnapshot")
        target.send("more\n")
        target.wait_for_line("grown")
        after = await monitor.take_snapshot(path=directory / "second.heapsnapshot")
        await monitor.close()
    finally:
        target.kill()
    path = Path(target.proc.args[-1])
    return LeakSnapshots(before, after, path, Path.cwd())


def capture_leak(node: str, kind: str, directory: Path) -> LeakSnapshots:
    """Start the leak program of `kind`, snapshot it, grow the leak once, snapshot it again
    (on a thread of its own, so that async tests can call it too)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _capture(node, LEAKS[kind], directory)).result()
