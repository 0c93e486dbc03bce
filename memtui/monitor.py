"""The live monitor engine: one attached target, its samples, and the actions on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path

from memtui import analysis
from memtui.attach import InspectorTarget
from memtui.container import container_of
from memtui.errors import MemtuiError, TargetGone
from memtui.events import (
    ConnectionLost,
    GcResult,
    MonitorEvent,
    Reconnected,
    Responsive,
    SampleTaken,
    SnapshotProgress,
    SnapshotRisk,
    SnapshotSaved,
    TargetExited,
    TargetInfo,
    Unresponsive,
)
from memtui.heap.capture import CaptureOrigin, capture_snapshot, default_snapshot_path
from memtui.sampler import History
from memtui.session import Session

RECONNECT_EVERY = 1.0


class Monitor:
    """Attach to TARGET, sample it every `interval` seconds, force GCs and take snapshots.

    TARGET is a PID, HOST:PORT or ws:// URL, or an InspectorTarget already resolved (so a
    caller can report attach errors before it takes over the terminal).
    """

    def __init__(self, target: str | InspectorTarget, *, interval: float = 1.0,
                 keep_inspector: bool = False, snapshot_dir: Path | None = None,
                 history_size: int = 86_400,
                 exit_code: Callable[[], int | None] | None = None):
        self.target = target
        self.interval = interval
        self.keep_inspector = keep_inspector
        self.snapshot_dir = snapshot_dir or Path.cwd()
        self.history = History(history_size)
        self.info: TargetInfo | None = None
        self.snapshots: list[SnapshotSaved] = []
        self.unresponsive_after = max(2 * interval, 3.0)
        self._exit_code = exit_code or (lambda: None)
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise MemtuiError("not attached")
        return self._session

    async def start(self) -> TargetInfo:
        """Attach, connect and install the probe. Raises MemtuiError on failure."""
        self._session = await Session.open(self.target, keep_inspector=self.keep_inspector,
                                           interval=self.interval)
        session = self._session
        first = await session.read()
        self.history.append(first)
        local_pid, namespace = session.target.pid, session.target.netns
        self.info = TargetInfo(
            pid=session.pid, command=session.command, node_version=session.node_version,
            started_at=session.started_at, heap_limit=first.heap_limit,
            container_limit=None if local_pid is None
            else analysis.container_memory_limit(local_pid),
            inspector=session.inspector_state,
            address=session.target.address,
            container=None if local_pid is None else container_of(local_pid),
            netns_inode=None if namespace is None else namespace.inode,
        )
        return self.info

    async def events(self) -> AsyncGenerator[MonitorEvent, None]:
        """Sample until the target exits; yields samples and state changes."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                async for event in self._read_one():
                    yield event
            except TargetGone as exc:
                if not self.session.process_alive():
                    yield TargetExited(at=time.time(), exit_code=self._exit_code())
                    return
                yield ConnectionLost(at=time.time(), reason=str(exc))
                if not await self._reconnect():
                    yield TargetExited(at=time.time(), exit_code=self._exit_code())
                    return
                yield Reconnected(at=time.time())
                next_at = loop.time()
            next_at += self.interval
            delay = next_at - loop.time()
            if delay < 0:
                next_at, delay = loop.time(), 0
            await asyncio.sleep(delay)

    async def _read_one(self) -> AsyncIterator[MonitorEvent]:
        read = asyncio.ensure_future(self.session.read(timeout=None))
        try:
            done, _ = await asyncio.wait({read}, timeout=self.unresponsive_after)
            if not done:
                yield Unresponsive(since=time.time() - self.unresponsive_after)
                await read
                yield Responsive(at=time.time())
            sample = read.result()
        finally:
            read.cancel()
        self.history.append(sample)
        yield SampleTaken(sample)

    async def _reconnect(self) -> bool:
        """Connect again while the process lives; False when it exited meanwhile."""
        while self.session.process_alive():
            try:
                await self.session.reconnect()
                return True
            except MemtuiError:
                await asyncio.sleep(RECONNECT_EVERY)
        return False

    async def collect_garbage(self) -> GcResult:
        """Force a full GC (waits until the target's event loop is free)."""
        started = time.monotonic()
        before = await self.session.heap_used()
        await self.session.inspector.send("HeapProfiler.collectGarbage", timeout=None)
        after = await self.session.heap_used()
        return GcResult(before, after, time.monotonic() - started)

    async def snapshot_risk(self) -> SnapshotRisk:
        """How much memory a snapshot would add to the target, against what is free."""
        sample = self.history.latest or await self.session.read()
        pid = self.session.target.pid
        if pid is None:
            return analysis.snapshot_risk(sample, None)
        return analysis.snapshot_risk(sample, analysis.container_memory_limit(pid),
                                      analysis.container_memory_usage(pid))

    async def take_snapshot(self, on_progress: Callable[[SnapshotProgress], None] | None = None,
                            path: Path | None = None) -> SnapshotSaved:
        """Stream a heap snapshot to `path` (default: a timestamped file in snapshot_dir)."""
        session = self.session
        path = path or default_snapshot_path(session.pid, self.snapshot_dir)
        origin = CaptureOrigin(pid=session.pid, session=session.connection_id,
                               node_version=session.node_version)
        saved = await capture_snapshot(session.inspector, path, origin, on_progress)
        self.snapshots.append(saved)
        return saved

    async def close(self) -> None:
        """Remove the probe and close an inspector memtui opened (unless keep_inspector)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
