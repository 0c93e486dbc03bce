"""A Monitor stand-in for UI tests: deterministic samples, events fed by the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from memtui.errors import MemtuiError
from memtui.events import (
    GcResult,
    InspectorState,
    MonitorEvent,
    SampleTaken,
    SnapshotProgress,
    SnapshotRisk,
    SnapshotSaved,
    TargetInfo,
    WorkerView,
)
from memtui.sampler import GcCounters, HeapAfterGc, History, Sample
from memtui.session import DetachResult
from memtui.verdict import DEFAULT_RULE

T0 = 1_763_721_000.0
MIB = 1024 * 1024

INFO = TargetInfo(
    pid=4242,
    command="node --inspect=127.0.0.1:0 server.js --port 8080",
    node_version="v20.19.5",
    started_at=T0 - 3600 - 754,
    heap_limit=4144 * MIB,
    container_limit=512 * MIB,
    inspector=InspectorState.OPENED_BY_MEMTUI,
    address="127.0.0.1:40123",
    loopback_only=True,
)


def make_sample(i: int, interval: float = 1.0) -> Sample:
    """Sample number `i`: heap used rises 20 KiB a second with a sawtooth every 10 samples; a
    major GC every 20 samples leaves the heap at the sawtooth's foot, less 1 MiB."""
    heap_used = 40 * MIB + i * 20 * 1024 + (i % 10) * 300 * 1024
    baseline = ()
    if i % 20 == 19:
        baseline = (HeapAfterGc(T0 + i * interval - 0.2, 39 * MIB + i * 20 * 1024),)
    return Sample(
        t=T0 + i * interval,
        pid=INFO.pid,
        rss=120 * MIB + i * 30 * 1024,
        heap_total=60 * MIB + (i // 30) * MIB,
        heap_used=heap_used,
        external=3 * MIB + (i % 5) * 1024,
        array_buffers=256 * 1024,
        heap_limit=INFO.heap_limit,
        gc=GcCounters(minor=2 * i, major=i // 20, incremental=i // 10, weakcb=i // 20),
        gc_pause_ms=i * 15.0,
        elu=0.25,
        cpu_percent=12.5,
        eld_p99_ms=4.0,
        eld_max_ms=12.0 + (i % 7),
        heap_after_gc=baseline,
    )


class FakeMonitor:
    """Same interface as memtui.monitor.Monitor; the test feeds events and sets the outcomes."""

    def __init__(self, *, preload: int = 0, info: TargetInfo = INFO,
                 snapshot_dir: Path = Path("/var/tmp/memtui")):
        self.target = str(info.pid)
        self.snapshot_dir = snapshot_dir
        self.history = History(10_000)
        self.leak_rule = DEFAULT_RULE
        self.info: TargetInfo | None = None
        self.snapshots: list[SnapshotSaved] = []
        self.start_info = info
        self.start_error: MemtuiError | None = None
        self.start_release: asyncio.Event | None = None
        self.retry_for: float | None = None
        self.queue: asyncio.Queue[MonitorEvent | MemtuiError | None] = asyncio.Queue()
        self.next_index = 0
        self.closed = False
        self.exit_reason = None
        self.follow = False
        self.can_follow = False
        self.close_calls = 0
        self.close_release: asyncio.Event | None = None
        self.stream_release: asyncio.Event | None = None
        """Set: a snapshot memtui gave up is still streaming until it is set."""
        self.gc_result = GcResult(52 * MIB, 40 * MIB, 0.12)
        self.gc_error: MemtuiError | None = None
        self.gc_release: asyncio.Event | None = None
        self.risk = SnapshotRisk(80 * MIB, 2048 * MIB, False, "plenty of memory")
        self.snapshot_error: MemtuiError | None = None
        self.snapshot_release: asyncio.Event | None = None
        self.snapshot_progress = (SnapshotProgress(40, 100, 3 * MIB),)
        self.snapshot_calls = 0
        self.workers: list[tuple[WorkerView, History]] = []
        self.workers_problem: str | None = None
        self.acted_on: list[str | None] = []
        """The thread of each forced GC and snapshot (None: the main thread)."""
        for _ in range(preload):
            self.history.append(self.new_sample())

    def new_sample(self) -> Sample:
        sample = make_sample(self.next_index)
        self.next_index += 1
        return sample

    def feed(self, *events: MonitorEvent) -> None:
        for event in events:
            self.queue.put_nowait(event)

    def feed_samples(self, count: int) -> None:
        for _ in range(count):
            self.feed(SampleTaken(self.new_sample()))

    def end(self, error: MemtuiError | None = None) -> None:
        """End the event stream, raising `error` from it if given."""
        self.queue.put_nowait(error)

    async def start(self, *, retry_for: float = 0.0) -> TargetInfo:
        self.retry_for = retry_for
        if self.start_release is not None:
            await self.start_release.wait()
        if self.start_error is not None:
            raise self.start_error
        self.info = self.start_info
        return self.info

    async def events(self) -> AsyncIterator[MonitorEvent]:
        while (event := await self.queue.get()) is not None:
            if isinstance(event, MemtuiError):
                raise event
            if isinstance(event, SampleTaken):
                self.history.append(event.sample)
            yield event

    def worker_samples(self) -> list[tuple[WorkerView, History]]:
        return self.workers

    async def collect_garbage(self, worker: str | None = None) -> GcResult:
        self.acted_on.append(worker)
        if self.gc_release is not None:
            await self.gc_release.wait()
        if self.gc_error is not None:
            raise self.gc_error
        return self.gc_result

    async def snapshot_risk(self, worker: str | None = None) -> SnapshotRisk:
        return self.risk

    async def take_snapshot(self, on_progress: Callable[[SnapshotProgress], None] | None = None,
                            path: Path | None = None, worker: str | None = None
                            ) -> SnapshotSaved:
        self.snapshot_calls += 1
        self.acted_on.append(worker)
        for progress in self.snapshot_progress:
            if on_progress is not None:
                on_progress(progress)
        if self.snapshot_release is not None:
            await self.snapshot_release.wait()
        if self.snapshot_error is not None:
            raise self.snapshot_error
        latest = self.history.latest
        saved = SnapshotSaved(
            path=path or self.snapshot_dir / f"memtui-{INFO.pid}-{len(self.snapshots) + 1}"
                                             ".heapsnapshot",
            size=31 * MIB + len(self.snapshots) * MIB,
            taken_at=latest.t if latest else T0,
            duration_s=1.4,
        )
        self.snapshots.append(saved)
        return saved

    @property
    def attached(self) -> bool:
        return self.info is not None and not self.closed

    async def streams_ended(self, on_wait: Callable[[], None] | None = None) -> None:
        if self.stream_release is not None and not self.stream_release.is_set():
            if on_wait is not None:
                on_wait()
            await self.stream_release.wait()

    async def close(self, on_wait: Callable[[], None] | None = None) -> DetachResult | None:
        await self.streams_ended(on_wait)
        self.close_calls += 1
        if self.close_release is not None:
            await self.close_release.wait()
        self.closed = True
        self.end()
        return DetachResult(answered=True, closes_inspector=True)
